"""Independent oracles for solver tests (never the code under test).

Each oracle solves its problem by a formulation different from the library's.
"""
from __future__ import annotations

import numpy as np
import scipy.optimize


def basis_pursuit_lp(A: np.ndarray, y: np.ndarray, nonneg: bool = False) -> np.ndarray:
    """min ||x||_1 s.t. Ax = y by HiGHS on the split LP x = p - q, p, q >= 0
    (or min 1^T x, x >= 0 for the non-negative variant)."""
    m, n = A.shape
    if nonneg:
        res = scipy.optimize.linprog(np.ones(n), A_eq=A, b_eq=y, bounds=(0, None),
                                     method="highs")
        assert res.status == 0, res.message
        return res.x
    res = scipy.optimize.linprog(np.ones(2 * n), A_eq=np.hstack([A, -A]), b_eq=y,
                                 bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return res.x[:n] - res.x[n:]


def nnls(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min ||Ax - y|| s.t. x >= 0 by SciPy's Lawson-Hanson."""
    return scipy.optimize.nnls(A, y, maxiter=50 * A.shape[1])[0]


def min_l1_brute_force(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """min-l1 solution of Ax = y by enumerating supports of size m (tiny problems only):
    an LP optimum is attained at a basic solution."""
    import itertools

    m, n = A.shape
    best, best_x = np.inf, None
    for S in itertools.combinations(range(n), m):
        sub = A[:, S]
        if abs(np.linalg.det(sub)) < 1e-12:
            continue
        x = np.zeros(n)
        x[list(S)] = np.linalg.solve(sub, y)
        if np.abs(x).sum() < best - 1e-12:
            best, best_x = np.abs(x).sum(), x
    return best_x


def operator_zoo() -> dict:
    """One small instance of every operator class (and adjoints of a dense, a transform
    and a complex one), for tests that check each against its dense matrix."""
    import scipy.sparse as sp

    from overparam.problems import (GaussianSensing, LinearOperatorAdapter, MatrixIdentity,
                                    fourier_rank_one, gaussian, gaussian_rank_one,
                                    matrix_completion, partial_dct, rademacher,
                                    subsampled_fft)
    from overparam.problems import operators as ops
    from overparam.problems.regression import Identity

    rng = np.random.default_rng(3)
    return {
        "gaussian": gaussian(7, 11, 0),
        "rademacher": rademacher(7, 11, 0),
        "dct": partial_dct(5, 11, 0),
        "fft": subsampled_fft(6, 11, 0),
        "identity": MatrixIdentity(3, 4),
        "regression_identity": Identity(5),
        "mask": matrix_completion(4, 5, 1, 7, seed=0).A,
        "sensing": GaussianSensing(3, 4, 9, 0),
        "sensing_free": GaussianSensing(3, 4, 9, 0, matrix_free=True, block=4),
        "rank_one": gaussian_rank_one(3, 4, 6, 0),
        "fourier_rank_one": fourier_rank_one(3, 4, 6, 0),
        "sparse": LinearOperatorAdapter(sp.random(6, 9, density=0.5, random_state=0)),
        "dct_adjoint": partial_dct(5, 11, 0).T,
        "dense_adjoint": ops.DenseOperator(rng.standard_normal((5, 8))).T,
        "fft_adjoint": subsampled_fft(6, 11, 0).T,
        "fourier_rank_one_adjoint": fourier_rank_one(3, 4, 6, 0).T,
    }
