"""The (K, alpha)-coherent binary prime-residue matrix M of MAM*, stored implicitly.

M stacks K blocks, one per prime p_k; block k is p_k x N and column n has its single 1 in
row ``n mod p_k``. So m = sum_k p_k, every column has exactly K ones, and two columns
n != n' share a 1 in block k iff p_k divides n - n'. Because the product of the primes in
which two columns collide divides |n - n'| < N, two columns share at most ``alpha - 1``
ones, where ``alpha`` is the smallest number of the (smallest) primes whose product is
>= N. M is never stored: a row index is ``offset_k + n mod p_k``.

The optional bit-test extension multiplies M column-wise (Khatri-Rao) by the bit matrix
``B_N`` whose column n is ``[1; binary(n)]`` (``L = ceil(log2 N)`` bits); its complement
rows ``1 - B_N`` are the differences of the all-ones row and a bit row, so they need no
storage either.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core import check_int, check_not_complex

__all__ = ["PrimeMatrix", "primes_between", "choose_primes", "n_bits", "bits_of"]


def primes_between(lo: int, count: int) -> np.ndarray:
    """The first ``count`` primes strictly greater than ``lo`` (a sieve, int64).

    Parameters
    ----------
    lo : int
        Exclusive lower bound (values below 1 count as 1).
    count : int
        Number of primes, >= 0.

    Returns
    -------
    ndarray of int64, shape (count,)
        The primes, increasing.

    Raises
    ------
    TypeError
        If ``lo`` or ``count`` is not an integer.
    ValueError
        If ``count`` < 0 (a negative count returned primes all the same).
    """
    lo = max(check_int(lo, "lo"), 1)
    count = check_int(count, "count", minimum=0)
    if count == 0:
        return np.zeros(0, np.int64)
    # a segmented sieve of the window (lo, hi] only: sieving all of 0..hi allocated
    # 2 lo bytes (primes_between(10**10, 1) asked for 20 GB; 10**12 a MemoryError)
    width = 20 * count * max(1, int(math.log(lo + count + 2))) + 100
    start = lo + 1
    found: list[np.ndarray] = []
    have = 0
    while have < count:
        stop = start + width  # window [start, stop)
        window = np.ones(width, dtype=bool)
        for q in _small_primes(math.isqrt(stop - 1)):
            first = max(q * q, -(-start // q) * q)
            window[first - start::q] = False
        if start < 2:
            window[:2 - start] = False
        hits = np.flatnonzero(window) + start
        found.append(hits)
        have += hits.size
        start, width = stop, 2 * width
    return np.concatenate(found)[:count].astype(np.int64)


def _small_primes(hi: int) -> list[int]:
    """The primes <= ``hi`` (a plain sieve; ``hi`` is a square root, so it is small)."""
    if hi < 2:
        return []
    sieve = np.ones(hi + 1, dtype=bool)
    sieve[:2] = False
    for p in range(2, math.isqrt(hi) + 1):
        if sieve[p]:
            sieve[p * p::p] = False
    return np.flatnonzero(sieve).tolist()


def _is_prime(q: int) -> bool:
    """Deterministic primality of ``0 <= q < 3.3e24`` (Miller-Rabin with the first 12
    prime bases): trial division up to sqrt(q) hung on a large prime (10**18 + 9)."""
    if q < 2:
        return False
    small = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    if q in small:
        return True
    if any(q % b == 0 for b in small):
        return False
    d, r = q - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for b in small:
        x = pow(b, d, q)
        if x in (1, q - 1):
            continue
        for _ in range(r - 1):
            x = x * x % q
            if x == q - 1:
                break
        else:
            return False
    return True


def _alpha(primes: np.ndarray, n: int) -> int:
    """Smallest number of the smallest primes whose product is >= n (len+1 if none)."""
    prod = 1
    for k, p in enumerate(np.sort(primes)):
        prod *= int(p)
        if prod >= n:
            return k + 1
    return len(primes) + 1


def choose_primes(n: int, s: int, smallest_prime: int | None = None,
                  extra: int = 0) -> np.ndarray:
    """The authors' prime rule (``number_and_list_primes(N, s, smallest_prime)``).

    Take the primes greater than ``smallest_prime``; ``alpha`` is the smallest number of
    them whose product is >= ``n``; use the first ``K = 2 alpha s + 1`` of them (the
    majority rule: with it every s-sparse vector has, for each support index, more than
    half of its K buckets free of other support indices), plus ``extra`` more.

    Parameters
    ----------
    n : int
        Dimension N (the experiments apply the rule to a smaller nominal N and s).
    s : int
        Sparsity the rule is made for.
    smallest_prime : int, optional
        Lower bound (exclusive) of the primes. Default (our choice, the paper leaves it
        open): the bound among ``s, 10, 20, 50, 100, 200, ..., 10^4`` that gives the
        smallest m (small primes need a larger alpha, large ones larger blocks).
    extra : int
        Further consecutive primes appended (the "varying rows" study).
    """
    n = check_int(n, "n", minimum=2)
    s = check_int(s, "s", minimum=1)
    extra = check_int(extra, "extra", minimum=0)
    if smallest_prime is None:
        options = sorted({max(s, 2)} | {b * 10**e for e in range(1, 4) for b in (1, 2, 5)}
                         | {10**4})
        return min((choose_primes(n, s, lo, extra) for lo in options),
                   key=lambda p: (int(p.sum()), -int(p[0])))
    lo = check_int(smallest_prime, "smallest_prime", minimum=1)
    alpha, prod = 0, 1
    p = lo
    while prod < n:
        p = int(primes_between(p, 1)[0])
        prod *= p
        alpha += 1
    return primes_between(lo, 2 * alpha * s + 1 + extra)


def n_bits(n: int) -> int:
    """Number of bits ``L = ceil(log2 N)`` (at least 1) that index 0..N-1.

    Parameters
    ----------
    n : int
        Dimension N.

    Returns
    -------
    int
    """
    # n = 0, -5 or 2.5 gave 1, 3 and 1 bits silently
    n = check_int(n, "n", minimum=1)
    return max(1, (n - 1).bit_length())


def bits_of(idx: np.ndarray, n_bit: int) -> np.ndarray:
    """``(len(idx), n_bit)`` 0/1 array: bit t (t = 0 .. n_bit-1) of each index.

    Parameters
    ----------
    idx : array of int, shape (k,)
        Non-negative indices.
    n_bit : int
        Number of bits, least significant first (see :func:`n_bits`).

    Returns
    -------
    ndarray of int8, shape (k, n_bit)
    """
    # a negative n_bit gave no bits, one beyond 63 shifted past int64 (undefined), and a
    # negative index the bits of its two's complement
    n_bit = check_int(n_bit, "n_bit", minimum=0)
    if n_bit > 63:
        raise ValueError(f"n_bit must be <= 63 (int64 indices), got {n_bit}")
    idx = np.asarray(idx)
    if idx.size and idx.dtype.kind not in "iu":
        raise TypeError(f"idx must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64).reshape(-1)
    if idx.size and idx.min() < 0:
        raise ValueError(f"idx must be non-negative, got {int(idx.min())}")
    return ((idx[:, None] >> np.arange(n_bit, dtype=np.int64)) & 1).astype(np.int8)


@dataclass(frozen=True, eq=False)
class PrimeMatrix:
    """The implicit binary matrix M (m x N) built from K distinct primes.

    Parameters
    ----------
    n : int
        Number of columns N (the dimension of the huge matrix A), 1 to ``2**63``.
    primes : array of int
        Distinct primes p_1 < ... < p_K; ``m = sum(primes)``.

    Attributes
    ----------
    offsets : ndarray
        First row of each block.
    alpha : int
        Two distinct columns share at most ``alpha - 1`` ones.
    max_sparsity : int
        Largest s with ``K >= 2 alpha s + 1`` (the majority rule); 0 when K is too small.
    """

    n: int
    primes: np.ndarray
    offsets: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = check_int(self.n, "n", minimum=1)
        if n > 2**63:
            # indices are int64: a valid index >= 2**63 was reported "out of range" as a
            # negative number, and decoding failed with an OverflowError
            raise ValueError(f"n must be <= 2**63 (indices are int64), got {n}")
        p = np.asarray(self.primes)
        if p.ndim != 1 or p.size == 0 or not np.issubdtype(p.dtype, np.integer):
            raise ValueError(f"primes must be a non-empty 1-d integer array, got {self.primes!r}")
        # in Python ints: a uint64 prime >= 2**63 wrapped to a negative int64, and a sum
        # of primes beyond the int64 range made m (and the row offsets) negative
        if sum(int(q) for q in p.reshape(-1)) >= 2**62 or int(p.min()) < 0:
            bad = [int(q) for q in p if int(q) < 2][:5]
            if bad:
                raise ValueError(f"not prime: {bad}")
            raise ValueError(f"primes must sum to m < 2**62 (the sketch has m rows), got "
                             f"primes up to {int(p.max())}")
        p = np.sort(p.astype(np.int64))
        if np.any(np.diff(p) == 0):
            raise ValueError("primes must be distinct")
        bad = [int(q) for q in p if not _is_prime(int(q))]
        if bad:
            raise ValueError(f"not prime: {bad[:5]}")
        p.setflags(write=False)
        off = np.concatenate([[0], np.cumsum(p)[:-1]]).astype(np.int64)
        off.setflags(write=False)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "primes", p)
        object.__setattr__(self, "offsets", off)

    @classmethod
    def for_sparsity(cls, n: int, s: int, smallest_prime: int | None = None,
                     extra: int = 0, rule_n: int | None = None,
                     rule_s: int | None = None) -> "PrimeMatrix":
        """M with primes from :func:`choose_primes` (optionally the rule applied to a
        nominal ``rule_n``/``rule_s``, as in the authors' experiments)."""
        # `is None`, not `or`: a rule_n = 0 must be refused by choose_primes, not mean N
        primes = choose_primes(n if rule_n is None else rule_n,
                               s if rule_s is None else rule_s, smallest_prime, extra)
        return cls(n, primes)

    # -- sizes -------------------------------------------------------------------------
    @property
    def K(self) -> int:
        return int(self.primes.size)

    @property
    def m(self) -> int:
        return int(self.primes.sum())

    @property
    def shape(self) -> tuple[int, int]:
        return (self.m, self.n)

    @property
    def alpha(self) -> int:
        return _alpha(self.primes, self.n)

    @property
    def max_sparsity(self) -> int:
        return max(0, (self.K - 1) // (2 * self.alpha))

    @property
    def n_bits(self) -> int:
        return n_bits(self.n)

    def __repr__(self) -> str:
        return (f"PrimeMatrix(n={self.n}, K={self.K}, m={self.m}, primes={self.primes[0]}.."
                f"{self.primes[-1]}, alpha={self.alpha})")

    def same_as(self, other: Any) -> bool:
        return (isinstance(other, PrimeMatrix) and other.n == self.n
                and np.array_equal(other.primes, self.primes))

    # -- index maps --------------------------------------------------------------------
    def check_indices(self, idx: Any, name: str = "indices") -> np.ndarray:
        """``idx`` as int64, refusing non-integers and values outside ``[0, N)``."""
        a = np.asarray(idx)
        if a.size and not np.issubdtype(a.dtype, np.integer):
            if not (np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a))
                    and np.all(a == np.round(a))):
                raise TypeError(f"{name} must be integers, got dtype {a.dtype}")
        if a.size and (a.dtype.kind in "fu"):
            # range first: a cast to int64 would wrap uint64 >= 2^63 and saturate huge
            # floats, so the error would name a wrong (negative) index
            out = (a < 0) | (a >= self.n)
            if np.any(out):
                bad = a.reshape(-1)[np.flatnonzero(out.reshape(-1))[0]]
                raise IndexError(f"{name} out of range: {bad:.0f} is not in [0, {self.n})"
                                 if a.dtype.kind == "f" else
                                 f"{name} out of range: {int(bad)} is not in [0, {self.n})")
        a = a.astype(np.int64, copy=False).reshape(-1)
        if a.size and (a.min() < 0 or a.max() >= self.n):
            bad = a[(a < 0) | (a >= self.n)][0]
            raise IndexError(f"{name} out of range: {int(bad)} is not in [0, {self.n})")
        return a

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """``(len(idx), K)`` row indices of the ones of columns ``idx`` (no range check)."""
        idx = np.asarray(idx, dtype=np.int64)
        return idx[:, None] % self.primes + self.offsets

    def residues(self, idx: np.ndarray) -> np.ndarray:
        """``(K, len(idx))`` residues ``idx mod p_k`` (block-local rows)."""
        idx = np.asarray(idx, dtype=np.int64)
        return idx[None, :] % self.primes[:, None]

    # -- products ----------------------------------------------------------------------
    def matvec_sparse(self, idx: Any, values: Any) -> np.ndarray:
        """``M x`` for x given by its nonzeros ``x[idx] = values`` (values may be 2-d,
        ``(len(idx), r)``, for several vectors); cost O(K nnz)."""
        idx = self.check_indices(idx)
        check_not_complex(values, "values")
        vals, two_d = self._values(values, idx)
        vals2 = vals if two_d else vals[:, None]
        out = np.zeros((self.m, vals2.shape[1]))
        if idx.size:
            rows = self.rows(idx)  # (nnz, K)
            for c in range(vals2.shape[1]):
                out[:, c] = np.bincount(rows.ravel(), np.repeat(vals2[:, c], self.K),
                                        minlength=self.m)
        return out if two_d else out[:, 0]

    @staticmethod
    def _values(values: Any, idx: np.ndarray) -> tuple[np.ndarray, bool]:
        """``values`` as float, 1-d ``(nnz,)`` or 2-d ``(nnz, r)`` matching ``idx``
        (whether 2-d): a 3-d array or a length mismatch failed inside bincount or a
        boolean index ("weights and list don't have the same length")."""
        vals = np.asarray(values)
        if vals.dtype.kind not in "biuf":  # strings such as '1' were parsed silently
            raise TypeError(f"values must be real numbers, got dtype {vals.dtype}")
        vals = vals.astype(float, copy=False)
        if vals.ndim not in (1, 2):
            raise ValueError(f"values must be 1-d (nnz,) or 2-d (nnz, r), got shape "
                             f"{vals.shape}")
        if vals.shape[0] != idx.size:
            raise ValueError(f"{idx.size} indices but {vals.shape[0]} values")
        return vals, vals.ndim == 2

    def matvec(self, x: Any, chunk: int = 1 << 20) -> np.ndarray:
        """``M x`` for a dense vector (or ``(N, r)`` array) x, in chunks of columns
        (a complex x is a TypeError: the float cast dropped its imaginary part)."""
        check_not_complex(x, "x")
        # chunk = -1 skipped the loop and returned M x = 0; a 0-d x raised IndexError
        chunk = check_int(chunk, "chunk", minimum=1)
        x = np.asarray(x, dtype=float)
        if x.ndim not in (1, 2) or x.shape[0] != self.n:
            raise ValueError(f"x must be (N,) or (N, r) with N = {self.n}, got shape "
                             f"{x.shape}")
        out = np.zeros((self.m,) + x.shape[1:])
        for a in range(0, self.n, chunk):
            b = min(self.n, a + chunk)
            idx = np.arange(a, b)
            out += self.matvec_sparse(idx, x[a:b])
        return out

    def rmatvec_at(self, u: Any, idx: Any) -> np.ndarray:
        """``(M^T u)[idx]``: the sum of the K entries of u at the rows of each column."""
        idx = self.check_indices(idx)
        check_not_complex(u, "u")
        u = np.asarray(u, dtype=float)
        # a u longer than m was read in its first m entries silently (a wrong answer)
        if u.ndim not in (1, 2) or u.shape[0] != self.m:
            raise ValueError(f"u must have m = {self.m} rows, got shape {u.shape}")
        return u[self.rows(idx)].sum(axis=1)

    def bit_matvec_sparse(self, idx: Any, values: Any) -> np.ndarray:
        """``(L, m[, r])`` array: ``(M (.) bit_t) x`` for the bit rows t = 0..L-1 of the
        bit-test extension (row t of B_N without its all-ones row)."""
        idx = self.check_indices(idx)
        check_not_complex(values, "values")
        vals, two_d = self._values(values, idx)
        vals2 = vals if two_d else vals[:, None]
        L = self.n_bits
        out = np.zeros((L, self.m, vals2.shape[1]))
        if idx.size:
            rows = self.rows(idx)
            bits = bits_of(idx, L)
            for t in range(L):
                sel = bits[:, t] == 1
                if not sel.any():
                    continue
                rr = rows[sel].ravel()
                for c in range(vals2.shape[1]):
                    out[t, :, c] = np.bincount(rr, np.repeat(vals2[sel, c], self.K),
                                               minlength=self.m)
        return out if two_d else out[:, :, 0]

    def to_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        """The explicit m x N 0/1 matrix, for small N only (tests, illustrations)."""
        if self.m * self.n > max_entries:
            raise MemoryError(f"refusing to materialize a {self.m} x {self.n} matrix "
                              f"(M is implicit; raise max_entries for a small N)")
        out = np.zeros((self.m, self.n))
        cols = np.arange(self.n)
        for k, p in enumerate(self.primes):
            out[self.offsets[k] + cols % p, cols] = 1.0
        return out

    def bit_extension_dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        """The explicit Khatri-Rao product ``M (.) B'_N`` with ``B'_N = [B_N; 1 - B_N]``
        (rows ordered block of B'_N row by row of M), for small N only (tests)."""
        L = self.n_bits
        b = 2 * (1 + L)
        if self.m * b * self.n > max_entries:
            raise MemoryError("refusing to materialize the bit-test extension for this N")
        Md = self.to_dense(max_entries)
        BN = np.vstack([np.ones(self.n), bits_of(np.arange(self.n), L).T.astype(float)])
        Bp = np.vstack([BN, 1.0 - BN])
        return (Md[:, None, :] * Bp[None, :, :]).reshape(self.m * b, self.n)
