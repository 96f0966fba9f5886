"""Uniform mid-rise alphabets (no level at 0) and memoryless scalar quantization (MSQ)."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._core import check_not_complex, check_real_array, pow2_exponent
from .._core.checks import refuse_masked

__all__ = ["alphabet", "cells", "msq_round", "check_bits", "check_real", "level_tol"]


def check_bits(bits: object) -> int:
    """Bits per entry: an integer >= 1 (a clear error otherwise)."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral):
        raise TypeError(f"bits must be an integer >= 1, got {type(bits).__name__} {bits!r}")
    if int(bits) < 1:
        raise ValueError(f"bits must be >= 1 (at least two levels), got {bits}")
    if int(bits) > 24:
        raise ValueError(f"bits must be <= 24, got {bits}")
    return int(bits)


# real levels: complex input is refused (``check_real`` is the core check, re-exported)
check_real = check_real_array


def _refuse_complex(*arrays: Any) -> None:
    for a in arrays:
        check_not_complex(a, "the values to quantize")


def _as_values(a: Any, name: str) -> np.ndarray:
    """``a`` as a float array (NaN allowed) if it is real and numeric: ``np.asarray(a,
    dtype=float)`` parsed strings ("0.1"), turned None in an object array into NaN,
    dropped the mask of a masked array (its hidden values were quantized) and failed on a
    scipy sparse matrix with "setting an array element with a sequence"."""
    if hasattr(a, "tocoo") and hasattr(a, "nnz"):
        raise TypeError(f"{name} is a scipy sparse matrix: pass a dense array "
                        f"({name}.toarray())")
    check_not_complex(a, name)
    refuse_masked(a, name)
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr.astype(float)


def level_tol(bits: int) -> float:
    """Tolerance, in steps, for "on a level": ``1e-9``, or where larger the rounding of
    ``(x + c) / step``, about ``2**bits * eps`` (24 bits: up to 4e-9 steps)."""
    return max(1e-9, 8.0 * 2.0**bits * np.finfo(float).eps)


def _broadcast_scale(scale: Any, x: np.ndarray) -> np.ndarray:
    # a scale of another shape failed inside NumPy ("operands could not be broadcast
    # together with remapped shapes"), naming neither argument
    try:
        return np.broadcast_to(np.asarray(scale, dtype=float), x.shape)
    except ValueError:
        raise ValueError(f"scale of shape {np.shape(scale)} does not broadcast to x of "
                         f"shape {x.shape}") from None


def _check_scale(c: np.ndarray) -> None:
    # a negative or NaN scale gave all-zero "levels" silently in msq_round
    if not np.all((c >= 0) & (c < np.inf)):
        raise ValueError("scale must be finite and >= 0 (the alphabet's largest level)")


def _unit_level(k: np.ndarray, n: int) -> np.ndarray:
    """Level ``k`` of ``linspace(-1, 1, n + 1)``, bit for bit as NumPy computes it
    (``k * (2 / n) - 1``, the last one exactly 1): ``c * _unit_level(k, n)`` is then an
    entry of ``alphabet(bits, c)``. ``-c + k * (2 c / n)`` differed from it by an ulp for
    most ``c`` (at ``c = 0.37``, 2 bits: 2/3 of the rounded values were not in the
    alphabet, so ``np.isin``/``searchsorted`` codes of quantized weights failed)."""
    return np.where(k >= n, 1.0, k * (2.0 / n) - 1.0)


def alphabet(bits: int, scale: float = 1.0) -> np.ndarray:
    """The ``2**bits`` equispaced levels ``scale * linspace(-1, 1, 2**bits)``.

    One bit gives ``{-scale, +scale}``; the step is ``2 * scale / (2**bits - 1)``.

    Parameters
    ----------
    bits : int
        Bits per entry, 1 to 24.
    scale : float, optional
        The largest level, finite and >= 0 (default 1).

    Returns
    -------
    ndarray of shape (2**bits,)
        The levels, increasing.
    """
    bits = check_bits(bits)
    _refuse_complex(scale)
    # float("3") accepted a string; float(None) raised a message about float()
    if isinstance(scale, (str, bytes, bool, np.bool_)) or scale is None:
        raise TypeError(f"scale must be a real number, got {type(scale).__name__} {scale!r}")
    if np.ndim(scale) != 0:   # an array or a list failed in float(), naming no argument
        raise TypeError(f"scale must be one real number (the largest level), got shape "
                        f"{np.shape(scale)}")
    _check_scale(np.asarray(float(scale)))
    return float(scale) * np.linspace(-1.0, 1.0, 2**bits)


def msq_round(x: np.ndarray, bits: int, scale: np.ndarray | float) -> np.ndarray:
    """Round each entry of ``x`` to the nearest level of ``alphabet(bits, scale)``.

    Parameters
    ----------
    x : array_like
        Real values; those outside ``[-scale, scale]`` go to the end levels (NaN stays
        NaN: it has no nearest level).
    bits : int
        Bits per entry, 1 to 24.
    scale : float or array_like
        The largest level (finite, >= 0), broadcast against ``x`` (e.g. one scale per
        column); where it is 0 the result is 0.

    Returns
    -------
    ndarray
        The rounded values, of the shape of ``x``.
    """
    bits = check_bits(bits)
    x, scale = _as_values(x, "x"), _as_values(scale, "scale")
    c = _broadcast_scale(scale, x)
    _check_scale(c)
    # in units of 2**e ~ c (exact): 2 c / n and x + c overflowed to inf (NaN levels) for
    # scales near 1e308, and lost digits for subnormal scales
    e = pow2_exponent(c)
    x, c = np.ldexp(x, -e), np.ldexp(c, -e)
    n = 2**bits - 1
    step = 2.0 * c / n
    # x far beyond the range (x / c ~ inf) goes to an end level
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = np.where(c > 0, np.rint((x + c) / np.where(c > 0, step, 1.0)), 0.0)
    k = np.clip(k, 0, n)
    return np.ldexp(np.where(c > 0, c * _unit_level(k, n), 0.0), e)


def cells(x: np.ndarray, bits: int, scale: np.ndarray | float,
          tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper alphabet levels bracketing each entry of ``x`` (its quantization cell).

    Parameters
    ----------
    x : array_like
        Real values inside ``[-scale, scale]`` (up to :func:`level_tol` steps).
    bits : int
        Bits per entry, 1 to 24.
    scale : float or array_like
        The largest level (finite, >= 0), broadcast against ``x``.
    tol : float, optional
        Entries within ``max(tol, 1e-12)`` steps of a level get the degenerate cell
        ``[a, a]`` of that level (default 0).

    Returns
    -------
    lo, hi : ndarray
        The bracketing levels, of the shape of ``x``.

    Raises
    ------
    ValueError
        If an entry lies outside ``[-scale, scale]`` or is NaN.
    """
    bits = check_bits(bits)
    # tol=NaN made no entry "on" a level (max(nan, 1e-12) is nan) silently
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be a real number, got {type(tol).__name__} {tol!r}")
    if np.isnan(tol):
        raise ValueError("tol must not be NaN")
    x, scale = _as_values(x, "x"), _as_values(scale, "scale")
    c = _broadcast_scale(scale, x)
    _check_scale(c)
    e = pow2_exponent(c)   # as in msq_round: no overflow near 1e308, subnormal scales exact
    x, c = np.ldexp(x, -e), np.ldexp(c, -e)
    n = 2**bits - 1
    step = np.where(c > 0, 2.0 * c / n, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):
        pos = (x + c) / step
    slack = level_tol(bits)
    if not np.all((pos >= -slack) & (pos <= n + slack)):   # NaN too
        raise ValueError("an entry lies outside the alphabet's range [-scale, scale] "
                         "(or is NaN)")
    near = np.rint(pos)
    on = np.abs(pos - near) <= max(tol, 1e-12)
    k = np.clip(np.floor(pos), 0, n - 1)
    lo = np.where(on, near, k)
    hi = np.where(on, near, k + 1)
    lo = np.ldexp(np.where(c > 0, c * _unit_level(lo, n), 0.0), e)
    hi = np.ldexp(np.where(c > 0, c * _unit_level(hi, n), 0.0), e)
    return lo, hi
