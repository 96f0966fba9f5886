"""JAX's persistent compilation cache for sweeps.

A sweep of ``hadamard_gd`` compiles one loop per problem shape and method configuration
(0.5-2 s each on a CPU), and every worker process of the ``processes`` executor compiled
each of them again: a 10 x 10 phase transition with 10 shapes spent more time compiling
than computing. With the cache on, compiled programs are written to a folder and loaded by
the next process or run that needs them (bench_sweep's spec on the ``processes``
executor: 34 s cold, 12 s with the cache filled).

``overparam run`` turns the cache on (folder ``$XDG_CACHE_HOME/overparam/jax``, else
``~/.cache/overparam/jax``) and hands it to its worker processes; a library call never
changes JAX's global configuration by itself. ``OVERPARAM_COMPILATION_CACHE=DIR`` picks
another folder, ``OVERPARAM_COMPILATION_CACHE=off`` turns it off, and a cache folder the
user already gave JAX (``JAX_COMPILATION_CACHE_DIR`` or ``jax_compilation_cache_dir``) is
used as it is. Entries are keyed by the compiled program and the JAX/XLA versions, so a
changed library compiles afresh; the folder may be deleted at any time.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["ENV_VAR", "chosen_cache_dir", "compilation_cache_dir", "default_cache_dir",
           "enable_compilation_cache"]

#: environment variable: a cache folder, or ``off`` (also ``0``, ``false``, ``no``)
ENV_VAR = "OVERPARAM_COMPILATION_CACHE"
_OFF = {"off", "0", "false", "no", "none"}

# our loops compile in 0.3-2 s; JAX's default (cache only what took >= 1 s) skipped many
_MIN_COMPILE_SECONDS = 0.2


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/overparam/jax`` (``~/.cache/overparam/jax`` without it).

    Returns
    -------
    pathlib.Path
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                           ".cache")
    return Path(base) / "overparam" / "jax"


def chosen_cache_dir() -> str | None:
    """The folder :func:`enable_compilation_cache` would use without an argument (JAX's
    own setting first, then ``$OVERPARAM_COMPILATION_CACHE``, then the default); None
    when the variable says ``off``. Changes nothing.

    Returns
    -------
    str or None
    """
    current = compilation_cache_dir()
    if current:
        return current
    env = os.environ.get(ENV_VAR, "").strip()
    if env.lower() in _OFF:
        return None
    return env or str(default_cache_dir())


def compilation_cache_dir() -> str | None:
    """The folder of JAX's persistent compilation cache in this process (None: off).

    Returns
    -------
    str or None
    """
    import jax

    return jax.config.jax_compilation_cache_dir or None


def enable_compilation_cache(path: str | os.PathLike | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache in this process.

    Call it before the first JAX computation of the process: JAX decides once, at its
    first compilation, whether a cache is used.

    Parameters
    ----------
    path : str or path-like, optional
        The cache folder (created if missing). Default: ``$OVERPARAM_COMPILATION_CACHE``
        when set (``off`` turns the cache off), else :func:`default_cache_dir`.

    Returns
    -------
    str or None
        The folder in use; None when the cache is off (by ``OVERPARAM_COMPILATION_CACHE``,
        or because the folder cannot be created or written: a warning says why). A folder
        already configured in JAX is kept and returned.
    """
    import jax

    current = compilation_cache_dir()
    if current:  # the user's own choice (JAX_COMPILATION_CACHE_DIR or jax.config)
        return current
    path = chosen_cache_dir() if path is None else path
    if path is None:
        return None
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"[Errno 13] Permission denied: '{folder}'")
    except OSError as exc:
        warnings.warn(f"the compilation cache is off: cannot use {folder} ({exc}); set "
                      f"{ENV_VAR} to a writable folder, or to 'off'", RuntimeWarning,
                      stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs",
                          _MIN_COMPILE_SECONDS)
    return str(folder)
