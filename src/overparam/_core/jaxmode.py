"""The JAX mode the solvers run in: float64, evaluated eagerly, whatever the caller's.

Importing overparam turns ``jax_enable_x64`` on, but a caller can turn it off again,
globally (``jax.config.update``) or for one thread (``with jax.enable_x64(False)``); the
solvers then ran in float32 and returned float32 results, silently (measured: the
non-negative ``nnls`` and ``dmf_gd`` stopped at ``max_iter`` instead of converging,
``gradient_flow`` moved by 1e-4). And a solver called while JAX traces something else (a
metric or a step policy that calls a solver) had its compiled run staged into the outer
trace: ``np.asarray`` of its outputs raised ``TracerArrayConversionError``.

:func:`x64_scope` sets both for the duration of a call, thread-locally: the caller's
setting (and other threads') is left as it was.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

import jax

F = TypeVar("F", bound=Callable[..., Any])

# a thread-local context manager: ``jax.enable_x64`` (newer JAX), else the experimental one
_enable_x64 = getattr(jax, "enable_x64", None)
if _enable_x64 is None:  # pragma: no cover - older JAX
    from jax.experimental import enable_x64 as _enable_x64  # type: ignore[no-redef]

# evaluate on concrete values even inside another trace (a solver called from a metric)
try:
    from jax.core import eval_context as _eval_context
except ImportError:  # pragma: no cover - a JAX without it: nested calls stay unsupported
    _eval_context = contextlib.nullcontext


@contextlib.contextmanager
def x64_scope() -> Iterator[None]:
    """Float64 JAX, evaluated eagerly (outside any enclosing trace), in this thread for
    the duration of the ``with`` block; nests freely."""
    with _enable_x64(True), _eval_context():
        yield


def x64_entry(fn: F) -> F:
    """Run ``fn`` inside :func:`x64_scope` (a decorator for the public JAX solvers)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with x64_scope():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
