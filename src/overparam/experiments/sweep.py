"""Run a spec end to end: cells -> executor -> store, with resume and a progress bar."""
from __future__ import annotations

import contextlib
import numbers
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .._core import check_bool
from .cells import config_key, expand_cells
from .executors import execute
from .runner import versions
from .spec import Spec, SpecError, load_spec
from .store import Store, folder_lock

__all__ = ["run", "RunSummary"]


@dataclass
class RunSummary:
    """What a run did.

    Attributes
    ----------
    folder : Path
        The results folder.
    cells : int
        Cells in the spec.
    skipped : int
        Cells already finished (resumed).
    computed : int
        Cells computed and stored by this run.
    failed : dict of str to str
        Cells whose run raised (not stored; a re-run retries them), key -> message.
    error_rows : int
        Rows recording a method that failed on a problem (stored).
    rows : int
        Rows of the cells computed by this run (``error_rows`` among them).
    failed_configs : dict of str to str
        Method configurations (by label) that failed on every problem stored in the folder
        (every row an error, also in cells finished by an earlier run), label -> the first
        error message: a broken configuration (e.g. a parameter value the solver rejects)
        rather than a hard problem.
    seconds : float
        Wall time of the run.
    trials : int
        Solver runs performed by this run.
    resumed_configs : int
        Method configurations of unfinished cells taken from an earlier run's checkpoints.
    """

    folder: Path
    cells: int
    skipped: int = 0
    computed: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    error_rows: int = 0
    rows: int = 0
    failed_configs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    trials: int = 0
    resumed_configs: int = 0

    @property
    def ok(self) -> bool:
        """False when a cell failed or a method configuration failed on every problem
        (``overparam run`` then exits with status 1)."""
        return not (self.failed or self.failed_configs)

    def __str__(self) -> str:
        rate = self.trials / self.seconds if self.seconds > 0 else float("nan")
        s = (f"{self.computed} cell(s) computed, {self.skipped} already done, "
             f"{len(self.failed)} failed, of {self.cells}; {self.trials} solver runs in "
             f"{self.seconds:.1f} s ({rate:.1f}/s); results in {self.folder}")
        if self.resumed_configs:
            s += f"\n{self.resumed_configs} finished method configuration(s) of unfinished " \
                 "cells resumed from checkpoints"
        if self.error_rows:
            s += (f"\n{self.error_rows} of {self.rows} row(s) record a method that failed on "
                  f"a problem (status 'error'; the messages are in the `error` column of "
                  f"overparam.experiments.load({str(self.folder)!r}))")
        for label, msg in self.failed_configs.items():
            s += f"\nmethod configuration {label!r} failed on every problem: {msg}"
        for key, msg in self.failed.items():
            s += f"\ncell {key} failed: {msg}"
        return s


def _progress(total: int, initial: int, enabled: bool | None):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the experiments extra
        return None
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    return tqdm(total=total, initial=initial, unit="cell", file=sys.stderr,
                dynamic_ncols=True)


@contextlib.contextmanager
def _closing(iterator: Iterator) -> Iterator[Iterator]:
    """``contextlib.closing`` for an iterator that may have no ``close`` (``execute``
    returns a plain iterator when there is nothing to run)."""
    try:
        yield iterator
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _rekeyed(output: dict[str, Any], key: str) -> dict[str, Any]:
    """A checkpointed configuration's output under the current cell key (the key changes
    when other configurations of the spec change; the rows do not)."""
    rows = [dict(r, cell=key) for r in output["rows"]]
    traces = [dict(t, cell=key) for t in output["traces"]]
    return dict(output, key=key, rows=rows, traces=traces)


def run(spec: Spec | str | Path | dict[str, Any], out: str | Path | None = None, *,
        executor: str | None = None, workers: int | None = None, address: str | None = None,
        force: bool = False, progress: bool | None = None,
        overrides: tuple[str, ...] = ()) -> RunSummary:
    """Run an experiment spec into a results folder (resuming a previous run).

    Parameters
    ----------
    spec : Spec, path to a TOML file, or dict
        The experiment.
    out : path, optional
        Results folder; default ``run.out`` of the spec, else ``results/<name>``.
    executor : {"serial", "processes", "dask"}, optional
        Default ``run.executor`` of the spec ("processes").
    workers : int, optional
        Processes / Dask workers; 0 means all cores.
    address : str, optional
        Dask scheduler address; none starts a LocalCluster.
    force : bool
        Replace the results of a different spec in ``out`` (unchanged cells are kept, and
        so are the checkpointed configurations of unfinished cells that did not change).
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    overrides : tuple of str
        ``--set`` overrides applied to a spec read from a file or dict.

    Returns
    -------
    RunSummary
    """
    # flags as bools: force="false" (a string, truthy) replaced the results of a different
    # spec in ``out``; progress="no" showed the bar
    force = check_bool(force, "force")
    progress = None if progress is None else check_bool(progress, "progress")
    if isinstance(overrides, (str, bytes)):
        # a single "KEY=VALUE" was read character by character: "--set 'e': expected
        # KEY=VALUE" for overrides="experiment.trials=2"
        raise TypeError(f"overrides must be a tuple of 'KEY=VALUE' strings, got the string "
                        f"{overrides!r} (write ({overrides!r},))")
    if not isinstance(spec, Spec):
        spec = load_spec(spec, overrides)
    elif overrides:
        spec = load_spec(spec.data, overrides)
    cfg = spec.run
    executor = executor or cfg["executor"]
    if executor not in ("serial", "processes", "dask"):
        raise SpecError(f"run.executor: {executor!r} is not one of serial, processes, dask")
    workers = cfg["workers"] if workers is None else workers
    # bool is an int: workers=True ran one worker (serially) without a word
    if (not isinstance(workers, numbers.Integral) or isinstance(workers, bool)
            or workers < 0):
        raise SpecError(f"workers: must be an int >= 0 (0 = all cores), got {workers!r}")
    workers = int(workers)  # e.g. a NumPy integer: the executors take an int
    address = address if address is not None else (cfg["address"] or None)
    folder = Path(out or cfg["out"] or Path("results") / spec.name)
    # one run per folder at a time: a second one would delete the first one's temporary
    # files, and both would compute every cell
    with folder_lock(folder):
        return _run(spec, folder, executor, workers, address, force, progress)


def _run(spec: Spec, folder: Path, executor: str, workers: int, address: str | None,
         force: bool, progress: bool | None) -> RunSummary:
    """:func:`run` with its arguments resolved and the folder locked."""
    t0 = time.perf_counter()
    cells = expand_cells(spec)
    configs = spec.method_configs()
    ckeys = {c.key: {cfg.key: config_key(spec, c.params, cfg) for cfg in configs}
             for c in cells}
    store = Store(folder)
    store.prepare(spec, [c.key for c in cells], versions(), force=force,
                  config_keys=[k for d in ckeys.values() for k in d.values()])
    store.clean_temporary()
    trials = spec.experiment["trials"]
    with warnings.catch_warnings():
        warnings.simplefilter("always", RuntimeWarning)
        done = store.finished([c.key for c in cells], trials * len(configs))
        todo = [c for c in cells if c.key not in done]
        # a run killed between writing a cell's part and dropping its checkpoints left
        # them behind, never read again
        store.drop_configs(k for c in cells if c.key in done for k in ckeys[c.key].values())
        have = {c.key: {k: _rekeyed(o, c.key)
                        for k, o in store.finished_configs(ckeys[c.key], trials).items()}
                for c in todo}
    have = {k: v for k, v in have.items() if v}
    summary = RunSummary(folder=folder, cells=len(cells), skipped=len(cells) - len(todo),
                         resumed_configs=sum(len(v) for v in have.values()))

    bar = _progress(len(cells), summary.skipped, progress)
    parts_done = summary.resumed_configs
    split: set[str] = set()
    try:
        # an error or KeyboardInterrupt in this loop's body (store.write) closes the
        # executor at once, which terminates its process workers, rather than whenever the
        # generator is collected (later, if anything else still refers to it)
        with _closing(execute(spec.data, todo, executor, workers, address, have=have,
                              checkpoint=True)) as outputs:
            for cell, output in outputs:
                if output.get("partial"):
                    # one configuration of a split cell: checkpoint it, the cell goes on
                    store.write_config(ckeys[cell.key][output["config"]], output["output"])
                    parts_done += 1
                    split.add(cell.key)
                    summary.trials += output["output"]["trials"]
                    if bar is not None:
                        bar.set_postfix_str(f"{parts_done} method configuration(s) done")
                    continue
                if "failed" in output:
                    summary.failed[cell.key] = output["failed"]
                    msg = f"cell {cell.index} {cell.params} failed: {output['failed']}"
                    if bar is not None:
                        bar.write(msg)
                    else:
                        print(msg, file=sys.stderr)
                else:
                    store.write(output)
                    store.drop_configs(ckeys[cell.key].values())
                    summary.computed += 1
                    if cell.key not in split:  # a split cell's runs were counted per part
                        summary.trials += output["trials"]
                    summary.error_rows += sum(r["status"] == "error" for r in output["rows"])
                    summary.rows += len(output["rows"])
                if bar is not None:
                    elapsed = time.perf_counter() - t0
                    bar.set_postfix_str(f"{summary.trials / max(elapsed, 1e-9):.1f} trials/s")
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    # from every stored cell, not only this run's: a resumed run of a broken spec says so
    # (and exits 1) again
    summary.failed_configs = {label: msg for label, (n, bad, msg)
                              in store.error_tally(c.key for c in cells).items()
                              if n and bad == n}
    summary.seconds = time.perf_counter() - t0
    return summary
