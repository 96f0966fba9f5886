"""The one result type shared by dynamics, limits and baselines."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
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
        Why the solver stopped; ``status.advice`` says what to do about it.
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
        if not self.message:
            self.message = self.status.advice

    def __repr__(self) -> str:  # short: x can be huge
        x = np.asarray(self.x)
        return (
            f"Result(status={self.status.value}, success={self.success}, "
            f"n_iter={self.n_iter}, fun={self.fun:.3e}, x.shape={x.shape}, "
            f"wall_time={self.wall_time:.3g}s)"
        )
