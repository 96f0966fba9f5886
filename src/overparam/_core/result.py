"""The one result type shared by dynamics, limits and baselines."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


class Status(enum.Enum):
    """Why a solver stopped. Each member's ``advice`` says what to do about it."""

    CONVERGED = "converged"
    MAX_ITER = "max_iter"
    STAGNATED = "stagnated"
    DIVERGED = "diverged"
    NON_FINITE_INPUT = "non_finite_input"
    INFEASIBLE = "infeasible"
    NUMERICAL_ERROR = "numerical_error"
    EARLY_STOPPED = "early_stopped"

    @property
    def advice(self) -> str:
        return _ADVICE[self]

    @property
    def success(self) -> bool:
        return self is Status.CONVERGED or self is Status.EARLY_STOPPED


_ADVICE = {
    Status.CONVERGED: "The stopping tolerance was reached.",
    Status.MAX_ITER: (
        "The iteration limit was reached before the tolerance: raise max_iter or loosen "
        "tol (for gradient dynamics, a larger init_scale shortens the escape phase and "
        "step='auto' adapts the step to the iterate)."
    ),
    Status.STAGNATED: (
        "Progress stopped before the tolerance was reached (the objective no longer "
        "decreases): the tolerance may be below what floating point allows, or y is "
        "not reachable by the model."
    ),
    Status.DIVERGED: (
        "The iteration blew up (non-finite or growing objective): use a smaller step or "
        "step='auto'. The returned x is the last finite iterate."
    ),
    Status.NON_FINITE_INPUT: "The input contains NaN or inf: clean the data first.",
    Status.INFEASIBLE: (
        "No solution of the constraints exists (e.g. y is not in the range of A, or no "
        "non-negative x solves Ax = y): the problem must be relaxed, e.g. use least "
        "squares or Lasso instead of an interpolating method."
    ),
    Status.EARLY_STOPPED: (
        "An early-stopping rule ended the run on purpose (e.g. on a low-rank plateau "
        "before the iterates fit the noise); info says where and why."
    ),
    Status.NUMERICAL_ERROR: (
        "The solver failed numerically (a singular system or a failed line search): "
        "check the conditioning of A or loosen the tolerance."
    ),
}


@dataclass
class Result:
    """Outcome of any overparam solver (SciPy ``OptimizeResult`` conventions).

    Attributes
    ----------
    x : ndarray
        The solution (for a diverged run, the last finite iterate).
    status : Status
        Why the solver stopped; ``status.advice`` says what to do about it. Its value
        (``"converged"``, as stores and JSON hold it) is accepted and converted.
    message : str
        Human-readable explanation (status advice plus solver-specific detail).
    n_iter : int
        Iterations (gradient steps, Newton steps, ...) performed.
    fun : float
        Final objective value (for interpolation methods 0.5 * ||Ax - y||^2).
    trace : dict of str to ndarray or None
        Metrics recorded along the run (``trace["iter"]`` holds the iterations).
    wall_time : float
        Seconds spent in the solver.
    info : dict
        Solver-specific extras (e.g. the dual variable of a limit).
    """

    x: np.ndarray
    status: Status
    message: str = ""
    n_iter: int = 0
    fun: float = float("nan")
    trace: dict[str, np.ndarray] | None = None
    wall_time: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """True when the solver reached its tolerance."""
        return self.status.success

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            # a status given by its value ("converged"), as stores and JSON hold it
            try:
                self.status = Status(self.status)
            except (ValueError, TypeError):
                raise ValueError(
                    f"status must be a Status or one of "
                    f"{[s.value for s in Status]}, got {self.status!r}") from None
        if not self.message:
            self.message = self.status.advice
        if isinstance(self.x, np.ndarray) and not self.x.flags.writeable:
            # a host view of a JAX buffer is read-only: x[x < 1e-6] = 0 on a
            # hadamard_gd or dmf_gd result raised "assignment destination is read-only"
            self.x = self.x.copy()

    def __eq__(self, other: Any) -> bool:
        """Field-by-field equality, arrays compared by value (NaN equal to NaN).

        The dataclass default compared the fields as a tuple, so ``x == x'`` of two arrays
        was asked for its truth value: comparing a Result with its pickled copy (or
        ``result in results``) raised ValueError."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name))
                   for f in fields(self))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:  # short: x can be huge
        x = np.asarray(self.x)
        return (
            f"Result(status={_status_text(self.status)}, success={_safe_success(self)}, "
            f"n_iter={self.n_iter}, fun={_num(self.fun, '.3e')}, x.shape={x.shape}, "
            f"wall_time={_num(self.wall_time, '.3g', unit='s')})"
        )


def _num(v: Any, spec: str, unit: str = "") -> str:
    """``v`` formatted with ``spec`` and followed by ``unit``, or its repr (no unit) when
    it is not a number (a repr must not raise: ``fun=None`` made ``repr`` a TypeError)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return repr(v)
    # no unit after nan / inf: a NaN wall time read "wall_time=nans"
    return format(f, spec) + (unit if math.isfinite(f) else "")


def _status_text(status: Any) -> str:
    return status.value if isinstance(status, Status) else repr(status)


def _safe_success(res: Result) -> Any:
    return res.success if isinstance(res.status, Status) else None


def _same(a: Any, b: Any) -> bool:
    """Value equality of result fields: containers item by item, arrays (NumPy, JAX) by
    shape and value with NaN equal to NaN, anything else by ``==``."""
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(_same(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(u, v) for u, v in zip(a, b)))
    # Python complex too: a complex NaN in info made a Result unequal to itself (and to
    # its pickled copy)
    if hasattr(a, "__array__") or hasattr(b, "__array__") or (
            isinstance(a, (float, complex)) and isinstance(b, (float, complex))):
        try:
            u, v = np.asarray(a), np.asarray(b)
        except Exception:  # an array-like that cannot be converted: compare as objects
            return a is b
        if u.shape != v.shape:
            return False
        try:
            return bool(np.array_equal(u, v, equal_nan=True))
        except TypeError:  # equal_nan needs a numeric dtype (strings, objects)
            return bool(np.array_equal(u, v))
    try:
        return bool(a == b)
    except Exception:  # an ambiguous or failing comparison of opaque objects
        return a is b
