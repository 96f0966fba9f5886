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
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any, Iterator

from .cells import Cell
from .runner import run_cell

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


def _processes(spec_data: dict, cells: list[Cell], workers: int) -> Iterator[tuple[Cell, dict]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(cells)), mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, spec_data, cell): cell for cell in cells}
        try:
            for fut in as_completed(futures):
                cell = futures[fut]
                try:
                    yield cell, fut.result()
                except Exception as exc:  # noqa: BLE001
                    if type(exc).__name__ == "BrokenProcessPool":
                        raise
                    yield cell, _failed(cell, exc)
        finally:
            for fut in futures:
                fut.cancel()


def _dask(spec_data: dict, cells: list[Cell], workers: int,
          address: str | None) -> Iterator[tuple[Cell, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the dask executor needs `pip install overparam[dask]`") from exc

    cluster = None
    if address:
        client = Client(address)
    else:
        cluster = LocalCluster(n_workers=min(workers, len(cells)), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {client.submit(run_cell, spec_data, cell, pure=False,
                                 key=f"overparam-cell-{cell.key}"): cell for cell in cells}
        for fut in as_completed(list(futures)):
            cell = futures[fut]
            try:
                yield cell, fut.result()
            except Exception as exc:  # noqa: BLE001
                yield cell, _failed(cell, exc)
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
