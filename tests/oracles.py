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
