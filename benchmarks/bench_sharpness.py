"""Time per sharpness estimate: Lanczos and power iteration on Hessian-vector products
against forming the dense Hessian (HVPs against the basis, in column blocks) and
``numpy.linalg.eigvalsh``, for parameter counts 10^3 to 10^5.

    python benchmarks/bench_sharpness.py            # 1e3, 1e4, 1e5 parameters
    python benchmarks/bench_sharpness.py --quick    # 1e3 only (CI smoke run)

The model is the two-layer tanh network of the edge-of-stability experiments
(``overparam.models.TwoLayerNet``) on 500 digits images with MSE, at a trained-ish point
(its initialization); widths are chosen so that the network has about 10^3, 10^4 and 10^5
parameters. Each time is the best of ``--reps`` runs after a compiling run (compile time
is reported separately); the dense Hessian runs once, after its own compilation (shown in
its column). The dense Hessian needs ``8 n^2`` bytes (plus the eigensolver's
copy); it is skipped, with the memory it would need, when that exceeds half of the
available memory (``--mem-fraction``) or the ``--max-dense`` parameter count.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

jax.config.update("jax_enable_x64", True)

from overparam.metrics import sharpness  # noqa: E402
from overparam.models import TwoLayerNet  # noqa: E402
from overparam.problems.regression import digits_regression  # noqa: E402


def available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def make_loss(width: int):
    p = digits_regression(500, 100, seed=0)
    net = TwoLayerNet(p.X_train, 10, width=width)
    y = jnp.asarray(p.y)

    def loss(params):
        r = net.signal(params) - y
        return 0.5 * jnp.vdot(r, r)
    return loss, net.init(None), net.n_params


def dense_top(loss, params, block: int = 256) -> tuple[float, float, float]:
    """(lambda_max, seconds, compile seconds) from the dense Hessian: HVPs against basis
    blocks (jitted), then numpy.linalg.eigvalsh. As for Lanczos, the compilation (here
    linearize + jit of the block program) is timed apart from the run."""
    t0 = time.perf_counter()
    flat, unravel = ravel_pytree(params)
    n = flat.shape[0]
    grad = jax.grad(lambda z: loss(unravel(z)))
    _, lin = jax.linearize(grad, flat)

    @jax.jit
    def cols(start):
        E = jax.nn.one_hot(start + jnp.arange(block), n, dtype=flat.dtype)
        return jax.vmap(lin)(E)
    cols(0).block_until_ready()  # compile (the same program serves every start)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    H = np.empty((n, n))
    for s in range(0, n, block):
        c = np.asarray(cols(s))
        H[s:min(s + block, n)] = c[: min(block, n - s)]
    return float(np.linalg.eigvalsh(0.5 * (H + H.T))[-1]), time.perf_counter() - t0, compile_s


def best_time(fn, reps: int) -> tuple[float, float, float]:
    """(compile+first-run seconds, best of reps seconds, value)."""
    t0 = time.perf_counter()
    v = float(fn())
    first = time.perf_counter() - t0
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        v = float(fn())
        best = min(best, time.perf_counter() - t0)
    return first, best, v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--k", default="20,80", help="Lanczos steps (comma-separated)")
    ap.add_argument("--max-dense", type=int, default=12_000,
                    help="largest parameter count for the dense Hessian")
    ap.add_argument("--mem-fraction", type=float, default=0.5)
    args = ap.parse_args()
    ks = [int(k) for k in args.k.split(",")]
    widths = [13] if args.quick else [13, 133, 1333]
    print(f"# {platform.node()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"jax {jax.__version__}, {available_bytes() / 2**30:.1f} GiB available")
    head = ["params"] + [f"Lanczos k={k} (s)" for k in ks] + [
        "power, tol 1e-8 (s, products)", "dense HVPs + eigvalsh (s)", "lambda_max (reference)"]
    head += [f"rel. err. k={k}" for k in ks] + ["rel. err. power", "Lanczos compile (s)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    from overparam.metrics.sharpness import power_iteration
    for w in widths:
        loss, params, n = make_loss(w)
        lz = {k: jax.jit(lambda p, k=k: sharpness(loss, p, k=k)) for k in ks}
        pw = jax.jit(lambda p: power_iteration(loss, p, max_iter=5000, tol=1e-8))
        times, vals, compile_s = {}, {}, 0.0
        for k in ks:
            c, times[k], vals[k] = best_time(lambda: lz[k](params), args.reps)
            compile_s = max(compile_s, c)
        its = int(pw(params)[1])
        _, t_p, v_p = best_time(lambda: pw(params)[0], args.reps)
        need = 8 * n * n * 2
        if n <= args.max_dense and need <= args.mem_fraction * available_bytes():
            ref, t_dense, c_dense = dense_top(loss, params)
            dense = f"{t_dense:.2f} (compile {c_dense:.1f})"
            ref_s = f"{ref:.8f} (dense)"
        else:
            dense = f"skipped: needs {need / 2**30:.0f} GiB"
            ref = vals[max(ks)]
            ref_s = f"{ref:.8f} (k={max(ks)})"
        row = [str(n)] + [f"{times[k]:.3f}" for k in ks] + [f"{t_p:.3f} ({its})", dense, ref_s]
        row += [f"{abs(vals[k] - ref) / abs(ref):.1e}" for k in ks]
        row += [f"{abs(v_p - ref) / abs(ref):.1e}", f"{compile_s:.1f}"]
        print("| " + " | ".join(row) + " |", flush=True)
    print(f"# load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
