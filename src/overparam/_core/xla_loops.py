"""XLA's small-loop compilation on CPU, turned on for loops of the size overparam runs.

XLA's CPU runtime executes a ``while`` loop as a sequence of small kernels ("thunks"),
about 30 per gradient step of the driver, each with ~0.5-1 us of dispatch, and the
iterations wander between cores. Below a size threshold (bytes accessed by one iteration,
1 KiB by default) XLA instead compiles the whole loop into one function that runs on one
thread. A gradient step on a 110 x 200 problem costs ~7 us of arithmetic, so the dispatch
dominated: with the threshold at 4 MiB a single ``hadamard_gd`` run on that size takes
2-3x fewer seconds, a batched chunk (1 MiB of matrices) ~1.4x fewer, and results agree
to rounding. Larger loops (a 400 x 2000 matrix: 16 MB per step) keep the thunk runtime,
whose matrix-vector products use several cores.

XLA reads its options once, when JAX creates its backend, from ``XLA_FLAGS``; importing
overparam therefore appends ``--xla_backend_extra_options=
xla_cpu_small_while_loop_byte_threshold=N`` to ``XLA_FLAGS`` when JAX's backend is not yet
created, for the whole process (and the processes it starts, which inherit it). Set
``OVERPARAM_XLA_SMALL_LOOP_BYTES`` to a byte count to change N, or to ``0``/``off`` to leave
XLA's default; an ``XLA_FLAGS`` that already sets ``xla_backend_extra_options`` is left as
it is. When JAX's backend already exists (JAX used before overparam was imported) nothing
can change for this process: overparam then sets ``OVERPARAM_XLA_SMALL_LOOP_BYTES=0`` in
the environment, so that the worker processes an experiment starts compile as the parent
does (executors give bit-identical results).
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import MutableMapping

ENV_VAR = "OVERPARAM_XLA_SMALL_LOOP_BYTES"
#: Loops whose one iteration accesses fewer bytes than this run as one compiled function
#: (measured on 2 cores: a 1 MiB chunk of batched trials, ~2.5 MB per step, gains ~1.4x;
#: a single 400 x 500 problem, ~4 MB, neither gains nor loses)
DEFAULT_BYTES = 4 * 2**20
_OPTION = "xla_cpu_small_while_loop_byte_threshold"
_MAX_BYTES = 2**63 - 1  # the largest count XLA accepts (an int64)
_EXTRA = "--xla_backend_extra_options"

# what configure() decided, for `overparam info`
_state: str = "not configured"


def _requested_bytes(value: str | None) -> int | None:
    """The byte count asked for by the environment variable (None: the default); 0 = off.
    A value that is not a count warns and counts as off (an import must not fail)."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    if text in ("0", "off", "no", "false"):
        return 0
    try:
        # an integer exactly ("9223372036854775807" through a float became 2**63), else
        # through a float ("4e6")
        n = int(text) if text.lstrip("+-").isdigit() else int(float(text))
    except (ValueError, OverflowError):  # "lots", "nan", "inf"
        n = -1
    if n < 0:
        warnings.warn(f"{ENV_VAR}={value!r} is not a byte count (e.g. 4194304) or 'off': "
                      "XLA's small-loop compilation left at its default", stacklevel=3)
        return 0
    # XLA parses the option as an int64: a larger count ("1e30") made every JAX
    # computation of the process fail with "Failed to parse value for:
    # xla_cpu_small_while_loop_byte_threshold", naming neither overparam nor the variable
    return min(n, _MAX_BYTES)


def plan(environ: MutableMapping[str, str], backend_ready: bool) -> tuple[dict, str]:
    """The environment changes to make and a one-line description of the outcome.

    Parameters
    ----------
    environ : mapping
        The process environment (read only here).
    backend_ready : bool
        Whether JAX's backend already exists (then XLA has read its options).

    Returns
    -------
    changes : dict
        Variables to set, e.g. ``{"XLA_FLAGS": "..."}`` (empty: change nothing).
    state : str
        What the process runs with, for ``overparam info``.
    """
    flags = environ.get("XLA_FLAGS", "")
    requested = _requested_bytes(environ.get(ENV_VAR))
    if _EXTRA in flags:
        found = re.search(_OPTION + r"=(\d+)", flags)
        what = f"{found.group(1)} bytes" if found else "XLA's default"
        return {}, f"as XLA_FLAGS sets it ({what}; {ENV_VAR} not used)"
    if requested == 0:
        return {}, f"XLA's default ({ENV_VAR}={environ.get(ENV_VAR)})"
    if backend_ready:
        # XLA has read its options: keep the worker processes like this one
        return ({ENV_VAR: "0"}, "XLA's default: JAX's backend was created before overparam "
                f"was imported (import overparam first, or set XLA_FLAGS={_EXTRA}="
                f"{_OPTION}=N)")
    n = DEFAULT_BYTES if requested is None else requested
    new = f"{flags} {_EXTRA}={_OPTION}={n}".strip()
    return {"XLA_FLAGS": new}, (f"loops up to {n} bytes per iteration compiled as one "
                                f"function ({ENV_VAR}=N or =off to change)")


def _backend_ready() -> bool:
    try:
        from jax._src import xla_bridge
        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # an unknown JAX: assume it is too late
        return True


def configure() -> str:
    """Apply :func:`plan` to ``os.environ`` (called once, when overparam is imported);
    returns the state line."""
    global _state
    changes, _state = plan(os.environ, _backend_ready())
    os.environ.update(changes)
    return _state


def state() -> str:
    """What this process runs with: XLA's small-loop threshold and where it came from.

    Returns
    -------
    str
        One line, as ``overparam info`` prints it.
    """
    return _state
