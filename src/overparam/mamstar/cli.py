"""``overparam sketch``: build a MAM* sketch from COO shards on disk (resumable, optionally
on Dask workers) and, with ``--rank``, decode its sparse top eigenvectors."""
from __future__ import annotations

import argparse
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "command"]

# what reading bad data raises (a corrupt or wrong-structure shard, NaN or out-of-range
# entries, a checkpoint of other settings, a zero sketch at the decode): reported as one
# "overparam sketch: ..." line with exit status 1, not as a traceback
_DATA_ERRORS = (ValueError, TypeError, KeyError, IndexError, OSError, EOFError,
                zipfile.BadZipFile)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``sketch`` subcommand to the ``overparam`` command line.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the main parser (``parser.add_subparsers()``).

    Returns
    -------
    argparse.ArgumentParser
        The ``sketch`` subparser (shards, ``--n``, the prime rule, ``--symmetry``,
        ``--bits``, ``--checkpoint``, ``--executor``/``--workers``/``--address``,
        ``--out``, ``--rank``/``--decoder`` and ``--progress``).
    """
    s = sub.add_parser(
        "sketch", help="one-pass MAM* sketch of a huge symmetric matrix from COO shards",
        description="Sketch B = (1/K) M A M^T from COO shards (.npz/.npy with row, col, "
        "value arrays, or .parquet with those columns), saving the running sum after each "
        "shard in --checkpoint so that an interrupted build resumes. With --rank, also "
        "decode the sparse top eigenvectors (median or bit-test decoder).",
        # (not run's and plot's 2 for bad input: every error here is one "overparam
        # sketch: ..." line with status 1)
        epilog="exit status: 0 done; 1 an error in the arguments, shards, checkpoint or "
        "output (one line on stderr), or --rank decoded nothing (the sketch is saved); 2 "
        "unknown or malformed options; 130 interrupted (Ctrl-C: finished shards are kept "
        "in --checkpoint)")
    s.add_argument("shards", nargs="+", help="shard files or folders of shards")
    s.add_argument("--n", type=int, required=True, help="dimension N of A")
    s.add_argument("--sparsity", type=int, help="sparsity s (sets the primes by the rule, "
                   "and the decoded sparsity)")
    s.add_argument("--primes", help="comma-separated primes (instead of the rule)")
    s.add_argument("--smallest-prime", type=int)
    s.add_argument("--rule-n", type=int, help="apply the prime rule to this nominal N")
    s.add_argument("--rule-s", type=int, help="apply the prime rule to this nominal s")
    s.add_argument("--symmetry", choices=("both", "upper", "lower"), default="both",
                   help="both: every entry given; upper/lower: each off-diagonal pair once")
    s.add_argument("--bits", type=int, help="bit-test extension with this many test vectors "
                   "(default with --decoder bittest: rank + 10)")
    s.add_argument("--checkpoint", help="folder of the resumable partial sketch")
    s.add_argument("--executor", choices=("serial", "dask"), default="serial")
    s.add_argument("--workers", type=int, default=0, help="Dask workers (0: all cores)")
    s.add_argument("--address", help="Dask scheduler (default: a LocalCluster)")
    s.add_argument("--out", required=True, help="output sketch file (.npz)")
    s.add_argument("--rank", type=int, help="also decode this many eigenvectors")
    s.add_argument("--decoder", choices=("median", "bittest"), default="median")
    s.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    return s


def _die(msg: str) -> SystemExit:
    return SystemExit(f"overparam sketch: {msg}")


def _check_out(path: Path) -> None:
    """Refuse an ``--out`` that could not be written, before the pass (not after it)."""
    try:  # the save would create it after the pass: fail now instead
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _die(f"--out {path}: cannot create its folder ({exc})") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise _die(f"--out {path}: folder {path.parent} is not writable")


def _message(exc: BaseException) -> str:
    # str(KeyError) is the repr of its message (quoted)
    return str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)


def _open_shard(path: str) -> None:
    """Read only the header of a shard (zip directory, .npy header, Parquet footer), so
    that an unreadable or wrong-structure shard is refused, by name, before the pass:
    mid-pass, numpy's and pyarrow's errors ("File is not a zip file") name no file."""
    import numpy as np

    from .sketch import _NAMES

    suffix = Path(path).suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                names = set(z.files)
        elif suffix == ".npy":
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.dtype.names is None:
                raise TypeError("a .npy shard must be a structured array with fields "
                                "row/col/value")
            names = set(arr.dtype.names)
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            names = set(pq.ParquetFile(path).schema_arrow.names)
        else:
            return  # read_shard names unknown formats
    except ImportError:  # pyarrow missing: its own message says what to install
        raise
    except TypeError as exc:  # ours: not a structured array
        raise ValueError(f"{path}: {exc}") from None
    except Exception as exc:  # OSError, BadZipFile, pyarrow's ArrowException, ...
        raise ValueError(f"{path}: cannot be read as a {suffix} file: "
                         f"{_message(exc)}") from None
    if not any(set(c) <= names for c in _NAMES):
        raise ValueError(f"{path}: a COO shard needs arrays row/col/value (or i/j/v), "
                         f"found {sorted(names)}")


def command(args: argparse.Namespace) -> int:
    """Run ``overparam sketch``: check every argument and shard header, sketch the shards
    (resumably), save the sketch to ``--out`` and, with ``--rank``, decode its sparse top
    eigenvectors into ``<out>.vectors.npz``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of the parser made by :func:`add_parser`.

    Returns
    -------
    int
        0 on success; 1 when the decode did not succeed (e.g. a decoded vector is zero:
        the files are written, the reason goes to stderr).

    Raises
    ------
    SystemExit
        With a one-line ``"overparam sketch: ..."`` message on invalid arguments or bad
        data (before the pass where possible).
    """
    from .._core import check_int
    from .api import _check_recover, _kind, _plan, recover, sketch
    from .sketch import _STATE, _load_state, _shard_files

    try:
        # `is not None`: --primes "" (an unset shell variable) fell back to the rule
        primes = ([int(p) for p in args.primes.split(",")] if args.primes is not None
                  else None)
    except ValueError:
        raise _die(f"--primes must be comma-separated integers, got {args.primes!r}") from None
    try:  # explicit zeros must not read as "not given" (no decode, no bits, N for rule_n)
        for name, value, low in (("--sparsity", args.sparsity, 1), ("--rule-s", args.rule_s, 1),
                                 ("--rule-n", args.rule_n, 2), ("--rank", args.rank, 1),
                                 ("--bits", args.bits, 1), ("--workers", args.workers, 0),
                                 ("--smallest-prime", args.smallest_prime, 1)):
            if value is not None:
                check_int(value, name, minimum=low)
    except (ValueError, TypeError) as exc:
        raise _die(str(exc)) from None
    if primes is None and args.sparsity is None and args.rule_s is None:
        raise _die("give --sparsity (or --rule-s) or --primes")
    s = args.sparsity if args.sparsity is not None else args.rule_s
    if args.rank is not None and s is None:
        raise _die("--rank needs --sparsity")
    bits = args.bits
    if args.rank is not None and args.decoder == "bittest" and bits is None:
        bits = args.rank + 10  # as sparse_top_eigenvectors
    if not args.out.strip():  # `--out "$OUT"` with OUT unset read as "--out ." (a folder)
        raise _die("--out is empty; give a file name such as B.npz")
    out = Path(args.out)
    if out.is_dir():
        raise _die(f"--out {out} is a folder; give a file name such as B.npz")
    ours = [out.resolve()] + ([out.with_suffix(".vectors.npz").resolve()]
                              if args.rank is not None else [])
    shards: list[str] = []
    try:
        for item in args.shards:  # folders expand as in the API (no hidden files)
            shards += _shard_files(item)
            # an output written into a shard folder is read as a shard by the next run
            # (or overwrites one now): refuse it before the pass
            hit = [o for o in ours if str(o) in shards or (
                Path(item).is_dir() and o.parent == Path(item).resolve()
                and o.suffix.lower() in (".npz", ".npy", ".parquet"))]
            if hit:
                raise ValueError(f"the output {hit[0]} would be among the shards of "
                                 f"{item} (a folder's .npz files are all read as shards): "
                                 "write --out outside the shard folders")
        if len(set(shards)) != len(shards):
            raise ValueError("a shard is listed twice (its entries would count twice)")
        if args.checkpoint is not None and Path(args.checkpoint).exists() and not Path(
                args.checkpoint).is_dir():
            raise ValueError(f"--checkpoint {args.checkpoint} is a file; it must be a folder")
        if args.checkpoint is not None and (Path(args.checkpoint) / _STATE).resolve() in ours:
            # the saved sketch would replace the state (and its list of finished shards):
            # the next run would add every shard to it again
            raise ValueError(f"--out {out} is the checkpoint's state file; write --out "
                             "elsewhere")
    except (ValueError, FileNotFoundError) as exc:
        raise _die(str(exc)) from None
    # check everything before the pass over the shards, not after it
    try:
        n, M = _plan(shards, args.n, _kind(shards), sparsity=args.sparsity, primes=primes,
                     smallest_prime=args.smallest_prime, rule_n=args.rule_n,
                     rule_s=args.rule_s, symmetry=args.symmetry, bits=bits)
        if args.rank is not None:
            _check_recover(M, args.rank, s, decoder=args.decoder, which="LM", keep=None,
                           support=None, truth=None, agree=None, n_decode=None,
                           has_bits=bool(bits))
    except (ValueError, TypeError, MemoryError) as exc:
        raise _die(str(exc)) from None
    try:
        for f in shards:
            _open_shard(f)
        state = Path(args.checkpoint) / _STATE if args.checkpoint is not None else None
        if state is not None and state.exists():
            # a state of other settings or shards was found only by the pass (as it
            # starts, but after the output folder was made); same test as the pass
            try:
                _load_state(state.parent, M, args.symmetry, bits, 0, shards)
            except _DATA_ERRORS as exc:
                if str(state) in _message(exc):  # a mismatch, named
                    raise
                raise ValueError(f"--checkpoint {args.checkpoint}: {state} cannot be read "
                                 f"({_message(exc)}); delete it or use another "
                                 "folder") from None
    except _DATA_ERRORS as exc:
        raise _die(_message(exc)) from None
    _check_out(out)  # last: it creates the output's folder
    try:  # errors in the data itself (NaN, out-of-range indices, corrupt arrays)
        sk = sketch(shards, n, matrix=M, symmetry=args.symmetry, bits=bits,
                    checkpoint=args.checkpoint, executor=args.executor,
                    workers=args.workers, address=args.address, progress=args.progress)
    except _DATA_ERRORS as exc:
        raise _die(_message(exc)) from None
    try:  # e.g. a full disk or a read-only mount (os.access cannot tell every case)
        out = sk.save(args.out)
    except _DATA_ERRORS as exc:
        where = (f"; the sketch is in the checkpoint {Path(args.checkpoint) / _STATE}"
                 if args.checkpoint is not None else "")
        raise _die(f"--out {args.out}: cannot write the sketch ({_message(exc)})"
                   f"{where}") from None
    print(f"sketch written to {out}: N = {sk.M.n}, m = {sk.M.m}, K = {sk.M.K}, "
          f"{sk.n_entries} entries from {sk.info.get('shards')} shards "
          f"({sk.info.get('resumed', 0)} resumed) in {sk.info.get('seconds', 0):.2f} s")
    if args.rank is not None:
        try:  # e.g. a zero sketch (A = 0): nothing to decode, the sketch is saved
            res = recover(sk, args.rank, s, decoder=args.decoder, progress=args.progress)
        except _DATA_ERRORS as exc:
            raise _die(f"{_message(exc)} (the sketch is saved in {out})") from None
        import numpy as np

        vec = Path(args.out).with_suffix(".vectors.npz")
        try:
            np.savez(vec, indices=res.info["indices"], values=res.x,
                     eigenvalues=res.info["eigenvalues"])
        except _DATA_ERRORS as exc:
            raise _die(f"{vec}: cannot write the eigenvectors ({_message(exc)}; the "
                       f"sketch is saved in {out})") from None
        print(f"eigenvalues: {json.dumps([float(f'{v:.6g}') for v in res.info['eigenvalues']])}")
        print(f"sparse eigenvectors written to {vec}")
        if not res.success:  # e.g. zero vectors: the decoder found nothing
            print(f"overparam sketch: {res.message}", file=sys.stderr)
            return 1
    return 0
