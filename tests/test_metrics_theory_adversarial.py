"""Adversarial review of overparam.metrics (errors, rank) and overparam.theory: independent
oracles (quadrature, brute force, numpy.linalg) and the inputs that broke them."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, optimize, stats

from overparam.metrics import (
    Plateau,
    erank,
    erank_energy,
    l1_gap,
    nuclear_rank,
    numerical_rank,
    rank_plateaus,
    rank_trace,
    relative_error,
    select_plateau,
    singular_values,
    stable_rank,
    support_recovery,
)
from overparam.theory import l1_statistical_dimension, l1_transition_curve

FAST = settings(max_examples=40, deadline=None)


# ------------------------------------------------------------------ theory: oracles
def _delta_by_quad(s, n):
    """Recipe 4.1 with the tail moment E[(|g| - tau)_+^2] by numerical integration."""
    def tail(tau):
        return 2 * integrate.quad(lambda g: (g - tau) ** 2 * stats.norm.pdf(g), tau, np.inf,
                                  epsabs=0, epsrel=1e-12)[0]

    def f(tau):
        return s * (1 + tau * tau) + (n - s) * tail(tau)
    res = optimize.minimize_scalar(f, bounds=(0.0, 12.0), method="bounded",
                                   options={"xatol": 1e-10})
    return min(res.fun, f(0.0))


@pytest.mark.parametrize("s, n", [(1, 2), (3, 20), (0.5, 1), (1, 1e9), (99, 100),
                                  (1e-3, 1)])
def test_statistical_dimension_matches_quadrature(s, n):
    assert l1_statistical_dimension(s, n) == pytest.approx(_delta_by_quad(s, n), rel=1e-10)


@pytest.mark.parametrize("s, n", [(1e308, 1.7e308), (1.5e308, np.finfo(float).max),
                                  (6e304, 1e305)])
def test_statistical_dimension_near_the_float64_maximum(s, n):
    # s (1 + tau^2) overflowed: every objective value was inf and n itself came back
    # (1.7e308 for 1.51e308), with a flood of overflow warnings
    expected = n * l1_statistical_dimension(s / n, 1.0)      # homogeneity
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = l1_statistical_dimension(s, n)
    assert d == pytest.approx(expected, rel=1e-12)
    assert s <= d < n
    # the rescaling must not round a tiny s away (0.0 came back for 5e-324, 1.7e308)
    assert l1_statistical_dimension(5e-324, n) > 0


@FAST
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.sampled_from([1.0, 7.0, 1e4, 1e9]))
def test_statistical_dimension_is_monotone_and_bounded(a, b, n):
    s1, s2 = sorted((a * n, b * n))
    d1, d2 = l1_statistical_dimension(s1, n), l1_statistical_dimension(s2, n)
    assert s1 <= d1 <= n and s2 <= d2 <= n
    assert d2 >= d1 * (1 - 1e-12)        # d delta / ds = 1 + tau^2 - tail(tau) > 0


@FAST
@given(st.floats(1e-3, 0.999), st.integers(-1060, 1020))
def test_statistical_dimension_is_homogeneous_under_powers_of_two(ratio, k):
    n = math.ldexp(1.0, k)
    d = l1_statistical_dimension(ratio * n, n)
    assert d == pytest.approx(math.ldexp(l1_statistical_dimension(ratio, 1.0), k), rel=1e-12)


def test_transition_curve_is_concave_in_s():
    # an infimum of functions affine in s: concave (and increasing)
    c = l1_transition_curve(50, np.linspace(0, 50, 201))
    assert np.all(np.diff(c) > 0) and np.all(np.diff(c, 2) < 1e-9)


# ----------------------------------------------------------- rank: masked, strings, dtypes
def test_masked_spectra_and_matrices_are_refused():
    # np.asarray dropped the mask: the hidden entries were read as data
    m = np.ma.array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    for fn in (erank, erank_energy, stable_rank, nuclear_rank, numerical_rank):
        with pytest.raises(ValueError, match="masked"):
            fn(m)
    with pytest.raises(ValueError, match="W is a masked array"):
        singular_values(np.ma.array(np.eye(2), mask=[[0, 1], [0, 0]]))
    with pytest.raises(ValueError, match="sv is a masked array"):
        rank_trace(np.ma.array([[1.0, 1.0]], mask=[[0, 1]]))
    it = np.array([0, 1, 10, 100])
    tr = dict(iter=it, erank=np.full(4, 2.0), loss=np.ones(4))
    with pytest.raises(ValueError, match=r"trace\['iter'\] is a masked"):
        rank_plateaus(dict(tr, iter=np.ma.array(it, mask=[0, 0, 1, 0])))
    with pytest.raises(ValueError, match=r"trace\['loss'\] is a masked"):
        select_plateau([], dict(loss=np.ma.array([100.0, 1.0], mask=[1, 0])))
    # a masked array without masked entries is just an array
    assert erank(np.ma.array([1.0, 1.0])) == pytest.approx(2.0)


def test_string_records_are_refused():
    # np.asarray(..., dtype=float) parsed "1", "2" as numbers
    with pytest.raises(TypeError, match="sv must be numeric"):
        rank_trace(np.array([["1", "2"]]))
    with pytest.raises(TypeError, match=r"trace\['iter'\] must be numeric"):
        rank_plateaus(dict(iter=["0", "1", "10"], erank=[1.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match=r"trace\['loss'\] must be numeric"):
        select_plateau([], dict(loss=["1", "0.5"]))


def test_low_precision_spectra_are_summed_in_float32():
    # a float16 sum of 70000 equal values overflowed: erank 1, nuclear rank inf
    s = np.ones(70000, np.float16)
    for fn in (erank, erank_energy, stable_rank, nuclear_rank):
        assert float(fn(s)) == pytest.approx(70000, rel=1e-5), fn.__name__
    assert float(erank(np.ones(1000, np.float16))) == pytest.approx(1000, rel=1e-5)
    import ml_dtypes
    assert float(erank(np.ones(3, ml_dtypes.bfloat16))) == pytest.approx(3.0)
    assert numerical_rank(np.array([1, 0.5, 0], ml_dtypes.bfloat16)) == 2


def test_jax_bfloat16_spectra_are_numeric():
    import jax.numpy as jnp
    s = jnp.ones(70000, jnp.bfloat16)                         # refused as "dtype bfloat16"
    assert float(erank(s)) == pytest.approx(70000, rel=1e-5)
    assert int(numerical_rank(s)) == 70000


def test_singular_values_names_non_numeric_input_and_takes_float16():
    for bad in (np.array([[1, 2], [3, 4]], dtype=object), np.array([["1", "2"], ["3", "4"]]),
                np.array([[1, 2], [3, 4]], dtype="m8[s]")):
        with pytest.raises(TypeError, match="W must be a numeric matrix"):
            singular_values(bad)
    np.testing.assert_allclose(singular_values(np.diag([3.0, 4.0]).astype(np.float16)),
                               [4.0, 3.0])


# ------------------------------------------------------------------- rank: plateaus
def test_a_nan_record_ends_a_plateau():
    # the NaN record was skipped and the run went on through it
    it = np.array([0, 1, 10, 100, 1000, 10000])
    r = np.array([5.0, 2, 2, np.nan, 2, 2])
    tr = dict(iter=it, erank=r, loss=np.geomspace(1, 1e-4, 6))
    assert rank_plateaus(tr) == []
    got = rank_plateaus(tr, min_points=2)
    assert [(p.start, p.end) for p in got] == [(1, 10), (1000, 10000)]
    # without the NaN: one plateau over all of it
    assert [(p.start, p.end) for p in rank_plateaus(dict(tr, erank=np.nan_to_num(r, nan=2)))
            ] == [(1, 10000)]


@pytest.mark.parametrize("start, end, mid", [(1, 10000, 100), (10**6, 10**14, 10**10),
                                             (10**200, 10**300, 10**250), (2, 3, 2), (3, 4, 3),
                                             (0, 0, 1)],
                         ids=["1-1e4", "1e6-1e14", "1e200-1e300", "2-3", "3-4", "0-0"])
def test_plateau_geometric_middle_of_large_iterations(start, end, mid):
    # np.sqrt of an int beyond 2**64 (an object array) raised TypeError
    p = Plateau(start, end, 1.0, 1.0, 1.0, 1.0)
    assert p.stop_iteration("middle") == mid


def test_select_plateau_names_a_scalar_sv():
    with pytest.raises(ValueError, match=r"trace\['sv'\]"):
        select_plateau([], dict(loss=[1.0], sv=3.0))      # was IndexError


# ------------------------------------------------------- invariants (already correct)
small = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@FAST
@given(st.integers(1, 10).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=small), arrays(np.float64, n, elements=small))),
    st.integers(-1000, 1000), st.randoms())
def test_relative_error_invariances(pair, k, rnd):
    x, ref = pair
    e = relative_error(x, ref)
    # exact scaling by a power of two, sign flip and permutation
    assert relative_error(np.ldexp(x, k), np.ldexp(ref, k)) == pytest.approx(e, rel=1e-14)
    assert relative_error(-x, -ref) == e
    perm = list(range(x.size))
    rnd.shuffle(perm)
    assert relative_error(x[perm], ref[perm]) == pytest.approx(e, rel=1e-14)
    if np.linalg.norm(ref) > 1e-150:          # the naive oracle under/overflows
        assert e == pytest.approx(np.linalg.norm(x - ref) / np.linalg.norm(ref), rel=1e-12)
    gap = l1_gap(x, ref)
    assert l1_gap(np.ldexp(x, k), np.ldexp(ref, k)) == pytest.approx(gap, rel=1e-12,
                                                                      abs=1e-15)


def _support_brute(x, x_true, tol=None, k=None):
    T = {i for i, v in enumerate(x_true) if v != 0}
    if k is not None:
        order = sorted(range(len(x)), key=lambda i: (-abs(x[i]), i))[:k]
        S = {i for i in order if x[i] != 0}
    else:
        top = max(abs(v) for v in x)
        S = {i for i, v in enumerate(x) if top > 0 and abs(v) > (tol or 1e-3) * top}
    prec = len(S & T) / len(S) if S else 1.0
    rec = len(S & T) / len(T) if T else 1.0
    return prec, rec, S == T, len(S), len(T)


@FAST
@given(st.integers(1, 8).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=st.sampled_from([0.0, 1e-5, 0.5, -1.0, 2.0, 1e-300])),
    arrays(np.float64, n, elements=st.sampled_from([0.0, 1.0, -3.0])))),
    st.one_of(st.none(), st.integers(0, 8)))
def test_support_recovery_matches_brute_force(pair, k):
    x, x_true = pair
    if k is not None and k > x.size:
        k = x.size
    got = support_recovery(x, x_true, k=k)
    assert tuple(got) == _support_brute(list(x), list(x_true), k=k)
    assert 0.0 <= got.precision <= 1.0 and 0.0 <= got.recall <= 1.0


@FAST
@given(arrays(np.float64, st.integers(1, 9),
              elements=st.one_of(st.just(0.0), st.floats(1e-100, 1e3))))
def test_rank_measures_against_their_definitions(s):
    # (the naive formulas below underflow for tiny s; the library does not)
    k = s.size
    if not np.any(s):
        assert erank(s) == 0 and stable_rank(s) == 0 and nuclear_rank(s) == 0
        return
    p = s / s.sum()
    q = s**2 / np.sum(s**2)
    ent = -sum(v * math.log(v) for v in p if v > 0)
    ent2 = -sum(v * math.log(v) for v in q if v > 0)
    assert float(erank(s)) == pytest.approx(math.exp(ent), rel=1e-10)
    assert float(erank_energy(s)) == pytest.approx(math.exp(ent2), rel=1e-10)
    sr, nr = float(stable_rank(s)), float(nuclear_rank(s))
    assert sr == pytest.approx(np.sum(s**2) / s.max() ** 2, rel=1e-12)
    assert 1 - 1e-12 <= sr <= nr * (1 + 1e-12) <= k * (1 + 1e-12)
    assert 1 - 1e-12 <= float(erank(s)) <= np.count_nonzero(s) * (1 + 1e-12)
    # permutation invariance and scale invariance (1e-200 keeps the smallest entry, 1e-100,
    # a normal float: 1e-250 sent it to 0)
    assert float(erank(s[::-1] * 1e-200)) == pytest.approx(float(erank(s)), rel=1e-10)


def test_numerical_rank_matches_numpy_matrix_rank():
    rng = np.random.default_rng(0)
    for r in range(4):
        W = rng.standard_normal((6, r)) @ rng.standard_normal((r, 5))
        s = singular_values(W)
        np.testing.assert_allclose(s, np.linalg.svd(W, compute_uv=False), atol=1e-12)
        tol = 1e-8
        assert numerical_rank(s, rtol=tol) == np.linalg.matrix_rank(W, tol=tol * s[0]) == r


# ------------------------------------------------------------------ errors: long double
@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                    reason="long double is float64 here")
def test_support_recovery_of_a_long_double_estimate_beyond_float64():
    # max|x| went through float(): inf, so no entry exceeded tol * inf and the support
    # found was empty (recall 0.0 for an estimate that does find entry 0)
    x = np.array(["1e400", "1"], dtype=np.longdouble)
    assert support_recovery(x, [1.0, 1.0]) == (1.0, 0.5, False, 1, 2)
    assert support_recovery(x, [1.0, 0.0]) == (1.0, 1.0, True, 1, 1)
