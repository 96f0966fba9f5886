"""Adversarial inputs for hadamard_limit and the baselines (basis pursuit, lasso, nnls):
regression tests for silent wrong answers and raw solver errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse

from overparam import Status
from overparam.baselines import basis_pursuit, lasso, nnls


def _row_scaled_problem(seed: int, nonneg: bool):
    """A 10 x 20 sparse-recovery problem and the same system with its rows (and y_i)
    multiplied by factors spanning 1e-7..1e7 (the same feasible set and solution)."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((10, 20))
    x = np.zeros(20)
    x[rng.choice(20, 3, replace=False)] = rng.standard_normal(3)
    y = A @ (np.abs(x) if nonneg else x)
    D = 10.0 ** rng.uniform(-7, 7, 10)
    return A, y, D[:, None] * A, D * y


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("nonneg", [False, True])
def test_bp_highs_rows_of_different_scales(nonneg, sparse):
    # HiGHS's feasibility tolerance is absolute: with the rows of (A, y) scaled by
    # 1e-7..1e7 the small rows were left unsolved and "optimal" came back with a
    # relative residual of 0.78 in the unscaled system (l1 norm 35% below the minimum)
    A, y, DA, Dy = _row_scaled_problem(2, nonneg)
    ref = basis_pursuit(A, y, nonneg=nonneg)
    res = basis_pursuit(scipy.sparse.csr_array(DA) if sparse else DA, Dy, nonneg=nonneg)
    assert ref.status is Status.CONVERGED and res.status is Status.CONVERGED
    assert np.linalg.norm(A @ res.x - y) <= 1e-8 * np.linalg.norm(y)
    assert np.max(np.abs(res.x - ref.x)) <= 1e-7 * np.max(np.abs(ref.x))
    assert res.fun == pytest.approx(ref.fun, rel=1e-8)
    # the dual still certifies optimality for the system as given
    w = res.info["dual"]
    g = DA.T @ w
    assert (np.max(g) if nonneg else np.max(np.abs(g))) <= 1 + 1e-7
    assert float(Dy @ w) == pytest.approx(res.fun, rel=1e-7)


def test_bp_highs_row_scaling_leaves_callers_sparse_matrix_alone():
    A, y, DA, Dy = _row_scaled_problem(3, False)
    S = scipy.sparse.csr_array(DA)
    before = S.data.copy()
    basis_pursuit(S, Dy)
    np.testing.assert_array_equal(S.data, before)


@pytest.mark.parametrize("c", [1e-170, 1e-250, 1e300])
def test_nnls_tiny_or_huge_a_and_y_together(c):
    # SciPy's absolute tests: A and y both ~1e-170 (x ~ 1) gave x = 0 "converged" with a
    # relative residual of 1; at 1e300 the reported gradient A^T r warned of overflow
    rng = np.random.default_rng(1)
    A = rng.standard_normal((8, 12))
    y = A @ np.maximum(rng.standard_normal(12), 0.0)
    ref, _ = scipy.optimize.nnls(A, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = nnls(c * A, c * y)
    assert res.status is Status.CONVERGED
    assert np.max(np.abs(res.x - ref)) <= 1e-10 * np.max(np.abs(ref))
    assert res.info["relative_residual"] <= 1e-10
    assert res.info["gradient"].shape == (12,)  # (inf at 1e300: A^T r ~ 1e584)


@pytest.mark.parametrize("solver", ["bp", "lasso", "nnls"])
@pytest.mark.parametrize("max_iter", [2**31, 2**40, 10**30])
def test_max_iter_beyond_a_c_int_is_no_cap(solver, max_iter):
    # the solvers take a C int: a bare TypeError (HiGHS options) or OverflowError
    # (scikit-learn, SciPy nnls) for a "practically unlimited" cap
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 10))
    y = A[:, 0] + 0.5 * A[:, 3]
    call = {"bp": lambda: basis_pursuit(A, y, max_iter=max_iter),
            "lasso": lambda: lasso(A, y, alpha=1e-2, max_iter=max_iter),
            "nnls": lambda: nnls(A, y, max_iter=max_iter)}[solver]
    assert call().status is Status.CONVERGED


@pytest.mark.parametrize("max_iter", [10**7 + 1, 2**31, 10**12])
def test_spgl1_refuses_a_cap_whose_history_it_would_allocate(max_iter):
    # SPGL1 allocates 24 bytes of history per iteration in advance: 10**12 asked numpy
    # for 24 TB (a bare MemoryError); options={"iter_lim": ...} is checked the same way
    pytest.importorskip("spgl1")
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 10))
    y = A[:, 0]
    with pytest.raises(ValueError, match="max_iter=.*spgl1.*10000000"):
        basis_pursuit(A, y, method="spgl1", max_iter=max_iter)
    with pytest.raises(ValueError, match="spgl1"):
        basis_pursuit(A, y, method="spgl1", options={"iter_lim": max_iter})
    assert basis_pursuit(A, y, method="spgl1", max_iter=10**4).status is Status.CONVERGED
