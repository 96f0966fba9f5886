"""Metrics on hand-computed cases, properties (hypothesis) and bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from overparam.metrics import (
    SupportScore,
    l1_gap,
    relative_error,
    residual,
    success,
    support_recovery,
)
from overparam.problems import partial_dct

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
vectors = st.integers(1, 12).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=finite), arrays(np.float64, n, elements=finite)))


# ------------------------------------------------------------------------ hand computed
def test_relative_error_values():
    assert relative_error([1.0, 1.0], [1.0, 0.0]) == 1.0
    assert relative_error([3.0, 0.0], [0.0, 4.0]) == pytest.approx(5.0 / 4.0)
    assert relative_error(np.ones((2, 2)), np.full((2, 2), 2.0)) == pytest.approx(0.5)
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert relative_error([1e-300, 0.0], [0.0, 0.0]) == np.inf
    # no underflow / overflow in the norms
    assert relative_error([2e-300, 0.0], [1e-300, 0.0]) == pytest.approx(1.0)
    assert relative_error([2e300, 2e300], [1e300, 1e300]) == pytest.approx(1.0)
    assert isinstance(relative_error([1], [2]), float)


def test_relative_error_non_finite_estimate():
    assert np.isnan(relative_error([np.nan, 0.0], [1.0, 0.0]))
    assert relative_error([np.inf, 0.0], [1.0, 0.0]) == np.inf
    assert not success([np.nan, 0.0], [1.0, 0.0])
    assert not success([np.inf, 0.0], [1.0, 0.0])


def test_l1_gap_values():
    assert l1_gap([1.0, -1.0, 0.0], [2.0, 0.0, 0.0]) == 0.0
    assert l1_gap([3.0, -1.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert l1_gap([3.0, -1.0], [2.0, 0.0], relative=False) == pytest.approx(2.0)
    assert l1_gap([1.0, 0.0], [2.0, 0.0]) == pytest.approx(-0.5)  # signed
    assert l1_gap([0.0], [0.0]) == 0.0
    assert l1_gap([1.0], [0.0]) == np.inf
    assert l1_gap([1.0], [0.0], relative=False) == 1.0


def test_support_recovery_threshold():
    x_true = np.array([2.0, 0.0, -1.0, 0.0, 0.0])
    # exact: small residue off the support is ignored at the default relative 1e-3
    s = support_recovery([1.9, 1e-5, -1.1, -1e-6, 0.0], x_true)
    assert s == SupportScore(1.0, 1.0, True, 2, 2)
    # one false positive, one miss
    s = support_recovery([1.9, 0.5, 0.0, 0.0, 0.0], x_true)
    assert (s.precision, s.recall, s.exact, s.n_found, s.n_true) == (0.5, 0.5, False, 2, 2)
    # threshold is relative to max|x|
    assert support_recovery([1.0, 0.01, 0.0, 0.0, 0.0], x_true, tol=0.1).n_found == 1
    assert support_recovery([1.0, 0.01, 0.0, 0.0, 0.0], x_true, tol=0.001).n_found == 2
    # precision/recall of an empty support
    assert support_recovery(np.zeros(5), x_true) == SupportScore(1.0, 0.0, False, 0, 2)
    assert support_recovery(np.zeros(5), np.zeros(5)) == SupportScore(1.0, 1.0, True, 0, 0)
    assert support_recovery(x_true, np.zeros(5)).precision == 0.0


def test_support_recovery_top_k():
    x_true = np.array([2.0, 0.0, -1.0, 0.0])
    s = support_recovery([0.3, 0.2, -0.25, 0.1], x_true, k=2)
    assert s.exact and s.n_found == 2
    s = support_recovery([0.3, 0.26, -0.25, 0.1], x_true, k=2)
    assert (s.precision, s.recall, s.exact) == (0.5, 0.5, False)
    # ties are broken by index: deterministic
    assert support_recovery([1.0, 1.0, 1.0, 1.0], x_true, k=1).n_found == 1
    assert support_recovery([1.0, 1.0, 1.0, 1.0], x_true, k=1).recall == 0.5
    assert support_recovery([1.0, 1.0, 1.0, 1.0], x_true, k=0) == SupportScore(
        1.0, 0.0, False, 0, 2)


def test_support_recovery_non_finite():
    s = support_recovery([np.nan, 0.0], [1.0, 0.0])
    assert np.isnan(s.precision) and np.isnan(s.recall) and not s.exact


def test_residual_values():
    A = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert residual(A, [1.0, 1.0], [1.0, 2.0]) == 0.0
    # A x = (1, 0), y = (1, 2): ||Ax - y|| = 2, ||y|| = sqrt(5)
    assert residual(A, [1.0, 0.0], [1.0, 2.0]) == pytest.approx(2.0 / np.sqrt(5.0))
    assert residual(A, [1.0, 0.0], [1.0, 2.0], relative=False) == pytest.approx(2.0)
    assert residual(A, [0.0, 0.0], [0.0, 0.0]) == 0.0
    assert residual(A, [1.0, 0.0], [0.0, 0.0]) == np.inf
    assert np.isnan(residual(A, [np.nan, 0.0], [1.0, 0.0]))


def test_residual_operators_agree():
    op = partial_dct(16, 64, seed=0)
    dense = op.to_dense()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(64), rng.standard_normal(16)
    expected = np.linalg.norm(dense @ x - y) / np.linalg.norm(y)
    for A in (dense, op, spla.aslinearoperator(dense)):
        assert residual(A, x, y) == pytest.approx(expected, rel=1e-12)


def test_success_values():
    x_true = np.array([1.0, 0.0, -2.0])
    assert success(x_true, x_true)
    assert success(x_true + 1e-5, x_true)
    assert not success(x_true + 1e-2, x_true)
    assert success(x_true + 1e-2, x_true, tol=1e-1)
    # strict: exactly at the threshold is not a success
    x_true2 = np.array([1.0, 0.0])
    assert not success([1.0, 0.5], x_true2, tol=0.5)
    assert success(np.zeros(3), np.zeros(3))


# --------------------------------------------------------------------------- properties
@given(vectors, st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3))
def test_relative_error_scale_invariant(pair, c):
    x, ref = pair
    assume(np.linalg.norm(ref) > 1e-6)
    assert relative_error(c * x, c * ref) == pytest.approx(relative_error(x, ref),
                                                           rel=1e-9, abs=1e-12)


@given(vectors)
def test_relative_error_identity_and_permutation(pair):
    x, ref = pair
    assume(np.linalg.norm(ref) > 0)
    assert relative_error(ref, ref) == 0.0
    perm = np.random.default_rng(len(x)).permutation(len(x))
    assert relative_error(x[perm], ref[perm]) == pytest.approx(relative_error(x, ref))
    # negative control: a sign flip is a 200% error, not 0
    assert relative_error(-ref, ref) == pytest.approx(2.0)


@given(vectors)
def test_l1_gap_properties(pair):
    x, ref = pair
    assume(np.abs(ref).sum() > 1e-6)
    assert l1_gap(ref, ref) == 0.0
    assert l1_gap(-ref, ref) == 0.0  # sign blind
    g = l1_gap(x, ref)
    assert g == pytest.approx(l1_gap(x, ref, relative=False) / np.abs(ref).sum())
    assert g >= -1.0  # ||x||_1 >= 0
    assert l1_gap(2.0 * ref, ref) == pytest.approx(1.0)


@given(arrays(np.float64, st.integers(1, 15), elements=finite))
def test_support_recovery_of_itself_is_exact(x_true):
    s = support_recovery(x_true, x_true, tol=0.0)
    assert s.exact and s.precision == 1.0 and s.recall == 1.0
    s = support_recovery(x_true, x_true, k=int(np.count_nonzero(x_true)))
    assert s.exact
    # negative control: adding a new nonzero breaks exactness
    zeros = np.flatnonzero(x_true == 0)
    if zeros.size:
        y = x_true.copy()
        y[zeros[0]] = np.abs(x_true).max() + 1.0
        assert not support_recovery(y, x_true, tol=0.0).exact


@given(vectors)
def test_success_matches_relative_error(pair):
    x, ref = pair
    assume(np.linalg.norm(ref) > 0)
    assert success(x, ref, tol=0.1) == (relative_error(x, ref) < 0.1)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [relative_error, l1_gap, success, support_recovery])
def test_shape_mismatch(fn):
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="shape mismatch"):
        fn(np.ones((2, 3)), np.ones(6))


@pytest.mark.parametrize("fn", [relative_error, l1_gap, success, support_recovery])
def test_reference_must_be_finite(fn):
    with pytest.raises(ValueError, match="non-finite"):
        fn(np.ones(3), np.array([1.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="empty"):
        fn(np.ones(0), np.ones(0))
    with pytest.raises(TypeError, match="numeric"):
        fn(np.array(["a", "b"]), np.ones(2))


def test_residual_bad_input():
    A = np.ones((3, 4))
    with pytest.raises(ValueError, match="rows"):
        residual(A, np.ones(4), np.ones(2))
    with pytest.raises(ValueError, match="columns"):
        residual(A, np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        residual(A, np.ones(4), np.array([1.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="non-finite"):
        residual(np.full((3, 4), np.nan), np.ones(4), np.ones(3))


def test_bad_options():
    with pytest.raises(ValueError, match="not both"):
        support_recovery(np.ones(3), np.ones(3), tol=0.1, k=1)
    with pytest.raises(ValueError, match="k = 4"):
        support_recovery(np.ones(3), np.ones(3), k=4)
    with pytest.raises(ValueError, match="tol"):
        support_recovery(np.ones(3), np.ones(3), tol=1.0)
    with pytest.raises(ValueError, match="tol"):
        success(np.ones(3), np.ones(3), tol=0.0)


# ------------------------------------------------------------------------ effective rank
def test_rank_functions_take_lists_and_scalars():
    from overparam.metrics import rank as rk

    # non-JAX input went to jax.numpy, which refuses lists (TypeError)
    assert rk.erank([1.0, 1.0]) == pytest.approx(2.0)
    assert rk.erank_energy([2.0, 2.0, 0.0]) == pytest.approx(2.0)
    assert rk.stable_rank([2.0, 1.0]) == pytest.approx(1.25)
    assert rk.nuclear_rank([2.0, 1.0]) == pytest.approx(1.5)
    assert rk.numerical_rank([1.0, 1e-9]) == 1
    np.testing.assert_allclose(rk.singular_values([[3.0, 0.0], [0.0, 4.0]]), [4.0, 3.0])
    np.testing.assert_allclose(rk.erank([[1.0, 1.0], [0.0, 0.0]]), [2.0, 0.0])
    assert isinstance(rk.erank([1.0, 1.0]), (np.ndarray, np.floating))


def test_rank_plateau_band_is_a_spread_not_a_distance_to_the_first_value():
    from overparam.metrics import rank as rk

    # 2.0, 2.2, 1.8, 2.1 all lie within 0.25 of the first value, but spread over 0.4 > 0.25
    tr = dict(iter=np.array([0, 1, 10, 100, 1000]), erank=np.array([5.0, 2.0, 2.2, 1.8, 2.1]),
              loss=np.array([1.0, 0.5, 0.4, 0.3, 0.2]))
    assert rk.rank_plateaus(tr, atol=0.25, rtol=0.0, min_points=3, min_decades=0.1) == []
    (pl,) = rk.rank_plateaus(tr, atol=0.41, rtol=0.0, min_points=3, min_decades=0.1)
    assert (pl.start, pl.end, pl.level) == (1, 1000, pytest.approx(2.05))
    # rtol scales with the midpoint of the run's range: 0.4 <= 0.21 * 2.0
    assert len(rk.rank_plateaus(tr, atol=0.0, rtol=0.21, min_points=3, min_decades=0.1)) == 1


# ------------------------------------------------------------------- regression tests
def test_l1_gap_extreme_magnitudes():
    # the plain l1 sums overflowed to inf near 1e308: inf - inf gave nan, not 0.0 / 0.5
    big = 1e308
    assert l1_gap([big, big], [big, big]) == 0.0
    assert l1_gap([big, big, big], [big, big, 0.0]) == pytest.approx(0.5, rel=1e-12)
    assert l1_gap([big, big], [big, big], relative=False) == 0.0
    assert l1_gap([big, 0.0], [0.5 * big, 0.0], relative=False) == pytest.approx(0.5 * big)
    # and the scaling keeps the tiny end exact too
    assert l1_gap([3e-310, 1e-320], [1e-310, 0.0]) == pytest.approx(2.0, rel=1e-9)


def test_residual_of_complex_estimate_counts_imaginary_part():
    # x was cast to float, dropping Im(x): x_true + 1j * x_true scored a 0.0 misfit
    A = np.eye(2)
    x = np.array([1.0 + 1.0j, 0.0])
    assert residual(A, x, [1.0, 0.0]) == pytest.approx(1.0)
    assert residual(A, x, [1.0, 0.0], relative=False) == pytest.approx(1.0)
    assert residual(A, np.array([1.0 + 0.0j, 0.0]), [1.0, 0.0]) == 0.0


def test_relative_error_no_overflow_in_difference():
    # x - x_ref overflowed to inf for entries near 1e308 of opposite signs
    assert relative_error([1e308], [-1e308]) == pytest.approx(2.0, rel=1e-12)
    assert relative_error([1e308, 0.0], [-1e308, 0.0]) == pytest.approx(2.0, rel=1e-12)
    assert success([1.7e308], [-1.7e308]) is False
    assert relative_error([1e-320], [3e-320]) == pytest.approx(2 / 3, rel=1e-2)
    assert relative_error([np.inf], [1.0]) == np.inf  # a failed run stays inf
    assert np.isnan(relative_error([np.nan], [1.0]))


def _exact_residual(A, x, y, relative):
    # rational arithmetic, then one rounding of the square root
    from fractions import Fraction as F
    from math import isqrt

    A = [[F(float(a)) for a in row] for row in np.asarray(A, dtype=float)]
    x, y = [F(float(v)) for v in x], [F(float(v)) for v in y]
    r2 = sum((sum(a * b for a, b in zip(row, x)) - yi) ** 2 for row, yi in zip(A, y))
    q = r2 / sum(v * v for v in y) if relative else r2
    # sqrt(q) ~ isqrt(q 4^k) / 2^k with q 4^k >= 2^400: 60 digits, also for q ~ 1e-640
    k = max(0, (q.denominator.bit_length() - q.numerator.bit_length()) // 2) + 200
    root = F(isqrt(q.numerator * 4 ** k // q.denominator), 2 ** k)
    try:
        return float(root)
    except OverflowError:
        return np.inf


@pytest.mark.parametrize("A, x, y", [
    (np.eye(2), [1.7e308, 0.0], [-1.7e308, 0.0]),      # A x - y overflowed: inf for 2.0
    (np.eye(2), [1e308, 0.0], [-5e307, 0.0]),
    (1e-300 * np.eye(2), [1e-20, 0.0], [2e-320, 0.0]),   # A x a subnormal: 0.5 for 0.49999
    (np.array([[1e-200, 1e-200]]), [1e100, -3e99], [1e-300]),
    (np.array([[0.0, 1.0]]), [1e300, 0.0], [1e-300]),  # A x = 0 must not hide y
    (np.array([[3.0, 4.0]]), [1e200, 1e200], [1e-200]),
])
def test_residual_without_overflow_or_underflow(A, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no RuntimeWarning on the way
        for relative in (True, False):
            expected = _exact_residual(A, x, y, relative)
            got = residual(A, x, y, relative=relative)
            assert got == pytest.approx(expected, rel=1e-13, abs=0)


def test_residual_of_huge_misfit_and_complex_measurements():
    # beyond the float range: inf, quietly
    A = np.full((1, 2000), 1e306)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert residual(A, np.ones(2000), [1.0]) == np.inf
        assert residual(np.eye(2), [1.7e308, 0.0], [-1.7e308, 0.0], relative=False) == np.inf
    # complex measurements and estimates keep their imaginary parts
    assert residual(np.eye(2), [1.0, 0.0], [1j, 0.0]) == pytest.approx(np.sqrt(2.0))
    assert residual(np.eye(2), [1j, 0.0], [1j, 0.0]) == 0.0
    # |x| overflows for x = 1.5e308 (1 + 1j), its parts do not
    assert residual(np.eye(2), [1.5e308 + 1.5e308j, 0.0], [1.5e308, 0.0]) == pytest.approx(1.0)
    assert residual(np.eye(2), [1.5e308, 0.0], [1.5e308 + 1.5e308j, 0.0]) == pytest.approx(
        1.0 / np.sqrt(2.0))
    assert residual(np.eye(2), np.array([True, False]), [1.0, 0.0]) == 0.0


@pytest.mark.parametrize("fn", [relative_error, l1_gap])
def test_infinite_complex_estimate_is_inf_not_nan(fn):
    # complex / real divided as complex / complex: inf + inf j became nan + nan j (a nan
    # error), and 0 + inf j warned "invalid value encountered in divide"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fn(np.array([complex(np.inf, np.inf)]), [3.0]) == np.inf
        assert fn(np.array([complex(0.0, np.inf), 0.0]), [3.0, 1.0]) == np.inf
        assert fn(np.array([complex(-np.inf, 1.0)]), [3.0 + 1.0j]) == np.inf
    assert not success(np.array([complex(np.inf, np.inf)]), [3.0])
    assert np.isnan(fn(np.array([complex(np.nan, 0.0)]), [3.0]))  # a NaN stays NaN
    # finite complex values are unchanged
    assert relative_error([1.0 + 1.0j], [1.0]) == pytest.approx(1.0)
    assert l1_gap([3.0 + 4.0j], [5.0]) == 0.0


# ---------------------------------------------------- effective rank: fixes of round 11
def test_rank_measures_of_integer_spectra_with_the_most_negative_value():
    from overparam.metrics import rank as rk

    # |int8(-128)| wraps around to -128: [-128, 100] gave a nuclear rank of -0.28, an
    # erank of 1.0, a stable rank of 2.64 and a numerical rank of 1
    ref = np.array([128.0, 100.0])
    for dt in (np.int8, np.int16, np.int32, np.int64):
        lo = np.iinfo(dt).min
        s = np.array([lo, 100], dtype=dt)
        want = np.array([float(-lo), 100.0])
        for f in (rk.erank, rk.erank_energy, rk.stable_rank, rk.nuclear_rank):
            assert float(f(s)) == pytest.approx(float(f(want)), rel=1e-12), (dt, f)
        assert rk.numerical_rank(s, rtol=1e-30) == 2  # 100 / 2**63 ~ 1e-17 counts
    assert float(rk.nuclear_rank(np.array([-128, 100], np.int8))) == pytest.approx(
        ref.sum() / 128.0)
    assert rk.numerical_rank(np.array([-128, 100], np.int8)) == 2
    # bool and unsigned spectra as floats
    assert float(rk.erank(np.array([True, True, False]))) == pytest.approx(2.0)
    assert float(rk.stable_rank(np.array([255, 255], np.uint8))) == pytest.approx(2.0)


def test_jax_rank_measures_near_the_float64_maximum():
    import jax
    import jax.numpy as jnp

    from overparam.metrics import rank as rk

    # XLA divides by multiplying with the reciprocal, flushed to 0 above ~4.5e307:
    # every JAX measure of such a spectrum was 1.0 (entropy ranks) or 0.0 (the others)
    fns = (rk.erank, rk.erank_energy, rk.stable_rank, rk.nuclear_rank)
    base = np.array([3.0, 1.0, 0.5, 0.0])
    ref = [float(f(base)) for f in fns]
    for top in (5e307, 1e308, 1.7e308, np.finfo(np.float64).max):
        s = (base / 3.0) * top  # the largest value is top itself (finite)
        assert np.all(np.isfinite(s)) and s[0] == top
        got = [float(f(jnp.asarray(s))) for f in fns]
        np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=str(top))
        got = [float(jax.jit(f)(jnp.asarray(s))) for f in fns]
        np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=str(top))
        np.testing.assert_allclose([float(f(s)) for f in fns], ref, rtol=1e-12)
    # float32 near its maximum likewise
    s32 = np.array([3.0e38, 1.0e38], np.float32)
    want = float(rk.stable_rank(np.array([3.0, 1.0])))
    assert float(rk.stable_rank(jnp.asarray(s32))) == pytest.approx(want, rel=1e-6)


def test_rank_measures_of_a_scalar_and_flags_that_are_strings_are_refused():
    from overparam.metrics import l1_gap
    from overparam.metrics import rank as rk

    for fn in (rk.erank, rk.stable_rank, rk.numerical_rank):
        with pytest.raises(ValueError, match="got a scalar"):
            fn(3.0)
    with pytest.raises(TypeError, match="relative must be a bool"):
        l1_gap([2.0, -1.0], [2.0, 0.0], relative="no")      # "no" was truthy


def test_numerical_rank_refuses_non_finite_spectra_and_bad_rtol():
    import jax.numpy as jnp

    from overparam.metrics import rank as rk

    # NaN > t is False: a NaN spectrum read as rank 0, the zero matrix
    for s in ([np.nan, 1.0], [np.inf, 1.0]):
        with pytest.raises(ValueError, match="NaN or inf"):
            rk.numerical_rank(np.array(s))
        assert int(rk.numerical_rank(jnp.asarray(s))) == -1
    np.testing.assert_array_equal(rk.numerical_rank(jnp.asarray([[1.0, 0.5], [np.nan, 1]])),
                                  [2, -1])
    for rtol in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="rtol"):
            rk.numerical_rank(np.array([1.0, 0.0, 0.0]), rtol=rtol)
    assert int(rk.numerical_rank(np.array([1.0, 1e-20, 0.0]), rtol=0.0)) == 2


def test_numerical_rank_of_an_empty_spectrum_is_zero():
    from overparam.metrics import rank as rk

    # the other measures give 0 for k = 0 singular values; numerical_rank raised
    # "zero-size array to reduction operation maximum which has no identity"
    assert int(rk.numerical_rank(np.zeros(0))) == 0
    np.testing.assert_array_equal(rk.numerical_rank(np.zeros((3, 0))), [0, 0, 0])
    np.testing.assert_array_equal(rk.erank(np.zeros((3, 0))), [0.0, 0.0, 0.0])


def test_rank_plateau_options_refuse_nan_and_negative_values():
    from overparam.metrics import rank as rk

    # a NaN atol compared False with every spread: the whole trace, rank 1 then 3, was
    # one plateau (1, 10000); a NaN max_level let every level through
    tr = dict(iter=np.array([0, 1, 10, 100, 1000, 10000]),
              erank=np.array([9.0, 1.0, 1.02, 1.01, 3.0, 3.0]),
              loss=np.array([1.0, 0.5, 0.5, 0.5, 0.1, 0.1]))
    pl = rk.rank_plateaus(tr, min_points=2, min_decades=0.5)
    assert [(q.start, q.end) for q in pl] == [(1, 100), (1000, 10000)]
    for bad in (dict(atol=np.nan), dict(rtol=np.nan), dict(atol=-0.1),
                dict(min_decades=np.nan), dict(min_points=0), dict(min_points=2.5)):
        with pytest.raises((ValueError, TypeError)):
            rk.rank_plateaus(tr, **bad)
    for bad in (dict(max_level=np.nan), dict(min_loss_drop=np.nan),
                dict(min_loss_drop=-1.0)):
        with pytest.raises(ValueError):
            rk.select_plateau(pl, tr, **bad)
    assert rk.select_plateau(pl, tr, max_level=0.5) is None  # both levels are above


# ----------------------------------------------------- round 12: low-precision floats
def test_metrics_take_bfloat16_and_float8_arrays_from_jax():
    # NumPy sees ml_dtypes' floats as kind "V": a bfloat16 estimate (or reference) was
    # refused with "x must be a numeric array, got dtype bfloat16"
    import jax.numpy as jnp
    import ml_dtypes

    x64 = np.array([1.0, 2.0, 0.0, -0.5])
    ref64 = np.array([1.0, 1.0, 0.0, -0.5])
    for dt in (jnp.bfloat16, ml_dtypes.float8_e4m3fn):
        x, ref = jnp.asarray(x64, dt), np.asarray(ref64, dt)
        assert relative_error(x, ref) == relative_error(x64, ref64)
        assert relative_error(ref64, x) == relative_error(ref64, x64)
        assert l1_gap(x, ref) == l1_gap(x64, ref64)
        assert support_recovery(x, ref) == support_recovery(x64, ref64)
        assert success(x, ref) == success(x64, ref64)
        A = np.eye(4)[:3]
        assert residual(A, x, np.asarray(ref64[:3], dt)) == residual(A, x64, ref64[:3])
        assert residual(jnp.asarray(A, dt), x, ref64[:3]) == residual(A, x64, ref64[:3])
    # a NaN bfloat16 estimate is a failed run, as in float64; non-float void types stay
    # refused
    assert np.isnan(relative_error(np.array([1.0, np.nan], ml_dtypes.bfloat16), [1.0, 1.0]))
    for bad in (np.zeros(2, ml_dtypes.int4), np.zeros(2, "V8")):
        with pytest.raises(TypeError, match="numeric"):
            relative_error(bad, [1.0, 1.0])
        with pytest.raises(TypeError, match="numeric"):
            relative_error([1.0, 1.0], bad)


def test_residual_refuses_string_relative_flag():
    # bool("no") is True: relative=False from a config file gave the relative misfit
    # (0.707 for an absolute misfit of 1.414), while l1_gap refused the same string
    A = np.eye(2)
    for bad in ("no", "false", None, 2):
        with pytest.raises(TypeError, match="relative"):
            residual(A, [1.0, 1.0], [2.0, 0.0], relative=bad)
    assert residual(A, [1.0, 1.0], [2.0, 0.0], relative=np.bool_(False)) == pytest.approx(
        np.sqrt(2.0))


@pytest.mark.parametrize("c", [1.0, 1e-3, 2.0**-60])
def test_complex_reference_whose_modulus_overflows(c):
    # |x_ref| = 1.5e308 * sqrt(2) overflows to inf (its parts do not): the scale taken from
    # it was inf, and relative_error / l1_gap returned 0.0 for x = x_ref / 1.5 (the
    # relative error is 1/3, the l1 gap -1/3 at every scale)
    ref = np.array([1.5e308 + 1.5e308j, 0.0])
    x = ref / 1.5 + np.array([0.0, c * 1e300])
    sc = 1e-300  # the same pair at an ordinary scale: the oracle
    exp_err = np.linalg.norm(x * sc - ref * sc) / np.linalg.norm(ref * sc)
    exp_gap = (np.abs(x * sc).sum() - np.abs(ref * sc).sum()) / np.abs(ref * sc).sum()
    assert relative_error(x, ref) == pytest.approx(exp_err, rel=1e-12)
    assert l1_gap(x, ref) == pytest.approx(exp_gap, rel=1e-12)
    assert l1_gap(x, ref, relative=False) == pytest.approx(exp_gap * np.abs(ref * sc).sum()
                                                           / sc, rel=1e-12)
    assert relative_error(ref, ref) == 0.0 and l1_gap(ref, ref) == 0.0
    assert not success(x, ref)


@pytest.mark.parametrize("fn", [relative_error, l1_gap, support_recovery, success,
                                lambda x, ref: residual(np.eye(2), x, ref)])
def test_estimate_of_durations_is_refused_by_name(fn):
    # np.issubdtype(timedelta64, np.number) is True: a timedelta64 estimate passed the
    # numeric check and failed later with NumPy's "could not be promoted" or "float()
    # argument must be ... not 'datetime.timedelta'", naming neither x nor its dtype
    with pytest.raises(TypeError, match=r"x must be a numeric array, got dtype timedelta64"):
        fn(np.array([1, 0], dtype="timedelta64[s]"), [1.0, 0.0])


def test_rank_plateaus_refuses_a_trace_whose_arrays_do_not_line_up():
    # records that do not line up raised bare NumPy errors ("operands could not be
    # broadcast", "index 2 is out of bounds") or, with a loss longer than iter (or
    # shorter, but covering the plateaus found), paired plateaus with other records'
    # losses silently
    from overparam.metrics import rank as rk

    it = np.array([0, 1, 2, 4, 8, 16, 32, 64, 128])
    r = np.array([5, 5, 3, 3, 3, 3, 1, 1, 1.0])
    loss = np.linspace(1.0, 0.0, 9)
    ok = rk.rank_plateaus(dict(iter=it, erank=r, loss=loss))
    assert [(p.start, p.end, p.loss_start) for p in ok] == [(2, 16, 0.75), (32, 128, 0.25)]
    bad_traces = [
        (dict(iter=it, erank=r[:5]), "erank"),
        (dict(iter=it, erank=np.c_[r, r]), "erank"),
        (dict(iter=it, sv=r), "sv"),                     # one spectrum, not one per record
        (dict(iter=it[:1], erank=r), "erank"),
        (dict(iter=it.reshape(3, 3), erank=r), "iter"),
        (dict(iter=it, erank=r, loss=loss[:7]), "loss"),
        (dict(iter=it, erank=r, loss=np.r_[loss, 0.0]), "loss"),
    ]
    for trace, key in bad_traces:
        with pytest.raises(ValueError, match=key):
            rk.rank_plateaus(trace)


def test_support_recovery_top_k_never_counts_exact_zeros():
    # the k largest entries were taken by magnitude with ties broken by index, zeros
    # included: x = 0 "recovered" a support on the leading indices exactly (precision,
    # recall 1.0, exact True), and x = (1, 0, 0) the support {0, 1}
    x_true = np.array([1.0, -2.0, 0.0])
    assert support_recovery(np.zeros(3), x_true, k=2) == SupportScore(1.0, 0.0, False, 0, 2)
    assert support_recovery([1.0, 0.0, 0.0], x_true, k=2) == SupportScore(
        1.0, 0.5, False, 1, 2)
    assert support_recovery([-0.0, 3.0, 0.0], x_true, k=2) == SupportScore(
        1.0, 0.5, False, 1, 2)
    # the same as the threshold rule at tol = 0 whenever x has at most k nonzeros
    rng = np.random.default_rng(0)
    for _ in range(50):
        x = rng.standard_normal(6) * (rng.random(6) < 0.5)
        t = rng.standard_normal(6) * (rng.random(6) < 0.5)
        k = int(rng.integers(np.count_nonzero(x), 7))
        assert support_recovery(x, t, k=k) == support_recovery(x, t, tol=0.0)
    # ties among nonzeros are still broken by index
    assert support_recovery([2.0, 2.0, 0.0], x_true, k=1) == SupportScore(
        1.0, 0.5, False, 1, 2)
