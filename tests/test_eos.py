"""Edge-of-stability runs (constant-step GD to a loss threshold), the regression tasks
with a test set, and the registry entries of the area."""
from __future__ import annotations

import numpy as np
import pytest

from overparam.dynamics import diagonal_gd, eos_flow, mlp_gd
from overparam.dynamics.eos import parameter_norms, threshold_tol
from overparam.problems.regression import (DigitsProblem, RegressionProblem,
                                           digits_regression,
                                           sparse_regression)


@pytest.fixture(scope="module")
def reg():
    return sparse_regression(40, 16, 3, m_test=200, noise=0.01, seed=0)


def test_sparse_regression_problem(reg):
    assert isinstance(reg, RegressionProblem)
    assert reg.A.shape == (16, 40) and reg.A_test.shape == (200, 40)
    # the truth's test MSE is the noise level squared (up to sampling)
    assert 0.5e-4 < reg.test_error(reg.x_true) < 2e-4
    again = sparse_regression(40, 16, 3, m_test=200, noise=0.01, seed=0)
    np.testing.assert_array_equal(again.A_test, reg.A_test)
    with pytest.raises(ValueError):
        sparse_regression(10, 5, 11, seed=0)
    with pytest.raises(ValueError):
        sparse_regression(10, 5, 2, m_test=0, seed=0)
    with pytest.raises(ValueError):
        sparse_regression(10, 5, 2, noise=-1.0, seed=0)
    with pytest.raises(ValueError):
        reg.test_error(np.zeros(3))
    with pytest.raises(ValueError):
        RegressionProblem(reg.A, reg.y, A_test=np.full((3, 40), np.nan), y_test=np.ones(3))


def test_digits_problem():
    p = digits_regression(60, 40, classes=3, seed=1)
    assert isinstance(p, DigitsProblem)
    assert p.A.shape == (180, 180) and p.X_train.shape == (60, 64)
    np.testing.assert_allclose(np.sum(p.y**2), 1.0)        # one-hot / sqrt(N)
    assert p.test_accuracy(p.Y_test) == 1.0 and p.test_error(p.Y_test) == 0.0
    assert set(np.unique(p.labels_train)) <= {0, 1, 2}
    with pytest.raises(ValueError):
        digits_regression(2000, 100, seed=0)
    with pytest.raises(ValueError):
        digits_regression(10, 10, classes=11, seed=0)


def test_threshold_and_norms():
    y = np.array([3.0, 4.0])
    assert abs(threshold_tol(y, 0.125) - 0.5 / 5.0) < 1e-15
    assert parameter_norms({"a": np.array([3.0, -4.0]), "b": np.array(0.0)}) == (7.0, 5.0)
    with pytest.raises(ValueError):
        threshold_tol(y, -1.0)


def test_below_eta_c_gd_follows_the_flow(reg):
    """Below 2 / s_GF the sharpness at the stop is within 10% of s_GF (here the flow's
    sharpness grows monotonically, so s_GF is the flow's final sharpness)."""
    flow = eos_flow(reg, model="hadamard", init_scale=0.5, loss_threshold=1e-5, every=2)
    assert flow.success
    s_gf, eta_c = flow.info["s_gf"], flow.info["eta_c"]
    assert abs(eta_c * s_gf - 2.0) < 1e-12
    gd = diagonal_gd(reg, model="hadamard", init_scale=0.5, step=0.4 * eta_c,
                     loss_threshold=1e-5, max_iter=20_000)
    assert gd.success and gd.fun <= 1e-5 * (1 + 1e-9)
    assert abs(gd.info["sharpness"] / s_gf - 1) < 0.1
    assert np.isfinite(gd.info["test_error"]) and gd.info["two_over_eta"] > s_gf
    # negative control: the edge-of-stability value 2 / eta fails the same check
    assert abs(gd.info["sharpness"] / gd.info["two_over_eta"] - 1) > 0.1


def test_bad_model(reg):
    with pytest.raises(ValueError, match="model"):
        diagonal_gd(reg, model="deep", step=0.1)
    with pytest.raises(ValueError, match="model"):
        eos_flow(reg, model="deep")


def test_mlp_edge_of_stability():
    """A tanh net on digits: with a small step the sharpness at the stop is s0 (the flow's,
    after progressive sharpening); with eta = 1.5 * 2 / s0 it hovers at 2 / eta."""
    p = digits_regression(200, 100, classes=10, seed=0)
    small = mlp_gd(p, width=16, step=0.2, loss_threshold=0.1, max_iter=20_000)
    assert small.success
    s0 = small.info["sharpness"]
    assert s0 * 0.2 / 2 < 0.5                      # far below the edge
    eta = 1.5 * 2.0 / s0
    gd = mlp_gd(p, width=16, step=eta, loss_threshold=0.1, max_iter=20_000)
    assert gd.success, gd.message
    assert abs(gd.info["sharpness"] * eta / 2 - 1) < 0.1, gd.info["sharpness"] * eta / 2
    # negative control: the small-step sharpness is not at 2 / eta
    assert abs(s0 * eta / 2 - 1) > 0.1
    assert 0 <= gd.info["test_accuracy"] <= 1 and gd.info["param_l1"] > 0
    with pytest.raises(TypeError):
        mlp_gd(sparse_regression(10, 5, 1, seed=0), step=0.1)


def test_mlp_seed_is_validated_not_truncated():
    """A float seed used to be truncated silently (init_seed=1.7 ran seed 1 while
    ``info["init_seed"]`` said 1.7); a bool ran seed 1."""
    from overparam.models import TwoLayerNet
    p = digits_regression(20, 10, classes=3, seed=0)
    with pytest.raises(TypeError, match="init_seed"):
        mlp_gd(p, width=3, init_seed=1.7, step=0.1, max_iter=2)
    with pytest.raises(TypeError, match="seed"):
        TwoLayerNet(np.ones((4, 2)), 2, seed=1.5)
    with pytest.raises(TypeError, match="seed"):
        TwoLayerNet(np.ones((4, 2)), 2, seed=True)
    with pytest.raises(ValueError, match="activation"):
        TwoLayerNet(np.ones((4, 2)), 2, activation=["tanh"])
    assert TwoLayerNet(np.ones((4, 2)), 2, seed=np.int64(3)).seed == 3



def test_mlp_settings_are_validated_before_the_cached_net():
    """The net is cached on (problem, width, activation, init_scale, seed): init_scale
    went through float() first, so the string "0.5" and True ran as scales 0.5 and 1.0
    (info reporting the string); width=True hit the cached net of width 1 (True == 1);
    an unhashable width or activation failed with "unhashable type: 'list'"."""
    import overparam.dynamics.eos as eos
    p = digits_regression(20, 10, classes=3, seed=0)
    eos._mlp_cached(p, 1, "tanh", 1.0, 0)          # a width-1 net in the cache
    cases = [(dict(init_scale="0.5"), TypeError), (dict(init_scale=True), TypeError),
             (dict(init_scale=-1.0), ValueError), (dict(width=True), TypeError),
             (dict(width=[4]), TypeError), (dict(activation=["tanh"]), TypeError)]
    for kw, err in cases:
        with pytest.raises(err, match="init_scale|width|activation"):
            mlp_gd(p, step=0.1, max_iter=1, **kw)
        with pytest.raises(err, match="init_scale|width|activation"):
            eos_flow(p, model="mlp", max_iter=1, **kw)
    with pytest.raises(TypeError, match="init_scale"):
        mlp_gd(p, step=0.1, max_iter=1, init_scale=None)

def test_bad_k_is_rejected_before_the_run(reg, monkeypatch):
    """``k`` (Lanczos steps) was first checked by the sharpness at the stop, i.e. after a
    possibly long GD run."""
    import overparam.dynamics.eos as eos

    def no_run(*args, **kwargs):
        raise AssertionError("the GD run started before k was validated")
    monkeypatch.setattr(eos, "run_driver", no_run)
    with pytest.raises(ValueError, match="k must"):
        diagonal_gd(reg, step=0.05, k=0, max_iter=10)


def test_mlp_auto_step_is_refused():
    """TwoLayerNet has no Hessian bound: step="auto" used to run a NaN step and come back
    as "diverged" advising step='auto'."""
    p = digits_regression(20, 10, classes=3, seed=0)
    with pytest.raises(ValueError, match="constant step"):
        mlp_gd(p, width=3, step="auto", max_iter=5)


@pytest.mark.parametrize("model,init_scale,eps", [("hadamard", 0.5, 1e-5), ("uv", 1.0, 1e-4)])
def test_eos_flow_reports_everything_at_the_threshold_crossing(reg, model, init_scale, eps):
    """eos_flow took the sharpness at the located crossing but the norms, the test error,
    x and the train loss at the end of the last integrator step, past it (train loss
    8.5e-6 and 8.2e-5 here instead of eps, ~1.5e-1 relative off). Oracle: the crossing
    parameters, with the signal, loss and test MSE recomputed in NumPy."""
    f = eos_flow(reg, model=model, init_scale=init_scale, loss_threshold=eps, every=2)
    assert f.success
    pc = f.info["threshold_params"]
    assert pc is not None
    u, v = np.asarray(pc["u"]), np.asarray(pc["v"])
    x = u * u - v * v if model == "hadamard" else u * v
    A = reg.A.to_dense()
    r = A @ x - reg.y
    # the crossing is the flow's first point with loss <= eps (root-found in time)
    assert 0.5 * (r @ r) <= eps * (1 + 1e-12)
    np.testing.assert_allclose(0.5 * (r @ r), eps, rtol=1e-9)
    np.testing.assert_allclose(f.info["train_loss"], eps, rtol=1e-9)
    np.testing.assert_allclose(f.fun, 0.5 * (r @ r), rtol=1e-12)
    np.testing.assert_allclose(f.x, x, rtol=1e-12, atol=1e-15)
    flat = np.concatenate([u, v])
    np.testing.assert_allclose(f.info["param_l1"], np.abs(flat).sum(), rtol=1e-12)
    np.testing.assert_allclose(f.info["param_l2"], np.linalg.norm(flat), rtol=1e-12)
    rt = reg.A_test @ x - reg.y_test
    np.testing.assert_allclose(f.info["test_error"], rt @ rt / rt.shape[0], rtol=1e-12)
    np.testing.assert_allclose(f.info["relative_residual"],
                               np.linalg.norm(r) / np.linalg.norm(reg.y), rtol=1e-12)
    # the step end is past the crossing by far more than the tolerances above
    assert f.trace["loss"][-1] < eps * (1 - 1e-3)


def test_eos_flow_mlp_scores_at_the_threshold_crossing():
    """The net's test MSE / accuracy and norms at the crossing (NumPy forward pass on the
    crossing parameters), and its train loss equal to eps."""
    p = digits_regression(100, 50, classes=4, seed=0)
    eps = 0.1
    f = eos_flow(p, model="mlp", width=6, loss_threshold=eps, every=3)
    assert f.success
    pc = {k: np.asarray(v) for k, v in f.info["threshold_params"].items()}

    def predict(X):
        return np.tanh(X @ pc["W1"].T + pc["b1"]) @ pc["W2"].T + pc["b2"]
    train = predict(p.X_train)
    np.testing.assert_allclose(0.5 * np.sum((train - p.Y_train) ** 2) / train.shape[0], eps,
                               rtol=1e-9)
    np.testing.assert_allclose(f.info["train_loss"], eps, rtol=1e-9)
    test = predict(p.X_test)
    np.testing.assert_allclose(f.info["test_error"],
                               np.sum((test - p.Y_test) ** 2) / test.shape[0], rtol=1e-10)
    assert f.info["test_accuracy"] == np.mean(np.argmax(test, 1) == p.labels_test)
    flat = np.concatenate([np.ravel(v) for v in pc.values()])
    np.testing.assert_allclose(f.info["param_l1"], np.abs(flat).sum(), rtol=1e-12)
    assert f.trace["loss"][-1] < eps * (1 - 1e-3)


def test_regression_problem_refuses_complex_and_misshaped_input(reg):
    """A complex test set was accepted (test_error then failed in float()), a complex x
    lost its imaginary part with only a warning (test_error(x + 1j) == test_error(x)),
    and an array of n entries of any shape passed as the vector x."""
    with pytest.raises(TypeError, match="A_test"):
        RegressionProblem(reg.A, reg.y, A_test=np.ones((3, 40)) + 1j, y_test=np.ones(3))
    with pytest.raises(TypeError, match="y_test"):
        RegressionProblem(reg.A, reg.y, A_test=np.ones((3, 40)), y_test=np.ones(3) + 1j)
    with pytest.raises(TypeError, match="real"):
        reg.test_error(reg.x_true + 1j)
    with pytest.raises(ValueError, match="vector"):
        reg.test_error(reg.x_true.reshape(2, 20))
    # a column (or row) vector is still a vector
    assert reg.test_error(reg.x_true[:, None]) == reg.test_error(reg.x_true)
    rt = reg.A_test @ reg.x_true - reg.y_test
    assert reg.test_error(reg.x_true) == pytest.approx(rt @ rt / 200, rel=1e-14)


def test_digits_problem_validates_its_labels():
    """Labels index np.eye(n_classes): -1 silently became the last class; labels and
    inputs of different lengths, or a target vector of the wrong size, were accepted."""
    p = digits_regression(20, 10, classes=3, seed=0)
    kw = dict(X_train=p.X_train, labels_train=p.labels_train, X_test=p.X_test,
              labels_test=p.labels_test, n_classes=3)
    assert DigitsProblem(p.A, p.y, **kw).Y_test.shape == (10, 3)
    for bad in (np.r_[-1, p.labels_test[1:]], np.r_[3, p.labels_test[1:]],
                p.labels_test[:5], p.labels_test.astype(float)):
        with pytest.raises(ValueError, match="labels_test"):
            DigitsProblem(p.A, p.y, **dict(kw, labels_test=bad))
    with pytest.raises(ValueError, match="labels_train"):
        DigitsProblem(p.A, p.y, **dict(kw, labels_train=np.r_[p.labels_train[:-1], -2]))
    with pytest.raises(ValueError, match="measurements"):
        DigitsProblem(p.A, p.y, **dict(kw, X_train=p.X_train[:10],
                                       labels_train=p.labels_train[:10]))
    with pytest.raises(ValueError, match="non-finite"):
        DigitsProblem(p.A, p.y, **dict(kw, X_test=np.full_like(p.X_test, np.nan)))
    with pytest.raises(ValueError, match="features"):
        DigitsProblem(p.A, p.y, **dict(kw, X_test=p.X_test[:, :10]))


def test_complex_targets_are_refused_up_front(reg):
    """A Problem keeps complex measurements; the real networks failed inside JAX's VJP
    with a dtype message."""
    A = reg.A.to_dense()
    with pytest.raises(TypeError, match="y must be real"):
        diagonal_gd(A, reg.y + 1j, step=0.05, max_iter=3)
    with pytest.raises(TypeError, match="y must be real"):
        eos_flow(RegressionProblem(reg.A, reg.y + 1j, A_test=reg.A_test, y_test=reg.y_test),
                 max_iter=3)


@pytest.mark.parametrize("model", ["hadamard", "uv"])
def test_gd_stops_at_the_first_iterate_below_the_threshold(reg, model):
    """Oracle: the same updates in NumPy (loss 0.5 ||A x - y||^2), stepped until the loss
    first is <= eps; same stopping iteration, same iterate to 1e-12."""
    A, y, eta, eps = reg.A.to_dense(), reg.y, 0.05, 1e-3
    u = np.full(40, 0.7)
    v = u.copy() if model == "hadamard" else np.zeros(40)

    def signal(u, v):
        return u * u - v * v if model == "hadamard" else u * v
    t = 0
    while 0.5 * np.sum((A @ signal(u, v) - y) ** 2) > eps:
        g = A.T @ (A @ signal(u, v) - y)
        u, v = ((u - 2 * eta * u * g, v + 2 * eta * v * g) if model == "hadamard"
                else (u - eta * v * g, v - eta * u * g))
        t += 1
    res = diagonal_gd(reg, model=model, init_scale=0.7, step=eta, loss_threshold=eps,
                      max_iter=20_000)
    assert res.success and res.n_iter == t
    np.testing.assert_allclose(res.info["params"]["u"], u, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.info["params"]["v"], v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.info["train_loss"],
                               0.5 * np.sum((A @ signal(u, v) - y) ** 2), rtol=1e-12)


def test_threshold_tol_refuses_non_finite_targets():
    """A NaN in y made ||y|| NaN, which was read as y = 0: the tolerance came back as
    sqrt(2 eps) (0.0447 for eps = 1e-3) instead of an error."""
    with pytest.raises(ValueError, match="y contains"):
        threshold_tol(np.array([np.nan, 1.0]), 1e-3)
    with pytest.raises(ValueError, match="y contains"):
        threshold_tol(np.array([np.inf, 1.0]), 1e-3)
    with pytest.raises(TypeError, match="y must be real"):
        threshold_tol(np.array([1.0 + 1j, 1.0]), 1e-3)
    # y = 0: the absolute residual (unchanged)
    assert threshold_tol(np.zeros(3), 1e-3) == np.sqrt(2e-3)


@pytest.mark.parametrize("kind", ["sparse", "linear_operator"])
def test_sparse_and_linear_operator_inputs_match_the_dense_call(reg, kind):
    """A scipy.sparse matrix or a LinearOperator runs through host callbacks, which have
    no second-order rule: the sharpness (at the stop, and along the run) failed with
    "Pure callbacks do not support JVP" after the whole run. Now the same numbers as the
    dense call (the operator is materialized for the sharpness only)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import aslinearoperator

    A, y = np.asarray(reg.A.to_dense()), np.asarray(reg.y)
    A_in = sp.csr_matrix(A) if kind == "sparse" else aslinearoperator(A)
    kw = dict(model="uv", init_scale=0.7, step=0.05, loss_threshold=1e-3, max_iter=5000,
              sharpness_every=25)
    ref = diagonal_gd(A, y, **kw)
    res = diagonal_gd(A_in, y, **kw)
    assert res.success and res.n_iter == ref.n_iter
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(res.info["sharpness"], ref.info["sharpness"], rtol=1e-10)
    np.testing.assert_allclose(res.trace["sharpness"], ref.trace["sharpness"], rtol=1e-10)
    assert ref.info["sharpness"] > 0
    if kind == "sparse":                                   # inputs untouched
        np.testing.assert_array_equal(A_in.toarray(), A)


def test_init_scale_sweep_shares_one_compiled_sharpness(reg):
    """The sharpness is a function of the signal only, but was compiled for every init
    scale (the model, init scale included, keyed its cache): a sweep over init_scale
    recompiled it at every scale (and the loop too for x = u * v)."""
    from overparam.dynamics import driver, eos

    kw = dict(model="uv", step=0.05, loss_threshold=1e-2, max_iter=5000)
    diagonal_gd(reg, init_scale=0.9, **kw)
    before = eos._jitted.cache_info().misses
    for a in (0.6, 0.8):
        res = diagonal_gd(reg, init_scale=a, **kw)
        assert res.success and res.info["init_scale"] == a
    assert eos._jitted.cache_info().misses == before
    # the result is that of a model with this init scale (not the loop model's 1.0)
    first = diagonal_gd(reg, init_scale=0.6, max_iter=1, loss_threshold=None, tol=1e-300,
                        model="uv", step=0.05)
    g = reg.A.to_dense().T @ (reg.A.to_dense() @ np.zeros(40) - reg.y)
    np.testing.assert_allclose(first.info["params"]["v"], -0.05 * 0.6 * g, rtol=1e-12)
    if hasattr(driver, "_build"):                          # the loop's program cache
        n = driver._build.cache_info().misses
        diagonal_gd(reg, init_scale=0.45, **kw)
        assert driver._build.cache_info().misses == n


# ------------------------------------------------ adversarial inputs (round 13)
def test_two_over_eta_only_for_a_constant_plain_gd_step(reg):
    """two_over_eta was 2 / getattr(policy, "eta"): 20 for Decaying(0.1) (the initial
    scale of a decaying step), 2 / eta for Nesterov and for mirror-space steps, none of
    which has its edge of stability at 2 / eta."""
    from overparam.dynamics.eos import _constant_eta
    from overparam.dynamics.steps import BarzilaiBorwein, Constant, Decaying, Nesterov

    res = diagonal_gd(reg, step=Decaying(0.1), max_iter=2, loss_threshold=None, tol=1e-300)
    assert np.isnan(res.info["two_over_eta"]) and res.info["step"] == 0.1
    assert res.n_iter == 2 and np.isfinite(res.info["sharpness"])
    assert _constant_eta(Constant(0.05)) == 0.05
    for step in (Nesterov(eta=0.05), Constant(0.05, space="mirror", depth=2),
                 Constant(0.05, space="x", depth=2), BarzilaiBorwein(eta0=0.1)):
        assert _constant_eta(step) is None, step


def test_step_coordinates_are_checked_against_the_model(reg):
    """x / mirror steps were taken on any model: on x = u * v (v = 0) a mirror step
    diverged at step 1, and on the depth-2 Hadamard model a depth-3 mirror step
    converged elsewhere, reported converged (while the string "constant:0.05@mirror" was
    refused for want of a depth)."""
    from overparam.dynamics.steps import Constant

    with pytest.raises(ValueError, match="space='mirror'"):
        diagonal_gd(reg, model="uv", step=Constant(0.05, space="mirror", depth=2),
                    max_iter=2)
    with pytest.raises(ValueError, match="depth 3"):
        diagonal_gd(reg, step=Constant(0.05, space="mirror", depth=3), max_iter=2)
    # the string parses now; oracle: one exponentiated-gradient step from u = v = 1,
    # x = 0 (grad_u = -2 A^T y, grad_v = 2 A^T y): u = exp(0.1 A^T y), v = 1 / u
    one = diagonal_gd(reg, step="constant:0.05@mirror", max_iter=1, loss_threshold=None,
                      tol=1e-300)
    u = np.exp(0.1 * reg.A.to_dense().T @ reg.y)
    np.testing.assert_allclose(one.x, u**2 - u**-2, rtol=1e-12, atol=1e-15)


def test_mlp_refuses_every_step_from_the_missing_hessian_bound():
    """Only step="auto" was refused: "nesterov" and "bb" take their (first) step from
    the same NaN bound and came back "diverged" after 0 iterations, advising step='auto'."""
    from overparam.dynamics.steps import BarzilaiBorwein, Constant

    p = digits_regression(20, 10, classes=3, seed=0)
    for step in ("nesterov", "bb", BarzilaiBorwein(eta0=0.1, cap=0.5)):
        with pytest.raises(ValueError, match="constant step"):
            mlp_gd(p, width=3, step=step, max_iter=2)
    # x / mirror coordinates (for Hadamard factors) ran another algorithm on the weights
    with pytest.raises(ValueError, match="space='x'"):
        mlp_gd(p, width=3, step=Constant(0.1, space="x", depth=2), max_iter=2)
    # with steps of their own they are not refused
    from overparam.dynamics.eos import _uses_bound
    from overparam.dynamics.steps import as_policy
    for step in ("nesterov:0.1", BarzilaiBorwein(eta0=0.1), "decaying:0.1", 0.1):
        assert not _uses_bound(as_policy(step)), step


def test_norms_do_not_overflow_or_underflow():
    """np.linalg.norm squares the entries: parameter_norms gave l2 = inf for entries of
    1e200 (and for 300.0 in float16, whose sums stayed in float16), and threshold_tol
    read y ~ 1e-200 as y = 0 (tolerance 1e50 times too small) and y ~ 1e200 as tol 0."""
    l1, l2 = parameter_norms({"a": np.array([3e200, -4e200]), "b": np.array(0.0)})
    assert l1 == pytest.approx(7e200, rel=1e-15) and l2 == pytest.approx(5e200, rel=1e-15)
    l1, l2 = parameter_norms({"w": np.array([300.0, 400.0], np.float16)})
    assert (l1, l2) == (700.0, 500.0)
    assert parameter_norms([np.array([3e-200, 4e-200])])[1] == pytest.approx(5e-200,
                                                                            rel=1e-15)
    with pytest.raises(TypeError, match="numeric"):
        parameter_norms({"a": np.array(["x"])})
    y = np.array([3.0, 4.0])
    for c in (1e-200, 1e200):
        assert threshold_tol(c * y, 0.125) == pytest.approx(0.5 / (5.0 * c), rel=1e-14)
