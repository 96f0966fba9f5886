"""Simultaneously row-sparse and low-rank matrices and their measurement operators.

The unknown is an ``n1 x n2`` matrix ``X*`` of rank at most ``r`` with at most ``s`` nonzero
rows (jointly sparse columns). It is observed through ``m`` linear measurements
``y = Phi(X*)`` (+ noise). As everywhere in overparam the matrix is handled as its row-major
vectorization ``x = vec(X) = X.reshape(-1)``.

Three measurement operators, all scaled by ``1/sqrt(m)`` as in Kuemmerle & Maly (2023):

* dense Gaussian: :class:`~overparam.problems.GaussianSensing` (i.i.d. ``N(0, 1/m)``);
* Gaussian rank-one: ``y_i = a_i^T X b_i / sqrt(m)`` with ``a_i ~ N(0, I_n1)``,
  ``b_i ~ N(0, I_n2)`` (:func:`gaussian_rank_one`);
* Fourier rank-one: ``y_i = (F A)_i^T X conj((F B)_i) / m^{3/2}`` with Gaussian
  ``A`` (``m x n1``), ``B`` (``m x n2``) and ``F`` the ``m x m`` DFT
  (:func:`fourier_rank_one`); the measurements are complex.

The rank-one operators store only the ``m x (n1 + n2)`` factors (matrix-free): a forward
map costs ``O(m n1 n2)`` flops but ``O(m (n1 + n2))`` memory, and the weighted Gram matrices
that IRLS needs cost ``O(m^2 (n1 + n2))`` instead of ``O(m^2 n1 n2)``
(see :meth:`RankOneSensing.row_weighted_gram`).

References
----------
C. Kuemmerle, J. Maly, "Recovering simultaneously structured data via non-convex
iteratively reweighted least squares", NeurIPS 2023 (arXiv:2306.04961).
"""
from __future__ import annotations

import math
import numbers
from functools import cached_property
from typing import Any

import jax.numpy as jnp
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sps
import scipy.sparse.linalg as spla

from .._core import (as_generator, check_int, check_matrix_shape, check_positive,
                     ldexp_array, pow2_exponent, safe_norm)
from .._core.checks import _scalar_of, refuse_masked
from .matrix import GaussianSensing, MatrixOperator, check_matrix_free
from .operators import _check_numeric_input
from .problem import Problem

__all__ = [
    "MatrixMeasurements",
    "OPERATORS",
    "RankOneSensing",
    "fourier_rank_one",
    "gaussian_rank_one",
    "lrrs_dof",
    "lrrs_guesses",
    "lrrs_inputs",
    "lrrs_measurements",
    "lrrs_problem",
    "rel_fro_error",
    "row_sparse_low_rank_matrix",
]

OPERATORS = ("gaussian", "gaussian_rank_one", "fourier_rank_one")


def rel_fro_error(X: Any, X_true: Any) -> float:
    """``||X - X_true||_F / ||X_true||_F`` without under- or overflow (``safe_norm``);
    ``||X||_F`` when ``X_true = 0``.

    Parameters
    ----------
    X : array_like
        The estimate (real or complex; integers are compared in floating point).
    X_true : array_like
        The truth, of the same shape as ``X`` (no broadcasting).

    Returns
    -------
    float
        NaN when ``X_true`` has a non-finite entry.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    X, Xt = np.asarray(X), np.asarray(X_true)
    if X.shape != Xt.shape:
        # broadcasting compared e.g. an (n1, n2) estimate with a vec(X*) of shape (n1 n2,)
        # entry against row, a number for any pair of shapes that broadcast
        raise ValueError(f"shape mismatch: X has shape {X.shape}, X_true {Xt.shape}")
    # in floating point: integer matrices wrapped around in X - X_true (int8: 100 - (-100)
    # is -56, an error 0.56 reported for 2.0)
    X = X.astype(np.result_type(X.dtype, np.float64), copy=False)
    Xt = Xt.astype(np.result_type(Xt.dtype, np.float64), copy=False)
    top = float(np.abs(Xt).max(initial=0.0))
    if top == 0:
        return safe_norm(X)
    if not np.isfinite(top):
        return math.nan
    # X - X_true overflowed to inf for entries near 1e308 of opposite signs (2.0 reported
    # as inf): both are scaled by the power of two of max|X_true| (exactly) first
    e = int(pow2_exponent(top))
    with np.errstate(over="ignore", invalid="ignore"):  # a ratio beyond 1.8e308: inf
        num = safe_norm(ldexp_array(X, -e) - ldexp_array(Xt, -e))
        return num / safe_norm(ldexp_array(Xt, -e))


class RankOneSensing(MatrixOperator):
    """Rank-one measurements ``y_i = scale * L_i^T X R_i`` of an ``n1 x n2`` matrix.

    Row ``i`` of the operator is ``scale * vec(L_i R_i^T)`` (row-major). Only the factors
    ``L`` (``m x n1``) and ``R`` (``m x n2``) are stored. Complex factors give complex
    measurements; then :meth:`rmatvec` is the conjugate transpose (the adjoint for the
    complex inner product ``<a, b> = sum conj(a) b``).

    Parameters
    ----------
    L, R : ndarray
        Left and right factors, ``m x n1`` and ``m x n2``, real or complex.
    scale : float
        Factor in front of every measurement.
    """

    def __init__(self, L: Any, R: Any, scale: float = 1.0):
        # np.asarray dropped a mask: the hidden entries became measurement vectors
        refuse_masked(L, "L")
        refuse_masked(R, "R")
        L, R = np.asarray(L), np.asarray(R)
        if L.ndim != 2 or R.ndim != 2 or L.shape[0] != R.shape[0]:
            raise ValueError(f"L and R must be m x n1 and m x n2, got {L.shape}, {R.shape}")
        # NumPy's "ufunc 'isfinite' not supported" for strings / objects named neither
        for name, F in (("L", L), ("R", R)):
            if F.dtype.kind not in "biufc":
                raise TypeError(f"{name} must be a numeric array, got dtype {F.dtype}")
        # no measurement or an empty matrix side made an operator of shape (0, n) or
        # (m, 0), which every other matrix operator refuses (sizes >= 1)
        if 0 in L.shape or R.shape[1] == 0:
            raise ValueError(f"L and R need m >= 1 rows and n1, n2 >= 1 columns, got "
                             f"{L.shape}, {R.shape}")
        if not (np.all(np.isfinite(L)) and np.all(np.isfinite(R))):
            raise ValueError("L and R must be finite")
        self.scale = check_positive(scale, "scale")
        # private, read-only copies (as DenseOperator keeps its matrix): the caller's
        # arrays edited later changed the operator under a problem's y
        L, R = np.array(L), np.array(R)
        L.setflags(write=False)
        R.setflags(write=False)
        self.L, self.R = L, R
        m, n1, n2 = L.shape[0], L.shape[1], R.shape[1]
        self.matrix_shape = (n1, n2)
        self.shape = (m, n1 * n2)
        self.dtype = np.result_type(L.dtype, R.dtype, np.float64)

    @property
    def is_complex(self) -> bool:
        return np.issubdtype(self.dtype, np.complexfloating)

    def _as_matrix(self, x: Any) -> np.ndarray:
        # by the shared check: any input of n1 n2 entries was reshaped, so a transposed
        # n2 x n1 matrix (or a batch of columns) was read row-major into a wrong answer
        return self._flat(_check_numeric_input(x, "x"), self.shape[1]).reshape(
            self.matrix_shape)

    def apply_matrix(self, W: np.ndarray) -> np.ndarray:
        W = _check_numeric_input(W, "W")
        if W.shape != self.matrix_shape:
            raise ValueError(f"W has shape {W.shape}, the operator expects {self.matrix_shape}")
        return self.matvec(W)

    def adjoint_matrix(self, r: np.ndarray) -> np.ndarray:
        return self.rmatvec(r).reshape(self.matrix_shape)

    def matvec(self, x):
        X = self._as_matrix(x)
        return self.scale * np.einsum("ij,ij->i", self.L @ X, self.R)

    def rmatvec(self, r):
        r = self._flat(_check_numeric_input(r, "r"), self.shape[0], matrix=False)
        out = self.scale * ((self.L.conj().T * r) @ self.R.conj())
        return out.reshape(-1)

    def jax_matvec(self, x):
        # checked as the NumPy map checks: a transposed n2 x n1 matrix was reshaped
        # row-major into a wrong answer
        X = self._jax_vector(x, self.shape[1], "x", matrix=True).reshape(self.matrix_shape)
        L, R, X = self._jax_common(X)
        return self.scale * jnp.sum((L @ X) * R, axis=1)

    def jax_rmatvec(self, r):
        L, R, r = self._jax_common(self._jax_vector(r, self.shape[0], "r"))
        return (self.scale * ((L.conj().T * r) @ R.conj())).reshape(-1)

    def _jax_common(self, v: Any) -> tuple[Any, Any, Any]:
        """The factors and ``v`` in one dtype (complex if either is, else float): under
        JAX's strict dtype promotion complex factors times a real input (and float64
        factors times float32 or integers) raised TypePromotionError."""
        dt = jnp.result_type(complex if self.is_complex or jnp.iscomplexobj(v) else float)
        return (jnp.asarray(self.L, dtype=dt), jnp.asarray(self.R, dtype=dt),
                v.astype(dt))

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        m, n = self.shape
        if m * n > max_entries:
            raise MemoryError(f"refusing to materialise a {m} x {n} operator")
        return self.scale * (self.L[:, :, None] * self.R[:, None, :]).reshape(m, n)

    def row_weighted_gram(self, b: np.ndarray) -> np.ndarray:
        """``Phi diag_rows(b) Phi^H`` (``m x m``) in ``O(m^2 (n1 + n2))``.

        ``diag_rows(b)`` scales row ``k`` of a matrix by ``b[k]``; the entry ``(i, j)`` is
        ``scale^2 (L_i^T diag(b) conj(L_j)) (R_i^T conj(R_j))``.
        """
        b = _row_weights(b, self.matrix_shape[0])
        return self.scale**2 * (((self.L * b) @ self.L.conj().T)
                                * (self.R @ self.R.conj().T))

    def as_linear_operator(self) -> spla.LinearOperator:
        return spla.LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.rmatvec,
                                   dtype=self.dtype)

    def dot_test(self, seed: int = 0) -> float:
        """Relative mismatch of ``<Phi x, r>`` and ``<x, Phi^H r>`` (complex-aware)."""
        rng = as_generator(seed)
        x = rng.standard_normal(self.shape[1])
        r = rng.standard_normal(self.shape[0]) + (
            1j * rng.standard_normal(self.shape[0]) if self.is_complex else 0.0)
        lhs = np.vdot(r, self.matvec(x))
        rhs = np.vdot(self.rmatvec(r), x)
        return float(abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300))


def _dense_operator(A: Any) -> np.ndarray:
    """``A`` as an ``m x (n1 n2)`` array: a stored matrix, ``to_dense()`` of an operator, a
    scipy.sparse matrix or a SciPy ``LinearOperator`` (applied to unit vectors), or an
    array-like."""
    Phi = getattr(A, "matrix", None)
    if Phi is None:
        if hasattr(A, "to_dense"):
            Phi = A.to_dense()
        elif sps.issparse(A):
            Phi = A.toarray()
        elif isinstance(A, spla.LinearOperator):
            m, n = A.shape
            dt = np.result_type(A.dtype, np.float64)
            # through the adjoint when it needs fewer products (and is defined)
            try:
                Phi = (A.H.matmat(np.eye(m, dtype=dt)).conj().T if m < n
                       else A.matmat(np.eye(n, dtype=dt)))
            except NotImplementedError:
                Phi = A.matmat(np.eye(n, dtype=dt))
        else:
            refuse_masked(A, "A")  # np.asarray dropped the mask: hidden entries measured
            Phi = A
    Phi = np.asarray(Phi)
    if Phi.dtype == bool:
        Phi = Phi.astype(np.float64)
    if not np.issubdtype(Phi.dtype, np.number):
        raise TypeError(
            f"unsupported operator {type(A).__name__}: pass a RankOneSensing, an overparam "
            "MatrixOperator (or any object with to_dense()), a numeric m x (n1 n2) array, a "
            "scipy.sparse matrix or a scipy.sparse.linalg.LinearOperator")
    return Phi


def _row_weights(b: Any, n1: int) -> np.ndarray:
    """Row weights ``b`` of a weighted Gram matrix: a real vector of ``n1`` entries. A
    column ``(m, 1)`` broadcast against the m x n1 factor and scaled the measurements
    instead of the rows (a wrong m x m matrix, no error)."""
    b = np.asarray(b)
    if b.dtype.kind not in "biuf" or b.shape != (n1,):
        raise ValueError(f"b must be a real vector of n1 = {n1} row weights, got shape "
                         f"{b.shape} and dtype {b.dtype}")
    return b.astype(np.float64, copy=False)


class MatrixMeasurements:
    """A matrix operator ``Phi`` seen by the row-sparse / low-rank solvers.

    Dense operators (a stored Gaussian sensing matrix, any array, operator with
    ``to_dense()``, scipy.sparse matrix or SciPy ``LinearOperator``, all materialized) are
    held as the ``m x (n1 n2)`` array, which must be finite; :class:`RankOneSensing` keeps
    its factors, so that the maps below cost ``O(m (n1 + n2) r)`` instead of
    ``O(m n1 n2 r)``.

    Parameters
    ----------
    A : operator or ndarray
        ``m x (n1 n2)`` on row-major ``vec``; real or complex.
    shape : tuple of int
        ``(n1, n2)``.
    """

    def __init__(self, A: Any, shape: tuple[int, int]):
        self.n1, self.n2 = check_matrix_shape(shape)
        self.rank_one = hasattr(A, "row_weighted_gram") and hasattr(A, "L")
        if self.rank_one:
            if A.L.shape[1] != self.n1 or A.R.shape[1] != self.n2:
                raise ValueError(f"the rank-one operator acts on {A.L.shape[1]} x "
                                 f"{A.R.shape[1]} matrices, not on {self.n1} x {self.n2}")
            self.L, self.R, self.scale = A.L, A.R, float(A.scale)
            self.m = A.L.shape[0]
            self.dtype = np.result_type(A.L.dtype, A.R.dtype, np.float64)
        else:
            Phi = _dense_operator(A)
            if Phi.ndim != 2 or Phi.shape[1] != self.n1 * self.n2:
                raise ValueError(f"the operator has shape {Phi.shape}, expected m x "
                                 f"{self.n1 * self.n2} for {self.n1} x {self.n2} matrices")
            if not np.all(np.isfinite(Phi)):
                bad = int(Phi.size - np.count_nonzero(np.isfinite(Phi)))
                raise ValueError(f"the operator contains {bad} non-finite entries "
                                 "(NaN or inf)")
            self.Phi = Phi
            self.m = Phi.shape[0]
            self.dtype = np.result_type(Phi.dtype, np.float64)

    def take_rows(self, rows: np.ndarray) -> "MatrixMeasurements":
        """The measurements ``rows`` only (a rank-one operator stays matrix-free)."""
        shape = (self.n1, self.n2)
        if self.rank_one:
            return MatrixMeasurements(RankOneSensing(self.L[rows], self.R[rows], self.scale),
                                      shape)
        return MatrixMeasurements(self.Phi[rows], shape)

    def rescaled(self, f: int) -> "MatrixMeasurements":
        """The operator ``2**-f Phi`` (exact; ``self`` for ``f = 0``), e.g. with ``2**f`` the
        root-mean-square gain, for a solver whose steps assume a gain of about 1."""
        if f == 0:
            return self
        shape = (self.n1, self.n2)
        if self.rank_one:
            return MatrixMeasurements(RankOneSensing(self.L, self.R,
                                                     math.ldexp(self.scale, -f)), shape)
        return MatrixMeasurements(ldexp_array(self.Phi, -f), shape)

    @cached_property
    def fro_norm(self) -> float:
        """``||Phi||_F`` (``O(m (n1 + n2))`` for rank-one operators), without under- or
        overflow: squared entries gave 0 for an operator of size ~1e-200 and inf at
        ~1e200, and :meth:`signal_scale` (which divides by it) 0 in both cases."""
        if self.rank_one:
            # ||Phi_i||_F = scale ||L_i|| ||R_i||: each factor brought to unit size by a
            # power of two, the exponents added
            lr, rr = safe_norm(self.L, axis=1), safe_norm(self.R, axis=1)
            ea, eb = int(pow2_exponent(lr.max())), int(pow2_exponent(rr.max()))
            t = safe_norm(np.ldexp(lr, -ea) * np.ldexp(rr, -eb))
            mant, es = math.frexp(self.scale)
            return float(np.ldexp(mant * t, es + ea + eb))
        return safe_norm(self.Phi)

    def signal_scale(self, y: np.ndarray) -> float:
        """``||y|| sqrt(n1 n2) / ||Phi||_F``: the Frobenius norm of a matrix whose
        measurements have norm ``||y||`` under the root-mean-square gain
        ``||Phi||_F / sqrt(n1 n2)`` of the operator. It scales like the data, and for the
        operators of :func:`lrrs_problem` (``E ||Phi(X)||^2 = ||X||_F^2``) it estimates
        ``||X*||_F`` (to about 5% at ``m = 1125``, 15% at ``m = 168``). 0 for ``y = 0``."""
        fro = self.fro_norm
        if fro == 0:
            return 0.0
        return safe_norm(y) * math.sqrt(self.n1 * self.n2) / fro

    @cached_property
    def Mc(self) -> np.ndarray:  # noqa: N802
        """``Phi^H e_i`` as ``n1 x n2`` matrices, shape ``(m, n1, n2)`` (dense operators)."""
        return self.Phi.conj().reshape(self.m, self.n1, self.n2)

    def dense(self) -> np.ndarray:
        """``Phi`` as an ``m x (n1 n2)`` array (row-major ``vec``)."""
        if self.rank_one:
            return self.scale * (self.L[:, :, None] * self.R[:, None, :]).reshape(self.m, -1)
        return self.Phi

    def forward(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """``Phi(X)``; ``rows`` (optional) lists the rows of ``X`` that may be nonzero, and
        the product then reads only their columns of ``Phi`` (a thresholding solver's
        iterate touches ``s`` of the ``n1`` row blocks)."""
        if self.rank_one:
            if rows is not None:
                return self.scale * np.einsum("ij,ij->i", self.L[:, rows] @ X[rows], self.R)
            return self.scale * np.einsum("ij,ij->i", self.L @ X, self.R)
        if rows is not None and 2 * len(rows) <= self.n1:
            # one m x n2 product per row block, strided through Phi: ~5x faster than the
            # full product at s = n1 / 4
            Phi3 = self.Phi.reshape(self.m, self.n1, self.n2)
            out = np.zeros(self.m, dtype=np.result_type(self.Phi, X))
            for k in rows:
                out += Phi3[:, k, :] @ X[k]
            return out
        return self.Phi @ X.reshape(-1)

    def adjoint(self, z: np.ndarray) -> np.ndarray:
        if self.rank_one:
            return self.scale * ((self.L.conj().T * z) @ self.R.conj())
        return (self.Phi.conj().T @ z).reshape(self.n1, self.n2)

    @cached_property
    def Mt(self) -> np.ndarray:  # noqa: N802
        """``Mc`` laid out as ``(n1, m n2)``: row ``k`` holds row ``k`` of every ``M_i``."""
        return np.ascontiguousarray(self.Mc.transpose(1, 0, 2)).reshape(self.n1, -1)

    def gram(self, b: np.ndarray) -> np.ndarray:
        """``Phi diag_rows(b) Phi^H`` (``b >= 0``; one rank-k update for dense operators)."""
        b = _row_weights(b, self.n1)
        if self.rank_one:
            return self.scale**2 * (((self.L * b) @ self.L.conj().T)
                                    * (self.R @ self.R.conj().T))
        A = self.Phi * np.repeat(np.sqrt(b), self.n2)
        if A.dtype == np.float64:
            C = sla.blas.dsyrk(1.0, A.T, trans=1)           # upper triangle of A A^T
            return np.triu(C) + np.triu(C, 1).T
        return A @ A.conj().T

    def left_map(self, V: np.ndarray) -> np.ndarray:
        """The ``m x (n1 r)`` matrix of ``Z -> Phi(Z V^T)`` on row-major ``vec(Z)``."""
        r = V.shape[1]
        if self.rank_one:
            return (self.scale * self.L[:, :, None] * (self.R @ V)[:, None, :]).reshape(
                self.m, self.n1 * r)
        return (self.Phi.reshape(self.m, self.n1, self.n2) @ V).reshape(self.m, -1)

    def right_map(self, U: np.ndarray) -> np.ndarray:
        """The ``m x (n2 r)`` matrix of ``Z -> Phi(U Z^T)`` on row-major ``vec(Z)``."""
        r = U.shape[1]
        if self.rank_one:
            return (self.scale * self.R[:, :, None] * (self.L @ U)[:, None, :]).reshape(
                self.m, self.n2 * r)
        Phi3 = self.Phi.reshape(self.m, self.n1, self.n2)
        return (np.swapaxes(Phi3, 1, 2) @ U).reshape(self.m, -1)


def lrrs_inputs(problem: Any, y: Any = None, shape: tuple[int, int] | None = None,
                rank: Any = None, s: Any = None):
    """Validated inputs of a row-sparse / low-rank solver.

    Parameters
    ----------
    problem : Problem or operator
        A matrix :class:`Problem` (then ``y`` must be None; ``rank`` and ``s`` default to
        ``problem.info``) or an ``m x (n1 n2)`` operator (anything
        :class:`MatrixMeasurements` takes) with measurements ``y``.
    y : array of shape (m,), optional
        The measurements (finite), when ``problem`` is an operator.
    shape : tuple of int, optional
        ``(n1, n2)``; needed when the operator has no ``matrix_shape``, and must agree
        with it otherwise.
    rank : int, optional
        ``1 <= rank <= min(n1, n2)``; default ``info["rank"]`` (TypeError without one).
    s : int, optional
        Row sparsity, ``1 <= s <= n1``; default ``info["s"]``, else ``n1``.

    Returns
    -------
    tuple
        ``(meas, y, n1, n2, rank, s, X_true)`` with ``meas`` a
        :class:`MatrixMeasurements` and ``X_true`` (``n1 x n2``) None when unknown.
    """
    from .._core import check_finite_array
    from .matrix import matrix_shape_of

    if isinstance(problem, Problem):
        if y is not None:
            raise TypeError("pass either a Problem or (A, y), not both")
        A, yv, info = problem.A, problem.y, problem.info
    else:
        A, info = problem, {}
        yv = check_finite_array(y, "y", ndim=1)
    own = getattr(A, "matrix_shape", None)
    if own is None and isinstance(problem, Problem):
        # the shape a Problem records in info (a dense operator has none of its own):
        # a transposed shape=(n2, n1) was taken against it
        own = info.get("matrix_shape")
    if shape is None:
        shape = matrix_shape_of(A if not isinstance(problem, Problem) else problem,
                                shape_arg=True)
    # a pair of integers: a 3-tuple was cut to two entries, shape=60 failed in NumPy
    shape = check_matrix_shape(shape)
    if own is not None and shape != tuple(own):
        # a transposed shape has the same number of entries but reads vec(X) wrongly
        raise ValueError(f"shape={shape} contradicts the operator's matrix_shape "
                         f"{tuple(own)}")
    n1, n2 = shape
    rank = info.get("rank") if rank is None else rank
    s = info.get("s", n1) if s is None else s
    if rank is None:
        raise TypeError("rank is required (the problem does not record one)")
    rank, s = check_int(rank, "rank", minimum=1), check_int(s, "s", minimum=1)
    if rank > min(n1, n2):
        raise ValueError(f"rank = {rank} exceeds min(n1, n2) = {min(n1, n2)}")
    if s > n1:
        raise ValueError(f"s = {s} exceeds the number of rows n1 = {n1}")
    meas = MatrixMeasurements(A, (n1, n2))
    if yv.shape != (meas.m,):
        raise ValueError(f"y has shape {yv.shape}, the operator has {meas.m} rows")
    x_true = getattr(problem, "x_true", None)
    Xt = None if x_true is None else np.asarray(x_true).reshape(n1, n2)
    return meas, yv, n1, n2, rank, s, Xt


# ---------------------------------------------------------------- sizes
def lrrs_dof(n2: int, rank: int, s: int) -> int:
    """Degrees of freedom ``r (s + n2 - r)`` of an ``s``-row-sparse rank-``r`` matrix
    with ``n2`` columns (the count used by Kuemmerle & Maly for ``m``).

    Parameters
    ----------
    n2 : int
        Number of columns (>= 1).
    rank : int
        The rank r (>= 1).
    s : int
        Number of nonzero rows (>= 1).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``rank > min(s, n2)`` (no such matrix).
    """
    n2, rank, s = (check_int(n2, "n2", minimum=1), check_int(rank, "rank", minimum=1),
                   check_int(s, "s", minimum=1))
    if rank > min(s, n2):
        # the count is a dimension only for r <= min(s, n2): lrrs_dof(5, 10, 3) was -20,
        # and lrrs_measurements(..., oversampling=2) then asked for m = 1
        raise ValueError(f"rank = {rank} exceeds min(s, n2) = {min(s, n2)}: an "
                         "s-row-sparse matrix has rank at most min(s, n2)")
    return rank * (s + n2 - rank)


def lrrs_measurements(n2: int, rank: int, s: int, m: int | None = None,
                      oversampling: float | None = None) -> int:
    """``m`` given directly, or ``ceil(oversampling * r (s + n2 - r))``.

    Parameters
    ----------
    n2, rank, s : int
        Columns, rank and row sparsity of the truth (see :func:`lrrs_dof`).
    m : int, optional
        Number of measurements (>= 1), returned as is.
    oversampling : float, optional
        ``> 0``: multiple of the degrees of freedom :func:`lrrs_dof` (at least 1
        measurement). Give exactly one of ``m`` and ``oversampling``.

    Returns
    -------
    int
    """
    if (m is None) == (oversampling is None):
        raise TypeError("give exactly one of m and oversampling")
    if m is not None:
        return check_int(m, "m", minimum=1)
    rho = check_positive(oversampling, "oversampling")
    return max(1, int(math.ceil(rho * lrrs_dof(n2, rank, s) - 1e-9)))


def _check_sizes(n1: Any, n2: Any, rank: Any, s: Any) -> tuple[int, int, int, int]:
    n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
    rank, s = check_int(rank, "rank", minimum=1), check_int(s, "s", minimum=1)
    if s > n1:
        raise ValueError(f"s = {s} exceeds the number of rows n1 = {n1}")
    if rank > min(s, n2):
        raise ValueError(f"rank = {rank} exceeds min(s, n2) = {min(s, n2)}: an s-row-sparse "
                         "matrix has rank at most min(s, n2)")
    return n1, n2, rank, s


def lrrs_guesses(problem: Any, rank: int | None = None, s: int | None = None,
                 fac_r: float = 1.0, fac_s: float = 1.0) -> tuple[int, int]:
    """Rank and row-sparsity guesses handed to a solver: given values, else
    ``floor(fac_r * rank)`` and ``floor(fac_s * s)`` of the problem's truth (``info``),
    capped at ``min(n1, n2)`` and ``n1`` (misspecification as in Kuemmerle & Maly: 1.5 s
    and 2 r). Without a recorded ``s`` the guess is ``n1`` (no row sparsity); without a
    recorded rank, ``rank`` must be given (TypeError, as in the solvers).

    Parameters
    ----------
    problem : Problem or MatrixOperator
        A matrix problem (see :func:`~overparam.problems.matrix_shape_of`).
    rank : int, optional
        Rank guess, returned unchanged (not checked or capped) when given.
    s : int, optional
        Row-sparsity guess, returned unchanged when given.
    fac_r, fac_s : float, optional
        Factors (> 0, default 1) applied to the recorded rank and row sparsity.

    Returns
    -------
    tuple of int
        ``(rank, s)``.
    """
    from .matrix import matrix_shape_of

    n1, n2 = matrix_shape_of(problem, shape_arg=False)
    info = getattr(problem, "info", {}) or {}
    fac_r, fac_s = check_positive(fac_r, "fac_r"), check_positive(fac_s, "fac_s")
    if rank is None:
        if info.get("rank") is None:
            raise TypeError("rank is required (the problem does not record one)")
        rank = max(1, min(int(math.floor(fac_r * info["rank"])), min(n1, n2)))
    if s is None:
        s = max(1, min(int(math.floor(fac_s * info.get("s", n1))), n1))
    return rank, s


# ---------------------------------------------------------------- ground truth
def row_sparse_low_rank_matrix(
    n1: int, n2: int, rank: int, s: int, *, seed: int | np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The ground truth of Kuemmerle & Maly: ``X = U diag(z) V^T / ||U diag(z) V^T||_F``.

    ``s`` rows chosen uniformly at random carry ``U`` (i.i.d. ``N(0, 1)``, ``s x r``);
    ``V`` is ``n2 x r`` i.i.d. ``N(0, 1)``; ``z ~ N(0, I_r)`` (signs allowed).

    Parameters
    ----------
    n1, n2 : int
        Shape.
    rank : int
        ``1 <= rank <= min(s, n2)``.
    s : int
        Number of nonzero rows, ``1 <= s <= n1``.
    seed : int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n1, n2)
        Unit Frobenius norm, rank ``rank`` (almost surely), ``s`` nonzero rows.
    support : ndarray of int
        The sorted indices of the nonzero rows.
    """
    n1, n2, rank, s = _check_sizes(n1, n2, rank, s)
    rng = as_generator(seed)
    support = np.sort(rng.choice(n1, size=s, replace=False))
    U = rng.standard_normal((s, rank))
    V = rng.standard_normal((n2, rank))
    z = rng.standard_normal(rank)
    X = np.zeros((n1, n2))
    X[support] = (U * z) @ V.T
    X /= np.linalg.norm(X)
    return X, support


# ---------------------------------------------------------------- operators
def gaussian_rank_one(n1: int, n2: int, m: int,
                      seed: int | np.random.Generator) -> RankOneSensing:
    """Gaussian rank-one measurements ``y_i = a_i^T X b_i / sqrt(m)`` (matrix-free).

    Parameters
    ----------
    n1, n2 : int
        Matrix shape (each >= 1).
    m : int
        Number of measurements (>= 1).
    seed : int or numpy.random.Generator
        Source of ``a_i ~ N(0, I_n1)`` and ``b_i ~ N(0, I_n2)``.

    Returns
    -------
    RankOneSensing
    """
    n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
    m = check_int(m, "m", minimum=1)
    rng = as_generator(seed)
    A = rng.standard_normal((m, n1))
    B = rng.standard_normal((m, n2))
    return RankOneSensing(A, B, scale=1.0 / math.sqrt(m))


def fourier_rank_one(n1: int, n2: int, m: int,
                     seed: int | np.random.Generator) -> RankOneSensing:
    """"Fourier" rank-one measurements of Kuemmerle & Maly (complex, matrix-free).

    ``FA = F A / sqrt(m)``, ``FB = F B / sqrt(m)`` with Gaussian ``A`` (``m x n1``),
    ``B`` (``m x n2``) and the ``m x m`` DFT ``F`` (applied by FFT), and
    ``y_i = FA_i^T X conj(FB_i) / sqrt(m)``.

    Parameters
    ----------
    n1, n2 : int
        Matrix shape (each >= 1).
    m : int
        Number of measurements (>= 1), also the DFT size.
    seed : int or numpy.random.Generator
        Source of ``A`` and ``B``.

    Returns
    -------
    RankOneSensing
        With complex factors (complex measurements).
    """
    n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
    m = check_int(m, "m", minimum=1)
    rng = as_generator(seed)
    A = rng.standard_normal((m, n1))
    B = rng.standard_normal((m, n2))
    FA = np.fft.fft(A, axis=0) / math.sqrt(m)
    FB = np.fft.fft(B, axis=0) / math.sqrt(m)
    return RankOneSensing(FA, FB.conj(), scale=1.0 / math.sqrt(m))


def _operator(name: str, n1: int, n2: int, m: int, rng: np.random.Generator,
              matrix_free: bool | str) -> MatrixOperator:
    if name == "gaussian":
        return GaussianSensing(n1, n2, m, rng, matrix_free=matrix_free)
    if name == "gaussian_rank_one":
        return gaussian_rank_one(n1, n2, m, rng)
    if name == "fourier_rank_one":
        return fourier_rank_one(n1, n2, m, rng)
    raise ValueError(f"operator must be one of {OPERATORS}, got {name!r}")


def lrrs_problem(
    n1: int,
    n2: int,
    rank: int,
    s: int,
    m: int | None = None,
    *,
    oversampling: float | None = None,
    operator: str = "gaussian",
    snr: float | None = None,
    matrix_free: bool | str = "auto",
    seed: int | np.random.Generator,
) -> Problem:
    """Recovery of a row-sparse, low-rank matrix from linear measurements.

    Parameters
    ----------
    n1, n2, rank, s : int
        Shape, rank and number of nonzero rows of the truth
        (:func:`row_sparse_low_rank_matrix`).
    m : int, optional
        Number of measurements. Give exactly one of ``m`` and ``oversampling``.
    oversampling : float, optional
        ``m = ceil(oversampling * r (s + n2 - r))`` (see :func:`lrrs_measurements`).
    operator : {"gaussian", "gaussian_rank_one", "fourier_rank_one"}
        Measurement operator (all scaled by ``1/sqrt(m)``).
    snr : float, optional
        Signal-to-noise ratio: ``y = Phi(X*) + sigma g`` with ``g ~ N(0, I_m)`` and
        ``sigma = sqrt(||Phi(X*)||^2 / (m snr))`` (real noise; the paper's Fig. 7 model).
        ``None`` or ``inf``: noiseless.
    matrix_free : bool or "auto"
        For the dense Gaussian operator (see :class:`GaussianSensing`).
    seed : int or numpy.random.Generator

    Returns
    -------
    Problem
        ``x_true = vec(X*)`` (row-major), ``info`` with ``matrix_shape``, ``rank``, ``s``,
        ``support``, ``m``, ``dof``, ``oversampling``, ``operator`` and ``snr``.

    Examples
    --------
    >>> p = lrrs_problem(64, 10, 2, 8, oversampling=3.0, seed=0)
    >>> p.m, p.info["dof"]
    (96, 32)
    """
    n1, n2, rank, s = _check_sizes(n1, n2, rank, s)
    # checked for every operator: only the Gaussian one uses it, so a typo like "yes" went
    # unnoticed with the rank-one operators
    check_matrix_free(matrix_free)
    if operator not in OPERATORS:
        raise ValueError(f"operator must be one of {OPERATORS}, got {operator!r}")
    m = lrrs_measurements(n2, rank, s, m=m, oversampling=oversampling)
    rng = as_generator(seed)
    X, support = row_sparse_low_rank_matrix(n1, n2, rank, s, seed=rng)
    A = _operator(operator, n1, n2, m, rng, matrix_free)
    y = A.matvec(X.reshape(-1))
    sigma = 0.0
    # only +inf means noiseless: -inf passed as noiseless too, and a NumPy float32 inf was
    # refused as not finite while float("inf") was accepted
    # a 0-d array is its scalar, as check_positive reads it (np.array(inf) was refused)
    snr = _scalar_of(snr)
    if snr is not None and not (isinstance(snr, numbers.Real) and snr == math.inf):
        snr = check_positive(snr, "snr")
        # two square roots: m * snr underflowed for snr below ~1e-300 (sigma = inf, and
        # "y contains non-finite values" although sigma ~1e155 is finite)
        sigma = safe_norm(y) / math.sqrt(m) / math.sqrt(snr)
        y = y + sigma * rng.standard_normal(m)
    dof = lrrs_dof(n2, rank, s)
    info = dict(generator="lrrs_problem", matrix_shape=(n1, n2), n1=n1, n2=n2, rank=rank,
                s=s, support=support.tolist(), m=m, dof=dof, oversampling=m / dof,
                operator=operator, snr=None if sigma == 0.0 else float(snr))
    return Problem(A, y, x_true=X.reshape(-1), noise=sigma, info=info)
