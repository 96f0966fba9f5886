"""Classical solvers on NumPy/SciPy, all returning :class:`overparam.Result`.

* :func:`basis_pursuit`: ``min ||x||_1 s.t. Ax = y`` (optionally ``x >= 0``), by HiGHS
  or SPGL1: the ``init_scale -> 0`` limit of the Hadamard dynamics.
* :func:`lasso`: ``(1/2m) ||y - Ax||^2 + alpha ||x||_1`` by scikit-learn.
* :func:`nnls`: ``min ||Ax - y|| s.t. x >= 0`` by SciPy.
"""
from .basis_pursuit import basis_pursuit
from .lasso import lasso
from .nnls import nnls
from .matrix import (min_norm_least_squares, nuclear_norm_cvxpy, nuclear_norm_prox,
                     svt)
from .projected_gradient import projected_gradient

__all__ = ["basis_pursuit", "lasso", "min_norm_least_squares", "nnls", "nuclear_norm_cvxpy",
           "nuclear_norm_prox", "projected_gradient", "svt"]
from .eigen import eigsh_truncated, truncated_power  # noqa: E402  (sparse top eigenvectors)

__all__ += ["eigsh_truncated", "truncated_power"]
from .lrrs import riem_adaiht, rspf  # noqa: E402  (row-sparse and low-rank recovery)

__all__ += ["riem_adaiht", "rspf"]
