"""Adversarial review of overparam.quantize (second pass): the error bounds the digest and
docs/quantize.md state, checked numerically; exact alphabet membership of quantized
weights; network bookkeeping; graph edge cases. Tests marked "before" failed before their
fix."""
import networkx as nx
import numpy as np
import pytest

import overparam.quantize as q

# -- error bounds (already right: kept as regression guards) --------------------------------


@pytest.mark.parametrize("solver", ["pool", "pivot"])
def test_vertex_msq_error_obeys_the_support_bound(solver):
    # X(w - q) = X_S (z - q)_S with |S| <= rank X and |z_i - q_i| <= step / 2 (docs,
    # section "vertex"): ||X(w - q)|| <= step / 2 * (sum of the rank largest column norms)
    rng = np.random.default_rng(1)
    for m, N, bits in [(3, 12, 1), (5, 40, 2), (8, 30, 3)]:
        X = rng.standard_normal((m, N)) * np.exp(rng.normal(0, 1, N))
        W = rng.uniform(-1, 1, (N, 3))
        res = q.layer(W, X, bits, "vertex-msq", solver=solver)
        assert res.status.success
        step = 2 * res.info["scale"] / (2**bits - 1)
        norms = np.sort(np.linalg.norm(X, axis=0))[::-1]
        bound = step / 2 * norms[:np.linalg.matrix_rank(X)].sum()
        err = np.linalg.norm(X @ (W - res.x), axis=0)
        assert np.all(err <= bound * (1 + 1e-9))


def test_gpfq_residual_obeys_the_unclipped_greedy_recursion():
    # without clipping ||u_t||^2 <= ||u_{t-1}||^2 + (step/2)^2 ||X_t||^2 (u - v X_t is
    # orthogonal to X_t), so ||X(w - q)|| <= step / 2 * ||X||_F; a scale 8x max|w| at 6
    # bits never clips here
    rng = np.random.default_rng(2)
    X, W = rng.standard_normal((6, 60)), rng.uniform(-1, 1, (60, 4))
    c = 8 * np.abs(W).max(axis=0)
    step = 2 * c / (2**6 - 1)
    bound = step / 2 * np.linalg.norm(X)
    err = np.linalg.norm(X @ (W - q.gpfq(W, X, 6, c)), axis=0)
    assert np.all(err <= bound)
    # errors of step / 2 per weight with coherent signs exceed it: the check can fail
    worst = np.linalg.norm(X @ (W - (W + step / 2 * np.sign(X.sum(axis=0))[:, None])),
                           axis=0)
    assert np.any(worst > bound)


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_halftone_sigma_delta_state_stays_within_half_a_step(bits):
    img = np.random.default_rng(bits).uniform(-1, 1, (5, 6))
    img[0, 0], img[4, 5] = 1.0, -1.0
    res = q.halftone(img, 3, bits, "sigma-delta")
    assert np.all(np.isin(res.x, q.alphabet(bits)))
    idx = np.arange(30).reshape(5, 6)
    idx[1::2] = idx[1::2, ::-1]   # the serpentine of ordering="natural"
    u = np.cumsum((img - res.x).ravel()[idx.ravel()])
    assert np.abs(u).max() <= (1 / (2**bits - 1)) * (1 + 1e-12)


# -- defects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [2, 3, 7])
@pytest.mark.parametrize("method", ["msq", "gpfq", "vertex-msq"])
def test_quantized_weights_are_exactly_levels_of_the_alphabet(method, bits):
    # before: levels were computed as -c + k (2c / n), an ulp off c * linspace(-1, 1, n + 1)
    # for most c: at c = 0.37, 2 bits, 2/3 of msq_round's values were not in
    # alphabet(2, 0.37), so np.isin / searchsorted codes of the weights failed
    rng = np.random.default_rng(bits)
    X = rng.standard_normal((8, 40))
    W = rng.standard_normal((40, 4)) * np.array([1.0, 0.37, 1e-300, 1e300])
    res = q.layer(W, X, bits, method)
    c = res.info["scale"]
    for j in range(W.shape[1]):
        assert np.all(np.isin(res.x[:, j], q.alphabet(bits, c[j])))
    x = rng.uniform(-0.37, 0.37, 300)
    assert np.all(np.isin(q.msq_round(x, bits, 0.37), q.alphabet(bits, 0.37)))
    lo, hi = q.cells(x, bits, 0.37)
    assert np.all(np.isin(lo, q.alphabet(bits, 0.37)) & np.isin(hi, q.alphabet(bits, 0.37)))


def test_quantized_network_does_not_share_bias_arrays_with_the_analog_one():
    # before: info["params"] held the input's own bias arrays, so an in-place bias
    # correction of the quantized network changed the analog network too
    rng = np.random.default_rng(0)
    params = [(rng.standard_normal((10, 6)), rng.standard_normal(6)),
              (rng.standard_normal((6, 3)), rng.standard_normal(3))]
    before = [b.copy() for _, b in params]
    res = q.quantize_network(params, rng.random((20, 10)), 2, "gpfq")
    for (Q, qb), (W, b), b0 in zip(res.info["params"], params, before):
        assert Q.shape == W.shape and np.array_equal(qb, b)
        qb += 1.0
        assert np.array_equal(b, b0)


def test_fiedler_ordering_of_a_one_node_graph():
    # before: ValueError "r = 2 exceeds the number of nodes N = 1", an r never given
    assert np.array_equal(q.graph_ordering(np.zeros((1, 1)), "fiedler"), [0])
    res = q.graph_signal(np.array([0.4]), np.zeros((1, 1)), 1, 1, "sigma-delta",
                         ordering="fiedler")
    assert res.x.tolist() == [1.0]


def test_an_empty_networkx_graph_is_a_clear_value_error():
    # before: networkx.NetworkXError "Graph has no nodes or edges" (not a ValueError)
    with pytest.raises(ValueError, match="empty"):
        q.as_adjacency(nx.Graph())
