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
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._core import (Result, Status, check_int, check_not_complex, check_positive,
                     safe_norm)
from ..problems import Problem
from ._common import pow2_divisor, setup

__all__ = ["projected_gradient", "kkt_residual", "lipschitz"]

#: form the Gram matrix when m >= GRAM_RATIO * n (and the matrix is explicit)
GRAM_RATIO = 1.5


def kkt_residual(x: np.ndarray, g: np.ndarray) -> float:
    """``||min(x, g)||_2``: zero exactly at the NNLS solutions (``x >= 0``, ``g >= 0``,
    ``x * g = 0`` with ``g = A^T (Ax - y)``); the natural residual of the complementarity
    problem, ``||x - max(x - g, 0)||``.

    Parameters
    ----------
    x : ndarray of shape (n,)
        The candidate solution.
    g : ndarray of shape (n,)
        The gradient ``A^T (Ax - y)`` at ``x``.

    Returns
    -------
    float
    """
    return safe_norm(np.minimum(x, g))


@functools.lru_cache(maxsize=32)
def _build(apply_grad: Callable, accelerated: bool, restart: bool, check_every: int):
    """The jitted loop for a gradient map ``apply_grad(data, x) -> g``."""

    def run(data, x0, lip, scale, a_scale, tol, max_iter):
        eta = 1.0 / lip

        def kkt(x):
            # x and g are of A / a_scale; x / a^2 puts them back into the units of A, where
            # the documented test is posed (XLA folds the division into x / (a * a), which
            # is 0 / 0 at a ~ 1e-200: zeros are kept apart; large entries go to inf)
            xa = jnp.where(x > 0, x / a_scale / a_scale, 0.0)
            return jnp.linalg.norm(jnp.minimum(xa, apply_grad(data, x))) / scale

        def body(s):
            x, z, k, it, _ = s
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
            return x_new, z_new, k1, it1, res

        def cond(s):
            return (s[3] < max_iter) & (s[4] > tol) & jnp.isfinite(jnp.sum(s[0]))

        x0 = jnp.maximum(x0, 0.0)
        s = (x0, x0, jnp.int64(0), jnp.int64(0), kkt(x0))
        x, _, _, it, res = jax.lax.while_loop(cond, body, s)
        return x, it, kkt(x)

    return jax.jit(run)


def _gram_grad(data, x):
    G, b = data
    return G @ x - b


def _dense_grad(data, x):
    A, y = data
    return A.T @ (A @ x - y)


def _gram_hess(data, v):
    return data[0] @ v


def _dense_hess(data, v):
    return data[0].T @ (data[0] @ v)


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
        Warm start (projected onto ``x >= 0``); default 0.
    tol : float
        Stop when the KKT residual ``||min(x, A^T(Ax - y))||_2 <= tol * ||A^T y||_2``.
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
        ``x``, ``status`` (converged / max_iter / diverged), ``n_iter``, ``fun``,
        ``info`` with ``kkt`` (absolute), ``kkt_rel``, ``gram`` and ``lipschitz``.
    """
    problem = setup(A, y)
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
        a_scale = pow2_divisor(float(np.abs(M).max()))
        if a_scale != 1.0:
            M = M / a_scale
    else:
        a_scale = pow2_divisor(float(op.norm2))
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
    scale = max(float(np.linalg.norm(b)), 1e-300)
    if x0 is not None:
        check_not_complex(x0, "x0")  # a float cast would drop the imaginary part silently
    x_init = np.zeros(n) if x0 is None else np.asarray(x0, dtype=np.float64)
    # a vector, or a single row or column (flattening any shape of n entries took e.g. a
    # 3 x 5 array as x0 for n = 15, and errors named the flattened shape)
    if x_init.ndim not in (1, 2) or (x_init.ndim == 2 and 1 not in x_init.shape) \
            or x_init.size != n:
        raise ValueError(f"x0 has shape {x_init.shape}, expected ({n},)")
    x_init = x_init.reshape(-1)
    if not np.all(np.isfinite(x_init)):
        raise ValueError("x0 contains non-finite values")
    run = _build(fn_grad, bool(accelerated), bool(restart), check_every)
    x, it, res = jax.block_until_ready(
        run(data, jnp.asarray(x_init / y_scale * a_scale), jnp.float64(lip),
            jnp.float64(scale), jnp.float64(a_scale), jnp.float64(tol), jnp.int64(max_iter)))
    x = np.asarray(x) * y_scale / a_scale
    wall = time.perf_counter() - t0
    lip_a = lip * a_scale * a_scale  # of A itself (the step was for A / a_scale); may be inf
    return _result(problem, x, int(it), float(res), wall, tol,
                   dict(method="apg" if accelerated else "pg", gram=use_gram,
                        lipschitz=lip_a, restart=restart))



def _result(problem: Problem, x: np.ndarray, it: int, kkt_rel: float, wall: float,
            tol: float, info: dict) -> Result:
    if not np.all(np.isfinite(x)):
        status = Status.DIVERGED
    elif kkt_rel <= tol:
        status = Status.CONVERGED
    else:
        status = Status.MAX_ITER
    r = problem.residual(x) if status is not Status.DIVERGED else np.full(problem.m, np.nan)
    g = problem.A.rmatvec(r)
    ny = safe_norm(problem.y)
    nr = safe_norm(r)
    info = dict(info, kkt=kkt_residual(x, g), kkt_rel=kkt_rel, gradient=g,
                relative_residual=nr / (ny if ny > 0 else 1.0))
    msg = f"{status.advice} (KKT residual {kkt_rel:.2e} relative after {it} iterations)"
    with np.errstate(over="ignore"):  # 0.5 ||r||^2 itself may exceed the float range
        fun = 0.5 * nr * nr
    return Result(x=x, status=status, message=msg, n_iter=it, fun=fun,
                  wall_time=wall, info=info)
