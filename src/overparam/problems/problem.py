"""The Problem type: an operator, measurements and (optionally) the truth behind them."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core import check_finite_array, check_not_complex, check_system
from .._core.checks import _scalar_of
from .operators import Operator, _check_numeric_input, as_operator


@dataclass(frozen=True, eq=False)
class Problem:
    """Linear measurements ``y = A x_true + noise``.

    Attributes
    ----------
    A : Operator
        The measurement operator (``matvec``/``rmatvec`` and JAX versions).
    y : ndarray of shape (m,)
        The measurements.
    x_true : ndarray of shape (n,) or None
        The planted signal, when known.
    noise : float
        Standard deviation of the additive Gaussian noise per measurement (>= 0; NaN
        when it has no single value, e.g. matrix noise scaled to a spectral norm).
    info : dict
        Generator parameters (n, m, s, seed, ...), for records.
    """

    A: Operator
    y: np.ndarray
    x_true: np.ndarray | None = None
    noise: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        A = as_operator(self.A)
        object.__setattr__(self, "A", A)
        # private read-only copies: freezing the caller's array (or a view of it) would
        # make their array read-only and leave ours writable through its base (complex
        # measurements stay complex: see problems.structured)
        y = np.array(check_system(A.shape, self.y), copy=True)
        y.setflags(write=False)
        object.__setattr__(self, "y", y)
        if self.x_true is not None:
            xt = np.array(check_finite_array(self.x_true, "x_true"), copy=True)
            # a vector, or a single row or column like y (flattening any shape accepted
            # e.g. a 5 x 6 array as the 30 entries of x_true)
            if xt.ndim > 2 or (xt.ndim == 2 and 1 not in xt.shape):
                raise ValueError(f"x_true must be a vector, got shape {xt.shape}")
            xt = xt.reshape(-1)
            if xt.shape[0] != A.shape[1]:
                raise ValueError(
                    f"x_true has {xt.shape[0]} entries but A has {A.shape[1]} columns"
                )
            xt.setflags(write=False)
            object.__setattr__(self, "x_true", xt)
        object.__setattr__(self, "noise", _noise_level(self.noise))

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape

    @property
    def n(self) -> int:
        return self.A.shape[1]

    @property
    def m(self) -> int:
        return self.A.shape[0]

    def residual(self, x: np.ndarray) -> np.ndarray:
        """``A x - y`` (``x`` real: a vector of ``n`` entries, also as one row or column,
        or for a matrix operator a matrix of its ``matrix_shape``)."""
        # np.asarray(x, float) dropped an imaginary part with only a warning
        check_not_complex(x, "x")
        x = np.asarray(_check_numeric_input(x, "x"), float)  # no masks, no strings
        # a batch of columns (n, k) gave an (m, k) product from which y was subtracted
        # by broadcasting, row by row: for k = m a wrong residual and loss, no error
        shape = getattr(self.A, "matrix_shape", None)
        if x.shape != (self.n,):
            if x.size != self.n or not (
                    (x.ndim == 2 and 1 in x.shape)
                    or (shape is not None and x.shape == tuple(shape))):
                what = f" (or a matrix of shape {tuple(shape)})" if shape is not None else ""
                raise ValueError(f"x must be a vector of {self.n} entries{what}, got shape "
                                 f"{x.shape}")
            x = x.reshape(-1)
        return self.A.matvec(x) - self.y

    def loss(self, x: np.ndarray) -> float:
        """``0.5 * ||A x - y||^2``."""
        r = self.residual(x)
        # vdot conjugates: with complex measurements (problems.structured) ``r @ r`` is
        # sum r_i^2, not ||r||^2 (and float() of it dropped the imaginary part)
        return 0.5 * float(np.vdot(r, r).real)


def _noise_level(noise: Any) -> float:
    """``noise`` as a float: finite and >= 0, or NaN."""
    noise = _scalar_of(noise)  # a 0-d array as its scalar, as in check_positive
    if not isinstance(noise, bool) and isinstance(noise, numbers.Real):
        try:
            # float() first: np.isnan raised TypeError on a Fraction and on an int beyond
            # the floats (10**400, for which float() raises OverflowError)
            v = float(noise)
        except OverflowError:
            v = math.inf
        if math.isnan(v) or 0 <= v < math.inf:
            return v
    raise ValueError(f"noise must be a finite number >= 0 (or NaN), got {noise!r}")


def as_problem(A: Any, y: Any = None) -> Problem:
    """A Problem from a Problem or from ``(A, y)``.

    Parameters
    ----------
    A : Problem, or array of shape (m, n), Operator, scipy LinearOperator or sparse matrix
        A Problem (returned as is; then ``y`` is omitted) or the measurement operator.
    y : array of shape (m,), optional
        The measurements; required unless ``A`` is a Problem.

    Returns
    -------
    Problem

    Raises
    ------
    TypeError
        For a Problem together with ``y``, or an operator without ``y``.
    """
    if isinstance(A, Problem):
        if y is not None:
            raise TypeError("pass either a Problem or (A, y), not both")
        return A
    if y is None:
        raise TypeError("y is required when A is not a Problem")
    return Problem(A, y)
