"""Executors: where cells run. Each yields cell outputs as they finish.

* ``serial``: in this process, in grid order;
* ``processes``: a local process pool with the "spawn" start method (JAX and fork don't mix),
  all cores by default;
* ``dask``: a Dask distributed cluster (``address="tcp://HOST:PORT"``), or a LocalCluster
  when no address is given. Dask is imported only here, only when chosen
  (``pip install overparam[dask]``).

Results are identical whatever the executor: every cell's computation depends on the spec
and the cell only (derived seeds, chunking from the spec's memory bound). The parent process
writes every part, so workers need no shared filesystem.

When a sweep has fewer cells than twice the workers (one problem cell, many method
configurations: an init-scale or step-ratio study), the parallel executors run each
method configuration of a cell as its own task and join the parts of a cell before it is
yielded, so the store still gets one part per cell (and resumes per cell). Every task
generates the cell's problems again (from the same derived seeds) and runs the reference
configuration when the metrics need one.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Iterator

from .cells import Cell
from .runner import run_cell
from .spec import Spec

__all__ = ["execute", "default_workers"]


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def _failed(cell: Cell, exc: BaseException) -> dict[str, Any]:
    return dict(key=cell.key, failed=f"{type(exc).__name__}: {exc}")


def _serial(spec_data: dict, cells: list[Cell]) -> Iterator[tuple[Cell, dict]]:
    for cell in cells:
        try:
            yield cell, run_cell(spec_data, cell)
        except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
            yield cell, _failed(cell, exc)


Task = tuple[Cell, "list[str] | None"]


def tasks(spec_data: dict, cells: list[Cell], workers: int) -> list[Task]:
    """Units of work: whole cells, or (cell, [configuration key]) when there are fewer
    cells than twice the workers and the cells have several method configurations."""
    keys = [c.key for c in Spec(spec_data).method_configs()]
    if len(cells) >= 2 * workers or len(keys) < 2:
        return [(cell, None) for cell in cells]
    return [(cell, [k]) for cell in cells for k in keys]


class _Joiner:
    """Collects the parts of split cells; a cell is complete when all its parts are in
    (joined in configuration order), failed as soon as one part failed."""

    def __init__(self, units: list[Task]) -> None:
        self.units = units
        self.pending: dict[str, int] = {}
        for cell, _ in units:
            self.pending[cell.key] = self.pending.get(cell.key, 0) + 1
        self.parts: dict[str, list[tuple[int, dict]]] = {}

    def add(self, i: int, output: dict) -> dict | None:
        """Output of unit ``i``; returns the cell's output once complete, else None."""
        cell, part = self.units[i]
        if part is None:
            return output
        key = cell.key
        if key not in self.pending:  # the cell failed already
            return None
        if "failed" in output:
            del self.pending[key]
            self.parts.pop(key, None)
            return output
        self.parts.setdefault(key, []).append((i, output))
        self.pending[key] -= 1
        if self.pending[key]:
            return None
        del self.pending[key]
        outs = [o for _, o in sorted(self.parts.pop(key), key=lambda t: t[0])]
        return dict(key=key, rows=[r for o in outs for r in o["rows"]],
                    traces=[t for o in outs for t in o["traces"]],
                    seconds=sum(o["seconds"] for o in outs),
                    trials=sum(o["trials"] for o in outs))


def _processes(spec_data: dict, cells: list[Cell], workers: int) -> Iterator[tuple[Cell, dict]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    units = tasks(spec_data, cells, workers)
    join = _Joiner(units)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(units)), mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, spec_data, cell, part): i
                   for i, (cell, part) in enumerate(units)}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    output = fut.result()
                except Exception as exc:  # noqa: BLE001
                    if type(exc).__name__ == "BrokenProcessPool":
                        raise
                    output = _failed(units[i][0], exc)
                done = join.add(i, output)
                if done is not None:
                    yield units[i][0], done
        finally:
            for fut in futures:
                fut.cancel()


def _dask(spec_data: dict, cells: list[Cell], workers: int,
          address: str | None) -> Iterator[tuple[Cell, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the dask executor needs `pip install overparam[dask]`") from exc

    units = tasks(spec_data, cells, workers)
    join = _Joiner(units)
    cluster = None
    if address:
        client = Client(address)
    else:
        cluster = LocalCluster(n_workers=min(workers, len(units)), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {client.submit(run_cell, spec_data, cell, part, pure=False,
                                 key=f"overparam-cell-{cell.key}"
                                 + ("" if part is None else f"-{i}")): i
                   for i, (cell, part) in enumerate(units)}
        for fut in as_completed(list(futures)):
            i = futures[fut]
            try:
                output = fut.result()
            except Exception as exc:  # noqa: BLE001
                output = _failed(units[i][0], exc)
            done = join.add(i, output)
            if done is not None:
                yield units[i][0], done
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(spec_data: dict, cells: list[Cell], executor: str = "processes",
            workers: int = 0, address: str | None = None) -> Iterator[tuple[Cell, dict]]:
    """Run ``cells`` on an executor; yields ``(cell, output)`` in completion order. An
    output with a ``failed`` key reports a cell whose run raised (it is not stored)."""
    if not cells:
        return iter(())
    workers = workers or default_workers()
    if executor == "serial" or (executor == "processes" and workers == 1):
        return _serial(spec_data, cells)
    if executor == "processes":
        return _processes(spec_data, cells, workers)
    if executor == "dask":
        return _dask(spec_data, cells, workers, address)
    raise ValueError(f"unknown executor {executor!r} (serial, processes, dask)")
