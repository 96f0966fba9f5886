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

import math
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.sparse

from .._core.norms import pow2_exponent
from ..problems import Operator

# entries (m per column, float64) the preconditioner's column cache may hold: m / 5 columns
# of m rows, kept up to 3x over, took 2.6 GB at m = 1e5 (n = 1e6 partial DCT: a
# MemoryError) and ~0.4 GB at m = 1e4; bounded at 3e7 entries (240 MB), max_cols = 1e7 / m
# for m > ~7000 (m / 5 below, unchanged)
_CACHE_MAX_ENTRIES = 30_000_000


class CholeskySolver:
    """Exact solves with the formed ``A D A^T`` (dense ``A`` only)."""

    name = "newton"

    def __init__(self, matrix: np.ndarray):
        self.A = matrix
        self.n_matvec = 0
        self.last_atd = None  # A^T d is one product here: the caller forms it
        # rank(A) < m (m > n always; or dependent rows): A D A^T is singular, and rounding
        # in the right-hand side's component in null(A^T) (~1e-16 ||y||) divided by its
        # ~1e-16 ||H|| eigenvalues swamps d once the residual is small (measured: "no
        # descent direction" at a relative residual 1e-9 for m > n; consistent systems
        # with duplicate or dependent rows stagnated at 2e-10..4e-10 > tol = 1e-10, a 3 x 2
        # rank-1 one at 1e-2). With A = U_r S_r V_r^T (its numerical rank r),
        # A D A^T = U_r (R D R^T) U_r^T for R = U_r^T A: solve the r x r system on range(A)
        self.Q: np.ndarray | None = None
        self.R: np.ndarray | None = None
        m, n = matrix.shape
        if m > 1:
            U, sig, _ = scipy.linalg.svd(matrix, full_matrices=False, check_finite=False)
            r = int(np.count_nonzero(sig > max(m, n) * np.finfo(float).eps * sig[0])) \
                if sig.size and sig[0] > 0 else 0
            if 0 < r < m:
                self.Q = U[:, :r]
                self.R = self.Q.T @ matrix
        self.col_sqnorms = np.einsum("ij,ij->j", matrix, matrix)

    def solve(self, D: np.ndarray, b: np.ndarray, rtol: float) -> tuple[np.ndarray, int]:
        if self.Q is not None:
            R = self.R
            d, k = self._factor_solve((R * D) @ R.T, self.Q.T @ b)
            return self.Q @ d, k
        A = self.A
        return self._factor_solve((A * D) @ A.T, b)

    def solve_least_norm(self, D: np.ndarray, b: np.ndarray,
                         active: np.ndarray) -> tuple[np.ndarray, int]:
        """Least-norm solution of ``A_K diag(D_K) A_K^T d = b`` on the columns ``K = active``.

        For Newton matrices that are numerically singular because most weights are
        negligible (a non-negative dual that is not attained: ``D -> 0`` off the support):
        the columns outside ``K`` are left out, and with fewer than ``m`` columns ``d`` has
        no component in null(A_K^T), the directions along which the dual diverges. With
        ``B = A_K diag(D_K)^(1/2) = U S V^T``, ``d = U S^-2 U^T b``: the SVD works on ``B``,
        at the square root of the condition number of ``B B^T``, and drops singular values
        below ``1e-10 * S_max`` (weights ``D`` resolved to no digit in ``B B^T``).
        """
        B = self.A[:, active] * np.sqrt(D[active])
        if B.shape[1] == 0:
            return np.zeros_like(b), 0
        U, sig, _ = scipy.linalg.svd(B, full_matrices=False, check_finite=False)
        keep = sig > 1e-10 * sig[0]
        U, sig = U[:, keep], sig[keep]
        return U @ ((U.T @ b) / sig ** 2), 0

    @staticmethod
    def _factor_solve(Hs: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
        """Cholesky solve of ``Hs d = b``, with a growing diagonal shift if it is singular."""
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
    """Columns ``A[:, K]`` of a matrix-free operator, computed once by matvecs with e_i
    (sliced from a stored sparse matrix).

    Holds at most ``max_entries`` numbers: it copies the columns the preconditioner
    keeps (which it rebuilds from time to time), and grew by every column ever selected
    (an unbounded second copy of the preconditioner's cache)."""

    def __init__(self, op: Operator, max_entries: int = _CACHE_MAX_ENTRIES):
        self.op = op
        self.cols: dict[int, np.ndarray] = {}
        self.max_cols = max(1, max_entries // max(op.shape[0], 1))
        # a stored sparse matrix gives its columns directly, from a CSC copy (nnz-sized):
        # a product with e_i costs a pass over all nonzeros (measured: 2.0 of
        # hadamard_limit's 6.2 s at n = 1e5, m = 1e4 with 1e6 nonzeros)
        stored = getattr(getattr(op, "linop", None), "A", None)
        self.csc = scipy.sparse.csc_array(stored) if scipy.sparse.issparse(stored) else None

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        n = self.op.shape[1]
        if self.csc is not None:
            return np.asarray(self.csc[:, idx].toarray(), dtype=np.float64)
        out = np.empty((self.op.shape[0], idx.size))
        for j, i in enumerate(idx):
            col = self.cols.get(int(i))
            if col is None:
                e = np.zeros(n)
                e[i] = 1.0
                col = self.op.matvec(e)
                if len(self.cols) >= self.max_cols:
                    self.cols.clear()
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
        single: np.ndarray | None = None,
    ):
        self.matvec, self.rmatvec = matvec, rmatvec
        # a float32 copy of a dense A for the Hessian products inside CG: the solves are
        # inexact (relative residual 0.1), so single precision loses nothing and halves
        # the bytes each memory-bound product moves; gradients stay in float64
        self.single = single
        self.m, self.n = shape
        self.columns = columns
        self.c2 = col_sqnorms
        self.max_cg = max_cg
        # the cached column set (a superset of K) is rebuilt when it exceeds this
        # multiple of max_cols
        self.cache_factor = 3.0
        if max_cols is None:
            # (m / 5 columns, and the cache within _CACHE_MAX_ENTRIES)
            max_cols = min(self.m // 5,
                           int(_CACHE_MAX_ENTRIES / (self.cache_factor * max(self.m, 1))))
        self.max_cols = max(1, max_cols)
        self.n_matvec = 0
        self.last_atd: np.ndarray | None = None
        self._reset()

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
        if k == 0 and self._nc == 0:
            mu = max(total / m, 1e-300)
            return lambda r: r / mu
        # every cached column enters P exactly (the selected ones and those selected before):
        # a superset of K only makes P closer to A D A^T, and needs no new Gram entries
        if self._nc + k > self.cache_factor * self.max_cols + 1:
            self._reset()
        rows, G, idx = self._cached(K)
        Dc = D[idx]
        mu = max((total - float(wgt[idx].sum())) / m, 1e-13 * float(wgt[idx].max()), 1e-300)
        M = G.copy()
        M[np.diag_indices_from(M)] += mu / np.maximum(Dc, 1e-300)
        try:
            c = scipy.linalg.cho_factor(M, lower=True, check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            M[np.diag_indices_from(M)] += 1e-10 * float(np.trace(M)) / M.shape[0]
            c = scipy.linalg.cho_factor(M, lower=True, check_finite=False)

        def apply(r: np.ndarray) -> np.ndarray:
            return (r - scipy.linalg.cho_solve(c, rows @ r, check_finite=False) @ rows) / mu

        self.last_k = rows.shape[0]
        return apply

    def _reset(self) -> None:
        self._pos = np.full(self.n, -1, dtype=np.int64)
        self._idx = np.empty(0, dtype=np.int64)
        self._nc = 0
        self._rows = np.empty((0, self.m))
        self._G = np.empty((0, 0))

    def _cached(self, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Add the columns K to the cache; return ``(A_c^T, A_c^T A_c, c)`` for all cached
        columns c (Gram entries of earlier columns are reused: the selected set changes
        slowly between Newton steps)."""
        new = K[self._pos[K] < 0]
        nc, nn = self._nc, new.size
        if nn:
            Anew = self.columns(new)  # (m, nn)
            cross = self._rows[:nc] @ Anew  # (nc, nn)
            gnew = Anew.T @ Anew
            if nc + nn > self._rows.shape[0]:
                # doubling, but never beyond the most the cache holds before a rebuild
                # (the doubling alone reserved up to 6 max_cols rows, and a Gram matrix
                # of 36 max_cols^2 entries)
                cap = max(min(2 * (nc + nn), int(self.cache_factor * self.max_cols) + 1),
                          nc + nn, min(64, int(self.cache_factor * self.max_cols) + 1))
                rows = np.empty((cap, self.m))
                rows[:nc] = self._rows[:nc]
                G = np.empty((cap, cap))
                G[:nc, :nc] = self._G[:nc, :nc]
                self._rows, self._G = rows, G
            self._rows[nc:nc + nn] = Anew.T
            self._G[:nc, nc:nc + nn] = cross
            self._G[nc:nc + nn, :nc] = cross.T
            self._G[nc:nc + nn, nc:nc + nn] = gnew
            self._pos[new] = np.arange(nc, nc + nn)
            self._idx = np.concatenate([self._idx, new])
            self._nc = nc + nn
        nc = self._nc
        return self._rows[:nc], self._G[:nc, :nc], self._idx

    # -- solve -------------------------------------------------------------------------
    def solve(self, D: np.ndarray, b: np.ndarray, rtol: float) -> tuple[np.ndarray, int]:
        """Solve ``A diag(D) A^T d = b`` to the relative residual ``rtol``.

        Also leaves ``A^T d`` in ``self.last_atd``, accumulated from the products CG forms
        anyway (``A^T p`` for each search direction ``p``): in float32 when the Hessian
        products are, so the caller uses it only where an approximation will do.

        A ``b`` beyond ``2^+-100`` is solved as ``b / 2^e`` and scaled back (exact): CG's
        inner products square it, so ``||b||`` read 0 for max|b| ~ 1e-170 (then d = 0) and
        ``<r, P^-1 r>`` underflowed to 0 (a ZeroDivisionError).
        """
        top = float(np.max(np.abs(b), initial=0.0))
        if not 0.0 < top < np.inf or 2.0**-100 <= top <= 2.0**100:
            return self._solve(D, b, rtol)
        e = int(pow2_exponent(top))
        d, it = self._solve(D, np.ldexp(b, -e), rtol)
        self.last_atd = np.ldexp(self.last_atd, e)
        return np.ldexp(d, e), it

    def _solve(self, D: np.ndarray, b: np.ndarray, rtol: float) -> tuple[np.ndarray, int]:
        prec = self._preconditioner(D)
        mv, rmv = self.matvec, self.rmatvec

        def hmv64(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            u = rmv(v)
            return mv(D * u), u

        if self.single is not None:
            A32 = self.single
            D32 = np.minimum(D, 1e37).astype(np.float32)

            def hmv(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                u = v.astype(np.float32) @ A32
                return (A32 @ (D32 * u)).astype(np.float64), u
        else:
            hmv = hmv64
        x = np.zeros_like(b)
        atx = np.zeros(self.n)
        self.last_atd = atx
        r = b.copy()
        bn = float(np.linalg.norm(b))
        if bn == 0.0:
            return x, 0
        zt = prec(r)
        p = zt.copy()
        rz = float(r @ zt)
        it = 0
        # a direction beyond the float32 range (the preconditioner's 1 / mu with mu ~
        # 1e-300 when the weights vanish, e.g. A = 0) overflows in the cast: silenced for
        # the loop (one errstate, not one per product) and caught by a non-finite p^T H p,
        # whose product is then formed in float64
        with np.errstate(over="ignore", invalid="ignore"):
            for it in range(1, self.max_cg + 1):
                Hp, atp = hmv(p)
                self.n_matvec += 2
                pHp = float(p @ Hp)
                if not math.isfinite(pHp) and hmv is not hmv64:
                    Hp, atp = hmv64(p)
                    pHp = float(p @ Hp)
                if not pHp > 0.0:
                    break
                alpha = rz / pHp
                x += alpha * p
                atx += alpha * atp
                r -= alpha * Hp
                if float(np.linalg.norm(r)) <= rtol * bn:
                    break
                zt = prec(r)
                rz_new = float(r @ zt)
                if not (rz > 0.0 and math.isfinite(rz_new)):
                    # <r, P^-1 r> underflowed to 0 (data near the float64 underflow, e.g.
                    # the lazy regime at depth 3, init_scale 1e74): a raw
                    # ZeroDivisionError here
                    break
                p = zt + (rz_new / rz) * p
                rz = rz_new
        return x, it
