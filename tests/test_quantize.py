"""Vertex pre-processing, MSQ, GPFQ, layers and networks (overparam.quantize)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import overparam
from overparam.quantize import (
    alphabet,
    cells,
    gpfq,
    layer,
    msq,
    msq_round,
    quantize_network,
    vertex,
    vertex_box,
)


def _off_faces(z, lo, hi, tol=1e-9):
    return (z - lo > tol) & (hi - z > tol)


def _gaussian(m, N, n=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, N))
    w = rng.uniform(-1, 1, N if n is None else (N, n))
    return X, w


# -- alphabet --------------------------------------------------------------------------------

def test_alphabet_and_rounding():
    assert np.allclose(alphabet(1), [-1, 1])
    assert np.allclose(alphabet(2, 3.0), [-3, -1, 1, 3])
    x = np.array([-5.0, -0.4, 0.0, 0.34, 0.9, 2.0])
    q = msq_round(x, 2, 1.0)
    lv = alphabet(2)
    brute = lv[np.argmin(np.abs(x[:, None] - lv[None, :]), axis=1)]
    assert np.allclose(q, brute)
    lo, hi = cells(np.array([-1.0, -0.5, 1 / 3, 0.9]), 2, 1.0)
    assert np.allclose(lo, [-1, -1, 1 / 3, 1 / 3]) and np.allclose(hi, [-1, -1 / 3, 1 / 3, 1])


@settings(max_examples=15)
@given(bits=st.integers(1, 5), scale=st.floats(0.1, 10.0), seed=st.integers(0, 2**16))
def test_msq_round_is_the_nearest_level(bits, scale, seed):
    x = np.random.default_rng(seed).uniform(-1.5 * scale, 1.5 * scale, 50)
    lv = alphabet(bits, scale)
    brute = lv[np.argmin(np.abs(x[:, None] - lv[None, :]), axis=1)]
    q = msq_round(x, bits, scale)
    assert np.allclose(np.abs(x - q), np.abs(x - brute))   # ties may go either way


# -- the vertex ------------------------------------------------------------------------------

@pytest.mark.parametrize("m,N,bits", [(5, 40, 1), (12, 60, 2), (30, 200, 3), (8, 300, 2)])
def test_vertex_is_feasible_with_at_most_rank_free_coordinates(m, N, bits):
    X, w = _gaussian(m, N, seed=m + N)
    res = vertex(X, w, bits, 1.0)
    z = res.x
    lo, hi = cells(w, bits, 1.0)
    assert np.all(z >= lo - 1e-12) and np.all(z <= hi + 1e-12)       # in the cells of w
    assert np.abs(X @ z - X @ w).max() <= 1e-10                        # Xz = Xw
    free = _off_faces(z, lo, hi)
    assert free.sum() <= np.linalg.matrix_rank(X) == m
    off_alphabet = np.abs(z - msq_round(z, bits, 1.0)) > 1e-9
    assert off_alphabet.sum() <= m
    assert res.info["n_free"] == free.sum() and res.success
    # a vertex (basic solution): the columns of X on the free coordinates are independent
    assert np.linalg.matrix_rank(X[:, free]) == free.sum()


def test_vertex_many_columns_and_windows_match_constraints():
    X, W = _gaussian(20, 400, n=7, seed=3)
    for window in (None, 50):   # full tableau and windowed basis-inverse modes
        res = vertex(X, W, 2, 1.0, window=window, block=8)
        Z = res.x
        assert Z.shape == W.shape
        assert np.abs(X @ Z - X @ W).max() <= 1e-10
        lo, hi = cells(W, 2, 1.0)
        assert np.all(_off_faces(Z, lo, hi).sum(axis=0) <= 20)


def test_single_vector_walk_matches_the_blocked_walk():
    # one vector with N - r > 4 r takes the explicit-inverse path; window= forces the blocked
    # one; both follow the same pivot rule
    X, w = _gaussian(6, 400, seed=11)
    a = vertex(X, w, 2, 1.0)
    b = vertex(X, w, 2, 1.0, window=50)
    assert np.abs(X @ a.x - X @ w).max() <= 1e-10 and a.info["n_free"] <= 6
    assert np.allclose(a.x, b.x, atol=1e-9) and a.info["pivots"] == b.info["pivots"]


def test_vertex_of_a_zero_X_is_a_corner():
    res = vertex(np.zeros((2, 6)), np.array([0.1, -0.2, 0.9, -1.0, 0.0, 0.4]), 1, 1.0)
    assert np.allclose(np.abs(res.x), 1.0) and res.info["rank"] == 0


def test_vertex_rank_deficient_X_counts_rank_not_rows():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 3)) @ rng.standard_normal((3, 50))   # rank 3
    w = rng.uniform(-1, 1, 50)
    res = vertex(X, w, 1, 1.0)
    assert res.info["rank"] == 3
    lo, hi = cells(w, 1, 1.0)
    assert _off_faces(res.x, lo, hi).sum() <= 3
    assert np.abs(X @ res.x - X @ w).max() <= 1e-10


def test_vertex_agrees_with_highs_on_the_vertex_properties():
    X, w = _gaussian(6, 30, seed=9)
    lo, hi = -np.ones(30), np.ones(30)
    for solver in ("pivot", "highs"):
        res = vertex_box(X, w, lo, hi, solver=solver, seed=1)
        assert np.abs(X @ res.x - X @ w).max() <= 1e-9
        assert _off_faces(res.x, lo, hi).sum() <= 6


def test_negative_control_a_perturbed_vertex_fails_the_checks():
    X, w = _gaussian(5, 40, seed=2)
    z = vertex(X, w, 1, 1.0).x
    bad = z.copy()
    bad[np.argmax(np.abs(z) == 1.0)] = 0.5        # move a coordinate off its face
    lo, hi = cells(w, 1, 1.0)
    assert np.abs(X @ bad - X @ w).max() > 1e-10 or _off_faces(bad, lo, hi).sum() > 5


@settings(max_examples=10)
@given(m=st.integers(1, 6), extra=st.integers(1, 30), bits=st.integers(1, 3),
       seed=st.integers(0, 2**16))
def test_vertex_invariants_hypothesis(m, extra, bits, seed):
    X, w = _gaussian(m, m + extra, seed=seed)
    res = vertex(X, w, bits, 1.0)
    lo, hi = cells(w, bits, 1.0)
    assert np.abs(X @ res.x - X @ w).max() <= 1e-10
    assert _off_faces(res.x, lo, hi).sum() <= m
    assert np.all(res.x >= lo - 1e-12) and np.all(res.x <= hi + 1e-12)


def _check_pool_result(X, W, c, bits, Z, rank):
    """The properties MSQ's bound needs, checked directly: Xz = Xw, |z| <= c, at most rank
    entries off the alphabet, and those entries' columns independent (a basic solution)."""
    Z = np.reshape(Z, W.shape)
    assert np.abs(X @ (Z - W)).max() <= 1e-10 * max(1.0, np.abs(X @ W).max())
    assert np.all(np.abs(Z) <= c * (1 + 1e-12))
    Zc = Z.reshape(W.shape[0], -1)
    lo, hi = cells(Zc, bits, np.broadcast_to(c, (Zc.shape[1],))[None, :], tol=1e-9)
    for i in range(Zc.shape[1]):
        free = np.nonzero(hi[:, i] > lo[:, i])[0]
        assert free.size <= rank
        assert np.linalg.matrix_rank(X[:, free]) == free.size


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_pool_solver_returns_points_with_the_vertex_properties(bits):
    # N - rank = 292 > 2 * pool: the shared pool, the greedy levels and the pool walk run
    X, w = _gaussian(8, 300, n=12, seed=bits)
    res = vertex(X, w, bits, 1.0, solver="pool")
    assert res.info["solver"] == "pool" and res.info["pool"] == 32
    assert res.status.name == "CONVERGED"
    _check_pool_result(X, w, 1.0, bits, res.x, 8)
    assert np.all(res.info["n_free"] <= 8)


def test_pool_solver_on_a_layer_size_and_rank_deficient_X():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 12)) @ rng.standard_normal((12, 400))   # rank 12
    W = rng.standard_normal((400, 6))
    c = np.abs(W).max(axis=0)
    res = vertex(X, W, 2, solver="pool", pool=40)
    assert res.info["rank"] == 12
    for i in range(6):
        _check_pool_result(X, W[:, i], c[i], 2, res.x[:, i], 12)


def test_pool_solver_falls_back_to_the_exact_walk_when_the_pool_cannot_absorb():
    # one bit with a tiny pool: corrections of a whole alphabet range cannot be absorbed, so
    # neurons are retried with a 4x pool and then walked exactly in the cells of w
    X, w = _gaussian(10, 400, n=4, seed=1)
    res = vertex(X, w, 1, 1.0, solver="pool", pool=3)
    assert res.info["retried"] == 2 and res.info["fallback"] == 2
    _check_pool_result(X, w, 1.0, 1, res.x, 10)
    fell = [i for i in range(4)
            if np.allclose(res.x[:, i], vertex(X, w[:, i], 1, 1.0).x, atol=1e-9)]
    assert len(fell) >= 2   # the exact walk's own vertex for the neurons that fell back


def test_compiled_pool_walk_equals_the_numpy_walk():
    # the Numba kernel (explicit tableau per neuron) against the vectorized NumPy walk
    # (product-form updates): same pivot rule, so the same vertices and pivot counts
    pytest.importorskip("numba")
    from overparam.quantize._pool import pool_vertex
    from overparam.quantize.vertex import reduce_rows

    X, W = _gaussian(12, 260, n=9, seed=11)
    red = reduce_rows(X)
    c = np.abs(W).max(axis=0)
    Zc, ic = pool_vertex(red, W, c, 2, compiled=True)
    Zn, inp = pool_vertex(red, W, c, 2, compiled=False)
    assert ic["pivots"] == inp["pivots"] > 0
    assert np.abs(Zc - Zn).max() <= 1e-10
    _check_pool_result(X, W, c, 2, Zc.T, 12)


def test_pool_solver_negative_control():
    # the checks can fail: plain MSQ of w breaks Xz = Xw, and a pool point with one more
    # entry moved off its level breaks the count or the constraint
    X, w = _gaussian(8, 300, seed=3)
    res = vertex(X, w, 2, 1.0, solver="pool")
    with pytest.raises(AssertionError):
        _check_pool_result(X, w, 1.0, 2, msq_round(w, 2, 1.0), 8)
    z = res.x.copy()
    on = np.nonzero(~res.info["free"])[0][0]
    z[on] += 0.1
    with pytest.raises(AssertionError):
        _check_pool_result(X, w, 1.0, 2, z, 8)


def test_pool_solver_rejects_bad_options():
    X, w = _gaussian(5, 200, seed=0)
    with pytest.raises(TypeError, match="solver='pool' takes no"):
        vertex(X, w, 2, 1.0, solver="pool", block=8)
    with pytest.raises(ValueError, match="solver must be"):
        vertex(X, w, 2, 1.0, solver="simplex")
    with pytest.raises(ValueError, match="range"):
        vertex(X, 2 * w, 2, 1.0, solver="pool")


def _mixed_units(seed=0):
    """Full-rank Gaussian features in different units (column scales 1e-6 .. 1e5)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 160)) * 10.0 ** rng.integers(-6, 6, size=160)
    return X, rng.standard_normal((160, 4))


def _small_features(seed=0):
    """A 15-dimensional main part plus 5 generic features at 1e-7 (full rank, cond ~1e9)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((20, 15)) @ rng.standard_normal((15, 200))
    X[:, :5] = 1e-7 * rng.standard_normal((20, 5))
    return X, rng.uniform(-1, 1, (200, 2))


@pytest.mark.parametrize("data", [_mixed_units, _small_features])
@pytest.mark.parametrize("bits", [1, 2])
def test_pool_solver_on_full_rank_data_of_mixed_scales(data, bits):
    # the pool's A_P^+ came from Cholesky of A_P A_P^T (the condition number squared):
    # LinAlgError "not positive definite" on both, for every trial of the first
    X, W = data()
    c = np.abs(W).max(axis=0)
    res = vertex(X, W, bits, solver="pool")
    assert res.status.name == "CONVERGED" and res.info["rank"] == X.shape[0]
    _check_pool_result(X, W, c, bits, res.x, X.shape[0])
    lay = layer(W, X, bits)
    assert lay.status.name == "CONVERGED" and np.all(np.isfinite(lay.info["rel_error"]))


@pytest.mark.parametrize("bits,pool", [(2, None), (1, None), (1, 2)])
def test_pool_solver_takes_the_rank_of_the_plain_reduction(bits, pool):
    # rank-3 data plus two generic columns of norm 1e-15 (numerically zero): rescaling X
    # by ||X_j||^-1.5 made them rank 5 and the pool's basis; the result then broke
    # Xz = Xw (max |X(z - w)| = 2.7) while reporting CONVERGED, or mismatched the bases
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 3)) @ rng.standard_normal((3, 200))
    X[:, :2] = 1e-15 * rng.standard_normal((5, 2))
    W = rng.uniform(-1, 1, (200, 4))
    res = vertex(X, W, bits, 1.0, solver="pool", pool=pool)
    assert res.info["rank"] == vertex(X, W, bits, 1.0).info["rank"] == 3
    assert res.status.name == "CONVERGED" and np.all(res.info["n_free"] <= 3)
    assert np.abs(X @ (res.x - W)).max() <= 1e-10 * np.abs(X @ W).max()


@pytest.mark.parametrize("solver", ["pivot", "pool"])
def test_a_broken_constraint_is_not_reported_as_converged(solver, monkeypatch):
    # a walk that returns z with Xz != Xw but few entries off the levels: the status used
    # to check only that count
    import importlib

    pool_mod = importlib.import_module("overparam.quantize._pool")
    vertex_mod = importlib.import_module("overparam.quantize.vertex")  # not the function
    X, W = _gaussian(6, 120, n=3, seed=2)

    def shift(Z):  # move one entry on a level to the next level: Xz changes
        j = int(np.argmax(np.isclose(np.abs(Z[1]), 1.0)))
        Z[1, j] -= np.sign(Z[1, j]) * 2.0 / 3.0
        return Z

    if solver == "pool":
        orig = pool_mod.pool_vertex
        monkeypatch.setattr(pool_mod, "pool_vertex",
                            lambda *a, **k: (lambda z, i: (shift(z), i))(*orig(*a, **k)))
    else:
        orig = vertex_mod.walk_chunked
        monkeypatch.setattr(vertex_mod, "_refine", lambda *a: np.zeros(0, dtype=int))
        monkeypatch.setattr(vertex_mod, "walk_chunked", lambda *a, **k: (
            lambda z, b, p: (shift(z), b, p))(*orig(*a, **k)))
    res = vertex(X, W, 2, 1.0, solver=solver)
    assert np.all(res.info["n_free"] <= 6)
    assert res.status.name == "NUMERICAL_ERROR" and "Xz = Xw" in res.message
    lay = layer(W, X, 2, scale=1.0, solver=solver)     # layer passes the status on
    assert lay.status.name == "NUMERICAL_ERROR"


def test_pool_solver_walks_neurons_with_a_broken_constraint_exactly(monkeypatch):
    # a pool pass that breaks A z = A w but says ok (an ill-conditioned pool basis), or
    # whose shared factorization fails: those neurons get the exact walk
    import overparam.quantize._pool as pool_mod

    X, W = _gaussian(8, 300, n=4, seed=5)
    exact = vertex(X, W, 2, 1.0).x
    orig = pool_mod._pass

    def broken(*a, **k):
        Z, b, lo, hi, ok, p = orig(*a, **k)
        Z[::2] = np.where(hi > lo, (lo + hi) / 2, Z)[::2]  # neurons 0, 2: free entries moved
        return Z, b, lo, hi, ok, p

    monkeypatch.setattr(pool_mod, "_pass", broken)
    res = vertex(X, W, 2, 1.0, solver="pool")
    assert res.status.name == "CONVERGED" and res.info["fallback"] == 2
    _check_pool_result(X, W, 1.0, 2, res.x, 8)
    assert np.allclose(res.x[:, ::2], exact[:, ::2], atol=1e-9)

    def singular(*a, **k):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(pool_mod, "_pass", orig)
    monkeypatch.setattr(pool_mod, "sla", SimpleNamespace(solve_triangular=singular))
    res = vertex(X, W, 2, 1.0, solver="pool")
    assert res.status.name == "CONVERGED" and res.info["fallback"] == 4
    assert np.allclose(res.x, exact, atol=1e-9)


def test_pool_solver_counts_free_entries_at_24_bits():
    # the count used tol=1e-9 steps, below the rounding of (z + c) / step at 2^24 levels
    # (~4e-9): 30, 19, 17 "free" entries and NUMERICAL_ERROR for 10 actually off
    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((10, 300)), rng.standard_normal((300, 3))
    c = np.abs(W).max(axis=0)
    res = vertex(X, W, 24, solver="pool")
    off = (np.abs(res.x - msq_round(res.x, 24, c[None, :])) > 1e-12 * c).sum(axis=0)
    assert res.status.name == "CONVERGED"
    assert np.array_equal(res.info["n_free"], off) and np.all(off == 10)
    assert np.all(layer(W, X, 24).info["n_free"] == 10)


@pytest.mark.parametrize("solver", ["pivot", "pool"])
def test_msq_error_of_the_vertex_lives_on_the_free_coordinates(solver):
    X, w = _gaussian(15, 120, seed=4)
    res = layer(w, X, bits=2, method="vertex-msq", scale=1.0, solver=solver)
    z = vertex(X, w, 2, 1.0, solver=solver).x
    q = res.x
    assert np.allclose(q, msq_round(z, 2, 1.0))
    lo, hi = cells(z, 2, 1.0, tol=1e-9)
    support = np.nonzero(np.abs(z - q) > 1e-12)[0]
    assert set(support) <= set(np.nonzero(_off_faces(z, lo, hi))[0])
    assert support.size <= 15
    # X(w - q) = X(z - q): the whole output error comes from those coordinates
    assert np.allclose(X @ (w - q), X[:, support] @ (z - q)[support], atol=1e-10)


# -- GPFQ ------------------------------------------------------------------------------------

def _gpfq_direct(w, X, bits, c, Xq=None):
    """GPFQ written out literally for one neuron (Lybrand & Saab 2021)."""
    Xq = X if Xq is None else Xq
    lv = alphabet(bits, c)
    u = np.zeros(X.shape[0])
    q = np.zeros_like(w)
    for t in range(X.shape[1]):
        v = Xq[:, t] @ (u + w[t] * X[:, t]) / (Xq[:, t] @ Xq[:, t])
        q[t] = lv[np.argmin(np.abs(lv - v))]
        u = u + w[t] * X[:, t] - q[t] * Xq[:, t]
    return q


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_gpfq_matches_a_direct_implementation(bits):
    rng = np.random.default_rng(bits)
    X = rng.standard_normal((6, 10))
    Xq = X + 0.1 * rng.standard_normal((6, 10))
    W = rng.standard_normal((10, 3))
    c = np.abs(W).max(axis=0)
    for xq in (None, Xq):
        Q = gpfq(W, X, bits, Xq=xq)
        for k in range(3):
            assert np.allclose(Q[:, k], _gpfq_direct(W[:, k], X, bits, c[k], xq))
    # negative control: a different alphabet gives a different answer
    assert not np.allclose(gpfq(W, X, bits + 1), gpfq(W, X, bits))


# -- layers ----------------------------------------------------------------------------------

def test_layer_methods_on_gaussian_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 400))
    W = rng.standard_normal((400, 4))
    errs = {}
    for meth in overparam.quantize.LAYER_METHODS:
        res = overparam.quantize.layer(W, X, bits=2, method=meth)
        Q = res.x
        c = np.abs(W).max(axis=0)
        assert np.allclose(Q, msq_round(Q, 2, c[None, :]))   # on the alphabet
        errs[meth] = float(np.mean(res.info["rel_error"]))
    assert errs["vertex-msq"] < 0.5 * errs["msq"]   # m/N = 1/20: far fewer rounded entries
    assert np.allclose(msq(W, 2), layer(W, X, 2, "msq").x)


def test_vertex_msq_error_decays_with_N():
    rng = np.random.default_rng(5)
    m, errs = 10, []
    for N in (40, 160, 640):
        X, W = rng.standard_normal((m, N)), rng.uniform(-1, 1, (N, 8))
        errs.append(np.mean(layer(W, X, 2, "vertex-msq", scale=1.0).info["rel_error"]))
    assert errs[2] < errs[1] < errs[0]
    assert errs[2] < 0.5 * errs[0]


# -- networks --------------------------------------------------------------------------------

def test_quantize_network_feeds_quantized_activations_forward():
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((30, 40)) / 5, rng.standard_normal(40) / 10),
              (rng.standard_normal((40, 5)) / 6, np.zeros(5))]
    X = rng.random((50, 30))
    for meth in overparam.quantize.LAYER_METHODS:
        res = quantize_network(params, X, bits=3, method=meth)
        qp = res.info["params"]
        assert res.x.size == 30 * 40 + 40 * 5
        assert [s["samples"] for s in res.info["layers"]] == [15, 20]
        if meth == "vertex-msq":   # layer 2 keeps the quantized network's outputs on its rows
            h = np.maximum(X[:20] @ qp[0][0] + params[0][1], 0.0)
            z = vertex(h, params[1][0], 3).x
            assert np.allclose(qp[1][0], msq_round(z, 3, np.abs(params[1][0]).max(axis=0)))


def test_digits_mlp_trains_and_quantizes_tiny():
    task = overparam.quantize.digits_mlp(32, epochs=3, seed=0)
    assert task.test_accuracy > 0.5
    res = quantize_network(task.params, task.X_train, bits=4, method="vertex-msq")
    acc = overparam.quantize.accuracy(res.info["params"], task.X_test, task.y_test)
    assert acc > task.test_accuracy - 0.15


# -- bad input -------------------------------------------------------------------------------

def test_bad_input_gives_clear_errors():
    X, w = _gaussian(5, 20)
    with pytest.raises(ValueError, match="more columns than rows"):
        vertex(np.ones((20, 5)), np.ones(5))
    with pytest.raises(ValueError, match="more columns than rows"):
        layer(np.ones((5, 2)), np.ones((8, 5)), 2, "vertex-msq")
    with pytest.raises(ValueError, match="non-finite"):
        layer(np.full(20, np.nan), X, 2)
    with pytest.raises(ValueError, match="non-finite"):
        vertex(X, np.where(np.arange(20) == 3, np.nan, w))
    with pytest.raises(ValueError, match="bits must be >= 1"):
        layer(w, X, 0)
    with pytest.raises(TypeError, match="bits must be an integer"):
        layer(w, X, 1.5)
    with pytest.raises(ValueError, match="method must be"):
        layer(w, X, 2, "rounding")
    with pytest.raises(ValueError, match="rows"):
        layer(np.ones(7), X, 2)
    with pytest.raises(ValueError, match="outside the alphabet"):
        vertex(X, w, 2, scale=0.1)
    with pytest.raises(ValueError, match="inside the box"):
        vertex_box(X, w, -0.1, 0.1)
    with pytest.raises(ValueError, match="solver"):
        vertex(X, w, solver="simplex")
    with pytest.raises(ValueError, match="samples_per_input"):
        quantize_network([(np.ones((3, 2)), np.zeros(2))], np.ones((4, 3)), 2,
                         samples_per_input=2.0)


@pytest.mark.parametrize("method", ["vertex-msq", "msq", "gpfq"])
def test_complex_input_is_refused(method):
    # complex weights were accepted: MSQ and vertex-MSQ dropped the imaginary part (with
    # only a ComplexWarning), GPFQ failed with a NumPy casting error
    X, W = _gaussian(5, 30, n=2)
    with pytest.raises(TypeError, match="W must be real"):
        layer(W + 1j, X, 2, method)
    with pytest.raises(TypeError, match="X must be real"):
        layer(W, X + 0j, 2, method)
    with pytest.raises(TypeError, match="must be real"):
        quantize_network([(W + 1j, np.zeros(2))], X, 2, method)


def test_complex_input_is_refused_by_the_building_blocks():
    X, w = _gaussian(5, 30)
    with pytest.raises(TypeError, match="w must be real"):
        vertex(X, w + 1j)
    with pytest.raises(TypeError, match="real"):
        msq(w + 1j, 2)
    with pytest.raises(TypeError, match="real"):
        msq_round(w + 1j, 2, 1.0)
    with pytest.raises(TypeError, match="real"):
        cells(w + 1j, 2, 1.0)
    with pytest.raises(TypeError, match="scale must be real"):
        layer(w, X, 2, scale=1.0 + 0j)


@pytest.mark.parametrize("method", ["vertex-msq", "msq", "gpfq"])
def test_scale_of_the_wrong_length_is_a_clear_error(method):
    X, W = _gaussian(5, 30, n=3)
    with pytest.raises(ValueError, match=r"one entry per column \(3\), got shape \(2,\)"):
        layer(W, X, 2, method, scale=[1.0, 2.0])
    with pytest.raises(ValueError, match="one entry per column"):
        layer(W, X, 2, method, scale=np.ones((3, 1)))
    # one value, or one per column, still work
    assert layer(W, X, 2, method, scale=[1.0]).info["scale"].shape == (3,)
    assert np.allclose(layer(W, X, 2, method, scale=[1.0, 1.0, 1.0]).x,
                       layer(W, X, 2, method, scale=1.0).x)


@pytest.mark.parametrize("method", ["msq", "gpfq"])
def test_methods_without_a_vertex_refuse_vertex_options(method):
    # solver=, block=, ... were ignored silently by MSQ and GPFQ
    X, W = _gaussian(5, 30, n=2)
    for kw in (dict(solver="pivot"), dict(block=8), dict(pool=4),
               dict(solver="pool", windw=3)):
        with pytest.raises(TypeError, match="computes no vertex"):
            layer(W, X, 2, method, **kw)
    # the defaults are accepted (a loop over methods may pass them to all)
    assert np.allclose(layer(W, X, 2, method, solver="pool", block=32).x,
                       layer(W, X, 2, method).x)
    with pytest.raises(TypeError, match="computes no vertex"):
        quantize_network([(W, np.zeros(2))], X, 2, method, solver="pivot")


# -- scale: data and weights near 1e+-200 ---------------------------------------------------

@pytest.mark.parametrize("s", [2.0**-700, 1e-200, 1e200, 2.0**700])
def test_gpfq_is_invariant_to_scaling_the_data(s):
    # ||X_t||^2 overflowed at 1e200 (NaN weights, rel_error NaN) and underflowed at 1e-200
    # (every column "zero": plain MSQ); Q must not depend on the scale of X (and Xq)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((12, 40))
    Xq = X + 0.1 * rng.standard_normal(X.shape)
    W = rng.uniform(-1, 1, (40, 3))
    with np.errstate(all="raise"):
        for xq in (None, Xq):
            Q0 = gpfq(W, X, 2, Xq=xq)
            Q = gpfq(W, s * X, 2, Xq=None if xq is None else s * xq)
            assert np.array_equal(Q, Q0)
        res0, res = layer(W, X, 2, "gpfq"), layer(W, s * X, 2, "gpfq")
    assert np.array_equal(res.x, res0.x)
    assert np.allclose(res.info["rel_error"], res0.info["rel_error"], rtol=1e-12)
    # not plain MSQ: the error feedback is at work
    assert np.all(res.info["rel_error"] < layer(W, X, 2, "msq").info["rel_error"])


def test_gpfq_with_a_tiny_column_matches_a_long_double_direct_implementation():
    # X at 1e200 with one column 1e-170 times the others: ||X_t||^2 overflowed, and for
    # that column it underflows even once the whole X is rescaled (v = w, MSQ's level).
    # Oracle: the literal loop in long double (exponent range 1e+-4932, no over/underflow)
    rng = np.random.default_rng(6)
    X = rng.standard_normal((6, 10))
    X[:, 3] *= 1e-170
    X *= 1e200
    Xq = X * (1 + 0.1 * rng.standard_normal(X.shape))
    W = rng.uniform(-1, 1, (10, 4))
    c = np.abs(W).max(axis=0)
    def direct(w, X, c, Xq):   # as _gpfq_direct; v clipped first (|lv - v| ties at 1e169)
        X, Xq = X.astype(np.longdouble), Xq.astype(np.longdouble)
        lv, u, q = alphabet(2, c), np.zeros(X.shape[0], dtype=np.longdouble), np.zeros(10)
        for t in range(X.shape[1]):
            v = np.clip(Xq[:, t] @ (u + w[t] * X[:, t]) / (Xq[:, t] @ Xq[:, t]), -c, c)
            q[t] = lv[np.argmin(np.abs(lv - v))]
            u = u + w[t] * X[:, t] - q[t] * Xq[:, t]
        return q

    for xq in (None, Xq):
        Q = gpfq(W, X, 2, Xq=xq)
        for k in range(4):
            ref = direct(W[:, k], X, c[k], X if xq is None else xq)
            assert np.allclose(Q[:, k], ref, rtol=1e-14, atol=0)   # the same levels
    # the tiny column is not at MSQ's level for every neuron (v is far outside the range)
    assert np.any(gpfq(W, X, 2)[3] != msq(W, 2)[3])


@pytest.mark.parametrize("t", [2.0**-900, 1e-300, 1e300, 2.0**900])
def test_gpfq_and_msq_scale_with_the_weights(t):
    X, W = _gaussian(8, 30, n=3, seed=4)
    for f in (lambda V: gpfq(V, X, 2), lambda V: msq(V, 2)):
        Q0, Q = f(W), f(t * W)
        if np.log2(t).is_integer():
            assert np.array_equal(Q, t * Q0)      # exact scaling: bit for bit
        else:
            assert np.allclose(Q / t, Q0, rtol=1e-13, atol=0)


@pytest.mark.parametrize("bits", [1, 2, 12])
@pytest.mark.parametrize("c", [1.5e308, 1e-310])
def test_msq_round_and_cells_at_extreme_scales(bits, c):
    # 2 c / n and x + c overflowed near 1e308 (NaN levels); a subnormal scale lost digits
    rng = np.random.default_rng(bits)
    u = rng.uniform(-1.2, 1.2, 200)
    x = u * c
    lv = alphabet(bits, 1.0)
    brute = lv[np.argmin(np.abs((x / c)[:, None] - lv[None, :]), axis=1)]
    with np.errstate(over="raise", invalid="raise"):
        q = msq_round(x, bits, c)
    assert np.all(np.isfinite(q))
    assert np.allclose(np.abs(x / c - q / c), np.abs(x / c - brute), rtol=0, atol=1e-6)
    inside = np.clip(x, -c, c)
    lo, hi = cells(inside, bits, c)
    lo1, hi1 = cells(np.clip(u, -1, 1), bits, 1.0)
    rel = 1e-6 if c < 1e-300 else 1e-12       # subnormal: few digits
    assert np.allclose(lo / c, lo1, rtol=0, atol=rel) and np.allclose(hi / c, hi1, rtol=0,
                                                                       atol=rel)


def test_cells_refuses_nan():
    # NaN entries passed the range check and gave NaN cells
    with pytest.raises(ValueError, match="NaN"):
        cells(np.array([0.5, np.nan]), 2, 1.0)


@pytest.mark.parametrize("solver", ["pivot", "pool", "highs"])
def test_vertex_scales_with_w_and_not_with_X(solver):
    # the walk's tolerances were absolute: w ~ 1e-20 stopped at n_free = 0 with
    # NUMERICAL_ERROR (Xz = Xw broken), HiGHS refused w ~ 1e300 ("Model error")
    X, W = _gaussian(10, 40, n=3, seed=1)
    r0 = vertex(X, W, 2, solver=solver)
    assert r0.success
    for sx in (1e-150, 1.0, 1e150):
        for sw in (1e-150, 1e-20, 1e150, 1e300):
            r = vertex(sx * X, sw * W, 2, solver=solver)
            assert r.success, (sx, sw, r.message)
            assert np.array_equal(r.info["n_free"], r0.info["n_free"])
            assert np.allclose(r.x / sw, r0.x, rtol=1e-9, atol=1e-12)
            Z = r.x / sw
            assert np.abs(X @ (Z - W)).max() <= 1e-10


@pytest.mark.parametrize("method", ["vertex-msq", "msq", "gpfq"])
def test_layer_is_consistent_under_scaling(method):
    # vertex-MSQ with weights ~1e-150 returned plain MSQ's weights (its vertex failed)
    X, W = _gaussian(10, 40, n=3, seed=1)
    r0 = layer(W, X, 2, method)
    for sx, sw in ((1e-200, 1.0), (1e200, 1.0), (1.0, 1e-150), (1.0, 1e150),
                   (1e200, 1e-150), (1e-150, 1e150)):
        r = layer(sw * W, sx * X, 2, method)
        assert r.success
        assert np.allclose(r.x / sw, r0.x, rtol=1e-12, atol=0)
        assert np.allclose(r.info["rel_error"], r0.info["rel_error"], rtol=1e-9)


def test_relative_error_of_a_neuron_with_tiny_weights():
    # the norms were scaled by the largest entry of the whole layer: ||X w||^2 of a neuron
    # 1e-200 times smaller underflowed to 0 and its error read NaN
    from overparam.quantize.layer import relative_error

    X, W = _gaussian(6, 20, n=1, seed=2)
    W = np.column_stack([W[:, 0], 1e-200 * W[:, 0]])
    Q = msq(W, 2, scale="layer")    # the second neuron on the layer's (coarse) levels
    err = relative_error(X, W, Q)
    Xl, Wl, Ql = (np.asarray(a, dtype=np.longdouble) for a in (X, W, Q))
    ref = (np.sqrt(np.sum((Xl @ (Wl - Ql)) ** 2, axis=0))
           / np.sqrt(np.sum((Xl @ Wl) ** 2, axis=0)))
    assert np.all(np.isfinite(err)) and np.allclose(err, ref.astype(float), rtol=1e-12)
    assert np.allclose(relative_error(1e200 * X, 1e150 * W, 1e150 * Q), err, rtol=1e-12)


def test_relative_error_refuses_shapes_that_would_broadcast():
    # X w (m x 1) minus X q (m,) broadcast to m x m: errors of other neurons, silently
    from overparam.quantize.layer import relative_error

    X, W = _gaussian(3, 5, n=2, seed=0)
    Q = msq(W, 2)
    ok = relative_error(X, W, Q)
    assert ok.shape == (2,)
    for args, match in [((X, W[:, :1], Q[:, 0]), "Q must"), ((X, W, Q, X[:1]), "Xq must"),
                        ((X[0], W, Q), "X must be 2-D"), ((X, W[:4], Q[:4]), "W must")]:
        with pytest.raises(ValueError, match=match):
            relative_error(*args)
    # a vector neuron is the column's error
    assert float(relative_error(X, W[:, 1], Q[:, 1])) == pytest.approx(ok[1], rel=1e-14)


def test_scalar_and_string_inputs_get_clear_errors():
    with pytest.raises(ValueError, match="W must be 1-D or 2-D"):
        msq(0.3, 1)                          # a bare IndexError
    with pytest.raises(TypeError, match="scale must be a real number"):
        alphabet(2, "3")                     # float("3") accepted it
    np.testing.assert_array_equal(alphabet(1, np.float32(2.0)), [-2.0, 2.0])
    from overparam.quantize import digits_mlp
    with pytest.raises(ValueError, match="test_fraction"):
        digits_mlp(8, epochs=1, test_fraction=10)    # read as 10 samples
    rng = np.random.default_rng(0)
    net = [(rng.standard_normal((8, 6)), rng.standard_normal(6)),
           (rng.standard_normal((6, 3)), rng.standard_normal(3))]
    with pytest.raises(ValueError, match=r"layer 0 \(weights \(8, 6\)\): vertex-msq needs"):
        quantize_network(net, rng.standard_normal((20, 8)), 2, scale=0.1)


def test_vertex_box_refuses_one_dimensional_bounds_of_a_square_w():
    # N == n: a 1-D bound read per coordinate where NumPy (and the user) meant per column;
    # the walk then "converged" outside the intended boxes
    rng = np.random.default_rng(0)
    X, w = rng.standard_normal((3, 6)), rng.uniform(-0.5, 0.5, (6, 6))
    c = np.arange(1.0, 7.0)
    with pytest.raises(ValueError, match="ambiguous"):
        vertex_box(X, w, -c, c)
    res = vertex_box(X, w, -c[None, :], c[None, :])      # explicit: per column
    assert res.success and np.all(np.abs(res.x) <= c[None, :] + 1e-12)
    res = vertex_box(X, w, -c[:, None], c[:, None])      # explicit: per coordinate
    assert res.success and np.all(np.abs(res.x) <= c[:, None] + 1e-12)
    # not square: a length-N bound is per coordinate, as documented
    assert vertex_box(X, w[:, :4], -c, c).success


def test_highs_vertex_at_many_bits():
    # HiGHS' default feasibility tolerance (1e-7) is a 23-bit cell: from 20 bits its
    # answer, clipped to the box, broke Xz = Xw (NUMERICAL_ERROR)
    X, W = _gaussian(10, 40, n=2, seed=3)
    for bits in (20, 24):
        r = vertex(X, W, bits, solver="highs")
        assert r.success, r.message
        assert np.all(r.info["n_free"] <= 10) and r.info["residual"] <= 1e-10
        lo, hi = cells(W, bits, np.abs(W).max(axis=0)[None, :])
        assert np.all(r.x >= lo) and np.all(r.x <= hi)


@pytest.mark.parametrize("method", ["vertex-msq", "msq", "gpfq"])
def test_network_is_invariant_to_scaling_the_inputs(method):
    # without biases a ReLU network is positively homogeneous: quantizing it against
    # 1e200 X gave NaN weights with GPFQ
    rng = np.random.default_rng(3)
    params = [(rng.standard_normal((20, 16)), np.zeros(16)),
              (rng.standard_normal((16, 8)), np.zeros(8)),
              (rng.standard_normal((8, 3)), np.zeros(3))]
    X = rng.standard_normal((30, 20))
    r0 = quantize_network(params, X, 2, method)
    for s in (1e-200, 1e200):
        r = quantize_network(params, s * X, 2, method)
        assert r.success and np.array_equal(r.x, r0.x)
        assert np.allclose([e["rel_error"] for e in r.info["layers"]],
                           [e["rel_error"] for e in r0.info["layers"]], rtol=1e-12)


def test_network_passes_on_a_failed_layer(monkeypatch):
    # a layer's NUMERICAL_ERROR (e.g. a vertex that broke Xz = Xw) was reported as CONVERGED
    import sys

    from overparam import Status

    net_mod = sys.modules["overparam.quantize.network"]
    real = net_mod.layer
    calls = []

    def failing_second(*a, **k):
        res = real(*a, **k)
        calls.append(1)
        if len(calls) == 2:
            res.status, res.message = Status.NUMERICAL_ERROR, "Xz = Xw broken"
        return res

    monkeypatch.setattr(net_mod, "layer", failing_second)
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((20, 16)), np.zeros(16)),
              (rng.standard_normal((16, 3)), np.zeros(3))]
    res = quantize_network(params, rng.standard_normal((30, 20)), 2, "msq")
    assert res.status is Status.NUMERICAL_ERROR and "layer 1" in res.message
    monkeypatch.setattr(net_mod, "layer", real)
    assert quantize_network(params, rng.standard_normal((30, 20)), 2, "msq").success


@pytest.mark.parametrize("lo, hi", [(-1.0, np.inf), (-np.inf, np.inf), (np.nan, 1.0),
                                    (-1.0, np.nan)])
def test_vertex_box_refuses_non_finite_scalar_bounds(lo, hi):
    # arrays with inf were refused, scalars were not: hi = inf made every entry count as on
    # a face (tolerance inf) and returned z with |X(z - w)| = 1.17 as CONVERGED
    X, w = _gaussian(3, 12)
    with pytest.raises(ValueError, match="non-finite"):
        vertex_box(X, w, lo, hi)
    with pytest.raises(ValueError, match="non-finite"):
        vertex_box(X, w, np.full(12, lo), np.full(12, hi))
    res = vertex_box(X, w, -1.0, 1.0)   # finite scalar bounds still work
    assert res.success and np.abs(X @ (res.x - w)).max() <= 1e-12


def test_walk_options_are_checked():
    # block=0 failed with an IndexError inside the walk, chunk=0 with "range() arg 3 must
    # not be zero"; window <= 0, pool <= 0 and fractional pools were changed silently, and
    # pool= was ignored by the other solvers
    X, W = _gaussian(5, 60, n=3)
    for kw, err in ((dict(block=0), ValueError), (dict(block=-1), ValueError),
                    (dict(window=0), ValueError), (dict(window=-3), ValueError),
                    (dict(chunk=0), ValueError), (dict(block=2.5), TypeError)):
        with pytest.raises(err, match=next(iter(kw))):
            vertex(X, W, 2, **kw)
    for kw, err in ((dict(pool=0), ValueError), (dict(pool=-5), ValueError),
                    (dict(pool=2.5), TypeError), (dict(chunk=0), ValueError),
                    (dict(chunk=-1), ValueError)):
        with pytest.raises(err, match=next(iter(kw))):
            vertex(X, W, 2, solver="pool", **kw)
    for solver in ("pivot", "highs"):
        with pytest.raises(TypeError, match="pool"):
            vertex(X, W, 2, solver=solver, pool=8)
    with pytest.raises(TypeError, match="pool"):
        layer(W, X, 2, "vertex-msq", solver="pivot", pool=8)
    # valid values still run, and give the default's vertex where they should
    ref = vertex(X, W, 2).x
    for kw in (dict(block=1), dict(window=1), dict(chunk=1), dict(window=None, chunk=None)):
        res = vertex(X, W, 2, **kw)
        assert res.success and np.allclose(res.x, ref, atol=1e-12)
    assert vertex(X, W, 2, solver="pool", pool=1, chunk=1).success


@pytest.mark.parametrize("scale", [-1.0, np.nan, np.inf])
def test_alphabet_refuses_a_negative_or_non_finite_scale(scale):
    # msq_round returned all zeros for a negative or NaN scale, alphabet reversed levels
    with pytest.raises(ValueError, match="scale"):
        msq_round(np.array([0.3, -0.7]), 2, scale)
    with pytest.raises(ValueError, match="scale"):
        msq_round(np.array([0.3, -0.7]), 2, np.array([1.0, scale]))
    with pytest.raises(ValueError, match="scale"):
        cells(np.array([0.0, 0.0]), 2, scale)
    with pytest.raises(ValueError, match="scale"):
        alphabet(2, scale)
    assert np.array_equal(msq_round(np.array([0.3, -0.7]), 2, 0.0), [0.0, 0.0])


def test_highs_vertex_falls_back_to_the_pivot_walk_when_highs_calls_the_lp_infeasible():
    # w lies in every vertex LP, yet at column norms 1e-11..1e11 HiGHS called 3 of 400 of
    # them infeasible and vertex(solver="highs") raised RuntimeError; the pivot walk left
    # an entry 9e-14 outside its cell (box) in 2 of 400 and reported success
    for seed, k, solver in ((1002, 3, "highs"), (1005, 8, "highs"), (1018, 0, "highs"),
                            (1002, 3, "pivot")):
        rng = np.random.default_rng(seed)
        for _ in range(k + 1):
            m, bits = int(rng.integers(1, 8)), int(rng.integers(1, 12))
            N = m + int(rng.integers(5, 60))
            X = rng.standard_normal((m, N)) * np.logspace(-11, 11, N)[rng.permutation(N)]
            W = rng.uniform(-1, 1, (N, 2))
        res = vertex(X, W, bits, solver=solver)
        assert res.success, res.message
        lo, hi = cells(W, bits, np.abs(W).max(axis=0)[None, :])
        assert np.all(res.x >= lo) and np.all(res.x <= hi)
        assert np.all(res.info["n_free"] <= np.linalg.matrix_rank(X))
        scale = np.abs(X).sum(axis=1, keepdims=True)
        assert np.all(np.abs(X @ (res.x - W)) <= 1e-9 * scale)


def test_highs_vertex_on_columns_of_mixed_scales():
    # HiGHS met A z = b to its tolerance in its own scaled units, on the triangular rows
    # of the reduction: with column norms 1e-6..1e6, 57 of 200 vertices broke Xz = Xw
    # beyond rounding (NUMERICAL_ERROR) and some LPs were called infeasible (RuntimeError)
    rng = np.random.default_rng(0)
    for _ in range(30):
        m, bits = int(rng.integers(1, 8)), int(rng.integers(1, 5))
        N = m + int(rng.integers(5, 60))
        X = rng.standard_normal((m, N)) * np.logspace(-6, 6, N)[rng.permutation(N)]
        W = rng.uniform(-1, 1, (N, 2))
        res = vertex(X, W, bits, solver="highs")
        assert res.success, res.message
        lo, hi = cells(W, bits, np.abs(W).max(axis=0)[None, :])
        assert np.all(res.x >= lo) and np.all(res.x <= hi)
        assert np.all(res.info["n_free"] <= np.linalg.matrix_rank(X))
        scale = np.abs(X).sum(axis=1, keepdims=True)   # |X| |w| with |w| <= 1
        assert np.all(np.abs(X @ (res.x - W)) <= 1e-9 * scale)


def test_relative_error_refuses_complex_and_text_instead_of_casting():
    # np.asarray(dtype=float) dropped an imaginary part (only a ComplexWarning: the error
    # of the real part was returned) and parsed strings of digits as numbers
    from overparam.quantize import relative_error

    rng = np.random.default_rng(0)
    X, W = rng.standard_normal((3, 8)), rng.standard_normal((8, 2))
    with pytest.raises(TypeError, match="Q must be real"):
        relative_error(X, W, W + 1j)
    with pytest.raises(TypeError, match="X must be a real numeric array"):
        relative_error(X.astype(str), W, W)
    Q = msq(W, 2)
    ref = np.linalg.norm(X @ (W - Q), axis=0) / np.linalg.norm(X @ W, axis=0)
    np.testing.assert_allclose(relative_error(X, W, Q), ref, rtol=1e-12)
    np.testing.assert_allclose(relative_error(X, W, Q.astype(np.float32)),
                               np.linalg.norm(X @ (W - Q.astype(np.float32)), axis=0)
                               / np.linalg.norm(X @ W, axis=0), rtol=1e-12)


def test_cells_refuses_a_nan_or_non_numeric_tol():
    # tol=NaN made no entry "on" its level silently (max(nan, 1e-12) is nan)
    x = np.array([0.0, 1.0 / 3.0])
    with pytest.raises(ValueError, match="tol"):
        cells(x, 2, 1.0, tol=np.nan)
    with pytest.raises(TypeError, match="tol"):
        cells(x, 2, 1.0, tol="0.1")
    lo, hi = cells(x, 2, 1.0, tol=np.float32(1e-6))
    np.testing.assert_allclose(lo, [-1 / 3, 1 / 3], atol=1e-15)
    np.testing.assert_allclose(hi, [1 / 3, 1 / 3], atol=1e-15)


def test_a_scale_of_the_wrong_shape_names_the_scale():
    # it failed inside np.broadcast_to ("remapped shapes"), naming neither argument
    for fn in (lambda: msq_round(np.zeros(3), 2, np.ones(4)),
               lambda: cells(np.zeros(3), 2, np.ones(4))):
        with pytest.raises(ValueError, match="scale of shape"):
            fn()
    with pytest.raises(TypeError, match="scale must be a real number"):
        alphabet(2, None)


def test_forward_checks_the_inputs_and_upto():
    # X went through np.asarray (complex: imaginary part dropped; NaN: NaN logits; the
    # wrong width: a matmul gufunc error) and upto=-1 or beyond the depth sliced silently
    from overparam.quantize import accuracy, forward

    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((8, 4)), rng.standard_normal(4)),
              (rng.standard_normal((4, 3)), rng.standard_normal(3))]
    X = rng.standard_normal((5, 8))
    with pytest.raises(ValueError, match="X has 7 columns, the network 8 inputs"):
        forward(params, X[:, :7])
    with pytest.raises(TypeError, match="X must be real"):
        forward(params, X + 1j)
    with pytest.raises(ValueError, match="non-finite"):
        forward(params, np.full((5, 8), np.nan))
    with pytest.raises(ValueError, match="2-dimensional"):
        forward(params, X[0])
    for bad, err in ((-1, ValueError), (3, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(err, match="upto"):
            forward(params, X, upto=bad)
    np.testing.assert_allclose(forward(params, X, upto=1),
                               np.maximum(X @ params[0][0] + params[0][1], 0.0), rtol=1e-14)
    np.testing.assert_array_equal(forward(params, X, upto=0), X)
    np.testing.assert_array_equal(forward(params, X, upto=2), forward(params, X))
    with pytest.raises(ValueError, match="columns"):
        accuracy(params, X[:, :7], np.zeros(5, dtype=int))


def test_quantize_network_of_zero_weights_or_inputs_does_not_warn():
    # every rel_error NaN (X w = 0): np.nanmean warned "Mean of empty slice", an error
    # where warnings are errors; a string or array samples_per_input failed in a comparison
    import warnings

    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((8, 4)), np.zeros(4)), (rng.standard_normal((4, 3)), np.zeros(3))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for P, X in (([(np.zeros((8, 4)), np.zeros(4))], rng.standard_normal((5, 8))),
                     (params, np.zeros((5, 8)))):
            for method in ("vertex-msq", "msq", "gpfq"):
                res = quantize_network(P, X, 2, method)
                assert all(np.isnan(e["rel_error"]) for e in res.info["layers"])
                assert np.isnan(res.fun)
    for bad in ("0.5", np.array([0.5, 0.5]), True):
        with pytest.raises(TypeError, match="samples_per_input"):
            quantize_network(params, rng.standard_normal((5, 8)), samples_per_input=bad)
    res = quantize_network(params, rng.standard_normal((5, 8)), 2, "msq",
                           samples_per_input=np.float64(0.5))
    assert res.info["layers"][0]["samples"] == 4


@pytest.mark.parametrize("kw, err, match", [
    (dict(y=np.array([0, 1, -1, 2] * 5)), ValueError, "labels >= 0"),
    (dict(y=np.arange(20) % 3 + 0.5), ValueError, "integer class labels"),
    (dict(y=np.arange(10) % 3), ValueError, "one label per row"),
    (dict(X=np.full((20, 4), np.nan)), ValueError, "non-finite"),
    (dict(X=np.zeros(20)), ValueError, "2-dimensional"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=-5), ValueError, "batch_size"),
    (dict(learning_rate=np.nan), ValueError, "learning_rate"),
    (dict(learning_rate=-1e-3), ValueError, "learning_rate"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (dict(hidden=[0]), ValueError, "hidden"),
    (dict(hidden="5"), TypeError, "hidden"),
])
def test_train_mlp_refuses_inputs_it_trained_on_silently(kw, err, match):
    # negative labels trained against an all-zero one-hot, fractional ones were truncated,
    # too few labels were read out of range (JAX clamps the index), NaN data or learning
    # rate gave NaN weights, epochs or batch_size < 0 ran a wrong schedule; batch_size=0,
    # a zero width and a 1-D X failed with ZeroDivisionError / IndexError
    from overparam.quantize import train_mlp

    args = dict(X=np.random.default_rng(0).standard_normal((20, 4)),
                y=np.arange(20) % 3, hidden=[5], epochs=1)
    args.update(kw)
    with pytest.raises(err, match=match):
        train_mlp(args.pop("X"), args.pop("y"), args.pop("hidden"), **args)


def test_train_mlp_takes_an_int_width_and_zero_epochs():
    # an int width failed ("Value after * must be an iterable"), as digits_mlp takes one
    from overparam.quantize import train_mlp

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4)), np.arange(20) % 3
    params = train_mlp(X, y.astype(float), 5, epochs=0)
    assert [W.shape for W, _ in params] == [(4, 5), (5, 3)]
    assert all(np.all(b == 0) for _, b in params)
