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
