"""Registry targets of the mamstar area: methods ``(problem, **params) -> Result`` on a
:class:`~overparam.problems.FactoredMatrix` (the truth rides along for error reports)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core import Result, check_bool, check_int
from ..problems.eigen import FactoredMatrix
from .api import make_matrix, sketch, recover

__all__ = ["mamstar_method", "eigsh_method", "power_method", "BUILDERS"]

BUILDERS = ("factored", "stream", "matrix")


def _check(problem: Any) -> FactoredMatrix:
    if not isinstance(problem, FactoredMatrix):
        raise TypeError(f"the mamstar methods solve sparse eigenproblems (generator "
                        f"'sparse_eigen'), not a {type(problem).__name__}")
    return problem


def _rank_sparsity(A: FactoredMatrix, rank: Any, sparsity: Any) -> tuple[int, int]:
    """``rank`` and ``sparsity``, the problem's own where None (``rank=0`` was read as
    "the problem's rank" by ``rank or A.rank``)."""
    r = A.rank if rank is None else check_int(rank, "rank", minimum=1)
    s = A.sparsity if sparsity is None else check_int(sparsity, "sparsity", minimum=1)
    return r, s


def mamstar_method(problem: FactoredMatrix, *, decoder: str = "median", refine: bool = True,
                   rank: int | None = None, sparsity: int | None = None,
                   keep: int | None = None, smallest_prime: int | None = None,
                   rule_n: int | None = None, rule_s: int | None = None,
                   extra_primes: int = 0, builder: str = "factored",
                   bits: int | None = None, n_decode: int | None = None,
                   agree: int | None = None) -> Result:
    """MAM* on a generated problem: sketch (``builder``), decode, errors against the truth.

    ``rule_n``/``rule_s``/``smallest_prime`` choose the primes as the authors do (the rule
    at nominal sizes); ``builder="stream"`` or ``"matrix"`` streams the entries of A or
    folds its dense form (small N only; the same sketch as the factored builder).

    Parameters
    ----------
    problem : FactoredMatrix
        A sparse eigenproblem (generator ``"sparse_eigen"``); it is also the truth of the
        error report.
    rank : int, optional
        Number r of eigenvectors; default the problem's rank.
    sparsity : int, optional
        Sparsity s; default the problem's.
    decoder : {"median", "oracle", "bittest"}, optional
        Decoder of :func:`~overparam.mamstar.recover`; default ``"median"``.
    refine : bool, optional
        Rayleigh-Ritz refinement (``refine_subspace`` of ``recover``); default True.
    keep : int, optional
        Nonzeros kept per vector; default ``2 * sparsity``.
    smallest_prime, rule_n, rule_s, extra_primes
        The prime rule (see :func:`~overparam.mamstar.make_matrix`); defaults: the best
        bound, the problem's N and s, no extra primes.
    builder : {"factored", "stream", "matrix"}, optional
        How the sketch is built; default ``"factored"``.
    bits : int, optional
        Test vectors of the bit-test extension; default none, or ``rank + 10`` for the
        bit-test decoder.
    n_decode : int, optional
        Decode only the first ``n_decode`` eigenvectors; default all.
    agree : int, optional
        Consistency check of the median decoder (see ``recover``); default by its rule.

    Returns
    -------
    Result
        As the underlying solver's, with the errors against the truth flattened into
        scalars in ``info``: ``<error>_<j>`` per eigenpair and their mean ``<error>``
        (for the metrics), ``info["decode_seconds"]`` and
        ``info["sketch_seconds"]``.

    Raises
    ------
    TypeError
        If ``problem`` is not a FactoredMatrix.
    ValueError
        If ``builder`` is unknown, or as :func:`~overparam.mamstar.recover` raises.
    """
    A = _check(problem)
    # a config's "false" is a truthy string: the refinement ran anyway
    refine = check_bool(refine, "refine")
    r, s = _rank_sparsity(A, rank, sparsity)
    if builder not in BUILDERS:
        raise ValueError(f"builder must be one of {BUILDERS}, got {builder!r}")
    M = make_matrix(A.n, sparsity=s, smallest_prime=smallest_prime, extra_primes=extra_primes,
                    rule_n=rule_n, rule_s=rule_s)
    if decoder == "bittest" and bits is None:
        bits = r + 10
    if builder == "factored":
        source: Any = A
    elif builder == "stream":
        source = A.entries(shuffle=0)
    else:
        source = A.to_dense()
    sk = sketch(source, A.n, matrix=M, bits=bits, progress=False)
    res = recover(sk, r, s, decoder=decoder, keep=keep, refine_subspace=refine, truth=A,
                  n_decode=n_decode, agree=agree)
    _flatten(res)
    res.info["sketch_seconds"] = float(sk.info.get("seconds", np.nan))
    return res


def _flatten(res: Result) -> None:
    """Scalars for the metrics: ``<error>_<j>`` (j = 1..6) and the means ``<error>``."""
    for key, arr in res.info.get("errors", {}).items():
        arr = np.asarray(arr, dtype=float)
        res.info[key] = float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")
        for j, v in enumerate(arr, start=1):
            res.info[f"{key}_{j}"] = float(v)
    sec = res.info.get("seconds", {})
    res.info["decode_seconds"] = float(sec.get("decode", np.nan))


def eigsh_method(problem: FactoredMatrix, *, rank: int | None = None,
                 sparsity: int | None = None, max_memory: float = 4 * 2**30) -> Result:
    """Baseline: ARPACK on the factored A, then the s largest entries per vector.

    Parameters
    ----------
    problem : FactoredMatrix
        A sparse eigenproblem (generator ``"sparse_eigen"``); it is also the truth of the
        error report.
    rank : int, optional
        Number r of eigenvectors; default the problem's rank.
    sparsity : int, optional
        Sparsity s; default the problem's.
    max_memory : float, optional
        Refuse (MemoryError) when ARPACK's Lanczos vectors would exceed this many bytes;
        default 4 GiB. See :func:`~overparam.baselines.eigen.eigsh_truncated`.

    Returns
    -------
    Result
        As the underlying solver's, with the errors against the truth flattened into
        scalars in ``info``: ``<error>_<j>`` per eigenpair and their mean ``<error>``
        (for the metrics), and ``info["decode_seconds"]`` (NaN unless the solver
        reports a decode time).

    Raises
    ------
    TypeError
        If ``problem`` is not a FactoredMatrix.
    """
    from ..baselines.eigen import eigsh_truncated

    A = _check(problem)
    res = eigsh_truncated(A, *_rank_sparsity(A, rank, sparsity), max_memory=max_memory)
    _flatten(res)
    return res


def power_method(problem: FactoredMatrix, *, rank: int | None = None,
                 sparsity: int | None = None, max_iter: int = 500,
                 tol: float = 1e-10) -> Result:
    """Baseline: truncated power method with deflation.

    Parameters
    ----------
    problem : FactoredMatrix
        A sparse eigenproblem (generator ``"sparse_eigen"``); it is also the truth of the
        error report.
    rank : int, optional
        Number r of eigenvectors; default the problem's rank.
    sparsity : int, optional
        Sparsity s; default the problem's.
    max_iter : int, optional
        Iterations per eigenvector, >= 1; default 500.
    tol : float, optional
        Stop an eigenvector when ``||x_new - x|| < tol``; default 1e-10. See
        :func:`~overparam.baselines.eigen.truncated_power`.

    Returns
    -------
    Result
        As the underlying solver's, with the errors against the truth flattened into
        scalars in ``info``: ``<error>_<j>`` per eigenpair and their mean ``<error>``
        (for the metrics), and ``info["decode_seconds"]`` (NaN unless the solver
        reports a decode time).

    Raises
    ------
    TypeError
        If ``problem`` is not a FactoredMatrix.
    """
    from ..baselines.eigen import truncated_power

    A = _check(problem)
    res = truncated_power(A, *_rank_sparsity(A, rank, sparsity), max_iter=max_iter,
                          tol=tol)
    _flatten(res)
    return res
