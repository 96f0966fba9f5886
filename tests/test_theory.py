"""The l1 phase transition (statistical dimension of the l1 descent cone)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

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


# ------------------------------------------------------------------- regression tests
def _log_tail_by_quadrature(tau):
    # E[(|g| - tau)_+^2] = 2 phi(tau) int_0^inf t^2 exp(-tau t - t^2 / 2) dt: no cancellation
    h, _ = integrate.quad(lambda t: t * t * np.exp(-tau * t - 0.5 * t * t), 0, np.inf,
                          epsabs=0, epsrel=1e-13, limit=200)
    return np.log(2 * h) - 0.5 * tau * tau - 0.5 * np.log(2 * np.pi)


@pytest.mark.parametrize("tau", [5.0, 12.0, 30.0, 37.0, 38.5, 45.0])
def test_tail_moment_has_no_cancellation_for_large_tau(tau):
    # 2 [(1 + tau^2) Q - tau phi] lost ~tau^4 ulps: 5e-8 relative at tau = 30, and the
    # negative value -4e-321 at tau = 38.5
    ref = _log_tail_by_quadrature(tau)
    t = _tail_moment(tau)
    assert t >= 0.0
    if ref > np.log(1e-290):  # representable well above the subnormals
        assert t == pytest.approx(np.exp(ref), rel=1e-9, abs=0)


def _delta_by_quadrature(s, n):
    # independent: the integral form of the tail, multiplied by n - s in logarithms
    def f(tau):
        return s * (1 + tau * tau) + np.exp(np.log(n - s) + _log_tail_by_quadrature(tau))
    res = optimize.minimize_scalar(f, bounds=(0.0, 60.0), method="bounded",
                                   options={"xatol": 1e-10})
    return min(res.fun, f(0.0))


@pytest.mark.parametrize("s, n", [(1e-300, 1e300), (1e-200, 1e200), (5e-324, 1.7e308),
                                  (1, 1e300), (1e-300, 20.0)])
def test_statistical_dimension_at_extreme_ratios(s, n):
    # n / s overflowed to inf: "Optimization bounds must be finite scalars" for 1e-300,
    # 1e300; and the tail moment underflowed to 0 past tau ~ 38 where (n - s) times it
    # does not
    d = l1_statistical_dimension(s, n)
    assert d == pytest.approx(_delta_by_quadrature(s, n), rel=1e-9, abs=0)
    assert s <= d <= n


def test_statistical_dimension_is_homogeneous():
    # delta(c s, c n) = c delta(s, n): the objective is linear in (s, n)
    d = l1_statistical_dimension(3, 20)
    for c in (1e-300, 1e-10, 1e10, 1e300):
        assert l1_statistical_dimension(3 * c, 20 * c) == pytest.approx(c * d, rel=1e-12, abs=0)


@pytest.mark.parametrize("s, n", [(3, np.inf), (np.inf, np.inf), (0, np.inf), (np.nan, 3),
                                  (3, -np.inf), (-np.inf, 3)])
def test_statistical_dimension_refuses_non_finite(s, n):
    # n = inf reached scipy's bounds check, s = n = inf returned inf, s = 0 with n = inf 0.0
    with pytest.raises(ValueError, match="s and n must be finite"):
        l1_statistical_dimension(s, n)


@pytest.mark.parametrize("s, n", [("3", 20), (True, 2), (1 + 0j, 10), (3, "20"),
                                  (np.array([1, 2]), 10), (None, 10)])
def test_statistical_dimension_refuses_non_real_scalars(s, n):
    # float("3") and float(True) passed silently; an array failed inside float()
    with pytest.raises(TypeError, match="must be a real number|must be a scalar"):
        l1_statistical_dimension(s, n)


def test_statistical_dimension_accepts_numpy_and_real_scalars():
    d = l1_statistical_dimension(3, 20)
    for s, n in [(np.int64(3), np.int32(20)), (np.float32(3), 20.0), (np.array(3), 20),
                 (3.0, np.array(20.0))]:
        assert l1_statistical_dimension(s, n) == pytest.approx(d, rel=1e-12)
    # real (non-integer) sparsities lie between their neighbours, for curves
    assert d < l1_statistical_dimension(3.5, 20) < l1_statistical_dimension(4, 20)


def test_transition_curve_keeps_the_shape_of_s():
    # the list comprehension over np.ravel(s) flattened a 2-D grid
    s = np.array([[1, 2], [3, 4]])
    c = l1_transition_curve(10, s)
    assert c.shape == (2, 2)
    assert c[1, 0] == l1_statistical_dimension(3, 10)
    assert l1_transition_curve(10, 3).shape == ()
    assert l1_transition_curve(10, []).shape == (0,)


def _monte_carlo_statistical_dimension(s, n, trials, seed):
    # E dist^2(g, cone(subdifferential)) at sign(x) = (1, ..., 1, 0, ..., 0): for each g the
    # convex piecewise quadratic in t >= 0 is minimised exactly over its breakpoints
    g = np.random.default_rng(seed).standard_normal((trials, n))
    b = g[:, :s].sum(1)
    a = -np.sort(-np.abs(g[:, s:]), axis=1)
    k = np.arange(n - s + 1)
    t = (b[:, None] + np.concatenate([np.zeros((trials, 1)), np.cumsum(a, 1)], 1)) / (s + k)
    upper = np.concatenate([np.full((trials, 1), np.inf), a], 1)
    lower = np.concatenate([a, np.zeros((trials, 1))], 1)
    ok = (t <= upper) & (t >= lower)
    tt = np.maximum(np.where(ok.any(1), t[np.arange(trials), ok.argmax(1)], 0.0), 0.0)
    d2 = ((g[:, :s] - tt[:, None]) ** 2).sum(1) + (
        np.maximum(np.abs(g[:, s:]) - tt[:, None], 0.0) ** 2).sum(1)
    return d2.mean(), d2.std() / np.sqrt(trials)


@pytest.mark.parametrize("s, n", [(3, 20), (1, 20), (10, 20), (1, 1)])
def test_formula_bounds_the_monte_carlo_statistical_dimension(s, n):
    # ALMT Proposition 4.5: delta_true <= formula <= delta_true + 2 sqrt(n / s); the
    # half-space (s = n = 1) has delta_true = 1/2
    mc, se = _monte_carlo_statistical_dimension(s, n, 40_000, seed=s + n)
    d = l1_statistical_dimension(s, n)
    assert mc - 4 * se <= d <= mc + 4 * se + 2 * np.sqrt(n / s)
    assert d - mc > 0.3  # the formula is not the exact value (O(1) above it here)
    if s == n == 1:
        assert mc == pytest.approx(0.5, abs=4 * se)


@pytest.mark.parametrize("s, n", [(10**400, 10**401), (3, 10**400), (-(10**400), 3)],
                         ids=["s_n_huge", "n_huge", "s_huge_negative"])
def test_statistical_dimension_refuses_integers_beyond_the_floats(s, n):
    # float(10**400) raised OverflowError ("int too large to convert to float"), not the
    # documented ValueError
    with pytest.raises(ValueError, match="s and n must be finite"):
        l1_statistical_dimension(s, n)


def _delta_mpmath(s, n):
    # independent: 40-digit closed form of the tail, minimum by bisection on the derivative
    # 2 s tau - 4 (n - s) (phi(tau) - tau Q(tau)), increasing in tau (a convex objective)
    import mpmath as mp  # a test dependency (pyproject: test)
    with mp.workdps(40):
        s, n = mp.mpf(s), mp.mpf(n)

        def f(t):
            return s * (1 + t * t) + (n - s) * 2 * ((1 + t * t) * mp.ncdf(-t) - t * mp.npdf(t))

        def df(t):
            return 2 * s * t - 4 * (n - s) * (mp.npdf(t) - t * mp.ncdf(-t))

        lo, hi = mp.mpf(0), mp.mpf(80)
        if df(lo) >= 0:
            return float(f(lo))
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if df(mid) < 0 else (lo, mid)
        return float(f(lo))


@pytest.mark.parametrize("s, n", [(1, 2), (0.5, 1), (1, 1.0000001), (1e-12, 1), (2, 3),
                                  (199.9999, 200), (7, 1e6), (1, 1e15), (1e-100, 1),
                                  (1e200, 3e200)])
def test_statistical_dimension_against_40_digit_arithmetic(s, n):
    # the ends of the curve (s -> 0, s -> n), tiny n - s and extreme ratios
    assert l1_statistical_dimension(s, n) == pytest.approx(_delta_mpmath(s, n), rel=1e-12,
                                                          abs=0)


# ------------------------------------------- metrics.errors (relative_error's accuracy)
def _relative_error_exact(x, ref):
    # exact rational sums of squares, one rounding at the end (mpmath square roots)
    from fractions import Fraction

    import mpmath as mp  # a test dependency (pyproject: test)
    num = sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, ref))
    den = sum(Fraction(float(b)) ** 2 for b in ref)
    with mp.workdps(40):
        return float(mp.sqrt(mp.mpf(num.numerator) / num.denominator
                             / (mp.mpf(den.numerator) / den.denominator)))


def test_relative_error_of_nearly_equal_vectors_is_accurate():
    # x and x_ref were both divided by max|x_ref| (3 here, not a power of two) before
    # subtracting: the roundings, ~1e-16 absolute, swamped a small difference (2.1e-16
    # reported for 1.4e-16; 1e-5 relative off at 1.6e-11, in random draws)
    from overparam.metrics.errors import relative_error

    ref = np.array([3.0, 1.0])
    x = np.array([np.nextafter(3.0, 4.0), 1.0])
    assert relative_error(x, ref) == pytest.approx(_relative_error_exact(x, ref), rel=1e-14,
                                                   abs=0)
    rng = np.random.default_rng(7)
    for scale in (1e-300, 1e-8, 1.0, 3e5, 1e300, 1.7e308):
        for gap in (1e-15, 1e-11, 1e-6):
            ref = rng.standard_normal(5) * (scale / 3)
            x = ref * (1 + gap * rng.standard_normal(5))
            assert relative_error(x, ref) == pytest.approx(_relative_error_exact(x, ref),
                                                           rel=1e-13, abs=0)
    # the overflow guard it served still holds: entries near 1e308 of opposite signs
    assert relative_error([1.5e308, -1.5e308], [-1.5e308, 1.5e308]) == 2.0
    assert relative_error([3e-320, 0.0], [1e-320, 0.0]) == pytest.approx(2.0, rel=0.01)


@pytest.mark.parametrize("n, err", [(-5, ValueError), (0, ValueError), (np.nan, ValueError),
                                    (np.inf, ValueError), ("10", TypeError),
                                    (True, TypeError)])
def test_transition_curve_checks_n_even_without_sparsities(n, err):
    # n was only checked inside the per-sparsity loop: an empty grid gave an empty curve
    # for any n (a negative, NaN or string one included)
    for s in ([], np.zeros((0, 3)), [1]):
        with pytest.raises(err, match="n must"):
            l1_transition_curve(n, s)
    assert l1_transition_curve(10, np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("s, n", [(0.0, 7.0), (1e-6, 7.0), (0.5, 7.0), (3.5, 7.0),
                                  (7.0 - 1e-6, 7.0), (7.0, 7.0), (2, 1e4)])
def test_statistical_dimension_by_quadrature_over_tau(s, n):
    # independent of the closed form of the tail: E[(|g| - tau)_+^2] by scipy quadrature
    # of the Gaussian density, the infimum over tau by a dense grid refined by a bounded
    # search; the ends of the domain (s = 0 and s = n give 0 and n)
    density = 1.0 / math.sqrt(2.0 * math.pi)   # the standard normal's, written out:
    # scipy.stats.norm.pdf's per-call overhead made this test take ~30 s in all

    def f(tau):
        tail, _ = integrate.quad(lambda g: (g - tau) ** 2 * density * math.exp(-0.5 * g * g),
                                 tau, np.inf, epsabs=0, epsrel=1e-12)
        return s * (1 + tau * tau) + (n - s) * 2 * tail
    grid = np.linspace(0.0, 8.0, 161)
    t0 = grid[int(np.argmin([f(t) for t in grid]))]
    res = optimize.minimize_scalar(f, bounds=(max(t0 - 0.05, 0.0), t0 + 0.05),
                                   method="bounded", options={"xatol": 1e-10})
    want = min(res.fun, f(0.0))
    assert l1_statistical_dimension(s, n) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_masked_sparsities_are_refused():
    # the masked entry was computed from the hidden value behind the mask
    s = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    with pytest.raises(ValueError, match="masked"):
        l1_transition_curve(20, s)
    with pytest.raises(ValueError, match="masked"):
        l1_statistical_dimension(np.ma.masked_array(3.0, mask=True), 20)
    np.testing.assert_allclose(l1_transition_curve(20, s.filled(1.0)),
                               [l1_statistical_dimension(1, 20)] * 2
                               + [l1_statistical_dimension(3, 20)], rtol=1e-12)


def test_decimal_sizes_are_real_numbers_and_ragged_grids_are_named():
    from decimal import Decimal

    assert l1_statistical_dimension(Decimal(3), Decimal(20)) == pytest.approx(
        l1_statistical_dimension(3, 20), rel=1e-12)
    assert l1_statistical_dimension(3, 20) == pytest.approx(8.558240832607, rel=1e-10)
    with pytest.raises(ValueError, match="finite"):
        l1_statistical_dimension(Decimal("NaN"), 20)
    with pytest.raises(ValueError, match="s_values must be a rectangular"):
        l1_transition_curve(20, [[1, 2], [3]])
