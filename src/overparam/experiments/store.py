"""The results store: a folder of Parquet part files (one per cell) plus a manifest.

Layout::

    FOLDER/manifest.json          format version, spec, spec hash, cell keys in grid
                                  order, library versions
    FOLDER/parts/<cell key>.parquet     one row per (trial, method configuration)
    FOLDER/traces/<cell key>.parquet    solver traces (long format), when requested
    FOLDER/pending/<config key>.pkl     a finished method configuration of a cell that is
                                        still running (see below)

Every file is written to a temporary name, flushed and renamed (atomic on POSIX), the trace
part before the result part, so a finished cell is exactly a valid result part: a crash
loses at most the cells in flight, and a re-run skips finished cells. A part that does not
read back completely (truncated, corrupt, wrong row count or cell, or its cell's trace
part lost) is reported with a warning, removed and recomputed.

When the executors split a cell into one task per method configuration (few cells, many
configurations), every finished configuration is checkpointed in ``pending/`` under a
content hash of what determines its rows (``cells.config_key``), and the files of a cell
are removed once its part is written. A crash therefore loses only the configurations in
flight, and a run of an edited spec (``--force``) keeps the finished configurations that
did not change. Pending files are Python pickles of the rows: private checkpoints of this
library, never meant to be shared or read by anything else.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = ["Store", "StoreError", "folder_lock", "load", "load_traces", "read_manifest"]

MANIFEST = "manifest.json"
#: format version of the manifests this library writes (and the newest it reads); a
#: manifest without ``format_version`` was written before versions and is version 1
MANIFEST_VERSION = 1
#: the type of each section of a stored spec (the sections a reader uses)
_SPEC_SECTIONS = {"experiment": dict, "problem": dict, "methods": list, "run": dict,
                  "plots": list}


class StoreError(RuntimeError):
    """The folder cannot be used as it is: it holds results of a different spec, or its
    manifest is damaged (``force`` replaces the manifest in both cases)."""

LOCK = ".overparam-run.lock"


@contextlib.contextmanager
def folder_lock(folder: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on a results folder (created if needed) while a run writes
    to it.

    Two runs on one folder at once both computed every cell, and the second one's
    ``clean_temporary`` could delete the first one's in-flight files. Where locks are not
    supported (no ``fcntl``, a file system refusing them) the run goes on unlocked. Folders
    made here and left holding only the lock (the run failed before writing) are removed.

    Parameters
    ----------
    folder : str or Path
        The results folder; it (and missing parents) is created. The lock is the file
        ``.overparam-run.lock`` in it, holding the locking process's id.

    Yields
    ------
    None
        While the lock is held (a context manager: ``with folder_lock(out): ...``).

    Raises
    ------
    StoreError
        If another process holds the lock.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        # (was "[Errno 17] File exists: FOLDER", from mkdir)
        raise StoreError(f"{folder} is a file, not a results folder: give a folder")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    made = [d for d in (folder, *folder.parents) if not d.exists()]  # deepest first
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            raise StoreError(f"{folder} is in use by another run (pid {holder}): wait for "
                             "it to finish, or use another output folder") from None
        except OSError:  # e.g. ENOLCK on a network file system: no lock to take
            pass
        else:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        try:
            yield
        finally:
            if made and {p.name for p in folder.iterdir()} == {LOCK}:
                lock.unlink(missing_ok=True)
                with contextlib.suppress(OSError):  # not empty: another process's
                    for d in made:
                        d.rmdir()
    finally:
        os.close(fd)  # releases the lock



class _NewerStoreError(StoreError):
    """The manifest is of a format this library does not know (a newer overparam wrote
    it): refused even with ``force``, which would rewrite another version's folder."""


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed over it.

    A failing write (a full disk, a read-only folder) removes its temporary file, which
    otherwise held the space until the next run, and raises the OSError with ``path``
    named (a write's own error, ``[Errno 28] No space left on device``, names no file).
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.filename is not None or exc.errno is None:
            raise
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc


#: names of the checkpoints in ``pending/`` (``cells.config_key``: 20 hex digits)
_CONFIG_NAME = re.compile(r"[0-9a-f]{20}")


def _is_part(path: Path) -> bool:
    """Whether ``path`` is a Parquet part written by this library (tagged with its cell;
    unreadable files are not recognisably ours)."""
    import pyarrow.parquet as pq

    try:
        return b"overparam.cell" in (pq.read_schema(path).metadata or {})
    except Exception:  # noqa: BLE001 - not Parquet, truncated, unreadable
        return False


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _normalize(df):
    """Object columns that mix types are written as strings (Parquet needs one type);
    missing values (a method without the parameter: None or NaN) stay missing. (NaN used
    to count as a type: a bool parameter of some methods was stored as 'True' / 'False' /
    'nan' strings, and ``where`` on it matched nothing.)"""
    for col in df.columns:
        if df[col].dtype == object:
            kinds = {type(v) for v in df[col] if not _missing(v)}
            if len(kinds) > 1:
                df[col] = [None if _missing(v) else str(v) for v in df[col]]
    return df


def _table_bytes(rows: list[dict], key: str, traces: int | None = None) -> bytes:
    """Parquet bytes of ``rows``, tagged with the cell ``key``, the row count and (for a
    result part) the number of trace rows written with it."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = _normalize(pd.DataFrame(rows))
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[b"overparam.cell"] = key.encode()
    meta[b"overparam.rows"] = str(len(rows)).encode()
    if traces is not None:
        meta[b"overparam.traces"] = str(traces).encode()
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _trace_rows(meta: dict) -> int:
    """Trace rows written with a result part (from its Parquet metadata; 0 when the part
    predates the tag or holds a malformed one)."""
    try:
        return int(meta.get(b"overparam.traces", b"0"))
    except ValueError:
        return 0


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of a results folder.

    Parameters
    ----------
    folder : str or Path
        A results folder (holding ``manifest.json``).

    Returns
    -------
    dict
        The manifest: ``spec``, ``spec_hash``, ``cells`` (cell keys in grid order), and
        the format and library versions.

    Raises
    ------
    FileNotFoundError
        The folder has no manifest.
    StoreError
        The manifest does not read back as a manifest of this library (truncated, edited by
        hand, another program's file, or valid JSON of the wrong structure), or it is of a
        newer format version than this library reads (``MANIFEST_VERSION``; a manifest
        without ``format_version`` is version 1).
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"{folder} is not a results folder (no {MANIFEST})")
    if not path.is_file():  # (was a raw IsADirectoryError; a FIFO blocked for ever)
        what = "Is a directory" if path.is_dir() else "Not a regular file"
        raise StoreError(f"{path}: {what}, not a manifest, so {folder} is not a results "
                         f"folder: remove or rename {path}, or use another --out folder")
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path} is damaged ({type(exc).__name__}: {exc}); re-run the "
                         "spec with --force to rebuild it (finished cells are kept)"
                         ) from exc
    # first: a newer format may be laid out differently
    version = data.get("format_version", 1) if isinstance(data, dict) else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise StoreError(f"{path} is not a manifest of overparam (malformed format_version "
                         f"{version!r}); re-run the spec with --force to rebuild it "
                         "(finished cells are kept)")
    if version > MANIFEST_VERSION:
        raise _NewerStoreError(
            f"{folder} holds results in store format version {version!r} ({path}); this "
            f"overparam reads format versions up to {MANIFEST_VERSION}: use the overparam "
            "that wrote it (a newer one?), or another --out folder")
    missing = [k for k in ("spec", "spec_hash", "cells") if not isinstance(data, dict)
               or k not in data]
    if not missing:
        cells = data["cells"]
        missing = [k for k, ok in (
            ("spec", isinstance(data["spec"], dict)),
            ("cells", isinstance(cells, list) and all(isinstance(c, str) for c in cells)))
            if not ok]
    if not missing:
        # readers use these (plots, load_traces): a wrong type would surface there as an
        # AttributeError or TypeError instead of naming this file
        if not isinstance(data["spec_hash"], str):
            missing.append("spec_hash")
        for section, kind in _SPEC_SECTIONS.items():
            value = data["spec"].get(section, kind())
            if not isinstance(value, kind) or (kind is list and not all(
                    isinstance(t, dict) for t in value)):
                missing.append(f"spec.{section}")
    if missing:
        raise StoreError(f"{path} is not a manifest of overparam (missing or malformed "
                         f"{', '.join(missing)}); re-run the spec with --force to "
                         "rebuild it (finished cells are kept)")
    return data


class Store:
    """A results folder (see the module docstring).

    Attributes
    ----------
    folder : str or Path
        The results folder (stored as a Path); nothing is created until :meth:`prepare`.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.parts = self.folder / "parts"
        self.traces = self.folder / "traces"
        self.pending = self.folder / "pending"

    # -- set-up -------------------------------------------------------------------------
    def prepare(self, spec: Any, cell_keys: list[str], versions: dict[str, str], *,
                force: bool = False, config_keys: Iterable[str] = ()) -> None:
        """Create the folder or check that it belongs to ``spec``.

        A folder holding a different spec is refused unless ``force``; then the manifest is
        replaced and parts of cells the new spec does not have are removed (cells whose
        content hash is unchanged are kept), and so are checkpointed configurations whose
        key is not in ``config_keys``. Only files this library wrote are removed: others
        (e.g. in a folder whose ``manifest.json`` is another program's) are left with a
        warning. A ``manifest.json`` that is not a file is refused even with ``force``.
        """
        path = self.folder / MANIFEST
        if path.exists() and not path.is_file():
            # refused even with force, which cannot write a manifest over a directory
            read_manifest(self.folder)
        for d in (self.parts, self.traces, self.pending):
            if d.exists() and not d.is_dir():  # (was a raw FileExistsError from mkdir)
                raise StoreError(f"{d} is not a directory, so {self.folder} is not a "
                                 "results folder: use another --out folder")
        if path.exists():
            try:
                old = read_manifest(self.folder)
            except _NewerStoreError:
                raise
            except StoreError:
                if not force:
                    raise
                # parts carry their cell key, so those of this spec's cells stay valid
                old = {}
            if old.get("spec_hash") != spec.hash and not force:
                raise StoreError(
                    f"{self.folder} holds results of another spec (hash {old.get('spec_hash')}"
                    f", this one {spec.hash}): use another --out folder, or --force to "
                    "replace it (cells that did not change are kept)")
            if old.get("spec_hash") == spec.hash:
                self._mkdirs()
                if old.get("spec") != spec.data or old.get("cells") != cell_keys:
                    # the same results, but [[plots]] or [run] edited: `overparam plot
                    # FOLDER` draws the stored plots, and kept drawing the first run's;
                    # or the cell list edited by hand: load skipped the parts of the
                    # cells left out, and every run said they were done
                    manifest = dict(old, spec=spec.data, spec_toml=spec.to_toml(),
                                    cells=cell_keys)
                    _atomic_write_bytes(path, json.dumps(manifest, indent=1,
                                                         sort_keys=True).encode())
                return
            self._remove_stale(set(cell_keys), set(config_keys))
        self._mkdirs()
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        manifest = dict(format_version=MANIFEST_VERSION, spec=spec.data, spec_hash=spec.hash,
                        spec_toml=spec.to_toml(), cells=cell_keys, created=now, **versions)
        _atomic_write_bytes(path, json.dumps(manifest, indent=1, sort_keys=True).encode())

    def _mkdirs(self) -> None:
        for d in (self.parts, self.traces, self.pending):
            d.mkdir(parents=True, exist_ok=True)

    def _remove_stale(self, keep: set[str], keep_cfg: set[str]) -> None:
        """Remove (for ``force``) the parts of cells not in ``keep`` and the checkpoints
        not in ``keep_cfg``: only files this library wrote. ``force`` on a folder whose
        manifest is another program's deleted every ``parts/*.parquet`` and
        ``traces/*.parquet`` in it, whoever had written them; such files are left with a
        warning (``load`` skips them)."""
        left = []
        for d in (self.parts, self.traces):
            for f in d.glob("*.parquet"):
                if f.stem not in keep:
                    if _is_part(f):
                        f.unlink()
                    else:
                        left.append(f)
        for f in self.pending.glob("*.pkl"):
            if f.stem not in keep_cfg:
                if _CONFIG_NAME.fullmatch(f.stem):
                    f.unlink()
                else:
                    left.append(f)
        if left:
            names = ", ".join(str(f) for f in sorted(left)[:5])
            warnings.warn(f"{self.folder}: left {len(left)} file(s) that are not readable "
                          f"overparam results ({names}{', ...' if len(left) > 5 else ''}); "
                          "move them out of the results folder", RuntimeWarning,
                          stacklevel=3)

    def clean_temporary(self) -> None:
        """Remove temporary files left by a killed run."""
        for d in (self.parts, self.traces, self.pending):
            for f in d.glob(".*.tmp"):
                f.unlink(missing_ok=True)

    # -- parts --------------------------------------------------------------------------
    def part_path(self, key: str) -> Path:
        return self.parts / f"{key}.parquet"

    def check_part(self, key: str, expected_rows: int) -> bool:
        """True when the cell's part reads back completely with the expected rows; a part
        that exists but fails is removed with a warning (it will be recomputed)."""
        import pyarrow.parquet as pq

        path = self.part_path(key)
        if not path.exists():
            return False
        try:
            table = pq.read_table(path)
            meta = table.schema.metadata or {}
            if meta.get(b"overparam.cell", b"").decode() != key:
                raise ValueError("the part belongs to another cell")
            if table.num_rows != expected_rows:
                raise ValueError(f"{table.num_rows} rows, expected {expected_rows}")
            # the cell's traces are written with it and recomputed only with it
            trace = self.traces / path.name
            if not trace.exists() and _trace_rows(meta):
                # deleted or lost: the cell's traces would be missing from load_traces
                # for good, without a word (parts written before this tag are not checked)
                raise ValueError("its trace part is missing")
            if trace.exists():
                try:
                    tmeta = pq.read_table(trace).schema.metadata or {}
                except Exception as exc:  # noqa: BLE001
                    raise ValueError(f"its trace part: {type(exc).__name__}: {exc}") from exc
                if tmeta.get(b"overparam.cell", b"").decode() != key:
                    raise ValueError("its trace part belongs to another cell")
        except Exception as exc:  # noqa: BLE001 - any unreadable part is recomputed
            warnings.warn(f"corrupt or truncated part {path.name} ({type(exc).__name__}: "
                          f"{exc}); removing it, the cell will be recomputed",
                          RuntimeWarning, stacklevel=2)
            path.unlink(missing_ok=True)
            (self.traces / path.name).unlink(missing_ok=True)
            return False
        return True

    def finished(self, keys: Iterable[str], expected_rows: int) -> set[str]:
        """Keys of the cells already finished (valid parts)."""
        return {k for k in keys if self.check_part(k, expected_rows)}

    def write(self, output: dict[str, Any]) -> Path:
        """Write one cell's output (trace part first, then the result part)."""
        key = output["key"]
        if output.get("traces"):
            _atomic_write_bytes(self.traces / f"{key}.parquet",
                                _table_bytes(output["traces"], key))
        path = self.part_path(key)
        _atomic_write_bytes(path, _table_bytes(output["rows"], key,
                                               len(output.get("traces") or ())))
        return path

    def error_tally(self, keys: Iterable[str]) -> dict[str, list]:
        """Per method configuration, over the stored parts of the cells ``keys``: label ->
        ``[rows, error rows, first error message]`` (unreadable parts are skipped: they are
        reported and recomputed by the next run)."""
        import pyarrow.parquet as pq

        tally: dict[str, list] = {}
        for key in keys:
            path = self.part_path(key)
            if not path.exists():
                continue
            try:
                cols = pq.read_table(path, columns=["label", "status", "error"]).to_pydict()
            except Exception:  # noqa: BLE001 - see the docstring
                continue
            for label, status, error in zip(cols["label"], cols["status"], cols["error"]):
                entry = tally.setdefault(label, [0, 0, ""])
                entry[0] += 1
                if status == "error":
                    entry[1] += 1
                    entry[2] = entry[2] or error
        return tally

    # -- configurations of cells in flight ---------------------------------------------------
    def write_config(self, ckey: str, output: dict[str, Any]) -> Path:
        """Checkpoint one finished method configuration of a cell (``ckey`` from
        ``cells.config_key``; ``output`` as returned by ``run_cell`` for that part)."""
        path = self.pending / f"{ckey}.pkl"
        blob = dict(format=1, config=ckey, output=output)
        _atomic_write_bytes(path, pickle.dumps(blob, protocol=pickle.HIGHEST_PROTOCOL))
        return path

    def finished_configs(self, ckeys: dict[str, str], expected_rows: int
                         ) -> dict[str, dict[str, Any]]:
        """Checkpointed outputs among ``ckeys`` (configuration key -> content key), as
        configuration key -> output. Unreadable or incomplete files are removed with a
        warning (the configuration will be recomputed)."""
        found = {}
        for cfg, ckey in ckeys.items():
            path = self.pending / f"{ckey}.pkl"
            if not path.exists():
                continue
            try:
                blob = pickle.loads(path.read_bytes())
                if not isinstance(blob, dict) or blob.get("config") != ckey:
                    raise ValueError("the file belongs to another configuration")
                out = blob["output"]
                if len(out["rows"]) != expected_rows:
                    raise ValueError(f"{len(out['rows'])} rows, expected {expected_rows}")
            except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is redone
                warnings.warn(f"corrupt or truncated checkpoint {path.name} "
                              f"({type(exc).__name__}: {exc}); removing it, the "
                              "configuration will be recomputed", RuntimeWarning,
                              stacklevel=2)
                path.unlink(missing_ok=True)
                continue
            found[cfg] = out
        return found

    def drop_configs(self, ckeys: Iterable[str]) -> None:
        """Remove the checkpoints of a cell whose part is written."""
        for ckey in ckeys:
            (self.pending / f"{ckey}.pkl").unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------
    def _ordered_parts(self, directory: Path) -> list[Path]:
        """The parts of the manifest's cells, in grid order (all parts when there is no
        manifest). A part of no cell of the spec (copied in from another folder) is
        skipped with a warning: its rows belong to another spec."""
        try:
            order = {k: i for i, k in enumerate(read_manifest(self.folder)["cells"])}
        except FileNotFoundError:
            return sorted(directory.glob("*.parquet"))
        files = []
        for f in directory.glob("*.parquet"):
            if f.stem in order:
                files.append(f)
            else:
                warnings.warn(f"skipping part {f} (not a cell of the spec in "
                              f"{self.folder / MANIFEST}; another spec's results?)",
                              RuntimeWarning, stacklevel=4)
        return sorted(files, key=lambda f: order[f.stem])

    def load(self):
        """All result rows as a pandas DataFrame (unreadable parts, and parts holding rows
        of no cell of the manifest's spec, skipped with a warning)."""
        return self._load(self.parts)

    def load_traces(self):
        """Trace rows joined with their cell's problem parameters and their method
        configuration's parameters (so traces filter like rows: ``where``, ``hue``).
        Traces of a cell without a readable result part (a run killed between the two
        writes, a damaged part) are left out: a cell is finished with its result part."""
        import pandas as pd

        from .runner import RESERVED_COLUMNS

        self._warn_missing_traces()
        traces = self._load(self.traces)
        if traces.empty:
            return traces
        rows = self.load()
        if rows.empty:  # (selecting the join columns raised a KeyError)
            return traces.iloc[:0]
        spec = read_manifest(self.folder)["spec"]
        per_trial = set(RESERVED_COLUMNS) | set(spec["experiment"].get("metrics", ()))
        params = [c for c in rows.columns
                  if c not in per_trial and c not in traces.columns]
        configs = rows[["cell", "label"] + params].drop_duplicates(["cell", "label"])
        # inner: orphan traces joined as NaN parameters, which every `where` keeps
        return pd.merge(traces, configs, on=["cell", "label"], how="inner")

    def _warn_missing_traces(self) -> None:
        """Warn about result parts whose cell wrote traces that are no longer there (their
        rows would silently be absent from :meth:`load_traces`)."""
        import pyarrow.parquet as pq

        lost = []
        for f in self.parts.glob("*.parquet"):
            if (self.traces / f.name).exists():
                continue
            try:
                meta = pq.read_schema(f).metadata or {}
            except Exception:  # noqa: BLE001 - unreadable parts are reported by load
                continue
            if _trace_rows(meta):
                lost.append(f.stem)
        if lost:
            warnings.warn(f"the trace parts of {len(lost)} cell(s) of {self.folder} are "
                          f"missing ({', '.join(sorted(lost))}); their traces are left out: "
                          "re-run the spec to recompute those cells", RuntimeWarning,
                          stacklevel=3)

    def _load(self, directory: Path):
        import pandas as pd
        import pyarrow.parquet as pq

        frames = []
        for f in self._ordered_parts(directory):
            try:
                table = pq.read_table(f)
                # a part renamed or copied over another cell's holds another cell's rows
                cell = (table.schema.metadata or {}).get(b"overparam.cell", b"").decode()
                if cell != f.stem:
                    raise ValueError(f"it holds the rows of cell {cell or '?'!r}")
                frames.append(table.to_pandas())
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"skipping unreadable part {f} ({exc}); re-run the spec to "
                              "recompute it", RuntimeWarning, stacklevel=3)
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)


def load(folder: str | Path):
    """The results of a sweep as a pandas DataFrame (one row per trial and method).

    Parameters
    ----------
    folder : str or Path
        A results folder written by ``overparam run``.

    Returns
    -------
    pandas.DataFrame
        The rows of all readable parts (unreadable parts are skipped with a warning).

    Raises
    ------
    FileNotFoundError
        If the folder has no manifest.
    StoreError
        If the manifest is damaged or of a newer format (see :func:`read_manifest`).

    Examples
    --------
    >>> df = load("results/more_is_less")                         # doctest: +SKIP
    >>> df.groupby(["label", "m"]).recovered.mean()               # doctest: +SKIP
    """
    read_manifest(folder)
    return Store(folder).load()


def load_traces(folder: str | Path):
    """Stored solver traces (long format: one row per record point) with cell parameters.

    Parameters
    ----------
    folder : str or Path
        A results folder written by ``overparam run`` (traces are stored when the spec
        sets ``experiment.traces = true``).

    Returns
    -------
    pandas.DataFrame
        Trace rows joined with their cell's problem parameters and their method
        configuration's parameters; empty when no traces were stored. Traces of a
        cell without a readable result part are left out.

    Raises
    ------
    FileNotFoundError
        If the folder has no manifest.
    StoreError
        If the manifest is damaged or of a newer format (see :func:`read_manifest`).
    """
    read_manifest(folder)
    return Store(folder).load_traces()
