"""``overparam sketch``: build a MAM* sketch from COO shards on disk (resumable, optionally
on Dask workers) and, with ``--rank``, decode its sparse top eigenvectors."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["add_parser", "command"]


def add_parser(sub) -> argparse.ArgumentParser:
    s = sub.add_parser(
        "sketch", help="one-pass MAM* sketch of a huge symmetric matrix from COO shards",
        description="Sketch B = (1/K) M A M^T from COO shards (.npz/.npy with row, col, "
        "value arrays, or .parquet with those columns), saving the running sum after each "
        "shard in --checkpoint so that an interrupted build resumes. With --rank, also "
        "decode the sparse top eigenvectors (median or bit-test decoder).")
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


def command(args) -> int:
    from .api import _check_recover, _kind, _plan, recover, sketch
    from .sketch import _shard_files

    primes = [int(p) for p in args.primes.split(",")] if args.primes else None
    if primes is None and args.sparsity is None and args.rule_s is None:
        raise SystemExit("overparam sketch: give --sparsity (or --rule-s) or --primes")
    s = args.sparsity or args.rule_s
    if args.rank and s is None:
        raise SystemExit("overparam sketch: --rank needs --sparsity")
    bits = args.bits
    if args.rank and args.decoder == "bittest" and bits is None:
        bits = args.rank + 10  # as sparse_top_eigenvectors
    shards: list[str] = []
    for item in args.shards:  # folders expand as in the API (no hidden files)
        shards += _shard_files(item) if Path(item).is_dir() else [item]
    # check everything before the pass over the shards, not after it
    try:
        n, M = _plan(shards, args.n, _kind(shards), sparsity=args.sparsity, primes=primes,
                     smallest_prime=args.smallest_prime, rule_n=args.rule_n,
                     rule_s=args.rule_s, symmetry=args.symmetry, bits=bits)
        if args.rank:
            _check_recover(M, args.rank, s, decoder=args.decoder, which="LM", keep=None,
                           support=None, truth=None, agree=None, n_decode=None,
                           has_bits=bool(bits))
    except (ValueError, TypeError, MemoryError) as exc:
        raise SystemExit(f"overparam sketch: {exc}") from None
    sk = sketch(shards, n, matrix=M, symmetry=args.symmetry, bits=bits,
                checkpoint=args.checkpoint, executor=args.executor, workers=args.workers,
                address=args.address, progress=args.progress)
    out = sk.save(args.out)
    print(f"sketch written to {out}: N = {sk.M.n}, m = {sk.M.m}, K = {sk.M.K}, "
          f"{sk.n_entries} entries from {sk.info.get('shards')} shards "
          f"({sk.info.get('resumed', 0)} resumed) in {sk.info.get('seconds', 0):.2f} s")
    if args.rank:
        res = recover(sk, args.rank, s, decoder=args.decoder, progress=args.progress)
        import numpy as np

        vec = Path(args.out).with_suffix(".vectors.npz")
        np.savez(vec, indices=res.info["indices"], values=res.x,
                 eigenvalues=res.info["eigenvalues"])
        print(f"eigenvalues: {json.dumps([float(f'{v:.6g}') for v in res.info['eigenvalues']])}")
        print(f"sparse eigenvectors written to {vec}")
    return 0
