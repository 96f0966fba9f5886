"""IRLS-LRRS against rSPF and RiemAdaIHT (Kuemmerle & Maly 2023) in one run.

    python benchmarks/bench_lrrs.py timing          # Fig. 2 size: time per iteration and
                                                    # to solution, fast vs dense weighted solve
    python benchmarks/bench_lrrs.py fig3 --seeds 3  # iterations to 1e-10 (Fig. 3 setting)
    python benchmarks/bench_lrrs.py phase --rank 1 --s 20 --method irls_lrrs \\
        --m 100 115 130 --trials 64 --out phase.csv # success rates at chosen cells
    python benchmarks/bench_lrrs.py m50 --rank 1 --s 8 --method irls_lrrs \\
        --workers 2 --out phase.csv                 # locate the 50% point on the paper's grid
    python benchmarks/bench_lrrs.py timing --quick  # small sizes (smoke run)

``timing``: one problem of the paper's Figure 2 size (256 x 40, rank 5, s = 40, m = 750,
above every method's transition), each method run to its tolerance: iterations, seconds per
iteration and to solution, final relative error. Then one weighted least-squares step at a
late IRLS iterate, solved by the tangent-space Woodbury solve (``lrrs_weighted_ls``) and by
the dense reference (``lrrs_weighted_ls_dense``, a solve with the full ``n1 n2 x n1 n2``
weight matrix: 0.84 GB and ~1e12 flops at this size), with their agreement.

``phase``: success rate (relative Frobenius error < 1e-4) of a method at given ``m`` over
``trials`` problems whose seeds derive from (rank, s, m, trial) only, so all methods see the
same problems; appends CSV rows (method, rank, s, m, fac_s, fac_r, trial, rel_error,
n_iter, seconds). Run it with OMP_NUM_THREADS=1; ``--workers`` processes share the cells.

``m50``: the smallest m of the paper's grid (step 5 for rank 1, 25 for rank 5) with success
rate >= 0.5, found by walking the grid from the published value (``--start``, default the
digest's m50 for Figs. 1 and 2, misspecified included): down while the rate stays >= 0.5,
else up until it reaches 0.5; every visited m runs ``--trials`` problems through ``phase``
(same CSV, resumable). As in the paper, only m in its run range rho_min df < m < rho_max df
is run (rho = (1.0, 4.0) for Fig. 1, (1.05, 3.0) for Fig. 2 top, (1.02, 4.25) for Fig. 2
bottom; the paper's plots leave the cells below at success 0 and set those above to 1);
``--full-grid`` walks past it. Prints the visited rates, our m50, the published one and their
ratio.

Report the machine load (``uptime``) with any timing: these are wall-clock seconds.
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from overparam._core import derive_seed
from overparam.baselines.lrrs import riem_adaiht, rspf
from overparam.problems.structured import lrrs_dof, lrrs_guesses, lrrs_problem
from overparam.solvers.lrrs import irls_lrrs, lrrs_weighted_ls, lrrs_weighted_ls_dense

# the experiment settings of the paper (tolerances 1e-10, caps 200 / 200 x 100 / 2000)
METHODS = {
    "irls_lrrs": (irls_lrrs, dict(tol=1e-10, max_iter=200)),
    "rspf": (rspf, dict(tol=1e-10, max_iter=200, inner_max_iter=100)),
    "riem_adaiht": (riem_adaiht, dict(tol=1e-10, max_iter=2000)),
}


def _rel(X, p) -> float:
    return float(np.linalg.norm(np.asarray(X).reshape(-1) - p.x_true)
                 / np.linalg.norm(p.x_true))


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load unknown"


# ------------------------------------------------------------------ timing
def timing(quick: bool) -> None:
    n1, n2, r, s, m = (40, 10, 2, 6, 120) if quick else (256, 40, 5, 40, 750)
    p = lrrs_problem(n1, n2, r, s, m=m, seed=2)
    print(f"# {n1} x {n2}, rank {r}, s = {s}, m = {m} (dense Gaussian); {_load()}; "
          f"{platform.processor() or platform.machine()}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"{'method':<12} {'iters':>6} {'s/iter':>9} {'to solution s':>14} {'rel error':>10}"
          f" {'status':>10}")
    late = {}
    for name, (fn, kw) in METHODS.items():
        kw = dict(kw)
        if name == "irls_lrrs":
            kw["callback"] = lambda k, X: late.__setitem__(k, X.copy())
        res = fn(p, r, s, **kw)
        it = max(res.n_iter, 1)
        print(f"{name:<12} {res.n_iter:>6d} {res.wall_time / it:>9.4f} {res.wall_time:>14.2f} "
              f"{_rel(res.x, p):>10.1e} {res.status.value:>10}", flush=True)
    # one weighted step at a late iterate (relative error ~1e-3), fast vs dense
    tr = irls_lrrs(p, r, s, tol=1e-10).trace
    k = int(np.flatnonzero(tr["rel_error"] < 1e-2)[0]) if np.any(tr["rel_error"] < 1e-2) \
        else len(tr["iter"]) // 2
    X, eps, delta = late[k], float(tr["eps"][k]), float(tr["delta"][k])
    t = time.perf_counter()
    fast = lrrs_weighted_ls(p, None, X, eps, delta)
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    dense = lrrs_weighted_ls_dense(p, None, X, eps, delta)
    t_dense = time.perf_counter() - t
    diff = float(np.max(np.abs(fast - dense)) / np.max(np.abs(dense)))
    print(f"# weighted step at IRLS iterate {k} (rel error {tr['rel_error'][k]:.1e}, "
          f"r_k = {tr['rank'][k]}): fast {t_fast:.3f} s, dense {t_dense:.2f} s, "
          f"speed-up {t_dense / t_fast:.1f}x, max relative difference {diff:.1e}; {_load()}")


# ------------------------------------------------------------------ Fig. 3
def fig3(seeds: int) -> None:
    print(f"# Fig. 3 setting: 256 x 40, rank 5, s = 40, m = 1125; tol 1e-12 (IRLS epsmin "
          f"1e-15); iterations until the relative error is below 1e-10; {_load()}")
    print(f"{'seed':>4} {'method':<12} {'iter to 1e-10':>14} {'n_iter':>7} {'final error':>12}"
          f" {'best error':>11} {'seconds':>8}")
    for seed in range(seeds):
        p = lrrs_problem(256, 40, 5, 40, oversampling=3.0, seed=derive_seed("fig3", seed))
        for name, (fn, kw) in METHODS.items():
            kw = dict(kw, tol=1e-12)
            if name == "irls_lrrs":
                kw["epsmin"] = 1e-15
            res = fn(p, 5, 40, **kw)
            err = res.trace["rel_error"]
            hit = np.flatnonzero(err < 1e-10)
            first = int(res.trace["iter"][hit[0]]) if hit.size else -1
            print(f"{seed:>4} {name:<12} {first:>14} {res.n_iter:>7} {_rel(res.x, p):>12.1e} "
                  f"{np.nanmin(err):>11.1e} {res.wall_time:>8.1f}", flush=True)
            if seed == 0:
                print("     trajectory: " + " ".join(f"{e:.1e}" for e in err[:40]))


# ------------------------------------------------------------------ phase cells
def _cell(args):
    method, n1, n2, rank, s, m, fac_s, fac_r, trial = args
    p = lrrs_problem(n1, n2, rank, s, m=m,
                     seed=derive_seed("lrrs-phase", n1, n2, rank, s, m, trial))
    fn, kw = METHODS[method]
    rg, sg = lrrs_guesses(p, fac_r=fac_r, fac_s=fac_s)
    t = time.perf_counter()
    res = fn(p, rg, sg, **kw)
    return (method, rank, s, m, fac_s, fac_r, trial, _rel(res.x, p), res.n_iter,
            round(time.perf_counter() - t, 3))


def phase(a) -> None:
    out = Path(a.out)
    new = not out.exists()
    done = set()
    if not new:  # resume: skip the cells already in the file
        with out.open() as fh:
            for row in csv.DictReader(fh):
                done.add((row["method"], int(row["rank"]), int(row["s"]), int(row["m"]),
                          float(row["fac_s"]), float(row["fac_r"]), int(row["trial"])))
    cells = [(a.method, a.n1, a.n2, a.rank, a.s, m, a.fac_s, a.fac_r, t)
             for m in a.m for t in range(a.trials)
             if (a.method, a.rank, a.s, m, a.fac_s, a.fac_r, t) not in done]
    with out.open("a", newline="") as fh, ProcessPoolExecutor(a.workers) as ex:
        w = csv.writer(fh)
        if new:
            w.writerow(["method", "rank", "s", "m", "fac_s", "fac_r", "trial", "rel_error",
                        "n_iter", "seconds"])
        for row in ex.map(_cell, cells, chunksize=1):
            w.writerow(row)
            fh.flush()
    print(f"# wrote {len(cells)} rows to {out}; {_load()}")


# published m50 (digest: papers-structured.md, Figs. 1 and 2; misspecified = fac 1.5 / 2)
PUBLISHED_M50 = {
    (1, False): {1: (45, 45, 85), 4: (70, 75, 95), 8: (85, 95, 115), 12: (105, 110, 120),
                 16: (110, 130, 130), 20: (115, 135, 135), 24: (130, 155, 150),
                 28: (135, 160, 160), 32: (145, 170, 160), 36: (150, 180, 170),
                 40: (155, 180, 165)},
    (5, False): {20: (375, 500, 450), 30: (450, 600, 525), 40: (525, 675, 600),
                 50: (575, 775, 650), 60: (650, 850, 725)},
    (5, True): {20: (450, 850, 700), 40: (675, None, 1050), 60: (850, None, None)},
}
_COLUMN = {"irls_lrrs": 0, "riem_adaiht": 1, "rspf": 2}
# the paper runs only rho_min df < m < rho_max df (digest: compute_measurements_LRRS_
# sparsitys.m); its plots leave the cells below at success 0 and set those above to 1
RUN_RANGE = {(1, False): (1.0, 4.0), (5, False): (1.05, 3.0), (5, True): (1.02, 4.25)}


def _grid(rank: int, m: int) -> int:
    """The paper's m grid: 40:5:280 (rank 1); 300:25:1000, 1050:50:1500, 1600:100:2000."""
    if rank == 1:
        return 5
    return 25 if m < 1000 else (50 if m < 1500 else 100)


def _rates(out: Path, a) -> dict[int, float]:
    got: dict[int, list[bool]] = {}
    with out.open() as fh:
        for row in csv.DictReader(fh):
            if (row["method"], int(row["rank"]), int(row["s"]), float(row["fac_s"]),
                    float(row["fac_r"])) == (a.method, a.rank, a.s, a.fac_s, a.fac_r) \
                    and int(row["trial"]) < a.trials:
                got.setdefault(int(row["m"]), []).append(float(row["rel_error"]) < 1e-4)
    return {m: float(np.mean(v)) for m, v in got.items()}


def m50(a) -> None:
    misspec = a.fac_s != 1.0 or a.fac_r != 1.0
    pub = PUBLISHED_M50.get((a.rank, misspec), {}).get(a.s, (None,) * 3)[_COLUMN[a.method]]
    m = a.start or pub
    if m is None:
        raise SystemExit("no published m50 for this row: give --start")
    out = Path(a.out)
    seen: dict[int, float] = {}
    df = lrrs_dof(a.n2, a.rank, a.s)
    lo, hi = (0.0, math.inf)
    if not a.full_grid and (a.rank, misspec) in RUN_RANGE:
        rho_lo, rho_hi = RUN_RANGE[(a.rank, misspec)]
        lo, hi = rho_lo * df, rho_hi * df
    while m <= lo:                 # the walk stays in the paper's run range
        m += _grid(a.rank, m)

    def rate(mm: int) -> float:
        if mm >= hi:               # above the run range: success 1 in the paper's plots
            return 1.0
        if mm not in seen:
            phase(argparse.Namespace(**dict(vars(a), m=[mm])))
            seen[mm] = _rates(out, a)[mm]
            print(f"#   m = {mm}: success {seen[mm]:.3f}", flush=True)
        return seen[mm]

    if rate(m) >= 0.5:
        while (m - _grid(a.rank, m - 1) > lo
               and rate(m - _grid(a.rank, m - 1)) >= 0.5):
            m -= _grid(a.rank, m - 1)
    else:
        while rate(m) < 0.5 and m < a.max_m:
            m += _grid(a.rank, m)
    found = m if rate(m) >= 0.5 else None
    ratio = f"{found / pub:.3f}" if found and pub else "-"
    where = (f"run range {lo:g} < m < {hi:g} (df = {df})" if hi < math.inf
             else f"full grid (df = {df})")
    note = "; at or above the run range" if found is not None and found >= hi else ""
    print(f"m50 {a.method} rank {a.rank} s {a.s} fac_s {a.fac_s} fac_r {a.fac_r}: "
          f"ours {found} published {pub} ratio {ratio} ({a.trials} trials per m; "
          f"rates {dict(sorted(seen.items()))}; {where}{note}); {_load()}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("timing")
    t.add_argument("--quick", action="store_true")
    f = sub.add_parser("fig3")
    f.add_argument("--seeds", type=int, default=1)
    ph = sub.add_parser("phase")
    ph.add_argument("--method", choices=sorted(METHODS), required=True)
    ph.add_argument("--n1", type=int, default=256)
    ph.add_argument("--n2", type=int, default=40)
    ph.add_argument("--rank", type=int, required=True)
    ph.add_argument("--s", type=int, required=True)
    ph.add_argument("--m", type=int, nargs="+", required=True)
    ph.add_argument("--fac-s", type=float, default=1.0)
    ph.add_argument("--fac-r", type=float, default=1.0)
    ph.add_argument("--trials", type=int, default=64)
    ph.add_argument("--workers", type=int, default=1)
    ph.add_argument("--out", required=True)
    ms = sub.add_parser("m50")
    for flag, kw in [("--method", dict(choices=sorted(METHODS), required=True)),
                     ("--n1", dict(type=int, default=256)), ("--n2", dict(type=int, default=40)),
                     ("--rank", dict(type=int, required=True)),
                     ("--s", dict(type=int, required=True)),
                     ("--start", dict(type=int, default=None)),
                     ("--max-m", dict(type=int, default=2000)),
                     ("--full-grid", dict(action="store_true")),
                     ("--fac-s", dict(type=float, default=1.0)),
                     ("--fac-r", dict(type=float, default=1.0)),
                     ("--trials", dict(type=int, default=64)),
                     ("--workers", dict(type=int, default=1)),
                     ("--out", dict(required=True))]:
        ms.add_argument(flag, **kw)
    a = ap.parse_args(argv)
    if a.cmd == "m50":
        m50(a)
    elif a.cmd == "timing":
        timing(a.quick)
    elif a.cmd == "fig3":
        fig3(a.seeds)
    else:
        phase(a)


if __name__ == "__main__":
    sys.exit(main())
