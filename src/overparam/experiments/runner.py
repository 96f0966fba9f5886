"""Run one cell: generate its problems, run every method on them, measure, make rows.

``run_cell`` works on plain data (the spec dict and the cell) so any executor can ship it to
a worker. Methods that can batch run the trials of a cell together (``jax.vmap``), in chunks
bounded by ``experiment.batch_memory_mb``; a failure of one method on one problem becomes
an error row, never a crashed sweep.
"""
from __future__ import annotations

import json
import math
import time
import traceback
from typing import Any

import numpy as np

from .._core import Result
from .cells import Cell, method_seed, problem_seed
from .generators import get_generator
from .measures import compute_metrics
from .methods import get_method
from .spec import MethodConfig, Spec

__all__ = ["run_cell", "versions", "param_column", "RESERVED_COLUMNS", "chunk_sizes"]

RESERVED_COLUMNS = ("cell", "method", "label", "trial", "seed", "status", "success", "n_iter",
                    "fun", "wall_time", "error", "overparam_version", "jax_version")


def versions() -> dict[str, str]:
    """Library and JAX versions (stored in the manifest and in every row)."""
    import jax

    import overparam

    return {"overparam_version": overparam.__version__, "jax_version": jax.__version__}


def param_column(spec: Spec, name: str) -> str:
    """Column of a method parameter: its name, or ``method_<name>`` when that name is taken
    by a problem parameter, a metric or a reserved column.

    Parameters
    ----------
    spec : Spec
        The experiment spec (its problem axes and metrics).
    name : str
        Name of the method parameter.

    Returns
    -------
    str
        The column name in result rows.
    """
    taken = set(RESERVED_COLUMNS) | set(spec.problem_axes) | set(spec.experiment["metrics"])
    return f"method_{name}" if name in taken else name


def chunk_sizes(n_trials: int, bytes_per_trial: int, budget_bytes: float) -> list[int]:
    """Split ``n_trials`` into near-equal chunks each within the memory budget.

    Parameters
    ----------
    n_trials : int
        Number of trials to split; none (an empty list) when <= 0.
    bytes_per_trial : int
        Estimated memory of one trial, in bytes (values < 1 count as 1).
    budget_bytes : float
        Memory budget of one chunk, in bytes (may be ``inf``). A chunk holds at least
        one trial even when one trial exceeds the budget.

    Returns
    -------
    list of int
        Chunk sizes summing to ``n_trials``: equal sizes, the last one possibly smaller.
    """
    if n_trials <= 0:
        return []
    per = max(bytes_per_trial, 1)
    # a budget for all the trials is one chunk; tested first because the budget may be
    # inf (``batch_memory_mb`` near the float maximum times 2**20), and inf // per is nan
    cap = n_trials if budget_bytes >= n_trials * per else max(1, int(budget_bytes // per))
    n_chunks = math.ceil(n_trials / cap)
    size = math.ceil(n_trials / n_chunks)
    return [size] * (n_trials // size) + ([n_trials % size] if n_trials % size else [])


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


class _Configured:
    """One method configuration set up once per cell: its per-problem callable (or the
    exception configuring it raised) and, made on first use, its batched callable (made
    once, so that a jitted batch compiles once per cell, not once per chunk of trials)."""

    def __init__(self, cfg: MethodConfig) -> None:
        self.cfg = cfg
        self.entry = get_method(cfg.name)
        self.one: Any = None
        self.error: Exception | None = None
        self._batch: Any = False  # not made yet
        try:
            self.one = self.entry.configure(**cfg.params)
        except Exception as exc:  # noqa: BLE001 - recorded per row
            self.error = exc

    def batch(self) -> Any:
        if self._batch is False:
            try:
                self._batch = self.entry.configure_batch(**self.cfg.params)
            except Exception:  # noqa: BLE001 - e.g. the batched solver's module is
                self._batch = None  # missing: the trials run one by one
        return self._batch


def _run_method(cfg: MethodConfig | _Configured, problems: list, seeds: list[int],
                budget: float, batch_one: bool = False) -> list:
    """Results (or exceptions) of one method configuration on the trials' problems
    (``batch_one``: a single problem is a batch too, as it is in a chunk of a cell of
    several trials, which ran batched when all its problems were generated at once)."""
    conf = cfg if isinstance(cfg, _Configured) else _Configured(cfg)
    cfg, entry = conf.cfg, conf.entry
    mseeds = [method_seed(s, cfg.name, cfg.params) for s in seeds]
    out: list[Any] = [None] * len(problems)
    todo = [i for i, p in enumerate(problems) if not isinstance(p, BaseException)]
    for i, p in enumerate(problems):
        if isinstance(p, BaseException):
            out[i] = RuntimeError(f"problem generation failed: {_error(p)}")
    if conf.error is not None:
        return [conf.error if o is None else o for o in out]
    one = conf.one
    batch = None
    if entry.batchable and (len(todo) > 1 or (batch_one and todo)):
        dense = all(problems[i].A.is_dense for i in todo)
        shapes = {problems[i].shape for i in todo}
        if dense and len(shapes) == 1:
            batch = conf.batch()
    if batch is not None:
        m, n = problems[todo[0]].shape
        pos = 0
        for size in chunk_sizes(len(todo), _dense_bytes(m, n), budget):
            idx = todo[pos:pos + size]
            pos += size
            try:
                res = batch([problems[i] for i in idx], [mseeds[i] for i in idx])
                for i, r in zip(idx, res):
                    out[i] = r
            except Exception:  # noqa: BLE001 - isolate the failing trials one by one
                for i in idx:
                    out[i] = _safe(one, problems[i], mseeds[i])
    else:
        for i in todo:
            out[i] = _safe(one, problems[i], mseeds[i])
    return out


def _dense_bytes(m: int, n: int) -> int:
    """Memory of one trial of a batched solver on a dense m x n problem (the matrix and
    the solver's vectors)."""
    return 8 * (m * n + 8 * n + m)


def _problem_bytes(problem: Any) -> int:
    """Memory of one generated problem: for a dense operator that of a batched solver's
    trial (so the trial chunks of a cell are the batched solver's chunks), else the bytes
    of the arrays it holds (two levels of attributes deep)."""
    A = getattr(problem, "A", None)
    shape = getattr(problem, "shape", None)
    if getattr(A, "is_dense", False) and isinstance(shape, tuple) and len(shape) == 2:
        return _dense_bytes(*shape)

    def size(obj: Any, depth: int) -> int:
        nbytes = getattr(obj, "nbytes", None)
        if isinstance(nbytes, int):
            return nbytes
        if depth == 0:
            return 0
        if isinstance(obj, dict):
            items = list(obj.values())
        elif isinstance(obj, (list, tuple)):
            items = list(obj)
        else:
            items = list(getattr(obj, "__dict__", {}).values())
        return sum(size(v, depth - 1) for v in items)

    try:
        return max(size(problem, 3), 1)
    except Exception:  # noqa: BLE001 - an exotic problem type: no estimate
        return 1


def _safe(fn, problem, seed):
    try:
        return fn(problem, seed)
    except Exception as exc:  # noqa: BLE001 - recorded per row
        return exc


def _scalar(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    return json.dumps(v, sort_keys=True, default=str)


def run_cell(spec_data: dict[str, Any], cell: Cell,
             configs: list[str] | None = None) -> dict[str, Any]:
    """Run every trial of every method configuration of one cell.

    BLAS runs with ``run.blas_threads`` threads (default 1: cells run in parallel, and
    multithreaded OpenBLAS on busy cores can be 100x slower; one count for every executor
    also keeps results bit-identical between them).

    Parameters
    ----------
    spec_data : dict
        The spec's data (``Spec.data``).
    cell : Cell
        The cell to run.
    configs : list of str, optional
        Restricts the run to those method configuration keys (a part of the cell, for
        executors that spread one cell's configurations over workers); the reference
        configuration still runs when the metrics need it, and its rows appear only in
        the part that names it. Parts of a cell, concatenated in configuration order,
        equal the whole cell's output. None (default): all configurations.

    Returns
    -------
    dict
        ``key``, ``rows`` (one dict per trial and method configuration), ``traces`` (long
        format rows, or an empty list), ``seconds`` and ``trials`` (number of solver runs).
    """
    from threadpoolctl import threadpool_limits

    spec = Spec(spec_data)
    with threadpool_limits(limits=spec.run["blas_threads"] or None):
        return _run_cell(spec, cell, configs)


def _run_cell(spec: Spec, cell: Cell, only: list[str] | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    exp = spec.experiment
    trials = exp["trials"]
    budget = exp["batch_memory_mb"] * 2**20
    seeds = [problem_seed(exp["seed"], cell.params, t) for t in range(trials)]
    generator = get_generator(spec.generator)

    configs = spec.method_configs()
    if only is not None:
        unknown = set(only) - {c.key for c in configs}
        if unknown:
            raise ValueError(f"unknown method configurations {sorted(unknown)}")
        configs = [c for c in configs if c.key in set(only)]
    ref_cfg = spec.reference
    if ref_cfg is not None:
        ref_cfg = next((c for c in configs if c.key == ref_cfg.key), ref_cfg)
    conf = {c.key: _Configured(c) for c in configs}
    ref_conf = None if ref_cfg is None else conf.get(ref_cfg.key) or _Configured(ref_cfg)

    # the problems are generated, solved and measured in chunks of trials within the
    # memory bound (all of a cell's problems at once took trials x their size: 1.3 GB for
    # 40 trials of a 1000 x 2500 problem under a 64 MB bound); a generator failure is
    # recorded in the rows of its trial (as an exception)
    made: dict[int, Any] = {}
    for t in range(trials):  # the first problem generated gives the size of every trial
        made[t] = _safe(generator.make, cell.params, seeds[t])
        if not isinstance(made[t], BaseException):
            break
    per_trial = next((_problem_bytes(p) for p in made.values()
                      if not isinstance(p, BaseException)), 1)
    ver = versions()
    rows: dict[str, list] = {c.key: [] for c in configs}
    traces: dict[str, list] = {c.key: [] for c in configs}
    start = 0
    for size in chunk_sizes(trials, per_trial, budget):
        chunk = range(start, start + size)
        start += size
        problems = [made.pop(t) if t in made else _safe(generator.make, cell.params, seeds[t])
                    for t in chunk]
        cseeds = [seeds[t] for t in chunk]
        results: dict[str, list] = {}
        refs: list[Any] = [None] * size
        if ref_conf is not None:
            results[ref_conf.cfg.key] = _run_method(ref_conf, problems, cseeds, budget,
                                                    trials > 1)
            refs = [r.x if isinstance(r, Result) and r.success else None
                    for r in results[ref_conf.cfg.key]]
        for cfg in configs:
            if cfg.key not in results:
                results[cfg.key] = _run_method(conf[cfg.key], problems, cseeds, budget,
                                               trials > 1)
        for cfg in configs:
            _rows(spec, cell, cfg, chunk, problems, cseeds, results[cfg.key], refs, ver,
                  rows[cfg.key], traces[cfg.key])
        del problems, results, refs
    return dict(key=cell.key, rows=[r for c in configs for r in rows[c.key]],
                traces=[r for c in configs for r in traces[c.key]],
                seconds=time.perf_counter() - t0, trials=trials * len(configs))


def _rows(spec: Spec, cell: Cell, cfg: MethodConfig, chunk: range, problems: list,
          seeds: list[int], results: list, refs: list, ver: dict, rows: list,
          traces: list) -> None:
    """Append the rows (and trace rows) of one configuration on a chunk of trials."""
    exp = spec.experiment
    metrics = exp["metrics"]
    pcols = {param_column(spec, k): _scalar(v) for k, v in cfg.params.items()}
    for j, (t, res) in enumerate(zip(chunk, results)):
        row: dict[str, Any] = dict(cell=cell.key, **cell.params, method=cfg.name,
                                   label=cfg.label, **pcols, trial=t, seed=seeds[j])
        if isinstance(res, Result):
            try:
                row.update(status=res.status.value, success=bool(res.success),
                           n_iter=int(res.n_iter), fun=float(res.fun),
                           wall_time=float(res.wall_time), error="")
                row.update(compute_metrics(metrics, problems[j], res.x, refs[j],
                                           exp["recovery_tol"], result=res))
                trace = (_trace_rows(cell, cfg, t, res.trace)
                         if exp["traces"] and res.trace else [])
            except Exception as exc:  # noqa: BLE001 - a malformed Result (x of the
                # wrong shape, a non-numeric field) is this trial's error, not the cell's
                res = RuntimeError(f"unusable result: {_error(exc)}").with_traceback(
                    exc.__traceback__)
            else:
                traces += trace
        if not isinstance(res, Result):
            err = (_error(res) if isinstance(res, BaseException)
                   else f"method returned {type(res).__name__}, not a Result")
            if isinstance(res, BaseException) and res.__traceback__ is not None:
                frame = traceback.extract_tb(res.__traceback__)[-1]
                err += f" (at {frame.filename}:{frame.lineno} in {frame.name})"
            row.update(status="error", success=False, n_iter=0, fun=float("nan"),
                       wall_time=0.0, error=err)
            row.update({m: float("nan") for m in metrics})
        row.update(ver)
        rows.append(row)


def _trace_rows(cell: Cell, cfg: MethodConfig, trial: int, trace: dict) -> list[dict]:
    iters = np.asarray(trace.get("iter", []))
    fields = {k: np.asarray(v, dtype=float) for k, v in trace.items()
              if k != "iter" and np.ndim(v) == 1 and len(v) == len(iters)}
    return [dict(cell=cell.key, label=cfg.label, method=cfg.name, trial=trial,
                 iter=int(iters[k]), **{f: float(v[k]) for f, v in fields.items()})
            for k in range(len(iters))]
