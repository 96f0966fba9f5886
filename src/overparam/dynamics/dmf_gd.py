"""Gradient descent on a deep matrix factorization ``W = W_N ... W_1`` (through the driver).

References
----------
H.-H. Chou, C. Gieshoff, J. Maly, H. Rauhut, "Gradient descent for deep matrix
factorization: dynamics and implicit bias towards low rank", ACHA 68:101595, 2024
(arXiv:2011.13772).
J. Wang, H.-H. Chou, "Implicit regularization in perturbed deep matrix factorization:
spectral conditions and stability", arXiv:2605.28613, 2026.
S. Arora, N. Cohen, W. Hu, Y. Luo, "Implicit regularization in deep matrix factorization",
NeurIPS 2019 (arXiv:1905.13655).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._core import (Result, Status, check_bool, check_finite_array, check_int,
                     check_matrix_shape, check_not_complex, x64_entry)
from ..metrics.rank import RANK_MEASURES, rank_plateaus, rank_trace, select_plateau
from ..models.dmf import DeepMatrixFactorization, check_seed
from ..problems import Operator, Problem
from ..problems.matrix import MatrixIdentity, matrix_shape_of
from .driver import (_Y_SCALE, make_config, run_driver, run_driver_batch, run_in_chunks,
                     shares_operator, to_result)
from .steps import as_policy, require_parameter_space

MetricMap = Mapping[str, Callable[[Any], Any]]
TOP_SV_FIELDS = 8


@dataclass(frozen=True)
class _SingularValues:
    """Singular values of the end-to-end matrix (a vector-valued trace metric)."""

    shape: tuple[int, int]

    def __call__(self, x):
        return jnp.linalg.svd(x.reshape(self.shape), compute_uv=False)


@dataclass(frozen=True)
class _RelErrorToTruth:
    """``||W - W*||_F / ||W*||_F`` with the truth passed as metric data (no recompile per
    problem, batchable)."""

    takes_data = True

    def __call__(self, x, data):
        truth, tnorm = data
        err = jnp.linalg.norm(x - truth)
        # a zero truth: 0 when W = 0, else inf (NaN stays NaN), as metrics.relative_error
        zero_ref = jnp.where(err == 0, 0.0, jnp.where(jnp.isnan(err), jnp.nan, jnp.inf))
        return jnp.where(tnorm > 0, err / jnp.where(tnorm > 0, tnorm, 1.0), zero_ref)


def _as_matrix_problem(problem: Any, y: Any, shape: Any) -> Problem:
    if isinstance(problem, Problem):
        if y is not None:
            raise TypeError("pass either a Problem or (operator, y), not both")
        check_not_complex(problem.y, "y")
        if shape is None:
            matrix_shape_of(problem, shape_arg=True)
        return problem
    if isinstance(problem, Operator):
        if y is None:
            raise TypeError("y is required when the first argument is an operator")
        problem = Problem(problem, y)
        check_not_complex(problem.y, "y")
        return problem
    if y is not None:
        raise TypeError("a matrix is observed fully: do not pass y with it")
    Y = check_finite_array(problem, "Y", ndim=2)
    check_not_complex(Y, "Y")
    return Problem(MatrixIdentity(*Y.shape), Y.reshape(-1), info=dict(
        matrix_shape=tuple(Y.shape)))


def _shape(problem: Problem, shape: Any) -> tuple[int, int]:
    if shape is not None:
        n1, n2 = check_matrix_shape(shape)
        if n1 * n2 != problem.n:
            raise ValueError(f"shape {(n1, n2)} has {n1 * n2} entries but the operator acts "
                             f"on {problem.n}")
        own = getattr(problem.A, "matrix_shape", None)
        if own is not None and tuple(own) != (n1, n2):
            raise ValueError(f"shape {(n1, n2)} differs from the operator's {tuple(own)}")
        return n1, n2
    return matrix_shape_of(problem, shape_arg=True)


def _as_mapping(value: Any, name: str) -> dict:
    """``value`` (a mapping, or pairs) as a dict; anything else a TypeError naming the
    parameter (a string failed with dict()'s "dictionary update sequence element #0 has
    length 1; 2 is required")."""
    if value is None:
        return {}
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__} {value!r}")
    try:
        return dict(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a mapping, got {type(value).__name__}") from None


def _metric_tuple(shape, truth_available: bool, metrics: MetricMap | None,
                  spectrum: bool = True) -> tuple:
    out = _as_mapping(metrics, "metrics")
    if spectrum:
        # _finish writes these from the singular values: a metric of the same name was
        # recorded and then silently replaced in the trace. "sv" too: setdefault kept the
        # user's metric under that name and _finish then failed after the full run with
        # NumPy's "too many indices for array"
        taken = sorted(set(out) & (set(RANK_MEASURES) | {"sv"}
                                   | {f"sv{i + 1}" for i in range(TOP_SV_FIELDS)}))
        if taken:
            raise ValueError(f"metric name(s) {taken} are filled in from the singular "
                             "values (spectrum=True): rename the metric(s)")
        out.setdefault("sv", _SingularValues(shape))
    if truth_available:
        out.setdefault("rel_error", _RelErrorToTruth())
    return tuple(sorted(out.items()))


def _truth_data(problem: Problem):
    xt = np.asarray(problem.x_true, dtype=np.float64)
    return (jnp.asarray(xt), jnp.float64(np.linalg.norm(xt)))


def _finish(res: Result, model: DeepMatrixFactorization, spectrum: bool = True) -> Result:
    # only the recorded spectrum: with spectrum=False a user metric named "sv" (a free
    # name then) was taken for it and failed with "too many indices for array"
    if spectrum and res.trace is not None and "sv" in res.trace:
        sv = np.asarray(res.trace["sv"])
        res.trace.update(rank_trace(sv))
        # the top singular values also as 1-D fields (long-format stores keep 1-D fields)
        for i in range(min(TOP_SV_FIELDS, sv.shape[-1])):
            res.trace[f"sv{i + 1}"] = sv[:, i].copy()
    params = res.info.get("params", {})
    res.info["factors"] = [params[f"W{j}"] for j in range(1, model.depth + 1)
                           if f"W{j}" in params]
    res.x = np.asarray(res.x).reshape(model.shape)
    return res


def _model(shape, depth, widths, init, init_scale, scale, balanced, seed):
    # widths go to the model unconverted: it rejects non-integers (int() would truncate)
    if widths is not None:
        widths = (widths,) if np.ndim(widths) == 0 else tuple(widths)
    # a 0-d array is one scale (tuple() of it raised "iteration over a 0-d array")
    if isinstance(init_scale, (list, tuple, np.ndarray)) and np.ndim(init_scale) > 0:
        init_scale = tuple(init_scale)
    return DeepMatrixFactorization(
        shape=shape, depth=depth, widths=widths, init_kind=init, init_scale=init_scale,
        scale=scale, balanced=balanced, seed=seed)


def _check_start(model: DeepMatrixFactorization, params0: dict) -> None:
    """Refuse an initialization whose end-to-end matrix leaves the float64 range of the
    loss. (``init_scale=1e60`` at depth 3 gave ``W(0) ~ 1e180``, an infinite loss and
    status DIVERGED after 0 iterations with "use a smaller step or step='auto'" and "the
    returned x is the last finite iterate" -- x held inf and NaN.)"""
    W0 = np.asarray(model.matrix(params0))
    top = float(np.max(np.abs(W0))) if np.all(np.isfinite(W0)) else np.inf
    if top > _Y_SCALE[1]:
        raise ValueError(
            f"init_scale={model.init_scale!r} (scale={model.scale!r}, depth "
            f"{model.depth}) starts the end-to-end matrix at magnitude {top:.1e}: the "
            f"squared loss overflows in float64 (supported up to {_Y_SCALE[1]:.0e}); use a "
            "smaller init_scale")


def _policy(step: Any, depth: int) -> Any:
    """The step policy, refusing ``"x"`` / ``"mirror"`` coordinates (also of a wrapped
    ``base`` policy): they map each entry of a factor as a non-negative Hadamard factor
    (``p**L``, ``log p``), which matrix factors are not. As policy objects they ran
    another algorithm silently (mirror steps clamp every entry to >= 1e-150); as strings
    (``"auto@x"``) the parser asked for a depth that ``dmf_gd`` had been given."""
    policy = as_policy(step, depth=depth, match_depth=False)
    require_parameter_space(policy, "dmf_gd", "the factors")
    return policy


_WHERE = ("start", "middle", "end")
_SELECT_KEYS = ("max_level", "min_loss_drop")
_PLATEAU_KEYS = ("measure", "atol", "rtol", "min_decades", "min_points")


def _plateau_options(plateau: Mapping[str, Any] | None) -> tuple[str, dict, dict]:
    """``(where, rank_plateaus options, select_plateau options)``, checked before the run:
    a misspelt key or a bad value was reported only after the full run it needs."""
    opts = _as_mapping(plateau, "plateau")
    unknown = sorted(set(opts) - set(_PLATEAU_KEYS + _SELECT_KEYS + ("where",)), key=str)
    if unknown:
        raise TypeError(f"unknown plateau option(s) {unknown}; known: "
                        f"{', '.join(_PLATEAU_KEYS + _SELECT_KEYS)}, where")
    where = opts.pop("where", "middle")
    if where not in _WHERE:
        raise ValueError(f"where must be 'start', 'middle' or 'end', got {where!r}")
    sel = {k: opts.pop(k) for k in _SELECT_KEYS if k in opts}
    # the values, by the functions that take them (on an empty trace: no work)
    select_plateau(rank_plateaus(dict(iter=[], sv=np.zeros((0, 1))), **opts), {}, **sel)
    return where, opts, sel


@x64_entry
def dmf_gd(
    problem: Any,
    y: Any = None,
    *,
    shape: Sequence[int] | None = None,
    depth: int = 3,
    widths: Sequence[int] | None = None,
    init: str = "scaled_identity",
    init_scale: float | Sequence[float] = 1e-3,
    scale: str = "factor",
    balanced: bool = False,
    step: Any = "auto",
    max_iter: int = 20_000,
    tol: float = 1e-8,
    record: int | Sequence[int] | None = 64,
    metrics: MetricMap | None = None,
    early_stopping: bool = False,
    plateau: Mapping[str, Any] | None = None,
    seed: int = 0,
    spectrum: bool = True,
) -> Result:
    """Gradient descent on ``0.5 ||A(W_N ... W_1) - y||^2`` (deep matrix factorization).

    From a small start the iterates pass through phases of low effective rank: the
    singular directions of the target are fitted one after the other, in order of
    magnitude, the more sharply the deeper the factorization (Chou et al.); noise
    directions come last, after a low-rank interval whose length shrinks with the noise
    level (Wang & Chou). In completion and sensing the limit from a small start is a
    low-rank interpolant (Arora et al.).

    Parameters
    ----------
    problem : Problem, MatrixOperator, or 2-D array
        A problem from ``problems.matrix_estimation / matrix_sensing / matrix_completion``
        (or any Problem with ``shape``), an operator on ``vec(W)`` with ``y``, or a fully
        observed matrix ``Y`` (estimation). Real data only (complex ``y`` or ``Y``:
        TypeError).
    y : array, optional
        Measurements, when ``problem`` is an operator.
    shape : (int, int), optional
        ``(n1, n2)`` when the operator does not carry it.
    depth : int
        N >= 1 factors (1: plain gradient descent on W from the initialization).
    widths : sequence of int, optional
        Hidden widths (default ``min(n1, n2)``).
    init : {"scaled_identity", "orthogonal", "gaussian"}
        Initialization (see :class:`~overparam.models.DeepMatrixFactorization`).
    init_scale : float or sequence of float
        alpha (per factor, or one per factor for an unbalanced start). A start whose
        end-to-end matrix exceeds 1e140 in magnitude (the loss would overflow) is a
        ValueError.
    scale : {"factor", "end_to_end"}
        Whether ``init_scale`` is each factor's scale (``W_j(0) = alpha I``, Chou et al.)
        or the product's (Arora et al.'s convention).
    balanced : bool
        Balanced Gaussian start (``init="gaussian"`` only).
    step : "auto", float or step policy
        ``"auto"``: a fraction of 2 / (a Hessian bound from the factors' norms),
        re-evaluated every step (large while the factors are small); a float: constant
        step (the oracle of Chou et al.'s recursion); or a policy object. Policies step
        in the factors (space ``"u"``); ``"@x"`` / ``"@mirror"`` are refused (they are
        coordinates of Hadamard factors).
    max_iter : int
        Iteration cap.
    tol : float
        Stop when ``||A(W) - y|| <= tol ||y||``. With noise the run should rather end
        by ``max_iter`` or by ``early_stopping``.
    record : int or sequence of int
        Number of log-spaced record points, or the iterations to record at (with
        ``early_stopping`` iteration 0 is always recorded: the rule compares losses
        with the initial one).
    metrics : mapping, optional
        Extra JAX functions of ``vec(W)`` recorded in the trace. With ``spectrum`` their
        names may not be those of the effective ranks or ``sv1`` ... ``sv8`` (ValueError):
        these are computed from the singular values.
    early_stopping : bool
        Run to ``max_iter`` (or the tolerance), find the plateaus of effective rank in the
        trace (:func:`overparam.metrics.rank.rank_plateaus`), pick the low-rank one
        (:func:`~overparam.metrics.rank.select_plateau`) and return the iterate at its
        geometric middle (a deterministic re-run to that iteration). No truth is used.
    plateau : mapping, optional
        Options: ``measure``, ``atol``, ``rtol``, ``min_decades``, ``min_points`` (for
        ``rank_plateaus``), ``max_level``, ``min_loss_drop`` (for ``select_plateau``) and
        ``where`` (``"start"``, ``"middle"``, ``"end"``).
    seed : int
        Seed of random initializations, in ``[0, 2**63)``.
    spectrum : bool
        Record the singular values (an SVD per record point) and the effective ranks.
        ``False`` for timing runs; early stopping needs them.

    Returns
    -------
    Result
        ``x`` is the end-to-end matrix ``W`` (shape ``(n1, n2)``);
        ``info["factors"]`` the factors ``[W_1, ..., W_N]``. The trace holds ``iter``,
        ``loss``, ``residual`` (relative), ``step``, ``sv`` (singular values, one row per
        record), ``erank`` (Roy-Vetterli), ``erank_energy``, ``stable_rank``,
        ``nuclear_rank``, ``sv1`` ... ``sv8`` (the top singular values as 1-D fields) and,
        when the truth is known, ``rel_error`` = ``||W - W*||_F / ||W*||_F`` (for ``W* = 0``:
        0 if ``W = 0``, else inf, as :func:`overparam.metrics.relative_error`). With
        ``early_stopping``, ``info["early_stopping"]`` says which interval was picked and
        ``status`` is ``early_stopped`` (the rule's stopping point was reached) or, when no
        plateau qualified, the full run's status.

    References
    ----------
    H.-H. Chou, C. Gieshoff, J. Maly, H. Rauhut, ACHA 68:101595, 2024.
    J. Wang, H.-H. Chou, arXiv:2605.28613, 2026.
    S. Arora, N. Cohen, W. Hu, Y. Luo, NeurIPS 2019.

    Examples
    --------
    >>> import overparam
    >>> from overparam.dynamics import dmf_gd
    >>> p = overparam.problems.matrix_estimation(30, 30, 3, spectrum="linear",
    ...                                          condition=2.0, seed=0)
    >>> res = dmf_gd(p, depth=3, init_scale=1e-2, max_iter=3000)
    >>> res.x.shape, bool(res.trace["rel_error"][-1] < 1e-4)
    ((30, 30), True)
    """
    # any truthy value (e.g. the string "no") turned early stopping / the spectrum on
    early_stopping = check_bool(early_stopping, "early_stopping")
    spectrum = check_bool(spectrum, "spectrum")
    problem = _as_matrix_problem(problem, y, shape)
    mshape = _shape(problem, shape)
    model = _model(mshape, depth, widths, init, init_scale, scale, balanced, seed)
    policy = _policy(step, model.depth)
    cfg = make_config(max_iter, tol, record)
    has_truth = problem.x_true is not None
    if early_stopping:
        if not spectrum:
            raise ValueError("early_stopping needs the singular values: keep spectrum=True")
        where, opts, sel = _plateau_options(plateau)
        if cfg.record_iters[0] != 0:
            # select_plateau measures the escape from the trace's first loss: a record
            # list without 0 made a later loss the "initial" one, and the low-rank
            # plateau could be dropped as if it were still the initial phase
            cfg = make_config(max_iter, tol, (0,) + tuple(cfg.record_iters))
    mt = _metric_tuple(mshape, has_truth, metrics, spectrum)
    mdata = _truth_data(problem) if has_truth else None
    info = dict(method="dmf_gd", depth=model.depth, init=model.init_kind,
                init_scale=model.init_scale, scale=model.scale, widths=model.widths,
                matrix_shape=mshape)
    params0 = model.init(None, problem.n)
    _check_start(model, params0)
    loop_model = model.loop_model()
    out, names, wall = run_driver(loop_model, policy, problem.A, problem.y, cfg, metrics=mt,
                                  params0=params0, metric_data=mdata)
    res = _finish(to_result(out, names, wall, info), model, spectrum)
    if not early_stopping:
        return res
    plats = rank_plateaus(res.trace, **opts)
    chosen = select_plateau(plats, res.trace, **sel)
    es = dict(plateaus=[p.as_dict() for p in plats], full_trace=res.trace,
              full_n_iter=res.n_iter, full_status=res.status.value)
    if chosen is None:
        res.info["early_stopping"] = dict(es, interval=None, stop_iter=None, level=None)
        res.message = ("early stopping found no low-rank plateau in the trace; returning "
                       "the full run. " + res.message)
        return res
    stop = max(1, min(chosen.stop_iteration(where), res.n_iter))
    rec = [int(i) for i in res.trace["iter"] if 0 <= i <= stop]
    cfg2 = make_config(stop, 0.0, rec)
    out2, names2, wall2 = run_driver(loop_model, policy, problem.A, problem.y, cfg2,
                                     metrics=mt, params0=params0, metric_data=mdata)
    res2 = _finish(to_result(out2, names2, wall2, info), model, spectrum)
    res2.wall_time = wall + wall2
    res2.info["early_stopping"] = dict(es, interval=(chosen.start, chosen.end),
                                       stop_iter=stop, level=chosen.level)
    if res2.n_iter == stop and res2.status in (Status.MAX_ITER, Status.CONVERGED):
        res2.status = Status.EARLY_STOPPED
        res2.message = (f"early stopping: effective-rank plateau at level "
                        f"{chosen.level:.2f} over iterations [{chosen.start}, {chosen.end}]; "
                        f"stopped at iteration {stop}")
    return res2


@x64_entry
def dmf_gd_batch(
    problems: Sequence[Any],
    *,
    shape: Sequence[int] | None = None,
    depth: int = 3,
    widths: Sequence[int] | None = None,
    init: str = "scaled_identity",
    init_scale: float | Sequence[float] = 1e-3,
    scale: str = "factor",
    balanced: bool = False,
    step: Any = "auto",
    max_iter: int = 20_000,
    tol: float = 1e-8,
    record: int | Sequence[int] | None = 64,
    seeds: Sequence[int] | None = None,
    early_stopping: bool = False,
    plateau: Mapping[str, Any] | None = None,
    spectrum: bool = True,
    chunk: int | None = None,
    workers: int | None = None,
) -> list[Result]:
    """:func:`dmf_gd` on many matrix problems of one kind and size at once.

    The problems must share the matrix shape and operator type (estimation; completion
    with the same number of observed entries; dense sensing of one size). ``seeds`` gives
    each trial its own random initialization (default: seed 0 for all). Trials run in
    chunks of ``chunk`` on ``workers`` threads (default one per core; see
    :func:`~overparam.dynamics.driver.run_in_chunks`): a chunk of one trial runs the
    single-problem program, a larger chunk one ``jax.vmap``-ped program. The default
    ``chunk`` is 1 (a step is matrix products, and XLA's small batched products run well
    below its rate on one product at a time), or all trials when they share one operator
    (its products with the batch then become matrix-matrix products). Returns one Result
    per problem; ``wall_time`` is its chunk's time divided by the chunk's size. With
    ``early_stopping`` every problem runs :func:`dmf_gd` on its own (each picks its own
    stopping point), on the same threads.

    Parameters
    ----------
    problems : sequence of Problem or 2-D array
        Problems or fully observed matrices (as the first argument of :func:`dmf_gd`),
        of one matrix shape (ValueError otherwise, except with ``early_stopping``).
    shape : (int, int), optional
        ``(n1, n2)`` for problems whose operator does not carry it.
    depth, widths, init, init_scale, scale, balanced, step, max_iter, tol, record
        As in :func:`dmf_gd`, shared by all trials.
    seeds : sequence of int, optional
        Initialization seeds in ``[0, 2**63)``, one per problem (default: 0 for all;
        a list of another length: ValueError).
    early_stopping : bool, optional
        Run :func:`dmf_gd` with ``early_stopping=True`` on each problem on its own.
    plateau : mapping, optional
        Early-stopping options, as in :func:`dmf_gd`.
    spectrum : bool, optional
        Record the singular values and effective ranks (default True; ``early_stopping``
        needs them: False is refused with it, as by :func:`dmf_gd`).
    chunk : int, optional
        Trials per chunk, >= 1 (default: 1, or all trials when they share one operator).
    workers : int, optional
        Number of threads running the chunks (default: one per core).

    Returns
    -------
    list of Result
        One Result per problem, in order (empty for no problems), as from :func:`dmf_gd`;
        ``wall_time`` is its chunk's time divided by the chunk's size.

    Raises
    ------
    ValueError
        When the problems do not share one matrix shape, or ``seeds`` has the wrong
        length.
    """
    early_stopping = check_bool(early_stopping, "early_stopping")
    spectrum = check_bool(spectrum, "spectrum")
    if seeds is not None and (isinstance(seeds, (str, bytes))
                              or not isinstance(seeds, Iterable)
                              or (isinstance(seeds, np.ndarray) and seeds.ndim == 0)):
        # seeds=3 failed with Python's "'int' object is not iterable"
        raise TypeError(f"seeds must be a sequence of ints (one per problem), got "
                        f"{type(seeds).__name__} {seeds!r}")
    problems = [_as_matrix_problem(p, None, shape) for p in problems]
    if not problems:
        # the settings are still checked: depth=-1 (or a misspelt init) returned [] here
        # and failed only once a caller passed problems
        _model(shape if shape is not None else (1, 1), depth, widths, init, init_scale,
               scale, balanced, 0)
        _policy(step, check_int(depth, "depth", minimum=1))
        make_config(max_iter, tol, record)
        if chunk is not None:
            check_int(chunk, "chunk", minimum=1)
        if early_stopping:
            _plateau_options(plateau)
        for s in seeds or ():
            check_seed(s)
        return []
    # validated once for both paths: early stopping ran dmf_gd per trial, where a short
    # list failed with a bare IndexError and extra seeds were ignored
    seeds = [0] * len(problems) if seeds is None else [check_seed(s) for s in seeds]
    if len(seeds) != len(problems):
        raise ValueError(f"{len(seeds)} seeds for {len(problems)} problems")
    if early_stopping:

        def run_one(idx: list[int]) -> list[Result]:
            return [dmf_gd(problems[i], shape=shape, depth=depth, widths=widths, init=init,
                           init_scale=init_scale, scale=scale, balanced=balanced, step=step,
                           max_iter=max_iter, tol=tol, record=record, early_stopping=True,
                           plateau=plateau, spectrum=spectrum, seed=seeds[i]) for i in idx]

        return run_in_chunks(range(len(problems)), run_one, per_chunk=1, workers=workers)
    shapes = {_shape(p, shape) for p in problems}
    if len(shapes) != 1:
        raise ValueError(f"batched problems must share one matrix shape, got {sorted(shapes)}")
    mshape = shapes.pop()
    if chunk is None:
        chunk = len(problems) if shares_operator([p.A for p in problems]) else 1
    chunk = check_int(chunk, "chunk", minimum=1)
    model = _model(mshape, depth, widths, init, init_scale, scale, balanced, seeds[0])
    loop_model = model.loop_model()
    policy = _policy(step, model.depth)
    cfg = make_config(max_iter, tol, record)
    has_truth = all(p.x_true is not None for p in problems)
    mt = _metric_tuple(mshape, has_truth, None, spectrum)
    n = problems[0].n
    inits = [model.init(jax.random.PRNGKey(s), n) for s in seeds]
    for p0 in inits:
        _check_start(model, p0)
    info = dict(method="dmf_gd", depth=model.depth, init=model.init_kind,
                init_scale=model.init_scale, scale=model.scale, widths=model.widths,
                matrix_shape=mshape)

    def run_chunk(idx: list[int]) -> list[Result]:
        part = [problems[i] for i in idx]
        cinfo = dict(info, batched=len(part))
        if len(part) == 1:  # the single-problem program (no batch axis)
            p = part[0]
            out, names, wall = run_driver(
                loop_model, policy, p.A, p.y, cfg, metrics=mt, params0=inits[idx[0]],
                metric_data=_truth_data(p) if has_truth else None)
            return [_finish(to_result(out, names, wall, cinfo), model, spectrum)]
        mdata = None
        if has_truth:
            parts = [_truth_data(p) for p in part]
            mdata = (jnp.stack([a for a, _ in parts]), jnp.stack([b for _, b in parts]))
        params0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *[inits[i] for i in idx])
        out, names, wall = run_driver_batch(loop_model, policy, [p.A for p in part],
                                            [p.y for p in part], cfg, metrics=mt,
                                            params0=params0, metric_data=mdata)
        return [_finish(to_result(jax.tree_util.tree_map(lambda v: v[b], out), names,
                                  wall / len(part), cinfo), model, spectrum)
                for b in range(len(part))]

    return run_in_chunks(range(len(problems)), run_chunk, per_chunk=chunk, workers=workers)


def _vec(res: Result) -> Result:
    res.x = np.asarray(res.x).reshape(-1)
    return res


def dmf_gd_vec(problem: Any, **kwargs: Any) -> Result:
    """:func:`dmf_gd` with ``x = vec(W)`` (row-major), for callers that compare ``x`` with
    ``problem.x_true`` (the method registry and its metrics)."""
    return _vec(dmf_gd(problem, **kwargs))


def dmf_gd_batch_vec(problems: Sequence[Problem], **kwargs: Any) -> list[Result]:
    """:func:`dmf_gd_batch` with ``x = vec(W)`` in every Result."""
    return [_vec(r) for r in dmf_gd_batch(problems, **kwargs)]
