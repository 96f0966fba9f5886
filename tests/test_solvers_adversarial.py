"""Adversarial review of ``overparam.solvers`` (``nnls`` and ``irls_lrrs``): independent
oracles (SciPy's Lawson-Hanson, a CVXPY QP) on hard matrices, and the defects found
(each test failed before its fix)."""
import numpy as np
import pytest
import scipy.optimize

from overparam import Status
from overparam.problems import lrrs_problem
from overparam.solvers import irls_lrrs, nnls, nnls_certificate
from overparam.solvers.lrrs import lrrs_weighted_ls


def _ill(rng, m, n, log_cond):
    U, _ = np.linalg.qr(rng.standard_normal((m, min(m, n))))
    V, _ = np.linalg.qr(rng.standard_normal((n, min(m, n))))
    return U @ np.diag(np.logspace(0, -log_cond, min(m, n))) @ V.T


def _ill_conditioned_60x20():
    """cond(A) = 1e12: SciPy's own solution has a relative KKT residual of 2.2e-10, above
    the default tol 1e-10 (the polished point misses tol by rounding)."""
    rng = np.random.default_rng(1)
    _ill(rng, 300, 100, 12)  # (the draw that found it came second)
    A = _ill(rng, 60, 20, 12)
    return A, rng.standard_normal(60)


@pytest.mark.parametrize("method", ["cd", "gram"])
def test_polished_point_missing_tol_is_kept_not_discarded(method):
    # before: the Lawson-Hanson polish reached a point at KKT 2.2e-10, discarded it because
    # it missed tol 1e-10, and coordinate descent ran to the cap: MAX_ITER at KKT 1.5e-4,
    # objective 1e-2 above SciPy's (here within max_iter=300)
    A, y = _ill_conditioned_60x20()
    xs, _ = scipy.optimize.nnls(A, y, maxiter=1000)
    fs = 0.5 * float(np.sum((A @ xs - y) ** 2))
    res = nnls(A, y, method=method, max_iter=300)
    assert res.status is Status.CONVERGED, res.message
    cert = nnls_certificate(A, y, res.x)
    assert cert["kkt_rel"] <= 1e-10 and cert["min_x"] >= 0
    assert res.fun <= fs * (1 + 1e-10)
    # negative control: the certificate rejects a perturbed answer
    bad = res.x.copy()
    bad[np.argmax(bad)] *= 1.01
    assert nnls_certificate(A, y, bad)["kkt_rel"] > 1e-6


def test_matches_cvxpy_on_scaled_duplicated_and_zero_columns():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(3)
    B = rng.standard_normal((25, 8))
    A = np.hstack([B, B[:, :2], np.zeros((25, 1)), 3.0 * B[:, [4]]]) * np.logspace(-3, 3, 12)
    y = rng.standard_normal(25)
    x = cp.Variable(12, nonneg=True)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ x - y))).solve(solver="CLARABEL")
    f_cvx = 0.5 * float(np.sum((A @ x.value - y) ** 2))
    for method in ("auto", "cd", "lawson-hanson"):
        res = nnls(A, y, method=method)
        assert res.status is Status.CONVERGED, res.message
        assert res.fun <= f_cvx * (1 + 1e-7)
        g = res.info["gradient"]
        d = np.linalg.norm(A, axis=0)
        live = d > 0
        assert np.all(res.x >= 0) and res.x[~live].max() == 0
        # KKT: gradient >= 0 on the zeros, ~0 on the support (relative to ||A^T y / d||)
        scale = np.linalg.norm((A.T @ y)[live] / d[live])
        assert np.all(g[live] / d[live] >= -1e-8 * scale)
        on = res.x > 0
        assert np.all(np.abs(g[on] / d[on]) <= 1e-8 * scale)


def test_reparam_init_scale_overflow_is_a_clear_error():
    # before: a bare OverflowError (34, 'Numerical result out of range') from
    # init_scale**depth
    rng = np.random.default_rng(0)
    A = np.abs(rng.standard_normal((6, 12)))
    y = A[:, :2].sum(axis=1)
    with pytest.raises(ValueError, match="init_scale"):
        nnls(A, y, method="reparam", init_scale=1e200)


def _small_lrrs():
    p = lrrs_problem(12, 6, 1, 3, oversampling=3.0, seed=0)
    return p, p.A.to_dense(), np.asarray(p.y)


def test_irls_lrrs_recovers_the_generator_truth():
    p, _, _ = _small_lrrs()
    res = irls_lrrs(p)
    Xt = p.x_true.reshape(12, 6)
    assert res.status is Status.CONVERGED
    assert np.linalg.norm(res.x - Xt) <= 1e-8 * np.linalg.norm(Xt)


def test_irls_lrrs_refuses_a_masked_operator():
    # before: np.asarray dropped the mask and the data under it were used as measurements
    # (silently: CONVERGED)
    p, Phi, y = _small_lrrs()
    Xt = p.x_true.reshape(12, 6)
    row = int(np.flatnonzero(np.linalg.norm(Xt, axis=1) > 0)[0])
    Pm = np.ma.masked_array(Phi.copy(), mask=np.zeros(Phi.shape, dtype=bool))
    cols = slice(row * 6, row * 6 + 6)  # entries that act on a nonzero row of X
    Pm.mask[0, cols] = True
    Pm.data[0, cols] = 1e3
    with pytest.raises(ValueError, match="masked"):
        irls_lrrs(Pm, 1, 3, y=y, shape=(12, 6))
    with pytest.raises(ValueError, match="masked"):
        lrrs_weighted_ls(Pm, y, Xt + 0.1, 0.1, 0.1, shape=(12, 6))
    # a masked array without masked entries is ordinary data
    ok = irls_lrrs(np.ma.masked_array(Phi), 1, 3, y=y, shape=(12, 6))
    assert ok.status is Status.CONVERGED


def test_irls_lrrs_checks_the_callback_first():
    # before: TypeError "'int' object is not callable" after the start was computed
    p, _, _ = _small_lrrs()
    with pytest.raises(TypeError, match="callback must be callable"):
        irls_lrrs(p, callback=5)
