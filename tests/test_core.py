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
    with pytest.raises(ValueError, match="depth must be >= 1"):
        check_depth(0)
    with pytest.raises(TypeError, match="depth must be an integer"):
        check_depth(2.0)
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        check_system((3, 5), np.ones(2))
    with pytest.raises(ValueError, match="no rows"):
        check_system((0, 5), np.ones(0))
