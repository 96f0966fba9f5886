"""Gradient flow by adaptive ODE integration, as a step policy of the driver.

:class:`Flow` integrates ``dp/dt = -grad f(p)`` with the Dormand-Prince 5(4) embedded
Runge-Kutta pair and step-size control (Hairer, Norsett, Wanner, Solving ODEs I, II.4): each
driver iteration is one *accepted* step, rejected trial steps are retried inside the
policy with a smaller step. The policy has the interface of the GD policies
(``init``/``update``), so any parametrization runs through the one driver loop; the extra
gradient evaluations come from ``ctx.grad_fn`` that the driver passes. The trace's
``step`` field holds the accepted time increments (their sum is the flow time).

:func:`gradient_flow` runs it; :func:`flow_sharpness` records the sharpness along the
trajectory and returns ``s_GF`` (the largest sharpness along the flow until the loss first
reaches a threshold epsilon) and the critical step ``2 / s_GF`` of Fojtik et al.: gradient
descent with a step below it can follow the flow; above it, it cannot (edge of stability).

References
----------
J. R. Dormand, P. J. Prince, "A family of embedded Runge-Kutta formulae", J. Comput. Appl.
Math. 6, 1980. E. Hairer, S. P. Norsett, G. Wanner, "Solving Ordinary Differential
Equations I", Springer 1993 (step-size control, initial step). J. Cohen et al., "Gradient
descent on neural networks typically occurs at the edge of stability", ICLR 2021 (their
``flow.py`` integrates the flow with an RK4 for the same purpose). T. Fojtik, M. Matveev,
H.-H. Chou, G. Kutyniok, J. Maly, "Conflicting biases at the edge of stability: norm versus
sharpness regularization", arXiv:2505.21423.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._core import Result, Status, check_int, check_not_complex, check_positive, x64_entry
from ..problems import as_problem
from .driver import make_config, run_driver, to_result
from .steps import StepContext

__all__ = ["Flow", "gradient_flow", "flow_sharpness"]

# Dormand-Prince 5(4) tableau
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_BSTAR = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b - bs for b, bs in zip(_B, _BSTAR))
#: trial steps with ``h * hessian_bound`` at or above this get the descent test
_DESCENT_CHECK = 2.0


def _dp_step(f: Any, p: jax.Array, k1: jax.Array, h: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One Dormand-Prince 5(4) step of length ``h`` from ``p`` (``k1 = f(p)``): the
    5th-order solution and the embedded error estimate (unscaled)."""
    ks = [k1]
    for i in range(1, 7):
        z = p + h * sum(a * k for a, k in zip(_A[i], ks) if a != 0.0)
        ks.append(f(z))
    new = p + h * sum(b * k for b, k in zip(_B, ks) if b != 0.0)
    err = h * sum(e * k for e, k in zip(_E, ks) if e != 0.0)
    return new, err


def _rms(v: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.mean(v * v))


def _scaled(v: jax.Array, sc: jax.Array, zero_over_zero: float) -> jax.Array:
    """``v / sc`` componentwise; ``zero_over_zero`` where ``sc = 0`` and ``v != 0``."""
    # with atol = 0 a component that is 0 has scale 0 (e.g. v(0) = 0 of DiagonalUV):
    # 0 / 0 would make the step NaN and the run stop as "diverged" at once
    ok = sc > 0
    q = v / jnp.where(ok, sc, 1.0)
    return jnp.where(ok, q, jnp.where(v == 0, 0.0, zero_over_zero))


@dataclass(frozen=True)
class Flow:
    """Adaptive Dormand-Prince 5(4) integration of the gradient flow (a driver policy).

    Parameters
    ----------
    rtol, atol : float
        Local error tolerances: a step is accepted when the RMS of
        ``err_i / (atol + rtol * max(|p_i|, |p_new_i|))`` is at most 1 and, for a step
        ``h`` with ``h * hessian_bound >= 2`` (or no bound), the loss at its end is not
        above the loss at its start (the exact flow is a descent flow; on a stiff flow the
        error control alone let the steps sit at the stability boundary, where the loss
        stops decaying). Either may be 0
        (not both): a pure relative (``atol = 0``) or absolute (``rtol = 0``) control; with
        ``atol = 0`` a component with zero scale counts as 0 when its error is 0.
    h0 : float, optional
        First trial step (default: Hairer's estimate ``0.01 ||p|| / ||grad||`` in the same
        scaled norm).
    max_step : float
        Cap on the step (time units).
    max_rejections : int
        Trial steps per accepted step before the policy gives up (it then takes the last
        trial step; when that one fails the error control, the control is reported as lost
        by a NaN step, so the driver stops with status ``diverged``; one that only raised
        the loss, e.g. by rounding at the loss's floor, is kept).
    stop_loss : float, optional
        A loss threshold epsilon whose first crossing is located (None: off). In the first
        accepted step that starts above it and ends at or below it, the crossing is found
        by a root-find on the step's length and kept in the policy state (``state[3]``:
        ``crossed``, ``params``, ``time``, ``root_iters``), which the driver returns as
        ``pstate``; the steps themselves are not changed. Passed to the compiled loop as
        a value (one program for every threshold). Needs ``ctx.loss``, ``ctx.loss_fn``
        and ``ctx.project`` (the driver provides them).

    Notes
    -----
    Needs ``ctx.grad_fn`` (the driver provides it; without ``ctx.loss_fn`` and ``ctx.loss``
    the descent test is skipped). Each accepted step costs 6 gradient evaluations plus
    the driver's one (first-same-as-last is used for the first stage), each rejected one
    6; a trial step under the descent test, and with ``stop_loss`` each accepted step, a
    loss evaluation more (at its end); the root-find 6 gradients and a loss per
    iteration. Explicit: on a
    stiff problem (a large spread of Hessian eigenvalues) the steps are limited by
    stability, about ``3.3 / lambda_max``.
    """

    rtol: float = 1e-8
    atol: float = 1e-10
    h0: float | None = None
    max_step: float = 1e6
    max_rejections: int = 30
    stop_loss: float | None = None

    @property
    def dynamic_fields(self) -> tuple[str, ...]:
        # the driver passes the threshold as a value; None (off) stays in the program
        return () if self.stop_loss is None else ("stop_loss",)

    @property
    def returns_state(self) -> bool:
        # the driver returns the final policy state (the crossing) as ``pstate``
        return self.stop_loss is not None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtol", check_positive(self.rtol, "rtol", allow_zero=True))
        object.__setattr__(self, "atol", check_positive(self.atol, "atol", allow_zero=True))
        if self.rtol == 0 and self.atol == 0:
            raise ValueError("rtol and atol cannot both be 0")
        if self.h0 is not None:
            object.__setattr__(self, "h0", check_positive(self.h0, "h0"))
        object.__setattr__(self, "max_step", check_positive(self.max_step, "max_step"))
        object.__setattr__(self, "max_rejections",
                           check_int(self.max_rejections, "max_rejections", minimum=1))
        if self.stop_loss is not None:
            object.__setattr__(self, "stop_loss", check_positive(self.stop_loss, "stop_loss"))

    def init(self, params: Any) -> Any:
        h = -1.0 if self.h0 is None else self.h0
        # (next trial step, flow time, rejected steps in total[, the crossing])
        state = (jnp.float64(h), jnp.float64(0.0), jnp.int64(0))
        if self.stop_loss is None:
            return state
        cross = dict(crossed=jnp.bool_(False), params=params,
                     time=jnp.float64(jnp.nan), root_iters=jnp.int64(0))
        return state + (cross,)

    def _scale(self, a: jax.Array, b: jax.Array) -> jax.Array:
        """Error scale of each component between the states ``a`` and ``b``."""
        return self.atol + self.rtol * jnp.maximum(jnp.abs(a), jnp.abs(b))

    def update(self, params: Any, grads: Any, state: Any, ctx: StepContext):
        if ctx.grad_fn is None:
            raise ValueError("Flow needs ctx.grad_fn: run it through the driver")
        if self.stop_loss is not None and (ctx.loss_fn is None or ctx.loss is None):
            raise ValueError("Flow(stop_loss=...) needs ctx.loss and ctx.loss_fn: run it "
                             "through the driver")
        h, t, rejected = state[:3]
        p, unravel = ravel_pytree(params)
        k1 = -ravel_pytree(grads)[0]

        def f(z):
            return -ravel_pytree(ctx.grad_fn(unravel(z)))[0]

        # the exact flow never raises the loss: a trial step that does is rejected too
        # (on a stiff flow, e.g. a large init scale, the error control alone let the
        # steps sit at the stability boundary, where the loss oscillated and the run
        # stagnated far from the tolerance); checked where the step may be near that
        # boundary (or the model has no Hessian bound), which saves the loss evaluation
        # of the other steps
        descent = ctx.loss_fn is not None and ctx.loss is not None
        project = ctx.project if ctx.project is not None else (lambda q: q)
        bound = jnp.nan if ctx.bound is None else ctx.bound

        def end_loss(z):
            return ctx.loss_fn(project(unravel(z)))

        scale, rms, scaled = self._scale, _rms, _scaled
        # Hairer's initial step (once), from the components that have a scale
        sc0 = scale(p, p)
        h_guess = (0.01 * jnp.maximum(rms(scaled(p, sc0, 0.0)), 1e-5)
                   / jnp.maximum(rms(scaled(k1, sc0, 0.0)), 1e-10))
        h = jnp.where(h > 0, h, h_guess)
        h = jnp.minimum(h, self.max_step)

        def attempt(h, root=False):
            """The trial step of length ``h``: its end, its scaled error, its loss (inf
            where not needed: by the descent test, at an accepted end with ``stop_loss``
            (crossing?), in the root-find (``root``)) and whether it failed the test."""
            new, err = _dp_step(f, p, k1, h)
            en = rms(scaled(err, scale(p, new), jnp.inf))
            en = jnp.where(jnp.isfinite(en), en, jnp.inf)
            if not descent:
                return new, en, jnp.float64(jnp.inf), jnp.bool_(False)
            # DP5 is stable for h * lambda in [-3.3, 0]: below 2 / bound no loss check
            # (a NaN bound, e.g. TwoLayerNet's, always checks)
            check = ~(h * bound < _DESCENT_CHECK) & (en <= 1.0)
            need = check | root | ((self.stop_loss is not None) & (en <= 1.0))
            loss = jax.lax.cond(need, end_loss, lambda z: jnp.float64(jnp.inf), new)
            return new, en, loss, check & ~(loss <= ctx.loss)

        def shrink(en, h, tries, up):
            # shrink after a rejection (a failed first try is counted in `tries`); a
            # rise of the loss at a small error (a step beyond the stability boundary)
            # at least halves the step
            fac = jnp.clip(0.9 * jnp.where(jnp.isfinite(en), en, 1e10) ** (-0.2), 0.1, 0.9)
            fac = jnp.where(up, jnp.minimum(fac, 0.5), fac)
            return jnp.where(tries > 0, h * fac, h)

        def cond(c):
            _, en, _, tries, up = c
            return ((en > 1.0) | up) & (tries < self.max_rejections)

        def body(c):
            _, en, h, tries, up = c
            h = shrink(en, h, tries, up)
            new, en, _, up = attempt(h)
            return new, en, h, tries + 1, up

        trial0 = (p, jnp.inf, h, jnp.int64(0), jnp.bool_(False))
        if self.stop_loss is None:
            new, en, h_used, tries, _ = jax.lax.while_loop(cond, body, trial0)
            cross = ()
        else:
            new, en, h_used, tries, cross = self._attempts_to_threshold(
                p, k1, t, state[3], unravel, trial0, attempt, shrink, cond, ctx)
        # only the error control decides failure: after max_rejections rises of the loss
        # at a small error (rounding at the loss's floor) the last trial step is taken
        ok = en <= 1.0
        factor = jnp.clip(0.9 * jnp.maximum(en, 1e-10) ** (-0.2), 0.2, 5.0)
        h_next = jnp.minimum(h_used * factor, self.max_step)
        eta = jnp.where(ok, h_used, jnp.nan)
        # on failure return a non-finite point: the driver keeps the last good one and
        # stops with status diverged (error control lost)
        new = jnp.where(ok, new, jnp.nan)
        return unravel(new), (h_next, t + h_used, rejected + tries - 1) + cross, eta

    def _attempts_to_threshold(self, p, k1, t, cross, unravel, trial_init, attempt, shrink,
                               cond, ctx):
        """The trial steps of :meth:`update` (the same ones, in the same order) and, in
        the first accepted step that crosses ``stop_loss`` (its start above, its
        projected end at or below), the crossing: the root of ``phi(tau) = loss(DP5 step
        of length tau) - eps`` on ``[0, h]``. A shortened step is as accurate as the
        accepted one (its local error shrinks like ``tau^5``), so the crossing keeps the
        integrator's accuracy (an interpolant would add its own error).

        One loop runs both (phase 0: trial steps, phase 1: the root-find), so the program
        holds one Dormand-Prince step: a second one (or a second program re-running the
        flow to the crossing) doubled the first call's compile time."""
        eps = jnp.asarray(self.stop_loss, jnp.float64)

        def projected(z):
            return ravel_pytree(ctx.project(unravel(z)))[0]

        def fine(r, tau_tol, h_acc):
            # tau known to the integrator's accuracy and the loss at the kept end eps to
            # 1e-10 relative (quantities read there, e.g. the train loss, should sit at
            # the threshold: the time tolerance alone left them 4e-8 off)
            a, b, fa, fb, side, n = r
            done = (b - a <= tau_tol) & ((-fb <= 1e-10 * eps) | (b - a <= 1e-14 * h_acc))
            return done | (fb == 0) | (n >= 100)

        def m_cond(c):
            trial, phase, r, tau_tol, _, _ = c
            return jnp.where(phase == 0, cond(trial), ~fine(r, tau_tol, trial[2]))

        def m_body(c):
            trial, phase, r, tau_tol, pb, hit = c
            a, b, fa, fb, side, n = r
            # Illinois (regula falsi, the retained end's value halved when one end is
            # kept twice): superlinear, and the root stays bracketed
            tau = b - fb * (b - a) / (fb - fa)
            tau = jnp.where((tau > a) & (tau < b), tau, 0.5 * (a + b))
            _, en, h, tries, up = trial
            h_try = jnp.where(phase == 0, shrink(en, h, tries, up), tau)
            # the loss is read at an accepted step's end (crossing?) and in the root-find
            new_t, en_t, loss_t, up_t = attempt(h_try, root=(phase == 1))
            ft = loss_t - eps
            # phase 0: the trial step, as in update's plain loop; a step that starts above
            # eps and ends at or below it lowers the loss, so passes the descent test
            trial0 = (new_t, en_t, h_try, tries + 1, up_t)
            start = ((en_t <= 1.0) & ~cross["crossed"] & (ctx.loss > eps) & (ft <= 0)
                     & jnp.isfinite(ctx.loss))
            moved = _rms(_scaled(h_try * k1, self._scale(p, projected(new_t)), jnp.inf))
            tol0 = h_try * jnp.maximum(1e-3 / jnp.maximum(moved, 1.0), 1e-14)
            r0 = (jnp.float64(0.0), h_try, ctx.loss - eps, ft, jnp.int64(0), jnp.int64(0))
            # phase 1: one root-find iteration at tau
            below = ft <= 0
            a2, fa2 = jnp.where(below, a, tau), jnp.where(below, fa, ft)
            b2, fb2 = jnp.where(below, tau, b), jnp.where(below, ft, fb)
            fa2 = jnp.where(below & (side == 1), 0.5 * fa2, fa2)
            fb2 = jnp.where(~below & (side == -1), 0.5 * fb2, fb2)
            r1 = (a2, b2, fa2, fb2, jnp.where(below, 1, -1), n + 1)
            in0 = phase == 0
            sel = functools.partial(jax.tree_util.tree_map,
                                    lambda u, v: jnp.where(in0, u, v))
            trial = sel(trial0, trial)
            r = sel(r0, r1)
            tau_tol = jnp.where(in0, tol0, tau_tol)
            pb = jnp.where(in0 | below, new_t, pb)
            phase = jnp.where(in0 & start, 1, phase)
            return trial, phase, r, tau_tol, pb, hit | (in0 & start)

        zero = jnp.float64(0.0)
        r_init = (zero, zero, zero, zero, jnp.int64(0), jnp.int64(0))
        trial, _, r, _, pb, hit = jax.lax.while_loop(
            m_cond, m_body, (trial_init, jnp.int64(0), r_init, zero, p, jnp.bool_(False)))
        new, en, h_used, tries, _ = trial
        # the end with loss <= eps: the first point of the flow at the threshold
        found = dict(crossed=jnp.bool_(True), params=ctx.project(unravel(pb)),
                     time=t + r[1], root_iters=r[5])
        cross = jax.tree_util.tree_map(lambda u, v: jnp.where(hit, u, v), found, cross)
        return new, en, h_used, tries, (cross,)


@x64_entry
def gradient_flow(
    model: Any,
    A: Any,
    y: Any = None,
    *,
    rtol: float = 1e-8,
    atol: float = 1e-10,
    max_iter: int = 100_000,
    tol: float = 1e-6,
    record: int | Sequence[int] | None = 64,
    metrics: Sequence[tuple[str, Any]] | Mapping[str, Any] = (),
    params0: Any = None,
    key: Any = None,
) -> Result:
    """Integrate the gradient flow of ``0.5 ||A signal(p) - y||^2`` for any parametrization.

    Stops when ``||A x - y|| <= tol ||y||`` (a loss threshold), after ``max_iter`` accepted
    steps, or when the error control fails.

    Parameters
    ----------
    model : model object
        A parametrization from :mod:`overparam.models` (``init(key, n)``,
        ``signal(params)``), e.g. :class:`~overparam.models.Hadamard`.
    A : array of shape (m, n), Operator, LinearOperator or Problem
        Measurement operator (or a Problem, then ``y`` is omitted).
    y : array of shape (m,), optional
        Measurements.
    rtol, atol : float, optional
        Local error tolerances of the integrator (defaults 1e-8, 1e-10; see
        :class:`Flow`).
    max_iter : int, optional
        Cap on the accepted steps (default 100000).
    tol : float, optional
        Stop when ``||A x - y|| <= tol ||y||`` (default 1e-6).
    record : int or sequence of int, optional
        Number of log-spaced record points, or the iterations to record at.
    metrics : sequence of (str, callable) or mapping str -> callable, optional
        Extra JAX-traceable functions of x recorded in the trace.
    params0 : pytree, optional
        Initial parameters (default ``model.init(key, n)``).
    key : jax.random.PRNGKey, optional
        Key of ``model.init`` when ``params0`` is not given.

    Returns
    -------
    Result
        ``x``, ``status``, ``n_iter`` (accepted steps), ``fun`` and the trace, whose
        ``step`` field holds the accepted time steps; ``info["flow_time"]`` is the total
        time integrated (NaN unless every step was recorded).
    """
    _check_model(model)
    problem = as_problem(A, y)
    # a Problem keeps complex measurements; the real flow failed inside JAX's VJP
    check_not_complex(problem.y, "y")
    cfg = make_config(max_iter, tol, record)
    policy = Flow(rtol=rtol, atol=atol)
    if params0 is None:
        params0 = model.init(key, problem.n)
    # a dict (as hadamard_gd / wn_gd take) was iterated as its names: "not enough values
    # to unpack"
    metrics = tuple(metrics.items()) if isinstance(metrics, Mapping) else tuple(metrics)
    out, names, wall = run_driver(model, policy, problem.A, problem.y, cfg,
                                  metrics=metrics, params0=params0)
    res = to_result(out, names, wall, dict(method="gradient_flow", rtol=rtol, atol=atol))
    res.info["flow_time"] = _flow_time(res.trace)
    _flow_message(res)
    return res


def _check_model(model: Any) -> None:
    """Refuse what is not a model instance by name: the class itself (``Hadamard`` for
    ``Hadamard(2)``) failed with "init() missing 1 required positional argument: 'n'"
    (or "loop_model() missing ... 'self'"), a string with "'str' object has no attribute
    'init'"."""
    if isinstance(model, type):
        raise TypeError(f"model must be a model instance, e.g. {model.__name__}(...), got "
                        f"the class {model.__name__}")
    missing = [m for m in ("init", "signal") if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError("model must be a parametrization from overparam.models (with "
                        f"init(key, n) and signal(params)), got {type(model).__name__} "
                        f"without {' and '.join(missing)}")


#: what the driver's advice says instead for a flow, which takes no step size: its
#: ``max_iter`` text recommended step='auto', its ``diverged`` text a smaller step
_FLOW_ADVICE = {
    Status.MAX_ITER: (
        "The iteration limit was reached before the tolerance: raise max_iter or loosen "
        "tol. The flow needs many accepted steps where it is stiff (the steps stay near "
        "3.3 / lambda_max of the Hessian, e.g. at a large init_scale or data scale) or "
        "slow (a small init_scale at depth >= 3: long plateaus between saddles)."),
    Status.STAGNATED: (
        "The loss did not improve for many accepted steps: the tolerance may be below "
        "what floating point allows, y may not be reachable by the model, or the flow "
        "sits on a plateau (from a small init_scale at depth >= 3 the loss can stay flat "
        "to rounding over long flow times while small coordinates grow slowly)."),
    Status.DIVERGED: (
        "The integration failed: no trial step passed the error control within "
        "max_rejections, or the loss became non-finite (e.g. theta_0 has NaN/inf or the "
        "flow leaves the float range at this init scale). The returned x is the last "
        "accepted point."),
}


def _flow_message(res: Result) -> None:
    """Replace the driver's advice where it is about step sizes or would mislead for a
    flow (see :data:`_FLOW_ADVICE`)."""
    if res.status in _FLOW_ADVICE:
        res.message = (
            f"{_FLOW_ADVICE[res.status]} (relative residual "
            f"{res.info['relative_residual']:.3e} after {res.n_iter} iterations)")


def _flow_time(trace: dict) -> float:
    """Total flow time: the sum of the accepted steps, known when every iteration was
    recorded (NaN otherwise: the driver returns the parameters, not the policy state)."""
    iters = np.asarray(trace["iter"])
    if iters.size and np.array_equal(iters, np.arange(iters.size)):
        return float(np.nansum(np.asarray(trace["step"])[1:]))
    return float("nan")


@x64_entry
def flow_sharpness(
    model: Any,
    A: Any,
    y: Any = None,
    *,
    loss_threshold: float,
    every: int = 1,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    max_iter: int = 20_000,
    k: int = 20,
    params0: Any = None,
    key: Any = None,
) -> Result:
    """``s_GF``: the largest sharpness along the gradient flow until the loss reaches
    ``loss_threshold``, and the critical step ``eta_c = 2 / s_GF``.

    The flow is integrated adaptively (:class:`Flow`) and the sharpness (Lanczos, ``k``
    steps) recorded every ``every`` accepted steps. The run stops at the first accepted
    step whose end is below the threshold, past the crossing; the crossing itself is
    located inside that step (by the policy, :class:`Flow` with ``stop_loss``, in the same
    run: the step shortened by a root-find on its length to a fraction of the integrator's
    tolerance) and the sharpness taken there.

    Parameters
    ----------
    model : model object
        A parametrization from :mod:`overparam.models` (``init(key, n)``,
        ``signal(params)``).
    A : array of shape (m, n), Operator, LinearOperator or Problem
        Measurement operator (or a Problem, then ``y`` is omitted).
    y : array of shape (m,), optional
        Measurements.
    loss_threshold : float
        epsilon > 0: the flow stops when ``0.5 ||A x - y||^2`` first reaches it.
    every : int, optional
        Record the sharpness every this many accepted steps, >= 1 (default 1).
    rtol, atol : float, optional
        Local error tolerances of the integrator (defaults 1e-7, 1e-9; see :class:`Flow`).
    max_iter : int, optional
        Cap on the accepted steps (default 20000).
    k : int, optional
        Lanczos steps per sharpness estimate, >= 1 (default 20).
    params0 : pytree, optional
        Initial parameters theta_0 (default ``model.init(key, n)``).
    key : jax.random.PRNGKey, optional
        Key of ``model.init`` when ``params0`` is not given.

    Returns
    -------
    Result
        ``info["s_gf"]`` (the largest recorded sharpness before the crossing and the one at
        it), ``info["eta_c"]`` (``inf`` when ``s_gf <= 0``: no positive curvature along
        the flow), ``info["sharpness_final"]`` (at the crossing),
        ``info["threshold_time"]`` and ``info["threshold_params"]`` (the flow time and the
        parameters at the crossing; 0 and theta_0 when the loss starts at or below the
        threshold; NaN and None when the run did not stop at the threshold),
        ``info["flow_time"]`` (when ``every == 1``). ``x``, ``fun``, ``info["params"]``
        and the trace (with ``sharpness``) are the last accepted step's. When the run
        did not reach the threshold (``max_iter``, stagnated), ``s_gf`` covers the flow
        only up to its last accepted step (a lower bound on ``s_GF``; ``eta_c`` an upper
        bound) and the message says so.
    """
    from .eos import _final_sharpness, loss_sharpness_metric, threshold_tol

    _check_model(model)
    problem = as_problem(A, y)
    every = check_int(every, "every", minimum=1)
    loss_threshold = check_positive(loss_threshold, "loss_threshold")
    tol = threshold_tol(problem.y, loss_threshold)
    metric = loss_sharpness_metric(model, problem.A, k=k)
    if params0 is None:
        params0 = model.init(key, problem.n)
    # the policy locates the crossing in the run itself: one compiled program (the flow
    # used to be re-run to the crossing by a second one, doubling the first call's time)
    out, names, wall = run_driver(
        model, Flow(rtol=rtol, atol=atol, stop_loss=loss_threshold), problem.A, problem.y,
        make_config(max_iter, tol, range(0, max_iter + 1, every)),
        metrics=(("sharpness", metric),), params0=params0)
    res = to_result(out, names, wall, dict(method="gradient_flow", rtol=rtol, atol=atol))
    res.info["flow_time"] = _flow_time(res.trace)
    _flow_message(res)
    sh = np.asarray(res.trace["sharpness"])
    s_final, t_cross, p_cross = float(sh[-1]), float("nan"), None
    cross = out["pstate"][3]
    if res.status.value == "converged" and res.n_iter > 0 and bool(cross["crossed"]):
        # the last row is the step end, past the threshold: replace it by the crossing
        p_cross = jax.tree_util.tree_map(np.asarray, cross["params"])
        # the trace's estimator (same Lanczos metric), compiled once per model and k
        s_final = _final_sharpness(model, problem, p_cross, k)
        t_cross = float(cross["time"])
        sh = np.append(sh[:-1], s_final)
    elif res.status.value == "converged" and res.n_iter == 0:
        # the loss at theta_0 is already at the threshold: the crossing is the start
        # (its sharpness is the trace's one row)
        p_cross = jax.tree_util.tree_map(np.asarray, res.info["params"])
        t_cross = 0.0
    s_gf = float(np.nanmax(sh)) if np.any(np.isfinite(sh)) else float("nan")
    # no positive curvature along the flow (e.g. A = 0): no step is too large, and a
    # plain 2 / s_gf would raise ZeroDivisionError (or give a negative step)
    eta_c = 2.0 / s_gf if s_gf > 0 else (float("inf") if s_gf <= 0 else float("nan"))
    res.info.update(method="flow_sharpness", s_gf=s_gf, eta_c=eta_c,
                    sharpness_final=s_final, loss_threshold=loss_threshold,
                    threshold_time=t_cross, threshold_params=p_cross)
    if p_cross is None and np.isfinite(s_gf):
        # s_GF is the largest sharpness *until the threshold*: short of it the sharpness
        # may still grow (progressive sharpening), so eta_c may be too large
        res.message += (" The loss threshold was not reached: s_gf is the largest "
                        "sharpness up to the last accepted step, a lower bound on s_GF, "
                        "and eta_c = 2 / s_gf an upper bound on the critical step.")
    return res
