"""Weight-normalized diagonal networks, the product model x = u * v, and WN-GD."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import overparam
from overparam.dynamics import Auto, Constant, RadiusScaled, wn_gd, wn_gd_batch
from overparam.dynamics.driver import make_config, run_driver
from overparam.models import DiagonalUV, Hadamard, WeightNormDiagonal
from overparam.problems import sparse_recovery

VARIANTS = ("coordinate", "factor", "stacked")


@pytest.mark.parametrize("variant", VARIANTS)
def test_init_is_the_hadamard_start_point(variant):
    m = WeightNormDiagonal(depth=2, init_scale=0.7, variant=variant)
    u, v = m.factors(m.init(None, 9))
    np.testing.assert_allclose(u, 0.7, rtol=1e-14)
    np.testing.assert_allclose(v, 0.7, rtol=1e-14)
    np.testing.assert_allclose(m.signal(m.init(None, 9)), 0.0, atol=1e-14)


@settings(max_examples=6)
@given(seed=st.integers(0, 10_000), variant=st.sampled_from(VARIANTS),
       depth=st.integers(1, 3), c=st.floats(0.2, 5.0))
def test_direction_scale_invariance_and_projection(seed, variant, depth, c):
    """The signal depends on each direction only through d / ||d||: scaling a direction
    (or projecting it to the sphere) does not change it."""
    rng = np.random.default_rng(seed)
    m = WeightNormDiagonal(depth=depth, init_scale=0.5, variant=variant)
    p = jax.tree_util.tree_map(lambda a: a + 0.2 * jnp.asarray(rng.standard_normal(a.shape)),
                               m.init(None, 7))
    x = np.asarray(m.signal(p))
    scaled = {k: (c * v if k.startswith("d") else v) for k, v in p.items()}
    np.testing.assert_allclose(m.signal(scaled), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.signal(m.project(scaled)), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant,depth,rho", [("coordinate", 3, 50.0), ("factor", 2, 20.0),
                                               ("stacked", 1, 1.0)])
def test_hessian_bound_is_an_upper_bound(variant, depth, rho):
    """The model's bound (used by step='auto') against the dense Hessian's eigenvalues,
    at random points (with a scaled radius, rho, too)."""
    rng = np.random.default_rng(depth)
    A = rng.standard_normal((5, 6)) / np.sqrt(5)
    m = WeightNormDiagonal(depth=depth, init_scale=0.6, variant=variant, radius_scale=rho)
    p0 = m.init(None, 6)
    flat0, unravel = jax.flatten_util.ravel_pytree(p0)

    @jax.jit
    def top_and_bound(z, y):
        def loss(z):
            r = jnp.asarray(A) @ m.signal(unravel(z)) - y
            return 0.5 * r @ r
        H = jax.hessian(loss)(z)
        g = jnp.asarray(A.T) @ (jnp.asarray(A) @ m.signal(unravel(z)) - y)
        return (jnp.max(jnp.abs(jnp.linalg.eigvalsh(0.5 * (H + H.T)))),
                m.hessian_bound(unravel(z), g, np.linalg.norm(A, 2) ** 2))
    for i in range(4):
        # the start point first (symmetric u = v: where the stacked bound is tight)
        z = flat0 + (0.4 if i else 0.0) * jnp.asarray(rng.standard_normal(flat0.shape))
        top, bound = top_and_bound(z, jnp.asarray(rng.standard_normal(5)))
        assert float(bound) >= float(top) * (1 - 1e-12), (bound, top)


def test_uv_model_is_hadamard_in_rotated_coordinates():
    """GD on x = u * v from (alpha, 0) with step eta equals GD on x = p^2 - q^2 from
    p = q = alpha / 2 with step eta / 2 (p = (u + v) / 2, q = (u - v) / 2)."""
    prob = sparse_recovery(30, 12, 2, seed=2)
    cfg = make_config(300, 0.0, [0, 10, 100, 300])
    out_uv, _, _ = run_driver(DiagonalUV(0.4), Constant(0.2), prob.A, prob.y, cfg)
    out_h, _, _ = run_driver(Hadamard(2, init_scale=0.2), Constant(0.1), prob.A, prob.y, cfg)
    np.testing.assert_allclose(out_uv["x"], out_h["x"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out_uv["trace"]["loss"], out_h["trace"]["loss"], rtol=1e-10)
    # negative control: the same step on both is a different trajectory
    out_h2, _, _ = run_driver(Hadamard(2, init_scale=0.2), Constant(0.2), prob.A, prob.y, cfg)
    assert np.max(np.abs(out_uv["x"] - out_h2["x"])) > 1e-6


def test_radius_scaled_step_is_gd_with_two_step_sizes():
    m = WeightNormDiagonal(depth=2, init_scale=0.5, variant="factor", renormalize=False)
    prob = sparse_recovery(10, 5, 1, seed=0)
    A, y = jnp.asarray(prob.A.to_dense()), jnp.asarray(prob.y)
    p0 = m.init(None, 10)

    def loss(p):
        r = A @ m.signal(p) - y
        return 0.5 * r @ r
    g = jax.grad(loss)(p0)
    eta, ratio = 0.05, 7.0
    expect = {k: p0[k] - (ratio if k.startswith("r") else 1.0) * eta * g[k] for k in p0}
    cfg = make_config(1, 0.0, [0, 1])
    out, _, _ = run_driver(m, RadiusScaled(Constant(eta), ratio), prob.A, prob.y, cfg)
    for k in p0:
        np.testing.assert_allclose(out["params"][k], expect[k], rtol=1e-12, atol=1e-14)


def test_radius_scale_is_the_learning_rate_ratio():
    """GD on the model with radius_scale rho (radius stored as r / sqrt(rho)) is GD with
    radius step rho * eta and direction step eta (RadiusScaled on the unscaled model)."""
    prob = sparse_recovery(12, 6, 1, seed=3)
    cfg = make_config(50, 0.0, [0, 50])
    rho, eta = 9.0, 0.01
    a, _, _ = run_driver(WeightNormDiagonal(2, 0.8, radius_scale=rho), Constant(eta),
                         prob.A, prob.y, cfg)
    b, _, _ = run_driver(WeightNormDiagonal(2, 0.8), RadiusScaled(Constant(eta), rho),
                         prob.A, prob.y, cfg)
    np.testing.assert_allclose(a["x"], b["x"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.sqrt(rho) * a["params"]["r"], b["params"]["r"], rtol=1e-9)
    c, _, _ = run_driver(WeightNormDiagonal(2, 0.8), Constant(eta), prob.A, prob.y, cfg)
    assert np.max(np.abs(c["x"] - a["x"])) > 1e-6          # negative control: ratio 1


def test_wn_gd_interpolates_and_batches():
    probs = [sparse_recovery(30, 15, 2, seed=s) for s in range(2)]
    one = wn_gd(probs[0], init_scale=1.0, radius_step_ratio=3.0, tol=1e-7, max_iter=20000)
    assert one.success
    assert np.linalg.norm(probs[0].A.matvec(one.x) - probs[0].y) <= 1e-7 * np.linalg.norm(
        probs[0].y) * (1 + 1e-9)
    assert one.info["variant"] == "coordinate" and one.info["u"].shape == (30,)
    both = wn_gd_batch(probs, init_scale=1.0, radius_step_ratio=3.0, tol=1e-7,
                       max_iter=20000)
    np.testing.assert_allclose(both[0].x, one.x, rtol=1e-9, atol=1e-12)
    assert all(r.success for r in both)


def test_large_radius_ratio_reduces_the_l1_gap():
    """The mechanism of the robust bias, on one small problem at init scale 1: a faster
    radius (ratio 30) gives a smaller l1 gap to basis pursuit than plain GD (measured
    1.29 vs 0.96), and ratio 1 does not (the negative control)."""
    prob = sparse_recovery(40, 20, 2, seed=6)
    bp = np.abs(overparam.basis_pursuit(prob).x).sum()
    gd = overparam.hadamard_gd(prob, init_scale=1.0, tol=1e-6, max_iter=100_000)
    wn = wn_gd(prob, init_scale=1.0, radius_step_ratio=30.0, step=Auto(0.9), tol=1e-6,
               max_iter=100_000, record=4)
    wn1 = wn_gd(prob, init_scale=1.0, radius_step_ratio=1.0, step=Auto(0.9), tol=1e-6,
                max_iter=100_000, record=4)
    assert gd.success and wn.success and wn1.success
    gap_gd, gap_wn, gap_wn1 = (np.abs(r.x).sum() / bp - 1 for r in (gd, wn, wn1))
    assert gap_wn < 0.85 * gap_gd, (gap_wn, gap_gd)
    assert not gap_wn1 < 0.85 * gap_gd


def test_bad_input():
    with pytest.raises(ValueError, match="variant"):
        WeightNormDiagonal(variant="polar")
    with pytest.raises(ValueError):
        WeightNormDiagonal(init_scale=-1.0)
    with pytest.raises(ValueError):
        WeightNormDiagonal(depth=0)
    with pytest.raises(ValueError):
        RadiusScaled(Constant(0.1), -2.0)
    with pytest.raises(ValueError):
        DiagonalUV(init_scale=float("nan"))
    with pytest.raises(TypeError):
        RadiusScaled(Constant(0.1), 2.0).update(
            [jnp.ones(2)], [jnp.ones(2)], (), None)


@pytest.mark.parametrize("variant", ["coordinate", "stacked"])
def test_hessian_bound_at_the_symmetric_start(variant):
    """A = I and y = 0 at u = v = alpha: the Hessian is the Gauss-Newton matrix J^T J,
    where the stacked variant's difference map [I, -I] doubles ||J||^2 (a bound without
    that factor fails here)."""
    m = WeightNormDiagonal(depth=2, init_scale=0.7, variant=variant)
    p0 = m.init(None, 4)
    flat0, unravel = jax.flatten_util.ravel_pytree(p0)
    H = np.asarray(jax.jit(jax.hessian(
        lambda z: 0.5 * jnp.sum(m.signal(unravel(z)) ** 2)))(flat0))
    top = np.max(np.linalg.eigvalsh(0.5 * (H + H.T)))
    bound = float(m.hessian_bound(p0, jnp.zeros(4), 1.0))
    assert bound >= top * (1 - 1e-12), (bound, top)


def test_renormalize_must_be_a_bool():
    """``renormalize="False"`` (e.g. from a config string) is truthy: it used to run the
    renormalized (Riemannian) variant silently instead of Salimans-Kingma WN-GD."""
    for bad in ("False", "no", 0, None):
        with pytest.raises(TypeError, match="renormalize"):
            WeightNormDiagonal(renormalize=bad)
        with pytest.raises(TypeError, match="renormalize"):
            wn_gd(sparse_recovery(6, 3, 1, seed=0), renormalize=bad, max_iter=2)
    assert WeightNormDiagonal(renormalize=np.bool_(False)).renormalize is False


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("renormalize", [True, False])
def test_wn_gd_iterates_match_an_independent_implementation(variant, renormalize):
    """Oracle: the polar parametrization written out independently with the unscaled
    radius R, radius step ratio * eta, direction step eta (then the directions put back on
    the sphere when renormalizing); five steps agree to 1e-12."""
    prob = sparse_recovery(8, 5, 2, seed=4)
    A, y = prob.A.to_dense(), prob.y
    n, alpha, eta, ratio, L = 8, 0.6, 0.02, 7.0, 2

    def unit(d, axis=None):
        return d / jnp.sqrt(jnp.sum(d * d, axis=axis, keepdims=axis is not None))
    if variant == "coordinate":
        P = {"R": np.full(n, alpha * np.sqrt(2)), "d": np.full((n, 2), 1 / np.sqrt(2))}

        def uv(P):
            w = P["R"][:, None] * unit(P["d"], 1)
            return w[:, 0], w[:, 1]
    elif variant == "factor":
        P = {"Ru": np.array(alpha * np.sqrt(n)), "du": np.full(n, 1 / np.sqrt(n)),
             "Rv": np.array(alpha * np.sqrt(n)), "dv": np.full(n, 1 / np.sqrt(n))}

        def uv(P):
            return P["Ru"] * unit(P["du"]), P["Rv"] * unit(P["dv"])
    else:
        P = {"R": np.array(alpha * np.sqrt(2 * n)), "d": np.full(2 * n, 1 / np.sqrt(2 * n))}

        def uv(P):
            w = P["R"] * unit(P["d"])
            return w[:n], w[n:]

    def loss(P):
        u, v = uv(P)
        r = A @ (u**L - v**L) - y
        return 0.5 * r @ r
    for _ in range(5):
        G = jax.grad(loss)(P)
        P = {k: P[k] - (ratio if k[0] == "R" else 1.0) * eta * np.asarray(G[k]) for k in P}
        if renormalize:
            P = {k: (np.asarray(unit(p, 1 if p.ndim == 2 else None)) if k[0] == "d" else p)
                 for k, p in P.items()}
    res = wn_gd(prob, depth=L, init_scale=alpha, variant=variant, renormalize=renormalize,
                step=eta, radius_step_ratio=ratio, max_iter=5, tol=0.0)
    assert res.n_iter == 5
    for k, p in res.info["params"].items():
        expect = P["R" + k[1:]] / np.sqrt(ratio) if k[0] == "r" else P[k]
        np.testing.assert_allclose(p, expect, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.fun, float(loss(P)), rtol=1e-12)


def test_wn_gd_refuses_complex_targets():
    """A complex y failed inside JAX's VJP with a dtype message."""
    prob = sparse_recovery(6, 3, 1, seed=0)
    with pytest.raises(TypeError, match="y must be real"):
        wn_gd(prob.A.to_dense(), prob.y + 1j, max_iter=2)
    with pytest.raises(TypeError, match="y must be real"):
        wn_gd_batch([overparam.problems.Problem(prob.A, prob.y + 1j)], max_iter=2)


def test_wn_gd_refuses_hadamard_coordinate_policies():
    """x / mirror steps map each leaf as a non-negative Hadamard factor (p**L, log p):
    as objects they silently ran another algorithm (5 steps 3e-4 away from WN-GD's
    parameters); as strings the parser asked for a depth wn_gd had been given."""
    from overparam.dynamics.steps import Nesterov

    prob = sparse_recovery(8, 5, 2, seed=4)
    for step in ("nesterov@mirror", "auto@x", Constant(0.02, space="x", depth=2),
                 Nesterov(space="mirror", depth=2),
                 RadiusScaled(Constant(0.02, space="mirror", depth=2), 3.0)):
        with pytest.raises(ValueError, match="polar coordinates"):
            wn_gd(prob, step=step, max_iter=2)
        with pytest.raises(ValueError, match="polar coordinates"):
            wn_gd_batch([prob], step=step, max_iter=2)
    # u-space policies (strings, objects, wrapped) still run
    for step in ("nesterov", "auto@u", RadiusScaled(Constant(0.02), 3.0)):
        assert wn_gd(prob, step=step, max_iter=3, tol=0.0).n_iter == 3


def test_wn_gd_batch_names_mismatched_shapes():
    """Problems of two shapes (with truths) failed in np.stack with a message that named
    no shapes, before the driver's shape check."""
    probs = [sparse_recovery(12, 6, 2, seed=0), sparse_recovery(10, 6, 2, seed=0)]
    with pytest.raises(ValueError, match=r"share one shape.*\(6, 10\).*\(6, 12\)"):
        wn_gd_batch(probs, max_iter=2)


def test_hadamard_nonneg_must_be_a_bool():
    """``nonneg="False"`` is truthy: hadamard_gd silently ran the non-negative model
    (min x 6e-26 against -0.24 for the signed one, info["nonneg"] = "False")."""
    prob = sparse_recovery(10, 5, 2, seed=1)
    for bad in ("False", "no", 1, None):
        with pytest.raises(TypeError, match="nonneg"):
            Hadamard(nonneg=bad)
        with pytest.raises(TypeError, match="nonneg"):
            overparam.hadamard_gd(prob, nonneg=bad, max_iter=2)
    assert Hadamard(nonneg=np.bool_(True)).nonneg is True
    signed = overparam.hadamard_gd(prob, nonneg=np.bool_(False), init_scale=0.1,
                                   max_iter=2000)
    assert signed.x.min() < -0.1                     # the signed model, as asked


def test_two_layer_net_refuses_complex_inputs():
    """A complex X gave complex predictions through the driver (a ComplexWarning, then a
    NaN loss) instead of an error: the network is real."""
    from overparam.models import TwoLayerNet

    rng = np.random.default_rng(1)
    X = rng.standard_normal((5, 3))
    with pytest.raises(TypeError, match="X must be real"):
        TwoLayerNet(X + 0.5j, 1, width=4)
    with pytest.raises(TypeError, match="X must be real"):
        TwoLayerNet(X + 0j, 1, width=4)
    net = TwoLayerNet(X.astype(int), 1, width=4)     # real integer inputs: fine
    assert np.asarray(net.signal(net.init(None))).dtype == np.float64


def test_two_layer_net_seed_range():
    """PRNGKey takes a C long: a seed of 2**63 was accepted, then init() failed with an
    OverflowError; the ends of the range still work."""
    from overparam.models import TwoLayerNet

    X = np.ones((4, 2))
    for bad in (2**63, -(2**63) - 1, np.uint64(2**63)):
        with pytest.raises(ValueError, match="seed"):
            TwoLayerNet(X, 2, seed=bad)
    for ok in (2**63 - 1, -(2**63)):
        assert np.all(np.isfinite(TwoLayerNet(X, 2, width=3, seed=ok).init(None)["W1"]))


def test_the_limit_checks_its_nonneg_flag():
    # nonneg="False" (truthy) computed the non-negative limit
    import overparam
    from overparam.problems import sparse_recovery

    p = sparse_recovery(30, 15, 2, nonneg=True, seed=1)
    for bad in ("False", 1, None):
        with pytest.raises(TypeError, match="nonneg must be a bool"):
            overparam.hadamard_limit(p, nonneg=bad)
    assert overparam.hadamard_limit(p, nonneg=np.bool_(True)).info["nonneg"] is True


@pytest.mark.parametrize("model", [WeightNormDiagonal(depth=3, init_scale=0.4, variant="factor",
                                                      renormalize=False, radius_scale=7.0),
                                   DiagonalUV(init_scale=0.3)])
def test_loop_model_fixes_only_the_init_scale(model):
    """The driver keys its compiled loop on ``loop_model()``: the same signal, projection
    and Hessian bound (so the same program serves every init scale; before, each scale
    compiled its own), only ``init`` differs."""
    lm = model.loop_model()
    assert lm.init_scale == 1.0 and lm.loop_model() is lm
    assert type(model)(**{**model.__dict__, "init_scale": 0.9}).loop_model() == lm
    p = jax.tree_util.tree_map(lambda a: a + 0.1, model.init(None, 5))
    g = jnp.linspace(-1.0, 1.0, 5)
    np.testing.assert_array_equal(lm.signal(p), model.signal(p))
    np.testing.assert_array_equal(lm.hessian_bound(p, g, 2.5), model.hessian_bound(p, g, 2.5))
    for a, b in zip(jax.tree_util.tree_leaves(lm.project(p)),
                    jax.tree_util.tree_leaves(model.project(p))):
        np.testing.assert_array_equal(a, b)


def test_wn_gd_init_scale_sweep_compiles_once():
    """wn_gd at several init scales reuses one compiled loop (init_scale only sets the
    start point) and still starts each run from its own scale."""
    from overparam.dynamics import driver

    p = sparse_recovery(12, 6, 1, seed=0)
    wn_gd(p, init_scale=0.5, max_iter=1, tol=1e-300, record=None)
    n = driver._build.cache_info().misses
    for a in (0.3, 0.7):
        res = wn_gd(p, init_scale=a, max_iter=1, tol=1e-300, record=None)
        assert driver._build.cache_info().misses == n
        assert res.info["init_scale"] == a
        ref = wn_gd(p, init_scale=a, max_iter=1, tol=1e-300, record=None)
        np.testing.assert_array_equal(res.x, ref.x)
    # one step from u = v = a: x = u^2 - v^2 moved away from 0 by an a-dependent amount
    x1 = [wn_gd(p, init_scale=a, max_iter=1, tol=1e-300, step=0.01).x for a in (0.3, 0.7)]
    assert not np.allclose(x1[0], x1[1])


def test_radius_scaled_and_batch_arguments_are_validated_up_front():
    """RadiusScaled(0.1) (a number, not a policy) was accepted and failed inside the run
    ("'float' object has no attribute 'init'"); wn_gd_batch([], depth=-1) returned []
    without checking its settings, and wn_gd_batch(problem) failed with "'Problem'
    object is not iterable"."""
    for base in (0.1, "auto", None):
        with pytest.raises(TypeError, match="base must be a step policy"):
            RadiusScaled(base, 2.0)
    assert RadiusScaled(Constant(0.1), np.float32(2.0)).ratio == 2.0
    for bad, err in ((dict(depth=-1), ValueError), (dict(radius_step_ratio=0.0), ValueError),
                     (dict(variant="polar"), ValueError), (dict(renormalize="no"), TypeError),
                     (dict(step="nesterov@mirror"), ValueError)):
        with pytest.raises(err):
            wn_gd_batch([], **bad)
    assert wn_gd_batch([]) == []
    with pytest.raises(TypeError, match="sequence of Problems"):
        wn_gd_batch(sparse_recovery(12, 6, 1, seed=0))
