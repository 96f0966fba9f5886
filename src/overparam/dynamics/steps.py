"""Step-size policies for the driver.

A policy is a small frozen object with ``init(params) -> state`` and
``update(params, grads, state, ctx) -> (new_params, new_state, eta)``, where ``ctx`` holds the
iteration ``it`` and ``bound``, the model's upper bound on the Hessian's top eigenvalue at
the current point. Policies are hashable (they are static arguments of the jitted loop).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._core import check_positive


class StepContext(NamedTuple):
    it: jax.Array
    bound: jax.Array


def _sgd(params, grads, eta):
    return jax.tree_util.tree_map(lambda p, g: p - eta * g, params, grads)


@dataclass(frozen=True)
class Constant:
    """Fixed step ``eta``. Gradient descent with a small constant step follows the flow."""

    eta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_positive(self.eta, "step"))

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx: StepContext):
        eta = jnp.asarray(self.eta, dtype=jnp.float64)
        return _sgd(params, grads, eta), state, eta


@dataclass(frozen=True)
class Auto:
    """Stable step re-evaluated every iteration: ``eta = fraction * 2 / bound``.

    ``bound`` is the model's upper bound on the loss Hessian's top eigenvalue at the
    current iterate (for the Hadamard model, from ||A||_2 and max|x|^(2-2/L)), so the step
    grows while x is small and shrinks as it grows; ``fraction < 1`` keeps it stable. A
    time-varying step only reparametrizes time of the gradient flow, so for a small
    ``fraction`` the limit is the flow's; larger fractions trade fidelity for speed.
    ``max_step`` caps the step where the bound is ~0 (e.g. zero gradient).
    """

    fraction: float = 0.5
    max_step: float = 1e8

    def __post_init__(self) -> None:
        f = check_positive(self.fraction, "fraction")
        if f >= 1:
            raise ValueError(f"fraction must be < 1 for a stable step, got {f}")
        object.__setattr__(self, "fraction", f)

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx: StepContext):
        eta = jnp.minimum(2.0 * self.fraction / jnp.maximum(ctx.bound, 1e-300), self.max_step)
        return _sgd(params, grads, eta), state, eta


@dataclass(frozen=True)
class Decaying:
    """Polynomially decaying step ``eta / (t + 2)**gamma`` (the NNLS authors' schedule),
    0 <= gamma <= 1."""

    eta: float
    gamma: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_positive(self.eta, "step"))
        g = check_positive(self.gamma, "gamma", allow_zero=True)
        if g > 1:
            raise ValueError(f"gamma must be in [0, 1], got {g}")
        object.__setattr__(self, "gamma", g)

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx: StepContext):
        eta = self.eta / (ctx.it.astype(jnp.float64) + 2.0) ** self.gamma
        return _sgd(params, grads, eta), state, eta


def as_policy(step: Any) -> Any:
    """``"auto"`` -> Auto(), a positive number -> Constant, or a policy object as is."""
    if isinstance(step, str):
        if step == "auto":
            return Auto()
        raise ValueError(f"unknown step policy {step!r}: use 'auto', a number or a policy")
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return Constant(float(step))
    if hasattr(step, "update") and hasattr(step, "init"):
        return step
    raise TypeError(f"step must be 'auto', a positive number or a step policy, got {step!r}")
