"""Huge symmetric matrices with sparse top eigenvectors, in factored form.

The synthetic families of the MAM* experiments (Boahen, Brugiapaglia, Chou, Iwen, Krahmer
2025): ``A = sum_{j<r} lambda_j v_j v_j^T`` with

* eigenvalue decays ``"expo"`` (``2^-j``), ``"lin"`` (``linspace(1, 0, r)`` without the
  endpoint) and ``"gen"`` (``1 / (1 + 2j)``);
* supports ``"disjoint"`` (v_j on the block ``[j s, (j+1) s)``, Gaussian values) or
  ``"overlapping"`` (one random support of size s shared by all v_j, orthonormal Gaussian
  columns);
* optional approximately sparse tails: ``tail_times * s`` extra entries of size
  ``c N(0, 1)``, ``c = tail_ratio / tail_times^2``, at fresh positions (per vector for
  disjoint supports, shared for overlapping ones), then the vectors are normalized (and,
  for overlapping supports, re-orthonormalized so that the v_j stay exact eigenvectors).

A is never formed: :class:`FactoredMatrix` keeps the eigenvalues and a sparse N x r
matrix of eigenvectors, so N = 10^8 costs memory O(r s).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import scipy.sparse as sp

from .._core import as_generator, check_int, check_positive
from .operators import _check_numeric_input, _physical_memory

__all__ = ["FactoredMatrix", "eigen_decay", "sparse_eigen_problem", "eigenvector_errors",
           "match_eigenpairs", "DECAYS", "SUPPORTS", "WHICH"]

DECAYS = ("expo", "lin", "gen")
SUPPORTS = ("disjoint", "overlapping")


def eigen_decay(r: int, decay: str = "expo") -> np.ndarray:
    """The r eigenvalues of a decay family (decreasing, the first is 1).

    Parameters
    ----------
    r : int
        Number of eigenvalues, ``r >= 1``.
    decay : {"expo", "lin", "gen"}, optional
        ``"expo"``: ``2^-j``; ``"lin"``: ``linspace(1, 0, r)`` without the endpoint;
        ``"gen"``: ``1 / (1 + 2j)``, for ``j = 0, ..., r - 1``. Default ``"expo"``.

    Returns
    -------
    ndarray (r,)
        The eigenvalues, in decreasing order.

    Raises
    ------
    ValueError
        If ``decay`` is not one of :data:`DECAYS`.
    """
    r = check_int(r, "r", minimum=1)
    j = np.arange(r, dtype=float)
    if decay == "expo":
        return 2.0 ** (-j)
    if decay == "lin":
        return np.linspace(1.0, 0.0, r, endpoint=False)
    if decay == "gen":
        return 1.0 / (1.0 + 2.0 * j)
    raise ValueError(f"decay must be one of {DECAYS}, got {decay!r}")


#: largest ``|V^T V - I|`` entry of the vectors of a :class:`FactoredMatrix`
ORTHONORMAL_TOL = 1e-8


def orthonormality_error(V: Any) -> float:
    """``max |V^T V - I|`` for a sparse ``V`` (N x r), without an N x r dense array."""
    V = sp.csc_array(V)
    r = V.shape[1]
    if r == 0:
        return 0.0
    G = sp.csr_array(V.T @ V) - sp.csr_array(sp.identity(r))
    return float(abs(G).max())


def _real(x: Any, what: str) -> Any:
    """``x`` (array-like or scipy sparse) with real values; a complex one only when its
    imaginary parts are all 0.

    A is real symmetric: a float cast would drop the imaginary parts of complex
    eigenvalues or vectors (a Hermitian A) with a mere ComplexWarning, and the matrix
    would silently be another one.
    """
    a = sp.csc_array(x) if sp.issparse(x) else np.asarray(x)  # duplicates summed
    if np.iscomplexobj(a):
        im = a.data.imag if sp.issparse(a) else a.imag
        if np.any(im != 0):
            raise TypeError(f"{what} must be real (A is a real symmetric matrix), got "
                            "complex values with nonzero imaginary parts")
        a = a.real
    return a


@dataclass(frozen=True, eq=False)
class FactoredMatrix:
    """A symmetric ``A = V diag(eigenvalues) V^T`` with sparse V (N x r).

    Attributes
    ----------
    eigenvalues : ndarray (r,)
    vectors : scipy.sparse.csc_array (N, r)
        Orthonormal columns (the eigenvectors of A when the eigenvalues are distinct;
        ``ValueError`` when ``max |V^T V - I| > 1e-8``: the eigenvalues and every error
        measured against them would be another matrix's).
    sparsity : int
        The nominal sparsity s of each eigenvector (the tails excluded).
    info : dict
        Generator parameters.
    """

    eigenvalues: np.ndarray
    vectors: Any
    sparsity: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lam = np.asarray(_real(self.eigenvalues, "eigenvalues"), dtype=float).reshape(-1)
        V = sp.csc_array(_real(self.vectors, "vectors"), dtype=float)
        if V.shape[1] != lam.size:
            raise ValueError(f"{lam.size} eigenvalues but {V.shape[1]} vectors")
        if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(V.data))):
            raise ValueError("eigenvalues or vectors contain NaN or inf")
        V.sum_duplicates()
        # stored zeros are no part of a support: support() and the inferred sparsity
        # counted them (e.g. the tails of tail_ratio=0)
        V.eliminate_zeros()
        V.sort_indices()
        dev = orthonormality_error(V)
        if dev > ORTHONORMAL_TOL:
            raise ValueError(f"vectors must have orthonormal columns (max |V^T V - I| = "
                             f"{dev:.3g}): A = V diag(eigenvalues) V^T then has other "
                             "eigenpairs; orthonormalize V (or pass A as a matrix)")
        lam.setflags(write=False)
        object.__setattr__(self, "eigenvalues", lam)
        object.__setattr__(self, "vectors", V)
        # a negative or fractional sparsity was stored as given and broke the overlap of
        # eigenvector_errors (3.0 for sparsity=-1)
        sparsity = (0 if self.sparsity is None
                    else check_int(self.sparsity, "sparsity", minimum=0))
        if not sparsity:
            sparsity = int(np.diff(V.indptr).max(initial=0))
        object.__setattr__(self, "sparsity", sparsity)

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def rank(self) -> int:
        return int(self.eigenvalues.size)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n, self.n)

    def column(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Nonzeros ``(indices, values)`` of eigenvector j (``-rank <= j < rank``, negative
        j counted from the end as in Python)."""
        # j = -1 read indptr[-1:0], an empty slice: eigenvector -1 came back with no entry
        j = check_int(j, "j")
        if not -self.rank <= j < self.rank:
            raise IndexError(f"eigenvector {j} out of range for rank {self.rank}")
        j %= self.rank
        V = self.vectors
        a, b = V.indptr[j], V.indptr[j + 1]
        return V.indices[a:b].astype(np.int64), V.data[a:b]

    def support(self) -> np.ndarray:
        """Union of the supports of all eigenvectors (sorted)."""
        return np.unique(self.vectors.indices).astype(np.int64)

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``A x`` for x of shape (N,) or (N, k), cost O(nnz(V) k)."""
        # masked entries and strings refused (the mask was dropped, "1" parsed as 1.0)
        x = _check_numeric_input(x, "x")
        x = np.asarray(_real(x, "x"), dtype=float)  # a complex x lost its imaginary part
        # a plain reshape would read a vector of length k N as an (N, k) block
        if x.ndim not in (1, 2) or x.shape[0] != self.n:
            raise ValueError(f"x has shape {x.shape}, expected ({self.n},) or "
                             f"({self.n}, k)")
        x2 = x.reshape(self.n, -1)
        y = self.vectors @ (self.eigenvalues[:, None] * (self.vectors.T @ x2))
        return np.asarray(y).reshape(x.shape)

    def aslinearoperator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` applying A (symmetric)."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec,
                              matmat=self.matvec, dtype=float)

    def to_dense(self, max_entries: int = 10**8) -> np.ndarray:
        """The N x N array (small N only)."""
        if self.n * self.n > max_entries:
            raise MemoryError(f"refusing to form a {self.n} x {self.n} matrix")
        Vd = self.vectors.toarray()
        return (Vd * self.eigenvalues) @ Vd.T

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """``(U, A[U][:, U])``: the union support U and the only nonzero block of A."""
        U = self.support()
        VU = self.vectors[U].toarray()
        return U, (VU * self.eigenvalues) @ VU.T

    def entries(self, chunk: int = 1 << 16, symmetry: str = "both", shuffle: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Stream the nonzero entries of A as ``(i, j, value)`` chunks.

        ``symmetry="both"`` gives every entry; ``"upper"``/``"lower"`` each off-diagonal
        pair once. ``shuffle=seed`` streams them in a random order. Memory O(|U|^2) for
        the union support U (meant for tests and benchmarks of the stream builders).
        """
        # a chunk <= 0 streamed nothing (a negative range step) or failed in range()
        chunk = check_int(chunk, "chunk", minimum=1)
        U, AU = self.block()
        ii, jj = np.meshgrid(np.arange(U.size), np.arange(U.size), indexing="ij")
        keep = AU != 0
        if symmetry == "upper":
            keep &= ii <= jj
        elif symmetry == "lower":
            keep &= ii >= jj
        elif symmetry != "both":
            raise ValueError(f"symmetry must be both, upper or lower, got {symmetry!r}")
        a, b, v = U[ii[keep]], U[jj[keep]], AU[keep]
        if shuffle is not None:
            p = np.random.default_rng(shuffle).permutation(v.size)
            a, b, v = a[p], b[p], v[p]
        for s in range(0, v.size, chunk):
            yield a[s:s + chunk], b[s:s + chunk], v[s:s + chunk]


def _fresh(rng: np.random.Generator, n: int, count: int, exclude: np.ndarray) -> np.ndarray:
    """``count`` distinct random indices in [0, n) outside ``exclude`` (O(count) memory)."""
    if count + exclude.size > n:
        raise ValueError(f"cannot place {count} more entries among N = {n} "
                         f"({exclude.size} taken)")
    if 4 * (count + exclude.size) > n:  # dense regime: permute
        free = np.setdiff1d(np.arange(n), exclude)
        return rng.permutation(free)[:count]
    out = np.zeros(0, np.int64)
    while out.size < count:
        draw = rng.integers(0, n, 2 * (count - out.size) + 16)
        _, first = np.unique(draw, return_index=True)
        draw = draw[np.sort(first)]
        draw = draw[~np.isin(draw, exclude) & ~np.isin(draw, out)]
        out = np.concatenate([out, draw[: count - out.size]])
    return out


def sparse_eigen_problem(n: int, rank: int, sparsity: int, *, decay: str = "expo",
                         support: str = "disjoint", tail_times: int = 0,
                         tail_ratio: float = 1e-3, seed: int | np.random.Generator
                         ) -> FactoredMatrix:
    """A random member of the MAM* synthetic family (module docstring).

    Parameters
    ----------
    n : int
        Dimension N (any size: the matrix stays factored).
    rank : int
        Number r of nonzero eigenvalues.
    sparsity : int
        Support size s of each eigenvector (before the tails).
    decay : {"expo", "lin", "gen"}
    support : {"disjoint", "overlapping"}
    tail_times : int
        Tail entries per vector, as a multiple of s (0: exactly sparse).
    tail_ratio : float
        Tail size: entries ``(tail_ratio / tail_times^2) N(0, 1)``.
    seed : int or Generator

    Returns
    -------
    FactoredMatrix
    """
    n = check_int(n, "n", minimum=1)
    r = check_int(rank, "rank", minimum=1)
    s = check_int(sparsity, "sparsity", minimum=1)
    t = check_int(tail_times, "tail_times", minimum=0)
    ratio = check_positive(tail_ratio, "tail_ratio", allow_zero=True)
    if support not in SUPPORTS:
        raise ValueError(f"support must be one of {SUPPORTS}, got {support!r}")
    # named here: too large a sparsity or tail used to fail inside the index sampler
    # ("cannot place 6 more entries among N = 5"), naming no parameter
    if s > n:
        raise ValueError(f"sparsity = {s} exceeds n = {n}")
    if support == "disjoint" and r * s > n:
        raise ValueError(f"disjoint supports need rank * sparsity <= n ({r}*{s} > {n})")
    vectors = r if support == "disjoint" else 1  # disjoint supports each take s (1 + t)
    if t and vectors * s * (1 + t) > n:
        raise ValueError(f"tail_times = {t} needs {vectors * s * (1 + t)} entries (supports "
                         f"and tails), more than n = {n}")
    # before any allocation: rank 10**9 at N = 10**12 (a valid disjoint layout) filled
    # the machine's memory until the process was killed
    nnz = r * s * (1 + t)
    need, total = 80 * nnz + 16 * r, _physical_memory()
    if total is not None and need > total:
        raise MemoryError(f"rank = {r} eigenvectors of {s * (1 + t)} entries each need "
                          f"about {need / 2**30:.3g} GiB to build, more than this "
                          f"machine's {total / 2**30:.3g} GiB of memory")
    lam = eigen_decay(r, decay)
    rng = as_generator(seed)
    c = ratio / t**2 if t else 0.0
    rows, cols, vals = [], [], []
    if support == "disjoint":
        taken = np.arange(r * s, dtype=np.int64)
        tails = _fresh(rng, n, t * s * r, taken) if t else np.zeros(0, np.int64)
        for j in range(r):
            idx = np.arange(j * s, (j + 1) * s, dtype=np.int64)
            v = rng.standard_normal(s)
            if t:
                idx = np.concatenate([idx, tails[j * t * s:(j + 1) * t * s]])
                v = np.concatenate([v, c * rng.standard_normal(t * s)])
            rows.append(idx)
            cols.append(np.full(idx.size, j))
            vals.append(v / np.linalg.norm(v))
    else:
        if r > s:
            raise ValueError(f"overlapping supports need rank <= sparsity ({r} > {s})")
        S = np.sort(_fresh(rng, n, s, np.zeros(0, np.int64)))
        Q, _ = np.linalg.qr(rng.standard_normal((s, r)))
        idx, Vs = S, Q
        if t:
            T = np.sort(_fresh(rng, n, t * s, S))
            idx = np.concatenate([S, T])
            Vs, _ = np.linalg.qr(np.vstack([Q, c * rng.standard_normal((t * s, r))]))
        for j in range(r):
            rows.append(idx)
            cols.append(np.full(idx.size, j))
            vals.append(Vs[:, j])
    V = sp.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                     shape=(n, r))
    return FactoredMatrix(lam, V, s, dict(n=n, rank=r, sparsity=s, decay=decay,
                                          support=support, tail_times=t,
                                          tail_ratio=ratio))


def _sparse_err(xi: np.ndarray, xv: np.ndarray, ti: np.ndarray, tv: np.ndarray,
                s: int) -> tuple[float, float, float]:
    """Relative l2 / linf errors (up to sign) and top-s overlap of two sparse vectors."""
    u = np.union1d(xi, ti)
    a = np.zeros(u.size)
    b = np.zeros(u.size)
    np.add.at(a, np.searchsorted(u, xi), xv)
    np.add.at(b, np.searchsorted(u, ti), tv)
    if a @ b < 0:
        a = -a
    d = a - b
    l2 = float(np.linalg.norm(d) / max(np.linalg.norm(b), 1e-300))
    linf = float(np.abs(d).max(initial=0) / max(np.abs(b).max(initial=0), 1e-300))
    s = min(s, int(np.count_nonzero(b)))
    # only nonzero entries of the estimate count: an estimate with fewer than s entries
    # (or none) filled its "top s" with zeros at positions of the union, i.e. at the true
    # support, and an empty estimate scored overlap 1
    top_a = set(u[np.argsort(-np.abs(a), kind="stable")[:min(s, np.count_nonzero(a))]]
                .tolist())
    top_b = set(u[np.argsort(-np.abs(b), kind="stable")[:s]].tolist())
    return l2, linf, len(top_a & top_b) / max(s, 1)


WHICH = ("LM", "LA")


def match_eigenpairs(eigenvalues: np.ndarray, overlaps: np.ndarray, which: str = "LM",
                     rtol: float = 1e-12) -> np.ndarray:
    """Which true eigenpair each estimate is compared with.

    The truth is ordered as the estimates are (``which="LM"``: by decreasing
    ``|lambda|``; ``"LA"``: by decreasing ``lambda``) and estimate j goes with the j-th.
    Eigenpairs whose keys tie (within ``rtol * max|lambda|``, e.g. ``lambda = 1`` and
    ``-1`` for ``"LM"``) have no order, so the estimates at the positions of a tie are
    assigned to the tied true eigenpairs by the largest total ``overlaps`` (an
    assignment, each true eigenpair used once).

    Parameters
    ----------
    eigenvalues : ndarray (R,)
        The true eigenvalues.
    overlaps : ndarray (r, R)
        ``|<x_j, v_c>|`` of estimate j and true eigenvector c (only read at ties).
    which : {"LM", "LA"}
    rtol : float

    Returns
    -------
    ndarray (min(r, R),)
        The true index of each of the first estimates.
    """
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    lam = np.asarray(eigenvalues, dtype=float).reshape(-1)
    overlaps = np.asarray(overlaps)
    # read only at ties: a wrong shape passed unnoticed until a tie indexed it
    if overlaps.ndim != 2 or overlaps.shape[1] != lam.size:
        raise ValueError(f"overlaps must be (r, {lam.size}) (estimates x true eigenpairs), "
                         f"got shape {overlaps.shape}")
    key = -np.abs(lam) if which == "LM" else -lam
    order = np.argsort(key, kind="stable")
    ks = key[order]
    r = min(int(overlaps.shape[0]), lam.size)
    out = order[:r].copy()
    tol = rtol * max(float(np.abs(lam).max(initial=0.0)), 1e-300)
    start = 0
    while start < r:
        end = start + 1
        while end < lam.size and ks[end] - ks[start] <= tol:
            end += 1
        if end - start > 1:  # a tie: the estimates there may come in any order
            from scipy.optimize import linear_sum_assignment

            group = order[start:end]
            rows = np.arange(start, min(end, r))
            ri, ci = linear_sum_assignment(np.abs(overlaps[np.ix_(rows, group)]),
                                           maximize=True)
            out[rows[ri]] = group[ci]
        start = end
    return out


def _sparse_overlaps(truth: FactoredMatrix, indices: np.ndarray, values: np.ndarray
                     ) -> np.ndarray:
    """``|<x_j, v_c>|`` (r, R) of sparse estimates (k, r) and the true eigenvectors."""
    k, r = values.shape
    V = truth.vectors
    if k == 0:  # no estimate has an entry (a decoder found nothing): no overlap
        return np.zeros((r, V.shape[1]))
    # on the rows the estimates touch only: a sparse product over all N rows converts a
    # CSC operand to CSR, an (N + 1) index array (763 MiB at N = 1e8, 4x the run's memory)
    rows = np.unique(indices)
    est = np.searchsorted(rows, indices.T.ravel())
    X = sp.csc_array((values.T.ravel(), (est, np.repeat(np.arange(r), k))),
                     shape=(rows.size, r))
    pos = np.minimum(np.searchsorted(rows, V.indices), rows.size - 1)
    hit = rows[pos] == V.indices
    vcol = np.repeat(np.arange(V.shape[1]), np.diff(V.indptr))
    Vr = sp.csc_array((V.data[hit], (pos[hit], vcol[hit])), shape=(rows.size, V.shape[1]))
    return np.abs(np.asarray((X.T @ Vr).todense()))


def eigenvector_errors(truth: FactoredMatrix, indices: np.ndarray, values: np.ndarray,
                       eigenvalues: np.ndarray, sparsity: int | None = None,
                       n_report: int = 6, which: str = "LM") -> dict[str, np.ndarray]:
    """Errors of estimated sparse eigenpairs against the truth, for the first
    ``n_report``:

    * ``l2_after`` / ``linf_after``: ``||x_j - v_j|| / ||v_j||`` up to sign (l2, linf);
    * ``overlap``: fraction of the s largest ``|v_j|`` entries among the s largest
      ``|x_j|`` (s = ``sparsity``, default the truth's);
    * ``eigenvalue``: ``|lambda_hat_j - lambda_j| / |lambda_j|``.

    ``indices``/``values`` are (k, r): column j holds the nonzeros of x_j, the estimates
    being sorted as ``which`` sorts eigenvalues (``"LM"``: decreasing ``|lambda|``,
    ``"LA"``: decreasing ``lambda``). v_j is the j-th true eigenvector in the same order;
    at ties of that order (e.g. ``lambda = 1, -1`` for ``"LM"``) the tied estimates are
    matched to the tied true eigenvectors by overlap (see :func:`match_eigenpairs`).
    NaN where the truth has fewer eigenpairs.

    Parameters
    ----------
    truth : FactoredMatrix
        The true matrix.
    indices : ndarray (k, r) of int
        Row indices of the nonzeros of each estimate (column j: x_j).
    values : ndarray (k, r)
        The values at ``indices``; zeros are ignored (padding).
    eigenvalues : ndarray (r,)
        The estimated eigenvalues, in the order of the columns.
    sparsity : int, optional
        s for ``overlap``; default (None or 0) ``truth.sparsity``.
    n_report : int, optional
        Number of leading estimates to evaluate (default 6; at most r).
    which : {"LM", "LA"}, optional
        The order of the estimates (default ``"LM"``).

    Returns
    -------
    dict of str to ndarray (min(n_report, r),)
        ``"l2_after"``, ``"linf_after"``, ``"overlap"`` and ``"eigenvalue"``.
    """
    n_report = check_int(n_report, "n_report", minimum=1)
    # through _real: a float cast dropped complex parts with only a warning (and parsed
    # strings); the errors were then those of another estimate
    values, eigenvalues = _real(values, "values"), _real(eigenvalues, "eigenvalues")
    for name, a in (("values", values), ("eigenvalues", eigenvalues)):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    indices, values = np.asarray(indices), np.asarray(values, dtype=float)
    eigenvalues = np.asarray(eigenvalues, dtype=float).reshape(-1)
    # out-of-range or fractional indices were scored as if they were other entries
    if indices.ndim != 2 or values.shape != indices.shape:
        raise ValueError(f"indices and values must be (k, r) arrays of one shape, got "
                         f"{indices.shape} and {values.shape}")
    if indices.size and (indices.dtype.kind not in "iu"
                         or indices.min() < 0 or indices.max() >= truth.n):
        raise ValueError(f"indices must be integers in [0, {truth.n}) (the rows of the "
                         f"truth), got dtype {indices.dtype}"
                         + (f", range [{indices.min()}, {indices.max()}]"
                            if indices.dtype.kind in "iuf" else ""))
    if eigenvalues.size < values.shape[1]:
        raise ValueError(f"{values.shape[1]} estimates but {eigenvalues.size} eigenvalues")
    # None or 0: the truth's; a negative s gave overlaps above 1, a fractional one a
    # TypeError from a slice
    s = check_int(sparsity, "sparsity", minimum=0) if sparsity is not None else 0
    s = s or truth.sparsity
    lam_t = truth.eigenvalues
    r = min(n_report, values.shape[1])
    match = match_eigenpairs(lam_t, _sparse_overlaps(truth, indices[:, :r], values[:, :r]),
                             which)
    out = {k: np.full(r, np.nan) for k in ("l2_after", "linf_after", "overlap",
                                           "eigenvalue")}
    for j in range(match.size):
        ti, tv = truth.column(int(match[j]))
        sel = values[:, j] != 0
        l2, linf, ov = _sparse_err(indices[sel, j], values[sel, j], ti, tv, s)
        out["l2_after"][j], out["linf_after"][j], out["overlap"][j] = l2, linf, ov
        lt = lam_t[match[j]]
        out["eigenvalue"][j] = abs(eigenvalues[j] - lt) / max(abs(lt), 1e-300)
    return out
