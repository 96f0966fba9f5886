import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

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


# ------------------------------------------------------------------ regression tests
from overparam.problems import (  # noqa: E402
    EntryMask,
    GaussianSensing,
    MatrixIdentity,
    matrix_estimation,
    matrix_sensing,
    sparse_vector,
    subsampled_fft,
)
from overparam.problems.operators import SubsampledFFT  # noqa: E402


def _matrix_free_operators():
    return [partial_dct(6, 10, 0), subsampled_fft(6, 10, 1),
            EntryMask.from_mask(np.random.default_rng(2).random((3, 4)) < 0.5),
            MatrixIdentity(2, 3),
            LinearOperatorAdapter(sp.random(5, 7, density=0.5, random_state=4))]


@pytest.mark.parametrize("op", _matrix_free_operators(), ids=lambda o: type(o).__name__)
def test_scipy_view_takes_column_vectors_and_blocks(op):
    # SciPy passes (n, 1) columns (default matmat, svds): these were gathered/transformed
    # along the wrong axis (silently wrong) or crashed
    M = op.to_dense()
    L = op.as_linear_operator()
    rng = np.random.default_rng(0)
    X, R = rng.standard_normal((op.shape[1], 3)), rng.standard_normal((op.shape[0], 3))
    np.testing.assert_allclose(L.matmat(X), M @ X, atol=1e-12)
    np.testing.assert_allclose(L.rmatmat(R), M.T @ R, atol=1e-12)
    np.testing.assert_allclose(L.matvec(X[:, :1]).ravel(), M @ X[:, 0], atol=1e-12)
    # the adjoint's spectral norm went through svds and crashed
    np.testing.assert_allclose(op.T.norm2, op.norm2, rtol=1e-12)
    assert op.T.norm2 >= np.linalg.norm(M, 2) * (1 - 1e-8)


@pytest.mark.parametrize("op", _matrix_free_operators(), ids=lambda o: type(o).__name__)
def test_real_operators_on_complex_vectors(op):
    # A z = A Re z + i A Im z (DenseOperator's answer); the imaginary part was dropped
    M = op.to_dense()
    rng = np.random.default_rng(1)
    z = rng.standard_normal(op.shape[1]) + 1j * rng.standard_normal(op.shape[1])
    w = rng.standard_normal(op.shape[0]) + 1j * rng.standard_normal(op.shape[0])
    np.testing.assert_allclose(op.matvec(z), M @ z, atol=1e-12)
    np.testing.assert_allclose(op.rmatvec(w), M.T @ w, atol=1e-12)
    # complex dot test <A z, w> = <z, A^T w> (conjugate-linear in the first slot)
    np.testing.assert_allclose(np.vdot(op.matvec(z), w), np.vdot(z, op.rmatvec(w)),
                               rtol=1e-12)


def test_matrix_free_sensing_columns_and_complex():
    # same bugs as above for the key-regenerated sensing operator (few products: each
    # first product compiles); rmatmat crashed, complex input lost its imaginary part
    op = GaussianSensing(2, 3, 5, 3, matrix_free=True)
    rng = np.random.default_rng(0)
    R = rng.standard_normal((5, 2))
    cols = np.column_stack([op.rmatvec(R[:, 0]), op.rmatvec(R[:, 1])])
    np.testing.assert_allclose(op.as_linear_operator().rmatmat(R), cols, atol=1e-12)
    w = R[:, 0] + 1j * R[:, 1]
    np.testing.assert_allclose(op.rmatvec(w), cols[:, 0] + 1j * cols[:, 1], atol=1e-12)


@pytest.mark.parametrize("op", [partial_dct(6, 10, 0), subsampled_fft(6, 10, 1)],
                         ids=lambda o: type(o).__name__)
def test_transforms_act_on_columns_like_a_matrix(op):
    M = op.to_dense()
    X = np.random.default_rng(2).standard_normal((op.shape[1], 4))
    R = np.random.default_rng(3).standard_normal((op.shape[0], 4))
    np.testing.assert_allclose(op.matvec(X), M @ X, atol=1e-12)
    np.testing.assert_allclose(op.rmatvec(R), M.T @ R, atol=1e-12)


def test_matrix_operators_refuse_batches_instead_of_flattening():
    mask = EntryMask.from_mask(np.eye(3, dtype=bool))
    sens = GaussianSensing(2, 3, 5, 0, matrix_free=True)
    with pytest.raises(ValueError, match="expected a vector of 9"):
        mask.matvec(np.ones((9, 2)))
    with pytest.raises(ValueError, match="expected a vector of 6"):
        sens.matvec(np.ones((6, 2)))
    np.testing.assert_array_equal(mask.matvec(np.eye(3)), [1.0, 1.0, 1.0])  # a W is fine


def test_problem_keeps_private_copies_and_validates():
    A = np.ones((3, 4))
    y, xt = np.array([1.0, 2.0, 3.0]), np.zeros(4)
    p = Problem(A, y, x_true=xt)
    y[0], xt[0] = 9.0, 9.0  # the caller's arrays stay writable, and ours do not change
    assert p.y[0] == 1.0 and p.x_true[0] == 0.0
    base = np.array([[1.0, 2.0, 3.0]])
    q = Problem(A, base[0])
    base[0, 0] = 9.0
    assert q.y[0] == 1.0
    with pytest.raises(ValueError, match="x_true contains 1 non-finite"):
        Problem(A, np.ones(3), x_true=[np.nan, 0, 0, 0])
    # complex data (problems.structured) stay complex, no longer cast to real with a warning
    assert np.iscomplexobj(Problem(A, np.ones(3), x_true=np.zeros(4) + 1j).x_true)
    with pytest.raises(ValueError, match="noise must be"):
        Problem(A, np.ones(3), noise=-1.0)
    assert np.isnan(Problem(A, np.ones(3), noise=float("nan")).noise)


def test_stored_gaussian_sensing_has_forward_data():
    op = GaussianSensing(3, 4, 7, 0, matrix_free=False)
    forward, data = op.jax_forward_data()  # was AttributeError: no '_fwd'
    x = np.random.default_rng(0).standard_normal(12)
    np.testing.assert_allclose(np.asarray(forward(jnp.asarray(data), jnp.asarray(x))),
                               op.matvec(x), atol=1e-12)


def test_entry_mask_rejects_fractional_indices():
    with pytest.raises(ValueError, match="integer indices"):
        EntryMask(3, 3, [0.5], [1])  # was truncated to entry (0, 1)
    assert EntryMask(3, 3, np.array([2.0]), [1]).flat_index.tolist() == [7]


def test_noise_norm_checked_even_without_noise():
    with pytest.raises(ValueError, match="noise_norm"):
        matrix_estimation(5, 5, 1, noise_norm="frobenius", seed=0)


def test_matrix_sensing_records_per_measurement_noise():
    # y_i = <A_i, W + E>, A_i ~ N(0, 1/m): the noise per measurement is N(0, ||E||_F^2/m),
    # it was recorded as ||E||_F / sqrt(n1 n2) (the per-entry noise of E)
    p = matrix_sensing(5, 6, 1, 2000, noise=2.0, seed=0)
    e = p.y - p.A.matvec(p.x_true)
    assert p.noise == pytest.approx(2.0 / np.sqrt(2000))
    assert abs(np.std(e) / p.noise - 1) < 0.05


def test_sparse_vector_validates_s_and_n():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="exceeds the dimension"):
        sparse_vector(5, 6, rng)
    with pytest.raises(ValueError, match="s must be >= 0"):
        sparse_vector(5, -1, rng)
    with pytest.raises(TypeError, match="s must be an integer"):
        sparse_vector(5, 2.5, rng)


def test_subsampled_fft_size_error_names_the_callers_m():
    with pytest.raises(ValueError, match="at most 2 n = 20 real rows, asked for m = 30"):
        sparse_recovery(10, 30, 2, operator="fft", seed=0)
    assert isinstance(subsampled_fft(20, 10, 0), SubsampledFFT)  # m = 2 n is allowed


def test_subsampled_fft_norm2_is_the_exact_spectral_norm():
    # norm2 was sqrt(n / m), an upper bound up to sqrt(2) loose (gradient steps taken
    # from it were up to 2x too small); it is exact: sqrt(n / m) when the rows hold a
    # real frequency (0 or n/2) or a conjugate pair {k, n - k}, else sqrt(n / (2 m))
    halves = 0
    for n in (1, 2, 3, 7, 8, 15, 16, 33):
        for m in sorted({1, 2, max(1, n // 2), max(1, n - 1), n} - {0}):
            if m > n:
                continue
            for seed in range(4):
                op = SubsampledFFT.random(m, n, seed)
                exact = np.linalg.norm(op.to_dense(), 2)
                np.testing.assert_allclose(op.norm2, exact, rtol=1e-12)
                np.testing.assert_allclose(op.T.norm2, exact, rtol=1e-12)
                halves += bool(np.isclose(op.norm2, np.sqrt(n / (2 * m))))
    assert halves > 0  # both cases of the closed form were met
    # the cases by hand (n = 8): a lone pair member, a pair, DC, Nyquist
    for rows, norm in [([1], 2.0), ([3, 6], 2.0 / np.sqrt(2)), ([1, 7], 2.0),
                       ([0], np.sqrt(8)), ([4, 5], 2.0)]:
        op = SubsampledFFT(8, rows)
        np.testing.assert_allclose(op.norm2, norm, rtol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(op.to_dense(), 2), norm, rtol=1e-12)


# ------------------------------------------------------------------ probing round (s11)
from overparam.problems.operators import PartialDCT  # noqa: E402


def test_sparse_regression_training_data_do_not_depend_on_m_test():
    # the training noise was drawn after the test rows: with noise > 0, another m_test
    # gave other training measurements y for the same seed (max |dy| = 0.31 at noise 0.1)
    from overparam.problems.regression import sparse_regression

    for operator in ("gaussian", "rademacher"):
        a = sparse_regression(30, 10, 3, m_test=50, noise=0.1, operator=operator, seed=4)
        b = sparse_regression(30, 10, 3, m_test=60, noise=0.1, operator=operator, seed=4)
        np.testing.assert_array_equal(a.A.to_dense(), b.A.to_dense())
        np.testing.assert_array_equal(a.x_true, b.x_true)
        np.testing.assert_array_equal(a.y, b.y)
        # the noise is there (and N(0, 0.1^2)-sized), and the test set is still drawn
        e = a.y - a.A.matvec(a.x_true)
        assert 0.02 < np.std(e) < 0.3
        assert a.A_test.shape == (50, 30) and b.A_test.shape == (60, 30)
        # the test matrix does not depend on the noise level (shared across noise)
        c = sparse_regression(30, 10, 3, m_test=50, noise=0.0, operator=operator, seed=4)
        np.testing.assert_array_equal(a.A_test, c.A_test)
        np.testing.assert_array_equal(c.y, c.A.matvec(c.x_true))


@pytest.mark.parametrize("op", [PartialDCT(8, [1, 3]), SubsampledFFT(8, [1, 3])],
                         ids=lambda o: type(o).__name__)
def test_transforms_refuse_vectors_of_the_wrong_length(op):
    # dct / fft of any length and a broadcasting scatter took wrong lengths and answered
    # silently (PartialDCT(8, [1, 3]).matvec(ones(9)) -> [0, 0]; rmatvec(ones(1)) filled
    # both rows; the FFT adjoint took 3 of its 4 entries)
    m, n = op.shape
    for bad in (np.ones(n + 1), np.ones(n - 3), np.ones((n + 1, 2))):
        with pytest.raises(ValueError, match=f"x must have {n} entries"):
            op.matvec(bad)
    for bad in (np.ones(1), np.ones(m - 1), np.ones(m + 1)):
        with pytest.raises(ValueError, match=f"r must have {m} entries"):
            op.rmatvec(bad)
    # the JAX maps transform the last axis: only vectors (a (n, n) block was transformed
    # along the wrong axis)
    for bad in (jnp.ones(n + 1), jnp.ones((n, n))):
        with pytest.raises(ValueError, match=f"x must be a vector of {n} entries"):
            op.jax_matvec(bad)
    with pytest.raises(ValueError, match=f"r must be a vector of {m} entries"):
        op.jax_rmatvec(jnp.ones(m + 1))
    # the right sizes still work, under jit and vmap too
    M = op.to_dense()
    x = np.arange(n, dtype=float)
    np.testing.assert_allclose(np.asarray(jax.jit(op.jax_matvec)(jnp.asarray(x))), M @ x,
                               atol=1e-12)
    X = np.random.default_rng(0).standard_normal((3, n))
    np.testing.assert_allclose(np.asarray(jax.vmap(op.jax_matvec)(jnp.asarray(X))),
                               X @ M.T, atol=1e-12)


def test_matrix_free_sensing_norm2_is_exact_at_storable_sizes():
    # matrix_free=True at a storable size used the bound 1.05 (1 + sqrt(n / m)), below the
    # true norm for small m in 2-5% of draws (m = 1, n = 4, seed 0: 3.15 < 3.49): step
    # "auto" taken from it could then be too large
    for (n1, n2, m, seed) in [(2, 2, 1, 0), (2, 3, 5, 3), (3, 3, 2, 1)]:
        op = GaussianSensing(n1, n2, m, seed, matrix_free=True, block=2)
        dense = op.to_dense()
        np.testing.assert_allclose(dense, np.column_stack(
            [op.matvec(e) for e in np.eye(n1 * n2)]), atol=1e-12)
        exact = np.linalg.norm(dense, 2)
        np.testing.assert_allclose(op.norm2, exact, rtol=1e-12)
        np.testing.assert_allclose(op.T.norm2, exact, rtol=1e-12)
    # beyond the storable size: the bound, with no product (only a key is stored)
    big = GaussianSensing(5000, 5001, 2, 0, matrix_free=True)
    m, n = big.shape
    davidson_szarek = 1 + np.sqrt(n / m) + np.sqrt(2 * np.log(1e9)) / np.sqrt(m)
    assert big.norm2 >= davidson_szarek


def test_lrrs_snr_infinity_only_means_noiseless():
    # snr = -inf passed as noiseless; np.float32(inf) was refused while float inf passed
    from overparam.problems.structured import lrrs_problem

    for snr in (float("-inf"), np.float32(-np.inf), float("nan"), 0.0):
        with pytest.raises(ValueError, match="snr must be finite and > 0"):
            lrrs_problem(6, 4, 2, 3, m=10, snr=snr, seed=0)
    for snr in (None, float("inf"), np.float32(np.inf), np.float64(np.inf)):
        p = lrrs_problem(6, 4, 2, 3, m=10, snr=snr, seed=0)
        assert p.noise == 0.0 and p.info["snr"] is None
        np.testing.assert_allclose(p.y, p.A.matvec(p.x_true), rtol=1e-13)
    assert lrrs_problem(6, 4, 2, 3, m=10, snr=np.float32(10), seed=0).info["snr"] == 10.0


def test_sparse_vector_takes_an_int_seed():
    # an int failed with "'int' object has no attribute 'choice'"
    x = sparse_vector(7, 3, 5, signal="sign")
    np.testing.assert_array_equal(x, sparse_vector(7, 3, np.random.default_rng(5),
                                                   signal="sign"))
    assert np.count_nonzero(x) == 3
    with pytest.raises(ValueError, match="seed is required"):
        sparse_vector(7, 3, None)


def test_sparse_eigen_size_errors_name_the_parameter():
    # both failed inside the index sampler: "cannot place 6 more entries among N = 5"
    from overparam.problems.eigen import sparse_eigen_problem

    with pytest.raises(ValueError, match="sparsity = 6 exceeds n = 5"):
        sparse_eigen_problem(5, 2, 6, support="overlapping", seed=0)
    with pytest.raises(ValueError, match="tail_times = 3"):
        sparse_eigen_problem(5, 1, 2, tail_times=3, seed=0)
    with pytest.raises(ValueError, match="tail_times = 1"):
        sparse_eigen_problem(12, 2, 4, tail_times=1, seed=0)   # 2 * 4 * 2 > 12
    with pytest.raises(ValueError, match=r"rank \* sparsity <= n"):
        sparse_eigen_problem(8, 4, 4, tail_times=1, seed=0)
    # the largest sizes that fit are accepted
    F = sparse_eigen_problem(16, 2, 4, tail_times=1, seed=0)
    assert np.all(np.diff(F.vectors.indptr) == 8)
    G = sparse_eigen_problem(8, 2, 4, tail_times=1, support="overlapping", seed=0)
    V = G.vectors.toarray()
    np.testing.assert_allclose(V.T @ V, np.eye(2), atol=1e-12)


def test_problem_residual_refuses_complex_and_loss_is_the_squared_norm():
    from overparam.problems.structured import lrrs_problem

    p = Problem(np.ones((3, 4)), np.ones(3))
    # np.asarray(x, float) dropped the imaginary part with only a warning
    with pytest.raises(TypeError, match="x must be real"):
        p.residual(np.zeros(4) + 1j)
    with pytest.raises(TypeError, match="x must be real"):
        p.loss(np.zeros(4) + 1j)
    # complex measurements: the loss was 0.5 Re(sum r_i^2), not 0.5 ||r||^2
    q = lrrs_problem(6, 4, 2, 3, m=20, operator="fourier_rank_one", seed=0)
    assert np.iscomplexobj(q.y)
    np.testing.assert_allclose(q.loss(np.zeros(24)), 0.5 * np.linalg.norm(q.y) ** 2,
                               rtol=1e-12)
    x = np.random.default_rng(0).standard_normal(24)
    r = q.A.to_dense() @ x - q.y
    np.testing.assert_allclose(q.loss(x), 0.5 * np.sum(np.abs(r) ** 2), rtol=1e-12)
    assert q.loss(q.x_true) < 1e-28


@pytest.mark.parametrize("cls", [PartialDCT, SubsampledFFT])
def test_transform_rows_must_be_integers(cls):
    # the int64 cast truncated 1.5 to row 1 (and parsed the string "1")
    for bad in ([1.5], [0, 2.7], ["1"], [np.nan]):
        with pytest.raises(ValueError, match="rows must be integer indices"):
            cls(8, bad)
    np.testing.assert_array_equal(cls(8, [2.0, 3]).rows, [2, 3])  # integral floats pass
    np.testing.assert_array_equal(cls(8, np.array([5], dtype=np.uint8)).rows, [5])
    with pytest.raises(ValueError, match=r"1-D list of indices, got shape \(2, 2\)"):
        cls(8, [[0, 1], [2, 3]])


def test_matrix_operators_apply_complex_matrices():
    # apply_matrix / adjoint_matrix cast to float: a complex W or r lost its imaginary part
    # with only a warning (matvec / rmatvec take complex input)
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    for op in (GaussianSensing(2, 3, 5, 0), GaussianSensing(2, 3, 5, 0, matrix_free=True),
               EntryMask(2, 3, [0, 1, 1], [2, 0, 1]), MatrixIdentity(2, 3)):
        D = op.to_dense()
        np.testing.assert_allclose(op.apply_matrix(Z), D @ Z.ravel(), atol=1e-12)
        r = rng.standard_normal(op.shape[0]) + 1j * rng.standard_normal(op.shape[0])
        np.testing.assert_allclose(op.adjoint_matrix(r), (D.T @ r).reshape(2, 3), atol=1e-12)
        np.testing.assert_allclose(op.apply_matrix(Z.real), D @ Z.real.ravel(), atol=1e-12)


def test_digits_scores_refuse_complex_predictions():
    # np.asarray(P, dtype=float) dropped the imaginary part with only a warning
    from overparam.problems.regression import digits_regression

    p = digits_regression(20, 10, classes=3, seed=0)
    with pytest.raises(TypeError, match="predictions must be real"):
        p.test_error(p.Y_test + 1j)
    with pytest.raises(TypeError, match="predictions must be real"):
        p.test_accuracy(p.Y_test + 1j)
    assert p.test_error(p.Y_test) == 0.0 and p.test_accuracy(p.Y_test) == 1.0
    assert np.isnan(p.test_error(np.full(p.Y_test.shape, np.nan)))  # a diverged run


# ---------------------------------------------------------------- problems2 (round 11)
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_norm2_lanczos_is_scale_free(scale):
    # svds on A itself: A^T A underflowed to 0 for entries ~1e-200 ("ARPACK error -9:
    # starting vector is zero") and overflowed for ~1e200 (error -9999)
    import scipy.sparse.linalg as spla

    from overparam.problems.structured import fourier_rank_one

    rng = np.random.default_rng(0)
    D = rng.standard_normal((30, 40)) * scale
    big = rng.standard_normal((600, 500)) * scale        # > 250000 entries: Lanczos
    dct = partial_dct(20, 50, 1)
    Dd = dct.to_dense() * scale
    S = sp.random(40, 60, density=0.1, random_state=2, format="csr") * scale
    four = fourier_rank_one(4, 3, 20, 0)                  # complex
    four.L = four.L * scale
    cases = [
        (LinearOperatorAdapter(D), D),
        (as_operator(sp.csr_matrix(D)), D),
        (as_operator(spla.aslinearoperator(D)), D),
        (LinearOperatorAdapter(D).T, D),
        (DenseOperator(big), big),
        (as_operator(S), S.toarray()),
        (LinearOperatorAdapter(spla.LinearOperator(
            dct.shape, matvec=lambda x: scale * dct.matvec(x),
            rmatvec=lambda r: scale * dct.rmatvec(r))), Dd),
        (four, four.to_dense()),
    ]
    for op, dense in cases:
        ref = np.linalg.norm(dense, 2)
        assert abs(op.norm2 / ref - 1) < 1e-7, (type(op).__name__, op.norm2, ref)


def test_norm2_single_row_or_column_and_zero_operator():
    # one row or column: np.linalg.norm squared the entries (0.0 at 1e-200, inf at 1e200);
    # a zero operator failed in ARPACK instead of having norm 0
    for scale in (1e-200, 1e200):
        row = np.full((1, 3), scale)
        got = LinearOperatorAdapter(sp.csr_matrix(row)).norm2
        assert abs(got / (np.sqrt(3.0) * scale) - 1) < 1e-14
        assert abs(LinearOperatorAdapter(row.T).norm2 / (np.sqrt(3.0) * scale) - 1) < 1e-14
    assert as_operator(sp.csr_matrix((30, 40))).norm2 == 0.0


def test_matrix_shape_error_fits_the_caller():
    # the error told callers of functions without a shape argument (the matrix baselines,
    # lrrs_guesses) to "pass shape=(n1, n2)"
    from overparam.baselines import nuclear_norm_prox
    from overparam.problems.matrix import matrix_shape_of
    from overparam.problems.structured import lrrs_guesses, lrrs_inputs

    Y = np.array([[2.0, 0.5, 0.1], [0.3, 1.0, 0.2]])
    blind = Problem(np.eye(6), Y.reshape(-1))
    for call in (lambda: lrrs_guesses(blind, rank=1),
                 lambda: matrix_shape_of(blind, shape_arg=False)):
        with pytest.raises(TypeError, match="not a matrix problem") as err:
            call()
        assert "shape=" not in str(err.value) and "info['matrix_shape']" in str(err.value)
    with pytest.raises(TypeError, match="not a matrix problem") as err:
        nuclear_norm_prox(blind)  # (takes no shape argument)
    assert "shape=" not in str(err.value)
    with pytest.raises(TypeError, match="where the function takes one"):
        matrix_shape_of(blind)
    with pytest.raises(TypeError, match=r"or pass shape=\(n1, n2\)$"):
        lrrs_inputs(blind)
    # the advice works: info["matrix_shape"] makes it a matrix problem
    shaped = Problem(np.eye(6), Y.reshape(-1), info=dict(matrix_shape=(2, 3)))
    assert matrix_shape_of(shaped) == (2, 3)
    assert lrrs_guesses(shaped, rank=1) == (1, 2)


def test_generator_flags_must_be_bools():
    # "no" (truthy) drew a non-negative signal / a symmetric target; numpy.True_ was
    # refused for matrix_free; lrrs_problem ignored a bad matrix_free for rank-one operators
    from overparam.problems import (matrix_completion, matrix_estimation, matrix_sensing,
                                    sparse_vector)
    from overparam.problems.structured import lrrs_problem

    for bad in ("no", "False", 1, None):
        with pytest.raises(TypeError, match="nonneg"):
            sparse_recovery(10, 5, 2, nonneg=bad, seed=0)
        with pytest.raises(TypeError, match="nonneg"):
            sparse_vector(10, 2, 0, nonneg=bad)
        with pytest.raises(TypeError, match="symmetric"):
            matrix_estimation(4, 4, 1, symmetric=bad, seed=0)
        with pytest.raises(TypeError, match="symmetric"):
            matrix_completion(4, 4, 1, 8, symmetric=bad, seed=0)
        with pytest.raises(TypeError, match="symmetric"):
            matrix_sensing(4, 4, 1, symmetric=bad, seed=0)
    for bad in (1, None, np.array([True, False])):
        with pytest.raises(TypeError, match="matrix_free"):
            matrix_sensing(4, 4, 1, matrix_free=bad, seed=0)
    with pytest.raises(ValueError, match="matrix_free"):
        lrrs_problem(8, 4, 1, 2, m=30, operator="gaussian_rank_one", matrix_free="yes",
                     seed=0)
    p = sparse_recovery(10, 5, 2, nonneg=np.True_, seed=0)
    assert p.info["nonneg"] is True and p.x_true.min() >= 0
    assert matrix_estimation(4, 4, 1, symmetric=np.True_, seed=0).info["symmetric"] is True
    assert matrix_sensing(4, 4, 1, matrix_free=np.True_, seed=0).A.matrix_free is True


def test_lrrs_problem_tiny_snr_gives_finite_noise():
    # sqrt(||y||^2 / (m snr)): m snr underflowed for snr ~1e-310 and sigma came out inf
    # ("y contains non-finite values") although it is ~1e154
    from overparam.problems.structured import lrrs_problem

    for snr in (1e-310, 5e-324, 4.0):
        p = lrrs_problem(8, 4, 1, 2, m=30, snr=snr, seed=0)
        y0 = p.A.matvec(p.x_true)
        want = np.linalg.norm(y0) / np.sqrt(30) / np.sqrt(snr)
        assert np.isfinite(p.y).all() and abs(p.noise / want - 1) < 1e-12


def test_digits_accuracy_of_nan_or_misshaped_predictions():
    # argmax takes the first NaN as the largest: a diverged run scored the share of class 0;
    # predictions with a wrong number of classes or rows were scored anyway
    from overparam.problems.regression import digits_regression

    p = digits_regression(20, 30, classes=3, seed=0)
    assert np.isnan(p.test_accuracy(np.full(p.Y_test.shape, np.nan)))
    P = p.Y_test.copy()
    P[0, 0] = np.nan
    assert np.isnan(p.test_accuracy(P))
    for shape in ((30, 2), (29, 3), (30,)):
        with pytest.raises(ValueError, match="predictions have shape"):
            p.test_accuracy(np.zeros(shape))
    assert p.test_accuracy(p.Y_test) == 1.0
    assert p.test_accuracy(np.roll(p.Y_test, 1, axis=1)) == 0.0


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_matrix_measurements_fro_norm_is_scale_free(scale):
    # squared entries: ||Phi||_F was 0 at 1e-200 and inf at 1e200, signal_scale 0 in both,
    # so the unit-scale rescaling of rspf / riem_adaiht did nothing (rspf STAGNATED with
    # error 1.2, riem_adaiht "CONVERGED" with error 1.0)
    from overparam.baselines import riem_adaiht, rspf
    from overparam.problems.structured import (MatrixMeasurements, RankOneSensing,
                                               fourier_rank_one, gaussian_rank_one,
                                               lrrs_problem, rel_fro_error)

    p = lrrs_problem(20, 8, 2, 4, oversampling=4.0, seed=0)
    D = p.A.to_dense()
    for op in (D, gaussian_rank_one(5, 4, 30, 0), fourier_rank_one(5, 4, 30, 0)):
        if isinstance(op, RankOneSensing):
            ref, shape = op.to_dense(), op.matrix_shape
            op = RankOneSensing(op.L * scale, op.R, scale=op.scale)
        else:
            ref, shape, op = op, (20, 8), op * scale
        meas = MatrixMeasurements(op, shape)
        assert abs(meas.fro_norm / (np.linalg.norm(ref) * scale) - 1) < 1e-14
        y = ref @ np.ones(ref.shape[1])
        want = MatrixMeasurements(ref, shape).signal_scale(y)
        assert abs(meas.signal_scale(y * scale) / want - 1) < 1e-14
    X = p.x_true.reshape(20, 8)
    for solver in (rspf, riem_adaiht):
        r = solver(D * scale, 2, 4, y=p.y, shape=(20, 8))
        assert rel_fro_error(np.asarray(r.x).reshape(20, 8), X / scale) < 1e-8


# ------------------------------------------------------ round 12: rel_fro_error
def test_rel_fro_error_of_integer_matrices_does_not_wrap_around():
    # X - X_true in int8: 100 - (-100) wrapped to -56, an error 0.56 reported for 2.0
    from overparam.problems.structured import rel_fro_error
    X = np.array([[100, 0], [0, -7]], dtype=np.int8)
    Xt = np.array([[-100, 0], [0, -7]], dtype=np.int8)
    want = np.linalg.norm(X.astype(float) - Xt) / np.linalg.norm(Xt.astype(float))
    assert rel_fro_error(X, Xt) == pytest.approx(want, rel=1e-15)
    assert rel_fro_error(X.astype(np.uint8), Xt.astype(np.uint8)) == pytest.approx(
        np.linalg.norm(X.astype(np.uint8).astype(float) - Xt.astype(np.uint8))
        / np.linalg.norm(Xt.astype(np.uint8).astype(float)), rel=1e-15)
    assert rel_fro_error(np.array([True, False]), np.array([False, True])) == 1.0 * np.sqrt(2)


def test_rel_fro_error_refuses_shapes_that_only_broadcast():
    # an (n1, n2) estimate against vec(X*) of shape (n1 n2,) (or (n2,)) broadcast into a
    # number for a different comparison
    from overparam.problems.structured import rel_fro_error
    X = np.arange(6.0).reshape(2, 3)
    for bad in (X.reshape(-1), X[0], X[:, :1], X.T):
        with pytest.raises(ValueError, match="shape mismatch"):
            rel_fro_error(X, bad)
    assert rel_fro_error(X, X) == 0.0


def test_rel_fro_error_without_overflow_in_the_difference():
    # X - X_true overflowed to inf for entries near 1e308 of opposite signs: 2.0 reported
    # as inf; NaN estimates stay NaN, a zero truth gives ||X||_F
    from overparam.problems.structured import rel_fro_error
    assert rel_fro_error([[1.5e308, -1.5e308]], [[-1.5e308, 1.5e308]]) == 2.0
    assert rel_fro_error([3e-320, 0.0], [1e-320, 0.0]) == pytest.approx(2.0, rel=0.01)
    assert np.isnan(rel_fro_error([np.nan, 1.0], [1.0, 1.0]))
    assert rel_fro_error([3.0, 4.0], [0.0, 0.0]) == 5.0
    assert rel_fro_error([3.0 + 4j, 0.0], [0.0, 1.0]) == pytest.approx(np.sqrt(26), rel=1e-15)


def test_sparse_regression_takes_a_generator_that_cannot_spawn():
    # the noise stream was rng.spawn(1): a Generator on Philox(key=...) (no SeedSequence)
    # failed with "The underlying SeedSequence does not implement spawning"
    from overparam.problems.regression import sparse_regression

    def gen():
        return np.random.Generator(np.random.Philox(key=5))
    a = sparse_regression(6, 4, 2, m_test=3, noise=0.1, seed=gen())
    b = sparse_regression(6, 4, 2, m_test=8, noise=0.1, seed=gen())
    c = sparse_regression(6, 4, 2, m_test=8, noise=0.0, seed=gen())
    # the documented invariances hold on this path too: training data independent of
    # m_test, A / x_true / A_test independent of the noise level
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.A.to_dense(), c.A.to_dense())
    np.testing.assert_array_equal(b.A_test, c.A_test)
    np.testing.assert_array_equal(c.y, c.A.matvec(c.x_true))
    assert not np.array_equal(a.y, c.y)


def test_matrix_operators_refuse_a_transposed_matrix():
    # only the size was checked: an n2 x n1 matrix was read row-major (wrong entries)
    from overparam.problems.structured import gaussian_rank_one

    W = np.random.default_rng(0).standard_normal((2, 3))
    ops = [EntryMask(2, 3, rows=[0, 1], cols=[2, 0]), MatrixIdentity(2, 3),
           GaussianSensing(2, 3, 5, 0, matrix_free=True), GaussianSensing(2, 3, 5, 0),
           gaussian_rank_one(2, 3, 5, 0)]
    for op in ops:
        with pytest.raises(ValueError, match=r"got a 3 x 2 matrix.* acts on 2 x 3"):
            op.matvec(W.T)
        # the matrix itself, its vec and a single column (SciPy's form) agree
        ref = op.matvec(W.reshape(-1))
        np.testing.assert_allclose(op.matvec(W), ref, atol=1e-13)
        np.testing.assert_allclose(np.ravel(op.matvec(W.reshape(-1, 1))), ref, atol=1e-13)
    np.testing.assert_array_equal(ops[0].matvec(W), [W[0, 2], W[1, 0]])
    with pytest.raises(ValueError, match="got a 3 x 2 matrix"):
        MatrixIdentity(2, 3).rmatvec(W.T)
    # measurements are a vector: a 2-D array of that size is refused, not flattened
    for op in (EntryMask(2, 3, rows=[0, 1, 1, 0], cols=[2, 0, 1, 0]),
               GaussianSensing(2, 3, 4, 0, matrix_free=True), gaussian_rank_one(2, 3, 4, 0)):
        with pytest.raises(ValueError, match="expected a vector of 4"):
            op.rmatvec(np.ones((2, 2)))


def test_entry_mask_refuses_more_entries_than_int64_indexes():
    # rows * n2 + cols wrapped around in int64: rows and cols came back as other entries
    with pytest.raises(ValueError, match=r"more than int64 flat indices"):
        EntryMask(10**10, 10**10, rows=[5 * 10**9, 1], cols=[0, 7])
    M = EntryMask(2**31, 2**31, rows=[2**31 - 1, 1], cols=[0, 7])   # 2**62 entries: fine
    assert M.rows.tolist() == [1, 2**31 - 1] and M.cols.tolist() == [7, 0]


def test_gaussian_sensing_refuses_sizes_beyond_memory(monkeypatch):
    # GaussianSensing(8, 4, 10**10).matvec and lrrs_problem(..., m=10**10) aborted the
    # interpreter inside XLA (SIGABRT) on an 80 GB buffer; now refused before allocating
    from overparam.problems import matrix as mx
    from overparam.problems.structured import lrrs_problem

    monkeypatch.setattr(mx, "_physical_memory", lambda: 2**30)   # a 1 GiB machine
    with pytest.raises(MemoryError, match=r"m = 10000000000.*GiB of memory"):
        GaussianSensing(8, 4, 10**10, seed=0)
    with pytest.raises(MemoryError, match="GiB of memory"):
        lrrs_problem(8, 4, 1, 2, m=10**10, seed=0)
    with pytest.raises(MemoryError, match="matrix_free=True"):         # stored: 8 GB
        GaussianSensing(100, 100, 10**5, seed=0, matrix_free=False)
    with pytest.raises(MemoryError, match="GiB of memory"):            # 2 GB row block
        GaussianSensing(10**4, 10**4, 2, seed=0, matrix_free=True, block=2)
    assert GaussianSensing(8, 4, 10**6, seed=0, matrix_free=True).shape == (10**6, 32)
    # unknown memory: no check, but more than 2**32 row blocks would repeat rows
    monkeypatch.setattr(mx, "_physical_memory", lambda: None)
    with pytest.raises(ValueError, match=r"2\*\*32 blocks"):
        GaussianSensing(2, 2, 2**32 + 1, seed=0, matrix_free=True, block=1)


def test_a_problem_keeps_a_private_read_only_matrix():
    # A was the caller's array: after M *= 10 the planted x left a residual of 21 and the
    # cached ||A||_2 (and the step sizes built on it) were another matrix's
    from overparam.problems import Problem

    rng = np.random.default_rng(0)
    M, x = rng.standard_normal((8, 20)), np.zeros(20)
    x[:2] = 1.0
    p = Problem(M, M @ x, x_true=x)
    norm = p.A.norm2
    M *= 10
    assert np.linalg.norm(p.residual(x)) == 0.0 and p.A.norm2 == norm
    with pytest.raises(ValueError, match="read-only"):
        p.A.matrix[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        sparse_recovery(20, 8, 2, seed=0).A.matrix[:] = 0.0


def test_a_linear_operator_with_nan_products_is_named():
    # NaN from the adjoint ended in "ArpackError -9999" / "SVD did not converge"; NaN from
    # the forward map in sparse_recovery blamed a y the user never passed
    import scipy.sparse.linalg as spla

    import overparam

    M = np.random.default_rng(0).standard_normal((5, 12))
    bad_adj = spla.LinearOperator(M.shape, matvec=lambda v: M @ v,
                                  rmatvec=lambda r: np.full(12, np.nan))
    p = overparam.problems.Problem(bad_adj, np.ones(5))
    with pytest.raises(ValueError, match="A's rmatvec returned 12 NaN value"):
        p.A.norm2
    bad_fwd = spla.LinearOperator(M.shape, matvec=lambda v: np.full(5, np.nan),
                                  rmatvec=lambda r: M.T @ r)
    with pytest.raises(ValueError, match="A.s matvec returned 5 NaN value"):
        sparse_recovery(12, 5, 2, operator=bad_fwd, seed=0)


@pytest.mark.parametrize("make", [
    lambda M: sp.csr_array(M),
    lambda M: spla.aslinearoperator(M),
], ids=["sparse", "aslinearoperator"])
def test_problem_over_linear_operator_pickles(make):
    # its JAX maps were closures built in __init__: pickle (Dask, process pools) failed
    # with "Can't pickle local object '_callback_linear.<locals>.apply'"
    import pickle

    from overparam.problems import as_problem

    M = np.random.default_rng(0).standard_normal((5, 8))
    p = as_problem(make(M), M @ np.ones(8))
    q = pickle.loads(pickle.dumps(p))
    v = np.arange(8.0)
    np.testing.assert_allclose(q.A.matvec(v), M @ v, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(q.A.jax_matvec(jnp.asarray(v))), M @ v, rtol=1e-12)
    # the VJP (the adjoint) is rebuilt too
    g = jax.grad(lambda x: 0.5 * jnp.sum((q.A.jax_matvec(x) - q.y) ** 2))(jnp.zeros(8))
    np.testing.assert_allclose(np.asarray(g), -M.T @ p.y, rtol=1e-12)


def test_sparse_recovery_refuses_a_bad_signal_before_any_draw():
    # the operator was drawn (a caller's Generator advanced, an m x n matrix allocated)
    # before sparse_vector refused the signal name, unlike every other argument
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    with pytest.raises(ValueError, match="signal must be one of"):
        sparse_recovery(40, 20, 3, signal="laplace", seed=rng)
    assert rng.bit_generator.state == state
    with pytest.raises(ValueError, match="signal must be one of"):
        sparse_recovery(40, 20, 3, signal=["sign"], seed=rng)
    assert rng.bit_generator.state == state


def test_problem_noise_takes_any_real_number_and_names_a_bad_one():
    # noise=Fraction(1, 2) and noise=10**400 failed inside np.isnan ("ufunc 'isnan' not
    # supported for the input types"); a 0-d array was "not a finite number"
    from fractions import Fraction

    import jax.numpy as jnp
    A = np.eye(3)
    for ok, want in ((Fraction(1, 2), 0.5), (np.asarray(0.25), 0.25),
                     (jnp.asarray(2.0), 2.0), (np.float32(0.5), 0.5), (3, 3.0)):
        noise = Problem(A, np.ones(3), noise=ok).noise
        assert type(noise) is float and noise == want
    assert np.isnan(Problem(A, np.ones(3), noise=np.asarray(np.nan)).noise)
    for bad in (10**400, Fraction(10**400, 3), -Fraction(1, 3), float("inf"), True,
                np.asarray([0.5]), "0.5", 1j):
        with pytest.raises(ValueError, match="noise must be a finite number"):
            Problem(A, np.ones(3), noise=bad)


@pytest.mark.parametrize("op", [partial_dct(6, 10, 0), subsampled_fft(6, 10, 1),
                                subsampled_fft(8, 4, 2)])
def test_jax_maps_of_transforms_on_complex_integer_and_float32_input(op):
    # SubsampledFFT's jax_matvec took a complex x as C-linear F_S (stacking Re and Im of
    # F_S x: a real vector, silently wrong) and its jax_rmatvec raised TypeError for
    # complex or integer r; the NumPy maps and PartialDCT's JAX maps give M @ v
    M = op.to_dense()
    m, n = op.shape
    rng = np.random.default_rng(5)
    z = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    w = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    np.testing.assert_allclose(np.asarray(op.jax_matvec(jnp.asarray(z))), M @ z, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.jax_rmatvec(jnp.asarray(w))), M.T @ w,
                               atol=1e-12)
    for v, f, B in ((np.arange(n), op.jax_matvec, M), (np.arange(m), op.jax_rmatvec, M.T)):
        out = f(jnp.asarray(v))
        assert out.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(out), B @ v, atol=1e-12)
        # float32 in, float32 out (the adjoint came back as float64)
        out32 = f(jnp.asarray(v, dtype=jnp.float32))
        assert out32.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(out32), B @ v, rtol=1e-5, atol=1e-5)


def test_host_callback_jax_maps_do_not_truncate_integer_input():
    # the callback's result was cast to the input's dtype: jax_matvec(jnp.arange(n)) of a
    # wrapped sparse matrix came back as int64, every entry truncated toward zero
    M = np.random.default_rng(0).standard_normal((3, 5))
    for op in (LinearOperatorAdapter(sp.csr_matrix(M)), LinearOperatorAdapter(M)):
        for f, v, B in ((op.jax_matvec, np.arange(5), M), (op.jax_rmatvec, np.arange(3), M.T),
                        (op.T.jax_matvec, np.arange(3), M.T)):
            out = f(jnp.asarray(v))
            assert out.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(out), B @ v, atol=1e-12)
            np.testing.assert_allclose(np.asarray(jax.jit(f)(jnp.asarray(v))), B @ v,
                                       atol=1e-12)
        # float inputs and gradients as before
        g = jax.grad(lambda x: jnp.sum(op.jax_matvec(x) ** 2))(jnp.ones(5))
        np.testing.assert_allclose(np.asarray(g), 2 * M.T @ M @ np.ones(5), atol=1e-12)
