"""Vertex pre-processing: move ``w`` inside its quantization cells, keeping ``Xz = Xw``,
until at most ``rank(X)`` coordinates are off the alphabet.

The set ``{z : Xz = Xw, lo <= z <= hi}`` is a polytope that contains ``w``. A vertex of it
has at least ``N - rank(X)`` coordinates on a face (``lo_i`` or ``hi_i``); with the cells of an
alphabet as the box, those coordinates already lie on alphabet levels and memoryless scalar
quantization (MSQ) of the vertex only errs on the at most ``rank(X)`` others. This is the
reconstruction of Maly & Saab (2023) and Maly & Veselovska (2026) in
``shared/papers/papers-structured.md`` (sections 3 and 4), which the digest marks as
inference; ``docs/quantize.md`` lists which of its claims our runs confirm.

Algorithm (``solver="pivot"``): a bounded-variable simplex walk without an objective
(a "purification" of the interior point ``w``).

* ``X`` is reduced once to ``A = R[:r]`` of a column-pivoted QR (``r = rank X``); the
  ``r`` pivot columns are the first basis ``B``, with ``A_B`` triangular.
* For each nonbasic coordinate ``j`` in turn, move along the edge ``z_j += s t``,
  ``z_B -= s t A_B^{-1} A_j`` (``A z`` is unchanged) until ``j`` or a basic coordinate
  reaches a face. If ``j`` does, it is fixed; else the basic one is fixed and ``j`` enters the
  basis (a simplex pivot). Each step fixes one coordinate, so after ``N - r`` steps only
  basic coordinates can be off the faces.
* The columns ``A_B^{-1} A_j`` come from a tableau of a window of columns, updated by the
  pivots in a product form ``I + U V^T`` that is folded into the tableau every ``block``
  pivots with matrix products (BLAS-3); for long walks (``N - r`` much larger than ``r``)
  the explicit basis inverse is kept the same way and new windows are formed from it. Many
  right-hand sides (the neurons of a layer) walk together, vectorized.
* One vector of small rank with a long walk (a graph signal) keeps the basis inverse
  explicitly instead (rank-one update per pivot), with the same pivot rule.

The cost is ``O(r^2 (N - r))`` per vector (a simplex-type walk cannot do better than one
basis solve per step), against ``O(r N)`` per neuron for GPFQ; see ``docs/quantize.md``.

``solver="highs"`` instead solves the LP ``min c^T z`` over the same polytope with HiGHS'
dual simplex for a random ``c`` (a basic solution is a vertex): slower, an independent check.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg as sla
from threadpoolctl import threadpool_limits

from .._core import Result, Status, as_generator, check_int, pow2_exponent, safe_norm
from ._alphabet import cells, check_bits, check_real, level_tol

__all__ = ["vertex", "vertex_box", "reduce_rows"]


@dataclass(frozen=True)
class Reduced:
    """``X`` reduced to full row rank: ``A z = 0`` iff ``X z = 0``.

    ``A = R[:r] P^T`` from ``X P = Q R``; ``basis`` are the pivot columns (``A_B = R11``
    upper triangular), ``nonbasic`` the others, ``T0 = A_B^{-1} A_N``; ``dropped`` is
    ``||R[r:, r:]||_F``, the part of ``X`` below the rank tolerance (``|X(z - w)| <=
    dropped ||z - w||`` when ``A z = A w``).
    """

    A: np.ndarray
    rank: int
    basis: np.ndarray
    nonbasic: np.ndarray
    T0: np.ndarray
    R11: np.ndarray
    dropped: float = 0.0


def _from_qr(R: np.ndarray, piv: np.ndarray, r: int, dropped: float = 0.0) -> Reduced:
    """The :class:`Reduced` of the first ``r`` rows of a column-pivoted QR ``(R, piv)``."""
    N = R.shape[1]
    A = np.empty((r, N))
    A[:, piv] = R[:r]
    R11 = np.ascontiguousarray(R[:r, :r])
    T0 = sla.solve_triangular(R11, R[:r, r:]) if r else np.zeros((0, N))
    return Reduced(A, r, piv[:r].copy(), piv[r:].copy(), T0, R11, dropped)


def reduce_rows(X: np.ndarray, rtol: float | None = None) -> Reduced:
    """Column-pivoted QR of ``X`` (m x N): its numerical rank and a triangular first basis.

    Parameters
    ----------
    X : ndarray of shape (m, N)
        Real matrix.
    rtol : float, optional
        Relative rank tolerance: the rank counts the diagonal entries of ``R`` above
        ``rtol * |R[0, 0]|``. Default ``max(m, N) * eps``.

    Returns
    -------
    Reduced
        ``A`` (``rank x N``, the same null space as ``X`` up to the dropped part), the
        pivot columns ``basis``, the others ``nonbasic``, ``T0``, ``R11`` and ``dropped``.
    """
    m, N = X.shape
    R, piv = sla.qr(X, mode="r", pivoting=True)   # Q is never needed
    R = R[:min(m, N)]
    d = np.abs(np.diag(R))
    if rtol is None:
        rtol = _rank_rtol(m, N)
    r = int(np.count_nonzero(d > rtol * d[0])) if d.size and d[0] > 0 else 0
    return _from_qr(R, piv, r, float(np.linalg.norm(R[r:, r:])))


def _rank_rtol(m: int, N: int) -> float:
    """Default relative rank tolerance of :func:`reduce_rows`."""
    return max(m, N) * np.finfo(float).eps


_POOL_ALPHA = 1.5  # measured: see docs/quantize.md (vertex pre-processing)


def reduce_rows_scaled(X: np.ndarray, alpha: float) -> Reduced:
    """:func:`reduce_rows` with the pivots chosen on the columns scaled by ``||X_j||^-alpha``.

    The pivoted QR picks the columns of largest residual norm; ``alpha = 1`` removes the
    column norms from that choice, ``alpha > 1`` prefers small columns; columns below the
    rank tolerance (numerically zero) are never picked. The rank and the null space are
    those of :func:`reduce_rows`: rescaling amplifies the rounding noise of small columns
    into rank (rank-3 data plus two columns of norm 1e-15 had rank 5, and a basis of those
    columns broke ``Xz = Xw``). So the one QR of the rescaled ``X`` is kept only when its
    ``m`` pivot columns are independent in ``X`` itself (full row rank, the usual case);
    otherwise the pivots are chosen on the plain reduction ``reduce_rows(X).A`` (a second
    QR, of ``rank x N``). The returned ``A``, ``T0`` and ``R11`` have ``X``'s null space.
    """
    m = X.shape[0]
    rtol = _rank_rtol(*X.shape)
    red = _scaled_qr(X, alpha, rtol)
    if red.rank == m:
        # sigma_min(X) >= sigma_min(X_B) = 1 / ||R11^{-1}||_2 >= 1 / inv_norm; above the
        # rank tolerance, reduce_rows(X) has rank m too
        inv_norm = safe_norm(sla.solve_triangular(red.R11, np.eye(m)), axis=0).max() * np.sqrt(m)
        if inv_norm * rtol * safe_norm(X, axis=0).max() < 1.0:
            return red
    plain = reduce_rows(X)
    return _scaled_qr(plain.A, alpha, rtol, plain) if plain.rank else plain


def _scaled_qr(B: np.ndarray, alpha: float, rtol: float,
               plain: Reduced | None = None) -> Reduced:
    """Pivoted QR of ``B diag(s)``, ``s_j = (||B_j|| / max_i ||B_i||)^-alpha`` (scale-free:
    no overflow), reduced back to ``B``'s own scale. Columns with relative norm ``<= rtol``
    get ``s_j = eps`` (never a pivot; not 0: ``A = R / s``). With ``plain`` (``B =
    plain.A``) the rank is ``plain.rank``, and ``plain`` itself is returned if the scaled
    basis is singular."""
    norms = safe_norm(B, axis=0)
    rel = norms / norms.max() if norms.max() > 0 else norms
    tiny = rel <= rtol
    s = np.where(tiny, np.finfo(float).eps, np.where(tiny, 1.0, rel) ** -float(alpha))
    R, piv = sla.qr(B * s[None, :], mode="r", pivoting=True)
    d = np.abs(np.diag(R))
    if plain is None:
        r = int(np.count_nonzero(d > rtol * d[0])) if d.size and d[0] > 0 else 0
    elif d[plain.rank - 1] > rtol * d[0]:
        r = plain.rank
    else:
        return plain
    sc = _from_qr(R, piv, r)
    sb, sn = s[sc.basis], s[sc.nonbasic]
    return Reduced(sc.A / s[None, :], r, sc.basis, sc.nonbasic,
                   sc.T0 * sb[:, None] / sn[None, :], sc.R11 / sb[None, :],
                   0.0 if plain is None else plain.dropped)


def _check_count(v: Any, name: str, optional: bool = False) -> Any:
    """An integer option ``>= 1`` (or ``None`` where ``optional``): ``block=0`` and
    ``chunk=0`` failed deep inside the walk (IndexError, ``range()`` step 0), and
    ``window``/``pool`` below 1 or fractional were changed silently."""
    if optional and v is None:
        return None
    return check_int(v, name, minimum=1)


def _check_X(X: Any) -> np.ndarray:
    X = check_real(X, "X", ndim=2)
    m, N = X.shape
    if m >= N:
        raise ValueError(
            f"X has {m} rows and {N} columns: the vertex pre-processing needs more columns "
            f"than rows (m < N), otherwise {{z : Xz = Xw}} has no slack to move in; use "
            f"fewer samples (rows) than inputs, or plain MSQ / GPFQ")
    return X


def _as_columns(w: Any, N: int, name: str = "w") -> tuple[np.ndarray, bool]:
    w = check_real(w, name)
    vec = w.ndim == 1
    W = w.reshape(-1, 1) if vec else w
    if W.ndim != 2 or W.shape[0] != N:
        raise ValueError(f"{name} must have {N} rows (one per column of X), got shape "
                         f"{w.shape}")
    return W, vec


def _window(red: Reduced, block: int, window: int | None) -> int:
    """Tableau columns formed at a time: all of them when ``N - r <= 4 r`` (a full tableau
    costs ~2 r K^2 flops, windows ~4 K r^2 + 2 K r W for ``K = N - r``)."""
    K, r = red.A.shape[1] - red.rank, red.rank
    if window is None:
        window = K if K <= 4 * r else max(2 * r, 4 * block)
    return int(min(max(window, 1), max(K, 1)))


def _walk(red: Reduced, Z: np.ndarray, LO: np.ndarray, HI: np.ndarray, *,
          block: int = 32, window: int | None = None, tol: float = 1e-12,
          buf: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Vectorized walk for the rows of ``Z`` (n x N, each inside ``[LO, HI]``), in place.

    ``buf`` (at least ``n x window x r``) holds the tableau; reusing it between calls
    avoids fresh page faults. Returns ``(Z, basis, pivots)``: the vertices, the final basis
    per row (n x r) and the number of pivots.
    """
    n, N = Z.shape
    r = red.rank
    K = N - r
    basis = np.tile(red.basis, (n, 1))
    if r == 0:  # X = 0: every corner of the box is a vertex; take the nearer one
        Z[...] = np.where(HI - Z <= Z - LO, HI, LO)
        return Z, basis, 0
    if K == 0:
        return Z, basis, 0
    A = red.A
    nonbasic = red.nonbasic
    window = _window(red, block, window)
    if buf is None or buf.shape[0] < n or buf.shape[1] < window or buf.shape[2] != r:
        buf = np.empty((n, window, r))
    rows = np.arange(n)
    ZB = Z[rows[:, None], basis].copy()
    LOB = LO[rows[:, None], basis].copy()
    HIB = HI[rows[:, None], basis].copy()
    # pending pivots in product form I + sum_p u_p v_p^T, stored slot-major (n, block, r)
    U = np.zeros((n, block, r))
    V = np.zeros((n, block, r))
    Binv = None
    if window < K:
        Binv = np.tile(sla.solve_triangular(red.R11, np.eye(r)), (n, 1, 1))
    pivots = 0
    i = 0
    while i < K:
        i1 = min(K, i + window)
        cols = nonbasic[i:i1]
        # the tableau is stored transposed, (n, columns, r): the columns still to visit are
        # then a contiguous block per vector, updated in place by BLAS (see _fold)
        Tw = buf[:n, :i1 - i]
        if i == 0:
            Tw[...] = red.T0[:, :i1].T
        else:
            np.matmul(A[:, cols].T, Binv.transpose(0, 2, 1), out=Tw)
        slot = 0
        for c in range(i1 - i):
            j = cols[c]
            zj = Z[:, j]
            loj, hij = LO[:, j], HI[:, j]
            up, dn = hij - zj, zj - loj
            toward_hi = up <= dn
            tj = np.minimum(up, dn)
            free = tj > tol
            if free.any():
                s = np.where(toward_hi, 1.0, -1.0)
                col = Tw[:, c, :]
                if slot:
                    col = col + np.matmul(U[:, :slot].transpose(0, 2, 1), np.matmul(
                        V[:, :slot], col[:, :, None]))[:, :, 0]
                d = -s[:, None] * col
                ad = np.abs(d)
                big = ad > 1e-11 * (1.0 + ad.max(axis=1, keepdims=True))
                gap = np.maximum(np.where(d > 0, HIB - ZB, ZB - LOB), 0.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(big, gap / np.where(big, ad, 1.0), np.inf)
                tb = ratio.min(axis=1)
                # Harris-style tie break: among near-minimal ratios, the largest pivot
                near = ratio <= (tb + tol * (1.0 + np.abs(tb)))[:, None]
                k = np.argmax(np.where(near, ad, -1.0), axis=1)
                tk = ratio[rows, k]
                piv = free & (tk < tj)
                t = np.where(free, np.where(piv, tk, tj), 0.0)
                ZB += t[:, None] * d
            else:
                piv = np.zeros(n, dtype=bool)
                t = np.zeros(n)
                s = np.ones(n)
            newz = np.where(piv, zj + s * t, np.where(toward_hi, hij, loj))
            Z[:, j] = newz
            if piv.any():
                P = np.nonzero(piv)[0]
                kp = k[P]
                ar = np.arange(P.size)
                dk = d[P, kp]
                Z[P, basis[P, kp]] = np.where(dk > 0, HIB[P, kp], LOB[P, kp])
                basis[P, kp] = j
                ZB[P, kp] = newz[P]
                LOB[P, kp] = loj[P]
                HIB[P, kp] = hij[P]
                colP = col[P]
                ck = colP[ar, kp]
                u = colP / ck[:, None]
                u[ar, kp] -= 1.0 / ck
                vnew = np.zeros((P.size, r))
                vnew[ar, kp] = 1.0
                if slot:  # v_new = e_k + sum_p v_p (u_p)_k, without copying V[P]
                    coef = U[rows[:, None], np.arange(slot)[None, :], k[:, None]]
                    vnew += np.matmul(coef[:, None, :], V[:, :slot])[P, 0, :]
                U[:, slot] = 0.0
                V[:, slot] = 0.0
                U[P, slot] = -u
                V[P, slot] = vnew
                slot += 1
                pivots += P.size
            if slot and (slot == block or c == i1 - i - 1):
                if c + 1 < i1 - i:
                    _fold(Tw, c + 1, U, V, slot)
                if Binv is not None and i1 < K:
                    Binv += np.matmul(U[:, :slot].transpose(0, 2, 1),
                                      np.matmul(V[:, :slot], Binv))
                slot = 0
        i = i1
    Z[rows[:, None], basis] = ZB
    return Z, basis, pivots


def _walk_one(red: Reduced, z: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
              tol: float = 1e-12, refresh: int = 256) -> tuple[np.ndarray, np.ndarray, int]:
    """The same walk (same pivot rule) for one vector with a small rank: the basis inverse
    is kept explicitly (rank-one update per pivot, recomputed every ``refresh`` pivots), so a
    step costs ``O(r^2)`` with few array operations. Used for long walks such as graphs."""
    r = red.rank
    A = red.A
    AT = np.ascontiguousarray(A.T)
    basis = red.basis.copy()
    Binv = sla.solve_triangular(red.R11, np.eye(r))
    zb, lob, hib = z[basis].copy(), lo[basis].copy(), hi[basis].copy()
    inf = np.full(r, np.inf)
    pivots = since = 0
    for j in red.nonbasic.tolist():
        zj, lj, hj = z[j], lo[j], hi[j]
        up, dn = hj - zj, zj - lj
        if up <= dn:
            s, tj, bound = 1.0, up, hj
        else:
            s, tj, bound = -1.0, dn, lj
        if tj <= tol:
            z[j] = bound
            continue
        col = Binv @ AT[j]
        d = col * -s
        ad = np.abs(d)
        big = ad > 1e-11 * (1.0 + ad.max())
        gap = np.maximum(np.where(d > 0, hib - zb, zb - lob), 0.0)
        ratio = np.divide(gap, ad, out=inf.copy(), where=big)
        k = int(ratio.argmin())
        tb = ratio[k]
        near = np.flatnonzero(ratio <= tb + tol * (1.0 + abs(tb)))
        if near.size > 1:
            k = int(near[np.argmax(ad[near])])
        tk = ratio[k]
        if not tk < tj:
            zb += tj * d
            z[j] = bound
            continue
        zb += tk * d
        z[basis[k]] = hib[k] if d[k] > 0 else lob[k]
        z[j] = zj + s * tk
        basis[k] = j
        zb[k], lob[k], hib[k] = z[j], lj, hj
        u = col / col[k]
        u[k] -= 1.0 / col[k]
        Binv -= np.outer(u, Binv[k])
        pivots += 1
        since += 1
        if since >= refresh:
            Binv = np.linalg.inv(A[:, basis])
            since = 0
    z[basis] = zb
    return z, basis, pivots


def _fold(Tw: np.ndarray, start: int, U: np.ndarray, V: np.ndarray, p: int) -> None:
    """Apply the pending pivots ``I + U V^T`` to the tableau columns ``start:`` in place.

    ``Tw[i, start:]`` is C-contiguous, i.e. the F-contiguous ``r x K_rem`` block ``T``;
    ``dgemm`` then computes ``T += U (V^T T)`` without a temporary of the block's size.
    """
    from scipy.linalg.blas import dgemm

    for i in range(Tw.shape[0]):
        T = Tw[i, start:].T
        W = V[i, :p] @ T
        out = dgemm(1.0, U[i, :p].T, W, beta=1.0, c=T, overwrite_c=1)
        if out is not T and not np.shares_memory(out, T):  # pragma: no cover - safety
            T[...] = out


def _refine(A: np.ndarray, target: np.ndarray, Z: np.ndarray, basis: np.ndarray,
            LO: np.ndarray, HI: np.ndarray, tol: float) -> np.ndarray:
    """Re-solve the basic coordinates of rows whose ``A z`` drifted from ``target``; returns
    those rows (the others are within ``tol max(1, |target|)``)."""
    if A.shape[0] == 0:
        return np.zeros(0, dtype=np.intp)
    res = target - Z @ A.T  # n x r
    scale = np.maximum(1.0, np.abs(target).max(axis=1))
    bad = np.nonzero(np.abs(res).max(axis=1) > tol * scale)[0]
    for i in bad:
        B = basis[i]
        delta = np.linalg.solve(A[:, B], res[i])
        Z[i, B] = np.clip(Z[i, B] + delta, LO[i, B], HI[i, B])
    return bad


def _residuals(X: np.ndarray, W: np.ndarray, Z: np.ndarray, span: np.ndarray,
               dropped: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per row ``z`` of ``Z`` (``w`` the columns of ``W``): ``max |X(z - w)|`` and whether it
    is rounding, at most ``1e-9 sum_j ||X_j|| span_j`` (``span``: the largest ``|z_j|``
    allowed, broadcast to ``Z``) plus ``dropped ||z - w||`` (what the rank truncation
    allows, see :class:`Reduced`). A walk on an ill-conditioned basis can break the
    constraint; this check keeps that from being reported as success."""
    D = Z - W.T
    res = np.abs(D @ X.T).max(axis=1, initial=0.0)  # A may have no rows (rank 0)
    bound = 1e-9 * (np.broadcast_to(span, D.shape) @ safe_norm(X, axis=0))
    if dropped > 0:
        bound = bound + dropped * safe_norm(D, axis=1)
    return res, res <= bound


def _status(n_free: np.ndarray, rank: int, res_ok: np.ndarray,
            where: str) -> tuple[Status, str]:
    """CONVERGED only when every vector has ``Xz = Xw`` (to rounding) and at most ``rank``
    entries off ``where``."""
    msgs = []
    if not np.all(n_free <= rank):
        msgs.append(f"more coordinates than rank(X) off the {where}")
    if not np.all(res_ok):
        msgs.append(f"Xz = Xw broken beyond rounding for {int(np.sum(~res_ok))} vector(s)")
    return (Status.NUMERICAL_ERROR if msgs else Status.CONVERGED), "; ".join(msgs)


def _highs_vertex(A: np.ndarray, z: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    from scipy.optimize import linprog

    c = rng.standard_normal(A.shape[1])
    # HiGHS' default feasibility tolerance (1e-7, absolute; A and the box are scaled to
    # ~1 by vertex_box) is the width of a 23-bit cell: from 20 bits on, clipping its
    # answer to the box broke Xz = Xw (NUMERICAL_ERROR)
    res = linprog(c, A_eq=A, b_eq=A @ z, bounds=np.column_stack([lo, hi]),
                  method="highs-ds", options=dict(primal_feasibility_tolerance=1e-10,
                                                  dual_feasibility_tolerance=1e-10))
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on the vertex LP: {res.message}")
    x = np.clip(res.x, lo, hi)
    # HiGHS meets A x = b only to its tolerance in its own scaled units: re-solve the
    # entries off the faces (the basic part) for the residual, as _refine does for the walk
    # (columns of norms 1e-6..1e6: 7 of 200 vertices broke Xz = Xw beyond rounding without)
    tol = 1e-12 * max(1.0, float(np.abs(np.concatenate([lo, hi])).max()))
    F = np.flatnonzero((x - lo > tol) & (hi - x > tol))
    if F.size:
        b = A @ z
        r0 = b - A @ x
        y = x.copy()
        y[F] = np.clip(y[F] + np.linalg.lstsq(A[:, F], r0, rcond=None)[0], lo[F], hi[F])
        if np.abs(b - A @ y).max() < np.abs(r0).max():
            x = y
    return x


def _box_side(v: Any, name: str, shape: tuple[int, int]) -> np.ndarray:
    # scalars too: a scalar inf (or NaN) bypassed the check arrays get, and hi = inf gave
    # tol = inf, so every entry counted as on a face and X z != X w passed as CONVERGED
    v = check_real(v, name)
    if v.ndim == 1 and v.shape[0] == shape[0]:
        # length N: one bound per coordinate (w a vector, or the same box for every
        # column); for N == n it could as well be one bound per column (NumPy's reading)
        if shape[1] == shape[0] and shape[0] > 1:
            raise ValueError(f"{name} of shape {v.shape} is ambiguous for w of shape "
                             f"{shape} (N = n = {shape[0]}): give it as shape "
                             f"({shape[0]}, 1) for one bound per coordinate or (1, "
                             f"{shape[1]}) for one bound per column")
        v = v[:, None]
    try:
        return np.broadcast_to(v, shape).T.copy()
    except ValueError:
        raise ValueError(f"{name} of shape {v.shape} does not match w of shape "
                         f"{shape}") from None


def walk_chunked(red: Reduced, Z: np.ndarray, LO: np.ndarray, HI: np.ndarray, *,
                 block: int = 32, window: int | None = None, chunk: int | None = None,
                 tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`_walk` over chunks of rows of ``Z`` (about 64 MB of tableau each), or
    :func:`_walk_one` for one long vector of small rank; returns ``(Z, basis, pivots)``."""
    r, K = red.rank, red.A.shape[1] - red.rank
    wdt = _window(red, block, window)
    if chunk is None:  # tableau window, basis inverse (windowed mode), U and V
        per = 8.0 * max(r, 1) * (wdt + (r if wdt < K else 0) + 2 * block)
        chunk = int(max(1, min(Z.shape[0], 64 * 2**20 // per)))
    if Z.shape[0] == 1 and window is None and K > 4 * r and 1 <= r <= 128:
        z, b, pivots = _walk_one(red, Z[0], LO[0], HI[0], tol=tol)
        Z[0] = z
        return Z, b[None, :], pivots
    bases = []
    pivots = 0
    buf = np.empty((min(chunk, Z.shape[0]), wdt, r))
    for a in range(0, Z.shape[0], chunk):
        sl = slice(a, a + chunk)
        z, b, p = _walk(red, Z[sl], LO[sl], HI[sl], block=block, window=window, tol=tol,
                        buf=buf)
        Z[sl] = z
        bases.append(b)
        pivots += p
    return Z, np.concatenate(bases), pivots


def vertex_box(X: Any, w: Any, lo: Any, hi: Any, *, solver: str = "pivot",
               block: int = 32, window: int | None = None, seed: int = 0,
               chunk: int | None = None) -> Result:
    """A vertex of ``{z : Xz = Xw, lo <= z <= hi}``, walking from ``w`` (which must lie in
    the box).

    Parameters
    ----------
    X : array of shape (m, N), m < N
        The data (rows are samples).
    w : array of shape (N,) or (N, n)
        One vector or ``n`` vectors (columns), each inside its box.
    lo, hi : arrays broadcastable to ``w``
        The box; ``lo == hi`` fixes a coordinate. A 1-D array of length ``N`` holds one
        bound per coordinate (for every column of a matrix ``w``); for a square ``w``
        (``N == n``) a 1-D array is ambiguous and refused: give shape ``(N, 1)`` or
        ``(1, n)``.
    solver : {"pivot", "highs"}
        The simplex walk (default) or HiGHS' dual simplex on a random objective.
    block : int >= 1
        Pivots accumulated in product form before they are folded into the tableau.
    window : int >= 1, optional
        Tableau columns formed at a time (default: all when ``N - r <= 4 r``).
    seed : int
        Seeds the random LP objective of ``solver="highs"`` (the pivot walk is
        deterministic and does not use it).
    chunk : int >= 1, optional
        Vectors walked together (default: what fits in about 64 MB of tableau).

    Returns
    -------
    Result
        ``x``: the vertex (shape of ``w``); ``info``: ``rank``, ``free`` (boolean mask of
        coordinates strictly inside the box, at most ``rank`` per vector), ``n_free``,
        ``pivots``, ``refined`` (vectors whose basic part was re-solved at the end),
        ``residual`` (max ``|X(z - w)|``). The status is ``NUMERICAL_ERROR`` (with a
        message) if a vector has more than ``rank`` free coordinates or ``X(z - w)``
        beyond rounding (``1e-9 sum_j ||X_j|| max(|lo_j|, |hi_j|)``, plus what the rank
        truncation allows).
    """
    t0 = time.perf_counter()
    if solver not in ("pivot", "highs"):
        raise ValueError(f"solver must be 'pivot' or 'highs', got {solver!r}")
    block = _check_count(block, "block")
    window, chunk = _check_count(window, "window", True), _check_count(chunk, "chunk", True)
    X = _check_X(X)
    m, N = X.shape
    W, vec = _as_columns(w, N)
    LO = _box_side(lo, "lo", W.shape)
    HI = _box_side(hi, "hi", W.shape)
    if np.any(LO > HI):
        raise ValueError("the box is empty somewhere: lo > hi")
    # X and each vector (w, lo, hi) in units of powers of two (exact): the tolerances below
    # are relative to max(1, |box|), and for w ~ 1e-20 (or X ~ 1e+-150) the walk broke
    # Xz = Xw or stopped at w; the vertex scales with w and does not depend on X's scale
    eX = int(pow2_exponent(np.abs(X).max(initial=0.0)))
    ew = pow2_exponent(np.maximum(np.abs(W).max(axis=0, initial=0.0),
                                  np.maximum(np.abs(LO), np.abs(HI)).max(axis=1, initial=0.0)))
    X, W = np.ldexp(X, -eX), np.ldexp(W, -ew[None, :])
    LO, HI = np.ldexp(LO, -ew[:, None]), np.ldexp(HI, -ew[:, None])
    Z = W.T.copy()
    span = np.maximum(1.0, np.abs(np.concatenate([LO.ravel(), HI.ravel()])).max())
    if np.any(Z < LO - 1e-12 * span) or np.any(Z > HI + 1e-12 * span):
        raise ValueError("w must lie inside the box [lo, hi] (the walk starts at w)")
    Z = np.clip(Z, LO, HI)
    red = reduce_rows(X)
    tol = 1e-12 * span
    pivots = refined = 0
    failed: list[int] = []  # vectors whose HiGHS LP failed (solver='highs')
    if solver == "pivot":
        # the walk makes many small BLAS calls per vector; threaded BLAS (OpenBLAS) made
        # them 100-200x slower on 2 cores (the pivot walk at the size: 50 s vs 3 s)
        with threadpool_limits(limits=1, user_api="blas"):
            Z, basis, pivots = walk_chunked(red, Z, LO, HI, block=block, window=window,
                                            chunk=chunk, tol=tol)
            refined = _refine(red.A, W.T @ red.A.T, Z, basis, LO, HI, 1e-13).size
    elif solver == "highs":
        rng = as_generator(seed)
        # the same constraints with orthonormal rows: the rows of the triangular A differ
        # by orders of magnitude on data of mixed column scales (columns of norms
        # 1e-6..1e6: 57 of 200 vertices broke Xz = Xw beyond rounding, and HiGHS called
        # 10 of 300 LPs infeasible though w is in them; 7 and 1 with orthonormal rows, 0
        # and 1 with the re-solve in _highs_vertex too)
        Ao = np.linalg.svd(red.A, full_matrices=False)[2] if red.rank else red.A
        for i in range(Z.shape[0]):
            try:
                Z[i] = _highs_vertex(Ao, Z[i], LO[i], HI[i], rng)
            except RuntimeError:
                failed.append(i)
        if failed:
            # w lies in every one of these LPs, so "infeasible" is HiGHS' scaling on
            # extreme data (3 of 400 LPs at column norms 1e-11..1e11, 1-11 bits): those
            # vectors take the exact pivot walk instead
            idx = np.asarray(failed)
            with threadpool_limits(limits=1, user_api="blas"):
                Zf, basis, pivots = walk_chunked(red, Z[idx].copy(), LO[idx], HI[idx],
                                                 block=block, window=window, chunk=chunk,
                                                 tol=tol)
                refined = _refine(red.A, W.T[idx] @ red.A.T, Zf, basis, LO[idx], HI[idx],
                                  1e-13).size
            Z[idx] = Zf
    else:
        raise ValueError(f"solver must be 'pivot' or 'highs', got {solver!r}")
    # the walk leaves entries within its tolerance of a face (x = lo - 9e-14 at column
    # norms up to 1e11); the box is the contract, and the residual check below judges
    # the (<= tol) move
    Z = np.clip(Z, LO, HI)
    free = (Z - LO > tol) & (HI - Z > tol)
    res, res_ok = _residuals(X, W, Z, np.maximum(np.abs(LO), np.abs(HI)), red.dropped)
    with np.errstate(over="ignore"):   # inf: |X(z - w)| beyond floats (X, w ~ 1e+-300)
        residual = float(np.ldexp(res, eX + ew).max(initial=0.0))
    n_free = free.sum(axis=1)
    Z = np.ldexp(Z, ew[:, None])
    x = Z[0] if vec else Z.T
    info = dict(rank=red.rank, free=free[0] if vec else free.T,
                n_free=int(n_free[0]) if vec else n_free, pivots=pivots,
                refined=refined, residual=residual, solver=solver)
    status, message = _status(n_free, red.rank, res_ok, "faces")
    if failed:
        info["highs_fallback"] = np.asarray(failed, dtype=np.intp)
        message = "; ".join(filter(None, [message, (
            f"HiGHS called {len(failed)} vertex LP(s) infeasible although w lies in them: "
            "those vector(s) were solved by the pivot walk")]))
    return Result(x=x, status=status, message=message, n_iter=N - red.rank, fun=residual,
                  wall_time=time.perf_counter() - t0, info=info)


def vertex(X: Any, w: Any, bits: int = 1, scale: Any = None, *, solver: str = "pivot",
           pool: int | None = None, **kw: Any) -> Result:
    """Vertex pre-processing against an alphabet: ``z`` with ``Xz = Xw``, each ``z_i`` in
    the quantization cell of ``w_i``, and at most ``rank(X)`` entries off the alphabet.

    The box is the union of the cells of the uniform alphabet
    ``scale * linspace(-1, 1, 2**bits)`` (its levels are the faces), so one bit gives the
    box ``[-scale, scale]``.

    ``solver="pool"`` (for many vectors, e.g. the neurons of a layer) is much faster: most
    entries go to a level with a basis shared by all vectors, and only a small pool of
    ``rank(X) + pool`` entries is walked per vector (:mod:`overparam.quantize._pool`). Its
    ``z`` keeps ``Xz = Xw``, ``|z| <= scale`` and at most ``rank(X)`` entries off the
    alphabet, but an entry may leave the cell of ``w_i``.

    Parameters
    ----------
    X : array of shape (m, N), m < N
    w : array of shape (N,) or (N, n)
        One vector or one per column; entries within ``[-scale, scale]``.
    bits : int >= 1
    scale : float or array of shape (n,), optional
        The alphabet's largest level per column (default: ``max |w|`` per column).
    solver : {"pivot", "highs", "pool"}
        The exact walk in the cells of ``w`` (default), HiGHS on the same polytope, or the
        shared-pool variant.
    pool : int >= 1, optional
        Spare pool columns for ``solver="pool"`` (default ``max(32, rank // 8)``; at most
        ``N - rank(X)``).
    **kw
        Passed to :func:`vertex_box` (``block``, ``window``, ``seed``, ``chunk``).

    Returns
    -------
    Result
        As :func:`vertex_box`, plus ``info["scale"]`` and ``info["bits"]``; with
        ``solver="pool"`` also ``info["pool"]``, ``info["retried"]`` (vectors that needed
        the larger pool) and ``info["fallback"]`` (vectors walked exactly, as with
        ``solver="pivot"``).

    Examples
    --------
    >>> import numpy as np, overparam
    >>> rng = np.random.default_rng(0)
    >>> X, w = rng.standard_normal((5, 40)), rng.uniform(-1, 1, 40)
    >>> res = overparam.quantize.vertex(X, w, bits=2, scale=1.0)
    >>> int(res.info["n_free"]) <= 5, bool(np.allclose(X @ res.x, X @ w))
    (True, True)
    """
    bits = check_bits(bits)
    X = _check_X(X)
    W, vec = _as_columns(w, X.shape[1])
    c = default_scale(W, scale)
    if solver not in ("pivot", "highs", "pool"):
        raise ValueError(f"solver must be 'pivot', 'highs' or 'pool', got {solver!r}")
    if pool is not None and solver != "pool":   # it was ignored silently
        raise TypeError(f"pool is an option of solver='pool', not of solver={solver!r}")
    if solver == "pool":
        extra = set(kw) - {"chunk"}
        if extra:
            raise TypeError(f"solver='pool' takes no {sorted(extra)} (only pool, chunk)")
        chunk = _check_count(kw.get("chunk"), "chunk", True)
        return _vertex_pool(X, W, vec, c, bits, _check_count(pool, "pool", True),
                            32 if chunk is None else chunk)
    lo, hi = cells(W, bits, c[None, :])
    res = vertex_box(X, W[:, 0] if vec else W, lo[:, 0] if vec else lo,
                     hi[:, 0] if vec else hi, solver=solver, **kw)
    res.info.update(scale=float(c[0]) if vec else c, bits=bits)
    return res


def _vertex_pool(X: np.ndarray, W: np.ndarray, vec: bool, c: np.ndarray, bits: int,
                 pool: int | None, chunk: int) -> Result:
    from ._pool import pool_vertex

    t0 = time.perf_counter()
    if np.any(np.abs(W) > c[None, :] * (1 + 1e-12)):
        raise ValueError("w must lie inside the alphabet's range [-scale, scale]")
    W = np.clip(W, -c[None, :], c[None, :])
    # in units of powers of two (exact), as in vertex_box: the pool's tolerances are
    # absolute, and for w ~ 1e-20 every neuron fell back and broke Xz = Xw
    eX = int(pow2_exponent(np.abs(X).max(initial=0.0)))
    ew = pow2_exponent(c)
    X, W, c = np.ldexp(X, -eX), np.ldexp(W, -ew[None, :]), np.ldexp(c, -ew)
    red = reduce_rows_scaled(X, _POOL_ALPHA)
    with threadpool_limits(limits=1, user_api="blas"):  # see vertex_box
        Z, info = pool_vertex(red, W, c, bits, pool=pool, chunk=chunk,
                              exact=lambda: reduce_rows(X))
    # "on a level" up to the rounding of (z + c) / step, which grows with 2**bits
    lo, hi = cells(Z.T, bits, c[None, :], tol=level_tol(bits))
    free = (hi > lo).T
    n_free = free.sum(axis=1)
    res, res_ok = _residuals(X, W, Z, c[:, None], red.dropped)
    with np.errstate(over="ignore"):   # inf: |X(z - w)| beyond floats (X, w ~ 1e+-300)
        residual = float(np.ldexp(res, eX + ew).max(initial=0.0))
    Z, c = np.ldexp(Z, ew[:, None]), np.ldexp(c, ew)
    info.update(rank=red.rank, free=free[0] if vec else free.T,
                n_free=int(n_free[0]) if vec else n_free, residual=residual, solver="pool",
                scale=float(c[0]) if vec else c, bits=bits)
    status, message = _status(n_free, red.rank, res_ok, "alphabet")
    return Result(x=Z[0] if vec else Z.T, status=status, message=message,
                  n_iter=X.shape[1] - red.rank, fun=residual,
                  wall_time=time.perf_counter() - t0, info=info)


_VERTEX_OPTIONS: dict[str, Any] = dict(solver="pivot", pool=None, block=32, window=None,
                                       seed=0, chunk=None)


def unused_vertex_options(kw: dict[str, Any], where: str, **defaults: Any) -> None:
    """Refuse options of :func:`vertex` given to a method that computes no vertex.

    ``kw`` may repeat an option at its default (``defaults`` override those of
    :func:`vertex`, e.g. ``solver="pool"`` for layers); anything else, including an unknown
    name, is a ``TypeError``: ignoring it silently hid typos and settings without effect.
    """
    known = {**_VERTEX_OPTIONS, **defaults}

    def at_default(k: str, v: Any) -> bool:
        d = known[k]
        return v is d or (isinstance(v, (str, numbers.Real)) and not isinstance(v, bool)
                          and v == d)

    bad = sorted(k for k, v in kw.items() if k not in known or not at_default(k, v))
    if bad:
        raise TypeError(f"{where} computes no vertex and takes no {bad} (vertex options, "
                        f"for the vertex-based method only)")


def default_scale(W: np.ndarray, scale: Any) -> np.ndarray:
    """Per-column alphabet scale: ``max |w|`` by default, else the given value(s)."""
    n = W.shape[1]
    if scale is None or (isinstance(scale, str) and scale == "max"):
        c = np.abs(W).max(axis=0)
    elif isinstance(scale, str) and scale == "layer":
        c = np.full(n, np.abs(W).max())
    elif isinstance(scale, str):
        raise ValueError(f"scale must be 'max', 'layer' or a number, got {scale!r}")
    else:
        # True/False read as 1/0 (alphabet() refuses them)
        if isinstance(scale, (bool, np.bool_)) or np.asarray(scale).dtype == bool:
            raise TypeError(f"scale must be real numbers, got {scale!r}")
        c = check_real(scale, "scale")
        if c.ndim > 1 or c.size not in (1, n):
            raise ValueError(f"scale must be a number or have one entry per column "
                             f"({n}), got shape {c.shape}")
        c = np.broadcast_to(c.reshape(-1), (n,)).astype(float)
        if np.any(c < 0):
            raise ValueError("scale must be >= 0")
    return np.array(c, dtype=float)
