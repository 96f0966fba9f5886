"""The adaptive gradient-flow integrator (a driver step policy) against exact flows:
the closed-form Hadamard limit, and the matrix exponential of a linear flow."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import overparam
from overparam.dynamics import Flow, flow_sharpness, gradient_flow
from overparam.dynamics.steps import StepContext
from overparam.models import Hadamard
from overparam.problems import Problem, sparse_recovery


@pytest.fixture(scope="module")
def problem():
    return sparse_recovery(20, 8, 2, seed=1)


def test_flow_limit_matches_closed_form_hadamard_limit(problem):
    alpha = 0.5
    lim = overparam.hadamard_limit(problem, depth=2, init_scale=alpha, tol=1e-13)
    res = gradient_flow(Hadamard(2, init_scale=alpha), problem, rtol=1e-10, atol=1e-12,
                        tol=1e-10, max_iter=50_000, record=8)
    assert res.status.value in ("converged", "stagnated")   # residual at the fp floor
    rel = np.linalg.norm(res.x - lim.x) / np.linalg.norm(lim.x)
    assert rel <= 1e-6, rel
    # negative control: the limit of another init scale fails the same check
    other = overparam.hadamard_limit(problem, depth=2, init_scale=0.45, tol=1e-13)
    assert np.linalg.norm(res.x - other.x) / np.linalg.norm(other.x) > 1e-6
    # so does gradient descent with a large constant step from the same init (it does
    # not follow the flow)
    gd = overparam.hadamard_gd(problem, depth=2, init_scale=alpha, step=0.12, tol=1e-10,
                               max_iter=50_000)
    assert np.linalg.norm(gd.x - lim.x) / np.linalg.norm(lim.x) > 1e-6


def test_flow_matches_matrix_exponential():
    """Depth 1 (x = u - v): the flow of 0.5||Ax - y||^2 is linear in (u, v); its exact
    solution at time T is an affine map through expm (the oracle)."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((6, 5)) / np.sqrt(6)
    y = rng.standard_normal(6)
    p = Problem(A, y)
    model = Hadamard(1, init_scale=0.3)
    n_steps = 40
    res = gradient_flow(model, p, rtol=1e-11, atol=1e-13, tol=0.0, max_iter=n_steps,
                        record=range(n_steps + 1))
    T = res.info["flow_time"]
    assert np.isfinite(T) and T > 0
    # z = (u, v), dz/dt = -M z + b with B = [A, -A], M = B^T B, b = B^T y
    B = np.hstack([A, -A])
    M, b = B.T @ B, B.T @ y
    z0 = np.full(10, 0.3)
    aug = np.zeros((11, 11))
    aug[:10, :10], aug[:10, 10] = -M, b
    zT = (scipy.linalg.expm(T * aug) @ np.append(z0, 1.0))[:10]
    u, v = res.info["params"]["u"], res.info["params"]["v"]
    np.testing.assert_allclose(np.concatenate([u, v]), zT, rtol=1e-8, atol=1e-9)
    # negative control: the exact solution a little later differs beyond the tolerance
    zT2 = (scipy.linalg.expm(1.01 * T * aug) @ np.append(z0, 1.0))[:10]
    assert np.max(np.abs(np.concatenate([u, v]) - zT2)) > 1e-6


def test_flow_sharpness_linear_model():
    """For x = u - v the Hessian is constant: s_GF = lambda_max(B^T B) = 2 ||A||^2."""
    rng = np.random.default_rng(4)
    A = rng.standard_normal((6, 9)) / np.sqrt(6)
    p = Problem(A, rng.standard_normal(6))
    res = flow_sharpness(Hadamard(1, init_scale=0.1), p, loss_threshold=1e-4, every=5)
    expect = 2.0 * np.linalg.norm(A, 2) ** 2
    assert abs(res.info["s_gf"] - expect) <= 1e-8 * expect
    assert abs(res.info["eta_c"] - 2.0 / expect) <= 1e-8 * 2.0 / expect
    assert res.fun <= 1e-4 * (1 + 1e-9)
    assert res.success


def test_flow_needs_the_driver_and_valid_options():
    pol = Flow()
    with pytest.raises(ValueError, match="grad_fn"):
        pol.update({"u": np.ones(2)}, {"u": np.ones(2)}, pol.init(None),
                   StepContext(0, 1.0))
    with pytest.raises(ValueError):
        Flow(rtol=-1.0)
    with pytest.raises(ValueError):
        Flow(rtol=0.0, atol=0.0)
    with pytest.raises(ValueError):
        Flow(max_rejections=0)
    with pytest.raises(ValueError):
        flow_sharpness(Hadamard(1), sparse_recovery(6, 3, 1, seed=0), loss_threshold=-1.0)


@pytest.mark.parametrize("rtol,atol", [(1e-10, 0.0), (0.0, 1e-11)])
def test_flow_pure_relative_or_absolute_tolerance_matches_solve_ivp(rtol, atol):
    """``atol = 0`` (allowed) on DiagonalUV, whose v(0) = 0 has a zero error scale, and a
    zero column of A keeps one v_i at 0 for ever: the step control used to divide 0 by 0
    and stop at iteration 0 as "diverged". ``rtol = 0`` (pure absolute control) used to be
    refused although only both 0 is ill-posed. Oracle: scipy's solve_ivp (DOP853, tight)."""
    from scipy.integrate import solve_ivp

    from overparam.models import DiagonalUV

    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 6)) / 2
    A[:, 2] = 0.0
    y = rng.standard_normal(4)
    model = DiagonalUV(0.5)
    n_steps = 25
    res = gradient_flow(model, Problem(A, y), rtol=rtol, atol=atol, tol=0.0,
                        max_iter=n_steps, record=range(n_steps + 1))
    assert res.status.value == "max_iter" and res.n_iter == n_steps, res.status
    T = res.info["flow_time"]
    assert np.isfinite(T) and T > 0.1

    def field(t, z):
        u, v = z[:6], z[6:]
        g = A.T @ (A @ (u * v) - y)
        return -np.concatenate([g * v, g * u])
    z0 = np.concatenate([np.full(6, 0.5), np.zeros(6)])
    zT = solve_ivp(field, (0.0, T), z0, method="DOP853", rtol=1e-13, atol=1e-15).y[:, -1]
    got = np.concatenate([res.info["params"]["u"], res.info["params"]["v"]])
    np.testing.assert_allclose(got, zT, rtol=1e-7, atol=1e-9)
    assert res.info["params"]["v"][2] == 0.0


def test_flow_sharpness_without_curvature_gives_infinite_critical_step():
    """A = 0: the loss is constant, the Hessian 0 along the whole flow, so s_GF = 0 and no
    step is too large (eta_c = inf); ``2 / s_gf`` used to raise ZeroDivisionError after
    the run."""
    p = Problem(np.zeros((3, 4)), np.ones(3))
    res = flow_sharpness(Hadamard(1, init_scale=0.1), p, loss_threshold=1e-3, max_iter=5,
                         k=4)
    assert res.info["s_gf"] == 0.0
    assert res.info["eta_c"] == np.inf
    assert res.status.value == "max_iter" and not res.success


def test_flow_sharpness_starting_below_the_threshold_crosses_at_the_start():
    """The loss at theta_0 already at the threshold: the run stops at once (converged,
    0 steps), so the crossing is the start, at time 0. It was reported as missing
    (threshold_time NaN, threshold_params None) under a converged status. Oracle: the
    initial parameters and the largest eigenvalue of the dense Hessian there."""
    import jax
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 8)) / np.sqrt(5)
    y = rng.standard_normal(5)
    res = flow_sharpness(Hadamard(2, init_scale=0.1), Problem(A, y), loss_threshold=1e6,
                         k=16)
    assert res.success and res.n_iter == 0
    assert res.info["threshold_time"] == 0.0
    pc = res.info["threshold_params"]
    np.testing.assert_array_equal(pc["u"], np.full(8, 0.1))
    np.testing.assert_array_equal(pc["v"], np.full(8, 0.1))

    def loss(w):
        r = A @ (w[:8] ** 2 - w[8:] ** 2) - y
        return 0.5 * r @ r

    H = jax.hessian(loss)(jnp.full(16, 0.1))
    np.testing.assert_allclose(res.info["sharpness_final"], np.linalg.eigvalsh(H)[-1],
                               rtol=1e-8)


def test_flow_sharpness_at_the_crossing_matches_closed_form_logistic_flow():
    """``x = u^2`` (Hadamard, depth 2, non-negative) on a diagonal A: each coordinate
    follows a logistic flow ``x_i(t) = K_i / (1 + (K_i / x0 - 1) exp(-r_i t))`` with
    ``K_i = y_i / a_i``, ``r_i = 4 a_i y_i``, and the Hessian is diagonal,
    ``6 a_i^2 x_i - 2 a_i y_i``, increasing along the flow: s_GF is the sharpness where the
    loss crosses the threshold (oracle: that crossing time by brentq on the closed form).
    The run stops at the first accepted step past the threshold; s_GF used to be read at
    that step's end (relative error 1.2e-3 here)."""
    from scipy.optimize import brentq

    a = np.array([2.0, 1.0, 0.7])
    init = 0.3
    x0 = init**2
    # coordinates 2 and 3 start at their limit (zero residual): the loss at the threshold
    # is the sharpest coordinate's, so the sharpness still moves there
    y = np.array([1.0, a[1] * x0, a[2] * x0])
    K, r = y / a, 4.0 * a * y
    eps = 1e-5

    def x_of(t):
        return K / (1.0 + (K / x0 - 1.0) * np.exp(-r * t))

    def excess(t):
        return 0.5 * np.sum((a * x_of(t) - y) ** 2) - eps

    t_c = brentq(excess, 0.0, 50.0, xtol=1e-15, rtol=1e-15)
    s_c = np.max(6.0 * a**2 * x_of(t_c) - 2.0 * a * y)
    res = flow_sharpness(Hadamard(2, nonneg=True, init_scale=init), Problem(np.diag(a), y),
                         loss_threshold=eps, every=3)
    assert res.success and res.n_iter > 3
    for key in ("s_gf", "sharpness_final"):
        assert abs(res.info[key] / s_c - 1) <= 1e-6, (key, res.info[key] / s_c - 1)
    assert abs(res.info["eta_c"] * s_c / 2.0 - 1) <= 1e-6
    # the time is worse conditioned near the limit (a state error of rtol shifts it by
    # rtol x / (dx/dt)): ~1e-6 here, against a last step of ~10% of t_c
    assert abs(res.info["threshold_time"] / t_c - 1) <= 1e-5
    np.testing.assert_allclose(res.info["threshold_params"]["u"] ** 2, x_of(t_c),
                               rtol=1e-6)
    # the outputs of the run itself are still the last accepted step's, past the crossing
    assert res.fun < eps and res.fun < 0.5 * np.sum((a * x_of(t_c) - y) ** 2) * (1 - 1e-3)
    assert res.trace["sharpness"][-1] > s_c * (1 + 1e-6)
    # negative control: the sharpness a little earlier on the flow fails the same check
    s_early = np.max(6.0 * a**2 * x_of(0.99 * t_c) - 2.0 * a * y)
    assert abs(s_early / s_c - 1) > 1e-6


def test_flow_sharpness_at_the_crossing_matches_solve_ivp_event():
    """A coupled flow (x = u^2 - v^2, dense A): the threshold crossing by scipy's solve_ivp
    (DOP853, tight, a terminal event on the loss) and the exact top Hessian eigenvalue
    there; the sharpness is largest there along this flow, so s_GF is the crossing's."""
    from scipy.integrate import solve_ivp

    rng = np.random.default_rng(7)
    m, n = 4, 6
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    y = rng.standard_normal(m)
    eps, init = 1e-4, 0.4

    def loss(z):
        r = A @ (z[:n] ** 2 - z[n:] ** 2) - y
        return 0.5 * r @ r

    def field(t, z):
        g = A.T @ (A @ (z[:n] ** 2 - z[n:] ** 2) - y)
        return -np.concatenate([2 * z[:n] * g, -2 * z[n:] * g])

    def hessian(z):
        u, v = z[:n], z[n:]
        J = np.hstack([A * (2 * u), -A * (2 * v)])           # d(A x) / d(u, v)
        g = A.T @ (A @ (u**2 - v**2) - y)
        return J.T @ J + np.diag(np.concatenate([2 * g, -2 * g]))

    event = lambda t, z: loss(z) - eps                       # noqa: E731
    event.terminal, event.direction = True, -1
    sol = solve_ivp(field, (0.0, 1e4), np.full(2 * n, init), method="DOP853",
                    rtol=1e-13, atol=1e-15, events=event, dense_output=True)
    t_c, z_c = sol.t_events[0][0], sol.y_events[0][0]
    s_c = np.linalg.eigvalsh(hessian(z_c))[-1]
    # the oracle's premise: the sharpness is largest at the crossing (it grows towards it)
    s_path = [np.linalg.eigvalsh(hessian(sol.sol(t)))[-1] for t in np.linspace(0, t_c, 50)]
    assert np.max(s_path[:-1]) < s_c and np.all(np.diff(s_path[-10:]) > 0)
    res = flow_sharpness(Hadamard(2, init_scale=init), Problem(A, y), loss_threshold=eps,
                         rtol=1e-10, atol=1e-12)
    assert res.success
    assert abs(res.info["s_gf"] / s_c - 1) <= 1e-8, res.info["s_gf"] / s_c - 1
    assert abs(res.info["threshold_time"] / t_c - 1) <= 1e-8
    # the step end (where s_GF used to be read) is past the crossing beyond the tolerance
    assert abs(res.trace["sharpness"][-1] / s_c - 1) > 1e-8


def test_flow_stop_loss_locates_the_crossing_without_changing_the_run():
    """``Flow(stop_loss=eps)`` keeps the first crossing of ``eps`` in its state (found in
    the step that crosses it); the run itself (steps, trace, end point) is the plain
    flow's, and the threshold travels as a value (one program for every eps)."""
    from overparam.dynamics.driver import make_config, run_driver

    with pytest.raises(ValueError):
        Flow(stop_loss=-1.0)
    assert len(Flow().init({"u": np.ones(2)})) == 3 and Flow().dynamic_fields == ()
    assert Flow(stop_loss=1e-3).dynamic_fields == ("stop_loss",)
    rng = np.random.default_rng(11)
    A = rng.standard_normal((5, 9)) / np.sqrt(5)
    p = Problem(A, rng.standard_normal(5))
    model = Hadamard(2, init_scale=0.3)
    params0 = model.init(None, 9)
    eps = 1e-3
    tol = np.sqrt(2 * eps) / np.linalg.norm(p.y)
    cfg = make_config(5000, tol, 5000)
    plain, _, _ = run_driver(model, Flow(rtol=1e-9, atol=1e-11), p.A, p.y, cfg,
                             params0=params0)
    out, _, _ = run_driver(model, Flow(rtol=1e-9, atol=1e-11, stop_loss=eps), p.A, p.y,
                           cfg, params0=params0)
    assert int(out["status"]) == 1 and int(out["it"]) == int(plain["it"]) > 1
    for name in ("loss", "step"):
        np.testing.assert_array_equal(out["trace"][name], plain["trace"][name])
    np.testing.assert_array_equal(out["params"]["u"], plain["params"]["u"])
    cross = out["pstate"][3]
    assert bool(cross["crossed"]) and 0 < int(cross["root_iters"]) < 100
    uc, vc = cross["params"]["u"], cross["params"]["v"]
    r = A @ (uc**2 - vc**2) - p.y
    assert abs(0.5 * r @ r / eps - 1) <= 1e-9
    # inside the last step: after its start, before its end (the plain run's time)
    steps = np.asarray(plain["trace"]["step"])[1:int(plain["it"]) + 1]
    t_end = np.sum(steps)
    assert t_end - steps[-1] < float(cross["time"]) < t_end
    # off: no crossing kept, no state returned
    assert "pstate" not in plain


def test_flow_sharpness_compiles_one_flow_program():
    """The crossing is located in the run itself: a first call compiles one program for
    the flow (the driver's), where a second one used to re-run the flow to the crossing,
    and a new threshold compiles none."""
    import logging

    import jax

    names = []

    class Catch(logging.Handler):
        def emit(self, record):
            msg = record.getMessage()
            if "Finished XLA compilation of" in msg:
                names.append(msg.split("compilation of ")[1].split(" in ")[0])

    rng = np.random.default_rng(12)
    A = rng.standard_normal((7, 13)) / np.sqrt(7)   # shapes no other test compiles
    p = Problem(A, rng.standard_normal(7))
    logger = logging.getLogger("jax")
    handler, level, propagate = Catch(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        with jax.log_compiles():
            first = flow_sharpness(Hadamard(2, init_scale=0.4), p, loss_threshold=1e-3,
                                   every=2)
            n_first = names.count("jit(run)")
            names.clear()
            second = flow_sharpness(Hadamard(2, init_scale=0.4), p, loss_threshold=2e-3,
                                    every=2)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    assert n_first == 1, n_first
    assert names.count("jit(run)") == 0, names
    for res, eps in ((first, 1e-3), (second, 2e-3)):
        assert res.success and res.info["threshold_params"] is not None
        pc = res.info["threshold_params"]
        r = A @ (pc["u"] ** 2 - pc["v"] ** 2) - p.y
        assert abs(0.5 * r @ r / eps - 1) <= 1e-9
    assert second.info["threshold_time"] < first.info["threshold_time"]


@pytest.mark.parametrize("alpha", [3.0, 30.0])
def test_flow_at_a_large_init_scale_descends_and_reaches_the_closed_form_limit(problem,
                                                                                  alpha):
    """At a large init scale the flow is stiff (top Hessian eigenvalue ~ 8 alpha^2
    ||A||^2) and the error control lets the steps sit at the explicit method's stability
    boundary, where the loss no longer decays: with the default tolerances the run
    accepted steps that raised the loss (impossible on the exact flow, a descent flow)
    and stopped as "stagnated" (alpha = 3: relative residual 3e-6; 30: 2e-4, x 1e-4 off
    the limit). Oracle: the closed-form Hadamard limit of the flow."""
    lim = overparam.hadamard_limit(problem, depth=2, init_scale=alpha, tol=1e-13)
    res = gradient_flow(Hadamard(2, init_scale=alpha), problem, tol=1e-9,
                        max_iter=20_000, record=20_000)
    assert res.status.value == "converged", res.message
    loss = res.trace["loss"]
    assert np.all(np.diff(loss) <= 0), int(np.sum(np.diff(loss) > 0))
    assert np.linalg.norm(res.x - lim.x) / np.linalg.norm(lim.x) <= 1e-8
    # negative control: the limit of half the init scale fails the same check
    other = overparam.hadamard_limit(problem, depth=2, init_scale=alpha / 2, tol=1e-13)
    assert np.linalg.norm(res.x - other.x) / np.linalg.norm(other.x) > 1e-8


def test_gradient_flow_refuses_complex_targets_and_takes_metrics_as_a_mapping():
    """Complex y failed inside JAX's VJP ("unexpected JAX type ... complex128"); a dict of
    metrics (what wn_gd / hadamard_gd take) failed with "not enough values to unpack"."""
    A = np.array([[1.0, 2.0, 0.5]])
    with pytest.raises(TypeError, match="y must be real"):
        gradient_flow(Hadamard(2, init_scale=0.1), A, np.array([1.0 + 1.0j]))
    res = gradient_flow(Hadamard(2, init_scale=0.1), A, np.array([1.0]),
                        metrics={"x0": lambda x: x[0]})
    np.testing.assert_allclose(res.trace["x0"][-1], res.x[0], rtol=1e-15)
    listed = gradient_flow(Hadamard(2, init_scale=0.1), A, np.array([1.0]),
                           metrics=[("x0", lambda x: x[0])])
    np.testing.assert_array_equal(listed.trace["x0"], res.trace["x0"])


def test_flow_failure_is_not_reported_with_step_size_advice():
    """A flow takes no step size: when it stops as "diverged" the message said "use a
    smaller step or step='auto'" (here theta_0 holds a NaN)."""
    A, y = np.array([[1.0, 2.0, 0.5]]), np.array([1.0])
    res = gradient_flow(Hadamard(2, init_scale=0.1), A, y,
                        params0={"u": np.array([np.nan, 0.1, 0.1]), "v": np.full(3, 0.1)})
    assert res.status.value == "diverged"
    assert "step='auto'" not in res.message and "integration failed" in res.message
