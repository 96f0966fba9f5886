"""Coarse quantization: time of vertex-MSQ against GPFQ and MSQ, and graph quantization time.

Run ``python benchmarks/bench_quantize.py`` (``--help`` for options). One run, printed as
tables with ratios, all methods timed in the same process on the same data:

1. One layer: 1024 inputs, 256 neurons, m = 512 Gaussian samples (the issue's size),
   Gaussian weights, 2 bits by default: seconds for vertex-MSQ (the default shared-pool
   solver + MSQ, and the exact walk in the cells of ``w``), GPFQ and MSQ, the ratio to
   GPFQ (issue target: vertex-MSQ <= 3x GPFQ) and the mean relative error
   ``||X(w - q)|| / ||Xw||``. Also the vertex LP on HiGHS (dual simplex, random
   objective) for a few neurons, per neuron.
2. Graph signals: a random geometric graph (mean degree 2 log N) at N = 1e4 and 1e5,
   bandwidth r: seconds to build the graph, for the r smallest Laplacian eigenvectors
   (ARPACK shift-invert) and for single-shot, MSQ and Sigma-Delta at one bit, with errors.

BLAS threads are what the environment sets (use ``OMP_NUM_THREADS=1`` on a shared
machine); the load average is printed with the tables.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from overparam.quantize import (bandlimited_signal, graph_signal, laplacian_eigenvectors,
                                layer, make_graph, vertex)


def _best(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_layer(N: int, n: int, m: int, bits: int, repeats: int, highs_neurons: int,
                seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, N))
    W = rng.standard_normal((N, n))
    print(f"\n== layer: N = {N} inputs, {n} neurons, m = {m} samples, {bits} bits "
          f"(best of {repeats})")
    rows = {}
    runs = [("gpfq", "gpfq", {}), ("msq", "msq", {}),
            ("vertex-msq", "vertex-msq", {}),
            ("vertex-msq (exact walk)", "vertex-msq", {"solver": "pivot"})]
    for label, method, kw in runs:
        t, res = _best(lambda: layer(W, X, bits, method, **kw), repeats)
        extra = ""
        if "retried" in res.info:
            extra = f"pool {res.info['pool']}, retried {res.info['retried']}, " \
                    f"exact {res.info['fallback']}"
        rows[label] = (t, float(np.mean(res.info["rel_error"])), extra)
    tg = rows["gpfq"][0]
    print(f"{'method':24s} {'seconds':>9s} {'x GPFQ':>8s} {'rel. error':>11s}")
    for label, (t, e, extra) in rows.items():
        print(f"{label:24s} {t:9.3f} {t / tg:8.2f} {e:11.4f}  {extra}")
    if highs_neurons:
        t0 = time.perf_counter()
        c = np.abs(W[:, :highs_neurons]).max(axis=0)
        res = vertex(X, W[:, :highs_neurons], bits, c, solver="highs", seed=seed)
        t = (time.perf_counter() - t0) / highs_neurons
        tp = rows["vertex-msq (exact walk)"][0] / n
        print(f"vertex on HiGHS dual simplex: {t:.3f} s per neuron ({highs_neurons} neurons) "
              f"vs {tp:.4f} s per neuron for the pivot walk; max off-face "
              f"{int(np.max(res.info['n_free']))} <= rank {res.info['rank']}")


def bench_graph(sizes, r: int, seed: int = 0) -> None:
    print(f"\n== graph signals: random geometric graph, r = {r}, one bit")
    print(f"{'N':>7s} {'graph s':>8s} {'eig s':>7s} | "
          f"{'single-shot s':>13s} {'err':>7s} | {'msq s':>6s} {'err':>7s} | "
          f"{'sigma-delta s':>13s} {'err':>7s}")
    for N in sizes:
        t0 = time.perf_counter()
        A = make_graph("geometric", N, seed=seed)
        tg = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, Xr = laplacian_eigenvectors(A, r)
        te = time.perf_counter() - t0
        f = bandlimited_signal(Xr, seed=seed)
        cols = []
        for method in ("single-shot", "msq", "sigma-delta"):
            t0 = time.perf_counter()
            res = graph_signal(f, A, r, 1, method, Xr=Xr)
            cols.append((time.perf_counter() - t0, res.info["rel_error"]))
        (ts, es), (tm, em), (td, ed) = cols
        print(f"{N:7d} {tg:8.2f} {te:7.2f} | {ts:13.3f} {es:7.4f} | {tm:6.3f} {em:7.4f} | "
              f"{td:13.3f} {ed:7.4f}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=1024)
    p.add_argument("--neurons", type=int, default=256)
    p.add_argument("--samples", type=int, default=512)
    p.add_argument("--bits", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--highs-neurons", type=int, default=2)
    p.add_argument("--graph-sizes", type=int, nargs="*", default=[10_000, 100_000])
    p.add_argument("--r", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    a = p.parse_args(argv)
    if a.quick:
        a.inputs, a.neurons, a.samples, a.graph_sizes, a.highs_neurons = 128, 16, 64, [2000], 1
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load average "
          f"{' '.join(f'{x:.2f}' for x in load)}, {os.cpu_count()} cores")
    bench_layer(a.inputs, a.neurons, a.samples, a.bits, a.repeats, a.highs_neurons)
    bench_graph(a.graph_sizes, a.r)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ()
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in load)}")


if __name__ == "__main__":
    main()
