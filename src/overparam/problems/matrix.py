"""Low-rank matrix problems: estimation, matrix sensing and matrix completion.

A matrix ``W`` of shape ``(n1, n2)`` is handled as its row-major vectorization
``x = vec(W) = W.reshape(-1)`` so that the one driver loop (which works on flat signals and
an :class:`~overparam.problems.Operator`) runs matrix models unchanged. Three operators map
``vec(W)`` to measurements, all matrix-free on the JAX side:

* :class:`MatrixIdentity` -- full observation (estimation / denoising, ``y = vec(W* + E)``);
* :class:`EntryMask` -- the observed entries of a completion problem (a gather, its adjoint
  a scatter);
* :class:`GaussianSensing` -- ``y_i = <A_i, W>`` with i.i.d. ``N(0, 1/m)`` entries, stored
  when small enough, otherwise regenerated block by block from a JAX key on each
  application (memory ``O(block * n1 * n2)``).

The first two expose ``jax_forward_data()``, so their data (nothing, resp. the index set)
travels as an argument of the jitted driver: a new mask of the same size does not
recompile, and trials with different masks batch with ``vmap``.

References
----------
H.-H. Chou, C. Gieshoff, J. Maly, H. Rauhut, "Gradient descent for deep matrix
factorization: dynamics and implicit bias towards low rank", ACHA 68:101595, 2024
(arXiv:2011.13772).
J. Wang, H.-H. Chou, "Implicit regularization in perturbed deep matrix factorization:
spectral conditions and stability", arXiv:2605.28613, 2026.
S. Arora, N. Cohen, W. Hu, Y. Luo, "Implicit regularization in deep matrix factorization",
NeurIPS 2019 (arXiv:1905.13655).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._core import (as_generator, check_bool, check_finite_array, check_int,
                     check_matrix_shape, check_positive)
from .operators import (DenseOperator, Operator, _check_numeric_input, _physical_memory,
                        _real_parts)
from .problem import Problem

SPECTRA = ("flat", "linear", "geometric", "gaussian")

# dense Gaussian sensing operators up to this many entries are stored (8 bytes each)
DENSE_SENSING_MAX = 25_000_000
_MAX_INT64 = int(np.iinfo(np.int64).max)


def check_matrix_free(value: Any) -> bool | str:
    """A ``matrix_free`` argument: ``"auto"`` or a bool (``numpy.bool_`` included).

    Raises
    ------
    ValueError
        For another string.
    TypeError
        For anything else (``numpy.True_`` was refused as not a bool, and an array,
        compared with ``"auto"``, raised NumPy's "truth value is ambiguous").
    """
    if isinstance(value, str):
        if value != "auto":
            raise ValueError(f"matrix_free must be True, False or 'auto', got {value!r}")
        return value
    return check_bool(value, "matrix_free")


class MatrixOperator(Operator):
    """An operator on vectorized ``n1 x n2`` matrices (row-major ``vec``).

    Attributes
    ----------
    matrix_shape : tuple of int
        ``(n1, n2)``.
    """

    matrix_shape: tuple[int, int]

    def apply_matrix(self, W: np.ndarray) -> np.ndarray:
        """Measurements of a matrix ``W`` of shape ``matrix_shape``."""
        # no float cast: it dropped the imaginary part of a complex W with only a warning
        # (matvec takes complex input: A W = A Re W + i A Im W)
        W = _check_numeric_input(W, "W")
        if W.shape != self.matrix_shape:
            raise ValueError(f"W has shape {W.shape}, the operator expects {self.matrix_shape}")
        return self.matvec(W.reshape(-1))

    def adjoint_matrix(self, r: np.ndarray) -> np.ndarray:
        """``A^*(r)`` as an ``n1 x n2`` matrix."""
        return self.rmatvec(np.asarray(r)).reshape(self.matrix_shape)

    def _jax_vector(self, v: Any, size: int, name: str, matrix: bool = False) -> jax.Array:
        """``v`` for a JAX map: a vector of ``size`` entries or, with ``matrix`` (the
        forward map), a matrix of exactly ``matrix_shape`` (flattened), as in
        :meth:`_flat`; checked at trace time (shapes are static). A gather, a reshape or
        the identity took any length, a transposed matrix or a batch of columns and
        answered silently wrong (e.g. ``jnp.take`` flattened an ``(n, k)`` batch, and
        clamped or filled indices beyond a short vector)."""
        v = jnp.asarray(v)
        if matrix and v.shape == tuple(self.matrix_shape):
            return v.reshape(-1)
        if v.shape != (size,):
            what = f" (or a matrix of shape {tuple(self.matrix_shape)})" if matrix else ""
            raise ValueError(f"{name} must be a vector of {size} entries{what}, got shape "
                             f"{v.shape}")
        return v

    def _flat(self, v: np.ndarray, size: int, matrix: bool = True) -> np.ndarray:
        """``v`` as a flat vector of ``size`` entries: a vector (also as one column or row,
        as SciPy's ``LinearOperator`` passes it) or, with ``matrix`` (the forward map), a
        matrix of exactly ``matrix_shape``. Anything else (a batch of columns, a transposed
        ``n2 x n1`` matrix) is refused instead of being flattened into a wrong answer."""
        if v.size == size and (v.ndim == 1 or (v.ndim == 2 and 1 in v.shape)
                               or (matrix and v.shape == tuple(self.matrix_shape))):
            return v.reshape(-1)
        n1, n2 = self.matrix_shape
        if matrix and v.shape == (n2, n1):
            # same size, but read row-major it puts every entry in the wrong place
            raise ValueError(f"got a {n2} x {n1} matrix, the operator acts on {n1} x {n2} "
                             f"matrices (pass the transpose, of shape {(n1, n2)})")
        what = f" (or a matrix of shape {(n1, n2)})" if matrix else ""
        raise ValueError(f"expected a vector of {size} entries{what}, got shape {v.shape}")


# ---------------------------------------------------------------- forward maps (static)
@dataclass(frozen=True)
class _IdentityForward:
    def __call__(self, data: Any, x: jax.Array) -> jax.Array:
        return x


@dataclass(frozen=True)
class _GatherForward:
    def __call__(self, data: Any, x: jax.Array) -> jax.Array:
        # the VJP of a gather is a scatter-add into zeros: the adjoint of the selection
        return jnp.take(x, data, unique_indices=True, indices_are_sorted=True)


@dataclass(frozen=True)
class _DenseForward:
    def __call__(self, data: Any, x: jax.Array) -> jax.Array:
        return data @ x


_DENSE_FORWARD = _DenseForward()


class MatrixIdentity(MatrixOperator):
    """Full observation of an ``n1 x n2`` matrix: ``A = I`` on ``vec(W)``.

    Parameters
    ----------
    n1, n2 : int
        The matrix shape (each >= 1); the operator is ``(n1 n2) x (n1 n2)``.
    """

    def __init__(self, n1: int, n2: int):
        n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
        self.matrix_shape = (n1, n2)
        self.shape = (n1 * n2, n1 * n2)

    # sizes checked as EntryMask does: a vector of the wrong length came back unchanged,
    # and a batch of columns was flattened into one vector
    def matvec(self, x):
        return _real_parts(lambda v: self._flat(np.array(v, copy=True), self.shape[1]), x)

    def rmatvec(self, r):
        return _real_parts(lambda v: self._flat(np.array(v, copy=True), self.shape[0]), r,
                           "r")

    def jax_matvec(self, x):
        return self._jax_vector(x, self.shape[1], "x", matrix=True)

    def jax_rmatvec(self, r):
        return self._jax_vector(r, self.shape[0], "r")

    def jax_forward_data(self):
        return _IdentityForward(), None

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        if self.shape[0] ** 2 > max_entries:
            raise MemoryError(f"refusing to materialise a {self.shape} identity")
        return np.eye(self.shape[0])

    @cached_property
    def norm2(self) -> float:
        return 1.0


def _indices(idx: Any, name: str) -> np.ndarray:
    """Integer indices as int64 (a cast would silently truncate 0.5 to 0)."""
    a = np.asarray(idx)
    if a.size and not (np.issubdtype(a.dtype, np.integer) or (
            np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a))
            and np.all(a == np.round(a)))):
        raise ValueError(f"{name} must be integer indices, got {a.dtype} values {a.ravel()[:3]}")
    return a.astype(np.int64).reshape(-1)


class EntryMask(MatrixOperator):
    """Selection of observed entries ``(rows[k], cols[k])`` of an ``n1 x n2`` matrix.

    The entries are stored sorted by their row-major flat index ``rows * n2 + cols``;
    ``y[k]`` is the value of the k-th entry in that order (see :attr:`flat_index`).

    Parameters
    ----------
    n1, n2 : int
        The matrix shape (each >= 1).
    rows, cols : array_like of int
        Row and column indices of the observed entries: equal lengths (at least one
        entry), inside the matrix, no entry twice. Integer-valued floats are accepted.
        See :meth:`from_mask` to build the operator from a boolean pattern.

    Raises
    ------
    ValueError
        For non-integer indices, entries outside the matrix, repeated or no entries, or
        a matrix of more than ``2**63 - 1`` entries (the int64 flat index).
    """

    def __init__(self, n1: int, n2: int, rows: Any, cols: Any):
        n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
        if n1 * n2 > _MAX_INT64:
            # the flat index rows * n2 + cols wrapped around in int64: wrong entries
            raise ValueError(f"the {n1} x {n2} matrix has {n1 * n2} entries, more than "
                             f"int64 flat indices can address (2**63 - 1)")
        # compared before flattening: rows of shape (2, 2) and cols of shape (4,) were
        # paired entry by entry after a reshape, hiding a mix-up
        if np.shape(rows) != np.shape(cols):
            raise ValueError(f"rows and cols must have one shape, got {np.shape(rows)} "
                             f"and {np.shape(cols)}")
        rows, cols = _indices(rows, "rows"), _indices(cols, "cols")
        if rows.shape != cols.shape:
            raise ValueError(f"rows and cols differ in length ({rows.size} vs {cols.size})")
        if rows.size == 0:
            raise ValueError("a completion mask needs at least one observed entry")
        if rows.min() < 0 or rows.max() >= n1 or cols.min() < 0 or cols.max() >= n2:
            raise ValueError(f"observed entries must lie inside the {n1} x {n2} matrix")
        flat = rows * n2 + cols
        if np.unique(flat).size != flat.size:
            raise ValueError("observed entries must be distinct")
        order = np.argsort(flat, kind="stable")
        self.flat_index = flat[order]
        self.flat_index.setflags(write=False)
        self.matrix_shape = (n1, n2)
        self.shape = (int(flat.size), n1 * n2)

    @classmethod
    def from_mask(cls, mask: Any) -> "EntryMask":
        """From a boolean ``n1 x n2`` array (True = observed)."""
        m = np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f"mask must be 2-dimensional, got shape {m.shape}")
        if m.dtype != bool:
            # np.nonzero read any nonzero as observed: a data matrix with NaN for its
            # missing entries (a common convention) observed exactly those, and its zeros
            # were dropped. Numbers are taken only when all are 0 or 1.
            if m.dtype.kind not in "iuf" or not np.all((m == 0) | (m == 1)):
                raise ValueError("mask must be boolean (or hold only 0 and 1), got dtype "
                                 f"{m.dtype}: pass e.g. ~np.isnan(Y) for a matrix Y with "
                                 "NaN at its missing entries")
        r, c = np.nonzero(m)
        return cls(m.shape[0], m.shape[1], r, c)

    @property
    def rows(self) -> np.ndarray:
        return self.flat_index // self.matrix_shape[1]

    @property
    def cols(self) -> np.ndarray:
        return self.flat_index % self.matrix_shape[1]

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``n1 x n2`` array of the observed entries."""
        m = np.zeros(self.shape[1], dtype=bool)
        m[self.flat_index] = True
        return m.reshape(self.matrix_shape)

    def matvec(self, x):
        return _real_parts(lambda v: self._flat(v, self.shape[1])[self.flat_index], x)

    def rmatvec(self, r):
        return _real_parts(self._rmatvec, r, "r")

    def _rmatvec(self, r: np.ndarray) -> np.ndarray:
        z = np.zeros(self.shape[1])
        z[self.flat_index] = self._flat(r, self.shape[0], matrix=False)
        return z

    def jax_matvec(self, x):
        x = self._jax_vector(x, self.shape[1], "x", matrix=True)
        return _GatherForward()(jnp.asarray(self.flat_index), x)

    def jax_rmatvec(self, r):
        r = self._jax_vector(r, self.shape[0], "r")
        return jnp.zeros(self.shape[1], dtype=r.dtype).at[jnp.asarray(self.flat_index)].set(r)

    def jax_forward_data(self):
        return _GatherForward(), self.flat_index

    @cached_property
    def norm2(self) -> float:
        return 1.0


def _sensing_memory(m: int, n: int, block: int | None) -> tuple[int, int | None]:
    """``(bytes, physical memory in bytes or None)``: the memory one application of an
    ``m x n`` Gaussian sensing operator needs, and the machine's.

    Stored (``block`` None): the float64 matrix, ``8 m n``. Matrix-free: a block of
    ``b = min(block, m)`` rows (its random bits and values, ``16 b n``), the measurement
    vector in its padded, sliced and host copies (``24 m'``, ``m'`` = ``m`` rounded up to
    whole blocks) and the signal and adjoint accumulator (``24 n``).
    """
    if block is None:
        need = 8 * m * n
    else:
        b = min(block, m)
        need = 16 * b * n + 24 * (-(-m // b) * b) + 24 * n
    return need, _physical_memory()


def _sensing_mode(n1: int, n2: int, m: int, matrix_free: Any, block: Any
                  ) -> tuple[bool, Any]:
    """``(matrix_free, block)`` of a Gaussian sensing operator, ``"auto"`` resolved, after
    every check that needs no draw (the block count, the memory): :func:`matrix_sensing`
    runs it before drawing the truth, whose SVD took a minute at 4000 x 4000 before an
    operator that could never fit was refused."""
    matrix_free = check_matrix_free(matrix_free)
    if matrix_free == "auto":
        matrix_free = m * n1 * n2 > DENSE_SENSING_MAX
    if matrix_free:
        block = check_int(block, "block", minimum=1)
        if -(-m // block) > 2**32:
            raise ValueError(f"m = {m} measurements in blocks of {block} make more than "
                             "2**32 blocks, whose 32-bit index in the key would repeat "
                             "rows: raise block or lower m")
    # before any allocation: a request beyond the memory aborted the interpreter in
    # XLA (SIGABRT) instead of raising
    need, total = _sensing_memory(m, n1 * n2, block if matrix_free else None)
    if total is not None and need > total:
        how = ("lower m (or block)" if matrix_free
               else "lower m, or pass matrix_free=True")
        raise MemoryError(
            f"Gaussian sensing with m = {m}, n1 n2 = {n1 * n2} needs about "
            f"{need / 2**30:.3g} GiB per application, more than this machine's "
            f"{total / 2**30:.3g} GiB of memory: {how}")
    return bool(matrix_free), block


class GaussianSensing(MatrixOperator):
    """Gaussian matrix sensing ``y_i = <A_i, W>``, ``A_i`` with i.i.d. ``N(0, 1/m)`` entries.

    With this scaling ``E ||A(W)||^2 = ||W||_F^2`` (the normalization of the restricted
    isometry property). Arora et al. use ``randn(n, n) / n``; rescale ``y`` to compare.

    Parameters
    ----------
    n1, n2, m : int
        Matrix shape and number of measurements.
    seed : int or numpy.random.Generator
        Source of the measurement matrices.
    matrix_free : bool or "auto"
        ``False``: store the ``m x (n1 n2)`` matrix (drawn with NumPy). ``True``: store a
        JAX key and regenerate the matrices block by block at every application
        (``O(block n1 n2)`` memory; each application costs ``m n1 n2`` normal draws).
        ``"auto"`` (default): store when ``m n1 n2 <= 2.5e7``.
    block : int
        Measurements generated at once in matrix-free mode.

    Raises
    ------
    MemoryError
        When one application needs more than the machine's physical memory: the stored
        matrix (``8 m n1 n2`` bytes), or in matrix-free mode a block of rows and the
        measurement vectors (about ``8 (2 block n1 n2 + 3 m)`` bytes). Such sizes aborted
        the interpreter inside XLA.
    ValueError
        In matrix-free mode, for more than ``2**32`` blocks of rows (``m > 2**32 block``):
        the block index folded into the key is 32-bit, so rows would repeat.
    """

    def __init__(self, n1: int, n2: int, m: int, seed: Any, *,
                 matrix_free: bool | str = "auto", block: int = 256):
        n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
        m = check_int(m, "m", minimum=1)
        self.matrix_shape = (n1, n2)
        self.shape = (m, n1 * n2)
        matrix_free, block = _sensing_mode(n1, n2, m, matrix_free, block)
        self.matrix_free = matrix_free
        rng = as_generator(seed)
        if matrix_free:
            self.block = block
            self.key_data = np.asarray(
                jax.random.key_data(jax.random.PRNGKey(int(rng.integers(2**31 - 1)))))
            self._fwd = _SensingForward(m, n1 * n2, min(self.block, m))
            self.matrix = None
        else:
            self.matrix = rng.standard_normal((m, n1 * n2)) / np.sqrt(m)
            # read-only, as DenseOperator keeps its matrix: to_dense() hands it out, and
            # an edit of that array (D *= 10) changed the operator under the problem's y
            # and left the cached norm2 (the step size) 10x too small
            self.matrix.setflags(write=False)

    @property
    def is_dense(self) -> bool:
        return not self.matrix_free

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        if self.matrix is not None:
            return self.matrix
        m, n = self.shape
        if m * n > max_entries:
            raise MemoryError(f"refusing to materialise a {m} x {n} operator")
        return np.asarray(self._fwd.dense(jnp.asarray(self.key_data)))

    def matvec(self, x):
        if self.matrix is not None:
            x = _check_numeric_input(x, "x")
            if x.ndim != 2 or x.shape[0] != self.shape[1]:
                # not a batch of columns: W itself, or refused (a transposed W is not);
                # a vector of the wrong length got NumPy's "mismatch in its core dimension"
                x = self._flat(x, self.shape[1])
            return self.matrix @ x
        # the jitted forward: host products (SciPy solvers, to_dense) compile once
        return _real_parts(lambda v: np.asarray(self._fwd.jitted(
            jnp.asarray(self.key_data), jnp.asarray(self._flat(v, self.shape[1]),
                                                    dtype=jnp.float64))), x)

    def rmatvec(self, r):
        if self.matrix is not None:
            r = _check_numeric_input(r, "r")
            if r.ndim != 2 or r.shape[0] != self.shape[0]:  # a vector, checked (see matvec)
                r = self._flat(r, self.shape[0], matrix=False)
            return self.matrix.T @ r
        return _real_parts(lambda v: np.asarray(self.jax_rmatvec(jnp.asarray(
            self._flat(v, self.shape[0], matrix=False), dtype=jnp.float64))), r, "r")

    def jax_matvec(self, x):
        if self.matrix is not None:
            return jnp.asarray(self.matrix) @ x
        # a vector only: the blocks' products of an (n, k) batch were flattened and cut
        # to m entries (a wrong answer of the wrong shape)
        x = self._jax_vector(x, self.shape[1], "x", matrix=True)
        return self._fwd(jnp.asarray(self.key_data), x)

    def jax_rmatvec(self, r):
        if self.matrix is not None:
            return jnp.tensordot(jnp.asarray(self.matrix), r, axes=(0, 0))  # see DenseOperator
        r = self._jax_vector(r, self.shape[0], "r")
        return self._fwd.adjoint(jnp.asarray(self.key_data), r)

    def jax_forward_data(self):
        if self.matrix is not None:  # stored: the matrix itself travels as the data
            return _DENSE_FORWARD, self.matrix
        return self._fwd, self.key_data

    @cached_property
    def norm2(self) -> float:
        """Spectral norm: exact when the matrix is (or could be) stored, else an upper
        bound that holds with probability at least ``1 - 1e-9``."""
        m, n = self.shape
        if self.matrix is None and m * n <= DENSE_SENSING_MAX:
            # matrix-free by request at a storable size: regenerate the matrix once (the
            # cost of one product). The bound below failed often here: its 5% margin is
            # below the O(1/sqrt(m)) fluctuation of small m (m = 1, n = 4: 3.15 < 3.49)
            dense = self.to_dense()
            if min(m, n) <= 2000:
                return float(np.linalg.norm(dense, 2))
            return DenseOperator(dense, copy=False).norm2
        if self.matrix is not None and min(m, n) <= 2000:
            return float(np.linalg.norm(self.matrix, 2))
        if self.matrix is not None:
            return super().norm2
        # Bai-Yin: the top singular value of an m x n N(0, 1/m) matrix is close to
        # 1 + sqrt(n/m); a 5% margin (used by step="auto"). Here m n > 2.5e7, where it
        # exceeds the Davidson-Szarek bound 1 + sqrt(n/m) + t / sqrt(m), which fails with
        # probability exp(-t^2 / 2) <= 1e-9 (t = 6.44: sqrt(m) + sqrt(n) >= 141 > t / 0.05)
        return 1.05 * (1.0 + math.sqrt(n / m))


class _SensingForward:
    """Matrix-free Gaussian sensing: blocks of rows regenerated from a key (hashable by
    its static sizes); the adjoint regenerates the same blocks (custom VJP)."""

    def __init__(self, m: int, n: int, block: int):
        self.m, self.n, self.block = m, n, block
        self.nblocks = -(-m // block)
        scale = 1.0 / math.sqrt(m)

        def rows(key_data, b):
            key = jax.random.fold_in(jax.random.wrap_key_data(key_data), b)
            return scale * jax.random.normal(key, (block, n), dtype=jnp.float64)

        def fwd(key_data, x):
            out = jax.lax.map(lambda b: rows(key_data, b) @ x, jnp.arange(self.nblocks))
            return out.reshape(-1)[:m]

        def adj(key_data, r):
            # the accumulator in the product's dtype: with r's own, a float32 or integer r
            # failed ("scan body function carry input and carry output must have equal
            # types")
            dt = jnp.result_type(complex if jnp.iscomplexobj(r) else float)
            rp = jnp.zeros(self.nblocks * block, dtype=dt).at[:m].set(r.astype(dt))
            rp = rp.reshape(self.nblocks, block)

            def body(acc, b):
                return acc + jnp.tensordot(rows(key_data, b), rp[b], axes=(0, 0)), None

            return jax.lax.scan(body, jnp.zeros(n, dtype=dt), jnp.arange(self.nblocks))[0]

        @jax.custom_vjp
        def apply(key_data, x):
            return fwd(key_data, x)

        def apply_fwd(key_data, x):
            return fwd(key_data, x), key_data

        def apply_bwd(key_data, ct):
            return None, adj(key_data, ct)

        apply.defvjp(apply_fwd, apply_bwd)
        self._apply = apply
        self.jitted = jax.jit(apply)
        self.adjoint = jax.jit(adj)
        self._rows = rows

    def dense(self, key_data):
        blocks = [self._rows(key_data, b) for b in range(self.nblocks)]
        return jnp.concatenate(blocks)[: self.m]

    def __call__(self, data, x):
        return self._apply(data, x)

    def __hash__(self) -> int:
        return hash((_SensingForward, self.m, self.n, self.block))

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, _SensingForward)
                and (other.m, other.n, other.block) == (self.m, self.n, self.block))


# ---------------------------------------------------------------- ground truths
def _orthonormal(rng: np.random.Generator, n: int, r: int) -> np.ndarray:
    q, rr = np.linalg.qr(rng.standard_normal((n, r)))
    return q * np.sign(np.diag(rr))  # Haar-distributed


def spectrum_values(rank: int, spectrum: str | Sequence[float] = "flat",
                    condition: float = 10.0) -> np.ndarray:
    """Singular values ``s_1 >= ... >= s_r`` with ``s_1 = 1`` of a named spectrum.

    ``"flat"``: all 1. ``"linear"``: from 1 down to ``1/condition`` evenly.
    ``"geometric"``: from 1 down to ``1/condition`` geometrically (ill-conditioned for a
    large condition number). A sequence is taken as is (sorted, must be > 0).
    """
    # unchecked, rank = 0 gave an empty spectrum, -1 NumPy's "negative dimensions"
    rank = check_int(rank, "rank", minimum=1)
    if isinstance(spectrum, str):
        if spectrum not in SPECTRA or spectrum == "gaussian":
            raise ValueError(f"spectrum must be one of {SPECTRA} or a sequence, got {spectrum!r}")
        kappa = check_positive(condition, "condition")
        if kappa < 1:
            raise ValueError(f"condition must be >= 1, got {kappa}")
        if spectrum == "flat" or rank == 1:
            return np.ones(rank)
        if spectrum == "linear":
            return np.linspace(1.0, 1.0 / kappa, rank)
        return np.geomspace(1.0, 1.0 / kappa, rank)
    s = check_finite_array(spectrum, "spectrum", ndim=1)
    if s.size != rank:
        raise ValueError(f"spectrum has {s.size} values but rank = {rank}")
    if np.any(s <= 0):
        raise ValueError("singular values in spectrum must be > 0")
    return np.sort(s)[::-1].copy()


def low_rank_matrix(
    n1: int,
    n2: int,
    rank: int,
    *,
    spectrum: str | Sequence[float] = "flat",
    condition: float = 10.0,
    symmetric: bool = False,
    fro_norm: float | None = None,
    seed: int | np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A rank-``rank`` matrix ``U diag(s) V^T`` with Haar-random orthonormal ``U``, ``V``.

    Parameters
    ----------
    n1, n2, rank : int
        Shape and rank (``1 <= rank <= min(n1, n2)``).
    spectrum : {"flat", "linear", "geometric", "gaussian"} or sequence of float
        Singular values (see :func:`spectrum_values`); ``"gaussian"`` is the ground truth
        of Arora et al.: ``U V^T / sqrt(r)`` with i.i.d. N(0, 1) factors (a random spectrum).
    condition : float
        Ratio ``s_1 / s_r`` for the linear and geometric spectra.
    symmetric : bool
        ``V = U`` (needs ``n1 == n2``): a positive semidefinite target.
    fro_norm : float, optional
        Rescale to this Frobenius norm (Arora et al.: ``n``).
    seed : int or numpy.random.Generator

    Returns
    -------
    W : ndarray of shape (n1, n2)
    s : ndarray of shape (rank,)
        Its nonzero singular values, descending.
    """
    n1, n2 = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    # any truthy value (e.g. "no") drew a symmetric target
    symmetric = check_bool(symmetric, "symmetric")
    if rank > min(n1, n2):
        raise ValueError(f"rank = {rank} exceeds min(n1, n2) = {min(n1, n2)}")
    if symmetric and n1 != n2:
        raise ValueError(f"a symmetric target needs n1 == n2, got {n1} x {n2}")
    rng = as_generator(seed)
    if isinstance(spectrum, str) and spectrum == "gaussian":
        U = rng.standard_normal((n1, rank))
        V = U if symmetric else rng.standard_normal((n2, rank))
        W = U @ V.T / np.sqrt(rank)
        # orthonormal bases of the column and row spaces (for the singular values)
        U = np.linalg.qr(U)[0]
        V = U if symmetric else np.linalg.qr(V)[0]
    else:
        s = spectrum_values(rank, spectrum, condition)
        U = _orthonormal(rng, n1, rank)
        V = U if symmetric else _orthonormal(rng, n2, rank)
        W = (U * s) @ V.T
    if fro_norm is not None:
        W = W * (check_positive(fro_norm, "fro_norm") / np.linalg.norm(W))
    # W = U (U^T W V) V^T: the singular values of the r x r core are W's, to the same
    # rounding as a full SVD, at O(n1 n2 r) instead of O(n1 n2 min(n1, n2)) (a minute
    # for a 4000 x 4000 target)
    s = np.linalg.svd(U.T @ W @ V, compute_uv=False)
    return W, s


def _noise_matrix(rng, shape, noise: float, noise_norm: str) -> np.ndarray:
    E = rng.standard_normal(shape)
    if noise_norm == "fro":
        return E * (noise / np.linalg.norm(E))
    if noise_norm == "spectral":
        return E * (noise / np.linalg.norm(E, 2))
    raise ValueError(f"noise_norm must be 'fro' or 'spectral', got {noise_norm!r}")


def _finish(A: MatrixOperator, W: np.ndarray, s: np.ndarray, noise: float,
            noise_norm: str, rng, info: dict) -> Problem:
    noise = check_positive(noise, "noise", allow_zero=True)
    if noise_norm not in ("fro", "spectral"):  # also when noise == 0 (no silent typo)
        raise ValueError(f"noise_norm must be 'fro' or 'spectral', got {noise_norm!r}")
    target = W
    if noise > 0:
        target = W + _noise_matrix(rng, W.shape, noise, noise_norm)
    y = A.matvec(target.reshape(-1))
    per_entry = noise / math.sqrt(W.size) if noise_norm == "fro" else float("nan")
    if isinstance(A, GaussianSensing) and noise_norm == "fro":
        # y_i = <A_i, W + E> with A_i ~ N(0, 1/m) i.i.d.: the noise <A_i, E> of each
        # measurement is exactly N(0, ||E||_F^2 / m), whatever the shape of W
        per_entry = noise / math.sqrt(A.shape[0])
    info = dict(info, matrix_shape=tuple(W.shape), singular_values=s.tolist(),
                noise_norm=noise, noise_norm_type=noise_norm)
    return Problem(A, y, x_true=W.reshape(-1), noise=0.0 if noise == 0 else per_entry,
                   info=info)


def matrix_estimation(
    n1: int,
    n2: int | None = None,
    rank: int = 1,
    *,
    spectrum: str | Sequence[float] = "flat",
    condition: float = 10.0,
    symmetric: bool = False,
    fro_norm: float | None = None,
    noise: float = 0.0,
    noise_norm: str = "fro",
    seed: int | np.random.Generator,
) -> Problem:
    """Full observation of a noisy low-rank matrix: ``Y = W* + E`` (denoising).

    The setting of Chou et al. (noiseless) and Wang & Chou (perturbed):
    ``L(W_1, ..., W_N) = 0.5 ||W_N ... W_1 - Y||_F^2``.

    Parameters
    ----------
    n1, n2 : int
        Shape (``n2`` defaults to ``n1``).
    rank, spectrum, condition, symmetric, fro_norm
        The ground truth, see :func:`low_rank_matrix`.
    noise : float
        Norm of the additive Gaussian noise matrix ``E`` (0: noiseless).
    noise_norm : {"fro", "spectral"}
        Which norm of ``E`` equals ``noise``.
    seed : int or numpy.random.Generator

    Returns
    -------
    Problem
        ``A`` is a :class:`MatrixIdentity`, ``y = vec(Y)``, ``x_true = vec(W*)``;
        ``info["matrix_shape"]``, ``info["singular_values"]``, ``info["noise_norm"]``.

    Examples
    --------
    >>> p = matrix_estimation(20, 20, 3, spectrum="geometric", noise=0.1, seed=0)
    >>> p.info["matrix_shape"], p.y.shape
    ((20, 20), (400,))
    """
    n2 = n1 if n2 is None else n2
    rng = as_generator(seed)
    W, s = low_rank_matrix(n1, n2, rank, spectrum=spectrum, condition=condition,
                           symmetric=symmetric, fro_norm=fro_norm, seed=rng)
    A = MatrixIdentity(*W.shape)
    info = dict(generator="matrix_estimation", n1=W.shape[0], n2=W.shape[1], rank=rank,
                spectrum=spectrum if isinstance(spectrum, str) else "custom",
                symmetric=bool(symmetric))
    return _finish(A, W, s, noise, noise_norm, rng, info)


def matrix_completion(
    n1: int,
    n2: int | None = None,
    rank: int = 1,
    n_observed: int | None = None,
    *,
    fraction: float | None = None,
    spectrum: str | Sequence[float] = "flat",
    condition: float = 10.0,
    symmetric: bool = False,
    fro_norm: float | None = None,
    noise: float = 0.0,
    noise_norm: str = "fro",
    seed: int | np.random.Generator,
) -> Problem:
    """Matrix completion: ``n_observed`` entries of ``W* + E``, uniformly without replacement.

    Arora et al.'s setting is ``matrix_completion(100, 100, 5, 2000 or 5000,
    spectrum="gaussian", fro_norm=100, seed=...)``.

    Parameters
    ----------
    n1, n2, rank
        Shape and rank of the truth (see :func:`low_rank_matrix`).
    n_observed : int, optional
        Number of observed entries, ``1 <= n_observed <= n1 n2``. Give exactly one of
        ``n_observed`` and ``fraction``.
    fraction : float, optional
        Observed fraction of the entries, in (0, 1]: ``n_observed = max(1,
        round(fraction n1 n2))``.
    spectrum, condition, symmetric, fro_norm, noise, noise_norm, seed
        As in :func:`matrix_estimation`.

    Returns
    -------
    Problem
        ``A`` is an :class:`EntryMask` (``A.mask`` the boolean pattern).
    """
    n2 = n1 if n2 is None else n2
    n1c, n2c = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
    total = n1c * n2c
    if (n_observed is None) == (fraction is None):
        raise TypeError("give exactly one of n_observed and fraction")
    if fraction is not None:
        f = check_positive(fraction, "fraction")
        if f > 1:
            raise ValueError(f"fraction must be in (0, 1], got {f}")
        n_observed = max(1, int(round(f * total)))
    n_observed = check_int(n_observed, "n_observed", minimum=1)
    if n_observed > total:
        raise ValueError(f"n_observed = {n_observed} exceeds the {total} entries")
    rng = as_generator(seed)
    W, s = low_rank_matrix(n1c, n2c, rank, spectrum=spectrum, condition=condition,
                           symmetric=symmetric, fro_norm=fro_norm, seed=rng)
    flat = rng.choice(total, size=n_observed, replace=False)
    A = EntryMask(n1c, n2c, flat // n2c, flat % n2c)
    info = dict(generator="matrix_completion", n1=n1c, n2=n2c, rank=rank,
                n_observed=n_observed, spectrum=spectrum if isinstance(spectrum, str)
                else "custom", symmetric=bool(symmetric))
    return _finish(A, W, s, noise, noise_norm, rng, info)


def matrix_sensing(
    n1: int,
    n2: int | None = None,
    rank: int = 1,
    m: int | None = None,
    *,
    spectrum: str | Sequence[float] = "flat",
    condition: float = 10.0,
    symmetric: bool = False,
    fro_norm: float | None = None,
    noise: float = 0.0,
    noise_norm: str = "fro",
    matrix_free: bool | str = "auto",
    seed: int | np.random.Generator,
) -> Problem:
    """Matrix sensing ``y = A(W* + E)`` with a Gaussian operator (see :class:`GaussianSensing`).

    Parameters
    ----------
    n1, n2, rank
        Shape and rank of the truth.
    m : int
        Number of measurements (default ``5 rank (n1 + n2)``).
    matrix_free : bool or "auto"
        Store the measurement matrix or regenerate it from a key on each application.
    spectrum, condition, symmetric, fro_norm, noise, noise_norm, seed
        As in :func:`matrix_estimation`.
    """
    n2 = n1 if n2 is None else n2
    n1c, n2c = check_int(n1, "n1", minimum=1), check_int(n2, "n2", minimum=1)
    rank = check_int(rank, "rank", minimum=1)
    if m is None:
        m = 5 * rank * (n1c + n2c)
    m = check_int(m, "m", minimum=1)
    _sensing_mode(n1c, n2c, m, matrix_free, 256)  # refused before the truth is drawn
    rng = as_generator(seed)
    W, s = low_rank_matrix(n1c, n2c, rank, spectrum=spectrum, condition=condition,
                           symmetric=symmetric, fro_norm=fro_norm, seed=rng)
    A = GaussianSensing(n1c, n2c, m, rng, matrix_free=matrix_free)
    info = dict(generator="matrix_sensing", n1=n1c, n2=n2c, rank=rank, m=m,
                spectrum=spectrum if isinstance(spectrum, str) else "custom",
                symmetric=bool(symmetric), matrix_free=A.matrix_free)
    return _finish(A, W, s, noise, noise_norm, rng, info)


def matrix_shape_of(problem_or_op: Any, *,
                    shape_arg: bool | None = None) -> tuple[int, int]:
    """The ``(n1, n2)`` of a matrix problem or operator (clear error otherwise).

    Parameters
    ----------
    problem_or_op : Problem or Operator
        A problem whose operator has a ``matrix_shape`` (or whose ``info`` records one),
        or such an operator.
    shape_arg : bool, optional
        Whether the caller takes a ``shape=(n1, n2)`` argument, for the error message:
        True advises passing it, False does not (the matrix baselines take none), None
        (default) advises it for functions that take it.

    Returns
    -------
    tuple of int
        ``(n1, n2)``.
    """
    op = getattr(problem_or_op, "A", problem_or_op)
    shape = getattr(op, "matrix_shape", None)
    if shape is None:
        info = getattr(problem_or_op, "info", {}) or {}
        shape = info.get("matrix_shape")
    if shape is None:
        # the advice "pass shape=" misled callers of functions without that argument
        how = {True: ", or pass shape=(n1, n2)", False: "",
               None: ", or pass shape=(n1, n2) where the function takes one"}[shape_arg]
        raise TypeError(
            "not a matrix problem: use a Problem from problems.matrix_estimation/_sensing/"
            "_completion (or one with info['matrix_shape'] = (n1, n2)), an operator with "
            f"a matrix_shape (a MatrixOperator){how}")
    # a recorded shape is checked: info["matrix_shape"] = (5, 5) was returned for an
    # operator of 6 columns, 60 failed as "not subscriptable", (-2, -3) was returned
    n1, n2 = check_matrix_shape(shape, "matrix_shape")
    cols = getattr(op, "shape", None)
    if isinstance(cols, tuple) and len(cols) == 2 and n1 * n2 != cols[1]:
        raise ValueError(f"matrix_shape {(n1, n2)} has {n1 * n2} entries, but the operator "
                         f"has {cols[1]} columns")
    return (n1, n2)
