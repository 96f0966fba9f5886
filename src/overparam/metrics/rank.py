"""Effective ranks of a matrix (from its singular values) and plateaus of effective rank
along a gradient-descent trace.

All rank functions take singular values ``s`` (any shape ``(..., k)``, last axis the
spectrum, as in ``trace["sv"]``) or, with :func:`singular_values`, a matrix. They work on
NumPy arrays and on JAX arrays (inside ``jit``).

References
----------
O. Roy, M. Vetterli, "The effective rank: a measure of effective dimensionality",
EUSIPCO 2007 (entropy-based effective rank).
M. Rudelson, R. Vershynin, "Sampling from large matrices: an approach through geometric
functional analysis", J. ACM 54(4), 2007 (stable rank).
H.-H. Chou, C. Gieshoff, J. Maly, H. Rauhut, "Gradient descent for deep matrix
factorization: dynamics and implicit bias towards low rank", ACHA 68:101595, 2024
(effective rank of the iterates; which of the definitions below the paper uses was not
verified -- both candidates are offered).
J. Wang, H.-H. Chou, "Implicit regularization in perturbed deep matrix factorization:
spectral conditions and stability", arXiv:2605.28613, 2026 (the low-rank interval).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .._core import check_int, check_positive
from .._core.checks import low_precision_as_float32, refuse_masked

RANK_MEASURES = ("erank", "erank_energy", "stable_rank", "nuclear_rank")


def _xp(a: Any):
    """jax.numpy for JAX arrays (tracers included), NumPy for anything else (lists too:
    jax.numpy refuses them). Without jax imported nothing can be a JAX array."""
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(a, jax.Array):
        return jax.numpy
    return np


def singular_values(W: Any) -> Any:
    """Singular values of a matrix (descending).

    Parameters
    ----------
    W : array of shape (..., n1, n2)
        The matrix (or a stack of them), NumPy or JAX.

    Returns
    -------
    array of shape (..., min(n1, n2))
        NaN for a matrix with NaN or inf entries (NumPy as JAX; the rank measures then
        give NaN).
    """
    xp = _xp(W)
    refuse_masked(W, "W")  # np.asarray dropped the mask: the hidden entries were used
    W = xp.asarray(W)
    if xp is np:
        W = low_precision_as_float32(W)   # bfloat16 (from JAX) is numeric
        if W.dtype.kind not in "biufc":
            # object, str, timedelta: NumPy's "ufunc 'isfinite' not supported" named
            # neither W nor the dtype
            raise TypeError(f"W must be a numeric matrix, got dtype {W.dtype}")
        if W.dtype == np.float16:  # "array type float16 is unsupported in linalg"
            W = W.astype(np.float32)
    if W.ndim < 2:  # NumPy's LinAlgError spoke of "1-dimensional array given"
        raise ValueError(f"W must be a matrix (or a stack of them), got shape {W.shape}")
    if xp is not np:
        return xp.linalg.svd(W, compute_uv=False)
    # NumPy raised LinAlgError("SVD did not converge") for a non-finite matrix, where
    # the JAX path (and every rank measure of a NaN spectrum) gives NaN
    bad = ~np.all(np.isfinite(W), axis=(-2, -1))
    s = np.linalg.svd(np.where(bad[..., None, None], 0, W), compute_uv=False)
    s[bad] = np.nan
    return s


def _entropy_rank(p: Any, xp) -> Any:
    logp = xp.log(xp.where(p > 0, p, 1.0))
    return xp.exp(-xp.sum(p * logp, axis=-1))


def _magnitudes(s: Any, xp) -> Any:
    """``|s|`` as floating point: integer and bool input is converted first (the absolute
    value of the most negative integer wraps around: ``|int8(-128)| = -128`` gave a
    nuclear rank of -0.28 for ``[-128, 100]``). Floats narrower than float32 (float16,
    bfloat16) are computed in float32: a float16 sum of 70000 equal values overflowed (an
    erank of 1 and a nuclear rank of inf for rank 70000). A masked array is refused (its
    mask was dropped, the hidden values used)."""
    refuse_masked(s, "s")
    s = xp.asarray(s)
    if xp is np:
        s = low_precision_as_float32(s)
    # (a JAX array is never a string; its bfloat16 is of kind "V" too, and was refused)
    if xp is np and s.dtype.kind in "USVMm":
        # asarray(dtype=float) below parsed numeric strings ("3", "1") as a spectrum
        raise TypeError(f"s must be numeric singular values, got dtype {s.dtype}")
    if s.ndim == 0:  # the spectrum is the last axis: a scalar raised a bare IndexError
        raise ValueError("s must be an array of singular values (the spectrum along the "
                         "last axis), got a scalar")
    if not xp.issubdtype(s.dtype, xp.inexact):
        s = xp.asarray(s, dtype=float)
    elif xp.finfo(s.dtype).bits < 32:
        s = xp.asarray(s, dtype=xp.float32)
    return xp.abs(s)


def _unit_top(s: Any, xp) -> tuple[Any, Any]:
    """``|s| / max|s|`` and a mask of the zero spectra.

    Every measure here is scale-invariant; normalising first keeps ``s**2`` and the sums
    in range (``s ~ 1e-200`` squared to 0: an energy rank of 0 and a stable rank of
    0/0 = NaN; ``s ~ 1e300``: inf/inf = NaN). A NaN spectrum gives NaN (it read as the
    zero matrix, rank 0, before: ``NaN > 0`` is False)."""
    s = _magnitudes(s, xp)
    top = xp.max(s, axis=-1, keepdims=True, initial=0.0)
    # XLA divides by multiplying with the reciprocal, which is subnormal, flushed to 0,
    # for a top value above ~2**(emax - 2) (float64: ~4.5e307): every measure of a JAX
    # spectrum that large was 0 or 1. Scaling such spectra by 2**-4 first is exact.
    big = top > xp.finfo(s.dtype).max / 8
    s = xp.where(big, s * 0.0625, s)
    top = xp.where(big, top * 0.0625, top)
    zero = top == 0
    return s / xp.where(zero, 1.0, top), zero[..., 0]


def erank(s: Any) -> Any:
    """Roy-Vetterli effective rank ``exp(-sum p_i log p_i)``, ``p = s / ||s||_1``.

    Equals k for k equal nonzero singular values; 0 for the zero matrix (by convention);
    NaN when ``s`` has a NaN.

    Parameters
    ----------
    s : array of shape (..., k)
        Singular values (last axis the spectrum; signs are ignored), NumPy or JAX.

    Returns
    -------
    array of shape (...)
        Values in ``[1, k]`` (0 for a zero spectrum).
    """
    xp = _xp(s)
    u, zero = _unit_top(s, xp)
    p = u / xp.maximum(xp.sum(u, axis=-1, keepdims=True), 1.0)  # sum(u) >= 1 unless zero
    return xp.where(zero, 0.0, _entropy_rank(p, xp))


def erank_energy(s: Any) -> Any:
    """Entropy rank of the energy spectrum: ``exp(-sum q_i log q_i)``, ``q = s^2 / ||s||_2^2``
    (the spectral entropy of ``W^T W``; less sensitive to many small singular values).

    Parameters
    ----------
    s : array of shape (..., k)
        Singular values (last axis the spectrum; signs are ignored), NumPy or JAX.

    Returns
    -------
    array of shape (...)
        Values in ``[1, k]`` (0 for a zero spectrum).
    """
    xp = _xp(s)
    u, zero = _unit_top(s, xp)
    u2 = u**2
    q = u2 / xp.maximum(xp.sum(u2, axis=-1, keepdims=True), 1.0)
    return xp.where(zero, 0.0, _entropy_rank(q, xp))


def stable_rank(s: Any) -> Any:
    """Stable rank ``||W||_F^2 / ||W||_2^2`` (0 for the zero matrix).

    Parameters
    ----------
    s : array of shape (..., k)
        Singular values (last axis the spectrum; signs are ignored), NumPy or JAX.

    Returns
    -------
    array of shape (...)
        Values in ``[1, k]`` (0 for a zero spectrum).
    """
    xp = _xp(s)
    u, zero = _unit_top(s, xp)
    return xp.where(zero, 0.0, xp.sum(u**2, axis=-1))


def nuclear_rank(s: Any) -> Any:
    """``||W||_* / ||W||_2`` (the nuclear-over-operator effective rank; 0 for W = 0).

    Parameters
    ----------
    s : array of shape (..., k)
        Singular values (last axis the spectrum; signs are ignored), NumPy or JAX.

    Returns
    -------
    array of shape (...)
        Values in ``[1, k]`` (0 for a zero spectrum).
    """
    xp = _xp(s)
    u, zero = _unit_top(s, xp)
    return xp.where(zero, 0.0, xp.sum(u, axis=-1))


def numerical_rank(s: Any, rtol: float = 1e-6) -> Any:
    """Number of singular values above ``rtol * s_max``.

    Parameters
    ----------
    s : array of shape (..., k)
        Singular values (last axis the spectrum; signs are ignored), NumPy or JAX.
    rtol : float, optional
        Threshold relative to the largest singular value (default 1e-6).

    Returns
    -------
    int array of shape (...)
        0 for a zero or empty spectrum; -1 for a JAX spectrum with NaN or inf (no
        exception can be raised inside a traced computation).

    Raises
    ------
    ValueError
        When ``rtol`` is negative or not finite, or a NumPy spectrum has NaN or inf
        (``NaN > t`` is False: such a spectrum read as rank 0, the zero matrix).
    """
    rtol = check_positive(rtol, "rtol", allow_zero=True)
    xp = _xp(s)
    s = _magnitudes(s, xp)
    finite = xp.all(xp.isfinite(s), axis=-1)
    if xp is np and not np.all(finite):
        raise ValueError("numerical_rank: the spectrum has NaN or inf entries")
    # initial=0: an empty spectrum has rank 0 (as for the other measures), no error
    top = xp.max(s, axis=-1, keepdims=True, initial=0.0)
    count = xp.sum(s > rtol * top, axis=-1)
    return count if xp is np else xp.where(finite, count, -1)


RANK_FUNCTIONS = {
    "erank": erank,
    "erank_energy": erank_energy,
    "stable_rank": stable_rank,
    "nuclear_rank": nuclear_rank,
}


def rank_trace(sv: Any) -> dict[str, np.ndarray]:
    """All effective ranks of a trace of singular values ``(records, k)``.

    Parameters
    ----------
    sv : array of shape (records, k)
        Singular values, one row per record point (as ``trace["sv"]``).

    Returns
    -------
    dict of str to ndarray
        One array of shape ``(records,)`` per measure of :data:`RANK_FUNCTIONS`
        (``erank``, ``erank_energy``, ``stable_rank``, ``nuclear_rank``).
    """
    sv = _real_records(sv, "sv")
    if sv.ndim != 2:
        # a 1-D spectrum gave 0-d "traces", a stack 2-D ones, where a trace has one
        # value per record
        raise ValueError(f"sv must have shape (records, k), got shape {sv.shape}")
    return {name: np.asarray(fn(sv)) for name, fn in RANK_FUNCTIONS.items()}


# ------------------------------------------------------------------ plateaus / early stop
@dataclass(frozen=True)
class Plateau:
    """A run of record points where the effective rank stays near ``level``.

    Attributes
    ----------
    start, end : int
        First and last iteration of the run (record points).
    level : float
        Median effective rank over the run.
    decades : float
        Length ``log10(end / start)`` (iterations are log-spaced in a trace).
    loss_start, loss_end : float
        Loss at its ends (from the trace).
    index : tuple of int
        Trace rows ``(i, j)`` it spans (inclusive).
    """

    start: int
    end: int
    level: float
    decades: float
    loss_start: float
    loss_end: float
    index: tuple[int, int] = field(default=(0, 0))

    def stop_iteration(self, where: str = "middle") -> int:
        """An iteration inside: its ``"start"``, ``"end"`` or geometric ``"middle"``."""
        if where == "start":
            return int(self.start)
        if where == "end":
            return int(self.end)
        if where == "middle":
            # in integers: np.sqrt of a product beyond 2**64 (start = 1e6, end = 1e14, a
            # gradient-flow time) was an object array, a TypeError
            p = max(int(self.start), 1) * max(int(self.end), 1)
            r = math.isqrt(p)
            return r + (p - r * r > r)   # round(sqrt(p)): sqrt(p) >= r + 1/2 iff p > r^2 + r
        raise ValueError(f"where must be 'start', 'middle' or 'end', got {where!r}")

    def as_dict(self) -> dict[str, Any]:
        return dict(start=self.start, end=self.end, level=self.level, decades=self.decades,
                    loss_start=self.loss_start, loss_end=self.loss_end)


def rank_plateaus(
    trace: Mapping[str, Any],
    *,
    measure: str = "erank",
    atol: float = 0.25,
    rtol: float = 0.05,
    min_decades: float = 0.2,
    min_points: int = 3,
) -> list[Plateau]:
    """Plateaus of the effective rank along a trace, from the trace alone (no truth).

    A plateau is a maximal run of consecutive record points (iteration >= 1) over which the
    effective rank varies by at most ``max(atol, rtol * mid)`` (its largest minus its
    smallest value, ``mid`` the midpoint of the two; a band that does not depend on
    where the run starts), has no NaN or inf rank (a failed record ends a run), and
    spans at least ``min_points`` records and ``min_decades`` decades of iterations. Runs
    grow greedily from the earliest record; after a run too short to keep, the search
    restarts one record after its start.

    Parameters
    ----------
    trace : mapping
        ``trace["iter"]`` (finite, strictly increasing) and either ``trace[measure]`` or
        ``trace["sv"]`` (singular values, from which the measure is computed);
        ``trace["loss"]`` is reported.
    measure : {"erank", "erank_energy", "stable_rank", "nuclear_rank"}
        Which effective rank (see :data:`RANK_FUNCTIONS`).
    atol, rtol : float
        Largest spread (max - min) of the rank within a plateau: ``max(atol, rtol *
        mid)``.
    min_decades : float
        Shortest plateau kept, in decades of iterations.
    min_points : int
        Fewest record points in a plateau.

    Returns
    -------
    list of Plateau
        In order of time.
    """
    if measure not in RANK_FUNCTIONS:
        raise ValueError(f"measure must be one of {RANK_MEASURES}, got {measure!r}")
    # a NaN band compared False with every spread: the whole trace was one "plateau"
    atol = check_positive(atol, "atol", allow_zero=True)
    rtol = check_positive(rtol, "rtol", allow_zero=True)
    min_decades = check_positive(min_decades, "min_decades", allow_zero=True)
    min_points = check_int(min_points, "min_points", minimum=1)
    it = _real_records(trace["iter"], "trace['iter']")
    if it.ndim != 1:
        raise ValueError(f"trace['iter'] must be 1-dimensional (one entry per record), got "
                         f"shape {it.shape}")
    if not (np.all(np.isfinite(it)) and np.all(np.diff(it) > 0)):
        # decreasing iterations gave negative lengths in decades (no plateau, silently),
        # a NaN one dropped its record
        raise ValueError("trace['iter'] must be finite and strictly increasing")
    if measure in trace:
        r = _real_records(trace[measure], f"trace[{measure!r}]")
        _check_records(r, measure, it.size)
    elif "sv" in trace:
        sv = _real_records(trace["sv"], "trace['sv']")
        if sv.ndim != 2 or sv.shape[0] != it.size:
            raise ValueError(f"trace['sv'] must have shape (records, k) with {it.size} "
                             f"records (as trace['iter']), got shape {sv.shape}")
        r = np.asarray(RANK_FUNCTIONS[measure](sv))
    else:
        raise KeyError(f"the trace has neither {measure!r} nor 'sv' (singular values)")
    loss = _real_records(trace.get("loss", np.full(it.shape, np.nan)), "trace['loss']")
    _check_records(loss, "loss", it.size)
    keep = (it >= 1) & np.isfinite(r)
    idx = np.flatnonzero(keep)
    out: list[Plateau] = []
    i = 0
    while i < idx.size:
        j = i
        lo = hi = r[idx[i]]
        # a record with a NaN rank (a failed SVD, a diverged run) between two with the
        # level was skipped: the run went on through it
        while j + 1 < idx.size and idx[j + 1] == idx[j] + 1:
            v = r[idx[j + 1]]
            nlo, nhi = min(lo, v), max(hi, v)
            if nhi - nlo > max(atol, rtol * 0.5 * (nlo + nhi)):
                break
            lo, hi, j = nlo, nhi, j + 1
        a, b = idx[i], idx[j]
        decades = float(np.log10(it[b] / it[a]))
        if j - i + 1 >= min_points and decades >= min_decades:
            out.append(Plateau(int(it[a]), int(it[b]), float(np.median(r[idx[i:j + 1]])),
                               decades, float(loss[a]), float(loss[b]), (int(a), int(b))))
            i = j + 1
        else:
            i += 1
    return out


def _real_records(a: Any, name: str) -> np.ndarray:
    """``a`` as float64, refusing complex values: the cast dropped the imaginary part with
    only a ComplexWarning (an imaginary spectrum read as the zero matrix, rank 0). Strings
    (the cast parsed "3" as 3.0), durations and masked arrays (the mask was dropped) are
    refused too."""
    refuse_masked(a, name)
    arr = low_precision_as_float32(np.asarray(a))
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.dtype.kind in "USVMm":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64)


def _check_records(a: np.ndarray, key: str, records: int) -> None:
    """One value per record of ``trace["iter"]``: arrays that did not line up raised bare
    NumPy errors (broadcast, index out of bounds), or paired plateaus with other records'
    losses silently."""
    if a.shape != (records,):
        raise ValueError(f"trace[{key!r}] must have one value per record ({records}, as "
                         f"trace['iter']), got shape {a.shape}")


def select_plateau(
    plateaus: Sequence[Plateau],
    trace: Mapping[str, Any],
    *,
    max_level: float | None = None,
    min_loss_drop: float = 0.1,
) -> Plateau | None:
    """The low-rank plateau to stop in (trace-only rule).

    Candidates are plateaus (i) after the escape phase -- the loss at their start is at
    least ``min_loss_drop`` (relative) below the initial loss (the trace's first
    ``loss``, so the trace should start at iteration 0), which excludes the long
    initial phase where a small start has the rank of its initialization -- and (ii) with
    level at most ``max_level`` (default half the number of singular values, when the
    trace has them). Among these the longest in decades of iterations wins (ties: the
    earliest). For a noisy target this is the interval between fitting the signal
    directions and starting to fit the noise directions (Wang & Chou's low-rank phase);
    for a noiseless one, the final low-rank phase.

    Parameters
    ----------
    plateaus : sequence of Plateau
        Candidates, e.g. from :func:`rank_plateaus`.
    trace : mapping
        The run's trace: ``loss`` (its first entry is the initial loss) and, for the
        default ``max_level``, ``sv``.
    max_level : float, optional
        Highest plateau level accepted, >= 0 (default: half the number of singular values
        in ``trace["sv"]``; no bound when the trace has none).
    min_loss_drop : float, optional
        Relative drop of the loss below the initial one at a plateau's start, >= 0
        (default 0.1); not applied when the trace has no finite initial loss.

    Returns
    -------
    Plateau or None
        The chosen plateau; None when no plateau qualifies.
    """
    # NaN compared False: a NaN max_level let every level through, a NaN drop none
    min_loss_drop = check_positive(min_loss_drop, "min_loss_drop", allow_zero=True)
    if max_level is not None:
        max_level = check_positive(max_level, "max_level", allow_zero=True)
    loss = _real_records(trace.get("loss", []), "trace['loss']")
    if loss.ndim != 1:  # its first entry was read with float(): NumPy's "only 0-dimensional
        # arrays can be converted to Python scalars" for a 2-D loss, a scalar's IndexError
        raise ValueError(f"trace['loss'] must be 1-dimensional (one entry per record), "
                         f"got shape {loss.shape}")
    loss0 = float(loss[0]) if loss.size else np.nan
    if max_level is None and "sv" in trace:
        sv_shape = np.shape(trace["sv"])
        if len(sv_shape) == 0:  # a bare IndexError ("tuple index out of range")
            raise ValueError("trace['sv'] must hold singular values (last axis the "
                             "spectrum), got a scalar")
        max_level = 0.5 * sv_shape[-1]
    best = None
    for p in plateaus:
        if np.isfinite(loss0) and not p.loss_start <= (1.0 - min_loss_drop) * loss0:
            continue
        if max_level is not None and p.level > max_level:
            continue
        if best is None or p.decades > best.decades + 1e-12:
            best = p
    return best
