"""Adversarial checks of the classical baselines other than basis pursuit, lasso and NNLS
(projected gradient, sparse eigenvectors, nuclear norm, row-sparse low rank): each one
failed before its fix (what happened is said in the test)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator

from overparam import Status
from overparam.baselines import (eigsh_truncated, nuclear_norm_cvxpy, nuclear_norm_prox,
                                 truncated_power)
from overparam.problems import Problem, matrix_completion, matrix_sensing


def _sym(n, eigenvalues, seed=0):
    Q = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))[0]
    A = (Q * np.asarray(eigenvalues, dtype=float)) @ Q.T
    return (A + A.T) / 2


# ----------------------------------------------------------------------- nuclear_norm_prox
@pytest.mark.parametrize("lam", [None, 0.5])
def test_nuclear_norm_prox_zero_operator_returns_the_zero_minimizer(lam):
    # before: the step 1 / ||A||^2 raised a bare ZeroDivisionError for A = 0; W = 0 is the
    # penalized problem's minimizer (every W fits equally badly) and the continuation's limit
    y = np.arange(1.0, 5.0)
    p = Problem(np.zeros((4, 6)), y, info={"matrix_shape": (2, 3)})
    res = nuclear_norm_prox(p, lam=lam)
    assert res.status is Status.CONVERGED
    assert res.x.shape == (2, 3) and not np.any(res.x)
    assert res.info["relative_residual"] == pytest.approx(1.0)
    # constrained: ||W||_* = 0; penalized: 0.5 ||y||^2 (the objective at W = 0)
    assert res.fun == pytest.approx(0.0 if lam is None else 0.5 * float(y @ y))


def test_nuclear_norm_prox_reports_the_penalty_it_stopped_at():
    # before: info["lam"] was the continuation's target (1e-7 ||A^*(y)||_2) also when
    # max_iter stopped it in the first stage, at lam = 0.5 ||A^*(y)||_2: W belongs to the
    # latter; a penalized run from that lam to convergence is the oracle
    p = matrix_sensing(4, 3, 1, 8, seed=0, matrix_free=False)
    lam_max = float(np.linalg.norm(p.A.rmatvec(p.y).reshape(4, 3), 2))
    res = nuclear_norm_prox(p, max_iter=3)
    assert res.status is Status.MAX_ITER
    assert res.info["lam"] == pytest.approx(0.5 * lam_max, rel=1e-12)
    full = nuclear_norm_prox(p)
    assert full.status is Status.CONVERGED
    assert full.info["lam"] == pytest.approx(1e-7 * lam_max, rel=1e-6)   # (the target)


# ----------------------------------------------------------------------- nuclear_norm_cvxpy
@pytest.mark.filterwarnings("ignore:Solution may be inaccurate:UserWarning")  # CVXPY's
def test_nuclear_norm_cvxpy_status_at_the_solvers_iteration_limit():
    # before: CVXPY's "user_limit" (Clarabel stopped at max_iter=3) was NUMERICAL_ERROR ("a
    # singular system or a failed line search") with x = 0, although the solver returned
    # its last point
    pytest.importorskip("cvxpy")
    p = matrix_completion(6, 5, 2, 20, seed=0)
    ref = nuclear_norm_cvxpy(p)
    assert ref.status is Status.CONVERGED and ref.info["cvxpy_status"] == "optimal"
    cut = nuclear_norm_cvxpy(p, solver="CLARABEL", max_iter=3)
    assert cut.status is Status.MAX_ITER and cut.info["cvxpy_status"] == "user_limit"
    assert "iteration" in cut.message and not cut.success
    # the solver's point, scaled back: it nearly fits y (the constraint is linear), and is
    # near the answer, but not at it (why it is not CONVERGED)
    assert cut.info["relative_residual"] < 1e-6
    gap = np.abs(cut.x - ref.x).max()
    assert 1e-4 < gap < 0.1
    assert cut.fun == pytest.approx(np.linalg.svd(cut.x, compute_uv=False).sum(), rel=1e-3)


# ----------------------------------------------------------------------- sparse eigen
@pytest.mark.parametrize("solver", [eigsh_truncated, truncated_power])
def test_eigen_baselines_refuse_a_masked_matrix(solver):
    # before: np.asarray dropped the mask, and the hidden diagonal (here 100, where the
    # unmasked matrix has eigenvalues 4, -3, ...) was solved for: top eigenvalue ~100
    A = _sym(8, [4, -3, 2, 1, 0.5, 0.2, 0.1, 0.0])
    hidden = A.copy()
    hidden[np.diag_indices(8)] = 100.0
    masked = np.ma.masked_array(hidden, mask=np.eye(8, dtype=bool))
    with pytest.raises(ValueError, match="masked"):
        solver(masked, 1, 8)
    # a mask that hides nothing is the matrix itself
    ok = solver(np.ma.masked_array(A, mask=False), 1, 8)
    assert ok.info["eigenvalues"][0] == pytest.approx(4.0, rel=1e-8)


def test_eigsh_truncated_float32_operator_in_double_precision():
    # before: eigsh took ARPACK's precision from the operator's dtype: for
    # aslinearoperator(A32) the eigenvalues were off by 4.5e-7 (and x was float32) while
    # A32 itself, cast to float64, gave them to 1e-15
    A32 = _sym(12, [4, -3, 2, 1, .5, .2, .1, .05, 0, 0, 0, 0]).astype(np.float32)
    w = np.linalg.eigvalsh(A32.astype(np.float64))
    w = w[np.argsort(-np.abs(w))][:3]
    res = eigsh_truncated(aslinearoperator(A32), 3, 12)
    assert res.x.dtype == np.float64
    np.testing.assert_allclose(res.info["eigenvalues"], w, rtol=0, atol=1e-12)
    dense = eigsh_truncated(A32, 3, 12)
    np.testing.assert_allclose(np.abs(res.x), np.abs(dense.x), rtol=0, atol=1e-10)
