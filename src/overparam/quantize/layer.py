"""Quantizing the weights of a network layer: vertex-MSQ, plain MSQ and GPFQ.

A layer computes ``X W`` for inputs ``X`` (m samples x N inputs) and weights ``W``
(N inputs x n neurons). Each neuron (column ``w``) is quantized to ``q`` with entries in the
alphabet ``c * linspace(-1, 1, 2**bits)`` (``c`` per neuron, default ``max |w|``) so that
``X q`` stays close to ``X w``; the error is reported as ``||X(w - q)|| / ||X w||``.

* ``"msq"``: round every weight to its nearest level (memoryless scalar quantization).
* ``"vertex-msq"``: move ``w`` to a point ``z`` with ``Xz = Xw``, ``|z| <= c`` and at most
  ``rank(X)`` entries off the alphabet (:func:`~overparam.quantize.vertex.vertex`, by default
  with the shared-pool solver), then MSQ; only those entries are rounded, so the error
  ``X(z - q)`` lives on them.
* ``"gpfq"``: greedy path-following quantization (Lybrand & Saab 2021): with ``u_0 = 0``,
  for ``t = 1..N``: ``q_t = Q(<Xq_t, u_{t-1} + w_t X_t> / ||Xq_t||^2)`` and
  ``u_t = u_{t-1} + w_t X_t - q_t Xq_t`` (``X_t`` the t-th column of the analog inputs,
  ``Xq_t`` of the quantized network's inputs; the same in a first layer). Vectorized over
  neurons; ``O(m N)`` per neuron.
"""
from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from .._core import Result, Status, check_not_complex, pow2_exponent
from .._core.checks import refuse_masked
from ._alphabet import check_bits, check_real, msq_round
from .vertex import (_as_columns, _check_X, default_scale, unused_vertex_options,
                     vertex)

__all__ = ["layer", "gpfq", "msq", "relative_error", "LAYER_METHODS"]

LAYER_METHODS = ("vertex-msq", "msq", "gpfq")


def relative_error(X: np.ndarray, W: np.ndarray, Q: np.ndarray,
                   Xq: np.ndarray | None = None) -> np.ndarray:
    """Per neuron ``||X w - Xq q|| / ||X w||`` (``Xq = X`` by default); NaN where ``Xw = 0``.

    Parameters
    ----------
    X : array of shape (m, N)
        Inputs of the analog layer.
    W : array of shape (N,) or (N, n)
        Analog weights (one neuron per column).
    Q : array of the shape of W
        Quantized weights.
    Xq : array of shape (m, N), optional
        Inputs of the quantized network at this layer (default ``X``).

    Returns
    -------
    ndarray of shape (n,), or of shape () for a vector ``W``
        The errors (inf where the error exceeds the float range).

    Raises
    ------
    ValueError
        When the shapes do not match (``X`` 2-D, ``W`` with ``N`` rows, ``Q`` as ``W``,
        ``Xq`` as ``X``).
    """
    # complex values lost their imaginary part with only a ComplexWarning (a wrong error),
    # and strings of digits were parsed as numbers: refused, naming the argument
    X, W, Q = (_numeric(a, name) for a, name in ((X, "X"), (W, "W"), (Q, "Q")))
    Xq = X if Xq is None else _numeric(Xq, "Xq")
    # mismatched shapes broadcast (X w of shape (m, 1) minus X q of shape (m,) is m x m)
    # into errors of other neurons, or pooled over samples: refused
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples x inputs), got shape {X.shape}")
    if W.ndim not in (1, 2) or W.shape[0] != X.shape[1]:
        raise ValueError(f"W must have shape ({X.shape[1]},) or ({X.shape[1]}, n) for X of "
                         f"shape {X.shape}, got {W.shape}")
    if Q.shape != W.shape:
        raise ValueError(f"Q must have W's shape {W.shape}, got {Q.shape}")
    if Xq.shape != X.shape:
        raise ValueError(f"Xq must have X's shape {X.shape}, got {Xq.shape}")
    # the ratio is invariant to scaling X, Xq together and w, q together: in units of
    # powers of two (exact), X w cannot overflow for data and weights near 1e+-200; ||X w||
    # in w's own units, as a neuron with tiny weights (or tiny X w next to X q) underflowed
    eX = pow2_exponent(max(np.abs(X).max(initial=0.0), np.abs(Xq).max(initial=0.0)))
    X, Xq = np.ldexp(X, -eX), np.ldexp(Xq, -eX)
    ew = pow2_exponent(np.abs(W).max(axis=0, initial=0.0))
    eq = pow2_exponent(np.abs(Q).max(axis=0, initial=0.0))
    e = np.maximum(ew, eq)
    num = _column_norms(X @ np.ldexp(W, -e) - Xq @ np.ldexp(Q, -e))
    den = _column_norms(X @ np.ldexp(W, -ew))
    with np.errstate(over="ignore"):   # inf: an error beyond floats (q >> w)
        num = np.ldexp(num, e - ew)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _numeric(a: Any, name: str) -> np.ndarray:
    """``a`` as a float array if it is real and numeric (NaN stays: it gives a NaN error)."""
    check_not_complex(a, name)
    # a masked array's hidden values were used as data (np.asarray drops the mask)
    refuse_masked(a, name)
    if hasattr(a, "tocoo") and hasattr(a, "nnz"):   # "got dtype object" named no cause
        raise TypeError(f"{name} is a scipy sparse matrix: pass a dense array "
                        f"({name}.toarray())")
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(float)


def _column_norms(M: np.ndarray) -> np.ndarray:
    """Euclidean norm of each column, each in its own units (no under/overflow)."""
    e = pow2_exponent(np.abs(M).max(axis=0, initial=0.0))
    return np.ldexp(np.linalg.norm(np.ldexp(M, -e), axis=0), e)


def msq(W: Any, bits: int, scale: Any = None) -> np.ndarray:
    """Memoryless scalar quantization: each entry to its nearest alphabet level.

    Parameters
    ----------
    W : array of shape (N,) or (N, n)
        Real weights, one neuron per column.
    bits : int
        Bits per weight, 1 to 24.
    scale : float, array of shape (n,), "max" or "layer", optional
        The alphabet's largest level per column: ``"max"`` (or None, the default):
        ``max |w|`` per column; ``"layer"``: ``max |W|`` for all columns; a number or
        one value (>= 0) per column.

    Returns
    -------
    ndarray
        The quantized weights, of the shape of ``W``.
    """
    if np.ndim(W) not in (1, 2):  # np.shape(W)[0] of a scalar: a bare IndexError
        raise ValueError(f"W must be 1-D or 2-D (weights x neurons), got shape "
                         f"{np.shape(W)}")
    W2, vec = _as_columns(W, np.shape(W)[0], "W")
    c = default_scale(W2, scale)
    Q = msq_round(W2, check_bits(bits), c[None, :])
    return Q[:, 0] if vec else Q


def gpfq(W: Any, X: Any, bits: int, scale: Any = None, Xq: Any = None) -> np.ndarray:
    """Greedy path-following quantization (Lybrand & Saab 2021), all neurons at once.

    Parameters
    ----------
    W : array of shape (N,) or (N, n)
    X : array of shape (m, N)
        Inputs of the analog layer.
    bits : int >= 1
    scale : float, array of shape (n,), "max" or "layer", optional
        Alphabet scale per neuron (default ``max |w|``).
    Xq : array of shape (m, N), optional
        Inputs of the quantized network at this layer (default ``X``).

    Returns
    -------
    ndarray
        ``Q`` with the shape of ``W``. It does not depend on the scale of ``X`` and ``Xq``
        (scaled together) and scales with ``W`` and ``scale``, for data and weights
        anywhere in the floating-point range.
    """
    bits = check_bits(bits)
    X = check_real(X, "X", ndim=2)
    Xq = X if Xq is None else check_real(Xq, "Xq", ndim=2)
    if Xq.shape != X.shape:
        raise ValueError(f"Xq must have the shape of X {X.shape}, got {Xq.shape}")
    W2, vec = _as_columns(W, X.shape[1], "W")
    c = default_scale(W2, scale)
    same = Xq is X
    # v below is invariant to scaling X and Xq together, and q scales with (w, c): work in
    # units of powers of two (exact, so the same Q bit for bit) where the squared norms of
    # data near 1e+-200 cannot over/underflow (they gave NaN, or plain MSQ, before)
    eX = pow2_exponent(max(np.abs(X).max(initial=0.0), np.abs(Xq).max(initial=0.0)))
    eW = pow2_exponent(np.maximum(c, np.abs(W2).max(axis=0, initial=0.0)))
    Xt = np.ascontiguousarray(np.ldexp(X.T, -eX))
    Xqt = Xt if same else np.ascontiguousarray(np.ldexp(Xq.T, -eX))
    W2s, cs = np.ldexp(W2, -eW[None, :]), np.ldexp(c, -eW)
    # each column xq in its own units too (xq = 2**et xh): ||xq||^2 of a column tiny next
    # to the others underflowed to 0; v = 2**-et <u + w x, xh> / ||xh||^2
    et = pow2_exponent(np.abs(Xqt).max(axis=1, initial=0.0))
    Xqh = np.ldexp(Xqt, -et[:, None])
    norms = np.einsum("ij,ij->i", Xqh, Xqh)
    n = W2.shape[1]
    Q = np.empty_like(W2)
    U = np.zeros((n, X.shape[0]))  # residual u per neuron (rows), cache-friendly updates
    with np.errstate(over="ignore"):   # v = +-inf (a tiny column): the end level, as it should
        for t in range(X.shape[1]):
            xq, xh = Xqt[t], Xqh[t]
            w = W2s[t]
            if norms[t] > 0:
                v = np.ldexp((U @ xh) / norms[t] + w * (Xt[t] @ xh) / norms[t], -et[t])
            else:
                v = w
            q = msq_round(v, bits, cs)
            Q[t] = q
            U += np.outer(w - q, xq) if same else np.outer(w, Xt[t]) - np.outer(q, xq)
    Q = np.ldexp(Q, eW[None, :])
    return Q[:, 0] if vec else Q


def layer(W: Any, X: Any, bits: int = 2,
          method: Literal["vertex-msq", "msq", "gpfq"] = "vertex-msq", *,
          scale: Any = None, Xq: Any = None, **vertex_kw: Any) -> Result:
    """Quantize the neurons (columns) of ``W`` against the layer inputs ``X``.

    Parameters
    ----------
    W : array of shape (N,) or (N, n)
        Weights: N inputs, n neurons (``X @ W`` is the layer's pre-activation).
    X : array of shape (m, N)
        Inputs (samples x inputs). ``"vertex-msq"`` needs ``m < N``.
    bits : int >= 1
        Bits per weight: the alphabet has ``2**bits`` levels.
    method : {"vertex-msq", "msq", "gpfq"}
    scale : float, array of shape (n,), "max" or "layer", optional
        Alphabet scale ``c`` per neuron (levels ``c * linspace(-1, 1, 2**bits)``); default
        ``max |w|`` per neuron (the vertex needs ``c >= max |w|``).
    Xq : array of shape (m, N), optional
        The quantized network's inputs to this layer (GPFQ matches ``Xq q`` to ``X w``;
        vertex-MSQ then runs on ``Xq``, i.e. keeps ``Xq z = Xq w``). Default ``X``.
    **vertex_kw
        Passed to :func:`~overparam.quantize.vertex.vertex`: ``solver`` (``"pool"`` by
        default, with ``pool`` and ``chunk``; ``"pivot"`` for the exact walk in the cells of
        ``w``, with ``block``, ``window``, ``chunk``). ``"msq"`` and ``"gpfq"`` refuse them
        (a ``TypeError`` for a value other than the default).

    Returns
    -------
    Result
        ``x``: the quantized weights (shape of ``W``); ``info``: ``rel_error`` (per neuron,
        ``||X w - Xq q|| / ||X w||``), ``scale``, ``bits``, ``method`` and, for vertex-MSQ,
        ``n_free`` (per neuron, the coordinates MSQ rounded), ``vertex_residual`` and, with
        the pool solver, ``pool``, ``retried`` and ``fallback`` (see
        :func:`~overparam.quantize.vertex.vertex`). For vertex-MSQ the status is the
        vertex's (``NUMERICAL_ERROR`` if ``Xz = Xw`` or the count of free entries failed).

    Examples
    --------
    >>> import numpy as np, overparam
    >>> rng = np.random.default_rng(0)
    >>> X, W = rng.standard_normal((20, 200)), rng.standard_normal((200, 3))
    >>> res = overparam.quantize.layer(W, X, bits=2, method="vertex-msq")
    >>> bool(np.all(res.info["rel_error"] < 0.5))
    True
    """
    t0 = time.perf_counter()
    bits = check_bits(bits)
    if method not in LAYER_METHODS:
        raise ValueError(f"method must be one of {LAYER_METHODS}, got {method!r}")
    X = check_real(X, "X", ndim=2)
    W2, vec = _as_columns(W, X.shape[1], "W")
    Xq_arr = X if Xq is None else check_real(Xq, "Xq", ndim=2)
    if Xq_arr.shape != X.shape:
        raise ValueError(f"Xq must have the shape of X {X.shape}, got {Xq_arr.shape}")
    c = default_scale(W2, scale)
    if method != "vertex-msq":
        unused_vertex_options(vertex_kw, f"method={method!r}", solver="pool")
    info: dict[str, Any] = {}
    status, message = Status.CONVERGED, ""
    if method == "msq":
        Q = msq_round(W2, bits, c[None, :])
    elif method == "gpfq":
        Q = gpfq(W2, X, bits, c, None if Xq is None else Xq_arr)
    else:
        _check_X(Xq_arr)
        if np.any(np.abs(W2) > c[None, :] * (1 + 1e-12)):
            raise ValueError("vertex-msq needs scale >= max |w| per neuron (w must lie in "
                             "the alphabet's range)")
        vres = vertex(Xq_arr, W2, bits, c, **{"solver": "pool", **vertex_kw})
        status, message = vres.status, vres.message
        Q = msq_round(vres.x, bits, c[None, :])
        nf = vres.info["n_free"]
        info.update(n_free=int(nf[0]) if vec else nf, vertex_residual=vres.info["residual"],
                    rank=vres.info["rank"], pivots=vres.info["pivots"],
                    **{k: vres.info[k] for k in ("pool", "retried", "fallback")
                       if k in vres.info})
    err = relative_error(X, W2, Q, Xq_arr)
    info.update(rel_error=err[0] if vec else err, scale=c[0] if vec else c, bits=bits,
                method=method)
    fun = float(np.nanmean(err)) if np.any(np.isfinite(err)) else float("nan")
    return Result(x=Q[:, 0] if vec else Q, status=status, message=message,
                  n_iter=W2.shape[0], fun=fun, wall_time=time.perf_counter() - t0, info=info)
