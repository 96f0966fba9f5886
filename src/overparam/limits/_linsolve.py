"""Linear solvers for the Newton systems ``A diag(D) A^T d = b`` of the dual problems.

* :class:`CholeskySolver`: forms ``A D A^T`` and factors it (dense, small ``m^2 n``).
* :class:`PCGSolver`: conjugate gradients with matvecs only, preconditioned by
  ``P = mu I + A_K D_K A_K^T`` (applied by the Woodbury identity), where ``K`` holds the
  columns whose weight ``D_i ||a_i||^2`` stands out above ``mu``, the average weight of the
  remaining columns per row (``E[a a^T] = ||a||^2 I / m`` for incoherent columns). At a
  small initialization scale the weights ``D = h'(z)`` span many orders of magnitude and
  the few large ones (the emerging support) make ``A D A^T`` badly conditioned; ``P``
  captures them exactly and the bulk approximately.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg

from ..problems import Operator


class CholeskySolver:
    """Exact solves with the formed ``A D A^T`` (dense ``A`` only)."""

    name = "newton"

    def __init__(self, matrix: np.ndarray):
        self.A = matrix
        self.n_matvec = 0

    def solve(self, D: np.ndarray, b: np.ndarray, rtol: float) -> tuple[np.ndarray, int]:
        A = self.A
        Hs = (A * D) @ A.T
        shift = 0.0
        scale = float(np.trace(Hs)) / Hs.shape[0]
        for _ in range(4):
            try:
                c = scipy.linalg.cho_factor(
                    Hs + shift * np.eye(Hs.shape[0]) if shift else Hs,
                    lower=True, check_finite=False)
                return scipy.linalg.cho_solve(c, b, check_finite=False), 0
            except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
                shift = max(shift * 1e3, 1e-14 * max(scale, 1e-300))
        raise np.linalg.LinAlgError("the Newton matrix A D A^T is singular")


class _ColumnCache:
    """Columns ``A[:, K]`` of a matrix-free operator, computed once by matvecs with e_i."""

    def __init__(self, op: Operator):
        self.op = op
        self.cols: dict[int, np.ndarray] = {}

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        n = self.op.shape[1]
        out = np.empty((self.op.shape[0], idx.size))
        for j, i in enumerate(idx):
            col = self.cols.get(int(i))
            if col is None:
                e = np.zeros(n)
                e[i] = 1.0
                col = self.op.matvec(e)
                self.cols[int(i)] = col
            out[:, j] = col
        return out


class PCGSolver:
    """Preconditioned CG on ``A D A^T d = b`` with matvecs only."""

    name = "newton-cg"

    def __init__(
        self,
        matvec: Callable[[np.ndarray], np.ndarray],
        rmatvec: Callable[[np.ndarray], np.ndarray],
        shape: tuple[int, int],
        *,
        columns: Callable[[np.ndarray], np.ndarray],
        col_sqnorms: np.ndarray,
        max_cg: int = 500,
        max_cols: int | None = None,
    ):
        self.matvec, self.rmatvec = matvec, rmatvec
        self.m, self.n = shape
        self.columns = columns
        self.c2 = col_sqnorms
        self.max_cg = max_cg
        self.max_cols = max_cols if max_cols is not None else max(1, (2 * self.m) // 3)
        self.n_matvec = 0
        self._pos: dict[int, int] = {}
        self._nc = 0
        self._cols = np.empty((self.m, 0))
        self._G = np.empty((0, 0))

    # -- preconditioner ----------------------------------------------------------------
    def _preconditioner(self, D: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        m = self.m
        wgt = D * self.c2
        total = float(wgt.sum())
        kmax = min(self.max_cols, wgt.size)
        # candidates: the kmax largest weights, sorted in decreasing order
        if kmax < wgt.size:
            cand = np.argpartition(wgt, -kmax)[-kmax:]
        else:
            cand = np.arange(wgt.size)
        cand = cand[np.argsort(wgt[cand])[::-1]]
        wc = wgt[cand]
        # smallest k with wgt[k-th] <= 2 * (total - sum of the top k) / m
        rest = total - np.cumsum(wc)
        ok = wc <= 2.0 * np.maximum(rest, 0.0) / m
        k = int(np.argmax(ok)) if np.any(ok) else kmax
        K = cand[:k]
        mu = max(float(total - wc[:k].sum()) / m, 1e-13 * float(wc[0]) if wc.size else 1e-300,
                 1e-300)
        if k == 0:
            return lambda r: r / mu
        AK, M = self._gram(K)
        M[np.diag_indices_from(M)] += mu / D[K]
        try:
            c = scipy.linalg.cho_factor(M, lower=True, check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            M[np.diag_indices_from(M)] += 1e-10 * float(np.trace(M)) / k
            c = scipy.linalg.cho_factor(M, lower=True, check_finite=False)

        def apply(r: np.ndarray) -> np.ndarray:
            return (r - AK @ scipy.linalg.cho_solve(c, AK.T @ r, check_finite=False)) / mu

        self.last_k = k
        return apply

    def _gram(self, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A_K, A_K^T A_K)``, reusing the Gram entries of columns seen before (the
        selected set changes slowly between Newton steps)."""
        pos = self._pos
        new = np.array([i for i in K.tolist() if i not in pos], dtype=np.int64)
        if new.size:
            Anew = self.columns(new)
            cross = Anew.T @ self._cols[:, : self._nc] if self._nc else np.empty((new.size, 0))
            gnew = Anew.T @ Anew
            nc, nn = self._nc, new.size
            if nc + nn > self._cols.shape[1]:
                cap = max(2 * (nc + nn), 64)
                cols = np.empty((self.m, cap))
                cols[:, :nc] = self._cols[:, :nc]
                G = np.empty((cap, cap))
                G[:nc, :nc] = self._G[:nc, :nc]
                self._cols, self._G = cols, G
            self._cols[:, nc:nc + nn] = Anew
            self._G[nc:nc + nn, :nc] = cross
            self._G[:nc, nc:nc + nn] = cross.T
            self._G[nc:nc + nn, nc:nc + nn] = gnew
            for j, i in enumerate(new.tolist()):
                pos[i] = nc + j
            self._nc = nc + nn
        idx = np.fromiter((pos[i] for i in K.tolist()), dtype=np.int64, count=K.size)
        return self._cols[:, idx], self._G[np.ix_(idx, idx)]

    # -- solve -------------------------------------------------------------------------
    def solve(self, D: np.ndarray, b: np.ndarray, rtol: float) -> tuple[np.ndarray, int]:
        A = self.A
        Hs = (A * D) @ A.T
        shift = 0.0
        scale = float(np.trace(Hs)) / Hs.shape[0]
        for _ in range(4):
            try:
                c = scipy.linalg.cho_factor(
                    Hs + shift * np.eye(Hs.shape[0]) if shift else Hs,
                    lower=True, check_finite=False)
                return scipy.linalg.cho_solve(c, b, check_finite=False), 0
            except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
                shift = max(shift * 1e3, 1e-14 * max(scale, 1e-300))
        raise np.linalg.LinAlgError("the Newton matrix A D A^T is singular")


class _ColumnCache:
    """Columns ``A[:, K]`` of a matrix-free operator, computed once by matvecs with e_i."""

    def __init__(self, op: Operator):
        self.op = op
        self.cols: dict[int, np.ndarray] = {}

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        n = self.op.shape[1]
        out = np.empty((self.op.shape[0], idx.size))
        for j, i in enumerate(idx):
            col = self.cols.get(int(i))
            if col is None:
                e = np.zeros(n)
                e[i] = 1.0
                col = self.op.matvec(e)
                self.cols[int(i)] = col
            out[:, j] = col
        return out


class PCGSolver:
    """Preconditioned CG on ``A D A^T d = b`` with matvecs only."""

    name = "newton-cg"

    def __init__(
        self,
        matvec: Callable[[np.ndarray], np.ndarray],
        rmatvec: Callable[[np.ndarray], np.ndarray],
        shape: tuple[int, int],
        *,
        columns: Callable[[np.ndarray], np.ndarray],
        col_sqnorms: np.ndarray,
        max_cg: int = 500,
        max_cols: int | None = None,
    ):
        self.matvec, self.rmatvec = matvec, rmatvec
        self.m, self.n = shape
        self.columns = columns
        self.c2 = col_sqnorms
        self.max_cg = max_cg
        self.max_cols = max_cols if max_cols is not None else max(1, (2 * self.m) // 3)
        self.n_matvec = 0
        self._pos: dict[int, int] = {}
        self._nc = 0
        self._cols = np.empty((self.m, 0))
        self._G = np.empty((0, 0))

    # -- preconditioner ----------------------------------------------------------------
    def _preconditioner(self, D: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        m = self.m
        wgt = D * self.c2
        total = float(wgt.sum())
        kmax = min(self.max_cols, wgt.size)
        # candidates: the kmax largest weights, sorted in decreasing order
        if kmax < wgt.size:
            cand = np.argpartition(wgt, -kmax)[-kmax:]
        else:
            cand = np.arange(wgt.size)
        cand = cand[np.argsort(wgt[cand])[::-1]]
        wc = wgt[cand]
        # smallest k with wgt[k-th] <= 2 * (total - sum of the top k) / m
        rest = total - np.cumsum(wc)
        ok = wc <= 2.0 * np.maximum(rest, 0.0) / m
        k = int(np.argmax(ok)) if np.any(ok) else kmax
        K = cand[:k]
        mu = max(float(total - wc[:k].sum()) / m, 1e-13 * float(wc[0]) if wc.size else 1e-300,
                 1e-300)
        if k == 0:
            return lambda r: r / mu
        AK, M = self._gram(K)
        M[np.diag_indices_from(M)] += mu / D[K]
        try:
            c = scipy.linalg.cho_factor(M, lower=True, check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            M[np.diag_indices_from(M)] += 1e-10 * float(np.trace(M)) / k
            c = scipy.linalg.cho_factor(M, lower=True, check_finite=False)

        def apply(r: np.ndarray) -> np.ndarray:
            return (r - AK @ scipy.linalg.cho_solve(c, AK.T @ r, check_finite=False)) / mu

        self.last_k = k
        return apply

    def _gram(self, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(A_K, A_K^T A_K)``, reusing the Gram entries of columns seen before (the
        selected set changes slowly between Newton steps)."""
        pos = self._pos
        new = np.array([i for i in K.tolist() if i not in pos], dtype=np.int64)
        if new.size:
            Anew = self.columns(new)
            cross = Anew.T @ self._cols[:, : self._nc] if self._nc else np.empty((new.size, 0))
            gnew = Anew.T @ Anew
            nc, nn = self._nc, new.size
            if nc + nn > self._cols.shape[1]:
                cap = max(2 * (nc + nn), 64)
                cols = np.empty((self.m, cap))
                cols[:, :nc] = self._cols[:, :nc]
                G = np.empty((cap, cap))
                G[:nc, :nc] = self._G[:nc, :nc]
                self._cols, self._G = cols, G
            self._cols[:, nc:nc + nn] = Anew
            self._G[nc:nc + nn, :nc] = cross
            self._G[:nc, nc:nc + nn] = cross.T
            self._G[nc:nc + nn, nc:nc + nn] = gnew
            for j, i in enumerate(new.tolist()):
                pos[i] = nc + j
            self._nc = nc + nn
        idx = np.fromiter((pos[i] for i in K.tolist()), dtype=np.int64, count=K.size)
        return self._cols[:, idx], self._G[np.ix_(idx, idx)]

    # -- solve -------------------------------------------------------------------------
    def _hessian_matvec(self, D: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """``v -> A D A^T v``; with a dense matrix, the columns carrying a fraction below
        ``prune`` of the total weight are left out (an inexact Hessian: the Newton
        iteration still converges to the exact solution because its gradient is exact)."""
        if self.dense is None or self.prune <= 0.0:
            mv, rmv = self.matvec, self.rmatvec
            return lambda v: mv(D * rmv(v))
        wgt = D * self.c2
        order = np.argsort(wgt)
        csum = np.cumsum(wgt[order])
        n_drop = int(np.searchsorted(csum, self.prune * csum[-1], side="right"))
        if n_drop < 0.3 * wgt.size:
            mv, rmv = self.matvec, self.rmatvec
            return lambda v: mv(D * rmv(v))
        keep = np.sort(order[n_drop:])
        As = self.dense[:, keep]
        Ds = D[keep]
        # the left-out columns, on average: sum_i D_i a_i a_i^T ~ (sum_i D_i ||a_i||^2 / m) I
        mu_drop = float(csum[n_drop - 1]) / self.m if n_drop else 0.0
        return lambda v: As @ (Ds * (v @ As)) + mu_drop * v

    def solve(self, D: np.ndarray, b: np.ndarray, rtol: float) -> tuple[np.ndarray, int]:
        prec = self._preconditioner(D)
        mv, rmv = self.matvec, self.rmatvec
        x = np.zeros_like(b)
        r = b.copy()
        bn = float(np.linalg.norm(b))
        if bn == 0.0:
            return x, 0
        zt = prec(r)
        p = zt.copy()
        rz = float(r @ zt)
        it = 0
        for it in range(1, self.max_cg + 1):
            Hp = mv(D * rmv(p))
            self.n_matvec += 2
            pHp = float(p @ Hp)
            if not pHp > 0.0:
                break
            alpha = rz / pHp
            x += alpha * p
            r -= alpha * Hp
            if float(np.linalg.norm(r)) <= rtol * bn:
                break
            zt = prec(r)
            rz_new = float(r @ zt)
            p = zt + (rz_new / rz) * p
            rz = rz_new
        return x, it
