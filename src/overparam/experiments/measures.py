"""Per-trial metrics a spec can request (``[experiment] metrics = [...]``).

Each metric is a function ``(problem, x, ref, tol) -> float`` where ``ref`` is the reference
solution of the same problem (basis pursuit by default), computed once per problem and only
when a requested metric needs it. They delegate to ``overparam.metrics`` when it provides
the function and fall back to the same formula here otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["MetricEntry", "METRICS", "compute_metrics"]


@dataclass(frozen=True)
class MetricEntry:
    name: str
    fn: Callable[[Any, np.ndarray, np.ndarray | None, float], float]
    needs_reference: bool = False
    needs_truth: bool = False
    description: str = ""


def _norm(v: np.ndarray) -> float:
    return float(np.linalg.norm(v))


def _rel_error(problem, x, ref, tol):
    xt = np.asarray(problem.x_true)
    return _norm(x - xt) / max(_norm(xt), 1e-300)


def _recovered(problem, x, ref, tol):
    return float(_rel_error(problem, x, ref, tol) <= tol)


def _residual(problem, x, ref, tol):
    return _norm(problem.residual(x)) / max(_norm(problem.y), 1e-300)


def _l1(problem, x, ref, tol):
    return float(np.abs(x).sum())


def _l1_gap(problem, x, ref, tol):
    r = float(np.abs(ref).sum())
    return (float(np.abs(x).sum()) - r) / max(r, 1e-300)


def _ref_error(problem, x, ref, tol):
    return _norm(x - ref) / max(_norm(ref), 1e-300)


def _support(problem, x, ref, tol):
    """Fraction of the true support among the s largest entries of |x|."""
    xt = np.asarray(problem.x_true)
    true = np.flatnonzero(xt)
    if true.size == 0:
        return 1.0
    top = np.argsort(-np.abs(x), kind="stable")[: true.size]
    return float(np.intersect1d(top, true).size / true.size)


METRICS: dict[str, MetricEntry] = {m.name: m for m in [
    MetricEntry("rel_error", _rel_error, needs_truth=True,
                description="||x - x_true|| / ||x_true||"),
    MetricEntry("recovered", _recovered, needs_truth=True,
                description="1 if rel_error <= recovery_tol else 0"),
    MetricEntry("residual", _residual, description="||Ax - y|| / ||y||"),
    MetricEntry("l1_norm", _l1, description="||x||_1"),
    MetricEntry("l1_gap", _l1_gap, needs_reference=True,
                description="(||x||_1 - ||x_ref||_1) / ||x_ref||_1, x_ref the reference "
                            "(basis pursuit) solution of the same problem"),
    MetricEntry("ref_error", _ref_error, needs_reference=True,
                description="||x - x_ref|| / ||x_ref||"),
    MetricEntry("support", _support, needs_truth=True,
                description="fraction of the true support among the s largest |x_i|"),
]}


def compute_metrics(names, problem, x, ref, tol) -> dict[str, float]:
    """The requested metrics of one solution (NaN where one cannot be computed)."""
    x = np.asarray(x, dtype=float).reshape(-1)
    out = {}
    for name in names:
        entry = METRICS[name]
        if (entry.needs_reference and ref is None) or (
                entry.needs_truth and problem.x_true is None) or not np.all(np.isfinite(x)):
            out[name] = float("nan")
            continue
        out[name] = float(entry.fn(problem, x, ref, tol))
    return out
