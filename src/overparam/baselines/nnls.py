"""Non-negative least squares (SciPy's active-set solver), with overparam's Result."""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.optimize

from .._core import Result, Status, check_int, safe_norm
from ._common import matrix_of, pow2_divisor, setup

# the largest iteration cap SciPy accepts (a C int); larger ones act as this one
_MAX_ITER = 2**31 - 1


def nnls(A: Any, y: Any = None, *, max_iter: int | None = None) -> Result:
    r"""Solve :math:`\min \tfrac12 \|Ax - y\|_2^2` subject to :math:`x \ge 0`.

    Uses :func:`scipy.optimize.nnls` (the Lawson-Hanson active-set method). This is
    the limit of the non-negative Hadamard model ``x = u^L`` whenever its solution is
    unique (e.g. ``m >= n`` with ``A`` of full column rank, or when the non-negative
    interpolant is unique).

    Parameters
    ----------
    A : array of shape (m, n), sparse matrix, Operator, LinearOperator or Problem
        Measurement operator, or a Problem (then ``y`` is omitted). Sparse and
        matrix-free operators are materialised (a ``ValueError`` above 5e7 entries).
    y : array of shape (m,)
        Measurements.
    max_iter : int, optional
        Active-set iterations (SciPy's default ``3 n`` when omitted; values above
        ``2**31 - 1`` act as ``2**31 - 1``).

    Returns
    -------
    Result
        ``x``, ``status`` (``converged``, or ``max_iter`` with ``x`` all NaN because SciPy
        returns no iterate then), ``fun = 0.5 ||Ax - y||^2``, ``n_iter = 0`` (SciPy does
        not report its count), ``wall_time`` and ``info`` with ``rnorm = ||Ax - y||``,
        ``relative_residual`` and ``gradient = A^T (Ax - y)``: at the solution it is
        ``>= 0`` and zero wherever ``x > 0`` (the KKT conditions).

    Raises
    ------
    ValueError
        Shape mismatch, NaN/inf in ``A`` or ``y``, or an empty system.

    Examples
    --------
    >>> import numpy as np
    >>> from overparam.baselines import nnls
    >>> res = nnls(np.eye(3), np.array([1.0, -2.0, 3.0]))
    >>> res.status.value, res.x.tolist(), res.fun
    ('converged', [1.0, 0.0, 3.0], 2.0)
    """
    problem = setup(A, y)
    M = np.asarray(matrix_of(problem, who="nnls"))
    if max_iter is not None:
        # SciPy takes a C int: 2**31 and up raised a bare OverflowError
        max_iter = min(check_int(max_iter, "max_iter", minimum=1), _MAX_ITER)
    yv = np.array(problem.y)
    n = problem.n
    # SciPy's tests are absolute: A and y both ~1e-170 (x ~ 1) returned x = 0 as converged
    # (relative residual 1). x(A / a, y / s) = x(A, y) a / s: solve the problem brought to
    # unit scale by powers of two (exact; ordinary data are left as they are)
    a_scale = pow2_divisor(float(np.max(np.abs(M))))
    y_scale = pow2_divisor(float(np.max(np.abs(yv))))
    start = time.perf_counter()
    try:
        x, rnorm = scipy.optimize.nnls(M / a_scale, yv / y_scale, maxiter=max_iter)
        x = x / a_scale * y_scale  # (one factor at a time: their ratio may overflow)
        status, detail = Status.CONVERGED, "SciPy nnls"
    except RuntimeError as err:  # SciPy raises on its iteration limit
        x, rnorm = np.full(n, np.nan), float("nan")
        status, detail = Status.MAX_ITER, f"SciPy nnls: {err}"
    wall = time.perf_counter() - start
    x = np.asarray(x, dtype=np.float64)
    info: dict[str, Any] = dict(method="nnls/scipy", rnorm=float(rnorm))
    if status is Status.CONVERGED:
        r = problem.residual(x)
        # safe_norm: plain norms square the entries (0 for y ~ 1e-200: relative residual
        # 0; inf for 1e200: relative residual NaN, fun inf)
        ny, nr = safe_norm(yv), safe_norm(r)
        info["relative_residual"] = nr / ny if ny > 0 else nr
        info["rnorm"] = float(nr)  # SciPy's own squares too (inf at 1e200)
        # from the materialised matrix: a LinearOperator without rmatvec is solved (its
        # matrix is built from matvecs) and must not fail here
        # (in units scaled back by powers of two: A^T r overflowed for A, y ~ 1e300)
        with np.errstate(over="ignore"):
            info["gradient"] = ((M / a_scale).T @ (r / y_scale)) * a_scale * y_scale
        with np.errstate(over="ignore"):  # 0.5 ||r||^2 itself may exceed the float range
            fun = 0.5 * nr * nr
    else:
        info["relative_residual"] = float("nan")
        fun = float("nan")
    return Result(x=x, status=status, message=f"{status.advice} ({detail})", n_iter=0,
                  fun=fun, wall_time=wall, info=info)
