"""Bad and edge inputs of the gradient-flow entry points (dynamics/flow.py): a model
passed as a class or a string, and statuses whose messages must fit a flow."""
from __future__ import annotations

import numpy as np
import pytest

from overparam.dynamics import flow_sharpness, gradient_flow
from overparam.models import Hadamard


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 5))
    return A, A @ np.array([1.0, 0.0, 0.0, -0.5, 0.0])


@pytest.mark.parametrize("fn", [gradient_flow, flow_sharpness], ids=["flow", "sharpness"])
@pytest.mark.parametrize("model", [Hadamard, "hadamard", None], ids=["class", "str", "None"])
def test_model_that_is_not_an_instance_is_refused_by_name(data, fn, model):
    # the class failed with "init() missing 1 required positional argument: 'n'" (or
    # "loop_model() missing ... 'self'"), a string or None with an AttributeError on init
    A, y = data
    kw = dict(loss_threshold=1e-3) if fn is flow_sharpness else {}
    with pytest.raises(TypeError, match="model must be"):
        fn(model, A, y, **kw)


def test_flow_max_iter_and_stagnation_messages_do_not_give_step_advice(data):
    # a flow takes no step size: max_iter said "step='auto' adapts the step to the
    # iterate", and stagnation on a saddle plateau (depth 3 from 1e-6: the loss flat to
    # rounding while small coordinates grow; with more steps the loss goes on to fall
    # 0.544 -> 0.024) blamed only the tolerance or an unreachable y
    A, y = data
    capped = gradient_flow(Hadamard(2, init_scale=0.1), A, y, max_iter=3)
    assert capped.status.value == "max_iter"
    assert "step=" not in capped.message and "raise max_iter" in capped.message
    plateau = gradient_flow(Hadamard(3, init_scale=1e-6), A, y, max_iter=2000)
    assert plateau.status.value == "stagnated"
    assert 0.5 < plateau.info["relative_residual"] < 0.6
    assert "plateau" in plateau.message and "step=" not in plateau.message


def test_flow_sharpness_short_of_the_threshold_says_s_gf_is_a_lower_bound(data):
    # stopped by max_iter before the loss threshold, s_gf / eta_c were reported as the
    # flow's s_GF / critical step without a word; the sharpness grows further along the
    # flow (here 4.12 -> 7.42), so eta_c was too large
    A, y = data
    model = Hadamard(2, init_scale=0.1)
    short = flow_sharpness(model, A, y, loss_threshold=1e-3, max_iter=3)
    full = flow_sharpness(model, A, y, loss_threshold=1e-3)
    assert short.status.value == "max_iter" and np.isnan(short.info["threshold_time"])
    assert "lower bound" in short.message and "threshold was not reached" in short.message
    assert short.info["s_gf"] < 0.9 * full.info["s_gf"]        # the bound is strict here
    assert short.info["eta_c"] > full.info["eta_c"]
    # the complete run keeps its plain message
    assert full.success and "lower bound" not in full.message


def test_python_ints_beyond_float64_are_named():
    # scikit-learn's conversion raised a bare "OverflowError: int too large to convert"
    from overparam import HadamardRegressor

    with pytest.raises(ValueError, match="X or y .*float64"):
        HadamardRegressor().fit([[1, 2], [3, 10**400], [5, 6]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="X or y .*float64"):
        HadamardRegressor().fit([[1, 2], [3, 4], [5, 6]], [1.0, 10**400, 3])
    reg = HadamardRegressor().fit([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="X holds .*float64"):
        reg.predict([[10**400, 1]])
