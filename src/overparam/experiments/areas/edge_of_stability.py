"""Registry entries of the edge_of_stability area (see the package docstring).

Generators
----------
* ``sparse_regression`` -- sparse linear regression with a held-out test set.
* ``digits`` -- scikit-learn's digits as full-batch MSE regression (one-hot targets).

Methods
-------
* ``wn_gd`` -- WN-GD on the polar coordinates of ``x = u^L - v^L`` (batched over trials).
* ``diagonal_gd`` -- constant-step GD on ``x = u^2 - v^2`` or ``x = u * v`` stopped at a
  train-loss threshold; sharpness and parameter norms at the stop.
* ``mlp_gd`` -- the same for a two-layer tanh network on ``digits``.
* ``eos_flow`` -- the gradient flow of the same model and initialization: ``s_gf`` (largest
  sharpness until the threshold) and ``eta_c = 2 / s_gf``.
* ``eos_line`` -- not a solver: the reference curve ``sharpness = 2 / step`` for plots.

Metrics (read from the Result, ``takes_result``)
------------------------------------------------
``sharpness``, ``sharpness_eta`` (``sharpness * step / 2``: 1 at the edge of stability),
``two_over_eta``, ``s_gf``, ``eta_c``, ``param_l1``, ``param_l2``, ``train_loss``,
``test_error`` (from the Result, or from the problem's test set for any linear
estimate), ``test_accuracy``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..._core import Result, Status, check_positive
from ..generators import GeneratorEntry, register_generator, register_problem_kind
from ..measures import MetricEntry, register_metric
from ..methods import MethodEntry, register

__all__ = ["eos_line"]


def eos_line(problem: Any, *, step: float = 1.0) -> Result:
    """The reference curve of edge-of-stability plots: ``info["sharpness"] = 2 / step``
    (no optimization; ``x`` is zero).

    Parameters
    ----------
    problem : Problem
        Any problem with a size ``n`` (only ``problem.n`` is used).
    step : float, optional
        Gradient-descent step size ``eta``, > 0; default 1.0.

    Returns
    -------
    Result
        Status ``CONVERGED``, ``x`` zeros of length ``n``, and ``info`` holding ``step``,
        ``sharpness = two_over_eta = 2 / step`` and ``sharpness_eta = 1``.

    Raises
    ------
    ValueError
        If ``step`` is not > 0.
    """
    # float(step) took True as 1, the string "0.5" as 0.5 and inf (sharpness 0)
    step = check_positive(step, "step")
    return Result(x=np.zeros(problem.n), status=Status.CONVERGED, n_iter=0,
                  message="reference curve 2 / step (not a solver)",
                  info=dict(method="eos_line", step=step, sharpness=2.0 / step,
                            two_over_eta=2.0 / step, sharpness_eta=1.0))


# -- generators ------------------------------------------------------------------------
register_generator(GeneratorEntry(
    "sparse_regression", "overparam.problems.regression:sparse_regression",
    {"n": "int", "m": "int", "s": "int", "m_test": "int", "noise": "float",
     "operator": "str", "signal": "str"},
    required=("n", "m", "s"),
    choices=(("operator", ("gaussian", "rademacher")),
             ("signal", ("gaussian", "sign", "uniform"))),
    kinds=("vector",),
    minimum=(("n", 1), ("m", 1), ("s", 0), ("m_test", 1), ("noise", 0.0)),
))
register_generator(GeneratorEntry(
    "digits", "overparam.problems.regression:digits_regression",
    {"n_train": "int", "n_test": "int", "classes": "int"},
    # a weight matrix (n_features x classes): matrix methods and, vectorized, vector ones
    kinds=("digits", "matrix", "vector"),
    minimum=(("n_train", 1), ("n_test", 1), ("classes", 2)),
))

register_problem_kind("digits", "digits", dict(n_train=30, n_test=20, classes=3))

# -- methods ---------------------------------------------------------------------------
_EOS = {"step": "float", "loss_threshold": "float", "max_iter": "int",
        "sharpness_every": "int", "k": "int", "init_scale": "float"}
register(MethodEntry(
    "wn_gd", "overparam.dynamics:wn_gd",
    {"depth": "int", "init_scale": "float", "variant": "str", "renormalize": "bool",
     "step": "str|float", "radius_step_ratio": "float", "max_iter": "int", "tol": "float",
     "record": "int"},
    batch_target="overparam.dynamics:wn_gd_batch",
    description="WN-GD: GD on polar coordinates of x = u^L - v^L, radius step "
                "radius_step_ratio * step (Chou, Rauhut, Ward)"))
register(MethodEntry(
    "diagonal_gd", "overparam.dynamics:diagonal_gd",
    dict(_EOS, model="str", tol="float"),
    description="constant-step GD on x = u^2 - v^2 or u * v to a train-loss threshold; "
                "sharpness and norms at the stop"))
register(MethodEntry(
    "mlp_gd", "overparam.dynamics:mlp_gd",
    dict(_EOS, width="int", activation="str", init_seed="int"), problems="digits",
    description="full-batch GD (MSE) on a two-layer net (digits) to a train-loss "
                "threshold; sharpness and norms at the stop"))
register(MethodEntry(
    "eos_flow", "overparam.dynamics:eos_flow",
    {"model": "str", "init_scale": "float", "width": "int", "activation": "str",
     "init_seed": "int", "loss_threshold": "float", "rtol": "float", "atol": "float",
     "max_iter": "int", "every": "int", "k": "int"},
    description="gradient flow (adaptive RK45) of diagonal_gd / mlp_gd: s_GF and "
                "eta_c = 2 / s_GF"))
register(MethodEntry(
    "eos_line", "overparam.experiments.areas.edge_of_stability:eos_line",
    {"step": "float"},
    description="reference curve sharpness = 2 / step for plots (not a solver)"),
    )


# -- metrics ---------------------------------------------------------------------------
def _info(key: str):
    def fn(problem, result, ref, tol):
        # an info value of None (not computed) raised a TypeError: NaN, as info_metric
        value = result.info.get(key)
        return math.nan if value is None else float(value)
    return fn


def _sharpness_eta(problem, result, ref, tol):
    s, step = result.info.get("sharpness"), result.info.get("step")
    if s is None or not step:
        return math.nan
    return float(s) * float(step) / 2.0


def _test_error(problem, result, ref, tol):
    if "test_error" in result.info:
        return float(result.info["test_error"])
    x = np.asarray(result.x, dtype=float).reshape(-1)
    if getattr(problem, "A_test", None) is not None and x.shape[0] == problem.n:
        return problem.test_error(x)
    return math.nan


for _name, _desc in [
        ("sharpness", "top Hessian eigenvalue of the train loss at the stop (Lanczos)"),
        ("two_over_eta", "2 / step"),
        ("s_gf", "largest sharpness along the gradient flow until the loss threshold"),
        ("eta_c", "critical step 2 / s_GF"),
        ("param_l1", "l1 norm of all parameters"),
        ("param_l2", "l2 norm of all parameters"),
        ("train_loss", "train loss at the stop"),
        ("test_accuracy", "test accuracy (classification tasks)")]:
    register_metric(MetricEntry(_name, _info(_name), description=_desc, takes_result=True),
                    replace=True)
register_metric(MetricEntry(
    "sharpness_eta", _sharpness_eta, takes_result=True,
    description="sharpness * step / 2 (1 at the edge of stability)"))
register_metric(MetricEntry(
    "test_error", _test_error, takes_result=True,
    description="test MSE (from the Result, or of the linear estimate on the problem's "
                "test set)"))
