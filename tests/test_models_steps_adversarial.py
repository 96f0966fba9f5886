"""Adversarial review of the step policies and the models' parametrizations: the step
policies at data scales far from 1 and at starts at the edge of float64, and the
weight-normalized model's symmetry at odd depth."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from overparam.dynamics import hadamard_gd
from overparam.dynamics.steps import (Auto, BarzilaiBorwein, Constant, Nesterov,
                                      StepContext)
from overparam.models import WeightNormDiagonal


def _ctx(it=0, bound=1.0):
    return StepContext(jnp.int64(it), jnp.float64(bound))


# -- Barzilai-Borwein: the min_step floor ------------------------------------------------
def test_bb_floor_never_lifts_a_step_above_the_stable_one():
    """The fallback step is fraction * 2 / bound; the floor min_step = 1e-6 lifted it to
    1e-6 where the stable step is 1e-8 (bound 1e8, data of norm ~1e4). Before: 1e-6."""
    p = {"u": jnp.array([1.0, 2.0])}
    g = {"u": jnp.array([3.0, -1.0])}
    pol = BarzilaiBorwein()
    _, _, eta = pol.update(p, g, pol.init(p), _ctx(bound=1e8))
    assert float(eta) == pytest.approx(1e-8, rel=1e-12)
    # on data of scale ~1 the authors' floor is kept; without a bound (NaN, TwoLayerNet
    # with eta0 given) too
    lo = BarzilaiBorwein(eta0=1e-9)
    assert float(lo.update(p, g, lo.init(p), _ctx())[2]) == 1e-6
    assert float(lo.update(p, g, lo.init(p), _ctx(bound=np.nan))[2]) == 1e-6


def test_bb_converges_on_large_scale_data():
    """A 3 x 5 least-squares problem scaled by 1e3 (||A||^2 ~ 1e7, stable steps < 1e-6):
    step='bb' was DIVERGED after 3 steps (relative residual 5e2) while step='auto'
    converged; now both converge."""
    rng = np.random.default_rng(0)
    A = 1e3 * rng.standard_normal((3, 5))
    y = rng.standard_normal(3)
    r = hadamard_gd(A, y, depth=1, init_scale=0.5, step="bb", max_iter=500, record=None)
    assert r.status.name == "CONVERGED", r.message
    assert np.linalg.norm(A @ r.x - y) <= 1e-5 * np.linalg.norm(y)


# -- mirror coordinates at a start below the floor ---------------------------------------
@pytest.mark.parametrize("policy", [Constant(0.01, space="mirror", depth=3),
                                    Auto(space="mirror", depth=3),
                                    Nesterov(space="mirror", depth=3)],
                         ids=lambda p: type(p).__name__)
def test_mirror_step_from_a_start_below_the_floor_is_finite(policy):
    """u = 1e-160 at L = 3 (a factor that shrank there; until check_power_start counted
    subnormals as 0, also an init_scale the front ends accepted): u^2 = 1e-320 flushed
    to 0 in XLA and the mirror direction g / u^2 was 0 / 0 = NaN, so every mirror run
    stopped "diverged" at iteration 0 with the advice to take a smaller step (u-space:
    the zero gradient, stagnated). Now the direction uses the floored factor, as the
    mirror coordinate does."""
    p = {"u": jnp.full((3,), 1e-160)}
    g = {"u": 3.0 * p["u"] ** 2 * jnp.array([-1.0, 2.0, 0.5])}
    new, _, eta = policy.update(p, g, policy.init(p), _ctx(bound=1e-159))
    assert np.all(np.isfinite(np.asarray(new["u"])))
    assert np.isfinite(float(eta))
    # above the floor nothing changes: the step is the documented -1/u update
    q = {"u": jnp.array([0.5, 1.0, 2.0])}
    gq = {"u": jnp.array([0.3, -0.2, 0.1])}
    out = Constant(0.01, space="mirror", depth=3).update(q, gq, (), _ctx())[0]["u"]
    np.testing.assert_allclose(1 / np.asarray(out),
                               1 / np.asarray(q["u"]) + 0.01 * np.asarray(gq["u"])
                               / np.asarray(q["u"]) ** 2, rtol=1e-14)


# -- weight normalization at odd depth: no sign guard needed ----------------------------
@pytest.mark.parametrize("variant", ["coordinate", "factor", "stacked"])
def test_wn_radius_sign_flip_is_a_direction_flip_at_odd_depth(variant):
    """Unlike Hadamard factors (u >= 0 is the model's domain at odd L, hence its guard),
    a radius crossing 0 is the same point as the opposite direction: (-r, d) and (r, -d)
    give the same factors, so signal, loss gradient (up to the sign of the parameters)
    and the Hessian bound agree, and a step that crosses r = 0 loses nothing."""
    m = WeightNormDiagonal(3, variant=variant, radius_scale=2.0)
    rng = np.random.default_rng(1)
    p0 = m.init(None, 4)
    p = {k: jnp.asarray(rng.standard_normal(np.shape(v))) for k, v in p0.items()}
    neg_r = {k: (-v if k.startswith("r") else v) for k, v in p.items()}
    neg_d = {k: (-v if k.startswith("d") else v) for k, v in p.items()}
    A = jnp.asarray(rng.standard_normal((3, 4)))
    y = jnp.asarray(rng.standard_normal(3))

    def loss(q):
        r = A @ m.signal(q) - y
        return 0.5 * r @ r

    np.testing.assert_allclose(m.signal(neg_r), m.signal(neg_d), rtol=1e-13)
    grad = jax.jit(jax.grad(loss))
    ga, gb = grad(neg_r), grad(neg_d)
    for k in p:
        np.testing.assert_allclose(ga[k], -gb[k], rtol=1e-12, atol=1e-14)
    g = A.T @ (A @ m.signal(neg_r) - y)
    assert float(m.hessian_bound(neg_r, g, 9.0)) == pytest.approx(
        float(m.hessian_bound(neg_d, g, 9.0)), rel=1e-12)
