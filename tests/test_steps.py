"""Step policies: update oracles, safeguards, and the documented limit claims.

Claims (docs/nnls.md, "Which limit each policy reaches"):
1. interpolation regime, mirror coordinates: the gradient flow's limit (hadamard_limit)
   exactly, for every step policy (auto, Barzilai-Borwein, Nesterov);
2. interpolation regime, u- or x-space with large or accelerated steps: a different limit;
3. over-determined regime (unique NNLS solution): u-space policies reach it;
4. x-space steps floor x at 0, which is absorbing: they can stall at a spurious point.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import overparam
from overparam.solvers import nnls
from overparam.dynamics.steps import (
    Auto,
    BarzilaiBorwein,
    Constant,
    Decaying,
    Nesterov,
    StepContext,
    as_policy,
)
from overparam.problems import sparse_recovery


def ctx(it=0, bound=1.0):
    return StepContext(jnp.int64(it), jnp.float64(bound))


# -- interface and update oracles ---------------------------------------------------------
def test_backward_compatible_constructors_and_hashing():
    assert Constant(0.1) == Constant(0.1) and hash(Constant(0.1)) == hash(Constant(0.1))
    assert Auto(0.3).fraction == 0.3 and Decaying(0.2, 0.5).gamma == 0.5
    assert as_policy(0.1) == Constant(0.1) and as_policy("auto") == Auto()
    assert Nesterov(space="mirror", depth=2) == Nesterov(space="mirror", depth=2)


@pytest.mark.parametrize("make, match", [
    (lambda: Constant(0.1, space="x"), "depth"),
    (lambda: Constant(0.1, space="v", depth=2), "space"),
    (lambda: BarzilaiBorwein("medium"), "variant"),
    (lambda: BarzilaiBorwein(min_step=2.0, max_step=1.0), "exceeds"),
    (lambda: BarzilaiBorwein(growth=0.5), "growth"),
    (lambda: Nesterov(fraction=1.0), "fraction"),
    (lambda: Nesterov(eta=-1.0), "step"),
])
def test_invalid_policies_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_one_step_oracles_in_each_space():
    p = {"u": jnp.array([0.5, 1.0, 2.0])}
    g = {"u": jnp.array([0.3, -0.2, 0.1])}
    eta = 0.1
    u, gr = np.asarray(p["u"]), np.asarray(g["u"])
    out_u = Constant(eta).update(p, g, (), ctx())[0]["u"]
    np.testing.assert_allclose(out_u, u - eta * gr)
    # x-space, L = 2: u_new^2 = u^2 - 2 u * eta * grad
    out_x = Constant(eta, space="x", depth=2).update(p, g, (), ctx())[0]["u"]
    np.testing.assert_allclose(out_x**2, u**2 - 2 * u * eta * gr, rtol=1e-13)
    # mirror, L = 2: log u_new = log u - eta * grad / u  (x <- x exp(-4 eta g))
    out_m = Constant(eta, space="mirror", depth=2).update(p, g, (), ctx())[0]["u"]
    np.testing.assert_allclose(np.log(out_m), np.log(u) - eta * gr / u, rtol=1e-13)
    # mirror, L = 3: u_new^(-1) = u^(-1) + eta * grad / u^2
    out_3 = Constant(eta, space="mirror", depth=3).update(p, g, (), ctx())[0]["u"]
    np.testing.assert_allclose(1 / out_3, 1 / u + eta * gr / u**2, rtol=1e-13)
    # all three agree to first order in eta
    small = 1e-6
    a = Constant(small).update(p, g, (), ctx())[0]["u"]
    for space in ("x", "mirror"):
        b = Constant(small, space=space, depth=2).update(p, g, (), ctx())[0]["u"]
        np.testing.assert_allclose(b, a, rtol=1e-10)


def test_bb_steps_fallback_clip_and_growth():
    pol = BarzilaiBorwein("long", eta0=0.05, growth=None)
    p0 = {"u": jnp.array([1.0, 2.0])}
    H = np.diag([2.0, 8.0])  # quadratic 0.5 u^T H u: the long BB step is a Rayleigh ratio
    state = pol.init(p0)
    p1, state, eta0 = pol.update(p0, {"u": H @ p0["u"]}, state, ctx())
    assert float(eta0) == 0.05  # first step: the fallback
    p2, state, eta1 = pol.update(p1, {"u": H @ p1["u"]}, state, ctx(1))
    s = np.asarray(p1["u"] - p0["u"])
    assert float(eta1) == pytest.approx(s @ s / (s @ H @ s), rel=1e-12)
    capped = BarzilaiBorwein("long", eta0=1e-3, growth=2.0)
    st = capped.init(p0)
    q1, st, _ = capped.update(p0, {"u": H @ p0["u"]}, st, ctx())
    _, _, e = capped.update(q1, {"u": H @ q1["u"]}, st, ctx(1))
    assert float(e) == pytest.approx(2e-3)  # growth safeguard: at most 2x the last step
    clipped = BarzilaiBorwein("short", eta0=1e-9, growth=None)
    _, _, e0 = clipped.update(p0, {"u": H @ p0["u"]}, clipped.init(p0), ctx())
    assert float(e0) == 1e-6  # the authors' clip to [1e-6, 1e6]


def test_nesterov_restart_resets_momentum():
    pol = Nesterov(eta=0.1)
    p = {"u": jnp.array([1.0])}
    state = pol.init(p)
    p1, state, _ = pol.update(p, {"u": jnp.array([1.0])}, state, ctx())
    assert int(state[1]) == 1
    # descent now points up (small negative gradient) while the momentum still carries
    # the iterate down: the move is uphill, so the momentum restarts
    _, kept, _ = pol.update(p1, {"u": jnp.array([-5.0])}, state, ctx(1))
    assert int(kept[1]) == 2
    _, state, _ = pol.update(p1, {"u": jnp.array([-0.01])}, state, ctx(1))
    assert int(state[1]) == 0


def test_decaying_schedule_value():
    pol = Decaying(0.4, gamma=0.5, space="mirror", depth=2)
    _, _, eta = pol.update({"u": jnp.ones(2)}, {"u": jnp.ones(2)}, (), ctx(it=7))
    assert float(eta) == pytest.approx(0.4 / 3.0)


def test_policies_work_for_any_pytree_in_u_space():
    params = {"a": jnp.ones((2, 2)), "b": [jnp.zeros(3)]}
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    # BB's first step is the fallback; Nesterov's first extrapolation is 1/4 of the move
    for pol, expect in ((BarzilaiBorwein(eta0=0.1), 0.9), (Nesterov(eta=0.1), 0.875)):
        out, _, _ = pol.update(params, grads, pol.init(params), ctx())
        np.testing.assert_allclose(out["a"], expect)
        np.testing.assert_allclose(out["b"][0], -(1.0 - expect))


# -- the limit claims ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def interp():
    p = sparse_recovery(40, 15, 3, seed=1, nonneg=True)
    lim = overparam.hadamard_limit(p, depth=2, init_scale=0.3, nonneg=True, tol=1e-13)
    return p, lim


def _gd(p, step, **kw):
    kw = dict(dict(depth=2, init_scale=0.3, nonneg=True, tol=1e-11, max_iter=60_000), **kw)
    return overparam.hadamard_gd(p, step=step, **kw)


def _dist(x, ref):
    return np.linalg.norm(x - ref) / np.linalg.norm(ref)


@pytest.mark.parametrize("policy", [
    Auto(0.9, space="mirror", depth=2),
    BarzilaiBorwein("long", space="mirror", depth=2),
    Nesterov(space="mirror", depth=2),
], ids=["auto", "bb", "nesterov"])
def test_claim1_mirror_policies_reach_the_flow_limit(interp, policy):
    p, lim = interp
    res = _gd(p, policy)
    assert res.success
    assert _dist(res.x, lim.x) < 1e-8


@pytest.mark.parametrize("policy", [
    BarzilaiBorwein("long"), Nesterov(), Nesterov(space="x", depth=2)],
    ids=["bb-u", "nesterov-u", "nesterov-x"])
def test_claim2_u_and_x_space_acceleration_changes_the_limit(interp, policy):
    p, lim = interp
    res = _gd(p, policy)
    assert res.success
    assert _dist(res.x, lim.x) > 1e-3  # ... where the mirror policies are within 1e-8


def test_claim2_small_u_steps_approach_the_flow_limit(interp):
    p, lim = interp
    d = [_dist(_gd(p, Auto(f)).x, lim.x) for f in (0.8, 0.1)]
    assert d[1] < d[0] / 3


@pytest.fixture(scope="module")
def overdet():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((60, 30)) / np.sqrt(60)
    y = rng.standard_normal(60)
    xs, _ = scipy.optimize.nnls(A, y)
    return A, y, xs


@pytest.mark.parametrize("policy", [Auto(), BarzilaiBorwein(), Nesterov(),
                                    Auto(space="mirror", depth=2)],
                         ids=["auto", "bb", "nesterov", "auto-mirror"])
def test_claim3_overdetermined_policies_reach_the_nnls_solution(overdet, policy):
    A, y, xs = overdet
    res = nnls(A, y, method="reparam", step=policy, init_scale=0.1,
                                 tol=1e-9)
    assert res.success
    fs = 0.5 * np.sum((A @ xs - y) ** 2)
    assert abs(res.fun - fs) <= 1e-8 * fs and res.info["kkt"] <= 1e-6


def test_claim4_x_space_floor_is_absorbing(overdet):
    A, y, _ = overdet
    res = nnls(A, y, method="reparam", step=Auto(space="x", depth=2),
                                 init_scale=0.1, tol=1e-9, max_iter=3000)
    assert not res.success
    g = res.info["gradient"]
    stuck = (res.x == 0) & (g < -1e-3)  # zero coordinates that want to grow: spurious
    assert stuck.any()


@pytest.mark.parametrize("text, expected", [
    ("auto", Auto()),
    ("constant:0.05", Constant(0.05)),
    ("decaying:0.1:0.25", Decaying(0.1, 0.25)),
    ("bb:short@x", BarzilaiBorwein("short", space="x", depth=2)),
    ("nesterov@mirror", Nesterov(space="mirror", depth=2)),
    ("auto@mirror", Auto(space="mirror", depth=2)),
])
def test_policy_strings(text, expected):
    from overparam.dynamics.steps import as_policy

    assert as_policy(text, depth=2) == expected


@pytest.mark.parametrize("text, match", [
    ("nesterov@mirror", "depth"), ("bb:longest", "variant"), ("constant", "numbers"),
    ("decaying:fast", "not a number"), ("adam", "unknown step policy"), ("auto@y", "space"),
])
def test_policy_string_errors(text, match):
    from overparam.dynamics.steps import as_policy

    with pytest.raises(ValueError, match=match):
        as_policy(text, depth=None if text == "nesterov@mirror" else 2)


def test_policy_string_runs_through_hadamard_gd():
    p = sparse_recovery(60, 30, 3, nonneg=True, seed=0)
    a = overparam.hadamard_gd(p, nonneg=True, step="nesterov@mirror", max_iter=300, tol=0.0)
    b = overparam.hadamard_gd(p, nonneg=True, step=Nesterov(space="mirror", depth=2),
                              max_iter=300, tol=0.0)
    np.testing.assert_array_equal(a.x, b.x)


def test_constant_step_sweep_compiles_once_and_matches_a_numpy_loop():
    from overparam.dynamics import driver

    p = sparse_recovery(n=30, m=12, s=2, seed=3)
    A, y = np.asarray(p.A.to_dense()), np.asarray(p.y)
    first = overparam.hadamard_gd(p, depth=2, init_scale=0.1, step=0.011, max_iter=50,
                                  tol=0.0, record=None)
    misses = driver._build.cache_info().misses
    for eta in (0.013, 0.017):
        res = overparam.hadamard_gd(p, depth=2, init_scale=0.1, step=eta, max_iter=50,
                                    tol=0.0, record=None)
        u = np.full(30, 0.1)
        v = np.full(30, 0.1)
        for _ in range(50):  # the same update in NumPy: x = u^2 - v^2
            g = A.T @ (A @ (u**2 - v**2) - y)
            u, v = u - eta * 2 * u * g, v + eta * 2 * v * g
        np.testing.assert_allclose(res.x, u**2 - v**2, rtol=1e-12, atol=1e-14)
        assert not np.allclose(res.x, first.x)  # the step is really used
    assert driver._build.cache_info().misses == misses  # no new program per step size


def test_threads_of_a_batched_run_build_and_compile_one_program(monkeypatch):
    import functools

    from overparam.dynamics import driver, hadamard_gd_batch
    from overparam.dynamics.hadamard_gd import _rel_error
    from overparam.dynamics.steps import as_policy
    from overparam.models import Hadamard

    # an empty program cache for this test (programs are shared by every run with the same
    # model, policy, metrics and bucket of record rows: another test may have built this
    # one), so that the two threads race to build it
    monkeypatch.setattr(driver, "_build", functools.lru_cache(maxsize=None)(
        driver._build.__wrapped__))
    probs = [sparse_recovery(n=37, m=11, s=2, seed=i) for i in range(8)]
    record = [0, 1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 30]
    res = hadamard_gd_batch(probs, workers=2, chunk_bytes=2 * 8 * 11 * 37, max_iter=30,
                            tol=0.0, record=record)  # four chunks of two on two threads
    assert driver._build.cache_info().misses == 1
    model = Hadamard(depth=2, nonneg=False, init_scale=1e-3)
    skeleton, _ = driver._split_policy(as_policy("auto", depth=2))
    fn, _ = driver._program(model, skeleton, driver._dense_forward,
                            driver.make_config(30, 0.0, record),
                            (("rel_error", _rel_error),), True)
    assert driver._build.cache_info().misses == 1  # the same program
    assert fn._cache_size() == 1  # compiled once for the chunk shape
    one = overparam.hadamard_gd(probs[5], max_iter=30, tol=0.0, record=None)
    np.testing.assert_allclose(res[5].x, one.x, rtol=1e-12, atol=1e-15)


def test_numpy_scalar_steps_are_constant_steps():
    # np.float32 and np.int64 are not float / int subclasses: they raised TypeError
    assert as_policy(np.float32(0.25)) == Constant(0.25)
    assert as_policy(np.int64(1)) == Constant(1.0)
    assert as_policy(np.float64(0.1)) == Constant(0.1)
    for flag in (True, np.bool_(True)):
        with pytest.raises(TypeError, match="step must be"):
            as_policy(flag)


def test_zero_dimensional_array_steps_are_constant_steps():
    """A 0-d array step (np.asarray(0.1), jnp.asarray(0.1), e.g. from a sweep grid) was
    refused as "not a positive number" while Constant(jnp.asarray(0.1)) was accepted."""
    for step in (np.asarray(0.1), jnp.asarray(0.1), np.asarray(np.float32(0.25))):
        assert as_policy(step) == Constant(float(step))
    with pytest.raises(ValueError, match="step must be finite and > 0"):
        as_policy(np.asarray(-0.1))
    with pytest.raises(TypeError, match="step must be"):
        as_policy(np.asarray(True))
    with pytest.raises(TypeError, match="step must be"):
        as_policy(np.asarray([0.1]))


def test_nesterov_restart_flag_and_unused_depth_are_validated():
    """restart was read by truth value: restart="no" (or "False" from a config file)
    switched the restart on; a depth given with space "u" was kept unchecked."""
    for bad in ("no", "False", None, 2):
        with pytest.raises(TypeError, match="restart"):
            Nesterov(restart=bad)
    assert Nesterov(restart=0).restart is False and Nesterov(restart=np.bool_(True)).restart
    for bad, err in (("a", TypeError), (2.5, TypeError), (0, ValueError)):
        with pytest.raises(err, match="depth"):
            Constant(0.1, depth=bad)
    assert Constant(0.1, depth=np.int64(3)).depth == 3
    # restart on / off where the momentum points uphill: after a step along -g (k = 1,
    # beta = 1/4) the gradient -g/10 gives <d, c2 - c1> = (0.0025 - 0.001)|g|^2 > 0
    p = {"u": jnp.array([1.0, -2.0])}
    g = jnp.array([0.5, 0.5])
    for pol in (Nesterov(eta=0.1), Nesterov(eta=0.1, restart=False)):
        y1, st1, _ = pol.update(p, {"u": g}, pol.init(p), ctx())
        _, st2, _ = pol.update(y1, {"u": -0.1 * g}, st1, ctx(1))
        assert int(st2[1]) == (0 if pol.restart else 2)
