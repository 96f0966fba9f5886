"""Adversarial review of the models (Hadamard, deep matrix factorization, weight
normalization, two-layer net), the edge-of-stability runs and WN-GD: independent oracles
(dense Hessians, finite differences, closed forms) and inputs at the edges."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.flatten_util import ravel_pytree

from overparam.dynamics import Constant, RadiusScaled, diagonal_gd, eos_flow, wn_gd
from overparam.dynamics.eos import MAX_SHARPNESS_RECORDS
from overparam.models import (DeepMatrixFactorization, DiagonalUV, Hadamard,
                              WeightNormDiagonal)
from overparam.problems import as_problem

_RNG = np.random.default_rng(0)
A = _RNG.standard_normal((3, 5))
Y = A @ np.array([1.0, 0.0, 0.0, -0.5, 0.0])


def _loss_of(model, A, y, unravel):
    def loss(z):
        r = A @ model.signal(unravel(z)) - y
        return 0.5 * r @ r
    return loss


def _dense_top(model, params, A, y):
    """Largest eigenvalue of the dense Hessian of 0.5 ||A signal(p) - y||^2."""
    flat, unravel = ravel_pytree({k: jnp.asarray(v) for k, v in params.items()})
    H = np.asarray(jax.hessian(_loss_of(model, jnp.asarray(A), jnp.asarray(y), unravel))(flat))
    return float(np.linalg.eigvalsh(0.5 * (H + H.T)).max())


# -- oracles ---------------------------------------------------------------------------

_BOUND_MODELS = [Hadamard(3), Hadamard(4, nonneg=True),
                 DeepMatrixFactorization((2, 3), depth=3, widths=(4, 1)),
                 DeepMatrixFactorization((2, 3), depth=2, widths=(5,))]


@pytest.mark.parametrize("model", _BOUND_MODELS, ids=lambda m: type(m).__name__)
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_hessian_bound_dominates_the_dense_hessian_at_log_spread_points(model, seed):
    """Entries spread over three decades (some exactly 0), data over four: the bound the
    driver's step='auto' uses is never below the top eigenvalue of jax.hessian."""
    rng = np.random.default_rng(seed)
    n = 6 if isinstance(model, DeepMatrixFactorization) else 5
    p0 = model.init(None, n)
    flat0, unravel = ravel_pytree(p0)
    z = rng.standard_normal(flat0.size) * 10.0 ** rng.uniform(-2, 1, flat0.size)
    z[rng.integers(flat0.size)] = 0.0
    p = unravel(jnp.asarray(z))
    M = rng.standard_normal((3, n)) * 10.0 ** rng.uniform(-1, 1)
    y = rng.standard_normal(3) * 10.0 ** rng.uniform(-2, 2)
    top = _dense_top(model, p, M, y)
    g = M.T @ (M @ np.asarray(model.signal(p)) - y)
    bound = float(model.hessian_bound(p, jnp.asarray(g), np.linalg.norm(M, 2) ** 2))
    assert bound >= top * (1 - 1e-9) - 1e-12, (bound, top)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_hadamard_gradient_and_hessian_at_the_symmetric_start(depth):
    """At u = v (every run's start) the signal is the custom-JVP difference; its gradient
    and Hessian equal those of the plain u^L - v^L, the gradient also central differences
    at a random point; x(0) = 0 exactly (also compiled)."""
    m = Hadamard(depth, init_scale=0.7)
    p0 = m.init(None, 5)
    flat0, unravel = ravel_pytree(p0)
    custom = _loss_of(m, A, Y, unravel)

    def plain(z):
        q = unravel(z)
        r = A @ (q["u"] ** depth - q["v"] ** depth) - Y
        return 0.5 * r @ r
    np.testing.assert_allclose(jax.grad(custom)(flat0), jax.grad(plain)(flat0), rtol=1e-13)
    np.testing.assert_allclose(jax.hessian(custom)(flat0), jax.hessian(plain)(flat0),
                               rtol=1e-12, atol=1e-14)
    assert np.array_equal(np.asarray(jax.jit(m.signal)(p0)), np.zeros(5))
    z = flat0 + 0.3 * jnp.asarray(_RNG.standard_normal(flat0.size))
    g = np.asarray(jax.grad(custom)(z))
    h, E = 1e-6, np.eye(z.size)
    fd = np.array([(custom(z + h * e) - custom(z - h * e)) / (2 * h) for e in E])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["scaled_identity", "orthogonal"])
@pytest.mark.parametrize("scale", ["factor", "end_to_end"])
def test_dmf_end_to_end_scale_at_init(kind, scale):
    """W(0) = W_N ... W_1 has all singular values alpha^N ("factor") or alpha
    ("end_to_end") for the identity and orthogonal starts."""
    m = DeepMatrixFactorization((4, 4), depth=3, init_kind=kind, init_scale=0.5, scale=scale)
    s = np.linalg.svd(np.asarray(m.matrix(m.init(None, 16))), compute_uv=False)
    np.testing.assert_allclose(s, 0.5 ** 3 if scale == "factor" else 0.5, rtol=1e-12)


@pytest.mark.parametrize("model", ["hadamard", "uv"])
def test_eos_sharpness_is_the_top_eigenvalue_of_the_dense_hessian(model):
    """The sharpness diagonal_gd reports (Lanczos on HVPs) at the start (trace row 0) and
    at the stop equals the largest eigenvalue of the dense Hessian there; so does
    eos_flow's at its threshold crossing."""
    prob = as_problem(A, Y)
    r = diagonal_gd(prob, model=model, step=0.05, init_scale=0.8, max_iter=400,
                    sharpness_every=400)
    net = Hadamard(2, init_scale=0.8) if model == "hadamard" else DiagonalUV(0.8)
    assert r.info["sharpness"] == pytest.approx(_dense_top(net, r.info["params"], A, Y),
                                                rel=1e-9)
    assert r.trace["sharpness"][0] == pytest.approx(
        _dense_top(net, net.init(None, 5), A, Y), rel=1e-9)
    f = eos_flow(prob, model=model, init_scale=0.8, loss_threshold=1e-4, max_iter=2000)
    assert f.info["sharpness"] == pytest.approx(_dense_top(net, f.info["params"], A, Y),
                                                rel=1e-6)


@pytest.mark.parametrize("variant", ["coordinate", "stacked"])
def test_wn_gd_without_renormalization_grows_the_direction_norm_by_pythagoras(variant):
    """Salimans-Kingma: the gradient in d is orthogonal to d, so one step gives
    ||d_1||^2 = ||d_0||^2 + eta^2 ||grad_d||^2 exactly (per block); the signal is that of
    the normalized direction."""
    eta, ratio = 0.05, 3.0
    m = WeightNormDiagonal(2, 0.5, variant, renormalize=False, radius_scale=ratio)
    p0 = m.init(None, 5)
    G = jax.grad(lambda p: 0.5 * jnp.sum((A @ m.signal(p) - Y) ** 2))(p0)
    r = wn_gd(A, Y, depth=2, init_scale=0.5, variant=variant, renormalize=False, step=eta,
              radius_step_ratio=ratio, max_iter=1, tol=0.0)
    ax = 1 if variant == "coordinate" else None
    d0, g, d1 = (np.asarray(a) for a in (p0["d"], G["d"], r.info["params"]["d"]))
    np.testing.assert_allclose(np.sum(d0 * g, axis=ax), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.sum(d1**2, axis=ax),
                               np.sum(d0**2, axis=ax) + eta**2 * np.sum(g**2, axis=ax),
                               rtol=1e-14)
    assert np.all(np.sum(d1**2, axis=ax) > 1.0)


# -- defects ---------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda d: Hadamard(d), lambda d: WeightNormDiagonal(d),
    lambda d: DeepMatrixFactorization((2, 2), depth=d)], ids=["had", "wn", "dmf"])
@pytest.mark.parametrize("depth", [2**31, 2**62, 10**30])
def test_depth_beyond_the_supported_range_is_refused_by_every_model(make, depth):
    """WeightNormDiagonal took any depth (wn_gd at 2**62 failed with JAX's "overflow ...
    parsing an argument"), DeepMatrixFactorization at 10**30 failed with "cannot fit 'int'
    into an index-sized integer": neither named the depth."""
    with pytest.raises(ValueError, match="depth = .* beyond the largest supported"):
        make(depth)
    assert make(5).depth == 5


def test_wn_gd_refuses_a_huge_depth_by_name():
    with pytest.raises(ValueError, match="depth = .* beyond the largest supported"):
        wn_gd(A, Y, depth=2**62, step=0.01, max_iter=2)


def test_dmf_init_names_a_bad_key_and_count():
    m = DeepMatrixFactorization((2, 2), depth=2, init_kind="gaussian", seed=3)
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        m.init(0, 4)              # was JAX's "invalid PRNG key data"
    with pytest.raises(TypeError, match="n must be an integer"):
        m.init(None, 4.0)         # was accepted (the other models refuse it)
    a, b = m.init(None, np.int64(4)), m.init(jax.random.PRNGKey(3), 4)
    assert set(a) == {"W1", "W2"} and all(np.all(np.isfinite(b[k])) for k in b)


def test_wn_gd_folds_a_radius_scaled_step_into_the_reported_ratio():
    """step=RadiusScaled(Constant(eta), 4) stepped the radius with 4 eta while info
    reported radius_step_ratio 1.0; with radius_step_ratio=4 as well (16 eta) it
    reported 4.0."""
    kw = dict(max_iter=20, tol=0.0, init_scale=0.5)
    a = wn_gd(A, Y, step=RadiusScaled(Constant(0.02), 4.0), **kw)
    b = wn_gd(A, Y, step=0.02, radius_step_ratio=4.0, **kw)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-12, atol=1e-15)
    assert a.info["radius_step_ratio"] == b.info["radius_step_ratio"] == 4.0
    c = wn_gd(A, Y, step=RadiusScaled(Constant(0.02), 4.0), radius_step_ratio=4.0, **kw)
    d = wn_gd(A, Y, step=0.02, radius_step_ratio=16.0, **kw)
    np.testing.assert_allclose(c.x, d.x, rtol=1e-12, atol=1e-15)
    assert c.info["radius_step_ratio"] == 16.0
    assert np.max(np.abs(a.x - c.x)) > 1e-6               # negative control


@pytest.mark.parametrize("depth, scale, match", [
    (2, 1e160, "too large for depth 2"),    # was diverged after 0 steps, x = -inf
    (3, 1e-200, "too small for depth 3"),   # was a run at x = 0 with zero gradients
])
def test_wn_gd_refuses_a_start_float64_cannot_hold(depth, scale, match):
    with pytest.raises(ValueError, match=match):
        wn_gd(A, Y, depth=depth, init_scale=scale, max_iter=5)


@pytest.mark.parametrize("model", ["hadamard", "uv"])
def test_eos_refuses_an_init_scale_whose_square_overflows(model):
    """diagonal_gd at init_scale=1e300 was "diverged" after 0 steps with the advice to
    use a smaller step and a NaN sharpness; eos_flow ran to max_iter at x = 0."""
    with pytest.raises(ValueError, match="init_scale = 1e\\+300 is too large"):
        diagonal_gd(A, Y, model=model, init_scale=1e300, step=0.01)
    with pytest.raises(ValueError, match="init_scale = 1e\\+300 is too large"):
        eos_flow(as_problem(A, Y), model=model, init_scale=1e300, max_iter=5)


def test_eos_record_points_are_bounded_and_follow_the_iteration_cap():
    """sharpness_every=1 with max_iter=10**7 allocated ten million trace rows (1.9 GB,
    21 s for a run that stopped after 68 steps; 10**8 ran out of memory): refused by
    name. max_iter=10**20 with sharpness_every=10**19 was refused as a bad "record"."""
    with pytest.raises(ValueError, match="sharpness_every=1 with max_iter=10000000"):
        diagonal_gd(A, Y, step=0.05, max_iter=10**7, sharpness_every=1)
    with pytest.raises(ValueError, match="raise sharpness_every to at least 2"):
        diagonal_gd(A, Y, step=0.05, max_iter=MAX_SHARPNESS_RECORDS, sharpness_every=1)
    r = diagonal_gd(A, Y, step=0.05, max_iter=10**20, sharpness_every=10**19)
    assert r.status.name == "CONVERGED" and np.isfinite(r.trace["sharpness"][0])
