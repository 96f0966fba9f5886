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
    by a problem parameter, a metric or a reserved column."""
    taken = set(RESERVED_COLUMNS) | set(spec.problem_axes) | set(spec.experiment["metrics"])
    return f"method_{name}" if name in taken else name


def chunk_sizes(n_trials: int, bytes_per_trial: int, budget_bytes: float) -> list[int]:
    """Split ``n_trials`` into near-equal chunks each within the memory budget."""
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


def _run_method(cfg: MethodConfig, problems: list, seeds: list[int], budget: float) -> list:
    """Results (or exceptions) of one method configuration on the trials' problems."""
    entry = get_method(cfg.name)
    mseeds = [method_seed(s, cfg.name, cfg.params) for s in seeds]
    out: list[Any] = [None] * len(problems)
    todo = [i for i, p in enumerate(problems) if not isinstance(p, BaseException)]
    for i, p in enumerate(problems):
        if isinstance(p, BaseException):
            out[i] = RuntimeError(f"problem generation failed: {_error(p)}")
    try:
        one = entry.configure(**cfg.params)
    except Exception as exc:  # noqa: BLE001 - recorded per row
        return [exc if o is None else o for o in out]
    batch = None
    if entry.batchable and len(todo) > 1:
        dense = all(problems[i].A.is_dense for i in todo)
        shapes = {problems[i].shape for i in todo}
        if dense and len(shapes) == 1:
            try:
                batch = entry.configure_batch(**cfg.params)
            except Exception:  # noqa: BLE001 - e.g. the batched solver's module is
                batch = None   # missing: the trials run one by one
    if batch is not None:
        m, n = problems[todo[0]].shape
        pos = 0
        for size in chunk_sizes(len(todo), 8 * (m * n + 8 * n + m), budget):
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

    ``configs`` (optional) restricts the run to those method configuration keys (a part of
    the cell, for executors that spread one cell's configurations over workers); the
    reference configuration still runs when the metrics need it, and its rows appear only
    in the part that names it. Parts of a cell, concatenated in configuration order, equal
    the whole cell's output.

    BLAS runs with ``run.blas_threads`` threads (default 1: cells run in parallel, and
    multithreaded OpenBLAS on busy cores can be 100x slower; one count for every executor
    also keeps results bit-identical between them).

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
    # a generator failure is recorded in the rows of its trial (as an exception)
    problems = [_safe(generator.make, cell.params, s) for s in seeds]

    configs = spec.method_configs()
    if only is not None:
        unknown = set(only) - {c.key for c in configs}
        if unknown:
            raise ValueError(f"unknown method configurations {sorted(unknown)}")
        configs = [c for c in configs if c.key in set(only)]
    results: dict[str, list] = {}
    ref_cfg = spec.reference
    refs: list[Any] = [None] * trials
    if ref_cfg is not None:
        match = next((c for c in configs if c.key == ref_cfg.key), ref_cfg)
        results[match.key] = _run_method(match, problems, seeds, budget)
        refs = [r.x if isinstance(r, Result) and r.success else None
                for r in results[match.key]]
    for cfg in configs:
        if cfg.key not in results:
            results[cfg.key] = _run_method(cfg, problems, seeds, budget)

    ver = versions()
    metrics = exp["metrics"]
    rows, traces = [], []
    for cfg in configs:
        pcols = {param_column(spec, k): _scalar(v) for k, v in cfg.params.items()}
        for t, res in enumerate(results[cfg.key]):
            row: dict[str, Any] = dict(cell=cell.key, **cell.params, method=cfg.name,
                                       label=cfg.label, **pcols, trial=t, seed=seeds[t])
            if isinstance(res, Result):
                try:
                    row.update(status=res.status.value, success=bool(res.success),
                               n_iter=int(res.n_iter), fun=float(res.fun),
                               wall_time=float(res.wall_time), error="")
                    row.update(compute_metrics(metrics, problems[t], res.x, refs[t],
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
    return dict(key=cell.key, rows=rows, traces=traces,
                seconds=time.perf_counter() - t0, trials=trials * len(configs))


def _trace_rows(cell: Cell, cfg: MethodConfig, trial: int, trace: dict) -> list[dict]:
    iters = np.asarray(trace.get("iter", []))
    fields = {k: np.asarray(v, dtype=float) for k, v in trace.items()
              if k != "iter" and np.ndim(v) == 1 and len(v) == len(iters)}
    return [dict(cell=cell.key, label=cfg.label, method=cfg.name, trial=trial,
                 iter=int(iters[k]), **{f: float(v[k]) for f, v in fields.items()})
            for k in range(len(iters))]
