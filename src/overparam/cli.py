"""Command line: ``overparam run|plot|info|sketch``.

Examples
--------
::

    overparam run examples/more_is_less.toml
    overparam run spec.toml --out results/x --executor dask --address tcp://host:8786
    overparam run spec.toml --set problem.m=[50,100] --set experiment.trials=5
    overparam plot results/x --kind phase --x s --y m
    overparam plot results/x --kind curve --x init_scale --y l1_gap --where m=80
    overparam info
    overparam sketch shards/ --n 100000000 --sparsity 20 --checkpoint ckpt --out B.npz
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main"]

# the exit statuses of `run` and of `plot` (scripts and schedulers branch on them)
_EXIT_CODES = ("exit status: 0 done; 1 some cells failed, or a method configuration "
               "failed on every problem it ran on (their messages are printed; a method "
               "failing on some problems is an error row, counted in the summary); 2 bad "
               "input (spec, arguments, results folder, output path), with the message on "
               "stderr; 130 interrupted (Ctrl-C: finished cells are kept, the same command "
               "resumes)")
_PLOT_EXIT_CODES = ("exit status: 0 done; 2 bad input (results folder, arguments, output "
                    "path), with the message on stderr; 130 interrupted (Ctrl-C)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="overparam",
        description="Implicit regularization experiments: run TOML specs, plot results.",
        epilog=_EXIT_CODES)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    r = sub.add_parser("run", help="run an experiment spec (resumes an unfinished run)",
                       description="Run every cell of a TOML spec into a results folder of "
                       "Parquet parts. Finished cells are skipped, so an interrupted run "
                       "continues where it stopped. At the end, the spec's [[plots]] are "
                       "written and their paths printed.", epilog=_EXIT_CODES)
    r.add_argument("spec", help="the TOML spec file")
    r.add_argument("--out", help="results folder (default: run.out, else results/<name>)")
    r.add_argument("--executor", choices=("serial", "processes", "dask"),
                   help="where cells run (default: run.executor, else processes)")
    r.add_argument("--workers", type=int, help="processes or Dask workers (0: all cores; "
                   "not with the serial executor)")
    r.add_argument("--address", help="Dask scheduler, e.g. tcp://HOST:8786 (with the dask "
                   "executor; default: a LocalCluster)")
    r.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE", help="override a spec key, value in TOML syntax, "
                   "e.g. --set problem.m=[50,100] --set methods[1].depth=3 (repeatable)")
    r.add_argument("--force", action="store_true",
                   help="replace results of a different spec in the folder")
    r.add_argument("--no-plots", action="store_true", help="do not write the spec's plots")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    r.add_argument("--dry-run", action="store_true",
                   help="validate the spec, print the cells and method configurations, stop")

    q = sub.add_parser("plot", help="draw figures from a results folder",
                       description="Draw a figure from stored results (never recomputes). "
                       "Without --kind, draws the [[plots]] of the folder's spec.",
                       epilog=_PLOT_EXIT_CODES)
    q.add_argument("folder", help="results folder")
    q.add_argument("--kind", choices=("phase", "curve", "trace"))
    q.add_argument("--x", help="axis column (phase: default s; curve: required; trace: "
                   "none, its axis is the iteration)")
    q.add_argument("--y", help="phase: second axis (default m); curve: metric "
                   "(default recovered); trace: trace field (default residual)")
    q.add_argument("--value", help="phase: the rate shown (default recovered); curve: "
                   "the metric, as --y")
    q.add_argument("--hue", help="column splitting lines / panels (default label)")
    q.add_argument("--where", action="append", default=[], metavar="COL=VALUE",
                   help="keep rows with COL == VALUE (VALUE in TOML: 80, 1e-4, [2,3])")
    q.add_argument("--stat", choices=("mean", "median"), help="curve statistic")
    q.add_argument("--format", dest="formats", nargs="+", choices=("png", "pdf", "svg"),
                   help="file formats (default png)")
    q.add_argument("--out", help="output folder (default FOLDER/plots)")
    q.add_argument("--name", help="file name stem")
    q.add_argument("--title")
    q.add_argument("--theory", action=argparse.BooleanOptionalAction, default=None,
                   help="draw the l1 phase transition where it applies (default: yes)")
    q.add_argument("--logx", action=argparse.BooleanOptionalAction, default=None)
    q.add_argument("--logy", action=argparse.BooleanOptionalAction, default=None)

    sub.add_parser("info", help="versions, devices, registered methods and metrics",
                   description="Print library versions, JAX devices, and the registered "
                   "methods, metrics and problem generators.")
    from .mamstar.cli import add_parser as _add_sketch_parser  # `overparam sketch` (MAM*)

    _add_sketch_parser(sub)
    return p


def _plot_options(table: dict) -> dict:
    # (plots.plot itself drops the x of a trace table: its axis is the iteration)
    return {k: v for k, v in table.items() if k not in ("kind", "name", "format")}


class _SpecPlotError(Exception):
    """A [[plots]] table that could not be drawn: which one, why, and what was written
    before it."""

    def __init__(self, index: int, table: dict, exc: Exception, written: list[Path]):
        super().__init__(index, table, exc, written)
        self.index, self.table, self.exc, self.written = index, table, exc, written

    def where(self) -> str:
        """``plots[2] (name l1_gap_vs_init_scale)``: the table, as the spec names it."""
        name = self.table.get("name")
        return f"plots[{self.index}]" + (f" (name {name})" if name else "")


def _spec_plots(folder: Path, plots: list[dict], out: Path | None = None) -> list[Path]:
    from .plots import plot

    written: list[Path] = []
    for i, table in enumerate(plots):
        fmt = table.get("format", "png")
        try:
            # .get: a hand-edited manifest's table without kind read "error: kind in
            # plots[0]"; plot() names the missing kind
            written += plot(folder, table.get("kind"), out=out, name=table.get("name"),
                            formats=fmt, **_plot_options(table))
        # e.g. a where outside a --set grid (KeyError, ValueError), a y column of text
        # (TypeError), FOLDER/plots not writable (OSError)
        except (KeyError, ValueError, TypeError, OSError) as exc:
            raise _SpecPlotError(i, table, exc, written) from exc
    return written


def _plot_error(exc: Exception) -> str:
    """The message of a plotting error: a KeyError's own text (not its repr), an OSError
    with the path at fault."""
    if isinstance(exc, OSError):
        return str(exc)
    return str(exc.args[0]) if exc.args else str(exc)


def _transition_report(folder: Path, plots: list[dict]) -> list[str]:
    """Lines comparing the 50% crossings of rate-vs-m curves with delta(s, n)."""
    from .plots import transitions
    from .plots.figures import RATES, _frame, _hue_label, _theory_m, filter_rows

    lines = []
    for table in plots:
        if table.get("kind") != "curve" or table.get("x") != "m" or \
                table.get("y", "recovered") not in RATES:
            continue
        y = table.get("y", "recovered")
        df = filter_rows(_frame(folder), table.get("where"))
        dm = _theory_m(df)
        hue = table.get("hue", "label")
        cross = transitions(df, "m", y, hue)
        head = f"50% {y} along m"
        if dm is not None:
            head += f" (theory delta(s={df.s.iloc[0]}, n={df.n.iloc[0]}) = {dm:.2f})"
        lines.append(head + ":")
        for label, m50 in cross.items():
            # hue may be numeric (depth = 2.0): format the key as the legend does
            name = f"  {_hue_label(hue, label):<40s}"
            if not math.isfinite(m50):  # the rate never crosses 50% on this grid
                lines.append(f"{name} no 50% crossing on this grid of m")
                continue
            rel = f"  ({100 * (m50 - dm) / dm:+.1f}% vs theory)" if dm else ""
            lines.append(f"{name} m50 = {m50:7.2f}{rel}")
    return lines


def _empty_out(args) -> bool:
    """Refuse ``--out ""`` (an unset shell variable): it read as "not given", and the
    results went to the default folder."""
    if args.out is not None and not args.out.strip():
        print("error: --out is empty; give a folder", file=sys.stderr)
        return True
    return False


def _out_is_a_file(out: Path, what: str) -> bool:
    """Refuse an output folder that is a file (it read as "[Errno 17] File exists", and
    `run` added that the finished cells were stored and the command would resume), or
    whose path the system refuses (a name over 255 bytes: a traceback, dry run too)."""
    try:
        is_file = out.exists() and not out.is_dir()
    except (OSError, ValueError) as exc:
        print(f"error: {what}: {exc}", file=sys.stderr)
        return True
    if is_file:
        print(f"error: {what} {out} is a file, not a folder; give a folder",
              file=sys.stderr)
        return True
    return False


def _run_args_error(args, spec) -> str | None:
    """What is wrong with the arguments of ``run`` given the spec, or None; checked before
    a dry run too, which otherwise passed arguments the run refuses."""
    if args.workers is not None and args.workers < 0:
        return f"--workers: must be an integer >= 0 (0: all cores), got {args.workers}"
    executor = args.executor or spec.run["executor"]
    if args.address is not None and executor != "dask":
        # the address was ignored: the run went on in local processes without a word
        return (f"--address needs the dask executor (the executor is {executor}); add "
                "--executor dask")
    if args.workers is not None and executor == "serial":
        # ignored as --address was: the cells ran one at a time without a word
        return ("--workers needs the processes or dask executor (the executor is serial); "
                "add --executor processes")
    if executor == "dask":
        return _dask_error(args.address if args.address is not None else
                           spec.run["address"], "--address" if args.address else
                           "run.address")
    return None


def _dask_error(address: str | None, what: str) -> str | None:
    """What keeps the dask executor from starting, or None: Dask not installed, or an
    address Dask cannot parse (both escaped from the run as a traceback, exit status 1,
    after the results folder was made; an unknown scheme or a missing port too)."""
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
        from distributed.comm.registry import get_backend
    except ImportError:
        return "the dask executor needs `pip install overparam[dask]`"
    if not address:  # none (or ""): a LocalCluster
        return None
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)  # an unknown scheme
        if scheme in ("tcp", "tls", "ws", "wss"):
            _, port = parse_host_port(location)  # a missing or non-numeric port
            if not 0 < port < 65536:  # (else a 30 s timeout, then "cannot reach")
                raise ValueError(f"port {port} is not in 1..65535")
    except (ValueError, ImportError) as exc:
        return (f"{what}: {address!r} is not a Dask scheduler address ({exc}); give "
                "tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786")
    return None


def _folder_error(folder: Path, spec, force: bool) -> str | None:
    """Why ``run`` would refuse the results folder (another spec's results, a damaged or
    newer manifest), or None: a dry run said nothing and exited 0, then the run refused."""
    from .experiments import StoreError, read_manifest
    from .experiments.store import _NewerStoreError

    try:
        old = read_manifest(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:  # manifest.json a folder or unreadable: the run fails on it too
        return str(exc)
    except _NewerStoreError as exc:  # refused even with --force
        return str(exc)
    except StoreError as exc:
        return None if force else str(exc)
    if old.get("spec_hash") != spec.hash and not force:
        return (f"{folder} holds results of another spec (hash {old.get('spec_hash')}, "
                f"this one {spec.hash}): use another --out folder, or --force to replace "
                "it (cells that did not change are kept)")
    return None


def _cmd_run(args) -> int:
    from .experiments import (SpecError, StoreError, enable_compilation_cache, expand_cells,
                              load_spec)

    if _empty_out(args):
        return 2
    try:
        spec = load_spec(args.spec, args.overrides)
    except (SpecError, OSError) as exc:  # OSError: missing, a folder, unreadable
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = _run_args_error(args, spec)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    folder = Path(args.out or spec.run["out"] or Path("results") / spec.name)
    if _out_is_a_file(folder, "--out" if args.out else "the results folder"):
        return 2
    if args.dry_run:
        problem = _folder_error(folder, spec, args.force)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        cells = expand_cells(spec)
        configs = spec.method_configs()
        print(f"spec {spec.name} (hash {spec.hash}): {len(cells)} cell(s) x "
              f"{spec.experiment['trials']} trial(s) x {len(configs)} method "
              f"configuration(s) = {len(cells) * spec.experiment['trials'] * len(configs)} "
              "solver runs")
        for c in configs:
            print(f"  {c.label}: {c.name} {c.params}")
        shown = 20  # a phase grid has hundreds of cells: the first ones show its shape
        print("cells (problem parameters):")
        for cell in cells[:shown]:
            print(f"  {cell.params}")
        if len(cells) > shown:
            print(f"  ... and {len(cells) - shown} more")
        return 0
    # compiled loops are reused by the workers and by later runs (see compile_cache)
    enable_compilation_cache()
    try:
        return _run(args, spec)
    except BrokenPipeError:  # stdout closed: main() ends quietly
        raise
    except (SpecError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder, the Dask scheduler
        # once the manifest is written the run may have stored cells: say that they are
        # kept (before it, e.g. a folder that cannot be made, there is nothing to resume)
        # (is_file: a manifest.json that is a folder is the error, not a stored run)
        stored = False
        with contextlib.suppress(OSError, ValueError):
            stored = (folder / "manifest.json").is_file()
        print(f"error: {exc}" + (" (cells finished before the error are stored; fix the "
                                 "cause and run the same command again to resume)"
                                 if stored else ""), file=sys.stderr)
        return 2


def _run(args, spec) -> int:
    """``overparam run`` past the dry run (a second run on the same folder at once is
    refused by ``run``, a StoreError)."""
    from .experiments import run

    summary = run(spec, args.out, executor=args.executor, workers=args.workers,
                  address=args.address, force=args.force, progress=args.progress)
    print(summary)
    if spec.plots and not args.no_plots:
        try:
            written = _spec_plots(summary.folder, spec.plots)
            report = _transition_report(summary.folder, spec.plots)
        except _SpecPlotError as exc:
            # `overparam plot FOLDER` draws the [[plots]] stored with the results, the
            # same broken table: the advice to run it could not work
            for path in exc.written:
                print(f"plot written: {path}")
            if isinstance(exc.exc, OSError):
                # the output path, not the spec, is at fault
                advice = ("the results are stored; make the plots folder writable and run "
                          "the same command again, or draw into another folder with "
                          f"`overparam plot {summary.folder} --out DIR`")
            else:
                advice = ("the results are stored; fix the spec's [[plots]] and run the same "
                          "command again, finished cells are skipped; or draw a figure with "
                          f"`overparam plot {summary.folder} --kind ...`")
            print(f"error: plots: {_plot_error(exc.exc)} in {exc.where()} ({advice})",
                  file=sys.stderr)
            return 2
        except (KeyError, ValueError, TypeError, OSError) as exc:  # the 50% report
            print(f"error: plots: {_plot_error(exc)} (the results are stored)",
                  file=sys.stderr)
            return 2
        for line in report:
            print(line)
        print(f"plots written to {Path(summary.folder) / 'plots'}:")
        for path in written:
            print(f"  {path}")
    return 0 if summary.ok else 1


def _cmd_plot(args) -> int:
    from .experiments import StoreError, read_manifest
    from .plots import plot
    from .plots.figures import parse_where

    if _empty_out(args):
        return 2
    if args.kind is None:
        # without --kind the stored [[plots]] are drawn as they are: these options were
        # ignored without a word
        given = [f"--{k}" for k in ("x", "y", "value", "hue", "stat", "name", "title")
                 if getattr(args, k) is not None]
        given += ["--where"] * bool(args.where) + ["--format"] * (args.formats is not None)
        given += [f"--[no-]{k}" for k in ("theory", "logx", "logy")
                  if getattr(args, k) is not None]
        if given:
            print(f"error: {', '.join(given)}: only with --kind (without it, the "
                  "[[plots]] of the folder's spec are drawn as they are)", file=sys.stderr)
            return 2
    else:
        problem = _kind_args_error(args)
        if problem is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    folder = Path(args.folder)
    try:
        manifest = read_manifest(folder)
    # OSError: FileNotFoundError, and a manifest.json that is a folder or unreadable
    # (IsADirectoryError, PermissionError escaped as a traceback)
    except (OSError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    if out is not None and _out_is_a_file(out, "--out"):
        return 2
    cells = _enough_cells(folder, manifest)
    if cells is None:
        return 2
    try:
        if args.kind is None:
            plots = manifest["spec"].get("plots", [])
            if not plots:
                print("error: the spec has no [[plots]]; give --kind", file=sys.stderr)
                return 2
            if cells[0] < cells[1]:
                return _partial_spec_plots(folder, plots, out, *cells)
            written = _spec_plots(folder, plots, out)
        else:
            written = plot(folder, args.kind, out=out, name=args.name,
                           # `--format png png` wrote the file twice and printed
                           # its path twice
                           formats=list(dict.fromkeys(args.formats or ["png"])),
                           x=args.x, y=args.y,
                           value=args.value, hue=args.hue,
                           where=parse_where(args.where) or None, stat=args.stat,
                           title=args.title, theory=args.theory, logx=args.logx,
                           logy=args.logy)
    except _SpecPlotError as exc:
        for path in exc.written:
            print(path)
        advice = ("give a writable --out folder" if isinstance(exc.exc, OSError) else
                  "draw it with --kind and options that fit these results")
        print(f"error: {_plot_error(exc.exc)} in {exc.where()} of the folder's spec "
              f"({advice})", file=sys.stderr)
        return 2
    except (KeyError, ValueError, TypeError, OSError) as exc:  # see _spec_plots
        print(f"error: {_plot_error(exc)}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def _partial_spec_plots(folder: Path, plots: list[dict], out: Path | None, done: int,
                        total: int) -> int:
    """``overparam plot FOLDER`` on a folder of an interrupted run: every [[plots]] table
    that the finished cells can draw is drawn; the others are named, as waiting for the
    rest of the run (they stopped the command at the first one, whose advice was to draw
    it with --kind, though the table was right and its cells were not finished yet).
    Returns the exit status (2 when a table was not drawn)."""
    failed = 0
    for i, table in enumerate(plots):
        try:
            written = _spec_plots(folder, [table], out)
        except _SpecPlotError as exc:
            if isinstance(exc.exc, OSError):  # the output folder: every table would fail
                raise _SpecPlotError(i, table, exc.exc, []) from exc.exc
            failed += 1
            where = _SpecPlotError(i, table, exc.exc, []).where()
            print(f"error: {_plot_error(exc.exc)} in {where} of the folder's spec (only "
                  f"{done} of {total} cells are finished: run the spec again to finish "
                  "them, then plot)", file=sys.stderr)
            continue
        for path in written:
            print(path)
    return 2 if failed else 0


def _kind_args_error(args) -> str | None:
    """Options of ``plot --kind`` that the figure would drop without a word, or None."""
    if args.kind == "trace" and args.x is not None:
        return ("--x: a trace plot's x axis is the iteration (give the trace field with "
                "--y)")
    if args.kind == "curve" and args.value is not None and args.y is not None:
        # --value is the curve's metric only without --y: it was dropped
        return (f"--value {args.value} and --y {args.y} both give the curve's metric; give "
                "one (--y)")
    from .experiments.spec import PLOT_OPTIONS

    # plot() named its own options: "a trace plot does not take value (it takes field,
    # hue, ..., x, y)", listing `field`, which has no flag, and `x`, refused above
    flags = {"x": "--x", "y": "--y", "value": "--value", "hue": "--hue",
             "where": "--where", "stat": "--stat", "title": "--title",
             "theory": "--[no-]theory", "logx": "--[no-]logx", "logy": "--[no-]logy"}
    if args.kind == "trace":
        flags.pop("x")
    given = [flag for key, flag in flags.items()
             if (bool(args.where) if key == "where" else getattr(args, key) is not None)]
    wrong = [flag for key, flag in flags.items()
             if flag in given and key not in PLOT_OPTIONS[args.kind]]
    if wrong:
        takes = [flag for key, flag in flags.items() if key in PLOT_OPTIONS[args.kind]]
        return (f"{', '.join(wrong)}: not {'an option' if len(wrong) == 1 else 'options'} "
                f"of --kind {args.kind} (it takes "
                f"{', '.join(takes)})")
    return None


def _enough_cells(folder: Path, manifest: dict) -> tuple[int, int] | None:
    """The numbers of finished cells and of all cells of the folder's spec; None, with a
    message, when no cell is finished (the figures failed with "no column 'm' in the
    results (columns: )"); a note on stderr when some are not."""
    import pyarrow.parquet as pq

    from .experiments.store import Store

    def readable(path: Path) -> bool:
        try:
            pq.read_metadata(path)  # the footer only: a truncated part fails here
        except Exception:  # noqa: BLE001 - any unreadable part
            return False
        return True

    cells = manifest.get("cells", [])
    store = Store(folder)
    present = [p for p in map(store.part_path, cells) if p.exists()]
    done = sum(map(readable, present))
    if cells and not done:
        # (all parts damaged gave "no column 'm' in the results (columns: )")
        # (an interrupted one-cell study read "run its spec with `overparam run` first",
        # as if it had never run, its finished configurations checkpointed)
        pending = 0
        with contextlib.suppress(OSError):
            pending = sum(1 for _ in store.pending.glob("*.pkl"))
        why = (f"{len(present)} part(s) unreadable (damaged or truncated): `overparam run` "
               "with its spec recomputes them" if present else
               f"its run was interrupted with {pending} finished method configuration(s) "
               "checkpointed: run its spec with `overparam run` again to finish it"
               if pending else "run its spec with `overparam run` first")
        print(f"error: {folder} holds no finished cell yet (0 of {len(cells)}): {why}",
              file=sys.stderr)
        return None
    if done < len(cells):
        print(f"note: {done} of {len(cells)} cells of {folder} are finished; the figures "
              "show those (run the spec again to finish the others)", file=sys.stderr)
    return done, len(cells)


def _cmd_info(args) -> int:
    import importlib.metadata as md
    import platform

    import jax

    import overparam

    from ._core import xla_loops
    from .experiments.generators import GENERATORS, PROBLEM_KINDS, generator_kinds
    from .experiments.measures import METRICS
    from .experiments.methods import METHODS

    print(f"overparam {overparam.__version__} (Python {platform.python_version()})")
    for pkg in ("jax", "jaxlib", "numpy", "scipy", "pandas", "pyarrow", "matplotlib",
                "tqdm", "dask", "distributed"):
        try:
            print(f"  {pkg:<12s}{md.version(pkg)}")
        except md.PackageNotFoundError:
            print(f"  {pkg:<12s}not installed")
    print(f"devices: {', '.join(str(d) for d in jax.devices())} "
          f"(x64 {'on' if jax.config.jax_enable_x64 else 'off'})")
    print(f"compilation cache of `overparam run`: {_cache_line()}")
    print(f"XLA small-loop compilation: {xla_loops.state()}")
    print("methods:")
    for name, entry in sorted(METHODS.items()):
        flags = [] if entry.available else ["NOT AVAILABLE"]
        if entry.batchable:
            flags.append("batched")
        # a parameter without a default is marked: a spec must set it (lasso's alpha)
        params = ", ".join(f"{k}: {t}" + (" (required)" if k in entry.required else "")
                           for k, t in entry.params.items()) or "-"
        print(f"  {name:<24s}{entry.description}" + (f" [{', '.join(flags)}]" if flags else ""))
        print(f"  {'':<24s}params: {params}")
        # which generator to pair it with (a spec pairing another kind is refused)
        kind = PROBLEM_KINDS.get(entry.problems)
        example = f" (e.g. generator {kind[0]})" if kind else ""
        print(f"  {'':<24s}solves: {entry.problems} problems{example}")
    print("metrics:")
    for name, m in METRICS.items():
        print(f"  {name:<24s}{m.description}")
    print("problem generators:")
    for name, g in GENERATORS.items():
        choices = dict(g.choices)
        params = ", ".join(
            f"{k}: {t}" + (" (required)" if k in g.required else "")
            + (f" in {{{', '.join(choices[k])}}}" if k in choices else "")
            for k, t in g.params.items())
        print(f"  {name:<24s}params: {params}")
        kinds = generator_kinds(name)
        print(f"  {'':<24s}makes: " + (f"{' / '.join(kinds)} problems" if kinds else
                                       "undeclared problem kinds (no method is refused)"))
    return 0


def _cache_line() -> str:
    """Where `overparam run` keeps compiled programs (``info`` changes nothing)."""
    from .experiments.compile_cache import ENV_VAR, chosen_cache_dir

    folder = chosen_cache_dir()
    if folder is None:
        return f"off ({ENV_VAR}={os.environ.get(ENV_VAR)})"
    return f"{folder} ({ENV_VAR}=DIR or =off to change)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``overparam`` console script.

    Ctrl-C gives exit status 130 and one line on stderr (not a traceback); a closed
    output pipe (``overparam info | head``) ends the command quietly with status 141, as
    a shell reports a process killed by SIGPIPE.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name (default ``sys.argv[1:]``); argparse exits
        (``SystemExit``, status 2) on invalid ones.

    Returns
    -------
    int
        The exit status: the command's own (0 on success), 130 on Ctrl-C, 141 on a
        closed output pipe.
    """
    args = _parser().parse_args(argv)
    try:
        if args.command == "sketch":
            from .mamstar.cli import command

            code = command(args)
        else:
            code = {"run": _cmd_run, "plot": _cmd_plot, "info": _cmd_info}[args.command](args)
        sys.stdout.flush()  # a closed pipe fails here, not at exit after a "return"
        return code
    except KeyboardInterrupt:
        print(f"\n{_interrupted(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader is gone: nothing more can be written, and Python's flush at exit
        # would fail again with "Exception ignored"; point stdout at devnull
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 141


def _interrupted(args) -> str:
    """The one line printed on Ctrl-C: what was kept and how to go on."""
    if args.command == "run":
        return ("overparam run: interrupted; the finished cells are stored, run the same "
                "command again to resume")
    if args.command == "sketch" and getattr(args, "checkpoint", None):
        return (f"overparam sketch: interrupted; the finished shards are saved in "
                f"{args.checkpoint}, run the same command again to resume")
    return f"overparam {args.command}: interrupted"


if __name__ == "__main__":  # python -m overparam.cli
    sys.exit(main())
