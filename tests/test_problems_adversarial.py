"""Adversarial review of ``overparam.problems``: operators against independent oracles,
and inputs that used to give silently wrong answers (or to start allocating without end).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from oracles import operator_zoo
from overparam.problems import (EntryMask, FactoredMatrix, GaussianSensing,
                                LinearOperatorAdapter, MatrixIdentity, Problem, gaussian,
                                gaussian_rank_one, low_rank_matrix, matrix_completion,
                                matrix_sensing, rademacher, sparse_eigen_problem,
                                sparse_recovery)
from overparam.problems import eigen as eg
from overparam.problems import matrix as mx
from overparam.problems import operators as ops
from overparam.problems.regression import Identity


OPS = operator_zoo()


# ------------------------------------------------------------------ oracles (all fine)
@pytest.mark.parametrize("name", sorted(OPS))
def test_every_operator_agrees_with_its_dense_matrix(name):
    A = OPS[name]
    D = np.asarray(A.to_dense())
    m, n = A.shape
    assert D.shape == (m, n)
    rng = np.random.default_rng(1)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    r = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    scale = np.linalg.norm(D, 2)
    tol = 1e-12 * scale * 10
    np.testing.assert_allclose(A.matvec(x), D @ x, atol=tol)
    np.testing.assert_allclose(A.rmatvec(r), D.conj().T @ r, atol=tol)
    # adjointness for the complex inner product
    assert abs(np.vdot(r, A.matvec(x)) - np.vdot(A.rmatvec(r), x)) < tol * 10
    xr, rr = x.real, r.real
    np.testing.assert_allclose(np.asarray(A.jax_matvec(jnp.asarray(xr))), D @ xr, atol=tol)
    np.testing.assert_allclose(np.asarray(jax.jit(A.jax_rmatvec)(jnp.asarray(rr))),
                               D.conj().T @ rr, atol=tol)
    X = rng.standard_normal((3, n))
    np.testing.assert_allclose(np.asarray(jax.vmap(A.jax_matvec)(jnp.asarray(X))),
                               X @ D.T, atol=tol)
    assert A.norm2 == pytest.approx(scale, rel=1e-9)


def test_seeds_reproduce_bit_for_bit_and_leave_global_randomness_alone():
    state = np.random.get_state()[1].copy()
    for make in (lambda s: sparse_recovery(40, 20, 3, operator="fft", noise=0.1, seed=s),
                 lambda s: matrix_sensing(4, 5, 2, 30, matrix_free=True, seed=s)):
        a, b, c = make(3), make(3), make(4)
        assert np.array_equal(a.y, b.y) and np.array_equal(a.x_true, b.x_true)
        assert np.array_equal(a.A.to_dense(), b.A.to_dense())
        assert not np.array_equal(a.y, c.y)
    assert np.array_equal(np.random.get_state()[1], state)


# ------------------------------------------------------------------ JAX maps: shapes
def test_entry_mask_jax_maps_refuse_wrong_lengths_and_batches():
    A = EntryMask(4, 5, [0, 1, 3], [4, 2, 0])
    W = np.arange(20.0).reshape(4, 5)
    # a matrix of the operator's shape is read as vec(W), as by the NumPy map
    np.testing.assert_array_equal(np.asarray(A.jax_matvec(jnp.asarray(W))), A.matvec(W))
    for bad in (jnp.ones(19), jnp.ones(21), jnp.ones((20, 2)), jnp.ones((5, 4))):
        # jnp.take clamped / filled a short vector and flattened a batch: no error
        with pytest.raises(ValueError, match="vector of 20 entries"):
            A.jax_matvec(bad)
    with pytest.raises(ValueError, match="vector of 3 entries"):
        A.jax_rmatvec(jnp.ones((3, 2)))


def test_matrix_identity_jax_maps_check_the_length():
    A = MatrixIdentity(2, 3)
    with pytest.raises(ValueError, match="vector of 6 entries"):
        A.jax_matvec(jnp.ones(5))        # came back unchanged, 5 entries
    with pytest.raises(ValueError, match="vector of 6 entries"):
        A.jax_rmatvec(jnp.ones(7))
    with pytest.raises(ValueError, match="vector of 4 entries"):
        Identity(4).jax_matvec(jnp.ones(3))
    np.testing.assert_array_equal(np.asarray(jax.jit(A.jax_matvec)(jnp.arange(6.0))),
                                  np.arange(6.0))


def test_matrix_free_sensing_jax_matvec_refuses_a_batch_of_columns():
    A = GaussianSensing(3, 4, 9, 0, matrix_free=True, block=4)
    X = np.random.default_rng(0).standard_normal((12, 2))
    # the blocks' (block, 2) products were flattened and cut to m = 9 entries
    with pytest.raises(ValueError, match="vector of 12 entries"):
        A.jax_matvec(jnp.asarray(X))
    with pytest.raises(ValueError, match="vector of 9 entries"):
        A.jax_rmatvec(jnp.ones((9, 2)))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.int32])
def test_matrix_free_sensing_jax_rmatvec_takes_float32_and_integers(dtype):
    A = GaussianSensing(3, 4, 9, 0, matrix_free=True, block=4)
    r = np.arange(9) - 4
    # failed: "scan body function carry input and carry output must have equal types"
    out = np.asarray(A.jax_rmatvec(jnp.asarray(r, dtype=dtype)))
    np.testing.assert_allclose(out, A.to_dense().T @ r, rtol=1e-6, atol=1e-6)


def test_rank_one_jax_matvec_refuses_a_transposed_matrix():
    A = gaussian_rank_one(3, 4, 6, 0)
    W = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(np.asarray(A.jax_matvec(jnp.asarray(W))), A.matvec(W),
                               atol=1e-14)
    with pytest.raises(ValueError, match="vector of 12 entries"):
        A.jax_matvec(jnp.asarray(W.T))    # reshaped row-major into a wrong answer
    with pytest.raises(ValueError, match="r must be a vector of 6 entries"):
        A.jax_rmatvec(jnp.ones(5))


def test_linear_operator_adapter_jax_maps_check_the_length_at_trace_time():
    A = LinearOperatorAdapter(sp.random(6, 9, density=0.5, random_state=0))
    # failed inside the host callback, as a JaxRuntimeError
    with pytest.raises(ValueError, match="vector of 9 entries"):
        A.jax_matvec(jnp.ones(8))
    with pytest.raises(ValueError, match="vector of 6 entries"):
        A.jax_rmatvec(jnp.ones((6, 2)))


# ------------------------------------------------------------------ NumPy maps: dtypes
def _masked(n):
    return np.ma.masked_array(np.arange(1.0, n + 1), mask=np.r_[np.zeros(n - 1), 1])


@pytest.mark.parametrize("name", ["gaussian", "dct", "fft", "identity", "mask", "sensing",
                                  "sensing_free", "rank_one", "sparse"])
def test_masked_inputs_are_refused(name):
    A = OPS[name]
    m, n = A.shape
    # np.asarray dropped the mask: the hidden last value was used as data
    with pytest.raises(ValueError, match="masked entr"):
        A.matvec(_masked(n))
    with pytest.raises(ValueError, match="masked entr"):
        A.rmatvec(_masked(m))
    # a mask with nothing masked is plain data
    np.testing.assert_allclose(A.matvec(np.ma.masked_array(np.ones(n))),
                               A.matvec(np.ones(n)))


def test_masked_matrices_and_truths_are_refused():
    A = OPS["rank_one"]
    with pytest.raises(ValueError, match="masked entr"):
        A.apply_matrix(_masked(12).reshape(3, 4))
    with pytest.raises(ValueError, match="masked entr"):
        OPS["mask"].apply_matrix(_masked(20).reshape(4, 5))
    L = np.ma.masked_array(np.ones((2, 2)), mask=[[1, 0], [0, 0]])
    with pytest.raises(ValueError, match="L is a masked array"):
        type(A)(L, np.ones((2, 2)))
    E = sparse_eigen_problem(20, 2, 3, seed=0)
    with pytest.raises(ValueError, match="masked entr"):
        E.matvec(_masked(20))


@pytest.mark.parametrize("name", ["gaussian", "dct", "fft", "mask", "sensing", "rank_one",
                                  "sparse"])
def test_strings_are_not_parsed_as_numbers(name):
    A = OPS[name]
    with pytest.raises(TypeError, match="must be numeric"):
        A.matvec(np.array(["1"] * A.shape[1]))


def test_factored_matrix_matvec_refuses_strings():
    E = sparse_eigen_problem(20, 2, 3, seed=0)
    with pytest.raises(TypeError, match="must be numeric"):
        E.matvec(np.array(["1"] * 20))    # parsed as ones


# ------------------------------------------------------------------ Problem.residual
def test_residual_refuses_a_batch_whose_width_is_m():
    p = sparse_recovery(5, 3, 2, seed=0)
    X = np.ones((5, 3))
    # A X (3 x 3) minus y broadcast along rows: a wrong residual and loss, no error
    with pytest.raises(ValueError, match="vector of 5 entries"):
        p.residual(X)
    with pytest.raises(ValueError, match="vector of 5 entries"):
        p.loss(X)
    x = np.arange(5.0)
    np.testing.assert_allclose(p.residual(x[None, :]), p.residual(x))


def test_residual_of_a_matrix_problem_takes_its_matrix():
    p = matrix_completion(3, 4, 1, 6, seed=0)
    W = p.x_true.reshape(3, 4)
    assert p.loss(W) == pytest.approx(0.0, abs=1e-28)
    with pytest.raises(ValueError, match="matrix of shape"):
        p.residual(W.T)
    with pytest.raises(ValueError, match="masked entr"):
        p.residual(np.ma.masked_array(W, mask=np.eye(3, 4)))


# ------------------------------------------------------------------ sizes and memory
class _Drew(Exception):
    pass


def _no_draw(*args, **kwargs):
    raise _Drew("started drawing")


@pytest.mark.parametrize("make", [gaussian, rademacher])
def test_dense_ensembles_beyond_memory_are_refused_before_drawing(monkeypatch, make):
    monkeypatch.setattr(ops, "_physical_memory", lambda: 2**30)   # a 1 GiB machine
    monkeypatch.setattr(ops, "as_generator", _no_draw)
    with pytest.raises(MemoryError, match="GiB"):
        make(20_000, 20_000, 0)                                   # 3.2 GB each copy


def test_sparse_eigen_problem_beyond_memory_is_refused_before_drawing(monkeypatch):
    monkeypatch.setattr(eg, "_physical_memory", lambda: 2**30)
    monkeypatch.setattr(eg, "as_generator", _no_draw)
    # a valid disjoint layout (r s <= N) of 3 10**7 entries: it allocated and looped on
    # (rank 10**9 at N = 10**12 ran the machine out of memory)
    with pytest.raises(MemoryError, match="rank = 10000000"):
        sparse_eigen_problem(10**9, 10**7, 3, seed=0)
    monkeypatch.undo()
    assert sparse_eigen_problem(50, 3, 4, seed=0).rank == 3


def test_matrix_sensing_beyond_memory_is_refused_before_the_truth_is_drawn(monkeypatch):
    monkeypatch.setattr(mx, "_physical_memory", lambda: 2**30)
    monkeypatch.setattr(mx, "low_rank_matrix", _no_draw)
    # drawn (with an SVD: a minute at 4000 x 4000) before the operator was refused
    with pytest.raises(MemoryError, match="Gaussian sensing"):
        matrix_sensing(100, 100, 1, 100_000, matrix_free=False, seed=0)


def test_low_rank_matrix_singular_values_without_a_full_svd(monkeypatch):
    shapes = []
    svd = np.linalg.svd

    def spy(a, *args, **kwargs):
        shapes.append(np.shape(a))
        return svd(a, *args, **kwargs)

    cases = [dict(), dict(spectrum="geometric", condition=1e4), dict(spectrum="gaussian"),
             dict(spectrum="gaussian", symmetric=True, fro_norm=3.0)]
    for kw in cases:
        W, s = low_rank_matrix(30, 30, 3, seed=1, **kw)
        ref = svd(W, compute_uv=False)[:3]
        np.testing.assert_allclose(s, ref, rtol=1e-10, atol=1e-13 * ref[0])
        monkeypatch.setattr(mx.np.linalg, "svd", spy)
        low_rank_matrix(30, 30, 3, seed=1, **kw)
        monkeypatch.undo()
    # an O(n^3) SVD of the whole 30 x 30 target (62 s at 4000 x 4000)
    assert shapes and max(max(sh) for sh in shapes) <= 3


def test_factored_matrix_stays_checked():
    with pytest.raises(ValueError, match="orthonormal"):
        FactoredMatrix([1.0], np.ones((3, 1)))


def test_problem_still_takes_ordinary_inputs():
    A = gaussian(3, 4, 0)
    p = Problem(A, np.ma.masked_array([1.0, 2.0, 3.0]))
    assert p.loss([0, 0, 0, 0]) == pytest.approx(7.0)


def test_matrix_measurements_refuse_a_masked_operator():
    from overparam.problems.structured import MatrixMeasurements

    Phi = np.ma.masked_array(np.ones((3, 4)), mask=np.eye(3, 4, dtype=bool))
    with pytest.raises(ValueError, match="A"):
        MatrixMeasurements(Phi, (2, 2))
    assert MatrixMeasurements(np.ma.masked_array(np.ones((3, 4))), (2, 2)).m == 3


def test_rank_one_sensing_keeps_private_factors():
    from overparam.problems.structured import RankOneSensing

    rng = np.random.default_rng(0)
    L, R = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    op = RankOneSensing(L, R)
    W = rng.standard_normal((3, 4))
    before = op.matvec(W.reshape(-1))
    L *= 10.0  # the caller's array edited after the operator was built
    np.testing.assert_array_equal(op.matvec(W.reshape(-1)), before)
    with pytest.raises(ValueError):
        op.L[0, 0] = 1.0
