"""Gradient descent on the deep Hadamard factorization (the simulated dynamics)."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

from .._core import Result, Status, check_int, check_not_complex, safe_norm, x64_entry
from ..models import Hadamard
from ..problems import Problem, as_problem
from .driver import (make_config, stackable_operators, run_driver, run_driver_batch, run_in_chunks,
                     shares_operator, to_result)
from .steps import as_policy

MetricMap = Mapping[str, Callable[[Any], Any]]


def _rel_error(x, x_true):
    """``||x - x_true|| / ||x_true||`` (the truth travels as data: no recompilation per
    problem); as :func:`overparam.metrics.relative_error` for ``x_true = 0``: 0 at
    ``x = 0``, else inf (a floor of 1e-300 on the denominator gave finite values ~1e299).
    Both norms in units of ``max|x_true|``: ``||x_true||`` of a truth ~1e-170 underflowed."""
    import jax.numpy as jnp

    top = jnp.max(jnp.abs(x_true))
    unit = jnp.where(top > 0, top, 1.0)
    num = jnp.linalg.norm((x - x_true) / unit)
    den = jnp.linalg.norm(x_true / unit)
    return jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0),
                     jnp.where(num > 0, jnp.inf, 0.0))


_rel_error.takes_data = True  # type: ignore[attr-defined]


def _metrics(problem: Problem, metrics: MetricMap | None) -> tuple:
    out = dict(metrics or {})
    if problem.x_true is not None and "rel_error" not in out:
        out["rel_error"] = _rel_error
    return tuple(sorted(out.items()))


def _model(depth: int, nonneg: bool, init_scale: float) -> Hadamard:
    model = Hadamard(depth=depth, nonneg=nonneg, init_scale=init_scale)
    if model.nonneg and model.depth == 1:
        # x = u has no sign constraint: the run was a signed fit reported as non-negative
        raise ValueError("nonneg=True needs depth >= 2: at depth 1 x = u is plain gradient "
                         "descent with no sign constraint (for non-negative least squares "
                         "see overparam.nnls)")
    return model


def _check_start(model: Hadamard, problems: Sequence[Problem]) -> None:
    """Refuse an init scale whose start float64 cannot hold: ``u(0)^L = a^L`` beyond the
    float64 range (x(0) was inf or NaN, reported as diverged after 0 iterations with
    "the last finite iterate" and "use step='auto'"), or, non-negative, a start
    ``x(0) = a^L`` whose loss overflows (the same report)."""
    L, a = model.depth, model.init_scale
    check_power_start(L, a)
    if not model.nonneg:
        return  # x(0) = u^L - v^L = 0
    for p in problems:
        with np.errstate(over="ignore", invalid="ignore"):
            x0 = float(np.float64(a) ** L)  # (a Python float power raises OverflowError)
            rn = safe_norm(np.asarray(p.A.matvec(np.full(p.n, x0))) - np.asarray(p.y))
            loss = 0.5 * rn * rn
        if not np.isfinite(loss):
            raise ValueError(f"init_scale = {a:.3g} is too large for depth {L} in float64: "
                             f"the loss at x(0) = init_scale^{L} = {x0:.3g} overflows")


def check_power_start(L: int, a: float) -> None:
    """Refuse factors ``u(0) = a`` of a depth-``L`` power parametrization (Hadamard,
    weight-normalized) whose start float64 cannot hold: ``a^L`` overflows, or ``a^(L-1)``
    underflows to 0 (then every gradient ``L u^(L-1) g`` is 0 and x never leaves its
    start: a run of max_iter steps, or "stagnated"). Below float64's normal range counts
    as 0: XLA on CPU flushes subnormals (depth 3 at 1e-160, u^2 = 1e-320, had a zero
    gradient and stagnated)."""
    if L * math.log(a) >= math.log(np.finfo(np.float64).max):
        raise ValueError(f"init_scale = {a:.3g} is too large for depth {L} in float64: "
                         f"u(0)^{L} = init_scale^{L} overflows")
    log_tiny = math.log(np.finfo(np.float64).tiny)
    if L >= 2 and (L - 1) * math.log(a) < log_tiny:
        raise ValueError(f"init_scale = {a:.3g} is too small for depth {L} in float64: "
                         f"u(0)^{L - 1} = init_scale^{L - 1} underflows to 0, so the "
                         f"gradient is 0; use init_scale >= "
                         f"{math.exp(log_tiny / (L - 1)) * (1 + 1e-12):.3g}")


@x64_entry
def hadamard_gd(
    A: Any,
    y: Any = None,
    *,
    depth: int = 2,
    init_scale: float = 1e-3,
    nonneg: bool = False,
    step: Any = "auto",
    max_iter: int = 100_000,
    tol: float = 1e-6,
    record: int | Sequence[int] | None = 64,
    metrics: MetricMap | None = None,
) -> Result:
    """Gradient descent on ``0.5 * ||A x - y||^2`` with ``x = u^L - v^L`` (or ``u^L``).

    Started small (``u(0) = v(0) = init_scale``), the iterates approach the minimal-l1
    interpolant (non-negative model: the non-negative least-squares solution, or the
    sparsest non-negative one when it is not unique); see ``hadamard_limit`` for the exact
    limit of the underlying gradient flow.

    Parameters
    ----------
    A : array of shape (m, n), Operator, LinearOperator or Problem
        Measurement operator (or a Problem, then ``y`` is omitted).
    y : array of shape (m,)
        Measurements.
    depth : int
        L >= 1 (1 is plain gradient descent on x).
    init_scale : float
        alpha > 0, the initial value of every factor entry (``ValueError`` where float64
        cannot hold the start: ``alpha^L`` or, non-negative, the loss at ``alpha^L``
        overflows).
    nonneg : bool
        Non-negative model ``x = u^L`` (depth >= 2; ``ValueError`` at depth 1, where
        ``x = u`` has no sign constraint).
    step : "auto", float, str or step policy
        ``"auto"`` (default): a stable step from ||A||_2 and the current iterate,
        re-evaluated each iteration; a float: a constant step; a policy string such as
        ``"nesterov@mirror"`` or ``"bb:short@x"`` (see ``steps.as_policy``); or a policy
        object from ``overparam.dynamics.steps`` (e.g. ``Decaying(eta, gamma)``).
    max_iter : int
        Iteration cap (status ``max_iter`` when reached).
    tol : float
        Stop when ``||A x - y|| <= tol * ||y||`` (``||A x|| <= tol`` when ``y = 0``: the
        trace's ``residual`` is then absolute).
    record : int or sequence of int
        Number of log-spaced record points, or the iterations to record at.
    metrics : mapping of name to callable
        Extra JAX-traceable functions of x recorded in the trace (``rel_error`` to the
        truth is added when ``A`` is a Problem with ``x_true``).

    Returns
    -------
    Result
        ``x``, ``status`` (converged, max_iter, stagnated or diverged), ``n_iter``,
        ``fun`` (the final loss) and ``trace`` with ``iter``, ``loss``, ``residual``
        (relative), ``l1``, ``step`` and the extra metrics; ``info["params"]`` holds the
        factors.

    References
    ----------
    H.-H. Chou, J. Maly, H. Rauhut, "More is Less: Inducing Sparsity via
    Overparameterization", Information and Inference 12(3), 2023.

    Examples
    --------
    >>> import numpy as np
    >>> import overparam
    >>> p = overparam.problems.sparse_recovery(100, 50, 4, seed=0)
    >>> res = overparam.hadamard_gd(p, depth=2, init_scale=1e-3, tol=1e-3)
    >>> res.success
    True

    Near the limit, plain gradient descent converges slowly: the curvature along the
    small coordinates is ~ their size, 1e-4 here, so ``tol=1e-6`` is not reached in 2e6
    steps. Momentum in mirror coordinates has the same limit (see
    :mod:`overparam.dynamics.steps`) and gets there in about 13000 steps:

    >>> fast = overparam.hadamard_gd(p, depth=2, init_scale=1e-3, tol=1e-6,
    ...                              step="nesterov@mirror")
    >>> fast.success
    True
    >>> lim = overparam.hadamard_limit(p, depth=2, init_scale=1e-3)
    >>> bool(np.linalg.norm(fast.x - lim.x) < 1e-4 * np.linalg.norm(lim.x))
    True
    """
    problem = as_problem(A, y)
    check_not_complex(problem.y, "y")  # else a JAX VJP error about complex128
    model = _model(depth, nonneg, init_scale)
    _check_start(model, [problem])
    policy = as_policy(step, depth=model.depth)
    cfg = make_config(max_iter, tol, record)
    out, names, wall = run_driver(model, policy, problem.A, problem.y, cfg,
                                  metrics=_metrics(problem, metrics),
                                  metric_data=problem.x_true)
    res = to_result(out, names, wall, dict(method="hadamard_gd", depth=model.depth,
                                           init_scale=model.init_scale, nonneg=nonneg))
    # (diverged too: at u, v ~ 1e110 one rounding unit of u^2 is an x whose loss overflows)
    if res.status in (Status.STAGNATED, Status.DIVERGED) and not nonneg:
        res.message += _precision_hint(problem, model.depth, model.init_scale, cfg.tol)
    if res.status is Status.STAGNATED:  # a tiny init, not the tolerance or y
        res.message += _underflow_hint(model.depth, model.init_scale)
        res.message += _stagnation_hint(problem, res, model.depth, nonneg, cfg.tol,
                                        float(out["best"]))
    return res


def _problem_list(problems: Any) -> list[Problem]:
    """``problems`` as a list of Problems, refusing a single Problem and items that are
    not Problems by name (``as_problem`` said "y is required when A is not a Problem" for
    an ``(A, y)`` pair, and a bare Problem failed as "object is not iterable")."""
    if isinstance(problems, Problem):
        raise TypeError("problems must be a sequence of Problems, got one Problem: pass "
                        "[problem], or use hadamard_gd")
    if isinstance(problems, (str, bytes, np.ndarray)) or not hasattr(problems, "__iter__"):
        raise TypeError("problems must be a sequence of Problems, got "
                        f"{type(problems).__name__}")
    problems = list(problems)
    for i, p in enumerate(problems):
        if not isinstance(p, Problem):
            raise TypeError(f"problems[{i}] is a {type(p).__name__}, not a Problem: build "
                            "it as overparam.problems.Problem(A, y)")
    return problems


def _underflow_hint(depth: int, a: float) -> str:
    """Why a run from a tiny init scale stops early: ``a^L`` below float64's normal range
    leaves x exactly 0 (or rounded to a few bits) while the factors grow, and factors that
    shrink underflow to 0 for good (measured at depth 2: init 1e-200 stagnated at relative
    residual 1 after 100 steps, where 1e-150 runs on)."""
    tiny = np.finfo(np.float64).tiny
    if depth < 2 or depth * math.log(a) >= math.log(tiny):
        return ""
    return (f" At init_scale {a:.3g}, init_scale^{depth} is below float64's normal range: "
            f"x (powers u^{depth} of the factors) stays exactly 0 or a few bits while the "
            "factors grow, and shrinking factors underflow to 0 for good; use init_scale >= "
            f"{math.exp(math.log(tiny) / depth):.3g} (the small-init limit is the same).")


def _stagnation_hint(problem: Problem, res: Result, depth: int, nonneg: bool, tol: float,
                     best: float) -> str:
    """Why a run stagnated far above its tolerance when it is neither the tolerance nor y
    (the advice blames those two):

    * the loss ended above its best: the iteration does not descend, the step is too
      large (measured: sparse_recovery(30, 15, 3, seed=1), depth 4, init_scale 0.5,
      step 1.0: the loss jumped between 0.03 and 0.2 and stagnated at residual 0.49; at
      depth 3 the same step also pinned 22 factors at the guard's 0, for good);
    * else, signed at depth >= 3 where the gradient in x, ``A^T (A x - y)``, is not
      small (x is not a least-squares point: not "y out of reach"): a saddle plateau,
      whose small coordinates grow algebraically (``u^-(L-2)`` falls linearly in time),
      too slowly for the loss or x to change measurably within the stagnation window;
      the gradient flow does the same (same problem, init_scale 1e-4: GD, Nesterov in
      mirror coordinates and the flow all stopped at residual 0.48, where the limit
      interpolates y).
    """
    residual, loss = res.info["relative_residual"], res.fun
    if not residual > max(10.0 * tol, 1e-6):
        return ""
    if loss > best * (1.0 + 1e-6):
        return (f" The loss ended at {loss:.3g}, above its best {best:.3g}: the iteration "
                "does not descend, its step (or momentum) is too large; use a smaller step "
                "or step='auto'.")
    if nonneg or depth < 3 or _precision_hint(problem, depth, res.info["init_scale"], tol):
        # (non-negative: y outside the cone is the usual reason; a large init_scale: the
        # precision floor, which _precision_hint names)
        return ""
    r = np.asarray(problem.A.matvec(res.x)) - np.asarray(problem.y)
    g = np.asarray(problem.A.rmatvec(r))
    if not np.max(np.abs(g), initial=0.0) > 1e-3 * problem.A.norm2 * safe_norm(r):
        return ""  # a least-squares point: y is out of reach (the advice says so)
    return (f" At depth {depth} the dynamics from a small init_scale cross saddle "
            "plateaus (the gradient flow too): the loss stays flat to rounding while small "
            "coordinates grow too slowly to register, so y may well be reachable; "
            "hadamard_limit gives the limit directly, and a larger init_scale shortens the "
            "plateaus.")


def _precision_hint(problem: Problem, depth: int, a: float, tol: float) -> str:
    """Why a signed run at a large init scale stagnates: x = u^L - v^L with u, v ~ a
    holds x only to ~1e-16 a^L per coordinate (measured: a = 1e3, depth 2, stagnated at a
    relative residual ~1e-9; a = 1e6, depth 3, x was all rounding)."""
    ynorm = float(np.linalg.norm(problem.y))
    floor = 1e-16 * a**depth * problem.A.norm2 * np.sqrt(problem.n) / max(ynorm, 1e-300)
    if not floor > 0.1 * tol:
        return ""
    # (A x 1e150 against y ~ 1: a "residual below ~2e+129" read as nonsense; there the
    # rounding of x alone is beyond ||y|| and only a far smaller init_scale helps)
    reach = (f"a relative residual below ~{floor:.0e} is out of reach" if floor < 1 else
             f"its rounding alone moves A x by ~{floor:.0e} ||y||, so the residual cannot "
             "decrease")
    smaller = ("a smaller init_scale" if tol <= 0 else
               f"init_scale below ~{a * (0.1 * tol / floor) ** (1.0 / depth):.1e}")
    return (f" At init_scale {a:g}, float64 holds x = u^{depth} - v^{depth} only to "
            f"~1e-16 a^{depth} = {1e-16 * a**depth:.1e} per coordinate: {reach}; use "
            f"hadamard_limit (exact at any scale), {smaller} or a looser tol.")


@x64_entry
def hadamard_gd_batch(
    problems: Sequence[Problem],
    *,
    depth: int = 2,
    init_scale: float = 1e-3,
    nonneg: bool = False,
    step: Any = "auto",
    max_iter: int = 100_000,
    tol: float = 1e-6,
    record: int | Sequence[int] | None = 64,
    chunk_bytes: int = 2**20,
    workers: int | None = None,
) -> list[Result]:
    """``hadamard_gd`` on many problems of one shape at once (``jax.vmap`` over trials).

    All problems must have dense operators of the same shape, or share one operator (any
    operator, e.g. many measurement vectors of one sensing matrix: the trials then run
    together, their matrix-vector products fused into matrix-matrix products, several
    times the throughput of one-by-one runs). Trials with their own matrices run in chunks
    whose matrices total at most ``chunk_bytes`` (default 1 MiB, about one core's L2 cache):
    a step is two matrix-vector products, memory-bound, so batching pays while the chunk's
    matrices stay in cache and costs bandwidth beyond. Chunks run on ``workers`` threads
    (default: one per core; use 1 when several processes already share the cores).

    Parameters
    ----------
    problems : sequence of Problem
        The trials, all of one shape (``ValueError`` otherwise). Distinct matrix-free
        operators (e.g. two ``partial_dct``) run one trial per chunk.
    depth, init_scale, nonneg, step, max_iter, tol, record
        As in ``hadamard_gd``, shared by all trials.
    chunk_bytes : int, optional
        Bound on the total size of the matrices of one chunk, in bytes (default 1 MiB; at
        least 1, a chunk holds at least one trial); ignored when the problems share one
        operator (one chunk).
    workers : int, optional
        Number of threads running the chunks (default: one per core).

    Returns
    -------
    list of Result
        One Result per problem, in order (empty for no problems); ``wall_time`` is the
        chunk's time divided by its size. Traces hold the base fields and ``rel_error``
        when every problem has ``x_true``.

    Raises
    ------
    ValueError
        When the problems do not share one shape, or ``chunk_bytes < 1``.
    TypeError
        When ``problems`` is not a sequence of Problems (e.g. one Problem, or ``(A, y)``
        pairs).

    See Also
    --------
    hadamard_gd : one problem, with extra metrics.
    """
    chunk_bytes = check_int(chunk_bytes, "chunk_bytes", minimum=1)
    problems = _problem_list(problems)
    if not problems:
        return []
    for p in problems:
        check_not_complex(p.y, "y")
    model = _model(depth, nonneg, init_scale)
    _check_start(model, problems)
    policy = as_policy(step, depth=model.depth)
    cfg = make_config(max_iter, tol, record)
    with_truth = all(p.x_true is not None for p in problems)
    metrics = (("rel_error", _rel_error),) if with_truth else ()
    shapes = {p.shape for p in problems}
    if len(shapes) != 1:
        raise ValueError(f"batched problems must share one shape, got {sorted(shapes)}")
    m, n = problems[0].shape
    ops = [p.A for p in problems]
    # a shared operator is stored once: one chunk (the batch's vectors are small); distinct
    # matrix-free operators cannot be stacked: one trial per chunk (else the driver's
    # TypeError, or not, depending on how many cores split the batch)
    if shares_operator(ops):
        per_chunk = len(problems)
    elif stackable_operators(ops):
        per_chunk = max(1, chunk_bytes // (8 * m * n))
    else:
        per_chunk = 1
    info = dict(method="hadamard_gd", depth=model.depth, init_scale=model.init_scale,
                nonneg=nonneg)

    def run_chunk(chunk: list[Problem]) -> list[Result]:
        truth = np.stack([p.x_true for p in chunk]) if with_truth else None
        out, names, wall = run_driver_batch(model, policy, [p.A for p in chunk],
                                            [p.y for p in chunk], cfg, metrics=metrics,
                                            metric_data=truth)
        results = [to_result(jax.tree_util.tree_map(lambda v: v[b], out), names,
                             wall / len(chunk), dict(info, batched=len(chunk)))
                   for b in range(len(chunk))]
        if not nonneg:  # the float64 floor of a large scale, as hadamard_gd names it
            for p, res in zip(chunk, results):
                if res.status in (Status.STAGNATED, Status.DIVERGED):
                    res.message += _precision_hint(p, model.depth, model.init_scale, cfg.tol)
        for b, (p, res) in enumerate(zip(chunk, results)):  # as hadamard_gd names them
            if res.status is Status.STAGNATED:
                res.message += _underflow_hint(model.depth, model.init_scale)
                res.message += _stagnation_hint(p, res, model.depth, nonneg, cfg.tol,
                                                float(out["best"][b]))
        return results

    # chunks on threads (at least one chunk per worker): see driver.run_in_chunks
    return run_in_chunks(problems, run_chunk, per_chunk=per_chunk, workers=workers)
