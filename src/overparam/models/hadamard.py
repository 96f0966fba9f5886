"""Hadamard (diagonal) parametrizations x = u^L - v^L (signed) and x = u^L (non-negative).

References
----------
H.-H. Chou, J. Maly, H. Rauhut, "More is Less: Inducing Sparsity via Overparameterization",
Information and Inference 12(3), 2023 (arXiv:2112.11027).
H.-H. Chou, J. Maly, C. M. Verdun et al., "Get rid of your constraints and reparametrize:
a study in NNLS and implicit bias", AISTATS 2025 (arXiv:2207.08437).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.numpy as jnp

from .._core import check_bool, check_depth, check_int, check_positive


@dataclass(frozen=True)
class Hadamard:
    """Deep Hadamard factorization with identical initialization.

    Parameters
    ----------
    depth : int
        L >= 1. The signed model is ``x = u**L - v**L`` and the non-negative one
        ``x = u**L`` (all powers entrywise). ``L = 1`` is plain gradient descent on x
        (signed: ``x = u - v``, which doubles the effective step).
    nonneg : bool
        Use the non-negative model (only ``u``). At ``L = 1`` it is ``x = u``, plain
        gradient descent with no sign constraint (x can turn negative); non-negativity
        comes from ``L >= 2`` (for non-negative least squares see ``overparam.nnls``).
    init_scale : float
        alpha > 0. Convention: every factor starts at ``u(0) = v(0) = alpha * 1``, so the
        signal starts at ``x(0) = 0`` (signed) or ``alpha**L * 1`` (non-negative).
        (The NNLS authors' code sometimes passes ``alpha**(1/L)`` to start at ``x = alpha``;
        we never do.)

    Notes
    -----
    Gradients are those of ``0.5 * ||A x - y||^2`` with respect to the shared factor
    ``u`` (so ``du/dt = -L u^(L-1) * g`` with ``g = A^T (A x - y)``), the convention under
    which the closed-form limits of ``overparam.limits`` hold.
    """

    depth: int = 2
    nonneg: bool = False
    init_scale: float = 1e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", check_depth(self.depth))
        object.__setattr__(self, "init_scale", check_positive(self.init_scale, "init_scale"))
        # a truthy stand-in (e.g. the string "False" from a config) silently ran the
        # non-negative model x = u^L
        object.__setattr__(self, "nonneg", check_bool(self.nonneg, "nonneg"))

    # -- the parametrization contract ---------------------------------------------------
    def loop_model(self) -> "Hadamard":
        """This model with its initialization-only field fixed (``init_scale = 1``).

        The driver caches its compiled loop on the model it runs (see
        ``dynamics.driver``), and the loop reads only ``signal``, ``project`` and
        ``hessian_bound`` (depth, nonneg), never ``init_scale``: the initial factors
        reach it as values. Keyed on this model, a sweep over ``init_scale`` compiles
        once (before, every scale compiled the loop anew, ~0.6 s each at 12 x 30)."""
        # replace, not Hadamard(...): a subclass keeps its type (and its own methods)
        return self if self.init_scale == 1.0 else replace(self, init_scale=1.0)

    def init(self, key: Any, n: int) -> dict[str, jnp.ndarray]:
        """Identical initialization ``u = v = init_scale`` (``key`` unused: deterministic)."""
        # n = 0 (or True) gave empty (or length-1) factors silently; n = -1 or 2.5 failed
        # inside JAX's broadcast_in_dim without naming the parameter
        n = check_int(n, "n", minimum=1)
        u = jnp.full((n,), self.init_scale, dtype=jnp.float64)
        return {"u": u} if self.nonneg else {"u": u, "v": u}

    def signal(self, params: dict[str, jnp.ndarray]) -> jnp.ndarray:
        """The signal x the factors represent."""
        u = params["u"]
        if self.nonneg:
            return u ** self.depth
        return _power_difference(self.depth, u, params["v"])

    def project(self, params: dict[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
        """Guard for odd L >= 3: factors may not cross 0 (the flow never does; a large
        discrete step could, flipping the sign of u^L)."""
        if self.depth >= 3 and self.depth % 2 == 1:
            return {k: jnp.maximum(v, 0.0) for k, v in params.items()}
        return params

    def hessian_bound(
        self, params: dict[str, jnp.ndarray], g: jnp.ndarray, opnorm2: float
    ) -> jnp.ndarray:
        """Upper bound on the largest Hessian eigenvalue of the loss in the factors.

        ``||A||^2 L^2 max(u^(2L-2) + v^(2L-2))`` (Gauss-Newton part) plus
        ``L (L-1) max(|u|^(L-2), |v|^(L-2)) ||g||_inf`` (residual part). A step below
        2 / bound is stable; ``step="auto"`` uses a fraction of it.
        """
        L = self.depth
        u = jnp.abs(params["u"])
        gn = u ** (2 * L - 2)
        curv = u ** (L - 2) if L >= 2 else jnp.zeros_like(u)
        if not self.nonneg:
            v = jnp.abs(params["v"])
            gn = gn + v ** (2 * L - 2)
            curv = jnp.maximum(curv, v ** (L - 2)) if L >= 2 else curv
        bound = opnorm2 * L**2 * jnp.max(gn)
        if L >= 2:
            bound = bound + L * (L - 1) * jnp.max(curv) * jnp.max(jnp.abs(g))
        return bound


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _power_difference(depth: int, u: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """``u^L - v^L``, exactly 0 where ``u = v``.

    Compiled, XLA contracted ``u*u - v*v`` into a fused multiply-add: ``x(0)`` was 8.7e-23,
    not 0, at init_scale 1e-3 (and ``y = 0`` "converged" there). The ``where`` that
    restores the 0 would have a zero derivative there (the start of every run), hence the
    JVP of the powers.
    """
    return jnp.where(u == v, jnp.zeros_like(u), u ** depth - v ** depth)


@_power_difference.defjvp
def _power_difference_jvp(depth, primals, tangents):
    u, v = primals
    du, dv = tangents
    return (_power_difference(depth, u, v),
            depth * (u ** (depth - 1) * du - v ** (depth - 1) * dv))
