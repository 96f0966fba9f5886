"""Gradient steps per second of deep matrix factorization (depth 3) against a NumPy loop of
the same update, each as a fraction of the machine's matrix-product bound measured in the
same run; plus the Arora et al. completion setting (depth 3 vs depth 1).

    python benchmarks/bench_dmf.py                 # throughput table
    python benchmarks/bench_dmf.py --completion    # also the 100 x 100 completion numbers
    python benchmarks/bench_dmf.py --quick         # small sizes (CI smoke run)

A gradient step of ``W = W3 W2 W1`` on ``0.5 ||W - Y||_F^2`` is 6 products of n x n
matrices (2 forward, 4 backward) = 12 n^3 flops, so its time is bounded below by
12 n^3 / (GEMM rate). The GEMM rate is the best of NumPy and JAX on a large product,
measured here; "of bound" is (steps/s) / (rate / 12 n^3).
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from overparam.dynamics import dmf_gd, dmf_gd_batch  # noqa: E402
from overparam.problems import matrix_completion, matrix_estimation  # noqa: E402

DEPTH = 3
ETA = 1e-3


def gemm_rate(sizes=(1000, 2000, 3000), reps: int = 5) -> dict[str, float]:
    """Best float64 GEMM rate (flop/s) of NumPy and of JAX over large n x n products
    (best over sizes and repetitions: on a shared machine any measured rate is a lower
    estimate of what it can do)."""
    rng = np.random.default_rng(0)
    out = {"numpy": 0.0, "jax": 0.0}
    f = jax.jit(lambda x, y: x @ y)
    for n in sizes:
        a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
        a @ b
        best = np.inf
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
        out["numpy"] = max(out["numpy"], 2 * n**3 / best)
        ja, jb = jnp.asarray(a), jnp.asarray(b)
        f(ja, jb).block_until_ready()
        best = np.inf
        for _ in range(reps):
            t = time.perf_counter()
            f(ja, jb).block_until_ready()
            best = min(best, time.perf_counter() - t)
        out["jax"] = max(out["jax"], 2 * n**3 / best)
    return out


def numpy_steps(Ws, Y, K):
    """The same update, straightforward NumPy: 6 products per step."""
    W1, W2, W3 = (w.copy() for w in Ws)
    for _ in range(K):
        P = W2 @ W1
        R = W3 @ P - Y
        G3 = R @ P.T
        Q = W3.T @ R
        G2 = Q @ W1.T
        G1 = W2.T @ Q
        W1 -= ETA * G1
        W2 -= ETA * G2
        W3 -= ETA * G3
    return W3 @ W2 @ W1


def numpy_batched_loop(Ws, Ys, K):
    """32 trials, NumPy: per step, a loop over trials."""
    W1, W2, W3 = ([w.copy() for w in ws] for ws in Ws)
    for _ in range(K):
        for b in range(len(Ys)):
            P = W2[b] @ W1[b]
            R = W3[b] @ P - Ys[b]
            G3 = R @ P.T
            Q = W3[b].T @ R
            G2 = Q @ W1[b].T
            G1 = W2[b].T @ Q
            W1[b] -= ETA * G1
            W2[b] -= ETA * G2
            W3[b] -= ETA * G3


def numpy_batched_stacked(Ws, Ys, K):
    """32 trials, NumPy with stacked (batched) matmul."""
    W1, W2, W3 = (np.stack(ws) for ws in Ws)
    Y = np.stack(Ys)
    for _ in range(K):
        P = W2 @ W1
        R = W3 @ P - Y
        G3 = R @ P.transpose(0, 2, 1)
        Q = W3.transpose(0, 2, 1) @ R
        G2 = Q @ W1.transpose(0, 2, 1)
        G1 = W2.transpose(0, 2, 1) @ Q
        W1 -= ETA * G1
        W2 -= ETA * G2
        W3 -= ETA * G3


def _best(fn, reps):
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def ours_rate(p, k, reps=2):
    """Steps/s of dmf_gd through the driver (compiled beforehand; no SVD records)."""
    kw = dict(depth=DEPTH, init="gaussian", init_scale=1.0, step=ETA, tol=0.0,
              record=[k], spectrum=False)
    r = dmf_gd(p, max_iter=k, **kw)  # compile
    assert r.n_iter == k, r
    return k / _best(lambda: dmf_gd(p, max_iter=k, **kw), reps)


def batch_rate(probs, k, reps=2):
    kw = dict(depth=DEPTH, init="gaussian", init_scale=1.0, step=ETA, tol=0.0,
              record=[k], spectrum=False)
    dmf_gd_batch(probs, max_iter=k, **kw)
    return len(probs) * k / _best(lambda: dmf_gd_batch(probs, max_iter=k, **kw), reps)


def throughput(quick: bool, rounds: int) -> None:
    """Each figure is the best over ``rounds`` interleaved rounds (the machine is shared:
    best-of estimates what it can do, and interleaving exposes every method to the same
    load)."""
    sizes = [(100, 1000), (500, 60)] if not quick else [(50, 400), (200, 40)]
    n_b, B = (100, 32) if not quick else (50, 8)
    kb = 120 if not quick else 60
    setups = []
    for n, k in sizes:
        p = matrix_estimation(n, n, 5, seed=0)
        rng = np.random.default_rng(1)
        Ws = [rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(3)]
        setups.append((n, k, p, Ws))
    probs = [matrix_estimation(n_b, n_b, 5, seed=s) for s in range(B)]
    rng = np.random.default_rng(1)
    Wb = [[rng.standard_normal((n_b, n_b)) / np.sqrt(n_b) for _ in range(B)]
          for _ in range(3)]
    Ys = [p.y.reshape(n_b, n_b) for p in probs]
    best: dict[str, float] = {}

    def keep(key, value):
        best[key] = max(best.get(key, 0.0), value)

    loads = []
    gemm_sizes = (500, 1000) if quick else (1000, 2000, 3000)
    for _ in range(rounds):
        loads.append(os.getloadavg()[0])
        for k, v in gemm_rate(gemm_sizes).items():
            keep(f"gemm_{k}", v)
        for n, k, p, Ws in setups:
            keep(f"ours_{n}", ours_rate(p, k))
            Y = p.y.reshape(n, n)
            keep(f"numpy_{n}", k / _best(lambda: numpy_steps(Ws, Y, k), 2))
        keep("ours_batch", batch_rate(probs, kb))
        keep("numpy_loop", B * kb / _best(lambda: numpy_batched_loop(Wb, Ys, kb), 1))
        keep("numpy_stacked", B * kb / _best(lambda: numpy_batched_stacked(Wb, Ys, kb), 2))
    peak = max(best["gemm_numpy"], best["gemm_jax"])
    print(f"# host {platform.node()} cores {os.cpu_count()} jax {jax.__version__} "
          f"numpy {np.__version__}; load average (1 min) at the rounds: "
          + ", ".join(f"{v:.2f}" for v in loads))
    # XLA:CPU runs its products on its own thread pool, which OMP_NUM_THREADS does not
    # limit: on more than one core "ours" may use more threads than NumPy's BLAS
    print(f"# OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} (NumPy BLAS); "
          "JAX/XLA threads are not limited")
    print(f"# best of {rounds} rounds. GEMM float64 (best of n = "
          f"{', '.join(map(str, gemm_sizes))}): numpy "
          f"{best['gemm_numpy'] / 1e9:.1f} GF/s, jax {best['gemm_jax'] / 1e9:.1f} GF/s; "
          f"bound uses {peak / 1e9:.1f} GF/s")
    print(f"{'case':28s} {'ours st/s':>10s} {'numpy st/s':>11s} {'ours/np':>8s} "
          f"{'ours %bound':>11s} {'np %bound':>10s} {'ours GF/s':>10s}")
    for n, *_ in setups:
        ours, npr = best[f"ours_{n}"], best[f"numpy_{n}"]
        bound = peak / (12 * n**3)
        print(f"{f'depth 3, {n}x{n}':28s} {ours:10.1f} {npr:11.1f} {ours / npr:8.2f} "
              f"{100 * ours / bound:10.1f}% {100 * npr / bound:9.1f}% "
              f"{ours * 12 * n**3 / 1e9:10.1f}")
    bound = peak / (12 * n_b**3)
    ours = best["ours_batch"]
    for name, key in (("loop", "numpy_loop"), ("stacked", "numpy_stacked")):
        npr = best[key]
        print(f"{f'{B} trials, {n_b}x{n_b} ({name})':28s} {ours:10.1f} {npr:11.1f} "
              f"{ours / npr:8.2f} {100 * ours / bound:10.1f}% {100 * npr / bound:9.1f}% "
              f"{ours * 12 * n_b**3 / 1e9:10.1f}")
    print("# st/s = gradient steps per second (batched: trial-steps per second); "
          "numpy (loop) = a Python loop over trials inside the step loop, (stacked) = "
          "np.matmul on (B, n, n) stacks")


def completion(quick: bool) -> None:
    """Arora et al.'s setting: 100 x 100, rank 5 (U V^T / sqrt(5), ||.||_F = 100), uniform
    entries; end-to-end init scale; vanilla GD with step='auto' (not their RMSprop)."""
    n = 100 if not quick else 40
    trials = 2 if not quick else 1
    print(f"\n# completion {n}x{n} rank 5: median relative error over {trials} trials "
          "(final iterate)")
    print(f"{'entries':>8s} {'init':>7s} {'depth':>5s} {'rel err':>10s} {'iters':>7s} "
          f"{'seconds':>8s}")
    for m_obs in ((2000, 5000) if not quick else (600,)):
        for scale in ((1e-3, 1e-6) if not quick else (1e-3,)):
            for depth in (1, 2, 3, 4) if not quick else (1, 3):
                errs, its, secs = [], [], []
                for t in range(trials):
                    p = matrix_completion(n, n, 5, m_obs, spectrum="gaussian",
                                          fro_norm=float(n), seed=100 + t)
                    r = dmf_gd(p, depth=depth, init_scale=scale, scale="end_to_end",
                               max_iter=30_000, tol=1e-9, record=16)
                    errs.append(r.trace["rel_error"][-1])
                    its.append(r.n_iter)
                    secs.append(r.wall_time)
                print(f"{m_obs:8d} {scale:7.0e} {depth:5d} {np.median(errs):10.2e} "
                      f"{int(np.median(its)):7d} {np.median(secs):8.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--completion", action="store_true")
    ap.add_argument("--no-throughput", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if not a.no_throughput:
        throughput(a.quick, a.rounds)
    if a.completion:
        completion(a.quick)


if __name__ == "__main__":
    main()
