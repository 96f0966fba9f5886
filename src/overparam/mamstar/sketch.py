"""The MAM* sketch ``B = (1/K) M A M^T`` and its one-pass builders.

Every builder accumulates the raw sum ``C = M A M^T`` (linear in A: partial sketches of
disjoint parts of A add up) and, when the bit-test extension is on, the raw sums
``Y_t = (M (.) bit_t) A M^T Omega`` (t = 0..L-1) for a seeded Gaussian ``Omega`` (m x q).
The finished sketch is ``B = (C + C^T) / (2K)`` and ``bits = Y / K``.

Symmetric input is accepted in two forms (``symmetry=``):

* ``"both"`` (default): every entry of A is given, each off-diagonal value as (i, j) and
  as (j, i). The build checks at the end that ``C`` is symmetric (an asymmetric A would
  make it asymmetric) and refuses the stream otherwise.
* ``"upper"`` / ``"lower"``: each off-diagonal pair is given once, with ``i <= j``
  (``"upper"``) or ``i >= j`` (``"lower"``); the transpose is implied. An entry on the
  wrong side is an error.

Entries given several times add up (the sketch is linear), so a stream may repeat an
(i, j) to give a sum, but must not re-send entries it already sent.
"""
from __future__ import annotations

import json
import numbers
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import scipy.sparse as sp

from .._core import check_int, check_positive, pow2_exponent
from .._core.checks import refuse_masked
from .matrix import PrimeMatrix, bits_of, n_bits

__all__ = ["Sketch", "SketchBuilder", "sketch_stream", "sketch_matrix", "sketch_factored",
           "sketch_operator", "sketch_shards", "read_shard", "SYMMETRY"]

SYMMETRY = ("both", "upper", "lower")
_SUB = 1 << 17  # entries per vectorized sub-chunk of a stream (bounded temporaries)


def _real(x: Any, what: str) -> np.ndarray:
    """``x`` as a float64 array; a complex one only when its imaginary parts are all 0.

    MAM* sketches a real symmetric A: a plain float cast would drop the imaginary parts
    of, e.g., a Hermitian input with a mere ComplexWarning and sketch another matrix.
    """
    refuse_masked(x, what)  # np.asarray drops the mask: the hidden values were used
    a = np.asarray(x)
    if a.dtype.kind in "USMm":
        # strings such as '1.5' were parsed into numbers silently, dates into counts
        raise TypeError(f"{what} must be numeric, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        if np.any(a.imag != 0):
            raise TypeError(f"{what} must be real (MAM* sketches a real symmetric matrix), "
                            f"got complex values with nonzero imaginary parts")
        a = a.real
    return a.astype(np.float64, copy=False)


def _tqdm(progress: bool | None, **kw: Any):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the experiments extra
        class _Null:
            def __init__(self, *a, **k): pass
            def update(self, *a, **k): pass
            def set_postfix(self, *a, **k): pass
            def close(self): pass
        return _Null()
    return tqdm(disable=None if progress is None else not progress, file=sys.stderr, **kw)


@dataclass(eq=False)
class Sketch:
    """A (possibly partial) MAM* sketch.

    Attributes
    ----------
    M : PrimeMatrix
        The implicit sketching matrix.
    C : ndarray (m, m)
        Raw sum ``M A M^T`` of the entries seen (see the module docstring).
    Y : ndarray (L, m, q) or None
        Raw bit-test sums, or None without the bit-test extension.
    bit_seed : int
        Seed of the Gaussian ``Omega`` (m x q) of the bit-test extension.
    n_entries : int
        Number of entries (or factor nonzeros, or matrix rows) folded in.
    symmetry : str
        How the input was given (module docstring).
    info : dict
        Builder details (source kind, timings, shards resumed, ...).
    """

    M: PrimeMatrix
    C: np.ndarray
    Y: np.ndarray | None = None
    bit_seed: int = 0
    n_entries: int = 0
    symmetry: str = "both"
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def empty(cls, M: PrimeMatrix, *, bits: int | None = None, bit_seed: int = 0,
              symmetry: str = "both") -> "Sketch":
        """A zero sketch; ``bits=q`` adds the bit-test extension with q test vectors."""
        if symmetry not in SYMMETRY:
            raise ValueError(f"symmetry must be one of {SYMMETRY}, got {symmetry!r}")
        Y = None
        if bits is not None:  # bits=0 (or False) built no extension silently
            q = check_int(bits, "bits", minimum=1)
            Y = np.zeros((M.n_bits, M.m, q))
        # int(1.7) recorded the seed 1 silently (and -1 failed only in omega())
        bit_seed = check_int(bit_seed, "bit_seed", minimum=0)
        return cls(M, np.zeros((M.m, M.m)), Y, bit_seed, 0, symmetry)

    # -- finished quantities -----------------------------------------------------------
    @property
    def m(self) -> int:
        return self.M.m

    @property
    def B(self) -> np.ndarray:
        """The sketch ``(1/K) M A M^T`` (symmetrized)."""
        # halves first: C + C^T overflowed to inf for a finite C above ~9e307 (an A with
        # an entry of 1.5e308 was refused as "the sketch holds NaN or inf"); for a
        # symmetric C this is bit for bit (C + C^T) / 2K. In row blocks: no m x m
        # temporaries besides B itself.
        C, two_k = self.C, 2.0 * self.M.K
        B = np.empty(C.shape)
        step = max(1, (1 << 20) // max(C.shape[0], 1))
        for a in range(0, C.shape[0], step):
            np.divide(C[a:a + step], two_k, out=B[a:a + step])
            B[a:a + step] += C[:, a:a + step].T / two_k
        return B

    @property
    def has_bits(self) -> bool:
        return self.Y is not None

    @property
    def q(self) -> int:
        return 0 if self.Y is None else int(self.Y.shape[2])

    @property
    def bits(self) -> np.ndarray | None:
        """``(L, m, q)``: ``(1/K) (M (.) bit_t) A M^T Omega``, or None."""
        return None if self.Y is None else self.Y / self.M.K

    def omega(self) -> np.ndarray:
        """The seeded Gaussian test matrix ``Omega`` (m x q) of the bit-test extension."""
        if self.Y is None:
            raise ValueError("this sketch has no bit-test extension (build with bits=q)")
        return _omega(self.M.m, self.q, self.bit_seed)

    def asymmetry(self) -> float:
        """``||C - C^T||_F / ||C||_F`` (0 for a symmetric input; NaN when C holds NaN or
        inf), computed on ``C / 2**e`` with ``2**e ~ max|C|``: the plain norms squared
        the entries, so data of size 1e-170 gave 0 / 0 -> 0 and 1e200 gave inf / inf ->
        NaN, and an asymmetric input passed."""
        top = float(np.abs(self.C).max(initial=0.0))
        if not np.isfinite(top):
            return float("nan")
        if top == 0:
            return 0.0
        Cs = np.ldexp(self.C, -int(pow2_exponent(top)))
        return float(np.linalg.norm(Cs - Cs.T) / np.linalg.norm(Cs))

    def check(self, tol: float = 1e-9, *, whole: bool = False) -> "Sketch":
        """Refuse a finished ``symmetry="both"`` sketch of a non-symmetric input
        (``whole``: the input was a whole matrix or operator, not entries, which the
        message's advice depends on)."""
        tol = check_positive(tol, "tol", allow_zero=True)
        # Y too: NaN bit-test sums (an operator that returned NaN for the test vectors
        # only) passed the check and zeroed the bit-test decoder's candidates silently
        if not np.all(np.isfinite(self.C)) or (self.Y is not None
                                               and not np.all(np.isfinite(self.Y))):
            # finite input can overflow too (1e308 * I): "NaN/inf in the input?" misled
            raise ValueError("the sketch holds non-finite values (NaN/inf in the input, "
                             "or sums beyond the float64 range: rescale A)")
        if self.symmetry == "both":
            asym = self.asymmetry()
            if not asym <= tol:  # a NaN asymmetry must not pass
                what = (f"||M A M^T - (M A M^T)^T||_F / ||M A M^T||_F = {asym:.3e} > "
                        f"{tol:g}.")
                if whole:  # symmetry="upper"/"lower" is for entries only
                    raise ValueError(
                        f"the matrix is not symmetric: {what} A matrix or operator source "
                        "is read in full and must be symmetric; from a triangle T with "
                        "its diagonal, pass T + T.T - diag(T) (e.g. np.triu(A) + "
                        "np.triu(A, 1).T), or stream its entries with symmetry='upper'.")
                raise ValueError(
                    f"the input is not symmetric although declared symmetry='both': "
                    f"{what} Give every off-diagonal entry as both (i, j) and (j, i), or "
                    "give each pair once and declare symmetry='upper' or 'lower'.")
        return self

    # -- algebra -----------------------------------------------------------------------
    def compatible(self, other: "Sketch") -> bool:
        return (self.M.same_as(other.M) and self.q == other.q
                and (self.q == 0 or self.bit_seed == other.bit_seed))

    def __add__(self, other: "Sketch") -> "Sketch":
        if not isinstance(other, Sketch):
            return NotImplemented
        if not self.compatible(other):
            raise ValueError("cannot add sketches made with different primes, N or "
                             "bit-test settings")
        Y = None if self.Y is None else self.Y + other.Y
        return Sketch(self.M, self.C + other.C, Y, self.bit_seed,
                      self.n_entries + other.n_entries, _sum_symmetry(self, other),
                      dict(self.info))

    # ndarray + sketch made an object array of sketches (NumPy broadcast the sketch):
    # with this NumPy defers to __radd__, which refuses it
    __array_ufunc__ = None

    def __radd__(self, other: Any) -> "Sketch":  # sum([...])
        # only the start value 0 of sum(); `other == 0` on an array was ambiguous
        if isinstance(other, numbers.Number) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    def iadd_(self, other: "Sketch") -> "Sketch":
        """In-place sum (no copy of C)."""
        if not isinstance(other, Sketch):  # was an AttributeError ('int' has no 'M')
            raise TypeError(f"can only add a Sketch, got {type(other).__name__}")
        if not self.compatible(other):
            raise ValueError("cannot add sketches made with different primes, N or "
                             "bit-test settings")
        self.C += other.C
        if self.Y is not None:
            self.Y += other.Y
        self.n_entries += other.n_entries
        self.symmetry = _sum_symmetry(self, other)
        return self

    # -- storage -----------------------------------------------------------------------
    def save(self, path: str | os.PathLike, **extra: Any) -> Path:
        """Write the sketch to ``path`` (``.npz``), atomically."""
        path = Path(path)
        meta = dict(n=self.M.n, bit_seed=self.bit_seed, n_entries=self.n_entries,
                    symmetry=self.symmetry, info=_jsonable(self.info), **extra)
        arrays = dict(C=self.C, primes=self.M.primes, meta=np.array(json.dumps(meta)))
        if self.Y is not None:
            arrays["Y"] = self.Y
        _atomic_savez(path, arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Sketch":
        """Read a sketch written by :meth:`save`.

        The file is checked (a truncated or edited one failed later, in the decoder, with
        errors naming no file, or decoded a wrong sketch): the arrays ``C``, ``primes``
        and ``meta`` must be there, the metadata complete (N, seed, counts, a known
        symmetry), ``C`` real, finite and m x m for the primes, ``Y`` (if any) real,
        finite and ``(L, m, q)`` with ``L = ceil(log2 N)``.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not a valid saved sketch (the message names ``path``); a
            damaged archive keeps numpy's error type (e.g. ``BadZipFile``, ``EOFError``),
            with ``path`` in the message.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = sorted({"C", "primes", "meta"} - set(z.files))
                if missing:
                    raise ValueError(f"arrays {missing} are missing (found "
                                     f"{sorted(z.files)})")
                meta = json.loads(str(z["meta"]))
                primes, C = z["primes"], z["C"]
                Y = z["Y"] if "Y" in z.files else None
        except FileNotFoundError:
            raise
        except Exception as exc:  # BadZipFile, EOFError, object arrays, bad JSON, ...
            raise _named(exc, path) from exc
        try:
            M, C, Y, meta = _check_saved(meta, primes, C, Y)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a valid saved sketch: {exc}") from None
        sk = cls(M, C, Y, meta["bit_seed"], meta["n_entries"], meta["symmetry"],
                 dict(meta.get("info") or {}))
        sk.info["meta"] = {k: v for k, v in meta.items() if k not in ("info",)}
        return sk

    def __repr__(self) -> str:
        return (f"Sketch(N={self.M.n}, m={self.m}, K={self.M.K}, entries={self.n_entries}, "
                f"bits={'q=%d' % self.q if self.Y is not None else 'no'}, "
                f"symmetry={self.symmetry})")


def _sum_symmetry(a: Sketch, b: Sketch) -> str:
    """The ``symmetry`` of ``a + b``: a triangle sketch stores its off-diagonal entries
    once, with weight 2, so its raw C is not symmetric, and neither is a sum with one.
    Labelled "both", such a sum (e.g. an "upper" shard plus a "lower" one, a valid sketch
    of A) was refused by :meth:`Sketch.check` as "not symmetric"."""
    if a.symmetry == b.symmetry:
        return a.symmetry
    return a.symmetry if a.symmetry != "both" else b.symmetry


def _check_saved(meta: Any, primes: np.ndarray, C: np.ndarray, Y: np.ndarray | None
                 ) -> tuple[PrimeMatrix, np.ndarray, np.ndarray | None, dict]:
    """The parts of a saved sketch, checked against each other (see :meth:`Sketch.load`)."""
    if not isinstance(meta, dict):
        raise ValueError(f"its metadata is a {type(meta).__name__}, not a mapping")
    for key in ("n", "bit_seed", "n_entries", "symmetry"):
        if key not in meta:
            raise ValueError(f"its metadata lacks {key!r}")
    n = check_int(meta["n"], "N (meta 'n')", minimum=1)
    check_int(meta["bit_seed"], "bit_seed", minimum=0)
    check_int(meta["n_entries"], "n_entries", minimum=0)
    if meta["symmetry"] not in SYMMETRY:
        raise ValueError(f"symmetry must be one of {SYMMETRY}, got {meta['symmetry']!r}")
    if not isinstance(meta.get("info", {}), (dict, type(None))):
        raise ValueError("its metadata 'info' is not a mapping")
    M = PrimeMatrix(n, primes)
    if C.dtype.kind != "f" or C.shape != (M.m, M.m):
        raise ValueError(f"C must be a real {M.m} x {M.m} array for its primes (m = "
                         f"{M.m}), got dtype {C.dtype}, shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError("C holds NaN or inf")
    if Y is not None:
        L = n_bits(n)
        if Y.dtype.kind != "f" or Y.ndim != 3 or Y.shape[:2] != (L, M.m) or Y.shape[2] < 1:
            raise ValueError(f"Y must be a real (L, m, q) = ({L}, {M.m}, q >= 1) array "
                             f"for N = {n} and its primes, got dtype {Y.dtype}, shape "
                             f"{Y.shape}")
        if not np.all(np.isfinite(Y)):
            raise ValueError("Y holds NaN or inf")
        Y = Y.astype(np.float64, copy=False)
    return M, C.astype(np.float64, copy=False), Y, meta


def _jsonable(d: dict) -> dict:
    return json.loads(json.dumps(d, default=lambda o: o.item() if isinstance(o, np.generic)
                                 else str(o)))


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _omega(m: int, q: int, seed: int) -> np.ndarray:
    return np.random.default_rng(int(seed)).standard_normal((m, q))


# ------------------------------------------------------------------------------------
# the builder
# ------------------------------------------------------------------------------------
class SketchBuilder:
    """Accumulates a :class:`Sketch` from any mix of entries, matrix rows and factors.

    Parameters
    ----------
    M : PrimeMatrix
        Sketching matrix.
    symmetry : {"both", "upper", "lower"}
        How entries are given (module docstring); rows and factors are always "both".
    bits : int, optional
        Number q of test vectors of the bit-test extension (None: no extension).
    bit_seed : int
        Seed of ``Omega``.
    """

    def __init__(self, M: PrimeMatrix, *, symmetry: str = "both", bits: int | None = None,
                 bit_seed: int = 0):
        if not isinstance(M, PrimeMatrix):
            raise TypeError(f"M must be a PrimeMatrix, got {type(M).__name__}")
        bit_seed = check_int(bit_seed, "bit_seed", minimum=0)  # 1.5 was read as 1
        self.sketch = Sketch.empty(M, bits=bits, bit_seed=bit_seed, symmetry=symmetry)
        self.M = M
        self._omega = _omega(M.m, self.sketch.q, bit_seed) if bits else None
        self._chunks = 0

    # -- entries -----------------------------------------------------------------------
    def add_entries(self, i: Any, j: Any, values: Any) -> "SketchBuilder":
        """Fold the entries ``A[i, j] = values`` (1-d arrays of equal length) in."""
        M, sk = self.M, self.sketch
        self._chunks += 1
        where = f"chunk {self._chunks}"
        i = M.check_indices(i, f"row indices ({where})")
        j = M.check_indices(j, f"column indices ({where})")
        v = np.asarray(values)
        if not (np.issubdtype(v.dtype, np.number) or v.dtype == bool):
            raise TypeError(f"values ({where}) must be numeric, got dtype {v.dtype}")
        v = _real(v, f"values ({where})").reshape(-1)
        if not (i.size == j.size == v.size):
            raise ValueError(f"{where}: {i.size} row indices, {j.size} column indices and "
                             f"{v.size} values (must be equal)")
        if not np.all(np.isfinite(v)):
            bad = int(np.count_nonzero(~np.isfinite(v)))
            raise ValueError(f"{where}: {bad} non-finite value(s) (NaN or inf)")
        if sk.symmetry == "upper" and np.any(i > j):
            e = int(np.flatnonzero(i > j)[0])
            raise ValueError(f"{where}: entry ({i[e]}, {j[e]}) is below the diagonal but "
                             "symmetry='upper' (give pairs with i <= j, or use 'both')")
        if sk.symmetry == "lower" and np.any(i < j):
            e = int(np.flatnonzero(i < j)[0])
            raise ValueError(f"{where}: entry ({i[e]}, {j[e]}) is above the diagonal but "
                             "symmetry='lower' (give pairs with i >= j, or use 'both')")
        self._fold_entries(i, j, v, triangle=sk.symmetry != "both")
        sk.n_entries += int(v.size)
        return self


    def _fold_entries(self, i: np.ndarray, j: np.ndarray, v: np.ndarray,
                      triangle: bool) -> None:
        M, sk = self.M, self.sketch
        for a in range(0, v.size, _SUB):
            ii, jj, vv = i[a:a + _SUB], j[a:a + _SUB], v[a:a + _SUB]
            if not triangle:
                _add_pairs(sk.C, M, ii, jj, vv)
                if sk.Y is not None:
                    _add_bits(sk.Y, M, self._omega, ii, jj, vv)
            else:  # one triangle: off-diagonal weight 2 so that B = (C + C^T) / 2K
                w = np.where(ii == jj, 1.0, 2.0) * vv
                _add_pairs(sk.C, M, ii, jj, w)
                if sk.Y is not None:
                    _add_bits(sk.Y, M, self._omega, ii, jj, vv)
                    off = ii != jj
                    if off.any():
                        _add_bits(sk.Y, M, self._omega, jj[off], ii[off], vv[off])

    # -- rows of a matrix --------------------------------------------------------------
    def add_rows(self, rows: Any, block: Any) -> "SketchBuilder":
        """Fold the rows ``A[rows, :]`` (dense ``(b, N)`` array or scipy sparse) in."""
        M, sk = self.M, self.sketch
        rows = M.check_indices(rows, "row indices")
        if sp.issparse(block):
            block = sp.csr_array(block)
            if np.iscomplexobj(block.data):
                block = sp.csr_array((_real(block.data, "the matrix"), block.indices,
                                      block.indptr), shape=block.shape)
            if block.shape != (rows.size, M.n):
                raise ValueError(f"block has shape {block.shape}, expected "
                                 f"({rows.size}, {M.n})")
            if not np.all(np.isfinite(block.data)):
                raise ValueError("the matrix holds non-finite values (NaN or inf)")
            nnz_row = block.nnz / max(rows.size, 1)
            if nnz_row * M.K < M.m:  # few entries per row: the entry path is cheaper
                coo = block.tocoo()
                self._fold_entries(rows[coo.row], coo.col.astype(np.int64), coo.data,
                                   triangle=False)
                sk.n_entries += int(rows.size)
                return self
            T = _fold_sparse(block, M)
        else:
            block = _real(block, "the matrix")
            if block.ndim != 2 or block.shape != (rows.size, M.n):
                raise ValueError(f"block has shape {block.shape}, expected "
                                 f"({rows.size}, {M.n})")
            if not np.all(np.isfinite(block)):
                raise ValueError("the matrix holds non-finite values (NaN or inf)")
            T = _fold_dense(block, M)  # A[rows] M^T, (b, m)
        R = _row_incidence(M, rows)  # (m, b) sparse: M[:, rows]
        sk.C += R @ T
        if sk.Y is not None:
            sk.Y.reshape(-1, sk.q)[:] += _bit_incidence(M, rows) @ (T @ self._omega)
        sk.n_entries += int(rows.size)
        return self

    # -- factors -----------------------------------------------------------------------
    def add_factored(self, eigenvalues: Any, vectors: Any) -> "SketchBuilder":
        """Fold ``sum_j eigenvalues[j] v_j v_j^T`` in (``vectors``: N x r, dense or
        scipy sparse, or a list of ``(indices, values)`` pairs)."""
        M, sk = self.M, self.sketch
        lam = _real(eigenvalues, "eigenvalues").reshape(-1)
        cols = _factor_columns(vectors, M.n)
        if len(cols) != lam.size:
            raise ValueError(f"{lam.size} eigenvalues but {len(cols)} vectors")
        if not np.all(np.isfinite(lam)):
            raise ValueError("eigenvalues contain NaN or inf")
        MV = np.zeros((M.m, lam.size))
        for c, (idx, val) in enumerate(cols):
            idx = M.check_indices(idx, f"indices of vector {c}")
            if not np.all(np.isfinite(val)):
                raise ValueError(f"vector {c} contains NaN or inf")
            MV[:, c] = M.matvec_sparse(idx, val)
        sk.C += (MV * lam) @ MV.T
        if sk.Y is not None:
            right = (self._omega.T @ MV) * lam  # (q, r): Omega^T M v_j lambda_j
            for c, (idx, val) in enumerate(cols):
                bits = M.bit_matvec_sparse(idx, val)  # (L, m)
                sk.Y += bits[:, :, None] * right[:, c][None, None, :]
        sk.n_entries += int(sum(len(c[0]) for c in cols))
        return self

    def finish(self, check: bool = True, tol: float = 1e-9, *,
               whole: bool = False) -> Sketch:
        """The accumulated sketch (checked for symmetry when ``check``; ``whole``: see
        :meth:`Sketch.check`)."""
        return self.sketch.check(tol, whole=whole) if check else self.sketch


def _add_pairs(C: np.ndarray, M: PrimeMatrix, i: np.ndarray, j: np.ndarray,
               w: np.ndarray) -> None:
    """C[rows(i), rows(j)] += w for all K^2 block pairs: one bincount per block pair
    (each p_k x p_l block stays in cache), or, for a chunk of fewer than (m / K)^2
    entries, a direct scatter of its K^2 cells per entry."""
    if i.size == 0:
        return
    K2 = M.K ** 2
    if i.size * K2 < M.m ** 2 and C.flags.c_contiguous:
        # the bincounts cost O(m^2) per chunk whatever its size: a stream of
        # single-entry chunks took 0.1 s per entry at m = 5541 (O(K^2) is documented).
        # In pieces of ~2**20 cells (bounded temporaries).
        Cf, w = C.reshape(-1), np.asarray(w, dtype=float)
        step = max(1, (1 << 20) // K2)
        for a in range(0, i.size, step):
            ri, rj = M.rows(i[a:a + step]), M.rows(j[a:a + step])  # (c, K)
            flat = (ri[:, :, None] * M.m + rj[:, None, :]).reshape(-1)
            np.add.at(Cf, flat, np.repeat(w[a:a + step], K2))
        return
    P, off = M.primes, M.offsets
    Ri, Rj = M.residues(i), M.residues(j)
    for k in range(M.K):
        pk, ok = int(P[k]), int(off[k])
        for l in range(M.K):
            pl, ol = int(P[l]), int(off[l])
            cnt = np.bincount(Ri[k] * pl + Rj[l], w, pk * pl)
            C[ok:ok + pk, ol:ol + pl] += cnt.reshape(pk, pl)


def _add_bits(Y: np.ndarray, M: PrimeMatrix, omega: np.ndarray, i: np.ndarray,
              j: np.ndarray, v: np.ndarray) -> None:
    """Y[t, rows(i), :] += v * (M^T Omega)[j] for the set bits t of i."""
    step = 1 << 13  # the incidence matrix has ~K L / 2 entries per stream entry
    Yf = Y.reshape(-1, Y.shape[2])
    for a in range(0, i.size, step):
        ii, jj, vv = i[a:a + step], j[a:a + step], v[a:a + step]
        G = omega[M.rows(jj)].sum(axis=1)  # (c, q)
        if ii.size * M.K < M.m:
            # the product below is a dense (L m, q) array per chunk: 11 ms per entry of a
            # stream of single entries at m = 5541; scatter the ~K L / 2 rows instead
            e_idx, t_idx = np.nonzero(bits_of(ii, M.n_bits))
            rows = (t_idx[:, None] * M.m + M.rows(ii[e_idx])).reshape(-1)
            np.add.at(Yf, rows, np.repeat(vv[e_idx, None] * G[e_idx], M.K, axis=0))
        else:
            Yf += _bit_incidence(M, ii, vv) @ G  # (L m, c) @ (c, q)


def _bit_incidence(M: PrimeMatrix, idx: np.ndarray, weights: np.ndarray | None = None):
    """Sparse ``(L m, len(idx))``: column e has ``weights[e]`` at ``t m + row_k(idx[e])``
    for every set bit t of idx[e] and every block k."""
    L, K, m = M.n_bits, M.K, M.m
    e_idx, t_idx = np.nonzero(bits_of(idx, L))
    rows = (t_idx[:, None] * m + M.rows(idx[e_idx])).ravel()
    cols = np.repeat(e_idx, K)
    w = np.ones(idx.size) if weights is None else weights
    data = np.repeat(w[e_idx], K)
    return sp.csr_array((data, (rows, cols)), shape=(L * m, idx.size))


def _row_incidence(M: PrimeMatrix, rows: np.ndarray):
    """Sparse ``M[:, rows]`` (m x b)."""
    b = rows.size
    r = M.rows(rows).ravel()
    c = np.repeat(np.arange(b), M.K)
    return sp.csr_array((np.ones(r.size), (r, c)), shape=(M.m, b))


def _fold_dense(block: np.ndarray, M: PrimeMatrix) -> np.ndarray:
    """``block @ M^T`` for a dense (b, N) block: each row folded modulo every prime."""
    b, n = block.shape
    out = np.empty((b, M.m))
    for k, p in enumerate(M.primes):
        p = int(p)
        full = (n // p) * p
        acc = block[:, :full].reshape(b, -1, p).sum(axis=1) if full else np.zeros((b, p))
        if full < n:
            acc[:, : n - full] += block[:, full:]
        out[:, M.offsets[k]:M.offsets[k] + p] = acc
    return out


def _fold_sparse(block: sp.csr_array, M: PrimeMatrix) -> np.ndarray:
    """``block @ M^T`` for a sparse (b, N) block, cost O(K nnz + b m)."""
    coo = block.tocoo()
    b = block.shape[0]
    out = np.zeros((b, M.m))
    for k, p in enumerate(M.primes):
        p = int(p)
        flat = np.bincount(coo.row * p + coo.col % p, coo.data, b * p)
        out[:, M.offsets[k]:M.offsets[k] + p] = flat.reshape(b, p)
    return out


def _factor_columns(vectors: Any, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(vectors, (list, tuple)):
        out = []
        for c, item in enumerate(vectors):
            idx, val = item
            idx, val = np.asarray(idx), _real(val, f"vector {c}").reshape(-1)
            if idx.size != val.size:
                raise ValueError(f"vector {c}: {idx.size} indices but {val.size} values")
            out.append((idx, val))
        return out
    if sp.issparse(vectors):
        V = sp.csc_array(vectors)
        if V.shape[0] != n:
            raise ValueError(f"vectors have {V.shape[0]} rows, expected N = {n}")
        V.sum_duplicates()
        data = _real(V.data, "vectors")
        return [(V.indices[V.indptr[c]:V.indptr[c + 1]], data[V.indptr[c]:V.indptr[c + 1]])
                for c in range(V.shape[1])]
    V = _real(vectors, "vectors")
    if V.ndim == 1:
        V = V[:, None]
    if V.ndim != 2:  # an (N, r, s) array was read with flat indices up to N r s
        raise ValueError(f"vectors must be an N x r array, got shape {V.shape}")
    if V.shape[0] != n:
        raise ValueError(f"vectors have {V.shape[0]} rows, expected N = {n}")
    return [(np.flatnonzero(V[:, c]), V[np.flatnonzero(V[:, c]), c]) for c in range(V.shape[1])]


# ------------------------------------------------------------------------------------
# builders by source
# ------------------------------------------------------------------------------------
def _builder(M: PrimeMatrix, symmetry: str, bits: int | None, bit_seed: int) -> SketchBuilder:
    return SketchBuilder(M, symmetry=symmetry, bits=bits, bit_seed=bit_seed)


def sketch_stream(chunks: Iterable[Any], M: PrimeMatrix, *, symmetry: str = "both",
                  bits: int | None = None, bit_seed: int = 0, progress: bool | None = False,
                  check: bool = True) -> Sketch:
    """One pass over a stream of ``(i, j, values)`` chunks (any order).

    Parameters
    ----------
    chunks : iterable
        Each item a tuple of three 1-d arrays (row indices, column indices, values), a
        ``(c, 3)`` array (one entry per row; a ``(3, c)`` array, c != 3, is read as rows
        i, j, values) or a mapping with row/col/value (or i/j/v; also an open ``.npz``
        or a data frame with such columns, read by name); a tuple of three scalars is
        one entry. A 3 x 3 array is ambiguous and refused (TypeError): pass a tuple.
    M : PrimeMatrix
        The sketching matrix (indices must lie in 0..N-1).
    symmetry : {"both", "upper", "lower"}, optional
        How the symmetric A is given; see the module docstring. Default "both".
    bits : int, optional
        Number q of test vectors of the bit-test extension (for the bit-test decoder);
        None (default): no extension.
    bit_seed : int, optional
        Seed of the Gaussian ``Omega`` of the bit-test extension; default 0.
    progress : bool or None, optional
        A tqdm bar on stderr counting entries: True shows it, False (default) hides it, None
        shows it only on a terminal.
    check : bool, optional
        If True (default), refuse a non-finite sketch or, with ``symmetry="both"``, one
        of a non-symmetric input (ValueError, see :meth:`Sketch.check`).

    Returns
    -------
    Sketch
        With ``info["source"] = "stream"`` and the build time ``info["seconds"]``.

    Raises
    ------
    TypeError
        If a chunk has none of the accepted forms (or is a 3 x 3 array), or its values
        are not numeric or real.
    ValueError
        If a chunk's arrays differ in length, hold non-finite values or entries on the
        wrong side of the diagonal for ``symmetry``, or (with ``check``) the input is
        not symmetric.
    """
    t0 = time.perf_counter()
    bld = _builder(M, symmetry, bits, bit_seed)
    bar = _tqdm(progress, unit="entries", unit_scale=True, desc="MAM* sketch")
    try:
        for chunk in chunks:
            i, j, v = _split_chunk(chunk)
            bld.add_entries(i, j, v)
            bar.update(int(np.size(v)))  # a single entry may come as scalars
    finally:
        bar.close()
    sk = bld.finish(check)
    sk.info.update(source="stream", seconds=time.perf_counter() - t0)
    return sk


def _split_chunk(chunk: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(chunk, Mapping):  # an open .npz (NpzFile) was unpacked into its keys
        return _from_mapping(chunk)
    keys = getattr(chunk, "keys", None)
    if callable(keys) and not isinstance(chunk, np.ndarray):
        # a pandas DataFrame with named columns, e.g. value, row, col, was read by
        # position as i, j, values (a wrong A, silently under symmetry="upper")
        try:
            names = set(keys())
        except Exception:  # not a mapping after all
            names = set()
        if any(set(c) <= names for c in _NAMES):
            return _from_mapping(chunk)
    if (not isinstance(chunk, (tuple, list)) and hasattr(chunk, "__array__")
            and len(getattr(chunk, "shape", ())) == 2):
        a = np.asarray(chunk)
        if a.shape == (3, 3):
            # one entry per row (the (c, 3) layout) or the rows i, j, values of three
            # entries (np.array([i, j, v])): either guess sketches a wrong A for the other
            raise TypeError(
                "a 3 x 3 array chunk is ambiguous (three entries, one per row, or the "
                "rows i, j, values of three entries): pass a tuple (i, j, values) of 1-d "
                "arrays, e.g. tuple(a.T) for one entry per row or tuple(a) for rows i, j, "
                "values")
        if a.shape[1] == 3:  # (c, 3): one entry per row
            return a[:, 0], a[:, 1], a[:, 2]
        if a.shape[0] == 3:  # (3, c): rows i, j, values, as a tuple of three arrays
            return a[0], a[1], a[2]
        raise TypeError(f"a 2-d array chunk must have shape (c, 3) (one entry per row) or "
                        f"(3, c) (rows i, j, values), got {a.shape}")
    try:
        i, j, v = chunk
    except (TypeError, ValueError):
        raise TypeError("a stream chunk must be (rows, cols, values), a (c, 3) array or a "
                        "mapping with row/col/value") from None
    return np.asarray(i), np.asarray(j), np.asarray(v)


_NAMES = (("row", "col", "value"), ("i", "j", "v"), ("row", "col", "data"))


def _from_mapping(d: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = set(d.keys()) if hasattr(d, "keys") else set(getattr(d, "files", []))
    for a, b, c in _NAMES:
        if {a, b, c} <= keys:
            return np.asarray(d[a]), np.asarray(d[b]), np.asarray(d[c])
    raise KeyError(f"a COO shard needs arrays row/col/value (or i/j/v), found {sorted(keys)}")


def sketch_matrix(A: Any, M: PrimeMatrix, *, block_rows: int | None = None,
                  bits: int | None = None, bit_seed: int = 0, progress: bool | None = False,
                  check: bool = True) -> Sketch:
    """Sketch a dense array, a NumPy memmap, a scipy sparse matrix or another library's
    2-d array (JAX, pandas, Dask, ...: each row block converted by NumPy) in row blocks.

    Dense blocks are folded modulo each prime (O(K) per entry); sparse blocks with few
    entries per row take the entry path (O(K^2) per entry), dense-ish ones the fold.
    Memory: one block plus ``(block_rows, m)``.

    Parameters
    ----------
    A : array_like or sparse matrix, shape (N, N)
        The symmetric matrix, read in full (real, finite).
    M : PrimeMatrix
        The sketching matrix, made for this N.
    block_rows : int, optional
        Rows per block, >= 1; default about 64 MiB of dense rows
        (``max(1, min(N, 2**23 // max(N, m)))``; for a sparse A, whose rows cost their
        nonzeros, ``max(1, min(N, 2**23 // m))``).
    bits : int, optional
        Number q of test vectors of the bit-test extension (for the bit-test decoder);
        None (default): no extension.
    bit_seed : int, optional
        Seed of the Gaussian ``Omega`` of the bit-test extension; default 0.
    progress : bool or None, optional
        A tqdm bar on stderr counting rows: True shows it, False (default) hides it, None
        shows it only on a terminal.
    check : bool, optional
        If True (default), refuse a non-finite sketch or one of a non-symmetric ``A``
        (ValueError, see :meth:`Sketch.check`).

    Returns
    -------
    Sketch
        With ``info["source"] = "matrix"``.

    Raises
    ------
    ValueError
        If ``A`` is not N x N, holds non-finite values, or (with ``check``) is not
        symmetric.
    TypeError
        If ``A`` has complex values with nonzero imaginary parts.
    """
    t0 = time.perf_counter()
    # its rows went through np.asarray, which drops the mask: the hidden entries were
    # sketched (a masked 50 on the diagonal came back as the top eigenvalue)
    refuse_masked(A, "A")
    if sp.issparse(A):
        A = sp.csr_array(A)
    elif not hasattr(A, "shape") or not hasattr(A, "__getitem__"):
        A = _real(A, "A")
    if len(A.shape) != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be a square N x N matrix, got shape {A.shape}")
    if A.shape[0] != M.n:
        raise ValueError(f"A is {A.shape[0]} x {A.shape[1]} but M was made for N = {M.n}")
    n = M.n
    if block_rows is None:  # ~64 MiB of dense rows (or of the (b, m) fold of sparse ones)
        # a sparse row is not N floats: sized by N, a sparse A of N = 10**6 went in
        # blocks of 8 rows, 14 times slower (N = 10**7: one row per block)
        width = M.m if sp.issparse(A) else max(n, M.m)
        block_rows = max(1, min(n, (8 << 20) // width))
    block_rows = check_int(block_rows, "block_rows", minimum=1)
    bld = _builder(M, "both", bits, bit_seed)
    # positional row blocks: a pandas frame's [a:b] may go by its index labels
    rows_of = A.iloc if hasattr(A, "iloc") else A
    bar = _tqdm(progress, total=n, unit="rows", unit_scale=True, desc="MAM* sketch")
    try:
        for a in range(0, n, block_rows):
            b = min(n, a + block_rows)
            bld.add_rows(np.arange(a, b), rows_of[a:b])
            bar.update(b - a)
    finally:
        bar.close()
    sk = bld.finish(check, whole=True)
    sk.info.update(source="matrix", seconds=time.perf_counter() - t0)
    return sk


def sketch_factored(eigenvalues: Any, vectors: Any, M: PrimeMatrix, *,
                    bits: int | None = None, bit_seed: int = 0) -> Sketch:
    """Sketch ``A = sum_j lambda_j v_j v_j^T`` with sparse ``v_j``: ``C = sum_j lambda_j
    (M v_j)(M v_j)^T`` at cost O(K nnz(V) + m^2 r); A is never formed.

    Parameters
    ----------
    eigenvalues : array_like, shape (r,)
        The weights ``lambda_j`` (real, finite).
    vectors : array_like, sparse matrix or list of (indices, values)
        The ``v_j``: an N x r array (dense or scipy sparse), or one ``(indices, values)``
        pair per vector.
    M : PrimeMatrix
        The sketching matrix.
    bits : int, optional
        Number q of test vectors of the bit-test extension (for the bit-test decoder);
        None (default): no extension.
    bit_seed : int, optional
        Seed of the Gaussian ``Omega`` of the bit-test extension; default 0.

    Returns
    -------
    Sketch
        With ``info["source"] = "factored"`` (symmetric by construction: not checked).

    Raises
    ------
    ValueError
        If the numbers of eigenvalues and vectors differ, or either holds NaN or inf.
    """
    t0 = time.perf_counter()
    bld = _builder(M, "both", bits, bit_seed).add_factored(eigenvalues, vectors)
    sk = bld.finish(check=False)
    sk.info.update(source="factored", seconds=time.perf_counter() - t0)
    return sk


def sketch_operator(A: Any, M: PrimeMatrix, *, block: int = 64, bits: int | None = None,
                    bit_seed: int = 0, progress: bool | None = False,
                    check: bool = True) -> Sketch:
    """Sketch an implicit symmetric operator (scipy ``LinearOperator`` or anything with
    ``matmat``/``@``) from its products with blocks of columns of ``M^T``: m products,
    memory ``N x block``.

    Parameters
    ----------
    A : LinearOperator or array_like
        The symmetric N x N operator (anything ``scipy.sparse.linalg.aslinearoperator``
        accepts).
    M : PrimeMatrix
        The sketching matrix.
    block : int, optional
        Columns of ``M^T`` per product (``A.matmat`` call); default 64.
    bits : int, optional
        Number q of test vectors of the bit-test extension (for the bit-test decoder);
        None (default): no extension.
    bit_seed : int, optional
        Seed of the Gaussian ``Omega`` of the bit-test extension; default 0.
    progress : bool or None, optional
        A tqdm bar on stderr counting columns of ``M^T``: True shows it, False (default)
        hides it, None shows it only on a terminal.
    check : bool, optional
        If True (default), refuse a non-finite sketch or one of a non-symmetric operator
        (ValueError, see :meth:`Sketch.check`).

    Returns
    -------
    Sketch
        With ``info["source"] = "operator"``.

    Raises
    ------
    ValueError
        If the operator is not N x N, returns non-finite values, or (with ``check``) is
        not symmetric.
    """
    from scipy.sparse.linalg import aslinearoperator

    t0 = time.perf_counter()
    op = aslinearoperator(A)
    if op.shape != (M.n, M.n):
        raise ValueError(f"operator has shape {op.shape}, expected ({M.n}, {M.n})")
    # block=-3 returned an all-zero sketch (read later as "A = 0"), block=0 a raw range()
    # error
    block = check_int(block, "block", minimum=1)
    bld = _builder(M, "both", bits, bit_seed)
    sk = bld.sketch
    bar = _tqdm(progress, total=M.m, unit="cols", desc="MAM* sketch")
    cols = np.arange(M.n)
    block_of = np.repeat(np.arange(M.K), M.primes)
    try:
        for a in range(0, M.m, block):
            b = min(M.m, a + block)
            X = np.zeros((M.n, b - a))
            for c, rho in enumerate(range(a, b)):
                k = block_of[rho]
                X[cols % M.primes[k] == rho - M.offsets[k], c] = 1.0
            AX = _real(op.matmat(X), "the operator's products")
            if not np.all(np.isfinite(AX)):
                raise ValueError("the operator returned non-finite values")
            sk.C[:, a:b] += M.matvec(AX)
            bar.update(b - a)
    finally:
        bar.close()
    if sk.Y is not None:
        G = np.zeros((M.n, sk.q))
        for k, p in enumerate(M.primes):
            G += bld._omega[M.offsets[k] + cols % p]
        AG = _real(op.matmat(G), "the operator's products")
        if not np.all(np.isfinite(AG)):  # as for AX: else NaN bit-test sums
            raise ValueError("the operator returned non-finite values")
        sk.Y += M.bit_matvec_sparse(cols, AG)
    sk.n_entries = M.n
    sk = bld.finish(check, whole=True)
    sk.info.update(source="operator", seconds=time.perf_counter() - t0)
    return sk


# ------------------------------------------------------------------------------------
# shards on disk, resumable, optionally on Dask workers
# ------------------------------------------------------------------------------------
def read_shard(path: str | os.PathLike, batch: int = 1 << 20
               ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(i, j, values)`` chunks of one COO shard file.

    ``.npz``: arrays ``row``, ``col``, ``value`` (or ``i``, ``j``, ``v``); ``.npy``: a
    structured array with those fields; ``.parquet``: columns with those names, read in
    batches of ``batch`` rows (bounded memory).

    Parameters
    ----------
    path : str or PathLike
        The shard file (``.npz``, ``.npy`` or ``.parquet``).
    batch : int, optional
        Entries per chunk, >= 1; default 2**20.

    Yields
    ------
    i, j, values : ndarray
        Row indices, column indices and values of up to ``batch`` entries.

    Raises
    ------
    ValueError
        If the format is unknown, or ``batch`` < 1.
    KeyError
        If the file lacks the arrays or columns.
    TypeError
        If a ``.npy`` shard is not a structured array.

    Notes
    -----
    A generator: the file is opened, and errors raised, on the first ``next``; errors
    from the file's contents name the file.
    """
    path = Path(path)
    batch = check_int(batch, "batch", minimum=1)
    chunks = _read_shard(path, path.suffix.lower(), batch)
    while True:  # numpy's and pyarrow's errors mid-file name no file: name it
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except ImportError:  # pyarrow missing: its own message says what to install
            raise
        except Exception as exc:  # e.g. BadZipFile (bad CRC), an object array, truncation
            raise _named(exc, path) from exc
        yield chunk


def _named(exc: BaseException, path: str | os.PathLike) -> BaseException:
    """``exc`` with ``path`` in front of its message, of the same type where one message
    builds it (so that callers catching, e.g., BadZipFile or OSError still do), else a
    ValueError; ``exc`` itself when it names the path already."""
    msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    if msg.startswith(f"{path}: ") or (isinstance(exc, OSError)
                                        and exc.filename in (path, str(path))):
        return exc
    text = f"{path}: {msg}"
    try:
        return type(exc)(text)
    except Exception:  # a type needing other arguments (UnicodeDecodeError, ...)
        return ValueError(text)


def _read_shard(path: Path, suffix: str, batch: int
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The chunks of :func:`read_shard` (whose errors may not name ``path``)."""
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        cols = next((c for c in _NAMES if set(c) <= names), None)
        if cols is None:
            raise KeyError(f"{path}: needs columns row/col/value (or i/j/v), found "
                           f"{sorted(names)}")
        for rb in pf.iter_batches(batch_size=batch, columns=list(cols)):
            yield tuple(rb.column(k).to_numpy(zero_copy_only=False) for k in range(3))
        return
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            try:
                i, j, v = _from_mapping(z)
            except KeyError as exc:  # name the file: a folder may hold other .npz files
                raise KeyError(f"{path}: {exc.args[0]}") from None
    elif suffix == ".npy":
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        if arr.dtype.names is None:
            raise TypeError(f"{path}: a .npy shard must be a structured array with fields "
                            "row/col/value")
        i, j, v = _from_mapping({k: arr[k] for k in arr.dtype.names})
    else:
        raise ValueError(f"{path}: unknown shard format {suffix!r} (.npz, .npy, .parquet)")
    for a in range(0, len(v), batch):
        yield i[a:a + batch], j[a:a + batch], v[a:a + batch]


def _shard_partial(path: str, n: int, primes: np.ndarray, symmetry: str,
                   bits: int | None, bit_seed: int) -> Sketch:
    """The raw partial sketch of one shard (runs on a worker)."""
    M = PrimeMatrix(n, primes)
    bld = _builder(M, symmetry, bits, bit_seed)
    for i, j, v in read_shard(path):  # read_shard names the file in its own errors
        try:
            bld.add_entries(i, j, v)
        except (ValueError, IndexError, TypeError) as exc:
            raise _named(exc, path) from None
    return bld.sketch


_STATE = "mamstar-state.npz"


def _load_state(folder: Path, M: PrimeMatrix, symmetry: str, bits: int | None,
                bit_seed: int, files: list[str]) -> tuple[Sketch | None, list[str]]:
    path = folder / _STATE
    if not path.exists():
        return None, []
    try:
        sk = Sketch.load(path)
    except Exception as exc:  # a damaged state (bad CRC, truncated): numpy names no file
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        msg = msg.removeprefix(f"{path}: ")  # Sketch.load names the file already
        text = f"{path} cannot be read ({msg}); delete it or use another checkpoint folder"
        try:
            new = type(exc)(text)
        except Exception:  # a type needing other arguments
            new = ValueError(text)
        raise new from exc
    meta = sk.info.pop("meta")
    done = meta.get("done")
    # without the list of finished shards every shard would be added to the saved sum
    # again (e.g. a sketch saved there by Sketch.save, or an --out written over it)
    if not (isinstance(done, list) and all(isinstance(d, str) for d in done)):
        raise ValueError(
            f"{path} is not a checkpoint state of sketch_shards (it holds no list of "
            "finished shards: a sketch saved with Sketch.save or as --out?); its shards "
            "would count twice: move it away, delete it or use another checkpoint folder")
    if not (sk.M.same_as(M) and sk.symmetry == symmetry and sk.q == (bits or 0)
            and (not bits or sk.bit_seed == bit_seed)):
        raise ValueError(f"{path} holds a partial sketch made with other settings (N, "
                         "primes, symmetry or bits); use another checkpoint folder or "
                         "delete it")
    done = list(done)
    # the saved sum holds every finished shard: one that is not asked for now would be
    # silently added to the answer
    stray = sorted(set(done) - set(files))
    if stray:
        raise ValueError(
            f"{path} holds a partial sketch of other shards: {len(stray)} of its "
            f"{len(done)} finished shards are not among the {len(files)} asked for "
            f"(e.g. {_few(stray)}; asked for {_few(files)}); use another checkpoint "
            "folder or delete it")
    return sk, done


def _few(paths: list[str], k: int = 3) -> str:
    more = f", ... ({len(paths)} in all)" if len(paths) > k else ""
    return ", ".join(paths[:k]) + more


def sketch_shards(paths: Sequence[str | os.PathLike] | str | os.PathLike, M: PrimeMatrix, *,
                  symmetry: str = "both", bits: int | None = None, bit_seed: int = 0,
                  checkpoint: str | os.PathLike | None = None, executor: str = "serial",
                  workers: int = 0, address: str | None = None,
                  progress: bool | None = True, check: bool = True) -> Sketch:
    """Sketch A from COO shards on disk (see :func:`read_shard`), resumably.

    Parameters
    ----------
    paths : path, folder or list of paths
        Shard files; a folder means its ``*.npz``, ``*.npy`` and ``*.parquet`` files.
    M : PrimeMatrix
        The sketching matrix.
    symmetry : {"both", "upper", "lower"}, optional
        How the entries of the symmetric A are given; see the module docstring. Default
        "both".
    bits : int, optional
        Number q of test vectors of the bit-test extension (for the bit-test decoder);
        None (default): no extension.
    bit_seed : int, optional
        Seed of the Gaussian ``Omega`` of the bit-test extension; default 0.
    checkpoint : path, optional
        Folder for the running partial sketch: after every shard the sum so far and the
        list of finished shards are written atomically (one file), and a later call with
        the same folder skips the finished shards. A crash loses at most the shards in
        flight. A shard is identified by its absolute path: do not change finished ones.
        A later call may add shards but must list every finished one (else the saved sum
        would hold shards not asked for: ValueError). The state file
        (``mamstar-state.npz``) is never read as a shard, so the folder may be the
        shards' own.
    executor : {"serial", "dask"}
        ``"dask"`` sketches shards on Dask workers (``address`` of a scheduler, or a
        LocalCluster of ``workers`` processes) and sums the partial sketches in this
        process, in the shards' order (so the sketch is bit for bit the serial one), which
        alone writes the checkpoint (workers need the shard files, not a shared
        checkpoint folder). Default "serial".
    workers : int, optional
        Processes of the local Dask cluster, >= 0; 0 (default) uses all cores (at most
        one per shard).
    address : str, optional
        Address of a running Dask scheduler; None (default) starts a local cluster.
    progress : bool or None, optional
        A tqdm bar on stderr counting shards: True (default) shows it, False hides it, None
        shows it only on a terminal.
    check : bool, optional
        If True (default), refuse a non-finite sketch or one of a non-symmetric input
        (ValueError, see :meth:`Sketch.check`).

    Returns
    -------
    Sketch
        ``info["shards"]``, ``info["resumed"]`` (shards skipped as already done).

    Raises
    ------
    FileNotFoundError
        If a shard is missing, or a folder holds no shards.
    ValueError
        If ``symmetry`` or ``executor`` is unknown, ``workers`` < 0, a shard is listed
        twice, ``checkpoint`` is a file or holds a state of other settings or shards, or
        a shard's entries are invalid (the message names the file).
    """
    t0 = time.perf_counter()
    files = _shard_files(paths)
    if symmetry not in SYMMETRY:
        raise ValueError(f"symmetry must be one of {SYMMETRY}, got {symmetry!r}")
    if executor not in ("serial", "dask"):
        raise ValueError(f"executor must be 'serial' or 'dask', got {executor!r}")
    # a negative count would reach LocalCluster(n_workers < 0), which waits forever
    workers = check_int(workers, "workers", minimum=0)
    if checkpoint is not None and Path(checkpoint).exists() and not Path(checkpoint).is_dir():
        raise ValueError(f"checkpoint {checkpoint} is a file; it must be a folder (the "
                         f"state is saved in it as {_STATE})")
    folder = Path(checkpoint) if checkpoint is not None else None
    total, done = (None, [])
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        total, done = _load_state(folder, M, symmetry, bits, bit_seed, files)
    if total is None:
        total = Sketch.empty(M, bits=bits, bit_seed=bit_seed, symmetry=symmetry)
    resumed = len(done)
    done_set = set(done)
    todo = [f for f in files if f not in done_set]
    bar = _tqdm(progress, total=len(files), initial=len(files) - len(todo), unit="shard",
                desc="MAM* shards")

    def commit(path: str, part: Sketch) -> None:
        total.iadd_(part)
        done.append(path)
        if folder is not None:
            total.save(folder / _STATE, done=done, shards=files)
        bar.update(1)
        bar.set_postfix(entries=total.n_entries)

    args = (M.n, np.asarray(M.primes), symmetry, bits, bit_seed)
    try:
        if executor == "serial":
            for f in todo:
                commit(f, _shard_partial(f, *args))
        elif executor == "dask":
            _dask_shards(todo, args, commit, workers, address)
        else:
            raise ValueError(f"executor must be 'serial' or 'dask', got {executor!r}")
    finally:
        bar.close()
    total.info = dict(source="shards", shards=len(files), resumed=resumed,
                      seconds=time.perf_counter() - t0, executor=executor)
    return total.check() if check else total


def _shard_files(paths: Any) -> list[str]:
    """Absolute shard paths: a folder means its shard files (neither hidden files nor a
    checkpoint state); checked to exist and to be listed once."""
    if isinstance(paths, (str, os.PathLike)):
        p = Path(paths)
        if p.is_dir():
            files = sorted(q for q in p.iterdir()
                           if q.suffix.lower() in (".npz", ".npy", ".parquet")
                           and not q.name.startswith(".") and q.name != _STATE)
            if not files:
                raise FileNotFoundError(f"no .npz/.npy/.parquet shards in {p}")
            paths = files
        else:
            paths = [p]
    out = []
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise FileNotFoundError(f"shard {p} does not exist")
        if p.name == _STATE:
            raise ValueError(f"{p} is a checkpoint state of sketch_shards, not a shard")
        out.append(str(p.resolve()))
    if len(set(out)) != len(out):
        raise ValueError("a shard is listed twice (its entries would count twice)")
    return out


def _dask_shards(todo: list[str], args: tuple, commit, workers: int,
                 address: str | None) -> None:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("executor='dask' needs `pip install overparam[dask]`") from exc
    if not todo:
        return
    from ..experiments.executors import default_workers

    cluster = None
    if address:
        client = Client(address)
    else:
        n = min(workers or default_workers(), len(todo))
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        # partial sketches are summed in the shards' order, as the serial executor sums
        # them: in completion order the float sums (and the sketch's last bits) changed
        # from run to run. At most `ahead` shards are in flight or waiting on workers.
        ahead = 2 * max(1, sum(client.nthreads().values()))
        shards = iter(todo)
        queue: deque = deque()
        for f in islice(shards, ahead):
            queue.append((f, client.submit(_shard_partial, f, *args, pure=False)))
        while queue:
            f, fut = queue.popleft()
            part = fut.result()
            fut.release()
            commit(f, part)
            nxt = next(shards, None)
            if nxt is not None:
                queue.append((nxt, client.submit(_shard_partial, nxt, *args, pure=False)))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
