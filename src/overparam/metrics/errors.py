"""Error measures between an estimate and a reference (pure NumPy functions).

Conventions shared by every function here:

* ``x`` and the reference must have the same shape (vectors, or matrices, which are
  compared entrywise / in the Frobenius norm); a mismatch is a ``ValueError``.
* The reference (``x_ref``, ``x_true``, ``A``, ``y``) must be finite. The estimate ``x`` may
  hold NaN/inf (a failed run): errors are then ``nan``/``inf`` and :func:`success` is
  ``False``, never an exception in the middle of a sweep.
* A relative measure with a zero reference is ``0.0`` when the numerator is zero and
  ``inf`` otherwise.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._core import (
    check_bool,
    check_finite_array,
    check_int,
    check_positive,
    ldexp_array,
    pow2_exponent,
    safe_norm,
)
from .._core.checks import low_precision_as_float32, refuse_masked


def _estimate(x: Any) -> np.ndarray:
    """The estimate ``x`` as an array of a numeric dtype (NaN/inf allowed: a failed run)."""
    refuse_masked(x, "x")
    est = low_precision_as_float32(np.asarray(x))   # bfloat16 (from JAX) is numeric
    # by dtype kind, as in check_finite_array: np.issubdtype(timedelta64, np.number) is
    # True, and durations failed later with NumPy errors that named neither x nor dtype
    if est.dtype.kind not in "biufc":
        raise TypeError(f"x must be a numeric array, got dtype {est.dtype}")
    return est


def _pair(x: Any, x_ref: Any, ref_name: str = "x_ref") -> tuple[np.ndarray, np.ndarray]:
    ref = check_finite_array(x_ref, ref_name)
    est = _estimate(x)
    est = est.astype(np.result_type(est.dtype, np.float64), copy=False)
    if est.shape != ref.shape:
        raise ValueError(f"shape mismatch: x has shape {est.shape} but {ref_name} has "
                         f"shape {ref.shape}")
    return est, ref


def _div(a: np.ndarray, s: float) -> np.ndarray:
    """``a / s`` for a real ``s > 0``, with the real and imaginary parts divided separately:
    NumPy divides a complex array by a real scalar as complex by complex, which turns
    ``inf + inf j`` into ``nan + nan j`` (an infinite estimate scored ``nan``, not ``inf``)."""
    if not np.iscomplexobj(a):
        return a / s
    out = np.empty_like(a)
    out.real, out.imag = a.real / s, a.imag / s
    return out


def _max_part(a: np.ndarray) -> float:
    """``max|a|``; for complex ``a`` the largest ``|Re|`` or ``|Im|`` (within a factor
    sqrt(2) of ``max|a|``): ``|1.5e308 (1 + 1j)|`` overflows to inf, its parts do not, and
    an inf scale made relative_error and l1_gap 0.0 for any estimate."""
    if np.iscomplexobj(a):
        return float(max(np.abs(a.real).max(), np.abs(a.imag).max()))
    return float(np.abs(a).max())


def _ratio(num: float, den: float) -> float:
    if den > 0:
        return num / den
    if num == 0:
        return 0.0
    return float("nan") if np.isnan(num) else float("inf")


def relative_error(x: Any, x_ref: Any) -> float:
    """Relative Euclidean (Frobenius) error ``||x - x_ref|| / ||x_ref||``.

    Parameters
    ----------
    x : array_like
        Estimate.
    x_ref : array_like
        Reference (e.g. the planted signal or the basis-pursuit solution), same shape.

    Returns
    -------
    float
        Scale invariant: ``relative_error(c x, c x_ref) == relative_error(x, x_ref)`` for
        ``c != 0``. With ``x_ref == 0``: ``0.0`` if ``x == 0``, else ``inf``.

    Examples
    --------
    >>> relative_error([1.0, 1.0], [1.0, 0.0])
    1.0
    >>> relative_error([3.0, 4.0], [3.0, 4.0])
    0.0
    """
    est, ref = _pair(x, x_ref)
    # scale by 2^-e ~ 1 / max|x_ref| first: x - x_ref overflows to inf for entries near
    # 1e308 of opposite signs (error 2.0 reported as inf); the ratio is unchanged. A power
    # of two scales exactly: dividing by max|x_ref| itself rounded both terms, an absolute
    # error ~1e-16 that swamped a small difference (1.8e-16 reported for 1.0e-16, 1e-5
    # relative off at 1.6e-11)
    e = int(pow2_exponent(_max_part(ref)))
    with np.errstate(over="ignore"):
        diff = ldexp_array(est, -e) - ldexp_array(ref, -e)
    return _ratio(safe_norm(diff), safe_norm(ldexp_array(ref, -e)))


def l1_gap(x: Any, x_ref: Any, *, relative: bool = True) -> float:
    """Excess l1 norm of ``x`` over ``x_ref``: ``(||x||_1 - ||x_ref||_1) / ||x_ref||_1``.

    Signed: with ``x_ref`` the minimal-l1 interpolant (basis pursuit) and ``x`` another
    interpolant, the gap is ``>= 0``, and it measures how far from the l1 minimizer an
    implicit-regularization method lands. A negative gap means ``x`` has the smaller l1
    norm (e.g. ``x`` does not interpolate, or the reference is suboptimal).

    Parameters
    ----------
    x, x_ref : array_like
        Estimate and reference of the same shape (entrywise l1 norm for matrices).
    relative : bool, default True
        Divide by ``||x_ref||_1`` (with ``x_ref == 0``: ``0.0`` if ``x == 0``, else
        ``inf``); ``False`` gives the absolute gap ``||x||_1 - ||x_ref||_1``.

    Examples
    --------
    >>> l1_gap([1.0, 1.0], [2.0, 0.0])
    0.0
    >>> l1_gap([2.0, -1.0], [2.0, 0.0])
    0.5
    >>> l1_gap([2.0, -1.0], [2.0, 0.0], relative=False)
    1.0
    """
    relative = check_bool(relative, "relative")  # "no" was truthy: relative
    est, ref = _pair(x, x_ref)
    # Sum |x| / s with s = max|x_ref| (its largest part if complex): the plain sums
    # overflow to inf (inf - inf = nan) for entries near 1e308 and lose digits in the
    # subnormal range; the ratio is unchanged by s, and the absolute gap is scaled back
    # once at the end.
    top = _max_part(ref)
    s = top if top > 0 else 1.0
    with np.errstate(over="ignore"):
        nx, nref = float(np.abs(_div(est, s)).sum()), float(np.abs(_div(ref, s)).sum())
    if not relative:
        with np.errstate(over="ignore"):
            return (nx - nref) * s
    return _ratio(nx - nref, nref)


class SupportScore(NamedTuple):
    """Support recovery scores (a tuple, also readable by name).

    Attributes
    ----------
    precision : float
        ``|S & T| / |S|``: the fraction of the found support that is correct
        (1.0 when nothing is found).
    recall : float
        ``|S & T| / |T|``: the fraction of the true support that is found
        (1.0 when the truth is zero).
    exact : bool
        ``S == T``.
    n_found : int
        ``|S|``, the size of the estimated support (``<= k`` when ``k`` is given).
    n_true : int
        ``|T|``, the size of the true support.
    """

    precision: float
    recall: float
    exact: bool
    n_found: int
    n_true: int


def support_recovery(
    x: Any, x_true: Any, *, tol: float | None = None, k: int | None = None
) -> SupportScore:
    """Compare the support of an estimate with the true support.

    The true support ``T`` is the set of exact nonzeros of ``x_true`` (a planted signal).
    The estimated support ``S`` is, exactly one of:

    * ``tol`` (default ``1e-3`` when neither is given): the entries with
      ``|x_i| > tol * max|x|``, a threshold relative to the largest entry, so that the
      ``~init_scale^L`` residue that implicit regularization leaves off the support does
      not count;
    * ``k``: the ``k`` entries largest in magnitude (ties broken by index), e.g.
      ``k = |T|`` to ask whether the top entries are the right ones. Exact zeros are
      never in the support: an ``x`` with fewer than ``k`` nonzeros finds those only.

    Parameters
    ----------
    x, x_true : array_like
        Estimate and truth of the same shape.
    tol : float, optional
        Relative threshold in ``[0, 1)``.
    k : int, optional
        Support size, ``0 <= k <= x.size``.

    Returns
    -------
    SupportScore
        ``(precision, recall, exact, n_found, n_true)``. A non-finite ``x`` gives
        ``SupportScore(nan, nan, False, 0, |T|)``.

    Examples
    --------
    >>> support_recovery([1.0, 1e-6, 0.5, 0.0], [2.0, 0.0, 1.0, 0.0])
    SupportScore(precision=1.0, recall=1.0, exact=True, n_found=2, n_true=2)
    >>> support_recovery([1.0, 0.2, 0.0, 0.0], [2.0, 0.0, 1.0, 0.0], k=2)
    SupportScore(precision=0.5, recall=0.5, exact=False, n_found=2, n_true=2)
    """
    est, ref = _pair(x, x_true, "x_true")
    est, ref = est.ravel(), ref.ravel()
    true = ref != 0
    n_true = int(true.sum())
    if tol is not None and k is not None:
        raise ValueError("pass either tol or k, not both")
    if not np.all(np.isfinite(est)):
        return SupportScore(float("nan"), float("nan"), False, 0, n_true)
    mag = np.abs(est)
    if k is not None:
        k = check_int(k, "k", minimum=0)
        if k > est.size:
            raise ValueError(f"k = {k} exceeds the number of entries {est.size}")
        found = np.zeros(est.size, dtype=bool)
        found[np.argsort(-mag, kind="stable")[:k]] = True
        # an exact zero is in no support: with ties broken by index, x = 0 "found" the
        # leading k indices (an exact recovery when the truth sat there)
        found &= mag > 0
    else:
        tol = 1e-3 if tol is None else check_positive(tol, "tol", allow_zero=True)
        if tol >= 1:
            raise ValueError(f"tol is relative to max|x| and must be < 1, got {tol}")
        # in the dtype of x: float() made a long double 1e400 inf, and nothing was found
        top = mag.max()
        found = mag > tol * top if top > 0 else np.zeros(est.size, dtype=bool)
    n_found = int(found.sum())
    hits = int((found & true).sum())
    precision = hits / n_found if n_found else 1.0
    recall = hits / n_true if n_true else 1.0
    return SupportScore(float(precision), float(recall), bool(np.array_equal(found, true)),
                        n_found, n_true)


def residual(A: Any, x: Any, y: Any, *, relative: bool = True) -> float:
    """Data misfit ``||A x - y||``, relative to ``||y||`` by default.

    Parameters
    ----------
    A : array of shape (m, n), Operator, LinearOperator or sparse matrix
        Measurement operator.
    x : array_like of shape (n,)
        Estimate.
    y : array_like of shape (m,)
        Measurements.
    relative : bool, default True
        Divide by ``||y||`` (with ``y == 0``: ``0.0`` if ``Ax == 0``, else ``inf``).

    Examples
    --------
    >>> import numpy as np
    >>> residual(np.eye(2), [1.0, 1.0], [1.0, 0.0])
    1.0
    >>> residual(np.eye(2), [1.0, 1.0], [2.0, 0.0], relative=False)
    1.4142135623730951
    """
    from ..problems import as_operator

    relative = check_bool(relative, "relative")  # "no" was truthy: the relative misfit
    op = as_operator(A)
    m, n = op.shape
    yv = check_finite_array(y, "y")
    if yv.ndim != 1 or yv.shape[0] != m:
        raise ValueError(f"shape mismatch: A has {m} rows but y has shape {yv.shape}")
    est = _estimate(x)
    if est.ndim != 1 or est.shape[0] != n:
        raise ValueError(f"shape mismatch: A has {n} columns but x has shape {est.shape}")
    if not np.all(np.isfinite(est)):
        return float("nan")
    # A x - y overflowed to inf for entries near 1e308 of opposite signs (a relative misfit
    # of 2.0 reported as inf) and lost its digits in the subnormal range: A is applied to
    # x / 2^ex and both terms are brought to the power of two 2^e of the larger, all
    # scalings exact, so that ||A x - y|| = 2^e ||w||.
    # A is real: the misfit of a complex estimate has the imaginary part A Im(x) - Im(y)
    # (a float cast would drop it, and score e.g. x = x_true + 1j * x_true as exact).
    cplx = np.iscomplexobj(est) or np.iscomplexobj(yv)
    xs = [est.real, est.imag] if cplx else [est]
    ys = [yv.real, yv.imag] if cplx else [yv]
    # max over the parts: |x| itself overflows for x = 1.5e308 (1 + 1j) (and so for y)
    _, ex = np.frexp(max(float(np.abs(p).max()) for p in xs))
    with np.errstate(over="ignore"):  # an A with entries near 1e308: inf, as before
        us = [op.matvec(np.ascontiguousarray(np.ldexp(p.astype(np.float64), -ex)))
              for p in xs]
    mu, eu = np.frexp(max(float(np.abs(u).max(initial=0.0)) for u in us))
    my, ey = np.frexp(max(float(np.abs(b).max()) for b in ys))
    # only a nonzero term sets the scale (frexp(0) has exponent 0: A x = 0 with x ~ 1e300
    # would push y ~ 1e-300 below the subnormals)
    e = int(max([ex + eu] * bool(mu) + [ey] * bool(my), default=0))
    with np.errstate(over="ignore"):  # ||A x - y|| beyond 1.8e308: inf
        w = [np.ldexp(u, int(ex) - e) - np.ldexp(b, -e) for u, b in zip(us, ys)]
        r = safe_norm(np.concatenate(w))
        if not relative:
            return float(np.ldexp(r, e))
        # ||y|| / 2^ey, in [0.5, sqrt(2 m))
        ny = safe_norm(np.concatenate([np.ldexp(b, -int(ey)) for b in ys]))
        return float(np.ldexp(_ratio(r, ny), e - int(ey)))


def success(x: Any, x_true: Any, tol: float = 1e-3) -> bool:
    """Exact-recovery indicator: ``relative_error(x, x_true) < tol``.

    The criterion of phase-transition studies (Donoho and Tanner use ``tol = 1e-3`` or
    tighter): the fraction of trials where it holds estimates the success probability.

    Parameters
    ----------
    x, x_true : array_like
        Estimate and planted signal of the same shape.
    tol : float, default 1e-3
        Relative error threshold, > 0.

    Examples
    --------
    >>> success([1.0, 1e-5], [1.0, 0.0])
    True
    >>> success([1.0, 1e-2], [1.0, 0.0])
    False
    """
    tol = check_positive(tol, "tol")
    err = relative_error(x, x_true)
    return bool(err < tol)  # False for nan
