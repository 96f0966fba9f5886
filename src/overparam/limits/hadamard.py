"""Exact limit of the Hadamard gradient flow by Newton's method on a smooth convex dual.

References
----------
H.-H. Chou, J. Maly, H. Rauhut, "More is Less: Inducing Sparsity via Overparameterization",
Information and Inference 12(3):1437-1460, 2023 (arXiv:2112.11027).
"""
from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from .._core import (Result, Status, check_bool, check_int, check_not_complex,
                     check_positive)
from .._core.norms import ldexp_array, pow2_exponent, safe_norm
from ..problems import Operator, Problem, as_problem
from ._links import Link
from ._linsolve import CholeskySolver, PCGSolver, _ColumnCache

METHODS = ("auto", "newton", "newton-cg")
# "auto" forms A D A^T (exact Newton) only when that is cheap next to matvec-only solves
# (measured, 5 problems per size, a = 1e-3 and 1e-6: at n = 200, m = 140-200 dense Newton
# 5-8 ms, Newton-CG 8-27 ms; about even near m^2 n = 1e7; CG 1.5-6x faster from 3e7 up)
_DENSE_NEWTON_MAX_WORK = 1.0e7  # m^2 n
# BLAS runs single-threaded inside the solver: its products are matrix-vector (memory
# bound) or small, and multithreaded OpenBLAS on busy cores was measured 10-50x slower
_BLAS_THREADS = 1
# Newton-CG forcing term: a relative CG residual of 0.1 throughout (measured: tighter
# solves do not reduce the number of Newton steps, whose tail is limited by the
# exponential-type link, and cost more CG iterations)
_CG_RTOL = 0.1
# continuation: the step in log(a) doubles after a full predictor-corrector step that
# leaves a residual below _PATH_TARGET * ||y||
_PATH_TARGET = 0.5
# ... and move no coordinate of z by more than _Z_TRUST in one continuation step
_Z_TRUST = 8.0
# dense A: Hessian products inside CG in float32 (half the bytes; the solves are inexact
# anyway), with a switch to float64 when the final steps stall
_SINGLE_CG = True
# ... and back to float64 products as soon as the continuation step falls below this: a
# creeping path means inexact directions (measured: float32 products failed at m/n >= 0.7,
# a = 1e-6, where the Newton matrix is too ill-conditioned for them, on 3-11 of 20 problems;
# successful float32 paths keep steps >= 0.08 in log(a) with rare dips to 0.01)
_SINGLE_MIN_STEP = 0.01
# ... and at the target scale the first Newton steps do the same (A^T d from CG, A x in
# float32) while the residual is above this (relative): float32 products resolve it to
# ~1e-7 there; below it z and A x are resynchronised in float64 for the final steps
_SYNC_BELOW = 1e-4
# "auto": when one CG solve needs more than max(50, m/4) iterations (about the flops of
# forming A D A^T) or hits its cap, the remaining steps use dense Newton (m <= this).
# Measured: with m close to n, or non-negative problems whose dual diverges, the
# preconditioner's identity model of the bulk fails and CG stalls at its cap (42 of 384
# scanned problems, n = 200/500, m/n >= 0.7); dense Newton solved them all
_DENSE_FALLBACK_MAX_M = 5000
# ... a matrix-free operator is materialised for it up to this many entries (160 MB)
_DENSE_FALLBACK_MAX_ENTRIES = 20_000_000
# first continuation step in log(a)
_STEP0 = 1.0
# a non-negative dual whose infimum is not attained (the only x >= 0 solving A x = y has
# zeros) diverges: off the support h'(z) -> 0 and A D A^T becomes numerically singular.
# Newton then spends its steps on coordinates whose x is negligible (z moving by +-20 to
# adjust an x of 1e-11..1e-80), the _Z_TRUST guard damps every step and the continuation
# step shrinks geometrically to zero (measured: sparse_recovery(200, 140, 28, nonneg=True,
# seed=1) stalled at a = 1.1e-4 with x = x_true to 1e-15, seeds 4 and 9 likewise, and
# (200, 120, 40) seeds 1, 2 at a = 4e-3). Once the step falls below _CREEP_STEP, a Newton
# system with fewer than m columns whose share |x_i| ||a_i|| of A x exceeds
# _ACTIVE_REL * ||rhs|| / n is solved by least norm on those columns; runs that never
# creep are unchanged
_CREEP_STEP = 1e-3
_ACTIVE_REL = 1e-3 / _Z_TRUST
# _Z_TRUST binds only the coordinates whose share D_i ||a_i|| of the linearised A x is
# above _TRUST_FREE * ||y|| / n (see _trust_step): the others together change A x by at
# most ~_TRUST_FREE * ||y||, far below the path's tolerance _PATH_TARGET * ||y||
_TRUST_FREE = 1e-2
# ... when the column norms of A span more than this ratio; with comparable column norms
# every coordinate keeps the plain _Z_TRUST bound (unchanged paths: measured on Gaussian
# problems the relaxed bound changed no result beyond 2e-10 but took CG off the path by
# which "auto" falls back to dense Newton on non-negative problems whose dual diverges)
_TRUST_SPREAD = 100.0
# for L >= 3 plain damped Newton from w = 0 at the target scale: the path in the scale
# crosses support changes where a linear predictor leaves the barrier domain (measured:
# continuation stalled at c = a^(2-L) >= 1e6, plain damped Newton converged)
_CONT_L3 = False
# y with max|y| outside this range is solved at unit scale: the limit is covariant,
# x(A, c y, a) = c x(A, y, a c^(-1/L)), and squares of ~1e+-154 under- or overflow
# (y ~ 1e-200 read as y = 0 and returned x = 0 as converged)
_Y_PLAIN = (2.0**-160, 2.0**160)
# likewise a dense A beyond 2^+-100 (its Newton matrix A D A^T squares it), by
# x(c A, y, a) = x(A, y, a c^(1/L)) / c
_A_PLAIN = (2.0**-100, 2.0**100)
# <d, y> of a Farkas certificate must exceed this share of |d| . |y| (its rounding ~1e-16)
_FARKAS_REL = 1e-10


def hadamard_limit(
    A: Any,
    y: Any = None,
    *,
    depth: int = 2,
    init_scale: float = 1e-3,
    nonneg: bool = False,
    tol: float = 1e-10,
    max_iter: int = 500,
    method: str = "auto",
) -> Result:
    r"""The exact limit of gradient flow on the Hadamard model, by Newton on a convex dual.

    Gradient flow on ``0.5 * ||A x - y||^2`` over ``x = u^L - v^L`` (or ``x = u^L`` with
    ``nonneg=True``), started at ``u(0) = v(0) = init_scale``, keeps ``x(t) = h(A^T w(t))``
    for an explicit increasing map ``h`` (see Notes). If ``y`` is reachable, the flow
    converges to ``x* = h(A^T w*)`` where ``w*`` solves ``A h(A^T w) = y``: the optimality
    condition of the smooth convex dual problem

    .. math:: \min_w \Phi(w) = \sum_i H((A^T w)_i) - \langle w, y \rangle, \qquad H' = h,

    in ``m`` variables. This function solves it by damped Newton steps (with a line search
    that stays in the domain of ``H``), following a continuation path in the
    initialization scale from a scale where ``h`` is nearly linear down to ``init_scale``
    with predictor-corrector steps, and returns ``x*`` to the residual tolerance: not an
    approximation of the flow, its limit. As ``init_scale -> 0`` it tends to the minimal
    l1-norm solution (basis pursuit; non-negative basis pursuit for ``nonneg=True``).

    Parameters
    ----------
    A : array of shape (m, n), Operator, scipy LinearOperator or sparse matrix, or Problem
        The measurement operator (or a Problem, then ``y`` is omitted).
    y : array of shape (m,), optional
        The measurements.
    depth : int
        L >= 2 (depth 1 is plain gradient descent on x, which has no implicit bias beyond
        the minimal-l2 interpolant, so it has no limit of this kind).
    init_scale : float
        a > 0, the initial value of every factor entry (``u(0) = v(0) = a``, the convention
        of :class:`overparam.models.Hadamard`).
    nonneg : bool
        Non-negative model ``x = u^L``.
    tol : float
        Stop when ``||A x - y|| <= tol * ||y||``.
    max_iter : int
        Cap on Newton steps (continuation and final steps together).
    method : {"auto", "newton", "newton-cg"}
        ``"newton"`` forms ``A diag(h'(z)) A^T`` and factors it (dense ``A``);
        ``"newton-cg"`` solves the Newton systems by preconditioned conjugate gradients
        with matvecs only (any operator); ``"auto"`` uses ``"newton"`` for small dense
        problems (``m^2 n <= 1e7``) and ``"newton-cg"`` otherwise, switching a dense ``A``
        (``m <= 5000``) to ``"newton"`` for the remaining steps when one CG solve needs more
        than ``max(50, m/4)`` iterations (``m`` close to ``n``, or a non-negative problem
        whose dual diverges, make the Newton systems too ill-conditioned for CG); when
        ``"newton"`` stagnates, ``"auto"`` runs ``"newton-cg"`` from the start and keeps
        it if it converges (``info["method"]`` says which).

    Returns
    -------
    Result
        ``x`` the limit, ``status`` (``converged``; ``infeasible`` when ``y`` cannot be
        reached; ``max_iter``, ``stagnated`` or ``numerical_error`` otherwise, with ``x``
        the last finite Newton iterate), ``n_iter`` (Newton steps),
        ``fun`` (``0.5 * ||A x - y||^2``), and ``info`` with ``w`` (the dual variable),
        ``z = A^T w``, ``dual_objective``, ``relative_residual``, ``n_cg`` (CG iterations),
        ``n_matvec``, ``method``, ``dense_fallback_step`` (the Newton step at which
        ``"auto"`` switched from CG to dense Newton, else None), ``least_norm_step`` (the
        Newton step from which a creeping continuation on a non-negative problem solved
        numerically singular Newton systems by least norm, else None), and ``farkas`` (a
        certificate ``d`` with ``A^T d <= 0``, ``<d, y> > 0`` when one was found for an
        infeasible non-negative problem).

        For ``infeasible`` problems ``x`` is the point the flow tends to, not the Newton
        iterate: with the signed model and ``y`` outside range(A) (found for a dense
        ``A``, or one small enough to materialise) the flow is that of the projection
        ``P y`` of ``y`` onto range(A), whose limit ``x`` is (``info["w"]``, ``"z"`` its
        dual); with ``nonneg=True`` a non-negative least-squares minimizer (by
        :func:`overparam.solvers.nnls`; the flow tends to that set). ``info["x_n_iter"]``
        and ``info["x_status"]`` are those of the solve ``x`` comes from.

    Raises
    ------
    ValueError
        Shape mismatch, NaN or inf in the data, complex ``y``, ``init_scale <= 0``,
        ``depth < 2``, an operator without rows, or an unknown method.

    Notes
    -----
    With ``G(t) = int_0^t A^T (A x - y)`` and ``a = init_scale``:

    * ``L = 2``: ``x = 2 a^2 sinh(z)`` (signed), ``x = a^2 exp(z)`` (non-negative),
      ``z = -4 G``; ``H(z) = 2 a^2 cosh(z)`` resp. ``a^2 exp(z)``.
    * ``L >= 3``: with ``c = a^(2-L)`` and ``p = L/(L-2)``,
      ``x = (c - z)^(-p) - (c + z)^(-p)`` on ``|z| < c`` (signed) or ``x = (c - z)^(-p)``
      on ``z < c`` (non-negative), ``z = -L(L-2) G``;
      ``H(z) = ((L-2)/2) [(c-z)^(-2/(L-2)) + (c+z)^(-2/(L-2))]`` (resp. the first term),
      a barrier on the domain.

    The gradient of the dual is ``A h(A^T w) - y`` (the residual) and its Hessian
    ``A diag(h'(A^T w)) A^T``. For ``L >= 3`` at very small scales ``z`` sits within
    ``O(1)`` of ``c = a^(2-L)``, so float64 resolves ``x`` only to a relative
    ``~ 1e-16 * c``: the reachable tolerance degrades accordingly.

    The non-negative dual is unbounded below along a Farkas direction when no ``x >= 0``
    solves ``A x = y``; when the only non-negative solutions have zeros its infimum is not
    attained (``w`` diverges) but ``x`` still converges, which counts as converged. The
    weights ``h'(z)`` off the support of such a solution then fall below float64
    resolution, the Newton matrix becomes numerically singular and the continuation in the
    scale creeps; from then on (dense Newton only) the systems are solved by least norm on
    the columns whose share of ``A x`` is not negligible, leaving the diverging directions
    alone (``info['least_norm_step']``).

    References
    ----------
    H.-H. Chou, J. Maly, H. Rauhut, "More is Less: Inducing Sparsity via
    Overparameterization", Information and Inference 12(3):1437-1460, 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from overparam.problems import sparse_recovery
    >>> from overparam.limits import hadamard_limit
    >>> p = sparse_recovery(200, 80, 8, seed=0)
    >>> res = hadamard_limit(p, depth=2, init_scale=1e-6)
    >>> res.success
    True
    >>> bool(np.linalg.norm(res.x - p.x_true) < 1e-3 * np.linalg.norm(p.x_true))
    True
    """
    t0 = time.perf_counter()
    problem = _as_problem(A, y)
    depth = check_int(depth, "depth")
    if depth < 2:
        raise ValueError(
            f"depth = {depth}: limits need depth >= 2 (depth 1 is plain gradient descent "
            "on x, which has no implicit bias of this kind)")
    a = check_positive(init_scale, "init_scale")
    tol = check_positive(tol, "tol")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    requested = method
    # (a truthy "False" computed the non-negative limit)
    nonneg = check_bool(nonneg, "nonneg")
    link = Link(depth, nonneg, float(np.log(a)))

    op = problem.A
    m, n = op.shape
    yv = np.asarray(problem.y, dtype=np.float64)
    ynorm = safe_norm(yv)
    if method == "auto":
        method = ("newton" if op.is_dense and float(m) * m * n <= _DENSE_NEWTON_MAX_WORK
                  else "newton-cg")
    if method == "newton" and not op.is_dense:
        raise ValueError("method='newton' needs a dense matrix; use method='newton-cg'")

    j = 0  # a dense A is solved as A / 2^j (see _A_PLAIN)
    if op.is_dense:
        mat = op.to_dense()
        atop = float(np.max(np.abs(mat), initial=0.0))
        if atop > 0 and not _A_PLAIN[0] <= atop <= _A_PLAIN[1]:
            j = int(pow2_exponent(atop))
            mat = np.ldexp(mat, -j)
        mv = mat.__matmul__
        matT = mat.T
        rmv = matT.__matmul__
    else:
        # likewise a matrix-free A beyond 2^+-100, judged by ||A v|| for a random unit v
        # (unscaled, a sparse matrix or LinearOperator at 1e-200 ended in numerical_error,
        # at 1e200 in max_iter, where the same dense A converged)
        e = op._norm_exponent()
        if e is not None and not _A_PLAIN[0] <= 2.0**e <= _A_PLAIN[1]:
            j = int(e)
            op = _Scaled(op, j)
        mv, rmv = op.matvec, op.rmatvec
    def cg_solver() -> PCGSolver:
        if op.is_dense:
            c2 = np.einsum("ij,ij->j", mat, mat)
            cols = lambda idx: mat[:, idx]  # noqa: E731
        else:
            c2 = _column_sqnorms(op)
            cols = _ColumnCache(op)
        return PCGSolver(mv, rmv, (m, n), columns=cols, col_sqnorms=c2,
                         single=mat.astype(np.float32) if (op.is_dense and _SINGLE_CG
                                                           and _fits_float32(mat))
                         else None)

    solver: Any = CholeskySolver(mat) if method == "newton" else cg_solver()

    if ynorm == 0.0 and not nonneg:
        x = np.zeros(n)
        return _result(Status.CONVERGED, x, np.zeros(m), x, yv, 0, 0, 0, method,
                       time.perf_counter() - t0, "y = 0: the flow stays at x = 0", link)
    fallback = None
    if requested == "auto" and method == "newton-cg" and m <= _DENSE_FALLBACK_MAX_M:
        if op.is_dense:
            fallback = lambda: CholeskySolver(mat)  # noqa: E731
        elif m * n <= _DENSE_FALLBACK_MAX_ENTRIES:
            fallback = lambda: CholeskySolver(  # noqa: E731
                op.to_dense(max_entries=_DENSE_FALLBACK_MAX_ENTRIES))
    top = float(np.max(np.abs(yv)))
    k = int(pow2_exponent(top)) if not _Y_PLAIN[0] <= top <= _Y_PLAIN[1] else 0
    ys, log_shift = yv, 0.0
    if k or j:
        ys = np.ldexp(yv, -k)
        log_shift = (k - j) * float(np.log(2.0)) / depth  # log a - log a'
        try:
            link.set_scale(float(np.log(a)) - log_shift)
        except ValueError as err:
            raise ValueError(
                f"init_scale = {a:.3g} at the scale of the data (max|y| = {top:.3g}, "
                f"max|A| ~ 2^{j}) acts as {np.exp(np.log(a) - log_shift):.3g} on the data "
                f"brought to unit scale: {err}") from None
    scale0 = link.log_a
    with _blas_threads(_BLAS_THREADS):
        state = _newton_path(mv, rmv, ys, safe_norm(ys), link, solver, tol=tol,
                             max_iter=max_iter, fallback=fallback, log_shift=log_shift)
        # (the retry gets the steps left of max_iter, the cap on all Newton steps: with the
        # full max_iter again, max_iter = 10 returned n_iter = 20)
        if (requested == "auto" and method == "newton" and state["status"] is Status.STAGNATED
                and state["it"] < max_iter
                and _diagnose(problem.A, yv, nonneg, state, state["status"],
                              "")[0] is not Status.INFEASIBLE):
            # exact solves of A D A^T lose the last digits when the column norms span
            # decades (measured: 19 x 9, norms 0.009..83, depth 3: stalled at relative
            # residual 1.8e-7 where CG's column-scaled solves converge): the other method,
            # unless no limit exists (no interpolant: the stall is the dual diverging)
            scale_end = link.log_a
            link.set_scale(scale0)
            retry = _newton_path(mv, rmv, ys, safe_norm(ys), link, cg_solver(), tol=tol,
                                 max_iter=max_iter - state["it"], log_shift=log_shift)
            if retry["status"] is Status.CONVERGED:
                retry["message"] += (f" (by 'newton-cg', after {state['it']} steps of "
                                     "'newton' that stagnated)")
                retry["it"] += state["it"]
                state, method = retry, "newton-cg"
            else:
                link.set_scale(scale_end)  # the first run's result stands
                state["it"] += retry["it"]  # (n_iter: all Newton steps taken)
                if retry["status"] is Status.MAX_ITER:
                    state["message"] += (f" (a retry by 'newton-cg' reached max_iter = "
                                         f"{max_iter} Newton steps in all: raise max_iter)")
    if k or j:
        state = _unscale(state, k, j, depth, log_shift)
        link.set_scale(float(np.log(a)))
    status, msg = state["status"], state["message"]
    if status is not Status.CONVERGED and state["n_capped"]:
        if op.is_dense:
            hint = "; method='newton' solves them exactly"
        elif requested != "auto" and m * n <= _DENSE_FALLBACK_MAX_ENTRIES:
            hint = "; method='auto' switches to exact solves on the materialised matrix"
        else:
            hint = ""
        msg += (f" ({state['n_capped']} CG solves stopped at their iteration cap: the Newton "
                f"systems are too ill-conditioned for CG{hint})")
    info_extra: dict[str, Any] = {}
    if status is not Status.CONVERGED:
        status, msg, info_extra = _diagnose(problem.A, yv, nonneg, state, status, msg)
    if status is Status.INFEASIBLE:
        # the Newton iterate left behind is no answer (measured: signed, y outside
        # range(A), newton-cg: x = +-inf, relative residual NaN; non-negative, a Farkas
        # certificate at the first step: A = [[2]], y = [-3] gave x = 1.5, worse than 0)
        return _infeasible_result(problem, yv, state, msg, info_extra.pop("_projection", None),
                                  info_extra, dict(depth=depth, init_scale=a, nonneg=nonneg,
                                                   tol=tol, max_iter=max_iter,
                                                   method=requested),
                                  method, link, time.perf_counter() - t0)
    return _result(status, state["x"], state["w"], state["z"], yv, state["it"],
                   state["n_cg"], state["n_matvec"], method, time.perf_counter() - t0, msg,
                   link, ax=state["ax"], ynorm=state["ynorm"],
                   extra=dict(info_extra, n_continuation=state["n_cont"],
                              dense_fallback_step=state["fallback_step"],
                              least_norm_step=state["least_norm_step"],
                              history=np.asarray(state["history"]).reshape(-1, 4)))


class _Scaled(Operator):
    """``A / 2^j`` for a matrix-free ``A``, as ``2^k_out A (2^k_in x)`` with ``k_in + k_out
    = -j`` split evenly: exact (powers of two), and neither the input nor the output of
    ``A`` leaves the float range."""

    def __init__(self, op: Operator, j: int):
        self.op, self.j = op, int(j)
        self.shape = op.shape
        self.k_in = -(self.j // 2)
        self.k_out = -self.j - self.k_in

    def matvec(self, x):
        return ldexp_array(np.asarray(self.op.matvec(ldexp_array(x, self.k_in))), self.k_out)

    def rmatvec(self, r):
        return ldexp_array(np.asarray(self.op.rmatvec(ldexp_array(r, self.k_in))), self.k_out)

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        return np.ldexp(self.op.to_dense(max_entries=max_entries), -self.j)


def _fits_float32(mat: np.ndarray) -> bool:
    """Whether a float32 copy of ``mat`` keeps its entries (no inf, no flush to zero):
    the continuation's float32 products are then only less precise."""
    top = float(np.max(np.abs(mat), initial=0.0))
    return top == 0.0 or 1e-30 < top < 1e30


def _unscale(state: dict, k: int, j: int, depth: int, log_shift: float) -> dict:
    """The path's state for (A / 2^j, y / 2^k) mapped back to (A, y) (see ``_Y_PLAIN``):
    with ``e = k - j``, x scales by 2^e, A x by 2^k, z = A^T w by 2^(e (L-2) / L) (z is
    scale-free for L = 2) and w by 2^(e (L-2) / L - j)."""
    out = dict(state)
    e = k - j
    out["x"], out["ax"] = np.ldexp(state["x"], e), np.ldexp(state["ax"], k)
    zf = 2.0 ** (e * (depth - 2) / depth)
    # w's factor 2^(p - j) split as 2^frac * 2^int: for |j| ~ 700 the factor alone was 0 or
    # inf, and 0 * inf (a failed run's w) warned "invalid value in multiply"
    p_int = int(np.floor(e * (depth - 2) / depth))
    wf = 2.0 ** (e * (depth - 2) / depth - p_int)
    out["w"], out["z"] = ldexp_array(state["w"] * wf, p_int - j), state["z"] * zf
    out["ynorm"] = float(np.ldexp(state["ynorm"], k))
    out["history"] = [(s + log_shift, t, r, it) for s, t, r, it in state["history"]]
    return out


def _blas_threads(limit: int | None):
    """Limit BLAS threads inside the solver (a no-op without threadpoolctl)."""
    if limit is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


# -- input ---------------------------------------------------------------------------
def _as_problem(A: Any, y: Any) -> Problem:
    try:
        problem = as_problem(A, y)
        # Problem keeps a complex y (see problems.structured); the limit is real and the
        # float64 cast below would silently drop the imaginary part
        check_not_complex(problem.y, "y")
        return problem
    except TypeError as err:  # y missing, given twice or complex: a usage error here
        raise ValueError(str(err)) from err


def _column_sqnorms(op) -> np.ndarray:
    """Squared column norms of a matrix-free operator, all set to their mean
    ``||A||_F^2 / n`` estimated with 8 random probes (exact on average for operators with
    equal column norms such as the partial DCT; only the preconditioner uses them)."""
    m, n = op.shape
    rng = np.random.default_rng(0)
    k = 8
    est = 0.0
    for _ in range(k):
        g = rng.standard_normal(m)
        est += float(np.sum(op.rmatvec(g) ** 2))
    mean = est / (k * n)  # E||A^T g||^2 = ||A||_F^2
    return np.full(n, mean)


# -- the Newton path -----------------------------------------------------------------
def _newton_path(mv, rmv, y, ynorm, link: Link, solver, *, tol: float, max_iter: int,
                 fallback=None, log_shift: float = 0.0):
    """Damped Newton on the dual with predictor-corrector continuation in log(a).

    ``fallback`` (optional) builds an exact solver that replaces ``solver`` for the rest of
    the run when a CG solve needs more iterations than forming the Newton matrix costs.
    ``log_shift`` is added to ``log(a)`` in messages (y solved at unit scale)."""
    m = y.size
    cg_cap = min(getattr(solver, "max_cg", np.inf), max(50, m // 4))
    fallback_step = None
    n_matvec_before = 0
    n_capped = 0  # CG solves stopped at their iteration cap
    s_target = link.log_a
    # scale of the solution: x0 = t A^T y with t minimising ||A t A^T y - y||
    aty = rmv(y)
    aaty = mv(aty)
    # (the products divided by ||A A^T y||: its square overflows for A ~ 1e150)
    na = safe_norm(aaty)
    den = 1.0 if 0.0 < na < np.inf else 0.0
    t_ls = float((y / na) @ (aaty / na)) if den > 0 else 0.0
    x_scale = float(np.max(np.abs(t_ls * aty))) if den > 0 else 1.0
    s0 = link.start_scale(x_scale) if x_scale > 0 else s_target
    s = max(s0, s_target) if (link.depth == 2 or _CONT_L3) else s_target
    if ynorm == 0.0:
        # y = 0 (non-negative model): A h(A^T w) = 0 does not involve the scale for L = 2,
        # so a path has nothing to follow. Where no x >= 0, x != 0 solves A x = 0 the dual
        # diverges (x -> 0 by a factor ~e per Newton step): continuation from a = 1 crept
        # (steps below float64 resolution of log a) and stopped at max_iter = 500 at
        # a ~ 0.1 for init_scale 1e-3..1e-6
        s = s_target
    link.set_scale(s)
    w = np.zeros(m)
    z = np.zeros(aty.size)
    _, x, D = link.evaluate(z)
    ax = mv(x)
    r = ax - y
    # (residual norms by safe_norm throughout: the non-negative start x = a^L at large
    # init scales, ~1e160 at a = 1e80, squared to inf in np.linalg.norm: numerical_error)
    rn = safe_norm(r)
    if ynorm == 0.0:  # y = 0 (non-negative model): measure relative to the start
        ynorm = max(rn, 1e-300)
    step = -_STEP0  # continuation step in log(a)
    n_cg = 0
    n_cont = 0
    status, message = Status.MAX_ITER, ""
    it = 0
    farkas = None
    history: list[tuple[float, float, float, int]] = []
    best_rn, n_stall = np.inf, 0
    cg_final = _CG_RTOL  # tightened when the final Newton steps stall (inexact solves)
    synced = True  # z = A^T w and ax = A x to float64 rounding
    reduced_step = None  # the step from which creeping solves by least norm (_CREEP_STEP)
    c2 = _col_sqnorms(solver)
    c2_pos = c2[c2 > 0.0]
    scaled_columns = bool(c2_pos.size) and float(np.max(c2_pos)) > _TRUST_SPREAD**2 * float(
        np.min(c2_pos))

    def active(x: np.ndarray, b: np.ndarray, on_path: bool) -> np.ndarray:
        # columns whose share |x_i| ||a_i|| of A x is above _ACTIVE_REL * ||b|| / n: the
        # others, moved by at most ~_Z_TRUST in z, change the linearised A x by less than
        # 1e-3 ||b|| in all. On the path the reference is at least ||y|| (the path is
        # followed loosely; a small predictor step must not bring back the coordinates
        # that are zero to float64), at a fixed scale the Newton right-hand side alone
        c = np.abs(x) * np.sqrt(solver.col_sqnorms)
        bn = safe_norm(b)
        return c > _ACTIVE_REL * (max(bn, ynorm) if on_path else bn) / c.size

    def resync():
        z1 = rmv(w)
        _, x1, D1 = link.evaluate(z1)
        with np.errstate(over="ignore", invalid="ignore"):
            ax1 = mv(x1)
            r1 = ax1 - y
        rn1 = safe_norm(r1)
        if not np.isfinite(rn1):
            # w has diverged (a dual unbounded below: y outside range(A) solved by CG),
            # and A^T w recomputed from it rounds to z ~ 1e-16 |w|, where x overflows (x =
            # inf was returned, and the product warned "invalid value encountered in dot"):
            # keep z accumulated along the steps and its finite x
            return z, x, D, ax, r, rn
        return z1, x1, D1, ax1, r1, rn1

    while True:
        at_target = s <= s_target
        if at_target and not synced and rn <= max(_SYNC_BELOW, tol) * ynorm:
            z, x, D, ax, r, rn = resync()
            synced = True
        if at_target and rn <= tol * ynorm:
            status = Status.CONVERGED
            message = (f"converged: relative residual {rn / ynorm:.3e} <= tol after "
                       f"{it} Newton steps")
            break
        if it >= max_iter:
            # (not Status.MAX_ITER.advice: its step-size advice is for gradient descent)
            where = "at the target scale" if at_target else (
                f"on the continuation path at init_scale {np.exp(s + log_shift):.3g}")
            message = (f"the Newton step limit max_iter = {max_iter} was reached {where} "
                       f"(relative residual {rn / ynorm:.3e}): raise max_iter or loosen tol")
            break
        if (reduced_step is None and not at_target and link.nonneg
                and abs(step) < _CREEP_STEP and hasattr(solver, "solve_least_norm")):
            reduced_step = it
        if (reduced_step is not None and not at_target and abs(step) < _CREEP_STEP
                and rn <= tol * ynorm):
            # the step collapsed (possibly below float64 resolution of s, leaving plain
            # Newton at a fixed scale) but x has converged here, where the negligible
            # columns are now left out: resume the continuation (and forget the residual
            # reached at this scale: the stall test is for the target)
            step = -_CREEP_STEP
            best_rn, n_stall = np.inf, 0
        s_new = s_target if at_target else max(s + step, s_target)
        delta = s_new - s
        rhs = -r
        if delta != 0.0:
            # A dh/dlog(a); for L = 2, dh/dlog(a) = 2 h, so it is 2 A x (no matvec)
            adh = 2.0 * ax if link.depth == 2 else mv(link.dscale(z, x))
            # the path is asymptotically linear in log(a) for L = 2 (z ~ 2 log(1/a) lambda
            # + const) and in c = a^(2-L) for L >= 3 (z ~ c lambda + const): extrapolate
            # linearly in that variable
            pred = delta if link.depth == 2 else np.expm1((2 - link.depth) * delta) / (
                2 - link.depth)
            rhs = rhs - pred * adh
        cg_tol = _CG_RTOL if not at_target else cg_final
        rn_before = rn
        try:
            keep = active(x, rhs, delta != 0.0) if reduced_step is not None else None
            if keep is not None and np.count_nonzero(keep) < m:
                # fewer than m columns that matter: A D A^T is numerically singular
                d, k = solver.solve_least_norm(D, rhs, keep)
            else:
                d, k = solver.solve(D, rhs, cg_tol)
            n_cg += k
            n_capped += int(k >= getattr(solver, "max_cg", np.inf))
            if fallback is not None and k >= cg_cap:
                # CG is costing more than a dense Newton step (or failing): switch for good
                n_matvec_before = solver.n_matvec
                solver, fallback, fallback_step = fallback(), None, it
                d, _ = solver.solve(D, rhs, cg_tol)
        except np.linalg.LinAlgError:
            status = Status.NUMERICAL_ERROR
            message = f"{status.advice} (the Newton matrix is singular at step {it})"
            break
        # on the path, A^T d accumulated inside CG (float32 with float32 Hessian products)
        # saves a full product per step; z then drifts from A^T w by rounding, which the
        # resynchronisation at the target scale removes before any exact step
        approx = (delta != 0.0 or not synced) and solver.last_atd is not None
        if not np.all(np.isfinite(d)):
            # a numerically zero Newton matrix (e.g. A = 0) "solved" with a subnormal
            # shift: retreating on a NaN slope looped to max_iter, warning at every step
            status = Status.NUMERICAL_ERROR
            message = (f"{status.advice} (non-finite Newton direction at step {it}: the "
                       "Newton matrix A D A^T is numerically zero or singular)")
            break
        zd = solver.last_atd if approx else rmv(d)
        it += 1
        link.set_scale(s_new)
        # line search on the dual at the new scale
        wy = float(w @ y)
        dy = float(d @ y)
        # the excess sum H(z) - sum H(0): the constant sum H(0) is ~1e21 times the
        # objective's variation at large init scales (lazy regime)
        phi0 = link.excess(z) - wy
        if not np.isfinite(phi0):
            # the predictor's scale left z outside the new domain: retreat
            link.set_scale(s)
            step *= 0.25
            continue
        _, hz, _ = link.evaluate(z)
        slope = float(hz @ zd) - dy
        if not slope < 0.0:
            # not a descent direction at the new scale (poor predictor): plain Newton
            if delta != 0.0:
                link.set_scale(s)
                step *= 0.25
                continue
            if getattr(solver, "single", None) is not None:
                solver.single = None  # inexact float32 products: retry in float64
                continue
            if fallback is not None and not _is_farkas(link, zd, dy, d, y):
                # CG broke down without reaching its cap (measured: m > n, singular
                # A D A^T, a tightened solve ended at a true relative residual 5e2 for
                # rtol 1e-9 after 62 iterations): exact solves from here
                n_matvec_before = solver.n_matvec
                solver, fallback, fallback_step = fallback(), None, it
                continue
            if _is_farkas(link, zd, dy, d, y):
                farkas = d
                status = Status.INFEASIBLE
                message = "the dual is unbounded below along a Farkas direction"
                break
            status = Status.STAGNATED
            where = "" if at_target else (
                f" on the continuation path at init_scale {np.exp(s + log_shift):.3g}: x is the limit "
                "there, not at the requested scale")
            message = (f"{status.advice} (no descent direction at relative residual "
                       f"{rn / ynorm:.3e}{where})")
            break
        if _is_farkas(link, zd, dy, d, y) and approx:
            zd, approx = rmv(d), False  # certify with the exact product
        if _is_farkas(link, zd, dy, d, y):
            farkas = d
            status = Status.INFEASIBLE
            message = ("no x >= 0 solves A x = y: the dual is unbounded below along a Farkas "
                       "direction d (A^T d <= 0, <d, y> > 0), returned in info['farkas']")
            break
        t = link.max_step(z, zd)
        zmax = float(np.max(np.abs(zd)))
        if delta != 0.0 and link.depth == 2:
            # on the path, no coordinate of z moves by more than _Z_TRUST per step: the
            # exponential link is well modelled only over O(1) changes of z (for L >= 3
            # the domain guard of max_step plays this role)
            if zmax * t > _Z_TRUST:
                t = (min(t, _trust_step(zd, D, c2, ynorm, link.nonneg)) if scaled_columns
                     else _Z_TRUST / zmax)
        # a step is negligible when it no longer changes z in float64; judged on t * |zd|,
        # not t: from w = 0 at a small scale (depth >= 3) the first Newton step is ~1e16
        # long and its admissible t ~1e-12
        # (relative to |z| below 1 too: at large init scales z ~ 1e-10 and x ~ a^2 z, so an
        # absolute floor of 1e-14 called every step negligible)
        zfloor = 1e-14 * float(np.max(np.abs(z)))

        def negligible(t: float) -> bool:
            # a full step is never negligible: when the Newton direction itself is below
            # the floor, w already solves the system at this scale (e.g. y = 0 with the
            # non-negative L = 2 model, whose z does not depend on the scale)
            if t == 1.0:
                return False
            if t < 1e-300:  # (z = 0 has no floor)
                return True
            return t * zmax <= zfloor if zmax > 0.0 else t < 1e-12

        # rounding of the three terms of phi (not an absolute 1, which at large init scales
        # was ~1e20 times the objective's variation and accepted any step)
        eps_phi = 1e-13 * (abs(phi0) + abs(wy) + abs(dy))
        while True:
            if negligible(t):
                break
            phi = link.excess(z + t * zd) - wy - t * dy
            if phi <= phi0 + 1e-4 * t * slope + eps_phi:
                break
            t *= 0.5
        if negligible(t) and getattr(solver, "single", None) is not None:
            solver.single = None  # retry the step with float64 Hessian products
            link.set_scale(s)
            continue
        if negligible(t):
            status = Status.STAGNATED
            message = (f"{status.advice} (the line search failed at relative residual "
                       f"{rn / ynorm:.3e})")
            link.set_scale(s)
            break
        # the iterate before the step: kept when the step's x or A x is not finite
        last = (w, z, x, D, ax, r, rn, synced, s)
        w = w + t * d
        z = z + t * zd
        s = s_new
        if delta != 0.0:
            n_cont += 1
        _, x, D = link.evaluate(z)
        single = getattr(solver, "single", None)
        # (a dual unbounded below, e.g. y outside range(A) with CG, drives x to inf: the
        # product warned "invalid value encountered in dot" from NumPy or SciPy)
        with np.errstate(over="ignore", invalid="ignore"):
            if approx:
                synced = False
                # the path needs the residual only to ~1e-6 relative: float32 product
                ax = mv(x) if single is None else (single @ x.astype(np.float32)).astype(
                    np.float64)
                if not np.all(np.isfinite(ax)):  # beyond the float32 range
                    ax = mv(x)
            else:
                ax = mv(x)
            r = ax - y
        rn = safe_norm(r)
        if not np.isfinite(rn):
            # x = inf (or NaN) was returned with a NaN relative residual: keep the last
            # finite iterate
            w, z, x, D, ax, r, rn, synced, s = last
            link.set_scale(s)
            status = Status.NUMERICAL_ERROR
            message = (f"{status.advice} (x or A x overflowed at Newton step {it}: x is the "
                       "last finite iterate, not the limit)")
            break
        if delta != 0.0:
            # double the step after a full step that stays near the path, else shrink it
            step = (step * 2.0 if (t == 1.0 and rn <= _PATH_TARGET * ynorm)
                    else step * (0.7 if t >= 0.5 else 0.35))
            if abs(step) < _SINGLE_MIN_STEP and getattr(solver, "single", None) is not None:
                solver.single = None
        else:
            if rn > 0.5 * rn_before:
                if getattr(solver, "single", None) is not None:
                    # float32 Hessian products cannot resolve a curvature range beyond
                    # ~1e6: the final steps stall, so go on in float64
                    solver.single = None
                else:
                    cg_final = max(0.1 * cg_final, 1e-12)
            # a stall: full Newton steps that no longer reduce the residual (the precision
            # floor); damped steps reduce the dual objective, not necessarily the residual
            if rn < 0.9 * best_rn:
                best_rn, n_stall = rn, 0
            elif t == 1.0:
                n_stall += 1
            if n_stall >= 10 and rn > tol * ynorm:
                status = Status.STAGNATED
                floor = "" if link.depth == 2 else "; " + _floor_note(link.depth, link.c)
                # (at a fixed scale short of the target too, once the continuation step
                # fell below the float64 resolution of log a: say so, as max_iter does)
                where = "" if at_target else (
                    f" on the continuation path at init_scale {np.exp(s + log_shift):.3g}: "
                    "x is the limit there, not at the requested scale")
                message = (f"{status.advice} (the relative residual stalls at "
                           f"{rn / ynorm:.3e} > tol = {tol:.1e}{floor}{where})")
                break
        history.append((s, t, rn / ynorm, k))
        if not np.isfinite(rn):
            status = Status.NUMERICAL_ERROR
            message = f"{status.advice} (non-finite residual at step {it})"
            break
    if not synced:
        z, x, D, ax, r, rn = resync()
    c_target = float(np.exp((2 - link.depth) * s_target))
    if (status is not Status.CONVERGED and status is not Status.INFEASIBLE
            and link.depth >= 3 and 1e-16 * c_target > tol and "float64 resolves" not in message):
        # the other stops (a failed line search, a numerically zero Newton matrix, the
        # step limit) at scales where float64 cannot reach tol named neither the init
        # scale nor the remedy (measured: depth 3 at 1e-20, where x has no correct digit)
        message += f" ({_floor_note(link.depth, c_target)})"
    return dict(status=status, message=message, x=x, w=w, z=z, ax=ax, it=it, n_cg=n_cg,
                n_cont=n_cont, farkas=farkas, rn=rn, ynorm=ynorm, history=history,
                fallback_step=fallback_step, n_capped=n_capped, least_norm_step=reduced_step,
                n_matvec=n_matvec_before + int(getattr(solver, "n_matvec", 0)))


def _col_sqnorms(solver) -> np.ndarray:
    """The squared column norms either solver holds (``PCGSolver``: ``c2``)."""
    c2 = getattr(solver, "col_sqnorms", None)
    return solver.c2 if c2 is None else c2


def _trust_step(zd: np.ndarray, D: np.ndarray, col_sqnorms: np.ndarray, ynorm: float,
                nonneg: bool) -> float:
    """The largest step along ``zd`` allowed by ``_Z_TRUST`` (depth 2, on the path).

    ``_Z_TRUST`` bounds the move of the coordinates that matter to the linearised ``A x``:
    ``|x_i(z_i + dz)| ||a_i|| <= D_i e^|dz| ||a_i||`` (``D = h'(z)``), so a coordinate whose
    share ``D_i ||a_i||`` is below ``_TRUST_FREE * ||y|| / n`` may move until it reaches that
    share (at least ``_Z_TRUST``), and for the non-negative model one whose ``z`` decreases
    (``x_i`` shrinks towards 0) moves freely. Bounding every coordinate by ``_Z_TRUST``
    damped the continuation to a halt when the column norms span decades (measured: 20 x 60,
    norms 5e-3..5e3, non-negative, a = 1e-3: Newton directions moving z by ~1e4 on columns
    of norm ~1e3 whose x was ~1e-30 held every step to t ~ 5e-4 and the scale froze at
    0.0108 until max_iter)."""
    c = D * np.sqrt(col_sqnorms)
    thresh = _TRUST_FREE * ynorm / max(c.size, 1)
    with np.errstate(divide="ignore"):
        allow = np.maximum(_Z_TRUST, np.log(thresh) - np.log(c))
    if nonneg:
        allow = np.where((zd < 0.0) & (c < thresh), np.inf, allow)
    moving = zd != 0.0
    if not np.any(moving):
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(min(1.0, np.min(allow[moving] / np.abs(zd[moving]))))


def _floor_note(depth: int, c: float) -> str:
    """Why depth >= 3 at a small scale stops short: ``z`` sits within ``O(1)`` of
    ``c = a^(2-L)``, so float64 holds ``x`` only to a relative ``~1e-16 c``."""
    return (f"for depth {depth} float64 resolves x only to a relative ~1e-16 * a^(2-L) = "
            f"{1e-16 * c:.1e}: use a larger init_scale or a looser tol")


def _is_farkas(link: Link, zd: np.ndarray, dy: float, d: np.ndarray, y: np.ndarray) -> bool:
    """``d`` certifies that no ``x >= 0`` solves ``A x = y``: ``A^T d <= 0``, ``<d, y> > 0``
    beyond the rounding of ``<d, y>``.

    Near a feasible solution on the boundary of the cone, a Newton direction can meet
    ``A^T d <= 0`` with ``<d, y> = <A^T d, x*> = 0`` up to rounding (measured: 4.5e-13
    against ``|d| . |y| = 2.4e4``), which read as a certificate for a feasible problem."""
    return bool(link.nonneg and dy > _FARKAS_REL * float(np.abs(d) @ np.abs(y))
                and np.all(zd <= 0.0))


# -- failures ------------------------------------------------------------------------
def _diagnose(op, y, nonneg, state, status, msg):
    """Confirm infeasibility (dense A) when the iteration did not converge."""
    info: dict[str, Any] = {}
    if state.get("farkas") is not None:
        info["farkas"] = state["farkas"]
        return Status.INFEASIBLE, msg, info
    if not op.is_dense:
        m, n = op.shape
        if m * n > _DENSE_FALLBACK_MAX_ENTRIES:
            return status, msg + " (y may be unreachable: check that y is in range(A))", info
        # a sparse or matrix-free A small enough to materialise gets the dense diagnosis:
        # the same infeasible problem read as max_iter / stagnated when passed as a
        # sparse matrix or LinearOperator, and as infeasible when passed as an array
        A = op.to_dense(max_entries=_DENSE_FALLBACK_MAX_ENTRIES)
    else:
        A = op.to_dense()
    if nonneg:
        import scipy.optimize

        m, n = A.shape
        # feasibility is scale-free, HiGHS's tolerances are absolute (A ~ 1e-200 read as
        # infeasible): posed for every column divided by its max|a_i| (x_i >= 0 keeps its
        # sign), then every row and its y_i by the row's max. One factor max|A| left
        # columns of norm 1e-6 .. 1e-3 next to ones of 1e6 below HiGHS's small-matrix
        # threshold (1e-9): they were dropped and feasible problems read as infeasible
        ctop = np.max(np.abs(A), axis=0, initial=0.0)
        B = A / np.where(ctop > 0, ctop, 1.0)
        rtop = np.max(np.abs(B), axis=1, initial=0.0)
        rs = np.where(rtop > 0, rtop, 1.0)
        with np.errstate(over="ignore"):
            yb = y / rs
        if np.all(np.isfinite(yb)):  # (a row of ~1e-300 against y_i ~ 1 overflows)
            B = B / rs[:, None]
        else:
            yb = y
        ytop = float(np.max(np.abs(yb), initial=0.0))
        lp = scipy.optimize.linprog(np.zeros(n), A_eq=B,
                                    b_eq=yb / ytop if ytop > 0 else yb, bounds=(0, None),
                                    method="highs")
        if lp.status == 2:
            return (Status.INFEASIBLE,
                    "no x >= 0 solves A x = y (confirmed by a HiGHS feasibility LP): the "
                    "non-negative flow cannot interpolate", info)
        return status, msg, info
    res, py = _range_residual(A, y)
    if res > 1e-8 * max(safe_norm(y), 1e-300):
        # (the projection of y onto range(A): see _infeasible_result)
        info["_projection"] = py
        return (Status.INFEASIBLE,
                f"y is not in the range of A (least-squares residual {res:.3e}): no x "
                "solves A x = y, so the flow cannot interpolate", info)
    return status, msg, info


def _range_residual(A: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """``||P y - y||`` and ``P y``, the projection of ``y`` onto range(A) (least squares)."""
    sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    py = A @ sol
    return safe_norm(py - y), py


def _infeasible_result(problem: Problem, y: np.ndarray, state: dict, msg: str,
                       py: np.ndarray | None, info_extra: dict, kwargs: dict, method: str,
                       link: Link, wall: float) -> Result:
    """The result for a problem without interpolant: ``x`` the point gradient flow tends to.

    Signed model (``y`` outside range(A)): ``A^T (A x - y) = A^T (A x - P y)`` for the
    projection ``P y`` of ``y`` onto range(A), so the flow is that of ``P y`` and its limit
    is ``hadamard_limit(A, P y)``, solved here. Non-negative model: the flow tends to the
    set of non-negative least-squares minimizers; ``x`` is one, by
    :func:`overparam.solvers.nnls` (``info["x_status"]`` says whether it met its
    tolerance). ``n_iter`` counts the Newton steps of the run that found the problem
    infeasible, and ``info["x_n_iter"]`` the iterations of the solve ``x`` comes from."""
    t0 = time.perf_counter()
    A = problem.A
    extra = dict(info_extra)
    w, z, x = state["w"], state["z"], None
    if py is not None and not kwargs["nonneg"]:
        res, _ = _range_residual(A.to_dense(max_entries=_DENSE_FALLBACK_MAX_ENTRIES), py)
        if res <= 1e-8 * max(safe_norm(py), 1e-300):  # (else it would recurse: x kept)
            sub = hadamard_limit(A, py, **kwargs)
            x, w, z = sub.x, sub.info["w"], sub.info["z"]
            extra.update(x_n_iter=sub.n_iter, x_status=sub.status.value)
            msg += ("; x is the limit of the flow, which is that of the projection P y of y "
                    f"onto range(A) (the gradient A^T (A x - y) = A^T (A x - P y)): "
                    f"{sub.status.value}, {sub.n_iter} Newton steps")
    elif kwargs["nonneg"]:
        from ..solvers.nnls import nnls  # (solvers import this module)

        sub = nnls(problem)
        x = np.asarray(sub.x)
        extra.update(x_n_iter=sub.n_iter, x_status=sub.status.value)
        msg += ("; x is a non-negative least-squares minimizer, a point of the set the "
                f"flow tends to (overparam.solvers.nnls: {sub.status.value}, KKT residual "
                f"{sub.info['kkt_rel']:.1e} relative)")
    if x is None:
        x = state["x"]
        msg += "; x is the last Newton iterate, not the limit"
    with np.errstate(over="ignore", invalid="ignore"):
        ax = np.asarray(A.matvec(x), dtype=np.float64)
    extra.update(n_continuation=state["n_cont"], dense_fallback_step=state["fallback_step"],
                 least_norm_step=state["least_norm_step"],
                 history=np.asarray(state["history"]).reshape(-1, 4))
    return _result(Status.INFEASIBLE, x, w, z, y, state["it"], state["n_cg"],
                   state["n_matvec"], method, wall + time.perf_counter() - t0, msg, link,
                   ax=ax, extra=extra)


def _dual_objective(link: Link, z: np.ndarray, w: np.ndarray, y: np.ndarray) -> float:
    """``sum H(z) - <w, y>`` for the report: may be inf or NaN at extreme scales (A = 0,
    huge data), which is not an error of the run, so without RuntimeWarnings."""
    if not z.size:
        return float("nan")
    with np.errstate(all="ignore"):
        return float(link.primitive(z) - w @ y)


def _result(status, x, w, z, y, it, n_cg, n_matvec, method, wall, msg, link, ax=None,
            extra=None, ynorm=None) -> Result:
    r = (ax if ax is not None else np.zeros_like(y)) - y
    # ``ynorm``: the reference of the stopping test (the starting residual when y = 0,
    # where dividing by ||y|| would report ~1e280)
    ynorm = max(safe_norm(y) if ynorm is None else float(ynorm), 1e-300)
    rn = safe_norm(r)
    with np.errstate(over="ignore"):  # the loss of y ~ 1e200 is inf in float64
        fun = 0.5 * rn * rn
    info = dict(
        method=method, depth=link.depth, nonneg=link.nonneg,
        init_scale=float(np.exp(link.log_a)), w=w, z=z,
        dual_objective=_dual_objective(link, z, w, y),
        relative_residual=rn / ynorm, n_cg=int(n_cg),
        n_matvec=int(n_matvec),
    )
    info.update(extra or {})
    return Result(x=x, status=status, message=msg, n_iter=int(it), fun=fun, wall_time=wall,
                  info=info)
