"""The one driver loop: any (operator, parametrization, step policy) combination.

The loop is jitted and runs entirely in ``lax`` control flow: an outer ``while_loop`` over
record points and an inner ``while_loop`` of gradient steps, stopping on a relative
residual tolerance, the iteration cap, stagnation (see :func:`stalled`: the best loss has
not improved for half the run, and for at least ``stagnation_window`` steps) or divergence
(a non-finite or exploding loss, in which case the last finite iterate is kept). Traces go
into fixed-size arrays at the record points. ``jax.vmap`` over the array arguments batches
trials.

Only the number of record points, rounded up to a power of two, is compiled into the
loop: the iteration cap, the tolerance, the record iterations and the stagnation window are
arguments, so a sweep over them (or the growing chunks of ``solvers.nnls``'s reparametrized
path) reuses one program. A model's initialization-only fields (``loop_model()``, e.g.
Hadamard's ``init_scale``) are not part of the key either.

:func:`run_driver` and :func:`run_driver_batch` run in float64 and outside any enclosing
trace (:func:`overparam._core.x64_scope`, thread-local), whatever the caller's
``jax_enable_x64``: a caller that turned it off again after importing overparam used to get
float32 runs, silently, and a solver called from a metric or a step policy (while JAX
traces the outer run) raised ``TracerArrayConversionError``.

A policy with ``returns_state = True`` has its final state returned as ``pstate``
(e.g. :class:`~overparam.dynamics.flow.Flow` with ``stop_loss``: the threshold's crossing
that it locates inside a step).
"""
from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._core import Result, Status, check_int, check_positive, usable_cores, x64_entry
from ..problems import Operator
from .steps import StepContext

RUNNING, CONVERGED, MAX_ITER, STAGNATED, DIVERGED = range(5)
STATUS_OF_CODE = {
    CONVERGED: Status.CONVERGED,
    MAX_ITER: Status.MAX_ITER,
    STAGNATED: Status.STAGNATED,
    DIVERGED: Status.DIVERGED,
}
BASE_FIELDS = ("loss", "residual", "l1", "step")
DIVERGENCE_FACTOR = 1e6
ROLLBACK_FIELDS = ("params", "it", "x", "loss", "best", "best_it", "eta")


@dataclass(frozen=True)
class DriverConfig:
    """Settings of a run. Only ``len(record_iters)`` (rounded up to a power of two) is
    part of the compilation key (it sets the trace's shape); the values travel to the
    compiled loop as arguments.

    Attributes
    ----------
    max_iter : int
        Iteration cap (>= 1 when built by :func:`make_config`).
    tol : float
        Relative residual tolerance: stop when ``||A x - y|| <= tol ||y||`` (>= 0;
        absolute, ``||A x|| <= tol``, when ``y = 0``).
    record_iters : tuple of int
        Iterations at which the trace is written, increasing, ending at ``max_iter``
        (see :func:`record_points`).
    stagnation_window : int or None, optional
        The fewest steps without a new best loss that count as stagnation (see
        :func:`stalled`; default 100); None never stops on stagnation (a caller that runs
        the driver in pieces and judges progress over the whole run, e.g.
        ``solvers.nnls``).
    """

    max_iter: int
    tol: float
    record_iters: tuple[int, ...]
    stagnation_window: int | None = 100


#: a loss within this relative distance of the best is flat (rounding), and a coordinate
#: of x that grew by this factor since the last progress is progress (see run's step)
_FLAT_RTOL = 8 * float(np.finfo(np.float64).eps)
_GROWTH = 1e-3

#: the largest iteration cap (a larger one acts as this): int64 counters, and record points
#: that are exact in float64 (np.geomspace)
MAX_ITER_CAP = 2**62

#: the window of a run that never stagnates: it - best_it <= max_iter < this
_NO_STAGNATION = np.iinfo(np.int64).max


def stalled(it: Any, best_it: Any, window: Any) -> Any:
    """Whether a run at iteration ``it`` whose best loss was last improved (strictly) at
    iteration ``best_it`` has stagnated: no improvement for ``max(window, best_it)``
    steps, i.e. for at least half the run.

    Scale-free, so that a momentum method is not stopped while it still improves: its
    loss climbs for stretches that grow with the iteration count (measured on Hadamard
    sparse recovery with Nesterov in u- and mirror coordinates, depths 2 and 3: up to a
    third of the iterations before the stretch, e.g. 2034 steps after a best at 6224),
    where a fixed window of 100 steps stopped runs at relative residuals 2e-4 to 5e-2 that
    go on to converge. Works on JAX (traced) and host values alike.
    """
    # host values stay on the host (a jnp op on them would compile a kernel)
    top = jnp.maximum if isinstance(best_it, jax.Array) else np.maximum
    return it - best_it >= top(window, best_it)


def record_points(max_iter: int, record: int | Sequence[int] | None) -> tuple[int, ...]:
    """Iterations at which the trace is written; always ends at ``max_iter``.

    Parameters
    ----------
    max_iter : int
        Iteration cap of the run.
    record : int, sequence of int or None
        An int k >= 1: 0 and k log-spaced points in ``[1, max_iter]`` (every iteration
        when ``k >= max_iter``); a sequence: those iterations, each in ``[0, max_iter]``
        (ValueError otherwise); None: 64.

    Returns
    -------
    tuple of int
        The sorted, distinct record iterations.

    Raises
    ------
    TypeError
        When ``record`` is neither an int nor a flat sequence of ints (a string, a float,
        a bool, a float array).
    ValueError
        When a given iteration lies outside ``[0, max_iter]``.
    """
    if record is None:
        record = 64
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        k = check_int(record, "record", minimum=1)
        if k >= max_iter:  # every iteration (without allocating k points first)
            pts = np.arange(max_iter + 1, dtype=np.int64)
        else:
            pts = np.unique(np.round(np.geomspace(1, max_iter, num=k)).astype(np.int64))
            pts = np.concatenate([[0], pts])
    else:
        # a string is a sequence too ("37" would read as [3, 7]), and a float array would
        # be truncated silently
        if isinstance(record, (str, bytes, bool, float)) or not hasattr(record, "__iter__"):
            raise TypeError("record must be an int or a sequence of ints, got "
                            f"{type(record).__name__}")
        raw = np.asarray(list(record))
        if raw.ndim != 1 or (raw.size and not (np.issubdtype(raw.dtype, np.integer)
                                               and raw.dtype != np.bool_)):
            raise TypeError("record must be an int or a flat sequence of ints, got "
                            f"{raw.dtype} values of shape {raw.shape}")
        pts = np.unique(raw.astype(np.int64))
        if pts.size and (pts[0] < 0 or pts[-1] > max_iter):
            raise ValueError(f"record iterations must lie in [0, max_iter={max_iter}]")
    pts = pts[pts <= max_iter]
    if pts.size == 0 or pts[-1] != max_iter:
        pts = np.append(pts, max_iter)
    return tuple(int(p) for p in pts)


# trace fields every run has ("iter" is added by to_result): a metric may not shadow them
RESERVED_NAMES = BASE_FIELDS + ("iter",)


def check_metrics(metrics: Sequence[tuple[str, Callable]]) -> tuple:
    """Validate ``(name, fn)`` pairs: string names, unique, none of :data:`RESERVED_NAMES`
    (a metric named ``loss`` used to overwrite the recorded loss, one named ``iter`` the
    iteration numbers), callable functions."""
    metrics = tuple(metrics)
    names = [name for name, _ in metrics]
    for name, fn in metrics:
        if not isinstance(name, str):
            raise TypeError(f"metric names must be strings, got {name!r}")
        if name in RESERVED_NAMES:
            raise ValueError(f"metric name {name!r} is taken by the trace's own field; "
                             f"reserved: {', '.join(RESERVED_NAMES)}")
        if not callable(fn):
            raise TypeError(f"metric {name!r} must be callable, got {type(fn).__name__}")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate metric names in {names}")
    return metrics


def make_config(max_iter: int, tol: float, record: Any,
                stagnation_window: int | None = 100) -> DriverConfig:
    """A checked :class:`DriverConfig`.

    Parameters
    ----------
    max_iter : int
        Iteration cap, >= 1; beyond :data:`MAX_ITER_CAP` (2**62, which no run reaches) it
        acts as that cap.
    tol : float
        Relative residual tolerance, >= 0.
    record : int, sequence of int or None
        Record points, as for :func:`record_points`.
    stagnation_window : int or None, optional
        The fewest steps without a new best loss that count as stagnation, >= 1
        (default 100); None never stops on stagnation.

    Returns
    -------
    DriverConfig
    """
    # the loop counts in int64: 10**20 failed in np.geomspace ("no callable log10
    # method"), 2**63 in the int64 conversion, and 2**63 - 1 rounded to a negative record
    max_iter = min(check_int(max_iter, "max_iter", minimum=1), MAX_ITER_CAP)
    tol = check_positive(tol, "tol", allow_zero=True)
    if stagnation_window is not None:
        stagnation_window = check_int(stagnation_window, "stagnation_window", minimum=1)
    return DriverConfig(max_iter, tol, record_points(max_iter, record), stagnation_window)


def _record_slots(cfg: DriverConfig) -> int:
    """Record points the compiled loop has room for: ``len(cfg.record_iters)`` rounded up
    to a power of two (at least 4), so that record counts of one bucket (e.g.
    ``record=40`` and ``record=60``: 41 and 61 points, 64 slots) share one program; before, every count compiled the
    loop anew (~1 s at 12 x 30). The spare slots repeat ``max_iter``, which a run never
    passes: they stay unwritten (``iters`` -1) and ``to_result`` drops them."""
    return max(4, 1 << (len(cfg.record_iters) - 1).bit_length())


def _controls(cfg: DriverConfig) -> tuple[Any, ...]:
    """The run-time values of ``cfg`` (arguments of the compiled loop, not constants)."""
    window = _NO_STAGNATION if cfg.stagnation_window is None else cfg.stagnation_window
    rec = np.full(_record_slots(cfg), cfg.max_iter, dtype=np.int64)
    rec[:len(cfg.record_iters)] = cfg.record_iters
    # NumPy values, not jnp ones (here and for the loop's other arguments): each eager jnp
    # constructor is a dispatched primitive (~40 us), and a sweep calls the loop once per
    # chunk (84 of them took a 20-trial cell's call from ~5 to ~18 ms)
    return (np.int64(cfg.max_iter), np.float64(cfg.tol), rec, np.int64(window))


def _dense_forward(matrix: jax.Array, x: jax.Array) -> jax.Array:
    return matrix @ x


def operator_data(op: Operator) -> tuple[Callable, Any]:
    """(forward(data, x), data): dense matrices travel as an argument (no recompilation for
    a new matrix of the same shape, and vmap-able); an operator with a
    ``jax_forward_data()`` method (returning a hashable ``forward(data, x)`` and a pytree of
    arrays ``data``, e.g. the index set of a completion mask) travels the same way; other
    operators are closed over."""
    if op.is_dense:
        return _dense_forward, op.to_dense()
    if hasattr(op, "jax_forward_data"):
        return op.jax_forward_data()
    return _ClosedForward(op), None


def shares_operator(ops: Sequence[Operator]) -> bool:
    """Whether every operator is the first one (the same object, or dense with an equal
    matrix): a batch then keeps one copy and runs matrix-matrix products."""
    first = ops[0]
    if all(op is first for op in ops):
        return True
    if not all(op.is_dense for op in ops):
        return False
    a = np.asarray(first.to_dense())
    return all(op is first or np.array_equal(np.asarray(op.to_dense()), a) for op in ops)


class _ClosedForward:
    def __init__(self, op: Operator):
        self.op = op

    def __call__(self, data: Any, x: jax.Array) -> jax.Array:
        return self.op.jax_matvec(x)

    def __hash__(self) -> int:
        return id(self.op)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _ClosedForward) and other.op is self.op


class _Traced:
    """Marker of a blanked dynamic field in a cached policy (distinct from None, which a
    policy may use for "off": e.g. ``Flow(stop_loss=None)``)."""

    def __repr__(self) -> str:
        return "<traced>"


_TRACED = _Traced()


def _split_policy(policy: Any) -> tuple[Any, tuple[float, ...]]:
    """(policy with its ``dynamic_fields`` blanked, their values): the compiled loop is
    cached on the first and takes the second as arguments. ``dynamic_fields`` is read from
    the instance (a policy may name a field only when it is set)."""
    names = getattr(policy, "dynamic_fields", ())
    if not names or not dataclasses.is_dataclass(policy):
        return policy, ()
    return _with_fields(policy, dict.fromkeys(names, _TRACED)), tuple(
        float(getattr(policy, n)) for n in names)


def _with_fields(policy: Any, values: dict[str, Any]) -> Any:
    # not dataclasses.replace: __post_init__ validates floats, and these may be tracers
    new = object.__new__(type(policy))
    for f in dataclasses.fields(policy):
        object.__setattr__(new, f.name, values.get(f.name, getattr(policy, f.name)))
    return new


def _dynamic_values(values: tuple[float, ...]) -> tuple[Any, ...]:
    return tuple(np.float64(v) for v in values)


def loop_model_of(model: Any) -> Any:
    """The model a compiled loop is keyed on: ``model.loop_model()`` (the model with its
    initialization-only fields fixed, e.g. Hadamard's ``init_scale``) when it has one, else
    ``model``. Programs built from the loop model serve every initialization.

    Parameters
    ----------
    model : model object
        A parametrization (``signal``, ``init``, ...).

    Returns
    -------
    model object
    """
    loop_model = getattr(model, "loop_model", None)
    return loop_model() if callable(loop_model) else model


@functools.lru_cache(maxsize=64)
def _build(model, policy, forward, n_rec: int, metrics: tuple, batched: bool | str):
    # n_rec record points, and one row for a stop between them
    n_rows = n_rec + 1
    names = BASE_FIELDS + tuple(name for name, _ in metrics)

    # a model may supply its own first-order pullback (``signal_vjp(params) -> (x, pull)``,
    # e.g. the deep matrix factorization's hand-ordered products); else autodiff's
    signal_vjp = getattr(model, "signal_vjp", None) or functools.partial(jax.vjp,
                                                                         model.signal)

    # a model may keep state for its Hessian bound (``bound_state(params)``,
    # ``hessian_bound_warm(params, g, opnorm2, state) -> (bound, state)``), e.g. the
    # vectors of a power iteration warm-started from the previous step's
    warm_bound = hasattr(model, "hessian_bound_warm")

    def evaluate(params, data, y):
        x, pull_signal = signal_vjp(params)
        ax, pull_op = jax.vjp(lambda z: forward(data, z), x)
        r = ax - y
        loss = 0.5 * jnp.vdot(r, r)
        g = pull_op(r)[0]
        grads = pull_signal(g)[0]
        return x, loss, g, grads

    def metric_value(name, fn, x, params, data, y, mdata):
        # ``takes_params = True``: fn(params, data, y, metric_data) (e.g. the sharpness of
        # the loss in the parameters); ``takes_data = True``: fn(x, metric_data)
        # Runs at trace time only: a metric that calls NumPy on x or returns a string
        # failed with a bare TracerArrayConversionError or "could not convert string to
        # float" that did not say which metric
        try:
            if getattr(fn, "takes_params", False):
                v = fn(params, data, y, mdata)
            else:
                v = fn(x, mdata) if getattr(fn, "takes_data", False) else fn(x)
            return jnp.asarray(v, jnp.float64)
        except Exception as e:
            first = (str(e).strip().splitlines() or [""])[0]
            raise TypeError(f"metric {name!r} failed while JAX traced the run (metrics must "
                            "be JAX-traceable functions, jnp not np, returning real "
                            f"numbers): {type(e).__name__}: {first}") from e

    def row_values(x, loss, ynorm, eta, mdata=None, params=None, data=None, y=None):
        vals = dict(loss=loss, residual=jnp.sqrt(2.0 * loss) / ynorm,
                    l1=jnp.sum(jnp.abs(x)), step=eta)
        vals.update({name: metric_value(name, fn, x, params, data, y, mdata)
                     for name, fn in metrics})
        return {k: jnp.asarray(v, jnp.float64) for k, v in vals.items()}

    def write_row(trace, k, vals):
        return {name: trace[name].at[k].set(vals[name]) for name in trace}

    dynamic = getattr(policy, "dynamic_fields", ())
    returns_state = bool(getattr(policy, "returns_state", False))

    def run(data, y, params0, opnorm2, mdata, pvals, ctl):
        # the policy with its dynamic fields (traced values; see _split_policy)
        pol = _with_fields(policy, dict(zip(dynamic, pvals))) if pvals else policy
        max_iter, tol, rec, window = ctl  # see _controls
        # relative residual; absolute when y = 0
        ynorm = jnp.linalg.norm(y)
        ynorm = jnp.where(ynorm > 0, ynorm, 1.0)
        x0, loss0, g0, grads0 = evaluate(params0, data, y)
        loss_cap = DIVERGENCE_FACTOR * jnp.maximum(loss0, 1e-300)
        status0 = jnp.where(
            jnp.sqrt(2.0 * loss0) / ynorm <= tol, CONVERGED,
            jnp.where(jnp.isfinite(loss0), RUNNING, DIVERGED))
        state = dict(params=params0, pstate=pol.init(params0), it=jnp.int64(0),
                     x=x0, x_ref=x0, loss=loss0, best=loss0, best_it=jnp.int64(0), g=g0,
                     grads=grads0, eta=jnp.float64(0.0),
                     status=jnp.int64(status0),
                     bstate=model.bound_state(params0) if warm_bound else ())

        def step(s):
            if warm_bound:  # the model's estimate carries state from step to step
                bound, bstate = model.hessian_bound_warm(s["params"], s["g"], opnorm2,
                                                         s["bstate"])
            else:
                bound, bstate = model.hessian_bound(s["params"], s["g"], opnorm2), ()
            ctx = StepContext(s["it"], bound, lambda p: evaluate(p, data, y)[3],
                              lambda p: evaluate(p, data, y)[1], model.project, s["loss"])
            new_p, new_ps, eta = pol.update(s["params"], s["grads"], s["pstate"], ctx)
            new_p = model.project(new_p)
            x, loss, g, grads = evaluate(new_p, data, y)
            bad = ~jnp.isfinite(loss) | ~jnp.all(jnp.isfinite(x)) | (loss > loss_cap)
            it = s["it"] + 1
            # checked every step, not at the record points: where the run stops does not
            # depend on where it is recorded
            # a run still on its starting plateau (loss bitwise its initial value) whose x
            # moves is escaping, not stalled: from a tiny init (1e-50 at depth 2) x grows
            # geometrically for hundreds of steps below the loss's resolution, and a
            # window of 100 unchanged losses stopped it at relative residual 1
            escaping = (loss == loss0) & (s["best"] == loss0) & jnp.any(x != s["x"])
            # likewise on the plateaus between saddles (saddle-to-saddle from a small
            # init): the loss flat to rounding while the next coordinates grow below its
            # resolution (init 1e-50 stopped at 0.238 and goes on to 2e-4). Growth is
            # measured against x at the last progress, so it accumulates (a steady 1e-4
            # per step counts after ten steps) where rounding noise and cycles do not
            ref = s["x_ref"]
            flat = loss <= s["best"] * (1.0 + _FLAT_RTOL)
            grew = jnp.any((jnp.abs(x) >= (1.0 + _GROWTH) * jnp.abs(ref)) & (ref != 0))
            progress = (loss < s["best"]) | escaping | (flat & grew)
            best_it = jnp.where(progress, it, s["best_it"])
            status = jnp.where(
                jnp.sqrt(2.0 * loss) / ynorm <= tol, CONVERGED,
                jnp.where(it >= max_iter, MAX_ITER,
                          jnp.where(stalled(it, best_it, window), STAGNATED, RUNNING)))
            new = dict(params=new_p, pstate=new_ps, it=it, x=x, loss=loss,
                       x_ref=jnp.where(progress, x, ref),
                       best=jnp.minimum(s["best"], loss), best_it=best_it, g=g,
                       grads=grads, eta=jnp.asarray(eta, jnp.float64),
                       status=jnp.int64(status), bstate=bstate)
            # on divergence keep the last finite iterate: only what the records and outputs
            # read (the gradients and the policy state are dead once the run stops, and
            # selecting them would cost a pass over each every step)
            kept = {k: jax.tree_util.tree_map(lambda a, b: jnp.where(bad, a, b), s[k], new[k])
                    for k in ROLLBACK_FIELDS}
            return dict(new, **kept, status=jnp.where(bad, jnp.int64(DIVERGED),
                                                      new["status"]))

        shapes = jax.eval_shape(lambda: row_values(x0, loss0, ynorm, jnp.float64(0.0), mdata,
                                                   params0, data, y))
        trace = {k: jnp.full((n_rows,) + v.shape, jnp.nan, dtype=jnp.float64)
                 for k, v in shapes.items()}
        iters = jnp.full((n_rows,), -1, dtype=jnp.int64)

        def outer_cond(c):
            s, k, *_ = c
            return (s["status"] == RUNNING) & (k < rec.shape[0])

        def outer_body(c):
            s, k, trace, iters = c
            target = rec[k]
            s = jax.lax.while_loop(
                lambda s: (s["status"] == RUNNING) & (s["it"] < target), step, s)
            trace = write_row(trace, k, row_values(s["x"], s["loss"], ynorm, s["eta"], mdata,
                                                   s["params"], data, y))
            # a run that diverged right after a record point is rolled back to that point:
            # its row is already there (the slot is left unused: iters stays -1)
            last = jnp.where(k > 0, iters[jnp.maximum(k - 1, 0)], -1)
            new_row = (s["it"] != last) | (s["status"] == RUNNING)
            iters = jnp.where(new_row, iters.at[k].set(s["it"]), iters)
            return s, k + new_row.astype(k.dtype), trace, iters

        s, k, trace, iters = jax.lax.while_loop(
            outer_cond, outer_body, (state, jnp.int64(0), trace, iters))
        # final row when the run stopped between record points (or before the first)
        last_it = jnp.where(k > 0, iters[jnp.maximum(k - 1, 0)], -1)
        need = last_it != s["it"]
        final = write_row(trace, k, row_values(s["x"], s["loss"], ynorm, s["eta"], mdata,
                                               s["params"], data, y))
        trace = jax.tree_util.tree_map(lambda a, b: jnp.where(need, a, b), final, trace)
        iters = jnp.where(need, iters.at[k].set(s["it"]), iters)
        status = jnp.where(s["status"] == RUNNING, MAX_ITER, s["status"])
        # best / best_it: for callers that judge stagnation over several runs (nnls)
        out = dict(params=s["params"], x=s["x"], loss=s["loss"], it=s["it"],
                   status=status, trace=trace, iters=iters, best=s["best"],
                   best_it=s["best_it"])
        if returns_state:
            out["pstate"] = s["pstate"]
        return out

    if batched == "shared":
        # one operator for all trials: its matrix-vector products become matrix-matrix ones
        fn = jax.vmap(run, in_axes=(None, 0, 0, None, 0, None, None))
    else:
        fn = jax.vmap(run, in_axes=(0, 0, 0, 0, 0, None, None)) if batched else run
    return jax.jit(fn), names


_BUILD_LOCK = threading.Lock()


def _program(model: Any, policy: Any, forward: Callable, cfg: DriverConfig,
             metrics: tuple, batched: bool | str) -> tuple[Callable, tuple[str, ...]]:
    """The compiled loop, called as ``fn(data, y, params0, opnorm2, metric_data,
    policy_values, _controls(cfg))``; cached on everything but ``cfg``'s values (and the
    model's initialization-only fields, when it has ``loop_model()``)."""
    # a model may name the fields its loop reads (``loop_model()``: the model with its
    # initialization-only fields fixed, e.g. Hadamard's init_scale); params0 comes from
    # the caller's model, so only the compilation key changes
    model = loop_model_of(model)
    # lru_cache does not stop two threads of run_in_chunks from building the same program
    # at once (two jitted functions, each compiled); building is cheap, so it runs under a
    # lock, and jit compiles the one shared function once
    with _BUILD_LOCK:
        return _build(model, policy, forward, _record_slots(cfg), metrics, batched)


# |y| beyond these squares out of float64 in the loss 0.5 ||A x - y||^2 (its relative
# tolerance ~1e-10 included), and a zero loss would read as convergence
_Y_SCALE = (1e-140, 1e140)


def _check_scale(y: Any) -> None:
    top = float(np.max(np.abs(np.asarray(y)), initial=0.0))
    if top > 0 and not _Y_SCALE[0] <= top <= _Y_SCALE[1]:
        raise ValueError(f"y has entries of magnitude up to {top:.1e}: the squared loss "
                         "under- or overflows in float64 at that scale; rescale y (e.g. "
                         "y / max|y|) and the solution with it")


def _opnorm2(op: Operator) -> np.float64:
    """``||A||_2^2``, the operator's factor in the models' curvature bounds; ValueError
    where float64 cannot hold it (``op.norm2**2`` of a Python float beyond ~1.3e154 raised
    a bare ``OverflowError: (34, 'Numerical result out of range')``, and an infinite
    square would make every automatic step 0: a run that never moves)."""
    nrm = float(op.norm2)
    with np.errstate(over="ignore", invalid="ignore"):
        sq = np.float64(nrm) ** 2
    if not np.isfinite(sq):
        raise ValueError(f"the operator's spectral norm ||A||_2 = {nrm:.3g}: its square, "
                         "which the step's curvature bound uses, overflows float64; rescale "
                         "A (e.g. A / ||A||_2) and the solution with it")
    return sq


def _as_float64(a: Any) -> Any:
    """A real or integer array leaf as float64 (others, e.g. complex, as they are)."""
    dt = getattr(a, "dtype", None)
    dt = np.asarray(a).dtype if dt is None else np.dtype(dt)
    # jnp.issubdtype: it knows bfloat16 (np.issubdtype does not)
    real = any(jnp.issubdtype(dt, k) for k in (jnp.floating, jnp.integer, jnp.bool_))
    return jnp.asarray(a, dtype=jnp.float64) if real and dt != np.float64 else a


def _check_params0(model: Any, key: Any, n: int, params0: Any,
                   batch: int | None = None) -> Any:
    """``params0`` checked against ``model.init(key, n)`` (tree, shapes; a leading axis of
    ``batch`` trials when batched) and cast to its dtypes: a wrong shape used to surface as
    an error deep inside the traced loop (or, a column where a vector belongs, as a
    broadcast residual), an integer or float32 one as a float0 / carry-type error."""
    try:
        ref = jax.eval_shape(lambda: model.init(key, n))
    except Exception:  # a model whose init needs concrete values: nothing to compare with
        # (e.g. the deep matrix factorization's), but the loop's carry is float64: a
        # float32 or integer leaf was a carry-type TypeError inside the traced loop
        return jax.tree_util.tree_map(_as_float64, params0)
    lead = () if batch is None else (batch,)
    ref_leaves, ref_tree = jax.tree_util.tree_flatten(ref)
    leaves, tree = jax.tree_util.tree_flatten(params0)
    shapes = [tuple(np.shape(a)) for a in leaves]
    if tree != ref_tree or shapes != [lead + tuple(r.shape) for r in ref_leaves]:
        want = jax.tree_util.tree_unflatten(ref_tree, [lead + tuple(r.shape)
                                                       for r in ref_leaves])
        got = jax.tree_util.tree_unflatten(tree, shapes) if leaves else params0
        axis = " with a leading batch axis" if lead else ""
        raise ValueError(f"params0 must match model.init{axis}: shapes {want}, got {got}")
    return jax.tree_util.tree_unflatten(
        tree, [jnp.asarray(a, dtype=r.dtype) for a, r in zip(leaves, ref_leaves)])


@x64_entry
def run_driver(
    model: Any,
    policy: Any,
    op: Operator,
    y: np.ndarray,
    cfg: DriverConfig,
    *,
    metrics: Sequence[tuple[str, Callable]] = (),
    key: Any = None,
    params0: Any = None,
    metric_data: Any = None,
) -> tuple[dict[str, Any], tuple[str, ...], float]:
    """Run one problem; returns (raw outputs as NumPy, trace field names, seconds).

    Parameters
    ----------
    model : model object
        A parametrization from :mod:`overparam.models` (hashable; ``init(key, n)``,
        ``signal(params)``, ...), e.g. :class:`~overparam.models.Hadamard`.
    policy : step policy
        A step policy from :mod:`overparam.dynamics.steps` (see ``steps.as_policy``).
    op : Operator
        The measurement operator, of shape ``(m, n)``; ``||A||_2^2`` must be finite in
        float64 (ValueError otherwise).
    y : array of shape (m,)
        Measurements; entries must be of a magnitude whose square float64 holds
        (ValueError otherwise).
    cfg : DriverConfig
        Iteration cap, tolerance, record points and stagnation window
        (see :func:`make_config`).
    metrics : sequence of (str, callable), optional
        Extra trace fields: JAX-traceable functions of x (checked by
        :func:`check_metrics`).
    key : jax.random.PRNGKey, optional
        Key of ``model.init(key, n)`` (None for deterministic initializations).
    params0 : pytree, optional
        Initial parameters replacing ``model.init(key, n)``; must match its tree and
        shapes (ValueError otherwise).
    metric_data : pytree of arrays, optional
        Passed to metrics flagged ``takes_data = True`` (e.g. the truth).

    Returns
    -------
    out : dict
        Raw outputs as NumPy: ``params``, ``x``, ``loss``, ``it``, ``status`` (a status
        code), ``trace``, ``iters`` (-1 in unwritten slots), ``best``, ``best_it`` and,
        for a policy with ``returns_state``, ``pstate``.
    names : tuple of str
        Trace field names (:data:`BASE_FIELDS` and the metrics).
    wall : float
        Seconds of the compiled run.

    See Also
    --------
    to_result : the Result of these outputs.
    """
    _check_scale(y)
    metrics = check_metrics(metrics)
    forward, data = operator_data(op)
    skeleton, pvals = _split_policy(policy)
    fn, names = _program(model, skeleton, forward, cfg, metrics, False)
    if params0 is None:
        params0 = model.init(key, op.shape[1])
    else:
        params0 = _check_params0(model, key, op.shape[1], params0)
    t0 = time.perf_counter()
    # y as float64 (a float32 or integer y met the float64 residual A x - y: a
    # TypePromotionError under jax_numpy_dtype_promotion="strict")
    out = fn(data, _as_float64(np.asarray(y)), params0, _opnorm2(op), metric_data,
             _dynamic_values(pvals), _controls(cfg))
    out = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(out))
    return out, names, time.perf_counter() - t0


@x64_entry
def run_driver_batch(
    model: Any,
    policy: Any,
    ops: Sequence[Operator],
    ys: Sequence[np.ndarray],
    cfg: DriverConfig,
    *,
    metrics: Sequence[tuple[str, Callable]] = (),
    key: Any = None,
    params0: Any = None,
    metric_data: Any = None,
) -> tuple[dict[str, Any], tuple[str, ...], float]:
    """Run a batch of problems of one shape with ``vmap``; outputs gain a leading
    batch axis.

    When every trial has the same operator (see :func:`shares_operator`) it is passed once,
    unbatched (any operator, matrix-free included), and the products over the batch run as
    matrix-matrix products. Otherwise the operators must be dense, or all provide ``jax_forward_data()`` with one shared
    forward (their data are stacked).

    Parameters
    ----------
    model, policy, cfg, metrics, key
        As in :func:`run_driver`.
    ops : sequence of Operator
        One operator per trial, all of one shape (ValueError otherwise).
    ys : sequence of array
        One measurement vector per trial.
    params0 : pytree, optional
        Initial parameters with a leading batch axis (default: one ``model.init(key, n)``
        broadcast to all trials).
    metric_data : pytree of arrays, optional
        Data with a leading batch axis, for metrics flagged ``takes_data = True``.

    Returns
    -------
    out, names, wall
        As from :func:`run_driver`, every array of ``out`` with a leading batch axis;
        ``wall`` is the time of the whole batch.

    Raises
    ------
    ValueError
        When the operators differ in shape.
    TypeError
        When distinct operators are not all dense and do not share one
        ``jax_forward_data()`` forward map.
    """
    shapes = {op.shape for op in ops}
    if len(shapes) != 1:
        raise ValueError(f"batched problems must share one shape, got {sorted(shapes)}")
    for y in ys:
        _check_scale(y)
    metrics = check_metrics(metrics)
    if shares_operator(ops):
        forward, data = operator_data(ops[0])
        mode: bool | str = "shared"
        norms = _opnorm2(ops[0])
    else:
        mode = True
        norms = np.asarray([_opnorm2(op) for op in ops], dtype=np.float64)
        if not stackable_operators(ops):
            raise TypeError("batched runs need dense operators (matrix-free ones run one "
                            "by one), operators with one shared jax_forward_data() "
                            "forward map, or one operator shared by every trial")
        if all(op.is_dense for op in ops):
            forward = _dense_forward
            data = np.stack([np.asarray(op.to_dense()) for op in ops])
        else:
            pairs = [op.jax_forward_data() for op in ops]
            forward = pairs[0][0]
            data = jax.tree_util.tree_map(lambda *a: np.stack([np.asarray(v) for v in a]),
                                          *[d for _, d in pairs])
    skeleton, pvals = _split_policy(policy)
    fn, names = _program(model, skeleton, forward, cfg, metrics, mode)
    ys = _as_float64(np.stack([np.asarray(y) for y in ys]))  # (as run_driver's y)
    if params0 is None:
        p0 = model.init(key, ops[0].shape[1])
        params0 = jax.tree_util.tree_map(
            lambda a: np.broadcast_to(np.asarray(a), (len(ops),) + a.shape), p0)
    else:
        params0 = _check_params0(model, key, ops[0].shape[1], params0, batch=len(ops))
    t0 = time.perf_counter()
    out = fn(data, ys, params0, norms, metric_data, _dynamic_values(pvals), _controls(cfg))
    out = jax.tree_util.tree_map(np.asarray, jax.block_until_ready(out))
    return out, names, time.perf_counter() - t0


def stackable_operators(ops: Sequence[Any]) -> bool:
    """Whether distinct operators can run as one batch: all dense (stacked matrices), or
    all matrix-free with ``jax_forward_data()`` and one shared forward map (stacked data).
    """
    if all(op.is_dense for op in ops):
        return True
    if not all(hasattr(op, "jax_forward_data") and not op.is_dense for op in ops):
        return False
    return len({op.jax_forward_data()[0] for op in ops}) == 1


def run_in_chunks(items: Sequence[Any], run_chunk: Callable[[list], list], *,
                  per_chunk: int, workers: int | None = None) -> list:
    """Run ``run_chunk`` on consecutive chunks of ``items`` on threads; returns the
    concatenated per-item results, in order (the one place where batched runs are split).

    Chunks hold at most ``per_chunk`` items, and there is at least one chunk per worker, so
    that every core has trials to run. ``workers`` threads (default one per core; 1 runs
    the chunks in the calling thread, for when several processes already share the cores)
    run them at once: XLA runs a compiled program without holding the GIL. Callers size the
    chunks: memory-bound steps (matrix-vector products) by cache, compute-bound ones
    (matrix-matrix products) by what runs fastest, often one trial per chunk."""
    items = list(items)
    if not items:
        return []
    workers = usable_cores() if workers is None else check_int(workers, "workers", minimum=1)
    per_chunk = max(1, min(int(per_chunk), -(-len(items) // workers)))
    chunks = [items[i:i + per_chunk] for i in range(0, len(items), per_chunk)]
    workers = min(len(chunks), workers)
    if workers == 1:
        return [r for chunk in chunks for r in run_chunk(chunk)]
    with ThreadPoolExecutor(workers) as pool:
        return [r for rs in pool.map(run_chunk, chunks) for r in rs]


def to_result(out: dict[str, Any], names: tuple[str, ...], wall: float, info: dict) -> Result:
    """Host-side Result from one run's raw outputs."""
    status = STATUS_OF_CODE[int(out["status"])]
    n = int(np.sum(out["iters"] >= 0))
    trace = {"iter": out["iters"][:n].copy()}
    for name in names:
        trace[name] = np.asarray(out["trace"][name])[:n].copy()
    n_iter = int(out["it"])
    residual = float(trace["residual"][-1]) if n else float("nan")
    msg = f"{status.advice} (relative residual {residual:.3e} after {n_iter} iterations)"
    params = {k: np.asarray(v) for k, v in out["params"].items()}
    return Result(
        x=np.asarray(out["x"]), status=status, message=msg, n_iter=n_iter,
        fun=float(out["loss"]), trace=trace, wall_time=wall,
        info=dict(info, params=params, relative_residual=residual),
    )
