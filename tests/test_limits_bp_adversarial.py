"""Adversarial checks of hadamard_limit, basis_pursuit and lasso against independent
oracles (SciPy HiGHS linprog, the gradient flow integrated by an ODE solver, closed forms)
and regression tests for the defects they found."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize

from overparam import Status
from overparam.baselines import basis_pursuit, lasso
from overparam.limits import hadamard_limit


def _flow_limit(A, y, depth, a, nonneg, T=2e4):
    """The Hadamard gradient flow u' = -L u^(L-1) g, v' = +L v^(L-1) g from u = v = a,
    integrated by LSODA to time T (the oracle for moderate init scales)."""
    n = A.shape[1]

    def f(_, s):
        u, v = s[:n], s[n:]
        x = u**depth - (0.0 if nonneg else v**depth)
        g = A.T @ (A @ x - y)
        dv = np.zeros(n) if nonneg else depth * v ** (depth - 1) * g
        return np.concatenate([-depth * u ** (depth - 1) * g, dv])

    sol = scipy.integrate.solve_ivp(f, (0.0, T), np.full(2 * n, a), method="LSODA",
                                    rtol=1e-11, atol=1e-14)
    u, v = sol.y[:n, -1], sol.y[n:, -1]
    return u**depth - (0.0 if nonneg else v**depth)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("nonneg", [False, True])
def test_limit_matches_the_integrated_flow(depth, nonneg):
    rng = np.random.default_rng(1)
    A = rng.standard_normal((2, 4))
    y = A @ np.abs(rng.standard_normal(4))
    res = hadamard_limit(A, y, depth=depth, init_scale=0.6, nonneg=nonneg, tol=1e-12)
    assert res.status is Status.CONVERGED
    np.testing.assert_allclose(res.x, _flow_limit(A, y, depth, 0.6, nonneg), atol=1e-9)


@pytest.mark.parametrize("nonneg", [False, True])
def test_tiny_init_scale_is_the_lp_basis_pursuit(nonneg):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((7, 10))
    y = A @ (np.abs(rng.standard_normal(10)) * (rng.random(10) < 0.5)) if nonneg else \
        rng.standard_normal(7)
    n = A.shape[1]
    if nonneg:
        lp = scipy.optimize.linprog(np.ones(n), A_eq=A, b_eq=y, bounds=(0, None),
                                    method="highs")
        xlp = lp.x
    else:
        lp = scipy.optimize.linprog(np.ones(2 * n), A_eq=np.hstack([A, -A]), b_eq=y,
                                    bounds=(0, None), method="highs")
        xlp = lp.x[:n] - lp.x[n:]
    res = hadamard_limit(A, y, init_scale=1e-30, nonneg=nonneg)
    assert res.status is Status.CONVERGED
    assert np.abs(res.x).sum() == pytest.approx(lp.fun, rel=1e-8)
    np.testing.assert_allclose(res.x, xlp, atol=1e-7)
    for method in ("highs", "highs-ipm"):
        bp = basis_pursuit(A, y, nonneg=nonneg, method=method)
        assert bp.fun == pytest.approx(lp.fun, rel=1e-8)


# -- lasso ---------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha, yc", [(1e300, 1e-10), (1e308, 1.0), (1e200, 1e-120)])
@pytest.mark.parametrize("nonneg", [False, True])
def test_lasso_huge_penalty_is_the_closed_form_zero(alpha, yc, nonneg):
    # before: alpha / max|y| overflowed to inf and scikit-learn raised a raw
    # InvalidParameterError ("must be a float in the range [0.0, inf)"); at alpha = 1e308
    # its own alpha * m overflowed: 10000 epochs, status max_iter and dual_gap NaN for x = 0
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 10))
    y = yc * rng.standard_normal(6)
    res = lasso(A, y, alpha=alpha, nonneg=nonneg)
    assert res.status is Status.CONVERGED
    assert np.all(res.x == 0.0)
    assert res.info["dual_gap"] == 0.0
    assert res.fun == pytest.approx(float((y / yc) @ (y / yc)) / 12 * yc * yc, rel=1e-12)
    amax = (np.maximum(A.T @ y, 0).max() if nonneg else np.abs(A.T @ y).max()) / 6
    assert res.info["alpha_max"] == pytest.approx(amax, rel=1e-12)


@pytest.mark.parametrize("nonneg", [False, True])
def test_lasso_orthogonal_design_is_soft_thresholding(nonneg):
    # A^T A = m I: x = soft(A^T y / m, alpha) (positive part with nonneg)
    rng = np.random.default_rng(0)
    m = 8
    Q, _ = np.linalg.qr(rng.standard_normal((m, 5)))
    A = np.sqrt(m) * Q
    y = rng.standard_normal(m)
    g = A.T @ y / m
    for alpha in (1e-8, 0.05, 0.2, 10.0):
        xc = np.maximum(g - alpha, 0) if nonneg else np.sign(g) * np.maximum(np.abs(g) - alpha, 0)
        res = lasso(A, y, alpha=alpha, nonneg=nonneg)
        assert res.status is Status.CONVERGED
        np.testing.assert_allclose(res.x, xc, atol=1e-12)


# -- basis pursuit -------------------------------------------------------------------------
@pytest.mark.parametrize("options", ["presolve", 5, [1, 2]])
@pytest.mark.parametrize("method", ["highs", "spgl1"])
def test_bp_options_that_are_not_a_dict_are_named(options, method):
    # before: dict(options) raised "dictionary update sequence element #0 has length 1"
    # (a str), "'int' object is not iterable" (an int), "cannot convert dictionary update
    # sequence element #0 to a sequence" (a list)
    A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    with pytest.raises(TypeError, match="options must be a dict"):
        basis_pursuit(A, np.array([1.0, 1.0]), method=method, options=options)


# -- large init scales, non-negative model -------------------------------------------------
def _nonneg_problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 8))
    return A, A @ np.array([1.0, 0, 0, 2, 0, 0, 0, 0])


@pytest.mark.parametrize("a", [1e80, 1e98])
def test_nonneg_huge_init_scale_converges_without_overflow(a):
    # the start x = a^2 ~ 1e160 made ||A x - y|| square to inf (np.linalg.norm): before,
    # numerical_error ("non-finite residual") with two "overflow encountered in dot"
    # RuntimeWarnings; the limit exists (the dual is attained) and is reached now
    A, y = _nonneg_problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = hadamard_limit(A, y, init_scale=a, nonneg=True)
    assert res.status is Status.CONVERGED, res.message
    assert np.linalg.norm(A @ res.x - y) <= 1e-10 * np.linalg.norm(y)
    # optimality, independently: log(x / a^2) = A^T w on the coordinates that did not
    # underflow (x_S = exp(z_S) with z_S in the range of A_S^T)
    S = res.x > 0
    zS = np.log(res.x[S]) - 2 * np.log(a)
    AS = A[:, S]
    wS = np.linalg.lstsq(AS.T, zS, rcond=None)[0]
    assert np.linalg.norm(AS.T @ wS - zS) <= 1e-12 * np.linalg.norm(zS)
    assert S.sum() > A.shape[0] + 1  # (the check above is not vacuous)


@pytest.mark.parametrize("depth", [2, 3])
def test_nonneg_too_large_init_scale_does_not_advise_least_squares(depth):
    # the refusal told non-negative users that "beyond ~1e3 the limit is the least l2-norm
    # solution (numpy.linalg.lstsq)": false for x = u^L (at a = 1e10 it is x >= 0 with
    # entries of 1e-11..1e-37, lstsq's is signed and dense)
    A, y = _nonneg_problem()
    with pytest.raises(ValueError, match="too large for the non-negative") as err:
        hadamard_limit(A, y, init_scale=1e160, depth=depth, nonneg=True)
    assert "l2" not in str(err.value) and "lstsq" not in str(err.value)
    res = hadamard_limit(A, y, init_scale=1e10, depth=depth, nonneg=True)
    assert res.status is Status.CONVERGED
    x_ls = np.linalg.lstsq(A, y, rcond=None)[0]
    assert np.linalg.norm(res.x - x_ls) > 0.1 * np.linalg.norm(x_ls)
    with pytest.raises(ValueError, match="least l2-norm"):  # the signed model: true there
        hadamard_limit(A, y, init_scale=1e160, depth=depth)


# -- max_iter caps all Newton steps ---------------------------------------------------------
def _badly_scaled_columns():
    # (tests/test_limits.py: exact Newton stagnates after 10 steps, "auto" then retries
    # with 'newton-cg', which converges in 10 more)
    rng = np.random.default_rng(46)
    A = rng.standard_normal((19, 9)) * np.exp(2 * rng.standard_normal(9))
    xt = np.zeros(9)
    xt[1] = 1.0
    return A, A @ xt


@pytest.mark.parametrize("max_iter", [10, 15])
def test_auto_retry_stays_within_max_iter(max_iter):
    # before: the retry ran with the full max_iter again: max_iter = 10 or 15 returned
    # converged with n_iter = 20 (the docstring: "cap on Newton steps (continuation and
    # final steps together)")
    A, y = _badly_scaled_columns()
    res = hadamard_limit(A, y, depth=3, init_scale=1e-3, max_iter=max_iter)
    assert res.n_iter <= max_iter
    assert res.status is not Status.CONVERGED
    if max_iter > 10:  # the retry ran and used up the steps left: say so
        assert res.n_iter == max_iter and "raise max_iter" in res.message
    ok = hadamard_limit(A, y, depth=3, init_scale=1e-3, max_iter=20)
    assert ok.status is Status.CONVERGED and ok.n_iter <= 20
