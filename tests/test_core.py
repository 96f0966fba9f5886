import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from overparam._core import (
    Result,
    Status,
    as_generator,
    check_depth,
    check_finite_array,
    check_positive,
    check_system,
    derive_seed,
)


def test_every_status_has_advice_and_only_converged_succeeds():
    for s in Status:
        assert isinstance(s.advice, str) and len(s.advice) > 20
        assert s.success == (s in (Status.CONVERGED, Status.EARLY_STOPPED))


def test_result_defaults_and_repr():
    r = Result(x=np.zeros(3), status=Status.MAX_ITER, n_iter=7, fun=1.5)
    assert not r.success
    assert r.message == Status.MAX_ITER.advice
    text = repr(r)
    assert "max_iter" in text and "n_iter=7" in text and "(3,)" in text
    assert "wall_time=None)" in repr(Result(np.zeros(1), Status.MAX_ITER, wall_time=None))


def test_result_status_by_value():
    # stores and JSON hold the status as its value string
    r = Result(np.zeros(2), "converged")
    assert r.status is Status.CONVERGED and r.success
    assert r.message == Status.CONVERGED.advice
    with pytest.raises(ValueError, match="status must be a Status or one of"):
        Result(np.zeros(2), "done")
    with pytest.raises(ValueError, match="'max_iter'"):
        Result(np.zeros(2), None)


def test_derive_seed_is_stable_and_sensitive():
    a = derive_seed(0, {"n": 200, "m": 80}, 3)
    assert a == derive_seed(0, {"m": 80, "n": 200}, 3)  # key order is irrelevant
    assert a != derive_seed(0, {"n": 200, "m": 80}, 4)
    assert a != derive_seed(1, {"n": 200, "m": 80}, 3)
    assert 0 <= a < 2**63
    assert derive_seed(np.int64(5), np.float64(0.5)) == derive_seed(5, 0.5)


@given(st.integers(0, 2**62), st.integers(0, 1000))
def test_derive_seed_deterministic(root, trial):
    assert derive_seed(root, trial) == derive_seed(root, trial)


def test_as_generator_requires_explicit_seed():
    with pytest.raises(ValueError, match="seed is required"):
        as_generator(None)
    with pytest.raises(ValueError, match=">= 0"):
        as_generator(-1)
    with pytest.raises(TypeError):
        as_generator(1.5)
    g = np.random.default_rng(0)
    assert as_generator(g) is g
    # a 0-d integer array is an int seed; 0-d float and bool arrays are not
    assert as_generator(np.asarray(3)).integers(1 << 30) == as_generator(3).integers(1 << 30)
    with pytest.raises(TypeError, match="got float"):
        as_generator(np.asarray(1.5))
    with pytest.raises(TypeError, match="got bool"):
        as_generator(np.asarray(True))


def test_checks_name_the_problem():
    with pytest.raises(ValueError, match="A contains 1 non-finite"):
        check_finite_array([[1.0, np.nan]], "A")
    with pytest.raises(ValueError, match="2-dimensional"):
        check_finite_array([1.0, 2.0], "A", ndim=2)
    with pytest.raises(ValueError, match="empty"):
        check_finite_array(np.zeros((0, 3)), "A")
    with pytest.raises(TypeError, match="numeric"):
        check_finite_array(["a"], "A")
    with pytest.raises(ValueError, match="init_scale must be finite and > 0"):
        check_positive(0.0, "init_scale")
    with pytest.raises(ValueError, match="init_scale"):
        check_positive(float("nan"), "init_scale")
    from decimal import Decimal
    assert check_positive(Decimal("0.25"), "eps") == 0.25
    for bad in ("NaN", "sNaN", "-1", "1e400"):
        with pytest.raises(ValueError, match="eps must be finite"):
            check_positive(Decimal(bad), "eps")
    with pytest.raises(ValueError, match="depth must be >= 1"):
        check_depth(0)
    with pytest.raises(TypeError, match="depth must be an integer"):
        check_depth(2.0)
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        check_system((3, 5), np.ones(2))
    with pytest.raises(ValueError, match="no rows"):
        check_system((0, 5), np.ones(0))


def test_check_finite_array_refuses_non_numeric_kinds():
    # np.issubdtype(timedelta64, np.number) is True: durations passed as their counts
    for bad in (np.array([1, 2], dtype="m8[s]"), np.array(["2020-01-01"], dtype="M8[D]"),
                np.zeros(2, dtype=[("a", "f8")]), np.zeros(2, dtype="V8"),
                np.array(["1.0"]), np.array([b"1"]), np.array([1.0, None])):
        with pytest.raises(TypeError, match="A must be a numeric array, got dtype"):
            check_finite_array(bad, "A")
    for good in (np.array([True, False]), np.array([1, 2], dtype=np.uint8),
                 np.array([1, 2], dtype=np.int64), np.array([1.5], dtype=np.float16)):
        out = check_finite_array(good, "A")
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, good.astype(np.float64))
    z = check_finite_array(np.array([1 + 2j]), "A")
    assert z.dtype == np.complex128 and z[0] == 1 + 2j


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                    reason="long double is float64 here")
def test_check_finite_array_refuses_long_doubles_beyond_float64():
    # finite as a long double, inf after the cast to float64: it was returned as inf
    big = np.array([1.0, np.longdouble(10) ** 400], dtype=np.longdouble)
    with pytest.raises(ValueError, match="A contains 1 non-finite"):
        check_finite_array(big, "A")
    ok = check_finite_array(np.array([1.5], dtype=np.longdouble), "A")
    assert ok.dtype == np.float64 and ok[0] == 1.5


# ----------------------------------------------------- round 12: norms and checks
def test_check_positive_refuses_numbers_beyond_the_floats():
    # float(10**400) raised OverflowError ("int too large to convert to float"), not the
    # ValueError every other non-finite value gets
    from fractions import Fraction
    for bad in (10**400, -(10**400), Fraction(10**400, 3)):
        with pytest.raises(ValueError, match="noise must be finite"):
            check_positive(bad, "noise", allow_zero=True)
    assert check_positive(10**300, "noise") == 1e300
    assert check_positive(Fraction(1, 4), "noise") == 0.25


@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint8, np.int16, np.int32, np.int64])
def test_safe_norm_of_bool_and_integer_arrays_is_float64(dtype):
    # np.ldexp computes bool / int8 / uint8 arrays in float16: sqrt(3) came back as
    # 1.7324 and ||(-128, 100)|| as 162.375 (162.4315...); numpy.linalg.norm casts to
    # float64 first
    from overparam._core import safe_norm
    rng = np.random.default_rng(3)
    info = np.iinfo(dtype) if dtype is not bool else None
    a = (rng.integers(0, 2, 7).astype(bool) if dtype is bool
         else rng.integers(info.min, info.max, 7, endpoint=True, dtype=dtype))
    a[0] = True if dtype is bool else info.min   # np.abs(min) is negative for signed ints
    want = np.linalg.norm(a.astype(np.float64))
    assert safe_norm(a) == pytest.approx(want, rel=1e-15, abs=0)
    m = np.stack([a, a[::-1]])
    np.testing.assert_allclose(safe_norm(m, axis=1),
                               np.linalg.norm(m.astype(np.float64), axis=1), rtol=1e-15)
    assert safe_norm(m, axis=1).dtype == np.float64


def test_safe_norm_scales_each_slice_along_an_axis():
    # one power of two for the whole array (from its largest entry, 1e300) pushed the
    # squares of a column of size 1e-300 below the subnormals: its norm came back as 0
    from overparam._core import safe_norm
    a = np.array([[1e-300, 3e-300, 1e300], [1e-300, 4e-300, -1e300]])
    np.testing.assert_allclose(safe_norm(a, axis=0),
                               [np.sqrt(2) * 1e-300, 5e-300, np.sqrt(2) * 1e300],
                               rtol=1e-15)
    np.testing.assert_allclose(safe_norm(a.T, axis=1), safe_norm(a, axis=0), rtol=0)
    np.testing.assert_allclose(safe_norm(a[None, :, :2], axis=-1)[0],
                               [np.hypot(1.0, 3.0) * 1e-300, np.hypot(1.0, 4.0) * 1e-300],
                               rtol=1e-15)
    # bit for bit numpy.linalg.norm where that does not under- or overflow; NaN/inf stay
    # in their own slice; empty slices have norm 0
    rng = np.random.default_rng(0)
    b = rng.standard_normal((6, 5))
    np.testing.assert_array_equal(safe_norm(b, axis=0), np.linalg.norm(b, axis=0))
    out = safe_norm(np.array([[np.nan, 1.0, 3.0], [1.0, np.inf, 4.0]]), axis=0)
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == 5.0
    np.testing.assert_array_equal(safe_norm(np.zeros((0, 3)), axis=0), np.zeros(3))


def test_check_finite_array_takes_ml_dtypes_floats():
    # bfloat16 / float8 (JAX's low-precision dtypes) have NumPy kind "V" and were refused
    # as "not a numeric array"
    import ml_dtypes
    for dt in (ml_dtypes.bfloat16, ml_dtypes.float8_e5m2):
        out = check_finite_array(np.array([1.5, -2.0], dt), "A")
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, [1.5, -2.0])
        with pytest.raises(ValueError, match="non-finite"):
            check_finite_array(np.array([1.0, np.inf], dt), "A")
    with pytest.raises(TypeError, match="numeric"):
        check_finite_array(np.zeros(2, ml_dtypes.int4), "A")


def test_zero_d_arrays_are_scalars_and_sparse_matrices_are_named():
    # eps=jnp.asarray(0.3) was refused ("got ArrayImpl") while np.float32 passed; a scipy
    # sparse matrix was "a numeric array, got dtype object"
    import jax.numpy as jnp
    import scipy.sparse

    from overparam._core import check_finite_array, check_int, check_positive

    assert check_positive(jnp.asarray(0.25), "eps") == 0.25
    assert check_positive(np.asarray(2.0), "eps") == 2.0
    assert check_int(jnp.asarray(7), "max_iter") == 7
    assert check_int(np.asarray(3, dtype=np.int8), "k", minimum=1) == 3
    with pytest.raises(TypeError, match="real number"):
        check_positive(jnp.asarray(True), "eps")
    with pytest.raises(TypeError, match="real number"):
        check_positive(jnp.asarray([0.3]), "eps")
    with pytest.raises(ValueError, match="> 0"):
        check_positive(np.asarray(-1.0), "eps")
    with pytest.raises(TypeError, match="integer"):
        check_int(jnp.asarray(2.5), "k")
    with pytest.raises(TypeError, match="scipy sparse matrix.*toarray"):
        check_finite_array(scipy.sparse.csr_matrix(np.eye(3)), "X")


def test_check_bool_takes_zero_d_boolean_arrays():
    # a flag computed as jnp.all(x >= 0) (a 0-d JAX array) or np.asarray(True) was refused
    # ("must be a bool, got ArrayImpl") while check_int / check_positive take 0-d arrays
    import jax.numpy as jnp

    from overparam._core import check_bool

    for flag in (np.asarray(True), jnp.asarray(True), jnp.all(jnp.ones(3) >= 0)):
        assert check_bool(flag, "nonneg") is True
    assert check_bool(np.asarray(False), "nonneg") is False
    assert check_bool(jnp.asarray(1), "f", allow_int=True) is True
    assert check_bool(np.asarray(0, np.uint8), "f", allow_int=True) is False
    for bad in (np.asarray(1), np.asarray([True]), np.asarray(1.0), np.asarray("True")):
        with pytest.raises(TypeError, match="must be a bool"):
            check_bool(bad, "nonneg")
    with pytest.raises(TypeError, match="must be a bool"):
        check_bool(np.asarray(2), "f", allow_int=True)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.complex64])
def test_safe_norm_of_low_precision_floats_is_computed_in_float64(dtype):
    # the result is a float64, but it was computed (and scaled back) in the input's
    # precision: ||(3e38, 3e38)|| of float32 entries overflowed to inf, two float32
    # subnormals 1e-45 gave 1.4e-45 (not 1.98e-45) and float16 (3e4, 4e4) gave 49984
    from overparam._core import safe_norm
    big = {np.float16: 6e4, np.float32: 3e38, np.complex64: 3e38}[dtype]
    tiny = {np.float16: 6e-8, np.float32: 1e-45, np.complex64: 1e-45}[dtype]
    for v in (big, tiny, 3e4 if dtype is np.float16 else 3e-30):
        a = np.array([v, v, -v], dtype=dtype)
        want = np.linalg.norm(a.astype(np.complex128 if dtype is np.complex64
                                       else np.float64))
        assert np.isfinite(want) and want > 0
        assert safe_norm(a) == pytest.approx(want, rel=1e-15, abs=0)
        out = safe_norm(np.stack([a, a[::-1]]), axis=1)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, [want, want], rtol=1e-15, atol=0)
    a = np.array([3e4, 4e4], dtype=np.float16)
    assert safe_norm(a) == 5e4


def test_derive_seed_refuses_long_doubles_with_a_type_error():
    # .item() hands a long double back unchanged, and json asked the fallback about it
    # again without end: RecursionError instead of "cannot derive a seed"
    for bad in (np.longdouble(0.5), np.clongdouble(1.0), np.array([0.5], np.longdouble)):
        with pytest.raises(TypeError, match="cannot derive a seed"):
            derive_seed(1, bad)
    # NumPy scalars that have a Python equivalent give the same seed as it
    assert derive_seed(np.float32(0.5), np.int64(3)) == derive_seed(0.5, 3)
    assert derive_seed(np.array([1, 2])) == derive_seed([1, 2])


def test_masked_entries_are_refused_not_read_through():
    # np.asarray drops the mask: the values behind it were used as data
    from overparam import HadamardRegressor
    from overparam.metrics import relative_error

    a = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    with pytest.raises(ValueError, match="A is a masked array with 1 masked entry"):
        check_finite_array(a, "A")
    with pytest.raises(ValueError, match="x is a masked array"):
        relative_error(a, [1.0, 2.0, 3.0])
    X = np.ma.masked_array(np.eye(3), mask=np.eye(3))
    with pytest.raises(ValueError, match="X is a masked array with 3 masked entries"):
        HadamardRegressor().fit(X, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="y is a masked array"):
        HadamardRegressor().fit(np.eye(3), a)
    # nothing masked: an ordinary array
    np.testing.assert_array_equal(check_finite_array(np.ma.masked_array([1.0, 2.0]), "A"),
                                  [1.0, 2.0])


def test_check_matrix_shape_takes_exactly_a_pair_of_sizes():
    from overparam._core import check_matrix_shape

    assert check_matrix_shape([3, 4]) == (3, 4)
    assert check_matrix_shape(np.array([3, 4])) == (3, 4)
    for bad in (12, "34", (3, 4, 1), (3,), [[3], [4, 5]], np.array([[3, 4]])):
        with pytest.raises(ValueError, match="shape must be a pair"):
            check_matrix_shape(bad)
    with pytest.raises(ValueError, match="n2 must be >= 1"):
        check_matrix_shape((3, 0))
    with pytest.raises(TypeError, match="n1"):
        check_matrix_shape((2.5, 3))


def test_result_x_is_writeable_even_from_a_jax_buffer():
    # np.asarray of a JAX array is a read-only view: hadamard_gd's and dmf_gd's x could
    # not be edited in place (SciPy's and the NumPy baselines' could)
    import jax.numpy as jnp

    import overparam
    from overparam.problems import sparse_recovery

    r = Result(np.asarray(jnp.arange(3.0)), Status.CONVERGED)
    r.x[0] = 7.0
    assert r.x.tolist() == [7.0, 1.0, 2.0]
    gd = overparam.hadamard_gd(sparse_recovery(30, 15, 2, seed=0), max_iter=20)
    gd.x[np.abs(gd.x) < 1e-6] = 0.0
