"""Vertex pre-processing for many vectors at once with a shared pool (``solver="pool"``).

The exact walk (:func:`~overparam.quantize.vertex.vertex_box`) fixes one coordinate per
step with a basis that is different for every neuron, ``O(r^2)`` per step and
``O(r^2 (N - r))`` per neuron. Here most coordinates are put on an alphabet level with a
basis shared by all neurons, and the neuron-specific walk only handles a small pool:

1. The pool ``P`` is the ``r`` pivot columns of a column-pivoted QR plus ``k`` more
   (``k << N - r``); ``A_P`` (``r x (r + k)``) has full row rank and, with ``k`` spare
   columns, a bounded pseudo-inverse (from a QR of ``A_P^T``: the normal equations
   ``A_P A_P^T`` square its condition number, and their Cholesky factorization failed on
   data with features in different units). The QR runs on ``X diag(||X_j||^-1.5)``, with
   the rank of the plain QR (:func:`~overparam.quantize.vertex.reduce_rows_scaled`): the
   final free entries are pool entries and MSQ's error is ``X_S e_S``, so a pool of large
   columns (what a plain pivoted QR picks) costs accuracy (measured: m = 32, N = 1024,
   2 bits, mean relative error 0.144 with plain pivots, 0.131 with normalized columns,
   0.111 with exponent 1.5, against 0.127 for the exact walk).
2. Every coordinate ``j`` outside the pool goes to one of the two levels bracketing ``w_j``
   (a face of its cell); the change ``A_j (w_j - z_j)`` is absorbed by the pool with the
   minimum-norm correction ``A_P^+ A_j (w_j - z_j)``. The level is chosen greedily to keep
   the accumulated correction small in the 2-norm (the error feedback of GPFQ, on the pool
   instead of the outputs). ``A z = A w`` holds exactly; the shared matrix
   ``A_P^+ A_{outside}`` makes this a matrix-vector product per coordinate for all neurons.
3. Pool coordinates pushed past the alphabet's range are set to its end level and their
   excess is re-absorbed, with minimum norm, by the other pool coordinates (a Woodbury
   solve with the shared projector ``A_P^+ A_P``; a few rounds).
4. The exact walk (the same pivot rule as ``solver="pivot"``) then runs on the pool only,
   inside the cells of the corrected pool values: ``k`` steps, ``O(r k)`` each.

The result has ``Xz = Xw``, every entry in ``[-scale, scale]``, and at most ``rank(X)``
entries off the alphabet: all that MSQ's error bound needs. It is a vertex of
``{z' : Xz' = Xw, z' in the cells of z}``, not necessarily of the cells of ``w`` (entries may
move by more than one level). Neurons for which step 3 does not settle (its system is
singular or the pool has too few spare columns left) are retried once with a larger pool,
then walked exactly as with ``solver="pivot"``; so are neurons whose ``A z = A w`` an
ill-conditioned pool basis left broken beyond rounding.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg as sla
from scipy.linalg.blas import dger as ger

from ._alphabet import cells
from ._poolwalk import available, pool_walk
from .vertex import Reduced, _refine, _residuals, _walk, walk_chunked

__all__ = ["pool_vertex", "default_pool"]


def default_pool(rank: int, K: int) -> int:
    """Spare pool columns: ``max(32, rank // 8)`` (measured: larger pools make the walk of
    step 4 slower, smaller ones push more pool entries out of range)."""
    return int(min(K, max(32, rank // 8)))


def _absorb(zp: np.ndarray, c: float, M: np.ndarray, k: int,
            max_rounds: int = 30) -> np.ndarray | None:
    """Step 3 for one neuron: clip pool entries to ``[-c, c]``, re-absorb the excess.

    With ``S`` the clipped entries and ``delta`` their excess, the minimum-norm change of
    the others that keeps ``A_P z_P`` is ``(M[:, S] mu)`` off ``S`` with
    ``(I - M_SS) mu = delta`` (Woodbury on ``A_{P minus S} A_{P minus S}^T``; ``I - M`` is
    the projector on the ``k``-dimensional null space of ``A_P``, so ``|S| < k``). Returns
    ``None`` when it cannot be done safely (then the caller walks this neuron exactly).
    """
    S = np.zeros(0, dtype=np.intp)
    for _ in range(max_rounds):
        new = np.flatnonzero(np.abs(zp) > c)
        if new.size == 0:
            return zp
        if S.size + new.size > 0.9 * k:
            return None
        clipped = np.clip(zp[new], -c, c)
        S = np.concatenate([S, new])
        excess = np.zeros(S.size)
        excess[S.size - new.size:] = zp[new] - clipped
        zp[new] = clipped
        E = np.eye(S.size) - M[np.ix_(S, S)]
        try:
            mu = np.linalg.solve(E, excess)
        except np.linalg.LinAlgError:
            return None
        # an ill-conditioned E shows as a large or inaccurate mu
        if not (np.all(np.isfinite(mu)) and np.linalg.norm(E @ mu - excess)
                <= 1e-9 * np.linalg.norm(excess)
                and np.abs(mu).max() <= 1e6 * np.abs(excess).max()):
            return None
        corr = M[:, S] @ mu
        corr[S] = 0.0
        zp += corr
    return None


def _pass(red: Reduced, W: np.ndarray, c: np.ndarray, bits: int, k: int, LOw: np.ndarray,
          HIw: np.ndarray, chunk: int, tol: float, compiled: bool):
    """Steps 1-4 with ``k`` spare pool columns for the columns of ``W``; returns
    ``(Z, basis, LO, HI, ok, pivots)`` (rows: neurons; ``ok`` false where step 3 failed)."""
    A, r = red.A, red.rank
    n = W.shape[1]
    Z = np.array(W.T, dtype=float, order="C")   # a copy: the greedy writes into it
    P = np.concatenate([red.basis, red.nonbasic[:k]])
    out = red.nonbasic[k:]
    AP = A[:, P]
    # (A_P A_P^T)^{-1} A_P = R^{-1} Q^T from A_P^T = Q R: Cholesky of the normal equations
    # squared the condition number and failed on full-rank data with mixed column scales
    try:
        Qp, Rp = np.linalg.qr(AP.T)
        H = sla.solve_triangular(Rp, Qp.T)
    except np.linalg.LinAlgError:
        H = None
    if H is None or not np.all(np.isfinite(H)):  # no usable pool: all walk exactly
        return (Z, np.tile(red.basis, (n, 1)), LOw.copy(), HIw.copy(),
                np.zeros(n, dtype=bool), 0)
    Tm = A[:, out].T @ H                                  # row j: (A_P^+ A_j)^T
    M = Qp @ Qp.T                                         # A_P^+ A_P
    tn = np.einsum("ij,ij->i", Tm, Tm)
    # step 2: greedy levels outside the pool, the correction C (p x n) absorbed by the pool
    C = np.zeros((P.size, n), order="F")
    for a, j in enumerate(out):
        wj, lj, hj = W[j], LOw[:, j], HIw[:, j]
        g = 2.0 * (Tm[a] @ C)
        dl, dh = wj - lj, wj - hj
        up = dh * (g + dh * tn[a]) < dl * (g + dl * tn[a])
        Z[:, j] = np.where(up, hj, lj)
        ger(1.0, Tm[a], np.where(up, dh, dl), a=C, overwrite_a=1)
    ZP = W[P] + C                                          # p x n
    # step 3: back into the alphabet's range
    ok = np.ones(n, dtype=bool)
    for i in np.flatnonzero((np.abs(ZP) > c[None, :]).any(axis=0)):
        got = _absorb(ZP[:, i].copy(), float(c[i]), M, k)
        if got is None:
            ok[i] = False
        else:
            ZP[:, i] = got
    np.clip(ZP, -c[None, :], c[None, :], out=ZP)          # rounding-level overshoot only
    # step 4: the exact walk on the pool, in the cells of the corrected values
    lo_p, hi_p = cells(ZP, bits, c[None, :])
    ZPt, LOp, HIp = ZP.T.copy(), lo_p.T.copy(), hi_p.T.copy()
    basis = np.empty((n, r), dtype=np.intp)
    todo = np.flatnonzero(ok)
    if compiled and available():
        z, b, pivots = pool_walk(red.T0[:, :k].T, ZPt[todo], LOp[todo], HIp[todo], tol)
        ZPt[todo] = z
        basis[todo] = P[b]
    else:  # the NumPy walk on the pool's own reduction (first basis = red's)
        redP = Reduced(AP, r, np.arange(r), np.arange(r, P.size), red.T0[:, :k], red.R11)
        pivots = 0
        buf = np.empty((min(chunk, max(todo.size, 1)), k, r))
        for a in range(0, todo.size, chunk):
            rows = todo[a:a + chunk]
            z, b, p = _walk(redP, ZPt[rows], LOp[rows], HIp[rows], tol=tol, buf=buf)
            ZPt[rows] = z
            basis[rows] = P[b]
            pivots += p
    Z[:, P] = ZPt
    LO, HI = Z.copy(), Z.copy()
    LO[:, P], HI[:, P] = LOp, HIp
    return Z, basis, LO, HI, ok, pivots


def pool_vertex(red: Reduced, W: np.ndarray, c: np.ndarray, bits: int, *,
                pool: int | None = None, chunk: int = 32, compiled: bool = True,
                exact: Callable[[], Reduced] | None = None,
                tol: float = 1e-12) -> tuple[np.ndarray, dict]:
    """Steps 1-4 for the columns of ``W`` (N x n, inside ``[-c, c]`` per column).

    Neurons whose step 3 fails are retried once with a pool four times larger (at most
    ``(N - rank - 1) // 2``: one bit needs that at m = N/2), then walked exactly with the reduction
    ``exact()`` (default ``red``; ``vertex`` passes the plain :func:`reduce_rows`, so that
    those neurons get the same vertex as ``solver="pivot"``). So are neurons whose
    ``A z = A w`` the pool broke beyond rounding (an ill-conditioned pool basis).

    Returns ``(Z, info)`` with ``Z`` (n x N) and ``info``: ``pivots``, ``pool`` (k),
    ``retried`` (neurons that needed the larger pool), ``fallback`` (neurons walked exactly
    in the cells of ``w``), ``refined``.
    """
    A, r = red.A, red.rank
    N, n = W.shape
    K = N - r
    k = default_pool(r, K) if pool is None else int(min(max(pool, 1), K))
    lo_w, hi_w = cells(W, bits, c[None, :])
    LOw, HIw = lo_w.T.copy(), hi_w.T.copy()
    Z = np.array(W.T, dtype=float, order="C")
    basis = np.tile(red.basis, (n, 1))
    LO, HI = LOw.copy(), HIw.copy()
    todo = np.arange(n)
    pivots = retried = 0
    for level, kk in enumerate((k, min(4 * k, (K - 1) // 2))):
        if r == 0 or todo.size == 0 or K <= 2 * kk or (level and kk <= k):
            break  # nothing (more) to gain over the exact walk
        z, b, lo, hi, ok, p = _pass(red, W[:, todo], c[todo], bits, kk, LOw[todo],
                                    HIw[todo], chunk, tol, compiled)
        done = todo[ok]
        Z[done], basis[done], LO[done], HI[done] = z[ok], b[ok], lo[ok], hi[ok]
        pivots += p
        retried += done.size if level else 0
        todo = todo[~ok]
    ex: list[Reduced] = []

    def walk_exactly(rows: np.ndarray) -> int:
        if not ex:
            e = red if exact is None else exact()
            # a borderline rank can differ between the two reductions; bases must match
            ex.append(e if e.rank == r else red)
        z, b, p = walk_chunked(ex[0], np.ascontiguousarray(W[:, rows].T, dtype=float),
                               LOw[rows], HIw[rows], tol=tol)
        Z[rows], basis[rows], LO[rows], HI[rows] = z, b, LOw[rows], HIw[rows]
        return p

    if todo.size:
        pivots += walk_exactly(todo)
    fixed = _refine(A, W.T @ A.T, Z, basis, LO, HI, 1e-13)
    refined = fixed.size
    # _refine clips the re-solved basic part to its cells, which after an ill-conditioned
    # pool basis can leave A z != A w: those neurons get the exact walk too
    fixed = np.setdiff1d(fixed, todo)
    _, ok = _residuals(A, W[:, fixed], Z[fixed], c[fixed, None])
    drift = fixed[~ok]
    if drift.size:
        pivots += walk_exactly(drift)
        Zd, Bd, LOd, HId = Z[drift], basis[drift], LO[drift], HI[drift]
        refined += _refine(A, W[:, drift].T @ A.T, Zd, Bd, LOd, HId, 1e-13).size
        Z[drift] = Zd
    return Z, dict(pivots=pivots, pool=k, retried=retried,
                   fallback=int(todo.size + drift.size), refined=refined)
