"""MAM*: the implicit sketching matrix, the builders, the decoders, recovery, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import aslinearoperator

from overparam import mamstar as ms
from overparam._core import Result
from overparam.problems.eigen import FactoredMatrix, eigen_decay, sparse_eigen_problem


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


def _write_shards(A, folder, chunk, shuffle, prefix):
    """A's entries as .npz COO shards; returns (chunks, paths)."""
    chunks = list(A.entries(chunk=chunk, shuffle=shuffle))
    files = []
    for k, (i, j, v) in enumerate(chunks):
        f = folder / f"{prefix}{k:02d}.npz"
        np.savez(f, row=i, col=j, value=v)
        files.append(f)
    return chunks, files


# -- the sketching matrix -------------------------------------------------------------------

def test_prime_rule_reproduces_the_authors_settings():
    p = ms.choose_primes(100, 2, 20)
    assert p.tolist() == [23, 29, 31, 37, 41, 43, 47, 53, 59] and p.sum() == 363
    p = ms.choose_primes(10**4, 3, 40)
    assert p.size == 19 and p[0] == 41 and p[-1] == 127 and p.sum() == 1523
    p = ms.choose_primes(10**5, 2, 70)
    assert p.size == 13 and p[0] == 71 and p[-1] == 131 and p.sum() == 1283
    assert ms.choose_primes(10**5, 2, 70, extra=10).sum() == 2879
    M = ms.PrimeMatrix(10**4, ms.choose_primes(10**4, 3, 40))
    assert M.alpha == 3 and M.max_sparsity == 3
    # the default lower bound minimizes m over a few candidates
    auto = ms.choose_primes(10**6, 5)
    assert auto.sum() <= ms.choose_primes(10**6, 5, 5).sum()


def test_implicit_matrix_matches_explicit_and_is_coherent():
    M = ms.PrimeMatrix(300, np.array([5, 7, 11, 13]))
    D = M.to_dense()
    assert D.shape == (36, 300) and np.all(D.sum(axis=0) == 4)
    overlap = D.T @ D - 4 * np.eye(300)
    assert overlap.max() <= M.alpha - 1  # two columns share < alpha ones
    rng = np.random.default_rng(0)
    x = rng.standard_normal(300)
    np.testing.assert_allclose(M.matvec(x, chunk=64), D @ x, atol=1e-12)
    idx = rng.choice(300, 20, replace=False)
    xs = np.zeros(300)
    xs[idx] = rng.standard_normal(20)
    np.testing.assert_allclose(M.matvec_sparse(idx, xs[idx]), D @ xs, atol=1e-12)
    u = rng.standard_normal(36)
    np.testing.assert_allclose(M.rmatvec_at(u, idx), (D.T @ u)[idx], atol=1e-12)
    # bit-test extension: rows (prime row, bit row) of M (.) [B_N; 1 - B_N]
    E = M.bit_extension_dense()
    L = M.n_bits
    b = 2 * (1 + L)
    Er = E.reshape(M.m, b, 300)
    np.testing.assert_array_equal(Er[:, 0], D)  # the all-ones row of B_N
    bits = M.bit_matvec_sparse(idx, xs[idx])  # (L, m)
    for t in range(L):
        np.testing.assert_allclose(bits[t], Er[:, 1 + t] @ xs, atol=1e-12)
        np.testing.assert_allclose(Er[:, 1 + L + 1 + t] @ xs, D @ xs - bits[t], atol=1e-12)
    with pytest.raises(MemoryError):
        ms.PrimeMatrix(10**6, np.array([101, 103])).to_dense(max_entries=1000)


def test_prime_matrix_rejects_bad_primes_and_indices():
    with pytest.raises(ValueError, match="not prime"):
        ms.PrimeMatrix(10, np.array([4, 7]))
    with pytest.raises(ValueError, match="distinct"):
        ms.PrimeMatrix(10, np.array([7, 7]))
    M = ms.PrimeMatrix(10, np.array([3, 5]))
    with pytest.raises(IndexError, match="out of range"):
        M.matvec_sparse([3, 10], [1.0, 2.0])
    with pytest.raises(IndexError, match="out of range"):
        M.rows(M.check_indices([-1]))
    with pytest.raises(TypeError, match="integers"):
        M.check_indices([0.5])


# -- builders agree ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    A = sparse_eigen_problem(500, 3, 6, support="overlapping", tail_times=1, seed=3)
    M = ms.PrimeMatrix(500, np.array([11, 13, 17, 19]))
    return A, M


def test_sketch_equals_explicit_formula(small):
    A, M = small
    D = M.to_dense()
    B = ms.sketch_factored(A.eigenvalues, A.vectors, M).B
    np.testing.assert_allclose(B, D @ A.to_dense() @ D.T / M.K, atol=1e-13)


def test_all_builders_give_the_same_sketch(small, tmp_path):
    A, M = small
    q = 5
    ref = ms.sketch_factored(A.eigenvalues, A.vectors, M, bits=q, bit_seed=1)
    dense = A.to_dense()
    U, AU = A.block()
    others = {
        "stream": ms.sketch_stream(A.entries(chunk=700, shuffle=1), M, bits=q, bit_seed=1),
        "upper": ms.sketch_stream(A.entries(chunk=500, symmetry="upper", shuffle=2), M,
                                  symmetry="upper", bits=q, bit_seed=1),
        "lower": ms.sketch_stream(A.entries(symmetry="lower"), M, symmetry="lower", bits=q,
                                  bit_seed=1),
        "dense": ms.sketch_matrix(dense, M, block_rows=37, bits=q, bit_seed=1),
        "sparse-entries": ms.sketch_matrix(sp.csr_array(dense), M, block_rows=50, bits=q,
                                           bit_seed=1),
        "sparse-fold": ms.sketch_matrix(sp.csr_array(dense), M, block_rows=500, bits=q,
                                        bit_seed=1),
        "operator": ms.sketch_operator(aslinearoperator(dense), M, bits=q, bit_seed=1),
    }
    # shards on disk: npz and parquet
    chunks = list(A.entries(chunk=30, shuffle=3))
    files = []
    for k, (i, j, v) in enumerate(chunks):
        if k % 2:
            import pyarrow as pa
            import pyarrow.parquet as pq

            f = tmp_path / f"s{k}.parquet"
            pq.write_table(pa.table({"row": i, "col": j, "value": v}), f)
        else:
            f = tmp_path / f"s{k}.npz"
            np.savez(f, row=i, col=j, value=v)
        files.append(f)
    others["shards"] = ms.sketch_shards(files, M, bits=q, bit_seed=1, progress=False)
    for name, sk in others.items():
        assert _rel(sk.B, ref.B) < 1e-10, name
        assert _rel(sk.bits, ref.bits) < 1e-10, name
    assert others["shards"].info["shards"] == len(files)


def test_shard_sketches_add_up_to_the_one_pass_sketch(small):
    A, M = small
    chunks = list(A.entries(chunk=40, shuffle=4))
    one = ms.sketch_stream(chunks, M)
    parts = [ms.SketchBuilder(M).add_entries(*c).sketch for c in chunks]
    total = sum(parts)
    assert isinstance(total, ms.Sketch)
    assert _rel(total.B, one.B) < 1e-12
    # a partial shard need not be symmetric; only the total is checked
    assert parts[0].asymmetry() > 1e-3
    total.check()


def test_sketch_save_load_roundtrip(small, tmp_path):
    A, M = small
    sk = ms.sketch(A, matrix=M, bits=4)
    back = ms.Sketch.load(sk.save(tmp_path / "b.npz"))
    assert back.M.same_as(M) and back.q == 4
    np.testing.assert_array_equal(back.B, sk.B)
    np.testing.assert_array_equal(back.bits, sk.bits)


def test_interrupted_shard_build_resumes(small, tmp_path):
    A, M = small
    chunks, files = _write_shards(A, tmp_path, 20, 5, "part")
    good = dict(np.load(files[3]))
    bad = dict(good, value=good["value"].copy())
    bad["value"][7] = np.nan  # a corrupt shard: the build stops there
    np.savez(files[3], **bad)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(ValueError, match="part03.npz.*non-finite"):
        ms.sketch_shards(files, M, checkpoint=ckpt, progress=False)
    np.savez(files[3], **good)  # repaired
    sk = ms.sketch_shards(files, M, checkpoint=ckpt, progress=False)
    assert sk.info["resumed"] == 3  # shards 0..2 were not read again
    one = ms.sketch_stream(chunks, M)
    assert _rel(sk.B, one.B) < 1e-12 and sk.n_entries == one.n_entries
    # everything done: a third call reads nothing and returns the same sketch
    again = ms.sketch_shards(files, M, checkpoint=ckpt, progress=False)
    assert again.info["resumed"] == len(files) and _rel(again.B, one.B) < 1e-12
    # a checkpoint made with other primes is refused
    with pytest.raises(ValueError, match="other settings"):
        ms.sketch_shards(files, ms.PrimeMatrix(500, np.array([11, 13])), checkpoint=ckpt,
                         progress=False)


def test_dask_shard_sums_equal_the_one_pass_sketch(small, tmp_path):
    pytest.importorskip("dask.distributed")
    A, M = small
    chunks, _ = _write_shards(A, tmp_path, 50, 6, "d")
    sk = ms.sketch(tmp_path, 500, matrix=M, executor="dask", workers=2,
                   checkpoint=tmp_path / "ck", progress=False)
    assert sk.info["executor"] == "dask"
    assert _rel(sk.B, ms.sketch_stream(chunks, M).B) < 1e-12


# -- recovery ---------------------------------------------------------------------------------

def test_exact_recovery_when_the_majority_rule_holds():
    # exactly sparse, exactly low rank, distinct eigenvalues; K = 2 alpha s + 1
    s, r, n = 4, 3, 30_000
    A = sparse_eigen_problem(n, r, s, support="overlapping", decay="gen", seed=11)
    M = ms.make_matrix(n, sparsity=s)
    assert M.K >= 2 * M.alpha * s + 1
    for decoder in ("median", "bittest"):
        res = ms.sparse_top_eigenvectors(A, rank=r, sparsity=s, matrix=M, decoder=decoder)
        err = res.info["errors"]
        assert res.success and res.info["refined"]
        assert err["l2_after"].max() < 1e-10, decoder
        assert err["linf_after"].max() < 1e-10
        assert err["eigenvalue"].max() < 1e-10
        assert np.all(err["overlap"] == 1.0)
        np.testing.assert_allclose(res.info["eigenvalues"], eigen_decay(r, "gen"), rtol=1e-10)
    assert res.info["bittest_candidates"] <= 4 * s  # sublinear: a handful of candidates
    # the vectors as a sparse matrix agree with the truth up to sign
    V = res.info["vectors"].toarray() if n < 0 else None
    assert V is None and res.info["vectors"].shape == (n, r)
    # rank one needs no refinement: the median decoder alone is exact
    A1 = FactoredMatrix(np.array([2.0]), A.vectors[:, [0]], s)
    res1 = ms.sparse_top_eigenvectors(A1, rank=1, sparsity=s, matrix=M,
                                      refine_subspace=False)
    assert res1.info["errors"]["l2_after"][0] < 1e-12


def test_negative_control_perturbed_result_fails_the_same_check():
    s, r, n = 4, 3, 20_000
    A = sparse_eigen_problem(n, r, s, support="overlapping", seed=12)
    res = ms.sparse_top_eigenvectors(A, rank=r, sparsity=s)
    assert res.info["errors"]["l2_after"].max() < 1e-10
    x = res.x.copy()
    x[0, 0] *= 1.01
    from overparam.problems.eigen import eigenvector_errors

    bad = eigenvector_errors(A, res.info["indices"], x, res.info["eigenvalues"], s)
    assert bad["l2_after"][0] > 1e-4


def test_disjoint_supports_need_the_rule_for_the_union():
    # disjoint supports: the eigenvectors of B mix the v_j, whose union has r s entries;
    # with the rule applied to r s the refined recovery is exact
    s, r, n = 2, 2, 20_000
    A = sparse_eigen_problem(n, r, s, support="disjoint", seed=13)
    M = ms.make_matrix(n, sparsity=r * s)
    res = ms.sparse_top_eigenvectors(A, rank=r, sparsity=s, matrix=M, keep=r * s)
    assert res.info["errors"]["l2_after"].max() < 1e-10


def test_paper_setting_errors_are_small_and_oracle_is_labelled():
    A = sparse_eigen_problem(200, 6, 9, support="disjoint", seed=0)
    M = ms.make_matrix(200, rule_n=100, rule_s=2, smallest_prime=20)
    assert M.m == 363
    sk = ms.sketch(A, matrix=M)
    med = ms.recover(sk, 6, 9, refine_subspace=False, truth=A)
    orc = ms.recover(sk, 6, 9, decoder="oracle", refine_subspace=False, truth=A)
    assert "oracle" in orc.info["note"] and orc.info["decoder"] == "oracle"
    assert med.info["errors"]["l2_after"][0] < 0.1
    assert orc.info["errors"]["overlap"].mean() > 0.8
    # the sketch eigenvector approximates M v_1 / sqrt K
    assert med.info["errors"]["l2_before"][0] < 0.1
    assert not med.info["majority_rule_met"]


def test_median_decoder_chunking_and_pruning_do_not_change_the_answer():
    A = sparse_eigen_problem(30_000, 4, 10, support="overlapping", tail_times=2, seed=4)
    M = ms.make_matrix(A.n, rule_n=10**4, rule_s=2, smallest_prime=40)
    _, U = ms.top_eigenpairs(ms.sketch(A, matrix=M).B, 4)
    i1, v1 = ms.median_decode(U, M, 20, chunk=1_000_000)
    i2, v2 = ms.median_decode(U, M, 20, chunk=777)
    np.testing.assert_allclose(v1, v2)  # same values in the same order
    last = np.abs(v1[-1])  # indices agree except for ties at the cut (arbitrary)
    inner = np.abs(v1) > last
    np.testing.assert_array_equal(i1[inner], i2[inner])
    # against a brute-force median over all N
    Z = np.median(U[M.rows(np.arange(A.n))], axis=1) * np.sqrt(M.K)  # (N, r)
    for j in range(4):
        top = np.argsort(-np.abs(Z[:, j]), kind="stable")[:20]
        np.testing.assert_allclose(np.sort(np.abs(v1[:, j])), np.sort(np.abs(Z[top, j])))


def test_full_scan_equals_the_candidate_path_with_the_agree_check():
    # the full scan reads buckets from periodic tables; the candidate path gathers rows
    A = sparse_eigen_problem(20_011, 3, 8, support="overlapping", tail_times=2, seed=6)
    M = ms.make_matrix(A.n, rule_n=10**4, rule_s=2, smallest_prime=40)
    _, U = ms.top_eigenpairs(ms.sketch(A, matrix=M).B, 3)
    for agree in (1, 3):
        i1, v1 = ms.median_decode(U, M, 16, chunk=1000, agree=agree)
        i2, v2 = ms.median_decode(U, M, 16, candidates=np.arange(A.n), chunk=1000,
                                  agree=agree)
        np.testing.assert_array_equal(v1, v2)
        inner = np.abs(v1) > np.abs(v1[-1])
        np.testing.assert_array_equal(i1[inner], i2[inner])
    # brute force of the agree rule: the median counts only where >= 3 readings are near
    R = U[M.rows(np.arange(A.n))]  # (N, K, r)
    Z = np.median(R, axis=1)
    tol = 1e-3 * np.abs(U).max(axis=0)
    Z = np.where((np.abs(R - Z[:, None]) <= tol).sum(axis=1) >= 3, Z, 0.0) * np.sqrt(M.K)
    for j in range(3):
        top = np.argsort(-np.abs(Z[:, j]), kind="stable")[:16]
        np.testing.assert_allclose(np.sort(np.abs(v1[:, j])), np.sort(np.abs(Z[top, j])))


def test_stream_input_end_to_end_with_n():
    A = sparse_eigen_problem(5_000, 2, 5, support="overlapping", seed=5)
    res = ms.sparse_top_eigenvectors(A.entries(symmetry="upper", shuffle=0), rank=2,
                                     sparsity=5, n=5_000, symmetry="upper", truth=A)
    assert isinstance(res, Result) and res.info["errors"]["l2_after"].max() < 1e-10
    assert res.info["sketch"]["source"] == "stream"


# -- bad input --------------------------------------------------------------------------------

def test_bad_input_gives_clear_errors(small):
    A, M = small
    with pytest.raises(IndexError, match=r"out of range: 500 is not in \[0, 500\)"):
        ms.sketch_stream([([0, 500], [1, 2], [1.0, 1.0])], M)
    with pytest.raises(IndexError, match="out of range"):
        ms.sketch_stream([([0, -1], [1, 2], [1.0, 1.0])], M)
    with pytest.raises(ValueError, match="non-finite"):
        ms.sketch_stream([([0, 1], [1, 2], [1.0, np.nan])], M)
    with pytest.raises(ValueError, match="not symmetric"):
        ms.sketch_stream([([0, 1], [1, 2], [1.0, 2.0])], M)  # (1,0) and (2,1) missing
    with pytest.raises(ValueError, match="below the diagonal"):
        ms.sketch_stream([([3], [1], [1.0])], M, symmetry="upper")
    with pytest.raises(ValueError, match="above the diagonal"):
        ms.sketch_stream([([1], [3], [1.0])], M, symmetry="lower")
    with pytest.raises(ValueError, match="equal"):
        ms.sketch_stream([([0, 1], [1], [1.0, 1.0])], M)
    with pytest.raises(ValueError, match="not symmetric"):
        ms.sketch_matrix(np.triu(A.to_dense()) + 1e-3 * np.eye(500, k=1), M)
    with pytest.raises(ValueError, match="non-finite"):
        ms.sketch_matrix(np.full((500, 500), np.nan), M)
    with pytest.raises(ValueError, match="pass n"):
        ms.sketch([([0], [0], [1.0])], sparsity=2)
    sk = ms.sketch(A, matrix=M)
    with pytest.raises(ValueError, match="rank r = 60 is too large.*m = 60"):
        ms.recover(sk, 60, 3)
    with pytest.raises(ValueError, match="sparsity s = 31 is too large.*m = 60"):
        ms.recover(sk, 3, 31)
    with pytest.raises(ValueError, match="bit-test"):
        ms.recover(sk, 3, 3, decoder="bittest")
    with pytest.raises(ValueError, match="oracle decoder needs support"):
        ms.recover(sk, 3, 3, decoder="oracle")
    with pytest.raises(ValueError, match="decoder must be"):
        ms.recover(sk, 3, 3, decoder="nope")
    with pytest.raises(MemoryError, match="rule_n"):
        ms.sketch(A, sparsity=400)  # the majority rule at s = 400: a huge m
    with pytest.raises(ValueError, match="symmetry"):
        ms.sketch(A.entries(), 500, matrix=M, symmetry="full")
    with pytest.raises(ValueError, match="different primes"):
        _ = sk + ms.sketch(A, primes=[7, 11])
    with pytest.raises(ValueError, match="overlapping supports need rank <= sparsity"):
        sparse_eigen_problem(100, 5, 3, support="overlapping", seed=0)
    with pytest.raises(ValueError, match="decay"):
        sparse_eigen_problem(100, 2, 3, decay="cubic", seed=0)


# -- problems and baselines -------------------------------------------------------------------

def test_problem_families():
    np.testing.assert_allclose(eigen_decay(4, "expo"), [1, .5, .25, .125])
    np.testing.assert_allclose(eigen_decay(4, "lin"), [1, .75, .5, .25])
    np.testing.assert_allclose(eigen_decay(3, "gen"), [1, 1 / 3, 1 / 5])
    for support in ("disjoint", "overlapping"):
        A = sparse_eigen_problem(2_000, 4, 10, support=support, tail_times=2, seed=1)
        V = A.vectors.toarray()
        np.testing.assert_allclose(V.T @ V, np.eye(4), atol=1e-12)
        assert A.vectors.nnz == 4 * 10 * 3
        D = A.to_dense()
        np.testing.assert_allclose(D @ V, V * A.eigenvalues, atol=1e-12)  # eigenvectors
        x = np.random.default_rng(0).standard_normal(2_000)
        np.testing.assert_allclose(A.matvec(x), D @ x, atol=1e-12)
    B = sparse_eigen_problem(2_000, 4, 10, support="disjoint", seed=2)
    assert set(B.column(1)[0].tolist()) == set(range(10, 20))
    big = sparse_eigen_problem(10**8, 3, 5, support="overlapping", tail_times=1, seed=0)
    assert big.n == 10**8 and big.vectors.nnz == 30


def test_baselines_on_small_problems():
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    A = sparse_eigen_problem(3_000, 4, 8, support="disjoint", seed=7)
    for fn in (eigsh_truncated, truncated_power):
        res = fn(A, 4, 8)
        assert res.success, fn.__name__
        assert res.info["errors"]["l2_after"].max() < 1e-8, fn.__name__
        assert res.info["errors"]["eigenvalue"].max() < 1e-8, fn.__name__
    res = eigsh_truncated(A.to_dense(), 2, 8, truth=A)
    assert res.info["errors"]["l2_after"].max() < 1e-8
    with pytest.raises(MemoryError):
        eigsh_truncated(A, 2, 8, max_memory=1e3)
    with pytest.raises(ValueError, match="init"):
        truncated_power(aslinearoperator(A.to_dense()), 2, 8)


# -- registry ---------------------------------------------------------------------------------

def test_registry_entries_run_on_their_generator():
    from overparam.experiments.generators import get_generator
    from overparam.experiments.measures import compute_metrics
    from overparam.experiments.methods import get_method

    problem = get_generator("sparse_eigen").make(dict(n=2_000, rank=3, sparsity=4), seed=1)
    names = ["l2_after", "l2_after_1", "overlap", "eigenvalue", "l2_before", "sketch_m"]
    for name, params in [("mamstar", {}), ("mamstar", {"decoder": "bittest"}),
                         ("mamstar", {"builder": "stream", "refine": False}),
                         ("mamstar", {"builder": "matrix", "decoder": "oracle"}),
                         ("eigsh_truncated", {}), ("truncated_power", {})]:
        entry = get_method(name)
        assert entry.problems == "eigen"
        res = entry.configure(**params)(problem, 0)
        assert isinstance(res, Result)
        vals = compute_metrics(names, problem, res.x, None, 1e-3, result=res)
        assert vals["l2_after"] < 1e-6 or params.get("refine") is False, (name, params)
        assert vals["overlap"] == 1.0
        if name == "mamstar":
            assert vals["sketch_m"] > 0 and np.isfinite(vals["l2_before"])
        else:
            assert np.isnan(vals["l2_before"])
    with pytest.raises(TypeError, match="sparse_eigen"):
        get_method("mamstar").configure()(object(), 0)


# -- regressions ------------------------------------------------------------------------------

def test_zero_sketch_is_refused_on_both_eigen_paths():
    # ARPACK (m > 200, rank < m/4) used to fail with "starting vector is zero" while
    # LAPACK (small m) returned zero eigenvalues and empty vectors as CONVERGED
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    for primes in ([53, 59, 61, 67], [23, 29, 31]):  # m = 240 (ARPACK), 83 (LAPACK)
        M = ms.PrimeMatrix(3000, np.array(primes))
        for src in (sp.csr_array((3000, 3000)), np.zeros((3000, 3000))):
            with pytest.raises(ValueError, match="sketch B is zero"):
                ms.sparse_top_eigenvectors(src, 2, 3, matrix=M)
    for fn in (eigsh_truncated, truncated_power):
        with pytest.raises(ValueError, match="A is zero"):
            fn(np.zeros((40, 40)), 2, 3)
        with pytest.raises(ValueError, match="not symmetric"):
            fn(np.triu(np.ones((40, 40))), 2, 3)


def test_rank_above_n_is_refused():
    X = np.random.default_rng(0).standard_normal((10, 10))
    M = ms.PrimeMatrix(10, np.array([11, 13, 17]))  # m = 41 > N
    res = ms.sparse_top_eigenvectors(X + X.T, 10, 5, matrix=M)  # r = N is fine
    assert res.info["vectors"].shape == (10, 10)
    with pytest.raises(ValueError, match="rank r = 12 exceeds N = 10"):
        ms.sparse_top_eigenvectors(X + X.T, 12, 5, matrix=M)
    with pytest.raises(ValueError, match="exceeds N"):
        ms.recover(ms.sketch(X + X.T, matrix=M), 11, 5)


def test_sparsity_above_n_is_refused():
    """s > N used to pass: the prime rule sized a 4811 x 4811 sketch of a 12 x 12 matrix
    (status converged), and at N = 300 a MemoryError blamed the primes."""
    A = np.zeros((12, 12))
    A[:3, :3] = 1.0
    with pytest.raises(ValueError, match="sparsity s = 20 exceeds N = 12"):
        ms.sparse_top_eigenvectors(A, 1, 20)
    with pytest.raises(ValueError, match="sparsity s = 13 exceeds N = 12"):
        ms.sketch(A, sparsity=13)
    M = ms.PrimeMatrix(12, np.array([11, 13, 17, 19]))  # m = 60
    assert ms.sparse_top_eigenvectors(A, 1, 12, matrix=M).success  # s = N is fine
    with pytest.raises(ValueError, match="sparsity s = 13 exceeds N = 12"):
        ms.recover(ms.sketch(A, matrix=M), 1, 13)


def test_errors_follow_which_and_match_tied_eigenpairs():
    from overparam.baselines.eigen import eigsh_truncated

    s = 4
    V = sparse_eigen_problem(20_000, 3, s, support="overlapping", seed=11).vectors
    M = ms.make_matrix(20_000, sparsity=s)
    # "LA": the recovered [1, 0.5] were compared with the truth sorted by |lambda|
    A = FactoredMatrix(np.array([1.0, -2.0, 0.5]), V, s)
    for which in ("LA", "LM"):
        res = ms.sparse_top_eigenvectors(A, 2, s, matrix=M, which=which)
        err = res.info["errors"]
        assert err["l2_after"].max() < 1e-10 and err["eigenvalue"].max() < 1e-10, which
        assert err["l2_before"].max() < 0.5, which
    np.testing.assert_allclose(res.info["eigenvalues"], [-2.0, 1.0])
    small = sparse_eigen_problem(2000, 3, s, support="overlapping", seed=11)
    A2 = FactoredMatrix(np.array([1.0, -2.0, 0.5]), small.vectors, s)
    rb = eigsh_truncated(A2, 2, s, which="LA")
    np.testing.assert_allclose(rb.info["eigenvalues"], [1.0, 0.5])
    assert rb.info["errors"]["l2_after"].max() < 1e-8
    # a tie of |lambda| (1 and -1, "LM"): either order is right, matched by overlap
    A3 = FactoredMatrix(np.array([1.0, -1.0, 0.5]), V, s)
    res = ms.sparse_top_eigenvectors(A3, 3, s, matrix=M)
    err = res.info["errors"]
    assert err["l2_after"].max() < 1e-10 and err["eigenvalue"].max() < 1e-10
    assert err["l2_before"].max() < 0.5
    # the matching itself: only tied positions are permuted
    from overparam.problems.eigen import match_eigenpairs

    ov = np.array([[0.1, 0.9, 0.0], [0.8, 0.2, 0.0], [0.0, 0.0, 1.0]])
    assert match_eigenpairs([1.0, -1.0, 0.5], ov).tolist() == [1, 0, 2]
    assert match_eigenpairs([1.0, -1.0, 0.5], ov, "LA").tolist() == [0, 2, 1]
    assert match_eigenpairs([1.0, -0.9, 0.5], ov).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="which"):
        eigsh_truncated(A2, 2, s, which="SA")


def test_truncated_power_deflation_is_the_documented_symmetric_one():
    # A_{j+1} = (I - x x^T) A_j (I - x x^T); the code applied P_j..P_1 on both sides
    from overparam.baselines.eigen import truncated_power

    def documented(A, r, s, max_iter=500, tol=1e-10):
        n = A.shape[0]
        Aj, lams, found = A.copy(), [], []
        for _ in range(r):
            d = np.diag(A).copy()  # the library's start: diag(A) - sum lambda x^2
            for f, lf in zip(found, lams):
                d -= lf * f**2
            x = np.zeros(n)
            x[np.argpartition(-np.abs(d), s - 1)[:s]] = 1 / np.sqrt(s)
            for _ in range(max_iter):
                y = Aj @ x
                keep = np.argpartition(-np.abs(y), s - 1)[:s]
                xn = np.zeros(n)
                xn[keep] = y[keep]
                xn /= np.linalg.norm(xn)
                xn = -xn if xn @ x < 0 else xn
                done = np.linalg.norm(xn - x) < tol
                x = xn
                if done:
                    break
            lams.append(x @ Aj @ x)
            found.append(x)
            P = np.eye(n) - np.outer(x, x)
            Aj = P @ Aj @ P
        return np.array(sorted(lams, key=lambda v: -abs(v)))

    for seed in (13, 0, 1):  # seed 13: eigenvalues 3 and 4 differed by 1.2
        X = np.random.default_rng(seed).standard_normal((10, 10))
        A = X @ X.T
        np.testing.assert_allclose(truncated_power(A, 4, 4).info["eigenvalues"],
                                   documented(A, 4, 4), rtol=1e-8)


def test_default_agree_is_capped_at_k_and_a_larger_agree_refused():
    # primes with product 2431 < N: alpha = K + 1 = 4, and agree = 4 zeroed every vector
    A = sparse_eigen_problem(5000, 1, 3, support="overlapping", seed=0)
    sk = ms.sketch(A, matrix=ms.PrimeMatrix(A.n, np.array([11, 13, 17])))
    with pytest.warns(RuntimeWarning, match="product of the K = 3 primes, 2431, is < N"):
        res = ms.recover(sk, 1, 3, refine_subspace=False)
    assert res.info["agree"] == 3 and res.info["vectors"].nnz > 0
    with pytest.raises(ValueError, match="agree = 4 exceeds the K = 3"):
        ms.recover(sk, 1, 3, agree=4)


def test_sketch_command_defaults_bits_validates_first_and_skips_hidden_files(tmp_path):
    from overparam.cli import main

    A = sparse_eigen_problem(3000, 2, 4, support="overlapping", seed=1)
    shards = tmp_path / "shards"
    shards.mkdir()
    for k, (i, j, v) in enumerate(A.entries(chunk=20, symmetry="upper", shuffle=0)):
        np.savez(shards / f"{k:03d}.npz", row=i, col=j, value=v)
    np.savez(shards / "._000.npz", junk=np.zeros(3))  # e.g. AppleDouble: not a shard
    out = tmp_path / "B.npz"
    base = ["sketch", str(shards), "--n", "3000", "--sparsity", "4", "--symmetry", "upper",
            "--out", str(out), "--no-progress"]
    with pytest.raises(SystemExit, match="rank r = 2000 is too large"):
        main(base + ["--rank", "2000"])
    assert not out.exists()  # refused before the pass
    assert main(base + ["--rank", "2", "--decoder", "bittest"]) == 0  # bits = rank + 10
    assert ms.Sketch.load(out).q == 12
    vec = np.load(tmp_path / "B.vectors.npz")
    np.testing.assert_allclose(vec["eigenvalues"], A.eigenvalues, rtol=1e-10)


def test_checkpoint_refuses_other_shards_and_may_share_their_folder(small, tmp_path):
    A, M = small
    i, j, v = next(A.entries(chunk=10**6))
    a, b, ck = tmp_path / "a", tmp_path / "b", tmp_path / "ck"
    a.mkdir()
    b.mkdir()
    np.savez(a / "s.npz", row=i, col=j, value=v)
    np.savez(b / "s.npz", row=i, col=j, value=2 * v)
    ms.sketch_shards(a, M, checkpoint=ck, progress=False)
    # the saved sum holds a/s.npz: asking for b/s.npz silently gave the sketch of 3 A
    with pytest.raises(ValueError, match=r"other shards.*a/s\.npz.*asked for.*b/s\.npz"):
        ms.sketch_shards(b, M, checkpoint=ck, progress=False)
    more = ms.sketch_shards([a / "s.npz", b / "s.npz"], M, checkpoint=ck, progress=False)
    assert more.info["resumed"] == 1  # adding shards is fine
    assert _rel(more.B, 3 * ms.sketch(A, matrix=M).B) < 1e-12
    # the checkpoint in the shards' own folder: its state file is not a shard
    one = ms.sketch_shards(a, M, checkpoint=a, progress=False)
    again = ms.sketch_shards(a, M, checkpoint=a, progress=False)
    assert again.info["resumed"] == 1 and _rel(again.B, one.B) < 1e-12
    with pytest.raises(ValueError, match="checkpoint state"):
        ms.sketch_shards([a / "mamstar-state.npz"], M, progress=False)


def test_single_entry_chunks_and_nested_lists():
    M = ms.PrimeMatrix(10, np.array([2, 3, 5]))
    scalars = ms.sketch_stream([(0, 1, 2.0), (1, 0, 2.0), (3, 3, 1.0)], M)
    arrays = ms.sketch_stream([([0], [1], [2.0]), ([1], [0], [2.0]), ([3], [3], [1.0])], M)
    assert scalars.n_entries == 3 and np.array_equal(scalars.B, arrays.B)
    # a nested list is a matrix's rows or single entries: refused, not guessed
    rows = [[2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 2.0]]
    M3 = ms.PrimeMatrix(3, np.array([2, 3, 5]))
    with pytest.raises(TypeError, match="ambiguous.*np.asarray"):
        ms.sketch(rows, 3, matrix=M3)
    with pytest.raises(TypeError, match="ambiguous"):
        ms.sparse_top_eigenvectors(rows, 1, 1, n=3, matrix=M3)
    assert ms.sketch(np.array(rows), matrix=M3).info["source"] == "matrix"


def test_arguments_are_checked_before_the_pass_over_a_stream():
    A = sparse_eigen_problem(5000, 2, 5, support="overlapping", seed=5)
    read = []

    def stream():
        for c in A.entries(chunk=10):
            read.append(c[0].size)
            yield c

    bad = [(dict(decoder="bittset"), "decoder must be"),
           (dict(decoder="oracle"), "oracle decoder needs"),
           (dict(which="SA"), "which must be"), (dict(agree=10**3), "agree"),
           (dict(rank=6000), "exceeds N"), (dict(n_decode=0), "n_decode")]
    for kw, msg in bad:
        kw = dict(dict(rank=2), **kw)
        with pytest.raises(ValueError, match=msg):
            ms.sparse_top_eigenvectors(stream(), kw.pop("rank"), 5, n=5000, **kw)
        assert not read, kw


def test_factored_matvec_checks_the_shape():
    A = sparse_eigen_problem(100, 2, 3, seed=0)
    with pytest.raises(ValueError, match=r"x has shape \(200,\), expected \(100,\)"):
        A.matvec(np.arange(200.0))
    assert A.matvec(np.ones((100, 3))).shape == (100, 3)


def test_symmetry_of_a_matrix_source_is_explained():
    A = sparse_eigen_problem(500, 2, 6, support="overlapping", seed=1).to_dense()
    M = ms.PrimeMatrix(500, np.array([11, 13, 17, 19]))
    for src in (np.triu(A), sp.csr_array(np.triu(A))):
        with pytest.raises(ValueError, match="applies to streams and shards"):
            ms.sketch(src, matrix=M, symmetry="upper")
        with pytest.raises(ValueError, match=r"matrix is not symmetric.*np.triu") as exc:
            ms.sketch(src, matrix=M)
        assert "declare symmetry" not in str(exc.value)
    full = np.triu(A) + np.triu(A, 1).T
    assert _rel(ms.sketch(full, matrix=M).B, ms.sketch(A, matrix=M).B) < 1e-12


def test_sparse_overlaps_match_dense_and_need_no_memory_of_order_n():
    # the overlaps <x_j, v_c> were a sparse product over all N rows, whose CSC -> CSR
    # conversion allocated an (N + 1) index array: 763 MiB at N = 1e8 in the quick start
    import tracemalloc

    from overparam.problems.eigen import _sparse_overlaps

    rng = np.random.default_rng(0)
    N, R, s, k, r = 10_000_000, 5, 8, 12, 3
    rows = rng.permutation(200)[:R * s]  # disjoint supports: orthonormal columns
    vals = rng.standard_normal((R, s))
    vals /= np.linalg.norm(vals, axis=1, keepdims=True)
    V = sp.csc_array((vals.ravel(), (rows, np.repeat(np.arange(R), s))), shape=(N, R))
    truth = FactoredMatrix(np.arange(R, 0, -1.0), V)
    idx = rng.choice(300, (k, r))
    idx[0, 0] = idx[1, 0]  # a repeated index in one estimate sums, as a sparse matrix does
    vals = rng.standard_normal((k, r))
    tracemalloc.start()
    got = _sparse_overlaps(truth, idx, vals)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    Vd = truth.vectors[:300].toarray()  # the truth touches rows < 200 only
    X = np.zeros((300, r))
    np.add.at(X, (idx, np.arange(r)[None, :]), vals)
    np.testing.assert_allclose(got, np.abs(X.T @ Vd), rtol=1e-12, atol=1e-14)
    assert peak < 5_000_000, f"peak {peak / 1e6:.1f} MB for N = {N:.0e}"


def test_complex_input_is_refused_not_cut_to_its_real_part():
    # a Hermitian A was sketched as its real part with a mere ComplexWarning
    M = ms.PrimeMatrix(20, [3, 5, 7])
    H = np.zeros((20, 20), complex)
    H[1, 2], H[2, 1], H[3, 3] = 1j, -1j, 2.0
    sources = [
        lambda: ms.sketch(iter([([1, 2, 3], [2, 1, 3], [1j, -1j, 2 + 0j])]), 20, matrix=M),
        lambda: ms.sketch(H, matrix=M),
        lambda: ms.sketch(sp.csr_array(H), matrix=M),
        lambda: ms.sketch(aslinearoperator(H), matrix=M),
        lambda: ms.sketch_factored([1.0], np.eye(20)[:, :1] * 1j, M),
        lambda: ms.sketch_factored([1.0], sp.csc_array(np.eye(20)[:, :1] * 1j), M),
    ]
    for make in sources:
        with pytest.raises(TypeError, match="must be real"):
            make()
    # complex dtype with zero imaginary parts is the real matrix
    R = H.real.copy()
    R[1, 2] = R[2, 1] = 1.0
    for src in (R.astype(complex), sp.csr_array(R.astype(complex))):
        np.testing.assert_array_equal(ms.sketch(src, matrix=M).C, ms.sketch(R, matrix=M).C)


def test_out_of_range_indices_are_named_correctly_and_rule_sizes_of_zero_refused():
    M = ms.PrimeMatrix(20, [3, 5, 7])
    with pytest.raises(IndexError, match=r"9223372036854775809 is not in \[0, 20\)"):
        M.check_indices(np.array([2**63 + 1], dtype=np.uint64))
    with pytest.raises(IndexError, match=r"1000000000000000019884624838656 is not in"):
        M.check_indices(np.array([1e30]))
    # rule_n = 0 / rule_s = 0 were read as "not given" (`or`), silently using N and s
    with pytest.raises(ValueError, match="n must be >= 2"):
        ms.PrimeMatrix.for_sparsity(1000, 2, rule_n=0)
    with pytest.raises(ValueError, match="s must be >= 1"):
        ms.make_matrix(1000, sparsity=3, rule_s=0)


def test_sketch_shards_refuses_negative_workers_and_a_file_as_checkpoint(small, tmp_path):
    # workers=-1 reached LocalCluster(n_workers=-1), which hangs
    A, M = small
    _, files = _write_shards(A, tmp_path, 500, 0, "s")
    with pytest.raises(ValueError, match="workers must be >= 0"):
        ms.sketch_shards(files, M, workers=-1, progress=False)  # refused on any executor
    with pytest.raises(ValueError, match="is a file"):
        ms.sketch_shards(files, M, checkpoint=files[0], progress=False)


def test_sketch_command_refuses_bad_arguments_before_the_pass(tmp_path):
    from overparam.cli import main

    shards = tmp_path / "shards"
    shards.mkdir()
    np.savez(shards / "a.npz", row=np.array([1, 2]), col=np.array([2, 1]),
             value=np.array([1.0, 1.0]))
    out = tmp_path / "o" / "B.npz"
    base = ["sketch", str(shards), "--n", "10", "--no-progress"]
    bad = [  # explicit zeros were read as "not given"; others gave tracebacks
        (["--sparsity", "0"], "--sparsity must be >= 1"),
        (["--sparsity", "1", "--rank", "0"], "--rank must be >= 1"),
        (["--sparsity", "1", "--bits", "0"], "--bits must be >= 1"),
        (["--sparsity", "1", "--bits", "-2"], "--bits must be >= 1"),
        (["--sparsity", "1", "--rule-n", "0"], "--rule-n must be >= 2"),
        (["--sparsity", "1", "--workers", "-1"], "--workers must be >= 0"),
        (["--primes", "3,5,x"], "comma-separated integers"),
        (["--sparsity", "1", "--checkpoint", str(shards / "a.npz")], "must be a folder"),
    ]
    for extra, msg in bad:
        with pytest.raises(SystemExit, match=msg):
            main(base + extra + ["--out", str(out)])
    with pytest.raises(SystemExit, match="does not exist"):
        main(["sketch", str(tmp_path / "nope.npz"), "--n", "10", "--sparsity", "1",
              "--out", str(out)])
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit, match="cannot create its folder"):
        main(base + ["--sparsity", "1", "--out", str(blocker / "B.npz")])
    # an output in the shard folder would be read as a shard by the next run
    with pytest.raises(SystemExit, match="would be among the shards"):
        main(base + ["--sparsity", "1", "--out", str(shards / "B.npz")])
    with pytest.raises(SystemExit, match="would be among the shards"):
        main(["sketch", str(shards / "a.npz"), "--n", "10", "--sparsity", "1",
              "--out", str(shards / "a.npz")])
    assert not out.exists()
    assert main(base + ["--sparsity", "1", "--rank", "1", "--out", str(out)]) == 0
    assert main(base + ["--sparsity", "1", "--rank", "1", "--out", str(out)]) == 0  # rerun
    np.testing.assert_allclose(np.load(out.with_suffix(".vectors.npz"))["eigenvalues"],
                               [1.0], rtol=1e-12)


def test_every_source_path_matches_the_dense_formula_exactly():
    # B = (1/K) M A M^T with M built here from its definition (not M.to_dense()),
    # integer-valued A: every builder must be exact, duplicates and triangles included
    rng = np.random.default_rng(3)
    n, primes = 211, [7, 11, 13, 17]
    K, m = len(primes), sum(primes)
    Md = np.zeros((m, n))
    off = 0
    for p in primes:
        Md[off + np.arange(n) % p, np.arange(n)] = 1.0
        off += p
    S = rng.integers(-5, 6, (n, n)) * (rng.random((n, n)) < 0.05)
    A = (S + S.T).astype(float)
    ref = Md @ A @ Md.T / K
    M = ms.PrimeMatrix(n, primes)
    I, J = np.nonzero(A)
    V = A[I, J]
    up, lo = I <= J, I >= J
    got = {
        "dense": ms.sketch(A, matrix=M, block_rows=7),
        "sparse": ms.sketch(sp.csr_array(A), matrix=M),
        "operator": ms.sketch(aslinearoperator(A), matrix=M),
        "stream": ms.sketch(iter([(I[:9], J[:9], V[:9]), ([], [], []), (int(I[9]), int(J[9]),
                                  float(V[9])), (I[10:], J[10:], V[10:])]), n, matrix=M),
        "duplicates": ms.sketch(iter([(np.r_[I, I], np.r_[J, J], np.r_[V, V] / 2)]), n,
                                matrix=M),
        "upper": ms.sketch(iter([(I[up], J[up], V[up])]), n, matrix=M, symmetry="upper"),
        "lower": ms.sketch(iter([(I[lo].astype(float), J[lo].astype(float), V[lo])]), n,
                           matrix=M, symmetry="lower"),
    }
    for name, sk in got.items():
        np.testing.assert_array_equal(sk.B, ref, err_msg=name)


def test_truth_of_the_wrong_kind_is_refused_naming_truth():
    A = sparse_eigen_problem(200, rank=2, sparsity=3, support="overlapping", seed=0)
    sk = ms.sketch(A, sparsity=3)
    dense = A.to_dense()
    for bad in ((A.eigenvalues, A.vectors), dense, sp.csr_array(dense), [1.0, 2.0]):
        for decoder in ("median", "oracle"):  # the oracle reads truth's support
            with pytest.raises(TypeError, match="truth must be a factored A"):
                ms.recover(sk, 2, 3, truth=bad, decoder=decoder)
    other = sparse_eigen_problem(300, rank=2, sparsity=3, seed=0)  # silently wrong errors
    with pytest.raises(ValueError, match="truth is an N = 300 matrix.*N = 200"):
        ms.recover(sk, 2, 3, truth=other)

    class Factored:  # duck-typed truths are converted, complex ones refused
        def __init__(self, eigenvalues, vectors):
            self.eigenvalues, self.vectors = eigenvalues, vectors

    V = A.vectors.toarray()
    with pytest.raises(TypeError, match="truth: vectors must be real"):
        ms.recover(sk, 2, 3, truth=Factored(A.eigenvalues, V + 1j * V))
    with pytest.raises(ValueError, match=r"truth: vector indices must lie in \[0, 200\)"):
        ms.recover(sk, 2, 3, truth=Factored([1.0], [(np.array([0, 250]), np.ones(2))]))
    ref = ms.recover(sk, 2, 3, truth=A).info["errors"]
    pairs = [A.column(c) for c in range(2)]
    for duck in (Factored(A.eigenvalues, pairs), Factored(A.eigenvalues.tolist(), V)):
        got = ms.recover(sk, 2, 3, truth=duck).info["errors"]
        for key in ref:
            np.testing.assert_array_equal(got[key], ref[key])
    # sparse_top_eigenvectors refuses it before its pass over a stream
    read = []

    def stream():
        for chunk in A.entries():
            read.append(1)
            yield chunk

    with pytest.raises(TypeError, match="truth must be a factored A"):
        ms.sparse_top_eigenvectors(stream(), 2, 3, n=200, truth=dense)
    assert not read
    with pytest.raises(ValueError, match=r"pass n = N.*\(indices, values\) pairs"):
        ms.sparse_top_eigenvectors(Factored(A.eigenvalues, pairs), 2, 3)


def test_la_errors_compare_with_the_implicit_zero_eigenvalue_not_a_negative_one():
    # A = v1 v1^T - 5 v2 v2^T on N = 40: by value its eigenvalues are 1, then 0 (38
    # times, any vector orthogonal to v1, v2), then -5; the second "LA" eigenpair is
    # undefined, not (-5, v2)
    n = 40
    V = np.zeros((n, 2))
    V[[3, 11], 0] = [0.6, 0.8]
    V[[5, 17], 1] = [0.8, -0.6]
    A = FactoredMatrix(np.array([1.0, -5.0]), sp.csc_array(V), 2)
    top = np.sort(np.linalg.eigvalsh(A.to_dense()))[::-1]
    assert top[0] == pytest.approx(1.0) and abs(top[1]) < 1e-12  # the dense oracle
    res = ms.sparse_top_eigenvectors(A, 2, 2, which="LA")
    lam, err = res.info["eigenvalues"], res.info["errors"]
    assert lam[0] == pytest.approx(top[0], rel=1e-10) and abs(lam[1]) < 0.5
    assert err["l2_after"][0] < 1e-10 and err["eigenvalue"][0] < 1e-10
    for key in err:
        assert np.isnan(err[key][1]), key
    # "LM" orders by magnitude: -5 is first and both pairs are defined
    res = ms.sparse_top_eigenvectors(A, 2, 2, which="LM")
    np.testing.assert_allclose(res.info["eigenvalues"], [-5.0, 1.0], rtol=1e-10)
    assert np.all(res.info["errors"]["l2_after"] < 1e-10)
    # an all-negative A: its largest eigenvalue is 0, every "LA" error undefined
    neg = FactoredMatrix(-np.abs(A.eigenvalues), A.vectors, 2)
    err = ms.sparse_top_eigenvectors(neg, 1, 2, which="LA").info["errors"]
    assert all(np.isnan(err[key]).all() for key in err)
    # with R = N there is no implicit 0: (-1, e_1) is the defined second "LA" pair, and
    # the errors say that the sketch missed it (B's own zero eigenvalue, from the m - N
    # dimensional null space of M^T, comes first by value)
    full = FactoredMatrix(np.array([2.0, -1.0]), sp.csc_array(np.eye(2)), 1)
    res = ms.sparse_top_eigenvectors(full, 2, 1, which="LA")
    err = res.info["errors"]
    assert res.info["eigenvalues"][0] == pytest.approx(2.0, rel=1e-12)
    assert err["l2_after"][0] < 1e-12 and err["eigenvalue"][1] == pytest.approx(1.0)


def test_edge_cases_match_a_dense_eigendecomposition():
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    for lam, r, s, which in (([6.0, 5, 4, 3, 2, 1], 6, 6, "LM"),   # rank = sparsity = N
                             ([-6.0, 5, -4, 3, 2, 1], 3, 6, "LM"),
                             ([-6.0, 5, -4, 3, 2, 1], 3, 6, "LA")):
        A = (Q * lam) @ Q.T
        w, U = np.linalg.eigh(A)
        order = np.argsort(-np.abs(w) if which == "LM" else -w, kind="stable")[:r]
        res = ms.sparse_top_eigenvectors(A, r, s, which=which)
        np.testing.assert_allclose(res.info["eigenvalues"], w[order], atol=1e-12)
        X = res.info["vectors"].toarray()
        np.testing.assert_allclose(np.abs(np.sum(X * U[:, order], axis=0)), 1.0, atol=1e-12)
    # int, non-contiguous, sparsity 1, and a tie of +-1 under "LM"
    n = 30
    Aint = np.zeros((2 * n, 2 * n), dtype=np.int64)
    Aint[6, 6], Aint[6, 10], Aint[10, 6], Aint[10, 10] = 4, 1, 1, 2
    view = Aint[::2, ::2]  # A[3, 3] = 4, A[3, 5] = 1, A[5, 5] = 2
    assert not view.flags.c_contiguous
    res = ms.sparse_top_eigenvectors(view, 2, 2)
    np.testing.assert_allclose(res.info["eigenvalues"], [3 + np.sqrt(2), 3 - np.sqrt(2)],
                               rtol=1e-12)
    D = np.diag(np.r_[1.0, -1.0, np.zeros(n - 2)])
    res = ms.sparse_top_eigenvectors(D, 2, 1)
    np.testing.assert_allclose(np.sort(res.info["eigenvalues"]), [-1.0, 1.0])
    X = res.info["vectors"].toarray()  # +-e_0 and +-e_1, in either order
    np.testing.assert_allclose(np.abs(X[:2]).sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(X.T @ D @ X, np.diag(res.info["eigenvalues"]), atol=1e-12)
    with pytest.raises(ValueError, match="sketch B is zero"):
        ms.sparse_top_eigenvectors(np.zeros((n, n)), 1, 1)


def test_n_report_below_one_is_refused_before_the_pass():
    A = sparse_eigen_problem(200, rank=2, sparsity=3, support="overlapping", seed=0)
    sk = ms.sketch(A, sparsity=3)
    with pytest.raises(ValueError, match="n_report must be >= 1"):
        ms.recover(sk, 2, 3, truth=A, n_report=0)  # was an IndexError in the report
    read = []

    def stream():
        for chunk in A.entries():
            read.append(1)
            yield chunk

    with pytest.raises(ValueError, match="n_report must be >= 1"):
        ms.sparse_top_eigenvectors(stream(), 2, 3, n=200, truth=A, n_report=0)
    assert not read
    err = ms.recover(sk, 2, 3, truth=A, n_report=1).info["errors"]
    assert err["l2_after"].shape == (1,) and err["l2_after"][0] < 1e-10


def test_a_matrix_source_of_the_wrong_shape_is_named():
    # a 1-d or 3-d array was taken for a stream: "pass n = N"
    for shape in ((5,), (5, 5, 5), (5, 6)):
        with pytest.raises(ValueError, match=r"square N x N matrix, got shape \(5"):
            ms.sketch(np.ones(shape), sparsity=1)
        with pytest.raises(ValueError, match=r"square N x N matrix, got shape \(5"):
            ms.sparse_top_eigenvectors(np.ones(shape), 1, 1)


def test_errors_at_a_repeated_eigenvalue_do_not_depend_on_the_basis():
    # the eigenvectors of a repeated eigenvalue are any basis of its eigenspace: an exact
    # recovery of the eigenspace in another basis was reported with l2 errors ~0.5
    rng = np.random.default_rng(0)
    n, s = 500, 4
    supp = rng.choice(n, s, replace=False)
    Q, _ = np.linalg.qr(rng.standard_normal((s, 4)))
    for lam in ([2.0, 2.0, 1.0], [1.0, -1.0, 1.0, 0.5], [3.0, 3.0, 3.0]):
        V = np.zeros((n, len(lam)))
        V[supp] = Q[:, :len(lam)]
        A = FactoredMatrix(np.array(lam), sp.csc_array(V), s)
        res = ms.sparse_top_eigenvectors(A, len(lam), s)
        err = res.info["errors"]
        for key in ("l2_after", "linf_after", "eigenvalue"):
            assert np.all(err[key] < 1e-10), (lam, key, err[key])
        np.testing.assert_array_equal(err["overlap"], 1.0)
        assert np.all(err["l2_before"] < 0.2), (lam, err["l2_before"])
        # the dense oracle: the recovered vectors span each eigenspace of eigh
        w, U = np.linalg.eigh(A.to_dense())
        X = res.info["vectors"].toarray()
        for value in set(lam):
            P = U[:, np.abs(w - value) < 1e-9]
            Xv = X[:, np.abs(res.info["eigenvalues"] - value) < 1e-9]
            np.testing.assert_allclose(Xv @ Xv.T, P @ P.T, atol=1e-10)


def test_factored_matrix_refuses_complex_eigenvalues_and_vectors():
    # a float cast dropped the imaginary parts with a mere ComplexWarning
    V = np.eye(6)[:, :2]
    for lam, vec in (([1 + 1j, 0.5], V), (np.array([1 + 1j, 0.5]), V),
                     ([1.0, 0.5], V * (1 + 1j)), ([1.0, 0.5], sp.csc_array(V * 1j + V)),
                     ([1.0, 0.5], sp.coo_array(V + 1e-3j * V))):
        with pytest.raises(TypeError, match="must be real"):
            FactoredMatrix(lam, vec)
    # zero imaginary parts are real values (also duplicates of a COO summing to real)
    dup = sp.coo_array((np.array([0.5 + 1j, 0.5 - 1j, 1.0]), ([0, 0, 1], [0, 0, 1])),
                       shape=(6, 2))
    A = FactoredMatrix(np.array([1 + 0j, 0.5]), dup)
    assert A.eigenvalues.dtype == np.float64 and A.vectors.dtype == np.float64
    np.testing.assert_array_equal(A.vectors.toarray()[:2], [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(FactoredMatrix([1, 2], V).eigenvalues, [1.0, 2.0])
    # A's products drop no imaginary part either
    with pytest.raises(TypeError, match="must be real"):
        A.matvec(1j * np.ones(6))


def test_factored_matrix_refuses_vectors_that_are_not_orthonormal():
    # its eigenvalues were then not A's: the baselines found A's [4, 1] exactly and were
    # scored against [1, 0.5] (eigenvalue errors 3 and 1)
    V = np.zeros((6, 2))
    V[0, 0], V[[1, 2], 1] = 2.0, 1.0
    with pytest.raises(ValueError, match=r"orthonormal columns \(max \|V\^T V - I\| = 3"):
        FactoredMatrix([1.0, 0.5], V)
    V[0, 0], V[[1, 2], 1] = 1.0, np.sqrt(0.5)
    FactoredMatrix([1.0, 0.5], V)                    # orthonormal: accepted
    FactoredMatrix([1.0, 0.5], V * (1 + 1e-10))      # within rounding


def test_eigenvector_errors_refuse_indices_outside_the_truth():
    from overparam.problems.eigen import eigenvector_errors

    P = sparse_eigen_problem(30, 2, 4, seed=0)
    (i0, v0), (i1, v1) = P.column(0), P.column(1)
    idx, val, lam = np.c_[i0, i1], np.c_[v0, v1], np.array([1.0, 0.5])
    ok = eigenvector_errors(P, idx, val, P.eigenvalues)
    assert np.all(ok["l2_after"] < 1e-12)
    for bad in (idx + 100, idx - 100, idx + 0.5):      # were scored (l2 = 1.41)
        with pytest.raises(ValueError, match=r"indices must be integers in \[0, 30\)"):
            eigenvector_errors(P, bad, val, lam)
    with pytest.raises(ValueError, match="n_report"):
        eigenvector_errors(P, idx, val, lam, n_report=0)
    with pytest.raises(ValueError, match="2 estimates but 1 eigenvalues"):
        eigenvector_errors(P, idx, val, lam[:1])


def test_sketch_command_reports_data_errors_in_one_line(tmp_path, capsys):
    # errors found while reading the data were raw tracebacks (ValueError, KeyError,
    # BadZipFile, ArrowInvalid); a checkpoint of other settings was found only by the pass
    from overparam.cli import main

    def shard(name, **arrays):
        folder = tmp_path / name
        folder.mkdir()
        np.savez(folder / "a.npz", **{k: np.asarray(v) for k, v in arrays.items()})
        return str(folder / "a.npz")

    good = shard("good", row=[1, 2], col=[2, 1], value=[1.0, 1.0])
    out = tmp_path / "o" / "B.npz"

    def run(path, *extra):
        return main(["sketch", path, "--n", "10", "--sparsity", "1", "--no-progress",
                     "--out", str(out), *extra])

    trunc = tmp_path / "trunc.npz"
    raw = open(good, "rb").read()
    trunc.write_bytes(raw[:len(raw) // 2])
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"garbage")
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros(3))
    cases = [
        (shard("nan", row=[1], col=[1], value=[np.nan]), "non-finite"),
        (shard("range", row=[11], col=[1], value=[1.0]), "out of range"),
        (shard("keys", a=[1]), "needs arrays row/col/value"),
        (shard("cplx", row=[1], col=[1], value=[1j]), "must be real"),
        (shard("asym", row=[1], col=[2], value=[1.0]), "not symmetric"),
        (str(trunc), "cannot be read as a .npz file"),
        (str(plain), "must be a structured array"),
        (str(junk), "cannot be read as a .parquet file"),
    ]
    for path, msg in cases:
        with pytest.raises(SystemExit, match=msg) as exc:
            run(path)
        text = str(exc.value.code)
        assert text.startswith("overparam sketch: ") and "\n" not in text
        if msg != "not symmetric":  # the sum's asymmetry belongs to no one shard
            assert path in text
    assert not out.exists()
    with pytest.raises(SystemExit, match="below the diagonal"):
        run(good, "--symmetry", "upper")
    # a zero sketch cannot be decoded: one line, saying where the sketch is
    with pytest.raises(SystemExit, match=r"sketch B is zero.*saved in"):
        run(shard("zero", row=[1], col=[1], value=[0.0]), "--rank", "1")
    # a checkpoint of other settings or other shards: refused before the pass
    ckpt = tmp_path / "ckpt"
    assert run(good, "--checkpoint", str(ckpt)) == 0
    out.unlink()
    capsys.readouterr()
    for extra in (["--symmetry", "upper"], ["--primes", "3,5,7"]):
        with pytest.raises(SystemExit, match="made with other settings"):
            main(["sketch", good, "--n", "10", "--no-progress", "--out", str(out),
                  "--checkpoint", str(ckpt)] + (["--sparsity", "1"] if "--primes" not in
                                                 extra else []) + extra)
    other = shard("other", row=[3], col=[3], value=[1.0])
    with pytest.raises(SystemExit, match="partial sketch of other shards"):
        run(other, "--checkpoint", str(ckpt))
    with pytest.raises(SystemExit, match="made with other settings"):  # before --out's
        main(["sketch", good, "--n", "10", "--sparsity", "2", "--no-progress",  # folder
              "--out", str(tmp_path / "never" / "B.npz"), "--checkpoint", str(ckpt)])
    assert not out.exists() and "sketch written" not in capsys.readouterr().out
    # unreadable shards are found from their headers, before the output folder is made
    for path in (str(trunc), str(junk), str(plain)):
        with pytest.raises(SystemExit, match=path):
            main(["sketch", path, "--n", "10", "--sparsity", "1", "--no-progress",
                  "--out", str(tmp_path / "never" / "B.npz")])
    assert not (tmp_path / "never").exists()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "mamstar-state.npz").write_bytes(b"junk")
    with pytest.raises(SystemExit, match="mamstar-state.npz cannot be read"):
        run(good, "--checkpoint", str(tmp_path / "bad"))
    assert run(good, "--checkpoint", str(ckpt)) == 0  # the right settings resume


def test_eigen_baselines_agree_with_eigh_and_refuse_complex_input():
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    rng = np.random.default_rng(5)
    for trial in range(6):  # dense symmetric A: eigsh + truncation against eigh
        n = int(rng.integers(8, 30))
        s, k = int(rng.integers(1, n)), int(rng.integers(1, 4))
        A = rng.standard_normal((n, n))
        A = A + A.T
        w, U = np.linalg.eigh(A)
        for which in ("LM", "LA"):
            o = np.argsort(-np.abs(w) if which == "LM" else -w, kind="stable")[:k]
            res = eigsh_truncated(A, k, s, which=which)
            np.testing.assert_allclose(res.info["eigenvalues"], w[o], rtol=1e-9, atol=1e-9)
            X = res.info["vectors"].toarray()
            for j in range(k):
                t = np.zeros(n)
                top = np.argsort(-np.abs(U[:, o[j]]))[:s]
                t[top] = U[top, o[j]]
                t /= np.linalg.norm(t)
                assert min(np.linalg.norm(X[:, j] - t), np.linalg.norm(X[:, j] + t)) < 1e-7
    F = sparse_eigen_problem(40, 2, 4, seed=1)
    D = F.to_dense()
    for f in (eigsh_truncated, truncated_power):
        # a plain float cast dropped the imaginary parts with a ComplexWarning (and eigsh
        # returned complex vectors for a complex sparse A)
        for bad in (D + 0.1j * np.eye(40), sp.csr_array(D + 0.1j * np.eye(40))):
            with pytest.raises(TypeError, match="must be real"):
                f(bad, 2, 4)
        op = aslinearoperator(sp.csr_array(D + 0.1j * np.eye(40)))
        with pytest.raises(TypeError, match="must be real"):
            f(op, 2, 4, **({"init": "random"} if f is truncated_power else {}))
        for ok in (D + 0j, sp.csr_array(D + 0j), np.eye(40, dtype=bool),
                   aslinearoperator(sp.csr_array(D + 0j))):
            explicit = isinstance(ok, np.ndarray) or sp.issparse(ok)
            kw = {"init": "random"} if f is truncated_power and not explicit else {}
            res = f(ok, 2, 4, **kw)
            assert res.x.dtype == np.float64 and res.status.name == "CONVERGED"
        nan_op = aslinearoperator(sp.csr_array(D * np.nan))
        with pytest.raises(ValueError, match="not finite"):
            f(nan_op, 2, 4, **({"init": "random"} if f is truncated_power else {}))


def test_eigen_baselines_at_extreme_scales():
    # the symmetry check squared the entries (1e200: inf / inf = NaN passed the check,
    # 1e-200: 0 read as A = 0), and the power method's norm overflowed or underflowed
    # (eigenvalues 0 and MAX_ITER at 1e+-200)
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    A = np.random.default_rng(0).standard_normal((6, 6))
    F = sparse_eigen_problem(40, 3, 4, seed=1)
    D = F.to_dense()
    for scale in (1e-200, 1e-160, 1e160, 1e200):
        for f in (eigsh_truncated, truncated_power):
            for bad in (A * scale, sp.csr_array(A * scale)):
                with pytest.raises(ValueError, match="not symmetric"):
                    f(bad, 1, 2)
            res = f(D * scale, 3, 4)
            assert res.status.name == "CONVERGED"
            np.testing.assert_allclose(res.info["eigenvalues"] / scale, [1.0, 0.5, 0.25],
                                       rtol=1e-10)


def test_truncated_power_random_start_finds_a_sparse_matrix_eigenvectors():
    # the random start kept s random positions: for a sparse A they missed its support,
    # A x = 0, and eigenvalues 0 came back (MAX_ITER) in 4 of 5 seeds
    from overparam.baselines.eigen import truncated_power

    F = sparse_eigen_problem(200, 2, 5, seed=0)
    for seed in range(5):
        res = truncated_power(F.aslinearoperator(), 2, 5, init="random", seed=seed,
                              truth=F)
        assert res.status.name == "CONVERGED"
        np.testing.assert_allclose(res.info["eigenvalues"], [1.0, 0.5], rtol=1e-10)
        assert np.all(res.info["errors"]["l2_after"] < 1e-8)


def test_truncated_power_beyond_the_numerical_rank_reports_eigenvalue_zero():
    # vectors asked beyond A's rank chased the deflated matrix's rounding noise and ran
    # to max_iter (MAX_ITER in 5 of 30 random rank-2 problems with rank=4)
    from overparam.baselines.eigen import truncated_power

    for seed in range(30):
        rng = np.random.default_rng(seed)
        n, s = 30, int(rng.integers(3, 10))
        V = np.zeros((n, 2))
        supp = rng.choice(n, 2 * s, replace=False)  # disjoint: s-sparse eigenvectors
        for j in range(2):
            V[supp[j * s:(j + 1) * s], j] = rng.standard_normal(s)
        lam = rng.uniform(1, 3, 2)
        A = V @ np.diag(lam) @ V.T
        top = np.sort(np.abs(np.linalg.eigvalsh(A)))[::-1][:2]
        for scale in (1.0, 1e-200, 1e200):
            for init in ("diagonal", "random"):
                res = truncated_power(A * scale, 4, s, init=init, seed=seed)
                assert res.status.name == "CONVERGED", (seed, scale, init)
                ev = res.info["eigenvalues"] / scale
                np.testing.assert_allclose(np.abs(ev[:2]), top, rtol=1e-9)
                assert np.all(np.abs(ev[2:]) < 1e-12 * top[0])
                assert max(res.info["iterations"]) < 500
                assert "numerical rank is below 4" in res.message


def test_eigen_baseline_errors_follow_eigen_errors():
    # 'LA' positions past the implicit eigenvalue 0 of a rank-R < N truth were scored
    # against the negative eigenvalue (l2 1.41, eigenvalue error 1), a double eigenvalue
    # in the truth's own basis (l2 0.11 to 0.26 for exact eigsh bases), and a matrix as
    # truth failed after the run
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    rng = np.random.default_rng(0)
    n = 30
    V = np.zeros((n, 2))
    V[:4, 0], V[4:8, 1] = rng.standard_normal(4), rng.standard_normal(4)
    V /= np.linalg.norm(V, axis=0)
    A = FactoredMatrix([1.0, -0.5], V)
    err = eigsh_truncated(A, 3, 4, which="LA").info["errors"]
    assert err["l2_after"][0] < 1e-10
    assert np.all(np.isnan(err["l2_after"][1:])) and np.all(np.isnan(err["eigenvalue"][1:]))
    err = eigsh_truncated(A, 2, 4).info["errors"]  # "LM": both defined, both exact
    assert np.all(err["l2_after"] < 1e-10) and np.all(err["eigenvalue"] < 1e-10)
    W = np.zeros((n, 2))
    W[:6], _ = np.linalg.qr(rng.standard_normal((6, 2)))
    T = FactoredMatrix([1.0, 1.0], W)
    for f in (eigsh_truncated, truncated_power):
        res = f(T, 2, 6)
        X = res.info["vectors"].toarray()
        np.testing.assert_allclose(X @ X.T, W @ W.T, atol=1e-10)  # exact eigenspace
        err = res.info["errors"]
        for key in ("l2_after", "linf_after", "eigenvalue"):
            assert np.all(err[key] < 1e-10), (f.__name__, key, err[key])
    with pytest.raises(TypeError, match="a matrix is not accepted"):
        eigsh_truncated(T.to_dense(), 2, 6, truth=T.to_dense())
    with pytest.raises(ValueError, match="N = 31"):
        truncated_power(T, 2, 6, truth=sparse_eigen_problem(31, 2, 3, seed=0))


def test_eigen_baselines_refuse_bad_tolerances_and_iteration_counts():
    # tol = NaN was an ARPACK error 3 (eigsh) or max_iter wasted steps per vector
    # reported as MAX_ITER; max_iter <= 0 returned the start vectors as MAX_ITER results
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    D = sparse_eigen_problem(40, 3, 4, seed=1).to_dense()
    for tol in (np.nan, -1.0, np.inf):
        for f in (eigsh_truncated, truncated_power):
            with pytest.raises(ValueError, match="tol must be finite"):
                f(D, 2, 4, tol=tol)
    for max_iter in (0, -1):
        with pytest.raises(ValueError, match="max_iter must be >= 1"):
            truncated_power(D, 2, 4, max_iter=max_iter)
    res = truncated_power(D, 2, 4, max_iter=1, tol=0.0)  # the boundaries themselves
    assert res.info["iterations"] == [1, 1]
    np.testing.assert_allclose(eigsh_truncated(D, 2, 4, tol=0.0).info["eigenvalues"],
                               [1.0, 0.5], rtol=1e-12)


# -- input types, determinism -----------------------------------------------------------------

class _RowArray:
    """A minimal array of another library: shape, __array__, slicing, rows on iteration."""

    def __init__(self, a):
        self._a = np.asarray(a)
        self.shape = self._a.shape

    def __array__(self, dtype=None, copy=None):
        return self._a if dtype is None else self._a.astype(dtype)

    def __getitem__(self, key):
        return _RowArray(self._a[key])

    def __iter__(self):
        return iter(self._a)

    def __len__(self):
        return len(self._a)


def test_array_likes_of_other_libraries_are_sketched_as_matrices(small):
    # iterating one yields its rows: it was read as a stream of entries, a misleading
    # "stream chunk" error for pandas/JAX, and a 3 x 3 matrix sketched as the entries
    # (i, j, v) of its rows without a word
    A, M = small
    D = A.to_dense()
    ref = ms.sketch(D, matrix=M).B
    np.testing.assert_array_equal(ms.sketch(_RowArray(D), matrix=M).B, ref)
    T = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]])
    M3 = ms.PrimeMatrix(3, np.array([2, 3]))
    np.testing.assert_array_equal(ms.sketch(_RowArray(T), matrix=M3).B,
                                  ms.sketch(T, matrix=M3).B)
    pd = pytest.importorskip("pandas")
    # rows by position: a frame whose index labels are permuted is still D
    frame = pd.DataFrame(D, index=np.random.default_rng(0).permutation(500))
    np.testing.assert_array_equal(ms.sketch(frame, matrix=M, block_rows=7).B, ref)
    res = ms.sparse_top_eigenvectors(pd.DataFrame(D), rank=3, sparsity=6, matrix=M,
                                     truth=A)
    ref_res = ms.sparse_top_eigenvectors(D, rank=3, sparsity=6, matrix=M, truth=A)
    np.testing.assert_array_equal(res.x, ref_res.x)
    with pytest.raises(ValueError, match="square"):
        ms.sketch(_RowArray(np.zeros((3, 4))), matrix=M3)


def test_dask_sums_partial_sketches_in_shard_order(tmp_path, monkeypatch):
    # in completion order the float sums changed from run to run (3 runs: 3 different
    # sketches); summed in the shards' order, the sketch is the serial one bit for bit
    pytest.importorskip("dask.distributed")
    import importlib
    import time

    from dask.distributed import LocalCluster

    sk_mod = importlib.import_module("overparam.mamstar.sketch")

    rng = np.random.default_rng(1)
    n, k = 300, 4000
    i, j = rng.integers(0, n, k), rng.integers(0, n, k)
    v = rng.standard_normal(k) * 10.0 ** rng.uniform(-8, 8, k)
    I, J, V = np.r_[i, j], np.r_[j, i], np.r_[v, v]
    for c, part in enumerate(np.array_split(rng.permutation(I.size), 4)):
        np.savez(tmp_path / f"s{c}.npz", row=I[part], col=J[part], value=V[part])
    M = ms.PrimeMatrix(n, np.array([11, 13, 17, 19]))
    serial = ms.sketch_shards(tmp_path, M, progress=False, bits=2)
    orig = sk_mod._shard_partial

    def first_last(path, *args):  # the first shard finishes last
        if path.endswith("s0.npz"):
            time.sleep(1.0)
        return orig(path, *args)

    monkeypatch.setattr(sk_mod, "_shard_partial", first_last)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        ck = tmp_path / "ck"
        sk = ms.sketch_shards(tmp_path, M, executor="dask", address=cluster.scheduler_address,
                              progress=False, bits=2, checkpoint=ck)
    np.testing.assert_array_equal(sk.C, serial.C)
    np.testing.assert_array_equal(sk.Y, serial.Y)
    assert ms.Sketch.load(ck / "mamstar-state.npz").info["meta"]["done"] == [
        str((tmp_path / f"s{c}.npz").resolve()) for c in range(4)]


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself
def test_eigen_baselines_take_matrices_of_other_libraries():
    # pandas/JAX/nested lists: aslinearoperator's "type not understood"; np.matrix: the
    # symmetry check failed on matrix.max(initial=)
    from overparam.baselines.eigen import eigsh_truncated, truncated_power

    D = sparse_eigen_problem(60, 2, 4, seed=1).to_dense()
    sources = [np.matrix(D), D.tolist(), _RowArray(D)]
    pd = pytest.importorskip("pandas")
    sources.append(pd.DataFrame(D))
    for f in (eigsh_truncated, truncated_power):
        ref = f(D, 2, 4)
        for src in sources:
            res = f(src, 2, 4)
            np.testing.assert_array_equal(res.info["indices"], ref.info["indices"])
            np.testing.assert_allclose(res.x, ref.x, rtol=1e-12, atol=1e-14)


def test_top_eigenpairs_of_a_sketch_given_as_another_array_type(small):
    # JAX/pandas/list/scipy sparse B: "type not understood", "no attribute 'dtype'",
    # "no attribute 'shape'", "setting an array element with a sequence"
    A, M = small
    B = ms.sketch(A, matrix=M).B
    lam, U = ms.top_eigenpairs(B, 3)
    pd = pytest.importorskip("pandas")
    for src in (sp.csr_array(B), B.tolist(), _RowArray(B), pd.DataFrame(B)):
        lam2, U2 = ms.top_eigenpairs(src, 3)
        np.testing.assert_allclose(lam2, lam, rtol=1e-12)
        np.testing.assert_allclose(U2, U, atol=1e-10)
    with pytest.raises(ValueError, match="square"):
        ms.top_eigenpairs(B[:, :-1], 1)
    with pytest.raises(ValueError, match="NaN or inf"):
        ms.top_eigenpairs(np.where(B == B.max(), np.nan, B), 1)


def test_sketch_operator_refine_and_methods_check_their_counts(small):
    # sketch_operator(block=-3) returned an all-zero sketch ("A = 0" later) and block=0 a
    # raw range() error; refine sorted any `which` but "LM" as "LA"; rank=0 / sparsity=0
    # of the mamstar methods meant "the problem's own" (rank or A.rank)
    from overparam.mamstar.decoders import refine
    from overparam.mamstar.experiment import eigsh_method, mamstar_method, power_method

    A, M = small
    op = aslinearoperator(A.to_dense())
    for block in (-3, 0):
        with pytest.raises(ValueError, match="block must be >= 1"):
            ms.sketch_operator(op, M, block=block)
    with pytest.raises(TypeError, match="block"):
        ms.sketch_operator(op, M, block=2.5)
    B = ms.sketch_operator(op, M, block=7).B
    idx = np.zeros((A.sparsity, 1), np.int64)
    with pytest.raises(ValueError, match="which must be 'LM' or 'LA'"):
        refine(B, M, idx, np.ones((A.sparsity, 1)), which="SA")
    for fn in (mamstar_method, eigsh_method, power_method):
        for key in ("rank", "sparsity"):
            with pytest.raises(ValueError, match=f"{key} must be >= 1"):
                fn(A, **{key: 0})
    res = power_method(A)  # None: the problem's own rank and sparsity
    assert res.info["indices"].shape == (A.sparsity, A.rank)


# -- adversarial findings: scale, ambiguity, truth, status, option checks ---------------------

def test_the_symmetry_check_is_scale_free_and_nan_never_passes():
    # ||C||_F squared the entries: at 1e-170 the asymmetry was 0 / 0 -> 0, at 1e200
    # inf / inf -> NaN, and both passed as symmetric
    M = ms.PrimeMatrix(30, np.array([5, 7, 11]))
    A = np.random.default_rng(0).standard_normal((30, 30))
    I, J = np.nonzero(A)
    for sc in (1e-170, 1e200):
        with pytest.raises(ValueError, match="not symmetric"):
            ms.sketch(A * sc, matrix=M)
        with pytest.raises(ValueError, match="not symmetric"):
            ms.sketch([(I, J, A[I, J] * sc)], 30, matrix=M)
        sk = ms.sketch((A + A.T) * sc, matrix=M)
        assert sk.asymmetry() < 1e-15
    sk = ms.sketch(A + A.T, matrix=M)
    sk.C[0, 1] = np.inf
    assert np.isnan(sk.asymmetry())
    with pytest.raises(ValueError, match="tol"):
        sk.check(tol=float("nan"))


def test_a_3x3_array_chunk_is_refused_not_read_transposed():
    M = ms.PrimeMatrix(100, np.array([11, 13, 17]))
    I, J, V = np.array([0, 1, 2]), np.array([1, 0, 2]), np.array([5.0, 5.0, 7.0])
    ref = ms.sketch_stream([(I, J, V)], M).B
    with pytest.raises(TypeError, match="3 x 3 array chunk is ambiguous.*tuple"):
        ms.sketch_stream([np.array([I, J, V])], M)  # was read as 3 entries (i, j, v)
    np.testing.assert_array_equal(ms.sketch_stream([tuple(np.array([I, J, V]))], M).B, ref)
    I4, J4, V4 = np.r_[I, 3], np.r_[J, 3], np.r_[V, 1.0]
    ref4 = ms.sketch_stream([(I4, J4, V4)], M).B
    for chunk in (np.array([I4, J4, V4]), np.array([I4, J4, V4]).T):  # (3, 4), (4, 3)
        np.testing.assert_array_equal(ms.sketch_stream([chunk], M).B, ref4)


def test_a_non_orthonormal_factored_source_is_scored_against_its_eigenpairs():
    # the source was its own truth as if its vectors were orthonormal: exactly recovered
    # eigenpairs were reported with eigenvalue errors of 11 and 2 (unnormalized V) or
    # 0.3 / 0.6 and l2 0.97 (non-orthogonal V)
    N = 300
    V = np.zeros((N, 2))
    V[[0, 1, 2], 0] = 2.0
    V[[10, 11, 12], 1] = 1.0
    W = np.zeros((N, 2))
    W[0, 0], W[[0, 1], 1] = 1.0, np.sqrt(0.5)
    from types import SimpleNamespace

    for lam, U in (([1.0, 0.9], V), ([1.0, 0.5], W)):
        # a FactoredMatrix promises orthonormal vectors: refused (its eigenvalues, and
        # the baselines' errors against them, were another matrix's)
        with pytest.raises(ValueError, match="orthonormal columns"):
            FactoredMatrix(lam, U)
        F = SimpleNamespace(eigenvalues=np.array(lam), vectors=sp.csc_array(U))
        Ud = U.copy()
        top = np.sort(np.linalg.eigvalsh((Ud * lam) @ Ud.T))[::-1][:2]
        res = ms.sparse_top_eigenvectors(F, 2, 3)  # majority rule: exact
        np.testing.assert_allclose(res.info["eigenvalues"], top, rtol=1e-10)
        err = res.info["errors"]
        assert err["eigenvalue"].max() < 1e-10 and err["l2_after"].max() < 1e-10
    # an orthonormal truth is used as it is (no work, the same object)
    from overparam.mamstar.api import _check_truth

    A = sparse_eigen_problem(300, 2, 3, support="overlapping", seed=0)
    assert _check_truth(A, 300) is A


def test_empty_or_zero_decoded_vectors_are_not_converged():
    # 0 bit-test candidates (a dense random A) or no index passing agree = K were
    # reported CONVERGED with zero vectors; a truth then crashed with IndexError
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 400))
    sk = ms.sketch((X + X.T) / 2, primes=ms.primes_between(20, 5), bits=3)
    truth = sparse_eigen_problem(400, 1, 2, support="disjoint", seed=1)
    res = ms.recover(sk, 1, 1, decoder="bittest", truth=truth)
    assert res.info["bittest_candidates"] == 0 and res.x.shape == (0, 1)
    assert res.status.name == "NUMERICAL_ERROR" and not res.success
    assert "found no index for eigenvector(s) [1]" in res.message and "bits" in res.message
    assert res.info["errors"]["l2_after"][0] == 1.0
    res = ms.recover(sk, 2, 1, agree=sk.M.K, agree_tol=0.0)  # no K equal readings
    assert not res.success and "[1, 2] of 2" in res.message and "agree_tol" in res.message
    assert ms.recover(sk, 2, 1, agree=1).success


def test_decoder_options_are_checked():
    from overparam.mamstar.experiment import mamstar_method

    A = sparse_eigen_problem(500, 2, 3, support="disjoint", seed=1)
    sk = ms.sketch(A, sparsity=3, bits=4)
    for tol in (float("nan"), -1.0, float("inf")):
        with pytest.raises(ValueError, match="agree_tol must be finite and >= 0"):
            ms.recover(sk, 2, 3, agree_tol=tol)
    with pytest.raises(TypeError, match="agree_tol"):
        ms.recover(sk, 2, 3, agree_tol="0.1")
    with pytest.raises(ValueError, match="max_buckets must be >= 1"):
        ms.recover(sk, 2, 3, decoder="bittest", max_buckets=-1)
    with pytest.raises(TypeError, match="max_buckets"):
        ms.recover(sk, 2, 3, decoder="bittest", max_buckets=1.5)
    with pytest.raises(ValueError, match="max_buckets must be >= 0"):
        ms.bittest_decode(sk.omega()[:, :1], sk, 4, max_buckets=-1)
    with pytest.raises(TypeError, match="refine_subspace must be a bool"):
        ms.recover(sk, 2, 3, refine_subspace="False")  # a truthy string: refined
    with pytest.raises(TypeError, match="refine must be a bool"):
        mamstar_method(A, refine="false")
    assert ms.recover(sk, 2, 3, refine_subspace=np.bool_(False)).info["refined"] is False


def test_the_oracle_support_is_checked_before_the_pass():
    read = []

    def stream():
        read.append(1)
        yield np.array([1, 2, 3]), np.array([2, 1, 3]), np.array([1.0, 1.0, 2.0])

    cases = [([1, 2, 505], ValueError, "support out of range"),
             (np.ones(500, bool), TypeError, "support .*boolean.*flatnonzero"),
             ([], ValueError, "support is empty"),
             ([1.5], TypeError, "support must be integers")]
    for support, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            ms.sparse_top_eigenvectors(stream(), 1, 2, n=500, decoder="oracle",
                                       support=support)
    assert not read
    res = ms.sparse_top_eigenvectors(stream(), 1, 2, n=500, decoder="oracle",
                                     support=[1, 2, 3], primes=[11, 13, 17])
    assert res.success and read


def test_a_sketch_source_refuses_options_that_conflict_or_do_not_apply(tmp_path):
    A = sparse_eigen_problem(500, 2, 3, support="disjoint", seed=1)
    sk = ms.sketch(A, sparsity=3)
    cases = [(dict(n=5000), "n = 5000 but the source is a sketch of N = 500"),
             (dict(primes=[41, 43, 47]), "primes=.*conflicts with the Sketch source"),
             (dict(symmetry="bogus"), "symmetry must be one of"),
             (dict(symmetry="upper"), "symmetry='upper'.*conflict"),
             (dict(bits=4), "bits=4.*conflict"),
             (dict(max_memory=1), "max_memory= does not apply to a Sketch source"),
             (dict(checkpoint=tmp_path), "checkpoint= does not apply")]
    for kw, msg in cases:
        with pytest.raises(ValueError, match=msg):
            ms.sparse_top_eigenvectors(sk, 2, 3, **kw)
        with pytest.raises(ValueError, match=msg):
            ms.sketch(sk, **kw)
    same = dict(n=500, primes=sk.M.primes, matrix=sk.M, symmetry="both", workers=0,
                executor="serial", max_memory=4 * 2**30)
    assert ms.sketch(sk, **same) is sk
    assert ms.sparse_top_eigenvectors(sk, 2, 3, **same).success
    # shard-only and matrix-only options were ignored for other sources
    for kw in (dict(checkpoint=tmp_path / "ck"), dict(executor="dask"), dict(workers=2)):
        with pytest.raises(ValueError, match="applies to shard sources only"):
            ms.sketch(A, sparsity=3, **kw)
    with pytest.raises(ValueError, match="block_rows= applies to matrix"):
        ms.sketch(A, sparsity=3, block_rows=10)
    assert not (tmp_path / "ck").exists()
    with pytest.raises(ValueError, match="matrix= and primes= give different primes"):
        ms.sketch(A, matrix=sk.M, primes=[41, 43, 47])
    with pytest.raises(ValueError, match="max_memory"):
        ms.sketch(A, sparsity=3, max_memory=float("nan"))
    with pytest.raises(TypeError, match="bit_seed"):
        ms.sketch(A, sparsity=3, bits=2, bit_seed=1.5)


def test_sketch_load_checks_the_file_and_names_it(tmp_path):
    import json
    import zipfile

    A = sparse_eigen_problem(500, 2, 3, support="disjoint", seed=1)
    path = ms.sketch(A, primes=[11, 13, 17], bits=2).save(tmp_path / "sk.npz")
    z = dict(np.load(path))
    meta = json.loads(str(z["meta"]))

    def edited(name, **change):
        d = dict(z, **change)
        np.savez(tmp_path / name, **d)
        return tmp_path / name

    bad = [(edited("c.npz", C=z["C"][:-1]), "C must be a real 41 x 41"),
           (edited("cc.npz", C=z["C"] + 1j), "C must be a real"),
           (edited("cn.npz", C=np.where(z["C"] == z["C"].max(), np.nan, z["C"])), "NaN"),
           (edited("y.npz", Y=z["Y"][:3]), r"Y must be a real \(L, m, q\) = \(9, 41"),
           (edited("s.npz", meta=np.array(json.dumps(dict(meta, symmetry="diag")))),
            "symmetry must be one of"),
           (edited("n.npz", meta=np.array(json.dumps(dict(meta, n=100)))), r"Y must.*\(7,"),
           (edited("m.npz", meta=np.array(json.dumps({"n": 500}))), "lacks 'bit_seed'")]
    for p, msg in bad:
        with pytest.raises(ValueError, match=f"{p}: not a valid saved sketch: .*{msg}"):
            ms.Sketch.load(p)
    d = dict(z)
    del d["meta"]
    np.savez(tmp_path / "nometa.npz", **d)
    with pytest.raises(ValueError, match=r"nometa.npz: arrays \['meta'\] are missing"):
        ms.Sketch.load(tmp_path / "nometa.npz")
    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[:len(raw) // 2])
    with pytest.raises(zipfile.BadZipFile, match="trunc.npz"):
        ms.Sketch.load(tmp_path / "trunc.npz")
    assert ms.Sketch.load(path).q == 2


def test_sketch_command_reports_an_unwritable_out_in_one_line(tmp_path, monkeypatch):
    from overparam.cli import main

    np.savez(tmp_path / "a.npz", row=[1, 2], col=[2, 1], value=[1.0, 1.0])

    def full(self, path, **extra):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ms.Sketch, "save", full)
    with pytest.raises(SystemExit) as exc:
        main(["sketch", str(tmp_path / "a.npz"), "--n", "10", "--primes", "5,7",
              "--out", str(tmp_path / "B.npz"), "--no-progress"])
    text = str(exc.value.code)
    assert text.startswith("overparam sketch: --out ") and "No space left" in text
    assert "\n" not in text


def test_public_helpers_refuse_bad_input():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 6))
    for sc in (1.0, 1e-170, 1e200):  # eigh read one triangle: eigenpairs of another B
        with pytest.raises(ValueError, match="B is not symmetric"):
            ms.top_eigenpairs(X * sc, 2)
        assert ms.top_eigenpairs((X + X.T) * sc, 2)[0].size == 2
    with pytest.raises(TypeError, match="rank must be an integer"):
        ms.top_eigenpairs(X + X.T, 1.5)  # crashed ARPACK ("returned NULL")
    M = ms.PrimeMatrix(50, np.array([5, 7, 11]))
    U = rng.standard_normal((M.m, 1))
    with pytest.raises(ValueError, match="keep must be >= 1"):
        ms.median_decode(U, M, 0)
    with pytest.raises(ValueError, match="agree = 4 exceeds the K = 3"):
        ms.median_decode(U, M, 2, agree=4)
    with pytest.raises(ValueError, match="agree must be >= 1"):
        ms.median_decode(U, M, 2, agree=0)
    with pytest.raises(ValueError, match="agree_tol"):
        ms.median_decode(U, M, 2, agree=2, agree_tol=float("nan"))
    with pytest.raises(ValueError, match="candidates out of range: 50"):
        ms.median_decode(U, M, 2, candidates=[1, 50])
    with pytest.raises(TypeError, match="boolean"):
        ms.median_decode(U, M, 2, candidates=np.ones(50, bool))
    with pytest.raises(ValueError, match="count must be >= 0"):
        ms.primes_between(10, -1)
    with pytest.raises(TypeError, match="x must be real"):
        M.matvec(np.ones(50) * 1j)  # the float cast dropped the imaginary part
    with pytest.raises(TypeError, match="values must be real"):
        M.matvec_sparse([1], [1j])


def test_sketch_command_exits_1_when_the_decode_does_not_succeed(tmp_path, monkeypatch,
                                                                  capsys):
    # zero vectors were written with exit status 0
    import overparam.mamstar.api as api
    from overparam.cli import main

    np.savez(tmp_path / "a.npz", row=[1, 2, 3], col=[2, 1, 3], value=[1.0, 1.0, 2.0])
    real = api.recover

    def failing(*args, **kw):
        res = real(*args, **kw)
        res.status, res.message = res.status.NUMERICAL_ERROR, "found no index"
        return res

    monkeypatch.setattr(api, "recover", failing)
    code = main(["sketch", str(tmp_path / "a.npz"), "--n", "10", "--primes", "5,7",
                 "--sparsity", "1", "--rank", "1", "--out", str(tmp_path / "B.npz"),
                 "--no-progress"])
    assert code == 1 and (tmp_path / "B.vectors.npz").exists()
    assert "overparam sketch: found no index" in capsys.readouterr().err


# -- adversarial input: regressions -----------------------------------------------------

def _brute_primes(lo, count):
    out, q = [], lo + 1
    while len(out) < count:
        if q >= 2 and all(q % d for d in range(2, int(q ** 0.5) + 1)):
            out.append(q)
        q += 1
    return out


@pytest.mark.parametrize("lo,count", [(0, 30), (1, 1), (100, 7), (7919, 25), (10**6, 5)])
def test_primes_between_matches_trial_division(lo, count):
    got = ms.primes_between(lo, count)
    assert got.dtype == np.int64 and got.tolist() == _brute_primes(lo, count)


def test_primes_between_and_prime_check_scale_to_large_primes():
    # the sieve covered 0..2 lo (10**12: a 2 TB allocation), the primality check of M
    # divided by every d < sqrt(p) (hung on 10**18 + 3)
    p = ms.primes_between(10**12, 2)
    assert p.tolist() == [10**12 + 39, 10**12 + 61]
    assert ms.primes_between(10**9, 0).size == 0
    assert ms.PrimeMatrix(10, [10**18 + 3]).m == 10**18 + 3
    with pytest.raises(ValueError, match="not prime"):
        ms.PrimeMatrix(10, [(10**9 + 7) * (10**9 + 9)])
    with pytest.raises(ValueError, match="not prime"):
        ms.PrimeMatrix(10, [561])  # a Carmichael number
    with pytest.raises(ValueError, match="2\\*\\*62"):  # m overflowed int64
        ms.PrimeMatrix(10, np.array([2**64 - 59], dtype=np.uint64))


def test_rmatvec_and_bit_products_check_their_shapes():
    M = ms.PrimeMatrix(30, [5, 7, 11])
    u = np.random.default_rng(0).standard_normal(M.m)
    np.testing.assert_allclose(M.rmatvec_at(u, [0, 7]), (M.to_dense().T @ u)[[0, 7]],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="m = 23"):  # read its first m entries silently
        M.rmatvec_at(np.append(u, [1.0, 2.0]), [0, 7])
    with pytest.raises(ValueError, match="2 indices but 3 values"):
        M.bit_matvec_sparse([1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="values must be 1-d"):
        M.matvec_sparse([1, 2], np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="values must be real numbers"):
        M.matvec_sparse([1, 2], ["1", "2"])  # parsed as numbers silently
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        M.matvec(np.ones(30), chunk=-1)  # returned M x = 0


def test_n_bits_and_bits_of_refuse_bad_sizes():
    assert ms.n_bits(1) == 1 and ms.n_bits(np.int64(1024)) == 10 and ms.n_bits(1025) == 11
    np.testing.assert_array_equal(ms.bits_of([5, 0], 3), [[1, 0, 1], [0, 0, 0]])
    for bad in (0, -5):  # 1 and 3 bits, silently
        with pytest.raises(ValueError, match="n must be >= 1"):
            ms.n_bits(bad)
    with pytest.raises(TypeError, match="n must be an integer"):
        ms.n_bits(2.5)
    with pytest.raises(ValueError, match="n_bit must be >= 0"):
        ms.bits_of([3], -1)
    with pytest.raises(ValueError, match="n_bit must be <= 63"):
        ms.bits_of([3], 64)
    with pytest.raises(ValueError, match="non-negative"):  # two's complement bits
        ms.bits_of([-1], 3)


def test_median_decode_refuses_bad_chunk_scale_and_u():
    M = ms.PrimeMatrix(30, [5, 7, 11])
    U = np.random.default_rng(1).standard_normal((M.m, 2))
    i1, v1 = ms.median_decode(U, M, 4, chunk=3)
    i2, v2 = ms.median_decode(U, M, 4)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(v1, v2, rtol=1e-12)
    for chunk in (0, -1):  # numpy errors ("negative dimensions are not allowed")
        with pytest.raises(ValueError, match="chunk must be >= 1"):
            ms.median_decode(U, M, 4, chunk=chunk)
    with pytest.raises(ValueError, match="scale"):  # every value NaN
        ms.median_decode(U, M, 4, scale=np.nan)
    with pytest.raises(TypeError, match="U must be real"):  # imaginary part dropped
        ms.median_decode(U * (1 + 1j), M, 4)
    with pytest.raises(ValueError, match="U must be"):
        ms.median_decode(np.zeros((M.m, 2, 2)), M, 4)
    idx, vals = ms.median_decode(np.zeros((M.m, 0)), M, 4)  # ZeroDivisionError
    assert idx.shape == vals.shape == (0, 0)


def test_canonical_sign_refuses_complex_and_scalars():
    np.testing.assert_array_equal(ms.canonical_sign([1.0, -3.0]), [-1.0, 3.0])
    with pytest.raises(TypeError, match="U must be real"):
        ms.canonical_sign(np.array([1 + 1j, -2j]))
    with pytest.raises(ValueError, match="U must be a vector"):
        ms.canonical_sign(3.0)


def test_bittest_and_refine_check_their_inputs():
    A = sparse_eigen_problem(500, 2, 3, support="overlapping", seed=2)
    sk = ms.sketch(A, sparsity=3, bits=6)
    _, U = ms.top_eigenpairs(sk.B, 2)
    assert ms.bittest_candidates(U, sk).size >= 3
    with pytest.raises(ValueError, match="rcond"):  # no candidates, silently
        ms.bittest_candidates(U, sk, rcond=np.nan)
    with pytest.raises(ValueError, match="rcond"):
        ms.bittest_candidates(U, sk, rcond=-1.0)
    with pytest.raises(ValueError, match="U contains NaN"):  # no candidates, silently
        ms.bittest_candidates(U * np.nan, sk)
    with pytest.raises(ValueError, match=f"m = {sk.m}"):
        ms.bittest_candidates(U[:-3], sk)
    with pytest.raises(TypeError, match="must be a Sketch"):
        ms.bittest_candidates(U, sk.B)
    with pytest.raises(ValueError, match="keep must be >= 1"):  # named max_buckets
        ms.bittest_decode(U, sk, -1)
    idx, vals = ms.median_decode(U, sk.M, 6)
    assert ms.refine(sk.B, sk.M, idx, vals) is not None
    with pytest.raises(ValueError, match="one shape"):
        ms.refine(sk.B, sk.M, idx[:, 0], vals[:, 0])
    with pytest.raises(ValueError, match="B must be m x m"):
        ms.refine(np.eye(5), sk.M, idx, vals)


def test_sketch_refuses_strings_3d_vectors_and_fractional_seeds():
    M = ms.PrimeMatrix(2, [2, 3])
    with pytest.raises(TypeError, match="numeric"):  # '1' parsed as 1.0 silently
        ms.sketch_matrix(np.array([["1", "0"], ["0", "1"]]), M)
    with pytest.raises(TypeError, match="numeric"):
        ms.top_eigenpairs(np.array([["1", "0"], ["0", "1"]]), 1)
    M = ms.PrimeMatrix(30, [5, 7, 11])
    with pytest.raises(ValueError, match="N x r"):  # flat indices up to N r s
        ms.sketch_factored([1.0, 2.0], np.full((30, 2, 2), 0.1), M)
    with pytest.raises(TypeError, match="bit_seed"):  # recorded as seed 1
        ms.Sketch.empty(M, bits=2, bit_seed=1.7)
    with pytest.raises(ValueError, match="bit_seed"):
        ms.Sketch.empty(M, bits=2, bit_seed=-1)


def test_sketch_check_and_sums_refuse_bad_parts():
    M = ms.PrimeMatrix(30, [5, 7, 11])
    sk = ms.Sketch.empty(M, bits=2)
    sk.C[0, 0] = 1.0
    sk.check()
    sk.Y[0, 0, 0] = np.nan  # passed the check
    with pytest.raises(ValueError, match="non-finite"):
        sk.check()
    a = ms.sketch_factored([1.0], [([1, 4], [0.6, 0.8])], M)
    assert sum([a, a]).n_entries == 4
    with pytest.raises(TypeError, match="Sketch"):  # AttributeError
        a.iadd_(3)
    with pytest.raises(TypeError):  # an object array of sketches
        np.zeros(2) + a
    with pytest.raises(TypeError):
        a + np.zeros(2)


def test_operator_with_nonfinite_test_products_is_refused():
    rng = np.random.default_rng(3)
    D = rng.standard_normal((60, 60))
    D = D + D.T
    M = ms.PrimeMatrix(60, [7, 11, 13])

    def matmat(X):
        out = D @ X
        if not np.all(np.isin(X, (0.0, 1.0))):
            out[0, 0] = np.nan  # NaN only for the Gaussian test vectors
        return out

    from scipy.sparse.linalg import LinearOperator
    op = LinearOperator((60, 60), matvec=lambda x: D @ x, matmat=matmat, dtype=float)
    Md = M.to_dense()
    np.testing.assert_allclose(ms.sketch_operator(op, M).B, Md @ D @ Md.T / M.K,
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="non-finite"):  # NaN bit-test sums passed
        ms.sketch_operator(op, M, bits=3)
    with pytest.raises(ValueError, match="non-finite"):
        ms.sketch_operator(op, M, bits=3, check=False)


def test_recover_message_says_how_many_vectors_were_decoded():
    A = sparse_eigen_problem(2000, 3, 4, support="overlapping", seed=0)
    res = ms.sparse_top_eigenvectors(A, 3, 4, n_decode=1)
    assert res.x.shape[1] == 1 and "first 1 of the top 3" in res.message  # said "top 3"
    full = ms.sparse_top_eigenvectors(A, 3, 4)
    assert full.x.shape[1] == 3 and full.message.startswith("top 3 eigenvectors")
