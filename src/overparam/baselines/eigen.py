"""Baselines for sparse top eigenvectors: ARPACK + truncation, truncated power method.

* :func:`eigsh_truncated`: ``scipy.sparse.linalg.eigsh`` on A (when its working memory
  fits), then each eigenvector keeps its s largest entries and is renormalized.
* :func:`truncated_power`: the truncated power method of sparse PCA (Yuan & Zhang, JMLR
  2013): ``x <- normalize(truncate_s(A x))`` from the s largest diagonal entries, with
  projection deflation for further eigenvectors.

Both take a :class:`~overparam.problems.FactoredMatrix` (applied in factored form), a dense
or scipy sparse matrix, or a ``LinearOperator``, and return a
:class:`~overparam.Result` laid out like :func:`overparam.sparse_top_eigenvectors`: ``x``
(k, r) values at ``info["indices"]``, ``info["vectors"]`` (csc, N x r),
``info["eigenvalues"]``, and ``info["errors"]`` when the truth is known.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator, eigsh

from .._core import Result, Status, as_generator, check_int, check_positive
from .._core.checks import low_precision_as_float32, refuse_masked
from ..problems.eigen import WHICH, FactoredMatrix, eigenvector_errors

__all__ = ["eigsh_truncated", "truncated_power"]


def _explicit(A: Any) -> Any:
    """``A`` with another library's matrix (pandas, JAX, ``np.matrix``, a nested list) as
    a plain ndarray: aslinearoperator refused those with "type not understood", and
    ``np.matrix`` failed in the symmetry check (``max(initial=)``)."""
    if isinstance(A, (FactoredMatrix, LinearOperator)) or sp.issparse(A):
        return A
    # np.asarray drops a mask: the hidden entries were solved for as data
    refuse_masked(A, "A")
    if isinstance(A, (list, tuple)) or hasattr(A, "__array__"):
        return np.asarray(A)
    return A


def _operator(A: Any) -> tuple[LinearOperator, FactoredMatrix | None]:
    if isinstance(A, FactoredMatrix):
        return A.aslinearoperator(), A
    if sp.issparse(A) or isinstance(A, np.ndarray):
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        A = _real(A)
        data = A.data if sp.issparse(A) else A
        if not np.all(np.isfinite(data)):
            raise ValueError("A contains NaN or inf")
        # both methods assume symmetry; eigsh would silently return garbage otherwise
        asym = _asymmetry(A)
        if not asym <= 1e-9:
            raise ValueError(f"A is not symmetric: ||A - A^T||_F / ||A||_F = {asym:.3e} "
                             "> 1e-9")
    op = aslinearoperator(A)
    if op.shape[0] != op.shape[1]:
        raise ValueError(f"A must be square, got shape {op.shape}")
    if np.dtype(op.dtype) != np.float64:
        # complex: refuse nonzero imaginary parts; float32 (or int): eigsh picks ARPACK's
        # precision from op.dtype, so aslinearoperator(A32) had eigenvalues off by 1e-7
        # relative where A32 itself (cast to float64 above) was exact
        op = _real_operator(op)
    return op, None


def _real(A: Any) -> Any:
    """An explicit matrix as float64; complex only when its imaginary parts are all 0
    (a float cast would drop them with a mere ComplexWarning and solve another problem;
    bool matrices failed in the symmetry check)."""
    # strings were parsed by astype(float64) ("3.0" read as 3.0, "abc" a NumPy ValueError),
    # dates and other non-numbers failed or were read as integer counts
    if A.dtype.kind not in "biufcO":                        # object: numbers, cast below
        A = low_precision_as_float32(A) if isinstance(A, np.ndarray) else A
        if A.dtype.kind not in "biufcO":
            raise TypeError(f"A must be a numeric matrix, got dtype {A.dtype}")
    if np.iscomplexobj(A):
        im = A.imag
        if np.any(im.data != 0 if sp.issparse(im) else im != 0):
            raise TypeError("A must be real symmetric, got complex values with nonzero "
                            "imaginary parts")
        A = A.real
    return A.astype(np.float64, copy=False)


def _real_operator(op: LinearOperator) -> LinearOperator:
    """An operator of another dtype as a float64 one: a complex one refuses any product
    with a nonzero imaginary part (eigsh would otherwise return complex eigenvectors, and
    the power method would drop the imaginary parts); a float32 one runs ARPACK in double
    precision."""
    def mv(x: np.ndarray) -> np.ndarray:
        y = np.asarray(op.matmat(x) if np.ndim(x) == 2 else op.matvec(x))
        if np.iscomplexobj(y):
            if np.any(y.imag != 0):
                raise TypeError("A must be real symmetric, but A x has nonzero imaginary "
                                "parts")
            y = y.real
        return y.astype(np.float64, copy=False)

    return LinearOperator(op.shape, matvec=mv, rmatvec=mv, matmat=mv, dtype=float)


def _asymmetry(A: Any) -> float:
    """``||A - A^T||_F / ||A||_F`` (0 for A = 0) of an explicit square matrix; dense A in
    row blocks (no N x N temporary). Computed on ``A / max|A_ij|``: squares of entries
    beyond 1e154 overflowed (inf / inf = NaN passed the check) and below 1e-154
    underflowed (0 read as A = 0), so an asymmetric A was accepted at those scales."""
    if sp.issparse(A):
        from scipy.sparse.linalg import norm

        scale = float(np.abs(A.data).max(initial=0.0))
        if scale == 0:
            return 0.0
        A = A / scale
        nrm, d = norm(A), norm(A - A.T)
    else:
        n = A.shape[0]
        step = max(1, (1 << 20) // max(n, 1))
        scale = max((float(np.abs(A[a:a + step]).max(initial=0.0))
                     for a in range(0, n, step)), default=0.0)
        if scale == 0:
            return 0.0
        nrm = np.sqrt(sum(float(np.sum((A[a:a + step] / scale) ** 2))
                          for a in range(0, n, step)))
        d = np.sqrt(sum(float(np.sum(((A[a:a + step] - A[:, a:a + step].T) / scale) ** 2))
                        for a in range(0, n, step)))
    return 0.0 if nrm == 0 else float(d / nrm)


def _setup(A: Any, rank: int, sparsity: int, truth: Any):
    """(operator, truth, N, rank, s) with the checks both baselines share."""
    from ..mamstar.api import _check_truth

    op, fac = _operator(A)
    n = op.shape[0]
    rank = check_int(rank, "rank", minimum=1)
    s = check_int(sparsity, "sparsity", minimum=1)
    if s > n:
        raise ValueError(f"sparsity {s} exceeds N = {n}")
    # before the run: a matrix or another N failed in the error report after it
    truth = _check_truth(truth, n) if truth is not None else fac
    return op, truth, n, rank, s


def _refuse_zero(op: LinearOperator, v: np.ndarray) -> float:
    """Refuse A = 0 (every vector is then an eigenvector, and ARPACK fails on it with
    'starting vector is zero'), seen as ``A v = 0`` for a random v, and an operator
    that returns NaN or inf. Returns ``max|A v| / max|v|``, a scale of A."""
    y = np.asarray(op.matvec(v))
    if not np.all(np.isfinite(y)):
        raise ValueError("A v is not finite for a random v (NaN or inf in A?)")
    if not np.any(y):
        raise ValueError("A is zero (A v = 0 for a random v): it has no top eigenvectors")
    return float(np.abs(y).max() / np.abs(v).max())


def _top_s(X: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(s, r) indices and values of the s largest |entries| of each column of X (N, r),
    normalized, sorted by decreasing magnitude."""
    part = np.argpartition(-np.abs(X), s - 1, axis=0)[:s]
    vals = np.take_along_axis(X, part, axis=0)
    order = np.argsort(-np.abs(vals), axis=0, kind="stable")
    idx = np.take_along_axis(part, order, axis=0)
    vals = np.take_along_axis(vals, order, axis=0)
    nrm = np.linalg.norm(vals, axis=0)
    return idx, vals / np.where(nrm > 0, nrm, 1.0)


def _result(idx, vals, lam, n, truth, sparsity, status, n_iter, t0, msg, which="LM",
            **info):
    from ..mamstar.api import to_csc

    info.update(indices=idx, vectors=to_csc(idx, vals, n), eigenvalues=lam)
    if truth is not None:  # the truth ordered as the estimates (`which`)
        from ..mamstar.api import _align_ties, _top_defined

        # as eigen_errors: NaN past the implicit eigenvalue 0 of a rank < N truth ("LA"),
        # and a repeated eigenvalue compared in its true basis closest to the estimates
        # (an exact eigsh basis of a double eigenvalue scored l2 = 0.26 before)
        r = min(6, vals.shape[1])
        truth = _align_ties(_top_defined(truth, which), idx[:, :r], vals[:, :r], which)
        info["errors"] = eigenvector_errors(truth, idx, vals, lam, sparsity, which=which)
    return Result(x=vals, status=status, message=msg, n_iter=n_iter,
                  wall_time=time.perf_counter() - t0, info=info)


def eigsh_truncated(A: Any, rank: int, sparsity: int, *, truth: FactoredMatrix | None = None,
                    which: str = "LM", tol: float = 0.0, ncv: int | None = None,
                    max_memory: float = 4 * 2**30, seed: int = 0) -> Result:
    """Top-``rank`` eigenvectors by ARPACK, each truncated to its ``sparsity`` largest
    entries.

    Parameters
    ----------
    A : FactoredMatrix, array, sparse matrix or LinearOperator
        Symmetric N x N (an explicit matrix is checked; A = 0 is refused).
    rank : int
        Number of eigenvectors r, ``1 <= r < N - 1``.
    sparsity : int
        Entries kept per eigenvector s, ``1 <= s <= N``.
    truth : FactoredMatrix, optional
        For ``info["errors"]`` (a FactoredMatrix ``A`` is its own truth).
    which : {"LM", "LA"}
        Largest magnitude or largest (algebraic) eigenvalues, sorted that way.
    tol : float, optional
        ARPACK's relative accuracy, >= 0 (default 0: machine precision).
    ncv : int, optional
        ARPACK's number of Lanczos vectors, ``rank < ncv <= N`` (default
        ``min(N - 1, max(2 r + 1, 20))``).
    max_memory : float
        Refuse when ARPACK's ``ncv`` Lanczos vectors of length N would exceed it (bytes;
        MemoryError).
    seed : int, optional
        Seed of ARPACK's random start vector (default 0).

    Returns
    -------
    Result
        ``x`` the (s, r) truncated, renormalized values at ``info["indices"]``;
        ``info["vectors"]`` (csc, N x r), ``info["eigenvalues"]`` (ARPACK's, before
        truncation), ``info["lanczos_bytes"]`` and, with a truth, ``info["errors"]``.
    """
    t0 = time.perf_counter()
    A = _explicit(A)
    op, truth, n, rank, s = _setup(A, rank, sparsity, truth)
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    tol = check_positive(tol, "tol", allow_zero=True)  # NaN: an ARPACK error 3
    # NaN disabled the memory guard (need > NaN is False), a negative value raised a
    # MemoryError "(> max_memory -0.0 GiB)", a string a TypeError from the comparison
    max_memory = check_positive(max_memory, "max_memory")
    if rank >= n - 1:
        raise ValueError(f"rank {rank} is too large for eigsh on N = {n} (need rank < N-1)")
    if ncv is None:
        ncv = min(n - 1, max(2 * rank + 1, 20))
    else:  # ncv=0 fell back to the default, ncv <= rank was ARPACK's error
        ncv = check_int(ncv, "ncv", minimum=rank + 1)
        if ncv > n:
            raise ValueError(f"ncv = {ncv} must be <= N = {n}")
    need = 8.0 * n * (ncv + 4)
    if need > max_memory:
        raise MemoryError(f"eigsh on N = {n} needs about {need / 2**30:.1f} GiB of Lanczos "
                          f"vectors (> max_memory {max_memory / 2**30:.1f} GiB)")
    v0 = as_generator(seed).standard_normal(n)
    _refuse_zero(op, v0)
    vals, vecs = eigsh(op, k=rank, which=which, tol=tol, ncv=ncv, v0=v0)
    order = np.argsort(-np.abs(vals) if which == "LM" else -vals, kind="stable")
    vals, vecs = vals[order], vecs[:, order]
    idx, x = _top_s(vecs, s)
    return _result(idx, x, vals, n, truth, s, Status.CONVERGED, 0, t0,
                   f"eigsh top {rank}, truncated to {s} entries", which=which,
                   method="eigsh_truncated", lanczos_bytes=need)


def truncated_power(A: Any, rank: int, sparsity: int, *, truth: FactoredMatrix | None = None,
                    max_iter: int = 500, tol: float = 1e-10, init: str = "diagonal",
                    seed: int = 0) -> Result:
    """Truncated power method with deflation (sparse PCA).

    For each j < rank: start from the ``sparsity`` largest diagonal entries of the deflated
    A (``init="diagonal"``, available for a FactoredMatrix or an explicit matrix) or a
    seeded dense random vector (``init="random"``), iterate
    ``x <- truncate_s(A_j x) / ||.||`` until ``||x_new - x|| < tol``, then deflate
    ``A_{j+1} = (I - x x^T) A_j (I - x x^T)``, i.e.
    ``A_j = P_{j-1} ... P_0 A P_0 ... P_{j-1}`` (symmetric, also when the found vectors
    are not orthogonal). A = 0 is refused (ValueError).

    Parameters
    ----------
    A : FactoredMatrix, array, sparse matrix or LinearOperator
        Symmetric N x N (an explicit matrix is checked).
    rank : int
        Number of eigenvectors r, ``1 <= r <= N``.
    sparsity : int
        Entries kept per eigenvector s, ``1 <= s <= N``.
    truth : FactoredMatrix, optional
        For ``info["errors"]`` (a FactoredMatrix ``A`` is its own truth).
    max_iter : int, optional
        Iterations per eigenvector, >= 1 (default 500).
    tol : float, optional
        Stop an eigenvector when ``||x_new - x|| < tol`` (default 1e-10).
    init : {"diagonal", "random"}, optional
        Start vector (default ``"diagonal"``; see above).
    seed : int, optional
        Seed of the random start vectors (``init="random"``; default 0).

    Returns
    -------
    Result
        ``status`` MAX_ITER when some vector did not converge; ``info["iterations"]``.
    """
    t0 = time.perf_counter()
    A = _explicit(A)
    op, truth, n, rank, s = _setup(A, rank, sparsity, truth)
    fac = A if isinstance(A, FactoredMatrix) else None
    if rank > n:
        raise ValueError(f"rank {rank} must be <= N = {n}")
    if init not in ("diagonal", "random"):
        raise ValueError(f"init must be 'diagonal' or 'random', got {init!r}")
    # max_iter <= 0 returned the start vectors, tol = NaN ran max_iter steps per vector:
    # both as MAX_ITER results
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol", allow_zero=True)
    rng = as_generator(seed)
    scale = _refuse_zero(op, np.random.default_rng(0).standard_normal(n))  # rng untouched
    diag = None
    if init == "diagonal":
        if fac is not None:
            V = fac.vectors
            diag = np.asarray((V.multiply(V)) @ fac.eigenvalues).reshape(-1)
        elif sp.issparse(A) or isinstance(A, np.ndarray):
            diag = _real(np.asarray(A.diagonal())).reshape(-1)  # A was checked real
        else:
            raise ValueError("init='diagonal' needs a FactoredMatrix or an explicit matrix; "
                             "use init='random' for an operator")
    found_i: list[np.ndarray] = []  # supports and values of the vectors found
    found_v: list[np.ndarray] = []
    lams, iters = [], []
    status = Status.CONVERGED
    exhausted = None  # first j whose deflated matrix is numerically zero

    def deflated(x: np.ndarray) -> np.ndarray:
        # P_{j-1} ... P_0 A P_0 ... P_{j-1} x: the last projection acts on x first
        x = x.copy()
        for fi, fv in zip(reversed(found_i), reversed(found_v)):
            x[fi] -= fv * (fv @ x[fi])
        y = np.asarray(op.matvec(x)).reshape(-1)
        for fi, fv in zip(found_i, found_v):
            y[fi] -= fv * (fv @ y[fi])
        return y

    for j in range(rank):
        if diag is not None:
            d = diag.copy()
            for fi, fv, lf in zip(found_i, found_v, lams):
                d[fi] -= lf * fv**2
            start = np.argpartition(-np.abs(d), s - 1)[:s]
            x = np.zeros(n)
            x[start] = 1.0 / np.sqrt(s)
        else:  # dense: s random positions mostly miss a sparse A's support (A x = 0)
            x = rng.standard_normal(n)
            x /= np.linalg.norm(x)
        it, done = 0, False
        while it < max_iter:
            it += 1
            y = deflated(x)
            tiny = 1e-12 * max([scale, *map(abs, lams)])
            if np.abs(y).max() <= tiny:
                # x is (numerically) in the deflated matrix's null space: either the start
                # is orthogonal to what is left (a repeated eigenvalue's deflated diagonal
                # start can be) or nothing is left beyond A's numerical rank, where chasing
                # the rounding noise ran to max_iter. A random direction tells which.
                g = np.random.default_rng(j + 1).standard_normal(n)  # the user's rng untouched
                y = deflated(g / np.linalg.norm(g))
                if np.abs(y).max() <= tiny:
                    exhausted = j if exhausted is None else exhausted
                    done = True
                    break
            keep = np.argpartition(-np.abs(y), s - 1)[:s]
            xn = np.zeros(n)
            xn[keep] = y[keep]
            # normalized after scaling to max 1: the norm of entries of 1e200 overflowed
            # (x became 0) and of 1e-200 underflowed (read as A x = 0)
            big = np.abs(xn).max(initial=0.0)
            if big == 0:
                break
            xn /= big
            xn /= np.linalg.norm(xn)
            if xn @ x < 0:
                xn = -xn
            if np.linalg.norm(xn - x) < tol:
                x, done = xn, True
                break
            x = xn
        if not done:
            status = Status.MAX_ITER
        supp = np.flatnonzero(x)
        lams.append(float(x @ deflated(x)))
        found_i.append(supp)
        found_v.append(x[supp])
        iters.append(it)
    # the method may find eigenvectors out of order: sort them by Rayleigh quotient
    perm = np.argsort(-np.abs(np.asarray(lams)), kind="stable")
    found_i = [found_i[p] for p in perm]
    found_v = [found_v[p] for p in perm]
    lams = [lams[p] for p in perm]
    idx = np.zeros((s, rank), np.int64)
    vals = np.zeros((s, rank))
    for j, (fi, fv) in enumerate(zip(found_i, found_v)):
        order = np.argsort(-np.abs(fv), kind="stable")
        k = min(s, fi.size)
        idx[:k, j], vals[:k, j] = fi[order][:k], fv[order][:k]
    msg = f"truncated power method, {rank} vectors"
    if exhausted is not None:
        msg += (f"; the deflated matrix is numerically zero (below 1e-12 of A's scale) from "
                f"vector {exhausted + 1} on: A's numerical rank is below {rank}, those "
                "vectors have eigenvalue 0 (their Rayleigh quotients are rounding)")
    return _result(idx, vals, np.asarray(lams), n, truth, s, status, int(sum(iters)), t0,
                   msg, method="truncated_power", iterations=iters)
