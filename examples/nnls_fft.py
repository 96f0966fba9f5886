"""NNLS with a subsampled FFT, the NNLS authors' ``fft.py`` setting (AISTATS 2025).

N = 10^4 unknowns, m = 8810 random DFT rows (divided by sqrt(m)), s = 50 non-negative
nonzeros |N(0, 1)|, L = 2, and gradient descent on x = u^2 from u(0) = alpha for
alpha = 1e-2 ... 1e-6: the error ||x - x*||_2 after at most 10^4 steps against alpha.
The operator is matrix-free (``overparam.solvers.SubsampledFFT``, real and imaginary parts
stacked: 2m real rows, so the model stays real; the authors' ``gd`` let x turn complex).
Their reference numbers (``papers-implicit-bias.md`` 2(d)): ||x - x*|| = 1.0e-2, 1.05e-4,
1.5e-6, 9.9e-7, 9.9e-7 with stops at 4833, 5785, 6744 iterations for alpha <= 1e-4
(residual tol 1e-6, eta = 0.2 in their x-space convention = eta 0.1 in ours).

Also runs the accelerated policy (Nesterov in mirror coordinates) and the default
``overparam.solvers.nnls`` (accelerated projected gradient) for comparison.

Run: ``python examples/nnls_fft.py`` (about a minute) or ``--small`` (N = 2000, CI).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import overparam
from overparam.dynamics.steps import Constant, Nesterov
from overparam.solvers import SubsampledFFT, nnls


def main(small: bool = False) -> list[dict]:
    N, m, s, T = (2000, 1762, 10, 10_000) if small else (10_000, 8810, 50, 10_000)
    rng = np.random.default_rng(1)
    op = SubsampledFFT.random(m, N, seed=1)
    x_true = np.zeros(N)
    x_true[rng.choice(N, size=s, replace=False)] = np.abs(rng.standard_normal(s))
    y = op.matvec(x_true)
    rows = []
    print(f"subsampled FFT: N={N}, m={m} complex rows ({op.shape[0]} real), s={s}, L=2")
    print(f"{'alpha':>8s} {'policy':>22s} {'steps':>6s} {'||x - x*||':>11s} {'residual':>9s}"
          f" {'seconds':>8s}")
    for alpha in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        for name, step in (("constant eta=0.1 (u)", Constant(0.1)),
                           ("Nesterov (mirror)", Nesterov(space="mirror", depth=2))):
            t = time.perf_counter()
            res = overparam.hadamard_gd(op, y, depth=2, init_scale=alpha, nonneg=True,
                                        step=step, max_iter=T, tol=1e-6 / np.linalg.norm(y))
            dt = time.perf_counter() - t
            err = float(np.linalg.norm(res.x - x_true))
            rows.append(dict(alpha=alpha, policy=name, steps=res.n_iter, error=err,
                             residual=res.info["relative_residual"], seconds=dt))
            print(f"{alpha:8.0e} {name:>22s} {res.n_iter:6d} {err:11.2e} "
                  f"{res.info['relative_residual']:9.1e} {dt:8.2f}")
    t = time.perf_counter()
    r = nnls(op, y, tol=1e-10)
    print(f"nnls(method='auto' -> {r.info['method']}): {r.n_iter} steps, "
          f"||x - x*|| = {np.linalg.norm(r.x - x_true):.2e}, KKT {r.info['kkt_rel']:.1e}, "
          f"{time.perf_counter() - t:.2f} s")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    main(ap.parse_args().small)
