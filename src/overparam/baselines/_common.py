"""Shared plumbing of the baselines: input coercion, matrix materialisation, timing."""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse

from .._core import check_finite_array, check_not_complex, pow2_exponent, safe_norm
from ..problems import LinearOperatorAdapter, Problem, as_problem

#: Largest operator (rows x columns) a baseline materialises as a dense matrix.
MAX_DENSE_ENTRIES = 50_000_000


def setup(A: Any, y: Any) -> Problem:
    """A validated Problem from ``(A, y)`` or a Problem (then ``y`` must be omitted).

    Shape mismatches, NaN/inf in ``y`` or in a dense ``A``, and empty systems raise
    ``ValueError`` here (through ``Problem``'s checks); a complex ``y`` raises
    ``TypeError``.
    """
    problem = as_problem(A, y)
    # Problem keeps a complex y; every baseline is real (LP, coordinate descent, NNLS) and
    # its solver would cast y to float, silently dropping the imaginary part.
    check_not_complex(problem.y, "y")
    return problem


def matrix_of(
    problem: Problem, *, who: str, sparse_ok: bool = False, alternative: str = ""
) -> np.ndarray | scipy.sparse.csr_array:
    """The explicit matrix of ``problem.A`` (a SciPy sparse array when allowed and given).

    Dense operators are returned as they are; SciPy sparse inputs stay sparse when
    ``sparse_ok``; any other operator is materialised column by column, refusing more than
    ``MAX_DENSE_ENTRIES`` entries with a ``ValueError`` that names ``who`` and the
    matrix-free ``alternative``.
    """
    op = problem.A
    if op.is_dense:
        return op.to_dense()
    inner = getattr(op, "linop", None) if isinstance(op, LinearOperatorAdapter) else None
    inner = getattr(inner, "A", None)
    if inner is not None and scipy.sparse.issparse(inner):
        mat = scipy.sparse.csr_array(inner, dtype=np.float64)
        if not np.all(np.isfinite(mat.data)):
            raise ValueError("A contains non-finite value(s) (NaN or inf)")
        if sparse_ok:
            return mat
        _check_size(op.shape, who, alternative)
        return mat.toarray()
    _check_size(op.shape, who, alternative)
    dense = op.to_dense(max_entries=MAX_DENSE_ENTRIES)
    return check_finite_array(dense, "A (materialised from the operator)", ndim=2)


def column_norms(M: Any) -> np.ndarray:
    """``||M[:, j]||_2`` for every column of a dense array or SciPy sparse matrix, without
    the under/overflow of squared entries beyond ~1e+-154 and without a copy of ``M`` for
    ordinary data (the squares are summed in place; only columns whose sum of squares
    left the safe range are redone with :func:`safe_norm`)."""
    if scipy.sparse.issparse(M):
        C = scipy.sparse.csc_array(M, dtype=np.float64)
        C.sum_duplicates()
        n = C.shape[1]
        col = np.repeat(np.arange(n), np.diff(C.indptr))
        data = np.abs(C.data)
        top = np.zeros(n)
        np.maximum.at(top, col, data)
        e = pow2_exponent(top)  # one power of two per column: exact
        scaled = np.ldexp(data, -e[col])
        return np.ldexp(np.sqrt(np.bincount(col, weights=scaled * scaled, minlength=n)), e)
    M = np.asarray(M, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        sq = np.einsum("ij,ij->j", M, M)
    # below 2**-960 the squares of the column's entries may be subnormal (digits lost) or
    # 0; above 2**960 the sum may overflow
    bad = ~((sq >= 2.0**-960) & (sq <= 2.0**960))
    out = np.sqrt(sq)
    if bad.any():
        out[bad] = safe_norm(M[:, bad], axis=0)
    return out


def column_scales(op: Any) -> np.ndarray:
    """The scales ``d`` of the NNLS certificate (:func:`.projected_gradient.kkt_residual`):
    the column norms ``||A e_j||`` of an explicit matrix (a dense operator, or a SciPy
    sparse matrix or array behind a LinearOperator), else ``||A||_2`` for every column (a
    matrix-free operator's column norms would cost ``n`` products)."""
    if op.is_dense:
        return column_norms(op.to_dense())
    inner = getattr(getattr(op, "linop", None), "A", None)
    if inner is not None and (scipy.sparse.issparse(inner) or isinstance(inner, np.ndarray)):
        return column_norms(inner)
    return np.full(op.shape[1], float(op.norm2))


def _check_size(shape: tuple[int, int], who: str, alternative: str) -> None:
    m, n = shape
    if m * n > MAX_DENSE_ENTRIES:
        hint = f"; {alternative}" if alternative else ""
        raise ValueError(
            f"{who} needs A as an explicit matrix, but A is a {m} x {n} operator "
            f"(more than {MAX_DENSE_ENTRIES:,} entries){hint}"
        )


def max_abs_divisor(v: Any) -> float:
    """``max|v|`` where that is a usable divisor (positive and finite), else 1.0 (all-zero,
    empty, inf or NaN ``v``): the scale a solver divides data by before absolute tests."""
    top = float(np.abs(v).max()) if np.size(v) else 0.0
    return top if 0.0 < top < np.inf else 1.0


def pow2_divisor(v: float, lo: float = 2.0**-100, hi: float = 2.0**100) -> float:
    """A power of two near ``v`` when ``v`` lies outside ``[lo, hi]`` (a solver then works
    on data divided by it: exact, so the scaled run is the unscaled one to the bit wherever
    that neither under- nor overflows), else 1.0 (ordinary data are neither copied nor
    changed); 1.0 for 0, inf or NaN."""
    if not 0.0 < v < np.inf or lo <= v <= hi:
        return 1.0
    return float(np.ldexp(1.0, int(pow2_exponent(v))))


def nonneg_farkas(problem: Any, x: np.ndarray) -> bool:
    """Whether the residual ``r = Ax - y`` at ``x >= 0`` certifies that no ``z >= 0`` of
    moderate l1 norm solves ``Az = y`` (a Farkas certificate, up to a margin).

    Any feasible ``z >= 0`` gives ``<y, r> = <z, A^T r> >= -||z||_1 max(-A^T r)_+``, so
    ``-<y, r> > R max(-A^T r)_+`` rules out feasible points with ``||z||_1 <= R``; here
    ``R = 1e3 (||x||_1 + ||y||^2 / ||A^T y||_inf)`` (the second term is a lower bound on the
    l1 norm of any solution of ``Ax = y``). At a non-negative least-squares minimizer of an
    infeasible problem ``-<y, r> = ||r||^2`` and ``A^T r >= 0``: certified. A KKT test alone
    also passes at points that nearly solve ``Ax = y`` (residual ~1e-6, so the gradient is
    tiny too), which read as "infeasible" for feasible problems. Computed in units of
    ``y / max|y|`` (products of tiny or huge entries under- or overflow otherwise).
    """
    s = max_abs_divisor(problem.y)
    yn = problem.y / s
    rn = problem.residual(x) / s
    g = problem.A.rmatvec(rn)
    aty = problem.A.rmatvec(yn)
    yr = float(yn @ rn)
    g_neg = float(np.maximum(-g, 0.0).max(initial=0.0))
    aty_inf = float(np.abs(aty).max(initial=0.0))
    radius = float(np.abs(x / s).sum()) + (float(yn @ yn) / aty_inf if aty_inf > 0 else 0.0)
    # (a rounding margin on <y, r>, computed from O(1) vectors)
    margin = 1e-13 * float(np.linalg.norm(yn)) * float(np.linalg.norm(rn))
    return bool(-yr > 1e3 * radius * g_neg + margin)


def operator_gain(op: Any) -> float:
    """``||A v|| / ||v||`` for a fixed standard normal ``v``: a scale of ``A`` for one
    product (``||A||_2`` costs a Lanczos run, which fails for entries ~ 1e-200), computed
    without squaring tiny or huge entries; 0.0 when ``A v`` is zero or not finite."""
    v = np.random.default_rng(0).standard_normal(op.shape[1])
    w = np.asarray(op.matvec(v))
    top = float(np.abs(w).max()) if w.size else 0.0
    if not 0.0 < top < np.inf:
        return 0.0
    return top * float(np.linalg.norm(w / top)) / float(np.linalg.norm(v))
