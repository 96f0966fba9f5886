"""Reading sparse eigenvectors out of the sketch.

* :func:`top_eigenpairs`: the top-r eigenpairs ``(lambda_hat_j, u_j)`` of B; u_j
  approximates ``M v_j / sqrt(K)`` up to sign.
* :func:`median_decode`: for every candidate index n, the median of the K entries of u at
  the rows of column n (the buckets of n); keeps the ``keep`` largest. Optionally (the
  authors' "median == mode" check, ``agree``) only indices whose median is repeated in at
  least ``agree`` buckets count. With the majority
  rule (``K >= 2 alpha s + 1``) and an exactly s-sparse x with ``u = M x``, more than half
  of the K buckets of every n hold ``x_n`` alone, so the median is exact. All N candidates
  are scanned in chunks (time O(N K r), memory O(chunk K r + keep r)).
* :func:`oracle_decode`: the same median, only over a given candidate set: the authors'
  experiments pass the true support (or a superset), which is **not available in
  practice**; it is here to reproduce their plots and is labelled ``"oracle"``.
* :func:`bittest_decode`: sublinear time. From the bit-test extension of the sketch it
  reads, in each heavy bucket, the binary digits of the index that dominates it (``bit t
  is 1`` when the bucket's bit-t part outweighs its complement), checks that the index
  lands in that bucket, and runs the median only on those candidates:
  O(m q (L + r) + |candidates| K r), with L = ceil(log2 N).
* :func:`refine`: Rayleigh-Ritz of the sketch in the span of the decoded vectors (our
  addition, not the paper's): with decoded X, solve ``B ~ (M X / sqrt K) G (M X /
  sqrt K)^T`` for G and diagonalize ``A ~ X G X^T``. It undoes the mixing of eigenvectors
  that bucket collisions cause in B, and makes the recovery of an exactly sparse, exactly
  low-rank A exact (eigenvalues too).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from .._core import check_int, check_positive, pow2_exponent
from .matrix import PrimeMatrix
from .sketch import Sketch, _real

__all__ = ["top_eigenpairs", "median_decode", "oracle_decode", "bittest_candidates",
           "bittest_decode", "refine", "canonical_sign"]

_CHUNK_FLOATS = 1 << 20  # temporaries of the median decoder: ~8 MiB (cache-friendly)
_SYM_TOL = 1e-9  # relative Frobenius asymmetry of B accepted (Sketch.check's default)


def _check_candidates(x: Any, M: PrimeMatrix, name: str = "candidates") -> np.ndarray:
    """Candidate indices ``x`` (any shape, flattened) as int64 in ``[0, N)``.

    A boolean mask is refused (TypeError: as indices it would mean 0 and 1), and so are
    non-integer values (TypeError); an index out of range is a ValueError naming
    ``name``."""
    a = np.asarray(x)
    if a.dtype == bool:
        raise TypeError(f"{name} must be integer indices, got a boolean array (a mask?): "
                        "pass np.flatnonzero(mask)")
    try:
        return M.check_indices(a, name)
    except IndexError as exc:
        raise ValueError(str(exc)) from None


def canonical_sign(U: np.ndarray) -> np.ndarray:
    """Flip columns so that each one's largest-magnitude entry is positive.

    Parameters
    ----------
    U : array_like, shape (n,) or (n, r)
        A vector or the columns to normalize (not modified).

    Returns
    -------
    ndarray
        A float copy of ``U``, each column multiplied by +-1 (the first largest-magnitude
        entry decides).
    """
    # complex U lost its imaginary part with a mere warning; a 0-d or 3-d U failed with
    # an IndexError or flipped along the wrong axis
    U = np.array(_real(U, "U"), copy=True)
    if U.ndim not in (1, 2):
        raise ValueError(f"U must be a vector or an (n, r) array, got shape {U.shape}")
    if U.size == 0:
        return U
    two = U.ndim == 2
    U2 = U if two else U[:, None]
    piv = U2[np.argmax(np.abs(U2), axis=0), np.arange(U2.shape[1])]
    U2 *= np.where(piv < 0, -1.0, 1.0)
    return U2 if two else U2[:, 0]


def top_eigenpairs(B: np.ndarray, rank: int, which: str = "LM") -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """The ``rank`` eigenpairs of symmetric B of largest magnitude (``"LM"``) or largest
    value (``"LA"``), sorted in that order; vectors with canonical sign.

    A zero B is refused (ValueError): every vector is then an eigenvector, so there is
    nothing to decode (and ARPACK would fail on it).

    Parameters
    ----------
    B : array_like or sparse matrix, shape (m, m)
        The symmetric sketch (``Sketch.B``); real and finite.
    rank : int
        Number r of eigenpairs, ``1 <= rank <= m``.
    which : {"LM", "LA"}, optional
        Largest magnitude (default) or largest algebraic value.

    Returns
    -------
    eigenvalues : ndarray (r,)
    vectors : ndarray (m, r)
        Orthonormal eigenvectors, columns in the order of ``eigenvalues``, each with
        :func:`canonical_sign`.

    Raises
    ------
    ValueError
        If B is not square, not finite, zero or not symmetric (relative Frobenius
        asymmetry > 1e-9, computed scale-free), ``which`` is unknown, or ``rank`` is out
        of range.
    TypeError
        If ``rank`` is not an integer.
    """
    # another library's array (JAX, pandas), a list or a scipy sparse B failed with
    # "type not understood", "no attribute 'dtype'/'shape'" or "setting an array element
    # with a sequence"
    B = _real(B.toarray() if sp.issparse(B) else B, "B")
    if B.ndim != 2 or B.shape[0] != B.shape[1]:
        raise ValueError(f"B must be a square m x m sketch, got shape {B.shape}")
    if not np.all(np.isfinite(B)):
        raise ValueError("B holds NaN or inf")
    m = B.shape[0]
    if which not in ("LM", "LA"):
        raise ValueError(f"which must be 'LM' or 'LA', got {which!r}")
    rank = check_int(rank, "rank")  # 1.5 crashed ARPACK ("returned NULL")
    if rank < 1 or rank > m:
        raise ValueError(f"rank {rank} is out of range for a {m} x {m} sketch")
    if not np.any(B):
        raise ValueError("the sketch B is zero (A = 0, or A's entries cancel in "
                         "M A M^T): it has no top eigenvectors to decode")
    # eigh/eigsh read one triangle only: a non-symmetric B gave the eigenpairs of
    # another matrix. On B / 2**e (e ~ log2 max|B|): squares of 1e-170 or 1e200 are 0/inf
    e = int(pow2_exponent(np.abs(B).max()))
    Bs = np.ldexp(B, -e)
    asym = float(np.linalg.norm(Bs - Bs.T) / np.linalg.norm(Bs))
    if not asym <= _SYM_TOL:
        raise ValueError(f"B is not symmetric: ||B - B^T||_F / ||B||_F = {asym:.3e} > "
                         f"{_SYM_TOL:g} (a sketch B is symmetric; for a nearly symmetric "
                         "B pass its symmetric part (B + B.T) / 2)")
    # on the scaled Bs (exact: a power of 2): ARPACK on a B of size 1e-300 returned
    # eigenvalues 14.4 and -13.4 (times 1e-300) instead of 1.04 and -0.54, and vectors of
    # norm 2.5 and 0.09, silently
    if rank < m // 4 and m > 200:
        v0 = np.random.default_rng(0).standard_normal(m)
        vals, vecs = eigsh(Bs, k=rank, which=which, v0=v0, tol=0)
    else:
        vals, vecs = sla.eigh(Bs)
    vals = np.ldexp(vals, e)
    order = np.argsort(-np.abs(vals) if which == "LM" else -vals, kind="stable")[:rank]
    return vals[order], canonical_sign(vecs[:, order])


def _median_last(V: np.ndarray) -> np.ndarray:
    K = V.shape[-1]
    h = K // 2
    if K % 2:
        return np.partition(V, h, axis=-1)[..., h]
    P = np.partition(V, (h - 1, h), axis=-1)
    return 0.5 * (P[..., h - 1] + P[..., h])


def _merge_top(best_i, best_v, idx, vals, keep):
    """Keep the ``keep`` largest |vals| per column (columns: eigenvectors)."""
    if best_i is not None:
        idx = np.concatenate([best_i, idx], axis=0)
        vals = np.concatenate([best_v, vals], axis=0)
    if idx.shape[0] > keep:
        part = np.argpartition(-np.abs(vals), keep - 1, axis=0)[:keep]
        idx = np.take_along_axis(idx, part, axis=0)
        vals = np.take_along_axis(vals, part, axis=0)
    return idx, vals


class _Periodic:
    """Readings of consecutive indices from periodic tables (full scans of the decoder).

    Index i reads row ``offset_k + (i mod p_k)`` of block k, so over consecutive indices
    the readings of block k repeat with period p_k: block k's entries, tiled once to
    ``chunk + p_k``, give any chunk's readings as a slice, without integer remainders
    or gathers. :meth:`alive` prunes exactly: ``|median| > tau`` needs at least
    ``ceil(K/2)`` readings with ``|u| > tau``, counted with one byte addition per block,
    index and column; the mark tiles are rebuilt only when ``tau`` has grown enough to
    pay (a stale, smaller ``tau`` prunes less but is still exact).
    """

    def __init__(self, UT: np.ndarray, M: PrimeMatrix, chunk: int) -> None:
        self.UT, self.M, self.chunk = UT, M, int(chunk)
        self.primes = M.primes.tolist()
        self.values = [self._tile(UT[:, o:o + p], p)
                       for o, p in zip(M.offsets.tolist(), self.primes)]
        self.tau = None
        self.marks: list[np.ndarray] = []
        # byte counts while they cannot overflow (K <= 255 blocks)
        self.dtype = np.uint8 if M.K <= 255 else np.uint16
        self.count = np.zeros((UT.shape[0], self.chunk), dtype=self.dtype)

    def _tile(self, block: np.ndarray, p: int) -> np.ndarray:
        reps = -(-(self.chunk + p) // p)
        return np.tile(block, (1, reps))[:, :self.chunk + p]

    def alive(self, a: int, b: int, tau: np.ndarray, cmin: int) -> np.ndarray:
        """Positions (relative to ``a``) of the indices in ``a .. b-1`` that may have a
        median above ``tau`` in some column."""
        if self.tau is None or np.any(tau > 1.25 * self.tau + 1e-300):
            self.tau = tau.copy()
            self.marks = [(np.abs(v) > tau[:, None]).astype(self.dtype) for v in self.values]
        c = b - a
        count = self.count[:, :c]
        count[...] = 0
        for mark, p in zip(self.marks, self.primes):
            s = a % p
            count += mark[:, s:s + c]
        return np.flatnonzero((count >= cmin).any(axis=0))

    def readings(self, a: int, b: int, pos: np.ndarray | None = None) -> np.ndarray:
        """``(r, c, K)`` readings of indices ``a + pos`` (default: all of ``a .. b-1``)."""
        c = b - a
        n = c if pos is None else pos.size
        V = np.empty((self.UT.shape[0], n, len(self.primes)))
        for k, (tile, p) in enumerate(zip(self.values, self.primes)):
            s = a % p
            V[:, :, k] = tile[:, s:s + c] if pos is None else tile[:, s + pos]
        return V


def _columns(U: Any, M: PrimeMatrix) -> tuple[np.ndarray, bool]:
    """``U`` (m,) or (m, r) as a real, finite (m, r) float array, and whether it was 1-d."""
    U = _real(U, "U")
    if U.ndim not in (1, 2):
        raise ValueError(f"U must be (m,) or (m, r), got shape {U.shape}")
    one = U.ndim == 1
    U2 = U[:, None] if one else U
    if U2.shape[0] != M.m:
        raise ValueError(f"U has {U2.shape[0]} rows, the sketch has m = {M.m}")
    if not np.all(np.isfinite(U2)):
        raise ValueError("U contains NaN or inf")
    return U2, one


def median_decode(U: np.ndarray, M: PrimeMatrix, keep: int, candidates: Any = None,
                  chunk: int | None = None, scale: float | None = None, agree: int = 1,
                  agree_tol: float = 1e-3,
                  progress: bool | None = False) -> tuple[np.ndarray, np.ndarray]:
    """Median decoder of the columns of ``U`` (m x r) over ``candidates`` (default: all N).

    Parameters
    ----------
    U : ndarray (m,) or (m, r)
        Vectors ``~ M x / sqrt(K)`` (eigenvectors of the sketch); finite.
    M : PrimeMatrix
        The sketching matrix (``U`` has ``M.m`` rows).
    keep : int
        Entries kept per vector (the authors keep 2 s).
    candidates : array of int, optional
        Indices to consider (each in 0..N-1; duplicates are merged); None scans 0..N-1 in
        chunks.
    chunk : int, optional
        Indices per chunk; default ``max(1024, 2**20 // (K r))`` (about 8 MiB of
        temporaries).
    scale : float, optional
        Multiplier of the medians (default ``sqrt(K)``).
    agree : int
        Consistency check (the authors' "median == mode"): a candidate counts only when
        at least ``agree`` of its K readings lie within ``agree_tol * max|u|`` of their
        median. An index that dominates its buckets reads the same value in all of its
        isolated buckets; an index that only shares buckets with heavy ones reads
        unrelated values. 1 (default) = the plain median.
    agree_tol : float, optional
        Tolerance of the ``agree`` check, relative to each column's ``max|u|``; default
        1e-3.
    progress : bool or None, optional
        Progress bar on stderr for long scans (more than 50 chunks): True shows it, False
        (default) hides it, None lets ``tqdm`` decide (shown on a terminal).

    Returns
    -------
    indices, values : ndarray (k, r)
        Per column, the kept indices and values, sorted by decreasing magnitude, then
        index (``k = min(keep, number of candidates)``; among values tied at the cut, which
        are kept depends on the chunking). For a 1-d ``U``, 1-d arrays of length k.

    Raises
    ------
    ValueError
        If ``U`` is not (m,) or (m, r) with ``m = M.m`` or is not finite, a candidate is
        out of range, ``keep`` < 1, ``agree`` is not in 1..K, ``agree_tol`` is not
        finite and >= 0, ``chunk`` < 1, or ``scale`` is not finite and > 0.
    TypeError
        If ``keep``, ``agree`` or ``chunk`` is not an integer, ``U`` is complex, or the
        candidates are not integers (a boolean mask included).
    """
    keep = check_int(keep, "keep", minimum=1)  # keep = 0 crashed, < 0 dropped entries
    agree = check_int(agree, "agree", minimum=1)
    if agree > M.K:  # no index could pass: every vector would be zero
        raise ValueError(f"agree = {agree} exceeds the K = {M.K} readings of an index")
    # NaN or < 0 zeroed every vector silently
    agree_tol = check_positive(agree_tol, "agree_tol", allow_zero=True)
    # complex U lost its imaginary part with a mere warning; a 3-d U failed deep inside
    U2, one = _columns(U, M)
    r = U2.shape[1]
    if chunk is not None:  # chunk = -1 or 0 failed inside numpy ("negative dimensions")
        chunk = check_int(chunk, "chunk", minimum=1)
    if scale is not None:  # a NaN scale made every value NaN
        scale = check_positive(scale, "scale")
    if r == 0:  # no vectors (chunk sizing divided by r = 0)
        return np.zeros((0, 0), np.int64), np.zeros((0, 0))  # (a 1-d U has r = 1)
    UT = np.ascontiguousarray(U2.T)
    if chunk is None:
        chunk = max(1024, _CHUNK_FLOATS // (M.K * r))
    best_i = best_v = None
    if candidates is None:
        total = M.n
        blocks = ((a, min(M.n, a + chunk)) for a in range(0, M.n, chunk))
        get = lambda a, b: np.arange(a, b, dtype=np.int64)  # noqa: E731
    else:
        cand = np.unique(_check_candidates(candidates, M))
        total = cand.size
        blocks = ((a, min(total, a + chunk)) for a in range(0, total, chunk))
        get = lambda a, b: cand[a:b]  # noqa: E731
    from .sketch import _tqdm

    bar = _tqdm(progress if total > 50 * chunk else False, total=total, unit="idx",
                unit_scale=True, desc="median decode")
    cmin = (M.K + 1) // 2
    tols = agree_tol * np.abs(UT).max(axis=1)
    absU = np.abs(UT)
    periodic = _Periodic(UT, M, chunk) if candidates is None else None
    skip = 0  # chunks to go without the pruning test (it did not pay recently)
    for a, b in blocks:
        idx = get(a, b)
        have = best_v is not None and best_v.shape[0] >= keep
        tau = np.abs(best_v).min(axis=0) if have else np.zeros(r)
        R = pos = None
        if have and periodic is not None:
            pos = periodic.alive(a, b, tau, cmin)
            idx = idx[pos]
        elif have and skip == 0:
            R = M.rows(idx)
            H = (absU > tau[:, None]).astype(np.int8)  # (r, m)
            alive = (H[:, R].sum(axis=-1, dtype=np.int16) >= cmin).any(axis=0)
            if alive.mean() > 0.5:
                skip = 16
            idx, R = idx[alive], R[alive]
        elif skip:
            skip -= 1
        if idx.size:
            if periodic is not None:
                V = periodic.readings(a, b, pos)  # (r, c, K)
            else:
                V = UT[:, R if R is not None else M.rows(idx)]
            z = _median_last(V)  # (r, c)
            if agree > 1:  # only where the median could enter the top `keep`
                hot = (np.abs(z) > tau[:, None]).any(axis=0)
                ok = np.zeros(z.shape, dtype=bool)
                if hot.any():
                    Vh = V[:, hot]
                    near = np.abs(Vh - z[:, hot, None]) <= tols[:, None, None]
                    ok[:, hot] = near.sum(axis=-1) >= agree
                z = np.where(ok, z, 0.0)
            ii = np.broadcast_to(idx[:, None], (idx.size, r))
            best_i, best_v = _merge_top(best_i, best_v, ii, z.T, keep)
        bar.update(b - a)
    bar.close()
    if best_i is None:
        return np.zeros((0, r), np.int64), np.zeros((0, r))
    # decreasing magnitude, ties by index (the same answer whatever the chunking)
    order = np.stack([np.lexsort((best_i[:, c], -np.abs(best_v[:, c])))
                      for c in range(r)], axis=1)
    best_i = np.take_along_axis(best_i, order, axis=0)
    best_v = np.take_along_axis(best_v, order, axis=0) * (np.sqrt(M.K) if scale is None
                                                          else scale)
    if one:
        return best_i[:, 0], best_v[:, 0]
    return best_i, best_v


def oracle_decode(U: np.ndarray, M: PrimeMatrix, keep: int,
                  support: Any) -> tuple[np.ndarray, np.ndarray]:
    """**Oracle** decoder of the authors' plots: the median decoder restricted to a given
    (true) support. Not a practical decoder: it needs the answer's support.

    Parameters
    ----------
    U : ndarray (m,) or (m, r)
        Vectors ``~ M x / sqrt(K)`` (eigenvectors of the sketch).
    M : PrimeMatrix
        The sketching matrix.
    keep : int
        Entries kept per vector.
    support : array of int
        The candidate indices (the true support, or a superset); non-empty.

    Returns
    -------
    indices, values : ndarray (k, r)
        As :func:`median_decode` with ``candidates=support``.

    Raises
    ------
    ValueError
        If ``support`` is empty or out of range.
    TypeError
        If ``support`` is not integers (a boolean mask included).
    """
    support = _check_candidates(support, M, "support")
    if support.size == 0:
        raise ValueError("the oracle decoder needs a non-empty support")
    return median_decode(U, M, keep, candidates=support)


def bittest_candidates(U: np.ndarray, sketch: Sketch, max_buckets: int | None = None,
                       rcond: float = 1e-10) -> np.ndarray:
    """Indices read by bit-testing the heavy buckets of each column of U (sorted, unique).

    The bit-test sketch measures ``z = (1/K) A M^T Omega c`` with ``c`` chosen so that
    ``M z = B Omega c`` is the best fit to u in the span of ``B Omega`` (least squares);
    then ``w_0 = M z`` and ``w_t = (M (.) bit_t) z`` are known exactly. In bucket rho, if
    one index n dominates, ``|w_t[rho]| > |w_0[rho] - w_t[rho]|`` iff bit t of n is 1.

    Parameters
    ----------
    U : ndarray (m,) or (m, r)
        Vectors ``~ M x / sqrt(K)`` (eigenvectors of the sketch).
    sketch : Sketch
        A sketch with the bit-test extension (built with ``bits=q``).
    max_buckets : int, optional
        Heaviest buckets read per column; None (or 0) reads all m.
    rcond : float, optional
        Singular values of ``B Omega`` below ``rcond`` times the largest are dropped
        from the least-squares fit; default 1e-10.

    Returns
    -------
    ndarray of int64
        Candidate indices whose bits land them in the bucket they were read from.

    Raises
    ------
    ValueError
        If the sketch has no bit-test extension, ``max_buckets`` < 0, ``rcond`` is not
        finite and >= 0, or ``U`` is not finite with ``m`` rows.
    TypeError
        If ``sketch`` is not a :class:`Sketch`.
    """
    if not isinstance(sketch, Sketch):  # an array B failed with "no attribute has_bits"
        raise TypeError(f"sketch must be a Sketch, got {type(sketch).__name__}")
    if not sketch.has_bits:
        raise ValueError("the bit-test decoder needs a sketch built with bits=q (the "
                         "bit-test extension)")
    if max_buckets is not None:  # -1 read all buckets but the last one
        max_buckets = check_int(max_buckets, "max_buckets", minimum=0)
    # a NaN rcond dropped every singular value (no candidates, silently); a negative one
    # kept zero ones and divided by them
    rcond = check_positive(rcond, "rcond", allow_zero=True)
    M = sketch.M
    # U of another m failed in a matmul; a NaN U gave no candidates silently
    U2, _ = _columns(U, M)
    Bom = sketch.B @ sketch.omega()  # (m, q)
    Us, ss, Vts = np.linalg.svd(Bom, full_matrices=False)
    ok = ss > rcond * (ss[0] if ss.size else 0.0)
    if not ok.any():
        return np.zeros(0, np.int64)
    coef = Vts[ok].T @ ((Us[:, ok].T @ U2) / ss[ok, None])  # (q, r)
    W0 = Bom @ coef  # (m, r)
    Wt = sketch.bits @ coef  # (L, m, r)
    nb = min(M.m, max_buckets or M.m)
    block_of = np.repeat(np.arange(M.K), M.primes)
    found = []
    for c in range(U2.shape[1]):
        w0 = W0[:, c]
        mag = np.abs(w0)
        top = np.argsort(-mag, kind="stable")[:nb]
        top = top[mag[top] > 1e-12 * max(mag.max(), 1e-300)]
        if top.size == 0:
            continue
        wt = Wt[:, top, c]  # (L, nb)
        bit = (np.abs(wt) > np.abs(w0[top] - wt)).astype(np.int64)
        n = (bit << np.arange(M.n_bits, dtype=np.int64)[:, None]).sum(axis=0)
        k = block_of[top]
        valid = (n < M.n) & (n % M.primes[k] + M.offsets[k] == top)
        found.append(n[valid])
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def bittest_decode(U: np.ndarray, sketch: Sketch, keep: int,
                   max_buckets: int | None = None) -> tuple[np.ndarray, np.ndarray,
                                                           np.ndarray]:
    """Sublinear decoder: candidates by bit-testing (:func:`bittest_candidates`, at most
    ``max_buckets`` buckets per vector, default ``K keep``), then the median over them.

    Parameters
    ----------
    U : ndarray (m,) or (m, r)
        Vectors ``~ M x / sqrt(K)`` (eigenvectors of the sketch).
    sketch : Sketch
        A sketch with the bit-test extension.
    keep : int
        Entries kept per vector.
    max_buckets : int, optional
        Heaviest buckets bit-tested per vector; default ``min(m, K keep)``.

    Returns
    -------
    indices, values : ndarray (k, r)
        As :func:`median_decode` over the candidates (``k = 0`` when there are none);
        1-d arrays of length k for a 1-d ``U``.
    candidates : ndarray
        The candidate indices that were tested.

    Raises
    ------
    ValueError
        If the sketch has no bit-test extension, or ``max_buckets`` < 0.
    """
    # keep first: keep = -1 was reported as "max_buckets must be >= 0, got -25"
    keep = check_int(keep, "keep", minimum=1)
    if not isinstance(sketch, Sketch):
        raise TypeError(f"sketch must be a Sketch, got {type(sketch).__name__}")
    M = sketch.M
    if max_buckets is not None:
        max_buckets = check_int(max_buckets, "max_buckets", minimum=0)
    # a 1-d U came back as (k, 1) arrays (median_decode and oracle_decode return (k,)),
    # and a list U failed with "list indices must be integers"
    U2, one = _columns(U, M)
    cand = bittest_candidates(U2, sketch, max_buckets or min(M.m, M.K * keep))
    if cand.size == 0:
        r = U2.shape[1]
        idx, vals = np.zeros((0, r), np.int64), np.zeros((0, r))
    else:
        idx, vals = median_decode(U2, M, keep, candidates=cand)
    if one:
        return idx[:, 0], vals[:, 0], cand
    return idx, vals, cand


def refine(B: np.ndarray, M: PrimeMatrix, indices: np.ndarray, values: np.ndarray,
           which: str = "LM", rtol: float = 1e-10
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Rayleigh-Ritz of the sketch in the span of decoded sparse vectors.

    Parameters
    ----------
    B : ndarray (m, m)
        The sketch (``Sketch.B``).
    M : PrimeMatrix
        The sketching matrix.
    indices, values : ndarray (k, r)
        Decoded vectors (column j: entries ``values[:, j]`` at ``indices[:, j]``).
    which : {"LM", "LA"}, optional
        Order of the eigenvalues: decreasing magnitude (default) or decreasing value.
    rtol : float, optional
        Relative tolerance of the linear-dependence test (on the diagonal of R in
        ``X = Q R``) and cut-off of the pseudo-inverse of ``M X``; default 1e-10.

    Returns
    -------
    support, vectors, eigenvalues
        ``vectors`` (len(support), r) orthonormal, supported on the union ``support`` of
        the decoded supports; eigenvalues sorted as ``which``. None when the decoded
        vectors are linearly dependent (then nothing is refined).
    """
    if which not in ("LM", "LA"):  # anything else was sorted as "LA" silently
        raise ValueError(f"which must be 'LM' or 'LA', got {which!r}")
    # shapes up front: a 1-d values, mismatched indices or a B of another m failed with
    # IndexError / matmul errors naming nothing
    values = _real(values, "values")
    indices = M.check_indices(indices, "indices").reshape(np.shape(indices))
    if values.ndim != 2 or indices.shape != values.shape:
        raise ValueError(f"indices and values must be (k, r) arrays of one shape, got "
                         f"{indices.shape} and {values.shape}")
    B = _real(B.toarray() if sp.issparse(B) else B, "B")
    if B.shape != (M.m, M.m):
        raise ValueError(f"B must be m x m = {M.m} x {M.m} for M, got shape {B.shape}")
    r = values.shape[1]
    support, inv = np.unique(indices, return_inverse=True)
    inv = inv.reshape(indices.shape)
    X = np.zeros((support.size, r))
    for c in range(r):
        np.add.at(X[:, c], inv[:, c], values[:, c])
    if support.size < r:
        return None
    Q, R = np.linalg.qr(X)
    d = np.abs(np.diag(R))
    if d.min() <= rtol * max(d.max(), 1e-300):
        return None
    W = M.matvec_sparse(support, X) / np.sqrt(M.K)  # (m, r) = M X / sqrt K
    Wp = np.linalg.pinv(W, rcond=rtol)
    # on B / 2**e (exact): with B near 1e308, H + H^T overflowed to inf
    e = int(pow2_exponent(np.abs(B).max(initial=0.0)))  # 0 for a zero B
    G = Wp @ np.ldexp(B, -e) @ Wp.T
    H = R @ G @ R.T
    H = 0.5 * (H + H.T)
    theta, Z = np.linalg.eigh(H)
    theta = np.ldexp(theta, e)
    order = np.argsort(-np.abs(theta) if which == "LM" else -theta, kind="stable")
    vecs = canonical_sign(Q @ Z[:, order])
    return support, vecs, theta[order]
