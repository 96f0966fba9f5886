"""Linear measurement operators with a forward map, an adjoint, and JAX-traceable versions.

Every operator offers the same four maps so that host-side solvers (NumPy/SciPy) and the
jitted dynamics (JAX) see one object:

* ``matvec(x)`` / ``rmatvec(r)``: NumPy, for baselines and limits;
* ``jax_matvec(x)`` / ``jax_rmatvec(r)``: traceable by ``jax.jit``/``vmap``/``grad``.
"""
from __future__ import annotations

import os
from functools import cached_property
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.fft
import scipy.sparse
import scipy.sparse.linalg as spla

from .._core import (as_generator, check_finite_array, check_int, ldexp_array,
                     nearest_pow2_exponent, safe_norm)
from .._core.checks import refuse_masked


class Operator:
    """Base class: an ``m x n`` real linear operator.

    Subclasses implement ``matvec``, ``rmatvec``, ``jax_matvec`` and ``jax_rmatvec``.
    """

    shape: tuple[int, int]

    # -- maps -------------------------------------------------------------------------
    def matvec(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def rmatvec(self, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def jax_matvec(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError(self._no_jax("jax_matvec"))

    def jax_rmatvec(self, r: jax.Array) -> jax.Array:
        raise NotImplementedError(self._no_jax("jax_rmatvec"))

    def _no_jax(self, name: str) -> str:
        # (a bare NotImplementedError reached the user of projected_gradient with no text)
        return (f"{type(self).__name__} does not implement {name}, which the JAX solvers "
                "need for a matrix-free operator: implement jax_matvec and jax_rmatvec, or "
                "wrap it as LinearOperatorAdapter(op.as_linear_operator()) to run its NumPy "
                "maps through host callbacks")

    # -- derived ----------------------------------------------------------------------
    @property
    def is_dense(self) -> bool:
        return False

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        """The matrix, materialised by applying the operator (or its adjoint, whichever
        takes fewer products) to unit vectors one at a time."""
        return self._materialise(self.shape[0] < self.shape[1], max_entries)

    def _materialise(self, by_rows: bool, max_entries: int) -> np.ndarray:
        """``to_dense`` by rows (``A^T e_i``) or by columns (``A e_i``)."""
        m, n = self.shape
        if m * n > max_entries:
            raise MemoryError(
                f"refusing to materialise a {m} x {n} operator (> {max_entries} entries)"
            )
        apply, k = (self.rmatvec, m) if by_rows else (self.matvec, n)
        out = np.empty((m, n))
        lines = out if by_rows else out.T  # lines[i]: row A^T e_i, or column A e_i
        e = np.zeros(k)
        for i in range(k):
            e[i] = 1.0
            lines[i] = apply(e)
            e[i] = 0.0
        return out

    def as_linear_operator(self) -> spla.LinearOperator:
        """A SciPy ``LinearOperator`` view (for SciPy solvers)."""
        m, n = self.shape

        # SciPy hands ``matvec`` vectors of shape (n,) *or* (n, 1) (its default ``matmat``,
        # used by ``svds`` and ``@``, passes columns as (n, 1)); the maps here take 1-D
        # vectors, so flatten on the way in and out
        def mv(v: np.ndarray) -> np.ndarray:
            return np.asarray(self.matvec(np.asarray(v).reshape(-1))).reshape(m)

        def rmv(v: np.ndarray) -> np.ndarray:
            return np.asarray(self.rmatvec(np.asarray(v).reshape(-1))).reshape(n)

        def mm(X: np.ndarray) -> np.ndarray:
            return np.column_stack([mv(col) for col in np.asarray(X).T]).reshape(m, -1)

        def rmm(X: np.ndarray) -> np.ndarray:
            return np.column_stack([rmv(col) for col in np.asarray(X).T]).reshape(n, -1)

        return spla.LinearOperator(
            self.shape, matvec=mv, rmatvec=rmv, matmat=mm, rmatmat=rmm, dtype=np.float64
        )

    @cached_property
    def norm2(self) -> float:
        """Spectral norm ||A||_2 (exact SVD when dense and small, else Lanczos to 1e-8).

        Lanczos runs on ``A / 2**e`` with ``2**e`` an estimate of ``||A||``, scaled back:
        on ``A`` itself, ``A^T A`` under/overflows for entries beyond ~1e+-154 (ARPACK
        error -9, "starting vector is zero", at 1e-200; error -9999 at 1e200)."""
        m, n = self.shape
        if self.is_dense and m * n <= 250_000:
            return float(np.linalg.norm(self.to_dense(), 2))
        if min(m, n) == 1:
            # one row or column: its Euclidean norm (numpy's squares the entries)
            return safe_norm(self.to_dense())
        e = self._norm_exponent()
        if e is None:
            return 0.0
        # A / 2**e as 2**k_out * A(2**k_in x): the split keeps A's input and output away
        # from the ends of the float range (exact: powers of two)
        k_in = -(e // 2)
        k_out = -e - k_in
        lo = self.as_linear_operator()

        def scaled(f: Callable[[np.ndarray], np.ndarray]
                   ) -> Callable[[np.ndarray], np.ndarray]:
            # ldexp_array: complex operators (e.g. Fourier rank-one sensing) stay complex
            return lambda x: ldexp_array(f(ldexp_array(x, k_in)), k_out)

        b = spla.LinearOperator(self.shape, matvec=scaled(lo.matvec),
                                rmatvec=scaled(lo.rmatvec), matmat=scaled(lo.matmat),
                                rmatmat=scaled(lo.rmatmat), dtype=lo.dtype)
        s = spla.svds(b, k=1, return_singular_vectors=False, random_state=0, tol=1e-8)
        return float(np.ldexp(float(s[0]), e))

    def _norm_exponent(self) -> int | None:
        """``e`` with ``2**e`` near ``||A v||`` for a random unit ``v`` (at most ``||A||``,
        and within a modest factor of it for almost every ``v``); None when ``A v = 0``
        (then ``A = 0`` with probability one)."""
        v = as_generator(0).standard_normal(self.shape[1])
        v /= np.linalg.norm(v)
        zero = True
        # shift the input by 2**shift when A v over- or underflows (or lands among the
        # imprecise subnormals)
        for shift in (0, -256, 960):
            y = np.asarray(self.matvec(np.ldexp(v, shift)))
            top = float(np.max(np.abs(y), initial=0.0))
            if 2.0**-900 < top < np.inf:
                return nearest_pow2_exponent(safe_norm(y)) - shift
            zero = zero and top == 0.0
        if zero:
            return None
        raise ValueError(f"cannot estimate the norm of {self!r}: A v is not finite for "
                         f"any scaling of a random unit vector v")

    def dot_test(self, seed: int = 0) -> float:
        """Relative mismatch of <Ax, r> and <x, A^T r> for random x, r (should be ~1e-15)."""
        rng = as_generator(seed)
        x = rng.standard_normal(self.shape[1])
        r = rng.standard_normal(self.shape[0])
        # <r, A x> and <A^H r, x> with the complex inner product: float() of the real
        # products kept only the real parts of a complex operator's (e.g. the adjoint of
        # a Fourier rank-one operator), with a ComplexWarning, and passed a wrong adjoint
        lhs = complex(np.vdot(r, self.matvec(x)))
        rhs = complex(np.vdot(self.rmatvec(r), x))
        return abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        return self.matvec(np.asarray(x))

    @property
    def T(self) -> "Operator":  # noqa: N802 (NumPy naming)
        return _Adjoint(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape})"


class _Adjoint(Operator):
    def __init__(self, op: Operator):
        self.op = op
        self.shape = (op.shape[1], op.shape[0])

    def matvec(self, x):
        return self.op.rmatvec(x)

    def rmatvec(self, r):
        return self.op.matvec(r)

    def jax_matvec(self, x):
        return self.op.jax_rmatvec(x)

    def jax_rmatvec(self, r):
        return self.op.jax_matvec(r)

    @property
    def is_dense(self) -> bool:
        return self.op.is_dense

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        return self.op.to_dense(max_entries).conj().T  # A^H for complex operators

    def as_linear_operator(self) -> spla.LinearOperator:
        # the wrapped operator's view, adjoint: in its dtype (the base class's float64
        # made SciPy cast a complex operator's products to real, e.g. svds of the adjoint
        # of a Fourier rank-one operator gave 1.96 for ||A|| = 2.19)
        return self.op.as_linear_operator().H

    @cached_property
    def norm2(self) -> float:
        # A and A^T share their singular values (and the wrapped operator may know its
        # norm in closed form)
        return self.op.norm2


class DenseOperator(Operator):
    """An explicit matrix.

    Parameters
    ----------
    matrix : array_like of shape (m, n)
        Real, finite entries; stored as a read-only, C-contiguous float64 array
        (``self.matrix``), a copy unless ``copy=False`` (the array is then owned by the
        operator and made read-only).
    copy : bool, optional
        Copy ``matrix`` when it would be shared (default True).

    Raises
    ------
    TypeError
        For a complex matrix.
    ValueError
        For a matrix that is not 2-D or has NaN or inf entries.
    """

    def __init__(self, matrix: Any, *, copy: bool = True):
        a = check_finite_array(matrix, "A", ndim=2)
        if np.iscomplexobj(a):
            raise TypeError("A must be real (complex operators are not supported)")
        m = np.ascontiguousarray(a, dtype=np.float64)
        # a private, read-only copy (as Problem keeps y): the caller's array changed later
        # (M *= 10) left y, the cached ||A||_2 and the step size of another matrix
        if copy and np.may_share_memory(m, np.asarray(matrix)):
            m = m.copy()
        m.setflags(write=False)
        self.matrix = m
        self.shape = self.matrix.shape

    @property
    def is_dense(self) -> bool:
        return True

    def to_dense(self, max_entries: int = 0) -> np.ndarray:
        return self.matrix

    # masked arrays and strings refused as by the other operators (a masked x failed
    # with NumPy's "could not broadcast where mask"); anything else is left to ``@``
    # (a JAX array or tracer stays one)
    def matvec(self, x):
        _refuse_non_numeric(x, "x")
        return self.matrix @ x

    def rmatvec(self, r):
        _refuse_non_numeric(r, "r")
        return self.matrix.T @ r

    def jax_matvec(self, x):
        return jnp.asarray(self.matrix) @ x

    def jax_rmatvec(self, r):
        # contracted over the rows: ``matrix.T @ r`` makes XLA:CPU copy the transpose in a
        # compiled loop (7x slower at 400 x 2000)
        return jnp.tensordot(jnp.asarray(self.matrix), r, axes=(0, 0))


def _refuse_non_numeric(v: Any, name: str) -> None:
    """:func:`_check_numeric_input` without the conversion (for maps that take JAX
    arrays and tracers as they are)."""
    refuse_masked(v, name)
    if getattr(getattr(v, "dtype", None), "kind", "") in tuple("USmM"):
        raise TypeError(f"{name} must be numeric, got dtype {v.dtype}")


def _check_numeric_input(v: Any, name: str) -> np.ndarray:
    """``v`` as an array for a NumPy map, refusing a masked array with masked entries
    (``np.asarray`` dropped the mask: the hidden values were used as data) and strings,
    dates or durations (the float cast parsed ``"1"`` as 1.0 and read durations as their
    counts)."""
    refuse_masked(v, name)
    v = np.asarray(v)
    if v.dtype.kind in "USmM":
        raise TypeError(f"{name} must be numeric, got dtype {v.dtype}")
    return v


def _real_parts(apply: Callable[[np.ndarray], np.ndarray], v: Any,
                name: str = "x") -> np.ndarray:
    """``apply`` (a real linear map written for real input) on ``v``, complex included:
    ``A v = A Re(v) + i A Im(v)``, instead of casting ``v`` to float (which silently drops
    the imaginary part)."""
    v = _check_numeric_input(v, name)
    if np.iscomplexobj(v):
        return apply(np.ascontiguousarray(v.real, dtype=np.float64)) + 1j * apply(
            np.ascontiguousarray(v.imag, dtype=np.float64))
    return apply(np.asarray(v, dtype=np.float64))


def _jax_real_parts(apply: Callable[[jax.Array], jax.Array], v: Any) -> jax.Array:
    """:func:`_real_parts` for JAX maps: ``apply`` on real input (integers as JAX's
    default float), complex input as ``A Re(v) + i A Im(v)``."""
    v = jnp.asarray(v)
    if jnp.iscomplexobj(v):
        return jax.lax.complex(apply(jnp.real(v)), apply(jnp.imag(v)))
    if not jnp.issubdtype(v.dtype, jnp.floating):
        v = v.astype(jnp.result_type(float))
    return apply(v)


def _check_length(v: Any, size: int, name: str, vector: bool = False) -> None:
    """Refuse a first axis of the wrong length (or, with ``vector``, anything but a vector
    of ``size`` entries): the transforms below would take any length (``dct``/``fft`` of
    another size, a broadcast scatter) and answer silently wrong."""
    if np.ndim(v) == 0 or np.shape(v)[0] != size or (vector and np.ndim(v) != 1):
        want = (f"be a vector of {size} entries" if vector
                else f"have {size} entries along axis 0")
        raise ValueError(f"{name} must {want}, got shape {np.shape(v)}")


def _distinct_rows(rows: Any, n: int, what: str) -> np.ndarray:
    """Row indices of a subsampled transform: at least one, distinct, in [0, n)."""
    a = np.asarray(rows)
    if a.ndim > 1:  # flattening a 2-D array hid a mix-up of rows with a matrix
        raise ValueError(f"{what} rows must be a 1-D list of indices, got shape {a.shape}")
    # a cast to int64 truncated 1.5 to row 1 (and parsed the string "1")
    if a.size and not (a.dtype.kind in "iu" or (
            a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)))):
        raise ValueError(f"{what} rows must be integer indices, got {a.dtype} values "
                         f"{a.ravel()[:3]}")
    rows = a.astype(np.int64).reshape(-1)
    if rows.size == 0:
        raise ValueError(f"a {what} needs at least one row (m = 0)")
    if rows.min() < 0 or rows.max() >= n or np.unique(rows).size != rows.size:
        raise ValueError(f"{what} rows must be distinct indices in [0, n)")
    # read-only (as EntryMask's flat_index): an edit of op.rows changed the maps but not
    # the cached norm2 (a subsampled FFT's depends on the rows: sqrt(2) stale for 2)
    rows.setflags(write=False)
    return rows


class PartialDCT(Operator):
    """Rows ``rows`` of the orthonormal DCT-II of size n, times ``sqrt(n/m)``, matrix-free.

    The scaling gives unit-norm columns, like the Gaussian ensemble normalized by 1/sqrt(m).

    Parameters
    ----------
    n : int
        Transform size (>= 1), the number of columns.
    rows : array_like of int
        The m kept rows: at least one, distinct, in ``[0, n)`` (integer-valued floats
        are accepted). See :func:`partial_dct` for random rows.
    """

    def __init__(self, n: int, rows: Any):
        self.n = check_int(n, "n", minimum=1)
        self.rows = rows = _distinct_rows(rows, self.n, "partial DCT")
        self.shape = (rows.size, self.n)
        self.scale = float(np.sqrt(self.n / rows.size))

    # NumPy maps act on the first axis: a vector (n,) or a batch of columns (n, k), like
    # ``matrix @ x`` for a dense operator
    def matvec(self, x):
        return _real_parts(self._matvec, x)

    def rmatvec(self, r):
        return _real_parts(self._rmatvec, r, "r")

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        _check_length(x, self.n, "x")
        return self.scale * scipy.fft.dct(x, norm="ortho", axis=0)[self.rows]

    def _rmatvec(self, r: np.ndarray) -> np.ndarray:
        _check_length(r, self.shape[0], "r")
        z = np.zeros((self.n,) + r.shape[1:])
        z[self.rows] = r
        return self.scale * scipy.fft.idct(z, norm="ortho", axis=0)

    # shapes are static under jit: the checks run once, at trace time (vectors only: the
    # JAX transforms act on the last axis, so a batch of columns came back transformed
    # along the wrong axis)
    def jax_matvec(self, x):
        _check_length(x, self.n, "x", vector=True)
        return self.scale * jax.scipy.fft.dct(x, norm="ortho")[self.rows]

    def jax_rmatvec(self, r):
        _check_length(r, self.shape[0], "r", vector=True)
        z = jnp.zeros(self.n, dtype=r.dtype).at[self.rows].set(r)
        return self.scale * jax.scipy.fft.idct(z, norm="ortho")

    @cached_property
    def norm2(self) -> float:
        # rows of an orthogonal matrix: all singular values equal the scale
        return self.scale


class SubsampledFFT(Operator):
    r"""Rows ``rows`` of the n-point DFT, divided by ``sqrt(len(rows))``, as a real operator.

    ``A x = [Re(F_S x); Im(F_S x)] / sqrt(m)`` with ``F_S`` the DFT rows ``S = rows``
    (``numpy.fft.fft(x)[rows]``), so ``A`` has ``2 m`` rows: the complex measurements
    of the NNLS authors' ``fft.py`` (their ``SubFFT``, which scales by ``1/sqrt(m)``)
    written as real equations, so that the non-negative model stays real (their ``gd``
    forgets to take the real part). Matrix-free: ``O(n log n)`` per product, in NumPy and
    in JAX.

    Parameters
    ----------
    n : int
        DFT size (>= 1), the number of columns.
    rows : array_like of int
        The m kept DFT rows: at least one, distinct, in ``[0, n)``; the operator has
        ``2 m`` real rows. See :meth:`random` and :func:`subsampled_fft` for random rows.
    """

    def __init__(self, n: int, rows: Any):
        self.n = check_int(n, "n", minimum=1)
        self.rows = rows = _distinct_rows(rows, self.n, "subsampled FFT")
        self.m_complex = int(rows.size)
        self.shape = (2 * self.m_complex, self.n)
        self.scale = 1.0 / float(np.sqrt(self.m_complex))

    @classmethod
    def random(cls, m: int, n: int, seed: Any) -> "SubsampledFFT":
        """``m`` distinct DFT rows drawn uniformly (from ``as_generator(seed)``)."""
        m, n = check_int(m, "m", minimum=1), check_int(n, "n", minimum=1)
        if m > n:
            raise ValueError(f"a subsampled DFT has at most n = {n} rows, asked for m = {m}")
        rng = as_generator(seed)
        return cls(n, np.sort(rng.choice(n, size=m, replace=False)))

    # NumPy maps act on the first axis (a vector or a batch of columns); complex input
    # is split into real and imaginary parts (A is a real matrix, not C-linear F_S)
    def matvec(self, x):
        return _real_parts(self._matvec, x)

    def rmatvec(self, r):
        return _real_parts(self._rmatvec, r, "r")

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        _check_length(x, self.n, "x")
        f = np.fft.fft(x, axis=0)[self.rows] * self.scale
        return np.concatenate([f.real, f.imag])

    def _rmatvec(self, r: np.ndarray) -> np.ndarray:
        _check_length(r, self.shape[0], "r")
        z = np.zeros((self.n,) + r.shape[1:], dtype=np.complex128)
        z[self.rows] = r[: self.m_complex] + 1j * r[self.m_complex:]
        # adjoint of x -> (Re F_S x, Im F_S x): Re(F_S^H z) = n * Re(ifft(z))
        return self.n * self.scale * np.fft.ifft(z, axis=0).real

    # complex input is split into real and imaginary parts, as in the NumPy maps: the
    # FFT took a complex x as C-linear F_S (a real, wrong answer), and lax.complex refused
    # a complex or integer r
    def jax_matvec(self, x):
        _check_length(x, self.n, "x", vector=True)
        return _jax_real_parts(self._jax_matvec, x)

    def jax_rmatvec(self, r):
        _check_length(r, self.shape[0], "r", vector=True)
        return _jax_real_parts(self._jax_rmatvec, r)

    def _jax_matvec(self, x: jax.Array) -> jax.Array:
        f = jnp.fft.fft(x)[self.rows]
        return self.scale * jnp.concatenate([jnp.real(f), jnp.imag(f)])

    def _jax_rmatvec(self, r: jax.Array) -> jax.Array:
        # float32 stays float32 (a fixed complex128 buffer returned float64)
        single = r.dtype == jnp.float32
        r = r.astype(jnp.float32 if single else jnp.result_type(float))
        z = jnp.zeros(self.n, dtype=jnp.complex64 if single else jnp.result_type(complex))
        z = z.at[self.rows].set(jax.lax.complex(r[: self.m_complex], r[self.m_complex:]))
        return self.n * self.scale * jnp.fft.ifft(z).real

    @cached_property
    def norm2(self) -> float:
        """Exact spectral norm: ``sqrt(n / m)`` if the rows contain a real frequency (0, or
        n/2 for even n) or a conjugate pair ``{k, n - k}``, else ``sqrt(n / (2 m))``.

        For real ``x`` the DFT is Hermitian (``f_{n-k} = conj(f_k)``) and Parseval gives
        ``n ||x||^2 = sum_k |f_k|^2``; ``x`` may put all its energy on one orbit
        ``{k, n - k}``, and ``||A x||^2 = |S cap orbit| / |orbit| * n ||x||^2 / m``. A
        real frequency or a full pair captures its whole orbit, a lone member of a pair
        only half of it (the bound ``sqrt(n / m)`` was a factor ``sqrt(2)`` too large for
        most random samplings, which halves gradient steps taken from it)."""
        rows = self.rows
        whole = bool(np.isin((self.n - rows) % self.n, rows).any())
        return float(np.sqrt(self.n / (1.0 if whole else 2.0)) * self.scale)


class LinearOperatorAdapter(Operator):
    """Wraps any ``scipy.sparse.linalg.LinearOperator`` (or sparse matrix).

    The JAX maps call back to the host (``jax.pure_callback``), so the dynamics run with any
    operator, at the speed of the callback.

    Parameters
    ----------
    linop : scipy LinearOperator, sparse matrix or array
        Anything ``scipy.sparse.linalg.aslinearoperator`` accepts, with a real dtype; a
        stored matrix must have finite entries. Complex products of a real operator (e.g.
        FFT-based) are accepted when their imaginary parts are rounding.

    Raises
    ------
    TypeError
        For a complex dtype.
    ValueError
        For a stored matrix with NaN or inf entries.
    """

    def __init__(self, linop: Any):
        lo = spla.aslinearoperator(linop)
        if np.iscomplexobj(np.zeros(1, dtype=lo.dtype)):
            raise TypeError("complex LinearOperators are not supported")
        # a stored matrix (a sparse one, or an array wrapped by aslinearoperator) is checked
        # for NaN/inf here, as DenseOperator checks its array: the matrix-free solvers ran
        # on with them (hadamard_limit: max_iter with x = 0; SPGL1: numerical_error)
        stored = getattr(lo, "A", None)
        if scipy.sparse.issparse(stored):
            fmt = stored.format
            data = stored.data if fmt in ("csr", "csc", "coo", "bsr") else stored.tocoo().data
            _check_finite_entries(data)
        elif isinstance(stored, np.ndarray):
            _check_finite_entries(stored)
        self.linop = lo
        self.shape = tuple(int(d) for d in lo.shape)
        self._real_confirmed = False  # see _real_output
        self._jax_maps: tuple[Callable, Callable] | None = None  # built on first use

    def __getstate__(self) -> dict[str, Any]:
        # the JAX maps are closures (not picklable): rebuilt on first use after unpickling,
        # so Problems over sparse matrices travel to Dask/process workers
        state = self.__dict__.copy()
        state["_jax_maps"] = None
        return state

    def _maps(self) -> tuple[Callable, Callable]:
        if self._jax_maps is None:
            self._jax_maps = (_callback_linear(self.matvec, self.rmatvec, self.shape),
                              _callback_linear(self.rmatvec, self.matvec, self.shape[::-1]))
        return self._jax_maps

    def matvec(self, x):
        return _real_parts(lambda v: self._real_output(self.linop.matvec(v), v, "matvec"), x)

    def rmatvec(self, r):
        def apply(v: np.ndarray) -> np.ndarray:
            try:
                out = self.linop.rmatvec(v)
            except NotImplementedError as err:
                # SciPy's bare "rmatvec is not defined" named neither the operator nor why
                # it was needed
                raise NotImplementedError(
                    f"the LinearOperator {self.linop!r} has no rmatvec (the adjoint A^T), "
                    f"which this solver needs: pass rmatvec= to "
                    f"scipy.sparse.linalg.LinearOperator ({err})") from err
            return self._real_output(out, v, "rmatvec")

        return _real_parts(apply, r, "r")

    def _real_output(self, out: Any, v: Any = None, name: str = "matvec") -> np.ndarray:
        """A product as a float vector. A real operator may hand back complex arrays (e.g.
        built from FFTs) whose imaginary parts are rounding, dropped here; the first time
        it does, a product with a random vector must confirm that the operator is real
        (the float cast dropped a true imaginary part with only a ComplexWarning, and the
        solvers answered for Re(A)). Not judged on ``out`` itself: rounding relative to
        ``A v`` is large for ``v`` near the null space of ``A``.

        NaN in the product of a finite ``v`` is an error naming the map (ARPACK and LAPACK
        failed on it with internal errors: "ArpackError -9999", "SVD did not converge");
        inf is left to the callers, which rescale when a product overflows."""
        out = np.asarray(out)
        if np.iscomplexobj(out):
            if not getattr(self, "_real_confirmed", False):
                self._confirm_real()
            out = out.real
        out = np.asarray(out, float).reshape(-1)
        if np.isnan(out).any() and (v is None or np.isfinite(v).all()):
            raise ValueError(f"A's {name} returned {int(np.isnan(out).sum())} NaN value(s) "
                             "for a finite input: the LinearOperator's products must be "
                             "finite")
        return out

    def _confirm_real(self) -> None:
        rng = as_generator(0)
        for name, f, k in (("matvec", self.linop.matvec, self.shape[1]),
                           ("rmatvec", self.linop.rmatvec, self.shape[0])):
            try:
                out = np.asarray(f(rng.standard_normal(k)))
            except NotImplementedError:  # no adjoint: its use raises where it is needed
                continue
            top = float(np.max(np.abs(out), initial=0.0))
            im = float(np.max(np.abs(out.imag), initial=0.0)) if np.iscomplexobj(out) else 0.0
            if im > _IMAG_ROUNDING * top:
                raise TypeError(
                    f"the LinearOperator's {name} returned complex values (max |imag| = "
                    f"{im:.3g}, max |value| = {top:.3g} for a random vector) but A must be "
                    "real")
        self._real_confirmed = True

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        """The matrix: by rows through the adjoint when that takes fewer products, by
        columns (``matvec`` only) when the LinearOperator has no ``rmatvec``."""
        by_rows = self.shape[0] < self.shape[1]
        try:
            return self._materialise(by_rows, max_entries)
        except NotImplementedError:
            if not by_rows:
                raise
            return self._materialise(False, max_entries)

    def jax_matvec(self, x):
        return self._maps()[0](x)

    def jax_rmatvec(self, r):
        return self._maps()[1](r)


#: a real operator's products may carry imaginary parts up to this share of their largest
#: entry, for a random input (FFT-based operators leave ~1e-16)
_IMAG_ROUNDING = 1e-8


def _check_finite_entries(data: np.ndarray) -> None:
    bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
    if bad:
        raise ValueError(f"A contains {bad} non-finite value(s) (NaN or inf)")


def _callback_linear(
    fwd: Callable[[np.ndarray], np.ndarray],
    adj: Callable[[np.ndarray], np.ndarray],
    shape: tuple[int, int],
) -> Callable[[jax.Array], jax.Array]:
    """A JAX function for a host linear map; its VJP is the host adjoint."""

    def call(f, out_len, v):
        spec = jax.ShapeDtypeStruct((out_len,), v.dtype)
        return jax.pure_callback(
            lambda a: np.asarray(f(np.asarray(a)), dtype=a.dtype), spec, v,
            vmap_method="sequential",
        )

    @jax.custom_vjp
    def apply(v):
        return call(fwd, shape[0], v)

    def apply_fwd(v):
        return apply(v), None

    def apply_bwd(_, ct):
        return (call(adj, shape[1], ct),)

    apply.defvjp(apply_fwd, apply_bwd)

    def entry(v):
        v = jnp.asarray(v)
        # checked at trace time: a wrong length failed inside the host callback, as a
        # JaxRuntimeError with SciPy's "dimension mismatch" deep in its traceback
        if v.shape != (shape[1],):
            raise ValueError(f"expected a vector of {shape[1]} entries, got shape {v.shape}")
        # the product is cast to the input's dtype: integer input came back truncated
        if not jnp.issubdtype(v.dtype, jnp.inexact):
            v = v.astype(jnp.result_type(float))
        return apply(v)

    return entry


def as_operator(A: Any) -> Operator:
    """Coerce an ndarray, a SciPy sparse matrix / LinearOperator, or an Operator.

    Parameters
    ----------
    A : Operator, array_like of shape (m, n), scipy sparse matrix or LinearOperator
        An Operator is returned as is; a sparse matrix (anything with ``tocsr``) or a
        LinearOperator is wrapped in a :class:`LinearOperatorAdapter`; anything else is
        read as a dense array (:class:`DenseOperator`).

    Returns
    -------
    Operator
    """
    if isinstance(A, Operator):
        return A
    if isinstance(A, (spla.LinearOperator,)) or hasattr(A, "tocsr"):
        return LinearOperatorAdapter(A)
    return DenseOperator(A)


def _physical_memory() -> int | None:
    """Bytes of physical memory (None where the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _check_dense_memory(m: int, n: int, copies: int, what: str) -> None:
    """Refuse, before any allocation, an ``m x n`` float64 ensemble whose draw needs
    ``copies`` such arrays at once beyond the machine's physical memory: NumPy allocates
    lazily up to the overcommit limit, so such a draw ran until the kernel killed the
    process (or a neighbour) instead of raising."""
    need, total = 8 * copies * m * n, _physical_memory()
    if total is not None and need > total:
        raise MemoryError(f"a {m} x {n} {what} matrix needs about {need / 2**30:.3g} GiB "
                          f"to draw, more than this machine's {total / 2**30:.3g} GiB of "
                          "memory: lower m or n, or use a matrix-free operator "
                          "(partial_dct, subsampled_fft)")


def gaussian(m: int, n: int, seed: int | np.random.Generator) -> DenseOperator:
    """Gaussian matrix with i.i.d. N(0, 1/m) entries.

    Parameters
    ----------
    m, n : int
        Number of rows (measurements) and columns (each >= 1).
    seed : int or numpy.random.Generator
        Source of the entries.

    Returns
    -------
    DenseOperator
    """
    m, n = check_int(m, "m", minimum=1), check_int(n, "n", minimum=1)
    _check_dense_memory(m, n, 2, "Gaussian")
    rng = as_generator(seed)
    return DenseOperator(rng.standard_normal((m, n)) / np.sqrt(m), copy=False)


def rademacher(m: int, n: int, seed: int | np.random.Generator) -> DenseOperator:
    """Random sign matrix with entries +-1/sqrt(m).

    Parameters
    ----------
    m, n : int
        Number of rows (measurements) and columns (each >= 1).
    seed : int or numpy.random.Generator
        Source of the signs (independent, each with probability 1/2).

    Returns
    -------
    DenseOperator
    """
    m, n = check_int(m, "m", minimum=1), check_int(n, "n", minimum=1)
    _check_dense_memory(m, n, 3, "Rademacher")
    rng = as_generator(seed)
    return DenseOperator((2.0 * rng.integers(0, 2, size=(m, n)) - 1.0) / np.sqrt(m),
                         copy=False)


def partial_dct(m: int, n: int, seed: int | np.random.Generator) -> PartialDCT:
    """m distinct rows of the n-point orthonormal DCT, chosen uniformly, scaled by sqrt(n/m).

    Parameters
    ----------
    m : int
        Number of rows, ``1 <= m <= n``.
    n : int
        Transform size (>= 1).
    seed : int or numpy.random.Generator
        Source of the rows.

    Returns
    -------
    PartialDCT
        Rows sorted increasingly.
    """
    m, n = check_int(m, "m", minimum=1), check_int(n, "n", minimum=1)
    if m > n:
        raise ValueError(f"a partial DCT has at most n = {n} rows, asked for m = {m}")
    rng = as_generator(seed)
    return PartialDCT(n, np.sort(rng.choice(n, size=m, replace=False)))


def subsampled_fft(m: int, n: int, seed: int | np.random.Generator) -> SubsampledFFT:
    """``m`` real rows from ``m / 2`` distinct DFT rows (real and imaginary parts), chosen
    uniformly, divided by ``sqrt(m / 2)``; ``m`` must be even.

    Parameters
    ----------
    m : int
        Number of real rows: even, ``2 <= m <= 2 n``.
    n : int
        DFT size (>= 1).
    seed : int or numpy.random.Generator
        Source of the ``m / 2`` DFT rows.

    Returns
    -------
    SubsampledFFT
    """
    m = check_int(m, "m", minimum=2)
    if m % 2:
        raise ValueError(f"a subsampled FFT has 2 real rows per DFT row: m = {m} must be even")
    n = check_int(n, "n", minimum=1)
    if m > 2 * n:  # report the caller's m, not the m / 2 DFT rows it becomes
        raise ValueError(f"a subsampled FFT has at most 2 n = {2 * n} real rows, asked for "
                         f"m = {m}")
    return SubsampledFFT.random(m // 2, n, seed)


OPERATORS: dict[str, Callable[[int, int, Any], Operator]] = {
    "gaussian": gaussian,
    "rademacher": rademacher,
    "dct": partial_dct,
    "fft": subsampled_fft,
}
