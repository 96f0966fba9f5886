"""Edge-of-stability runs: gradient descent with a constant step, stopped at a train-loss
threshold, with the sharpness recorded along the way and measured at the stop.

Fojtik et al. train from a fixed initialization theta_0 with a sweep of learning rates and
stop every run when the train loss first reaches a threshold epsilon; at the stop they
record the sharpness (top Hessian eigenvalue of the loss), the l1 norm of all parameters
and the test loss. Below the critical step ``eta_c = 2 / s_GF`` (``s_GF`` from
:func:`~overparam.dynamics.flow.flow_sharpness`) GD follows the gradient flow and stops
with the flow's sharpness; above it, the sharpness is driven to about ``2 / eta`` (the
edge of stability, Cohen et al. 2021). Measured numbers: ``docs/edge_of_stability.md``.

Front ends
----------
* :func:`diagonal_gd` -- diagonal linear networks ``x = u^2 - v^2`` (``model="hadamard"``)
  or ``x = u * v`` (``model="uv"``) on a (sparse regression) problem.
* :func:`mlp_gd` -- a two-layer network on a :class:`~overparam.problems.DigitsProblem`.
* :func:`eos_flow` -- ``s_GF`` and ``2 / s_GF`` for either (the same model and theta_0).

All run through the one driver (without its stagnation stop: at the edge of stability
the loss oscillates); sharpness in the trace (field ``sharpness``) is computed
every ``sharpness_every`` steps by Lanczos on Hessian-vector products (``k`` products per
record: bounded cost).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._core import (Result, Status, check_int, check_not_complex, check_positive,
                     check_real_array, safe_norm, x64_entry)
from ..metrics.sharpness import sharpness as _sharpness
from ..models import Hadamard
from ..models.mlp import TwoLayerNet
from ..models.weightnorm import DiagonalUV
from ..problems import Operator, as_problem
from .driver import (MAX_ITER_CAP, loop_model_of, make_config, operator_data, run_driver,
                     to_result)
from .hadamard_gd import check_power_start
from .steps import (Auto, BarzilaiBorwein, Constant, Nesterov, as_policy,
                    require_parameter_space)

__all__ = ["LossSharpness", "loss_sharpness_metric", "threshold_tol", "diagonal_gd",
           "mlp_gd", "eos_flow", "parameter_norms"]

DIAGONAL_MODELS = ("hadamard", "uv")


def threshold_tol(y: Any, loss_threshold: float) -> float:
    """The driver's relative-residual tolerance equivalent to ``0.5 ||r||^2 <= eps``:
    ``sqrt(2 eps) / ||y||``.

    Parameters
    ----------
    y : array
        Measurements (real and finite; ``y = 0`` gives ``sqrt(2 eps)``).
    loss_threshold : float
        eps > 0.

    Returns
    -------
    float
    """
    eps = check_positive(loss_threshold, "loss_threshold")
    # a NaN in y made the norm NaN, read as "y = 0": the tolerance sqrt(2 eps) came back
    # safe_norm: np.linalg.norm squares the entries, so ||y|| of entries ~1e-200 was 0
    # (read as y = 0: tolerance sqrt(2 eps), 1e50 times too small) and ~1e200 inf (0.0)
    ynorm = safe_norm(check_real_array(y, "y"))
    return float(np.sqrt(2.0 * eps) / (ynorm if ynorm > 0 else 1.0))


@dataclass(frozen=True)
class LossSharpness:
    """Driver metric (``takes_params``): the sharpness of ``0.5 ||forward(signal(p)) - y||^2``
    in the parameters, by ``k`` Lanczos steps.

    Built by :func:`loss_sharpness_metric`; called as ``metric(params, data, y)``.

    Attributes
    ----------
    model : model object
        The parametrization (``signal(params)``), hashable.
    forward : callable
        ``forward(data, x)``, the operator's JAX map (see ``driver.operator_data``).
    k : int, optional
        Lanczos steps per estimate (default 20).
    """

    model: Any
    forward: Any
    k: int = 20
    takes_params = True

    def loss_fn(self, data: Any, y: Any):
        def loss(p):
            r = self.forward(data, self.model.signal(p)) - y
            return 0.5 * jnp.vdot(r, r)
        return loss

    def __call__(self, params: Any, data: Any, y: Any, mdata: Any = None) -> jax.Array:
        return _sharpness(self.loss_fn(data, y), params, k=self.k)


class _MaterializedForward:
    """``forward(data, x) = A x`` with ``A`` materialized once (``data`` unused), for an
    operator whose JAX map has no second-order rule (host callbacks:
    ``LinearOperatorAdapter``, i.e. scipy.sparse matrices and ``LinearOperator``s).
    Hashed by the operator's identity, like the driver's closed-over forward."""

    def __init__(self, op: Operator):
        self.op = op
        try:
            self.matrix = jnp.asarray(np.asarray(op.to_dense(), dtype=np.float64))
        except MemoryError as err:
            raise ValueError(
                f"the sharpness needs second derivatives of the loss, which the host "
                f"callbacks of {type(op).__name__} do not have, and the operator is too "
                f"large to materialize for it ({err}): pass a dense array") from None

    def __call__(self, data: Any, x: jax.Array) -> jax.Array:
        return self.matrix @ x

    def __hash__(self) -> int:
        return id(self.op)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _MaterializedForward) and other.op is self.op


def _twice_differentiable(forward: Any, data: Any, n: int) -> bool:
    """Whether the Hessian-vector products of the sharpness (JVP of the gradient of
    ``0.5 ||forward(data, x)||^2``) can be formed (traced only, nothing is run)."""
    x = jax.ShapeDtypeStruct((n,), jnp.float64)

    def hvp(v):
        grad = jax.grad(lambda z: 0.5 * jnp.sum(forward(data, z) ** 2))
        return jax.jvp(grad, (v,), (v,))

    try:
        jax.eval_shape(hvp, x)
    except Exception:  # noqa: BLE001 (JAX raises ValueError or TypeError by version)
        return False
    return True


def loss_sharpness_metric(model: Any, op: Operator, k: int = 20) -> LossSharpness:
    """The sharpness metric of ``model`` on the operator ``op`` (for ``metrics=``).

    An operator without second-order JAX rules (a scipy.sparse matrix or a SciPy
    ``LinearOperator``, run through host callbacks) is materialized for it: its
    Hessian-vector products failed with "Pure callbacks do not support JVP" (after the
    whole run, for the sharpness at the stop).

    Parameters
    ----------
    model : model object
        The parametrization (its ``loop_model()``, when it has one, is used).
    op : Operator
        The measurement operator.
    k : int, optional
        Lanczos steps per estimate, >= 1 (default 20).

    Returns
    -------
    LossSharpness

    Raises
    ------
    ValueError
        When such an operator is too large to materialize.
    """
    k = check_int(k, "k", minimum=1)
    forward, data = operator_data(op)
    if not op.is_dense and not _twice_differentiable(forward, data, op.shape[1]):
        forward = _MaterializedForward(op)
    return LossSharpness(loop_model_of(model), forward, k)


def parameter_norms(params: Any) -> tuple[float, float]:
    """(l1, l2) norms of all parameters together.

    Parameters
    ----------
    params : pytree of arrays
        The parameters (e.g. ``Result.info["params"]``).

    Returns
    -------
    (float, float)
        The l1 and l2 norms of all entries, flattened into one vector.
    """
    leaves = [np.ravel(np.asarray(v)) for v in jax.tree_util.tree_leaves(params)]
    for leaf in leaves:
        # a string leaf failed as "ufunc 'absolute' did not contain a loop"
        if leaf.dtype.kind not in "biufc":
            raise TypeError(f"params must hold numeric arrays, got dtype {leaf.dtype}")
    # |entries| in float64 (complex: moduli) and safe_norm: np.linalg.norm squared the
    # entries (l2 = inf for entries of 1e200, and for 300.0 in float16, whose sums
    # stayed in float16)
    flat = (np.abs(np.concatenate(leaves)).astype(np.float64) if leaves
            else np.zeros(0))
    return float(flat.sum()), float(safe_norm(flat))


#: the most sharpness records a run may ask for: the driver allocates a trace row for
#: every record point up front (max_iter=10**7 with sharpness_every=1 took 1.9 GB and
#: 21 s for a run that stopped after 68 steps; 10**8 ran out of memory)
MAX_SHARPNESS_RECORDS = 2**20


def _record(max_iter: int, every: int) -> Any:
    if every <= 0:
        return 64
    # the driver's cap: beyond it the record points passed max_iter (max_iter=10**20
    # with sharpness_every=10**19 was refused as a bad "record", which the caller never
    # passed)
    max_iter = min(max_iter, MAX_ITER_CAP)
    count = max_iter // every + 1
    if count > MAX_SHARPNESS_RECORDS:
        raise ValueError(
            f"sharpness_every={every} with max_iter={max_iter} asks for {count} sharpness "
            f"records (the trace is allocated for all of them up front), more than "
            f"{MAX_SHARPNESS_RECORDS}: raise sharpness_every to at least "
            f"{-(-max_iter // (MAX_SHARPNESS_RECORDS - 1))} or lower max_iter")
    return range(0, max_iter + 1, every)


def _check_diagonal_scale(init_scale: Any) -> float:
    """``init_scale`` of a depth-2 diagonal network: > 0, with ``init_scale**2`` in the
    float64 range. Beyond it the loss Hessian at theta_0 (``u^2 ||A||^2``) and every
    step overflow: init_scale=1e300 was reported as diverged after 0 iterations with the
    advice "use a smaller step" and a NaN sharpness (eos_flow: max_iter with a NaN
    sharpness, "stiff")."""
    a = check_positive(init_scale, "init_scale")
    check_power_start(2, a)
    return a


@functools.lru_cache(maxsize=32)
def _jitted(metric: LossSharpness) -> Any:
    return jax.jit(metric.__call__)


def _final_sharpness(model, problem, params, k, metric=None) -> float:
    if metric is None:
        metric = loss_sharpness_metric(model, problem.A, k)
    _, data = operator_data(problem.A)
    p = jax.tree_util.tree_map(jnp.asarray, params)
    return float(_jitted(metric)(p, data, jnp.asarray(problem.y)))


def _constant_eta(policy: Any) -> float | None:
    """The learning rate behind ``two_over_eta``: that of a constant plain-GD step only.

    ``getattr(policy, "eta")`` also read the initial scale of ``Decaying``, Nesterov's
    step (whose stability edge is not ``2 / eta``) and x / mirror-space steps: the
    reported ``two_over_eta`` (20 for ``Decaying(0.1)``) was no edge of that run."""
    if isinstance(policy, Constant) and policy.space == "u":
        return policy.eta
    return None


def _uses_bound(policy: Any) -> bool:
    """Whether a policy's step comes from the model's Hessian bound."""
    if isinstance(policy, Auto):
        return True
    if isinstance(policy, Nesterov):
        return policy.eta is None
    if isinstance(policy, BarzilaiBorwein):
        return policy.eta0 is None or policy.cap is not None
    return False


def _run(model, problem, policy, loss_threshold, tol, max_iter, every, k, method, extra,
         params0=None):
    # a Problem keeps complex measurements (structured problems): the real models here
    # would fail inside JAX's VJP with a dtype message
    check_not_complex(problem.y, "y")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    every = check_int(every, "sharpness_every", minimum=0)
    # k is otherwise first checked by the sharpness at the stop, after the whole run
    k = check_int(k, "k", minimum=1)
    if loss_threshold is not None:
        tol = threshold_tol(problem.y, loss_threshold)
    # at the edge of stability the loss is not monotone: no stagnation stop
    cfg = make_config(max_iter, tol, _record(max_iter, every), stagnation_window=None)
    # built before the run: an operator that cannot give the sharpness fails here
    metric = loss_sharpness_metric(model, problem.A, k)
    metrics = (("sharpness", metric),) if every else ()
    out, names, wall = run_driver(model, policy, problem.A, problem.y, cfg,
                                  metrics=metrics, params0=params0)
    res = to_result(out, names, wall, dict(method=method, step=getattr(policy, "eta", None),
                                           loss_threshold=loss_threshold, **extra))
    eta = _constant_eta(policy)
    params = res.info["params"]
    l1, l2 = parameter_norms(params)
    s_final = _final_sharpness(model, problem, params, k, metric)
    res.info.update(sharpness=s_final, param_l1=l1, param_l2=l2,
                    two_over_eta=(2.0 / eta if eta else float("nan")),
                    train_loss=float(res.fun))
    if res.status is Status.DIVERGED:
        res.message = f"{res.message}; diverged: sharpness at the last finite iterate"
    return res


@x64_entry
def diagonal_gd(
    A: Any,
    y: Any = None,
    *,
    model: str = "hadamard",
    init_scale: float = 1.0,
    step: Any = 0.1,
    loss_threshold: float | None = 1e-6,
    tol: float = 1e-6,
    max_iter: int = 100_000,
    sharpness_every: int = 0,
    k: int = 20,
) -> Result:
    """Constant-step GD on a depth-2 diagonal network, stopped at a train-loss threshold.

    Parameters
    ----------
    A, y
        Operator and targets, or a Problem (a :class:`~overparam.problems.RegressionProblem`
        adds the test error).
    model : {"hadamard", "uv"}
        ``x = u^2 - v^2`` from ``u = v = init_scale`` or ``x = u * v`` from
        ``u = init_scale, v = 0``.
    init_scale : float
        Initial scale (default 1.0).
    step : float or policy
        The learning rate eta (constant).
    loss_threshold : float or None
        Stop when ``0.5 ||A x - y||^2 <= loss_threshold`` (None: use ``tol`` on the relative
        residual instead).
    tol : float
        Stop when ``||A x - y|| <= tol ||y||``; used only when ``loss_threshold`` is None.
    max_iter : int
        Iteration cap, >= 1.
    sharpness_every : int
        Record the sharpness every this many steps, >= 0 (0: only at the stop); at most
        :data:`MAX_SHARPNESS_RECORDS` records (``max_iter // sharpness_every + 1``).
    k : int
        Lanczos steps per sharpness estimate, >= 1.

    Returns
    -------
    Result
        ``info``: ``sharpness`` (at the stop), ``two_over_eta``, ``param_l1``, ``param_l2``
        (all parameters), ``train_loss``, ``test_error`` (test MSE, when the problem has a
        test set), ``x_l1``.
    """
    problem = as_problem(A, y)
    if model not in DIAGONAL_MODELS:
        raise ValueError(f"model must be one of {DIAGONAL_MODELS}, got {model!r}")
    init_scale = _check_diagonal_scale(init_scale)
    net = Hadamard(depth=2, init_scale=init_scale) if model == "hadamard" \
        else DiagonalUV(init_scale=init_scale)
    if model == "hadamard":
        # with the depth: "constant:0.05@mirror" parses, and x / mirror steps of another
        # depth are refused (they converged elsewhere, reported converged)
        policy = as_policy(step, depth=2)
    else:
        # x = u * v from v = 0: x / mirror steps floored v and diverged at step 1
        policy = as_policy(step)
        require_parameter_space(policy, "diagonal_gd(model='uv')", "the factors (u, v)")
    res = _run(net, problem, policy, loss_threshold, tol, max_iter, sharpness_every, k,
               "diagonal_gd", dict(model=model, init_scale=init_scale))
    res.info["x_l1"] = float(np.abs(res.x).sum())
    if hasattr(problem, "test_error") and getattr(problem, "A_test", None) is not None:
        res.info["test_error"] = problem.test_error(res.x)
    return res


def _mlp(problem: Any, width: int, activation: str, init_scale: float,
         init_seed: int) -> TwoLayerNet:
    if getattr(problem, "X_train", None) is None:
        raise TypeError("mlp_gd needs a DigitsProblem (overparam.problems.digits_regression)")
    # validated before the cache, not by float() / int(): the string "0.5" and True ran as
    # scales, int(1.7) ran seed 1 while info reported 1.7, width=True found the cached
    # width-1 net (True == 1), and a list failed as "unhashable type"
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a string, got {type(activation).__name__}")
    return _mlp_cached(problem, check_int(width, "width", minimum=1), activation,
                       check_positive(init_scale, "init_scale"),
                       check_int(init_seed, "init_seed"))


@functools.lru_cache(maxsize=8)
def _mlp_cached(problem: Any, width: int, activation: str, init_scale: float,
                init_seed: int) -> TwoLayerNet:
    # one net per (problem, settings): a learning-rate sweep on one problem reuses its
    # compiled sharpness function (the net is hashed by identity)
    if getattr(problem, "X_train", None) is None:
        raise TypeError("mlp_gd needs a DigitsProblem (overparam.problems.digits_regression)")
    return TwoLayerNet(problem.X_train, problem.n_classes, width=width, activation=activation,
                       init_scale=init_scale, seed=init_seed)


@x64_entry
def mlp_gd(
    problem: Any,
    *,
    width: int = 32,
    activation: str = "tanh",
    init_scale: float = 1.0,
    init_seed: int = 0,
    step: Any = 0.1,
    loss_threshold: float | None = 0.05,
    tol: float = 1e-6,
    max_iter: int = 20_000,
    sharpness_every: int = 0,
    k: int = 20,
) -> Result:
    """Full-batch GD with MSE on a two-layer network (:class:`~overparam.models.TwoLayerNet`)
    from a fixed initialization (``init_seed``), stopped at a train-loss threshold.

    The train loss is ``(1 / 2N) sum_i ||f(x_i) - onehot_i||^2``.

    Parameters
    ----------
    problem : DigitsProblem
        From :func:`overparam.problems.digits_regression` (TypeError otherwise).
    width : int, optional
        Hidden width (default 32).
    activation : str, optional
        Hidden activation (default ``"tanh"``; see
        :class:`~overparam.models.TwoLayerNet`).
    init_scale : float, optional
        Scale of the initialization (default 1.0).
    init_seed : int, optional
        Seed of the fixed initialization theta_0 (default 0).
    step : float or policy, optional
        The learning rate eta (constant; ``"auto"``: ValueError, the net has no Hessian
        bound).
    loss_threshold : float or None, optional
        Stop when the train loss is at most this (default 0.05; None: use ``tol``).
    tol : float, optional
        Relative residual tolerance, used only when ``loss_threshold`` is None.
    max_iter : int, optional
        Iteration cap, >= 1 (default 20000).
    sharpness_every : int, optional
        Record the sharpness every this many steps, >= 0 (0: only at the stop).
    k : int, optional
        Lanczos steps per sharpness estimate, >= 1 (default 20).

    Returns
    -------
    Result
        ``x`` holds the scaled training predictions; ``info`` has ``sharpness``,
        ``two_over_eta``, ``param_l1``, ``param_l2``, ``train_loss``, ``test_error``
        (test MSE ``(1/N) sum ||f - onehot||^2``), ``test_accuracy``, ``train_accuracy``.
    """
    net = _mlp(problem, width, activation, init_scale, init_seed)
    policy = as_policy(step)
    if _uses_bound(policy):
        # the net has no Hessian bound (NaN): "auto" would take a NaN step and the run
        # would read as "diverged", with the advice to use step='auto' (so did "nesterov"
        # and "bb", whose automatic steps come from the same bound)
        raise ValueError(f"mlp_gd needs a constant step (a float): TwoLayerNet has no "
                         f"Hessian bound for step='auto' or for {policy!r}")
    # x / mirror coordinates are for Hadamard factors: on the weights (clamped to >= 0)
    # they silently ran another algorithm
    require_parameter_space(policy, "mlp_gd", "the network weights")
    res = _run(net, problem, policy, loss_threshold, tol, max_iter, sharpness_every, k,
               "mlp_gd", dict(width=width, activation=activation, init_scale=init_scale,
                              init_seed=init_seed, n_params=net.n_params),
               params0=net.init(None))
    _mlp_scores(net, problem, res)
    return res


def _mlp_scores(net: TwoLayerNet, problem: Any, res: Result) -> None:
    params = {k: jnp.asarray(v) for k, v in res.info["params"].items()}
    pred_test = np.asarray(net.apply(params, jnp.asarray(problem.X_test)))
    pred_train = np.asarray(net.apply(params, jnp.asarray(problem.X_train)))
    res.info["test_error"] = problem.test_error(pred_test)
    res.info["test_accuracy"] = problem.test_accuracy(pred_test)
    res.info["train_accuracy"] = float(np.mean(np.argmax(pred_train, 1)
                                               == np.asarray(problem.labels_train)))


def _at_point(net: Any, problem: Any, res: Result, params: Any) -> None:
    """Move ``res`` (``x``, ``fun``, ``info["params"]``, ``info["relative_residual"]``)
    to the parameters ``params`` of the same model and problem."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x = np.asarray(net.signal({k: jnp.asarray(v) for k, v in p.items()}), dtype=np.float64)
    y = np.asarray(problem.y, dtype=np.float64)
    r = np.asarray(problem.A.matvec(x), dtype=np.float64) - y
    loss = 0.5 * float(r @ r)
    ynorm = float(np.linalg.norm(y))
    res.x, res.fun = x, loss
    res.info["params"] = p
    res.info["relative_residual"] = float(np.sqrt(2.0 * loss) / (ynorm if ynorm > 0 else 1.0))


@x64_entry
def eos_flow(
    problem: Any,
    *,
    model: str = "hadamard",
    init_scale: float = 1.0,
    width: int = 32,
    activation: str = "tanh",
    init_seed: int = 0,
    loss_threshold: float = 1e-6,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    max_iter: int = 20_000,
    every: int = 1,
    k: int = 20,
) -> Result:
    """Gradient flow of the same model and theta_0 as :func:`diagonal_gd` (``model`` in
    ``"hadamard"``, ``"uv"``) or :func:`mlp_gd` (``model="mlp"``), until the loss reaches
    ``loss_threshold``: ``info["s_gf"]`` (largest sharpness along it), ``info["eta_c"]``
    ``= 2 / s_gf``, ``info["sharpness"]`` (at the threshold), parameter norms and test
    error of the flow's solution.

    When the flow reaches the threshold, every output refers to the crossing point that
    :func:`~overparam.dynamics.flow.flow_sharpness` locates inside the last integrator
    step (``info["threshold_params"]``): ``x``, ``fun`` (= ``info["train_loss"]``, equal
    to ``loss_threshold`` up to the root-finding tolerance), ``info["params"]``, the norms
    and the test scores; the trace stays the integrator's (its last row is that step's
    end, past the threshold). Otherwise (``max_iter``, diverged) they are the last
    accepted step's.

    Parameters
    ----------
    problem : Problem
        The ``A, y`` of :func:`diagonal_gd` as one Problem or, for ``model="mlp"``, a
        DigitsProblem.
    model : {"hadamard", "uv", "mlp"}, optional
        The network (default ``"hadamard"``).
    init_scale : float, optional
        Initial scale, as in :func:`diagonal_gd` / :func:`mlp_gd` (default 1.0).
    width, activation, init_seed
        The two-layer network, as in :func:`mlp_gd` (``model="mlp"`` only).
    loss_threshold : float, optional
        epsilon > 0, the train loss at which the flow stops (default 1e-6).
    rtol, atol : float, optional
        Local error tolerances of the integrator (defaults 1e-7, 1e-9).
    max_iter : int, optional
        Cap on the accepted steps (default 20000).
    every : int, optional
        Record the sharpness every this many accepted steps, >= 1 (default 1).
    k : int, optional
        Lanczos steps per sharpness estimate (default 20).

    Returns
    -------
    Result
        As from :func:`~overparam.dynamics.flow.flow_sharpness`, with ``info`` also
        holding ``sharpness``, ``param_l1``, ``param_l2``, ``train_loss`` and the test
        scores.
    """
    from .flow import flow_sharpness

    problem = as_problem(problem)
    check_not_complex(problem.y, "y")
    if model == "mlp":
        net = _mlp(problem, width, activation, 1.0 if init_scale is None else init_scale,
                   init_seed)
        params0 = net.init(None)
    elif model in DIAGONAL_MODELS:
        init_scale = _check_diagonal_scale(init_scale)
        net = Hadamard(depth=2, init_scale=init_scale) if model == "hadamard" \
            else DiagonalUV(init_scale=init_scale)
        params0 = None
    else:
        raise ValueError(f"model must be 'hadamard', 'uv' or 'mlp', got {model!r}")
    res = flow_sharpness(net, problem, loss_threshold=loss_threshold, every=every,
                         rtol=rtol, atol=atol, max_iter=max_iter, k=k, params0=params0)
    p_cross = res.info.get("threshold_params")
    if p_cross is not None:
        # the sharpness is taken at the crossing: read the rest there too, not at the end
        # of the last step (past the threshold: its loss was up to ~25% below epsilon)
        _at_point(net, problem, res, p_cross)
    l1, l2 = parameter_norms(res.info["params"])
    res.info.update(param_l1=l1, param_l2=l2, sharpness=res.info["sharpness_final"],
                    train_loss=float(res.fun))
    if model == "mlp":
        _mlp_scores(net, problem, res)
    elif getattr(problem, "A_test", None) is not None:
        res.info["test_error"] = problem.test_error(res.x)
    return res
