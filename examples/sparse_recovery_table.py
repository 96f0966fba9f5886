"""Solve one planted sparse recovery problem with every method and print a comparison table.

    python examples/sparse_recovery_table.py            # n=1000, m=300, s=30
    python examples/sparse_recovery_table.py --small    # a few seconds
"""
from __future__ import annotations

import argparse

import numpy as np

import overparam
from overparam.metrics import l1_gap, relative_error
from overparam.problems import sparse_recovery


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="n=200, m=80, s=8")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n, m, s = (200, 80, 8) if args.small else (1000, 300, 30)
    p = sparse_recovery(n, m, s, seed=args.seed)
    bp = overparam.basis_pursuit(p)
    runs = [("basis pursuit (HiGHS)", bp)]
    for L in (2, 3):
        for a in (1e-2, 1e-4):
            runs.append((f"Hadamard limit L={L} a={a:g}",
                         overparam.hadamard_limit(p, depth=L, init_scale=a)))
    runs.append(("Hadamard GD L=2 a=1e-2",
                 overparam.hadamard_gd(p, depth=2, init_scale=1e-2, tol=1e-5,
                                       max_iter=300_000)))
    runs.append(("Lasso alpha=1e-4", overparam.lasso(p, alpha=1e-4)))
    print(f"sparse recovery: n={n}, m={m}, s={s}, Gaussian A, seed={args.seed}")
    print(f"{'method':28s} {'status':10s} {'iters':>7s} {'rel.error':>10s} "
          f"{'l1 gap to BP':>13s} {'seconds':>8s}")
    for name, r in runs:
        print(f"{name:28s} {r.status.value:10s} {r.n_iter:7d} "
              f"{relative_error(r.x, p.x_true):10.2e} {l1_gap(r.x, bp.x):13.2e} "
              f"{r.wall_time:8.3f}")


if __name__ == "__main__":
    main()
