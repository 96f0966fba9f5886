"""Regression tests for input validation and oracles of problems.structured / matrix / eigen."""
import numpy as np
import pytest
import scipy.sparse as sp

from overparam.problems import Problem
from overparam.problems.eigen import (FactoredMatrix, eigenvector_errors, match_eigenpairs,
                                      sparse_eigen_problem)
from overparam.problems.matrix import (EntryMask, GaussianSensing, matrix_shape_of,
                                       spectrum_values)
from overparam.problems.operators import DenseOperator
from overparam.problems.structured import (MatrixMeasurements, RankOneSensing,
                                           fourier_rank_one, gaussian_rank_one, lrrs_dof,
                                           lrrs_inputs, lrrs_measurements, lrrs_problem)


# ---------------------------------------------------------------- structured
@pytest.mark.parametrize("shape", [60, (2, 3, 1), (6,), "23"])
def test_matrix_measurements_refuses_bad_shape(shape):
    Phi = np.random.default_rng(0).standard_normal((10, 6))
    with pytest.raises(ValueError, match="pair"):
        MatrixMeasurements(Phi, shape)
    with pytest.raises(ValueError, match="pair"):
        lrrs_inputs(Phi, Phi @ np.ones(6), shape=shape, rank=1)


def test_matrix_measurements_refuses_negative_sizes():
    # (-2) * (-3) == 6 columns passed the size test
    Phi = np.random.default_rng(0).standard_normal((10, 6))
    with pytest.raises(ValueError, match="n1 must be >= 1"):
        MatrixMeasurements(Phi, (-2, -3))
    with pytest.raises(TypeError, match="n1 must be an integer"):
        MatrixMeasurements(Phi, (2.0, 3.0))
    meas = MatrixMeasurements(Phi, np.array([2, 3]))
    assert (meas.n1, meas.n2) == (2, 3)


def test_lrrs_inputs_checks_shape_against_info():
    # a dense operator records its matrix shape only in info: a transposed shape read
    # vec(X) wrongly
    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((10, 6))
    p = Problem(DenseOperator(Phi), Phi @ rng.standard_normal(6),
                info=dict(matrix_shape=(2, 3)))
    with pytest.raises(ValueError, match="contradicts"):
        lrrs_inputs(p, shape=(3, 2), rank=1)
    assert lrrs_inputs(p, shape=(2, 3), rank=1)[2:4] == (2, 3)
    assert lrrs_inputs(p, rank=1)[2:4] == (2, 3)


def test_lrrs_dof_refuses_rank_above_min_s_n2():
    assert lrrs_dof(6, 2, 5) == 18
    assert lrrs_dof(3, 3, 3) == 9
    with pytest.raises(ValueError, match="rank at most"):
        lrrs_dof(5, 10, 3)  # was -20
    with pytest.raises(ValueError, match="rank at most"):
        lrrs_measurements(5, 10, 3, oversampling=2.0)  # was m = 1


def test_rank_one_sensing_refuses_non_numeric_and_empty_factors():
    with pytest.raises(TypeError, match="L must be a numeric array"):
        RankOneSensing(np.array([["a"]]), np.array([["b"]]))
    with pytest.raises(TypeError, match="R must be a numeric array"):
        RankOneSensing(np.ones((1, 1)), np.array([[None]]))
    with pytest.raises(ValueError, match="m >= 1"):
        RankOneSensing(np.zeros((0, 3)), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="m >= 1"):
        RankOneSensing(np.zeros((3, 0)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="m >= 1"):
        RankOneSensing(np.zeros((3, 2)), np.zeros((3, 0)))


def test_row_weighted_gram_checks_weights_and_matches_dense():
    A = gaussian_rank_one(3, 2, 4, seed=0)
    b = np.array([0.5, 2.0, 1.0])
    D = A.to_dense()
    want = D @ np.diag(np.repeat(b, 2)) @ D.T  # the oracle: Phi diag_rows(b) Phi^T
    np.testing.assert_allclose(A.row_weighted_gram(b), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(MatrixMeasurements(D, (3, 2)).gram(b), want, rtol=1e-12,
                               atol=1e-14)
    # a (m, 1) column broadcast over the measurements: a wrong 4 x 4 matrix, no error
    for bad in (np.ones((4, 1)), np.ones(4), np.ones(3) + 1j):
        with pytest.raises(ValueError, match="row weights"):
            A.row_weighted_gram(bad)
        with pytest.raises(ValueError, match="row weights"):
            MatrixMeasurements(A, (3, 2)).gram(bad)
        with pytest.raises(ValueError, match="row weights"):
            MatrixMeasurements(D, (3, 2)).gram(bad)


def test_lrrs_problem_snr_inf_as_0d_array_is_noiseless():
    p = lrrs_problem(3, 3, 1, 1, m=4, snr=np.array(np.inf), seed=0)
    q = lrrs_problem(3, 3, 1, 1, m=4, seed=0)
    assert p.noise == 0.0 and p.info["snr"] is None
    np.testing.assert_array_equal(p.y, q.y)
    r = lrrs_problem(3, 3, 1, 1, m=4, snr=np.array(4.0), seed=0)
    assert r.noise > 0 and r.info["snr"] == 4.0


def test_fourier_rank_one_matches_dft_oracle_and_seeds():
    m, n1, n2 = 8, 3, 2
    A = fourier_rank_one(n1, n2, m, seed=3)
    rng = np.random.default_rng(3)  # the same draws, by hand
    Ag, Bg = rng.standard_normal((m, n1)), rng.standard_normal((m, n2))
    F = np.exp(-2j * np.pi * np.outer(np.arange(m), np.arange(m)) / m)
    FA, FB = F @ Ag / np.sqrt(m), F @ Bg / np.sqrt(m)
    X = np.random.default_rng(9).standard_normal((n1, n2))
    want = np.array([FA[i] @ X @ FB[i].conj() for i in range(m)]) / np.sqrt(m)
    np.testing.assert_allclose(A.matvec(X), want, rtol=1e-12, atol=1e-14)
    assert A.dot_test() < 1e-12
    p1 = lrrs_problem(6, 4, 2, 3, m=20, operator="fourier_rank_one", snr=10, seed=7)
    p2 = lrrs_problem(6, 4, 2, 3, m=20, operator="fourier_rank_one", snr=10, seed=7)
    p3 = lrrs_problem(6, 4, 2, 3, m=20, operator="fourier_rank_one", snr=10, seed=8)
    np.testing.assert_array_equal(p1.y, p2.y)
    assert not np.allclose(p1.y, p3.y)


# ---------------------------------------------------------------- matrix
def test_from_mask_refuses_non_boolean_values():
    Y = np.array([[np.nan, 0.0], [1.5, 2.0]])  # NaN at the missing entry
    with pytest.raises(ValueError, match="mask must be boolean"):
        EntryMask.from_mask(Y)  # observed the NaN and dropped the 0
    with pytest.raises(ValueError, match="mask must be boolean"):
        EntryMask.from_mask(np.array([[2, 0], [0, 1]]))
    np.testing.assert_array_equal(EntryMask.from_mask(~np.isnan(Y)).mask,
                                  [[False, True], [True, True]])
    np.testing.assert_array_equal(EntryMask.from_mask(np.array([[1, 0], [0.0, 1]])).mask,
                                  np.eye(2, dtype=bool))


def test_entry_mask_refuses_rows_and_cols_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        EntryMask(3, 3, [[0, 1], [2, 0]], [0, 1, 2, 2])
    m = EntryMask(3, 3, [[0, 1], [2, 0]], [[0, 1], [2, 2]])
    np.testing.assert_array_equal(m.rows, [0, 0, 1, 2])
    np.testing.assert_array_equal(m.cols, [0, 2, 1, 2])


def test_stored_gaussian_sensing_checks_lengths():
    A = GaussianSensing(3, 3, 5, seed=0, matrix_free=False)
    with pytest.raises(ValueError, match="vector of 9 entries"):
        A.matvec(np.ones(8))
    with pytest.raises(ValueError, match="vector of 5 entries"):
        A.rmatvec(np.ones(4))
    x = np.random.default_rng(0).standard_normal(9)
    np.testing.assert_allclose(A.matvec(x), A.matrix @ x, rtol=1e-13)
    np.testing.assert_allclose(A.matvec(x.reshape(3, 3)), A.matrix @ x, rtol=1e-13)
    B = np.random.default_rng(1).standard_normal((9, 2))  # a batch of columns
    np.testing.assert_allclose(A.matvec(B), A.matrix @ B, rtol=1e-13)
    r = np.random.default_rng(2).standard_normal((5, 2))
    np.testing.assert_allclose(A.rmatvec(r), A.matrix.T @ r, rtol=1e-13)
    np.testing.assert_allclose(A.rmatvec(r[:, 0]), A.matrix.T @ r[:, 0], rtol=1e-13)


@pytest.mark.parametrize("rank, exc", [(0, ValueError), (-1, ValueError),
                                       (2.5, TypeError), (True, TypeError)])
def test_spectrum_values_checks_rank(rank, exc):
    with pytest.raises(exc, match="rank"):
        spectrum_values(rank, "linear")


def test_matrix_shape_of_checks_recorded_shape():
    rng = np.random.default_rng(0)
    Phi = rng.standard_normal((10, 6))
    y = Phi @ np.ones(6)
    for bad, msg in (((5, 5), "6 columns"), (60, "pair"), ((-2, -3), "n1 must be"),
                     ((2, 3, 1), "pair")):
        p = Problem(DenseOperator(Phi), y, info=dict(matrix_shape=bad))
        with pytest.raises(ValueError, match=msg):
            matrix_shape_of(p)
    p = Problem(DenseOperator(Phi), y, info=dict(matrix_shape=[3, 2]))
    assert matrix_shape_of(p) == (3, 2)


# ---------------------------------------------------------------- eigen
def test_factored_column_index_checked():
    A = sparse_eigen_problem(30, 3, 4, seed=0)
    i_last, v_last = A.column(2)
    i_neg, v_neg = A.column(-1)  # was an empty slice
    np.testing.assert_array_equal(i_neg, i_last)
    np.testing.assert_array_equal(v_neg, v_last)
    assert i_neg.size == 4
    with pytest.raises(IndexError):
        A.column(3)
    with pytest.raises(IndexError):
        A.column(-4)
    with pytest.raises(TypeError):
        A.column(1.0)


@pytest.mark.parametrize("chunk", [0, -5])
def test_entries_refuses_nonpositive_chunk(chunk):
    A = sparse_eigen_problem(30, 3, 4, seed=0)
    assert sum(c[0].size for c in A.entries()) == 48
    with pytest.raises(ValueError, match="chunk"):
        list(A.entries(chunk=chunk))  # -5 streamed nothing


def test_factored_sparsity_checked_and_zeros_dropped():
    A = sparse_eigen_problem(30, 2, 4, seed=0)
    for bad, exc in ((-3, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="sparsity"):
            FactoredMatrix(A.eigenvalues, A.vectors, bad)
    V = sp.csc_array((np.array([1.0, 0.0]), (np.array([0, 1]), np.array([0, 0]))),
                     shape=(5, 1))
    F = FactoredMatrix([1.0], V)
    assert F.sparsity == 1
    np.testing.assert_array_equal(F.support(), [0])
    # exactly sparse tails (tail_ratio=0) add no support
    B = sparse_eigen_problem(40, 2, 3, tail_times=2, tail_ratio=0.0, seed=0)
    assert B.support().size == 6


def _estimates(A):
    idx = np.stack([A.column(j)[0] for j in range(A.rank)], axis=1)
    val = np.stack([A.column(j)[1] for j in range(A.rank)], axis=1)
    return idx, val


def test_eigenvector_errors_overlap_counts_only_nonzero_entries():
    A = sparse_eigen_problem(40, 3, 4, seed=0)
    idx, val = _estimates(A)
    exact = eigenvector_errors(A, idx, val, A.eigenvalues)
    np.testing.assert_allclose(exact["overlap"], 1.0)
    np.testing.assert_allclose(exact["l2_after"], 0.0, atol=1e-14)
    # no entries: overlap was 1 (the zeros of the union sat on the true support)
    empty = eigenvector_errors(A, np.zeros((0, 3), int), np.zeros((0, 3)), A.eigenvalues)
    np.testing.assert_array_equal(empty["overlap"], 0.0)
    np.testing.assert_allclose(empty["l2_after"], 1.0)
    # one correct entry of the four: overlap 1/4 (was 1)
    big = np.argmax(np.abs(val), axis=0)
    keep = np.zeros_like(val)
    keep[big, np.arange(3)] = val[big, np.arange(3)]
    one = eigenvector_errors(A, idx, keep, A.eigenvalues)
    np.testing.assert_allclose(one["overlap"], 0.25)


def test_eigenvector_errors_validates_values_and_sparsity():
    A = sparse_eigen_problem(40, 3, 4, seed=0)
    idx, val = _estimates(A)
    with pytest.raises(TypeError, match="values must be real"):
        eigenvector_errors(A, idx, val + 1j, A.eigenvalues)  # imaginary part was dropped
    with pytest.raises(TypeError, match="eigenvalues must be real"):
        eigenvector_errors(A, idx, val, A.eigenvalues + 0.5j)
    with pytest.raises(TypeError, match="numeric"):
        eigenvector_errors(A, idx, val.astype(str), A.eigenvalues)
    with pytest.raises(ValueError, match="sparsity"):
        eigenvector_errors(A, idx, val, A.eigenvalues, sparsity=-1)  # overlap was 3
    with pytest.raises(TypeError, match="sparsity"):
        eigenvector_errors(A, idx, val, A.eigenvalues, sparsity=2.5)
    # a complex type with zero imaginary parts is the real estimate
    ok = eigenvector_errors(A, idx, val + 0j, A.eigenvalues, sparsity=2)
    np.testing.assert_allclose(ok["overlap"], 1.0)


def test_match_eigenpairs_checks_overlaps_shape():
    lam = np.array([1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match="overlaps"):
        match_eigenpairs(lam, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="overlaps"):
        match_eigenpairs(lam, np.zeros(3))
    np.testing.assert_array_equal(
        match_eigenpairs(lam, np.array([[0, 1, 0], [1, 0, 0.0]])), [1, 0])
