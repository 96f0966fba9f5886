"""Projected gradient and accelerated projected gradient for non-negative least squares.

Both run as one jitted JAX loop (``lax.while_loop``), on a dense matrix, on its Gram matrix
(``A^T A`` and ``A^T y`` formed once: cheaper per step when ``m > n`` and many steps are
needed) or on any matrix-free operator (``jax_matvec`` / ``jax_rmatvec``, e.g. a partial
DCT or subsampled FFT), and stop on the KKT residual of NNLS.

References
----------
H.-H. Chou, J. Maly, C. M. Verdun et al., "Get rid of your constraints and reparametrize:
a study in NNLS and implicit bias", AISTATS 2025: ``pg`` and ``apg`` of the authors' code
(the baselines of their comparison).
A. Beck, M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for linear inverse
problems", SIAM J. Imaging Sci. 2(1), 2009. B. O'Donoghue, E. Candes, "Adaptive restart for
accelerated gradient schemes", Found. Comput. Math. 15, 2015.
"""
from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._core import (Result, Status, check_bool, check_finite_array, check_int,
                     check_not_complex, check_positive, pow2_exponent, safe_norm, x64_entry)
from ..problems import Problem
from ._common import column_norms, column_scales, pow2_divisor, setup

__all__ = ["projected_gradient", "kkt_residual", "kkt_scale", "lipschitz"]

#: form the Gram matrix when m >= GRAM_RATIO * n (and the matrix is explicit)
GRAM_RATIO = 1.5
#: bound on the warm start's entries in the loop's units (y / max|y|, A / its scale)
_X0_MAX = 2.0**600


def kkt_residual(x: np.ndarray, g: np.ndarray, scales: Any = None) -> float:
    """``||min(d * x, g / d)||_2``: zero exactly at the NNLS solutions (``x >= 0``,
    ``g >= 0``, ``x * g = 0`` with ``g = A^T (Ax - y)``).

    ``d`` are the column norms of ``A`` (:func:`._common.column_scales`), so that both
    sides are in the units of ``y``: ``min(x, g)`` compared ``x`` (units ``y / A``) with
    ``g`` (units ``A y``), and with ``A`` scaled by 1e4 a point 7.7e-3 from the solution
    passed a relative tolerance of 1e-10. It is the natural residual
    ``||z - max(z - B^T (Bz - y), 0)||`` of the problem in ``z = d * x`` with unit columns
    ``B = A / d``. A zero column (``d_j = 0``) leaves ``x_j`` free: it counts only through
    feasibility (``inf`` for ``x_j < 0``).

    Parameters
    ----------
    x : ndarray of shape (n,)
        The candidate solution.
    g : ndarray of shape (n,)
        The gradient ``A^T (Ax - y)`` at ``x``.
    scales : ndarray of shape (n,), optional
        ``d``; omitted: all ones (``||min(x, g)||``, meaningful for unit columns only).

    Returns
    -------
    float
    """
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if scales is None:
        return safe_norm(np.minimum(x, g))
    d = np.asarray(scales, dtype=np.float64)
    live = d > 0
    if np.any(x[~live] < 0):
        return float("inf")
    with np.errstate(over="ignore", invalid="ignore"):
        t = np.where(live, np.minimum(d * x, g / np.where(live, d, 1.0)), 0.0)
    return safe_norm(t)


def kkt_scale(b: np.ndarray, scales: np.ndarray) -> float:
    """``||b / d||_2`` for ``b = A^T y`` (zero columns left out): the norm the KKT
    residual is relative to (``kkt_rel``); both are in the units of ``y``.

    Parameters
    ----------
    b : ndarray of shape (n,)
        ``A^T y``.
    scales : ndarray of shape (n,)
        The column scales ``d`` of :func:`kkt_residual`.

    Returns
    -------
    float
    """
    d = np.asarray(scales, dtype=np.float64)
    live = d > 0
    return safe_norm(np.where(live, b / np.where(live, d, 1.0), 0.0))


def certificate(op: Any, y: np.ndarray, x: np.ndarray, scales: np.ndarray) -> dict:
    """The NNLS certificate of ``x`` (see :func:`overparam.solvers.nnls_certificate`) for
    the operator ``op`` (or a dense matrix), ``y`` and column scales ``scales``.

    Computed for ``y / 2**e`` and ``x / 2**e`` (``2**e ~ max|y|``, exact) and scaled back:
    the relative residuals are invariant, and products of tiny or huge entries neither
    under- nor overflow (``kkt_rel`` was inf for the exact solution at ``y`` ~ 1e-200).
    """
    if isinstance(op, np.ndarray):
        mv, rmv = (lambda v: op @ v), (lambda v: op.T @ v)
    else:
        mv, rmv = op.matvec, op.rmatvec
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    e = int(pow2_exponent(np.abs(y).max(initial=0.0)))
    ys, xs = np.ldexp(y, -e), np.ldexp(x, -e)
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.asarray(mv(xs), dtype=np.float64) - ys
        g = np.asarray(rmv(r), dtype=np.float64)
    kkt = kkt_residual(xs, g, scales)
    nb = kkt_scale(np.asarray(rmv(ys), dtype=np.float64), scales)
    # A^T y = 0 (e.g. y = 0): no scale, so a relative residual is 0 or inf, never a
    # huge finite number from dividing by a floor
    kkt_rel = kkt / nb if nb > 0 else (0.0 if kkt == 0 else math.inf)
    nr, ny = safe_norm(r), safe_norm(ys)
    with np.errstate(over="ignore", under="ignore"):  # the unscaled values may leave
        nr_y = np.ldexp(np.float64(nr), e)                 # the float range: inf or 0
        fun = float(0.5 * nr_y * nr_y)
        grad = np.ldexp(g, e)
    return dict(kkt=float(np.ldexp(kkt, e)), kkt_rel=float(kkt_rel),
                min_x=float(np.min(x)), fun=fun,
                relative_residual=nr / ny if ny > 0 else nr, gradient=grad)


@functools.lru_cache(maxsize=32)
def _build(apply_grad: Callable, accelerated: bool, restart: bool, check_every: int):
    """The jitted loop for a gradient map ``apply_grad(data, x) -> g``."""

    def run(data, x0, lip, d, dinv, scale, tol, max_iter):
        eta = 1.0 / lip

        def kkt(x):
            # kkt_residual / kkt_scale: d are the column norms of the (scaled) A, dinv
            # their inverses (0 for zero columns), so both sides are in the units of y
            return jnp.linalg.norm(jnp.minimum(d * x, apply_grad(data, x) * dinv)) / scale

        def body(s):
            x, z, k, it, _, _ = s
            g = apply_grad(data, z)
            x_new = jnp.maximum(z - eta * g, 0.0)
            if accelerated:
                k1 = k + 1
                if restart:
                    k1 = jnp.where(jnp.vdot(g, x_new - x) > 0, jnp.int64(0), k1)
                beta = k1.astype(jnp.float64) / (k1.astype(jnp.float64) + 3.0)
                z_new = x_new + beta * (x_new - x)
            else:
                k1, z_new = k, x_new
            it1 = it + 1
            res = jax.lax.cond(it1 % check_every == 0, kkt, lambda _: jnp.float64(jnp.inf),
                               x_new)
            # x carried along: the last finite iterate when x_new is not (a carried
            # buffer, no arithmetic: no measurable cost per step)
            return x_new, z_new, k1, it1, res, x

        def cond(s):
            return (s[3] < max_iter) & (s[4] > tol) & jnp.isfinite(jnp.sum(s[0]))

        x0 = jnp.maximum(x0, 0.0)
        s = (x0, x0, jnp.int64(0), jnp.int64(0), kkt(x0), x0)
        x, _, _, it, res, x_prev = jax.lax.while_loop(cond, body, s)
        return x, it, kkt(x), x_prev

    return jax.jit(run)


def _gram_grad(data, x):
    G, b = data
    return G @ x - b


def _dense_grad(data, x):
    A, y = data
    # A^T r as a contraction over A's rows: ``A.T @ r`` makes XLA:CPU copy the transpose
    # every step (2.7x slower on a 400 x 2000 matrix)
    return jnp.tensordot(A, A @ x - y, axes=(0, 0))


def _gram_hess(data, v):
    return data[0] @ v


def _dense_hess(data, v):
    return jnp.tensordot(data[0], data[0] @ v, axes=(0, 0))


class _OpGrad:
    """Gradient map of a matrix-free operator (hashable by identity, closed over)."""

    def __init__(self, op: Any):
        self.op = op

    def __call__(self, data, x):
        y, a = data  # the gradient of A / a: A^T (A x / a - y) / a
        return self.op.jax_rmatvec(self.op.jax_matvec(x) / a - y) / a

    def __hash__(self) -> int:
        return id(self.op)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _OpGrad) and other.op is self.op


@functools.lru_cache(maxsize=32)
def _build_power(apply_hess: Callable, iters: int):
    def run(data, v):
        def body(_, c):
            v, lam = c
            w = apply_hess(data, v)
            nw = jnp.linalg.norm(w)
            return w / jnp.maximum(nw, 1e-300), nw
        return jax.lax.fori_loop(0, iters, body, (v / jnp.linalg.norm(v), jnp.float64(0.0)))[1]
    return jax.jit(run)


@x64_entry  # (as projected_gradient: float32 power iterations with x64 turned off)
def lipschitz(apply_hess: Callable, data: Any, n: int, iters: int = 40) -> float:
    """Estimate of the top eigenvalue of a PSD map ``apply_hess(data, v)`` (jitted power
    iteration from a fixed random start, times 1.05 as a safety margin).

    Parameters
    ----------
    apply_hess : callable
        ``apply_hess(data, v)``, JAX-traceable and hashable (the compiled power iteration
        is cached on it).
    data : pytree of arrays
        The map's data (e.g. the matrix or its Gram matrix).
    n : int
        Dimension of ``v``.
    iters : int, optional
        Power iterations (default 40, >= 1).

    Returns
    -------
    float
        ``1.05 ||H v_iters||`` for the last unit iterate ``v``.
    """
    iters = check_int(iters, "iters", minimum=1)  # 0 returned 0, a step of 1/0
    v = jnp.asarray(np.random.default_rng(0).standard_normal(n))
    return 1.05 * float(_build_power(apply_hess, iters)(data, v))


# float64 whatever the caller's jax_enable_x64: with it off the loop ran in float32 (x
# off by ~4e-8, max_iter instead of converged at tol=1e-12), and called inside a jit trace
# (e.g. from a metric) it failed with a ConcretizationTypeError
@x64_entry
def projected_gradient(
    A: Any,
    y: Any = None,
    *,
    accelerated: bool = True,
    restart: bool = True,
    x0: Any = None,
    tol: float = 1e-8,
    max_iter: int = 50_000,
    gram: bool | str = "auto",
    check_every: int = 10,
) -> Result:
    r"""Projected gradient (PG) or accelerated projected gradient (APG) for NNLS.

    Solves :math:`\min_{x \ge 0} \tfrac12 \|Ax - y\|_2^2` by
    ``x <- max(z - g(z) / Lip, 0)`` with ``Lip = ||A||_2^2``; APG extrapolates
    ``z = x_k + k/(k+3) (x_k - x_{k-1})`` (the authors' momentum) and, with ``restart``,
    resets the momentum when it points uphill (O'Donoghue-Candes gradient restart).

    Parameters
    ----------
    A : array of shape (m, n), Operator, LinearOperator or Problem
        Dense or matrix-free (any operator with JAX maps).
    y : array of shape (m,)
    accelerated : bool
        APG (default) or plain PG.
    restart : bool
        Adaptive restart of APG.
    x0 : array of shape (n,), optional
        Warm start (projected onto ``x >= 0``); default 0. Entries beyond ``2**600``
        times the solution's scale ``max|y| / max|A|`` are clipped there (the iteration
        runs on ``y / max|y|``, where they would overflow).
    tol : float
        Stop when the KKT residual ``||min(d x, g / d)||_2 <= tol * ||A^T y / d||_2``
        (``g = A^T (Ax - y)``, ``d`` the column norms of ``A``, or ``||A||_2`` for a
        matrix-free operator: :func:`kkt_residual`); invariant under ``A -> cA``,
        ``y -> cy``.
    max_iter : int
        Iteration cap.
    gram : bool or "auto"
        Iterate on ``A^T A`` (formed once) instead of ``A``; "auto": when ``A`` is an
        explicit matrix with ``m >= 1.5 n``.
    check_every : int
        Evaluate the KKT residual every this many steps.

    Returns
    -------
    Result
        ``x``, ``status`` (converged / max_iter / diverged, then ``x`` is the last finite
        iterate; ``stagnated`` when the loop's
        test on the rounded Gram gradient passed but the certificate on ``A`` misses
        ``tol``), ``n_iter``, ``fun``, ``info`` with ``kkt`` (in the units of ``y``),
        ``kkt_rel`` (both from ``A`` and the returned ``x``), ``gram`` and ``lipschitz``.
    """
    problem = setup(A, y)
    # bool() read "false" or "no" as True: APG with restart, silently
    accelerated = check_bool(accelerated, "accelerated")
    restart = check_bool(restart, "restart")
    tol = check_positive(tol, "tol", allow_zero=True)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    check_every = check_int(check_every, "check_every", minimum=1)
    op = problem.A
    m, n = op.shape
    t0 = time.perf_counter()
    # NNLS is homogeneous in y: iterate on y / max|y| and scale x back. The jitted KKT norm
    # squares its entries, so for max|y| ~ 1e-160 it underflowed to 0 ("converged" at
    # x = 0 after 0 steps) and for ~ 1e200 it overflowed (nan, stop at x = 0).
    top = float(np.abs(problem.y).max())
    y_scale = top if top > 0 else 1.0
    yv = np.asarray(problem.y, dtype=np.float64) / y_scale
    dense = op.is_dense
    if not (isinstance(gram, (bool, np.bool_)) or (isinstance(gram, str) and gram == "auto")):
        # bool() read "false", "no" or 2 as True
        raise ValueError(f"gram must be True, False or 'auto', got {gram!r}")
    use_gram = (dense and m >= GRAM_RATIO * n) if isinstance(gram, str) else bool(gram)
    if use_gram and not dense:
        raise ValueError("gram=True needs an explicit matrix A")
    # Likewise x -> x / c for A -> c A: iterate on A / a_scale (a = max|A|, or ||A||_2 for
    # an operator). Unscaled, ||A||^2 and A^T A under/overflowed for max|A| ~ 1e-100 or
    # 1e100: x = 0 "converged" at 1e-200, max_iter at 1e-100, nan ("diverged") at 1e100.
    if dense:
        M = op.to_dense()
        d = column_norms(M)
        a_scale = pow2_divisor(float(np.abs(M).max()))
        if a_scale != 1.0:
            M = M / a_scale
    else:
        d = column_scales(op)
        a_scale = pow2_divisor(float(op.norm2))
    # the certificate's column scales for A / a_scale (exact: a power of two); columns
    # below ~1e-301 count as zero columns (their inverse would overflow)
    ds = d / a_scale
    dinv = np.where(ds > 2.0**-1000, 1.0 / np.where(ds > 2.0**-1000, ds, 1.0), 0.0)
    if use_gram:
        G = M.T @ M
        b = M.T @ yv
        data, fn_grad = (jnp.asarray(G), jnp.asarray(b)), _gram_grad
        lip = lipschitz(_gram_hess, data, n)
    elif dense:
        b = M.T @ yv
        data, fn_grad = (jnp.asarray(M), jnp.asarray(yv)), _dense_grad
        lip = lipschitz(_dense_hess, data, n)
    else:
        b = op.rmatvec(yv) / a_scale
        lip = 1.02 * (op.norm2 / a_scale) ** 2
        data, fn_grad = (jnp.asarray(yv), jnp.float64(a_scale)), _OpGrad(op)
    scale = max(float(np.linalg.norm(b * dinv)), 1e-300)
    if x0 is not None:
        check_not_complex(x0, "x0")  # a float cast would drop the imaginary part silently
    # check_finite_array: a string or object x0 failed in NumPy's float cast ("could not
    # convert string to float") without naming x0
    x_init = np.zeros(n) if x0 is None else check_finite_array(x0, "x0")
    # a vector, or a single row or column (flattening any shape of n entries took e.g. a
    # 3 x 5 array as x0 for n = 15, and errors named the flattened shape)
    if x_init.ndim not in (1, 2) or (x_init.ndim == 2 and 1 not in x_init.shape) \
            or x_init.size != n:
        raise ValueError(f"x0 has shape {x_init.shape}, expected ({n},)")
    x_init = x_init.reshape(-1)
    if not np.all(np.isfinite(x_init)):
        raise ValueError("x0 contains non-finite values")
    # the warm start in the loop's units, clipped at +-2**600: x0 / max|y| overflowed for
    # x0 = 1e300, y ~ 1e-10 (x = inf, "diverged" after 0 steps), and x0 = 1e298 stopped
    # after 0 steps as "max_iter" (the loop's finiteness test sums x). Any solution is far
    # below 2**600 there, and gradients of such a start stay finite
    with np.errstate(over="ignore"):
        x_start = np.clip(x_init / y_scale * a_scale, -_X0_MAX, _X0_MAX)
    run = _build(fn_grad, accelerated, restart, check_every)
    x, it, res, x_prev = jax.block_until_ready(
        run(data, jnp.asarray(x_start), jnp.float64(lip),
            jnp.asarray(ds), jnp.asarray(dinv), jnp.float64(scale), jnp.float64(tol),
            jnp.int64(max_iter)))
    x = np.asarray(x)
    diverged = not np.all(np.isfinite(x))
    with np.errstate(over="ignore"):  # (a diverged run's last iterate may be huge)
        x = np.asarray(x_prev if diverged else x) * y_scale / a_scale
    wall = time.perf_counter() - t0
    lip_a = lip * a_scale * a_scale  # of A itself (the step was for A / a_scale); may be inf
    return _result(problem, x, int(it), float(res), wall, tol, max_iter, d,
                   dict(method="apg" if accelerated else "pg", gram=use_gram,
                        lipschitz=lip_a, restart=restart), diverged)


def _result(problem: Problem, x: np.ndarray, it: int, loop_kkt: float, wall: float,
            tol: float, max_iter: int, scales: np.ndarray, info: dict,
            diverged: bool = False) -> Result:
    detail = ""
    if not np.all(np.isfinite(x)):
        status = Status.DIVERGED
        cert = dict(kkt=np.nan, kkt_rel=np.nan, gradient=np.full(problem.n, np.nan),
                    relative_residual=np.nan, fun=np.nan)
        detail = "; x is not finite: not meaningful"
    elif diverged:
        # x is the last finite iterate (Status.DIVERGED's promise), certified as it is
        status = Status.DIVERGED
        cert = certificate(problem.A, problem.y, x, scales)
        detail = "; x is the last finite iterate"
    else:
        # the status from the certificate on A and the returned x: the loop's test ran on
        # scaled data, and on the Gram path on the rounded gradient G x - A^T y
        cert = certificate(problem.A, problem.y, x, scales)
        if cert["kkt_rel"] <= tol:
            status = Status.CONVERGED
        elif it < max_iter and loop_kkt <= tol:
            status = Status.STAGNATED  # tol is below what the loop's gradient resolves
        else:
            status = Status.MAX_ITER
    info = dict(info, kkt=cert["kkt"], kkt_rel=cert["kkt_rel"], gradient=cert["gradient"],
                relative_residual=cert["relative_residual"])
    # (Status.DIVERGED's advice names a step, which this method does not take: its step
    # is 1 / ||A||_2^2, stable for a consistent operator)
    advice = status.advice if status is not Status.DIVERGED else (
        "The iteration blew up (a non-finite iterate) although its step 1 / ||A||_2^2 is "
        "stable for a consistent operator: check that its jax_matvec / jax_rmatvec apply A "
        "and A^T, the same maps as matvec / rmatvec, and that norm2 is ||A||_2")
    msg = (f"{advice} (KKT residual {cert['kkt_rel']:.2e} relative after {it} "
           f"iterations{detail})")
    return Result(x=x, status=status, message=msg, n_iter=it, fun=cert["fun"],
                  wall_time=wall, info=info)
