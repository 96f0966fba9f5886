"""Lasso by coordinate descent (scikit-learn), with overparam's Result."""
from __future__ import annotations

import threading
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse

from .._core import Result, Status, check_bool, check_int, check_positive
from ._common import matrix_of, pow2_divisor, setup

_FIT_LOCK = threading.Lock()  # see lasso(): catch_warnings is process-wide
# the largest epoch cap scikit-learn's Cython loop accepts; larger ones act as this one
_MAX_ITER = 2**31 - 1


def lasso(
    A: Any,
    y: Any = None,
    *,
    alpha: float,
    nonneg: bool = False,
    max_iter: int = 10_000,
    tol: float = 1e-10,
) -> Result:
    r"""Solve the Lasso with scikit-learn's coordinate descent (no intercept).

    Minimizes, exactly as :class:`sklearn.linear_model.Lasso` does,

    .. math:: \frac{1}{2m}\|y - Ax\|_2^2 + \alpha \|x\|_1 \qquad (x \ge 0 \text{ if nonneg}),

    with ``m`` the number of measurements (rows of ``A``). Note the ``1/(2m)``: the
    common form ``0.5 ||y - Ax||^2 + lam ||x||_1`` corresponds to ``alpha = lam / m``.
    For ``alpha >= info["alpha_max"] = ||A^T y||_inf / m`` (``max(A^T y)_+ / m`` when
    ``nonneg``) the solution is ``x = 0`` (returned as such, ``n_iter = 0``); as
    ``alpha -> 0`` it tends to the basis pursuit solution when ``Ax = y`` is solvable.

    Parameters
    ----------
    A : array of shape (m, n), sparse matrix, Operator, LinearOperator or Problem
        Design / measurement operator, or a Problem (then ``y`` is omitted).
        Matrix-free operators are materialised (a ``ValueError`` above 5e7 entries).
    y : array of shape (m,)
        Measurements.
    alpha : float
        Penalty level, > 0 (for ``alpha = 0`` use ``basis_pursuit`` or least squares).
    nonneg : bool, default False
        Constrain ``x >= 0`` (scikit-learn's ``positive=True``).
    max_iter : int, default 10000
        Coordinate-descent epochs; status ``max_iter`` when reached without ``tol``
        (values above ``2**31 - 1`` act as ``2**31 - 1``).
    tol : float, default 1e-10
        scikit-learn's tolerance: the solver stops when the duality gap is at most
        ``tol * ||y||^2 / m`` (after updates smaller than ``tol * max|x|``).

    Returns
    -------
    Result
        ``x``, ``status`` (``converged`` or ``max_iter``, from scikit-learn's
        ``ConvergenceWarning``), ``fun`` (the objective above), ``n_iter`` (epochs),
        ``wall_time`` and ``info`` with ``alpha``, ``alpha_max``, ``dual_gap`` (in the
        objective's units) and ``relative_residual``.

    Raises
    ------
    ValueError
        Shape mismatch, NaN/inf in ``A`` or ``y``, an empty system, ``alpha <= 0``.
    TypeError
        A complex ``A`` or ``y``; a ``nonneg`` that is not a bool (e.g. ``"false"``).

    Examples
    --------
    >>> import numpy as np
    >>> from overparam.baselines import lasso
    >>> A = np.eye(3)
    >>> res = lasso(A, np.array([3.0, -0.5, 1.0]), alpha=0.2)   # soft-thresholding by 3 alpha
    >>> res.status.value, (np.round(res.x, 6) + 0.0).tolist()
    ('converged', [2.4, 0.0, 0.4])
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    problem = setup(A, y)
    alpha = check_positive(alpha, "alpha")
    nonneg = check_bool(nonneg, "nonneg")  # bool("false") is True: a silent x >= 0
    # scikit-learn's coordinate descent takes a C int (2**40: a bare OverflowError)
    max_iter = min(check_int(max_iter, "max_iter", minimum=1), _MAX_ITER)
    tol = check_positive(tol, "tol", allow_zero=True)
    M = _int32_indices(matrix_of(problem, who="lasso", sparse_ok=True))
    # The problem is homogeneous: y -> y/s, alpha -> alpha/s gives x -> x/s and the
    # objective / s^2. scikit-learn's stopping test uses tol * ||y||^2, which underflows to
    # 0 for max|y| ~ 1e-170 (x = 0 returned after 0 epochs) and overflows for ~ 1e170, so
    # solve for y / max|y| and scale back. Likewise A -> A/a, alpha -> alpha/a gives
    # x -> a x: its squared column norms under/overflowed for max|A| ~ 1e-200 or 1e200
    # (max_iter, x = 0 or wrong), so A / max|A| is solved too.
    top = float(np.abs(problem.y).max())
    y_scale = top if top > 0 else 1.0
    yv = np.array(problem.y) / y_scale
    a_scale = pow2_divisor(float(abs(M).max()) if M.size else 0.0)
    if a_scale != 1.0:
        M = M / a_scale
    m, n = problem.shape
    g = M.T @ yv
    alpha_max_s = float((np.maximum(g, 0.0).max() if nonneg else np.abs(g).max()) / m)
    # alpha / (a_scale * y_scale), one factor at a time (the product may under/overflow)
    alpha_s = alpha / a_scale / y_scale
    if alpha_s >= alpha_max_s:
        # the closed form x = 0 (with a zero duality gap): scikit-learn refused an alpha
        # that overflowed in the scaling (alpha = 1e300, max|y| = 1e-10: a raw
        # InvalidParameterError) and ran to max_iter with a NaN gap where its own
        # alpha * m overflowed (alpha = 1e308)
        fun = float(yv @ yv) / (2 * m) * y_scale * y_scale
        ny = float(np.linalg.norm(yv))
        info = dict(method="lasso/sklearn", alpha=alpha, alpha_max=alpha_max_s * a_scale
                    * y_scale, nonneg=nonneg, dual_gap=0.0,
                    relative_residual=1.0 if ny > 0 else 0.0)
        return Result(x=np.zeros(n), status=Status.CONVERGED,
                      message=f"{Status.CONVERGED.advice} (alpha >= alpha_max: x = 0)",
                      n_iter=0, fun=fun, wall_time=0.0, info=info)
    model = Lasso(alpha=alpha_s, fit_intercept=False,
                  positive=nonneg, max_iter=max_iter, tol=tol, selection="cyclic")
    start = time.perf_counter()
    # warnings.catch_warnings swaps the process-wide filter list: on threads, one call
    # recorded another's ConvergenceWarning (4 of 144 statuses wrong) and the temporary
    # filter could stay installed for good. One fit at a time here; and a warning counts
    # only when the fit did run to max_iter (another thread's code may warn meanwhile).
    with _FIT_LOCK:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(M, yv)
    wall = time.perf_counter() - start
    warned = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    for w in caught:  # pass on anything else
        if w not in warned:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    not_converged = warned if int(model.n_iter_) >= max_iter else []
    # the solution for A / a_scale and y / y_scale
    xs = np.asarray(model.coef_, dtype=np.float64).reshape(-1)
    x = xs * y_scale / a_scale
    rs = M @ xs - yv
    alpha_max = alpha_max_s * a_scale * y_scale
    # scaled back one factor at a time (the objective itself may exceed the float range:
    # then inf, where ``y_scale**2`` would raise OverflowError)
    fun = (float(rs @ rs) / (2 * m) + alpha / a_scale / y_scale * float(np.abs(xs).sum())) \
        * y_scale * y_scale
    dual_gap = float(np.ravel(model.dual_gap_)[0]) * y_scale * y_scale
    ny = float(np.linalg.norm(yv))
    nr = float(np.linalg.norm(rs))
    info = dict(method="lasso/sklearn", alpha=alpha, alpha_max=alpha_max, nonneg=nonneg,
                dual_gap=dual_gap,
                relative_residual=nr / ny if ny > 0 else nr * y_scale)
    if not_converged:
        status = Status.MAX_ITER
        detail = f"scikit-learn: {not_converged[0].message}"
    else:
        status = Status.CONVERGED
        detail = f"duality gap {info['dual_gap']:.3e}"
    return Result(x=x, status=status, message=f"{status.advice} ({detail})",
                  n_iter=int(model.n_iter_), fun=fun, wall_time=wall, info=info)


def _int32_indices(M: Any) -> Any:
    """A sparse ``M`` with 32-bit index arrays, the only ones scikit-learn's coordinate
    descent accepts (a SciPy sparse array built from int64 row/column arrays keeps int64
    indices, and ``fit`` raised "Only sparse matrices with 32-bit integer indices are
    accepted"); dense ``M`` as it is."""
    if not scipy.sparse.issparse(M) or (M.indices.dtype == np.int32
                                        and M.indptr.dtype == np.int32):
        return M
    if M.nnz >= 2**31 or max(M.shape) >= 2**31:
        raise ValueError(
            f"lasso: scikit-learn accepts sparse matrices with 32-bit indices only, and A "
            f"({M.shape[0]} x {M.shape[1]}, {M.nnz} stored entries) does not fit them")
    return scipy.sparse.csr_array((M.data, M.indices.astype(np.int32),
                                   M.indptr.astype(np.int32)), shape=M.shape)
