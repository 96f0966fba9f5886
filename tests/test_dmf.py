"""Deep matrix factorization: oracles (scalar recursion, autodiff gradient, CVXPY), ordering
of learned eigenvalues, completion accuracy against depth, early stopping, bad input."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from overparam._core import Status
from overparam.baselines.matrix import (
    min_norm_least_squares,
    nuclear_norm_cvxpy,
    nuclear_norm_prox,
)
from overparam.dynamics import dmf_gd, dmf_gd_batch
from overparam.metrics import rank as rk
from overparam.models import DeepMatrixFactorization
from overparam.problems import (
    EntryMask,
    GaussianSensing,
    MatrixIdentity,
    Problem,
    low_rank_matrix,
    matrix_completion,
    matrix_estimation,
    matrix_sensing,
)


# ------------------------------------------------------------------ helpers / oracles
def _sym_target(n: int, eigs, seed: int = 0):
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    sig = np.zeros(n)
    sig[: len(eigs)] = eigs
    return (V * sig) @ V.T, V, sig


def _scalar_recursion(alpha, sig, eta, N, iters):
    """lambda <- lambda - eta lambda^(N-1) (lambda^N - sigma), one lambda per eigenvalue."""
    lam = np.full(sig.shape, float(alpha))
    out = {0: lam.copy()}
    for k in range(1, max(iters) + 1):
        lam = lam - eta * lam ** (N - 1) * (lam**N - sig)
        if k in iters:
            out[k] = lam.copy()
    return out


# ------------------------------------------------------------------ oracle: recursion
@pytest.mark.parametrize("N", [1, 2, 3, 4])
def test_scaled_identity_matches_scalar_recursion(N):
    n, alpha, eta, K = 6, 0.3, 0.05, 400
    Y, V, sig = _sym_target(n, [2.0, 1.2, 0.5, -0.4], seed=N)  # includes sigma < 0 and 0
    rec = [0, 1, 7, 50, 199, K]
    res = dmf_gd(Y, depth=N, init="scaled_identity", init_scale=alpha, step=eta,
                 max_iter=K, tol=0.0, record=rec)
    assert res.n_iter == K
    lam = _scalar_recursion(alpha, sig, eta, N, rec)
    for row, k in enumerate(res.trace["iter"]):
        expect = np.sort(np.abs(lam[int(k)] ** N))[::-1]
        np.testing.assert_allclose(res.trace["sv"][row], expect, rtol=0, atol=1e-10)
    W_oracle = (V * lam[K] ** N) @ V.T
    assert np.max(np.abs(res.x - W_oracle)) <= 1e-10
    # every factor is V diag(lambda) V^T
    for Wj in res.info["factors"]:
        assert np.max(np.abs(Wj - (V * lam[K]) @ V.T)) <= 1e-10
    # negative control: the same recursion with a 1% different step fails the check
    row = list(res.trace["iter"]).index(7)
    wrong = _scalar_recursion(alpha, sig, eta * 1.01, N, [7])[7]
    assert np.max(np.abs(res.trace["sv"][row] - np.sort(np.abs(wrong**N))[::-1])) > 1e-6


def test_autodiff_gradient_is_the_layer_formula():
    """grad_j = (W_N..W_{j+1})^T (W - Y) (W_{j-1}..W_1)^T, with the 0.5 in the loss."""
    rng = np.random.default_rng(3)
    model = DeepMatrixFactorization((5, 4), depth=3, widths=(6, 3), init_kind="gaussian",
                                    init_scale=1.0)
    params = model.init(jax.random.PRNGKey(1), 20)
    Y = rng.standard_normal((5, 4))

    def loss(p):
        r = model.signal(p) - jnp.asarray(Y).reshape(-1)
        return 0.5 * jnp.vdot(r, r)

    g = jax.grad(loss)(params)
    W1, W2, W3 = (np.asarray(w) for w in model.factors(params))
    R = W3 @ W2 @ W1 - Y
    np.testing.assert_allclose(g["W1"], (W3 @ W2).T @ R, atol=1e-12)
    np.testing.assert_allclose(g["W2"], W3.T @ R @ W1.T, atol=1e-12)
    np.testing.assert_allclose(g["W3"], R @ (W2 @ W1).T, atol=1e-12)
    assert model.products_per_step == 6


@pytest.mark.parametrize("N, shape, widths", [(1, (5, 4), None), (2, (4, 6), (3,)),
                                              (3, (5, 4), (6, 3)), (4, (6, 6), None)])
def test_explicit_pullback_equals_autodiff(N, shape, widths):
    """The model's hand-ordered pullback (used by the driver) is autodiff's vjp."""
    model = DeepMatrixFactorization(shape, depth=N, widths=widths, init_kind="gaussian",
                                    init_scale=1.0)
    params = model.init(jax.random.PRNGKey(N), shape[0] * shape[1])
    g = jnp.asarray(np.random.default_rng(N).standard_normal(shape[0] * shape[1]))
    x_ref, pull_ref = jax.vjp(model.signal, params)
    x, _ = model.signal_vjp(params)
    np.testing.assert_allclose(x, x_ref, rtol=0, atol=1e-12)
    ref, ours = pull_ref(g)[0], jax.jit(lambda p, g: model.signal_vjp(p)[1](g))(params, g)[0]
    assert set(ours) == set(ref)
    for k in ref:
        assert ours[k].shape == ref[k].shape
        np.testing.assert_allclose(ours[k], ref[k], rtol=0, atol=1e-12)
    # and under vmap (batched runs)
    pb = jax.tree_util.tree_map(lambda a: jnp.stack([a, 2 * a]), params)
    gb = jnp.stack([g, -g])
    vm = jax.vmap(lambda p, g: model.signal_vjp(p)[1](g))(pb, gb)[0]
    for k in ref:
        np.testing.assert_allclose(vm[k][0], ref[k], rtol=0, atol=1e-12)


def test_eigenvalues_learned_in_order_of_magnitude():
    sig = [8.0, 4.0, 2.0, 1.0]
    Y, V, _ = _sym_target(12, sig, seed=5)
    res = dmf_gd(Y, depth=3, init_scale=0.05, step=0.02, max_iter=4000, tol=1e-10,
                 record=list(range(0, 4001, 10)))
    sv, it = res.trace["sv"], res.trace["iter"]
    first = []
    for i, s in enumerate(sig):
        hit = np.flatnonzero(sv[:, i] >= 0.5 * s)
        assert hit.size, f"eigenvalue {s} never learned"
        first.append(it[hit[0]])
    assert all(a < b for a, b in zip(first, first[1:])), first
    # staircase: the effective rank after the first activation never falls by much
    er = res.trace["erank"][it >= first[0]]
    assert np.all(np.diff(er) > -0.05)
    assert res.trace["residual"][-1] < 1e-3
    # negative control: a spectrum without gaps is learned all at once
    Y2, _, _ = _sym_target(12, [4.0, 4.0, 4.0, 4.0], seed=5)
    res2 = dmf_gd(Y2, depth=3, init_scale=0.05, step=0.02, max_iter=2000, tol=1e-10,
                  record=list(range(0, 2001, 10)))
    sv2 = res2.trace["sv"]
    hits = [np.flatnonzero(sv2[:, i] >= 2.0)[0] for i in range(4)]
    assert len(set(hits)) == 1


# ------------------------------------------------------------------ completion vs depth
def test_completion_depth3_beats_depth1():
    p = matrix_completion(40, 40, 2, 800, spectrum="gaussian", fro_norm=40.0, seed=7)
    deep = dmf_gd(p, depth=3, init_scale=1e-3, scale="end_to_end", max_iter=6000, tol=1e-9,
                  record=16)
    flat = dmf_gd(p, depth=1, init_scale=1e-3, scale="end_to_end", max_iter=6000, tol=1e-9,
                  record=16)
    e3, e1 = deep.trace["rel_error"][-1], flat.trace["rel_error"][-1]
    assert e3 <= 1e-2, e3
    assert e1 >= 10 * e3, (e1, e3)
    # depth 1 from a small start is (nearly) the minimum-norm least-squares solution
    mn = min_norm_least_squares(p)
    assert np.linalg.norm(flat.x - mn.x) <= 1e-2 * np.linalg.norm(mn.x)
    assert deep.trace["erank"][-1] < 3.0


def test_batch_equals_single_runs():
    probs = [matrix_completion(12, 10, 2, 70, seed=s) for s in range(3)]
    kw = dict(depth=3, init_scale=0.1, step=0.05, max_iter=300, tol=0.0, record=8)
    batch = dmf_gd_batch(probs, **kw)
    for p, rb in zip(probs, batch):
        rs = dmf_gd(p, **kw)
        np.testing.assert_allclose(rb.x, rs.x, atol=1e-12)
        np.testing.assert_allclose(rb.trace["rel_error"], rs.trace["rel_error"], atol=1e-12)
    # every chunking (one trial per program on threads, vmapped chunks, one chunk) agrees
    seeds = [3, 4, 5]
    ref = [dmf_gd(p, init="gaussian", seed=s, **kw) for p, s in zip(probs, seeds)]
    for chunk, workers in [(1, 2), (2, 1), (3, 2), (8, 1)]:
        got = dmf_gd_batch(probs, init="gaussian", seeds=seeds, chunk=chunk, workers=workers,
                           **kw)
        assert len(got) == 3
        for rb, rs in zip(got, ref):
            np.testing.assert_allclose(rb.x, rs.x, atol=1e-12)
            np.testing.assert_allclose(rb.trace["loss"], rs.trace["loss"], atol=1e-12)
            assert rb.n_iter == rs.n_iter and rb.status == rs.status


def test_sensing_dense_and_matrix_free():
    p = matrix_sensing(8, 7, 2, 90, seed=3, matrix_free=True)
    assert p.A.dot_test() < 1e-12
    D = p.A.to_dense()
    x = np.random.default_rng(0).standard_normal(56)
    np.testing.assert_allclose(p.A.matvec(x), D @ x, atol=1e-12)
    np.testing.assert_allclose(p.A.rmatvec(p.y), D.T @ p.y, atol=1e-12)
    res = dmf_gd(p, depth=2, init_scale=1e-2, max_iter=2000, tol=1e-7, record=8)
    assert res.trace["rel_error"][-1] < 1e-2
    pd = matrix_sensing(8, 7, 2, 90, seed=3, matrix_free=False)
    assert pd.A.is_dense and pd.A.dot_test() < 1e-12


# ------------------------------------------------------------------ early stopping
def test_early_stopping_picks_low_rank_plateau_and_denoises():
    n = 20
    p = matrix_estimation(n, n, 3, spectrum=[3.0, 2.0, 1.5], noise=0.5, seed=11)
    kw = dict(depth=3, init_scale=0.1, step="auto", max_iter=20_000, tol=1e-12, record=100)
    es = dmf_gd(p, early_stopping=True, **kw)
    info = es.info["early_stopping"]
    lo, hi = info["interval"]
    assert lo <= info["stop_iter"] <= hi
    assert abs(info["level"] - 3.0) < 0.3
    assert es.status is Status.EARLY_STOPPED and es.success and es.n_iter == info["stop_iter"]
    err_es = np.linalg.norm(es.x - p.x_true.reshape(n, n)) / np.linalg.norm(p.x_true)
    err_full = info["full_trace"]["rel_error"][-1]
    # the best rank-3 denoiser keeps about sqrt(r (2n - r) / n^2) ~ 0.53 of the noise
    assert err_es < 0.65 * err_full, (err_es, err_full)
    assert err_es == pytest.approx(es.trace["rel_error"][-1])
    # the rule used no truth: without it the same interval and iterate come out
    blind = Problem(p.A, p.y)
    es2 = dmf_gd(blind, shape=(n, n), early_stopping=True, **kw)
    assert es2.info["early_stopping"]["interval"] == (lo, hi)
    np.testing.assert_allclose(es2.x, es.x, atol=1e-12)


def test_rank_measures_known_values():
    s = np.array([2.0, 2.0, 2.0, 0.0])
    assert rk.erank(s) == pytest.approx(3.0)
    assert rk.erank_energy(s) == pytest.approx(3.0)
    assert rk.stable_rank(np.array([2.0, 1.0])) == pytest.approx(1.25)
    assert rk.nuclear_rank(np.array([2.0, 1.0])) == pytest.approx(1.5)
    assert rk.erank(np.zeros(3)) == 0.0
    assert float(rk.erank(jnp.asarray(s))) == pytest.approx(3.0)
    tr = dict(iter=np.array([0, 1, 10, 100, 1000, 10000]),
              erank=np.array([9.0, 1.0, 1.02, 1.01, 3.0, 3.0]),
              loss=np.array([1.0, 0.5, 0.5, 0.5, 0.1, 0.1]))
    pl = rk.rank_plateaus(tr, min_points=2, min_decades=0.5)
    assert [(q.start, q.end) for q in pl] == [(1, 100), (1000, 10000)]
    assert rk.select_plateau(pl, tr).start == 1


# ------------------------------------------------------------------ baselines vs CVXPY
@pytest.mark.parametrize("kind", ["completion", "sensing"])
def test_nuclear_norm_prox_matches_cvxpy(kind):
    if kind == "completion":
        p = matrix_completion(12, 10, 2, 80, seed=1)
    else:
        p = matrix_sensing(10, 9, 2, 70, seed=2)
    for lam in (0.05, None):
        ref = nuclear_norm_cvxpy(p, lam=lam)
        ours = nuclear_norm_prox(p, lam=lam)
        assert ref.success and ours.success
        assert np.linalg.norm(ours.x - ref.x) <= 2e-4 * np.linalg.norm(ref.x)
        assert abs(ours.fun - ref.fun) <= 1e-5 * abs(ref.fun)
        # negative control: a perturbed answer has a visibly worse objective / residual
        bad = ours.x + 1e-3 * np.linalg.norm(ours.x) * np.eye(*ours.x.shape)
        if lam is None:
            assert np.linalg.norm(p.A.apply_matrix(bad) - p.y) > 1e-4 * np.linalg.norm(p.y)
        else:
            r = p.A.apply_matrix(bad) - p.y
            f_bad = 0.5 * r @ r + lam * np.linalg.svd(bad, compute_uv=False).sum()
            assert f_bad > ref.fun + 1e-6


def test_min_norm_least_squares():
    p = matrix_sensing(6, 5, 1, 20, seed=4)
    mn = min_norm_least_squares(p)
    np.testing.assert_allclose(mn.x.reshape(-1), np.linalg.pinv(p.A.to_dense()) @ p.y,
                               atol=1e-10)
    c = matrix_completion(6, 5, 1, 12, seed=4)
    mc = min_norm_least_squares(c)
    assert np.count_nonzero(mc.x) == 12 and mc.info["relative_residual"] < 1e-14


# ------------------------------------------------------------------ problems / operators
def test_operators_dot_test_and_shapes():
    for op in (MatrixIdentity(4, 3), EntryMask(4, 3, [0, 3, 1], [2, 0, 1]),
               GaussianSensing(4, 3, 9, 0), GaussianSensing(4, 3, 9, 0, matrix_free=True)):
        assert op.dot_test() < 1e-12
        assert op.shape[1] == 12 and op.matrix_shape == (4, 3)
        x = np.arange(12.0)
        np.testing.assert_allclose(np.asarray(op.jax_matvec(jnp.asarray(x))), op.matvec(x))
    m = EntryMask.from_mask(np.array([[True, False], [False, True]]))
    assert m.shape == (2, 4) and m.mask.sum() == 2


def test_spectra_and_noise():
    W, s = low_rank_matrix(20, 15, 4, spectrum="geometric", condition=1e3, seed=0)
    np.testing.assert_allclose(s, np.geomspace(1, 1e-3, 4), rtol=1e-10)
    assert np.linalg.matrix_rank(W, tol=1e-8) == 4
    p = matrix_estimation(20, 15, 2, noise=0.7, seed=1)
    E = p.y.reshape(20, 15) - p.x_true.reshape(20, 15)
    assert np.linalg.norm(E) == pytest.approx(0.7)
    p = matrix_estimation(20, 15, 2, noise=0.7, noise_norm="spectral", seed=1)
    E = p.y.reshape(20, 15) - p.x_true.reshape(20, 15)
    assert np.linalg.norm(E, 2) == pytest.approx(0.7)
    W, _ = low_rank_matrix(10, 10, 5, spectrum="gaussian", fro_norm=10.0, seed=2)
    assert np.linalg.norm(W) == pytest.approx(10.0)


def test_initializations():
    for init in ("scaled_identity", "orthogonal", "gaussian"):
        m = DeepMatrixFactorization((6, 4), depth=3, init_kind=init, init_scale=0.5)
        ps = m.init(None, 24)
        assert [tuple(ps[f"W{j}"].shape) for j in (1, 2, 3)] == [(4, 4), (4, 4), (6, 4)]
    m = DeepMatrixFactorization((5, 5), depth=3, init_kind="orthogonal", init_scale=0.5)
    W1 = np.asarray(m.init(None, 25)["W1"])
    np.testing.assert_allclose(W1 @ W1.T, 0.25 * np.eye(5), atol=1e-12)
    m = DeepMatrixFactorization((5, 5), depth=3, init_kind="gaussian", init_scale=0.5,
                                balanced=True)
    f = [np.asarray(w) for w in m.factors(m.init(None, 25))]
    for a, b in zip(f, f[1:]):
        np.testing.assert_allclose(b.T @ b, a @ a.T, atol=1e-12)
    m = DeepMatrixFactorization((5, 5), depth=3, init_scale=1e-3, scale="end_to_end")
    W = np.asarray(m.matrix(m.init(None, 25)))
    np.testing.assert_allclose(W, 1e-3 * np.eye(5), rtol=1e-12)


# ------------------------------------------------------------------ bad input
def test_bad_input_errors():
    with pytest.raises(ValueError, match="exceeds min"):
        matrix_completion(5, 4, 5, 10, seed=0)
    with pytest.raises(ValueError, match="exceeds"):
        matrix_completion(5, 4, 2, 21, seed=0)
    with pytest.raises(ValueError, match="non-finite"):
        dmf_gd(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="inside"):
        EntryMask(3, 3, [0, 3], [0, 0])
    with pytest.raises(ValueError, match="distinct"):
        EntryMask(3, 3, [0, 0], [1, 1])
    p = matrix_estimation(4, 3, 1, seed=0)
    with pytest.raises(ValueError, match="differs|entries"):
        dmf_gd(p, shape=(3, 4))
    with pytest.raises(ValueError, match="hidden widths"):
        dmf_gd(p, depth=3, widths=(2,))
    with pytest.raises(ValueError, match="init must be"):
        dmf_gd(p, init="zeros")
    with pytest.raises(ValueError, match="depth"):
        dmf_gd(p, depth=0)
    with pytest.raises(TypeError, match="not a matrix problem"):
        dmf_gd(Problem(np.eye(3), np.ones(3)))
    with pytest.raises(ValueError, match="W has shape"):
        p.A.apply_matrix(np.zeros((3, 4)))


def test_bad_input_widths_shape_complex_seeds():
    p = matrix_estimation(4, 3, 1, seed=0)
    # a fractional width was truncated by int(); the model's own check rejects it
    with pytest.raises(TypeError, match="width must be an integer"):
        dmf_gd(p, depth=2, widths=(2.7,))
    with pytest.raises(ValueError, match=r"shape must be a pair \(n1, n2\)"):
        dmf_gd(p, shape=(12,))
    with pytest.raises(ValueError, match=r"shape must be a pair \(n1, n2\)"):
        dmf_gd(p, shape=12)
    # complex data failed inside JAX's VJP with a dtype error
    Y = np.array([[2.0, 0.5], [0.3, 1.0]])
    with pytest.raises(TypeError, match="Y must be real"):
        dmf_gd(Y + 1j * Y)
    with pytest.raises(TypeError, match="y must be real"):
        dmf_gd(Problem(MatrixIdentity(2, 2), (Y + 1j * Y).reshape(-1)))
    with pytest.raises(TypeError, match="y must be real"):
        dmf_gd(MatrixIdentity(2, 2), (Y + 1j * Y).reshape(-1))
    with pytest.raises(TypeError, match="Y must be real"):
        dmf_gd_batch([Y, Y + 1j * Y])
    # seeds: checked as dmf_gd checks a seed, and counted, with or without early stopping
    # (early stopping raised a bare IndexError or ignored extra seeds; without it -1 and
    # 1.7 went through int())
    probs = [p, p]
    for es in (False, True):
        with pytest.raises(ValueError, match="1 seeds for 2 problems"):
            dmf_gd_batch(probs, seeds=[0], early_stopping=es)
        with pytest.raises(ValueError, match="3 seeds for 2 problems"):
            dmf_gd_batch(probs, seeds=[0, 1, 2], early_stopping=es)
        with pytest.raises(ValueError, match="seed must be >= 0"):
            dmf_gd_batch(probs, seeds=[0, -1], early_stopping=es)
        with pytest.raises(TypeError, match="seed must be an integer"):
            dmf_gd_batch(probs, seeds=[0, 1.7], early_stopping=es)


_SMALL_Y = np.array([[2.0, 0.5, 0.1], [0.3, 1.0, 0.2]])
_SMALL_KW = dict(depth=2, init_scale=0.3, step=0.1, max_iter=20, tol=0.0, record=2,
                 spectrum=False)


def test_batch_takes_matrices():
    # 2-D arrays (fully observed matrices) are accepted as by dmf_gd; they failed with
    # "not a matrix problem: ... or pass shape=(n1, n2)"
    Y, kw = _SMALL_Y, _SMALL_KW
    one = dmf_gd(Y, **kw)
    got = dmf_gd_batch([Y, Y], workers=1, chunk=1, **kw)
    assert len(got) == 2
    for r in got:
        np.testing.assert_array_equal(r.x, one.x)


def test_batch_takes_shape():
    # the error for a problem without a matrix shape told dmf_gd_batch callers to pass
    # shape=, which it did not take
    Y, kw = _SMALL_Y, _SMALL_KW
    blind = Problem(np.eye(6), Y.reshape(-1))  # a dense operator: no matrix shape
    with pytest.raises(TypeError, match=r"pass shape=\(n1, n2\)"):
        dmf_gd_batch([blind, blind], workers=1, **kw)
    got = dmf_gd_batch([blind, blind], shape=(2, 3), workers=1, chunk=1, **kw)
    ref = dmf_gd(blind, shape=(2, 3), **kw)
    np.testing.assert_array_equal(got[1].x, ref.x)
    assert got[1].x.shape == (2, 3)


def test_zero_truth_relative_error_is_inf_as_in_metrics():
    from overparam.metrics import relative_error

    p = Problem(MatrixIdentity(2, 2), np.zeros(4), x_true=np.zeros(4))
    res = dmf_gd(p, depth=2, init_scale=0.5, step=0.1, max_iter=5, tol=0.0, record=2,
                 spectrum=False)
    assert np.linalg.norm(res.x) > 0.1
    # was ||W|| / 1e-300 ~ 1e299: a finite number that looks like a (huge) error
    assert np.all(res.trace["rel_error"] == relative_error(res.x.reshape(-1), p.x_true))
    assert np.all(np.isposinf(res.trace["rel_error"]))


def test_new_seed_or_init_scale_does_not_recompile():
    from overparam.dynamics import driver

    p = matrix_completion(7, 5, 1, 20, seed=0)  # a shape no other test compiles
    kw = dict(depth=2, max_iter=10, tol=0.0, record=2, spectrum=False)
    first = dmf_gd(p, init="gaussian", seed=0, init_scale=1e-2, **kw)
    misses = driver._build.cache_info().misses
    # the compiled loop does not read the initialization: seeds, scales, kinds and the
    # balanced start all reuse it (each cost a new program, ~0.7-0.8 s at 20 x 20)
    runs = [dmf_gd(p, init="gaussian", seed=1, init_scale=1e-2, **kw),
            dmf_gd(p, init="gaussian", seed=0, init_scale=2e-2, **kw),
            dmf_gd(p, init="orthogonal", seed=0, init_scale=(0.1, 0.2), **kw),
            dmf_gd(p, init="gaussian", balanced=True, scale="end_to_end", init_scale=0.1,
                   **kw)]
    runs += dmf_gd_batch([p, p], init="gaussian", seeds=[3, 4], init_scale=1e-2,
                         workers=1, chunk=1, **kw)
    assert driver._build.cache_info().misses == misses
    # ... and the initialization is still the one asked for
    xs = [first.x] + [r.x for r in runs]
    assert all(not np.allclose(a, b) for i, a in enumerate(xs) for b in xs[i + 1:])
    m = DeepMatrixFactorization((7, 5), depth=2, init_kind="gaussian", init_scale=1e-2,
                                seed=4)
    again = dmf_gd(p, init="gaussian", seed=4, init_scale=1e-2, **kw)
    assert again.trace["iter"][0] == 0
    np.testing.assert_allclose(again.trace["l1"][0],
                               np.abs(np.asarray(m.matrix(m.init(None, 35)))).sum(),
                               rtol=1e-12)
    np.testing.assert_array_equal(runs[-1].x, again.x)


def test_auto_step_follows_a_top_vector_orthogonal_to_the_power_iteration_start():
    # the Hessian bound's power iteration used to start from one fixed vector every step:
    # a target whose top singular vector is orthogonal to it got a "bound" below ||W||_2,
    # an unstable step, and a run that stagnated at residual 0.75
    from overparam.models.dmf import _start_vector

    n = 20
    v0 = _start_vector(n)
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(np.column_stack([v0, rng.standard_normal((n, n - 1))]))
    u, w = Q[:, 1], (Q[:, 0] + Q[:, 2]) / np.sqrt(2)
    assert abs(u @ v0) < 1e-12
    Y = 10.0 * np.outer(u, u) + np.outer(w, w)
    res = dmf_gd(Y, depth=2, init_scale=0.1, step="auto", max_iter=3000, tol=1e-10,
                 record=30)
    assert res.status in (Status.CONVERGED, Status.MAX_ITER), res.message
    assert res.trace["residual"][-1] < 1e-2
    assert res.trace["sv1"][-1] == pytest.approx(10.0, rel=1e-3)


# ------------------------------------------------------------------ independent oracles
def _numpy_dmf_gd(factors, A, y, shape, eta, iters):
    """Plain NumPy gradient descent on 0.5 ||A vec(W_N ... W_1) - y||^2."""
    Ws = [np.array(W, dtype=np.float64) for W in factors]
    for _ in range(iters):
        P = [Ws[0]]
        for W in Ws[1:]:
            P.append(W @ P[-1])
        D = (A.T @ (A @ P[-1].reshape(-1) - y)).reshape(shape)
        grads = [None] * len(Ws)
        for j in range(len(Ws) - 1, -1, -1):
            grads[j] = D if j == 0 else D @ P[j - 1].T
            if j > 0:
                D = Ws[j].T @ D
        Ws = [W - eta * g for W, g in zip(Ws, grads)]
    return Ws


def _imbalance(factors):
    fs = [np.asarray(W) for W in factors]
    return [b.T @ b - a @ a.T for a, b in zip(fs, fs[1:])]


def test_rectangular_sensing_matches_numpy_gd_and_keeps_balancedness():
    # a non-symmetric target, rectangular shape, unequal widths, Gaussian (unbalanced) start
    shape, widths = (5, 4), (6, 3)
    p = matrix_sensing(*shape, 2, 30, seed=5, matrix_free=False)
    A = p.A.to_dense()
    kw = dict(depth=3, widths=widths, init="gaussian", init_scale=0.8, seed=2, tol=0.0,
              record=2, spectrum=False)
    model = DeepMatrixFactorization(shape, depth=3, widths=widths, init_kind="gaussian",
                                    init_scale=0.8, seed=2)
    W0 = model.factors(model.init(None, 20))
    res = dmf_gd(p, step=0.02, max_iter=150, **kw)
    ref = _numpy_dmf_gd(W0, A, p.y, shape, 0.02, 150)
    assert res.n_iter == 150
    for ours, theirs in zip(res.info["factors"], ref):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.x, ref[2] @ ref[1] @ ref[0], rtol=0, atol=1e-10)
    # W_{j+1}^T W_{j+1} - W_j W_j^T is conserved by gradient flow: over the same time
    # (step x iterations = 3) the drift of gradient descent shrinks with the step
    B0 = _imbalance(W0)
    drift = []
    for r in (res, dmf_gd(p, step=0.002, max_iter=1500, **kw)):
        drift.append(max(np.max(np.abs(b - b0)) for b, b0 in zip(_imbalance(r.info["factors"]),
                                                                  B0)))
    assert drift[1] < 0.15 * drift[0], drift
    assert drift[1] < 2e-3 * max(np.max(np.abs(b)) for b in B0), drift


def test_depth1_sensing_limit_is_the_min_norm_solution():
    # plain gradient descent on W from (nearly) zero: the minimum-Frobenius-norm fit
    for shape in ((5, 4), (4, 5)):
        p = matrix_sensing(*shape, 1, 12, seed=2, matrix_free=False)
        mn = np.linalg.lstsq(p.A.to_dense(), p.y, rcond=None)[0].reshape(shape)
        res = dmf_gd(p, depth=1, init_scale=1e-12, max_iter=5000, tol=1e-13, record=2,
                     spectrum=False)
        assert res.status is Status.CONVERGED
        assert np.max(np.abs(res.x - mn)) < 1e-9 * np.max(np.abs(mn))


# ------------------------------------------------------------------ fixes of this round
def test_rank_measures_are_scale_invariant_and_propagate_nan():
    # s^2 under/overflowed: the energy rank of s ~ 1e-200 was 0 and its stable rank
    # 0/0 = NaN (1e300: NaN for both); a NaN spectrum read as the zero matrix (rank 0)
    s = np.array([3.0, 1.0, 0.5, 0.0])
    fns = (rk.erank, rk.erank_energy, rk.stable_rank, rk.nuclear_rank)
    ref = [float(f(s)) for f in fns]
    assert ref[2] == pytest.approx(1 + 1 / 9 + 1 / 36) and ref[3] == pytest.approx(1.5)
    for c in (1e-300, 1e-200, 1e-100, 1e100, 1e200, 1e300):
        got = [float(f(c * s)) for f in fns]
        np.testing.assert_allclose(got, ref, rtol=1e-12)
        got = [float(f(jnp.asarray(c * s))) for f in fns]  # also on JAX arrays
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    for bad in (np.array([1.0, np.nan]), np.array([np.nan, np.nan])):
        assert all(np.isnan(f(bad)) for f in fns)
    batch = np.array([[2.0, 2.0], [0.0, 0.0], [1.0, np.nan]])
    for f in fns:
        out = np.asarray(f(batch))
        assert out[0] == pytest.approx(2.0) and out[1] == 0.0 and np.isnan(out[2])
    # the same through dmf_gd: a tiny start (W(0) = 1e-180 I, 2 x 3; W stays ~1e-180)
    res = dmf_gd(_SMALL_Y, depth=2, init_scale=1e-90, step=0.1, max_iter=20, tol=0.0,
                 record=2)
    sv = res.trace["sv"]
    assert np.all(sv < 1e-170) and np.all(sv > 0)
    u = sv / sv[:, :1]  # the measures by hand, on the rescaled spectrum
    p, q = u / u.sum(1, keepdims=True), u**2 / (u**2).sum(1, keepdims=True)
    expect = dict(erank=np.exp(-(p * np.log(p)).sum(1)),
                  erank_energy=np.exp(-(q * np.log(q)).sum(1)),
                  stable_rank=(u**2).sum(1), nuclear_rank=u.sum(1))
    np.testing.assert_allclose(expect["stable_rank"][0], 2.0, rtol=1e-12)  # W(0) ~ I
    for name, want in expect.items():
        np.testing.assert_allclose(res.trace[name], want, rtol=1e-12, err_msg=name)


def test_balanced_start_with_narrow_widths_is_refused_clearly():
    # the width check came after the slice assignment, which failed first with NumPy's
    # "could not broadcast input array from shape (2,3) into shape (1,3)"
    with pytest.raises(ValueError, match="balanced start needs widths >= min"):
        DeepMatrixFactorization((2, 3), depth=3, widths=(1, 2), init_kind="gaussian",
                                balanced=True).init(None, 6)
    with pytest.raises(ValueError, match="balanced start needs widths >= min"):
        dmf_gd(_SMALL_Y, depth=3, widths=(2, 1), init="gaussian", balanced=True,
               max_iter=2)
    # wide enough: balanced as documented
    m = DeepMatrixFactorization((2, 3), depth=3, widths=(2, 4), init_kind="gaussian",
                                balanced=True)
    f = [np.asarray(w) for w in m.factors(m.init(None, 6))]
    for a, b in zip(f, f[1:]):
        np.testing.assert_allclose(b.T @ b, a @ a.T, atol=1e-12)


def test_zero_dimensional_array_init_scale():
    # np.array(0.3) was taken for a sequence: "TypeError: iteration over a 0-d array"
    got = dmf_gd(_SMALL_Y, init_scale=np.array(0.3), **{k: v for k, v in _SMALL_KW.items()
                                                        if k != "init_scale"})
    ref = dmf_gd(_SMALL_Y, **_SMALL_KW)
    np.testing.assert_array_equal(got.x, ref.x)
    m = DeepMatrixFactorization((2, 3), depth=2, init_scale=np.array(0.3))
    assert m.init_scale == 0.3 and m.factor_scales == (0.3, 0.3)
    with pytest.raises(ValueError, match="init_scale must be finite and > 0"):
        DeepMatrixFactorization((2, 3), depth=2, init_scale=np.array(0.0))


def test_matrix_identity_checks_sizes():
    # a vector of the wrong length came back unchanged, and a batch of columns came back
    # flattened, where the other matrix operators refuse both
    op = MatrixIdentity(2, 2)
    for bad in (np.ones(7), np.ones((4, 3))):
        with pytest.raises(ValueError, match="expected a vector of 4 entries"):
            op.matvec(bad)
        with pytest.raises(ValueError, match="expected a vector of 4 entries"):
            op.rmatvec(bad)
    np.testing.assert_array_equal(op.matvec(np.arange(4.0).reshape(2, 2)), np.arange(4.0))
    np.testing.assert_array_equal(op.rmatvec(np.arange(4.0)), np.arange(4.0))
    assert op.dot_test() == 0.0


# ------------------------------------------------------------------ fixes of round 11
def test_metric_named_like_a_rank_field_is_refused_not_overwritten():
    # a metric "erank" or "sv2" was recorded and then silently replaced in the trace by
    # the effective rank / second singular value computed from the spectrum
    kw = dict(_SMALL_KW, spectrum=True)
    mine = {"erank": lambda x: jnp.float64(42.0)}
    for bad in ({"erank": mine["erank"]}, {"sv2": mine["erank"]},
                {"nuclear_rank": mine["erank"], "ok": mine["erank"]}):
        with pytest.raises(ValueError, match="filled in from the singular values"):
            dmf_gd(_SMALL_Y, metrics=bad, **kw)
    # other names are recorded as given; without the spectrum the names are free
    res = dmf_gd(_SMALL_Y, metrics={"mine": mine["erank"]}, **kw)
    np.testing.assert_array_equal(res.trace["mine"], 42.0)
    assert np.all(res.trace["erank"] < 2.0 + 1e-12)  # the rank of a 2 x 3 W
    res = dmf_gd(_SMALL_Y, metrics=mine, **_SMALL_KW)
    np.testing.assert_array_equal(res.trace["erank"], 42.0)


def test_early_stopping_with_a_record_list_that_skips_the_start():
    # select_plateau compares with the trace's first loss; a record list starting after
    # the escape (here at the low-rank plateau's first iteration) made that loss the
    # "initial" one, the low-rank plateau failed the escape test and the run stopped in
    # the noise-fitting phase instead (level ~6 of the 3 + noise spectrum)
    p = matrix_estimation(20, 20, 3, spectrum=[3.0, 2.0, 1.5], noise=0.5, seed=11)
    kw = dict(depth=3, init_scale=0.1, max_iter=20_000, early_stopping=True)
    ref = dmf_gd(p, **kw)
    info = ref.info["early_stopping"]
    lo, hi = info["interval"]
    assert abs(info["level"] - 3.0) < 0.3
    rec = [int(i) for i in info["full_trace"]["iter"] if i >= lo]
    got = dmf_gd(p, record=rec, **kw)
    ginfo = got.info["early_stopping"]
    assert ginfo["interval"] == (lo, hi) and ginfo["stop_iter"] == info["stop_iter"]
    assert ginfo["full_trace"]["iter"][0] == 0  # iteration 0 is recorded for the rule
    np.testing.assert_allclose(got.x, ref.x, atol=1e-12)
    assert got.status is Status.EARLY_STOPPED


def test_plateau_options_are_checked_before_the_run(monkeypatch):
    # a misspelt key, a bad "where" or a NaN band was reported only after the full run
    # (a NaN atol was not reported at all: the whole trace became one plateau)
    import sys

    mod = sys.modules[dmf_gd.__module__]

    def ran(*args, **kwargs):
        raise AssertionError("the run started before the options were checked")

    monkeypatch.setattr(mod, "run_driver", ran)
    kw = dict(depth=3, init_scale=0.1, max_iter=2000, early_stopping=True)
    with pytest.raises(TypeError, match="unknown plateau option"):
        dmf_gd(_SMALL_Y, plateau=dict(atoll=0.1), **kw)
    with pytest.raises(ValueError, match="where must be"):
        dmf_gd(_SMALL_Y, plateau=dict(where="mid"), **kw)
    for bad in (dict(atol=np.nan), dict(min_loss_drop=np.nan), dict(max_level=np.nan),
                dict(min_points=0), dict(measure="rank")):
        with pytest.raises((ValueError, TypeError)):
            dmf_gd(_SMALL_Y, plateau=bad, **kw)


def test_seed_beyond_int64_is_refused_clearly():
    # jax.random.PRNGKey takes a signed 64-bit seed: 2**63 and above failed with a bare
    # "OverflowError: Python int too large to convert to C long"
    for s in (2**63, 2**64):
        with pytest.raises(ValueError, match=r"seed must be < 2\*\*63"):
            DeepMatrixFactorization((2, 3), depth=2, init_kind="gaussian", seed=s)
        with pytest.raises(ValueError, match=r"seed must be < 2\*\*63"):
            dmf_gd(_SMALL_Y, init="gaussian", seed=s, **_SMALL_KW)
        with pytest.raises(ValueError, match=r"seed must be < 2\*\*63"):
            dmf_gd_batch([_SMALL_Y, _SMALL_Y], init="gaussian", seeds=[0, s],
                         **{k: v for k, v in _SMALL_KW.items() if k != "depth"})
    # the largest allowed seed works and is not seed 0
    m = DeepMatrixFactorization((2, 3), depth=2, init_kind="gaussian", seed=2**63 - 1)
    w = np.asarray(m.init(None, 6)["W1"])
    w0 = np.asarray(DeepMatrixFactorization((2, 3), depth=2, init_kind="gaussian",
                                            seed=0).init(None, 6)["W1"])
    assert np.all(np.isfinite(w)) and not np.array_equal(w, w0)


def test_hadamard_coordinate_step_policies_are_refused():
    # "x" / "mirror" steps map every factor entry as a non-negative Hadamard factor:
    # as policy objects they ran silently (mirror steps clamped all entries of the
    # factors to >= 1e-150: another algorithm); as strings the parser asked for a depth
    from overparam.dynamics.steps import Auto, Nesterov

    kw = dict(depth=3, init_scale=0.3, max_iter=5)
    for step in (Auto(space="x", depth=3), Auto(space="mirror", depth=3),
                 Nesterov(space="mirror", depth=3), "auto@x", "nesterov@mirror"):
        with pytest.raises(ValueError, match="dmf_gd steps in the factors"):
            dmf_gd(_SMALL_Y, step=step, **kw)
        with pytest.raises(ValueError, match="dmf_gd steps in the factors"):
            dmf_gd_batch([_SMALL_Y, _SMALL_Y], step=step, **kw)
    # parameter-space policies still run (strings and objects alike)
    for step in ("auto@u", Auto(), "nesterov", 0.05):
        assert dmf_gd(_SMALL_Y, step=step, **kw).n_iter == 5


def test_batch_early_stopping_refuses_spectrum_false_as_dmf_gd_does():
    # dmf_gd_batch(early_stopping=True, spectrum=False) dropped spectrum and ran anyway
    from overparam.problems import matrix_estimation

    probs = [matrix_estimation(6, 6, 2, seed=s) for s in range(2)]
    with pytest.raises(ValueError, match="keep spectrum=True"):
        dmf_gd(probs[0], early_stopping=True, spectrum=False, max_iter=10)
    with pytest.raises(ValueError, match="keep spectrum=True"):
        dmf_gd_batch(probs, early_stopping=True, spectrum=False, max_iter=10)


def test_flags_refuse_truthy_strings():
    # any truthy value was taken as True: early_stopping="no" stopped early, spectrum="no"
    # recorded the singular values, balanced="no" drew the balanced start
    kw = dict(_SMALL_KW, spectrum=True)
    for name in ("early_stopping", "spectrum", "balanced"):
        for bad in ("no", "False"):
            with pytest.raises(TypeError, match=f"{name} must be a bool"):
                dmf_gd(_SMALL_Y, **dict(kw, **{name: bad}))
            with pytest.raises(TypeError, match=f"{name} must be a bool"):
                dmf_gd_batch([_SMALL_Y, _SMALL_Y], **dict(kw, **{name: bad}))
    with pytest.raises(TypeError, match="balanced must be a bool"):
        DeepMatrixFactorization((2, 3), depth=2, init_kind="gaussian", balanced="no")
    m = DeepMatrixFactorization((2, 3), depth=2, init_kind="gaussian", balanced=np.True_)
    assert m.balanced is True


def test_hessian_bound_is_an_upper_bound():
    # the bound read power iterations from a fixed start: a factor whose top singular
    # vector is orthogonal to it gave 2.16 where the top eigenvalue is 65
    from jax.flatten_util import ravel_pytree

    from overparam.models.dmf import _start_vector

    def top_eigs(model, params_list, A, y):
        _, unravel = ravel_pytree(params_list[0])

        @jax.jit  # one compile per model (eager tracing of the Hessian took seconds)
        def hess(f, A, y):
            return jax.hessian(lambda z: 0.5 * jnp.sum((A @ model.signal(unravel(z))
                                                        - y) ** 2))(f)
        return [float(np.linalg.eigvalsh(np.asarray(hess(ravel_pytree(p)[0], a, b)))[-1])
                for p, a, b in zip(params_list, A, y)]

    n = 6
    q = np.linalg.svd(_start_vector(n)[None, :])[2][1]     # orthogonal to the start
    W1 = 8.0 * np.outer(q, q) + (np.eye(n) - np.outer(q, q))
    model = DeepMatrixFactorization((n, n), depth=2)
    params = {"W1": jnp.asarray(W1), "W2": jnp.eye(n)}
    g = jnp.zeros(n * n)                                    # an exact fit: G = 0
    (lam,) = top_eigs(model, [params], [np.eye(n * n)], [W1.reshape(-1)])
    assert lam == pytest.approx(65.0, rel=1e-9)
    assert float(jax.jit(model.hessian_bound)(params, g, 1.0)) >= lam * (1 - 1e-12)
    # random factors, residual and operator (depth 3, so the curvature term counts)
    rng = np.random.default_rng(0)
    model = DeepMatrixFactorization((3, 2), depth=3, widths=(4, 3))
    ps = [{f"W{j + 1}": jnp.asarray(rng.standard_normal(s)) for j, s in
           enumerate([(4, 2), (3, 4), (3, 3)])} for _ in range(3)]
    As = [rng.standard_normal((5, 6)) for _ in ps]
    ys = [rng.standard_normal(5) for _ in ps]
    bound_fn = jax.jit(model.hessian_bound)  # one compile (eager: one per operation)
    for p, A, y, lam in zip(ps, As, ys, top_eigs(model, ps, As, ys)):
        g = jnp.asarray(A.T @ (A @ np.asarray(model.matrix(p)).reshape(-1) - y))
        bound = float(bound_fn(p, g, np.linalg.norm(A, 2) ** 2))
        assert lam <= bound * (1 + 1e-12), (lam, bound)


def test_model_takes_a_jax_array_of_scales_and_refuses_scalar_shapes_clearly():
    """Per-factor scales as a JAX array were refused ('init_scale must be a real number,
    got ArrayImpl') where the NumPy array of the same values ran; a scalar shape or width
    failed with a bare "'int' object is not iterable"."""
    ref = DeepMatrixFactorization((2, 3), depth=2, init_scale=np.array([0.1, 0.2]))
    got = DeepMatrixFactorization((2, 3), depth=2, init_scale=jnp.asarray([0.1, 0.2]))
    assert got.init_scale == ref.init_scale == (0.1, 0.2)
    assert got == ref
    with pytest.raises(ValueError, match="depth 2 needs 2 init scales"):
        DeepMatrixFactorization((2, 3), depth=2, init_scale=jnp.asarray([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"shape must be a pair \(n1, n2\)"):
        DeepMatrixFactorization(5)
    with pytest.raises(TypeError, match="widths must be a sequence"):
        DeepMatrixFactorization((2, 3), depth=2, widths=3)
    # negative control: a scalar JAX scale is one scale for every factor
    one = DeepMatrixFactorization((2, 3), depth=2, init_scale=jnp.asarray(0.1))
    assert one.factor_scales == (0.1, 0.1)


# ---------------------------------------------------------- adversarial review fixes
def test_overflowing_init_scale_is_refused_before_the_run():
    # init_scale=1e60 at depth 3 starts W at 1e180: the loss was inf and the run came back
    # DIVERGED after 0 iterations, "use a smaller step" (step was "auto") and "the
    # returned x is the last finite iterate" while x held inf / NaN
    for a, kw in ((1e60, {}), (1e200, {}), (1e200, dict(depth=1)),
                  (1e300, dict(scale="end_to_end"))):
        with pytest.raises(ValueError, match="init_scale=.*overflows.*smaller init_scale"):
            dmf_gd(_SMALL_Y, **{**_SMALL_KW, "depth": 3, "init_scale": a, **kw})
    with pytest.raises(ValueError, match="smaller init_scale"):
        dmf_gd_batch([_SMALL_Y, _SMALL_Y], **{**_SMALL_KW, "init_scale": 1e80})
    # negative control (the shapes and settings of _SMALL_KW, compiled elsewhere): a large
    # but representable start still runs
    res = dmf_gd(_SMALL_Y * 1e60, **{**_SMALL_KW, "init_scale": 1e30, "step": 1e-121})
    assert np.all(np.isfinite(res.x)) and res.n_iter == 20


def test_metric_named_sv_non_mapping_options_and_0d_shape_are_refused_clearly():
    # a metric named "sv" was kept by setdefault and _finish failed after the whole run
    # with NumPy's "too many indices for array"; a string as metrics / plateau failed
    # with dict()'s "dictionary update sequence element #0 ..."; shape=np.array(3) with
    # "len() of unsized object"
    one = {"sv": lambda x: jnp.sum(x)}
    with pytest.raises(ValueError, match=r"\['sv'\] are filled in from the singular"):
        dmf_gd(_SMALL_Y, metrics=one, **{**_SMALL_KW, "spectrum": True})
    with pytest.raises(TypeError, match="metrics must be a mapping"):
        dmf_gd(_SMALL_Y, metrics="abc", **_SMALL_KW)
    with pytest.raises(TypeError, match="plateau must be a mapping"):
        dmf_gd(_SMALL_Y, early_stopping=True, plateau=[1, 2],
               **{**_SMALL_KW, "spectrum": True})
    with pytest.raises(ValueError, match=r"shape must be a pair \(n1, n2\)"):
        dmf_gd(_SMALL_Y, shape=np.array(3), **_SMALL_KW)
    # negative control: without the spectrum the name "sv" is free
    res = dmf_gd(_SMALL_Y, metrics=one, **_SMALL_KW)
    np.testing.assert_allclose(res.trace["sv"][-1], res.x.sum(), rtol=1e-12)


def test_batch_refuses_scalar_seeds_and_checks_settings_without_problems():
    # seeds=3 failed with "'int' object is not iterable"; with no problems every setting
    # (depth=-1, a misspelt init) was accepted and [] returned
    with pytest.raises(TypeError, match="seeds must be a sequence"):
        dmf_gd_batch([_SMALL_Y], seeds=3, **_SMALL_KW)
    with pytest.raises(TypeError, match="seeds must be a sequence"):
        dmf_gd_batch([_SMALL_Y], seeds=np.array(3), **_SMALL_KW)
    with pytest.raises(ValueError, match="depth must be >= 1"):
        dmf_gd_batch([], depth=-1)
    with pytest.raises(ValueError, match="init must be one of"):
        dmf_gd_batch([], init="identity")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        dmf_gd_batch([], seeds=[-1])
    assert dmf_gd_batch([], **_SMALL_KW) == []


def test_rank_helpers_refuse_complex_strings_and_unordered_traces():
    # complex spectra lost their imaginary part with only a ComplexWarning (1j * s read
    # as the zero matrix: rank 0 in rank_trace, a level-0 "plateau"); numeric strings
    # were parsed as a spectrum; a decreasing trace["iter"] gave no plateau silently; a
    # 2-D loss failed in float() with NumPy's "only 0-dimensional arrays ..."
    sv = np.array([[3.0, 1.0, 0.5]] * 4)
    with pytest.raises(TypeError, match="sv must be real"):
        rk.rank_trace(sv * 1j)
    with pytest.raises(ValueError, match=r"shape \(records, k\)"):
        rk.rank_trace(sv[0])
    with pytest.raises(TypeError, match="numeric"):
        rk.erank(np.array(["3", "1"]))
    tr = dict(iter=np.array([0, 1, 10, 100]), sv=sv, loss=np.array([4.0, 3, 2, 1]))
    with pytest.raises(TypeError, match=r"trace\['sv'\] must be real"):
        rk.rank_plateaus(dict(tr, sv=sv * 1j))
    for bad in ([0, 10, 1, 100], [0, 1, 1, 100], [0, 1, np.nan, 100]):
        with pytest.raises(ValueError, match="strictly increasing"):
            rk.rank_plateaus(dict(tr, iter=np.array(bad)))
    with pytest.raises(ValueError, match=r"trace\['loss'\] must be 1-dimensional"):
        rk.select_plateau([], dict(tr, loss=np.ones((4, 2))))
    # oracle: the same trace, ordered, gives one plateau at the Roy-Vetterli rank of sv
    p = sv[0] / sv[0].sum()
    (plat,) = rk.rank_plateaus(tr, min_decades=1.0)
    assert (plat.start, plat.end) == (1, 100)
    np.testing.assert_allclose(plat.level, np.exp(-np.sum(p * np.log(p))), rtol=1e-12)
    np.testing.assert_allclose(rk.rank_trace(sv)["stable_rank"], 1.0 + 1 / 9 + 1 / 36,
                               rtol=1e-12)


def test_singular_values_of_a_non_finite_matrix_are_nan_as_with_jax():
    # NumPy raised LinAlgError("SVD did not converge") where the JAX path gives NaN (and
    # every rank measure is documented to propagate NaN); a vector raised NumPy's
    # "1-dimensional array given"
    rng = np.random.default_rng(5)
    W = rng.standard_normal((3, 4, 2))
    W[1, 2, 0] = np.nan
    W[2, 0, 1] = np.inf
    s = rk.singular_values(W)
    assert s.shape == (3, 2)
    np.testing.assert_allclose(s[0], np.linalg.svd(W[0], compute_uv=False), rtol=1e-12)
    assert np.all(np.isnan(s[1:]))
    assert np.isnan(rk.singular_values(jnp.asarray(W[1]))).all()
    assert np.all(np.isnan(rk.erank(s[1:])))
    with pytest.raises(ValueError, match="W must be a matrix"):
        rk.singular_values(np.ones(3))
