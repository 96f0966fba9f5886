"""The NNLS front end: oracles (SciPy nnls, non-negative basis pursuit by HiGHS), the KKT
certificate (with negative controls), matrix-free operators, warm starts and bad input."""
import numpy as np
import pytest
import scipy.optimize

import overparam
from overparam import Status
from overparam.baselines import basis_pursuit
from overparam.baselines.projected_gradient import projected_gradient
from overparam.limits import hadamard_limit
from overparam.problems import PartialDCT, Problem, sparse_recovery
from overparam.solvers import SubsampledFFT, nnls, nnls_certificate


def overdetermined(seed, m=80, n=30, ill=False):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    if ill:
        A = A * np.logspace(0, -1, n)  # column scales over a decade
    y = A @ np.maximum(rng.standard_normal(n), 0) + 0.3 * rng.standard_normal(m)
    return A, y


def scipy_fun(A, y):
    xs, _ = scipy.optimize.nnls(A, y, maxiter=50 * A.shape[1])
    return xs, 0.5 * float(np.sum((A @ xs - y) ** 2))


METHODS = ["auto", "cd", "gram", "apg", "projected-gradient", "reparam", "lawson-hanson", "sklearn"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed, ill", [(0, False), (1, True)])
def test_overdetermined_matches_scipy(method, seed, ill):
    A, y = overdetermined(seed, ill=ill)
    xs, fs = scipy_fun(A, y)
    kw = dict(init_scale=0.1) if method == "reparam" else {}
    res = nnls(A, y, method=method, tol=1e-10, **kw)
    assert res.success, res.message
    assert abs(res.fun - fs) <= 1e-8 * fs
    # kkt = ||min(d x, g / d)|| is in the units of y since the scale-free certificate
    # (it was ||min(x, g)||); the columns of A / sqrt(m) have norms ~1 (0.1 to 1 for
    # ill=True), so this bound means what it meant before
    assert res.info["kkt"] <= 1e-6 and res.info["min_x"] >= 0
    assert res.info["regime"] == "over-determined"
    np.testing.assert_allclose(res.x, xs, atol=1e-5)  # unique solution


def test_certificate_negative_control():
    # (absolute kkt, in the units of y; columns of norm ~1 here: see the test above)
    A, y = overdetermined(2)
    xs, _ = scipy_fun(A, y)
    assert nnls_certificate(A, y, xs)["kkt"] <= 1e-10
    bad = xs.copy()
    bad[np.argmax(bad)] *= 1.01  # a perturbed solution fails the same check
    assert nnls_certificate(A, y, bad)["kkt"] > 1e-4
    zero = np.zeros_like(xs)
    assert nnls_certificate(A, y, zero)["kkt"] > 1e-2


def test_warm_start_from_the_solution_is_immediate():
    A, y = overdetermined(3)
    cold = nnls(A, y, method="cd", tol=1e-10)
    warm = nnls(A, y, method="cd", x0=cold.x, tol=1e-10)
    assert warm.success and warm.n_iter <= 1 < cold.n_iter
    apg = nnls(A, y, method="apg", x0=cold.x, tol=1e-9)
    assert apg.success and apg.n_iter <= 10


@pytest.fixture(scope="module")
def nonneg_sparse():
    return sparse_recovery(60, 25, 4, nonneg=True, seed=4)


def test_underdetermined_reparam_tends_to_nonneg_basis_pursuit(nonneg_sparse):
    p = nonneg_sparse
    bp = basis_pursuit(p, nonneg=True)  # HiGHS
    l1_bp = np.sum(bp.x)
    gaps = []
    for alpha in (1e-1, 1e-2, 1e-3):
        res = nnls(p, method="reparam", init_scale=alpha, tol=1e-10, interp_tol=1e-7)
        assert res.success and res.info["regime"] == "under-determined"
        assert res.info["interpolates"]
        gaps.append(np.sum(res.x) / l1_bp - 1)
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-9  # monotone towards the min-l1 value
    assert gaps[2] < 2e-2
    lim = nnls(p, method="limit", init_scale=1e-6)
    assert lim.success
    assert abs(np.sum(lim.x) / l1_bp - 1) < 1e-3
    assert np.linalg.norm(lim.x - bp.x) / np.linalg.norm(bp.x) < 1e-2


def test_reparam_equals_its_exact_limit(nonneg_sparse):
    p = nonneg_sparse
    res = nnls(p, method="reparam", init_scale=0.05, tol=1e-12, interp_tol=1e-11)
    lim = nnls(p, method="limit", init_scale=0.05)
    assert np.linalg.norm(res.x - lim.x) / np.linalg.norm(lim.x) < 1e-7


def test_underdetermined_without_nonneg_solution_is_infeasible():
    rng = np.random.default_rng(5)
    A = np.abs(rng.standard_normal((10, 30)))  # positive matrix ...
    y = -np.ones(10)  # ... so no x >= 0 gives Ax = -1
    for method in ("auto", "reparam"):
        res = nnls(A, y, method=method, max_iter=20_000)
        assert res.status is Status.INFEASIBLE, res.message
        assert "no non-negative x solves" in res.message
        np.testing.assert_allclose(res.x, 0.0, atol=1e-6)  # the NNLS minimizer is 0


def test_limit_infeasible_returns_the_certified_minimizer():
    # "infeasible" promises the certified NNLS minimizer; method="limit" used to return the
    # Newton iterate left when no limit exists (relative residual 2.4 here, 7e3 on mixed
    # signs: worse than x = 0, KKT residual 1.8e-3 to 5e3)
    rng = np.random.default_rng(5)
    A = np.abs(rng.standard_normal((20, 60)))  # (one shape below: one CD compilation)
    res = nnls(A, -np.ones(20), method="limit")
    assert res.status is Status.INFEASIBLE, res.message
    assert res.info["kkt_rel"] <= 1e-8 and res.info["relative_residual"] <= 1.0 + 1e-12
    np.testing.assert_allclose(res.x, 0.0, atol=1e-10)
    # mixed signs, infeasible by a Farkas row (row 0 positive, y_0 < 0); over-determined
    # noise (no interpolant at all): the same minimizer as Lawson-Hanson, "converged" as
    # from every other method (the docstring keeps "infeasible" for m < n)
    B = rng.standard_normal((20, 60))
    B[0] = np.abs(B[0])
    yb = rng.standard_normal(20)
    yb[0] = -1.0
    C = rng.standard_normal((60, 30))
    for M, y, status in ((B, yb, Status.INFEASIBLE),
                         (C, rng.standard_normal(60), Status.CONVERGED)):
        res = nnls(M, y, method="limit")
        assert res.status is status, res.message
        assert res.info["kkt_rel"] <= 1e-8
        ref = nnls(M, y, method="lawson-hanson")
        assert abs(res.fun - ref.fun) <= 1e-9 * ref.fun


def test_rank_deficient_matrix_gives_a_certified_minimizer():
    rng = np.random.default_rng(6)
    B = rng.standard_normal((50, 10))
    A = np.hstack([B, B[:, :5], B[:, :3] + B[:, 3:6]])  # dependent columns, m > n
    y = rng.standard_normal(50)
    _, fs = scipy_fun(A, y)
    for method in ("cd", "apg"):
        res = nnls(A, y, method=method, tol=1e-10)
        assert res.success
        assert abs(res.fun - fs) <= 1e-8 * fs and res.info["kkt"] <= 1e-6


def test_zero_columns_are_reported_and_set_to_zero():
    A, y = overdetermined(7)
    A[:, [3, 11]] = 0.0
    res = nnls(A, y, method="cd")
    assert res.success and list(res.info["zero_columns"]) == [3, 11]
    assert res.x[3] == 0 and res.x[11] == 0 and "zero column" in res.message
    _, fs = scipy_fun(A, y)
    assert abs(res.fun - fs) <= 1e-8 * fs


@pytest.mark.parametrize("where", ["A", "y"])
def test_nan_input_raises(where):
    A, y = overdetermined(8)
    if where == "A":
        A[0, 0] = np.nan
    else:
        y[3] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        nnls(A, y)


def test_bad_arguments_raise():
    A, y = overdetermined(9)
    with pytest.raises(ValueError, match="unknown method"):
        nnls(A, y, method="simplex")
    with pytest.raises(ValueError, match="x0"):
        nnls(A, y, x0=np.ones(3))
    with pytest.raises(ValueError, match="shape mismatch"):
        nnls(A, y[:-1])


def test_subsampled_fft_operator():
    op = SubsampledFFT.random(40, 64, seed=0)
    assert op.shape == (80, 64) and op.dot_test() < 1e-13
    D = op.to_dense()
    x = np.random.default_rng(0).standard_normal(64)
    f = np.fft.fft(x)[op.rows] / np.sqrt(40)
    np.testing.assert_allclose(D @ x, np.concatenate([f.real, f.imag]), atol=1e-12)
    assert np.linalg.norm(D, 2) <= op.norm2 * (1 + 1e-12)


@pytest.mark.parametrize("make", [lambda: SubsampledFFT.random(48, 64, seed=1),
                                  lambda: PartialDCT(64, np.arange(60))],
                         ids=["fft", "dct"])
def test_matrix_free_equals_dense_scipy(make):
    op = make()
    rng = np.random.default_rng(10)
    y = op.matvec(np.maximum(rng.standard_normal(64), 0)) + 0.1 * rng.standard_normal(
        op.shape[0])
    res = nnls(op, y, tol=1e-11)
    assert res.info["method"] == "apg"
    # the DCT has m < n: no non-negative interpolant for noisy y, a certified minimizer
    assert res.status in (Status.CONVERGED, Status.INFEASIBLE), res.message
    _, fs = scipy_fun(op.to_dense(), y)
    assert abs(res.fun - fs) <= 1e-8 * max(fs, 1e-12) and res.info["kkt"] <= 1e-6


def test_projected_gradient_gram_and_operator_agree():
    A, y = overdetermined(11)
    a = projected_gradient(A, y, gram=True, tol=1e-10)
    b = projected_gradient(A, y, gram=False, tol=1e-10)
    c = projected_gradient(A, y, accelerated=False, tol=1e-9, max_iter=100_000)
    assert a.success and b.success and c.success and a.info["gram"] and not b.info["gram"]
    np.testing.assert_allclose(a.x, b.x, atol=1e-7)
    np.testing.assert_allclose(a.x, c.x, atol=1e-6)
    assert b.n_iter < c.n_iter  # acceleration pays


def test_result_is_exported_from_the_package():
    assert overparam.solvers.nnls is nnls


# -- the Gram path ("gram", auto for m >= n, n <= 256) and CD on A, against SciPy --------
def ar1(seed, m, n, rho):
    """Columns with AR(1) correlation rho^|j - k| (ill-conditioned for rho -> 1)."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((m, n))
    A = np.empty_like(Z)
    A[:, 0] = Z[:, 0]
    for j in range(1, n):
        A[:, j] = rho * A[:, j - 1] + np.sqrt(1 - rho**2) * Z[:, j]
    A /= np.sqrt(m)
    y = A @ np.maximum(rng.standard_normal(n), 0) + 0.1 * rng.standard_normal(m)
    return A, y


def assert_matches_scipy(res, A, y, rtol=1e-10):
    xs, fs = scipy_fun(A, y)
    assert res.success, res.message
    assert res.fun <= fs * (1 + rtol) + 1e-14, (res.fun, fs)
    assert res.info["kkt_rel"] <= 1e-9 and res.info["min_x"] >= 0
    return xs


@pytest.mark.parametrize("method", ["gram", "cd"])
@pytest.mark.parametrize("rho", [0.0, 0.9, 0.999])
def test_gram_and_cd_match_scipy_tightly(method, rho):
    A, y = ar1(12, 150, 70, rho)
    res = nnls(A, y, method=method, tol=1e-11)
    xs = assert_matches_scipy(res, A, y)
    assert res.info["method"] == method
    if rho < 0.99:  # unique and well-determined: the same x
        np.testing.assert_allclose(res.x, xs, atol=1e-8)


@pytest.mark.parametrize("method", ["gram", "cd"])
def test_slow_coordinate_descent_takes_the_active_set_polish(method):
    A, y = ar1(13, 200, 100, 0.999)  # CD crawls: the rate rule calls the polish
    res = nnls(A, y, method=method, tol=1e-10)
    assert "active-set polish" in res.message
    xs = assert_matches_scipy(res, A, y)
    np.testing.assert_allclose(res.x, xs, atol=1e-6)


def test_auto_takes_the_gram_path_by_the_documented_rule():
    A, y = overdetermined(14, m=80, n=30)
    assert nnls(A, y).info["method"] == "gram"  # m >= n, n <= 256
    rng = np.random.default_rng(14)
    B = rng.standard_normal((300, 260))
    assert nnls(B, rng.standard_normal(300), max_iter=3).info["method"] == "cd"  # n > 256
    C = rng.standard_normal((20, 40))
    assert nnls(C, rng.standard_normal(20), max_iter=3).info["method"] == "cd"  # m < n


@pytest.mark.parametrize("method", ["gram", "cd"])
def test_gram_and_cd_degenerate_cases(method):
    rng = np.random.default_rng(15)
    Bm = rng.standard_normal((60, 12))
    # dependent and duplicated columns (rank deficient, m > n): the objective is unique
    A = np.hstack([Bm, Bm[:, :4], Bm[:, :3] + Bm[:, 3:6], Bm[:, [0]]])
    y = rng.standard_normal(60)
    assert_matches_scipy(nnls(A, y, method=method, tol=1e-11), A, y)
    # zero columns: reported and set to 0
    Z = Bm.copy()
    Z[:, [2, 7]] = 0.0
    res = nnls(Z, y, method=method, tol=1e-11)
    assert list(res.info["zero_columns"]) == [2, 7] and res.x[2] == res.x[7] == 0
    assert_matches_scipy(res, Z, y)
    # y in the polar cone (A^T y <= 0): x = 0 exactly; y = 0: x = 0
    P = np.abs(Bm)
    for yy in (-np.abs(rng.standard_normal(60)), np.zeros(60)):
        res = nnls(P, yy, method=method)
        assert res.success and np.all(res.x == 0), res.message
    # one column (m = n: in the hypothesis test)
    assert_matches_scipy(nnls(Bm[:, :1], y, method=method, tol=1e-12), Bm[:, :1], y)


def _cd_epoch_reference(A, y, x, B, sweeps):
    """One epoch of blocked cyclic coordinate descent, one coordinate at a time in NumPy:
    blocks of B columns (the last shifted left to fit), ``sweeps`` passes over each, an
    exact minimization along each coordinate."""
    n = A.shape[1]
    x = x.copy()
    r = A @ x - y
    for k in range(-(-n // B)):
        start = min(k * B, n - B)
        for _ in range(sweeps):
            for i in range(start, start + B):
                a = A[:, i]
                aa = a @ a
                if aa > 0:
                    xn = max(x[i] - (a @ r) / aa, 0.0)
                    r += (xn - x[i]) * a
                    x[i] = xn
    return x


@pytest.mark.parametrize("gram", [False, True])
def test_cd_epoch_is_exact_coordinate_descent(gram):
    # columns over four decades of scale: the in-block gradient update must divide by the
    # curvature of the coordinate it updates (it once used the moved coordinate's, which
    # made CD diverge on unnormalised under-determined problems)
    from overparam.solvers.nnls import BLOCK, INNER_SWEEPS, _nnls_cd

    rng = np.random.default_rng(21)
    m, n = 30, 45
    A = rng.standard_normal((m, n)) * np.logspace(-2, 2, n)[rng.permutation(n)]
    y = rng.standard_normal(m)
    x0 = np.abs(rng.standard_normal(n))
    ref = _cd_epoch_reference(A, y, x0, min(BLOCK, n), INNER_SWEEPS)
    if gram:
        x, *_ = _nnls_cd(A, y, x0, 0.0, 1, anderson=False, gram=True)
    else:
        x, *_ = _nnls_cd(A, y, x0, 0.0, 1, anderson=False)
    np.testing.assert_allclose(x, ref, rtol=1e-9, atol=1e-12)
    # negative control: a different sweep count gives a different epoch
    assert np.max(np.abs(_cd_epoch_reference(A, y, x0, min(BLOCK, n), 1) - ref)) > 1e-6


@pytest.mark.parametrize("method", ["cd", "gram"])
def test_unnormalised_underdetermined_converges(method):
    # 20 x 50 Gaussian, unit-variance entries, y = A x for a sparse x >= 0: CD diverged to
    # |x| ~ 1e138 in 10000 epochs before the in-block update was fixed; now 13 epochs
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 50))
    y = A @ (np.abs(rng.standard_normal(50)) * (rng.uniform(size=50) < 0.2))
    res = nnls(A, y, method=method, tol=1e-10)
    assert res.success, res.message
    assert res.n_iter <= 200
    assert res.info["relative_residual"] <= 1e-9 and res.info["min_x"] >= 0


def test_gram_warm_start_and_certificate_on_A(monkeypatch):
    import importlib

    mod = importlib.import_module("overparam.solvers.nnls")
    A, y = ar1(16, 120, 50, 0.9)
    cold = nnls(A, y, method="gram", tol=1e-10)
    warm = nnls(A, y, method="gram", x0=cold.x, tol=1e-10)
    assert warm.success and warm.n_iter <= 1 < cold.n_iter
    # the Gram path certifies on A itself: a Gram solution that is off (here: perturbed
    # on purpose) fails that check and coordinate descent on A takes over
    orig = mod._nnls_cd

    def off(M, yy, x0, tol, max_iter, gram=False, **kw):
        x, e, res, extras = orig(M, yy, x0, tol, max_iter, gram=gram, **kw)
        return (x * 1.01 if gram else x), e, res, extras

    monkeypatch.setattr(mod, "_nnls_cd", off)
    res = nnls(A, y, method="gram", tol=1e-10)
    assert "then coordinate descent on A" in res.message
    assert_matches_scipy(res, A, y)


def test_gram_and_cd_against_scipy_hypothesis():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    shapes = [(30, 12), (25, 25)]  # few shapes: one compilation each

    @settings(max_examples=15, deadline=None, derandomize=True)
    @given(st.sampled_from(shapes), st.integers(0, 2**31 - 1), st.floats(0.0, 0.99),
           st.sampled_from(["gram", "cd"]))
    def check(shape, seed, rho, method):
        m, n = shape
        A, y = ar1(seed, m, n, rho)
        res = nnls(A, y, method=method, tol=1e-11)
        _, fs = scipy_fun(A, y)
        assert res.success, res.message
        assert res.fun <= fs * (1 + 1e-9) + 1e-13
        assert res.info["kkt_rel"] <= 1e-9 and res.info["min_x"] >= 0

    check()


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_reparam_reaches_the_nnls_minimizer_when_y_is_outside_the_cone(seed):
    # m < n, A >= 0 and y_0 pulled far below the cone {Ax : x >= 0}: the minimizer has
    # zeros with positive gradient, their mirror coordinates log u_i run to -inf, u_i
    # underflowed to 0 and the momentum -inf - (-inf) = NaN stopped the run as "diverged"
    # (all 12 seeds 0..11, objective up to 1.5e-3 relative above the minimum)
    rng = np.random.default_rng(seed)
    A = np.abs(rng.standard_normal((10, 30)))
    y = A @ rng.random(30)
    y[0] -= 10.0
    res = nnls(A, y, method="reparam")
    _, fs = scipy_fun(A, y)
    assert fs > 1.0  # y is far from the cone
    # "infeasible": no interpolant, x the certified minimizer (it was "diverged")
    assert res.status is Status.INFEASIBLE, res.message
    assert abs(res.fun - fs) <= 1e-9 * fs
    assert res.info["kkt_rel"] <= 1e-9 and res.info["min_x"] >= 0
    assert np.all(np.isfinite(res.x))


@pytest.mark.parametrize("depth", [2, 3])
def test_reparam_mirror_policy_survives_factors_decaying_to_zero(depth):
    # the default m < n policy of "reparam", on coordinates with a positive x-gradient
    # (the zeros of an NNLS solution): the factors decay until they underflow, where the
    # mirror coordinate (log u, or u^(2-L) / (2-L)) and the direction grad / u^(L-1)
    # became -inf and 0 / 0, and the momentum NaN
    import jax.numpy as jnp

    from overparam.dynamics.steps import Nesterov, StepContext

    pol = Nesterov(space="mirror", depth=depth)
    gx = jnp.asarray([1.0, 3.0, 0.0])  # x-gradient: two coordinates pushed to 0
    params = {"u": jnp.asarray([1e-3, 1e-3, 0.5])}
    state = pol.init(params)
    # L >= 3 decays algebraically (u ~ 1 / (eta t)): a huge step (a tiny bound) gets there
    bound = 1.0 if depth == 2 else 1e-150
    for it in range(400):
        grads = {"u": depth * params["u"] ** (depth - 1) * gx}  # d loss / d u
        params, state, _ = pol.update(params, grads, state, StepContext(it, bound))
    u = np.asarray(params["u"])
    assert np.all(np.isfinite(u)) and np.all(np.isfinite(np.asarray(state[0]["u"])))
    assert np.all(u[:2] ** depth <= 1e-300)  # x is zero there ...
    assert u[2] == 0.5  # ... and the coordinate without gradient did not move


@pytest.mark.parametrize("init_scale", [1e-50, 1e-150])
def test_reparam_from_a_tiny_init_is_not_thrown_off_by_its_momentum(init_scale):
    # log u climbed ~115 (x 1e-100 -> 1) under Nesterov momentum, which had grown for
    # the whole escape: the step that reached the data overshot x by e^20 and the run
    # stopped as diverged after 26 steps (1e-20 converged). Oracle: the sparse
    # non-negative truth, the unique non-negative solution at this size (m = 10, s = 3)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 30))
    x = np.zeros(30)
    x[:3] = rng.random(3)
    res = nnls(A, A @ x, method="reparam", init_scale=init_scale)
    assert res.status is Status.CONVERGED, res.message
    assert np.linalg.norm(res.x - x) <= 1e-4 * np.linalg.norm(x)


def test_reparam_refuses_depth_one():
    # x = u^1 is unconstrained: it returned negative entries as CONVERGED
    p = sparse_recovery(100, 40, 5, nonneg=True, seed=0)
    for method in ("reparam", "limit"):
        with pytest.raises(ValueError, match="depth >= 2"):
            nnls(p.A.to_dense(), p.y, method=method, depth=1)


@pytest.mark.parametrize("depth", [3, 4])
def test_reparam_default_policy_at_depth_three_and_four_reaches_the_flow_limit(depth):
    # the default m < n policy (Nesterov in mirror coordinates) took its first step from
    # the u-space bound (~ u^(2L-2), tiny at u = 1e-3): c = u^(2-L)/(2-L) crossed 0 and the
    # run "diverged" at step 1-2 on every problem; steps are now capped to the domain
    p = sparse_recovery(100, 40, 5, nonneg=True, seed=0)
    res = nnls(p.A.to_dense(), p.y, method="reparam", depth=depth)
    assert res.status is Status.CONVERGED, res.message
    lim = hadamard_limit(p, depth=depth, init_scale=res.info["init_scale"], nonneg=True,
                         tol=1e-10)
    assert np.linalg.norm(res.x - lim.x) <= 1e-5 * np.linalg.norm(lim.x)


def test_reparam_chunks_share_one_compiled_loop_and_leave_stagnation_to_the_caller(
        monkeypatch):
    # the chunks of 1000, 2000, 4000, ... steps each compiled a new loop (their cap was a
    # compile-time constant), and each ran with the driver's own stagnation stop, whose
    # window restarted with every chunk's iteration count
    from overparam.dynamics import driver

    p = sparse_recovery(59, 23, 3, nonneg=True, seed=0)  # a shape no other test compiles
    calls = []
    real = driver.run_driver

    def spy(model, policy, op, y, cfg, **kw):
        calls.append((model, driver._split_policy(policy)[0], cfg))
        return real(model, policy, op, y, cfg, **kw)

    def program(model, skeleton, cfg):
        return driver._program(model, skeleton, driver._dense_forward, cfg, (), False)[0]

    monkeypatch.setattr(driver, "run_driver", spy)
    res = nnls(p.A.to_dense(), p.y, method="reparam", init_scale=0.05, tol=1e-12,
               interp_tol=1e-11, max_iter=5)  # one short chunk: compiles the loop
    fn = program(*calls[0])
    before = fn._cache_size()  # compiled for this shape just now (another test: others)
    calls.clear()
    res = nnls(p.A.to_dense(), p.y, method="reparam", init_scale=0.05, tol=1e-12,
               interp_tol=1e-11)
    assert res.status is Status.CONVERGED and len(calls) >= 3
    assert len({cfg.max_iter for _, _, cfg in calls}) >= 3
    assert all(program(*c) is fn for c in calls)
    assert fn._cache_size() == before
    assert all(cfg.stagnation_window is None for _, _, cfg in calls)


def test_reparam_stops_on_stagnation_judged_over_the_whole_run():
    # tol = 0 is out of reach: the loss sits at its floor from ~1000 steps on, and the
    # chunks (each a fresh run to the driver) never stagnated: it ran to max_iter
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((80, 30)), rng.standard_normal(80)
    res = nnls(A, y, method="reparam", tol=0.0, interp_tol=0.0, max_iter=50_000)
    assert res.status is Status.STAGNATED, res.message
    assert res.n_iter < 10_000 and res.info["kkt_rel"] < 1e-12


def test_reparam_takes_policies_in_mirror_coordinates_by_name(nonneg_sparse):
    # "nesterov@mirror" needs the model depth: as_policy was called without it (ValueError)
    p = nonneg_sparse
    default = nnls(p.A.to_dense(), p.y, method="reparam", init_scale=0.05, max_iter=3000)
    named = nnls(p.A.to_dense(), p.y, method="reparam", init_scale=0.05, max_iter=3000,
                 step="nesterov@mirror")
    np.testing.assert_array_equal(named.x, default.x)
    assert named.info["policy"] == default.info["policy"]


def test_a_nearly_interpolating_point_is_not_called_infeasible():
    # depth-3 reparam at tol 1e-6 stopped at a relative residual 1.4e-6 (> interp_tol) with
    # a KKT residual within tol, and the feasible problem was reported INFEASIBLE: the
    # residual must also be a Farkas certificate
    import scipy.optimize

    from overparam.baselines._common import nonneg_farkas

    p = sparse_recovery(100, 40, 5, nonneg=True, seed=2)
    r = nnls(p, method="reparam", depth=3, tol=1e-6)
    assert r.info["relative_residual"] > 1e-6  # not interpolating to interp_tol
    assert r.status is Status.CONVERGED, r.message
    # the certificate itself: a genuinely infeasible problem's NNLS minimizer is certified
    rng = np.random.default_rng(0)
    A = np.abs(rng.standard_normal((20, 40)))  # positive entries: A x >= 0 for x >= 0
    y = rng.standard_normal(20)  # with negative entries: no x >= 0 solves A x = y
    x_star, res = scipy.optimize.nnls(A, y)
    q = Problem(A, y)
    lp = scipy.optimize.linprog(np.zeros(40), A_eq=A, b_eq=y, bounds=(0, None))
    assert lp.status == 2 and res > 0  # infeasible (HiGHS)
    assert nonneg_farkas(q, x_star)
    assert not nonneg_farkas(p, p.x_true + 1e-7)  # near a feasible point: no certificate


def test_reparam_init_scale_sweep_compiles_the_loop_once():
    # the driver's program was keyed on the Hadamard model, init_scale included: each
    # scale of the paper's alpha -> 0 sweep compiled the loop again (~1 s per scale)
    from overparam.dynamics import driver

    rng = np.random.default_rng(11)
    A = rng.standard_normal((13, 37))  # a shape no other test compiles
    y = A @ (np.maximum(rng.standard_normal(37), 0) * (rng.random(37) < 0.2))
    first = nnls(A, y, method="reparam", init_scale=0.05, max_iter=30_000)
    built = driver._build.cache_info().misses
    res = {a: nnls(A, y, method="reparam", init_scale=a, max_iter=30_000)
           for a in (0.0321, 0.0123, 0.2)}
    assert driver._build.cache_info().misses == built
    res[0.05] = first
    # each scale is still the run's own: the limit of its gradient flow
    for a, r in res.items():
        assert r.info["init_scale"] == a and r.success
        lim = hadamard_limit(A, y, depth=2, init_scale=a, nonneg=True)
        np.testing.assert_allclose(r.x, lim.x, atol=1e-5 * np.max(np.abs(lim.x)))
    assert np.max(np.abs(res[0.2].x - res[0.0123].x)) > 1e-3


@pytest.mark.parametrize("method", METHODS + ["limit"])
def test_zero_measurements_give_zero_with_a_finite_certificate(method):
    """y = 0: x = 0 is the solution. The certificate's scale ||A^T y|| is 0, and a
    rounding-level x (3.8e-17 from the limit) scored kkt_rel ~1e284: method='limit' then
    said numerical_error, 'reparam' converged with kkt_rel 4e293."""
    A = np.random.default_rng(0).standard_normal((10, 5))
    res = nnls(A, np.zeros(10), method=method)
    assert res.status is Status.CONVERGED
    np.testing.assert_array_equal(res.x, 0.0)
    assert res.info["kkt_rel"] == 0.0


def test_certificate_without_a_scale_is_zero_or_infinite():
    A = np.random.default_rng(0).standard_normal((10, 5))
    assert nnls_certificate(A, np.zeros(10), np.zeros(5))["kkt_rel"] == 0.0
    assert nnls_certificate(A, np.zeros(10), np.full(5, 1e-12))["kkt_rel"] == np.inf


def test_limit_on_an_over_determined_problem_is_converged_not_infeasible():
    """m > n has no interpolant, so the flow's limit does not exist and 'limit' returns the
    NNLS minimizer (oracle: scipy.optimize.nnls); its status was 'infeasible'
    (success False), which the docstring keeps for m < n."""
    rng = np.random.default_rng(3)
    A, y = rng.standard_normal((30, 10)), rng.standard_normal(30)
    res = nnls(A, y, method="limit")
    assert res.status is Status.CONVERGED and res.success
    np.testing.assert_allclose(res.x, scipy.optimize.nnls(A, y)[0], atol=1e-10)


# -- the certificate is scale-free; statuses tell the truth ------------------------------
def test_kkt_certificate_is_invariant_under_scaling_of_A_and_y():
    # ||min(x, g)|| compared x (units y / A) with g (units A y): with A scaled by 1e3-1e4,
    # APG and PG stopped "converged" 7.7e-3 (relative) from SciPy's solution, and the
    # certificate of that point was 7.5e-11 (3.6e-3 for the same point in A / 1e4 units)
    rng = np.random.default_rng(1)
    A, y = rng.standard_normal((100, 30)), rng.standard_normal(100)
    xs, _ = scipy.optimize.nnls(A, y)
    for c in (1e3, 1e4):
        for res in (nnls(c * A, y, method="apg"), projected_gradient(c * A, y)):
            assert res.success, res.message
            assert np.linalg.norm(res.x * c - xs) <= 1e-6 * np.linalg.norm(xs)
    # one value for (A, y, x), (cA, y, x / c), (A, cy, cx) and column scalings (A D, y,
    # D^-1 x): a wrong point fails at every scale, the solution passes at every scale
    bad = xs * 1.01
    ref = nnls_certificate(A, y, bad)["kkt_rel"]
    assert ref > 1e-3 and nnls_certificate(A, y, xs)["kkt_rel"] <= 1e-12
    D = np.logspace(-3, 3, 30)
    for c in (1e-4, 1e4):
        for Ac, yc, xc in ((c * A, y, bad / c), (A, c * y, c * bad), (A * D, y, bad / D)):
            assert nnls_certificate(Ac, yc, xc)["kkt_rel"] == pytest.approx(ref, rel=1e-9)
    # the absolute kkt is in the units of y
    k = nnls_certificate(A, y, bad)["kkt"]
    assert nnls_certificate(A, 1e4 * y, 1e4 * bad)["kkt"] == pytest.approx(1e4 * k, rel=1e-9)


@pytest.mark.parametrize("method", ["cd", "gram"])
@pytest.mark.parametrize("sa, sy", [(1.0, 1e-160), (1e-160, 1.0), (1.0, 1e200)])
def test_cd_and_gram_are_scale_free(method, sa, sy):
    # the squared column norms and KKT norms of the loop underflowed: "converged" with x
    # 1.2e-2 off and kkt_rel 2e138 at y * 1e-160, every column "zero" at A * 1e-160 (x = 0,
    # converged); max_iter with the right x at y * 1e200
    A, y = overdetermined(0)
    xs, _ = scipy_fun(A, y)
    res = nnls(A * sa, y * sy, method=method, tol=1e-10)
    assert res.status is Status.CONVERGED, res.message
    assert res.info["kkt_rel"] <= 1e-10 and len(res.info["zero_columns"]) == 0
    np.testing.assert_allclose(res.x * (sa / sy), xs, rtol=0, atol=1e-8 * np.max(xs))


def test_cd_far_warm_start_is_certified_on_A():
    # from x0 = 1e12 the loop's carried residual drifted: "converged" with a reported
    # kkt_rel of 1.5e-12 where the certificate of the returned x was 1.2e-4
    A, y = overdetermined(3)
    xs, fs = scipy_fun(A, y)
    res = nnls(A, y, method="cd", x0=np.full(30, 1e12), tol=1e-10)
    assert res.status is Status.CONVERGED, res.message
    cert = nnls_certificate(A, y, res.x)
    assert res.info["kkt_rel"] == pytest.approx(cert["kkt_rel"], rel=1e-6, abs=1e-15)
    assert cert["kkt_rel"] <= 1e-10 and res.fun == pytest.approx(fs, rel=1e-12)
    np.testing.assert_allclose(res.x, xs, atol=1e-8)


def test_limit_fallback_reports_its_own_status():
    # no flow limit exists (infeasible / over-determined): "limit" falls back to the NNLS
    # minimizer; when that solve missed tol (tol = 0, max_iter = 3) the Newton iterate
    # came back as "infeasible" (objective 27.9 against SciPy's 5.7), n_iter the sum
    rng = np.random.default_rng(5)
    rng.standard_normal((20, 60))  # B, yb and C as in the test above
    B = rng.standard_normal((20, 60))
    B[0] = np.abs(B[0])
    yb = rng.standard_normal(20)
    yb[0] = -1.0
    C = rng.standard_normal((60, 30))
    for M, y in ((B, yb), (C, rng.standard_normal(60))):
        _, fs = scipy_fun(M, y)
        res = nnls(M, y, method="limit", tol=0.0, max_iter=3)
        assert res.status is Status.MAX_ITER, res.message
        assert res.n_iter <= 3 and res.info["limit_n_iter"] <= 3
        # the fallback's iterate, not the Newton one: within 3 epochs of the minimum
        assert fs <= res.fun <= fs * (1 + 0.5)
        assert res.info["kkt_rel"] > 0.0


def test_reparam_is_converged_only_when_certified_over_determined():
    # m >= n, y = A x* exactly: the driver's interpolation test (interp_tol 1e-6) ended
    # the run as "converged" with kkt_rel 5e-8 at tol 1e-12 (x 1.5e-6 off)
    rng = np.random.default_rng(7)
    A = rng.standard_normal((80, 30)) / np.sqrt(80)
    xt = np.maximum(rng.standard_normal(30), 0)
    y = A @ xt
    res = nnls(A, y, method="reparam", init_scale=0.1, tol=1e-8)
    assert res.status is Status.CONVERGED and res.info["kkt_rel"] <= 1e-8, res.message
    assert np.linalg.norm(res.x - xt) <= 1e-6 * np.linalg.norm(xt)
    res = nnls(A, y, method="reparam", init_scale=0.1, tol=1e-12, max_iter=20_000)
    assert res.info["kkt_rel"] > 1e-12 and res.status is not Status.CONVERGED, res.message


@pytest.mark.parametrize("method", METHODS + ["limit"])
def test_all_zero_matrix_gives_zero(method):
    # every column zero: the methods that drop zero columns built a Problem without columns
    # and raised "A is empty (shape (80, 0))"; x = 0 is the solution (SciPy's too)
    A, y = np.zeros((80, 30)), overdetermined(0)[1]
    res = nnls(A, y, method=method)
    assert res.status is Status.CONVERGED, res.message
    np.testing.assert_array_equal(res.x, scipy.optimize.nnls(A, y)[0])
    assert np.all(res.x == 0) and len(res.info["zero_columns"]) == 30
    assert res.info["kkt_rel"] == 0.0


def _ill_conditioned(seed, m, n, decades):
    rng = np.random.default_rng(seed)
    k = min(m, n)
    U, _ = np.linalg.qr(rng.standard_normal((m, k)))
    V, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return U @ np.diag(np.logspace(0, -decades, k)) @ V.T, rng.standard_normal(m)


@pytest.mark.parametrize("m, n, decades", [(80, 30, 6), (20, 60, 3)])
def test_auto_solves_small_ill_conditioned_problems(m, n, decades):
    # the block-principal-pivoting polish gave up (singular or cycling free sets) and
    # coordinate descent ran to its 10000-epoch cap: max_iter, objective 1e-3 (relative)
    # above SciPy's, which Lawson-Hanson reaches in 1 ms
    A, y = _ill_conditioned(0, m, n, decades)
    xs, fs = scipy_fun(A, y)
    res = nnls(A, y, tol=1e-10)
    assert res.status is Status.CONVERGED, res.message
    assert "active-set polish" in res.message and res.n_iter <= 200
    assert res.info["kkt_rel"] <= 1e-10
    assert res.fun <= fs * (1 + 1e-9) + 1e-14 * float(y @ y)
    if m > n:  # full column rank: the unique solution
        np.testing.assert_allclose(A @ res.x, A @ xs, atol=1e-7)


def test_x0_and_certificate_inputs_are_checked():
    A, y = overdetermined(9)
    xs, _ = scipy_fun(A, y)
    # a 2-D x0 was flattened (a 5 x 6 array taken as the 30 entries)
    with pytest.raises(ValueError, match=r"x0 has shape \(5, 6\)"):
        nnls(A, y, x0=np.ones((5, 6)))
    with pytest.raises(TypeError, match="x0"):
        nnls(A, y, x0=xs + 1j)
    np.testing.assert_array_equal(nnls(A, y, method="cd", x0=xs[None, :]).x,
                                  nnls(A, y, method="cd", x0=xs).x)
    # the certificate dropped an imaginary part (a ComplexWarning) and a wrong size gave
    # NumPy's matmul error
    with pytest.raises(TypeError, match="x"):
        nnls_certificate(A, y, xs + 5j)
    with pytest.raises(ValueError, match=r"x has shape \(31,\)"):
        nnls_certificate(A, y, np.ones(31))
    with pytest.raises(ValueError, match="non-finite"):
        nnls_certificate(A, y, np.full(30, np.nan))
    # a zero column leaves x_j free but not negative
    Z = A.copy()
    Z[:, 3] = 0.0
    xz = scipy.optimize.nnls(Z, y)[0]
    assert nnls_certificate(Z, y, xz)["kkt_rel"] <= 1e-12
    xz[3] = 5.0
    assert nnls_certificate(Z, y, xz)["kkt_rel"] <= 1e-12
    xz[3] = -1.0  # A x unchanged, but infeasible
    assert nnls_certificate(Z, y, xz)["kkt_rel"] == np.inf


@pytest.mark.parametrize("sa, sy", [(1.0, 1e-200), (1e-300, 1.0), (1e200, 1e-100)])
def test_certificate_of_the_exact_solution_at_extreme_scales(sa, sy):
    # ||A^T y|| squared its entries: kkt_rel inf for SciPy's exact solution at y * 1e-200
    # and A * 1e-300, and Lawson-Hanson / sklearn reported numerical_error
    A, y = overdetermined(2)
    xs, _ = scipy_fun(A, y)
    cert = nnls_certificate(A * sa, y * sy, xs * (sy / sa))
    assert cert["kkt_rel"] <= 1e-12
    assert cert["relative_residual"] == pytest.approx(
        nnls_certificate(A, y, xs)["relative_residual"], rel=1e-10)
    for method in ("lawson-hanson", "sklearn"):
        res = nnls(A * sa, y * sy, method=method)
        assert res.status is Status.CONVERGED, res.message
        np.testing.assert_allclose(res.x * (sa / sy), xs, atol=1e-10)


@pytest.mark.parametrize("method", ["cd", "gram"])
def test_cd_and_gram_with_one_tiny_column(method):
    # a column 1e-160 times the others: its squared norm underflowed in the loop, it was
    # taken for a zero column (reported, x_0 = 0) and the objective stayed above SciPy's
    A, y = overdetermined(0)
    A[:, 0] *= 1e-160
    xs, fs = scipy_fun(A, y)
    assert xs[0] > 1e150  # the column is in the solution
    res = nnls(A, y, method=method, tol=1e-10)
    assert res.status is Status.CONVERGED, res.message
    assert len(res.info["zero_columns"]) == 0 and res.info["kkt_rel"] <= 1e-10
    assert res.fun == pytest.approx(fs, rel=1e-12)
    np.testing.assert_allclose(res.x * np.linalg.norm(A, axis=0),
                               xs * np.linalg.norm(A, axis=0), atol=1e-8)


def _feasible_underdetermined(seed=0, m=10, n=30):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x = np.zeros(n)
    x[rng.choice(n, 3, replace=False)] = rng.random(3) + 0.5
    return A, A @ x


@pytest.mark.parametrize("sa, sy", [(2.0**560, 2.0**560), (2.0**-560, 2.0**-560),
                                    (1.0, 2.0**-1000)])
def test_reparam_out_of_range_data_runs_on_the_exact_rescaling(sa, sy):
    # ||A||_2 ~ 1e170: the driver squared it in Python (OverflowError); A ~ 1e-170: its
    # gradients underflowed (stagnated at kkt_rel ~ 8); max|y| ~ 1e-300: a ValueError
    # ("rescale y"), where every other method solves the problem. The flow is
    # equivariant under A -> A / a, y -> y / s (x -> x a / s, init_scale -> init_scale
    # (a / s)**(1/L)), so with powers of two the run is the unscaled one
    A, y = _feasible_underdetermined()
    base = nnls(A, y, method="reparam", init_scale=1e-2, tol=1e-8)
    assert base.status is Status.CONVERGED, base.message
    init = 1e-2 * np.sqrt(sy / sa)  # the same relative initialization (depth 2)
    res = nnls(A * sa, y * sy, method="reparam", init_scale=init, tol=1e-8)
    assert res.status is Status.CONVERGED, res.message
    assert res.info["init_scale"] == init  # the caller's, not the rescaled one
    np.testing.assert_allclose(res.x * (sa / sy), base.x, rtol=1e-9, atol=1e-12)


def test_reparam_huge_matrix_is_solved_not_an_overflow_error():
    A, y = overdetermined(2, m=30, n=12)
    xs, fs = scipy_fun(A, y)
    res = nnls(A * 1e200, y, method="reparam", init_scale=1e-100)
    assert res.status is Status.CONVERGED, res.message
    np.testing.assert_allclose(res.x * 1e200, xs, atol=1e-8)


def test_method_must_be_a_string():
    A, y = overdetermined(0, m=12, n=4)
    with pytest.raises(TypeError, match="method must be a string"):
        nnls(A, y, method=["cd"])  # was "unhashable type: 'list'"


def test_projected_gradient_x0_errors_name_x0():
    A, y = overdetermined(0, m=12, n=4)
    with pytest.raises(TypeError, match="x0"):  # was NumPy's "could not convert string"
        projected_gradient(A, y, x0="abcd")
    with pytest.raises(TypeError, match="x0"):
        projected_gradient(A, y, x0=[None] * 4)


@pytest.mark.parametrize("method", ["cd", "gram"])
def test_tol_zero_runs_to_the_cap_without_warnings(method):
    import warnings

    A, y = overdetermined(3, m=30, n=12)
    xs, _ = scipy_fun(A, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0 / res) warned "divide by zero"
        res = nnls(A, y, method=method, tol=0.0, max_iter=120)
    assert res.status is Status.MAX_ITER and res.n_iter == 120
    np.testing.assert_allclose(res.x, xs, atol=1e-12)


@pytest.mark.parametrize("method", ["cd", "gram", "apg", "lawson-hanson"])
def test_zero_columns_are_reported_when_y_is_zero(method):
    A, _ = overdetermined(0, m=12, n=5)
    A[:, [1, 3]] = 0.0
    res = nnls(A, np.zeros(12), method=method)
    assert res.status is Status.CONVERGED
    np.testing.assert_array_equal(res.info["zero_columns"], [1, 3])  # cd / gram: []
    np.testing.assert_array_equal(res.x, np.zeros(5))
