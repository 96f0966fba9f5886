"""MAM* benchmark: sketch-building throughput, decoder time against N, eigsh baseline.

The machine is shared, so every table is printed with ``uptime``; memory is the peak of
NumPy allocations (``tracemalloc``) during the measured call, plus the process peak RSS.

Cases
-----
1. **Streaming throughput** of the one-pass entry builder (``sketch_stream``) on random
   (i, j, value) entries, N = 10^7, with the primes of the sparsity study (K = 19, m = 1523)
   and of the rows study (K = 13, m = 1283): entries per second against the bytes the build
   must touch: 24 B of input per entry and K^2 read-modify-writes of 8 B in B (16 B each).
   For scale, the same run measures NumPy's copy bandwidth and the rate of the dense-row
   builder (``sketch_matrix``: O(K) per entry) and of the factored builder.
2. **Decode time against N** (10^5 .. 10^8): the full median decoder (scans all N
   candidates) against the bit-test decoder (heavy buckets -> candidate indices -> median
   on those), on the same exactly sparse A (r = 6, s = 20, overlapping supports), m = 1523;
   the first 6 eigenvectors, no refinement; the median with the library's default check
   (median repeated in >= alpha buckets). Growth exponents are fitted on log-log.
3. **eigsh baseline** (ARPACK on the factored A as a LinearOperator, then truncation) time
   and peak memory against N, up to ``--eigsh-max`` (its Lanczos basis is 8 N ncv bytes).

Run: ``python benchmarks/bench_mamstar.py [--quick] [--max-n 1e8] [--eigsh-max 1e6]
[--cases stream,decode,eigsh]`` (defaults shown; ``--quick`` shrinks only the streaming
case, decoding still goes up to ``--max-n``).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time
import tracemalloc

import numpy as np

import overparam  # noqa: F401
from overparam import mamstar as ms
from overparam.baselines.eigen import eigsh_truncated
from overparam.problems.eigen import sparse_eigen_problem


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:  # pragma: no cover
        return "uptime unavailable"


def measured(fn, *args, repeat: int = 1, **kw):
    """(result, best seconds, peak MiB of NumPy allocations)."""
    best, peak, out = np.inf, 0.0, None
    for _ in range(repeat):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        dt = time.perf_counter() - t0
        peak = max(peak, tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
        best = min(best, dt)
    return out, best, peak


def copy_bandwidth() -> float:
    a = np.ones(2**25)
    b = np.empty_like(a)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.nbytes / best / 1e9  # read + write


def case_stream(quick: bool) -> None:
    print("\n## 1. Sketch building throughput\n")
    print(uptime())
    bw = copy_bandwidth()
    print(f"\nNumPy copy bandwidth (read+write): {bw:.1f} GB/s\n")
    n = 10**7
    c = 2 * 10**5 if quick else 10**6
    rng = np.random.default_rng(0)
    i = rng.integers(0, n, c)
    j = rng.integers(0, n, c)
    v = rng.standard_normal(c)
    print("| builder | K | m | entries | seconds | entries/s | input GB/s | "
          "sketch updates/s | update GB/s (16 B each) | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rule in [(10**4, 3, 40), (10**5, 2, 70)]:
        M = ms.make_matrix(n, rule_n=rule[0], rule_s=rule[1], smallest_prime=rule[2])
        chunks = [(i[a:a + 2**17], j[a:a + 2**17], v[a:a + 2**17]) for a in range(0, c, 2**17)]
        _, t, peak = measured(ms.sketch_stream, chunks, M, check=False)
        upd = c * M.K**2
        print(f"| stream (i, j, v) | {M.K} | {M.m} | {c:.1e} | {t:.2f} | {c / t:.3g} | "
              f"{24 * c / t / 1e9:.3f} | {upd / t:.3g} | {16 * upd / t / 1e9:.2f} | "
              f"{peak:.0f} |")
        # one triangle: each off-diagonal entry once (half the entries of a symmetric A)
        up = [(np.minimum(a, b), np.maximum(a, b), w) for a, b, w in chunks]
        _, t, peak = measured(ms.sketch_stream, up, M, symmetry="upper", check=False)
        print(f"| stream, symmetry='upper' | {M.K} | {M.m} | {c:.1e} | {t:.2f} | "
              f"{c / t:.3g} | {24 * c / t / 1e9:.3f} | {upd / t:.3g} | "
              f"{16 * upd / t / 1e9:.2f} | {peak:.0f} |")
        # bit-test extension on: q = 16 test vectors
        cb = c // 10
        _, t, peak = measured(ms.sketch_stream, [(i[:cb], j[:cb], v[:cb])], M, bits=16,
                              check=False)
        print(f"| stream + bit-test (q = 16) | {M.K} | {M.m} | {cb:.1e} | {t:.2f} | "
              f"{cb / t:.3g} | {24 * cb / t / 1e9:.3f} | - | - | {peak:.0f} |")
    # dense rows (N small enough to hold rows): O(K) per entry
    nd = 20_000
    Md = ms.make_matrix(nd, rule_n=10**4, rule_s=3, smallest_prime=40)
    rows = rng.standard_normal((500, nd))

    def dense_rows():
        b = ms.SketchBuilder(Md)
        for a in range(0, 2000, 500):
            b.add_rows(np.arange(a, a + 500), rows)
        return b.sketch

    _, t, peak = measured(dense_rows)
    ent = 2000 * nd
    print(f"| dense rows (fold mod p) | {Md.K} | {Md.m} | {ent:.1e} | {t:.2f} | "
          f"{ent / t:.3g} | {8 * ent / t / 1e9:.3f} | - | - | {peak:.0f} |")
    A = sparse_eigen_problem(n, 20, 200, support="overlapping", seed=0)
    M = ms.make_matrix(n, rule_n=10**4, rule_s=3, smallest_prime=40)
    _, t, peak = measured(ms.sketch_factored, A.eigenvalues, A.vectors, M, repeat=3)
    print(f"| factored (r = 20, s = 200) | {M.K} | {M.m} | {A.vectors.nnz:.1e} nnz | {t:.3f} "
          f"| - | - | - | - | {peak:.0f} |")


def case_decode(max_n: float, quick: bool) -> None:
    print("\n## 2. Decode time against N (first 6 eigenvectors, m = 1523, K = 19)\n")
    print(uptime())
    ns = [10**5, 10**6, 10**7, 10**8]
    ns = [n for n in ns if n <= max_n]
    rows = []
    print("\n| N | L bits | median s | bit-test s | bit-test candidates | "
          "median l2 err | bit-test l2 err | peak MiB median | peak MiB bit-test |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in ns:
        A = sparse_eigen_problem(n, 6, 20, support="overlapping", seed=1)
        M = ms.make_matrix(n, rule_n=10**4, rule_s=3, smallest_prime=40)
        sk = ms.sketch(A, matrix=M, bits=16)
        _, U = ms.top_eigenpairs(sk.B, 6)
        (mi, mv), tm, pm = measured(ms.median_decode, U, M, 40, agree=M.alpha,
                                    repeat=1 if n >= 10**7 else 3)
        (bi, bv, cand), tb, pb = measured(ms.bittest_decode, U, sk, 40, repeat=5)
        em = ms.eigen_errors(A, U, np.zeros(6), mi, mv / np.linalg.norm(mv, axis=0), M, 20)
        eb = ms.eigen_errors(A, U, np.zeros(6), bi, bv / np.linalg.norm(bv, axis=0), M, 20)
        rows.append((n, tm, tb))
        print(f"| {n:.0e} | {M.n_bits} | {tm:.3f} | {tb:.4f} | {cand.size} | "
              f"{em['l2_after'].mean():.2e} | {eb['l2_after'].mean():.2e} | {pm:.0f} | "
              f"{pb:.0f} |")
    if len(rows) >= 2:
        x = np.log10([r[0] for r in rows])
        for name, k in (("median", 1), ("bit-test", 2)):
            y = np.log10([r[k] for r in rows])
            print(f"\n{name}: time ~ N^{np.polyfit(x, y, 1)[0]:.2f} over N = "
                  f"{rows[0][0]:.0e}..{rows[-1][0]:.0e}", end="")
        print()


def case_eigsh(max_n: float) -> None:
    print("\n## 3. eigsh baseline (ARPACK on the factored A, r = 6, then top-s)\n")
    print(uptime())
    # both errors: mean l2_after over the 6 vectors against the same (factored) truth
    print("\n| N | seconds | peak MiB (NumPy) | Lanczos MiB (8 N ncv) | l2 err | "
          "MAM* median+refine s (incl. sketch) | MAM* l2 err |")
    print("|---|---|---|---|---|---|---|")
    for n in [10**5, 10**6, 10**7]:
        if n > max_n:
            print(f"| {n:.0e} | not run (--eigsh-max) | | {8 * n * 24 / 2**20:.0f} | | | |")
            continue
        A = sparse_eigen_problem(n, 6, 20, support="overlapping", tail_times=1, seed=2)
        res, t, peak = measured(eigsh_truncated, A, 6, 20)
        M = ms.make_matrix(n, rule_n=10**4, rule_s=3, smallest_prime=40)
        rm, tm, _ = measured(ms.sparse_top_eigenvectors, A, 6, 20, matrix=M)
        print(f"| {n:.0e} | {t:.2f} | {peak:.0f} | {res.info['lanczos_bytes'] / 2**20:.0f} | "
              f"{res.info['errors']['l2_after'].mean():.2e} | {tm:.2f} | "
              f"{rm.info['errors']['l2_after'].mean():.2e} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--max-n", type=float, default=1e8)
    ap.add_argument("--eigsh-max", type=float, default=1e6)
    ap.add_argument("--cases", default="stream,decode,eigsh")
    args = ap.parse_args()
    print(f"# bench_mamstar (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    cases = args.cases.split(",")
    if "stream" in cases:
        case_stream(args.quick)
    if "decode" in cases:
        case_decode(args.max_n, args.quick)
    if "eigsh" in cases:
        case_eigsh(args.eigsh_max)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
