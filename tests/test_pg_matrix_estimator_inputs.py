"""projected_gradient and DeepMatrixCompletion under a caller's JAX mode and odd input."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from overparam.baselines import projected_gradient
from overparam.estimators.matrix import DeepMatrixCompletion


def _nnls_system(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((20, 8)), rng.standard_normal(20)


def test_projected_gradient_stays_float64_when_the_caller_turns_x64_off():
    # projected_gradient was the one JAX solver without x64_entry: with x64 off it ran in
    # float32 and returned float32 x, 4e-8 from the NNLS solution, status max_iter after
    # 50000 steps (tol=1e-12)
    A, y = _nnls_system()
    oracle = scipy.optimize.nnls(A, y)[0]
    want = projected_gradient(A, y, tol=1e-12)
    assert want.status.value == "converged"
    np.testing.assert_allclose(want.x, oracle, rtol=0, atol=1e-10)
    with jax.enable_x64(False):
        got = projected_gradient(A, y, tol=1e-12)
        assert jnp.ones(2).dtype == jnp.float32  # the caller's setting holds around it
    assert got.x.dtype == np.float64
    np.testing.assert_array_equal(got.x, want.x)
    assert (got.status, got.n_iter) == (want.status, want.n_iter)


def test_projected_gradient_called_inside_a_jax_trace():
    # called from traced code (e.g. a metric under jit) it failed with a
    # ConcretizationTypeError on float(...) of its own (staged) results
    A, y = _nnls_system()
    want = projected_gradient(A, y, tol=1e-12)
    seen = {}

    def f(z):
        seen["res"] = projected_gradient(A, y, tol=1e-12)
        return z + 1.0

    assert float(jax.jit(f)(1.0)) == 2.0
    np.testing.assert_array_equal(seen["res"].x, want.x)
    assert seen["res"].status == want.status


def test_dmc_strings_in_an_object_matrix_are_refused_naming_X():
    # NumPy's "could not convert string to float: 'a'" (a ValueError) and, for a pandas
    # "string" column with pd.NA, "float() argument must be ... not 'NAType'" named no
    # argument
    pd = pytest.importorskip("pandas")
    X = np.array([[1.0, np.nan, 2.0], [0.5, 1.0, np.nan]])
    obj = X.astype(object)
    obj[0, 0] = "a"
    est = DeepMatrixCompletion(depth=2, max_iter=20, record=2)
    with pytest.raises(TypeError, match=r"X must be a numeric matrix.*'a'"):
        est.fit(obj)
    with pytest.raises(TypeError, match="X must be a numeric matrix.*NAType"):
        est.fit(pd.DataFrame(X).astype("string"))
    # scikit-learn's own wording is kept (its check_dtype_object matches on it)
    obj[0, 0] = {"foo": "bar"}
    with pytest.raises(TypeError, match="argument must be .* string.* number"):
        est.fit(obj)
    # None (and NaN) in an object matrix still mark missing entries; transform refuses a
    # string in the same words
    obj[0, 0] = None
    est.fit(obj)
    assert est.mask_.sum() == 3
    obj[0, 0] = "b"
    with pytest.raises(TypeError, match=r"X must be a numeric matrix.*'b'"):
        est.transform(obj)


def test_dmc_completed_is_a_writeable_array_of_its_own():
    # completed_ was the read-only NumPy view of the run's JAX buffer (and the same object
    # as result_.x): clipping it in place raised "assignment destination is read-only"
    X = np.array([[1.0, np.nan, 2.0], [0.5, 1.0, np.nan], [1.0, 2.0, 3.0]])
    est = DeepMatrixCompletion(depth=2, max_iter=20, record=2).fit(X)
    before = np.array(est.result_.x)
    est.completed_[est.completed_ < 0.9] = 0.9
    assert est.completed_.min() >= 0.9 and est.completed_.dtype == np.float64
    np.testing.assert_array_equal(est.result_.x, before)  # the run's record unchanged
    out = est.transform(X)
    assert out.flags.writeable
    np.testing.assert_array_equal(out[np.isnan(X)], est.completed_[np.isnan(X)])


def test_lipschitz_stays_float64_when_the_caller_turns_x64_off():
    # the power iteration ran in float32 with x64 off (~1e-7 relative off eigvalsh)
    from overparam.baselines.projected_gradient import lipschitz

    A = np.random.default_rng(0).standard_normal((30, 20))
    G = A.T @ A
    with jax.enable_x64(False):
        est = lipschitz(_gram_apply, G, 20, iters=200)
    np.testing.assert_allclose(est, 1.05 * np.linalg.eigvalsh(G)[-1], rtol=1e-12)


def _gram_apply(d, v):
    return d @ v
