"""Closed-form predictions to draw next to experiments (no solver runs here).

The l1 phase transition of Amelunxen, Lotz, McCoy and Tropp: basis pursuit recovers an
s-sparse vector in R^n from m Gaussian measurements with high probability when m exceeds the
statistical dimension of the l1 descent cone at the signal, and fails with high probability
below it; the transition width is O(sqrt(n)).
"""
from __future__ import annotations

import decimal
import math
import numbers
from typing import Any

import numpy as np
from scipy import optimize, special

from ._core import refuse_masked

__all__ = ["l1_statistical_dimension", "l1_phase_transition", "l1_transition_curve"]


def _log_tail_moment(tau: float) -> float:
    """``log E[(|g| - tau)_+^2]`` for g ~ N(0, 1), accurate for every ``tau >= 0``.

    ``E[(|g| - tau)_+^2] = 2 [(1 + tau^2) Q(tau) - tau phi(tau)] = 2 phi(tau) h(tau)`` with
    ``h = (1 + tau^2) R - tau`` and ``R = Q / phi = sqrt(pi / 2) erfcx(tau / sqrt(2))`` the
    Mills ratio. Written with Q and phi separately, the difference lost ~tau^4 ulps (1e-7
    relative at tau = 37), turned negative at tau = 38.5 and underflowed to 0 beyond;
    with the common factor phi taken out (and kept as a logarithm) it stays positive.
    """
    r = np.sqrt(0.5 * np.pi) * special.erfcx(tau / np.sqrt(2.0))
    h = (1.0 + tau * tau) * r - tau
    return float(np.log(2.0 * h) - 0.5 * tau * tau - 0.5 * np.log(2.0 * np.pi))


def _tail_moment(tau: float) -> float:
    """E[(|g| - tau)_+^2] for g ~ N(0, 1): 2 [(1 + tau^2) Q(tau) - tau phi(tau)]."""
    return float(np.exp(_log_tail_moment(tau)))


def _real_scalar(value: Any, name: str) -> float:
    """A real scalar (Python or NumPy number, 0-d array); bool, str, complex and arrays are
    refused (``float('3')`` and ``float(True)`` would pass silently)."""
    if isinstance(value, decimal.Decimal):
        # a real number (check_positive takes it too), not a numbers.Real: refused as
        # "got Decimal"; a signalling NaN becomes NaN (refused by the finiteness check)
        return float(value) if not value.is_snan() else float("nan")
    refuse_masked(value, name)  # a 0-d masked value was read as its hidden data
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        try:
            return float(value)
        except OverflowError:  # an int beyond the floats (10**400): not finite
            return float("inf") if value > 0 else float("-inf")
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a scalar, got shape {arr.shape} (use "
                        "l1_transition_curve for an array of sparsities)")
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} "
                        f"{value!r}")
    return float(arr)


def l1_statistical_dimension(s: float, n: float) -> float:
    """Statistical dimension of the l1 descent cone at an s-sparse vector in R^n.

    ``delta(s, n) = inf_{tau >= 0} s (1 + tau^2) + (n - s) E[(|g| - tau)_+^2]``, a convex
    one-dimensional minimization (g standard normal).

    Parameters
    ----------
    s : float
        Number of nonzeros, ``0 <= s <= n`` (real values are allowed, for curves).
    n : float
        Ambient dimension, ``n > 0``.

    Returns
    -------
    float
        delta in [s, n]; the predicted number of Gaussian measurements at which basis
        pursuit succeeds with probability 1/2.

    Raises
    ------
    TypeError
        ``s`` or ``n`` is not a real scalar (bool, str, complex, an array).
    ValueError
        ``s`` or ``n`` is NaN or infinite, ``n <= 0``, or ``s`` is outside ``[0, n]``.

    Notes
    -----
    This is the formula of Recipe 4.1, an upper bound on the exact statistical dimension
    ``E[dist^2(g, polar cone)]`` that exceeds it by at most ``2 sqrt(n / s)``
    (Proposition 4.5). At ``s = n`` the cone is a half-space of statistical dimension
    ``n - 1/2`` while the formula gives ``n``; Monte-Carlo estimates at ``n = 20`` lie 0.5
    to 0.8 below the formula (``s = 3``: 7.96 against 8.56).

    References
    ----------
    D. Amelunxen, M. Lotz, M. B. McCoy, J. A. Tropp, "Living on the edge: phase
    transitions in convex programs with random data", Information and Inference 3(3),
    2014, Recipe 4.1 and Proposition 4.5.

    Examples
    --------
    >>> round(l1_statistical_dimension(10, 200), 2)
    40.78
    """
    s, n = _real_scalar(s, "s"), _real_scalar(n, "n")
    if not (np.isfinite(s) and np.isfinite(n)):
        # n = inf reached scipy ("Optimization bounds must be finite scalars"), and
        # s = n = inf returned inf
        raise ValueError(f"s and n must be finite, got s={s}, n={n}")
    if not (n > 0) or not (0 <= s <= n):
        raise ValueError(f"need 0 <= s <= n and n > 0, got s={s}, n={n}")
    if s == 0:
        return 0.0
    if s == n:
        return n
    # delta is homogeneous, delta(c s, c n) = c delta(s, n): rescale by a power of two
    # (exact) when n is huge (to 2^1000) or tiny (to [0.5, 1)). Near the float64 maximum
    # s (1 + tau^2) overflowed (n = 1.7e308, s = 1e308: every objective value inf, and
    # delta = n was returned for 1.51e308); below ~1e-300 it was computed in subnormals.
    # A huge n is only brought down to 2^1000 (not to 1): s / n may be ~1e-600; and not
    # at all when that would round s (below ~1e-300, where s (1 + tau^2) cannot overflow).
    _, ex = math.frexp(n)
    shift = ex - 1000 if ex > 1000 else (ex if ex < -1000 else 0)
    if shift and math.ldexp(math.ldexp(s, -shift), shift) == s:
        return math.ldexp(l1_statistical_dimension(math.ldexp(s, -shift),
                                                    math.ldexp(n, -shift)), shift)
    log_ns = np.log(n - s)

    def objective(tau: float) -> float:
        lt = _log_tail_moment(tau)
        # the tail moment underflows for tau > ~37 where (n - s) times it need not
        # (n / s beyond ~1e300): multiply in logarithms there
        tail = (n - s) * np.exp(lt) if lt > -700.0 else np.exp(log_ns + lt)
        return s * (1.0 + tau * tau) + tail

    # the objective is convex in tau and its minimiser lies below sqrt(2 log(n/s)) + 2
    # (log n - log s: the ratio n / s overflows for e.g. s = 1e-300, n = 1e300)
    hi = np.sqrt(2.0 * (np.log(n) - np.log(s))) + 2.0
    res = optimize.minimize_scalar(objective, bounds=(0.0, hi), method="bounded",
                                   options={"xatol": 1e-12})
    return float(min(res.fun, objective(0.0)))


def l1_phase_transition(n: int, s: int) -> float:
    """Predicted 50% success number of measurements ``m`` of basis pursuit, ``delta(s, n)``.

    Note the argument order, ``(n, s)``, the reverse of :func:`l1_statistical_dimension`.

    Parameters
    ----------
    n : int
        Ambient dimension, ``n > 0``.
    s : int
        Number of nonzeros, ``0 <= s <= n``.

    Returns
    -------
    float
        ``l1_statistical_dimension(s, n)``, in ``[s, n]``.

    Raises
    ------
    TypeError, ValueError
        As :func:`l1_statistical_dimension`.
    """
    return l1_statistical_dimension(s, n)


def l1_transition_curve(n: int, s_values: Any) -> np.ndarray:
    """``delta(s, n)`` over an array of sparsities (for phase diagrams in the (s, m) plane).

    The result has the shape of ``s_values`` (a 2-D grid of sparsities gives a 2-D grid of
    deltas, a scalar a 0-d array).

    Parameters
    ----------
    n : int
        Ambient dimension, finite and ``> 0`` (ValueError otherwise).
    s_values : array_like of float
        Sparsities, each in ``[0, n]`` (real values allowed).

    Returns
    -------
    ndarray
        ``delta(s, n)`` for each sparsity, of the shape of ``s_values``.
    """
    # n checked once up front: with no sparsities (an empty grid) a negative, NaN or
    # string n was never looked at and an empty curve came back
    n_val = _real_scalar(n, "n")
    if not (np.isfinite(n_val) and n_val > 0):
        raise ValueError(f"n must be finite and > 0, got n={n_val}")
    # a masked entry was computed from the hidden value behind the mask
    refuse_masked(s_values, "s_values")
    try:
        s_arr = np.asarray(s_values)
    except ValueError as exc:  # a ragged nested list: NumPy's "inhomogeneous shape"
        raise ValueError(f"s_values must be a rectangular array of sparsities: {exc}"
                         ) from None
    out = np.array([l1_statistical_dimension(s, n) for s in s_arr.ravel()], dtype=float)
    # the flat list lost the shape of a 2-D s grid
    return out.reshape(s_arr.shape)
