import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from overparam.problems import (
    DenseOperator,
    LinearOperatorAdapter,
    Problem,
    as_operator,
    gaussian,
    partial_dct,
    rademacher,
    sparse_recovery,
)


def _operators():
    rng = np.random.default_rng(0)
    return [
        gaussian(30, 50, 1),
        rademacher(30, 50, 2),
        partial_dct(30, 50, 3),
        LinearOperatorAdapter(sp.random(30, 50, density=0.3, random_state=4)),
        DenseOperator(rng.standard_normal((30, 50))),
    ]


@pytest.mark.parametrize("op", _operators(), ids=lambda o: type(o).__name__)
def test_adjoint_dot_test_and_jax_maps(op):
    assert op.dot_test(seed=0) < 1e-13
    rng = np.random.default_rng(1)
    x, r = rng.standard_normal(op.shape[1]), rng.standard_normal(op.shape[0])
    np.testing.assert_allclose(np.asarray(op.jax_matvec(jnp.asarray(x))), op.matvec(x),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.jax_rmatvec(jnp.asarray(r))), op.rmatvec(r),
                               rtol=1e-12, atol=1e-12)
    # the VJP of the JAX forward map is the adjoint (what the driver's gradients use)
    _, pull = jax.vjp(op.jax_matvec, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(pull(jnp.asarray(r))[0]), op.rmatvec(r),
                               rtol=1e-12, atol=1e-12)
    dense = op.to_dense()
    np.testing.assert_allclose(dense @ x, op.matvec(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.norm2, np.linalg.norm(dense, 2), rtol=1e-6)


@pytest.mark.parametrize("shape", [(7, 11), (11, 7), (9, 9)])
def test_matrix_free_to_dense_both_orientations(shape):
    # m < n materialises rows by the adjoint, m >= n columns by the operator; both one unit
    # vector at a time (never an n x n identity)
    M = np.random.default_rng(1).standard_normal(shape)
    op = LinearOperatorAdapter(M)
    np.testing.assert_allclose(op.to_dense(), M, rtol=0, atol=1e-14)
    np.testing.assert_allclose(op.T.to_dense(), M.T, rtol=0, atol=1e-14)
    with pytest.raises(MemoryError, match="refusing"):
        op.to_dense(max_entries=M.size - 1)


def test_dot_test_detects_a_wrong_adjoint():
    class Broken(DenseOperator):
        def rmatvec(self, r):
            return 1.01 * super().rmatvec(r)

    assert Broken(np.random.default_rng(0).standard_normal((5, 7))).dot_test() > 1e-3


def test_partial_dct_has_orthogonal_rows_with_unit_column_norm_scaling():
    op = partial_dct(16, 64, 0)
    M = op.to_dense()
    np.testing.assert_allclose(M @ M.T, (64 / 16) * np.eye(16), atol=1e-12)
    np.testing.assert_allclose(np.mean(np.sum(M**2, axis=0)), 1.0, rtol=1e-12)


def test_gaussian_columns_have_unit_norm_on_average():
    op = gaussian(400, 300, 0)
    assert abs(np.mean(np.sum(op.to_dense() ** 2, axis=0)) - 1.0) < 0.02


def test_sparse_recovery_is_seeded_and_well_formed():
    p = sparse_recovery(100, 40, 6, seed=3)
    q = sparse_recovery(100, 40, 6, seed=3)
    r = sparse_recovery(100, 40, 6, seed=4)
    assert p.A.shape == (40, 100) and p.y.shape == (40,)
    assert np.count_nonzero(p.x_true) == 6
    np.testing.assert_array_equal(p.y, q.y)
    assert not np.array_equal(p.y, r.y)
    np.testing.assert_allclose(p.A.matvec(p.x_true), p.y, rtol=1e-14)
    assert p.info["s"] == 6 and p.info["operator"] == "gaussian"


@pytest.mark.parametrize("signal", ["gaussian", "sign", "uniform"])
@pytest.mark.parametrize("operator", ["gaussian", "rademacher", "dct"])
def test_sparse_recovery_variants(signal, operator):
    p = sparse_recovery(64, 32, 5, operator=operator, signal=signal, nonneg=True, seed=0)
    assert np.all(p.x_true >= 0) and np.count_nonzero(p.x_true) == 5
    if signal == "sign":
        assert set(np.unique(p.x_true)) == {0.0, 1.0}


def test_noise_level():
    p = sparse_recovery(200, 2000, 5, noise=0.1, seed=0)
    e = p.y - p.A.matvec(p.x_true)
    assert abs(np.std(e) - 0.1) < 0.01


def test_sparse_recovery_bad_input():
    with pytest.raises(ValueError, match="exceeds the dimension"):
        sparse_recovery(10, 5, 11, seed=0)
    with pytest.raises(ValueError, match="m must be >= 1"):
        sparse_recovery(10, 0, 2, seed=0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        sparse_recovery(-1, 5, 2, seed=0)
    with pytest.raises(ValueError, match="noise"):
        sparse_recovery(10, 5, 2, noise=-1.0, seed=0)
    with pytest.raises(ValueError, match="operator must be one of"):
        sparse_recovery(10, 5, 2, operator="fourier", seed=0)
    with pytest.raises(ValueError, match="signal must be one of"):
        sparse_recovery(10, 5, 2, signal="laplace", seed=0)
    with pytest.raises(ValueError, match="seed is required"):
        sparse_recovery(10, 5, 2, seed=None)
    with pytest.raises(ValueError, match="at most n"):
        sparse_recovery(10, 20, 2, operator="dct", seed=0)
    with pytest.raises(ValueError, match="expected"):
        sparse_recovery(10, 5, 2, operator=np.ones((4, 10)), seed=0)


def test_problem_validation():
    A = np.ones((3, 4))
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        Problem(A, np.ones(2))
    with pytest.raises(ValueError, match="y contains 1 non-finite"):
        Problem(A, np.array([1.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="A contains"):
        Problem(np.array([[np.nan, 1.0]]), np.ones(1))
    with pytest.raises(ValueError, match="x_true has 3 entries"):
        Problem(A, np.ones(3), x_true=np.ones(3))
    p = Problem(A, np.ones(3))
    assert p.loss(np.zeros(4)) == 1.5
    with pytest.raises(ValueError):  # immutable measurements
        p.y[0] = 2.0


def test_as_operator_dispatch():
    assert isinstance(as_operator(np.ones((2, 3))), DenseOperator)
    assert isinstance(as_operator(sp.eye(3)), LinearOperatorAdapter)
    op = gaussian(3, 4, 0)
    assert as_operator(op) is op
