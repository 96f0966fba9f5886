"""Halftoning a shipped image as a graph signal on its grid graph."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core import Result, check_int
from ._alphabet import check_real
from .graph import GRAPH_METHODS, graph_signal, grid_adjacency, laplacian_eigenvectors

__all__ = ["shipped_image", "halftone"]


def shipped_image(name: str = "camera", size: int = 64) -> np.ndarray:
    """A PyWavelets test image (``"camera"`` or ``"ascent"``, 512 x 512), block-averaged to
    ``size x size`` and mapped to ``[-1, 1]``.

    Parameters
    ----------
    name : {"camera", "ascent"}, optional
        The image (default ``"camera"``).
    size : int, optional
        Side of the result (default 64): at least 4 and a divisor of 512.

    Returns
    -------
    ndarray of shape (size, size)
        Minimum -1, maximum 1.
    """
    import pywt.data

    if name not in ("camera", "ascent"):
        raise ValueError(f"name must be 'camera' or 'ascent', got {name!r}")
    img = np.asarray(getattr(pywt.data, name)(), dtype=float)
    size = check_int(size, "size", minimum=4)
    if img.shape[0] % size:
        raise ValueError(f"size must divide {img.shape[0]}, got {size}")
    k = img.shape[0] // size
    small = img.reshape(size, k, size, k).mean(axis=(1, 3))
    lo, hi = small.min(), small.max()
    return 2.0 * (small - lo) / (hi - lo) - 1.0


def halftone(image: Any, r: int, bits: int = 1, method: str = "single-shot",
             ordering: str | np.ndarray = "natural", **kw: Any) -> Result:
    """Quantize a grayscale image in ``[-1, 1]`` on its 4-neighbour grid graph.

    The image is the graph signal (row-major nodes); its error is measured through the
    graph low-pass filter of bandwidth ``r`` (``||L_r (f - q)|| / ||f||``, see
    :func:`~overparam.quantize.graph.graph_signal`). Sigma-Delta runs along the rows in a
    serpentine order with ``ordering="natural"`` (default), or along ``"rcm"``,
    ``"fiedler"`` or a permutation of the ``h * w`` pixels (row-major indices).

    Parameters
    ----------
    image : array_like of shape (h, w)
        Real grayscale image with entries in ``[-1, 1]`` (see :func:`shipped_image`).
    r : int
        Bandwidth of the low-pass filter (``1 <= r <= h w``; single-shot needs
        ``r < h w``).
    bits : int, optional
        Bits per pixel, 1 to 24 (default 1).
    method : {"single-shot", "msq", "sigma-delta"}, optional
        As in ``graph_signal`` (default ``"single-shot"``).
    ordering : {"natural", "rcm", "fiedler"} or array of int, optional
        Pixel order for Sigma-Delta (default ``"natural"``: the serpentine); other methods
        refuse another value (``TypeError``).
    **kw
        Passed to ``graph_signal`` (the vertex options of single-shot).

    Returns
    -------
    Result
        ``x``: the quantized image (2-D); ``info`` as ``graph_signal``.
    """
    img = check_real(image, "image", ndim=2)
    if method not in GRAPH_METHODS:
        raise ValueError(f"method must be one of {GRAPH_METHODS}, got {method!r}")
    natural = isinstance(ordering, str) and ordering == "natural"
    if method != "sigma-delta" and not natural:   # it was ignored silently
        raise TypeError(f"ordering is an option of method='sigma-delta', not of "
                        f"method={method!r}")
    h, w = img.shape
    A = grid_adjacency(h, w)
    _, Xr = laplacian_eigenvectors(A, r)
    # (a string test first: an array ordering == "natural" was an elementwise comparison,
    # and `if` on it raised "truth value of an array ... is ambiguous")
    if method == "sigma-delta":
        order: Any = ordering
        if natural:  # serpentine: left-to-right, then right-to-left
            idx = np.arange(h * w).reshape(h, w)
            idx[1::2] = idx[1::2, ::-1]
            order = idx.ravel()
        kw = dict(kw, ordering=order)
    res = graph_signal(img.ravel(), A, r, bits, method, Xr=Xr, **kw)
    if natural and "ordering" in res.info:   # not "custom": the serpentine is ours
        res.info["ordering"] = "natural"
    res.x = res.x.reshape(h, w)
    return res
