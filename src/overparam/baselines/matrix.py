"""Baselines for low-rank matrix problems: nuclear-norm minimization (CVXPY and a proximal
singular value thresholding solver of our own) and minimum-norm least squares.

All take a matrix problem (``problems.matrix_estimation / matrix_sensing /
matrix_completion``, or a Problem whose operator is a ``MatrixOperator``) and return a
:class:`~overparam.Result` whose ``x`` is the ``n1 x n2`` matrix.

References
----------
B. Recht, M. Fazel, P. A. Parrilo, "Guaranteed minimum-rank solutions of linear matrix
equations via nuclear norm minimization", SIAM Review 52(3), 2010.
J.-F. Cai, E. J. Candes, Z. Shen, "A singular value thresholding algorithm for matrix
completion", SIAM J. Optim. 20(4), 2010.
K.-C. Toh, S. Yun, "An accelerated proximal gradient algorithm for nuclear norm regularized
linear least squares problems", Pacific J. Optim. 6(3), 2010 (FISTA with continuation).
S. Arora, N. Cohen, W. Hu, Y. Luo, "Implicit regularization in deep matrix factorization",
NeurIPS 2019 (nuclear norm by CVXPY as the comparison of deep factorizations).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from .._core import Result, Status, check_finite_array, check_int, check_positive, safe_norm
from ..problems import Problem
from ..problems.matrix import EntryMask, MatrixIdentity, matrix_shape_of
from ._common import max_abs_divisor, operator_gain


def _problem(problem: Any) -> tuple[Problem, tuple[int, int]]:
    if not isinstance(problem, Problem):
        raise TypeError(f"expected a matrix Problem, got {type(problem).__name__}")
    return problem, matrix_shape_of(problem, shape_arg=False)


def _complex_op(op: Any) -> bool:
    """Whether ``op`` computes in complex arithmetic (e.g. Fourier rank-one measurements);
    the real operators cast their input to float64."""
    return np.issubdtype(np.dtype(getattr(op, "dtype", np.float64)), np.complexfloating)


def _data(problem: Problem) -> np.ndarray:
    """``y`` as float64, or complex128 when the measurements are complex."""
    y = np.asarray(problem.y)
    return y.astype(np.complex128 if np.iscomplexobj(y) else np.float64, copy=False)


def _sqnorm(r: np.ndarray) -> float:
    """``||r||^2``, complex-aware (``r @ r`` of a complex vector is not its norm)."""
    return float(r @ r) if not np.iscomplexobj(r) else float(np.vdot(r, r).real)


def _rel_residual(problem: Problem, W: np.ndarray) -> float:
    # safe_norm: plain norms square the entries (y ~ 1e-200 gave 1e276, 1e200 gave NaN)
    r = problem.A.matvec(W.reshape(-1)) - problem.y
    ny, nr = safe_norm(problem.y), safe_norm(r)
    return float(nr / ny) if ny > 0 else float(nr)


def nuclear_norm_cvxpy(
    problem: Problem,
    *,
    lam: float | None = None,
    solver: str | None = None,
    verbose: bool = False,
    **solver_options: Any,
) -> Result:
    """Nuclear-norm minimization with CVXPY (optional extra ``overparam[cvxpy]``).

    ``lam=None``: ``min ||W||_* s.t. A(W) = y`` (the small-initialization limit
    conjectured for depth-2 factorizations by Gunasekar et al.; Arora et al.'s comparison).
    ``lam > 0``: ``min 0.5 ||A(W) - y||^2 + lam ||W||_*``.

    Parameters
    ----------
    problem : Problem
        A matrix problem (estimation, completion, or sensing with a stored operator), real
        only (TypeError for complex measurements or operators: use
        :func:`nuclear_norm_prox`).
    lam : float, optional
        Penalty; None for the equality-constrained problem.
    solver : str, optional
        A CVXPY solver name (default: Clarabel when installed, else CVXPY's choice).
    verbose : bool
    **solver_options
        Passed to ``Problem.solve``.

    Returns
    -------
    Result
        ``x`` the matrix, ``fun`` the nuclear norm (constrained) or the objective,
        ``info["solver"]``, ``info["relative_residual"]``; ``status`` CONVERGED for CVXPY's
        ``optimal`` and ``optimal_inaccurate`` (the solver's reduced tolerances),
        MAX_ITER for ``user_limit`` (with the solver's last point), INFEASIBLE or
        NUMERICAL_ERROR (``x = 0``) otherwise; ``info["cvxpy_status"]``.
    """
    try:
        import cvxpy as cp
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("nuclear_norm_cvxpy needs CVXPY: pip install 'overparam[cvxpy]' "
                          "(or use nuclear_norm_prox)") from e
    problem, (n1, n2) = _problem(problem)
    op = problem.A
    if np.iscomplexobj(problem.y) or _complex_op(op):
        raise TypeError("nuclear_norm_cvxpy handles real problems only (its variable is "
                        "real); use nuclear_norm_prox for complex measurements")
    if lam is not None:
        lam = check_positive(lam, "lam")
    # The conic solvers' tolerances are absolute: for y ~ 1e-8 Clarabel called a point with
    # relative residual 0.2 "optimal" (0.44 from the answer), for 1e200 the problem
    # "infeasible". Both problems are homogeneous: for A' = A / a, y' = y / s the solution
    # is W' = W a / s (with lam' = lam / (a s)), so solve for max|A'| = max|y'| = 1.
    X = cp.Variable((n1, n2))
    v = cp.reshape(X, (n1 * n2,), order="C")
    a_scale = 1.0
    if isinstance(op, MatrixIdentity):
        AX = v
    elif isinstance(op, EntryMask):
        AX = v[op.flat_index]
    else:
        M = op.to_dense()
        a_scale = max_abs_divisor(M)
        AX = (M / a_scale) @ v
    y = np.asarray(problem.y, dtype=np.float64)
    y_scale = max_abs_divisor(y)
    ys = y / y_scale
    if lam is None:
        prob = cp.Problem(cp.Minimize(cp.normNuc(X)), [AX == ys])
    else:
        prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(AX - ys)
                                      + (lam / a_scale / y_scale) * cp.normNuc(X)))
    if solver is not None and not isinstance(solver, str):
        # CVXPY's failure on a non-string solver was reported as NUMERICAL_ERROR of the
        # problem (fun NaN), not as a bad argument
        raise TypeError(f"solver must be a CVXPY solver name (str) or None, got "
                        f"{type(solver).__name__}")
    installed = cp.installed_solvers()
    if solver is None and "CLARABEL" in installed:
        solver = "CLARABEL"
    elif isinstance(solver, str) and solver.upper() not in installed:
        # CVXPY's SolverError would be reported as a numerical failure of the problem
        raise ValueError(f"solver {solver!r} is not an installed CVXPY solver "
                         f"(installed: {', '.join(installed)})")
    t0 = time.perf_counter()
    try:
        prob.solve(solver=solver, verbose=verbose, **solver_options)
    except cp.error.SolverError as e:
        return Result(x=np.zeros((n1, n2)), status=Status.NUMERICAL_ERROR,
                      message=f"{Status.NUMERICAL_ERROR.advice} (CVXPY: {e})",
                      wall_time=time.perf_counter() - t0, info=dict(method="nuclear_norm_cvxpy"))
    wall = time.perf_counter() - t0
    # "user_limit": the solver hit an iteration or time limit, with a point (Clarabel at
    # max_iter=3): it was NUMERICAL_ERROR ("a singular system") with x = 0.
    # "optimal_inaccurate" (Clarabel's AlmostSolved: its reduced tolerances, typically
    # ~1e-5 from the answer) counts as converged; info["cvxpy_status"] tells them apart.
    status = {"optimal": Status.CONVERGED, "optimal_inaccurate": Status.CONVERGED,
              "user_limit": Status.MAX_ITER}.get(prob.status)
    detail = (": the solver hit its iteration or time limit: raise it (solver options, "
              "e.g. max_iter for Clarabel)") if status is Status.MAX_ITER else ""
    if status is None or X.value is None:
        if status is not Status.MAX_ITER:
            status = (Status.INFEASIBLE if "infeasible" in prob.status
                      else Status.NUMERICAL_ERROR)
            detail = f"{status.advice} (CVXPY status {prob.status})"
        else:
            detail = f"CVXPY {prob.status}{detail}"
        return Result(x=np.zeros((n1, n2)), status=status, message=detail,
                      wall_time=wall, info=dict(method="nuclear_norm_cvxpy",
                                                cvxpy_status=prob.status))
    W = np.asarray(X.value, dtype=np.float64) * y_scale / a_scale
    # the objective's value scaled back: ||W||_* ~ s / a, the penalized one ~ s^2
    value = math.nan if prob.value is None else float(prob.value)
    fun = value * (y_scale / a_scale if lam is None else y_scale * y_scale)
    return Result(x=W, status=status, n_iter=int(prob.solver_stats.num_iters or 0),
                  fun=fun, wall_time=wall,
                  message=f"CVXPY {prob.status} ({prob.solver_stats.solver_name}){detail}",
                  info=dict(method="nuclear_norm_cvxpy", lam=lam, cvxpy_status=prob.status,
                            solver=prob.solver_stats.solver_name,
                            relative_residual=_rel_residual(problem, W)))


def svt(W: np.ndarray, tau: float) -> tuple[np.ndarray, int]:
    """Singular value soft-thresholding ``prox_{tau ||.||_*}(W)``; returns (matrix, rank).

    Parameters
    ----------
    W : ndarray of shape (n1, n2)
        The matrix (finite; real or complex; float32/complex64 are kept, other dtypes
        computed in float64).
    tau : float
        Threshold subtracted from every singular value, >= 0 (ValueError otherwise).

    Returns
    -------
    matrix : ndarray of shape (n1, n2)
        ``U max(S - tau, 0) V^T``.
    rank : int
        Number of singular values above ``tau``.
    """
    # a negative tau would inflate every singular value, NaN would blank the matrix
    tau = check_positive(tau, "tau", allow_zero=True)
    # NaN/inf failed in LAPACK ("SVD did not converge"), 1-D input in NumPy, float16 and
    # strings with NumPy type errors, and a stack of matrices (3-D) was thresholded
    # matrix by matrix with U[:, :k] slicing the wrong axis (a wrong result, no error)
    arr = np.asarray(W)
    single = arr.dtype in (np.float32, np.complex64)
    if arr.size == 0 and arr.ndim == 2:                     # nothing to threshold
        return arr.astype(arr.dtype if single or np.iscomplexobj(arr) else np.float64), 0
    W = check_finite_array(arr, "W", ndim=2)
    if single:
        W = W.astype(arr.dtype, copy=False)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    s = np.maximum(s - tau, 0.0)
    k = int(np.count_nonzero(s))
    return (U[:, :k] * s[:k]) @ Vt[:k], k


def nuclear_norm_prox(
    problem: Problem,
    *,
    lam: float | None = None,
    lam_min_ratio: float = 1e-7,
    continuation: float = 0.5,
    max_iter: int = 20_000,
    tol: float = 1e-9,
) -> Result:
    """Nuclear-norm minimization by accelerated proximal gradient (FISTA) with singular
    value thresholding, our own solver for sizes beyond CVXPY's reach.

    ``lam > 0``: ``min 0.5 ||A(W) - y||^2 + lam ||W||_*`` (step ``1/||A||^2``, FISTA with
    adaptive restart). ``lam=None``: the equality-constrained problem ``min ||W||_* s.t.
    A(W) = y`` approached by continuation, ``lam`` decreasing geometrically by
    ``continuation`` from ``||A^*(y)||_2`` (where 0 is optimal) down to
    ``lam_min_ratio * ||A^*(y)||_2``, each stage warm-started (Toh & Yun).

    Parameters
    ----------
    problem : Problem
        A matrix problem (any operator with ``rmatvec``; matrix-free allowed). Complex
        measurements (e.g. Fourier rank-one, or complex ``y`` for a real operator) give a
        complex ``W``; a real operator is then applied to real and imaginary parts.
    lam : float, optional
    lam_min_ratio : float
        Final penalty relative to ``||A^*(y)||_2`` in the constrained mode, in (0, 1).
    continuation : float
        Factor in (0, 1) between continuation stages.
    max_iter : int
        Total proximal steps over all stages.
    tol : float
        A stage ends when ``||W_k - W_{k-1}||_F <= tol * max(1, ||W_k||_F)`` for the
        problem as solved, ``A / ||A||_2`` and ``y / max|y|`` (``W`` scaled by
        ``||A||_2 / max|y|``): the result is equivariant, ``y -> c y`` (with
        ``lam -> c lam``) gives ``W -> c W``, and ``A -> c A`` (with ``lam -> c lam``)
        gives ``W -> W / c``.

    Returns
    -------
    Result
        ``x`` the matrix, ``fun`` the nuclear norm (constrained mode) or the objective,
        ``info["rank"]``, ``info["lam"]`` (the penalty of the last step: below the final
        one's when ``max_iter`` stopped the continuation early),
        ``info["relative_residual"]``.
    """
    problem, (n1, n2) = _problem(problem)
    op = problem.A
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    c = check_positive(continuation, "continuation")
    if c >= 1:
        raise ValueError(f"continuation must be in (0, 1), got {c}")
    if lam is not None:
        lam = check_positive(lam, "lam")
    y = _data(problem)
    cplx = np.iscomplexobj(y) or _complex_op(op)          # then W is complex too
    # Solved for A' = A / ||A||_2 and y' = y / max|y| (W = W' max|y| / ||A||_2, lam' =
    # lam / (||A||_2 max|y|)): the stopping test's floor max(1, ||W||) is absolute, so for
    # max|y| ~ 1e-8 or 1e-200 every stage "converged" after one step (0.26 from the
    # answer), and for 1e200 ||W||_F overflowed to inf, with the same effect.
    a_scale = max_abs_divisor(float(op.norm2))
    y_scale = max_abs_divisor(y)
    y = y / y_scale
    # A = 0 (norm2 = 0) raised a bare ZeroDivisionError; every step is then W = 0 (the
    # gradient vanishes), the penalized problem's minimizer, so any step size will do
    t_step = 1.0 / (op.norm2 / a_scale) ** 2 if op.norm2 > 0 else 1.0

    def fwd(Z):
        return op.matvec(Z.reshape(-1)) / a_scale

    def adj(r):
        return op.rmatvec(r).reshape(n1, n2) / a_scale

    lam_max = float(np.linalg.norm(adj(y), 2))
    if lam is None:
        ratio = check_positive(lam_min_ratio, "lam_min_ratio")
        if ratio >= 1:
            # the last stage would sit at or above lam_max, where W = 0 is optimal: it was
            # reported as a converged constrained solution with relative residual 1
            raise ValueError(f"lam_min_ratio must be in (0, 1), got {lam_min_ratio}")
        final = ratio * lam_max
        stages = []
        cur = lam_max * c
        while cur > final:
            stages.append(cur)
            cur *= c
        stages.append(final)
    else:
        stages = [lam / a_scale / y_scale]
    t0 = time.perf_counter()
    W = np.zeros((n1, n2), dtype=np.complex128 if cplx else np.float64)
    it, rank, converged = 0, 0, False
    lam_at = stages[0]  # the penalty of the last step taken: the problem W belongs to

    def grad(Z):
        return adj(fwd(Z) - y)

    def objective(Z, lm):
        r = fwd(Z) - y
        return 0.5 * _sqnorm(r) + lm * float(np.linalg.svd(Z, compute_uv=False).sum())

    for si, lm in enumerate(stages):
        Z, tk, Wprev = W.copy(), 1.0, W.copy()
        last = si == len(stages) - 1
        stage_tol = tol if last else max(tol, 1e-6)
        converged = False
        while it < max_iter:
            it += 1
            W, rank = svt(Z - t_step * grad(Z), t_step * lm)
            lam_at = lm
            diff = W - Wprev
            if float(np.linalg.norm(diff)) <= stage_tol * max(1.0, float(np.linalg.norm(W))):
                converged = True
                break
            # adaptive restart (O'Donoghue & Candes) when the momentum points uphill
            if float(np.sum(np.conj(Z - W) * diff).real) > 0:   # Re <Z - W, diff>
                tk = 1.0
            tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
            Z = W + ((tk - 1.0) / tn) * diff
            tk, Wprev = tn, W
        if it >= max_iter and not converged:
            break
    wall = time.perf_counter() - t0
    status = Status.CONVERGED if converged and lm == stages[-1] else Status.MAX_ITER
    # back to the units of A and y (one factor at a time: the products may overflow)
    if lam is None:
        fun = float(np.linalg.svd(W, compute_uv=False).sum()) * y_scale / a_scale
    else:
        fun = objective(W, stages[-1]) * y_scale * y_scale
    W = W * y_scale / a_scale
    return Result(x=W, status=status, n_iter=it, fun=fun, wall_time=wall,
                  info=dict(method="nuclear_norm_prox",
                            lam=float(lam_at) * a_scale * y_scale, rank=rank,
                            constrained=lam is None, stages=len(stages),
                            relative_residual=_rel_residual(problem, W)))


def min_norm_least_squares(problem: Problem, *, tol: float = 1e-12,
                           max_iter: int | None = None) -> Result:
    """Minimum-Frobenius-norm least-squares solution ``argmin ||W||_F`` over the
    minimizers of ``||A(W) - y||``: the limit of depth-1 gradient descent from 0.

    Closed forms for estimation (``Y``) and completion (observed entries, zeros
    elsewhere); a stored sensing operator by ``numpy.linalg.lstsq``; a matrix-free one by
    LSQR from 0 (which converges to the minimum-norm solution), with ``atol = btol = tol``
    and ``iter_lim = max_iter`` (default ``10 min(m, n)``), for ``y / max|y|`` and ``A``
    divided by its scale (``W`` scaled back). Complex measurements give a complex ``W``
    (for a real matrix-free operator, LSQR solves for ``Re y`` and ``Im y`` separately;
    ``n_iter`` counts both).

    Parameters
    ----------
    problem : Problem
        A matrix problem (estimation, completion or sensing; see
        :func:`~overparam.problems.matrix_shape_of`).
    tol : float, optional
        LSQR's ``atol`` and ``btol``, > 0 (default 1e-12; matrix-free operators only).
    max_iter : int, optional
        LSQR's iteration limit, >= 1 (default ``10 min(m, n)``; matrix-free operators
        only).

    Returns
    -------
    Result
        ``x`` the matrix, ``status`` (``converged``; for LSQR ``max_iter`` when it stopped
        at ``iter_lim`` and ``stagnated`` when it stopped on its condition-number limit,
        its stop code in ``info["lsqr_istop"]``), ``fun = 0.5 ||A(W) - y||^2``,
        ``info["relative_residual"]``.
    """
    problem, (n1, n2) = _problem(problem)
    tol = check_positive(tol, "tol")
    if max_iter is not None:
        max_iter = check_int(max_iter, "max_iter", minimum=1)
    op = problem.A
    y = _data(problem)
    t0 = time.perf_counter()
    n_iter = 0
    status = Status.CONVERGED
    info: dict[str, Any] = dict(method="min_norm_least_squares")
    if isinstance(op, MatrixIdentity):
        W = y.reshape(n1, n2).copy()
        how = "closed form"
    elif isinstance(op, EntryMask):
        W = op.rmatvec(y).reshape(n1, n2)
        how = "closed form (zero fill)"
    elif op.is_dense:
        W = np.linalg.lstsq(op.to_dense(), y, rcond=None)[0].reshape(n1, n2)
        how = "numpy.linalg.lstsq"
    else:
        # LSQR squares norms: with max|y| ~ 1e-200 it returned W = 0 after 0 steps, at
        # 1e200 NaN, both "converged"; and A ~ 1e-200 does the same. The solution is
        # linear in y and W -> W / c for A -> c A: solve for y / max|y| and A / its scale.
        y_scale = max_abs_divisor(y)
        a_scale = max_abs_divisor(operator_gain(op))
        lin = op.as_linear_operator()
        scaled = spla.LinearOperator(lin.shape, dtype=lin.dtype,
                                     matvec=lambda v: lin.matvec(v) / a_scale,
                                     rmatvec=lambda v: lin.rmatvec(v) / a_scale)
        cap = max_iter or 10 * min(op.shape)
        stops: list[int] = []

        def lsqr(rhs):
            out = spla.lsqr(scaled, rhs / y_scale, atol=tol, btol=tol, iter_lim=cap)
            stops.append(int(out[1]))
            return np.asarray(out[0]) * y_scale / a_scale, int(out[2])

        if np.iscomplexobj(y) and not _complex_op(op):
            # a real operator: the minimum-norm solution is linear in y, solve for Re and Im
            (wr, kr), (wi, ki) = lsqr(y.real), lsqr(y.imag)
            w, n_iter = wr + 1j * wi, kr + ki
        else:
            w, n_iter = lsqr(y)
        W = w.reshape(n1, n2)
        how = "LSQR"
        info["lsqr_istop"] = max(stops)
        # istop 7: iteration limit; 3 and 6: the condition estimate passed conlim
        if 7 in stops:
            status = Status.MAX_ITER
        elif 3 in stops or 6 in stops:
            status = Status.STAGNATED
    wall = time.perf_counter() - t0
    nr = safe_norm(op.matvec(W.reshape(-1)) - y)
    with np.errstate(over="ignore"):  # 0.5 ||r||^2 may exceed the float range
        fun = 0.5 * float(nr) * float(nr)
    info["relative_residual"] = _rel_residual(problem, W)
    detail = f"minimum-norm least squares ({how})"
    if status is not Status.CONVERGED:
        detail = f"{status.advice} (LSQR stop code {info['lsqr_istop']}, {n_iter} iterations)"
    return Result(x=W, status=status, n_iter=n_iter, fun=fun, wall_time=wall,
                  message=detail, info=info)


def _vec(res: Result) -> Result:
    res.x = np.asarray(res.x).reshape(-1)
    return res


def nuclear_norm_cvxpy_vec(problem: Problem, **kwargs: Any) -> Result:
    """:func:`nuclear_norm_cvxpy` with ``x = vec(W)`` (for the method registry)."""
    return _vec(nuclear_norm_cvxpy(problem, **kwargs))


def nuclear_norm_prox_vec(problem: Problem, **kwargs: Any) -> Result:
    """:func:`nuclear_norm_prox` with ``x = vec(W)`` (for the method registry)."""
    return _vec(nuclear_norm_prox(problem, **kwargs))


def min_norm_least_squares_vec(problem: Problem, **kwargs: Any) -> Result:
    """:func:`min_norm_least_squares` with ``x = vec(W)`` (for the method registry)."""
    return _vec(min_norm_least_squares(problem, **kwargs))
