"""Nesterov in mirror coordinates at depth >= 3: the gradient restart's "uphill" test.

Before the fix the restart tested ``<d, c_{k+1} - c_k> > 0`` with the step's direction
``d = g_p / p**(L-1)`` (the loss's gradient in c preconditioned by ``(dc/dp)**2``), a dot
ruled by the smallest factors: the momentum (beta ~ 0.993) drove a fitted factor to
infinity (domain cap: it doubles each step) without ever restarting, and the run ended
``diverged``.
"""
import jax.numpy as jnp
import numpy as np

import overparam
from overparam.dynamics.steps import Nesterov, StepContext
from overparam.solvers import nnls


def test_restart_fires_when_a_large_factor_goes_uphill():
    # factor 0 (p = 1) moves up (c toward 0) against a positive gradient: the loss rises
    # to first order (g . dp = 0.1); factor 1 (p = 1e-3) moves along a tiny negative
    # gradient. Before: <d, diff> = 0.1 - 100 < 0, no restart (k went 5 -> 6)
    pol = Nesterov(eta=1e-12, space="mirror", depth=3)
    p = {"u": jnp.array([1.0, 1e-3])}
    c = -1.0 / p["u"]
    state = ({"u": c - 0.1}, jnp.int64(5))
    grads = {"u": jnp.array([1.0, -1e-3])}
    new_p, (c_new, k), _ = pol.update(p, grads, state, StepContext(jnp.int64(5),
                                                                   jnp.float64(1.0)))
    assert int(k) == 0
    # restarted: no extrapolation, the new point is the plain step from y
    np.testing.assert_allclose(np.asarray(new_p["u"]), np.asarray(p["u"]), rtol=1e-9)
    # a downhill momentum keeps going (the same state with the gradients' signs flipped)
    _, (_, k), _ = pol.update(p, {"u": -grads["u"]}, state,
                              StepContext(jnp.int64(5), jnp.float64(1.0)))
    assert int(k) == 6


def _report_problem():
    rng = np.random.default_rng(0)
    rng.standard_normal((20, 8))
    rng.standard_normal(8)
    A = rng.standard_normal((8, 20))
    return A, A @ np.abs(rng.standard_normal(20))


def test_nnls_reparam_depth3_small_init_converges_to_flow_limit():
    # before: DIVERGED after 1427 steps (KKT residual ~121; one factor 1.2 -> 1e21)
    A, y = _report_problem()
    r = nnls(A, y, method="reparam", depth=3, init_scale=1e-3)
    assert r.status == overparam.Status.CONVERGED, r.message
    assert np.linalg.norm(A @ r.x - y) <= 1e-5 * np.linalg.norm(y)
    assert r.x.min() >= 0
    lim = nnls(A, y, method="limit", depth=3, init_scale=1e-3)
    # mirror coordinates: the flow's limit whatever the steps
    np.testing.assert_allclose(r.x, lim.x, atol=1e-4 * np.abs(lim.x).max())


def test_hadamard_gd_signed_depth3_mirror_nesterov_converges():
    # before: DIVERGED after 242 steps (after: converged in ~570)
    rng = np.random.default_rng(9)
    A = rng.standard_normal((6, 15))
    x = np.zeros(15)
    x[:2] = [1.0, -0.7]
    y = A @ x
    r = overparam.hadamard_gd(A, y, depth=3, init_scale=1e-2,
                              step=Nesterov(space="mirror", depth=3), max_iter=5000,
                              record=None)
    assert r.status == overparam.Status.CONVERGED, r.message
    lim = overparam.hadamard_limit(A, y, depth=3, init_scale=1e-2)
    np.testing.assert_allclose(r.x, lim.x, atol=1e-4)
