"""Basis pursuit: the minimal-l1 interpolant, by linear programming (HiGHS) or SPGL1."""
from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg

from .._core import Result, Status, check_bool, check_int, check_positive, pow2_exponent
from ._common import (column_scales, matrix_of, max_abs_divisor, nonneg_farkas,
                      operator_gain, pow2_divisor, setup)
from .projected_gradient import certificate

Method = Literal["highs", "highs-ds", "highs-ipm", "spgl1"]
METHODS = ("highs", "highs-ds", "highs-ipm", "spgl1")

# scipy.optimize.linprog status codes
_LINPROG_STATUS = {
    0: Status.CONVERGED,
    1: Status.MAX_ITER,
    2: Status.INFEASIBLE,
    3: Status.NUMERICAL_ERROR,  # unbounded: impossible for an l1 objective
    4: Status.NUMERICAL_ERROR,
}

# spgl1 exit codes (spgl1.spgl1.EXIT_*)
_SPGL1_STATUS = {
    1: Status.CONVERGED,  # root of the Pareto curve found (residual ~ 0)
    2: Status.CONVERGED,  # BP solution, residual below bp_tol * ||y||
    3: Status.INFEASIBLE,  # least-squares solution with a nonzero residual
    4: Status.CONVERGED,  # optimal for a fixed tau (not used by BP)
    5: Status.MAX_ITER,
    6: Status.NUMERICAL_ERROR,  # line search failed
    7: Status.STAGNATED,  # suboptimal BP solution
    8: Status.MAX_ITER,  # matrix-vector product limit
    9: Status.STAGNATED,  # active set unchanged
}

_SPGL1_MESSAGE = {
    1: "found a root of the Pareto curve",
    2: "found a basis pursuit solution",
    3: "found a least-squares solution",
    4: "optimal for the given tau",
    5: "too many iterations",
    6: "line search error",
    7: "found a suboptimal basis pursuit solution",
    8: "too many matrix-vector products",
    9: "active set unchanged",
}

#: the largest iteration cap HiGHS accepts (a C int); larger ones act as this one
_MAX_ITER = 2**31 - 1
#: the largest iteration cap for SPGL1, whose histories are allocated up front (240 MB)
_SPGL1_MAX_ITER = 10**7

#: relative NNLS KKT residual under which SPGL1's least-squares exit (nonneg) is believed
_NNLS_KKT_TOL = 1e-6

_SPGL1_HINT = (
    "method='spgl1' needs the optional dependency spgl1: "
    "pip install overparam[spgl1]  (or: pip install spgl1)"
)


def basis_pursuit(
    A: Any,
    y: Any = None,
    *,
    nonneg: bool = False,
    method: Method = "highs",
    tol: float | None = None,
    max_iter: int | None = None,
    options: dict[str, Any] | None = None,
) -> Result:
    r"""Solve basis pursuit, :math:`\min \|x\|_1` subject to :math:`Ax = y`.

    With ``nonneg=True`` the problem is :math:`\min 1^T x` subject to :math:`Ax = y,\
    x \ge 0`. This is the limit of the Hadamard gradient flow as ``init_scale -> 0``,
    and the reference answer of sparse-recovery experiments.

    Parameters
    ----------
    A : array of shape (m, n), sparse matrix, Operator, LinearOperator or Problem
        Measurement operator, or a Problem (then ``y`` is omitted). The HiGHS methods
        need the matrix: a SciPy sparse matrix is used as it is, other operators are
        materialised (a ``ValueError`` is raised above 5e7 entries; use
        ``method="spgl1"``, which is matrix-free, for those).
    y : array of shape (m,)
        Measurements.
    nonneg : bool, default False
        Add the constraint ``x >= 0``.
    method : {"highs", "highs-ds", "highs-ipm", "spgl1"}, default "highs"
        ``"highs"`` lets HiGHS choose between its dual simplex (``"highs-ds"``) and its
        interior-point method with crossover (``"highs-ipm"``), via
        ``scipy.optimize.linprog``. The signed problem is posed as the LP over
        ``[x; t]``: minimize ``sum(t)`` subject to ``A x = y`` and ``-t <= x <= t``; the
        non-negative one directly as minimize ``sum(x)``, ``A x = y``, ``x >= 0``.
        ``"spgl1"`` uses SPGL1's ``spg_bp`` (root finding on the Pareto curve; optional
        dependency, ``pip install overparam[spgl1]``), with the non-negative l1 gauge
        for ``nonneg=True``. SPGL1 is a first-order method: above the phase transition
        it is about ``tol``-accurate, but near it, or on small ill-conditioned problems,
        its Newton updates of the l1 radius can overshoot and it stops at a feasible
        point whose l1 norm exceeds the minimum by up to ~1e-3 to 1e-2 (relative). With
        ``nonneg=True`` it often stops early at an infeasible point that is not a
        non-negative least-squares solution (its least-squares test ignores
        complementarity); that is reported as ``stagnated``, not ``infeasible``. Use
        HiGHS where an exact reference matters.
    tol : float, optional
        HiGHS: primal and dual feasibility tolerance (default 1e-9, HiGHS's smallest
        admissible value is 1e-10), relative to ``max|y|``: the LP is solved with each
        row of ``A`` and its ``y_i`` divided by a power of two near the row's
        ``max|a_ij|``, then for ``A / max|A|`` and ``y / max|y|``, and ``x`` scaled
        back, so ``y -> c y`` gives ``x -> c x``, ``A -> c A`` gives ``x -> x / c`` and
        scaling a row of ``(A, y)`` changes nothing. SPGL1: ``bp_tol``,
        ``opt_tol`` and ``ls_tol`` (default 1e-8), i.e. it stops when
        ``||Ax - y|| <= tol * ||y||`` (solved for
        ``y / max|y|`` when ``max|y|`` is outside ``[1, 1e6]``, where SPGL1's own tests
        turn absolute or its line search fails, and for ``A / max|A|`` when ``max|A|``
        is outside ``[0.1, 10]``; for an operator ``||Av|| / ||v||`` with a fixed random
        ``v`` stands for ``max|A|``).
    max_iter : int, optional
        Iteration cap (HiGHS: simplex/IPM iterations, default HiGHS's own; SPGL1:
        ``iter_lim``, default ``max(10 m, 1000)``, at most ``10**7``: SPGL1 allocates
        its iteration history in advance. HiGHS: values above ``2**31 - 1`` act as
        ``2**31 - 1``). Status ``max_iter`` when reached.
    options : dict, optional
        Extra solver options, passed on as they are: HiGHS options of
        ``scipy.optimize.linprog`` (e.g. ``{"presolve": False, "time_limit": 10}``) or
        keyword arguments of ``spgl1.spg_bp`` (e.g. ``{"dec_tol": 1e-6}``).

    Returns
    -------
    Result
        ``x`` (``NaN`` everywhere when the solver returns no point, e.g. for an
        infeasible problem), ``status`` (``converged``; ``infeasible`` when no ``x``
        (no ``x >= 0`` with ``nonneg``) solves ``Ax = y``; ``max_iter``;
        ``stagnated`` (SPGL1 stopped short, see ``method``); ``numerical_error``),
        ``fun = ||x||_1``, ``n_iter``, ``wall_time`` and
        ``info`` with ``method``, ``relative_residual = ||Ax - y|| / ||y||``, the
        solver's own status and message and, for HiGHS, ``dual``: a vector ``w`` with
        ``||A^T w||_inf <= 1`` (``A^T w <= 1`` with ``nonneg``) and ``<y, w> = ||x||_1``,
        which certifies optimality (``res.eqlin.marginals``); for SPGL1 with ``nonneg``
        and its least-squares exit, ``nnls_kkt_rel = ||min(x, A^T (Ax - y))|| /
        ||A^T y||`` (infeasible only when it is at most 1e-6 and ``r = Ax - y`` certifies
        that no ``z >= 0`` of moderate l1 norm solves ``Az = y``: ``A^T r >= 0`` up to a
        small negative part, ``<y, r> < 0``).

    Raises
    ------
    ValueError
        Shape mismatch, NaN/inf in ``A`` or ``y``, an empty system, an unknown method,
        or an operator too large to materialise for HiGHS.
    TypeError
        A complex ``A`` or ``y``; a ``nonneg`` that is not a bool (e.g. ``"false"``);
        ``options`` that are not a dict.
    ImportError
        ``method="spgl1"`` without the ``spgl1`` package.

    See Also
    --------
    overparam.baselines.lasso : the penalized (noisy) variant.
    overparam.baselines.nnls : non-negative least squares.

    References
    ----------
    S. S. Chen, D. L. Donoho, M. A. Saunders, "Atomic decomposition by basis pursuit",
    SIAM J. Sci. Comput. 20(1), 1998.
    E. van den Berg, M. P. Friedlander, "Probing the Pareto frontier for basis pursuit
    solutions", SIAM J. Sci. Comput. 31(2), 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from overparam.baselines import basis_pursuit
    >>> A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    >>> res = basis_pursuit(A, np.array([1.0, 1.0]))
    >>> res.status.value, (np.round(res.x, 6) + 0.0).tolist(), round(res.fun, 6)
    ('converged', [0.0, 0.0, 1.0], 1.0)
    >>> bool(np.all(np.abs(A.T @ res.info["dual"]) <= 1 + 1e-9))
    True
    """
    problem = setup(A, y)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if max_iter is not None:
        # HiGHS takes a C int (2**31 and up: a bare TypeError from its options binding)
        max_iter = min(check_int(max_iter, "max_iter", minimum=1), _MAX_ITER)
    nonneg = check_bool(nonneg, "nonneg")  # bool("false") is True: a silent x >= 0
    if options is not None and not isinstance(options, Mapping):
        # (dict("presolve") raised "dictionary update sequence element #0 has length 1")
        raise TypeError(f"options must be a dict of solver options, got "
                        f"{type(options).__name__}")
    if method == "spgl1":
        tol = 1e-8 if tol is None else check_positive(tol, "tol")
        return _bp_spgl1(problem, nonneg, tol, max_iter, dict(options or {}))
    tol = 1e-9 if tol is None else check_positive(tol, "tol")
    if tol < 1e-10:
        raise ValueError(f"tol must be >= 1e-10 for HiGHS (its smallest feasibility "
                         f"tolerance), got {tol}")
    return _bp_highs(problem, nonneg, method, tol, max_iter, dict(options or {}))


def _bp_highs(problem, nonneg: bool, method: str, tol: float, max_iter: int | None,
              extra: dict[str, Any]) -> Result:
    M = matrix_of(problem, who=f"basis_pursuit(method={method!r})", sparse_ok=True,
                  alternative="use method='spgl1' (matrix-free)")
    # HiGHS's tolerances are absolute: with max|y| ~ 1e-12, x = 0 already satisfies
    # ``|Ax - y| <= tol`` and is returned as "optimal"; with max|A| ~ 1e-12 the solution is
    # ~1e12 and HiGHS declares the problem infeasible. The LP is homogeneous: for
    # A' = A / a, y' = y / s, its solution is x = x' s / a and its dual w = w' / a. So
    # solve it with max|A'| = max|y'| = 1 and scale back. Likewise for each row: rows
    # (with their y_i) spanning 1e-7..1e7 left the small rows violated by up to 0.8
    # ||y|| (relative, in the unscaled system) at "optimal", so every row of A and y is
    # first divided by 2^e_i ~ its max|a_ij| (exact; the dual is w = 2^-e w').
    M, y, row_e = _equilibrate_rows(M, problem.y)
    y_scale = max_abs_divisor(y)
    a_scale = max_abs_divisor(M.data if scipy.sparse.issparse(M) else M)
    M = M / a_scale
    y = y / y_scale
    m, n = problem.shape
    options: dict[str, Any] = {
        "primal_feasibility_tolerance": tol,
        "dual_feasibility_tolerance": tol,
    }
    if max_iter is not None:
        options["maxiter"] = max_iter
    options.update(extra)
    start = time.perf_counter()
    if nonneg:
        res = scipy.optimize.linprog(
            np.ones(n), A_eq=M, b_eq=y, bounds=(0, None), method=method, options=options
        )
        x = None if res.x is None else np.maximum(res.x, 0.0)  # clip IPM round-off
    else:
        # variables [x; t]: minimize sum(t) s.t. A x = y, x - t <= 0, -x - t <= 0
        eye = scipy.sparse.identity(n, format="csr")
        A_eq = scipy.sparse.hstack([scipy.sparse.csr_array(M),
                                    scipy.sparse.csr_array((m, n))], format="csr")
        A_ub = scipy.sparse.vstack([scipy.sparse.hstack([eye, -eye]),
                                    scipy.sparse.hstack([-eye, -eye])], format="csr")
        c = np.concatenate([np.zeros(n), np.ones(n)])
        bounds = [(None, None)] * n + [(0, None)] * n
        res = scipy.optimize.linprog(
            c, A_ub=A_ub, b_ub=np.zeros(2 * n), A_eq=A_eq, b_eq=y, bounds=bounds,
            method=method, options=options,
        )
        x = None if res.x is None else res.x[:n]
    wall = time.perf_counter() - start
    status = _LINPROG_STATUS.get(int(res.status), Status.NUMERICAL_ERROR)
    info: dict[str, Any] = dict(method=f"basis_pursuit/{method}", nonneg=nonneg,
                                solver_status=int(res.status), solver_message=res.message)
    if x is None:
        x = np.full(n, np.nan)
    else:
        x = np.asarray(x, dtype=np.float64) * (y_scale / a_scale)
        eqlin = getattr(res, "eqlin", None)
        if eqlin is not None and getattr(eqlin, "marginals", None) is not None:
            with np.errstate(over="ignore"):  # (rows of ~1e-300: a dual beyond the floats)
                info["dual"] = np.ldexp(
                    np.asarray(eqlin.marginals, dtype=np.float64) / a_scale, -row_e)
    return _finish(problem, x, status, f"HiGHS: {res.message}", int(getattr(res, "nit", 0)),
                   wall, info)


def _equilibrate_rows(M: Any, y: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    """``(M', y', e)``: row ``i`` of ``M`` (dense or SciPy sparse) and ``y_i`` divided by
    ``2^e_i``, the power of two near the row's ``max|a_ij|`` (``e_i = 0`` for a zero row).

    The equality constraints are unchanged (exact, away from under- and overflow), but
    HiGHS's absolute feasibility tolerance then weighs every row alike. Where some
    ``y_i / 2^e_i`` overflows (a row of ~1e-300 against ``y_i ~ 1e10``: any solution has
    entries beyond ~1e308 / n) the rows are left as they are (``e = 0``).
    """
    m = M.shape[0]
    if scipy.sparse.issparse(M):
        M = scipy.sparse.csr_array(M, dtype=np.float64, copy=True)  # (data rescaled below)
        rows = np.repeat(np.arange(m), np.diff(M.indptr))
        top = np.zeros(m)
        np.maximum.at(top, rows, np.abs(M.data))
    else:
        top = np.max(np.abs(M), axis=1, initial=0.0)
    e = pow2_exponent(top)
    with np.errstate(over="ignore"):
        ys = np.ldexp(y, -e)
    if not np.all(np.isfinite(ys)):
        return M, np.asarray(y, dtype=np.float64), np.zeros(m, dtype=np.int64)
    if scipy.sparse.issparse(M):
        M.data = np.ldexp(M.data, -e[rows])
    else:
        M = np.ldexp(M, -e[:, None])
    return M, ys, e


def _bp_spgl1(problem, nonneg: bool, tol: float, max_iter: int | None,
              extra: dict[str, Any]) -> Result:
    try:
        import spgl1
    except ImportError as err:  # pragma: no cover - exercised by monkeypatching
        raise ImportError(_SPGL1_HINT) from err
    op = problem.A
    # Its tests are not scale-free in A either: with max|A| ~ 1e-4 or 1e8 (the same
    # problem, x scaled by 1/c) it stopped at x = 0 as "infeasible" or ran out of
    # iterations. x -> x / c for A -> c A: outside [0.1, 10] (measured by max|A|, or for
    # an operator by ||Av|| / ||v|| for a fixed random v: one product, where ||A||_2 costs
    # a Lanczos run that fails at such scales) solve for A / that and scale back.
    if op.is_dense:
        M = op.to_dense()
        a_top = float(np.abs(M).max())
    else:
        M = op.as_linear_operator()
        a_top = operator_gain(op)
    a_scale = pow2_divisor(a_top, 0.1, 10.0)
    if a_scale != 1.0:
        M = M / a_scale if op.is_dense else _scaled_operator(M, a_scale)
    m, n = problem.shape
    kwargs: dict[str, Any] = dict(
        bp_tol=tol, opt_tol=tol, ls_tol=tol, verbosity=0,
        iter_lim=max_iter if max_iter is not None else max(10 * m, 1000),
    )
    if nonneg:
        kwargs.update(project=spgl1.norm_l1nn_project, primal_norm=spgl1.norm_l1nn_primal,
                      dual_norm=spgl1.norm_l1nn_dual)
    kwargs.update(extra)
    if int(kwargs["iter_lim"]) > _SPGL1_MAX_ITER:
        # its histories are allocated up front (3 x 8 bytes per iteration): 2**31
        # iterations asked for 48 GB, 10**12 for 24 TB
        raise ValueError(f"max_iter={kwargs['iter_lim']} is more than method='spgl1' can "
                         f"take: SPGL1 allocates its iteration history in advance (24 bytes "
                         f"per iteration); use max_iter <= {_SPGL1_MAX_ITER}")
    _avoid_spgl1_history_overflow(int(kwargs["iter_lim"]))
    start = time.perf_counter()
    # SPGL1's stopping tests are relative only where its norms are >= 1 (``max(1, .)``):
    # for max|y| < 1 they turn absolute (x = 0 "converged" at 1e-12, ~1e-4 relative error
    # at 1e-4), and its line search fails for max|y| ~ 1e8 and up. x is homogeneous in y,
    # so outside [1, 1e6] solve for y / max|y| and scale back.
    top = max_abs_divisor(problem.y)
    y_scale = top if (top < 1.0 or top > 1e6) else 1.0
    x, _r, _g, out = spgl1.spg_bp(M, np.array(problem.y) / y_scale, **kwargs)
    wall = time.perf_counter() - start
    stat = int(out["stat"])
    status = _SPGL1_STATUS.get(stat, Status.NUMERICAL_ERROR)
    x = np.asarray(x, dtype=np.float64).reshape(-1) * y_scale / a_scale
    info = dict(method="basis_pursuit/spgl1", nonneg=nonneg, solver_status=stat,
                solver_message=_SPGL1_MESSAGE.get(stat, "unknown exit code"),
                rgap=float(out.get("rgap", np.nan)),
                tau=float(out.get("tau", np.nan)) * y_scale / a_scale)
    if nonneg:
        x = np.maximum(x, 0.0)  # the gauge's projection keeps x >= 0; guard round-off
        if status is Status.INFEASIBLE:
            status = _check_nonneg_infeasible(problem, x, info)
    return _finish(problem, x, status, f"SPGL1 exit code {stat}", int(out.get("niters", 0)),
                   wall, info)


def _scaled_operator(L: scipy.sparse.linalg.LinearOperator,
                     a: float) -> scipy.sparse.linalg.LinearOperator:
    """``L / a`` as a LinearOperator (divided, not multiplied by ``1 / a``, which
    overflows for a subnormal ``a``)."""
    return scipy.sparse.linalg.LinearOperator(
        L.shape, matvec=lambda v: L.matvec(v) / a, rmatvec=lambda v: L.rmatvec(v) / a,
        dtype=np.float64)


def _check_nonneg_infeasible(problem, x: np.ndarray, info: dict[str, Any]) -> Status:
    """INFEASIBLE if ``x`` is a non-negative least-squares point, else STAGNATED.

    SPGL1's least-squares exit tests only ``dual_norm(A^T r) <= ls_tol ||r||``. With the
    signed gauge that means ``A^T r = 0``, a least-squares point. With the non-negative
    gauge the dual norm is ``max(A^T r)_+``, which is ~0 at any ``x`` where ``A^T r <= 0``,
    stationary for NNLS or not: on small feasible problems SPGL1 stops there with a
    residual of 1e-3 to 0.3 and exit code 3, in about a third of them. So the
    complementarity half of the NNLS optimality conditions is checked here, scale-free
    (the column-scaled ``kkt_rel`` of :func:`.projected_gradient.certificate`): only
    ``kkt_rel <= 1e-6`` (then no ``x >= 0`` does better, and the residual stays) is
    reported as infeasible. The unscaled ``||min(x, g)|| / ||A^T y||`` it replaced
    compared ``x`` (units ``y / A``) with ``g`` (units ``A y``): it scored the same
    non-stationary point 6e-13 (passed) with ``A`` scaled by 1e4 and 0.15 with ``A``
    scaled by 1e-4, where ``kkt_rel`` is 1.8e-4 for both.

    That test alone also passes at points that nearly solve ``Ax = y`` (residual ~1e-7,
    so ``g`` is tiny too): 5 of 1200 small feasible problems were called infeasible. So
    ``r = Ax - y`` must also be a Farkas certificate (:func:`._common.nonneg_farkas`).
    """
    cert = certificate(problem.A, problem.y, x, column_scales(problem.A))
    info["nnls_kkt_rel"] = cert["kkt_rel"]
    if not cert["kkt_rel"] <= _NNLS_KKT_TOL:
        return Status.STAGNATED
    return Status.INFEASIBLE if nonneg_farkas(problem, x) else Status.STAGNATED


def _avoid_spgl1_history_overflow(iter_lim: int) -> None:
    # spgl1 0.0.3 keeps per-iteration histories in arrays grown by blocks of
    # ``_allocSize`` = 10000 entries, one entry too short: a run that reaches an
    # iter_lim >= 10000 dies with an IndexError. A block at least iter_lim + 1 long
    # means the arrays are allocated once at their final size (the setting only grows).
    mod = sys.modules.get("spgl1.spgl1")
    size = getattr(mod, "_allocSize", None)
    if isinstance(size, int) and iter_lim >= size:
        mod._allocSize = iter_lim + 1


def _finish(problem, x, status, detail, n_iter, wall, info) -> Result:
    if np.all(np.isfinite(x)):
        # norms of r / max|y| and y / max|y|: plain norms square entries (inf at 1e170)
        s = max_abs_divisor(problem.y)
        nr = float(np.linalg.norm(problem.residual(x) / s))
        ny = float(np.linalg.norm(problem.y / s))
        info["relative_residual"] = nr / ny if ny > 0 else nr
        fun = float(np.abs(x).sum())
    else:
        info["relative_residual"] = float("nan")
        fun = float("nan")
    return Result(x=x, status=status, message=f"{status.advice} ({detail})", n_iter=n_iter,
                  fun=fun, wall_time=wall, info=info)
