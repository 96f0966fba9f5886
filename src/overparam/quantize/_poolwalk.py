"""Compiled walk on the pool (step 4 of :mod:`overparam.quantize._pool`), with Numba.

The same bounded-variable walk and pivot rule as :func:`overparam.quantize.vertex._walk`
(ratio test with a Harris-style tie break towards the largest pivot), one neuron at a
time with an explicit ``k x r`` tableau (``r k^2 / 2`` multiply-adds per neuron, in cache).
At the issue's size (r = 512, k = 64, 256 neurons) it takes ~0.04 s on one core; a
``parallel=True`` build over neurons was measured slower (0.131 s against 0.118 s for the
whole pool solver). The NumPy walk vectorizes over neurons instead and
is limited by its many array operations per step; it stays the fallback when Numba is not
installed (``pip install overparam[quantize]`` brings it). The first call compiles (~3 s);
``cache=True`` keeps the machine code for later processes.
"""
from __future__ import annotations

import numpy as np

try:  # optional: the NumPy walk is the fallback
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None

__all__ = ["available", "pool_walk"]


def available() -> bool:
    """Whether the compiled walk can be used (Numba importable)."""
    return numba is not None


def _pool_walk_py(T0t, Z, LO, HI, basis_out, tol):  # pragma: no cover - compiled below
    """Walk rows ``Z[i]`` (``r`` basic then ``k`` nonbasic entries) to vertices in place.

    ``T0t`` (k x r): row ``c`` is ``A_B^{-1} A_{r + c}`` for the shared first basis
    ``0..r-1``. Writes the final basis (local indices) to ``basis_out[i]``; returns the
    number of pivots per row.
    """
    n, p = Z.shape
    k, r = T0t.shape
    pivots = np.zeros(n, dtype=np.int64)
    for i in range(n):
        T = T0t.copy()
        basis = np.arange(r)
        zb = Z[i, :r].copy()
        lob = LO[i, :r].copy()
        hib = HI[i, :r].copy()
        ratio = np.empty(r)
        for c in range(k):
            j = r + c
            zj = Z[i, j]
            lj = LO[i, j]
            hj = HI[i, j]
            up = hj - zj
            dn = zj - lj
            if up <= dn:
                s = 1.0
                tj = up
                bound = hj
            else:
                s = -1.0
                tj = dn
                bound = lj
            if tj <= tol:
                Z[i, j] = bound
                continue
            amax = 0.0
            for q in range(r):
                a = abs(T[c, q])
                if a > amax:
                    amax = a
            big = 1e-11 * (1.0 + amax)
            tb = np.inf
            for q in range(r):
                d = -s * T[c, q]
                ad = abs(d)
                if ad > big:
                    gap = hib[q] - zb[q] if d > 0 else zb[q] - lob[q]
                    if gap < 0.0:
                        gap = 0.0
                    ratio[q] = gap / ad
                else:
                    ratio[q] = np.inf
                if ratio[q] < tb:
                    tb = ratio[q]
            kk = -1
            if tb < np.inf:
                lim = tb + tol * (1.0 + abs(tb))
                best = -1.0
                for q in range(r):
                    if ratio[q] <= lim:
                        ad = abs(T[c, q])
                        if ad > best:
                            best = ad
                            kk = q
            if kk < 0 or not ratio[kk] < tj:
                for q in range(r):
                    zb[q] -= s * tj * T[c, q]
                Z[i, j] = bound
                continue
            tk = ratio[kk]
            for q in range(r):
                zb[q] -= s * tk * T[c, q]
            Z[i, basis[kk]] = hib[kk] if -s * T[c, kk] > 0 else lob[kk]
            basis[kk] = j
            zb[kk] = zj + s * tk
            lob[kk] = lj
            hib[kk] = hj
            pv = T[c, kk]
            for c2 in range(c + 1, k):
                f = T[c2, kk] / pv
                if f != 0.0:
                    for q in range(r):
                        T[c2, q] -= f * T[c, q]
                    T[c2, kk] = f
            pivots[i] += 1
        for q in range(r):
            Z[i, basis[q]] = zb[q]
            basis_out[i, q] = basis[q]
    return pivots


_compiled = None


def pool_walk(T0t: np.ndarray, Z: np.ndarray, LO: np.ndarray, HI: np.ndarray,
              tol: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Run the compiled walk; returns ``(Z, basis (n x r, local indices), pivots)``."""
    global _compiled
    if numba is None:  # pragma: no cover
        raise RuntimeError("the compiled pool walk needs numba")
    if _compiled is None:
        _compiled = numba.njit(cache=True)(_pool_walk_py)
    Z = np.ascontiguousarray(Z, dtype=float)
    basis = np.empty((Z.shape[0], T0t.shape[1]), dtype=np.int64)
    piv = _compiled(np.ascontiguousarray(T0t, dtype=float), Z,
                    np.ascontiguousarray(LO, dtype=float),
                    np.ascontiguousarray(HI, dtype=float), basis, float(tol))
    return Z, basis, int(piv.sum())
