"""Adversarial review of overparam.quantize and overparam.mamstar: independent oracles
(brute force over small alphabets, numpy.linalg.eigh, closed forms of simple graphs) and
the defects this review found (each test failed before its fix)."""
import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import overparam.mamstar as ms
import overparam.quantize as q
from overparam.problems.eigen import FactoredMatrix

# -- oracles (already right: kept as regression guards) -------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 0.3, 1e-300, 1e300])
def test_msq_round_is_the_nearest_level_by_brute_force(bits, scale):
    rng = np.random.default_rng(bits)
    levels = q.alphabet(bits, scale)
    x = rng.uniform(-1.5, 1.5, 400) * scale
    got = q.msq_round(x, bits, scale)
    best = levels[np.argmin(np.abs(x[:, None] - levels[None, :]), axis=1)]
    assert np.all(np.abs(np.abs(x - got) - np.abs(x - best)) <= 1e-12 * scale)
    assert np.all(np.isin(got, levels) | np.isclose(got[:, None], levels).any(axis=1))


@pytest.mark.parametrize("solver", ["pivot", "highs", "pool"])
@pytest.mark.parametrize("bits", [1, 2])
def test_vertex_keeps_Xz_and_at_most_rank_entries_off_the_alphabet(solver, bits):
    rng = np.random.default_rng(7)
    for m, N, n in [(1, 2, 1), (2, 3, 1), (3, 8, 2), (5, 30, 3)]:
        X, W = rng.standard_normal((m, N)), rng.uniform(-1, 1, (N, n))
        res = q.vertex(X, W, bits, 1.0, solver=solver)
        assert res.status.success
        Z = res.x
        off = np.min(np.abs(Z[:, :, None] - q.alphabet(bits)), axis=2) > 1e-9
        assert np.allclose(X @ Z, X @ W, atol=1e-9)
        assert np.all(off.sum(axis=0) <= m) and np.all(np.abs(Z) <= 1 + 1e-12)
        if solver != "pool":   # the cells of w
            lo, hi = q.cells(W, bits, 1.0)
            assert np.all(Z >= lo - 1e-12) and np.all(Z <= hi + 1e-12)


def test_gpfq_matches_a_naive_loop():
    rng = np.random.default_rng(3)
    X, W = rng.standard_normal((6, 15)), rng.standard_normal((15, 2))
    Xq = X + 0.1 * rng.standard_normal(X.shape)
    for bits in (1, 3):
        c = np.abs(W).max(axis=0)
        Q = np.zeros_like(W)
        for j in range(2):
            u = np.zeros(6)
            for t in range(15):
                v = Xq[:, t] @ (u + W[t, j] * X[:, t]) / (Xq[:, t] @ Xq[:, t])
                lv = q.alphabet(bits, c[j])
                Q[t, j] = lv[np.argmin(np.abs(lv - v))]
                u += W[t, j] * X[:, t] - Q[t, j] * Xq[:, t]
        assert np.allclose(q.gpfq(W, X, bits, Xq=Xq), Q, atol=1e-12)


def test_vertex_msq_on_a_tiny_layer_is_no_better_than_the_brute_force_optimum():
    rng = np.random.default_rng(0)
    X, w = rng.standard_normal((2, 6)), rng.uniform(-1, 1, 6)
    best = min(np.linalg.norm(X @ (w - np.array(z)))
               for z in itertools.product([-1.0, 1.0], repeat=6)) / np.linalg.norm(X @ w)
    for method in q.LAYER_METHODS:
        err = q.layer(w, X, 1, method, scale=1.0).info["rel_error"]
        assert err >= best - 1e-12


def test_laplacian_eigenvalues_of_simple_graphs_have_their_closed_forms():
    n = 7
    lam, _ = q.laplacian_eigenvectors(nx.cycle_graph(n), n)
    assert np.allclose(lam, np.sort(1 - np.cos(2 * np.pi * np.arange(n) / n)))
    lam, _ = q.laplacian_eigenvectors(nx.path_graph(9), 9)
    assert np.allclose(lam, 1 - np.cos(np.pi * np.arange(9) / 8))
    lam, _ = q.laplacian_eigenvectors(nx.path_graph(50), 4, dense_below=10)   # ARPACK
    assert np.allclose(lam, 1 - np.cos(np.pi * np.arange(4) / 49))
    g = nx.star_graph(5)
    _, V = q.laplacian_eigenvectors(g, 1)
    d = np.array([g.degree(i) for i in range(6)], dtype=float)
    assert np.allclose(np.abs(V[:, 0]), np.sqrt(d / d.sum()))
    assert q.incoherence(np.eye(4)[:, :2]) == 2.0 and q.incoherence(np.ones((4, 1)) / 2) == 1.0


def test_sigma_delta_state_stays_within_half_a_step():
    rng = np.random.default_rng(1)
    for bits in (1, 3):
        f = rng.uniform(-1, 1, 300)
        u = np.cumsum(f - q.sigma_delta(f, bits))
        assert np.abs(u).max() <= 1.0 / (2**bits - 1) + 1e-12


def _two_sparse_eigenvectors(N=40, seed=0):
    rng = np.random.default_rng(seed)
    V = np.zeros((N, 2))
    V[[1, 5, 9], 0] = rng.standard_normal(3)
    V[[20, 33, 38], 1] = rng.standard_normal(3)
    V /= np.linalg.norm(V, axis=0)
    return V, V @ np.diag([3.0, -1.0]) @ V.T


def test_mamstar_sketch_is_M_A_MT_over_K_for_every_source_and_recovery_matches_eigh():
    V, A = _two_sparse_eigenvectors()
    M = ms.make_matrix(40, sparsity=3)
    D = M.to_dense()
    ref = D @ A @ D.T / M.K
    i, j = np.nonzero(A)
    iu, ju = np.nonzero(np.triu(A))
    for src, kw in [(A, {}), (sp.csr_matrix(A), {}), ([(i, j, A[i, j])], dict(n=40)),
                    ([(iu, ju, A[iu, ju])], dict(n=40, symmetry="upper")),
                    (FactoredMatrix(np.array([3.0, -1.0]), sp.csc_array(V)), {})]:
        assert np.allclose(ms.sketch(src, matrix=M, **kw).B, ref)
    res = ms.sparse_top_eigenvectors(A, 2, 3, matrix=M)
    lam, W = np.linalg.eigh(A)
    o = np.argsort(-np.abs(lam))[:2]
    assert np.allclose(res.info["eigenvalues"], lam[o])
    for c in range(2):
        x = np.zeros(40)
        x[res.info["indices"][:, c]] = res.x[:, c]
        assert min(np.linalg.norm(x - W[:, o[c]]), np.linalg.norm(x + W[:, o[c]])) < 1e-10


def test_median_decoder_matches_a_brute_force_median():
    rng = np.random.default_rng(0)
    M = ms.PrimeMatrix(200, [7, 11, 13, 17])   # K even: the mean of the middle two
    U = rng.standard_normal((M.m, 2))
    idx, vals = ms.median_decode(U, M, 10)
    med = np.median(U[M.rows(np.arange(200))], axis=1) * np.sqrt(M.K)   # (200, 2)
    for c in range(2):
        top = np.argsort(-np.abs(med[:, c]), kind="stable")[:10]
        assert set(idx[:, c]) == set(top)
        assert np.allclose(vals[:, c], med[idx[:, c], c])


def test_top_eigenpairs_match_eigh_on_the_arpack_path():
    rng = np.random.default_rng(0)
    m = 400
    Q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    lam = np.concatenate([[5.0, 5.0, -5.0, 3.0], rng.uniform(-1, 1, m - 4)])
    B = (Q * lam) @ Q.T
    B = (B + B.T) / 2
    for which, want in (("LM", [5, 5, 5, 3]), ("LA", [5, 5, 3])):
        vals, vecs = ms.top_eigenpairs(B, len(want), which)
        assert np.allclose(np.abs(vals) if which == "LM" else vals, want)
        assert np.allclose(B @ vecs, vecs * vals, atol=1e-8)


# -- defects found by this review ---------------------------------------------------------


def test_msq_round_and_cells_refuse_masked_string_object_and_sparse_input():
    # the mask was dropped (the hidden 5.0 was quantized), "0.1" parsed as a number, None
    # turned into NaN, a sparse matrix failed with "setting an array element with a
    # sequence"
    hidden = np.ma.array([0.1, 5.0], mask=[False, True])
    for fn in (q.msq_round, q.cells):
        with pytest.raises(ValueError, match="masked"):
            fn(hidden, 1, 1.0)
        with pytest.raises(TypeError, match="x must be real numbers"):
            fn(["0.1"], 1, 1.0)
        with pytest.raises(TypeError, match="x must be real numbers"):
            fn(np.array([0.1, None], dtype=object), 1, 1.0)
        with pytest.raises(TypeError, match="sparse"):
            fn(sp.csr_matrix(np.eye(2)), 1, 1.0)
        with pytest.raises(TypeError, match="scale must be real numbers"):
            fn([0.1], 1, "1")
    # still fine: NaN (documented), bool, an unmasked masked array, a scalar
    assert np.isnan(q.msq_round([np.nan], 1, 1.0)[0])
    assert q.msq_round(np.ma.array([0.2, -0.9]), 1, 1.0).tolist() == [1.0, -1.0]
    assert q.msq_round(np.array([True, False]), 1, 1.0).tolist() == [1.0, -1.0]
    assert float(q.msq_round(0.3, 2, 1.0)) == pytest.approx(1 / 3)


def test_alphabet_names_a_non_scalar_scale():
    # numpy's "only 0-dimensional arrays can be converted" / float()'s message named no
    # argument
    for scale in (np.array([1.0, 2.0]), [1.0]):
        with pytest.raises(TypeError, match="scale must be one real number"):
            q.alphabet(1, scale)
    assert q.alphabet(1, np.float32(0.5)).tolist() == [-0.5, 0.5]


def test_msq_and_layer_refuse_a_boolean_scale():
    # scale=True was read as 1.0 (alphabet() refuses it)
    with pytest.raises(TypeError, match="scale"):
        q.msq(np.ones((2, 2)), 1, True)
    with pytest.raises(TypeError, match="scale"):
        q.layer(np.ones(3), np.ones((1, 3)), 1, "msq", scale=np.array([True]))


def test_relative_error_refuses_masked_and_sparse_input():
    # the masked w[0] = 1 was used as data (0.707 instead of a refusal)
    X = np.eye(2, 3)
    with pytest.raises(ValueError, match="W is a masked array"):
        q.relative_error(X, np.ma.array([1.0, 1, 1], mask=[1, 0, 0]), np.array([0.0, 1, 1]))
    with pytest.raises(TypeError, match="X is a scipy sparse matrix"):
        q.relative_error(sp.csr_matrix(X), np.ones(3), np.ones(3))
    assert float(q.relative_error(X, np.ones(3), np.array([0.0, 1, 1]))) == \
        pytest.approx(np.sqrt(0.5))


def test_grid_adjacency_refuses_bad_sizes_by_name():
    # networkx errors: "Graph has no nodes or edges", "'float' object is not iterable"
    with pytest.raises(ValueError, match="h must be >= 1"):
        q.grid_adjacency(0, 3)
    with pytest.raises(ValueError, match="w must be >= 1"):
        q.grid_adjacency(3, -1)
    with pytest.raises(TypeError, match="h must be an integer"):
        q.grid_adjacency(2.5, 3)
    assert q.grid_adjacency(np.int64(2), 3).shape == (6, 6)


def test_mamstar_refuses_a_masked_matrix():
    # the hidden 50 on the diagonal was sketched and came back as the top eigenvalue
    A = np.zeros((40, 40))
    A[3, 3] = 2.0
    Am = np.ma.array(A.copy(), mask=np.zeros(A.shape, bool))
    Am.data[5, 5], Am.mask[5, 5] = 50.0, True
    M = ms.make_matrix(40, sparsity=1)
    with pytest.raises(ValueError, match="A is a masked array"):
        ms.sketch(Am, matrix=M)
    with pytest.raises(ValueError, match="masked"):
        ms.sparse_top_eigenvectors(Am, 1, 1)
    with pytest.raises(ValueError, match="masked"):
        ms.top_eigenpairs(np.ma.array(np.eye(3), mask=np.eye(3, dtype=bool)), 1)
    # a masked array without masked entries is plain data
    res = ms.sparse_top_eigenvectors(np.ma.array(A), 1, 1)
    assert np.allclose(res.info["eigenvalues"], [2.0])


def test_sketch_refuses_bits_zero():
    # bits=0 (or False) built no bit-test extension silently (the CLI refuses --bits 0)
    _, A = _two_sparse_eigenvectors()
    M = ms.make_matrix(40, sparsity=3)
    for bits in (0, False):
        with pytest.raises((ValueError, TypeError), match="bits"):
            ms.sketch(A, matrix=M, bits=bits)
        with pytest.raises((ValueError, TypeError), match="bits"):
            ms.Sketch.empty(M, bits=bits)
    with pytest.raises(ValueError, match="bits must be >= 1"):
        ms.sparse_top_eigenvectors(A, 1, 3, matrix=M, decoder="bittest", bits=0)
    assert not ms.sketch(A, matrix=M).has_bits and ms.sketch(A, matrix=M, bits=2).q == 2


def test_prime_matrix_refuses_N_beyond_int64_indices():
    # N = 2**64 was accepted: index 2**63 + 5 (valid) was "out of range: -922...", and
    # decoding failed with "OverflowError: Python int too large to convert to C long"
    with pytest.raises(ValueError, match=r"n must be <= 2\*\*63"):
        ms.PrimeMatrix(2**64, [5, 7])
    with pytest.raises(ValueError, match=r"2\*\*63"):
        ms.sketch([([5], [5], [1.0])], 2**64, sparsity=1)
    M = ms.PrimeMatrix(2**63, [3, 5])
    assert M.check_indices(np.array([2**63 - 1], dtype=np.uint64))[0] == 2**63 - 1


def test_sketch_cli_refuses_an_empty_primes_list(tmp_path, capsys):
    # --primes "" (an unset shell variable) fell back to the prime rule silently
    from overparam.cli import main

    np.savez(tmp_path / "a.npz", row=[1, 2], col=[2, 1], value=[1.0, 1.0])
    base = ["sketch", str(tmp_path / "a.npz"), "--n", "10", "--no-progress",
            "--out", str(tmp_path / "o" / "B.npz")]
    with pytest.raises(SystemExit) as exc:
        main(base + ["--sparsity", "1", "--primes", ""])
    assert "--primes must be comma-separated integers" in str(exc.value.code)
    with pytest.raises(SystemExit) as exc:
        main(base + ["--n", "99999999999999999999999", "--sparsity", "1"])
    assert str(exc.value.code).startswith("overparam sketch: ") and "2**63" in str(exc.value.code)
    assert main(base + ["--primes", "5,7"]) == 0
    capsys.readouterr()
