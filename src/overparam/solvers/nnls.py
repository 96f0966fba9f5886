"""Non-negative least squares: one front end over exact, first-order and reparametrized
solvers, with a KKT certificate in every result.

References
----------
H.-H. Chou, J. Maly, C. M. Verdun, B. Freitas Paulo da Costa, H. Mirandola, "Get rid of
your constraints and reparametrize: a study in NNLS and implicit bias", AISTATS 2025
(arXiv:2207.08437); code: github.com/claudioverdun/NNLS_submission.
C. L. Lawson, R. J. Hanson, "Solving Least Squares Problems", SIAM, 1995 (ch. 23).
"""
from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._core import (Result, Status, check_depth, check_finite_array, check_int,
                     check_not_complex, check_positive, pow2_exponent, x64_entry)
from ..baselines._common import (column_norms, column_scales, matrix_of, nonneg_farkas,
                                 pow2_divisor, setup)
from ..baselines.projected_gradient import (certificate, kkt_residual, kkt_scale,
                                            projected_gradient)
from ..problems import Operator, Problem
from ..problems.operators import SubsampledFFT  # noqa: F401  (public here too)

__all__ = ["nnls", "nnls_certificate", "SubsampledFFT", "METHODS"]

METHODS = ("auto", "cd", "gram", "apg", "projected-gradient", "reparam", "limit",
           "lawson-hanson", "sklearn")
_ALIASES = {"pg": "projected-gradient", "scipy": "lawson-hanson", "lh": "lawson-hanson",
            "coordinate-descent": "cd", "cd-gram": "gram", "gd": "reparam", "hadamard": "reparam"}
#: explicit matrices up to this many entries go to the dense methods
_DENSE_MAX = 50_000_000
#: "auto" takes the Gram path ("gram") for m >= n and n <= _GRAM_MAX_N, else "cd". Forming
#: A^T A costs m n^2 flops (BLAS-3) where an epoch on A streams the m n entries, so it pays
#: when n is small against the epochs a solve takes (4 to 40). Measured (one core, Gaussian,
#: well / AR(1)-correlated columns, seconds to an objective within 1e-6): n = 200 the Gram
#: path wins or ties (20000 x 200 ill: 28 ms against 82 ms); n = 500 mixed (20000 x 500:
#: 117 against 78 ms well, 124 against 205 ms ill); n = 1000 it loses (8000 x 1000 well:
#: 171 against 74 ms); n = 2000: A^T A alone takes 0.3 s at 4000 x 2000, 3x the CD solve
_GRAM_MAX_N = 256


# -- the certificate --------------------------------------------------------------------
def nnls_certificate(A: Any, y: Any, x: Any) -> dict[str, Any]:
    """KKT certificate of a candidate NNLS solution ``x``.

    Parameters
    ----------
    A : array of shape (m, n), Operator, LinearOperator or Problem
        The matrix (or a Problem, then ``y=None``).
    y : array of shape (m,)
        Measurements.
    x : array of shape (n,)
        The candidate solution (real, finite; a single row or column is accepted).

    Returns
    -------
    dict
        ``kkt = ||min(d x, g / d)||_2`` with ``g = A^T (Ax - y)`` and ``d`` the column
        norms of ``A`` (``||A||_2`` for every column of a matrix-free operator): zero
        exactly at the solutions, in the units of ``y``; ``kkt_rel = kkt / ||A^T y / d||_2``
        (invariant under ``A -> cA``, ``y -> cy``; when ``A^T y = 0``: 0 if ``kkt = 0``,
        else inf), ``min_x`` (most negative entry, should be >= 0), ``fun = 0.5 ||Ax -
        y||^2``, ``relative_residual`` and ``gradient`` (``g``). See
        :func:`overparam.baselines.projected_gradient.kkt_residual`.

    Raises
    ------
    TypeError
        A complex or non-numeric ``x``.
    ValueError
        ``x`` of the wrong shape or with NaN/inf, and the input errors of ``A`` and ``y``.
    """
    problem = setup(A, y)
    x = _vector(x, problem.n, "x")
    return certificate(problem.A, problem.y, x, column_scales(problem.A))


def _vector(v: Any, n: int, name: str) -> np.ndarray:
    """``v`` as a float vector of ``n`` entries: a vector, or a single row or column
    (flattening any shape took a 2 x 2 array as ``x0`` for ``n = 4``); complex values
    (whose imaginary part a cast drops) are a TypeError, NaN/inf a ValueError."""
    check_not_complex(v, name)
    a = check_finite_array(v, name)
    if a.ndim not in (1, 2) or (a.ndim == 2 and 1 not in a.shape) or a.size != n:
        raise ValueError(f"{name} has shape {a.shape}, expected ({n},)")
    return a.reshape(-1)


# -- cyclic coordinate descent (the fastest exact method on explicit matrices) ----------
#: coordinate descent in blocks of BLOCK consecutive coordinates: inside a block the
#: gradient is updated with the block's small Gram matrix (exact coordinate minimization, as in one-at-a-time CD), so a
#: block visit costs two matrix-vector products with B columns (the block stays in the L2
#: cache between them) and the loop runs n / B times per epoch; INNER_SWEEPS sweeps per
#: visit (the further ones cost O(B^2) and no memory traffic: they halve the epochs on
#: correlated columns); Anderson extrapolation over ANDERSON_K epochs, kept only when it
#: lowers the loss (skglm's acceleration). The matrix is held transposed (``A^T``,
#: row-major), so that a block of columns is contiguous in memory.
BLOCK = 32  # 16, 64 and 128 measured no faster, at 4000 x 2000 and 10000 x 5000
#: sweeps over each block per visit (the block's gradient is kept with its Gram matrix)
INNER_SWEEPS = 4
ANDERSON_K = 5
#: epochs of coordinate descent before the convergence rate is checked, then chunks of
#: _CHUNK epochs: the active-set polish is tried once when the rate projects more epochs
#: than the polish costs (_polish_cost)
_POLISH_AFTER = 50
_CHUNK = 25


def _polish_cost(k: int, n: int, gram: bool = False) -> float:
    """Rough cost of ``_polish`` in coordinate-descent epochs, for ``k`` free variables
    out of ``n``: a round forms and factors ``A_F^T A_F`` (``m k^2`` flops at BLAS-3 speed,
    about a tenth of the cost of the same flops streamed by an epoch), about 3 rounds.
    Measured at 4000 x 2000, AR(1) columns, k = 1160: ~200 epochs, the model's 205."""
    if gram:  # G_FF is a submatrix: a round is a Cholesky factorization, k^3 / 3 flops
        return 1.5 * (k * k * k / (30.0 * n * n) + 1.0)
    return 1.5 * (k * k / (5.0 * n) + 2.0)


@functools.lru_cache(maxsize=16)
def _cd_build(anderson: bool, B: int, sweeps: int, gram: bool = False):
    K = ANDERSON_K

    def run(At, y, x0, d, tol, max_epochs):
        # At is A transposed (n x m, row-major): a block of B columns of A is B contiguous
        # rows of At, streamed at memory bandwidth (column blocks of a row-major A are
        # strided: about 3x slower per epoch).
        # gram=True: At is G = A^T A (n x n), y is A^T y and the carried vector r is the
        # gradient G x - A^T y instead of the residual (the same updates: r += d @ rows).
        # d: the certificate's column scales (kkt_residual), of the matrix given
        n, m = At.shape
        nb = -(-n // B)
        # block k holds columns start(k) .. start(k) + B - 1; the last block is shifted
        # left to fit (its overlap with the previous one is updated twice: still exact CD)
        starts = jnp.minimum(jnp.arange(nb) * B, n - B)

        def rows(k):
            return jax.lax.dynamic_slice(At, (starts[k], 0), (B, m))

        idx = starts[:, None] + jnp.arange(B)[None, :]  # (nb, B): the blocks' columns
        # columns below ~1e-301 count as zero columns (their inverse would overflow)
        dinv = jnp.where(d > 2.0**-1000, 1.0 / jnp.where(d > 2.0**-1000, d, 1.0), 0.0)
        db, dib = d[idx], dinv[idx]

        # one pass: the blocks' Gram matrices and A^T y (the scale of the certificate)
        if gram:
            Gb = jax.lax.map(lambda k: jax.lax.dynamic_slice(At, (starts[k], starts[k]),
                                                             (B, B)), jnp.arange(nb))
            c = y
        else:
            Gb, cb = jax.lax.map(lambda k: (rows(k) @ rows(k).T, rows(k) @ y),
                                 jnp.arange(nb))
            c = jnp.zeros(n).at[idx].set(cb)  # (the overlap of the last block: once)
        scale = jnp.maximum(jnp.linalg.norm(c * dinv), 1e-300)
        cn = jnp.diagonal(Gb, axis1=1, axis2=2)
        inv = jnp.where(cn > 0, 1.0 / jnp.where(cn > 0, cn, 1.0), 0.0)
        # the sweep carries h = g / diag(G_k); moving x_i by d changes h_j by
        # d G_ij / G_jj: row i of Hb is G_i. scaled column-wise by the inverse diagonal
        Hb = Gb * inv[:, None, :]

        def block(k, c):
            x, r, viol = c
            Ak = rows(k)
            Hk = Hb[k]
            xk = jax.lax.dynamic_slice(x, (starts[k],), (B,))
            g = jax.lax.dynamic_slice(r, (starts[k],), (B,)) if gram else Ak @ r
            # the KKT violations at the block's visit estimate the residual (gate only)
            viol = viol + jnp.sum(jnp.minimum(xk * db[k], g * dib[k]) ** 2)

            def inner(j, c2):  # exact minimization along coordinate i (few ops: the
                xb, h = c2     # loop runs n * sweeps times per epoch)
                i = j % B
                xi = xb[i]
                xn = jnp.maximum(xi - h[i], 0.0)
                return xb.at[i].set(xn), h + (xn - xi) * Hk[i]

            xb, _ = jax.lax.fori_loop(0, sweeps * B, inner, (xk, g * inv[k]))
            x = jax.lax.dynamic_update_slice(x, xb, (starts[k],))
            return x, r + (xb - xk) @ Ak, viol

        def exact(c):
            x, r, _ = c
            g = r if gram else At @ r
            return jnp.linalg.norm(jnp.minimum(x * d, g * dinv)) / scale, g

        def extrapolate(x, r, hist):
            U = hist[1:] - hist[:-1]
            C = U @ U.T
            C = C + 1e-10 * jnp.trace(C) * jnp.eye(K) + 1e-300 * jnp.eye(K)
            z = jnp.linalg.solve(C, jnp.ones(K))
            c = z / jnp.sum(z)
            xe = jnp.maximum(c @ hist[1:], 0.0)
            re = xe @ At - y
            if gram:  # the loss up to a constant: 0.5 x^T G x - c^T x = 0.5 x.(g - c)
                lower = jnp.vdot(xe, re - y) < jnp.vdot(x, r - y)
            else:
                lower = jnp.vdot(re, re) < jnp.vdot(r, r)
            better = jnp.all(jnp.isfinite(c)) & lower
            return jnp.where(better, xe, x), jnp.where(better, re, r)

        def body(s):
            x, r, e, _, g, hist = s
            x, r, viol = jax.lax.fori_loop(0, nb, block, (x, r, jnp.float64(0.0)))
            # the in-epoch (stale) estimate gates the exact check, which costs a pass
            est = jnp.sqrt(viol) / scale
            res, g = jax.lax.cond(est <= tol, exact, lambda c: (jnp.float64(jnp.inf), c[2]),
                                  (x, r, g))
            if anderson:
                slot = e % (K + 1)
                hist = hist.at[slot].set(x)
                x, r = jax.lax.cond((slot == K) & (res > tol), lambda c: extrapolate(*c),
                                    lambda c: (c[0], c[1]), (x, r, hist))
            return x, r, e + 1, res, g, hist

        def cond(s):
            return (s[2] < max_epochs) & (s[3] > tol) & jnp.all(jnp.isfinite(s[1]))

        r0 = jax.lax.cond(jnp.any(x0 != 0), lambda v: v @ At - y, lambda v: -y, x0)
        hist = jnp.zeros((K + 1,) + x0.shape)
        s0 = (x0, r0, jnp.int64(0), jnp.float64(jnp.inf), jnp.zeros(n), hist)
        x, r, e, res, g, _ = jax.lax.while_loop(cond, body, s0)
        # the gradient of the last exact check is current unless the loop ran out first
        res, g = jax.lax.cond(res <= tol, lambda c: (res, g), exact, (x, r, g))
        zero = jnp.zeros(n, dtype=bool).at[idx].set(cn <= 0)
        return x, e, res, zero

    return jax.jit(run)


_TILE = (1024, 256)  # rows x columns of M per tile (2 MiB) in _aligned_transpose


def _aligned_transpose(M: np.ndarray) -> np.ndarray:
    """``M.T`` as a C-contiguous array whose data is 64-byte aligned: JAX then uses the
    buffer without a copy (``device_put(may_alias=True)``), where ``jnp.asarray`` of an
    ordinary (16-byte aligned) NumPy array copies it, at ~10 ms per 64 MB plus page faults.
    An F-contiguous, aligned ``M`` is used as it is."""
    T = M.T
    if T.flags.c_contiguous and T.ctypes.data % 64 == 0:
        return T
    buf = np.empty(T.size * 8 + 64, dtype=np.uint8)
    off = (-buf.ctypes.data) % 64
    out = buf[off:off + T.size * 8].view(np.float64).reshape(T.shape)
    n, m = T.shape
    if T.size <= _TILE[0] * _TILE[1] or not M.flags.c_contiguous:
        out[...] = T
    else:  # in cache-sized tiles: 2.5x faster than one strided copy at 10000 x 5000
        R, C = _TILE
        for i in range(0, m, R):
            for j in range(0, n, C):
                out[j:j + C, i:i + R] = M[i:i + R, j:j + C].T
    return out


def _nnls_cd(M: np.ndarray, y: np.ndarray, x0: np.ndarray, tol: float, max_iter: int,
             anderson: bool = True, At: Any = None, gram: bool = False, c: Any = None,
             d: Any = None):
    """Blocked cyclic coordinate descent with Anderson acceleration (jitted), on ``A``
    (``gram=False``) or on the Gram system ``G = A^T A``, ``c = A^T y`` (``gram=True``),
    stopping on the relative KKT residual with column scales ``d`` (default: the column
    norms of ``M``).

    Returns ``(x, epochs, relative KKT residual, extras)``, ``extras`` holding the
    zero-column mask, ``At`` (the transposed matrix, or ``G``, on the device: pass it back
    to skip forming it again), ``c`` and, on the Gram system, ``G`` as a NumPy array."""
    m, n = M.shape
    B = min(BLOCK, n)
    if d is None:
        d = column_norms(M)
    Gnp = None
    if gram:
        if At is None:
            Gnp = M.T @ M  # BLAS-3, m n^2 flops
            At = jnp.asarray(Gnp)
            c = M.T @ y
        rhs = c
    else:
        if At is None:
            At = jax.device_put(_aligned_transpose(np.asarray(M, dtype=np.float64)),
                                may_alias=True)
        rhs = y
    x, e, res, zero = _cd_build(anderson, B, INNER_SWEEPS, gram)(
        At, jnp.asarray(rhs), jnp.asarray(x0), jnp.asarray(d, dtype=jnp.float64),
        jnp.float64(tol), jnp.int64(max_iter))
    extras = dict(zero=np.asarray(zero), At=At, c=c,
                  G=Gnp if Gnp is not None else (np.asarray(At) if gram else None))
    return np.asarray(x), int(e), float(res), extras


def _cd_solve(M: np.ndarray, y: np.ndarray, x0: np.ndarray, tol: float, cap: int,
              gram: bool = False, d: Any = None):
    """Coordinate descent (``_nnls_cd``) for at most ``cap`` epochs: _POLISH_AFTER
    epochs, then chunks while the observed rate projects fewer epochs than the active-set
    polish costs (``_polish_cost``), else the polish (once: on failure, more epochs).

    Returns ``(x, epochs, relative KKT residual of the loop, zero-column mask, detail)``."""
    n = M.shape[1]
    if d is None:
        d = column_norms(M)
    xs, n_iter, res, extras = _nnls_cd(M, y, x0, tol, min(cap, _POLISH_AFTER), gram=gram,
                                       d=d)
    zero = extras["zero"]
    polished, detail = False, ""
    # a polished point that misses tol (tol below its rounding floor, e.g. cond(A) ~ 1e12):
    # coordinate descent goes on from it, and it is returned if nothing better is found
    # (it was discarded: 10000 epochs later "max_iter" at a KKT residual of 1.5e-4, where
    # the polished point had 2.2e-10)
    best = None
    while res > tol and n_iter < cap and np.all(np.isfinite(xs)):
        prev = res
        chunk = cap - n_iter if polished else min(_CHUNK, cap - n_iter)
        xs, more, res, extras = _nnls_cd(M, y, xs, tol, chunk, At=extras["At"], gram=gram,
                                         c=extras["c"], d=d)
        n_iter += more
        if res <= tol or n_iter >= cap or polished or not np.all(np.isfinite(xs)):
            continue
        rate = (res / prev) ** (1.0 / more) if prev > 0 else 1.0
        # (tol = 0: no finite count of epochs reaches it; log(0) warned "divide by zero")
        need = np.log(tol / res) / np.log(rate) if 0 < rate < 1 and tol > 0 else np.inf
        if need > _polish_cost(int(np.count_nonzero(xs)), n, gram):
            polished = True
            gsys = (extras["G"], extras["c"]) if gram else None
            xp = _polish(M, y, xs, d, tol, gram=gsys)
            how = "block principal pivoting"
            if xp is None or xp[1] > tol:  # (keep the better of the two)
                xl = _lh_polish(M, y, xs, d, tol, need, gram=gsys)
                if xl is not None and (xp is None or xl[1] < xp[1]):
                    xp, how = xl, "Lawson-Hanson on a working set of columns"
            if xp is not None and xp[1] <= tol:
                xs, res = xp[0], 0.0
                detail = f" + active-set polish ({how})"
                break
            if xp is not None and xp[1] < res:
                best = xp
                xs, res = xp
                if gram:  # the rounding of G: coordinate descent on A goes on (_cd_method)
                    break
    if best is not None and best[1] <= res:
        xs, res = best
        detail = (f" + active-set polish ({how}; its KKT residual {res:.1e} misses tol: "
                  "the rounding floor)")
    where = "on the Gram matrix A^T A" if gram else "on A"
    detail = f"coordinate descent {where}, {n_iter} epochs" + detail
    return xs, n_iter, res, zero, detail


#: restarts of coordinate descent from its result when the certificate on A (recomputed
#: from A and x) misses tol while the loop's carried residual said it was met
_CD_RESTARTS = 3


def _cd_method(M: np.ndarray, y: np.ndarray, x0: np.ndarray, tol: float, cap: int,
               gram: bool, d: np.ndarray, norms: np.ndarray):
    """``"cd"`` / ``"gram"``: coordinate descent on ``A / a`` and ``y / s`` (``a``, ``s``
    powers of two near ``max|A|`` and ``max|y|`` when these leave ``[2**-100, 2**100]``:
    exact, and the squared column norms and the loop's KKT norms neither under- nor
    overflow), certified on ``A`` itself from the returned ``x`` (column scales ``d``;
    ``norms`` are the column norms of ``M``).

    Coordinate descent is invariant under column scalings, so when a column is more than
    ``2**400`` below the largest entry (its squared norm would underflow in the loop: a
    column 1e-160 times the others was taken for a zero column) every column is divided
    by a power of two near its own norm instead (exact; a copy of ``A``).

    The loop's residual is carried through the epochs and drifts by rounding (from a warm
    start at 1e12 it said 7e-16 where the truth was 4e-4), and the Gram path's gradient
    ``G x - A^T y`` is rounded by ``~eps ||A||^2 ||x||``: when the certificate on ``A``
    misses ``tol``, coordinate descent on ``A`` goes on from ``x`` with a fresh residual.

    Returns ``(x, epochs, status, detail, zero-column mask, certificate)``."""
    # (max and -min: np.abs(M) would copy the matrix)
    top = max(float(M.max(initial=0.0)), -float(M.min(initial=0.0)))
    ea = int(pow2_exponent(pow2_divisor(top)))
    es = int(pow2_exponent(pow2_divisor(float(np.abs(y).max(initial=0.0)))))
    if np.any((norms > 0) & (np.ldexp(norms, -ea) < 2.0**-400)):
        ea = np.where(norms > 0, pow2_exponent(norms), 0)  # one per column
    Ms = np.ldexp(M, -ea) if np.any(ea) else M
    ys, ds = np.ldexp(y, -es), np.ldexp(d, -ea)
    with np.errstate(over="ignore", under="ignore"):
        xs = np.ldexp(x0, ea - es)
    n_iter, detail, mode, zero = 0, "", gram, np.zeros(M.shape[1], dtype=bool)
    restarts, res, cert = 0, np.inf, None
    while True:
        xs, more, res, zero, part = _cd_solve(Ms, ys, xs, tol, max(cap - n_iter, 1), mode, ds)
        n_iter += more
        detail = part if not detail else f"{detail}, then {part}"
        xs = np.where(zero, 0.0, xs)  # a warm start may have put mass there
        if not np.all(np.isfinite(xs)):
            break
        with np.errstate(over="ignore", under="ignore"):
            x = np.ldexp(xs, es - ea)
        cert = certificate(M, y, x, d)
        # (the Gram path may stop above tol at a polished point: A takes over from it)
        if cert["kkt_rel"] <= tol or n_iter >= cap or (res > tol and not mode):
            break
        if not mode:
            if restarts >= _CD_RESTARTS:
                break
            restarts += 1
        mode = False  # the Gram path missed on A: coordinate descent on A takes over
    if cert is None or not np.all(np.isfinite(xs)):
        status = Status.DIVERGED
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            x = np.ldexp(xs, es - ea)
    elif cert["kkt_rel"] <= tol:
        status = Status.CONVERGED
    elif n_iter >= cap:
        status = Status.MAX_ITER
    else:  # the loop met tol, the certificate on A (recomputed) does not: rounding floor
        status = Status.STAGNATED
        detail += (f"; the loop met tol but the certificate on A is {cert['kkt_rel']:.1e} "
                   f"after {restarts} restart(s)")
    return x, n_iter, status, detail, zero, cert


def _polish(M: np.ndarray, y: np.ndarray, x: np.ndarray, d: np.ndarray, tol: float,
            max_rounds: int = 10, gram: tuple | None = None) -> tuple | None:
    """Active-set Newton polish: block principal pivoting (Kim and Park 2011, Judice and
    Pires 1994) started from the support of ``x``: solve the least-squares problem on the
    free set ``F`` by Cholesky, exchange the infeasible indices (negative entries in ``F``,
    negative gradient outside), repeat. Returns ``(x, kkt_rel)``, the exact solution and
    its relative KKT residual (column scales ``d``; the caller compares it with ``tol``),
    or None (singular free set, or no convergence in ``max_rounds``). ``gram=(G, c)``: the
    same on the Gram system (``G_FF`` is a submatrix: no pass over ``A``)."""
    import scipy.linalg

    n = M.shape[1]
    F = x > 0
    best_count, backup = n + 1, 3
    b = M.T @ y if gram is None else gram[1]
    scale = kkt_scale(b, d)
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    thresh = 1e-13 * scale  # (g / d is in the units of y, as the scale)
    for _ in range(max_rounds):
        if not F.any():
            xn = np.zeros(n)
        else:
            if gram is None:
                AF = M[:, F]
                GF, cF = AF.T @ AF, AF.T @ y
            else:
                GF, cF = gram[0][np.ix_(F, F)], gram[1][F]
            try:
                c = scipy.linalg.cho_factor(GF, check_finite=False)
            except np.linalg.LinAlgError:
                return None
            z = scipy.linalg.cho_solve(c, cF, check_finite=False)
            if not np.all(np.isfinite(z)):
                return None
            xn = np.zeros(n)
            xn[F] = z
        g = _grad(M, y, xn, gram)
        infeasible = (F & (xn < 0)) | (~F & (g * dinv < -thresh))
        count = int(infeasible.sum())
        if count == 0:
            xn = np.maximum(xn, 0.0)
            g = _grad(M, y, xn, gram)
            return (xn, kkt_residual(xn, g, d) / scale) if scale > 0 else None
        if count < best_count:
            best_count, backup = count, 3
            F = F ^ infeasible
        elif backup > 0:
            backup -= 1
            F = F ^ infeasible
        else:
            j = int(np.flatnonzero(infeasible)[-1])
            F[j] = not F[j]
    return None


def _lh_cost(k: int, n: int) -> float:
    """Rough cost of Lawson-Hanson (SciPy's nnls) on ``k`` columns, in coordinate-descent
    epochs on ``n`` columns (both scale with ``m``). Measured at m = 4000, n = 2000 (one
    core, an epoch 20 ms): k = 200, 400, 800 took 8, 26, 134 epochs' time (the model: 6,
    27, 136)."""
    return k**2.4 / (34.0 * n) + 1.0


def _lh_polish(M: np.ndarray, y: np.ndarray, x: np.ndarray, d: np.ndarray, tol: float,
               budget: float, gram: tuple | None = None) -> tuple | None:
    """Lawson-Hanson (``scipy.optimize.nnls``) on a working set of columns: the support of
    ``x`` and the columns with a negative gradient, grown by the columns whose gradient
    is negative at the working set's solution until none is (then the solution is the
    full problem's). The backup of ``_polish``: block principal pivoting needs a
    nonsingular ``A_F^T A_F`` on every free set and a few rounds; from a support larger
    than ``m`` (under-determined) or on ill-conditioned columns it gave up, and
    coordinate descent then ran to its cap (10000 epochs, 3 s, objective 1e-2 above
    SciPy's at 60 x 20, condition 1e6), where Lawson-Hanson takes 1 ms. Returns
    ``(x, kkt_rel)``, the solution and its relative KKT residual (column scales ``d``),
    or None (not affordable within ``budget`` epochs)."""
    import scipy.optimize

    n = M.shape[1]
    b = M.T @ y if gram is None else gram[1]
    scale = kkt_scale(b, d)
    dinv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    thresh = 1e-13 * scale
    g = _grad(M, y, x, gram)
    W = (x > 0) | (g * dinv < -thresh)
    spent = 0.0
    for _ in range(10):
        k = int(W.sum())
        spent += _lh_cost(k, n)
        if scale <= 0 or k == 0 or spent > budget:
            return None
        try:
            z, _ = scipy.optimize.nnls(M[:, W], y, maxiter=50 * k)
        except RuntimeError:  # SciPy's iteration limit
            return None
        xn = np.zeros(n)
        xn[W] = z
        g = _grad(M, y, xn, gram)
        out = ~W & (g * dinv < -thresh)
        if not out.any():
            return xn, kkt_residual(xn, g, d) / scale
        W |= out
    return None


def _grad(M: np.ndarray, y: np.ndarray, x: np.ndarray, gram: tuple | None) -> np.ndarray:
    return M.T @ (M @ x - y) if gram is None else gram[0] @ x - gram[1]


# -- the front end ------------------------------------------------------------------------
@x64_entry
def nnls(
    A: Any,
    y: Any = None,
    *,
    method: str = "auto",
    depth: int = 2,
    init_scale: float = 1e-3,
    step: Any = None,
    x0: Any = None,
    tol: float = 1e-10,
    max_iter: int | None = None,
    interp_tol: float = 1e-6,
) -> Result:
    r"""Non-negative least squares :math:`\min_{x \ge 0} \tfrac12 \|Ax - y\|_2^2`.

    Two regimes (see ``docs/nnls.md``):

    * **over-determined** (``A`` of full column rank, typically ``m >= n``): the solution
      is unique; every method returns it, ``"auto"`` the fastest way;
    * **under-determined** (``m < n``, a non-negative ``x`` with ``Ax = y`` exists): the
      solutions form a polytope. ``"reparam"`` and ``"limit"`` return the implicit-bias
      solution of gradient descent on ``x = u^L`` started at ``u = init_scale`` (close to
      the minimal-l1 non-negative solution for small ``init_scale``); the other methods
      return *some* solution, whichever their iteration reaches.

    Parameters
    ----------
    A : array of shape (m, n), Operator, scipy LinearOperator / sparse matrix, or Problem
        Explicit or matrix-free (e.g. :class:`SubsampledFFT`,
        :class:`overparam.problems.PartialDCT`); a Problem carries ``y``.
    y : array of shape (m,)
    method : str
        * ``"auto"``: for an explicit matrix ``"gram"`` when ``m >= n`` and ``n <= 256``,
          else ``"cd"``; ``"apg"`` for a matrix-free operator (the fastest exact methods
          we have; see the benchmark and ``_GRAM_MAX_N``).
        * ``"cd"``: cyclic coordinate descent on the columns (jitted JAX loop over blocks of
          32 columns of ``A^T``, exact line minimization per coordinate, Anderson
          acceleration, KKT stopping; an active-set polish when it converges slowly).
          Explicit matrices only.
        * ``"gram"``: the same coordinate descent on ``G = A^T A`` and ``A^T y`` (formed
          once: ``m n^2`` flops, then ``O(n^2)`` per epoch instead of ``O(mn)``); the result
          is certified on ``A`` itself, and coordinate descent on ``A`` takes over if the
          rounding of ``G`` keeps it from ``tol``. Explicit matrices only.
        * ``"apg"`` / ``"projected-gradient"``: accelerated (restarted) / plain projected
          gradient (:func:`overparam.baselines.projected_gradient`), any operator.
        * ``"reparam"``: gradient descent on ``x = u^depth`` from ``u = init_scale``, the
          paper's method, through the jitted driver with the step policy ``step`` (default
          ``Nesterov(space="mirror")``, whose limit is the gradient flow's, with the factors
          floored at ``1e-300 ** (1 / (depth - 1))`` so that the zeros of the solution do
          not underflow; ``Nesterov()`` when ``m >= n``).
        * ``"limit"``: the exact limit of that gradient flow
          (:func:`overparam.hadamard_limit`, ``nonneg=True``); interpolation regime only.
        * ``"lawson-hanson"``: ``scipy.optimize.nnls``. ``"sklearn"``: scikit-learn's
          ``LinearRegression(positive=True)``. Explicit matrices only.
    depth, init_scale : int, float
        Depth ``L >= 2`` and initial factor value of ``"reparam"`` / ``"limit"``.
    step : step policy, float or "auto", optional
        Step policy of ``"reparam"`` (:mod:`overparam.dynamics.steps`).
    x0 : array of shape (n,), optional
        Warm start (``"cd"``, ``"gram"``, ``"apg"``, ``"projected-gradient"``, ``"reparam"``: entries
        are floored at ``init_scale**depth``, since 0 is absorbing for ``u^L``).
    tol : float
        Target relative KKT residual ``kkt_rel = ||min(d x, g / d)|| / ||A^T y / d||``
        (``g = A^T (Ax - y)``, ``d`` the column norms of ``A``: see
        :func:`nnls_certificate`); ``converged`` means the certificate of the returned
        ``x``, computed from ``A``, meets it (iterative methods; the exact ones are checked
        against ``max(tol, 1e-6)``).
    max_iter : int, optional
        Iteration cap (epochs for ``"cd"`` and ``"gram"``, steps otherwise; for
        ``"limit"`` Newton steps, and when it falls back to the NNLS minimizer ``n_iter``
        counts the fallback's iterations, the Newton steps going to
        ``info["limit_n_iter"]``).
    interp_tol : float
        Relative residual below which the solution counts as interpolating ``Ax = y``.
        For ``"reparam"`` with ``m < n`` an interpolant to ``interp_tol`` also counts as
        converged (the implicit-bias solution is an interpolant, and every non-negative
        interpolant solves NNLS); for ``m >= n`` only the certificate does.

    Returns
    -------
    Result
        ``x``, ``status``, ``fun = 0.5 ||Ax - y||^2`` and ``info`` with the certificate
        (``kkt``, ``kkt_rel``, ``min_x``, ``relative_residual``, ``gradient``), ``method``,
        ``regime`` and ``zero_columns``. Status: ``converged`` when the method met its
        tolerance; ``infeasible`` when ``m < n`` and no non-negative ``x`` interpolates
        (``x`` is then still the certified least-squares minimizer); ``max_iter`` /
        ``stagnated`` / ``diverged`` from the iterative methods (``stagnated`` from
        ``"cd"`` / ``"gram"`` when the loop met ``tol`` but the certificate recomputed
        from ``A`` does not, after restarts: ``tol`` below the rounding floor).

    Raises
    ------
    ValueError
        Unknown method, NaN/inf in ``A``, ``y`` or ``x0``, shape mismatch (``x0`` must be
        a vector of ``n`` entries, or a single row or column), an explicit-matrix method
        on a huge matrix-free operator.
    TypeError
        A complex ``y`` or ``x0``.

    Examples
    --------
    >>> import numpy as np, overparam
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((60, 20)); y = rng.standard_normal(60)
    >>> res = overparam.solvers.nnls(A, y)
    >>> res.success, res.info["kkt_rel"] < 1e-8
    (True, True)
    """
    if not isinstance(method, str):
        # a list or dict failed in the alias lookup ("unhashable type: 'list'")
        raise TypeError(f"method must be a string, one of {METHODS}, got "
                        f"{type(method).__name__}")
    method = _ALIASES.get(method, method)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: use one of {METHODS}")
    problem = setup(A, y)
    depth = check_depth(depth)
    if method in ("reparam", "limit") and depth < 2:
        # x = u^1 is plain (unconstrained) gradient descent: it returned x with negative
        # entries (min -0.33) as CONVERGED
        raise ValueError(f"depth = {depth}: method={method!r} needs depth >= 2 (x = u^L "
                         "with L >= 2 keeps x >= 0; depth 1 is unconstrained least squares)")
    init_scale = check_positive(init_scale, "init_scale")
    tol = check_positive(tol, "tol", allow_zero=True)
    interp_tol = check_positive(interp_tol, "interp_tol", allow_zero=True)
    if max_iter is not None:
        max_iter = check_int(max_iter, "max_iter", minimum=1)
    m, n = problem.shape
    op = problem.A
    if x0 is not None:
        x0 = _vector(x0, n, "x0")
    explicit = op.is_dense or (m * n <= _DENSE_MAX and not _is_fast_operator(op))
    if method == "auto":
        method = ("gram" if m >= n and n <= _GRAM_MAX_N else "cd") if explicit else "apg"
    t0 = time.perf_counter()
    zero_cols = np.zeros(n, dtype=bool)
    M = None
    if method in ("cd", "gram", "lawson-hanson", "sklearn") or (
            method in ("apg", "projected-gradient", "reparam", "limit") and op.is_dense):
        M = np.asarray(matrix_of(problem, who=f"nnls(method={method!r})",
                                 alternative="use method='apg' or 'reparam'"))
        if method not in ("cd", "gram"):  # coordinate descent finds its zero columns
            zero_cols = ~np.any(M != 0, axis=0)
    # the certificate's column scales (kkt_residual), those of nnls_certificate(A, y, x)
    d = column_norms(M) if M is not None and op.is_dense else column_scales(op)
    keep = ~zero_cols
    yv = np.asarray(problem.y, dtype=np.float64)
    if M is not None and zero_cols.any():
        # (no column left: every method's answer is x = 0, as coordinate descent's)
        sub = Problem(M[:, keep], yv) if keep.any() else None
    elif M is not None and not op.is_dense and method not in ("cd", "gram"):
        sub = Problem(M, yv)  # the materialised matrix (sparse or LinearOperator input)
    else:
        sub = problem
    x0s = None if x0 is None else np.maximum(x0[keep] if M is not None else x0, 0.0)

    info: dict[str, Any] = dict(method=method)
    advice = None  # replaces status.advice when the method names the cause of a failure
    cert = None
    status, n_iter, detail = Status.CONVERGED, 0, ""
    n_sub = int(keep.sum())
    if not np.any(yv):
        # y = 0: x = 0 solves it (the least-norm solution); the certificate's scale
        # ||A^T y|| is 0, so a method's rounding-level x scored a "relative" KKT residual
        # of ~1e284 (method="limit" then reported a numerical error)
        if M is not None:  # "cd" / "gram" find their zero columns in the loop, skipped
            zero_cols = ~np.any(M != 0, axis=0)  # here: info["zero_columns"] was empty
            keep = ~zero_cols
        xs = np.zeros(int(keep.sum()))
        detail = "y = 0: x = 0"
    elif n_sub == 0:
        # every column is zero: Problem(M[:, keep]) had no column ("A is empty")
        xs = np.zeros(0)
        detail = "A has no nonzero column: x = 0"
    elif method in ("cd", "gram"):
        cap = 10_000 if max_iter is None else max_iter
        start = np.zeros(n) if x0s is None else x0s
        xs, n_iter, status, detail, zero_cols, cert = _cd_method(
            M, yv, start, tol, cap, method == "gram", d, d if op.is_dense else column_norms(M))
    elif method in ("apg", "projected-gradient"):
        r = projected_gradient(sub, accelerated=(method == "apg"), x0=x0s, tol=tol,
                               max_iter=50_000 if max_iter is None else max_iter)
        xs, n_iter, status = r.x, r.n_iter, r.status
        info["gram"] = r.info["gram"]
        detail = f"{method}, {n_iter} iterations"
    elif method == "reparam":
        xs, n_iter, status, detail, extra = _reparam_scaled(sub, depth, init_scale, step, x0s,
                                                            tol, interp_tol, max_iter, d[keep])
        advice = extra.pop("_advice", None)
        info.update(extra)
    elif method == "limit":
        from ..limits import hadamard_limit

        r = hadamard_limit(sub, depth=depth, init_scale=init_scale, nonneg=True,
                           **({} if max_iter is None else dict(max_iter=max_iter)))
        xs, n_iter, status = np.asarray(r.x), r.n_iter, r.status
        detail = f"exact flow limit: {r.message}"
        if status is Status.INFEASIBLE:
            # no limit exists, and the Newton iterate left behind is no NNLS solution
            # (measured: relative residual 2.4 to 7e3, worse than x = 0); "infeasible"
            # promises the certified least-squares minimizer, so compute it. Its status is
            # the result's: converged when m >= n (no interpolant there is no
            # infeasibility), infeasible (certified below) when m < n, max_iter or
            # stagnated when it misses tol (it was "infeasible" with the Newton iterate)
            alt = nnls(sub, method="auto", tol=tol, max_iter=max_iter, interp_tol=interp_tol)
            xs, status = np.asarray(alt.x), alt.status
            # n_iter counts the iterations of the method x comes from (at most max_iter;
            # the sum with the Newton steps could exceed it)
            info["limit_n_iter"], n_iter = n_iter, alt.n_iter
            detail += (f"; x from the NNLS solve by method={alt.info['method']!r} "
                       f"({alt.status.value}, {alt.n_iter} iterations)")
    elif method == "lawson-hanson":
        from ..baselines import nnls as scipy_nnls

        r = scipy_nnls(sub, max_iter=max_iter)
        xs, status = r.x, r.status
        detail = "scipy.optimize.nnls (Lawson-Hanson)"
    else:  # sklearn
        from sklearn.linear_model import LinearRegression

        est = LinearRegression(positive=True, fit_intercept=False)
        est.fit(sub.A.to_dense(), yv)
        xs = np.asarray(est.coef_, dtype=np.float64)
        detail = "scikit-learn LinearRegression(positive=True)"
    x = np.zeros(n)
    x[keep if M is not None else slice(None)] = xs
    info["zero_columns"] = np.flatnonzero(zero_cols)
    wall = time.perf_counter() - t0

    if cert is not None:
        pass  # coordinate descent's: from A and the returned x, once
    elif np.all(np.isfinite(x)):
        cert = certificate(op, yv, x, d)
    else:
        cert = dict(
            kkt=np.nan, kkt_rel=np.nan, min_x=np.nan, fun=np.nan, relative_residual=np.nan,
            gradient=np.full(n, np.nan))
    info.update(cert)
    info["regime"] = "over-determined" if m >= n else "under-determined"
    info["interpolates"] = bool(cert["relative_residual"] <= interp_tol)
    if method in ("lawson-hanson", "sklearn", "limit") and status is Status.CONVERGED:
        # exact methods: trust, but verify with the certificate
        if not cert["kkt_rel"] <= max(tol, 1e-6):
            status = Status.NUMERICAL_ERROR
            detail += f"; KKT residual {cert['kkt_rel']:.1e} too large"
    # (a KKT residual within tol alone also holds at points that nearly interpolate:
    # depth-3 reparam at tol 1e-6 ended at residual 1.2e-6 and called feasible problems
    # infeasible; the residual must be a Farkas certificate)
    if (m < n and not info["interpolates"] and status in (Status.CONVERGED, Status.STAGNATED,
                                                          Status.INFEASIBLE)
            and cert["kkt_rel"] <= max(tol, 1e-6) and nonneg_farkas(problem, x)):
        status = Status.INFEASIBLE
        detail += ("; no non-negative x solves Ax = y (relative residual "
                   f"{cert['relative_residual']:.2e}): x is the certified NNLS minimizer, "
                   "not an interpolant, so the implicit-bias reading does not apply")
    if zero_cols.any():
        detail += f"; {int(zero_cols.sum())} zero column(s) set to 0 (not identifiable)"
    if advice is not None and status in (Status.STAGNATED, Status.DIVERGED):
        # (a status changed after _reparam keeps its own advice)
        status_advice = advice + (" The returned x is the last finite iterate."
                                  if status is Status.DIVERGED else "")
    else:
        status_advice = status.advice
    msg = (f"{status_advice} ({detail}; KKT residual {cert['kkt_rel']:.2e} relative, "
           f"relative residual {cert['relative_residual']:.2e})")
    return Result(x=x, status=status, message=msg, n_iter=n_iter, fun=cert["fun"],
                  wall_time=wall, info=info)


def _is_fast_operator(op: Operator) -> bool:
    """Operators with fast matrix-free maps are never materialised by ``"auto"``."""
    return not op.is_dense and not hasattr(op, "linop")


def _reparam_scaled(problem: Problem, depth: int, init_scale: float, step: Any, x0: Any,
                    tol: float, interp_tol: float, max_iter: int | None, scales: np.ndarray):
    """``_reparam`` on ``A / 2**ea`` and ``y / 2**ey`` when ``||A||_2`` (explicit matrices)
    or ``max|y|`` leave ``[2**-100, 2**100]``, with ``x0`` and ``init_scale`` carried along
    and ``x`` scaled back.

    The driver squares ``||A||_2`` in Python (an ``OverflowError`` for A ~ 1e200), its
    gradients underflow for A ~ 1e-160 (``stagnated`` at a relative KKT residual of 8) and
    it refuses ``max|y|`` outside ``[1e-140, 1e140]``, where every other method solves the
    problem. The flow is equivariant: ``A -> A / a``, ``y -> y / s`` maps ``x -> x a / s``
    and ``u -> u (a / s)**(1/L)``, so ``init_scale -> init_scale (a / s)**(1/L)`` keeps the
    implicit-bias solution (powers of two: the data are scaled exactly). In-range data are
    passed as they are."""
    ea = 0
    if problem.A.is_dense:
        ea = int(pow2_exponent(pow2_divisor(float(problem.A.norm2))))
    yv = np.asarray(problem.y, dtype=np.float64)
    ey = int(pow2_exponent(pow2_divisor(float(np.abs(yv).max(initial=0.0)))))
    if ea == 0 and ey == 0:
        with np.errstate(over="ignore"):
            # (init_scale**depth in _reparam: a bare OverflowError for init_scale = 1e200)
            if not np.isfinite(np.float64(init_scale) ** depth):
                raise ValueError(f"init_scale = {init_scale!r} is out of the float64 range "
                                 f"at depth {depth} (x(0) = init_scale**{depth} overflows)")
        return _reparam(problem, depth, init_scale, step, x0, tol, interp_tol, max_iter,
                        scales)
    e = ea - ey  # x' = x * 2**e
    init_s = init_scale * 2.0 ** (e / depth)
    if not 0.0 < init_s < np.inf or not 0.0 < init_s**depth < np.inf:
        raise ValueError(f"init_scale = {init_scale!r} is out of the float64 range relative "
                         f"to the scale of the solution (about 2**{-e}): rescale A or y")
    A_s = np.ldexp(problem.A.to_dense(), -ea) if ea else problem.A
    sub = Problem(A_s, np.ldexp(yv, -ey))
    with np.errstate(over="ignore", under="ignore"):
        x0_s = None if x0 is None else np.ldexp(x0, e)
        x, n_iter, status, detail, extra = _reparam(
            sub, depth, init_s, step, x0_s, tol, interp_tol, max_iter, np.ldexp(scales, -ea))
        x = np.ldexp(x, -e)
    extra["init_scale"] = init_scale  # the caller's (the run used init_scale * 2**(e/L))
    detail += f", on A / 2**{ea} and y / 2**{ey}"
    return x, n_iter, status, detail, extra


#: fewest steps without a new best loss before ``_reparam`` stops as stagnated (as the
#: driver's default; the run must also have gone half its length without one)
_STAGNATION_WINDOW = 100


def _reparam(problem: Problem, depth: int, init_scale: float, step: Any, x0: Any,
             tol: float, interp_tol: float, max_iter: int | None, scales: np.ndarray):
    """GD on x = u^L through the driver, in chunks, converged when the KKT certificate
    (column scales ``scales``, checked between chunks) meets ``tol`` or, for ``m < n``
    only, when x interpolates (the driver's residual test, ``interp_tol``): there the
    implicit-bias solution is an interpolant, and every interpolant ``x >= 0`` solves NNLS.

    For ``m >= n`` interpolation was taken as convergence too (kkt_rel 5e-8 at tol 1e-12,
    x 1.5e-6 off); there, when the certificate misses ``tol``, the driver's residual test
    is tightened by ``tol / kkt`` (at least 2x) and the run goes on.

    The chunks run without the driver's stagnation stop: each restarts its iteration
    count, so the driver's window (which grows with the count, see
    :func:`~overparam.dynamics.driver.stalled`) would judge a 64000-step chunk as a fresh
    run. Stagnation is judged here instead, with the same rule on the whole run's count.
    """
    from ..dynamics.driver import make_config, run_driver, stalled
    from ..dynamics.steps import Nesterov, as_policy
    from ..models import Hadamard

    model = Hadamard(depth=depth, nonneg=True, init_scale=init_scale)
    if step is None:
        # interpolation regime: mirror coordinates keep the flow's limit exactly;
        # over-determined: u-space momentum (stable with the model's step bound)
        m, n = problem.shape
        policy = Nesterov(space="mirror", depth=depth) if m < n else Nesterov()
    else:
        # the depth: "nesterov@mirror" (or any @x / @mirror policy) needs it
        policy = as_policy(step, depth=depth)
    cap = 200_000 if max_iter is None else max_iter
    floor = init_scale**depth
    if x0 is None:
        params = model.init(None, problem.n)
    else:
        params = {"u": jnp.asarray(np.maximum(x0, floor) ** (1.0 / depth))}
    done, chunk, status = 0, 1000, Status.MAX_ITER
    scale = kkt_scale(problem.A.rmatvec(np.asarray(problem.y)), scales)
    interpolation_regime = problem.shape[0] < problem.shape[1]
    rtol, kkt = interp_tol, np.inf
    best, best_it = np.inf, 0  # the whole run's best loss and the step that reached it
    while done < cap:
        size = min(chunk, cap - done)
        # record=2: the chunks' traces are not read; every chunk of the same number of
        # record points reuses one compiled loop
        cfg = make_config(size, rtol, 2, stagnation_window=None)
        out, _, _ = run_driver(model, policy, problem.A, problem.y, cfg, params0=params)
        if float(out["best"]) < best:
            best, best_it = float(out["best"]), done + int(out["best_it"])
        done += int(out["it"])
        params = {k: jnp.asarray(v) for k, v in out["params"].items()}
        x = np.asarray(out["x"])
        code = int(out["status"])
        g = problem.A.rmatvec(problem.residual(x))
        kkt = kkt_residual(x, g, scales)
        kkt = kkt / scale if scale > 0 else (0.0 if kkt == 0 else np.inf)
        if kkt <= tol:  # certified
            status = Status.CONVERGED
            break
        if code == 1 and interpolation_regime:
            status = Status.CONVERGED
            break
        if code == 1:  # interpolates to rtol, but the certificate misses tol
            rtol *= min(0.5, tol / kkt)
        if code == 4:
            status = Status.DIVERGED
            break
        if bool(stalled(done, best_it, _STAGNATION_WINDOW)):
            status = Status.STAGNATED
            break
        chunk = min(2 * chunk, 64_000)
    detail = f"GD on x = u^{depth} ({type(policy).__name__}), {done} steps"
    extra = dict(policy=repr(policy), init_scale=init_scale, depth=depth)
    if status in (Status.STAGNATED, Status.DIVERGED):
        cause = _init_scale_cause(problem, depth, init_scale)
        if cause:
            # the status's advice blamed the step (diverged) or tol and y (stagnated):
            # neither is the cause here
            extra["_advice"] = f"The iteration {status.value} because of the init_scale: {cause}"
    return x, done, status, detail, extra


def _init_scale_cause(problem: Problem, depth: int, init_scale: float) -> str:
    """Why ``"reparam"`` failed when the cause is ``init_scale``, else "".

    * ``x(0) = init_scale**depth`` far above the solution's scale ``max|t A^T y|`` (``t``
      minimising ``||t A A^T y - y||``): the factors shrink past the solution and collapse
      to 0, absorbing for ``u^L`` (measured: 20 x 8 Gaussian, depth 3, init_scale 1e3:
      stagnated at x = 0, relative residual 1.0; init_scale 30: at 0.33).
    """
    A = problem.A
    yv = np.asarray(problem.y, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        aty = np.asarray(A.rmatvec(yv), dtype=np.float64)
        aaty = np.asarray(A.matvec(aty), dtype=np.float64)
        na = float(np.linalg.norm(aaty))
        t = float((yv / na) @ (aaty / na)) if 0.0 < na < np.inf else 0.0
        x_scale = float(np.max(np.abs(t * aty), initial=0.0))
        x_init = float(np.float64(init_scale) ** depth)
    if x_scale > 0 and x_init > 100.0 * x_scale:
        return (f"x starts at init_scale**{depth} = {x_init:.3g}, far above the solution's "
                f"scale ~{x_scale:.3g}: the factors must shrink by orders of magnitude, and "
                "with steps sized for the start they crawl or overshoot to 0, absorbing for "
                "x = u^L; use a smaller init_scale (or step='auto', which adapts the step to "
                "the iterate).")
    return ""
