"""Step-size policies for the driver.

A policy is a small frozen object with ``init(params) -> state`` and
``update(params, grads, state, ctx) -> (new_params, new_state, eta)``, where ``ctx`` holds the
iteration ``it`` and ``bound``, the model's upper bound on the Hessian's top eigenvalue at
the current point. Policies are hashable (they are static arguments of the jitted loop);
the float fields a policy names in ``dynamic_fields`` are passed to the compiled loop as
values instead, so a sweep over them (learning-rate sweeps of ``Constant``) compiles once.

Policies
--------
* :class:`Constant` -- fixed step.
* :class:`Auto` -- ``fraction * 2 / bound``, re-evaluated every step.
* :class:`Decaying` -- ``eta / (t + 2)**gamma`` (the NNLS authors' schedule).
* :class:`BarzilaiBorwein` -- long / short / alternating BB steps, safeguarded (fallback,
  clipping, bounded growth, optional cap).
* :class:`Nesterov` -- momentum ``k / (k + 3)`` with gradient restart.

Coordinates (``space``)
-----------------------
Every policy can take its step in one of three coordinate systems of a Hadamard-type
parametrization (each leaf ``p`` of the parameters is a factor with ``x = +-p**L``):

* ``"u"`` (default): plain gradient descent on the factors, ``p <- p - eta * grad_p``. Works
  for every parametrization (any pytree).
* ``"x"``: the NNLS authors' "Riemannian" update in x-space,
  ``p**L <- p**L - L p**(L-1) * eta * grad_p``, i.e. ``x <- x - L**2 eta x**(2-2/L) * g``
  with ``g = A^T (A x - y)`` (the first-order Taylor expansion of the u-step, so the same
  ``eta`` means the same flow time; the authors' step ``eta_a`` is ``L * eta``). ``x`` is
  floored at 0 (an absorbing value: keep steps stable).
* ``"mirror"``: the step taken in the mirror (dual) coordinate ``c = log p`` (L = 2) or
  ``c = p**(2-L) / (2-L)`` (L >= 3), in which the flow is *linear*:
  ``dc/dt = -L g``. Then ``c_k - c_0`` stays in ``range(A^T)`` *exactly* for every step
  sequence, and for every policy whose new point is an affine combination of old ones
  (constant, decaying, BB, auto and Nesterov momentum). Consequence: whenever the
  iteration converges to an interpolant, it converges to the gradient flow's limit
  ``overparam.hadamard_limit`` *whatever the step sizes*. For L = 2 the mirror step is
  the exponentiated gradient ``x <- x * exp(-4 eta g)``. The factors are floored at
  ``1e-300 ** (1/(L-1))`` so that coordinates driven to zero do not underflow (``x`` is
  then ``<= 1e-300``). For L >= 3 the domain is ``c < 0`` (``c -> 0`` is ``p -> inf``):
  every step (and Nesterov's extrapolation) is capped, by one scalar, so that no
  coordinate moves more than half way to 0.

For ``space="x"`` and ``"mirror"`` the ``depth`` L of the model is required (and the
factors must be >= 0, as the Hadamard initialization makes them).

Which limit each policy reaches (documented in ``docs/nnls.md``, tested in
``tests/test_steps.py``):

* over-determined NNLS with a unique solution: every policy and space reaches it;
* interpolation regime (many solutions), u-space and x-space: the limit depends on the
  step (it tends to the flow's limit as the steps go to 0); Nesterov momentum and BB in
  u- or x-space change the limit at a finite init scale;
* interpolation regime, mirror space: the flow's limit exactly, for every policy.

References
----------
H.-H. Chou, J. Maly, C. M. Verdun, B. Freitas Paulo da Costa, H. Mirandola, "Get rid of
your constraints and reparametrize: a study in NNLS and implicit bias", AISTATS 2025
(arXiv:2207.08437), and the authors' code ``claudioverdun/NNLS_submission`` (``gd``,
``gd_bb``, ``gd_nesterov``).
J. Barzilai, J. M. Borwein, "Two-point step size gradient methods", IMA J. Numer. Anal. 8,
1988. B. O'Donoghue, E. Candes, "Adaptive restart for accelerated gradient schemes",
Found. Comput. Math. 15, 2015.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from .._core import check_bool, check_depth, check_positive
from .._core.checks import _scalar_of

SPACES = ("u", "x", "mirror")
BB_VARIANTS = ("long", "short", "alternate")


class StepContext(NamedTuple):
    """What the driver tells a policy at each step: the iteration ``it``, the model's
    Hessian bound ``bound`` and ``grad_fn`` (params -> gradient of the loss, for policies
    that evaluate the gradient at other points, e.g. the ODE integrator
    :class:`overparam.dynamics.flow.Flow`; None outside the driver), ``loss_fn`` (params ->
    loss), ``project`` (the model's projection, which the driver applies to each new
    point) and ``loss`` (the loss at the current point), e.g. for ``Flow`` to locate a
    loss threshold's crossing inside a step."""

    it: jax.Array
    bound: jax.Array
    grad_fn: Any = None
    loss_fn: Any = None
    project: Any = None
    loss: Any = None


def _sgd(params, grads, eta):
    return jax.tree_util.tree_map(lambda p, g: p - eta * g, params, grads)


# -- coordinates -----------------------------------------------------------------------
#: mirror coordinates floor the factors at ``_MIRROR_FLOOR ** (1 / (L - 1))`` (x = p^L is
#: then <= 1e-300: zero to every tolerance). Where a solution has x_i = 0 with a positive
#: gradient (NNLS with y outside the cone) c_i falls without bound; unfloored, p_i
#: underflowed to 0, c_i = log 0 = -inf and Nesterov's momentum -inf - (-inf) = NaN (L >= 3:
#: the direction g / p^(L-1) = 0 / 0), a "diverged" run next to the solution. Factors above
#: the floor are untouched (bit for bit); a floored coordinate returns if its gradient
#: turns negative
_MIRROR_FLOOR = 1e-300


def _mirror_floor(L: int, p: jax.Array) -> jax.Array:
    return jnp.maximum(p, _MIRROR_FLOOR ** (1.0 / (L - 1)))


def _to_c(space: str, L: int, p: jax.Array) -> jax.Array:
    """Coordinate of a factor ``p`` in which the policy steps."""
    if space == "u" or (space == "mirror" and L == 1):
        return p
    if space == "x":
        return p**L
    p = _mirror_floor(L, p)
    if L == 2:
        return jnp.log(p)
    return p ** (2 - L) / (2 - L)


def _direction(space: str, L: int, p: jax.Array, g: jax.Array) -> jax.Array:
    """The gradient field in the coordinate (chain rule of ``_to_c``)."""
    if space == "u" or (space == "mirror" and L == 1):
        return g
    if space == "x":
        return L * p ** (L - 1) * g
    # the floored factor, as in _to_c: below the floor (a start such as init_scale=1e-160
    # at L = 3) p**(L-1) flushed to 0 in XLA (no subnormals) and 0 / 0 = NaN made the
    # first step "diverged" (u-space: the zero gradient, stagnated)
    return jnp.where(p != 0, g / _mirror_floor(L, p) ** (L - 1), 0.0)


def _slope(space: str, L: int, p: jax.Array, g: jax.Array) -> jax.Array:
    """The loss's gradient with respect to the coordinate, ``g * dp/dc`` (``g`` the
    gradient in ``p``), which :func:`_direction` preconditions by ``(dc/dp)**2``.
    Mirror space: ``dp/dc = p**(L-1)`` (the floored factor, as in ``_to_c``); x-space:
    ``1 / (L p**(L-1))`` (0 where ``p = 0``, which x-steps never move)."""
    if space == "u" or (space == "mirror" and L == 1):
        return g
    if space == "x":
        dx = L * p ** (L - 1)
        return jnp.where(dx != 0, g / jnp.where(dx != 0, dx, 1.0), 0.0)
    return g * _mirror_floor(L, p) ** (L - 1)


def _from_c(space: str, L: int, c: jax.Array) -> jax.Array:
    if space == "u" or (space == "mirror" and L == 1):
        return c
    if space == "x":
        c = jnp.maximum(c, 0.0)
        return jnp.sqrt(c) if L == 2 else c ** (1.0 / L)
    if L == 2:
        return _mirror_floor(L, jnp.exp(c))
    # c < 0 on the domain; c >= 0 means a blow-up (an unstable step): p = huge
    return _mirror_floor(L, ((2 - L) * jnp.minimum(c, -1e-300)) ** (1.0 / (2 - L)))


def _tree_dot(a: Any, b: Any) -> jax.Array:
    leaves = jax.tree_util.tree_leaves(
        jax.tree_util.tree_map(lambda x, y: jnp.vdot(x, y), a, b))
    return sum(leaves[1:], leaves[0])


def _check_space(obj: Any) -> None:
    if obj.space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {obj.space!r}")
    if obj.space != "u" and obj.depth is None:
        raise ValueError(f"space={obj.space!r} needs the model depth L (depth=...)")
    if obj.depth is not None:
        # checked in u-space too: depth="a" or 2.5 was kept silently (and shown in repr)
        object.__setattr__(obj, "depth", check_depth(obj.depth))


class _Coords:
    """Mixin: step in the coordinates named by ``space`` (fields ``space``, ``depth``)."""

    space: str
    depth: int | None

    def _c(self, params):
        return jax.tree_util.tree_map(lambda p: _to_c(self.space, self.depth, p), params)

    def _d(self, params, grads):
        return jax.tree_util.tree_map(
            lambda p, g: _direction(self.space, self.depth, p, g), params, grads)

    def _s(self, params, grads):
        return jax.tree_util.tree_map(
            lambda p, g: _slope(self.space, self.depth, p, g), params, grads)

    def _p(self, coords):
        return jax.tree_util.tree_map(lambda c: _from_c(self.space, self.depth, c), coords)

    def _domain_cap(self, c, d, t):
        """``t`` capped so that ``c - t d`` moves no mirror coordinate more than half way
        to the end of its domain (mirror space, L >= 3: ``c = p^(2-L)/(2-L) < 0``, and
        ``c -> 0`` is ``p -> inf``). One scalar for all coordinates, so the iterates stay
        on the flow's affine set. Without it a step from the model's bound (which is for
        u-space curvature and ~ p^(2L-2), tiny at a small init) crossed ``c = 0`` at once:
        ``nnls(method="reparam", depth=3)`` diverged at step 1-2 on every problem.

        For L = 2 (``c = log p``, no end of the domain) ``t`` is capped so that no
        coordinate moves by more than ``_MAX_LOG_STEP``: escaping from ``x ~ 1e-100``, c
        climbs ~115 under Nesterov momentum that grows for the whole climb, and the step
        that reached the data overshot x by ~e^20 (``nnls(method="reparam",
        init_scale=1e-50)`` stopped as diverged after 26 steps). Plain steps from the
        model's bound move c by ~1 at most, so the cap binds only on such runs."""
        if self.space != "mirror" or self.depth is None or self.depth < 2:
            return t
        if self.depth == 2:
            top = functools.reduce(jnp.maximum, [jnp.max(jnp.abs(dl), initial=0.0)
                                                 for dl in jax.tree_util.tree_leaves(d)],
                                   jnp.asarray(0.0))
            return jnp.minimum(t, _MAX_LOG_STEP / jnp.maximum(top, 1e-300))
        lims = [jnp.min(jnp.where(dl < 0, 0.5 * cl / jnp.where(dl < 0, dl, -1.0), jnp.inf),
                        initial=jnp.inf)
                for cl, dl in zip(jax.tree_util.tree_leaves(c), jax.tree_util.tree_leaves(d))]
        return jnp.minimum(t, functools.reduce(jnp.minimum, lims, jnp.inf))

    def _step(self, params, grads, eta):
        if self.space == "u":
            return _sgd(params, grads, eta)
        if self.space == "mirror" and self.depth is not None and self.depth >= 3:
            c, d = self._c(params), self._d(params, grads)
            eta = self._domain_cap(c, d, eta)
            return self._p(jax.tree_util.tree_map(lambda a, b: a - eta * b, c, d))
        return jax.tree_util.tree_map(
            lambda p, g: _from_c(self.space, self.depth,
                                 _to_c(self.space, self.depth, p)
                                 - eta * _direction(self.space, self.depth, p, g)),
            params, grads)


#: the largest move of ``log p`` in one mirror step at L = 2 (x changes by e^4 at most)
_MAX_LOG_STEP = 2.0


def _auto_eta(fraction: float, bound: jax.Array, max_step: float) -> jax.Array:
    return jnp.minimum(2.0 * fraction / jnp.maximum(bound, 1e-300), max_step)


@dataclass(frozen=True)
class Constant(_Coords):
    """Fixed step ``eta``. Gradient descent with a small constant step follows the flow.

    Parameters
    ----------
    eta : float
        The step.
    space : {"u", "x", "mirror"}
        Coordinates of the step (see the module docstring); default plain GD on ``u``.
    depth : int, optional
        Model depth L (required for ``"x"`` and ``"mirror"``).
    """

    eta: float
    space: str = "u"
    depth: int | None = None

    dynamic_fields: ClassVar[tuple[str, ...]] = ("eta",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_positive(self.eta, "step"))
        _check_space(self)

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx: StepContext):
        eta = jnp.asarray(self.eta, dtype=jnp.float64)
        return self._step(params, grads, eta), state, eta


@dataclass(frozen=True)
class Auto(_Coords):
    """Stable step re-evaluated every iteration: ``eta = fraction * 2 / bound``.

    ``bound`` is the model's upper bound on the loss Hessian's top eigenvalue at the
    current iterate (for the Hadamard model, from ||A||_2 and max|x|^(2-2/L)), so the step
    grows while x is small and shrinks as it grows; ``fraction < 1`` keeps it stable. A
    time-varying step only reparametrizes time of the gradient flow, so for a small
    ``fraction`` the limit is the flow's; larger fractions trade fidelity for speed
    (except in ``space="mirror"``, where the limit is the flow's for every fraction).

    Parameters
    ----------
    fraction : float, optional
        The fraction of the stability limit ``2 / bound``, in (0, 1) (default 0.5).
    max_step : float, optional
        Cap on the step, > 0, where the bound is ~0 (e.g. zero gradient). The default
        (1e300) leaves the step free: the bound scales with the data (``y -> c y``
        multiplies it by ``c`` for the Hadamard model of depth 2), and a fixed cap of 1e8
        slowed runs on data of size 1e-12 a hundredfold.
    space : {"u", "x", "mirror"}, optional
        Coordinates of the step (see the module docstring); default plain GD on ``u``.
    depth : int, optional
        Model depth L (required for ``"x"`` and ``"mirror"``).
    """

    fraction: float = 0.5
    max_step: float = 1e300
    space: str = "u"
    depth: int | None = None

    def __post_init__(self) -> None:
        f = check_positive(self.fraction, "fraction")
        if f >= 1:
            raise ValueError(f"fraction must be < 1 for a stable step, got {f}")
        object.__setattr__(self, "fraction", f)
        object.__setattr__(self, "max_step", check_positive(self.max_step, "max_step"))
        _check_space(self)

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx: StepContext):
        eta = _auto_eta(self.fraction, ctx.bound, self.max_step)
        return self._step(params, grads, eta), state, eta


@dataclass(frozen=True)
class Decaying(_Coords):
    """Polynomially decaying step ``eta / (t + 2)**gamma`` (the NNLS authors' schedule),
    at iteration t. The authors' residual guide lines decay like ``k**(gamma - 1)``.

    Parameters
    ----------
    eta : float
        The initial scale of the step, > 0.
    gamma : float, optional
        Decay exponent, in [0, 1] (default 0.5; 0: the constant step ``eta``).
    space : {"u", "x", "mirror"}, optional
        Coordinates of the step (see the module docstring); default plain GD on ``u``.
    depth : int, optional
        Model depth L (required for ``"x"`` and ``"mirror"``).
    """

    eta: float
    gamma: float = 0.5
    space: str = "u"
    depth: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "eta", check_positive(self.eta, "step"))
        g = check_positive(self.gamma, "gamma", allow_zero=True)
        if g > 1:
            raise ValueError(f"gamma must be in [0, 1], got {g}")
        object.__setattr__(self, "gamma", g)
        _check_space(self)

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx: StepContext):
        eta = self.eta / (ctx.it.astype(jnp.float64) + 2.0) ** self.gamma
        return self._step(params, grads, eta), state, eta


@dataclass(frozen=True)
class BarzilaiBorwein(_Coords):
    """Barzilai-Borwein steps, safeguarded.

    With ``s = c_k - c_{k-1}`` and ``d = grad_k - grad_{k-1}`` in the step's coordinates
    (``space``), the long step is ``<s, s> / <s, d>`` and the short one ``<s, d> / <d, d>``
    (``"alternate"`` switches every iteration). Safeguards: the first step, and any step
    where ``<s, d> <= 0`` (negative curvature) or a non-finite value appears, falls back
    to ``eta0`` (or ``fraction * 2 / bound`` when ``eta0`` is None); every step is clipped
    to ``[min(min_step, fraction * 2 / bound), max_step]`` (the authors' [1e-6, 1e6]; the
    floor never exceeds the stable step, so large-scale data do not diverge) and, when
    ``cap`` is set, to ``cap * 2 / bound``. BB is not monotone; the driver's divergence
    guard stays active.

    Parameters
    ----------
    variant : {"long", "short", "alternate"}
    eta0 : float, optional
        First / fallback step (default: the :class:`Auto` step).
    fraction : float
        Fraction of ``2 / bound`` for the fallback step.
    min_step, max_step : float
        Clipping interval (the floor at most ``fraction * 2 / bound``, see above).
    cap : float, optional
        Cap the step at ``cap * 2 / bound`` (None: no cap; BB steps may exceed the
        worst-case stable step, which is where their speed comes from).
    growth : float, optional
        Each step is at most ``growth`` times the previous one (default 2; None: off).
    space, depth
        As for :class:`Constant`.

    Notes
    -----
    The authors' ``gd_bb`` computes its steps from ``x`` and ``A dx`` in x-space; here the
    same two-point formulas are applied in whichever coordinates the step is taken.
    Measured: BB pays on the over-determined (convex-like) NNLS problems, not on
    small-initialization Hadamard problems, whose escape phase is far from quadratic: there
    the curvature along the last step underestimates the next one, and in mirror
    coordinates (where the map to x is exponential) a BB step above the automatic one can
    blow up at once (status ``diverged``); use ``cap`` or :class:`Nesterov` there.
    """

    variant: str = "long"
    eta0: float | None = None
    fraction: float = 0.5
    min_step: float = 1e-6
    max_step: float = 1e6
    cap: float | None = None
    growth: float | None = 2.0
    space: str = "u"
    depth: int | None = None

    def __post_init__(self) -> None:
        if self.variant not in BB_VARIANTS:
            raise ValueError(f"variant must be one of {BB_VARIANTS}, got {self.variant!r}")
        if self.eta0 is not None:
            object.__setattr__(self, "eta0", check_positive(self.eta0, "eta0"))
        f = check_positive(self.fraction, "fraction")
        if f >= 1:
            raise ValueError(f"fraction must be < 1 for a stable step, got {f}")
        lo = check_positive(self.min_step, "min_step")
        hi = check_positive(self.max_step, "max_step")
        if lo > hi:
            raise ValueError(f"min_step {lo} exceeds max_step {hi}")
        if self.cap is not None:
            object.__setattr__(self, "cap", check_positive(self.cap, "cap"))
        if self.growth is not None:
            gr = check_positive(self.growth, "growth")
            if gr < 1:
                raise ValueError(f"growth must be >= 1, got {gr}")
            object.__setattr__(self, "growth", gr)
        _check_space(self)

    def init(self, params: Any) -> Any:
        c = self._c(params)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, c)
        return (c, zeros, jnp.int64(0), jnp.float64(jnp.inf))

    def update(self, params, grads, state, ctx: StepContext):
        c_prev, d_prev, k, eta_prev = state
        c = self._c(params)
        d = self._d(params, grads)
        s = jax.tree_util.tree_map(lambda a, b: a - b, c, c_prev)
        dd = jax.tree_util.tree_map(lambda a, b: a - b, d, d_prev)
        sd = _tree_dot(s, dd)
        if self.variant == "long":
            bb = _tree_dot(s, s) / sd
        elif self.variant == "short":
            bb = sd / _tree_dot(dd, dd)
        else:
            bb = jnp.where(k % 2 == 0, _tree_dot(s, s) / sd, sd / _tree_dot(dd, dd))
        auto = _auto_eta(self.fraction, ctx.bound, self.max_step)
        fallback = (jnp.asarray(self.eta0, jnp.float64) if self.eta0 is not None
                    else auto)
        ok = (k > 0) & (sd > 0) & jnp.isfinite(bb)
        # the floor min_step never lifts a step above the stable fraction * 2 / bound:
        # with ||A|| ~ 1e3 (stable steps < 1e-6) the clip raised the fallback and the
        # BB steps to 1e-6 and every run diverged within 3 steps (step="auto": converged).
        # A NaN bound (TwoLayerNet, eta0 given) keeps the plain floor
        floor = jnp.where(jnp.isnan(auto), self.min_step, jnp.minimum(self.min_step, auto))
        eta = jnp.minimum(jnp.maximum(jnp.where(ok, bb, fallback), floor), self.max_step)
        if self.growth is not None:
            eta = jnp.minimum(eta, self.growth * eta_prev)
        if self.cap is not None:
            eta = jnp.minimum(eta, 2.0 * self.cap / jnp.maximum(ctx.bound, 1e-300))
        eta = self._domain_cap(c, d, eta)
        new_c = jax.tree_util.tree_map(lambda a, b: a - eta * b, c, d)
        return self._p(new_c), (c, d, k + 1, eta), eta


@dataclass(frozen=True)
class Nesterov(_Coords):
    """Nesterov's accelerated gradient with momentum ``k / (k + 3)`` and adaptive restart.

    The driver's parameters are the extrapolated point ``y_k`` (so the gradient it passes
    is taken there); the policy keeps the iterate ``c_k`` in its state:
    ``c_{k+1} = y_k - eta grad(y_k)``, ``y_{k+1} = c_{k+1} + beta_k (c_{k+1} - c_k)``.
    With ``restart`` (O'Donoghue and Candes' gradient scheme) the momentum is reset to 0
    whenever ``<grad(y_k), c_{k+1} - c_k> > 0`` (the momentum points uphill; ``grad`` is
    the loss's gradient in the coordinates ``c``, not the step's preconditioned direction:
    in ``"x"`` and ``"mirror"`` space they differ by ``(dc/dp)**2`` per entry). The
    returned signal is the one at ``y_k``, whose residual is what the driver checks.

    Parameters
    ----------
    eta : float, optional
        Constant step; None (default): ``fraction * 2 / bound`` at every step.
    fraction : float
        Fraction of ``2 / bound`` when ``eta`` is None.
    restart : bool
        Gradient restart (recommended: the reparametrized loss is not convex).
    max_step : float
        Cap on the automatic step.
    space, depth
        As for :class:`Constant`. In ``"mirror"`` space momentum keeps the iterates on the
        flow's affine set, so the limit is the flow's; in ``"x"`` space an extrapolated
        ``x < 0`` is floored at 0, which is absorbing (prefer ``"mirror"``).

    Notes
    -----
    The authors' ``gd_nesterov`` (u-space, restart on a decreasing step norm) uses the
    gradient ``(L/2) z * v`` which is only correct for L = 2; here the gradient is the
    model's autodiff gradient for every L.
    """

    eta: float | None = None
    fraction: float = 0.5
    restart: bool = True
    max_step: float = 1e300
    space: str = "u"
    depth: int | None = None

    def __post_init__(self) -> None:
        if self.eta is not None:
            object.__setattr__(self, "eta", check_positive(self.eta, "step"))
        f = check_positive(self.fraction, "fraction")
        if f >= 1:
            raise ValueError(f"fraction must be < 1 for a stable step, got {f}")
        object.__setattr__(self, "max_step", check_positive(self.max_step, "max_step"))
        # read by truth value: restart="no" (or "False" from a config) was truthy
        object.__setattr__(self, "restart",
                           check_bool(self.restart, "restart", allow_int=True))
        _check_space(self)

    def init(self, params: Any) -> Any:
        return (self._c(params), jnp.int64(0))

    def update(self, params, grads, state, ctx: StepContext):
        c_x, k = state
        c_y = self._c(params)
        d = self._d(params, grads)
        eta = (jnp.asarray(self.eta, jnp.float64) if self.eta is not None
               else _auto_eta(self.fraction, ctx.bound, self.max_step))
        eta = self._domain_cap(c_y, d, eta)
        c_new = jax.tree_util.tree_map(lambda a, b: a - eta * b, c_y, d)
        diff = jax.tree_util.tree_map(lambda a, b: a - b, c_new, c_x)
        k1 = k + 1
        if self.restart:
            # "uphill" is measured with the loss's gradient in c, not with the step's
            # direction d = slope * (dc/dp)**2: in mirror space (dc/dp = p**(1-L)) the dot
            # with d was ruled by the smallest factors. nnls(method="reparam", depth=3,
            # init_scale=1e-3) on an 8 x 20 problem: factors ~5e-4 drifting down gave
            # <d, diff> ~ -6e7 while the momentum (beta 0.993 after 425 steps) drove one
            # factor from 1.2 to 1e21 (the loss from 8.2 to 1e45), never restarting
            up = _tree_dot(self._s(params, grads), diff)
            k1 = jnp.where(up > 0, jnp.int64(0), k1)
        beta = k1.astype(jnp.float64) / (k1.astype(jnp.float64) + 3.0)
        # the extrapolation c_new + beta diff = c_new - beta (-diff) under the same cap
        beta = self._domain_cap(c_new, jax.tree_util.tree_map(jnp.negative, diff), beta)
        y_new = jax.tree_util.tree_map(lambda a, b: a + beta * b, c_new, diff)
        return self._p(y_new), (c_new, k1), eta


def require_parameter_space(policy: Any, who: str, what: str) -> None:
    """Refuse a policy (or a wrapped ``base`` policy) that steps in ``"x"`` or
    ``"mirror"`` coordinates where the parameters are not Hadamard factors: those spaces
    map each entry as a non-negative factor (``p**L``, ``log p``; mirror steps clamp every
    entry to >= 1e-150), so on matrix factors or polar coordinates they silently ran
    another algorithm. ``who`` names the caller, ``what`` its parameters."""
    p = policy
    while p is not None:
        space = getattr(p, "space", "u")
        if space != "u":
            raise ValueError(f"{who} steps in {what} (space 'u'); space={space!r} is for "
                             f"Hadamard factors, got {p!r}")
        p = getattr(p, "base", None)


def as_policy(step: Any, depth: int | None = None, *, match_depth: bool = True) -> Any:
    """A step policy from ``"auto"``, a positive number (a constant step), a policy object,
    or a policy string (for specs and the CLI)::

        "auto" | "constant:<eta>" | "decaying:<eta>[:<gamma>]" |
        "bb[:long|short|alternate]" | "nesterov[:<eta>]"

    each optionally followed by ``@u``, ``@x`` or ``@mirror``: the coordinates the step is
    taken in (``x`` and ``mirror`` need the model's ``depth``, which the front ends pass),
    e.g. ``"nesterov@mirror"`` or ``"bb:short@x"``. A policy object stepping in ``x`` or
    ``mirror`` coordinates of another depth than ``depth`` is refused (``ValueError``)
    unless ``match_depth`` is False (callers that refuse those spaces anyway).
    """
    if isinstance(step, str):
        return _parse_policy(step, depth)
    # a 0-d array (np.asarray(0.1), jnp.asarray(0.1)) as its scalar: it was refused as
    # "not a positive number" while Constant(jnp.asarray(0.1)) was accepted
    step = _scalar_of(step)
    # Real: NumPy scalars too (np.float32, np.int64); not bools (np.bool_ is not
    # a numbers.Real)
    if isinstance(step, Real) and not isinstance(step, bool):
        return Constant(float(step))
    if hasattr(step, "update") and hasattr(step, "init"):
        if match_depth and depth is not None:
            _check_policy_depth(step, depth)
        return step
    raise TypeError(f"step must be 'auto', a positive number or a step policy, got {step!r}")


def _check_policy_depth(policy: Any, depth: int) -> None:
    """The ``x`` / ``mirror`` coordinates of a policy object (or of a wrapped ``base``
    policy) are those of its own depth: with another model depth the run silently
    converged elsewhere (mirror steps of depth 2 on a depth-3 model: 4e-3 off the
    depth-3 limit, reported converged)."""
    p = policy
    while p is not None:
        if getattr(p, "space", "u") != "u" and getattr(p, "depth", None) != depth:
            raise ValueError(
                f"the step policy steps in space={p.space!r} coordinates of depth "
                f"{p.depth}, but the model has depth {depth}: give the policy "
                f"depth={depth} (or a string such as 'nesterov@{p.space}', which takes the "
                "model's depth)")
        p = getattr(p, "base", None)


_POLICY_GRAMMAR = ("'auto', 'constant:<eta>', 'decaying:<eta>[:<gamma>]', "
                   "'bb[:long|short|alternate]' or 'nesterov[:<eta>]', optionally with "
                   "'@u', '@x' or '@mirror'")


def _parse_policy(text: str, depth: int | None) -> Any:
    body, _, space = text.strip().partition("@")
    name, *args = [t.strip() for t in body.split(":")]
    coords = dict(space=space.strip() or "u")
    if coords["space"] != "u":
        coords["depth"] = depth

    def numbers(lo: int, hi: int) -> list[float]:
        if not lo <= len(args) <= hi:
            raise ValueError(f"step policy {text!r}: {name} takes {lo} to {hi} numbers")
        try:
            return [float(a) for a in args]
        except ValueError:
            raise ValueError(f"step policy {text!r}: not a number in {args}") from None

    name = name.lower()
    if name == "auto":
        numbers(0, 0)
        return Auto(**coords)
    if name == "constant":
        return Constant(*numbers(1, 1), **coords)
    if name == "decaying":
        return Decaying(*numbers(1, 2), **coords)
    if name in ("bb", "barzilai-borwein"):
        if len(args) > 1 or (args and args[0] not in BB_VARIANTS):
            raise ValueError(f"step policy {text!r}: the BB variant is one of {BB_VARIANTS}")
        return BarzilaiBorwein(*args, **coords)
    if name == "nesterov":
        return Nesterov(*numbers(0, 1), **coords)
    raise ValueError(f"unknown step policy {text!r}: use {_POLICY_GRAMMAR}, a number or a "
                     "policy object")