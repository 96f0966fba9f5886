"""Trials per second of a phase-transition sweep: batched trials (vmap) vs a Python loop.

The sweep: a 10 x 10 grid of (s, m) with 20 trials per cell (2000 problems, n = 200),
solved by ``hadamard_gd`` for a fixed number of gradient steps (``tol = 0``, so every
trial does exactly ``--steps`` steps and both variants do the same arithmetic):

* batched: the trials of a cell go through the registry's batched callable
  (``hadamard_gd_batch``: one ``jax.vmap``-ed program per cell), as the experiment runner
  does;
* loop: the same problems one trial at a time, ``hadamard_gd(problem)`` in a Python loop.

Compilation (one per shape, for each variant) is done before the clocks start and
reported separately. The problems (and their ||A||_2, which sets the step) are generated
once and shared. BLAS runs on one thread, as in the experiment runner. Finally the whole sweep
is also run end to end through ``overparam.experiments.run`` (serial executor: problem
generation, metrics and the Parquet store included).

Usage::

    python benchmarks/bench_sweep.py [--steps 500] [--trials 20] [--grid 10] [--quick]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import jax
import numpy as np
from threadpoolctl import threadpool_limits

import overparam
from overparam._core import xla_loops
from overparam.experiments import expand_cells, get_method, load_spec, make_problem, run


def spec_data(steps: int, trials: int, grid: int) -> dict:
    return {
        "experiment": {"name": "bench_sweep", "seed": 0, "trials": trials,
                       "metrics": ["rel_error"]},
        "problem": {"n": 200, "s": [int(v) for v in np.linspace(2, 20, grid)],
                    "m": [int(v) for v in np.linspace(20, 200, grid)]},
        "methods": [{"name": "hadamard_gd", "depth": 2, "init_scale": 1e-3, "tol": 0.0,
                     "max_iter": steps, "record": 4}],
        "run": {"executor": "serial"},
    }


def main() -> None:
    # one BLAS thread, as the experiment runner uses (multithreaded OpenBLAS on busy
    # cores can be far slower)
    with threadpool_limits(limits=1):
        _main()


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500, help="gradient steps per trial")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--grid", type=int, default=10, help="grid points per axis")
    ap.add_argument("--quick", action="store_true", help="3 x 3 grid, 100 steps")
    args = ap.parse_args()
    if args.quick:
        args.grid, args.steps = 3, 100

    spec = load_spec(spec_data(args.steps, args.trials, args.grid))
    cfg = spec.method_configs()[0]
    entry = get_method(cfg.name)
    one = entry.configure(**cfg.params)
    batch = entry.configure_batch(**cfg.params)
    cells = expand_cells(spec)
    problems = [[make_problem(spec, c.params, t)[0] for t in range(args.trials)] for c in cells]
    seeds = list(range(args.trials))
    n_trials = len(cells) * args.trials
    for probs in problems:  # ||A||_2 (the step-size bound) is problem set-up, cached
        for p in probs:
            p.A.norm2

    # compile every shape once for each variant (not timed in the comparison)
    t0 = time.perf_counter()
    seen = set()
    for probs in problems:
        if probs[0].shape not in seen:
            seen.add(probs[0].shape)
            batch(probs, seeds)
            one(probs[0], 0)
    compile_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    batched = [batch(probs, seeds) for probs in problems]
    batched_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    looped = [[one(p, s) for p, s in zip(probs, seeds)] for probs in problems]
    loop_s = time.perf_counter() - t0

    worst = max(float(np.max(np.abs(a.x - b.x)) / max(np.max(np.abs(b.x)), 1e-300))
                for ra, rb in zip(batched, looped) for a, b in zip(ra, rb))
    steps = sum(r.n_iter for rs in batched for r in rs)

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        summary = run(spec, tmp, executor="serial", progress=False)
        engine_s = time.perf_counter() - t0

    print(f"overparam {overparam.__version__}, jax {jax.__version__}, "
          f"device {jax.devices()[0]}")
    print(f"XLA small-loop compilation: {xla_loops.state()}")
    print(f"sweep: {args.grid} x {args.grid} cells (s, m) x {args.trials} trials = "
          f"{n_trials} problems, n = 200, {args.steps} steps each (tol = 0), depth 2")
    print(f"compilation ({len(seen)} shapes, both variants): {compile_s:.1f} s, not counted")
    print()
    print(f"{'variant':<34s}{'seconds':>10s}{'trials/s':>12s}{'speed-up':>10s}")
    print(f"{'loop: hadamard_gd per trial':<34s}{loop_s:10.2f}{n_trials / loop_s:12.1f}"
          f"{1.0:10.2f}")
    print(f"{'batched: vmap over a cell':<34s}{batched_s:10.2f}{n_trials / batched_s:12.1f}"
          f"{loop_s / batched_s:10.2f}")
    print(f"{'engine: experiments.run (serial)':<34s}{engine_s:10.2f}"
          f"{n_trials / engine_s:12.1f}{loop_s / engine_s:10.2f}   (incl. compile, "
          "problems, metrics, store)")
    print()
    print(f"same work: {steps} gradient steps in each variant; largest relative difference "
          f"batched vs loop: {worst:.1e}; engine rows: {summary.computed} cells")


if __name__ == "__main__":
    main()
