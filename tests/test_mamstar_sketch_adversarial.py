"""Adversarial review of overparam.mamstar: sketches against the dense M A M^T / K, decoders
at extreme scales, sums of sketches, chunk forms and the cost of small chunks."""
import importlib
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

import overparam.mamstar as ms
from overparam.mamstar.matrix import bits_of

sketch_mod = importlib.import_module("overparam.mamstar.sketch")  # not the function


def _two_by_two(n: int = 40, scale: float = 1.0) -> np.ndarray:
    """N x N A holding [[1, 1/4], [1/4, -1/2]] (times ``scale``) on the indices 3 and 7."""
    A = np.zeros((n, n))
    A[3, 3], A[7, 7], A[3, 7], A[7, 3] = 1.0, -0.5, 0.25, 0.25
    return A * scale


def _dense_eigs(A: np.ndarray, r: int) -> np.ndarray:
    w = np.linalg.eigvalsh(A)
    return w[np.argsort(-np.abs(w))[:r]]


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1.0, 1e300])
def test_top_eigenpairs_are_scale_free_on_the_arpack_path(scale):
    # m = 221 > 200 and rank 2 < m / 4: ARPACK. On a sketch of size 1e-300 it returned the
    # eigenvalues 14.43e-300 and -13.43e-300 (true: 1.04e-300, -0.54e-300) and vectors of
    # norm 2.5 and 0.09, and sparse_top_eigenvectors reported them as CONVERGED
    A = _two_by_two()
    sk = ms.sketch(A, sparsity=2)
    assert sk.m > 200
    lam, U = ms.top_eigenpairs(sk.B * scale, 2)
    np.testing.assert_allclose(lam / scale, _dense_eigs(A, 2), rtol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-10)
    res = ms.sparse_top_eigenvectors(A * scale, 2, 2)
    np.testing.assert_allclose(res.info["eigenvalues"] / scale, _dense_eigs(A, 2),
                               rtol=1e-10)


def test_a_matrix_with_entries_near_the_float_max_is_sketched_and_decoded():
    # C = M A M^T is finite, but B = (C + C^T) / 2K overflowed: "the sketch holds NaN or
    # inf" for a finite A with an entry of 1.5e308 (and the refinement's H + H^T too)
    scale = 1.5e308
    A = _two_by_two(scale=scale)
    sk = ms.sketch(A, sparsity=2)
    assert np.all(np.isfinite(sk.B))
    D = sk.M.to_dense()
    np.testing.assert_allclose(sk.B / scale, D @ (A / scale) @ D.T / sk.M.K, rtol=1e-15,
                               atol=1e-300)
    with np.errstate(over="raise"):
        res = ms.sparse_top_eigenvectors(A, 2, 2)
    assert res.success and res.info["refined"]
    np.testing.assert_allclose(res.info["eigenvalues"] / scale, _dense_eigs(A / scale, 2),
                               rtol=1e-10)


def test_a_sum_of_upper_and_lower_triangle_sketches_is_a_valid_sketch():
    # a triangle sketch stores its off-diagonal entries once with weight 2 (C is not
    # symmetric): "upper" + "lower" was labelled "both", and check() refused the valid
    # sum as "the input is not symmetric"
    rng = np.random.default_rng(0)
    n = 60
    M = ms.PrimeMatrix(n, [5, 7, 11])
    S = np.triu(rng.standard_normal((n, n)) * (rng.random((n, n)) < 0.1))
    A = S + S.T - np.diag(np.diag(S))
    iu, ju = np.nonzero(S)
    h = iu.size // 2
    up = ms.sketch(iter([(iu[:h], ju[:h], S[iu[:h], ju[:h]])]), n, matrix=M,
                   symmetry="upper")
    lo = ms.sketch(iter([(ju[h:], iu[h:], S[iu[h:], ju[h:]])]), n, matrix=M,
                   symmetry="lower")
    D = M.to_dense()
    for total in (up + lo, ms.Sketch.empty(M).iadd_(up).iadd_(lo)):
        np.testing.assert_allclose(total.B, D @ A @ D.T / M.K, atol=1e-12)
        total.check()  # raised ValueError
        assert total.symmetry != "both"


def test_bittest_decode_of_one_vector_returns_1d_arrays_like_the_median_decoder():
    # a 1-d U came back as (k, 1) arrays (median_decode, oracle_decode: (k,)), and a
    # list U failed with "list indices must be integers or slices, not tuple"
    from overparam.problems.eigen import sparse_eigen_problem

    A = sparse_eigen_problem(2000, rank=2, sparsity=3, support="overlapping", seed=2)
    sk = ms.sketch(A, sparsity=3, bits=8)
    _, U = ms.top_eigenpairs(sk.B, 2)
    i2, v2, cand = ms.bittest_decode(U, sk, 6)
    for u in (U[:, 0], list(U[:, 0])):
        i1, v1, cand1 = ms.bittest_decode(u, sk, 6)
        assert i1.ndim == v1.ndim == 1
        np.testing.assert_array_equal(i1, i2[:, 0])
        np.testing.assert_array_equal(v1, v2[:, 0])
    i0, v0, c0 = ms.bittest_decode(np.zeros(sk.m), sk, 6)  # no candidate
    assert i0.shape == v0.shape == (0,) and c0.size == 0


def test_named_chunks_are_read_by_name_not_by_position(tmp_path):
    # a DataFrame with columns value, row, col was read by position as (i, j, values):
    # with symmetry="upper" the wrong A passed silently; an open .npz (a Mapping, not a
    # dict) was unpacked into its keys ("must be integers, got dtype <U5")
    pd = pytest.importorskip("pandas")
    n = 50
    M = ms.PrimeMatrix(n, [5, 7, 11])
    I, J, V = np.array([2, 3, 10, 4]), np.array([5, 10, 20, 4]), np.array([9.0, 1, 30, 7])
    A = np.zeros((n, n))
    A[I, J] = V
    A = A + np.triu(A, 1).T
    ref = ms.sketch(A, matrix=M).B
    frame = pd.DataFrame({"value": V, "row": I, "col": J})
    sk = ms.sketch(iter([frame]), n, matrix=M, symmetry="upper")
    np.testing.assert_allclose(sk.B, ref, atol=1e-12)
    np.savez(tmp_path / "c.npz", v=V, i=I, j=J)
    with np.load(tmp_path / "c.npz") as z:
        sk = ms.sketch(iter([z]), n, matrix=M, symmetry="upper")
    np.testing.assert_allclose(sk.B, ref, atol=1e-12)
    # unnamed columns keep the positional (c, 3) reading
    sk = ms.sketch(iter([pd.DataFrame(np.c_[I, J, V])]), n, matrix=M, symmetry="upper")
    np.testing.assert_allclose(sk.B, ref, atol=1e-12)


def test_a_single_entry_chunk_costs_k_squared_cells_not_m_squared(monkeypatch):
    # every chunk cost O(m^2) (one bincount of p_k p_l cells per block pair) and, with
    # the bit-test extension, a dense (L m, q) product: a stream of single entries took
    # 0.1 s per entry at m = 5541 (11 ms more with bits); O(K^2) per entry is documented
    M = ms.PrimeMatrix(10**5, [101, 103, 107, 109, 113])
    cells = []
    real = np.bincount

    def spy(x, weights=None, minlength=0):
        out = real(x, weights, minlength)
        cells.append(out.size)
        return out

    bld = ms.SketchBuilder(M, bits=40)
    monkeypatch.setattr(np, "bincount", spy)
    tracemalloc.start()
    try:
        bld.add_entries([12345], [678], [2.5])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    monkeypatch.undo()
    assert sum(cells) <= 10 * M.K ** 2  # was m^2 = 284089
    L = M.n_bits
    assert peak < L * M.m * bld.sketch.q * 8 / 10  # was the (L m, q) product: 1.4 MB
    # and the scatter is the same sketch as the formula: C = (M e_i)(M e_j)^T 2.5,
    # Y_t = bit_t(i) (M e_i)(M e_j)^T 2.5 Omega
    Mx, My = M.matvec_sparse([12345], [1.0]), M.matvec_sparse([678], [2.5])
    np.testing.assert_array_equal(bld.sketch.C, np.outer(Mx, My))
    bit = bits_of(np.array([12345]), L)[0]
    want = np.stack([bit[t] * np.outer(Mx, My @ bld.sketch.omega()) for t in range(L)])
    np.testing.assert_allclose(bld.sketch.Y, want, rtol=1e-13, atol=1e-13)


def test_a_sparse_matrix_is_read_in_blocks_sized_by_m_not_by_n(monkeypatch):
    # the default block of 2**23 // max(N, m) rows was sized for dense rows: a sparse A
    # of N = 10**5 went in 1205 blocks of 83 rows (N = 10**6: 14 times slower than
    # blocks sized by m; N >= 2**23: one row per block)
    n = 10**5
    M = ms.PrimeMatrix(n, [101, 103, 107])
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, n, 50), rng.integers(0, n, 50)
    A = sp.coo_array((np.ones(100), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    calls = []
    real = sketch_mod.SketchBuilder.add_rows

    def count(self, rows, block):
        calls.append(rows.size)
        return real(self, rows, block)

    monkeypatch.setattr(sketch_mod.SketchBuilder, "add_rows", count)
    sk = ms.sketch(A, matrix=M)
    assert len(calls) <= 10, len(calls)  # 4 blocks of 2**23 // m rows (m = 311); was 1205
    ref = ms.sketch(iter([(A.tocoo().row, A.tocoo().col, A.tocoo().data)]), n, matrix=M)
    np.testing.assert_allclose(sk.B, ref.B, atol=1e-12)
