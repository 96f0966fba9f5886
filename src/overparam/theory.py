"""Closed-form predictions to draw next to experiments (no solver runs here).

The l1 phase transition of Amelunxen, Lotz, McCoy and Tropp: basis pursuit recovers an
s-sparse vector in R^n from m Gaussian measurements with high probability when m exceeds the
statistical dimension of the l1 descent cone at the signal, and fails with high probability
below it; the transition width is O(sqrt(n)).
"""
from __future__ import annotations

import numpy as np
from scipy import optimize, special

__all__ = ["l1_statistical_dimension", "l1_phase_transition", "l1_transition_curve"]


def _tail_moment(tau: float) -> float:
    """E[(|g| - tau)_+^2] for g ~ N(0, 1): 2 [(1 + tau^2) Q(tau) - tau phi(tau)]."""
    q = 0.5 * special.erfc(tau / np.sqrt(2.0))
    phi = np.exp(-0.5 * tau * tau) / np.sqrt(2.0 * np.pi)
    return 2.0 * ((1.0 + tau * tau) * q - tau * phi)


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
    s, n = float(s), float(n)
    if not (n > 0) or not (0 <= s <= n):
        raise ValueError(f"need 0 <= s <= n and n > 0, got s={s}, n={n}")
    if s == 0:
        return 0.0
    if s == n:
        return n

    def objective(tau: float) -> float:
        return s * (1.0 + tau * tau) + (n - s) * _tail_moment(tau)

    # the objective is convex in tau and its minimiser lies below sqrt(2 log(n/s)) + 2
    hi = np.sqrt(2.0 * np.log(n / s)) + 2.0
    res = optimize.minimize_scalar(objective, bounds=(0.0, hi), method="bounded",
                                   options={"xatol": 1e-12})
    return float(min(res.fun, objective(0.0)))


def l1_phase_transition(n: int, s: int) -> float:
    """Predicted 50% success number of measurements ``m`` of basis pursuit, ``delta(s, n)``."""
    return l1_statistical_dimension(s, n)


def l1_transition_curve(n: int, s_values) -> np.ndarray:
    """``delta(s, n)`` over an array of sparsities (for phase diagrams in the (s, m) plane)."""
    return np.array([l1_statistical_dimension(s, n) for s in np.ravel(s_values)])
