"""Public entry points: :func:`sketch`, :func:`recover`, :func:`sparse_top_eigenvectors`."""
from __future__ import annotations

import math
import numbers
import os
import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._core import Result, Status, check_bool, check_int, check_positive
from ..problems.eigen import (ORTHONORMAL_TOL, WHICH, FactoredMatrix, eigenvector_errors,
                              match_eigenpairs, orthonormality_error)
from .decoders import (_check_candidates, bittest_decode, median_decode, oracle_decode,
                       refine, top_eigenpairs)
from .matrix import PrimeMatrix
from .sketch import (SYMMETRY, Sketch, _factor_columns, _real, sketch_factored,
                     sketch_matrix, sketch_operator, sketch_shards, sketch_stream)

__all__ = ["sketch", "recover", "sparse_top_eigenvectors", "make_matrix", "eigen_errors",
           "to_csc", "DECODERS"]

DECODERS = ("median", "oracle", "bittest")


def _is_factored(source: Any) -> bool:
    return hasattr(source, "eigenvalues") and hasattr(source, "vectors")


def _infer_n(source: Any) -> int | None:
    if isinstance(source, Sketch):
        return source.M.n
    if _is_factored(source):
        return int(source.vectors.shape[0]) if hasattr(source.vectors, "shape") else None
    shape = getattr(source, "shape", None)
    if shape is not None and len(shape) == 2:
        return int(shape[0])
    return None


def make_matrix(n: int, *, sparsity: int | None = None, primes: Any = None,
                smallest_prime: int | None = None, extra_primes: int = 0,
                rule_n: int | None = None, rule_s: int | None = None) -> PrimeMatrix:
    """The sketching matrix: given ``primes``, or by the prime rule for ``sparsity`` (see
    :func:`~overparam.mamstar.choose_primes`; ``rule_n``/``rule_s`` apply the rule to
    nominal sizes as the authors' experiments do).

    Parameters
    ----------
    n : int
        Dimension N of A (number of columns of M).
    sparsity : int, optional
        Sparsity s the prime rule is made for (default ``rule_s``); one of ``sparsity``,
        ``rule_s`` or ``primes`` is needed.
    primes : array of int, optional
        Distinct primes of M; when given, the other rule parameters are ignored.
    smallest_prime : int, optional
        Exclusive lower bound of the primes; None (default) picks the bound giving the
        smallest m (see :func:`~overparam.mamstar.choose_primes`).
    extra_primes : int, optional
        Further consecutive primes appended, >= 0; default 0.
    rule_n, rule_s : int, optional
        Nominal N and s the rule is applied to (default ``n`` and ``sparsity``).

    Returns
    -------
    PrimeMatrix

    Raises
    ------
    ValueError
        If neither ``primes`` nor a sparsity is given, or the primes or sizes are
        invalid.
    """
    if primes is not None:
        return PrimeMatrix(n, np.asarray(primes))
    if sparsity is None and rule_s is None:
        raise ValueError("give the sparsity s (the primes follow from N and s) or primes=")
    return PrimeMatrix.for_sparsity(n, rule_s if sparsity is None else sparsity,
                                    smallest_prime, extra_primes, rule_n, rule_s)


def sketch(source: Any, n: int | None = None, *, sparsity: int | None = None,
           primes: Any = None, smallest_prime: int | None = None, extra_primes: int = 0,
           rule_n: int | None = None, rule_s: int | None = None,
           matrix: PrimeMatrix | None = None, symmetry: str = "both",
           bits: int | None = None, bit_seed: int = 0, block_rows: int | None = None,
           checkpoint: str | os.PathLike | None = None, executor: str = "serial",
           workers: int = 0, address: str | None = None,
           progress: bool | None = None, max_memory: float = 4 * 2**30) -> Sketch:
    """One-pass MAM* sketch ``B = (1/K) M A M^T`` of a symmetric N x N matrix A.

    Parameters
    ----------
    source
        * a stream (any iterable) of ``(i, j, values)`` chunks, in any order;
        * a shard file, a folder of shards or a list of shard paths (``.npz``/``.npy``/
          ``.parquet`` COO, see :func:`~overparam.mamstar.read_shard`);
        * a factored matrix (an object with ``eigenvalues`` and sparse ``vectors``, e.g.
          :class:`~overparam.problems.FactoredMatrix`);
        * a dense array, memmap or scipy sparse matrix, or another library's array with
          a ``shape`` and ``__array__`` (JAX, pandas, Dask, ...) (read in row blocks; a
          nested list of numbers is refused as ambiguous: pass ``np.asarray``);
        * a ``scipy.sparse.linalg.LinearOperator`` (products with columns of ``M^T``);
        * a :class:`Sketch` (returned unchanged; options that conflict with it, such as
          another ``n``, ``primes``, ``matrix``, ``symmetry``, ``bits`` or ``bit_seed``,
          or that would build a new sketch, such as ``sparsity`` or ``max_memory``, are
          refused: ValueError).
    n : int, optional
        N; needed for streams and shards, inferred otherwise.
    sparsity, primes, smallest_prime, extra_primes, rule_n, rule_s, matrix
        The sketching matrix M: ``matrix``, or ``primes``, or the prime rule for
        ``sparsity`` (see :func:`make_matrix`).
    symmetry : {"both", "upper", "lower"}
        How a stream or shards give the symmetric A (see :mod:`overparam.mamstar.sketch`);
        other sources are read in full, and ``"upper"``/``"lower"`` is an error for them.
    bits : int, optional
        Add the bit-test extension with ``bits`` >= 1 test vectors (needed by the bit-test
        decoder; use at least the rank). None (default): no extension.
    bit_seed : int, optional
        Seed of the Gaussian test matrix of the bit-test extension; default 0.
    block_rows : int, optional
        Matrix sources only (ValueError for others): rows read per block (default about
        64 MiB of rows; see :func:`~overparam.mamstar.sketch_matrix`).
    checkpoint, executor, workers, address
        Shards only (ValueError for other sources, which would ignore them): resumable
        build folder; ``"dask"`` sketches shards on workers.
    progress : bool or None
        tqdm bars (None: on a terminal only).
    max_memory : float
        Refuse sketches whose arrays would exceed this many bytes (m^2 doubles, plus
        ``L m q`` for the bit-test extension): the majority rule at a large s asks for
        huge m; apply the rule to a nominal size (``rule_n``, ``rule_s``) or give primes.

    Returns
    -------
    Sketch

    Raises
    ------
    ValueError
        If N is missing or inconsistent with the source, ``symmetry`` or another option
        does not fit the source, ``matrix`` and ``primes`` differ, or the matrix M is
        invalid or made for another N (and as the builders raise: asymmetric or
        non-finite input, out-of-range indices).
    MemoryError
        If the sketch would exceed ``max_memory``.
    """
    opts = dict(sparsity=sparsity, primes=primes, smallest_prime=smallest_prime,
                extra_primes=extra_primes, rule_n=rule_n, rule_s=rule_s, matrix=matrix,
                symmetry=symmetry, bits=bits, bit_seed=bit_seed, block_rows=block_rows,
                checkpoint=checkpoint, executor=executor, workers=workers,
                address=address, max_memory=max_memory)
    if isinstance(source, Sketch):
        return _check_sketch_source(source, n, opts)
    kind = _kind(source)
    _refuse_inapplicable(kind, opts)
    n, M = _plan(source, n, kind, sparsity=sparsity, primes=primes,
                 smallest_prime=smallest_prime, extra_primes=extra_primes, rule_n=rule_n,
                 rule_s=rule_s, matrix=matrix, symmetry=symmetry, bits=bits,
                 max_memory=max_memory)
    kw = dict(bits=bits, bit_seed=bit_seed)
    if kind == "factored":
        return sketch_factored(source.eigenvalues, source.vectors, M, **kw)
    if kind == "shards":
        return sketch_shards(source, M, symmetry=symmetry, checkpoint=checkpoint,
                             executor=executor, workers=workers, address=address,
                             progress=progress, **kw)
    if kind == "operator":
        return sketch_operator(source, M, progress=progress, **kw)
    if kind == "matrix":
        return sketch_matrix(source, M, block_rows=block_rows, progress=progress, **kw)
    return sketch_stream(source, M, symmetry=symmetry, progress=progress, **kw)


_DEFAULTS = dict(sparsity=None, primes=None, smallest_prime=None, extra_primes=0,
                 rule_n=None, rule_s=None, matrix=None, symmetry="both", bits=None,
                 bit_seed=0, block_rows=None, checkpoint=None, executor="serial",
                 workers=0, address=None, max_memory=4 * 2**30)
_ONLY_FOR = dict(block_rows="matrix", checkpoint="shards", executor="shards",
                 workers="shards", address="shards")


def _given(opts: dict[str, Any]) -> list[str]:
    """The options of :func:`sketch` in ``opts`` that differ from their defaults."""
    out = []
    for k, v in opts.items():
        d = _DEFAULTS[k]
        same = v is d or (d is not None and not isinstance(v, bool)
                          and isinstance(v, (numbers.Real, str)) and v == d)
        if not same:
            out.append(k)
    return out


def _refuse_inapplicable(kind: str, opts: dict[str, Any]) -> None:
    """Refuse options that the reader of a ``kind`` source would ignore (a checkpoint
    folder for a matrix source was silently not written)."""
    bad = [k for k in _given(opts) if k in _ONLY_FOR and _ONLY_FOR[k] != kind]
    if bad:
        noun = dict(matrix="matrix (dense or sparse array)", shards="shard")
        where = "; ".join(f"{k}= applies to {noun[_ONLY_FOR[k]]} sources only"
                          for k in bad)
        raise ValueError(f"{where}: a {kind} source would ignore it (drop it)")


def _check_sketch_source(sk: Sketch, n: Any, opts: dict[str, Any]) -> Sketch:
    """``sk`` (a Sketch source is used as it is), after refusing options that conflict
    with it or would build a new sketch: they were silently ignored (``n=5000`` for a
    sketch of N = 3000, other primes, ``symmetry="bogus"``, ``max_memory=1``)."""
    if n is not None and check_int(n, "n") != sk.M.n:
        raise ValueError(f"n = {n} but the source is a sketch of N = {sk.M.n}")
    given = _given(opts)
    conflicts = []
    if "matrix" in given and not sk.M.same_as(opts["matrix"]):
        conflicts.append(f"matrix={opts['matrix']!r}")
    if "primes" in given and not np.array_equal(np.sort(np.asarray(opts["primes"])
                                                        .reshape(-1)), sk.M.primes):
        conflicts.append(f"primes={opts['primes']!r}")
    if "symmetry" in given:
        if opts["symmetry"] not in SYMMETRY:
            raise ValueError(f"symmetry must be one of {SYMMETRY}, got "
                             f"{opts['symmetry']!r}")
        if opts["symmetry"] != sk.symmetry:
            conflicts.append(f"symmetry={opts['symmetry']!r}")
    if "bits" in given and check_int(opts["bits"], "bits", minimum=1) != sk.q:
        conflicts.append(f"bits={opts['bits']!r}")
    if "bit_seed" in given and (not sk.has_bits or opts["bit_seed"] != sk.bit_seed):
        conflicts.append(f"bit_seed={opts['bit_seed']!r}")
    if conflicts:
        raise ValueError(
            f"{', '.join(conflicts)} {'conflicts' if len(conflicts) == 1 else 'conflict'}"
            f" with the Sketch source (primes "
            f"{sk.M.primes.tolist()}, symmetry {sk.symmetry!r}, bits q = {sk.q}"
            + (f", bit_seed {sk.bit_seed}" if sk.has_bits else "") + "): a finished "
            "sketch is used as it is; drop them, or sketch the data again")
    rest = [k for k in given if k not in ("matrix", "primes", "symmetry", "bits",
                                          "bit_seed")]
    if rest:
        raise ValueError(f"{', '.join(k + '=' for k in rest)} "
                         f"{'does' if len(rest) == 1 else 'do'} not apply to a Sketch "
                         "source (it is used as it is; the option builds a new sketch): "
                         "drop it")
    return sk


def _kind(source: Any) -> str:
    """How :func:`sketch` reads ``source``: factored, shards, operator, matrix, stream."""
    from scipy.sparse.linalg import LinearOperator

    if _is_factored(source):
        return "factored"
    if isinstance(source, (str, os.PathLike)) or (
            isinstance(source, (list, tuple)) and source
            and all(isinstance(p, (str, os.PathLike)) for p in source)):
        return "shards"
    if isinstance(source, LinearOperator):
        return "operator"
    if sp.issparse(source) or isinstance(source, np.ndarray) or _array_like(source):
        return "matrix"
    if isinstance(source, (list, tuple)) and source and _numbers(source[0]):
        # [[a, b, c], ...] is a dense matrix's rows or single (i, j, v) entries: guessing
        # either way would silently sketch the wrong A
        raise TypeError("a list of rows of numbers is ambiguous (a dense matrix, or a "
                        "stream of single (i, j, value) entries): pass np.asarray(source) "
                        "for a matrix, or chunks of arrays such as ([i], [j], [value]) "
                        "for a stream")
    if hasattr(source, "__iter__"):
        return "stream"
    raise TypeError(f"cannot sketch a {type(source).__name__}")


def _array_like(source: Any) -> bool:
    """An array of another library (JAX, pandas, Dask, xarray, ...): NumPy-convertible with
    a shape. Iterating one yields its rows, so it was read as a stream of entries (a
    misleading "stream chunk" error, or a 3 x 3 matrix sketched as its rows' (i, j, v))."""
    return hasattr(source, "__array__") and getattr(source, "shape", None) is not None


def _numbers(row: Any) -> bool:
    """Whether ``row`` is a flat row of numbers (a 1-d array, or a list/tuple of
    scalars), not a chunk of arrays."""
    if isinstance(row, np.ndarray):
        return row.ndim == 1
    return isinstance(row, (list, tuple)) and len(row) > 0 and all(
        np.ndim(x) == 0 for x in row)


def _plan(source: Any, n: int | None, kind: str, *, sparsity: int | None = None,
          primes: Any = None, smallest_prime: int | None = None, extra_primes: int = 0,
          rule_n: int | None = None, rule_s: int | None = None,
          matrix: PrimeMatrix | None = None, symmetry: str = "both",
          bits: int | None = None, max_memory: float = 4 * 2**30
          ) -> tuple[int, PrimeMatrix]:
    """N and the sketching matrix M for ``source``, with every check that needs no pass
    over the data (see :func:`sketch` for the parameters)."""
    shape = getattr(source, "shape", None)
    if kind == "matrix" and (len(shape) != 2 or shape[0] != shape[1]):
        # else a 1-d or 3-d array was taken for a stream ("pass n")
        raise ValueError(f"A must be a square N x N matrix, got shape {shape}")
    n = n if n is not None else _infer_n(source)
    if n is None:
        raise ValueError("pass n = N (the dimension of A): it cannot be inferred from a "
                         "stream, shards or factors given as (indices, values) pairs")
    n = check_int(n, "n", minimum=2)
    inferred = _infer_n(source)
    if inferred is not None and inferred != n:
        raise ValueError(f"n = {n} but the source has dimension {inferred}")
    if symmetry not in SYMMETRY:
        raise ValueError(f"symmetry must be one of {SYMMETRY}, got {symmetry!r}")
    if symmetry != "both" and kind not in ("stream", "shards"):
        # only entries can come from one triangle; other sources are read in full
        raise ValueError(
            f"symmetry={symmetry!r} applies to streams and shards of entries; a {kind} "
            "source is read in full and must be the whole symmetric A (from a triangle "
            "T with its diagonal: T + T.T - diag(T), e.g. np.triu(A) + np.triu(A, 1).T)")
    if sparsity is not None and check_int(sparsity, "sparsity", minimum=1) > n:
        # the prime rule would size the sketch for an impossible sparsity (a MemoryError
        # about primes, or a sketch far larger than A)
        raise ValueError(f"sparsity s = {sparsity} exceeds N = {n}: an N-vector has at "
                         "most N nonzeros")
    if (matrix is not None and primes is not None and not np.array_equal(
            np.sort(np.asarray(primes).reshape(-1)), np.asarray(matrix.primes))):
        raise ValueError("matrix= and primes= give different primes: pass one of them")
    M = matrix if matrix is not None else make_matrix(
        n, sparsity=sparsity, primes=primes, smallest_prime=smallest_prime,
        extra_primes=extra_primes, rule_n=rule_n, rule_s=rule_s)
    if M.n != n:
        raise ValueError(f"the matrix M was made for N = {M.n}, not {n}")
    # NaN passed every size, a negative one gave "> max_memory = -0.0 GiB"
    max_memory = check_positive(max_memory, "max_memory")
    if bits is not None:  # bits=0 built no bit-test extension silently
        check_int(bits, "bits", minimum=1)
    need = 8.0 * M.m * (M.m + (M.n_bits * bits if bits else 0))
    if need > max_memory:
        raise MemoryError(
            f"the sketch would take {need / 2**30:.1f} GiB (m = {M.m}, K = {M.K} primes "
            f"{M.primes[0]}..{M.primes[-1]}) > max_memory = {max_memory / 2**30:.1f} GiB: "
            "give fewer/smaller primes (primes=, rule_n=/rule_s= for a nominal size, "
            "smallest_prime=) or raise max_memory")
    return n, M


def _check_truth(truth: Any, n: int) -> FactoredMatrix | None:
    """``truth`` as a :class:`~overparam.problems.FactoredMatrix` of dimension ``n``
    (None stays None).

    Accepted: a FactoredMatrix, or any object with ``eigenvalues`` and ``vectors``
    (N x R dense or scipy sparse, or a list of ``(indices, values)`` pairs, as for a
    factored source). A matrix (dense, sparse, operator) is refused, not diagonalized:
    that costs O(N^3), and its eigenvectors are dense and, at a repeated eigenvalue, an
    arbitrary basis of the eigenspace, so errors against them would mean nothing. A tuple
    ``(eigenvalues, vectors)`` is refused too (its order cannot be told from shapes when
    R = N); complex values are refused as for a source.
    """
    if truth is None:
        return None
    if not isinstance(truth, FactoredMatrix):
        if not _is_factored(truth):
            if (sp.issparse(truth) or isinstance(truth, np.ndarray)
                    or hasattr(truth, "matvec")):
                hint = ("a matrix is not accepted (its eigenvectors would be dense and, at "
                        "repeated eigenvalues, arbitrary); ")
            else:
                hint = ""
            raise TypeError(f"truth must be a factored A = V diag(eigenvalues) V^T with "
                            f"sparse V, got {type(truth).__name__}: {hint}pass "
                            "overparam.problems.FactoredMatrix(eigenvalues, vectors)")
        # duck-typed: the error reports need FactoredMatrix's column()/support()
        try:
            lam = _real(truth.eigenvalues, "eigenvalues").reshape(-1)
            cols = _factor_columns(truth.vectors, n)
            rows = np.concatenate([np.asarray(c[0], dtype=np.int64) for c in cols]
                                  + [np.zeros(0, np.int64)])
            vals = np.concatenate([c[1] for c in cols] + [np.zeros(0)])
            if rows.size and (rows.min() < 0 or rows.max() >= n):
                raise ValueError(f"vector indices must lie in [0, {n})")
            V = sp.csc_array((vals, (rows, np.repeat(np.arange(len(cols)),
                                                     [len(c[0]) for c in cols]))),
                             shape=(n, len(cols)))
            truth = _eigenbasis(lam, V, int(getattr(truth, "sparsity", 0) or 0))
        except TypeError as exc:
            raise TypeError(f"truth: {exc}") from None
        except (ValueError, IndexError) as exc:
            raise ValueError(f"truth: {exc}") from None
    if truth.n != n:
        raise ValueError(f"truth is an N = {truth.n} matrix but the sketch is of N = {n}")
    return truth  # a FactoredMatrix has orthonormal vectors (checked when built)


def _eigenbasis(lam: np.ndarray, V: Any, sparsity: int) -> FactoredMatrix:
    """The truth of a duck-typed factored ``A = V diag(lambda) V^T`` (a factored source is
    its own truth): ``FactoredMatrix(lam, V)`` when V is orthonormal (``max |V^T V - I|
    <= 1e-8``), else A's eigenpairs (zero eigenvalues left out: they belong to the
    implicit zero eigenspace). Taking the columns of a non-orthonormal V as eigenvectors
    reported eigenvalue errors of 11 and 2 for exactly recovered eigenpairs.
    With ``G = V^T V = P diag(g) P^T``, ``Q = V P diag(g)^-1/2`` is an orthonormal basis
    of the span of V and ``A = Q H Q^T`` with ``H = diag(g)^1/2 P^T diag(lambda) P
    diag(g)^1/2`` (k x k): A's eigenvectors are ``Q W`` for ``H = W diag(theta) W^T``,
    computed on the rows of V's support only.
    """
    V = sp.csc_array(V)
    if lam.size == 0 or orthonormality_error(V) <= ORTHONORMAL_TOL:
        return FactoredMatrix(lam, V, sparsity)
    G = (V.T @ V).toarray()
    g, P = np.linalg.eigh(0.5 * (G + G.T))
    ok = g > 1e-12 * max(float(g.max()), 0.0)  # directions V really spans
    Pk, sg = P[:, ok], np.sqrt(g[ok])
    H = (sg[:, None] * (Pk.T * lam) @ Pk) * sg[None, :]
    theta, W = np.linalg.eigh(0.5 * (H + H.T))
    nz = np.abs(theta) > 1e-12 * max(float(np.abs(theta).max(initial=0.0)), 1e-300)
    coef = (Pk / sg) @ W[:, nz]  # (R, k'): A's eigenvectors are V @ coef
    rows = np.unique(V.indices).astype(np.int64)
    X = np.asarray(V[rows] @ coef)  # (|support|, k'), never N x k'
    coo = sp.coo_array(X)
    vec = sp.csc_array((coo.data, (rows[coo.row], coo.col)), shape=(V.shape[0], X.shape[1]))
    return FactoredMatrix(theta[nz], vec, sparsity, dict(eigendecomposed=True))


def _check_recover(M: PrimeMatrix, rank: int, sparsity: int, *, decoder: str,
                   which: str, keep: int | None, support: Any, truth: Any,
                   agree: int | None, n_decode: int | None, has_bits: bool,
                   n_report: int = 6, agree_tol: Any = 1e-3, max_buckets: Any = None,
                   refine_subspace: Any = True
                   ) -> tuple[int, int, int | None, int | None]:
    """Validate the arguments of :func:`recover` against M (no sketch needed, so that
    :func:`sparse_top_eigenvectors` refuses them before its pass over the source).

    Returns
    -------
    rank, keep, agree, n_decode
        ``keep`` defaulted and capped at N; ``agree`` defaulted (median decoder only).
    """
    rank = check_int(rank, "rank", minimum=1)
    _check_truth(truth, M.n)  # before the pass, not in the error report after it
    check_int(n_report, "n_report", minimum=1)  # 0 failed deep in the error report
    sparsity = check_int(sparsity, "sparsity", minimum=1)
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {DECODERS}, got {decoder!r}")
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    keep = 2 * sparsity if keep is None else check_int(keep, "keep", minimum=1)
    keep = min(keep, M.n)
    m = M.m
    if sparsity > M.n:
        raise ValueError(f"sparsity s = {sparsity} exceeds N = {M.n}: an N-vector has at "
                         "most N nonzeros")
    if rank > M.n:
        raise ValueError(f"rank r = {rank} exceeds N = {M.n}: an N x N matrix has N "
                         "eigenvectors")
    if rank >= m:
        raise ValueError(f"rank r = {rank} is too large for the sketch: r must be < m = {m}")
    if 2 * sparsity > m:
        raise ValueError(f"sparsity s = {sparsity} is too large for the sketch: an s-sparse "
                         f"vector needs m >= 2 s measurements, m = {m} (use more or larger "
                         "primes)")
    if n_decode is not None:
        n_decode = check_int(n_decode, "n_decode", minimum=1)
    # a string "False" is truthy (refined anyway); NaN or a negative agree_tol zeroed
    # every vector; max_buckets = -1 tested all buckets but the last
    check_bool(refine_subspace, "refine_subspace")
    check_positive(agree_tol, "agree_tol", allow_zero=True)
    if max_buckets is not None:
        check_int(max_buckets, "max_buckets", minimum=1)
    if decoder == "oracle" and support is None and truth is None:
        raise ValueError("the oracle decoder needs support= (or truth=)")
    if decoder == "oracle" and support is not None:
        # before the pass: out-of-range, fractional or mask supports were found only at
        # the decode, after a stream was consumed
        if _check_candidates(support, M, "support").size == 0:
            raise ValueError("support is empty: the oracle decoder needs the candidate "
                             "indices (the true support, or a superset)")
    if decoder == "bittest" and not has_bits:
        raise ValueError("the bit-test decoder needs a sketch built with bits=q (the "
                         "bit-test extension)")
    if decoder == "median":
        if agree is None:  # the check pays where buckets hold many indices (N > m);
            # alpha = K + 1 when the primes' product is < N (recover warns): no index
            # could have K + 1 agreeing readings among K
            agree = min(M.alpha, M.K) if M.n > M.m else 1
        agree = check_int(agree, "agree", minimum=1)
        if agree > M.K:
            raise ValueError(f"agree = {agree} exceeds the K = {M.K} readings of an index: "
                             "no index could pass (every vector would be zero)")
    return rank, keep, agree, n_decode


def recover(sk: Sketch, rank: int, sparsity: int, *, decoder: str = "median",
            keep: int | None = None, support: Any = None, refine_subspace: bool = True,
            truth: Any = None, which: str = "LM", n_report: int = 6,
            max_buckets: int | None = None, n_decode: int | None = None,
            agree: int | None = None, agree_tol: float = 1e-3,
            progress: bool | None = False) -> Result:
    """Sparse top eigenvectors from a sketch.

    Steps: the top-``rank`` eigenpairs of B; each eigenvector decoded by ``decoder`` into
    a vector with ``keep`` (default 2 s) nonzeros; optionally (``refine_subspace``,
    default) the Rayleigh-Ritz refinement in the span of the decoded vectors (see
    :func:`~overparam.mamstar.refine`; the paper's method is ``refine_subspace=False``);
    normalization to unit norm. A zero sketch (A = 0, or entries that cancel in
    ``M A M^T``) has no top eigenvectors: ValueError. When a decoded vector is zero (no
    bit-test candidate, no index passing the ``agree`` check, nothing in the oracle's
    support) the status is ``NUMERICAL_ERROR`` and the message says which vectors and
    what to change.

    Parameters
    ----------
    sk : Sketch
        The sketch (from :func:`sketch`).
    rank : int
        r < m and r <= N.
    sparsity : int
        s, with 2 s <= m.
    decoder : {"median", "oracle", "bittest"}
        ``"oracle"`` (the authors' plots) restricts the median to ``support`` (default: the
        support of ``truth``): it needs the answer and is for comparison only.
        ``"bittest"`` needs a sketch built with ``bits``.
    keep : int, optional
        Nonzeros kept per decoded vector, >= 1 (capped at N); default ``2 * sparsity``.
    support : array of int, optional
        Candidate indices of the oracle decoder (ignored by the others): non-empty,
        integers in [0, N) (a boolean mask is a TypeError: pass ``np.flatnonzero``).
    refine_subspace : bool, optional
        Rayleigh-Ritz refinement in the span of the decoded vectors (default True);
        skipped when they are linearly dependent (``info["refined"]`` says). A bool
        (``numpy.bool_`` too); a string such as ``"False"`` is a TypeError.
    truth : FactoredMatrix, optional
        Known A: adds ``info["errors"]`` (see :func:`eigen_errors`). Any object with
        ``eigenvalues`` and ``vectors`` (dense, sparse or ``(indices, values)`` pairs)
        is converted; a matrix, a tuple, complex values or another N are refused
        (TypeError/ValueError naming ``truth``). Vectors that are not orthonormal
        (``max |V^T V - I| > 1e-8``) are replaced by the eigenpairs of ``V diag(lambda)
        V^T`` (the errors are against A's eigenpairs).
    n_report : int
        The errors cover the first ``n_report >= 1`` eigenpairs.
    n_decode : int, optional
        Decode only the first ``n_decode`` eigenvectors (default: all ``rank``); the
        median decoder's time is proportional to it.
    agree, agree_tol
        Consistency check of the median decoder (the authors' "median == mode"): keep an
        index only when ``agree`` of its K readings lie within ``agree_tol * max|u|`` of
        the median. Default ``agree = alpha`` when N > m: two indices share at most
        ``alpha - 1`` buckets, so an index that merely collides with a heavy one cannot
        pass, while a dominant index reads its value in all its isolated buckets; for
        N <= m (buckets of one or two indices) the default is 1, the plain median. The
        default is capped at K (when the product of the primes is < N, alpha = K + 1 and
        a warning says that the sketch cannot tell some indices apart); ``agree > K`` is
        an error, and ``agree_tol`` must be finite and >= 0. (The oracle and bit-test
        decoders use the plain median.)
    which : {"LM", "LA"}
        The top eigenpairs by largest magnitude or largest value; the errors against
        ``truth`` order the true eigenpairs the same way.
    max_buckets : int, optional
        Bit-test decoder only: heaviest buckets tested per vector, >= 1 (default
        ``min(m, K keep)``).
    progress : bool or None, optional
        Progress bar of long median-decoder scans (see
        :func:`~overparam.mamstar.median_decode`); default False.

    Returns
    -------
    Result
        ``x`` (k, r): the values of the sparse eigenvectors, at ``info["indices"]`` (k, r);
        ``info["vectors"]``: the same as a scipy.sparse csc_array (N, r);
        ``info["eigenvalues"]``; ``info["sketch_eigenvalues"]`` and
        ``info["sketch_vectors"]`` (eigenpairs of B); ``info["errors"]`` when ``truth``.

    Raises
    ------
    TypeError
        If ``sk`` is not a Sketch, or ``truth`` is not a factored matrix.
    ValueError
        On out-of-range arguments (see above), a zero or non-finite sketch, or the
        oracle decoder without ``support`` or ``truth`` (or with an empty or
        out-of-range one).
    """
    t0 = time.perf_counter()
    if not isinstance(sk, Sketch):
        raise TypeError(f"recover() takes a Sketch, got {type(sk).__name__} (use "
                        "sparse_top_eigenvectors for a matrix)")
    M = sk.M
    rank, keep, agree, n_decode = _check_recover(
        M, rank, sparsity, decoder=decoder, which=which, keep=keep, support=support,
        truth=truth, agree=agree, n_decode=n_decode, has_bits=sk.has_bits,
        n_report=n_report, agree_tol=agree_tol, max_buckets=max_buckets,
        refine_subspace=refine_subspace)
    truth = _check_truth(truth, M.n)
    _warn_not_injective(M)
    B = sk.B
    if not np.all(np.isfinite(B)):
        raise ValueError("the sketch holds NaN or inf")
    lam_b, U = top_eigenpairs(B, rank, which)
    if n_decode is not None:
        lam_b, U = lam_b[:n_decode], U[:, :n_decode]
    t_eig = time.perf_counter()
    info: dict[str, Any] = {}
    if decoder == "median":
        idx, vals = median_decode(U, M, keep, agree=agree, agree_tol=agree_tol,
                                  progress=progress)
        info["agree"] = agree
    elif decoder == "oracle":
        if support is None:
            support = truth.support()
        idx, vals = oracle_decode(U, M, keep, support)
        info["oracle_candidates"] = int(np.unique(support).size)
    else:
        idx, vals, cand = bittest_decode(U, sk, keep, max_buckets)
        info["bittest_candidates"] = int(cand.size)
    t_dec = time.perf_counter()
    lam = lam_b.copy()
    refined = False
    if refine_subspace and idx.shape[0] >= 1:
        out = refine(B, M, idx, vals, which)
        if out is not None:
            refined = True
            supp, vecs, theta = out
            lam = theta
            part = np.argsort(-np.abs(vecs), axis=0, kind="stable")[:min(keep, supp.size)]
            idx = supp[part]
            vals = np.take_along_axis(vecs, part, axis=0)
    nrm = np.linalg.norm(vals, axis=0)
    vals = vals / np.where(nrm > 0, nrm, 1.0)
    # a zero vector (no candidate, or none passing the check) is no eigenvector: such a
    # result was reported CONVERGED
    empty = np.flatnonzero(~np.any(vals != 0, axis=0))
    t_end = time.perf_counter()
    vectors = to_csc(idx, vals, M.n)
    info.update(
        indices=idx, vectors=vectors, eigenvalues=lam, sketch_eigenvalues=lam_b,
        sketch_vectors=U, decoder=decoder, refined=refined, keep=keep,
        m=M.m, K=M.K, primes=M.primes.tolist(), alpha=M.alpha,
        majority_rule_met=bool(M.K >= 2 * M.alpha * sparsity + 1),
        seconds=dict(eigen=t_eig - t0, decode=t_dec - t_eig, refine=t_end - t_dec),
    )
    if decoder == "oracle":
        info["note"] = ("oracle decoder: the candidates were the given (true) support, as "
                        "in the authors' plots; not available in practice")
    if truth is not None:
        info["errors"] = eigen_errors(truth, U, lam, idx, vals, M, sparsity, n_report,
                                      which)
    status = Status.CONVERGED
    # with n_decode < rank fewer vectors are decoded: the message said "top 3" over 1
    told = (f"top {rank} eigenvectors" if vals.shape[1] == rank else
            f"first {vals.shape[1]} of the top {rank} eigenvectors (n_decode)")
    message = (f"{told}, {keep}-sparse, decoder {decoder}"
               + (", refined" if refined else ""))
    if empty.size:
        status = Status.NUMERICAL_ERROR
        message = (f"the {decoder} decoder found no index for eigenvector(s) "
                   f"{(empty + 1).tolist()} of {vals.shape[1]}: their vectors are zero. "
                   + _EMPTY_ADVICE[decoder].format(agree=agree, agree_tol=agree_tol,
                                                   q=sk.q,
                                                   cand=info.get("bittest_candidates")))
    return Result(x=vals, status=status, message=message, n_iter=0, fun=float("nan"),
                  wall_time=time.perf_counter() - t0, info=info)


_EMPTY_ADVICE = {
    "median": ("No index had agree = {agree} readings within agree_tol = {agree_tol:g} "
               "of its median: with noise in A raise agree_tol or lower agree (agree=1 "
               "is the plain median), or use more primes."),
    "oracle": "No index of the support has a nonzero median: check support=.",
    "bittest": ("Bit-testing found {cand} candidate index(es): the bit test needs A "
                "close to sparse and of rank <= q = {q} test vectors; build the sketch "
                "with more bits (or more primes), or use the median decoder."),
}


def to_csc(idx: np.ndarray, vals: np.ndarray, n: int):
    """The (k, r) ``indices``/``values`` of sparse vectors as an (N, r) csc_array.

    Parameters
    ----------
    idx : ndarray (k, r) of int
        Row indices of the nonzeros (column j: vector j).
    vals : ndarray (k, r)
        The values at ``idx``; repeated indices of a column add up, zeros are dropped.
    n : int
        Length N of the vectors.

    Returns
    -------
    scipy.sparse.csc_array, shape (n, r)
    """
    k, r = vals.shape
    V = sp.csc_array((vals.T.ravel(), (idx.T.ravel(), np.repeat(np.arange(r), k))),
                     shape=(n, r))
    V.sum_duplicates()
    V.eliminate_zeros()
    return V


def eigen_errors(truth: Any, U: np.ndarray, eigenvalues: np.ndarray, idx: np.ndarray,
                 vals: np.ndarray, M: PrimeMatrix, sparsity: int, n_report: int = 6,
                 which: str = "LM") -> dict[str, np.ndarray]:
    """Errors of the first ``n_report`` recovered eigenpairs against a known A.

    * ``l2_before`` / ``linf_before``: relative errors of the sketch eigenvector u_j
      against ``M v_j / sqrt(K)`` (up to sign), "before inversion";
    * ``l2_after``, ``linf_after``, ``overlap``, ``eigenvalue``: see
      :func:`overparam.problems.eigenvector_errors` (decoded vector against v_j).

    v_j is the j-th true eigenvector in the order of ``which`` (decreasing ``|lambda|``
    for ``"LM"``, ``lambda`` for ``"LA"``); eigenpairs tied in that order are matched by
    overlap (:func:`overparam.problems.eigen.match_eigenpairs`). A factored A of rank
    R < N also has the eigenvalue 0 on the N - R dimensional complement of its vectors:
    for ``"LA"`` it comes before every negative listed eigenvalue, and its eigenvectors
    are any vectors of that complement, so the errors of the estimates at its positions
    (and at listed zero eigenvalues) are undefined: NaN. A repeated eigenvalue has no
    preferred eigenvectors: the true basis of its eigenspace is the one closest to the
    estimates (orthogonal Procrustes; :func:`_align_ties`), so that an exactly recovered
    eigenspace has zero errors whichever basis of it the estimates are.

    Parameters
    ----------
    truth : FactoredMatrix
        The known A (or any object with ``eigenvalues`` and ``vectors``, converted).
    U : ndarray (m, r)
        Eigenvectors of the sketch B (``info["sketch_vectors"]``).
    eigenvalues : ndarray (r,)
        The recovered eigenvalues.
    idx, vals : ndarray (k, r)
        The decoded sparse eigenvectors (column j: values ``vals[:, j]`` at
        ``idx[:, j]``).
    M : PrimeMatrix
        The sketching matrix.
    sparsity : int
        s for the ``overlap`` error (None or 0: ``truth.sparsity``).
    n_report : int, optional
        Number of leading eigenpairs evaluated, >= 1; default 6.
    which : {"LM", "LA"}, optional
        Order of the eigenpairs (default ``"LM"``).

    Returns
    -------
    dict of str to ndarray (min(n_report, r),)
        ``"l2_before"``, ``"linf_before"``, ``"l2_after"``, ``"linf_after"``,
        ``"overlap"`` and ``"eigenvalue"``.
    """
    n_report = check_int(n_report, "n_report", minimum=1)
    truth = _top_defined(_check_truth(truth, M.n), which)
    r = min(n_report, vals.shape[1])
    truth = _align_ties(truth, idx[:, :r], vals[:, :r], which)
    out = eigenvector_errors(truth, idx, vals, eigenvalues, sparsity, n_report, which)
    lam_t = np.asarray(truth.eigenvalues, dtype=float)
    r = out["l2_after"].size
    before = {k: np.full(r, np.nan) for k in ("l2_before", "linf_before")}
    W = np.zeros((M.m, lam_t.size))  # column c: M v_c / sqrt K
    for c in range(lam_t.size):
        W[:, c] = M.matvec_sparse(*truth.column(c)) / np.sqrt(M.K)
    # B's eigenvectors are a basis of their own of a repeated eigenvalue's eigenspace
    Ur = U[:, :min(r, U.shape[1])]
    for _, sub, R in _tie_bases(lam_t, which, W.T @ Ur):
        W[:, sub] = W[:, sub] @ R
    # U is in B's order, which may differ from the decoded vectors' at ties
    cos = np.abs(U[:, :min(r, U.shape[1])].T @ W) / np.maximum(
        np.linalg.norm(W, axis=0), 1e-300)
    match = match_eigenpairs(lam_t, cos, which)
    for j in range(match.size):
        w = W[:, match[j]]
        u = U[:, j] if float(U[:, j] @ w) >= 0 else -U[:, j]
        before["l2_before"][j] = np.linalg.norm(u - w) / max(np.linalg.norm(w), 1e-300)
        before["linf_before"][j] = np.abs(u - w).max() / max(np.abs(w).max(), 1e-300)
    return dict(before, **out)


def _tie_bases(lam: np.ndarray, which: str, overlaps: np.ndarray, rtol: float = 1e-12):
    """Yield ``(positions, sub, R)`` for every repeated eigenvalue among the leading ones.

    ``sub``: the true eigenpairs with that eigenvalue (within ``rtol * max|lambda|``, as
    :func:`~overparam.problems.eigen.match_eigenpairs` ties them); ``positions``: the
    estimates (columns of the signed ``overlaps`` (R_true, r)) that lie in their
    eigenspace; ``R``: the orthogonal matrix such that the basis ``V[:, sub] @ R`` is the
    closest to those estimates (its first columns aligned with them, in order).
    """
    r = overlaps.shape[1]
    tol = rtol * max(float(np.abs(lam).max(initial=0.0)), 1e-300)
    key = -np.abs(lam) if which == "LM" else -lam
    order = np.argsort(key, kind="stable")
    ks = key[order]
    start = 0
    while start < min(r, lam.size):
        end = start + 1
        while end < lam.size and ks[end] - ks[start] <= tol:
            end += 1
        group, pos = order[start:end], np.arange(start, min(end, r))
        start = end
        if group.size < 2:
            continue
        # "LM" ties lambda with -lambda: two eigenspaces, each estimate goes to the one
        # it lies in (the larger projection)
        subs = [g for g in (group[lam[group] > 0], group[lam[group] <= 0]) if g.size]
        norms = np.stack([np.linalg.norm(overlaps[np.ix_(g, pos)], axis=0) for g in subs])
        home = np.argmax(norms, axis=0)
        for h, sub in enumerate(subs):
            mine = pos[home == h]
            mine = mine[np.argsort(-norms[h, home == h], kind="stable")][:sub.size]
            if sub.size < 2 or mine.size == 0:
                continue
            O = overlaps[np.ix_(sub, mine)]  # (g, q), q <= g
            Ul, _, Wt = np.linalg.svd(O, full_matrices=True)
            R = Ul.copy()
            R[:, :mine.size] = Ul[:, :mine.size] @ Wt  # maximizes trace(R[:, :q]^T O)
            yield mine, sub, R


def _align_ties(truth: FactoredMatrix, idx: np.ndarray, vals: np.ndarray,
                which: str, rtol: float = 1e-12) -> FactoredMatrix:
    """``truth`` with the eigenvectors of each repeated eigenvalue replaced by the
    basis of their span closest to the estimates (see :func:`_tie_bases`)."""
    lam = truth.eigenvalues
    tol = rtol * max(float(np.abs(lam).max(initial=0.0)), 1e-300)
    key = np.sort(np.abs(lam) if which == "LM" else lam)
    if not np.any(np.diff(key) <= tol) or vals.shape[1] == 0:
        return truth  # no tie: nothing to align (the usual case, no work)
    # signed overlaps on the rows involved only (never a product over all N rows)
    rows = np.union1d(truth.vectors.indices, idx.ravel())
    X = np.zeros((rows.size, vals.shape[1]))
    for c in range(vals.shape[1]):
        np.add.at(X[:, c], np.searchsorted(rows, idx[:, c]), vals[:, c])
    V = np.zeros((rows.size, lam.size))
    for c in range(lam.size):
        i, v = truth.column(c)
        V[np.searchsorted(rows, i), c] = v
    changed = False
    for _, sub, R in _tie_bases(lam, which, V.T @ X, rtol):
        V[:, sub] = V[:, sub] @ R  # rows outside the tied supports stay exactly 0
        changed = True
    if not changed:
        return truth
    coo = sp.coo_array(V)
    vec = sp.csc_array((coo.data, (rows[coo.row], coo.col)), shape=(truth.n, lam.size))
    return FactoredMatrix(lam, vec, truth.sparsity, dict(truth.info))


def _top_defined(truth: FactoredMatrix, which: str) -> FactoredMatrix:
    """The leading eigenpairs of ``truth`` in the order of ``which`` that are defined
    (see :func:`eigen_errors`): with R < N, those before the implicit eigenvalue 0."""
    lam = truth.eigenvalues
    if truth.rank >= truth.n:  # V spans everything: no implicit zero eigenvalue
        return truth
    keep = lam > 0 if which == "LA" else lam != 0
    if keep.all():
        return truth
    sel = np.flatnonzero(keep)
    return FactoredMatrix(lam[sel], truth.vectors[:, sel], truth.sparsity,
                          dict(truth.info))


def _warn_not_injective(M: PrimeMatrix) -> None:
    """Warn when indices n and n + prod(primes) < N share all their K buckets."""
    if M.alpha > M.K:
        prod = math.prod(int(p) for p in M.primes)
        warnings.warn(
            f"the product of the K = {M.K} primes, {prod}, is < N = {M.n}: indices that "
            "differ by a multiple of it share all their buckets and no decoder can tell "
            "them apart (the median decoder's default agree is capped at K); use more or "
            "larger primes", RuntimeWarning, stacklevel=3)


_PLAN_KW = ("primes", "smallest_prime", "extra_primes", "rule_n", "rule_s", "matrix",
            "symmetry", "max_memory")


def sparse_top_eigenvectors(source: Any, rank: int, sparsity: int, *, n: int | None = None,
                            decoder: str = "median", keep: int | None = None,
                            support: Any = None, refine_subspace: bool = True,
                            truth: Any = None, which: str = "LM", n_report: int = 6,
                            bits: int | None = None, n_decode: int | None = None,
                            agree: int | None = None, agree_tol: float = 1e-3,
                            progress: bool | None = None, **sketch_kw: Any) -> Result:
    """Sparse approximations of the top eigenvectors of a huge symmetric matrix (MAM*).

    One pass over ``source`` builds the m x m sketch ``B = (1/K) M A M^T`` (see
    :func:`sketch` for the accepted sources and options); its top-``rank`` eigenvectors
    are decoded into ``2 * sparsity``-sparse vectors (see :func:`recover`). The arguments
    of both steps are checked before the pass (a stream cannot be read twice).

    Parameters
    ----------
    source
        Stream of ``(i, j, values)`` chunks, shard path(s), factored matrix, dense or
        sparse array, LinearOperator or a :class:`Sketch`.
    rank, sparsity : int
        Number r of eigenvectors, and their sparsity s (the prime rule uses s).
    n : int, optional
        N (needed for streams and shards).
    decoder : {"median", "oracle", "bittest"}
        ``"bittest"`` builds the bit-test extension (``bits``, default ``rank + 10`` test
        vectors) and decodes in time sublinear in N.
    keep, support, refine_subspace, which, n_report, n_decode, agree, agree_tol
        Passed to :func:`recover` (defaults: ``keep = 2 * sparsity``, no support,
        refinement on, ``"LM"``, 6, all ``rank`` vectors, ``agree`` by the rule given
        there, 1e-3).
    truth : FactoredMatrix, optional
        Known A for error reports (see :func:`recover`; checked before the pass); a
        factored ``source`` is its own truth (eigen-decomposed first when its vectors
        are not orthonormal).
    bits : int, optional
        Test vectors of the bit-test extension (see :func:`sketch`); default none, or
        ``rank + 10`` for the bit-test decoder.
    progress : bool or None, optional
        Progress bars of the sketch and the decoder; None (default) shows them on a
        terminal only.
    **sketch_kw
        Further :func:`sketch` options (primes, smallest_prime, symmetry, checkpoint, ...);
        for a :class:`Sketch` source only ones that agree with it (see :func:`sketch`).

    Returns
    -------
    Result
        See :func:`recover`; ``info["sketch"]`` describes the sketch (m, K, seconds).

    Examples
    --------
    >>> from overparam.problems.eigen import sparse_eigen_problem
    >>> A = sparse_eigen_problem(10**6, rank=3, sparsity=5, support="overlapping", seed=0)
    >>> res = sparse_top_eigenvectors(A, rank=3, sparsity=5)
    >>> bool(res.info["errors"]["l2_after"].max() < 1e-8)
    True
    """
    t0 = time.perf_counter()
    rank = check_int(rank, "rank", minimum=1)
    sparsity = check_int(sparsity, "sparsity", minimum=1)
    if truth is None and _is_factored(source):
        truth = source
    # everything that needs no sketch is checked before the pass (a stream cannot be
    # read twice)
    if isinstance(source, Sketch):
        # refuses options that conflict with the sketch or would build a new one
        sketch(source, n, bits=bits, progress=progress, **sketch_kw)
        M, has_bits = source.M, source.has_bits
    else:
        if decoder == "bittest" and bits is None:
            bits = rank + 10
        plan_kw = {k: v for k, v in sketch_kw.items() if k in _PLAN_KW}
        n, M = _plan(source, n, _kind(source), sparsity=sparsity, bits=bits, **plan_kw)
        sketch_kw["matrix"] = M
        has_bits = bool(bits)
    _check_recover(M, rank, sparsity, decoder=decoder, which=which, keep=keep,
                   support=support, truth=truth, agree=agree, n_decode=n_decode,
                   has_bits=has_bits, n_report=n_report, agree_tol=agree_tol,
                   refine_subspace=refine_subspace)
    sk = source if isinstance(source, Sketch) else sketch(
        source, n, sparsity=sparsity, bits=bits, progress=progress, **sketch_kw)
    res = recover(sk, rank, sparsity, decoder=decoder, keep=keep, support=support,
                  refine_subspace=refine_subspace, truth=truth, which=which,
                  n_report=n_report, n_decode=n_decode, agree=agree, agree_tol=agree_tol,
                  progress=progress)
    res.info["sketch"] = dict(m=sk.M.m, K=sk.M.K, n=sk.M.n, entries=sk.n_entries,
                              bits=sk.q, **{k: v for k, v in sk.info.items()
                                            if isinstance(v, (int, float, str))})
    res.wall_time = time.perf_counter() - t0
    return res
