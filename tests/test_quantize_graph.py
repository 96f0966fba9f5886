"""Graphs, Laplacian eigenvectors and graph signal quantization (overparam.quantize)."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import overparam
from overparam.quantize import (
    GRAPH_KINDS,
    bandlimited_signal,
    graph_signal,
    halftone,
    incoherence,
    laplacian_eigenvectors,
    make_graph,
    msq_round,
    normalized_laplacian,
    shipped_image,
    sigma_delta,
)

# square grids and cycles have many repeated eigenvalues; these tests do not depend on the
# eigenbasis picked inside one (test_an_r_that_splits_a_repeated_eigenvalue_warns checks
# the warning itself)
pytestmark = pytest.mark.filterwarnings(
    "ignore:r = .* splits a repeated eigenvalue:UserWarning")


@pytest.mark.parametrize("kind", GRAPH_KINDS)
def test_generators_give_connected_symmetric_graphs(kind):
    A = make_graph(kind, 150, seed=2)
    assert A.shape[0] >= 144 and abs(A - A.T).sum() == 0
    assert sp.csgraph.connected_components(A, directed=False)[0] == 1


@pytest.mark.parametrize("kind", ["geometric", "mesh"])
def test_sparse_eigenvectors_match_dense_eigh(kind):
    A = make_graph(kind, 400, seed=1)
    lam_s, V_s = laplacian_eigenvectors(A, 8, dense_below=0)       # ARPACK shift-invert
    lam_d, V_d = np.linalg.eigh(normalized_laplacian(A).toarray())
    assert np.allclose(lam_s, lam_d[:8], atol=1e-9)
    assert lam_s[0] == pytest.approx(0.0, abs=1e-9)
    # same subspace (eigenvectors are defined up to sign/rotation within clusters)
    P = V_d[:, :8] @ V_d[:, :8].T
    assert np.linalg.norm(P @ V_s - V_s) < 1e-6
    assert np.allclose(V_s.T @ V_s, np.eye(8), atol=1e-10)
    # negative control: a wrong subspace fails the same check
    assert np.linalg.norm(P @ V_d[:, 8:10] - V_d[:, 8:10]) > 0.5


def test_an_r_that_splits_a_repeated_eigenvalue_warns():
    # the 16 x 16 grid's eigenvalues 5 and 6 are equal: X_5 is whatever the solver picks
    # (ARPACK and dense eigh gave subspaces 75 degrees apart at N = 1024)
    A = make_graph("grid", 256, seed=0)
    for dense_below in (0, 600):
        with pytest.warns(UserWarning, match="r = 5 splits a repeated eigenvalue"):
            laplacian_eigenvectors(A, 5, dense_below=dense_below)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lam, V = laplacian_eigenvectors(A, 6, dense_below=0)    # the pair complete
        assert lam.shape == (6,) and V.shape == (256, 6)
        laplacian_eigenvectors(A, 4, dense_below=600)


def test_graph_inputs_that_were_ignored_or_gave_nan_are_refused():
    A = make_graph("grid", 100)
    _, Xr = laplacian_eigenvectors(A, 6)
    f = bandlimited_signal(Xr, seed=0)
    # an ordering only Sigma-Delta walks was ignored (a typo too)
    for method, ordering in [("msq", "foo"), ("single-shot", np.arange(3))]:
        with pytest.raises(TypeError, match="ordering is an option of method='sigma-delta'"):
            graph_signal(f, A, 6, 1, method, Xr=Xr, ordering=ordering)
    with pytest.raises(TypeError, match="ordering"):
        halftone(np.zeros((8, 8)), 4, method="msq", ordering="rcm")
    assert halftone(np.full((8, 8), 0.3), 4, method="sigma-delta",
                    ordering="rcm").info["ordering"] == "rcm"
    # NaN signals with only a RuntimeWarning
    with pytest.raises(ValueError, match="amplitude"):
        bandlimited_signal(Xr, seed=0, amplitude=np.nan)
    with pytest.raises(ValueError, match="spans no signal"):
        bandlimited_signal(np.zeros((5, 2)), seed=0)
    with pytest.raises(ValueError, match="hub degree"):
        make_graph("hub", 10, degree=True)


def test_accuracy_refuses_labels_that_would_broadcast():
    from overparam.quantize import accuracy

    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((8, 3)), rng.standard_normal(3))]
    X, y = rng.standard_normal((50, 8)), rng.integers(0, 3, 50)
    acc = accuracy(params, X, y)
    assert acc == pytest.approx(np.mean(np.argmax(X @ params[0][0] + params[0][1], 1) == y))
    assert accuracy(params, X, y.astype(float)) == acc     # integral floats are labels
    for bad, match in [(y[:, None], "shape"), (y[:1], "shape"), (y + 0.5, "integer")]:
        with pytest.raises(ValueError, match=match):
            accuracy(params, X, bad)


def test_user_adjacency_networkx_and_dense_agree():
    g = nx.cycle_graph(30)
    lam1, _ = laplacian_eigenvectors(g, 4)
    lam2, _ = laplacian_eigenvectors(nx.to_numpy_array(g), 4)
    assert np.allclose(lam1, lam2)
    # cycle: normalized Laplacian eigenvalues 1 - cos(2 pi k / n)
    ref = np.sort(1 - np.cos(2 * np.pi * np.arange(30) / 30))[:4]
    assert np.allclose(lam1, ref)


def test_incoherence_bounds_and_flat_case():
    _, Xr = laplacian_eigenvectors(nx.cycle_graph(40), 5)
    mu = incoherence(Xr)
    assert 1.0 <= mu <= 40 / 5
    e = np.zeros((40, 1))
    e[0] = 1
    assert incoherence(e) == pytest.approx(40.0)
    assert incoherence(np.ones((40, 1)) / np.sqrt(40)) == pytest.approx(1.0)


def test_single_shot_beats_msq_and_sigma_delta_at_one_bit():
    A = make_graph("mesh", 500, seed=3)
    _, Xr = laplacian_eigenvectors(A, 10)
    f = bandlimited_signal(Xr, seed=0)
    errs = {m: graph_signal(f, A, 10, 1, m, Xr=Xr).info["rel_error"]
            for m in overparam.quantize.GRAPH_METHODS}
    assert errs["single-shot"] < errs["sigma-delta"] < errs["msq"]
    res = graph_signal(f, A, 10, 1, "single-shot", Xr=Xr)
    assert set(np.unique(res.x)) <= {-1.0, 1.0} and res.info["n_free"] <= 10


def test_single_shot_error_decays_with_bits():
    A = make_graph("grid", 400)
    _, Xr = laplacian_eigenvectors(A, 10)
    errs = np.mean([[graph_signal(bandlimited_signal(Xr, seed=s), A, 10, b, "single-shot",
                                  Xr=Xr).info["rel_error"] for b in (1, 2, 3, 4)]
                    for s in range(4)], axis=0)
    assert all(b < a for a, b in zip(errs, errs[1:]))     # mean over 4 signals
    assert errs[3] < errs[0] / 4


def test_sigma_delta_is_stable_and_on_the_alphabet():
    f = np.sin(np.linspace(0, 6, 300)) * 0.99
    q = sigma_delta(f, 1)
    assert set(np.unique(q)) <= {-1.0, 1.0}
    assert np.abs(np.cumsum(f - q)).max() <= 1.0 + 1e-12     # |u_i| <= 1 at one bit


def test_halftone_of_a_shipped_image():
    img = shipped_image("camera", 32)
    assert img.shape == (32, 32) and img.min() == -1 and img.max() == 1
    res = halftone(img, r=20, bits=1)
    assert res.x.shape == (32, 32) and set(np.unique(res.x)) <= {-1.0, 1.0}
    ms = halftone(img, r=20, bits=1, method="msq")
    assert res.info["rel_error"] < 0.1 * ms.info["rel_error"]
    assert res.info["n_free"] <= 20


def test_graph_bad_input():
    A = make_graph("grid", 100)
    f = np.zeros(100)
    f[0] = 0.5
    two = sp.block_diag([nx.to_scipy_sparse_array(nx.path_graph(5)),
                         nx.to_scipy_sparse_array(nx.path_graph(5))])
    with pytest.raises(ValueError, match="disconnected"):
        laplacian_eigenvectors(two, 2)
    with pytest.raises(ValueError, match="disconnected"):
        graph_signal(np.zeros(10) + 0.1, two, 2)
    with pytest.raises(ValueError, match="exceeds the number of nodes"):
        graph_signal(f, A, 101)
    with pytest.raises(ValueError, match="exceeds the number of nodes"):
        laplacian_eigenvectors(A, 200)
    with pytest.raises(ValueError, match="bits must be >= 1"):
        graph_signal(f, A, 3, 0)
    with pytest.raises(ValueError, match="> 1"):
        graph_signal(3 * f, A, 3)
    with pytest.raises(ValueError, match="non-finite"):
        graph_signal(np.full(100, np.nan), A, 3)
    with pytest.raises(ValueError, match="symmetric"):
        laplacian_eigenvectors(np.triu(np.ones((5, 5)), 1), 2)
    with pytest.raises(ValueError, match="kind"):
        make_graph("torus", 50)
    with pytest.raises(ValueError, match="method"):
        graph_signal(f, A, 3, 1, "dither")
    _, Xr = laplacian_eigenvectors(A, 3)
    with pytest.raises(ValueError, match="needs the graph"):
        graph_signal(f, None, 3, 1, "sigma-delta", Xr=Xr)
    with pytest.raises(ValueError, match="permutation"):
        graph_signal(f, A, 3, 1, "sigma-delta", Xr=Xr, ordering=np.zeros(100, dtype=int))
    q = graph_signal(f, None, 3, 1, "sigma-delta", Xr=Xr, ordering="natural").x
    assert np.allclose(q, sigma_delta(f, 1))


def test_sigma_delta_refuses_an_order_that_is_not_a_permutation():
    # nodes the order missed kept np.empty's uninitialised memory (values like 1e193)
    f = np.full(6, 0.3)
    for order in ([0, 1, 2], [0, 0, 1, 1, 2, 2], [0, 1, 2, 3, 4, 6], [[0, 1, 2], [3, 4, 5]],
                  np.arange(6.0)):
        with pytest.raises(ValueError, match=r"permutation of range\(6\)"):
            sigma_delta(f, 1, np.asarray(order))
    q = sigma_delta(f, 1, [5, 4, 3, 2, 1, 0])
    assert np.allclose(q[::-1], sigma_delta(f, 1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sigma_delta_refuses_non_finite_signals(bad):
    # NaN/inf failed inside round() ("cannot convert float NaN to integer", OverflowError)
    with pytest.raises(ValueError, match="non-finite"):
        sigma_delta(np.array([0.1, bad, 0.2]), 1)
    with pytest.raises(TypeError, match="f must be real"):
        sigma_delta(np.array([0.1, 0.2]) + 0j, 1)


def test_graph_signal_checks_the_graph_size_whenever_it_uses_the_graph():
    # with Xr given, a graph of another size gave Sigma-Delta an ordering of the wrong
    # length, hence uninitialised entries of q
    A100, A49 = make_graph("grid", 100), make_graph("grid", 49)
    _, Xr = laplacian_eigenvectors(A100, 5)
    f = bandlimited_signal(Xr, seed=0)
    for ordering in ("rcm", "fiedler"):
        with pytest.raises(ValueError, match="100 entries but the graph 49 nodes"):
            graph_signal(f, A49, 5, 1, "sigma-delta", Xr=Xr, ordering=ordering)
    with pytest.raises(ValueError, match="graph is needed"):
        graph_signal(f, None, 5, 1)
    q = graph_signal(f, A100, 5, 1, "sigma-delta", Xr=Xr).x
    assert set(np.unique(q)) <= {-1.0, 1.0}
    # graphs that are not used are not checked: natural order, or Xr given
    graph_signal(f, A49, 5, 1, "sigma-delta", Xr=Xr, ordering="natural")
    graph_signal(f, A49, 5, 1, "single-shot", Xr=Xr)


def test_graph_signal_of_a_zero_signal_has_an_undefined_relative_error():
    # ||L_r(f - q)|| / ||f|| was inf with a divide-by-zero warning
    import warnings

    A = make_graph("grid", 100)
    _, Xr = laplacian_eigenvectors(A, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in overparam.quantize.GRAPH_METHODS:
            res = graph_signal(np.zeros(100), A, 5, 2, method, Xr=Xr)
            assert np.isnan(res.info["rel_error"]) and np.isnan(res.fun)
            assert np.allclose(res.x, msq_round(res.x, 2, 1.0))


def test_graph_signal_methods_without_a_vertex_refuse_vertex_options():
    A = make_graph("grid", 100)
    _, Xr = laplacian_eigenvectors(A, 5)
    f = bandlimited_signal(Xr, seed=0)
    for method in ("msq", "sigma-delta"):
        with pytest.raises(TypeError, match="computes no vertex"):
            graph_signal(f, A, 5, 1, method, Xr=Xr, solver="highs")
        graph_signal(f, A, 5, 1, method, Xr=Xr, solver="pivot")     # the default
    res = graph_signal(f, A, 5, 1, Xr=Xr, solver="highs")
    assert res.status.name == "CONVERGED" and res.info["n_free"] <= 5


@pytest.mark.parametrize("n", [12, 20, 30, 65])
def test_hub_graph_has_n_nodes(n):
    # documented as a grid of n - 1 nodes plus a hub; it had 17 nodes for n = 20
    A = make_graph("hub", n, seed=1)
    assert A.shape == (n, n)
    assert int(A[n - 1].sum()) == n // 4                       # the default hub degree
    assert int(make_graph("hub", n, degree=n - 1)[n - 1].sum()) == n - 1


def test_hub_graph_degree_is_checked_not_truncated():
    # degree 18 at n = 20 was silently cut to the 16 grid nodes of a 4 x 4 grid
    assert int(make_graph("hub", 20, degree=18)[19].sum()) == 18
    for degree in (0, 20, 2.5):
        with pytest.raises(ValueError, match="hub degree"):
            make_graph("hub", 20, degree=degree)
    # n - 1 a square (the incoherence example, n = 1025): the full grid, as before
    from overparam.quantize import grid_adjacency

    A = make_graph("hub", 65, seed=3, degree=8.0)
    assert abs(A[:64, :64] - grid_adjacency(8, 8)).sum() == 0


def test_registry_adapters_and_metrics():
    from overparam.experiments.methods import get_method
    from overparam.experiments.measures import METRICS
    from overparam.quantize.tasks import graph_problem, layer_problem

    g = graph_problem("mesh", 120, 6, seed=4)
    assert g.A.shape == (6, 120) and g.info["mu"] >= 1.0
    errs = {}
    for name in ("single_shot", "msq", "sigma_delta"):
        res = get_method(name).configure(bits=1)(g, 0)
        assert set(np.unique(res.x)) <= {-1.0, 1.0}
        errs[name] = METRICS["graph_error"].fn(g, res.x, None, 0.0)
        expect = np.linalg.norm(g.A.to_dense() @ (g.x_true - res.x)) / np.linalg.norm(g.x_true)
        assert errs[name] == pytest.approx(expect)
    assert errs["single_shot"] < errs["msq"]
    assert METRICS["mu_factor"].fn(g, None, None, 0.0) == pytest.approx(
        g.info["mu"] * 6 / np.sqrt(120))
    p = layer_problem(8, 64, seed=1)
    res = get_method("vertex_msq").configure(bits=2)(p, 0)
    assert METRICS["layer_error"].fn(p, res.x, None, 0.0) == pytest.approx(
        float(res.info["rel_error"]))
    assert METRICS["n_free"].fn(p, res, None, 0.0) <= 8


@settings(max_examples=15)
@given(bits=st.integers(1, 4), n=st.integers(1, 200), seed=st.integers(0, 2**16))
def test_sigma_delta_state_stays_within_half_a_step(bits, n, seed):
    f = np.random.default_rng(seed).uniform(-1, 1, n)
    q = sigma_delta(f, bits)
    step = 2.0 / (2**bits - 1)
    assert np.allclose(q, msq_round(q, bits, 1.0))                  # on the alphabet
    assert np.abs(np.cumsum(f - q)).max() <= step / 2 + 1e-12      # |u_i| <= Delta / 2


@pytest.mark.parametrize("method", ["single-shot", "msq", "sigma-delta"])
def test_graph_error_of_a_tiny_signal(method):
    # ||f|| of a signal ~1e-200 underflowed to 0 and the error read NaN (only f = 0 may)
    A = make_graph("grid", 64, seed=0)
    _, Xr = laplacian_eigenvectors(A, 5)
    f = 1e-200 * bandlimited_signal(Xr, seed=0)
    res = graph_signal(f, A, 5, 1, method, Xr=Xr)
    fl, ql = np.asarray(f, dtype=np.longdouble), np.asarray(res.x, dtype=np.longdouble)
    ref = float(np.sqrt(np.sum((Xr.T.astype(np.longdouble) @ (fl - ql)) ** 2))
                / np.sqrt(np.sum(fl ** 2)))
    assert np.isfinite(res.info["rel_error"])
    assert res.info["rel_error"] == pytest.approx(ref, rel=1e-12)


def test_task_error_metrics_are_scale_invariant():
    # layer_error / graph_error formed X (w - x) and the norms directly: X ~ 1e200 with
    # w ~ 1e150 overflowed (inf / inf = NaN), w ~ 1e-200 underflowed (0 / 0)
    from overparam.problems import Problem
    from overparam.quantize.tasks import graph_error, layer_error

    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 12))
    w = rng.standard_normal(12)
    x = w + 0.1 * rng.standard_normal(12)
    base = [f(Problem(X, X @ w, x_true=w), x, None, 0.0) for f in (layer_error, graph_error)]
    assert np.all(np.isfinite(base))
    for sx, sw in [(2.0**600, 2.0**500), (2.0**-600, 2.0**-500), (1e200, 1e-200)]:
        p = Problem(X * sx, np.zeros(30), x_true=w * sw)
        got = [layer_error(p, x * sw, None, 0.0), graph_error(p, x * sw, None, 0.0) / sx]
        np.testing.assert_allclose(got, base, rtol=1e-13)


def test_adjacency_symmetry_check_is_relative_to_the_weights():
    # the tolerance had an absolute floor (1e-10 * max(1, sum |W|)): a 2x asymmetry of
    # weights ~1e-12 passed, and near 1e308 sum |W| overflowed to inf so anything passed
    from overparam.quantize import as_adjacency

    A = np.array([[0, 1, 0], [2, 0, 1], [0, 1, 0]], dtype=float)
    for s in (1.0, 1e-12, 1e-300, 5e307):
        with pytest.raises(ValueError, match="symmetric"):
            as_adjacency(A * s)
        with pytest.raises(ValueError, match="symmetric"):
            as_adjacency(sp.csr_matrix(A * s))
    B = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    for s in (1e-300, 1e-12, 1.0, 1.7e308):
        assert np.array_equal(as_adjacency(B * s).toarray(), B * s)


@pytest.mark.parametrize("s", [2.0**-1070, 1e-300, 1e300, 1.7e308])
def test_normalized_laplacian_is_invariant_to_scaling_the_weights(s):
    # the degrees of weights ~1e308 overflowed to inf: L came back as I (error 0.41)
    B = np.array([[0, 1, 1, 0], [1, 0, 1, 1], [1, 1, 0, 1], [0, 1, 1, 0]], dtype=float)
    with np.errstate(over="raise"):
        L = normalized_laplacian(B * s).toarray()
    assert np.abs(L - normalized_laplacian(B).toarray()).max() <= 1e-15
    # the sparse (ARPACK) path too
    A = make_graph("grid", 700)
    lam0, _ = laplacian_eigenvectors(A, 4)
    lam, _ = laplacian_eigenvectors(A * s, 4)
    assert np.allclose(lam, lam0, rtol=0, atol=1e-10)


def test_halftone_takes_a_permutation_as_ordering():
    # ordering == "natural" on an array compared elementwise: `if` raised "the truth value
    # of an array ... is ambiguous" (a list worked)
    img = np.clip(np.random.default_rng(0).standard_normal((6, 7)) / 3, -1, 1)
    perm = np.random.default_rng(1).permutation(42)
    res = halftone(img, 4, method="sigma-delta", ordering=perm)
    assert np.array_equal(res.x, sigma_delta(img.ravel(), 1, perm).reshape(6, 7))
    assert res.info["ordering"] == "custom"
    # the default serpentine scan, by hand
    serp = np.concatenate([np.arange(7 * i, 7 * i + 7)[::(-1) ** i] for i in range(6)])
    res = halftone(img, 4, method="sigma-delta")
    assert np.array_equal(res.x, sigma_delta(img.ravel(), 1, serp).reshape(6, 7))
    assert res.info["ordering"] == "natural"
    with pytest.raises(ValueError, match="permutation"):
        halftone(img, 4, method="sigma-delta", ordering=np.arange(41))


@pytest.mark.parametrize("kind", ["geometric", "erdos-renyi"])
@pytest.mark.parametrize("degree", [np.nan, np.inf, -1.0, 0.0])
def test_make_graph_refuses_a_non_finite_or_non_positive_degree(kind, degree):
    # erdos-renyi with degree=NaN returned the complete graph (p = min(1, nan) = 1), inf too
    with pytest.raises(ValueError, match="degree"):
        make_graph(kind, 50, degree=degree)
    A = make_graph(kind, 50, degree=8.0)
    assert A.shape == (50, 50) and A.nnz < 50 * 49


def test_forward_and_accuracy_of_weights_from_another_library_are_float64():
    # JAX weights: forward returned a JAX float32 array and accuracy a float32 mean
    # (0.15000000596 for 0.15)
    jnp = pytest.importorskip("jax.numpy")
    from overparam.quantize import accuracy, forward

    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((8, 6)), rng.standard_normal(6)),
              (rng.standard_normal((6, 3)), rng.standard_normal(3))]
    X, y = rng.standard_normal((20, 8)), rng.integers(0, 3, 20)
    ref = forward(params, X)
    for P in ([(jnp.asarray(W), jnp.asarray(b)) for W, b in params],
              [(W.tolist(), b.tolist()) for W, b in params]):
        out = forward(P, X)
        assert type(out) is np.ndarray and out.dtype == np.float64
        np.testing.assert_allclose(out, ref, rtol=1e-6)  # JAX's float32 weights
        assert type(accuracy(P, X, y)) is float
        assert accuracy(P, X, y) == accuracy(params, X, y)
    with pytest.raises(ValueError, match="inputs, the previous layer"):
        forward([params[0], params[0]], X)


@pytest.mark.parametrize("kind, least", [("small-world", 7), ("clustered", 9)])
def test_make_graph_names_the_fewest_nodes_a_kind_takes(kind, least):
    # n = 4..6 (small-world) and 4..8 (clustered) failed inside the generators
    # (networkx "k>n", "axis 1 index 4 exceeds matrix dimension 4")
    with pytest.raises(ValueError, match=f"needs n >= {least}"):
        make_graph(kind, least - 1)
    A = make_graph(kind, least)
    assert A.shape == (least, least)
    assert abs(A - A.T).sum() == 0


def test_make_graph_checks_max_tries_and_the_hub_degree_type():
    # max_tries=0 raised "no connected graph ... in 0 draws: raise degree"; a string or
    # complex hub degree failed in float() or in a comparison of str and int
    with pytest.raises(ValueError, match="max_tries"):
        make_graph("geometric", 30, max_tries=0)
    with pytest.raises(TypeError, match="max_tries"):
        make_graph("geometric", 30, max_tries=1.5)
    for bad in ("3", 3 + 0j):
        with pytest.raises(TypeError, match="hub degree"):
            make_graph("hub", 16, degree=bad)
    A = make_graph("hub", 16, degree=np.array(3))
    assert A[15].nnz == 3


def test_adjacency_refuses_complex_sparse_and_empty_graphs():
    # a complex sparse adjacency lost its imaginary part in csr_matrix(dtype=float) (only a
    # ComplexWarning); a sparse 0 x 0 passed as a graph
    with pytest.raises(TypeError, match="adjacency must be real, got dtype complex"):
        overparam.quantize.as_adjacency(sp.csr_matrix(np.array([[0, 1j], [1j, 0]])))
    with pytest.raises(ValueError, match="no nodes"):
        overparam.quantize.as_adjacency(sp.csr_matrix((0, 0)))


def test_one_node_graph_has_laplacian_zero_without_warning():
    # 1 / sqrt(degree 0) warned "divide by zero" (an error under -W error) and L was 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        L = normalized_laplacian(np.zeros((1, 1)))
        assert L.shape == (1, 1) and L.toarray()[0, 0] == 0.0
        lam, vec = laplacian_eigenvectors(np.zeros((1, 1)), 1)
        np.testing.assert_array_equal(lam, [0.0])
        np.testing.assert_array_equal(np.abs(vec), [[1.0]])
        res = halftone(np.full((1, 1), 0.2), 1, method="msq")
        np.testing.assert_array_equal(res.x, [[1.0]])
        assert res.info["rel_error"] == pytest.approx(4.0, rel=1e-12)  # |0.2 - 1| / 0.2


def test_laplacian_eigenvectors_checks_tol():
    # tol=NaN reached ARPACK ("ARPACK error 3: No shifts could be applied")
    A = make_graph("grid", 16)
    with pytest.raises(ValueError, match="tol"):
        laplacian_eigenvectors(A, 3, dense_below=0, tol=np.nan)
    with pytest.raises(TypeError, match="dense_below"):
        laplacian_eigenvectors(A, 3, dense_below="10")


def test_graph_error_refuses_a_column_x():
    # x of shape (N, 1) broadcast w - x to N x N: 5.5 was reported for a perfect x
    from overparam.quantize.tasks import graph_error, graph_problem

    p = graph_problem("grid", 16, 3, seed=0)
    assert graph_error(p, p.x_true, None, 0.0) == 0.0
    with pytest.raises(ValueError, match="x must have shape"):
        graph_error(p, p.x_true[:, None], None, 0.0)
    with pytest.raises(ValueError, match="x must have shape"):
        graph_error(p, p.x_true[:5], None, 0.0)


def test_digits_task_checks_the_seed():
    # int(seed): None failed inside int(), 1.7 was truncated to seed 1 silently
    from overparam.quantize.tasks import digits_task

    for bad in (None, 1.7, "1"):
        with pytest.raises(TypeError, match="seed"):
            digits_task(4, 1, 1, seed=bad)
