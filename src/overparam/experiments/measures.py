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
from typing import Any, Callable, Iterable

import numpy as np

from .. import metrics

__all__ = ["MetricEntry", "METRICS", "compute_metrics", "info_metric", "register_metric"]


@dataclass(frozen=True)
class MetricEntry:
    """One registered per-trial metric.

    Attributes
    ----------
    name : str
        Registry key, used in specs (``[experiment] metrics = [...]``) and as the column
        name of result rows.
    fn : callable
        ``fn(problem, x, ref, tol) -> float``; with ``takes_result`` it receives the
        solver's :class:`~overparam.Result` in place of ``x``.
    needs_reference : bool, optional
        Whether ``fn`` uses ``ref``, the reference solution of the same problem (it is
        then computed once per problem). Default False.
    needs_truth : bool, optional
        Whether ``fn`` uses ``problem.x_true`` (NaN on problems without one). Default False.
    description : str, optional
        One line for ``overparam info``. Default empty.
    takes_result : bool, optional
        Whether ``fn`` receives the whole Result rather than ``x``. Default False.
    if_not_finite : float or None, optional
        The value when the estimate is not finite (a diverged solver); None (default)
        gives NaN.
    """

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
    NaN when absent). Areas that report the same quantity share one entry.

    Parameters
    ----------
    name : str
        Name of the metric.
    description : str, optional
        One line for ``overparam info``; default ``"Result.info['<key>']"``.
    key : str, optional
        Key of ``Result.info`` to read; None (default) uses ``name``.

    Returns
    -------
    MetricEntry
        An entry with ``takes_result=True`` (not registered: see :func:`register_metric`).
    """
    return MetricEntry(name, _InfoValue(key or name), takes_result=True,
                       description=description or f"Result.info[{key or name!r}]")


def register_metric(entry: MetricEntry, *, replace: bool = False) -> MetricEntry:
    """Add a metric to the registry (an error if the name is taken by a different metric,
    unless ``replace``; registering an equal entry again is a no-op).

    Parameters
    ----------
    entry : MetricEntry
        The metric to register under ``entry.name``.
    replace : bool, optional
        If True, overwrite an entry of the same name. Default False.

    Returns
    -------
    MetricEntry
        The registered entry (the existing one when an equal entry is registered again:
        same ``fn`` and ``takes_result``).

    Raises
    ------
    ValueError
        If the name is taken by a different metric and ``replace`` is False, or is not a
        non-empty string.
    TypeError
        If ``entry`` is not a MetricEntry or its ``fn`` is not callable.
    """
    # a non-string name broke the "unknown metric" error of every later lookup (joining
    # the names raised TypeError), and fn=None failed only when a run measured it
    if not isinstance(entry, MetricEntry):
        raise TypeError(f"register_metric takes a MetricEntry, got {type(entry).__name__}")
    if not isinstance(entry.name, str) or not entry.name.strip():
        raise ValueError(f"metric name must be a non-empty string, got {entry.name!r}")
    if not callable(entry.fn):
        raise TypeError(f"metric {entry.name!r}: fn must be callable, got {entry.fn!r}")
    old = METRICS.get(entry.name)
    if old is not None and not replace:
        if old.fn == entry.fn and old.takes_result == entry.takes_result:
            return old
        raise ValueError(f"metric {entry.name!r} is already registered")
    METRICS[entry.name] = entry
    return entry


def compute_metrics(names: Iterable[str], problem: Any, x: Any, ref: Any, tol: float,
                    result: Any = None) -> dict[str, float]:
    """The requested metrics of one solution (NaN where one cannot be computed).

    Parameters
    ----------
    names : iterable of str
        Registered metric names (see :data:`METRICS`).
    problem : Problem
        The problem solved (metrics read ``x_true``, ``A``, ``y`` from it).
    x : array_like
        The solver's estimate; flattened (and cast to float unless complex).
    ref : array_like or None
        The reference solution of the same problem, flattened; None when not computed
        (then metrics that need it are NaN, as they are for a non-finite ``ref``).
    tol : float
        Recovery tolerance (``experiment.recovery_tol``), passed to each metric.
    result : Result, optional
        The solver's whole result, for metrics with ``takes_result``; None (default)
        makes them NaN.

    Returns
    -------
    dict of str to float
        Each name's value. NaN where a metric's reference (or a finite one), truth or
        result is missing;
        for a non-finite ``x`` the metric's ``if_not_finite`` value (NaN if None).

    Raises
    ------
    KeyError
        If a name is not a registered metric (the message lists the registered ones).
    TypeError
        If ``names`` is a single string rather than a list of names.
    """
    if isinstance(names, str):
        # iterating "rel_error" asked for the metric 'r' (KeyError: 'r')
        raise TypeError(f"names must be a list of metric names, got the string {names!r}")
    names = list(names)
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        # was a bare KeyError: 'nope', raised only after the metrics before it were computed
        raise KeyError(f"unknown metric {unknown[0]!r} (registered: {', '.join(METRICS)})")
    x = np.asarray(x).reshape(-1)
    if not np.iscomplexobj(x):      # complex estimates (Fourier operators) stay complex
        x = x.astype(float)
    if ref is not None:
        # flattened like x: a matrix method (dmf_gd) returns a 2-D x, and as the reference
        # its solution would not match the flattened estimates of the other methods
        ref = np.asarray(ref).reshape(-1)
        if not np.all(np.isfinite(ref)):
            # a reference that "succeeded" with a NaN or inf: its metrics cannot be
            # computed (l1_gap raised ValueError, which made every configuration's row on
            # the problem an error row, its other metrics lost)
            ref = None
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
