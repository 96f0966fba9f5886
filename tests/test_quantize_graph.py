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
