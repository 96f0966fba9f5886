"""A two-layer fully connected network as a parametrization: params -> predictions.

The network ``f(z) = W2 phi(W1 z + b1) + b2`` is evaluated on a fixed set of training
inputs ``X``; its "signal" is the vector of all predictions, scaled by ``1/sqrt(N)``, so
that with the identity operator and targets ``Y / sqrt(N)`` the driver's loss
``0.5 ||signal - y||^2`` is the mean squared error ``(1 / 2N) sum_i ||f(x_i) - y_i||^2``
of full-batch training. This puts a nonlinear model through the same driver loop as the
diagonal networks (the edge-of-stability experiments of Fojtik et al. use such nets).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._core import check_int, check_positive, check_real_array

__all__ = ["TwoLayerNet", "ACTIVATIONS"]

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu, "gelu": jax.nn.gelu,
               "softplus": jax.nn.softplus}


@dataclass(frozen=True, eq=False)
class TwoLayerNet:
    """Two-layer network on fixed inputs (hashed by identity: one compilation per net).

    Parameters
    ----------
    X : array of shape (N, d)
        Training inputs (real and finite).
    out_dim : int
        Outputs per input (e.g. 10 one-hot classes).
    width : int
        Hidden units.
    activation : {"tanh", "relu", "gelu", "softplus"}
        ``tanh`` (default) is smooth, so the Hessian (sharpness) is defined everywhere.
    init_scale : float
        Multiplies the standard initialization ``W1 ~ N(0, 1/d)``, ``W2 ~ N(0, 1/width)``
        (biases 0).
    seed : int
        Seed of the initialization (``init(key=None)`` uses it: a fixed theta_0), in
        ``[-2**63, 2**63)``.

    Notes
    -----
    ``hessian_bound`` is not available (NaN): run it with a constant step or the
    :class:`~overparam.dynamics.flow.Flow` integrator, not ``step="auto"``.
    """

    X: Any
    out_dim: int
    width: int = 64
    activation: str = "tanh"
    init_scale: float = 1.0
    seed: int = 0
    _X: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # a real network: complex inputs gave complex predictions, a ComplexWarning in
        # the driver (its gradients are real) and a NaN loss
        X = check_real_array(self.X, "X", ndim=2)
        object.__setattr__(self, "_X", jnp.asarray(X))
        object.__setattr__(self, "out_dim", check_int(self.out_dim, "out_dim", minimum=1))
        object.__setattr__(self, "width", check_int(self.width, "width", minimum=1))
        object.__setattr__(self, "init_scale", check_positive(self.init_scale, "init_scale"))
        # PRNGKey would truncate a float seed silently (1.7 -> 1) or fail under tracing
        seed = check_int(self.seed, "seed")
        # PRNGKey takes a C long: beyond it init() failed with an OverflowError
        if not -(2**63) <= seed < 2**63:
            raise ValueError(f"seed must lie in [-2**63, 2**63), got {seed}")
        object.__setattr__(self, "seed", seed)
        if not isinstance(self.activation, str) or self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {self.activation!r}")

    @property
    def n_samples(self) -> int:
        return int(self._X.shape[0])

    @property
    def n_params(self) -> int:
        d = int(self._X.shape[1])
        return self.width * (d + 1) + self.out_dim * (self.width + 1)

    def init(self, key: Any, n: int | None = None) -> dict[str, jnp.ndarray]:
        """Gaussian initialization from ``key`` (default ``PRNGKey(seed)``)."""
        # n="10" was refused as "the net has 10 outputs, the problem 10 measurements"
        if n is not None and check_int(n, "n") != self.n_samples * self.out_dim:
            raise ValueError(f"the net has {self.n_samples * self.out_dim} outputs, "
                             f"the problem {n} measurements")
        if key is None:
            key = jax.random.PRNGKey(self.seed)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            # an integer seed failed deep in JAX ("invalid PRNG key data")
            raise TypeError(f"key must be a JAX PRNG key or None (None uses seed="
                            f"{self.seed}), got the integer {key!r}: pass "
                            f"jax.random.PRNGKey({key!r}) or set seed")
        d = int(self._X.shape[1])
        k1, k2 = jax.random.split(key)
        s = self.init_scale
        return {
            "W1": s * jax.random.normal(k1, (self.width, d), jnp.float64) / np.sqrt(d),
            "b1": jnp.zeros((self.width,), jnp.float64),
            "W2": s * jax.random.normal(k2, (self.out_dim, self.width), jnp.float64)
            / np.sqrt(self.width),
            "b2": jnp.zeros((self.out_dim,), jnp.float64),
        }

    def apply(self, params: dict[str, jnp.ndarray], X: Any) -> jnp.ndarray:
        """Predictions of shape (len(X), out_dim)."""
        h = ACTIVATIONS[self.activation](X @ params["W1"].T + params["b1"])
        return h @ params["W2"].T + params["b2"]

    def signal(self, params: dict[str, jnp.ndarray]) -> jnp.ndarray:
        """All training predictions, flattened row-major, divided by sqrt(N)."""
        return self.apply(params, self._X).reshape(-1) / np.sqrt(self.n_samples)

    def project(self, params: dict[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
        return params

    def hessian_bound(self, params, g, opnorm2) -> jnp.ndarray:
        return jnp.asarray(jnp.nan, jnp.float64)
