"""Generators of sparse (and non-negative sparse) recovery problems."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core import as_generator, check_bool, check_int, check_positive
from .operators import OPERATORS, Operator, as_operator
from .problem import Problem

SIGNALS = ("gaussian", "sign", "uniform")


def _check_signal(signal: Any) -> None:
    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {SIGNALS}, got {signal!r}")


def sparse_vector(
    n: int, s: int, rng: int | np.random.Generator, signal: str = "gaussian",
    nonneg: bool = False
) -> np.ndarray:
    """An s-sparse vector with a uniformly random support.

    Parameters
    ----------
    n : int
        Length (>= 1).
    s : int
        Number of nonzeros, ``0 <= s <= n``.
    rng : int or numpy.random.Generator
        A Generator (drawn from, so the caller's stream advances) or an int seed, as
        everywhere else.
    signal : {"gaussian", "sign", "uniform"}, optional
        The nonzero values: N(0, 1) (default), +-1 or U[-1, 1].
    nonneg : bool, optional
        Take the absolute values of the draws (default False).

    Returns
    -------
    ndarray of shape (n,)
    """
    _check_signal(signal)
    n = check_int(n, "n", minimum=1)
    s = check_int(s, "s", minimum=0)
    # "no" (any truthy value) drew a non-negative signal
    nonneg = check_bool(nonneg, "nonneg")
    if s > n:
        raise ValueError(f"sparsity s = {s} exceeds the dimension n = {n}")
    # an int seed failed with "'int' object has no attribute 'choice'"
    rng = as_generator(rng)
    x = np.zeros(n)
    support = rng.choice(n, size=s, replace=False)
    if signal == "gaussian":
        vals = rng.standard_normal(s)
    elif signal == "sign":
        vals = 2.0 * rng.integers(0, 2, size=s) - 1.0
    else:
        vals = rng.uniform(-1.0, 1.0, size=s)
    x[support] = np.abs(vals) if nonneg else vals
    return x


def sparse_recovery(
    n: int,
    m: int,
    s: int,
    *,
    operator: str | Operator | Any = "gaussian",
    signal: str = "gaussian",
    nonneg: bool = False,
    noise: float = 0.0,
    seed: int | np.random.Generator,
) -> Problem:
    """A planted s-sparse recovery problem ``y = A x_true + noise * e``.

    Parameters
    ----------
    n, m, s : int
        Signal length, number of measurements, number of nonzeros (0 <= s <= n).
    operator : {"gaussian", "rademacher", "dct", "fft"} or Operator or array or LinearOperator
        Named random ensembles are normalized to unit-norm columns in expectation
        (Gaussian N(0, 1/m), signs +-1/sqrt(m), partial DCT times sqrt(n/m)); "fft" is
        :class:`SubsampledFFT` with ``m / 2`` random DFT rows, real and imaginary parts
        stacked (``m`` even), divided by ``sqrt(m / 2)``.
        A given operator must have shape (m, n).
    signal : {"gaussian", "sign", "uniform"}
        Distribution of the nonzero values.
    nonneg : bool
        Non-negative signal (absolute values of the draws).
    noise : float
        Standard deviation of i.i.d. Gaussian noise added to each measurement.
    seed : int or numpy.random.Generator
        Required: every draw (operator, support, values, noise) comes from it.

    Returns
    -------
    Problem

    Examples
    --------
    >>> p = sparse_recovery(200, 80, 8, seed=0)
    >>> p.A.shape, p.y.shape, int((p.x_true != 0).sum())
    ((80, 200), (80,), 8)
    """
    n = check_int(n, "n", minimum=1)
    m = check_int(m, "m", minimum=1)
    s = check_int(s, "s", minimum=0)
    if s > n:
        raise ValueError(f"sparsity s = {s} exceeds the dimension n = {n}")
    noise = check_positive(noise, "noise", allow_zero=True)
    nonneg = check_bool(nonneg, "nonneg")  # before any draw (checked again by sparse_vector)
    # likewise: refused only by sparse_vector, after the operator had been drawn
    _check_signal(signal)
    rng = as_generator(seed)
    if isinstance(operator, str):
        if operator not in OPERATORS:
            raise ValueError(f"operator must be one of {sorted(OPERATORS)}, got {operator!r}")
        A = OPERATORS[operator](m, n, rng)
    else:
        A = as_operator(operator)
        if A.shape != (m, n):
            raise ValueError(f"operator has shape {A.shape}, expected (m, n) = {(m, n)}")
    x = sparse_vector(n, s, rng, signal=signal, nonneg=nonneg)
    y = np.asarray(A.matvec(x))
    if not np.all(np.isfinite(y)):  # else "y contains ... non-finite" blamed a y not given
        raise ValueError(f"the operator's product A x_true has "
                         f"{int(np.size(y) - np.count_nonzero(np.isfinite(y)))} non-finite "
                         "value(s): the operator must map finite vectors to finite ones")
    if noise > 0:
        y = y + noise * rng.standard_normal(m)
    info = dict(
        generator="sparse_recovery", n=n, m=m, s=s,
        operator=operator if isinstance(operator, str) else type(A).__name__,
        signal=signal, nonneg=nonneg, noise=noise,
    )
    return Problem(A, y, x_true=x, noise=noise, info=info)
