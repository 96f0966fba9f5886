"""Weight-normalized (polar) diagonal linear networks, and the product model x = u * v.

Weight normalization (Salimans and Kingma 2016) writes a weight vector in polar
coordinates, ``w = r * d / ||d||``, with a scalar radius ``r`` and a direction ``d``, and
runs gradient descent on ``(r, d)`` instead of ``w``. Chou, Rauhut and Ward apply it to the
diagonal linear network ``x = u^L - v^L`` and find an implicit l1 bias that survives a
large initialization. The research digest could not confirm which weight vector the paper
puts in polar coordinates, so three readings are here:

* ``variant="coordinate"`` (default): the pair of weights that produce coordinate i,
  ``(u_i, v_i) = r_i d_i / ||d_i||`` with ``d_i`` in R^2 (n radii, n directions: polar
  coordinates ``u_i = r_i cos(phi_i)``, ``v_i = r_i sin(phi_i)``);
* ``variant="factor"``: ``u = r_u d_u / ||d_u||`` and ``v = r_v d_v / ||d_v||`` (each factor
  vector normalized, two radii);
* ``variant="stacked"``: ``(u, v) = r d / ||d||`` (one radius for the whole network).

Only the coordinate variant shows the robust sparse bias in our runs, and only with a
radius step much larger than the direction step (see ``docs/edge_of_stability.md``): then
``x_i = r_i^2 cos(2 phi_i)`` (L = 2) grows multiplicatively through its radius, like a
Hadamard model started at the small scale ``r_i^2 |cos(2 phi_i)|`` that the slowly moving
angle sets, whatever the initial radius.

With ``renormalize=True`` (default) the direction is put back on the unit sphere after
every step (``model.project``), i.e. Riemannian gradient descent on the sphere with the
normalization retraction: the "gradient flow on polar coordinates" of the paper, whose
flow keeps ``||d||`` constant anyway. With ``renormalize=False`` it is Salimans-Kingma WN-GD,
whose discrete steps let ``||d||`` grow (each step is orthogonal to ``d``), shrinking the
effective direction step like ``1 / ||d||^2``.

Initialization: the same signal as :class:`overparam.models.Hadamard` with
``u(0) = v(0) = alpha * 1`` (so ``x(0) = 0``): ``d_i = (1, 1) / sqrt(2)`` and
``r_i = alpha sqrt(2)`` (``coordinate``), ``d = 1 / sqrt(n)`` and ``r = alpha sqrt(n)``
(``factor``), or ``d = 1 / sqrt(2n)`` and ``r = alpha sqrt(2n)`` (``stacked``).

References
----------
H.-H. Chou, H. Rauhut, R. Ward, "Robust implicit regularization via weight normalization",
arXiv:2305.05448. T. Salimans, D. P. Kingma, "Weight normalization: a simple
reparameterization to accelerate training of deep neural networks", NeurIPS 2016.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import jax.numpy as jnp
import numpy as np

from .._core import check_bool, check_depth, check_int, check_positive

__all__ = ["DiagonalUV", "WeightNormDiagonal", "WN_VARIANTS"]

WN_VARIANTS = ("coordinate", "factor", "stacked")


@dataclass(frozen=True)
class DiagonalUV:
    """The product diagonal network ``x = u * v`` (entrywise), ``u(0) = alpha``,
    ``v(0) = 0``.

    Under the change of variables ``p = (u + v) / 2``, ``q = (u - v) / 2`` it is
    ``x = p^2 - q^2`` with ``p(0) = q(0) = alpha / 2``, and gradient descent on ``(u, v)``
    with step ``eta`` is gradient descent on ``(p, q)`` with step ``eta / 2``: the same
    implicit bias as :class:`~overparam.models.Hadamard` at depth 2 and init ``alpha / 2``.
    The loss Hessian is different, though (it is not diagonal in ``(u, v)``), which is
    what the edge-of-stability experiments look at.

    Parameters
    ----------
    init_scale : float, optional
        alpha > 0, the initial value of every entry of ``u`` (default 1e-3).
    """

    init_scale: float = 1e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "init_scale", check_positive(self.init_scale, "init_scale"))

    def loop_model(self) -> "DiagonalUV":
        """This model with its initialization-only field fixed (``init_scale = 1``): the
        driver's compiled loop (and the sharpness) read only ``signal``, ``project`` and
        ``hessian_bound``, never ``init_scale``, so keyed on this model a sweep over the
        init scale compiles once (before: the loop and the sharpness anew at every
        scale)."""
        # replace, not DiagonalUV(1.0): a subclass (its own signal) lost its type, and the
        # driver compiled the base class's loop for it
        return self if self.init_scale == 1.0 else replace(self, init_scale=1.0)

    def init(self, key: Any, n: int) -> dict[str, jnp.ndarray]:
        """``u = init_scale``, ``v = 0`` (``key`` unused)."""
        # n = 0 gave empty factors silently; n = -1 or 2.5 failed inside JAX
        n = check_int(n, "n", minimum=1)
        return {"u": jnp.full((n,), self.init_scale, dtype=jnp.float64),
                "v": jnp.zeros((n,), dtype=jnp.float64)}

    def signal(self, params: dict[str, jnp.ndarray]) -> jnp.ndarray:
        return params["u"] * params["v"]

    def project(self, params: dict[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
        return params

    def hessian_bound(self, params, g, opnorm2) -> jnp.ndarray:
        """``||A||^2 max(u^2 + v^2) + ||g||_inf`` (Gauss-Newton plus residual part)."""
        u, v = params["u"], params["v"]
        return opnorm2 * jnp.max(u * u + v * v) + jnp.max(jnp.abs(g))


def _row_norms(d: jnp.ndarray) -> jnp.ndarray:
    return jnp.linalg.norm(d, axis=1, keepdims=True)


def _block_bounds(r, d, w, c, L, rho):
    """Gauss-Newton and residual bounds of one polar block ``w = r d / ||d||`` whose
    signal is ``+-w^L`` with residual weights ``c = g``, in the scaled radius
    ``r / sqrt(rho)`` (see WeightNormDiagonal)."""
    nd = jnp.maximum(jnp.linalg.norm(d), 1e-300)
    q2 = jnp.maximum(rho, (r / nd) ** 2)
    aw = jnp.abs(w)
    gn = L**2 * jnp.max(aw) ** (2 * L - 2) * q2
    cvec = L * c * aw ** (L - 1)
    res = jnp.linalg.norm(cvec) * (np.sqrt(rho) / nd + 6.0 * jnp.abs(r) / nd**2)
    if L >= 2:
        res = res + L * (L - 1) * jnp.max(jnp.abs(c) * aw ** (L - 2)) * q2
    return gn, res


@dataclass(frozen=True)
class WeightNormDiagonal:
    """Weight-normalized diagonal linear network ``x = u^L - v^L`` in polar coordinates.

    Parameters
    ----------
    depth : int
        L >= 1.
    init_scale : float
        alpha > 0: the network starts at ``u = v = alpha * 1`` (``x = 0``), the same point
        as :class:`~overparam.models.Hadamard`.
    variant : {"coordinate", "factor", "stacked"}
        Polar coordinates per coordinate pair ``(u_i, v_i)`` (radii ``r`` of shape (n,),
        directions ``d`` of shape (n, 2)), per factor (radii ``ru``, ``rv``; directions
        ``du``, ``dv``) or of the stacked vector ``(u, v)`` (radius ``r``, direction ``d``
        of length 2n).
    renormalize : bool
        Project the directions back to the unit sphere after each step (default).
    radius_scale : float
        rho > 0: the radius parameter is stored scaled, ``params["r..."] = r / sqrt(rho)``,
        so that gradient descent with step eta on the parameters moves the radius with
        step ``rho * eta`` and the direction with ``eta`` (the learning-rate ratio, exactly,
        for every step policy), and ``hessian_bound`` bounds the Hessian in these
        coordinates (the stable step of the pair).

    Notes
    -----
    Parameter names: radii start with ``"r"``, directions with ``"d"`` (the WN-GD front end
    scales the radius step by ``radius_step_ratio`` from these names). Radii are 0-d
    arrays (``factor``, ``stacked``) or of shape (n,) (``coordinate``). ``hessian_bound``
    (for ``step="auto"``): with ``u = r d/||d||`` and the stored radius ``r / sqrt(rho)``,
    the Jacobian of a block is
    ``L diag(u^(L-1)) [sqrt(rho) d/||d||, (r/||d||)(I - d d^T/||d||^2)]``, of norm at most
    ``L max|u|^(L-1) max(sqrt(rho), r/||d||)``; the residual part is bounded term by term
    (using ``||sum_i c_i Hess(d_i/||d||)|| <= 6 ||c|| / ||d||^2``).
    """

    depth: int = 2
    init_scale: float = 1e-3
    variant: str = "coordinate"
    renormalize: bool = True
    radius_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "radius_scale",
                           check_positive(self.radius_scale, "radius_scale"))
        object.__setattr__(self, "depth", check_depth(self.depth))
        object.__setattr__(self, "init_scale", check_positive(self.init_scale, "init_scale"))
        if self.variant not in WN_VARIANTS:
            raise ValueError(f"variant must be one of {WN_VARIANTS}, got {self.variant!r}")
        # a truthy stand-in (e.g. the string "no" or "False") would silently renormalize
        object.__setattr__(self, "renormalize", check_bool(self.renormalize, "renormalize"))

    # -- the parametrization contract ---------------------------------------------------
    def loop_model(self) -> "WeightNormDiagonal":
        """This model with its initialization-only field fixed (``init_scale = 1``; the
        driver compiles its loop for this model, which reads ``signal``, ``project`` and
        ``hessian_bound`` only): a sweep over the init scale compiles the loop once."""
        # replace, not WeightNormDiagonal(...): a subclass keeps its type (and methods)
        return self if self.init_scale == 1.0 else replace(self, init_scale=1.0)

    def init(self, key: Any, n: int) -> dict[str, jnp.ndarray]:
        """Polar coordinates of ``u = v = init_scale * 1`` (``key`` unused)."""
        # n = 0 gave empty directions (1/sqrt(0) radii); n = -1, 2.5 or "3" failed
        # inside JAX without naming the parameter
        n = check_int(n, "n", minimum=1)
        a = self.init_scale / np.sqrt(self.radius_scale)
        if self.variant == "coordinate":
            return {"r": jnp.full((n,), a * jnp.sqrt(2.0), dtype=jnp.float64),
                    "d": jnp.full((n, 2), 1.0 / jnp.sqrt(2.0), dtype=jnp.float64)}
        if self.variant == "factor":
            d = jnp.full((n,), 1.0 / jnp.sqrt(n), dtype=jnp.float64)
            r = jnp.asarray(a * jnp.sqrt(n), dtype=jnp.float64)
            return {"ru": r, "du": d, "rv": r, "dv": d}
        d = jnp.full((2 * n,), 1.0 / jnp.sqrt(2 * n), dtype=jnp.float64)
        return {"r": jnp.asarray(a * jnp.sqrt(2 * n), dtype=jnp.float64), "d": d}

    def factors(self, params: dict[str, jnp.ndarray]) -> tuple[jnp.ndarray, jnp.ndarray]:
        """The Cartesian factors ``(u, v)``."""
        s = np.sqrt(self.radius_scale)
        if self.variant == "coordinate":
            w = s * params["r"][:, None] * params["d"] / _row_norms(params["d"])
            return w[:, 0], w[:, 1]
        if self.variant == "factor":
            u = s * params["ru"] * params["du"] / jnp.linalg.norm(params["du"])
            v = s * params["rv"] * params["dv"] / jnp.linalg.norm(params["dv"])
            return u, v
        w = s * params["r"] * params["d"] / jnp.linalg.norm(params["d"])
        n = w.shape[0] // 2
        return w[:n], w[n:]

    def signal(self, params: dict[str, jnp.ndarray]) -> jnp.ndarray:
        u, v = self.factors(params)
        return u**self.depth - v**self.depth

    def project(self, params: dict[str, jnp.ndarray]) -> dict[str, jnp.ndarray]:
        """Directions back on the unit sphere (when ``renormalize``); the signal is
        unchanged."""
        if not self.renormalize:
            return params
        if self.variant == "coordinate":
            return {"r": params["r"], "d": params["d"] / _row_norms(params["d"])}
        return {k: (p / jnp.linalg.norm(p) if k.startswith("d") else p)
                for k, p in params.items()}

    def hessian_bound(self, params, g, opnorm2) -> jnp.ndarray:
        """Upper bound on the top eigenvalue of the loss Hessian in the parameters (the
        scaled radius and the direction)."""
        L, rho = self.depth, self.radius_scale
        sq = np.sqrt(rho)
        u, v = self.factors(params)
        if self.variant == "coordinate":
            # x_i depends on block i only: the Jacobian is block diagonal with rows J_i
            nd = _row_norms(params["d"])[:, 0]
            r = sq * params["r"]
            q2 = jnp.maximum(rho, (r / nd) ** 2)
            au, av = jnp.abs(u), jnp.abs(v)
            j2 = L**2 * (au ** (2 * L - 2) + av ** (2 * L - 2)) * q2
            c = jnp.abs(g)
            res = c * L * (au ** (L - 1) + av ** (L - 1)) * (
                sq / nd + 6.0 * jnp.abs(r) / nd**2)
            if L >= 2:
                res = res + c * L * (L - 1) * 2.0 * jnp.maximum(au, av) ** (L - 2) * q2
            return opnorm2 * jnp.max(j2) + jnp.max(res)
        if self.variant == "factor":
            gu, ru = _block_bounds(sq * params["ru"], params["du"], u, g, L, rho)
            gv, rv = _block_bounds(sq * params["rv"], params["dv"], v, g, L, rho)
            return opnorm2 * (gu + gv) + ru + rv
        gn, res = _block_bounds(sq * params["r"], params["d"], jnp.concatenate([u, v]),
                                jnp.concatenate([g, g]), L, rho)
        # x = [I, -I] w^L: the difference map has norm sqrt(2)
        return opnorm2 * 2.0 * gn + res
