"""The l1 phase transition (statistical dimension of the l1 descent cone)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from overparam.theory import (
    _tail_moment,
    l1_phase_transition,
    l1_statistical_dimension,
    l1_transition_curve,
)


@pytest.mark.parametrize("tau", [0.0, 0.3, 1.0, 2.5])
def test_tail_moment_closed_form_matches_quadrature(tau):
    quad, _ = integrate.quad(lambda g: (abs(g) - tau) ** 2 * stats.norm.pdf(g), tau, np.inf)
    assert _tail_moment(tau) == pytest.approx(2 * quad, rel=1e-10)
    assert _tail_moment(tau) != pytest.approx(quad, rel=1e-3)  # negative control: one tail


def _brute_force(s, n):
    tau = np.linspace(0, 6, 200_001)
    q = stats.norm.sf(tau)
    tail = 2 * ((1 + tau**2) * q - tau * stats.norm.pdf(tau))
    return float(np.min(s * (1 + tau**2) + (n - s) * tail))


@pytest.mark.parametrize("s, n", [(1, 50), (10, 200), (20, 200), (5, 100), (90, 100)])
def test_statistical_dimension_is_the_minimum_over_tau(s, n):
    d = l1_statistical_dimension(s, n)
    assert d == pytest.approx(_brute_force(s, n), rel=1e-7)
    assert s <= d <= n
    assert abs(d - _brute_force(s + 1, n)) > 1e-3          # negative control


def test_edges_and_monotonicity():
    assert l1_statistical_dimension(0, 100) == 0.0
    assert l1_statistical_dimension(100, 100) == 100.0
    curve = l1_transition_curve(200, np.arange(0, 201, 10))
    assert np.all(np.diff(curve) > 0)
    assert l1_phase_transition(200, 10) == pytest.approx(40.78, abs=0.01)
    # Chandrasekaran et al. 2012: delta <= 2 s log(n/s) + 5 s / 4, and delta ~ 2 s log(n/s)
    # as n / s -> infinity (slowly: the ratio rises towards 1)
    ratios = []
    for n in (10**3, 10**5, 10**7):
        d = l1_statistical_dimension(10, n)
        assert d <= 2 * 10 * np.log(n / 10) + 1.25 * 10
        ratios.append(d / (2 * 10 * np.log(n / 10)))
    assert ratios[0] < ratios[1] < ratios[2] < 1
    with pytest.raises(ValueError):
        l1_statistical_dimension(5, 3)
