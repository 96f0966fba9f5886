"""Adversarial checks of the model classes and the experiment-area plug-ins: input
validation, independent oracles (hand-computed signals, numpy eigvalsh for the Hessian
bounds) and the metrics' edge cases."""
from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import overparam.experiments.areas  # noqa: F401  (registers the areas)
from overparam._core import Result, Status
from overparam.experiments.areas.edge_of_stability import eos_line
from overparam.experiments.generators import GENERATORS
from overparam.experiments.measures import METRICS, compute_metrics
from overparam.models import DiagonalUV, Hadamard, TwoLayerNet, WeightNormDiagonal

_MODELS = [Hadamard(2), Hadamard(3, True), DiagonalUV(),
           WeightNormDiagonal(2, variant="coordinate"), WeightNormDiagonal(2, variant="factor"),
           WeightNormDiagonal(3, variant="stacked")]


@pytest.mark.parametrize("model", _MODELS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("n, exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                    (True, TypeError), ("3", TypeError)])
def test_init_refuses_bad_sizes(model, n, exc):
    # before: n = 0 gave empty factors, True one entry, the rest failed inside JAX
    with pytest.raises(exc, match=r"\bn\b"):
        model.init(None, n)


@pytest.mark.parametrize("model", _MODELS, ids=lambda m: type(m).__name__)
def test_init_n1_and_numpy_int(model):
    p = model.init(None, np.int64(1))
    x = np.asarray(model.signal(p))
    assert x.shape == (1,)
    if isinstance(model, Hadamard) and model.nonneg:
        assert x[0] == pytest.approx(model.init_scale ** model.depth, rel=1e-12)
    else:
        assert x[0] == 0.0


@pytest.mark.parametrize("L", [1, 2, 3, 4])
def test_hadamard_signal_against_hand_computed(L):
    rng = np.random.default_rng(L)
    u, v = rng.standard_normal(6), rng.standard_normal(6)
    x = np.asarray(Hadamard(L).signal({"u": jnp.asarray(u), "v": jnp.asarray(v)}))
    np.testing.assert_allclose(x, u**L - v**L, rtol=1e-12, atol=1e-15)
    xn = np.asarray(Hadamard(L, True).signal({"u": jnp.asarray(u)}))
    np.testing.assert_allclose(xn, u**L, rtol=1e-12, atol=1e-15)


def _top_eigs_and_bounds(model, n, m, rng, trials, spread=1.0):
    p0 = model.init(None, n)
    _, unravel = ravel_pytree(p0)

    @jax.jit
    def hess(f, A, y):
        return jax.hessian(lambda f: 0.5 * jnp.sum((A @ model.signal(unravel(f)) - y) ** 2))(f)

    out = []
    for _ in range(trials):
        A = rng.standard_normal((m, n))
        y = 5.0 * rng.standard_normal(m)
        p = {k: jnp.asarray(np.asarray(a) + spread * rng.standard_normal(np.shape(a)))
             for k, a in p0.items()}
        flat, _ = ravel_pytree(p)
        top = np.linalg.eigvalsh(np.asarray(hess(flat, A, y))).max()
        g = A.T @ (A @ np.asarray(model.signal(p)) - y)
        bound = float(model.hessian_bound(p, jnp.asarray(g), np.linalg.norm(A, 2) ** 2))
        out.append((top, bound))
    return out


@pytest.mark.parametrize("model", [Hadamard(1), Hadamard(2), Hadamard(3), Hadamard(4, True),
                                   DiagonalUV(0.5),
                                   WeightNormDiagonal(2, 0.5, "coordinate", False, 4.0),
                                   WeightNormDiagonal(1, 0.5, "factor", False, 0.25),
                                   WeightNormDiagonal(3, 0.5, "stacked", False, 1.0)],
                         ids=repr)
def test_hessian_bound_dominates_eigvalsh(model):
    for top, bound in _top_eigs_and_bounds(model, 4, 3, np.random.default_rng(7), 4):
        assert bound >= top * (1 - 1e-10), (top, bound)


def test_hadamard_depth1_bound_is_exact():
    # L = 1: the Hessian is [A^T A, -A^T A; ...] with top eigenvalue 2 ||A||^2 exactly
    [(top, bound)] = _top_eigs_and_bounds(Hadamard(1), 5, 4, np.random.default_rng(3), 1)
    assert bound == pytest.approx(top, rel=1e-10)


class _ScaledUV(DiagonalUV):
    def signal(self, params):
        return 2.0 * params["u"] * params["v"]


class _ScaledWN(WeightNormDiagonal):
    pass


@pytest.mark.parametrize("model", [_ScaledUV(0.3), _ScaledWN(2, 0.3)], ids=repr)
def test_loop_model_keeps_subclass(model):
    # before: DiagonalUV(1.0) / WeightNormDiagonal(...) rebuilt the base class, and the
    # driver compiled the base class's signal for the subclass
    lm = model.loop_model()
    assert type(lm) is type(model) and lm.init_scale == 1.0


def test_two_layer_net_init_messages():
    X = np.random.default_rng(0).standard_normal((5, 3))
    net = TwoLayerNet(X, 2, width=4)
    with pytest.raises(TypeError, match="n must be an integer"):
        net.init(None, "10")
    with pytest.raises(TypeError, match="PRNG key"):
        net.init(0)
    p = net.init(jax.random.PRNGKey(0), np.int64(10))
    assert sum(a.size for a in p.values()) == net.n_params
    # signal = flattened predictions / sqrt(N), against a numpy forward pass
    W1, b1, W2, b2 = (np.asarray(p[k]) for k in ("W1", "b1", "W2", "b2"))
    ref = (np.tanh(X @ W1.T + b1) @ W2.T + b2).reshape(-1) / np.sqrt(5)
    np.testing.assert_allclose(np.asarray(net.signal(p)), ref, rtol=1e-12)


def _result(x, info=None, trace=None):
    return Result(x=np.asarray(x), status=Status.CONVERGED, n_iter=0, message="",
                  info=info or {}, trace=trace)


def test_lrrs_rel_error_refuses_broadcast():
    p = GENERATORS["lrrs_problem"].make(dict(n1=6, n2=5, rank=1, s=2, m=30), 1)
    xt = np.asarray(p.x_true)
    r = _result(xt * 1.1)
    out = compute_metrics(["lrrs_rel_error"], p, r.x, None, 1e-4, result=r)
    assert out["lrrs_rel_error"] == pytest.approx(0.1, rel=1e-12)
    # before: a size-1 estimate broadcast against the truth gave a finite, wrong error
    r = _result(np.ones(1))
    with pytest.raises(ValueError, match="shape mismatch"):
        compute_metrics(["lrrs_rel_error"], p, r.x, None, 1e-4, result=r)


def test_info_metrics_none_and_all_nan_trace():
    p = GENERATORS["sparse_recovery"].make(dict(n=10, m=5, s=2), 0)
    r = _result(np.zeros(10), info={"sharpness": None, "train_loss": 0.25},
                trace={"rel_error": [math.nan, math.nan]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compute_metrics(["sharpness", "train_loss", "best_rel_error"], p, r.x, None,
                              1e-4, result=r)
    assert math.isnan(out["sharpness"]) and out["train_loss"] == 0.25
    assert math.isnan(out["best_rel_error"])


def test_eos_line_step_validation():
    p = GENERATORS["sparse_recovery"].make(dict(n=4, m=2, s=1), 0)
    assert eos_line(p, step=0.5).info["sharpness"] == 4.0
    for bad, exc in [(math.inf, ValueError), (0.0, ValueError), (True, TypeError),
                     ("0.5", TypeError)]:
        with pytest.raises(exc, match="step"):
            eos_line(p, step=bad)


@pytest.mark.parametrize("name, params", [
    ("sparse_recovery", dict(n=12, m=6, s=2)), ("sparse_regression", dict(n=12, m=6, s=2,
                                                                          m_test=4)),
    ("lrrs_problem", dict(n1=5, n2=4, rank=1, s=2, m=20)),
    ("matrix_sensing", dict(n1=4, rank=1, m=12))])
def test_generators_reproducible(name, params):
    a, b, c = (GENERATORS[name].make(params, s) for s in (5, 5, 6))
    np.testing.assert_array_equal(np.asarray(a.x_true), np.asarray(b.x_true))
    np.testing.assert_array_equal(np.asarray(a.y), np.asarray(b.y))
    assert not np.array_equal(np.asarray(a.y), np.asarray(c.y))


def test_metric_oracles():
    p = GENERATORS["sparse_recovery"].make(dict(n=20, m=10, s=3), 1)
    xt = np.asarray(p.x_true)
    x = xt.copy()
    x[0] += 0.5
    out = compute_metrics(["rel_error", "l1_norm", "recovered"], p, x, None, 1e-3)
    assert out["rel_error"] == pytest.approx(np.linalg.norm(x - xt) / np.linalg.norm(xt))
    assert out["l1_norm"] == pytest.approx(np.abs(x).sum())
    assert out["recovered"] == 0.0
    assert set(out) <= set(METRICS)
