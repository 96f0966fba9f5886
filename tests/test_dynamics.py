import jax
import jax.numpy as jnp
import numpy as np
import pytest

import overparam
from overparam import Status
from overparam.dynamics import Auto, Constant, Decaying, record_points
from overparam.problems import partial_dct, sparse_recovery


def numpy_hadamard_gd(A, y, L, alpha, eta, iters, nonneg=False, per_factor=False):
    """Independent reference: the hand-derived update u <- u - eta * L u^(L-1) g."""
    c = 1.0 if per_factor else float(L)
    u = np.full(A.shape[1], alpha)
    v = np.full(A.shape[1], alpha)
    for _ in range(iters):
        x = u**L if nonneg else u**L - v**L
        g = A.T @ (A @ x - y)
        u, v = u - eta * c * u ** (L - 1) * g, (v if nonneg else v + eta * c * v ** (L - 1) * g)
    return u**L if nonneg else u**L - v**L


# (depth 1 with nonneg=True is refused: test_nonneg_depth_one_is_refused)
@pytest.mark.parametrize("L,nonneg", [(1, False), (2, False), (3, False), (4, False),
                                      (2, True), (3, True), (4, True)])
def test_driver_equals_hand_written_update(L, nonneg):
    p = sparse_recovery(40, 20, 3, nonneg=nonneg, seed=L)
    A = p.A.to_dense()
    eta, iters = 0.05, 300
    ref = numpy_hadamard_gd(A, p.y, L, 0.5, eta, iters, nonneg=nonneg)
    res = overparam.hadamard_gd(p, depth=L, init_scale=0.5, nonneg=nonneg, step=eta,
                                max_iter=iters, tol=0.0)
    assert res.n_iter == iters
    np.testing.assert_allclose(res.x, ref, rtol=1e-10, atol=1e-12)
    if L >= 2:  # negative control: the per-factor convention is a different iteration
        other = numpy_hadamard_gd(A, p.y, L, 0.5, eta, iters, nonneg=nonneg, per_factor=True)
        assert np.max(np.abs(res.x - other)) > 1e-6


def test_converges_and_recovers_planted_vector_with_auto_step():
    p = sparse_recovery(100, 50, 3, seed=0)
    # the last phase of small-init GD is slow (tiny off-support weights): moderate tol
    res = overparam.hadamard_gd(p, depth=2, init_scale=3e-3, tol=1e-4, max_iter=200_000)
    assert res.status is Status.CONVERGED and res.success
    assert res.info["relative_residual"] <= 1e-4
    assert np.linalg.norm(res.x - p.x_true) / np.linalg.norm(p.x_true) < 1e-2
    assert res.trace["rel_error"][-1] < 1e-2
    assert res.fun == pytest.approx(p.loss(res.x), rel=1e-6, abs=1e-20)


def test_trace_is_recorded_at_log_spaced_points():
    p = sparse_recovery(60, 30, 3, seed=1)
    res = overparam.hadamard_gd(p, init_scale=0.1, step=0.1, max_iter=1000, tol=0.0,
                                record=10, metrics={"linf": lambda x: jnp.max(jnp.abs(x))})
    it = res.trace["iter"]
    assert it[0] == 0 and it[-1] == 1000 and np.all(np.diff(it) > 0)
    assert set(res.trace) == {"iter", "loss", "residual", "l1", "step", "linf", "rel_error"}
    assert np.all(np.diff(res.trace["loss"]) <= 1e-12)  # GD with a stable step descends
    assert res.trace["l1"][-1] == pytest.approx(np.abs(res.x).sum(), rel=1e-12)
    assert res.trace["step"][-1] == pytest.approx(0.1)


def test_record_points():
    assert record_points(100, [0, 5, 50]) == (0, 5, 50, 100)
    pts = record_points(10_000, 5)
    assert pts[0] == 0 and pts[-1] == 10_000 and len(pts) == 6
    with pytest.raises(ValueError, match="record iterations"):
        record_points(10, [20])


def test_divergent_step_reports_diverged_with_finite_iterate():
    p = sparse_recovery(50, 25, 3, seed=0)
    res = overparam.hadamard_gd(p, depth=2, init_scale=1e-2, step=50.0, max_iter=1000)
    assert res.status is Status.DIVERGED and not res.success
    assert np.all(np.isfinite(res.x)) and np.isfinite(res.fun)
    assert "smaller step" in res.message


def test_divergence_right_after_a_record_point_is_recorded_once():
    # the rolled-back iterate used to get a second row (iteration k twice in the trace)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((5, 10))
    y = A @ np.r_[1.0, 1.0, np.zeros(8)]
    for record in (list(range(51)), 8):
        res = overparam.hadamard_gd(A, y, step=0.5, max_iter=50, record=record)
        assert res.status is Status.DIVERGED
        it = res.trace["iter"]
        assert np.all(np.diff(it) > 0) and it[-1] == res.n_iter
        assert np.all(np.isfinite(res.trace["loss"]))


def test_max_iter_status():
    p = sparse_recovery(50, 25, 3, seed=0)
    res = overparam.hadamard_gd(p, depth=2, init_scale=1e-3, step=1e-3, max_iter=50)
    assert res.status is Status.MAX_ITER and res.n_iter == 50
    assert "max_iter" in res.message


def test_stagnation_when_tolerance_is_unreachable():
    p = sparse_recovery(20, 10, 2, seed=0)
    res = overparam.hadamard_gd(p, depth=1, init_scale=0.1, step=0.2, tol=0.0,
                                max_iter=1_000_000)
    assert res.status is Status.STAGNATED
    assert res.n_iter < 1_000_000 and res.info["relative_residual"] < 1e-12


def test_already_solved_problem_converges_at_iteration_zero():
    res = overparam.hadamard_gd(np.ones((2, 3)), np.zeros(2), depth=2)
    assert res.status is Status.CONVERGED and res.n_iter == 0
    np.testing.assert_allclose(res.x, np.zeros(3), atol=1e-15)  # u^2 - v^2 may use an FMA


def test_odd_depth_guard_keeps_factors_non_negative():
    p = sparse_recovery(40, 20, 3, seed=2)
    res = overparam.hadamard_gd(p, depth=3, init_scale=0.5, step=0.3, max_iter=500, tol=0.0)
    for k in ("u", "v"):
        assert np.all(res.info["params"][k] >= 0)


def test_batched_equals_one_by_one():
    probs = [sparse_recovery(60, 30, 3, seed=s) for s in range(4)]  # 3 + 1 per chunk
    kw = dict(depth=2, init_scale=0.05, step=Auto(0.3), max_iter=3000, tol=1e-8)
    batch = overparam.hadamard_gd_batch(probs, **kw, chunk_bytes=3 * 30 * 60 * 8, workers=1)
    assert [r.info["batched"] for r in batch] == [3, 3, 3, 1]
    # two threads: chunks of at most half the batch, the same numbers
    threaded = overparam.hadamard_gd_batch(probs, **kw, workers=2)
    assert [r.info["batched"] for r in threaded] == [2, 2, 2, 2]
    for rb, rt in zip(batch, threaded):
        np.testing.assert_allclose(rt.x, rb.x, rtol=1e-12, atol=1e-14)
    for p, rb in zip(probs, batch):
        r1 = overparam.hadamard_gd(p, **kw)
        assert rb.status is r1.status and rb.n_iter == r1.n_iter
        np.testing.assert_allclose(rb.x, r1.x, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(rb.trace["rel_error"], r1.trace["rel_error"], rtol=1e-10)


@pytest.mark.parametrize("kind", ["dense-copies", "matrix-free"])
def test_shared_operator_batch_equals_one_by_one(kind):
    # one sensing matrix, many signals: one unbatched operator, matrix-matrix products
    if kind == "matrix-free":
        op = partial_dct(30, 60, 0)
        probs = [sparse_recovery(60, 30, 3, operator=op, seed=s) for s in range(3)]
    else:
        A = sparse_recovery(60, 30, 3, seed=9).A.to_dense()
        probs = [sparse_recovery(60, 30, 3, operator=A.copy(), seed=s) for s in range(3)]
    kw = dict(depth=2, init_scale=0.05, step=Auto(0.3), max_iter=3000, tol=1e-8)
    batch = overparam.hadamard_gd_batch(probs, **kw, chunk_bytes=1, workers=1)
    assert [r.info["batched"] for r in batch] == [3, 3, 3]   # one chunk despite the budget
    for p, rb in zip(probs, batch):
        r1 = overparam.hadamard_gd(p, **kw)
        assert rb.status is r1.status and rb.n_iter == r1.n_iter
        np.testing.assert_allclose(rb.x, r1.x, rtol=1e-10, atol=1e-12)
    # a different matrix in the batch is not shared: chunks of one
    other = sparse_recovery(60, 30, 3, seed=5)
    if kind == "dense-copies":
        mixed = overparam.hadamard_gd_batch(probs[:1] + [other], **kw, chunk_bytes=1,
                                            workers=1)
        assert [r.info["batched"] for r in mixed] == [1, 1]


def test_batched_rejects_mixed_shapes():
    with pytest.raises(ValueError, match="share one shape"):
        overparam.hadamard_gd_batch([sparse_recovery(60, 30, 3, seed=0),
                                     sparse_recovery(60, 20, 3, seed=0)])


@pytest.mark.parametrize("chunk_bytes", [0, -1, 1.5, "1MB"])
def test_batched_rejects_a_chunk_bound_that_is_not_a_positive_count(chunk_bytes):
    # checked before any work, even for an empty batch
    with pytest.raises((ValueError, TypeError), match="chunk_bytes"):
        overparam.hadamard_gd_batch([], chunk_bytes=chunk_bytes)


def test_matrix_free_operator_equals_dense():
    op = partial_dct(32, 64, 0)
    p = sparse_recovery(64, 32, 3, operator=op, seed=1)
    kw = dict(depth=2, init_scale=0.1, step=0.2, max_iter=400, tol=0.0)
    r_free = overparam.hadamard_gd(p, **kw)
    r_dense = overparam.hadamard_gd(op.to_dense(), p.y, **kw)
    np.testing.assert_allclose(r_free.x, r_dense.x, rtol=1e-10, atol=1e-12)


def test_decaying_step_schedule():
    p = sparse_recovery(40, 20, 3, seed=0)
    res = overparam.hadamard_gd(p, init_scale=0.3, step=Decaying(0.2, gamma=0.5),
                                max_iter=100, tol=0.0, record=[0, 98, 100])
    assert res.trace["step"][-1] == pytest.approx(0.2 / (99 + 2) ** 0.5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(init_scale=0.0), "init_scale"),
    (dict(init_scale=-1.0), "init_scale"),
    (dict(depth=0), "depth"),
    (dict(step=-0.1), "step"),
    (dict(step="fast"), "unknown step policy"),
    (dict(max_iter=0), "max_iter"),
    (dict(tol=-1.0), "tol"),
])
def test_bad_parameters(kwargs, match):
    p = sparse_recovery(20, 10, 2, seed=0)
    with pytest.raises((ValueError, TypeError), match=match):
        overparam.hadamard_gd(p, **kwargs)


def test_bad_data():
    A = np.ones((3, 4))
    with pytest.raises(ValueError, match="3 rows but y has 2"):
        overparam.hadamard_gd(A, np.ones(2))
    with pytest.raises(ValueError, match="A contains"):
        overparam.hadamard_gd(np.full((3, 4), np.nan), np.ones(3))
    with pytest.raises(ValueError, match="y contains"):
        overparam.hadamard_gd(A, np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="empty"):
        overparam.hadamard_gd(np.ones((0, 4)), np.ones(0))
    with pytest.raises(TypeError, match="y is required"):
        overparam.hadamard_gd(A)
    # the squared loss would underflow to 0 and read as convergence at iteration 0
    B = np.random.default_rng(0).standard_normal((3, 4))
    for scale in (1e-170, 1e160):
        with pytest.raises(ValueError, match="magnitude up to .* rescale y"):
            overparam.hadamard_gd(B, scale * np.ones(3))
        with pytest.raises(ValueError, match="rescale y"):
            overparam.hadamard_gd_batch([overparam.problems.Problem(B, scale * np.ones(3))] * 2)



def test_auto_step_is_scale_invariant():
    # y -> c y with init_scale -> sqrt(c) init_scale (depth 2) is the same run scaled by c;
    # a fixed cap of 1e8 on the auto step broke that below c ~ 1e-10
    p = sparse_recovery(60, 25, 3, seed=4)
    A = p.A.to_dense()
    ref = overparam.hadamard_gd(A, p.y, init_scale=1e-3, max_iter=3000)
    for c in (1e-14, 1e-100, 1e100):
        res = overparam.hadamard_gd(A, c * p.y, init_scale=1e-3 * np.sqrt(c), max_iter=3000)
        assert res.status == ref.status and res.n_iter == ref.n_iter
        np.testing.assert_allclose(res.x / c, ref.x, rtol=1e-8, atol=1e-12)


def test_policies_validate():
    with pytest.raises(ValueError, match="fraction"):
        Auto(fraction=1.5)
    with pytest.raises(ValueError, match="gamma"):
        Decaying(0.1, gamma=2.0)
    assert Constant(0.1) == Constant(0.1)  # hashable static config: no recompilation


def test_tol_stop_at_first_iterate_below_tol_with_trace_recomputed():
    # oracle: a NumPy loop of the same update; the run stops at the first iterate whose
    # relative residual is <= tol, and every trace row is that iterate's loss/residual/l1
    p = sparse_recovery(40, 20, 3, seed=2)
    A, y, L, alpha, eta = p.A.to_dense(), p.y, 2, 0.5, 0.05
    u = np.full(A.shape[1], alpha)
    v = u.copy()
    rows = []
    for _ in range(5000):
        x = u**L - v**L
        r = A @ x - y
        rows.append((0.5 * r @ r, np.linalg.norm(r) / np.linalg.norm(y), np.abs(x).sum(), x))
        g = A.T @ r
        u, v = u - eta * L * u ** (L - 1) * g, v + eta * L * v ** (L - 1) * g
    tol = 1e-3
    first = next(k for k, row in enumerate(rows) if row[1] <= tol)
    res = overparam.hadamard_gd(p, depth=L, init_scale=alpha, step=eta, max_iter=4000,
                                tol=tol, record=7)
    assert res.status is Status.CONVERGED and res.n_iter == first
    np.testing.assert_allclose(res.x, rows[first][3], rtol=0, atol=1e-12)
    it = res.trace["iter"]
    assert it[0] == 0 and it[-1] == first and np.all(np.diff(it) > 0)
    for j, t in enumerate(it):
        np.testing.assert_allclose([res.trace[f][j] for f in ("loss", "residual", "l1")],
                                   rows[t][:3], rtol=1e-9, atol=1e-15)
    # one step short of it: max_iter, not converged
    short = overparam.hadamard_gd(p, depth=L, init_scale=alpha, step=eta, max_iter=first - 1,
                                  tol=tol, record=7)
    assert short.status is Status.MAX_ITER and short.n_iter == first - 1


def test_stagnation_compares_best_losses_not_the_loss_at_record_points():
    # momentum is not monotone: with a record point every 100 steps the loss at one was up
    # on the previous one and the run "stagnated" at iteration 4600, relative residual
    # 1.9e-5, though it converges (as with the default log-spaced records)
    p = sparse_recovery(100, 50, 4, seed=1)
    kw = dict(depth=2, init_scale=1e-3, tol=1e-6, step="nesterov@mirror", max_iter=30_000)
    ref = overparam.hadamard_gd(p, **kw)
    dense = overparam.hadamard_gd(p, **kw, record=list(range(0, 30_001, 100)))
    assert ref.status is Status.CONVERGED
    assert dense.status is Status.CONVERGED, dense.message
    assert dense.n_iter == ref.n_iter
    np.testing.assert_array_equal(dense.x, ref.x)


def test_metric_names_may_not_shadow_trace_fields():
    # a metric named "loss" silently replaced the recorded loss, one named "iter" the
    # iteration numbers (with floats)
    p = sparse_recovery(20, 10, 2, seed=0)
    for name in ("loss", "residual", "l1", "step", "iter"):
        with pytest.raises(ValueError, match=f"metric name '{name}'"):
            overparam.hadamard_gd(p, max_iter=10, metrics={name: lambda x: jnp.sum(x)})
    with pytest.raises(TypeError, match="metric 'm' must be callable"):
        overparam.hadamard_gd(p, max_iter=10, metrics={"m": 3.0})
    with pytest.raises(ValueError, match="duplicate metric names"):
        overparam.dynamics.driver.check_metrics([("m", jnp.sum), ("m", jnp.max)])


def test_record_rejects_what_is_not_a_sequence_of_ints():
    # "37" read as [3, 7], floats were truncated, a 2-d list flattened
    for bad in ("37", 4.0, True, [1.7, 2.2], [[1, 2], [3, 4]], [True, False]):
        with pytest.raises(TypeError, match="record must be an int or"):
            record_points(10, bad)
    assert record_points(10, [5, 3, 3, 0]) == (0, 3, 5, 10)   # sorted, deduplicated
    assert record_points(10, np.array([7, 2])) == (2, 7, 10)
    # more points than iterations: every iteration (10**30 points were allocated first)
    assert record_points(10, 10**30) == tuple(range(11))
    assert record_points(10, 10) == tuple(range(11))


def test_params0_is_checked_against_the_models_init():
    from overparam.dynamics.driver import make_config, run_driver, run_driver_batch
    from overparam.dynamics.steps import as_policy
    from overparam.models import Hadamard

    p = sparse_recovery(40, 20, 3, seed=1)
    model, pol, cfg = Hadamard(2, init_scale=0.1), as_policy(0.05), make_config(10, 0.0, 3)
    n = p.A.shape[1]
    for bad in ({"u": jnp.full((n, 1), 0.1), "v": jnp.full((n, 1), 0.1)},  # broadcasts
                {"u": jnp.full((n - 1,), 0.1), "v": jnp.full((n - 1,), 0.1)},
                {"u": jnp.full((n,), 0.1)}):
        with pytest.raises(ValueError, match="params0 must match model.init"):
            run_driver(model, pol, p.A, p.y, cfg, params0=bad)
    with pytest.raises(ValueError, match="leading batch axis"):
        run_driver_batch(model, pol, [p.A, p.A], [p.y, p.y], cfg,
                         params0={"u": jnp.full((n,), 0.1), "v": jnp.full((n,), 0.1)})
    # integer factors are cast to the model's float64 (they raised a float0 error)
    ref, _, _ = run_driver(model, pol, p.A, p.y, cfg)
    ints, _, _ = run_driver(Hadamard(2, init_scale=1.0), pol, p.A, p.y, cfg,
                            params0={"u": jnp.full((n,), 1), "v": jnp.full((n,), 1)})
    flt, _, _ = run_driver(Hadamard(2, init_scale=1.0), pol, p.A, p.y, cfg)
    np.testing.assert_array_equal(ints["x"], flt["x"])
    assert np.isfinite(ref["loss"])


@pytest.mark.parametrize("n, m, s, depth, alpha, seed, max_iter, floor", [
    (100, 50, 4, 2, 1e-2, 0, 5000, 1e-6),    # stopped at 1100, relative residual 1.9e-4
    (200, 80, 6, 3, 1e-3, 1, 8000, 1e-4),    # stopped at 3400, relative residual 5.2e-2
])
def test_momentum_with_a_record_every_100_steps_is_not_stopped_while_it_improves(
        n, m, s, depth, alpha, seed, max_iter, floor):
    # the loss of Nesterov in mirror coordinates climbs for stretches that grow with the
    # iteration count (here up to a third of it): a fixed 100-step window without a new
    # best loss stopped these runs as stagnated; they converge (the first) or reach
    # 5.8e-5 at the cap (the second), whatever the records
    p = sparse_recovery(n, m, s, seed=seed)
    kw = dict(depth=depth, init_scale=alpha, tol=1e-6, step="nesterov@mirror",
              max_iter=max_iter)
    dense = overparam.hadamard_gd(p, **kw, record=list(range(0, max_iter + 1, 100)))
    ref = overparam.hadamard_gd(p, **kw)
    assert dense.status in (Status.CONVERGED, Status.MAX_ITER), dense.message
    assert dense.info["relative_residual"] <= floor
    assert dense.n_iter == ref.n_iter
    np.testing.assert_array_equal(dense.x, ref.x)


def test_true_stagnation_is_found_soon_and_where_the_records_are_does_not_matter():
    # an inconsistent over-determined system: the loss reaches its floor (to 1e-12) by
    # iteration ~350; with a record at every step the fixed window never saw a segment of
    # 100 steps and ran to max_iter
    p = sparse_recovery(20, 60, 5, noise=0.1, seed=0)
    kw = dict(depth=2, init_scale=0.1, tol=0.0, step="nesterov@mirror", max_iter=20_000)
    runs = [overparam.hadamard_gd(p, **kw, record=r)
            for r in (None, list(range(0, 20_001, 100)), list(range(0, 4001)))]
    A, y = np.asarray(p.A.to_dense()), np.asarray(p.y)
    lsq = np.linalg.norm(A @ np.linalg.lstsq(A, y, rcond=None)[0] - y) / np.linalg.norm(y)
    for res in runs:
        assert res.status is Status.STAGNATED, res.message
        assert res.n_iter < 3000
        np.testing.assert_allclose(res.info["relative_residual"], lsq, rtol=1e-9)
        assert res.n_iter == runs[0].n_iter
        np.testing.assert_array_equal(res.x, runs[0].x)
        assert res.trace["iter"][-1] == res.n_iter


def test_a_run_that_does_not_move_stagnates_after_the_window_unless_disabled():
    from overparam.dynamics.driver import make_config, run_driver
    from overparam.dynamics.steps import as_policy
    from overparam.models import Hadamard

    p = sparse_recovery(20, 10, 2, seed=0)
    model, pol = Hadamard(2, init_scale=0.1), as_policy(1e-300)  # x + eta g rounds to x
    out, _, _ = run_driver(model, pol, p.A, p.y, make_config(5000, 0.0, 7))
    assert int(out["status"]) == 3 and int(out["it"]) == 100  # STAGNATED, window 100
    out, _, _ = run_driver(model, pol, p.A, p.y,
                           make_config(5000, 0.0, 7, stagnation_window=40))
    assert int(out["status"]) == 3 and int(out["it"]) == 40
    # disabled: runs to max_iter
    out, _, _ = run_driver(model, pol, p.A, p.y,
                           make_config(5000, 0.0, 7, stagnation_window=None))
    assert int(out["status"]) == 2 and int(out["it"]) == 5000
    with pytest.raises(ValueError):
        make_config(10, 0.0, 3, stagnation_window=0)


def test_stalled_needs_half_the_run_and_the_window_without_a_new_best():
    from overparam.dynamics.driver import stalled

    assert stalled(1000, 500, 100) and not stalled(1000, 501, 100)
    assert stalled(100, 0, 100) and not stalled(99, 0, 100)
    assert not stalled(10_000, 9_950, 100) and stalled(10_000, 5_000, 100)
    # the same on traced values
    f = jax.jit(stalled)
    assert bool(f(jnp.int64(1000), jnp.int64(500), jnp.int64(100)))
    assert not bool(f(jnp.int64(1000), jnp.int64(501), jnp.int64(100)))


def test_stagnation_at_a_large_init_scale_names_the_precision_floor():
    # x = u^2 - v^2 with u, v ~ 1e3 holds x only to ~1e-10: the run stagnates near a
    # relative residual 1e-9, and the message now says why and what to use instead
    p = sparse_recovery(20, 12, 3, seed=3)
    r = overparam.hadamard_gd(p, depth=2, init_scale=1e3, max_iter=50_000, tol=1e-10)
    assert r.status is Status.STAGNATED
    assert "1e-16 a^2" in r.message and "hadamard_limit" in r.message
    # the limit at that scale (the least-norm solution) is where the run stopped
    lim = overparam.hadamard_limit(p, depth=2, init_scale=1e3)
    assert np.linalg.norm(r.x - lim.x) <= 1e-6 * np.linalg.norm(lim.x)
    # no hint where the scale is not the cause (a step too small to move x)
    q = overparam.hadamard_gd(p, depth=2, init_scale=1e-3, step=1e-300, max_iter=5_000,
                              tol=1e-10)
    assert q.status is Status.STAGNATED
    assert "1e-16 a^2" not in q.message


def _compiles(fn):
    """(programs built by the driver, XLA compilations of ``fn``) so far."""
    from overparam.dynamics import driver

    return driver._build.cache_info().misses, fn._cache_size()


def test_an_init_scale_sweep_and_record_counts_of_one_bucket_reuse_one_compiled_loop():
    # the driver cached its program on the whole Hadamard model, init_scale included:
    # every scale of a sweep (the library's central experiment) compiled the loop anew
    # (~0.6 s each at 12 x 30), and so did every record count
    from overparam.dynamics import driver
    from overparam.dynamics.steps import as_policy
    from overparam.models import Hadamard

    from overparam.problems import Problem

    q = sparse_recovery(47, 19, 2, seed=3)  # a shape no other test compiles
    A = q.A.to_dense()
    p = Problem(q.A, q.y)  # no truth: no metrics, the program's key is the one below
    # 36, 46 and 41 record points: one bucket of 64 slots
    kw = dict(depth=2, step=0.07, max_iter=120, tol=0.0, record=50)
    first = overparam.hadamard_gd(p, init_scale=0.0123, **kw)
    fn = driver._program(Hadamard(2, init_scale=0.0123),
                         driver._split_policy(as_policy(0.07))[0], driver._dense_forward,
                         driver.make_config(120, 0.0, 50), (), False)[0]
    before = _compiles(fn)
    runs = {a: overparam.hadamard_gd(p, init_scale=a, **kw) for a in (0.0234, 0.00345, 0.5)}
    runs[0.0123] = first
    runs["rec"] = overparam.hadamard_gd(p, init_scale=0.0234, **dict(kw, record=70))
    runs["list"] = overparam.hadamard_gd(p, init_scale=0.0234,
                                         **dict(kw, record=list(range(0, 120, 3))))
    assert _compiles(fn) == before
    # each run started from its own scale (not the shared program's placeholder 1.0)
    for a in (0.0123, 0.0234, 0.00345, 0.5):
        ref = numpy_hadamard_gd(A, p.y, 2, a, 0.07, 120)
        np.testing.assert_allclose(runs[a].x, ref, rtol=1e-10, atol=1e-14)
        assert runs[a].info["init_scale"] == a
        np.testing.assert_array_equal(runs[a].trace["iter"], record_points(120, 50))
    np.testing.assert_array_equal(runs["rec"].x, runs[0.0234].x)
    np.testing.assert_array_equal(runs["rec"].trace["iter"], record_points(120, 70))
    np.testing.assert_array_equal(runs["list"].trace["iter"],
                                  list(range(0, 120, 3)) + [120])
    for r in runs.values():
        assert {len(v) for v in r.trace.values()} == {len(r.trace["iter"])}
        assert np.all(np.isfinite(r.trace["loss"]))  # no padded (NaN) row leaks out
    # a batch at a new scale reuses the batched program of the first batch too
    overparam.hadamard_gd_batch([p, p], init_scale=0.0123, workers=1, **kw)
    n_built = driver._build.cache_info().misses
    b = overparam.hadamard_gd_batch([p, p], init_scale=0.0345, workers=1, **kw)
    assert driver._build.cache_info().misses == n_built
    np.testing.assert_allclose(b[1].x, numpy_hadamard_gd(A, p.y, 2, 0.0345, 0.07, 120),
                               rtol=1e-10, atol=1e-14)


def test_results_compare_by_value_and_survive_pickling_and_repr():
    # Result's dataclass __eq__ compared the fields as a tuple, asking an array for its
    # truth value: res == pickle copy, `res in results` and results.index(res) raised
    import copy
    import pickle

    from overparam._core import Result

    p = sparse_recovery(30, 12, 2, seed=1)
    res = overparam.hadamard_gd(p, init_scale=1e-2, max_iter=300)
    back = pickle.loads(pickle.dumps(res))
    assert back == res and not back != res and back in [res] and [res].index(back) == 0
    assert repr(back) == repr(res)
    other = copy.deepcopy(res)
    other.x = other.x.copy()
    other.x[3] = np.nextafter(other.x[3], np.inf)  # one ulp
    assert other != res and other not in [res]
    nan_trace = copy.deepcopy(res)
    nan_trace.trace["loss"][-1] = np.nan
    assert nan_trace == copy.deepcopy(nan_trace) and nan_trace != res  # NaN equals NaN
    assert (res == 3) is False
    with pytest.raises(TypeError):
        hash(res)
    # a repr never raises, whatever a solver put in the numeric fields
    assert "fun=None" in repr(Result(np.zeros(2), Status.CONVERGED, fun=None))


def test_complex_measurements_are_refused_by_name():
    """Complex y failed deep in JAX ('unexpected JAX type ... argument to VJP')."""
    A = np.random.default_rng(0).standard_normal((5, 10))
    y = A[:, 0] + 1j
    with pytest.raises(TypeError, match="y must be real"):
        overparam.hadamard_gd(A, y, max_iter=5)
    with pytest.raises(TypeError, match="y must be real"):
        overparam.hadamard_gd_batch([overparam.problems.Problem(A, y)], max_iter=5)


def test_nonneg_depth_one_is_refused():
    """x = u has no sign constraint: nonneg=True at depth 1 returned negative entries
    under status converged (the estimator and nnls already refused it)."""
    p = sparse_recovery(40, 20, 3, seed=0)
    for fn in (lambda: overparam.hadamard_gd(p, depth=1, nonneg=True),
               lambda: overparam.hadamard_gd_batch([p], depth=1, nonneg=True)):
        with pytest.raises(ValueError, match="nonneg=True needs depth >= 2"):
            fn()


def test_a_policy_of_another_depth_is_refused():
    """Mirror steps of depth 2 on a depth-3 model converged, silently, 4e-3 off the
    depth-3 limit; a policy of the model's depth (or a string) runs."""
    from overparam.dynamics.steps import Nesterov

    p = sparse_recovery(40, 20, 3, seed=0)
    with pytest.raises(ValueError, match="depth 2, but the model has depth 3"):
        overparam.hadamard_gd(p, depth=3, step=Nesterov(space="mirror", depth=2), max_iter=5)
    with pytest.raises(ValueError, match="depth 3, but the model has depth 2"):
        overparam.nnls(p, method="reparam", depth=2, step=Nesterov(space="x", depth=3))
    with pytest.raises(ValueError, match="depth 2, but the model has depth 3"):
        overparam.HadamardRegressor(depth=3, solver="gd", max_iter=5,
                                    step=Nesterov(space="mirror", depth=2)).fit(
            p.A.to_dense(), p.y)
    a = overparam.hadamard_gd(p, depth=3, step=Nesterov(space="mirror", depth=3), max_iter=5)
    b = overparam.hadamard_gd(p, depth=3, step="nesterov@mirror", max_iter=5)
    np.testing.assert_array_equal(a.x, b.x)


def test_the_rel_error_trace_of_a_zero_truth_is_inf_as_the_metric():
    # a floor of 1e-300 under ||x_true|| gave finite traces of 4e278 .. 2e299
    p = sparse_recovery(20, 8, 0, noise=0.1, seed=0)
    res = overparam.hadamard_gd(p, max_iter=50, record=[0, 50])
    # as the metric: 0 at x(0) = 0 (exactly 0 for the signed model), inf once x != 0
    assert res.trace["rel_error"][0] == 0.0 and np.isinf(res.trace["rel_error"][-1])
    assert np.any(res.x != 0)


@pytest.mark.parametrize("depth, nonneg, a", [(2, False, 1e160), (3, False, 1e110),
                                              (2, True, 1e160), (3, True, 1e120)])
def test_an_init_scale_whose_power_overflows_is_refused(depth, nonneg, a):
    """u(0)^L = a^L beyond the float64 range: the run reported diverged after 0 iterations
    with x = inf or NaN, as 'the last finite iterate', and advised step='auto' (used)."""
    p = sparse_recovery(20, 8, 2, nonneg=nonneg, seed=0)
    for fn in (lambda: overparam.hadamard_gd(p, depth=depth, nonneg=nonneg, init_scale=a,
                                             max_iter=10),
               lambda: overparam.hadamard_gd_batch([p], depth=depth, nonneg=nonneg,
                                                   init_scale=a, max_iter=10)):
        with pytest.raises(ValueError, match="init_scale .* too large"):
            fn()
    # negative control: an ordinary scale runs
    ok = overparam.hadamard_gd(p, depth=depth, nonneg=nonneg, init_scale=1e-3, max_iter=10)
    assert np.all(np.isfinite(ok.x))


def test_a_nonneg_start_whose_loss_overflows_is_refused():
    """x(0) = a^L finite but ||A x(0) - y||^2 beyond float64: diverged at iteration 0
    with the advice 'use a smaller step or step="auto"' (step was auto)."""
    p = sparse_recovery(20, 8, 2, nonneg=True, seed=0)
    with pytest.raises(ValueError, match="init_scale .* too large"):
        overparam.hadamard_gd(p, depth=2, nonneg=True, init_scale=1e80, max_iter=10)
    with pytest.raises(ValueError, match="init_scale .* too large"):
        overparam.hadamard_gd_batch([p], depth=2, nonneg=True, init_scale=1e80, max_iter=10)
    # negative control: a large start whose loss is finite runs (and moves down)
    r = overparam.hadamard_gd(p, depth=2, nonneg=True, init_scale=1e30, max_iter=100)
    assert r.status is not Status.DIVERGED and np.all(np.isfinite(r.x))


def test_the_precision_floor_of_a_huge_init_scale_is_named():
    """Signed x = u^2 - v^2 at u, v ~ 1e110: float64 resolves x only to ~1e-16 a^2 ~ 1e204,
    so no step moves x off 0. Once reported as diverged with 'use a smaller step or
    step="auto"' (the step was auto; the fused u*u - v*v made x(0) = 1e204), it stagnates
    with a hint naming the scale and hadamard_limit, the remedies."""
    p = sparse_recovery(20, 12, 3, seed=3)
    r = overparam.hadamard_gd(p, depth=2, init_scale=1e110, max_iter=1000)
    assert r.status is Status.STAGNATED and np.all(r.x == 0)
    assert "1e-16 a^2" in r.message and "hadamard_limit" in r.message
    # no hint where the scale is not the cause (a step far too large at a small scale)
    q = overparam.hadamard_gd(p, depth=2, init_scale=1e-3, step=1e6, max_iter=100)
    assert q.status is Status.DIVERGED
    assert "1e-16 a^2" not in q.message
    # the batch says the same (its messages had no hint)
    rb, qb = overparam.hadamard_gd_batch([p], depth=2, init_scale=1e110, max_iter=1000)[0], \
        overparam.hadamard_gd_batch([p], depth=2, init_scale=1e-3, step=1e6, max_iter=100)[0]
    assert rb.status is Status.STAGNATED and rb.message == r.message
    assert qb.status is Status.DIVERGED and "1e-16 a^2" not in qb.message


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 7])
def test_signed_signal_is_exactly_zero_at_the_start_and_its_gradient_exact(depth):
    # compiled, XLA contracted u*u - v*v into a fused multiply-add: x(0) was 8.7e-23
    # (not 0) at init_scale 1e-3, and hadamard_gd(A, 0) returned it as "converged"
    from overparam.models import Hadamard

    model = Hadamard(depth=depth, init_scale=1e-3)
    p0 = model.init(None, 4)
    assert np.all(np.asarray(jax.jit(model.signal)(p0)) == 0.0)
    rng = np.random.default_rng(0)
    u, v = jnp.asarray(rng.random(5)), jnp.asarray(1e-6 * rng.random(5))
    x = np.asarray(jax.jit(model.signal)({"u": u, "v": v}))
    ref = np.asarray(u) ** depth - np.asarray(v) ** depth
    np.testing.assert_allclose(x, ref, rtol=1e-14)
    # the shrinking factor's gradient stays exact (no cancellation against u^(L-1))
    g = jax.grad(lambda p: jnp.sum(model.signal(p)))({"u": u, "v": v})
    np.testing.assert_allclose(np.asarray(g["v"]), -depth * np.asarray(v) ** (depth - 1),
                               rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g["u"]), depth * np.asarray(u) ** (depth - 1),
                               rtol=1e-14)


def test_zero_measurements_give_exactly_zero():
    A = np.random.default_rng(0).standard_normal((5, 10))
    res = overparam.hadamard_gd(A, np.zeros(5))
    assert res.success and np.all(res.x == 0.0)


def test_a_tiny_init_escaping_its_start_is_not_called_stagnated():
    # from init 1e-50 x grows geometrically for hundreds of steps while the loss is
    # bitwise its initial value: a window of 100 unchanged losses stopped the run there
    # as "stagnated" at relative residual 1
    p = sparse_recovery(100, 40, 4, seed=0)
    r = overparam.hadamard_gd(p, depth=2, init_scale=1e-50, max_iter=20000)
    assert r.n_iter > 1000 and r.info["relative_residual"] < 0.5
    # ... and on the plateaus between saddles, where the loss is flat to rounding while the
    # next coordinates grow: stopped at 0.238 after 1752 steps, it goes on to < 1e-3
    r = overparam.hadamard_gd(p, depth=2, init_scale=1e-50, max_iter=50000)
    assert r.status is not Status.STAGNATED and r.info["relative_residual"] < 1e-3
    # negative control: x that cannot move (the float64 floor of a huge init) stagnates
    q = overparam.hadamard_gd(p, depth=2, init_scale=1e110, max_iter=1000)
    assert q.status is Status.STAGNATED and q.n_iter == 100


@pytest.mark.parametrize("depth, a, match", [
    (10**30, 1e-3, "depth .* beyond the largest"),     # was an OverflowError inside JAX
    (2**40, 1.0, "depth .* beyond the largest"),
    (3, 1e-200, "too small for depth 3 .* use init_scale >= 1.49e-154"),  # gradient 0
    # u^2 = 1e-320 is subnormal, which XLA flushes: a zero gradient (was accepted)
    (3, 1e-160, "too small for depth 3"),
    (10_000, 1e-3, "too small for depth 10000"),
])
def test_depths_and_scales_whose_gradient_float64_cannot_hold_are_refused(depth, a, match):
    p = sparse_recovery(20, 8, 2, seed=0)
    with pytest.raises(ValueError, match=match):
        overparam.hadamard_gd(p, depth=depth, init_scale=a, max_iter=10)
    with pytest.raises(ValueError, match=match):
        overparam.hadamard_gd_batch([p], depth=depth, init_scale=a, max_iter=10)
    # negative control: the smallest scale that keeps the gradient runs
    if depth == 3:
        r = overparam.hadamard_gd(p, depth=3, init_scale=1e-150, max_iter=10)
        assert np.all(np.isfinite(r.x))


def test_a_large_depth_traces_in_one_power():
    # the factored u^L - v^L traced L - 2 products: depth 2**20 would never compile
    p = sparse_recovery(20, 8, 2, seed=0)
    r = overparam.hadamard_gd(p, depth=2**20, init_scale=1.0, max_iter=5)
    assert r.n_iter <= 5
