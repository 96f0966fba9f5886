"""Executors: where cells run. Each yields cell outputs as they finish.

* ``serial``: in this process, in grid order;
* ``processes``: a local process pool with the "spawn" start method (JAX and fork don't mix),
  all cores by default;
* ``dask``: a Dask distributed cluster (``address="tcp://HOST:PORT"``), or a LocalCluster
  when no address is given. Dask is imported only here, only when chosen
  (``pip install overparam[dask]``).

A process worker that dies (SIGKILL, the out-of-memory killer) fails the cells in flight
(a re-run retries them) and the sweep goes on; a consumer that stops early
(KeyboardInterrupt, an error, ``close()``) terminates the workers rather than waiting for
the cells they run.

Results are identical whatever the executor: every cell's computation depends on the spec
and the cell only (derived seeds, chunking from the spec's memory bound). The parent process
writes every part, so workers need no shared filesystem.

When a sweep has fewer cells than twice the workers (one problem cell, many method
configurations: an init-scale or step-ratio study), the executors run each method
configuration of a cell as its own task and join the parts of a cell before it is
yielded, so the store still gets one part per cell. Every task generates the cell's
problems again (from the same derived seeds) and runs the reference configuration when the
metrics need one. Finished parts can be yielded as checkpoints (the sweep stores them, so a
crash loses only the configurations in flight), and configurations finished by an earlier
run are passed back in (``have``) and not run again.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import warnings
from typing import Any, Iterator

from .._core import usable_cores
from .cells import Cell
from .compile_cache import compilation_cache_dir, enable_compilation_cache
from .runner import run_cell
from .spec import Spec

__all__ = ["execute", "default_workers"]


def default_workers() -> int:
    """All cores this process may use (see ``_core.usable_cores``)."""
    return usable_cores()


def _failed(cell: Cell, exc: BaseException) -> dict[str, Any]:
    return dict(key=cell.key, failed=f"{type(exc).__name__}: {exc}")


Task = tuple[Cell, "list[str] | None"]
Have = dict[str, dict[str, dict]]


def tasks(spec_data: dict, cells: list[Cell], workers: int,
          have: Have | None = None) -> list[Task]:
    """Units of work: whole cells, or (cell, [configuration key]) when there are fewer
    cells than twice the workers and the cells have several method configurations. A cell
    with configurations already finished (``have``: cell key -> configuration key ->
    output) runs only its missing configurations, one task each."""
    keys = [c.key for c in Spec(spec_data).method_configs()]
    have = have or {}
    split = len(cells) < 2 * workers and len(keys) >= 2
    units: list[Task] = []
    for cell in cells:
        done = have.get(cell.key)
        if done:
            units += [(cell, [k]) for k in keys if k not in done]
        elif split:
            units += [(cell, [k]) for k in keys]
        else:
            units.append((cell, None))
    return units


def _joined(key: str, outs: list[dict], trials: int) -> dict:
    return dict(key=key, rows=[r for o in outs for r in o["rows"]],
                traces=[t for o in outs for t in o["traces"]],
                seconds=sum(o["seconds"] for o in outs), trials=trials)


class _Joiner:
    """Collects the parts of split cells; a cell is complete when all its parts are in
    (joined in configuration order), failed as soon as one part failed. Parts finished
    by an earlier run (``have``) count as in; ``trials`` of a joined output counts only
    the parts run now."""

    def __init__(self, units: list[Task], order: list[str] | None = None,
                 have: Have | None = None) -> None:
        self.units = units
        self.order = {k: i for i, k in enumerate(order or [])}
        self.pending: dict[str, int] = {}
        self.parts: dict[str, list[tuple[float, dict]]] = {}
        self.trials: dict[str, int] = {}
        for key, done in (have or {}).items():
            if done:
                self.parts[key] = [(self.order.get(k, -1), o) for k, o in done.items()]
                self.pending[key] = 0
        for cell, part in units:
            if part is not None:
                self.pending[cell.key] = self.pending.get(cell.key, 0) + 1

    def _position(self, i: int) -> float:
        part = self.units[i][1] or []
        return min((self.order.get(k, i) for k in part), default=i) if self.order else i

    def ready(self) -> list[str]:
        """Cells complete from earlier parts alone (nothing left to run)."""
        keys = [k for k, n in self.pending.items() if n == 0]
        return [k for k in keys if k in self.parts]

    def take(self, key: str) -> dict:
        del self.pending[key]
        outs = [o for _, o in sorted(self.parts.pop(key), key=lambda t: t[0])]
        return _joined(key, outs, self.trials.pop(key, 0))

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
            self.trials.pop(key, None)
            return output
        self.parts.setdefault(key, []).append((self._position(i), output))
        self.trials[key] = self.trials.get(key, 0) + output["trials"]
        self.pending[key] -= 1
        if self.pending[key]:
            return None
        return self.take(key)


def _results(cells: list[Cell], units: list[Task], join: _Joiner,
             finished: Iterator[tuple[int, dict]], checkpoint: bool
             ) -> Iterator[tuple[Cell, dict]]:
    """Cells complete from earlier parts, then each finished unit (as a checkpoint when it
    is a part and ``checkpoint``) and each cell it completes."""
    by_key = {c.key: c for c in cells}
    try:
        for key in join.ready():
            yield by_key[key], join.take(key)
        for i, output in finished:
            cell, part = units[i]
            if checkpoint and part is not None and "failed" not in output:
                yield cell, dict(key=cell.key, partial=True, config=part[0], output=output)
            done = join.add(i, output)
            if done is not None:
                yield cell, done
    finally:  # stopped early (KeyboardInterrupt, close()): stop the workers now
        close = getattr(finished, "close", None)
        if close is not None:
            close()


def _serial(spec_data: dict, units: list[Task]) -> Iterator[tuple[int, dict]]:
    for i, (cell, part) in enumerate(units):
        try:
            yield i, run_cell(spec_data, cell, part)
        except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
            yield i, _failed(cell, exc)


#: in a process worker: the write end of the pipe on which each task's index is sent as it
#: starts (set by ``_start_worker``)
_STARTED: Any = None


def _start_worker(started: Any, cache_dir: str | None = None) -> None:
    global _STARTED
    _STARTED = started
    _exit_with_parent()
    if cache_dir:  # the parent's compilation cache: workers share compiled loops
        enable_compilation_cache(cache_dir)


def _exit_with_parent() -> None:
    """End this worker when the parent process dies.

    A parent killed outright (SIGKILL, the out-of-memory killer) cannot stop its pool, and
    the workers, blocked on the task queue whose write end they hold themselves, lived on
    (half a GB each with JAX loaded) until killed by hand, one set per killed run. A daemon
    thread waits on the parent's sentinel (readable when the parent is gone) and exits.
    """
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if sentinel is None:  # pragma: no cover - not a multiprocessing child
        return

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="overparam-parent-watch", daemon=True).start()


def _run_unit(i: int, spec_data: dict, cell: Cell, part: list[str] | None) -> dict:
    """``run_cell`` in a process worker, first telling the parent that unit ``i`` started
    (one write of 8 bytes: atomic on a pipe, so workers need no lock)."""
    if _STARTED is not None:
        _STARTED.send_bytes(i.to_bytes(4, "little"))
    return run_cell(spec_data, cell, part)


def _drain(reader: Any, started: set[int]) -> None:
    while reader.poll(0):
        started.add(int.from_bytes(reader.recv_bytes(), "little"))


def _stop(pool: Any, kill: bool) -> None:
    """Shut ``pool`` down; with ``kill`` (the consumer stopped early: KeyboardInterrupt,
    an error, ``close()``) terminate its workers instead of waiting for the cells they run,
    which can take hours and whose results would be dropped."""
    # private, but the only way before Python 3.14's terminate_workers(); read before
    # shutdown(), which forgets them
    procs = list((getattr(pool, "_processes", None) or {}).values()) if kill else []
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(5)
        if proc.is_alive():  # pragma: no cover - SIGTERM ignored
            proc.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _processes(spec_data: dict, units: list[Task], workers: int
               ) -> Iterator[tuple[int, dict]]:
    """Units on a spawn process pool. A worker that dies (SIGKILL, the out-of-memory
    killer) breaks the whole pool: the units that had started and not finished then fail
    (their cells are retried by a re-run, like any failed cell), and the units not started
    yet run on a fresh pool, so one dead worker does not stop the sweep."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    todo = list(range(len(units)))
    while todo:
        reader, writer = ctx.Pipe(duplex=False)
        started: set[int] = set()
        pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx,
                                   initializer=_start_worker,
                                   initargs=(writer, compilation_cache_dir()))
        futures = {pool.submit(_run_unit, i, spec_data, *units[i]): i for i in todo}
        yielded: set[int] = set()
        broken: BrokenProcessPool | None = None
        clean = False
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                _drain(reader, started)
                try:
                    output = fut.result()
                except BrokenProcessPool as exc:
                    broken = exc
                    break
                except Exception as exc:  # noqa: BLE001 - reported, the sweep goes on
                    output = _failed(units[i][0], exc)
                yielded.add(i)
                yield i, output
            clean = True
        finally:
            _stop(pool, kill=not clean)
        _drain(reader, started)
        reader.close()
        writer.close()
        if broken is None:
            return
        todo, lost = [], []
        for fut, i in futures.items():
            if i in yielded:
                continue
            exc = broken if fut.cancelled() else fut.exception()
            if exc is None:  # finished before the pool broke
                yield i, fut.result()
            elif not isinstance(exc, Exception):  # KeyboardInterrupt in a worker
                raise exc
            elif not isinstance(exc, BrokenProcessPool):
                yield i, _failed(units[i][0], exc)
            elif i in started:
                lost.append(i)
            else:
                todo.append(i)
        if not lost:  # no unit to blame (workers die at start-up): retrying cannot help
            raise broken
        for i in sorted(lost):
            yield i, dict(key=units[i][0].key, failed=(
                "BrokenProcessPool: a worker process died while this cell ran (killed, "
                "e.g. out of memory?), or while another cell in flight did; a re-run "
                "retries it"))


def _dask_key(cell: Cell, part: list[str] | None) -> str:
    """Dask key of a unit: a function of what it computes (the cell key hashes the whole
    spec but the run settings). Dask shares a key between clients of one scheduler, so
    it must not name another computation in another run (a unit's index does: it shifts
    with the configurations an earlier run finished)."""
    if part is None:
        return f"overparam-cell-{cell.key}"
    digest = hashlib.sha256("\x00".join(part).encode()).hexdigest()[:16]
    return f"overparam-cell-{cell.key}-{digest}"


def _dask(spec_data: dict, units: list[Task], workers: int,
          address: str | None) -> Iterator[tuple[int, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("the dask executor needs `pip install overparam[dask]`") from exc

    cluster = None
    if address:
        try:
            client = Client(address)
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {address!r} ({exc}); start "
                          "one (`dask scheduler`) or leave the address out for a local "
                          "cluster") from exc
        except ValueError as exc:  # a malformed address or unknown scheme: Dask's own text
            raise ValueError(f"run.address: {address!r} is not a Dask scheduler address "
                             f"({exc}); give tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786"
                             ) from exc
        except Exception as exc:  # noqa: BLE001 - something else answered at the address
            # e.g. an HTTP server (the dashboard's port 8787): Dask read its reply as a
            # message length and escaped as a traceback (MemoryError: 3 EiB)
            raise OSError(f"no Dask scheduler answers at {address!r} (connecting failed: "
                          f"{type(exc).__name__}: {exc}); is it the scheduler's address "
                          "(port 8786 by default; 8787 is its dashboard)?") from exc
    else:
        cluster = LocalCluster(n_workers=min(workers, len(units)), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = {client.submit(run_cell, spec_data, cell, part, pure=False,
                                 key=_dask_key(cell, part)): i
                   for i, (cell, part) in enumerate(units)}
        for fut in as_completed(list(futures)):
            i = futures[fut]
            try:
                output = fut.result()
            except Exception as exc:  # noqa: BLE001
                output = _failed(units[i][0], exc)
            yield i, output
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def execute(spec_data: dict, cells: list[Cell], executor: str = "processes",
            workers: int = 0, address: str | None = None, *, have: Have | None = None,
            checkpoint: bool = False) -> Iterator[tuple[Cell, dict]]:
    """Run ``cells`` on an executor; yields ``(cell, output)`` in completion order. An
    output with a ``failed`` key reports a cell whose run raised (it is not stored).

    Parameters
    ----------
    spec_data : dict
        The spec's data (``Spec.data``), sent to the workers.
    cells : list of Cell
        The cells to run (from :func:`~overparam.experiments.cells.expand_cells`).
    executor : {"processes", "serial", "dask"}, optional
        Where cells run: a local process pool (default), this process, or a Dask cluster.
        ``"processes"`` with one worker runs serially.
    workers : int, optional
        Number of workers, >= 0; 0 (default) uses all cores. Local workers (processes, a
        Dask LocalCluster) are at most the usable cores (more: a warning). Ignored by
        ``"serial"`` (a warning when > 1).
    address : str, optional
        Address of a running Dask scheduler (``executor="dask"`` only, else ignored with
        a warning); None (default) starts a local cluster.
    have : dict, optional
        Cell key -> configuration key -> output: configurations of those cells finished
        by an earlier run. Only the others run, and the cell's output joins both.
    checkpoint : bool, optional
        If True, every finished part of a split cell (a part is one configuration) is
        also yielded, before the cell completes, as
        ``dict(key=..., partial=True, config=..., output=...)``. Default False.

    Returns
    -------
    iterator of (Cell, dict)
        ``(cell, output)`` pairs in completion order.

    Raises
    ------
    ValueError
        If ``executor`` is unknown or ``workers`` is not an int >= 0.
    OSError
        If the Dask scheduler at ``address`` cannot be reached (when iterating).
    """
    if executor not in ("serial", "processes", "dask"):
        raise ValueError(f"unknown executor {executor!r} (serial, processes, dask)")
    # bool is an int: True ran one worker (serially) without a word
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ValueError(f"workers: must be an int >= 0 (0 = all cores), got {workers!r}")
    # both were ignored without a word (the CLI refuses its own --address and --workers
    # there, but not the spec's run.address and run.workers, nor a Python caller's)
    if address and executor != "dask":
        warnings.warn(f"address {address!r} is ignored: only the dask executor uses it "
                      f"(the executor is {executor})", RuntimeWarning, stacklevel=2)
    if executor == "serial" and workers > 1:
        warnings.warn(f"workers={workers} is ignored: the serial executor runs the cells "
                      "one at a time in this process", RuntimeWarning, stacklevel=2)
    if not cells:
        return iter(())
    cores = default_workers()
    workers = workers or cores
    if executor == "processes" and workers == 1:
        executor = "serial"
    if workers > cores and (executor == "processes" or (executor == "dask" and not address)):
        # each local worker is a process loading JAX (~0.3 GB), sharing the same cores:
        # 16 workers on 2 cores ran a 16-cell sweep in 42 s, 2 workers in 11 s
        warnings.warn(f"workers={workers} is more than the {cores} usable core(s): "
                      f"running {cores} worker process(es)", RuntimeWarning, stacklevel=2)
        workers = cores
    units = tasks(spec_data, cells, 1 if executor == "serial" else workers, have)
    order = [c.key for c in Spec(spec_data).method_configs()]
    join = _Joiner(units, order, have)
    if not units:
        finished: Iterator[tuple[int, dict]] = iter(())
    elif executor == "serial":
        finished = _serial(spec_data, units)
    elif executor == "processes":
        finished = _processes(spec_data, units, workers)
    else:
        finished = _dask(spec_data, units, workers, address)
    return _results(cells, units, join, finished, checkpoint)
