"""Euclidean norms that neither under- nor overflow."""
from __future__ import annotations

from typing import Any

import numpy as np


def safe_norm(v: Any, axis: int | None = None) -> Any:
    """Euclidean norm of ``v`` (flattened), or along ``axis``, scaled by ``max|v|``.

    ``numpy.linalg.norm`` squares the entries: 0 for data below ~1e-154 and inf above
    ~1e154, which turned residuals of well-posed problems into 0 ("converged") or inf.
    NaN or inf entries give what NumPy gives.
    """
    a = np.abs(np.asarray(v))
    top = float(a.max(initial=0.0))
    if not 0.0 < top < np.inf:  # all zero, or NaN/inf entries
        out = np.linalg.norm(a.reshape(-1) if axis is None else a, axis=axis)
    else:
        out = np.linalg.norm((a / top).reshape(-1) if axis is None else a / top,
                             axis=axis) * top
    return float(out) if axis is None else out
