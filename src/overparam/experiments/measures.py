"""Per-trial metrics a spec can request (``[experiment] metrics = [...]``).

Each metric is a function ``(problem, x, ref, tol) -> float`` where ``ref`` is the reference
solution of the same problem (basis pursuit by default), computed once per problem and only
when a requested metric needs it. A metric with ``takes_result=True`` receives the solver's
whole :class:`~overparam.Result` instead of ``x`` (for quantities a method reports in
``Result.info``, such as a test error or a final sharpness). The formulas are those of
``overparam.metrics``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import metrics

__all__ = ["MetricEntry", "METRICS", "compute_metrics", "info_metric", "register_metric"]


@dataclass(frozen=True)
class MetricEntry:
    name: str
    fn: Callable[[Any, np.ndarray, np.ndarray | None, float], float]
    needs_reference: bool = False
    needs_truth: bool = False
    description: str = ""
    takes_result: bool = False
    #: the value when the estimate is not finite (a diverged solver); None gives NaN
    if_not_finite: float | None = None


def _rel_error(problem, x, ref, tol):
    return metrics.relative_error(x, problem.x_true)


def _recovered(problem, x, ref, tol):
    return float(metrics.success(x, problem.x_true, tol))


def _residual(problem, x, ref, tol):
    A, y = getattr(problem, "A", None), getattr(problem, "y", None)
    if A is None or y is None:
        # not a linear system (an eigenproblem, a network task): no residual. An
        # AttributeError here made the trial an error row and lost the method's result
        return float("nan")
    return metrics.residual(A, x, y)


def _l1(problem, x, ref, tol):
    return float(np.abs(x).sum())


def _l1_gap(problem, x, ref, tol):
    return metrics.l1_gap(x, ref)


def _ref_error(problem, x, ref, tol):
    return metrics.relative_error(x, ref)


def _top_support(problem, x):
    return metrics.support_recovery(x, problem.x_true, k=int(np.count_nonzero(problem.x_true)))


def _support_recall(problem, x, ref, tol):
    return float(_top_support(problem, x).recall)


def _support_recovered(problem, x, ref, tol):
    return float(_top_support(problem, x).exact)


METRICS: dict[str, MetricEntry] = {m.name: m for m in [
    MetricEntry("rel_error", _rel_error, needs_truth=True,
                description="||x - x_true|| / ||x_true||"),
    # a diverged estimate has not recovered the signal (overparam.metrics.success says
    # False): a NaN would drop the trial from the recovery rate (a mean over trials)
    MetricEntry("recovered", _recovered, needs_truth=True, if_not_finite=0.0,
                description="1 if rel_error < recovery_tol else 0"),
    MetricEntry("residual", _residual, description="||Ax - y|| / ||y||"),
    MetricEntry("l1_norm", _l1, description="||x||_1"),
    MetricEntry("l1_gap", _l1_gap, needs_reference=True,
                description="(||x||_1 - ||x_ref||_1) / ||x_ref||_1, x_ref the reference "
                            "(basis pursuit) solution of the same problem"),
    MetricEntry("ref_error", _ref_error, needs_reference=True,
                description="||x - x_ref|| / ||x_ref||"),
    MetricEntry("support_recall", _support_recall, needs_truth=True,
                description="fraction of the true support among the s largest |x_i|"),
    MetricEntry("support_recovered", _support_recovered, needs_truth=True,
                description="1 if the s largest |x_i| are exactly the true support"),
]}


@dataclass(frozen=True)
class _InfoValue:
    key: str

    def __call__(self, problem: Any, result: Any, ref: Any, tol: float) -> float:
        value = result.info.get(self.key)
        return float("nan") if value is None else float(value)


def info_metric(name: str, description: str = "", key: str | None = None) -> MetricEntry:
    """A metric reading a scalar the solver put in ``Result.info[key]`` (default: ``name``;
    NaN when absent). Areas that report the same quantity share one entry."""
    return MetricEntry(name, _InfoValue(key or name), takes_result=True,
                       description=description or f"Result.info[{key or name!r}]")


def register_metric(entry: MetricEntry, *, replace: bool = False) -> MetricEntry:
    """Add a metric to the registry (an error if the name is taken by a different metric,
    unless ``replace``; registering an equal entry again is a no-op)."""
    old = METRICS.get(entry.name)
    if old is not None and not replace:
        if old.fn == entry.fn and old.takes_result == entry.takes_result:
            return old
        raise ValueError(f"metric {entry.name!r} is already registered")
    METRICS[entry.name] = entry
    return entry


def compute_metrics(names, problem, x, ref, tol, result: Any = None) -> dict[str, float]:
    """The requested metrics of one solution (NaN where one cannot be computed)."""
    x = np.asarray(x).reshape(-1)
    if not np.iscomplexobj(x):      # complex estimates (Fourier operators) stay complex
        x = x.astype(float)
    if ref is not None:
        # flattened like x: a matrix method (dmf_gd) returns a 2-D x, and as the reference
        # its solution would not match the flattened estimates of the other methods
        ref = np.asarray(ref).reshape(-1)
    out = {}
    finite = bool(np.all(np.isfinite(x)))
    for name in names:
        entry = METRICS[name]
        if (entry.needs_reference and ref is None) or (
                entry.needs_truth and getattr(problem, "x_true", None) is None) or (
                entry.takes_result and result is None):
            out[name] = float("nan")
            continue
        if not finite:
            out[name] = (float("nan") if entry.if_not_finite is None
                         else float(entry.if_not_finite))
            continue
        out[name] = float(entry.fn(problem, result if entry.takes_result else x, ref, tol))
    return out
