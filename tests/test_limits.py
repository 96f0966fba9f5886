"""Tests of overparam.limits.hadamard_limit against simulations, LP oracles and closed forms.

Every oracle check has a negative control: a perturbed or wrong answer fails the same check.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg as spla

import overparam
from overparam import Status
from overparam.dynamics import Auto
from overparam.limits import hadamard_limit
from overparam.problems import PartialDCT, Problem, sparse_recovery

from oracles import basis_pursuit_lp


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def l1_gap(x, x_bp):
    return float((np.abs(x).sum() - np.abs(x_bp).sum()) / np.abs(x_bp).sum())


# -- the simulated flow converges to the limit -------------------------------------------
def _signed_problem():
    return sparse_recovery(20, 12, 3, seed=3)


def _positive_problem():
    # many strictly positive solutions: the non-negative limit is interior (no zeros)
    rng = np.random.default_rng(5)
    A = rng.standard_normal((6, 20)) / np.sqrt(6)
    return Problem(A, A @ rng.uniform(0.5, 1.0, 20))


@pytest.mark.parametrize(
    "nonneg, depth, fraction, max_iter",
    [(False, 2, 0.01, 300_000), (False, 3, 0.01, 300_000), (False, 4, 0.01, 300_000),
     (True, 2, 0.003, 1_000_000), (True, 3, 0.003, 1_000_000),
     (True, 4, 0.003, 1_000_000)],
)
def test_gradient_descent_converges_to_the_limit(nonneg, depth, fraction, max_iter):
    p = _positive_problem() if nonneg else _signed_problem()
    a = 0.5
    lim = hadamard_limit(p, depth=depth, init_scale=a, nonneg=nonneg)
    assert lim.status is Status.CONVERGED, lim.message
    gd = overparam.hadamard_gd(p, depth=depth, init_scale=a, nonneg=nonneg,
                               step=Auto(fraction=fraction), tol=1e-9, max_iter=max_iter,
                               record=4)
    assert rel(gd.x, lim.x) <= 1e-3
    # negative control: the limit of another initialization scale fails the same check
    other = hadamard_limit(p, depth=depth, init_scale=0.7 * a, nonneg=nonneg)
    assert rel(gd.x, other.x) > 1e-3


# -- small scale: basis pursuit ------------------------------------------------------------
def test_tends_to_basis_pursuit():
    p = sparse_recovery(200, 80, 8, seed=11)
    A = p.A.to_dense()
    x_bp = basis_pursuit_lp(A, p.y)
    res = hadamard_limit(p, depth=2, init_scale=1e-6)
    assert res.success and res.info["relative_residual"] <= 1e-10
    assert abs(l1_gap(res.x, x_bp)) <= 1e-4
    # negative control: a large scale is far from the minimal l1 norm
    big = hadamard_limit(p, depth=2, init_scale=0.3)
    assert big.success
    assert abs(l1_gap(big.x, x_bp)) > 1e-4


def test_nonneg_tends_to_nonneg_basis_pursuit():
    p = sparse_recovery(200, 60, 10, nonneg=True, seed=12)
    A = p.A.to_dense()
    x_bp = basis_pursuit_lp(A, p.y, nonneg=True)
    res = hadamard_limit(p, depth=2, init_scale=1e-6, nonneg=True)
    assert res.success
    assert np.all(res.x > 0)
    assert abs(l1_gap(res.x, x_bp)) <= 1e-4
    big = hadamard_limit(p, depth=2, init_scale=0.3, nonneg=True)
    assert abs(l1_gap(big.x, x_bp)) > 1e-4


# -- closed forms --------------------------------------------------------------------------
def _one_row_oracle(row, yv, h):
    """One measurement: x_i = h(w row_i), with the scalar w solving sum_i row_i h(w row_i) = y
    (a bracketed scalar root, found by brentq)."""
    f = lambda w: float(row @ h(w * row)) - yv  # noqa: E731
    lo, hi = -1.0, 1.0
    while f(lo) > 0:
        lo *= 2
    while f(hi) < 0:
        hi *= 2
    w = scipy.optimize.brentq(f, lo, hi, xtol=1e-15, rtol=1e-15)
    return h(w * row)


@pytest.mark.parametrize("depth, nonneg", [(2, False), (2, True), (3, False), (4, True)])
def test_single_row_closed_form(depth, nonneg):
    row = np.array([1.0, 2.0, -0.5, 0.25])
    yv, a = 3.0, 0.2
    if depth == 2:
        h = ((lambda z: a**2 * np.exp(z)) if nonneg
             else (lambda z: 2 * a**2 * np.sinh(z)))
        if nonneg:
            row = np.abs(row)
    else:
        c, p_ = a ** (2.0 - depth), depth / (depth - 2.0)

        def h(z):
            z = np.clip(z, -c * (1 - 1e-15), c * (1 - 1e-15))
            out = (c - z) ** (-p_)
            return out if nonneg else out - (c + z) ** (-p_)
        if nonneg:
            row = np.abs(row)
    expected = _one_row_oracle(row, yv, h)
    res = hadamard_limit(row[None, :], np.array([yv]), depth=depth, init_scale=a,
                         nonneg=nonneg)
    assert res.success
    assert rel(res.x, expected) <= 1e-8
    # negative control: the minimal-l2 interpolant (no implicit bias) fails the check
    l2 = row * yv / (row @ row)
    assert rel(l2, expected) > 1e-8


def test_square_invertible_is_the_solution():
    # A invertible: the limit is A^{-1} y whatever the depth and scale
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 5)) + 3 * np.eye(5)
    x = rng.standard_normal(5)
    for depth in (2, 3):
        res = hadamard_limit(A, A @ x, depth=depth, init_scale=0.1)
        assert res.success and rel(res.x, x) <= 1e-8


# -- recovery ------------------------------------------------------------------------------
@pytest.mark.parametrize("depth, a", [(2, 1e-6), (3, 1e-3)])
def test_exact_recovery_above_the_phase_transition(depth, a):
    p = sparse_recovery(200, 80, 6, seed=21)
    res = hadamard_limit(p, depth=depth, init_scale=a)
    assert res.success
    assert rel(res.x, p.x_true) <= 1e-4
    # negative control: far below the transition the planted vector is not recovered
    q = sparse_recovery(200, 12, 6, seed=21)
    bad = hadamard_limit(q, depth=depth, init_scale=a)
    assert bad.success and rel(bad.x, q.x_true) > 1e-4


def test_dual_certificate_is_consistent():
    p = sparse_recovery(100, 40, 4, seed=2)
    res = hadamard_limit(p, depth=2, init_scale=1e-2)
    A = p.A.to_dense()
    z = A.T @ res.info["w"]
    assert np.allclose(z, res.info["z"], rtol=0, atol=1e-8 * np.abs(z).max())
    assert rel(2 * 1e-4 * np.sinh(z), res.x) <= 1e-8
    assert res.fun == pytest.approx(0.5 * np.sum((A @ res.x - p.y) ** 2), abs=1e-20)
    assert res.n_iter >= 1 and res.info["relative_residual"] <= 1e-10


@pytest.mark.parametrize("tol", [1e-10, 1e-3])
@pytest.mark.parametrize("method", ["newton", "newton-cg"])
def test_continuation_ends_with_z_in_the_range_of_a_transpose(method, tol):
    # on the continuation path (and at the target while the residual is above 1e-4)
    # Newton-CG takes A^T d from inside CG and A x in float32 for a dense A, so z drifts
    # from A^T w; it must be resynchronised before the final steps and before the
    # convergence test (tol = 1e-3 stops in that float32 regime)
    p = sparse_recovery(400, 120, 10, seed=5)
    A = p.A.to_dense()
    res = hadamard_limit(p, depth=2, init_scale=1e-6, method=method, tol=tol)
    assert res.success and res.info["n_continuation"] >= 3
    z = A.T @ res.info["w"]
    assert np.max(np.abs(z - res.info["z"])) <= 1e-11 * np.abs(z).max()
    assert rel(2e-12 * np.sinh(z), res.x) <= 1e-9
    assert np.linalg.norm(A @ res.x - p.y) <= tol * np.linalg.norm(p.y)
    assert res.info["relative_residual"] == pytest.approx(
        np.linalg.norm(A @ res.x - p.y) / np.linalg.norm(p.y), rel=1e-6)


def test_pcg_returns_a_transpose_d():
    from overparam.limits._linsolve import PCGSolver

    rng = np.random.default_rng(3)
    A = rng.standard_normal((60, 300)) / np.sqrt(60)
    D = np.exp(rng.uniform(-20.0, 0.0, 300))
    b = rng.standard_normal(60)
    c2 = np.einsum("ij,ij->j", A, A)
    for single, tol in ((None, 1e-12), (A.astype(np.float32), 1e-5)):
        solver = PCGSolver(A.__matmul__, A.T.__matmul__, A.shape, columns=lambda i: A[:, i],
                           col_sqnorms=c2, single=single)
        d, k = solver.solve(D, b, 1e-8)
        assert k >= 1
        assert rel(solver.last_atd, A.T @ d) <= tol
        assert rel(A @ (D * (A.T @ d)), b) <= (1e-7 if single is None else 1e-3)
    # negative control: the accumulated product is not that of another vector
    assert rel(solver.last_atd, A.T @ (1.01 * d)) > 1e-3


@pytest.mark.parametrize("seed", [2, 4, 7])
def test_newton_cg_square_gaussian_small_scale(seed):
    # m = n: the limit is A^{-1} y at every scale. At a = 1e-6 the Newton matrix is too
    # ill-conditioned for the float32 Hessian products of dense Newton-CG: before the
    # switch to float64 on a creeping continuation these seeds stagnated or hit max_iter
    p = sparse_recovery(200, 200, 20, seed=seed)
    A = p.A.to_dense()
    x = np.linalg.solve(A, p.y)
    res = hadamard_limit(p, depth=2, init_scale=1e-6, method="newton-cg")
    assert res.success, res.message
    assert res.n_iter < 100
    assert rel(res.x, x) <= 1e-8
    # negative control: a solution perturbed by 1e-6 of its largest entry fails the check
    assert rel(x + 1e-6 * np.abs(x).max(), x) > 1e-8


def test_newton_cg_near_square_matches_dense_newton():
    for seed in (8, 12, 18):  # seeds that failed with float32 products throughout
        p = sparse_recovery(200, 140, 14, seed=seed)
        r1 = hadamard_limit(p, depth=2, init_scale=1e-6, method="newton")
        r2 = hadamard_limit(p, depth=2, init_scale=1e-6, method="newton-cg")
        assert r1.success and r2.success, r2.message
        assert rel(r2.x, r1.x) <= 1e-7


@pytest.mark.parametrize("n, m, nonneg, a", [(500, 500, False, 1e-4),
                                              (500, 350, True, 1e-8)])
def test_auto_falls_back_to_dense_newton_when_cg_stalls(n, m, nonneg, a):
    # square A, and a non-negative problem whose only solution has zeros (its dual
    # diverges): CG stalls at its iteration cap on these Newton systems, so explicit
    # newton-cg fails and says why, while "auto" switches to dense Newton and converges
    p = sparse_recovery(n, m, m // 10, seed=0)
    A = p.A.to_dense()
    x_true = np.abs(p.x_true) if nonneg else p.x_true  # the unique solution here
    y = A @ x_true
    res = hadamard_limit(A, y, init_scale=a, nonneg=nonneg)
    assert res.success, res.message
    assert res.info["method"] == "newton-cg" and res.info["dense_fallback_step"] is not None
    assert rel(res.x, x_true) <= 1e-8
    if not nonneg:  # (the non-negative one creeps on to max_iter: 13 s)
        cg = hadamard_limit(A, y, init_scale=a, nonneg=nonneg, method="newton-cg")
        assert not cg.success and cg.info["dense_fallback_step"] is None
        assert "iteration cap" in cg.message and "method='newton'" in cg.message


def test_auto_falls_back_on_a_matrix_free_operator():
    # partial DCT, non-negative, a = 1e-12: CG stalled at 1e-9 relative residual before;
    # "auto" materialises the 230 x 256 matrix and finishes with exact solves
    rng = np.random.default_rng(0)
    n, m, s = 256, 230, 23
    op = PartialDCT(n, np.sort(rng.choice(n, m, replace=False)))
    x = np.zeros(n)
    x[rng.choice(n, s, replace=False)] = np.abs(rng.standard_normal(s))
    y = op.matvec(x)
    res = hadamard_limit(op, y, init_scale=1e-12, nonneg=True)
    assert res.success, res.message
    assert res.info["dense_fallback_step"] is not None
    dense = hadamard_limit(op.to_dense(), y, init_scale=1e-12, nonneg=True, method="newton")
    assert dense.success and rel(res.x, dense.x) <= 1e-8
    assert rel(res.x, x) <= 1e-8  # the unique non-negative solution


def test_auto_keeps_cg_where_it_works():
    p = sparse_recovery(2000, 400, 40, seed=0)
    res = hadamard_limit(p, init_scale=1e-6)
    assert res.success and res.info["method"] == "newton-cg"
    assert res.info["dense_fallback_step"] is None


def test_depth3_first_newton_step_may_be_tiny_in_t():
    # depth 3 starts plain damped Newton from w = 0 at the target scale: at a = 1e-4 the
    # Newton matrix is ~1e-16 A A^T, the direction ~1e16 long and the admissible step
    # t ~1e-12; a line search that judged t alone (not t |A^T d|) gave up at step 1
    p = sparse_recovery(200, 200, 20, seed=3)
    A = p.A.to_dense()
    x = np.abs(p.x_true)  # square, invertible: the limit is x at every scale
    res = hadamard_limit(A, A @ x, depth=3, init_scale=1e-4, nonneg=True)
    assert res.success, res.message
    assert rel(res.x, x) <= 1e-9
    assert res.n_iter < 60


def test_newton_and_newton_cg_agree():
    p = sparse_recovery(150, 60, 6, seed=4)
    for depth in (2, 3):
        a = 1e-4 if depth == 2 else 1e-2
        r1 = hadamard_limit(p, depth=depth, init_scale=a, method="newton")
        r2 = hadamard_limit(p, depth=depth, init_scale=a, method="newton-cg")
        assert r1.success and r2.success
        assert rel(r1.x, r2.x) <= 1e-8


# -- infeasible problems -------------------------------------------------------------------
def test_signed_y_outside_the_range_is_infeasible():
    A = np.array([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0]])  # rank 1
    res = hadamard_limit(A, np.array([1.0, 1.0]), depth=2, init_scale=1e-2)
    assert res.status is Status.INFEASIBLE and not res.success
    assert "range" in res.message
    # negative control: y in the range is reached
    ok = hadamard_limit(A, np.array([1.0, 2.0]), depth=2, init_scale=1e-2)
    assert ok.success


def test_nonneg_without_nonneg_solution_is_infeasible():
    res = hadamard_limit(np.array([[1.0, 1.0]]), np.array([-1.0]), nonneg=True)
    assert res.status is Status.INFEASIBLE
    d = res.info["farkas"]
    A = np.array([[1.0, 1.0]])
    assert np.all(A.T @ d <= 0) and d @ np.array([-1.0]) > 0
    ok = hadamard_limit(np.array([[1.0, 1.0]]), np.array([1.0]), nonneg=True)
    assert ok.success and rel(ok.x, np.array([0.5, 0.5])) <= 1e-10


def test_nonneg_infeasible_larger():
    rng = np.random.default_rng(1)
    A = np.abs(rng.standard_normal((5, 30)))
    y = A @ np.abs(rng.standard_normal(30))
    y[0] = -1.0  # a positive row cannot produce a negative entry
    res = hadamard_limit(A, y, nonneg=True, init_scale=1e-2)
    assert res.status is Status.INFEASIBLE


def test_nonneg_unique_solution_with_zeros_converges():
    # the only x >= 0 is (1, 0): the dual infimum is not attained, x still converges
    A = np.array([[1.0, 1.0], [1.0, -1.0]])
    res = hadamard_limit(A, np.array([1.0, 1.0]), nonneg=True, init_scale=0.1)
    assert res.success
    assert np.allclose(res.x, [1.0, 0.0], atol=1e-9)


# -- matrix-free operators -----------------------------------------------------------------
def test_matrix_free_equals_dense():
    rng = np.random.default_rng(7)
    n, m = 128, 48
    op = PartialDCT(n, np.sort(rng.choice(n, m, replace=False)))
    x = np.zeros(n)
    x[rng.choice(n, 5, replace=False)] = rng.standard_normal(5)
    y = op.matvec(x)
    dense = hadamard_limit(op.to_dense(), y, init_scale=1e-4, method="newton")
    free = hadamard_limit(op, y, init_scale=1e-4)
    assert free.info["method"] == "newton-cg"
    lo = spla.LinearOperator((m, n), matvec=op.matvec, rmatvec=op.rmatvec, dtype=float)
    via_scipy = hadamard_limit(lo, y, init_scale=1e-4)
    sparse = hadamard_limit(scipy.sparse.csr_matrix(op.to_dense()), y, init_scale=1e-4)
    for r in (dense, free, via_scipy, sparse):
        assert r.success, r.message
    assert rel(free.x, dense.x) <= 1e-8
    assert rel(via_scipy.x, dense.x) <= 1e-8
    assert rel(sparse.x, dense.x) <= 1e-8
    # negative control: another scale's limit differs
    other = hadamard_limit(op, y, init_scale=1e-2)
    assert rel(other.x, dense.x) > 1e-8


# -- inputs --------------------------------------------------------------------------------
def test_bad_inputs():
    A = np.ones((3, 5))
    y = np.ones(3)
    with pytest.raises(ValueError, match="shape mismatch"):
        hadamard_limit(A, np.ones(4))
    with pytest.raises(ValueError, match="non-finite"):
        hadamard_limit(A, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="non-finite"):
        hadamard_limit(np.full((3, 5), np.inf), y)
    with pytest.raises(ValueError, match="init_scale"):
        hadamard_limit(A, y, init_scale=0.0)
    with pytest.raises(ValueError, match="init_scale"):
        hadamard_limit(A, y, init_scale=-1.0)
    with pytest.raises(ValueError, match="depth >= 2"):
        hadamard_limit(A, y, depth=1)
    with pytest.raises(ValueError, match="depth >= 2"):
        hadamard_limit(A, y, depth=0)
    with pytest.raises(ValueError, match="empty"):
        hadamard_limit(np.ones((0, 5)), np.ones(0))
    with pytest.raises(ValueError, match="method"):
        hadamard_limit(A, y, method="bfgs")
    with pytest.raises(ValueError, match="y is required"):
        hadamard_limit(A)
    with pytest.raises(ValueError, match="dense"):
        hadamard_limit(PartialDCT(16, [0, 3, 5]), np.ones(3), method="newton")
    with pytest.raises(ValueError, match="too small"):
        hadamard_limit(A, y, depth=4, init_scale=1e-300)


def test_newton_step_limit_is_reported():
    p = sparse_recovery(200, 80, 8, seed=1)
    res = hadamard_limit(p, init_scale=1e-6, max_iter=3)
    assert res.status is Status.MAX_ITER and not res.success
    assert "max_iter = 3" in res.message and "continuation path" in res.message
    assert "step=" not in res.message  # gradient-descent advice does not apply here
    assert res.n_iter == 3


def test_zero_measurements():
    res = hadamard_limit(np.ones((2, 4)), np.zeros(2))
    assert res.success and np.all(res.x == 0)
    # non-negative: x(0) = a^2 = 0.01 on the balanced pair never moves (its gradient is 0),
    # the other pair decays to 0
    A = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    res = hadamard_limit(A, np.zeros(2), nonneg=True, init_scale=0.1)
    assert res.success
    assert np.allclose(res.x, [0.01, 0.01, 0.0, 0.0], atol=1e-9)


def test_precision_floor_is_reported():
    # depth 4 at a = 1e-3: c = a^(2-L) = 1e6, float64 resolves x only to ~1e-10 relative
    p = sparse_recovery(300, 100, 10, seed=3)
    res = hadamard_limit(p, depth=4, init_scale=1e-3, tol=1e-12)
    assert res.status is Status.STAGNATED and "float64 resolves" in res.message
    # negative control: a reachable tolerance converges
    ok = hadamard_limit(p, depth=4, init_scale=1e-3, tol=1e-8)
    assert ok.success


def test_complex_measurements_are_refused():
    # Problem keeps a complex y; the limit is real and used to drop the imaginary part
    # with only a ComplexWarning, returning a "converged" answer to another problem
    A = np.random.default_rng(0).standard_normal((5, 12))
    y = A @ np.r_[1.0, np.zeros(11)]
    with pytest.raises(ValueError, match="y must be real"):
        hadamard_limit(A, y + 0.5j)
    with pytest.raises(ValueError, match="y must be real"):
        hadamard_limit(Problem(A, y + 0.5j))
    assert hadamard_limit(A, y.astype(complex).real).success  # negative control


def test_zero_measurements_nonneg_dense_path():
    # y = 0, x = a^2 exp(z) (L = 2): A exp(A^T w) = 0 does not involve a, so the limit is
    # a^2 times a fixed positive null vector of A and the continuation path is constant
    # in z. Its Newton directions vanish; they used to be judged "negligible" and stop the
    # path as stagnated (x 76% off), with info relative_residual = ||r|| / 1e-300 ~ 1e280.
    A = np.random.default_rng(0).standard_normal((20, 50))
    r3 = hadamard_limit(A, np.zeros(20), nonneg=True, init_scale=1e-3, method="newton")
    r2 = hadamard_limit(A, np.zeros(20), nonneg=True, init_scale=1e-2, method="newton")
    assert r3.success and r2.success, r3.message
    assert r3.info["relative_residual"] <= 1e-10
    assert np.all(r3.x > 0) and np.linalg.norm(A @ r3.x) <= 1e-12 * np.linalg.norm(r3.x)
    assert rel(r3.x / 1e-6, r2.x / 1e-4) < 1e-6
    # negative control: a wrong scaling exponent fails the same check
    assert rel(r3.x / 1e-3, r2.x / 1e-2) > 0.5


def test_auto_overdetermined_switches_to_exact_newton():
    # m > n: A D A^T is singular, and at depth 3 its null space swamps the tightened CG
    # solves (relative residual 5e2 at rtol 1e-9) before the iteration cap: "auto" used to
    # stop as stagnated ("no descent direction", relative residual 9e-3) on this
    # consistent, uniquely solvable system instead of switching to dense Newton
    rng = np.random.default_rng(0)
    rng.standard_normal((400, 300)), rng.random(10)  # (the scanned problem: 2nd draw)
    A = rng.standard_normal((600, 300)) / np.sqrt(600)
    x = np.zeros(300)
    x[:10] = 1.0 + rng.random(10)
    res = hadamard_limit(A, A @ x, depth=3)
    assert res.success, res.message
    assert res.info["method"] == "newton-cg" and res.info["dense_fallback_step"] is not None
    assert rel(res.x, x) < 1e-8


def test_dense_newton_overdetermined_solves_on_range():
    # m > n: A D A^T is singular; Cholesky on it (after "auto" switched to it at step 18)
    # let rounding in null(A^T) swamp the direction once the residual was small: stopped
    # as stagnated at a relative residual 1.2e-9. CholeskySolver now solves on range(A).
    rng = np.random.default_rng(0)
    A = rng.standard_normal((600, 300)) / np.sqrt(600)
    x = np.zeros(300)
    x[:10] = 1.0 + rng.random(10)
    res = hadamard_limit(A, A @ x, depth=3)
    assert res.success, res.message
    assert res.info["dense_fallback_step"] is not None
    assert rel(res.x, x) < 1e-8
    # the range solve agrees with a plain one away from the rounding floor
    from overparam.limits._linsolve import CholeskySolver
    D = rng.uniform(0.1, 10.0, 300)
    b = A @ rng.standard_normal(300)
    d, _ = CholeskySolver(A).solve(D, b, 0.0)
    assert rel((A * D) @ (A.T @ d), b) < 1e-10


@pytest.mark.parametrize("a", [1e-4, 1e-6, 1e-12])
@pytest.mark.parametrize("method", ["auto", "newton"])
def test_unique_nonneg_solution_reaches_the_requested_scale(a, method):
    # the only non-negative solution is the planted x, so it is the limit at every scale,
    # but the dual is not attained (w diverges, A D A^T is numerically singular off the
    # support): the continuation used to creep to a halt at init scale 1.1e-4 (STAGNATED
    # after 389 steps, docs/sparse_recovery.md)
    p = sparse_recovery(200, 140, 28, nonneg=True, seed=1)
    res = hadamard_limit(p, depth=2, init_scale=a, nonneg=True, method=method)
    assert res.status is Status.CONVERGED and res.success
    assert res.info["init_scale"] == pytest.approx(a, rel=1e-12)
    assert rel(res.x, p.x_true) <= 1e-9
    assert res.info["relative_residual"] <= 1e-10
    assert res.info["least_norm_step"] is not None
    assert res.n_iter <= 100


@pytest.mark.parametrize("m, s, seed", [(140, 28, 4), (140, 28, 9), (120, 40, 1), (120, 40, 2)])
def test_other_unique_nonneg_solutions_reach_the_requested_scale(m, s, seed):
    # the same divergence on other problems (old code: MAX_ITER or STAGNATED at init
    # scales 9e-5 .. 5e-3, for (120, 40) with off-support x still ~1e-3 when the step
    # collapsed)
    p = sparse_recovery(200, m, s, nonneg=True, seed=seed)
    A = p.A.to_dense()
    # oracle: x_true is the only x >= 0 with A x = y (LP bounds on a random objective)
    c = np.random.default_rng(0).standard_normal(200)
    for sign in (1, -1):
        lp = scipy.optimize.linprog(sign * c, A_eq=A, b_eq=p.y, bounds=(0, None),
                                    method="highs")
        assert lp.status == 0 and np.abs(lp.x - p.x_true).max() <= 1e-7
    res = hadamard_limit(p, depth=2, init_scale=1e-6, nonneg=True)
    assert res.status is Status.CONVERGED
    assert res.info["init_scale"] == pytest.approx(1e-6, rel=1e-12)
    assert rel(res.x, p.x_true) <= 1e-9


@pytest.mark.parametrize("nonneg", [False, True])
def test_ordinary_runs_never_solve_by_least_norm(nonneg):
    # the least-norm solves are for a creeping continuation only: runs whose path does
    # not creep keep the exact Cholesky solves (and results) they had before
    p = sparse_recovery(200, 80, 8, nonneg=nonneg, seed=0)
    for a in (1e-3, 1e-6):
        res = hadamard_limit(p, depth=2, init_scale=a, nonneg=nonneg)
        assert res.success
        assert res.info["least_norm_step"] is None
        steps = np.abs(np.diff(res.info["history"][:, 0]))
        assert np.all(steps[steps > 0] >= 1e-3)  # never below _CREEP_STEP


def test_cholesky_least_norm_solve():
    from overparam.limits._linsolve import CholeskySolver

    rng = np.random.default_rng(3)
    m, n, k = 30, 60, 10
    A = rng.standard_normal((m, n))
    D = np.full(n, 1e-40)  # negligible weights off K
    keep = np.zeros(n, dtype=bool)
    keep[rng.choice(n, k, replace=False)] = True
    D[keep] = np.exp(rng.uniform(-20, 2, k))  # 1e-9 .. 7: a wide range on K
    b = rng.standard_normal(m)
    solver = CholeskySolver(A)
    d, _ = solver.solve_least_norm(D, b, keep)
    AK = A[:, keep]
    H = (AK * D[keep]) @ AK.T
    P = AK @ np.linalg.pinv(AK)  # projector on range(A_K)
    assert rel(H @ d, P @ b) < 1e-8  # solves the system on range(A_K) ...
    assert np.linalg.norm(d - P @ d) < 1e-10 * np.linalg.norm(d)  # ... with least norm
    # negative control: the full Cholesky solve is dominated by null(A_K^T)
    d_full, _ = solver.solve(D, b, 0.0)
    assert np.linalg.norm(d_full - P @ d_full) > 1e3 * np.linalg.norm(d)


@pytest.mark.parametrize("nonneg", [False, True])
def test_zero_operator_is_infeasible_at_once_without_warnings(nonneg):
    # A = 0: the Newton matrix is zero, Cholesky "succeeded" with a subnormal shift and the
    # direction was inf; the signed run retreated on NaN slopes for 500 steps, with a
    # RuntimeWarning at each, before the diagnosis said infeasible
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = hadamard_limit(np.zeros((5, 10)), np.ones(5), nonneg=nonneg)
    assert res.status is Status.INFEASIBLE and res.n_iter <= 2


# -- large init scales (the lazy regime) and extreme scales of y --------------------------
@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("a", [1e3, 1e4, 1e10, 1e40])
def test_large_init_scale_gives_the_minimum_norm_solution(depth, a):
    # as a -> oo the link is linear over the solution's range: the limit is the least
    # l2-norm solution (the kernel regime), to O(|x|^2 / a^(2L)) relative. Before, the
    # primitive's constant sum H(0) ~ n a^2 swamped the dual objective and 2 a^2 sinh(z)
    # was formed as a difference of two numbers ~a^2: stagnated (x = 0 or 1e-6 off)
    p = _signed_problem()
    A = p.A.to_dense()
    x_ls = np.linalg.lstsq(A, p.y, rcond=None)[0]
    r = hadamard_limit(p, depth=depth, init_scale=a)
    assert r.status is Status.CONVERGED, r.message
    assert rel(r.x, x_ls) < 1e-9
    assert r.info["init_scale"] == pytest.approx(a, rel=1e-12)
    # negative control: the minimal-l1 solution is far from it
    assert rel(basis_pursuit_lp(A, p.y), x_ls) > 1e-2


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("k", [-700, -300, 300, 600])
def test_limit_is_covariant_in_the_scale_of_y(depth, k):
    # x(A, c y, a) = c x(A, y, a c^(-1/L)): y ~ 2^-700 (1e-211) was read as y = 0 (its
    # squared norm underflows) and x = 0 returned as converged; y ~ 2^600 overflowed
    # (the reference at a moderate scale: for depth 3 at a' ~ 1e-33 float64 resolves x
    # only to ~1e-16 a'^(2-L), at y's scale or not)
    p = _signed_problem()
    a_ref = 1e-4 if depth == 2 else 1e-2
    a = a_ref * 2.0 ** (k / depth)
    ref = hadamard_limit(p.A, p.y, depth=depth, init_scale=a_ref)
    assert ref.status is Status.CONVERGED, ref.message
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        r = hadamard_limit(p.A, np.ldexp(p.y, k), depth=depth, init_scale=a)
    assert r.status is Status.CONVERGED, r.message
    assert np.max(np.abs(np.ldexp(r.x, -k) - ref.x)) <= 1e-8 * np.max(np.abs(ref.x))
    assert r.info["relative_residual"] <= 1e-10
    assert r.info["init_scale"] == pytest.approx(a, rel=1e-12)
    # the dual scales by c^((L-2)/L): z = A^T w on the original scale
    assert np.allclose(r.info["z"], p.A.rmatvec(r.info["w"]), rtol=1e-9, atol=0)


def test_huge_matrix_entries_skip_the_float32_copy_without_warnings():
    # a float32 copy of A ~ 1e150 is all inf: it overflowed with RuntimeWarnings at
    # every continuation step (the float64 fallback then still converged)
    p = _signed_problem()
    A = p.A.to_dense() * 2.0**500
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        r = hadamard_limit(A, p.y, init_scale=1e-6)
    assert r.status is Status.CONVERGED, r.message
    assert np.linalg.norm(A @ r.x - p.y) <= 1e-9 * np.linalg.norm(p.y)


def test_feasible_boundary_solution_is_not_certified_infeasible():
    # the unique x >= 0 solution has zeros: a late Newton direction met A^T d <= 0 with
    # <d, y> = 4.5e-13 > 0 (rounding of |d| . |y| = 2.4e4) and was taken as a Farkas
    # certificate (found by the permutation property test)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4)) / np.sqrt(3)
    x = np.zeros(4)
    k = rng.choice(4, size=2, replace=False)
    x[k] = np.abs(rng.standard_normal(2))
    y = A @ x
    ref, rnorm = scipy.optimize.nnls(A, y)
    assert rnorm < 1e-12  # feasible
    r = hadamard_limit(A, y, depth=3, init_scale=0.05, nonneg=True, tol=1e-12)
    assert r.status is Status.CONVERGED, r.message
    np.testing.assert_allclose(r.x, ref, atol=1e-9)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("j", [-400, -200, 200, 600])
def test_limit_is_covariant_in_the_scale_of_a_dense_matrix(depth, j):
    # x(c A, y, a) = x(A, y, a c^(1/L)) / c: A ~ 1e200 (a regressor's X in those units)
    # overflowed in A D A^T and stopped at max_iter after ~400 overflow warnings
    p = _signed_problem()
    a_ref = 1e-4 if depth == 2 else 1e-2
    c = 2.0**j
    ref = hadamard_limit(p.A, p.y, depth=depth, init_scale=a_ref)
    A = np.ldexp(p.A.to_dense(), j)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        r = hadamard_limit(A, np.ldexp(p.y, j // 2), depth=depth,
                           init_scale=a_ref * c ** (-1.0 / depth) * 2.0 ** (j / 2 / depth))
    assert r.status is Status.CONVERGED, r.message
    x = np.ldexp(r.x, j - j // 2)
    assert np.max(np.abs(x - ref.x)) <= 1e-8 * np.max(np.abs(ref.x))
    assert r.info["relative_residual"] <= 1e-10
    assert np.allclose(r.info["z"], A.T @ r.info["w"], rtol=1e-9, atol=0)


@pytest.mark.parametrize("depth, a, scale", [(3, 1e150, 1.0), (5, 1e50, 1.0), (2, 1e150, 2.0**332)])
def test_too_large_init_scale_is_refused_clearly(depth, a, scale):
    # the dual variable z ~ x / a^(2L-2) leaves the float64 range: a raw OverflowError
    # (depth 3 at 1e150), numerical_error (depth 5 at 1e50) or NaN x (depth 2 with A
    # ~ 1e100) before; the limit there is the least-norm solution
    p = _signed_problem()
    A = p.A.to_dense() * scale
    with np.errstate(over="raise", invalid="raise"):
        with pytest.raises(ValueError, match="too large for depth"):
            hadamard_limit(A, p.y / scale, depth=depth, init_scale=a)
    # just inside the bound it converges to the least-norm solution
    ok = 0.5 * np.exp(690.0 / (2 * (depth - 1)))
    r = hadamard_limit(p.A, p.y, depth=depth, init_scale=ok)
    assert r.status is Status.CONVERGED, r.message
    x_ls = np.linalg.lstsq(p.A.to_dense(), p.y, rcond=None)[0]
    assert rel(r.x, x_ls) < 1e-9


def test_auto_recovers_when_exact_newton_stagnates_on_badly_scaled_columns():
    """19 x 9, full column rank, column norms 0.009..83, depth 3: the exact Newton solves
    stalled at relative residual 1.8e-7 ('stagnated', blaming the tolerance or
    reachability) where 'newton-cg' converges. Oracle: the unique solution e_1."""
    rng = np.random.default_rng(46)
    A = rng.standard_normal((19, 9)) * np.exp(2 * rng.standard_normal(9))
    xt = np.zeros(9)
    xt[1] = 1.0
    res = hadamard_limit(A, A @ xt, depth=3, init_scale=1e-3)
    assert res.status is Status.CONVERGED, res.message
    np.testing.assert_allclose(res.x, xt, atol=1e-9)
    assert res.info["method"] == "newton-cg" and "stagnated" in res.message


@pytest.mark.parametrize("depth, a", [(3, 1e-20), (4, 1e-10), (3, 1e-100)])
def test_precision_floor_is_named_where_nothing_is_resolved(depth, a):
    """c = a^(2-L) >= 1e16: float64 resolves no digit of x (z sits within O(1) of c). The
    run stopped with 'the line search failed' ('the tolerance may be below what floating
    point allows, or y is not reachable') or 'the Newton matrix A D A^T is numerically
    zero or singular': neither named the init scale, the cause and the remedy."""
    p = sparse_recovery(60, 25, 4, seed=2)
    res = hadamard_limit(p, depth=depth, init_scale=a)
    assert not res.success
    assert "float64 resolves" in res.message and "larger init_scale" in res.message
    # negative control: a failure that is not the scale's (too few steps) does not name it
    short = hadamard_limit(p, depth=3, init_scale=1e-3, max_iter=2)
    assert short.status is Status.MAX_ITER and "float64 resolves" not in short.message
