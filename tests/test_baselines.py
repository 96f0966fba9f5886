"""Baselines against independent oracles (other formulations, other solvers, optimality
conditions); every oracle check has a negative control that a perturbed answer fails."""
from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest
import scipy.sparse
import scipy.sparse.linalg as spla

import oracles
from overparam import Status
from overparam.baselines import _common, basis_pursuit, lasso, nnls
from overparam.metrics import relative_error, success
from overparam.problems import Problem, sparse_recovery

cp = pytest.importorskip("cvxpy")

BP_METHODS = ["highs", "highs-ds", "highs-ipm", "spgl1"]


def tol_for(method: str) -> float:
    # SPGL1 is first order: accurate to ~ its tolerance, not vertex-exact
    return 1e-5 if method == "spgl1" else 1e-7


# ---------------------------------------------------------------------------------- checks
def assert_close_to(x, ref, rtol):
    err = relative_error(x, ref)
    assert err <= rtol, f"relative error {err:.3e} > {rtol:.1e}"


def assert_bp_certificate(A, y, x, w, nonneg, tol=1e-7):
    """x is BP-optimal: feasible, and w is dual feasible with <y, w> = ||x||_1."""
    assert np.linalg.norm(A @ x - y) <= tol * np.linalg.norm(y), "x is not feasible"
    if nonneg:
        assert x.min() >= -tol, "x is not non-negative"
        assert (A.T @ w).max() <= 1 + tol, "w is not dual feasible (A^T w <= 1)"
    else:
        assert np.abs(A.T @ w).max() <= 1 + tol, "w is not dual feasible (|A^T w| <= 1)"
    gap = np.abs(x).sum() - y @ w
    assert abs(gap) <= tol * max(1.0, np.abs(x).sum()), f"duality gap {gap:.3e}"


def null_direction(A, seed=0):
    """A unit vector d with A d = 0 (for feasible-but-suboptimal perturbations)."""
    _, _, vt = np.linalg.svd(A)
    rng = np.random.default_rng(seed)
    d = vt[A.shape[0]:].T @ rng.standard_normal(A.shape[1] - A.shape[0])
    return d / np.linalg.norm(d)


def cvxpy_bp(A, y, nonneg):
    x = cp.Variable(A.shape[1], nonneg=nonneg)
    prob = cp.Problem(cp.Minimize(cp.norm1(x)), [A @ x == y])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    assert prob.status == "optimal"
    return np.asarray(x.value)


def brute_force_nonneg_bp(A, y):
    """min sum(x), x >= 0, Ax = y over basic solutions (tiny problems only)."""
    m, n = A.shape
    best, best_x = np.inf, None
    for S in itertools.combinations(range(n), m):
        sub = A[:, S]
        if abs(np.linalg.det(sub)) < 1e-12:
            continue
        xs = np.linalg.solve(sub, y)
        if xs.min() < -1e-12:
            continue
        if xs.sum() < best - 1e-12:
            best_x = np.zeros(n)
            best_x[list(S)] = xs
            best = xs.sum()
    return best_x


@pytest.fixture(params=[0, 1, 2], ids=lambda s: f"seed{s}")
def planted(request):
    return sparse_recovery(60, 30, 4, seed=request.param)


@pytest.fixture(params=[3, 4], ids=lambda s: f"seed{s}")
def planted_nonneg(request):
    return sparse_recovery(60, 30, 4, nonneg=True, seed=request.param)


# ------------------------------------------------------------------------- basis pursuit
@pytest.mark.parametrize("method", BP_METHODS)
def test_bp_matches_split_lp_oracle(planted, method):
    A, y = planted.A.to_dense(), planted.y
    ref = oracles.basis_pursuit_lp(A, y)
    res = basis_pursuit(A, y, method=method)
    assert res.status is Status.CONVERGED and res.success
    assert_close_to(res.x, ref, tol_for(method))
    assert res.fun == pytest.approx(np.abs(ref).sum(), rel=tol_for(method))
    assert res.n_iter > 0 and res.wall_time > 0
    # negative control: a perturbed answer fails the same check
    bad = res.x.copy()
    bad[np.argmax(np.abs(bad))] *= 1.01
    with pytest.raises(AssertionError):
        assert_close_to(bad, ref, tol_for(method))


@pytest.mark.parametrize("method", BP_METHODS)
def test_bp_nonneg_matches_cvxpy(planted_nonneg, method):
    A, y = planted_nonneg.A.to_dense(), planted_nonneg.y
    ref = cvxpy_bp(A, y, nonneg=True)
    res = basis_pursuit(A, y, nonneg=True, method=method)
    assert res.success
    assert res.x.min() >= 0
    assert_close_to(res.x, ref, max(tol_for(method), 1e-6))
    with pytest.raises(AssertionError):
        assert_close_to(res.x + 1e-3 * np.abs(ref).max(), ref, 1e-6)


@pytest.mark.parametrize("nonneg", [False, True], ids=["signed", "nonneg"])
def test_bp_dual_certificate(nonneg):
    p = sparse_recovery(40, 15, 10, nonneg=nonneg, seed=7)  # below the transition: BP != truth
    A, y = p.A.to_dense(), p.y
    res = basis_pursuit(p, nonneg=nonneg)
    assert res.success
    assert_bp_certificate(A, y, res.x, res.info["dual"], nonneg)
    # negative control: a feasible but suboptimal point (the planted signal, which BP
    # does not recover at this sparsity) fails the same check, on the duality gap
    assert np.abs(p.x_true).sum() > res.fun * (1 + 1e-3)
    with pytest.raises(AssertionError, match="duality gap"):
        assert_bp_certificate(A, y, p.x_true, res.info["dual"], nonneg)


def assert_near_min_l1(A, y, x, best, rtol):
    """x is feasible and its l1 norm is within rtol of the minimum ``best``."""
    assert np.linalg.norm(A @ x - y) <= 1e-6 * np.linalg.norm(y), "x is not feasible"
    gap = (np.abs(x).sum() - best) / best
    assert -1e-6 <= gap <= rtol, f"relative l1 gap {gap:.3e} not in [0, {rtol:.0e}]"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bp_tiny_brute_force(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 8))
    y = rng.standard_normal(3)
    ref = oracles.min_l1_brute_force(A, y)
    res = basis_pursuit(A, y)
    assert res.success
    assert_near_min_l1(A, y, res.x, np.abs(ref).sum(), 1e-9)
    assert_close_to(res.x, ref, 1e-8)
    # SPGL1 on these small, poorly conditioned problems: feasible, near-minimal l1 only
    # (its Newton updates of the l1 radius overshoot a little; see basis_pursuit's doc)
    sp = basis_pursuit(A, y, method="spgl1")
    assert sp.success
    assert_near_min_l1(A, y, sp.x, np.abs(ref).sum(), 1e-2)
    # negative controls: a feasible non-minimal point fails both checks
    worse = ref + 0.05 * np.abs(ref).sum() * null_direction(A)
    with pytest.raises(AssertionError):
        assert_near_min_l1(A, y, worse, np.abs(ref).sum(), 1e-2)
    with pytest.raises(AssertionError):
        assert_close_to(ref + 1e-3 * null_direction(A), ref, 1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_bp_tiny_nonneg_brute_force(seed):
    rng = np.random.default_rng(10 + seed)
    A = rng.standard_normal((3, 8))
    y = A @ np.abs(rng.standard_normal(8))  # feasible for x >= 0
    ref = brute_force_nonneg_bp(A, y)
    res = basis_pursuit(A, y, nonneg=True)
    assert res.success
    assert_near_min_l1(A, y, res.x, ref.sum(), 1e-9)
    assert_close_to(res.x, ref, 1e-8)
    sp = basis_pursuit(A, y, nonneg=True, method="spgl1")
    assert sp.success and sp.x.min() >= 0
    assert_near_min_l1(A, y, sp.x, ref.sum(), 1e-2)
    with pytest.raises(AssertionError):
        assert_close_to(np.roll(ref, 1), ref, 1e-8)
    with pytest.raises(AssertionError):  # infeasible point with a smaller l1 norm
        assert_near_min_l1(A, y, 0.9 * ref, ref.sum(), 1e-2)


@pytest.mark.parametrize("method", ["highs", "spgl1"])
@pytest.mark.parametrize("nonneg", [False, True], ids=["signed", "nonneg"])
def test_bp_exact_recovery_above_transition(method, nonneg):
    for seed in range(3):
        p = sparse_recovery(200, 100, 5, nonneg=nonneg, seed=100 + seed)
        res = basis_pursuit(p, nonneg=nonneg, method=method)
        assert res.success
        assert success(res.x, p.x_true, tol=1e-6)
        assert not success(res.x + 0.01 * np.roll(p.x_true, 1), p.x_true, tol=1e-6)


def test_bp_fails_below_transition():
    # the same machinery reports failure where l1 recovery is known to fail (s ~ m/2)
    p = sparse_recovery(200, 40, 20, seed=5)
    res = basis_pursuit(p)
    assert res.success  # the LP is solved ...
    assert not success(res.x, p.x_true)  # ... but its solution is not the planted signal
    assert res.fun < np.abs(p.x_true).sum()


def test_bp_operator_inputs_agree():
    p = sparse_recovery(64, 32, 3, operator="dct", seed=3)
    dense = p.A.to_dense()
    ref = basis_pursuit(dense, p.y).x
    inputs = [p, p.A, spla.aslinearoperator(dense), scipy.sparse.csr_matrix(dense),
              scipy.sparse.csr_array(dense)]
    for A in inputs:
        y = None if isinstance(A, Problem) else p.y
        for method in ["highs", "spgl1"]:
            res = basis_pursuit(A, y, method=method)
            assert res.success, (type(A), method)
            assert_close_to(res.x, ref, tol_for(method))


@pytest.mark.parametrize("method", ["highs", "spgl1"])
def test_bp_infeasible_signed(method):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 5))  # overdetermined: y is not in range(A)
    y = rng.standard_normal(10)
    res = basis_pursuit(A, y, method=method)
    assert res.status is Status.INFEASIBLE and not res.success
    assert "range of A" in res.message
    if method == "highs":
        assert np.all(np.isnan(res.x)) and np.isnan(res.fun)


@pytest.mark.parametrize("method", ["highs", "spgl1"])
def test_bp_infeasible_nonneg(method):
    rng = np.random.default_rng(1)
    A = np.abs(rng.standard_normal((5, 20)))
    y = -A @ np.abs(rng.standard_normal(20))  # A >= 0 and y < 0: no x >= 0 solves Ax = y
    assert basis_pursuit(A, y, method=method).success  # signed: feasible
    res = basis_pursuit(A, y, nonneg=True, method=method)
    assert res.status is Status.INFEASIBLE


def test_bp_max_iter():
    p = sparse_recovery(60, 30, 4, seed=0)
    assert basis_pursuit(p, method="highs-ds", max_iter=2).status is Status.MAX_ITER
    res = basis_pursuit(p, method="spgl1", max_iter=2)
    assert res.status is Status.MAX_ITER and res.n_iter == 2


def test_bp_spgl1_long_runs_reach_their_cap():
    # spgl1's history arrays overflow at iter_lim >= 10000 unless guarded. Zero
    # tolerances make the run reach its cap whatever the NumPy/SciPy versions (with
    # dec_tol=1e-8 alone it did until numpy 2.4.6 / scipy 1.17.1, which converge in 2223)
    p = sparse_recovery(200, 60, 25, seed=2)
    res = basis_pursuit(p, method="spgl1", max_iter=10_000,
                        options={"bp_tol": 0.0, "opt_tol": 0.0, "dec_tol": 0.0})
    assert res.status is Status.MAX_ITER and res.n_iter == 10_000
    assert np.all(np.isfinite(res.x))


def test_bp_options_pass_through():
    p = sparse_recovery(60, 30, 4, seed=0)
    ref = basis_pursuit(p).x
    assert_close_to(basis_pursuit(p, options={"presolve": False}).x, ref, 1e-8)
    assert_close_to(basis_pursuit(p, method="spgl1", options={"dec_tol": 1e-6}).x, ref, 1e-5)


def test_bp_spgl1_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "spgl1", None)  # makes `import spgl1` fail
    p = sparse_recovery(20, 10, 2, seed=0)
    with pytest.raises(ImportError, match=r"pip install overparam\[spgl1\]"):
        basis_pursuit(p, method="spgl1")
    assert basis_pursuit(p).success  # HiGHS does not need it


def test_bp_refuses_to_materialise_huge(monkeypatch):
    monkeypatch.setattr(_common, "MAX_DENSE_ENTRIES", 100)
    p = sparse_recovery(64, 32, 3, operator="dct", seed=3)
    with pytest.raises(ValueError, match=r"explicit matrix.*method='spgl1'"):
        basis_pursuit(p)
    assert basis_pursuit(p, method="spgl1").success  # matrix-free


# ------------------------------------------------------------------------------- lasso
def lasso_kkt_violation(A, y, x, alpha, nonneg):
    """Largest violation of the optimality conditions of (1/2m)||y - Ax||^2 + alpha||x||_1."""
    m = A.shape[0]
    g = A.T @ (y - A @ x) / m  # minus the gradient of the smooth part
    on = x != 0
    if nonneg:
        viol = np.concatenate([np.abs(g[on] - alpha), np.maximum(g[~on] - alpha, 0),
                               np.maximum(-x, 0)])
    else:
        viol = np.concatenate([np.abs(g[on] - alpha * np.sign(x[on])),
                               np.maximum(np.abs(g[~on]) - alpha, 0)])
    return float(viol.max()) / alpha if viol.size else 0.0


@pytest.mark.parametrize("nonneg", [False, True], ids=["signed", "nonneg"])
@pytest.mark.parametrize("seed", [0, 1])
def test_lasso_kkt(nonneg, seed):
    p = sparse_recovery(80, 40, 5, nonneg=nonneg, noise=0.01, seed=seed)
    A, y = p.A.to_dense(), p.y
    res = lasso(p, alpha=0.05 * lasso(p, alpha=1.0, nonneg=nonneg).info["alpha_max"],
                nonneg=nonneg)
    alpha = res.info["alpha"]
    assert res.success and res.n_iter > 0
    assert np.count_nonzero(res.x) > 0
    assert lasso_kkt_violation(A, y, res.x, alpha, nonneg) < 1e-6
    m = A.shape[0]
    obj = np.sum((y - A @ res.x) ** 2) / (2 * m) + alpha * np.abs(res.x).sum()
    assert res.fun == pytest.approx(obj, rel=1e-12)
    # negative control
    bad = res.x.copy()
    bad[np.flatnonzero(bad)[0]] *= 1.01
    assert lasso_kkt_violation(A, y, bad, alpha, nonneg) > 1e-4


def test_lasso_matches_cvxpy():
    p = sparse_recovery(50, 25, 3, noise=0.05, seed=4)
    A, y = p.A.to_dense(), p.y
    alpha = 0.01
    x = cp.Variable(A.shape[1])
    cp.Problem(cp.Minimize(cp.sum_squares(y - A @ x) / (2 * A.shape[0])
                           + alpha * cp.norm1(x))).solve(solver="CLARABEL")
    res = lasso(A, y, alpha=alpha)
    assert_close_to(res.x, x.value, 1e-5)
    with pytest.raises(AssertionError):  # the scaling matters: lam = alpha (no 1/m) differs
        assert_close_to(lasso(A, y, alpha=alpha / A.shape[0]).x, x.value, 1e-5)


def test_lasso_alpha_max_gives_zero():
    p = sparse_recovery(50, 25, 3, seed=4)
    amax = lasso(p, alpha=1.0).info["alpha_max"]
    assert np.all(lasso(p, alpha=amax * 1.0001).x == 0)
    assert np.any(lasso(p, alpha=amax * 0.9).x != 0)


def test_lasso_small_alpha_approaches_bp():
    p = sparse_recovery(100, 50, 4, seed=6)
    bp = basis_pursuit(p).x
    assert relative_error(lasso(p, alpha=1e-6, max_iter=100_000).x, bp) < 1e-3


def test_lasso_max_iter():
    p = sparse_recovery(60, 30, 4, seed=0)
    res = lasso(p, alpha=1e-4, max_iter=1, tol=0.0)
    assert res.status is Status.MAX_ITER and "max_iter" in res.message


# -------------------------------------------------------------------------------- nnls
def nnls_kkt_violation(A, y, x):
    g = A.T @ (A @ x - y)  # gradient; KKT: x >= 0, g >= 0, x * g = 0
    scale = max(1.0, np.abs(A.T @ y).max())
    return max(np.maximum(-x, 0).max(), np.maximum(-g, 0).max(), np.abs(x * g).max()) / scale


@pytest.mark.parametrize("shape", [(40, 20), (20, 40)], ids=["tall", "wide"])
def test_nnls_kkt_and_cvxpy(shape):
    rng = np.random.default_rng(sum(shape))
    A = rng.standard_normal(shape)
    y = rng.standard_normal(shape[0])
    res = nnls(A, y)
    assert res.success
    assert nnls_kkt_violation(A, y, res.x) < 1e-10
    assert np.allclose(res.info["gradient"], A.T @ (A @ res.x - y))
    x = cp.Variable(shape[1], nonneg=True)
    cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ x - y))).solve(solver="CLARABEL")
    assert res.fun == pytest.approx(0.5 * np.sum((A @ x.value - y) ** 2), rel=1e-6, abs=1e-9)
    if shape[0] > shape[1]:  # unique solution
        assert_close_to(res.x, x.value, 1e-5)
    # negative control
    bad = res.x.copy()
    bad[np.argmax(bad)] *= 1.1
    assert nnls_kkt_violation(A, y, bad) > 1e-4


def test_nnls_agrees_with_oracle_and_bp_nonneg():
    p = sparse_recovery(60, 40, 3, nonneg=True, seed=2)
    A = p.A.to_dense()
    res = nnls(p)
    assert_close_to(res.x, oracles.nnls(A, p.y), 1e-10)
    # unique non-negative interpolant: NNLS finds the planted signal
    assert success(res.x, p.x_true, tol=1e-6)


def test_lasso_and_nnls_accept_operators():
    p = sparse_recovery(60, 30, 4, nonneg=True, seed=0)
    D = p.A.to_dense()
    ref_l, ref_n = lasso(D, p.y, alpha=1e-3, nonneg=True).x, nnls(D, p.y).x
    for A in (p, p.A, spla.aslinearoperator(D), scipy.sparse.csr_matrix(D)):
        y = None if isinstance(A, Problem) else p.y
        assert_close_to(lasso(A, y, alpha=1e-3, nonneg=True).x, ref_l, 1e-10)
        assert_close_to(nnls(A, y).x, ref_n, 1e-10)


def test_nnls_max_iter():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 20))
    res = nnls(A, rng.standard_normal(30), max_iter=1)
    assert res.status is Status.MAX_ITER and np.all(np.isnan(res.x))


# ---------------------------------------------------------------------------- bad input
def _bad_inputs():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 8))
    y = rng.standard_normal(5)
    nan_A = A.copy()
    nan_A[1, 2] = np.nan
    inf_y = y.copy()
    inf_y[0] = np.inf
    sparse_nan = scipy.sparse.csr_matrix(nan_A)
    return [
        ("shape", A, y[:4], "shape mismatch"),
        ("nan-A", nan_A, y, "non-finite"),
        ("inf-y", A, inf_y, "non-finite"),
        ("nan-sparse-A", sparse_nan, y, "non-finite"),
        ("m=0", np.zeros((0, 8)), np.zeros(0), "empty"),
        ("y-matrix", A, np.ones((5, 2)), "vector"),
    ]


@pytest.mark.parametrize("solver", ["bp", "bp-spgl1", "lasso", "nnls"])
@pytest.mark.parametrize("case", _bad_inputs(), ids=lambda c: c[0])
def test_bad_input(solver, case):
    _, A, y, match = case
    call = {
        "bp": lambda: basis_pursuit(A, y),
        "bp-spgl1": lambda: basis_pursuit(A, y, method="spgl1"),
        "lasso": lambda: lasso(A, y, alpha=0.1),
        "nnls": lambda: nnls(A, y),
    }[solver]
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_options():
    p = sparse_recovery(20, 10, 2, seed=0)
    with pytest.raises(ValueError, match="method"):
        basis_pursuit(p, method="simplex")
    with pytest.raises(ValueError, match="alpha"):
        lasso(p, alpha=0.0)
    with pytest.raises(TypeError, match="alpha"):
        lasso(p, alpha="big")
    with pytest.raises(TypeError, match="not both"):
        nnls(p, p.y)
    with pytest.raises(TypeError, match="y is required"):
        basis_pursuit(p.A.to_dense())
    with pytest.raises(ValueError, match="tol"):
        basis_pursuit(p, tol=-1.0)
    with pytest.raises(ValueError, match="1e-10"):
        basis_pursuit(p, tol=1e-12)
    assert basis_pursuit(p, method="spgl1", tol=1e-12, max_iter=50).n_iter <= 50
    with pytest.raises(ValueError, match="max_iter"):
        basis_pursuit(p, max_iter=0)


# ------------------------------------------------------------------- regression tests
@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("c", [1e-4, 1e-12, 1e12, 1e-170, 1e170])
@pytest.mark.parametrize("method", BP_METHODS)
def test_bp_scale_equivariant_in_y(method, c, nonneg):
    # absolute tolerances: HiGHS and SPGL1 returned x = 0 as "converged" for y ~ 1e-12,
    # and SPGL1's line search failed for y ~ 1e12
    p = sparse_recovery(60, 30, 4, nonneg=nonneg, seed=0)
    A = p.A.to_dense()
    ref = basis_pursuit(A, p.y, nonneg=nonneg)
    res = basis_pursuit(A, c * p.y, nonneg=nonneg, method=method)
    assert res.status is Status.CONVERGED
    assert_close_to(res.x, c * ref.x, tol_for(method))
    if method != "spgl1":
        assert res.info["relative_residual"] <= 1e-8
    if method != "spgl1" and 1e-100 < c < 1e100:  # the certificate's plain norms overflow
        assert_bp_certificate(A, c * p.y, res.x, res.info["dual"], nonneg)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("c", [1e-12, 1e12])
def test_bp_scale_equivariant_in_A(c, sparse):
    # with max|A| ~ 1e-12 (x ~ 1e12) HiGHS reported the feasible problem as infeasible
    p = sparse_recovery(60, 30, 4, seed=1)
    A = p.A.to_dense()
    ref = basis_pursuit(A, p.y)
    cA = scipy.sparse.csr_array(c * A) if sparse else c * A
    res = basis_pursuit(cA, p.y)
    assert res.status is Status.CONVERGED
    assert_close_to(res.x, ref.x / c, 1e-7)
    assert res.fun == pytest.approx(ref.fun / c, rel=1e-7)
    assert_bp_certificate(c * A, p.y, res.x, res.info["dual"], False)


@pytest.mark.parametrize("solver", ["bp", "bp-spgl1", "lasso", "nnls", "pg"])
def test_complex_y_refused(solver):
    # the solvers cast y to float, silently fitting Re(y) only
    from overparam.baselines.projected_gradient import projected_gradient

    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 8))
    y = rng.standard_normal(5) * (1 + 1j)
    call = {
        "bp": lambda: basis_pursuit(A, y),
        "bp-spgl1": lambda: basis_pursuit(A, y, method="spgl1"),
        "lasso": lambda: lasso(A, y, alpha=0.1),
        "nnls": lambda: nnls(A, y),
        "pg": lambda: projected_gradient(A, y),
    }[solver]
    with pytest.raises(TypeError, match="real"):
        call()


def test_projected_gradient_complex_x0_refused():
    from overparam.baselines.projected_gradient import projected_gradient

    with pytest.raises(TypeError, match="x0"):
        projected_gradient(np.eye(3), np.ones(3), x0=np.ones(3) * (1 + 1j))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow in the reported norms
@pytest.mark.parametrize("c", [1e-160, 1e200])
def test_projected_gradient_scale_equivariant(c):
    # the jitted KKT norm under/overflowed: x = 0 returned after 0 steps ("converged" at
    # 1e-160, max_iter at 1e200)
    from overparam.baselines.projected_gradient import projected_gradient

    rng = np.random.default_rng(1)
    A = rng.standard_normal((30, 10))
    y = rng.standard_normal(30)
    ref = projected_gradient(A, y)
    res = projected_gradient(A, c * y)
    assert ref.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert res.n_iter > 0
    assert_close_to(res.x, c * ref.x, 1e-10)
    # a warm start is scaled with y
    warm = projected_gradient(A, c * y, x0=res.x)
    assert warm.n_iter <= 10 and warm.status is Status.CONVERGED
    assert res.info["relative_residual"] == pytest.approx(ref.info["relative_residual"],
                                                          rel=1e-6)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("c", [1e-170, 1e170])
def test_lasso_scale_equivariant(c, nonneg):
    # scikit-learn's tol * ||y||^2 under/overflowed: x = 0 "converged" after 0 epochs at
    # 1e-170, and max_iter with a wrong x at 1e170
    p = sparse_recovery(40, 20, 3, nonneg=nonneg, seed=2)
    A = p.A.to_dense()
    ref = lasso(A, p.y, alpha=0.01, nonneg=nonneg)
    res = lasso(A, c * p.y, alpha=0.01 * c, nonneg=nonneg)
    assert res.status is Status.CONVERGED and res.n_iter == ref.n_iter
    assert_close_to(res.x, c * ref.x, 1e-10)
    assert res.info["alpha_max"] == pytest.approx(c * ref.info["alpha_max"], rel=1e-12)
    assert res.info["relative_residual"] == pytest.approx(ref.info["relative_residual"],
                                                          rel=1e-8)


def _small_feasible_nonneg(rng, count):
    """``count`` small systems (m in 2..4, n in m..8, A > 0) with a sparse x >= 0 solution."""
    for _ in range(count):
        m = int(rng.integers(2, 5))
        n = int(rng.integers(m, 9))
        A = np.abs(rng.standard_normal((m, n)))
        x0 = np.zeros(n)
        x0[rng.choice(n, m // 2, replace=False)] = np.abs(rng.standard_normal(m // 2))
        yield A, A @ x0


def test_bp_spgl1_nonneg_never_calls_a_feasible_problem_infeasible():
    # SPGL1's least-squares exit with the non-negative gauge only tests max(A^T r)_+ ~ 0:
    # on these feasible problems it stopped at residuals of 1e-2 to 0.3 with exit code 3,
    # which was reported as ``infeasible`` (x >= 0 with Ax = y exists: HiGHS finds it).
    rng = np.random.default_rng(5)
    stopped_short = 0
    for A, y in _small_feasible_nonneg(rng, 30):
        assert basis_pursuit(A, y, nonneg=True).success
        res = basis_pursuit(A, y, nonneg=True, method="spgl1")
        assert res.status is not Status.INFEASIBLE
        if res.info["solver_status"] == 3:  # SPGL1's least-squares exit, rejected
            stopped_short += 1
            assert res.status is Status.STAGNATED
            assert res.info["nnls_kkt_rel"] > 1e-6
            assert res.info["solver_message"] == "found a least-squares solution"
    assert stopped_short > 0  # the case the check is for does occur


def test_bp_spgl1_nonneg_infeasible_is_certified():
    # truly infeasible (A >= 0, y < 0): SPGL1 stops at x = 0, an NNLS point
    rng = np.random.default_rng(1)
    A = np.abs(rng.standard_normal((5, 20)))
    y = -A @ np.abs(rng.standard_normal(20))
    res = basis_pursuit(A, y, nonneg=True, method="spgl1")
    assert res.status is Status.INFEASIBLE
    g = A.T @ (A @ res.x - y)
    assert np.linalg.norm(np.minimum(res.x, g)) <= 1e-6 * np.linalg.norm(A.T @ y)
    assert res.info["nnls_kkt_rel"] <= 1e-6


@pytest.mark.parametrize("method", ["highs", "highs-ds", "highs-ipm", "spgl1"])
def test_bp_info_has_documented_keys(method):
    # the docstring promises "the solver's own status and message" for every method
    A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    res = basis_pursuit(A, np.array([1.0, 1.0]), method=method)
    for key in ("method", "relative_residual", "solver_status", "solver_message"):
        assert key in res.info, key
    assert isinstance(res.info["solver_message"], str) and res.info["solver_message"]


# ------------------------------------------------------- scale equivariance in A (round 11)
@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("gram", ["auto", False])
@pytest.mark.parametrize("c", [1e-200, 1e-100, 1e100, 1e200])
def test_projected_gradient_scale_equivariant_in_A(c, gram):
    # ||A||^2 and A^T A under/overflowed: x = 0 "converged" at 1e-200, max_iter at 1e-100
    # (x = 0), nan ("diverged") at 1e100
    from overparam.baselines.projected_gradient import projected_gradient

    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 8))
    y = rng.standard_normal(20)
    xr = oracles.nnls(A, y)
    ref = projected_gradient(A, y, gram=gram)
    res = projected_gradient(c * A, y, gram=gram)
    assert ref.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert res.n_iter > 0
    assert_close_to(ref.x, xr, 1e-6)
    assert_close_to(res.x * c, xr, 1e-6)
    assert res.info["relative_residual"] == pytest.approx(ref.info["relative_residual"],
                                                          rel=1e-6)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("c", [1e-200, 1e200])
def test_projected_gradient_operator_scale_equivariant_in_A(c):
    # the matrix-free step 1 / (1.02 ||A||^2) was inf / 0 at these scales
    from overparam.baselines.projected_gradient import projected_gradient
    from overparam.problems.operators import PartialDCT

    rng = np.random.default_rng(0)
    rows = rng.choice(64, 24, replace=False)
    y = rng.standard_normal(24)
    op = PartialDCT(64, rows)
    ref = projected_gradient(op.to_dense(), y, tol=1e-10)
    scaled = PartialDCT(64, rows)
    scaled.scale = op.scale * c
    res = projected_gradient(Problem(scaled, y), tol=1e-10)
    assert ref.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert_close_to(res.x * c, ref.x, 1e-6)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("c", [1e-200, 1e200])
def test_lasso_scale_equivariant_in_A(c, nonneg, sparse):
    # scikit-learn's squared column norms under/overflowed: max_iter after 10000 epochs
    # with x 0.26 (relative) from the answer
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 8))
    y = rng.standard_normal(20)
    ref = lasso(A, y, alpha=0.05, nonneg=nonneg)
    As = scipy.sparse.csr_array(c * A) if sparse else c * A
    res = lasso(As, y, alpha=0.05 * c, nonneg=nonneg)
    assert ref.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert res.n_iter == ref.n_iter
    assert_close_to(res.x * c, ref.x, 1e-10)
    assert res.fun == pytest.approx(ref.fun, rel=1e-10)
    assert res.info["alpha_max"] == pytest.approx(c * ref.info["alpha_max"], rel=1e-12)
    assert res.info["relative_residual"] == pytest.approx(ref.info["relative_residual"],
                                                          rel=1e-8)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("c", [1e-200, 1e-4, 1e8, 1e200])
def test_bp_spgl1_scale_equivariant_in_A(c, sparse):
    # SPGL1 stopped at x = 0 as "infeasible" (1e-200, 1e8), hit its iteration cap (1e-4)
    # or failed its line search (1e200) on this feasible problem
    p = sparse_recovery(60, 30, 4, seed=0)
    A = p.A.to_dense()
    ref = basis_pursuit(A, p.y)
    As = scipy.sparse.csr_array(c * A) if sparse else c * A
    res = basis_pursuit(As, p.y, method="spgl1")
    assert res.status is Status.CONVERGED
    assert_close_to(res.x * c, ref.x, tol_for("spgl1"))
    assert res.fun * c == pytest.approx(ref.fun, rel=1e-6)
    assert res.info["tau"] * c == pytest.approx(ref.fun, rel=1e-6)
    assert res.info["relative_residual"] <= 1e-7


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("c", [1e-200, 1e200])
def test_nnls_reported_norms_scale_free(c):
    # plain norms squared the entries: relative residual 0 at 1e-200 and nan at 1e200
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 8))
    y = rng.standard_normal(20)
    ref = nnls(A, y)
    res = nnls(A, c * y)
    assert ref.info["relative_residual"] > 0.5  # y is far from the cone: a real residual
    assert res.info["relative_residual"] == pytest.approx(ref.info["relative_residual"],
                                                          rel=1e-12)
    assert res.info["rnorm"] / c == pytest.approx(ref.info["rnorm"], rel=1e-12)
    assert_close_to(res.x / c, ref.x, 1e-12)


# ---------------------------------------------------------------------------- matrix
def _matrix_copy(p, scale_y=1.0, scale_A=1.0, dense=False):
    op = p.A.to_dense() * scale_A if (dense or scale_A != 1.0) else p.A
    return Problem(op, p.y * scale_y, info=dict(p.info))


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("c", [1e-200, 1e-8, 1e200])
def test_nuclear_norm_prox_scale_equivariant(c):
    # the stage test's floor max(1, ||W||) is absolute: at y ~ 1e-8 and 1e-200 every stage
    # stopped after one step, 0.26 (relative) from the answer, reported converged; at 1e200
    # ||W||_F overflowed (same, and a NaN relative residual)
    from overparam.baselines import nuclear_norm_prox
    from overparam.problems import matrix_completion, matrix_sensing

    p = matrix_completion(8, 8, 1, n_observed=40, seed=0)
    ref = nuclear_norm_cvxpy_ref(p)
    base = nuclear_norm_prox(p)
    res = nuclear_norm_prox(_matrix_copy(p, scale_y=c))
    assert base.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert_close_to(base.x, ref, 1e-6)
    assert_close_to(res.x / c, ref, 1e-6)
    assert res.fun / c == pytest.approx(base.fun, rel=1e-9)
    assert res.info["relative_residual"] == pytest.approx(base.info["relative_residual"],
                                                          rel=1e-6)
    # penalized, and A scaled: lam -> c lam keeps W / c
    s = matrix_sensing(6, 5, 1, m=20, seed=0)
    pen = nuclear_norm_prox(s, lam=0.05)
    res = nuclear_norm_prox(_matrix_copy(s, scale_A=c), lam=0.05 * c)
    assert pen.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert_close_to(res.x * c, pen.x, 1e-7)
    assert res.info["lam"] == pytest.approx(0.05 * c, rel=1e-12)


def nuclear_norm_cvxpy_ref(p):
    """An independent CVXPY solve of min ||W||_* s.t. A(W) = y (Clarabel on A's matrix)."""
    n1, n2 = p.info["matrix_shape"]
    X = cp.Variable((n1, n2))
    A = p.A.to_dense()
    prob = cp.Problem(cp.Minimize(cp.normNuc(X)),
                      [A @ cp.reshape(X, (n1 * n2,), order="C") == p.y])
    prob.solve(solver="CLARABEL")
    assert prob.status == "optimal"
    return np.asarray(X.value)


@pytest.mark.parametrize("c", [1e-8, 1e200])
def test_nuclear_norm_cvxpy_scale_equivariant(c):
    # Clarabel's absolute tolerances: at y ~ 1e-8 an "optimal" point with relative
    # residual 0.2 (0.44 from the answer); at 1e200 "infeasible"
    from overparam.baselines import nuclear_norm_cvxpy
    from overparam.problems import matrix_completion, matrix_sensing

    p = matrix_completion(8, 8, 1, n_observed=40, seed=0)
    ref = nuclear_norm_cvxpy_ref(p)
    res = nuclear_norm_cvxpy(_matrix_copy(p, scale_y=c))
    assert res.status is Status.CONVERGED
    assert_close_to(res.x / c, ref, 1e-6)
    assert res.fun / c == pytest.approx(np.linalg.svd(ref, compute_uv=False).sum(), rel=1e-6)
    assert res.info["relative_residual"] <= 1e-8
    # a dense operator scaled by 1 / c: W -> c W
    s = matrix_sensing(6, 5, 1, m=20, seed=0)
    base = nuclear_norm_cvxpy(s)
    res = nuclear_norm_cvxpy(_matrix_copy(s, scale_A=1 / c))
    assert base.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert_close_to(res.x / c, base.x, 1e-6)
    assert res.info["relative_residual"] <= 1e-8


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("c", [1e-200, 1e-160, 1e200])
def test_min_norm_least_squares_lsqr_scale_free(c):
    # LSQR squares norms: W = 0 after 0 steps at 1e-200, 0.2 from the answer at 1e-160,
    # NaN at 1e200, all "converged"
    from overparam.baselines import min_norm_least_squares
    from overparam.problems import matrix_sensing

    s = matrix_sensing(10, 10, 2, m=60, matrix_free=True, seed=0)
    assert not s.A.is_dense
    ref = np.linalg.pinv(s.A.to_dense()) @ s.y
    res = min_norm_least_squares(_matrix_copy(s, scale_y=c))
    assert res.status is Status.CONVERGED and res.info["lsqr_istop"] in (1, 2)
    assert_close_to(res.x.reshape(-1) / c, ref, 1e-9)
    assert res.info["relative_residual"] <= 1e-9


def test_min_norm_least_squares_lsqr_status_and_arguments():
    # the iteration cap was reported as converged (relative residual 0.2); max_iter=0
    # silently meant the default, a negative or NaN tol was accepted
    from overparam.baselines import min_norm_least_squares
    from overparam.problems import matrix_sensing

    s = matrix_sensing(10, 10, 2, m=60, matrix_free=True, seed=0)
    res = min_norm_least_squares(s, max_iter=2)
    assert res.status is Status.MAX_ITER and res.n_iter == 2
    assert res.info["lsqr_istop"] == 7 and res.info["relative_residual"] > 1e-3
    assert min_norm_least_squares(s).status is Status.CONVERGED
    for bad in (dict(max_iter=0), dict(tol=-1.0), dict(tol=float("nan")), dict(tol=0.0)):
        with pytest.raises(ValueError):
            min_norm_least_squares(s, **bad)


def test_matrix_baselines_refuse_bad_arguments():
    # an unknown CVXPY solver came back as a "numerical_error" result; lam_min_ratio >= 1
    # gave W = 0 as a converged constrained solution (relative residual 1); svt took a
    # negative tau (every singular value inflated) or NaN
    from overparam.baselines import nuclear_norm_cvxpy, nuclear_norm_prox, svt
    from overparam.problems import matrix_completion

    p = matrix_completion(8, 8, 1, n_observed=40, seed=0)
    with pytest.raises(ValueError, match="installed"):
        nuclear_norm_cvxpy(p, solver="NO_SUCH_SOLVER")
    assert nuclear_norm_cvxpy(p, solver="clarabel").status is Status.CONVERGED
    for ratio in (1.0, 2.0):
        with pytest.raises(ValueError, match="lam_min_ratio"):
            nuclear_norm_prox(p, lam_min_ratio=ratio)
    W = np.random.default_rng(0).standard_normal((4, 3))
    for tau in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="tau"):
            svt(W, tau)
    X, k = svt(W, 0.0)
    assert k == 3 and np.allclose(X, W, atol=1e-14)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("c", [1e-200, 1e200])
def test_bp_spgl1_nonneg_infeasibility_check_scale_free(c):
    # the NNLS check of SPGL1's least-squares exit used plain norms: 0 / 0 for A ~ 1e-200,
    # which called a feasible problem "infeasible" (overflow at 1e200)
    rng = np.random.default_rng(5)
    cases = 0
    for A, y in _small_feasible_nonneg(rng, 30):
        ref = basis_pursuit(A, y, nonneg=True, method="spgl1")
        if ref.info["solver_status"] != 3:
            continue
        cases += 1
        res = basis_pursuit(c * A, y, nonneg=True, method="spgl1")
        # (A is rescaled: SPGL1 may take another path, but never to "infeasible")
        assert res.status is not Status.INFEASIBLE
        assert np.isfinite(res.info.get("nnls_kkt_rel", 0.0))
    assert cases > 0
    # and a truly infeasible one stays certified
    A = np.abs(rng.standard_normal((5, 20)))
    y = -A @ np.abs(rng.standard_normal(20))
    assert basis_pursuit(c * A, y, nonneg=True, method="spgl1").status is Status.INFEASIBLE


def test_bp_spgl1_nonneg_near_solutions_are_not_infeasible():
    # SPGL1's least-squares exit at points with residuals ~1e-7 passed the NNLS KKT test
    # too (g = A^T r is tiny there): these feasible problems (HiGHS solves them) were
    # reported "infeasible"; r must now also be a Farkas certificate
    hits = 0
    for seed in (3, 10, 12, 34):
        rng = np.random.default_rng(seed)
        for _ in range(30):
            m = int(rng.integers(2, 6))
            n = int(rng.integers(m, 10))
            A = np.abs(rng.standard_normal((m, n)))
            x0 = np.zeros(n)
            k = max(1, m // 2)
            x0[rng.choice(n, k, replace=False)] = np.abs(rng.standard_normal(k))
            y = A @ x0
            res = basis_pursuit(A, y, nonneg=True, method="spgl1")
            assert res.status is not Status.INFEASIBLE
            if res.info["solver_status"] == 3 and res.info["nnls_kkt_rel"] <= 1e-6:
                hits += 1  # the case: the KKT test alone would have said infeasible
                assert res.status is Status.STAGNATED
                assert basis_pursuit(A, y, nonneg=True).status is Status.CONVERGED
    assert hits >= 4


def test_projected_gradient_gram_argument_checked():
    # bool() turned gram="false" (or "no", 2) into True: the Gram path, silently
    from overparam.baselines.projected_gradient import projected_gradient

    A = np.random.default_rng(0).standard_normal((12, 4))
    y = A @ np.ones(4)
    for bad in ("false", "Auto", None, 2):
        with pytest.raises(ValueError, match="gram"):
            projected_gradient(A, y, gram=bad)
    for ok, used in ((True, True), (False, False), (np.bool_(False), False), ("auto", True)):
        assert projected_gradient(A, y, gram=ok).info["gram"] is used


def test_matrix_baselines_do_not_advise_a_shape_argument_they_lack():
    # "pass shape=(n1, n2)" was the advice of every non-matrix problem's error, also from
    # functions without that argument
    from overparam.baselines.matrix import nuclear_norm_prox
    from overparam.dynamics import dmf_gd

    p = sparse_recovery(12, 6, 2, seed=0)
    with pytest.raises(TypeError) as err:
        nuclear_norm_prox(p)
    assert "shape=" not in str(err.value) and "matrix_shape" in str(err.value)
    with pytest.raises(TypeError, match=r"or pass shape=\(n1, n2\)$"):
        dmf_gd(p, max_iter=2)


def test_eigsh_ncv_and_lipschitz_iters_are_checked():
    # eigsh_truncated(ncv=0) fell back to the default silently and ncv <= rank reached
    # ARPACK; lipschitz(iters=0) returned 0 (a step size of 1/0 for its callers)
    import jax.numpy as jnp

    from overparam.baselines.eigen import eigsh_truncated
    from overparam.baselines.projected_gradient import lipschitz

    rng = np.random.default_rng(0)
    B = rng.standard_normal((30, 30))
    S = B + B.T
    for ncv, match in ((0, "ncv must be >= 3"), (2, "ncv must be >= 3"), (31, "<= N = 30")):
        with pytest.raises(ValueError, match=match):
            eigsh_truncated(S, 2, 5, ncv=ncv)
    res = eigsh_truncated(S, 2, 30, ncv=10)
    top = np.sort(np.abs(np.linalg.eigvalsh(S)))[::-1][:2]
    np.testing.assert_allclose(np.sort(np.abs(res.info["eigenvalues"]))[::-1], top,
                               rtol=1e-8)

    def hess(G, v):
        return G @ v

    with pytest.raises(ValueError, match="iters must be >= 1"):
        lipschitz(hess, jnp.asarray(S @ S), 30, iters=0)
    est = lipschitz(hess, jnp.asarray(S @ S), 30, iters=200)
    assert 1.0 <= est / np.linalg.eigvalsh(S @ S)[-1] <= 1.06


# ----------------------------------------------------------- NNLS flags and certificate
def test_nnls_baselines_refuse_string_flags():
    # bool() read the strings "false" and "no" as True: lasso solved the non-negative
    # problem and projected_gradient ran APG with restart, silently
    from overparam.baselines.projected_gradient import projected_gradient

    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 8))
    y = rng.standard_normal(20)
    with pytest.raises(TypeError, match="nonneg"):
        lasso(A, y, alpha=0.01, nonneg="false")
    with pytest.raises(TypeError, match="accelerated"):
        projected_gradient(A, y, accelerated="false")
    with pytest.raises(TypeError, match="restart"):
        projected_gradient(A, y, restart="no")
    # NumPy booleans are flags: the signed Lasso, and plain PG to SciPy's solution
    res = lasso(A, y, alpha=0.01, nonneg=np.bool_(False))
    assert res.x.min() < 0 and lasso_kkt_violation(A, y, res.x, 0.01, False) < 1e-6
    pg = projected_gradient(A, y, accelerated=np.bool_(False), restart=np.bool_(False),
                            tol=1e-10, max_iter=200_000)
    assert pg.info["method"] == "pg" and pg.info["restart"] is False and pg.success
    assert_close_to(pg.x, oracles.nnls(A, y), 1e-7)


@pytest.mark.parametrize("sparse", [False, True])
def test_column_norms_scale_free(sparse):
    # the certificate's column scales: squares of entries near 1e+-160 / 1e+-200 under- or
    # overflow in np.linalg.norm; one column may be 1e300 times another
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 6))
    A[:, 2] = 0.0
    ref = np.linalg.norm(A, axis=0)
    D = np.array([1e-200, 1.0, 1.0, 1e160, 1e-160, 1e100])
    M = A * D
    got = _common.column_norms(scipy.sparse.csr_array(M) if sparse else M)
    np.testing.assert_allclose(got / np.where(D > 0, D, 1.0), ref, rtol=1e-14)
    assert got[2] == 0.0


@pytest.mark.parametrize("c", [1e-4, 1.0, 1e4])
def test_bp_spgl1_nonneg_infeasibility_check_is_scale_free(c):
    # A >= 0, y < 0: infeasible, and x = 0 is the NNLS point. x_1 = 1e-3 / c is not
    # (A x is the same for every c); the old unscaled test ||min(x, g)|| / ||A^T y||
    # scored it 6e-13 at c = 1e4 ("infeasible", with a non-stationary x) and 0.15 at
    # c = 1e-4.
    from overparam.baselines.basis_pursuit import _check_nonneg_infeasible
    from overparam.problems import as_problem

    A = np.abs(np.random.default_rng(1).standard_normal((5, 20)))
    problem = as_problem(c * A, -np.ones(5))
    info: dict = {}
    assert _check_nonneg_infeasible(problem, np.zeros(20), info) is Status.INFEASIBLE
    assert info["nnls_kkt_rel"] == 0.0
    x = np.zeros(20)
    x[0] = 1e-3 / c
    assert _check_nonneg_infeasible(problem, x, info) is Status.STAGNATED
    assert info["nnls_kkt_rel"] == pytest.approx(1.8e-4, rel=0.05)


@pytest.mark.parametrize("method", ["highs", "spgl1"])
def test_bp_refuses_string_nonneg_flag(method):
    # bool() read nonneg="false" as True: the non-negative LP was solved for a signed
    # problem whose solution has negative entries, and "infeasible" came back with x = NaN
    A = np.array([[1.0, -1.0, 0.5], [0.3, 1.0, 1.0]])
    y = np.array([-1.0, 0.2])
    for bad in ("false", "no", 2, None):
        with pytest.raises(TypeError, match="nonneg"):
            basis_pursuit(A, y, nonneg=bad, method=method)
    # NumPy booleans are flags: the signed problem, solved against an independent LP
    # over x = u - v, u, v >= 0
    import scipy.optimize

    ref = scipy.optimize.linprog(np.ones(6), A_eq=np.hstack([A, -A]), b_eq=y,
                                 bounds=(0, None), method="highs")
    res = basis_pursuit(A, y, nonneg=np.bool_(False), method=method)
    assert res.status is Status.CONVERGED and res.info["nonneg"] is False
    assert res.x.min() < 0
    assert res.fun == pytest.approx(ref.fun, rel=1e-6)
