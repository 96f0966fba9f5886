"""Norms and exact rescaling that neither under- nor overflow.

Scaling by a power of two (``numpy.ldexp``) is exact away from the ends of the float
range: a computation on data divided by ``2**e`` gives the result for the data itself,
scaled back bit for bit, without the under/overflow of squares near 1e+-154 or of data
near 1e+-300. One place for these helpers (quantization, LRRS, metrics, baselines).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def pow2_exponent(top: Any) -> np.ndarray:
    """Integer ``e`` with ``top * 2**-e`` in ``(0.5, 1]`` (0 where ``top`` is 0 or not
    finite), elementwise."""
    top = np.abs(np.asarray(top, dtype=float))
    mant, e = np.frexp(top)
    e = np.where(mant == 0.5, e - 1, e)   # a power of two stays at 1, not 0.5
    return np.where((top > 0) & np.isfinite(top), e, 0).astype(np.int64)


def nearest_pow2_exponent(v: float) -> int:
    """The integer ``e`` with ``2**e`` nearest to ``v > 0`` on a log scale (0 for 0, inf or
    NaN): data of size ``v`` divided by ``2**e`` are at unit scale, and data within a
    factor ``sqrt(2)`` of 1 are left as they are (``e = 0``)."""
    if not (0.0 < v < math.inf):
        return 0
    mant, ex = math.frexp(v)
    return ex if mant >= math.sqrt(0.5) else ex - 1


def ldexp_array(a: Any, e: int) -> np.ndarray:
    """``a * 2**e`` for real or complex arrays (exact away from under- and overflow);
    boolean and integer input is taken as float64."""
    a = np.asarray(a)
    if a.dtype.kind in "biu":
        # np.ldexp computes bool / int8 / uint8 in float16 and int16 in float32: 100 int8
        # times 2**10 came back as inf, 1 int16 times 2**200 too
        a = a.astype(np.float64)
    if np.iscomplexobj(a):
        out = np.empty_like(a)
        out.real, out.imag = np.ldexp(a.real, e), np.ldexp(a.imag, e)
        return out
    return np.ldexp(a, e)


def safe_norm(v: Any, axis: int | None = None) -> Any:
    """Euclidean norm of ``v`` (flattened), or along ``axis``, computed on ``|v| / 2**e``
    with ``2**e ~ max|v|`` (per slice along ``axis``) and scaled back (exact: equal to
    ``numpy.linalg.norm`` wherever that neither under- nor overflows).

    ``numpy.linalg.norm`` squares the entries: 0 for data below ~1e-154 and inf above
    ~1e154, which turned residuals of well-posed problems into 0 ("converged") or inf.
    NaN or inf entries give what NumPy gives (in their slice). Boolean and integer input
    is taken as float64, as by NumPy; float16 / float32 (complex64) input is computed in
    float64 (complex128), the precision of the result.
    """
    a = np.asarray(v)
    if a.dtype.kind in "biu":
        # np.ldexp computes a bool / int8 / uint8 array in float16 (sqrt(3) came back as
        # 1.7324) and np.abs(int64 min) is negative
        a = a.astype(np.float64)
    elif a.dtype in (np.float16, np.float32, np.complex64):
        # scaled back in float32, the norm of (3e38, 3e38) overflowed to inf and that of
        # two float32 subnormals 1e-45 rounded to 1.4e-45, returned as a float64
        a = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    a = np.abs(a)
    if axis is None:
        top = float(a.max(initial=0.0))
        if not 0.0 < top < np.inf:  # all zero, or NaN/inf entries
            return float(np.linalg.norm(a.reshape(-1)))
        e = int(pow2_exponent(top))
        return float(np.ldexp(np.linalg.norm(np.ldexp(a, -e).reshape(-1)), e))
    # one power of two per slice: a global one (the largest entry of all) pushed the
    # squares of a slice of size 1e-300 next to one of size 1e300 below the subnormals
    # (norm 0 for 1.4e-300)
    e = pow2_exponent(a.max(axis=axis, keepdims=True, initial=0.0))
    return np.ldexp(np.linalg.norm(np.ldexp(a, -e), axis=axis),
                    np.squeeze(e, axis=axis))
