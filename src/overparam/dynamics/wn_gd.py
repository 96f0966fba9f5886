"""WN-GD: gradient descent on the polar coordinates of a weight-normalized diagonal network.

The radius and the direction get separate step sizes (the learning-rate ratio of Chou,
Rauhut and Ward): the direction moves with the policy's step ``eta`` and the radius with
``radius_step_ratio * eta``. :func:`wn_gd` realizes the ratio exactly by storing the
radius scaled (``WeightNormDiagonal(radius_scale=ratio)``), so every step policy applies
and ``step="auto"`` uses the stable step of the scaled pair; :class:`RadiusScaled` is the
same for a constant step as a policy wrapper (multiplying radius gradients), for any model
with radii named ``r...``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np

from .._core import Result, check_not_complex, check_positive, x64_entry
from ..models.weightnorm import WeightNormDiagonal
from ..problems import Problem, as_problem
from .driver import make_config, run_driver, run_driver_batch, to_result
from .hadamard_gd import _metrics, _rel_error, check_power_start
from .steps import StepContext, as_policy, require_parameter_space

__all__ = ["RadiusScaled", "wn_gd", "wn_gd_batch"]


@dataclass(frozen=True)
class RadiusScaled:
    """Step policy wrapper: radius gradients (leaves whose name starts with ``"r"``)
    scaled by ``ratio`` before the ``base`` policy's step.

    For a constant step this is gradient descent with step ``ratio * eta`` on the radii
    and ``eta`` on the directions. The Hessian bound passed to ``base`` (used by
    ``step="auto"``) is multiplied by ``max(ratio, 1)``, which bounds the top eigenvalue of
    the scaled Hessian ``S H``.

    Parameters
    ----------
    base : step policy
        The policy taking the step (e.g. ``steps.Constant(eta)``), with the scaled
        gradients.
    ratio : float, optional
        Factor on the radius gradients, > 0 (default 1.0: no scaling).
    """

    base: Any
    ratio: float = 1.0

    def __post_init__(self) -> None:
        # a non-policy base (RadiusScaled(0.1)) was accepted and failed inside the run
        # with "'float' object has no attribute 'init'"
        if not (callable(getattr(self.base, "init", None))
                and callable(getattr(self.base, "update", None))):
            raise TypeError(f"base must be a step policy (with init and update, e.g. "
                            f"steps.Constant(eta)), got {self.base!r}")
        object.__setattr__(self, "ratio", check_positive(self.ratio, "radius_step_ratio"))

    def _scale(self, grads: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(grads, Mapping):
            raise TypeError("RadiusScaled needs dict parameters (names 'r...' for radii)")
        return {k: (self.ratio * g if k.startswith("r") else g) for k, g in grads.items()}

    def init(self, params: Any) -> Any:
        return self.base.init(params)

    def update(self, params, grads, state, ctx: StepContext):
        grads = self._scale(grads)
        ctx = ctx._replace(bound=ctx.bound * max(self.ratio, 1.0))
        return self.base.update(params, grads, state, ctx)


def _setup(depth, init_scale, variant, renormalize, step, radius_step_ratio, max_iter, tol,
           record):
    ratio = check_positive(radius_step_ratio, "radius_step_ratio")
    model = WeightNormDiagonal(depth=depth, init_scale=init_scale, variant=variant,
                               renormalize=renormalize, radius_scale=ratio)
    # as hadamard_gd: x(0) = -inf was reported as diverged after 0 iterations with "the
    # last finite iterate" and "use a smaller step"; 1e-200 at depth 3 "stagnated" at 0
    check_power_start(model.depth, model.init_scale)
    # with the depth, a string such as "nesterov@mirror" parses and is refused below
    # (without it the parser asked for a depth that wn_gd had been given); as policy
    # objects, x / mirror steps silently ran another algorithm than WN-GD
    policy = as_policy(step, depth=model.depth, match_depth=False)
    require_parameter_space(policy, "wn_gd", "the polar coordinates")
    # a RadiusScaled step is folded into the model's radius scale: on top of it, its
    # ratio applied unreported (info["radius_step_ratio"] read 1.0 for
    # step=RadiusScaled(Constant(eta), 4.0), whose radius stepped 4 eta; 4.0 for both
    # RadiusScaled(..., 4.0) and radius_step_ratio=4.0, which stepped 16 eta)
    if isinstance(policy, RadiusScaled):
        while isinstance(policy, RadiusScaled):
            ratio *= policy.ratio
            policy = policy.base
        model = replace(model, radius_scale=ratio)
    return model, policy, make_config(max_iter, tol, record)


def _info(model) -> dict:
    return dict(method="wn_gd", depth=model.depth, init_scale=model.init_scale,
                variant=model.variant, renormalize=model.renormalize,
                radius_step_ratio=model.radius_scale)


@x64_entry
def wn_gd(
    A: Any,
    y: Any = None,
    *,
    depth: int = 2,
    init_scale: float = 1.0,
    variant: str = "coordinate",
    renormalize: bool = True,
    step: Any = "auto",
    radius_step_ratio: float = 1.0,
    max_iter: int = 100_000,
    tol: float = 1e-6,
    record: int | Sequence[int] | None = 64,
    metrics: Mapping[str, Callable[[Any], Any]] | None = None,
) -> Result:
    """WN-GD on ``0.5 ||A x - y||^2`` with ``x = u^L - v^L`` in polar coordinates.

    Parameters
    ----------
    A, y
        Operator and measurements, or a Problem (then ``y`` is omitted).
    depth : int
        L >= 1.
    init_scale : float
        alpha: the network starts at ``u = v = alpha`` (the plain-GD start point).
    variant : {"coordinate", "factor", "stacked"}
        Polar coordinates per pair ``(u_i, v_i)``, per factor, or of the stacked ``(u, v)``
        (see
        :class:`~overparam.models.WeightNormDiagonal`).
    renormalize : bool
        Directions back on the unit sphere after each step (polar coordinates).
    step : "auto", float or policy
        Step of the directions (``"auto"``: a fraction of 2 / the model's Hessian bound).
        Policies step in the parameters (space ``"u"``); ``"@x"`` / ``"@mirror"`` are
        refused (they are coordinates of Hadamard factors). A :class:`RadiusScaled`
        policy is unwrapped: its ratio multiplies ``radius_step_ratio``.
    radius_step_ratio : float
        The radii step with ``radius_step_ratio * step``.
    max_iter, tol, record, metrics
        As for :func:`~overparam.dynamics.hadamard_gd`.

    Returns
    -------
    Result
        As :func:`hadamard_gd`; ``info["params"]`` holds the scaled radii
        (``r / sqrt(radius_step_ratio)``) and the directions, ``info["u"]``, ``info["v"]``
        the Cartesian factors.

    References
    ----------
    H.-H. Chou, H. Rauhut, R. Ward, "Robust implicit regularization via weight
    normalization", arXiv:2305.05448.
    """
    problem = as_problem(A, y)
    # a Problem keeps complex measurements; the real model would fail inside JAX's VJP
    check_not_complex(problem.y, "y")
    model, policy, cfg = _setup(depth, init_scale, variant, renormalize, step,
                                radius_step_ratio, max_iter, tol, record)
    out, names, wall = run_driver(model, policy, problem.A, problem.y, cfg,
                                  metrics=_metrics(problem, metrics),
                                  metric_data=problem.x_true)
    res = to_result(out, names, wall, _info(model))
    _add_factors(model, res)
    return res


def _add_factors(model: WeightNormDiagonal, res: Result) -> None:
    import jax.numpy as jnp

    u, v = model.factors({k: jnp.asarray(p) for k, p in res.info["params"].items()})
    res.info["u"], res.info["v"] = np.asarray(u), np.asarray(v)


@x64_entry
def wn_gd_batch(
    problems: Sequence[Problem],
    *,
    depth: int = 2,
    init_scale: float = 1.0,
    variant: str = "coordinate",
    renormalize: bool = True,
    step: Any = "auto",
    radius_step_ratio: float = 1.0,
    max_iter: int = 100_000,
    tol: float = 1e-6,
    record: int | Sequence[int] | None = 64,
) -> list[Result]:
    """:func:`wn_gd` on problems of one shape at once (``jax.vmap`` over trials; dense
    operators, or one operator shared by all trials).

    Parameters
    ----------
    problems : sequence of Problem
        The trials, all of one shape (ValueError otherwise), with real measurements.
    depth, init_scale, variant, renormalize, step, radius_step_ratio, max_iter, tol, record
        As in :func:`wn_gd`, shared by all trials.

    Returns
    -------
    list of Result
        One Result per problem, in order (empty for no problems), as from :func:`wn_gd`
        (trace with ``rel_error`` when every problem has ``x_true``); ``wall_time`` is the
        batch's time divided by its size.
    """
    if isinstance(problems, Problem):
        # failed as "'Problem' object is not iterable"
        raise TypeError("problems must be a sequence of Problems: wrap a single one in a "
                        "list ([problem]) or call wn_gd")
    problems = [as_problem(p) for p in problems]
    for p in problems:
        check_not_complex(p.y, "y")
    # the settings are checked for an empty batch too: wn_gd_batch([], depth=-1) gave []
    model, policy, cfg = _setup(depth, init_scale, variant, renormalize, step,
                                radius_step_ratio, max_iter, tol, record)
    if not problems:
        return []
    # before stacking the truths, whose np.stack error named no shapes
    shapes = {p.shape for p in problems}
    if len(shapes) != 1:
        raise ValueError(f"batched problems must share one shape, got {sorted(shapes)}")
    with_truth = all(p.x_true is not None for p in problems)
    metrics = (("rel_error", _rel_error),) if with_truth else ()
    truth = np.stack([p.x_true for p in problems]) if with_truth else None
    out, names, wall = run_driver_batch(model, policy, [p.A for p in problems],
                                        [p.y for p in problems], cfg, metrics=metrics,
                                        metric_data=truth)
    results = []
    for b in range(len(problems)):
        one = jax.tree_util.tree_map(lambda v: v[b], out)
        res = to_result(one, names, wall / len(problems),
                        dict(_info(model), batched=len(problems)))
        _add_factors(model, res)
        results.append(res)
    return results
