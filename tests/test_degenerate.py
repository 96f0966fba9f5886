"""Degenerate but valid sparse-recovery problems: the solvers against independent oracles
(HiGHS linear programs for min-l1 and feasibility, scipy.optimize.nnls, lstsq)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from overparam import hadamard_limit


def _feasible_nonneg(A, y) -> bool:
    lp = scipy.optimize.linprog(np.zeros(A.shape[1]), A_eq=A, b_eq=y, bounds=(0, None),
                                method="highs")
    return lp.status == 0


def _gordan_matrix():
    """A 4 x 10 Gaussian matrix with no non-zero x >= 0 in its null space (checked by LP):
    the non-negative flow with y = 0 then tends to x = 0."""
    A = np.random.default_rng(6).standard_normal((4, 10))
    assert not _feasible_nonneg(np.vstack([A, np.ones(10)]), np.r_[np.zeros(4), 1.0])
    return A


@pytest.mark.parametrize("init_scale", [1e-3, 1e-4, 1e-6])
def test_limit_zero_measurements_nonneg_no_null_vector(init_scale):
    # y = 0, x = a^2 exp(A^T w) (L = 2) and no x >= 0, x != 0 with A x = 0: the flow tends
    # to x = 0 (the dual infimum is not attained). z does not depend on the scale, yet the
    # continuation crept from a = 1 and stopped at max_iter = 500 short of the target
    # (all three scales; 7 of 10 such matrices among seeds 0..39)
    A = _gordan_matrix()
    res = hadamard_limit(A, np.zeros(4), nonneg=True, init_scale=init_scale)
    assert res.success, res.message
    # x = 0 to the tolerance: ||A x|| far below the residual of the starting point a^2 1
    assert np.linalg.norm(A @ res.x) <= 1e-9 * init_scale**2 * np.linalg.norm(A.sum(axis=1))
    assert np.abs(res.x).sum() <= 1e-6 * init_scale**2 * A.shape[1]


def _graded_columns(seed):
    """Columns with norms from 1e-6 to 1e6 and y = 1e3 a_3 + 1e-6 a_11: feasible for
    x >= 0."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((5, 12)) * np.logspace(-6, 6, 12)
    y = A[:, 3] * 1e3 + A[:, 11] * 1e-6
    assert _feasible_nonneg(A, y)  # the oracle, on A as it is
    return A, y


@pytest.mark.parametrize("seed", [3, 7])
def test_limit_graded_columns_feasible_not_called_infeasible(seed):
    # the feasibility LP that confirms "infeasible" was posed for A / max|A|: columns of
    # norm ~1e-6 .. 1e-3 became entries below HiGHS's small-matrix-value threshold (1e-9)
    # and were dropped, and a feasible problem was reported "no x >= 0 solves A x = y
    # (confirmed by a HiGHS feasibility LP)"
    A, y = _graded_columns(seed)
    res = hadamard_limit(A, y, nonneg=True, init_scale=1e-4)
    assert res.status.value != "infeasible", res.message


def test_limit_stall_off_target_says_where():
    # graded columns, non-negative, L = 2: the continuation creeps to a halt short of the
    # requested scale (known limitation) and the run stagnates there. The message read
    # "the relative residual stalls at 9.5e-02 > tol", as if x were the limit at the
    # requested init_scale, while info["init_scale"] was 2e-4, not 1e-4
    A, y = _graded_columns(0)
    res = hadamard_limit(A, y, nonneg=True, init_scale=1e-4)
    if res.success:  # (a future solver may get there: nothing to check then)
        return
    if not np.isclose(res.info["init_scale"], 1e-4):
        assert "continuation path" in res.message, res.message
        assert f"{res.info['init_scale']:.3g}" in res.message, res.message


def _dependent_rows(seed, kind):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((6, 12))
    xt = np.zeros(12)
    xt[rng.choice(12, 2, replace=False)] = rng.random(2) + 0.5
    extra = 3.0 * A[1] if kind == "proportional" else A[0] + A[2]
    return A, np.vstack([A, extra]), xt


@pytest.mark.parametrize("seed, kind, nonneg, depth, init_scale", [
    (5, "sum", False, 2, 1e-5),
    (5, "sum", False, 3, 10**-2.5),
    (24, "proportional", True, 3, 10**-1.5),
])
def test_limit_dependent_rows_converges_to_full_rank_limit(seed, kind, nonneg, depth,
                                                            init_scale):
    # rank(A) < m <= n with y in range(A): A D A^T is singular and rounding in the
    # Newton right-hand side's null(A^T) component swamped d (stagnated at a relative
    # residual 1.6e-10..3.4e-10 > tol = 1e-10). The limit depends on range(A^T) and the
    # solution set only, so it is the limit for the rows without the dependent one
    A, Ad, xt = _dependent_rows(seed, kind)
    res = hadamard_limit(Ad, Ad @ xt, nonneg=nonneg, depth=depth, init_scale=init_scale)
    ref = hadamard_limit(A, A @ xt, nonneg=nonneg, depth=depth, init_scale=init_scale)
    assert ref.success, ref.message
    assert res.success, res.message
    assert np.linalg.norm(res.x - ref.x) <= 1e-6 * np.linalg.norm(ref.x)


@pytest.mark.parametrize("shape", [(3, 2, 1), (10, 4, 2), (8, 5, 3)])
@pytest.mark.parametrize("nonneg", [False, True])
def test_limit_rank_deficient_overdetermined_equals_the_reduced_problem(shape, nonneg):
    # m > n with rank(A) < n, y in range(A): the thin QR's R was singular and the Newton
    # solve (a shifted Cholesky) stagnated, e.g. a 3 x 2 rank-1 A at a relative residual
    # ~1e-2 (88 of 120 such runs; 91/120 for 8 x 5 rank 3). The flow on ||A x - y||^2 is
    # the flow on ||U_r^T (A x - y)||^2 (A^T (A x - y) = A^T U_r U_r^T (A x - y)): the
    # same limit as the full-row-rank problem U_r^T A x = U_r^T y
    m, n, r = shape
    rng = np.random.default_rng(m * 100 + n * 10 + r)
    A = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
    x0 = rng.standard_normal(n)
    y = A @ (np.abs(x0) if nonneg else x0)
    U = np.linalg.svd(A, full_matrices=False)[0][:, :r]
    for depth in (2, 3):
        res = hadamard_limit(A, y, depth=depth, nonneg=nonneg, init_scale=1e-3)
        ref = hadamard_limit(U.T @ A, U.T @ y, depth=depth, nonneg=nonneg, init_scale=1e-3)
        assert res.success, res.message
        assert ref.success, ref.message
        np.testing.assert_allclose(res.x, ref.x, rtol=0, atol=1e-8 * np.abs(ref.x).max())
