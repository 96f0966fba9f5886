"""Convergence speed of every step policy: relative residual against iterations and seconds.

Two problems, L = 2, alpha = 1e-3 (u(0) = alpha):

* under-determined non-negative sparse recovery (n = 200, m = 80, s = 8): GD on x = u^2
  converges to an interpolant; the table also shows the distance to the exact gradient-flow
  limit (``hadamard_limit``): the mirror-coordinate policies reach it, the others do not;
* over-determined NNLS (Gaussian 300 x 100, noisy): the unique NNLS solution; reported is
  the relative KKT residual, the certificate of ``overparam.solvers.nnls``.

Policies: constant, decaying eta/(t+2)^gamma, auto, Barzilai-Borwein (long, short),
Nesterov with restart, each in u-, x- (the authors' "Riemannian") and mirror coordinates.
The per-policy traces (iteration, seconds, residual) are written to ``--out`` as CSV for
plotting (residual against iterations and against seconds).

Run: ``python examples/nnls_convergence.py [--small] [--out nnls_convergence.csv]``.
"""
from __future__ import annotations

import argparse
import csv
import time

import numpy as np

import overparam
from overparam.dynamics.steps import Auto, BarzilaiBorwein, Constant, Decaying, Nesterov
from overparam.problems import sparse_recovery
from overparam.solvers import nnls


def policies(L: int, small: bool) -> dict:
    out = {"constant": Constant(0.05), "decaying g=0.25": Decaying(0.1, 0.25)}
    for space in ("u", "x", "mirror"):
        kw = dict(space=space, depth=L)
        out[f"auto ({space})"] = Auto(0.9, **kw)
        out[f"BB long ({space})"] = BarzilaiBorwein("long", **kw)
        if not small:
            out[f"BB short ({space})"] = BarzilaiBorwein("short", **kw)
        out[f"Nesterov ({space})"] = Nesterov(**kw)
    return out


def main(small: bool = False, out: str | None = None) -> list[dict]:
    L, alpha = 2, 1e-3
    cap = 20_000 if small else 400_000
    rows: list[dict] = []
    p = sparse_recovery(200, 80, 8, nonneg=True, seed=0)
    lim = overparam.hadamard_limit(p, depth=L, init_scale=alpha, nonneg=True, tol=1e-12)
    print("under-determined non-negative sparse recovery n=200 m=80 s=8, to residual 1e-8")
    print(f"{'policy':18s} {'status':>10s} {'iters':>7s} {'seconds':>8s} {'dist. to limit':>14s}")
    for name, pol in policies(L, small).items():
        t = time.perf_counter()
        r = overparam.hadamard_gd(p, depth=L, init_scale=alpha, nonneg=True, step=pol,
                                  tol=1e-8, max_iter=cap, record=32)
        dt = time.perf_counter() - t
        d = np.linalg.norm(r.x - lim.x) / np.linalg.norm(lim.x)
        print(f"{name:18s} {r.status.value:>10s} {r.n_iter:7d} {dt:8.2f} {d:14.1e}")
        for it, res in zip(r.trace["iter"], r.trace["residual"]):
            rows.append(dict(problem="sparse", policy=name, iter=int(it),
                             seconds=dt * it / max(r.n_iter, 1), residual=float(res)))
    rng = np.random.default_rng(0)
    A = rng.standard_normal((300, 100)) / np.sqrt(300)
    y = A @ np.maximum(rng.standard_normal(100), 0) + 0.3 * rng.standard_normal(300)
    print("\nover-determined NNLS 300 x 100, to relative KKT residual 1e-9")
    print(f"{'policy':18s} {'status':>10s} {'iters':>7s} {'seconds':>8s} {'KKT (rel)':>10s}")
    for name, pol in policies(L, small).items():
        t = time.perf_counter()
        r = nnls(A, y, method="reparam", step=pol, init_scale=alpha, tol=1e-9,
                 max_iter=cap // 4)
        dt = time.perf_counter() - t
        print(f"{name:18s} {r.status.value:>10s} {r.n_iter:7d} {dt:8.2f} "
              f"{r.info['kkt_rel']:10.1e}")
        rows.append(dict(problem="overdetermined", policy=name, iter=r.n_iter, seconds=dt,
                         residual=r.info["kkt_rel"]))
    for method in ("cd", "apg", "lawson-hanson"):
        r = nnls(A, y, method=method, tol=1e-9)
        print(f"{'nnls ' + method:18s} {r.status.value:>10s} {r.n_iter:7d} "
              f"{r.wall_time:8.2f} {r.info['kkt_rel']:10.1e}")
    if out:
        with open(out, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print(f"traces written to {out}")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    main(a.small, a.out)
