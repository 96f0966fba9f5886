"""Baselines for simultaneously row-sparse and low-rank recovery: rank-r Sparse Power
Factorization with HTP (rSPF) and adaptive Riemannian IHT (RiemAdaIHT).

Both are the two methods that Kuemmerle & Maly (2023) compare IRLS-LRRS with, with the
defaults of their code (github.com/ckuemmerle/simirls). They take a matrix problem (e.g.
:func:`~overparam.problems.lrrs_problem`) and return a :class:`~overparam.Result` whose
``x`` is the ``n1 x n2`` matrix.

References
----------
K. Lee, Y. Wu, Y. Bresler, "Near-optimal compressed sensing of a class of sparse low-rank
matrices via sparse power factorization", IEEE Trans. Inf. Theory 64(3), 2018 (rSPF,
Algorithm 4 with HTP).
S. Foucart, "Hard thresholding pursuit: an algorithm for compressive sensing", SIAM J.
Numer. Anal. 49(6), 2011.
H. Eisenmann, F. Krahmer, M. Pfeffer, A. Uschmajew, "Riemannian thresholding methods for
row-sparse and low-rank matrix recovery", Numer. Algorithms 93, 2023 (RiemAdaIHT).
C. Kuemmerle, J. Maly, "Recovering simultaneously structured data via non-convex
iteratively reweighted least squares", NeurIPS 2023 (arXiv:2306.04961).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.linalg as sla

from .._core import (Result, Status, check_int, check_positive, ldexp_array,
                     nearest_pow2_exponent, safe_norm)
from ..problems import Problem
from ..problems.structured import lrrs_guesses, lrrs_inputs, rel_fro_error

__all__ = ["riem_adaiht", "riem_adaiht_vec", "rspf", "rspf_vec"]


def _rel_err(X, Xt):
    if Xt is None:
        return math.nan
    return rel_fro_error(X, Xt)


def _unit_scale(meas, yv, Xt):
    """The problem at unit scale, by exact power-of-two factors (none near unit scale):
    ``Phi' = 2**-f Phi`` with ``2**f ~`` the root-mean-square gain ``||Phi||_F /
    sqrt(n1 n2)``, and ``y' = 2**-(f + e) y`` with ``2**e ~`` the size of ``X``
    (:meth:`~overparam.problems.structured.MatrixMeasurements.signal_scale`), so that
    ``X' = 2**-e X``. Both baselines take absolute steps (HTP's unit gradient step,
    RiemAdaIHT's Armijo start 10) and rSPF an absolute factor rule ``||V - V_prev|| < tol``;
    and squares underflow below ~1e-154. Before, ``Phi -> 1e-100 Phi`` gave error 1.2
    (rSPF CONVERGED, RiemAdaIHT CONVERGED at ``X = 0``), ``y -> 1e-160 y`` rSPF CONVERGED
    with error 8.5e-3 (its relative change read 0), ``y -> 1e-170 y`` RiemAdaIHT CONVERGED
    at ``X = 0``. Returns ``(meas', y', X_true', e, f)``."""
    f = nearest_pow2_exponent(meas.fro_norm / math.sqrt(meas.n1 * meas.n2))
    e = nearest_pow2_exponent(meas.signal_scale(yv))
    return (meas.rescaled(f), ldexp_array(yv, -(f + e)),
            None if Xt is None else ldexp_array(Xt, -e), e, f)


# a stationary point whose relative residual ||Phi(X) - y|| / ||y|| exceeds this (noiseless
# data) is not reported as converged: the runs that recover the truth end near 1e-11
_FIT_TOL = 1e-6


def _fit_tolerance(problem: Any, y: np.ndarray, res_tol: Any) -> float:
    """The relative residual up to which a stationary point counts as a solution.

    ``res_tol="auto"``: ``1e-6`` for noiseless data; for a :class:`Problem` that records
    a noise level ``sigma > 0`` per measurement, ``1e-6 + 2 sigma sqrt(m) / ||y||`` (the
    noise alone leaves ``~ sigma sqrt(m - dof)`` at the least-squares fit); no check
    (inf) when the level is unknown (NaN). ``None``: no check; a number: that value.
    """
    if res_tol is None:
        return math.inf
    if not (isinstance(res_tol, str) and res_tol == "auto"):
        return check_positive(res_tol, "res_tol")
    noise = float(problem.noise) if isinstance(problem, Problem) else 0.0
    if math.isnan(noise):
        return math.inf
    ynorm = safe_norm(y)
    if noise == 0.0 or ynorm == 0.0:
        return _FIT_TOL
    return _FIT_TOL + 2.0 * noise * math.sqrt(y.size) / ynorm


def _not_a_solution(rel_res: float, fit_tol: float, what: str) -> str:
    """Message of a run that stopped at a stationary point which does not fit ``y``."""
    return (f"{Status.STAGNATED.advice} Stopped at a stationary point that is not a "
            f"solution: {what} leaves the relative residual ||Phi(X) - y|| / ||y|| = "
            f"{rel_res:.1e} > res_tol = {fit_tol:.1e} (a spurious stationary point, or y is "
            f"not fitted by an s-row-sparse rank-r matrix, e.g. noise: for noisy data pass "
            f"res_tol at the noise level, or None).")


# normal equations only when cond(M) < 1e5 (rcond of M^H M above 1e-10): one refinement
# step then gives the accuracy of a QR solve
_NORMAL_RCOND = 1e-10


def _lstsq(M: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``argmin ||M z - y||``. A tall, well-conditioned ``M`` (every HTP and V step near
    the transitions) goes through the Cholesky factor of ``M^H M`` with one step of
    iterative refinement, 3-4x faster than a QR-based solve at the paper's sizes; anything
    else (wide, rank-deficient or ill-conditioned) through LAPACK's ``gelsy``."""
    m, k = M.shape
    if m >= k > 0:
        Mh = M.conj().T
        rank_k = sla.get_blas_funcs("herk" if np.iscomplexobj(M) else "syrk", (M,))
        G = rank_k(1.0, M, trans=2 if np.iscomplexobj(M) else 1)  # upper triangle of M^H M
        absG = np.abs(np.triu(G))
        anorm = float(np.max(absG.sum(axis=0) + absG.sum(axis=1) - np.diag(absG)))
        try:
            c, low = sla.cho_factor(G, lower=False, check_finite=False)
        except np.linalg.LinAlgError:
            c = None
        if c is not None and np.all(np.isfinite(c)):
            pocon = sla.get_lapack_funcs("pocon", (c,))
            rcond, info = pocon(c, anorm, uplo="U")
            if info == 0 and rcond > _NORMAL_RCOND:
                z = sla.cho_solve((c, low), Mh @ y, check_finite=False)
                return z + sla.cho_solve((c, low), Mh @ (y - M @ z), check_finite=False)
    return sla.lstsq(M, y, lapack_driver="gelsy", check_finite=False)[0]


def _orth(M: np.ndarray) -> np.ndarray:
    return np.linalg.qr(M)[0]


def _rows_keep(Z: np.ndarray, s: int) -> np.ndarray:
    """Indices (sorted) of the ``s`` rows of largest l2 norm."""
    norms = np.linalg.norm(Z, axis=1)
    return np.sort(np.argsort(-norms, kind="stable")[:s])


def _htp(F: np.ndarray, y: np.ndarray, n1: int, r: int, s: int, max_iter: int,
         stop: str) -> tuple[np.ndarray, int]:
    """Row-group HTP: ``min ||F vec(Z) - y||`` over ``n1 x r`` matrices ``Z`` with ``s``
    nonzero rows (unit gradient steps, least squares on the kept rows)."""
    Z = np.zeros((n1, r), dtype=np.result_type(F, y))
    prev = None
    cols = np.arange(n1 * r).reshape(n1, r)
    for it in range(1, max_iter + 1):
        Zt = Z + (F.conj().T @ (y - F @ Z.reshape(-1))).reshape(n1, r)
        order = np.argsort(-np.linalg.norm(Zt, axis=1), kind="stable")
        S = np.sort(order[:s])
        Z = np.zeros_like(Z)
        Z[S] = _lstsq(F[:, cols[S].reshape(-1)], y).reshape(s, r)
        key = order if stop == "permutation" else S
        if prev is not None and np.array_equal(key, prev):
            return Z, it
        prev = key
    return Z, max_iter


def rspf(
    problem: Any,
    rank: int | None = None,
    s: int | None = None,
    *,
    y: Any = None,
    shape: tuple[int, int] | None = None,
    max_iter: int = 200,
    inner_max_iter: int = 100,
    tol: float = 1e-10,
    htp_stop: str = "permutation",
    res_tol: float | str | None = "auto",
) -> Result:
    """Rank-r Sparse Power Factorization with HTP (Lee, Wu & Bresler 2018, Algorithm 4).

    Alternates over ``X = U V^T``: with ``V`` orthonormalized, ``U`` (``n1 x r``) is found
    by row-group hard thresholding pursuit (``s`` nonzero rows); with ``U`` orthonormalized,
    ``V`` (``n2 x r``) by least squares. Start: the rank-``r`` truncated SVD of
    ``Phi^H(y)`` (``U = U_r Sigma_r``, ``V = V_r``).

    Parameters
    ----------
    problem : Problem or operator
        A matrix problem, or an operator with ``y`` and ``shape``.
    rank, s : int, optional
        Rank and row-sparsity guesses (default: ``problem.info``).
    y : array, optional
        Measurements (only with an operator as first argument).
    shape : (int, int), optional
        ``(n1, n2)`` when the operator does not carry ``matrix_shape``.
    max_iter : int
        Outer iterations (default 200).
    inner_max_iter : int
        HTP iterations per outer iteration (default 100).
    tol : float
        Stop when ``||U - U_prev||_2 < tol`` and ``||V - V_prev||_2 < tol`` (the authors'
        rule), or when ``||X - X_prev||_F / ||X||_F < tol`` (default 1e-10). The second,
        gauge-invariant rule is ours: the factors can keep rotating against each other at
        the 1e-10 level long after ``X`` has converged to machine precision (in the Fig. 3
        setting the factor rule alone ran 133 iterations, the ``X`` rule stops at 35).
    htp_stop : {"permutation", "support"}
        HTP stops when the full descending order of the row norms repeats (the authors'
        code) or when the kept support repeats.
    res_tol : float, "auto" or None
        Both rules also fire at stationary points of the alternating minimization that do
        not fit the data (on small instances near the transition about half of the runs;
        the factors stop moving with ``||Phi(X) - y|| / ||y||`` at 0.01-0.5): such a stop
        is STAGNATED, not CONVERGED, when that relative residual exceeds ``res_tol``.
        ``"auto"`` (default): ``1e-6``, plus twice the relative noise level
        ``sigma sqrt(m) / ||y||`` for a Problem that records its noise ``sigma`` (no
        check when it is NaN); ``None``: no check (the authors' code).

    Returns
    -------
    Result
        ``x`` the ``n1 x n2`` matrix ``U V^T``; ``status`` CONVERGED (a stopping rule fired
        and ``X`` fits the data to ``res_tol``), STAGNATED (a stopping rule fired at a
        stationary point that does not fit the data), MAX_ITER or DIVERGED; ``trace``
        with ``iter``, ``rel_change``, ``htp_iter`` and ``rel_error`` (when the truth is
        known); ``info["rel_residual"]`` ``||Phi(X) - y|| / ||y||`` and ``info["res_tol"]``.

    Raises
    ------
    ValueError
        For a zero operator (as :func:`~overparam.irls_lrrs`): no measurement carries
        information about ``X``.
    """
    t0 = time.perf_counter()
    meas, yv, n1, n2, r, s, Xt = lrrs_inputs(problem, y, shape, rank, s)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    inner_max_iter = check_int(inner_max_iter, "inner_max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    if htp_stop not in ("permutation", "support"):
        raise ValueError(f"htp_stop must be 'permutation' or 'support', got {htp_stop!r}")
    if meas.fro_norm == 0:
        # as irls_lrrs and riem_adaiht: a zero operator ran to a STAGNATED X = 0 with
        # "progress stopped" advice instead of saying that the data carry no information
        raise ValueError("the measurement operator is zero: no measurement carries "
                         "information about X")
    fit_tol = _fit_tolerance(problem, yv, res_tol)
    meas, yv, Xt, e, f = _unit_scale(meas, yv, Xt)
    Uf, sv, Vh = np.linalg.svd(meas.adjoint(yv), full_matrices=False)
    U = Uf[:, :r] * sv[:r]
    V = Vh[:r].T
    X = U @ V.T
    rec = {"iter": [0], "rel_change": [math.nan], "htp_iter": [0],
           "rel_error": [_rel_err(X, Xt)]}
    status = Status.MAX_ITER
    U_prev = V_prev = None
    k = 0
    for k in range(1, max_iter + 1):
        F = meas.left_map(_orth(V))
        if s < n1:
            Un, n_htp = _htp(F, yv, n1, r, s, inner_max_iter, htp_stop)
        else:
            Un, n_htp = _lstsq(F, yv).reshape(n1, r), 0
        Un = _orth(Un)
        Vn = _lstsq(meas.right_map(Un), yv).reshape(n2, r)
        Xn = Un @ Vn.T
        if not np.all(np.isfinite(Xn)):
            # checked before X (and U, V) are replaced: a non-finite X was returned under
            # DIVERGED, whose advice says "the returned x is the last finite iterate"
            status = Status.DIVERGED
            break
        change = safe_norm(Xn - X) / max(safe_norm(Xn), 1e-300)
        X, U, V = Xn, Un, Vn
        rec["iter"].append(k)
        rec["rel_change"].append(change)
        rec["htp_iter"].append(n_htp)
        rec["rel_error"].append(_rel_err(X, Xt))
        if change < tol or (U_prev is not None and (np.linalg.norm(U - U_prev, 2) < tol
                                                    and np.linalg.norm(V - V_prev, 2) < tol)):
            status = Status.CONVERGED
            break
        U_prev, V_prev = U, V
    trace = {key: np.asarray(v) for key, v in rec.items()}
    if Xt is None:
        del trace["rel_error"]
    res = meas.forward(X) - yv
    with np.errstate(over="ignore"):                        # inf where it overflows
        fun = float(np.ldexp(0.5 * float(np.vdot(res, res).real), 2 * (f + e)))
    rel_res = safe_norm(res) / max(safe_norm(yv), 1e-300)
    # not status.advice for MAX_ITER and DIVERGED: its hints (init_scale, step='auto')
    # are for gradient descent and name parameters rspf does not have
    message = {Status.MAX_ITER: f"The iteration limit max_iter = {max_iter} was reached "
                                f"before X or its factors stopped changing (tol = {tol:g}): "
                                f"raise max_iter or loosen tol.",
               Status.DIVERGED: "An alternating least-squares step was not finite (an "
                                "ill-conditioned operator?). The returned x is the last "
                                "finite iterate."}.get(status, status.advice)
    if status is Status.CONVERGED and not rel_res <= fit_tol:
        # the factors (or X) stopped moving away from a solution: a stationary point of
        # the alternating minimization, which the old status called CONVERGED
        status = Status.STAGNATED
        message = _not_a_solution(rel_res, fit_tol, "X = U V^T")
    return Result(x=ldexp_array(X, e), status=status, message=message,
                  n_iter=len(rec["iter"]) - 1, fun=fun,
                  trace=trace, wall_time=time.perf_counter() - t0,
                  info={"rank": r, "s": s, "U": U, "V": ldexp_array(V, e),
                        "rel_residual": rel_res, "res_tol": fit_tol})


def _hard(Z: np.ndarray, s: int, r: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keep the ``s`` rows of largest norm, then the rank-``r`` truncated SVD of that
    block. Returns the matrix, its ``r`` left/right singular vectors and the kept rows."""
    n1 = Z.shape[0]
    S = _rows_keep(Z, s) if s < n1 else np.arange(n1)
    Ub, sv, Vh = np.linalg.svd(Z[S], full_matrices=False)
    out = np.zeros_like(Z)
    out[S] = (Ub[:, :r] * sv[:r]) @ Vh[:r]
    U = np.zeros((n1, min(r, sv.size)), dtype=Ub.dtype)
    U[S] = Ub[:, :r]
    return out, U, Vh[:r].conj().T, S


def riem_adaiht(
    problem: Any,
    rank: int | None = None,
    s: int | None = None,
    *,
    y: Any = None,
    shape: tuple[int, int] | None = None,
    max_iter: int = 2000,
    tol: float = 1e-10,
    step0: float = 10.0,
    armijo: float = 1e-4,
    res_tol: float | str | None = "auto",
) -> Result:
    """Adaptive Riemannian iterative hard thresholding (Eisenmann et al. 2023).

    From ``X = 0``: Riemannian gradient ``P_T(Phi^H(Phi(X) - y))`` on the rank-``r``
    manifold (at ``X = 0`` the row-sparse rank-``r`` projection of the gradient), a step
    along it retracted by keeping the ``s`` rows of largest norm and truncating to rank
    ``r``, with Armijo backtracking from ``step0`` (halving until
    ``f(X) - f(R) >= step * armijo * ||grad||^2``; below ``1e-12`` a unit step is taken).

    Parameters
    ----------
    problem : Problem or operator
        A matrix problem, or an operator with ``y`` and ``shape``.
    rank, s : int, optional
        Rank and row-sparsity guesses (default: ``problem.info``).
    y : array, optional
        Measurements (only with an operator as first argument).
    shape : (int, int), optional
        ``(n1, n2)`` when the operator does not carry ``matrix_shape``.
    max_iter : int
        Iterations (the experiments of Kuemmerle & Maly use 2000).
    tol : float
        Stop when ``||grad||_F <= tol g0`` (CONVERGED), when ``||grad||_F >= 100 g0``
        (DIVERGED) or when ``||grad||`` changes by less than ``1e-4 tol g0`` (STAGNATED).
        The authors' thresholds are absolute (``g0 = 1``); ours are relative to
        ``g0 = ||y|| ||Phi||_F / sqrt(n1 n2)``, the gradient scale of the data (``||y||``
        times the root-mean-square gain of ``Phi``), so that rescaling ``y`` or ``Phi``
        does not change the outcome. For the operators of
        :func:`~overparam.problems.lrrs_problem` (``||Phi||_F^2 ~ n1 n2``) and a unit-norm
        truth, ``g0 ~ ||y|| ~ 1``: the authors' values. ``info["grad_scale"]`` is ``g0``.
    step0, armijo : float
        Initial step (> 0) and sufficient-decrease constant (in (0, 1)) of the
        backtracking.
    res_tol : float, "auto" or None
        As in :func:`rspf`: a run whose gradient rule fired is STAGNATED, not CONVERGED,
        when ``||Phi(X) - y|| / ||y||`` exceeds it (a small Riemannian gradient also holds
        where nothing fits: ``y`` orthogonal to the range of ``Phi`` stopped CONVERGED at
        step 0 with relative residual 1).

    Returns
    -------
    Result
        ``x`` the ``n1 x n2`` matrix; ``trace`` with ``iter``, ``grad_norm``, ``step``,
        ``loss`` and ``rel_error`` (when the truth is known).

    Raises
    ------
    ValueError
        For a zero operator (as :func:`~overparam.irls_lrrs`): no measurement carries
        information about ``X``.
    """
    t0 = time.perf_counter()
    meas, yv, n1, n2, r, s, Xt = lrrs_inputs(problem, y, shape, rank, s)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    tol = check_positive(tol, "tol")
    fit_tol = _fit_tolerance(problem, yv, res_tol)
    step0 = check_positive(step0, "step0")
    armijo = check_positive(armijo, "armijo")
    if armijo >= 1:
        # no step can decrease f by alpha ||grad||^2 or more (the first-order decrease):
        # every backtracking fell through to the unit step, and the run was DIVERGED
        raise ValueError(f"armijo must be in (0, 1), got {armijo!r}")
    if meas.fro_norm == 0:
        # g0 = 0 made "grad <= tol g0" hold at X = 0: CONVERGED with residual ||y||
        raise ValueError("the measurement operator is zero: no measurement carries "
                         "information about X")
    # thresholds relative to the scale of the gradient (the authors' absolute values at
    # unit scale): absolute ones reported DIVERGED at step 0 for y -> 1e3 y and CONVERGED
    # at X = 0 for y -> 1e-12 y
    meas, yv, Xt, e, fe = _unit_scale(meas, yv, Xt)
    g0 = safe_norm(yv) * meas.fro_norm / math.sqrt(n1 * n2)
    X = np.zeros((n1, n2), dtype=meas.dtype)
    U = V = None
    res = -yv
    f = 0.5 * float(np.vdot(res, res).real)
    rec = {"iter": [0], "grad_norm": [math.nan], "step": [math.nan], "loss": [f],
           "rel_error": [_rel_err(X, Xt)]}
    status, gprev = Status.MAX_ITER, math.nan
    k = 0
    for k in range(1, max_iter + 1):
        Gr = meas.adjoint(res)
        if U is None:
            grad = _hard(Gr, s, r)[0]
        else:
            GV = Gr @ V
            UhG = U.conj().T @ Gr
            grad = (GV - U @ (UhG @ V)) @ V.conj().T + U @ UhG
        g = safe_norm(grad)
        g2 = g * g
        if g <= tol * g0:
            status = Status.CONVERGED
            break
        if g >= 100 * g0:
            status = Status.DIVERGED
            break
        if abs(g - gprev) <= 1e-4 * tol * g0:
            status = Status.STAGNATED
            break
        gprev = g
        alpha = step0
        # a huge step0 overflows in the trial points, which the Armijo test rejects (inf
        # and NaN losses fail it): tens of thousands of RuntimeWarnings for step0 = 1e300
        with np.errstate(over="ignore", invalid="ignore"):
            while True:
                Rm, Ur, Vr, S = _hard(X - alpha * grad, s, r)
                rr = meas.forward(Rm, rows=S) - yv
                fr = 0.5 * float(np.vdot(rr, rr).real)
                if f - fr >= alpha * armijo * g2:
                    break
                alpha /= 2
                if alpha < 1e-12:
                    alpha = 1.0
                    Rm, Ur, Vr, S = _hard(X - grad, s, r)
                    rr = meas.forward(Rm, rows=S) - yv
                    fr = 0.5 * float(np.vdot(rr, rr).real)
                    break
        if not (np.all(np.isfinite(Rm)) and math.isfinite(fr)):
            # before X is replaced: a non-finite X was returned under DIVERGED, whose
            # advice says "the returned x is the last finite iterate"
            status = Status.DIVERGED
            break
        X, U, V, res, f = Rm, Ur, Vr, rr, fr
        rec["iter"].append(k)
        rec["grad_norm"].append(g)
        rec["step"].append(alpha)
        rec["loss"].append(f)
        rec["rel_error"].append(_rel_err(X, Xt))
    trace = {key: np.asarray(v) for key, v in rec.items()}
    if Xt is None:
        del trace["rel_error"]
    with np.errstate(over="ignore"):                        # back to the data's units
        trace["grad_norm"] = np.ldexp(trace["grad_norm"], 2 * fe + e)
        trace["loss"] = np.ldexp(trace["loss"], 2 * (fe + e))
        f = float(np.ldexp(f, 2 * (fe + e)))
    # in the unit-scaled data (the ratio is scale-free)
    rel_res = safe_norm(res) / max(safe_norm(yv), 1e-300)
    # not status.advice for MAX_ITER and DIVERGED: its hints (init_scale, step='auto')
    # are for gradient descent and name parameters riem_adaiht does not have
    message = {Status.MAX_ITER: f"The iteration limit max_iter = {max_iter} was reached "
                                f"before ||grad|| fell below tol g0 (tol = {tol:g}): raise "
                                f"max_iter or loosen tol.",
               Status.DIVERGED: "The Riemannian gradient grew beyond 100 times its initial "
                                "scale, or a step was not finite: lower step0 or raise "
                                "armijo. The returned x is the last finite iterate."
               }.get(status, status.advice)
    if status is Status.CONVERGED and not rel_res <= fit_tol:
        status = Status.STAGNATED
        message = _not_a_solution(rel_res, fit_tol, "X")
    return Result(x=ldexp_array(X, e), status=status, message=message,
                  n_iter=len(rec["iter"]) - 1, fun=f, trace=trace,
                  wall_time=time.perf_counter() - t0,
                  info={"rank": r, "s": s, "grad_scale": math.ldexp(g0, 2 * fe + e),
                        "rel_residual": rel_res, "res_tol": fit_tol})


def rspf_vec(problem: Problem, *, rank: int | None = None, s: int | None = None,
             fac_r: float = 1.0, fac_s: float = 1.0, **kwargs: Any) -> Result:
    """:func:`rspf` for the method registry (``x = vec(X)``; guesses
    ``floor(fac * truth)``).

    Parameters
    ----------
    problem : Problem
        A matrix problem (e.g. :func:`~overparam.problems.lrrs_problem`).
    rank, s : int, optional
        Rank and row-sparsity guesses, used unchanged when given (default
        ``floor(fac_r * rank)``, ``floor(fac_s * s)`` of the problem's ``info``, capped at
        ``min(n1, n2)`` and ``n1``; see
        :func:`~overparam.problems.structured.lrrs_guesses`).
    fac_r, fac_s : float, optional
        Factors (> 0, default 1) on the recorded rank and row sparsity.
    **kwargs
        Passed to :func:`rspf`.

    Returns
    -------
    Result
        As from :func:`rspf`, with ``x`` flattened to ``vec(X)`` (row-major) and without
        the factors ``info["U"]``, ``info["V"]``.
    """
    rank, s = lrrs_guesses(problem, rank, s, fac_r, fac_s)
    res = rspf(problem, rank, s, **kwargs)
    res.x = np.asarray(res.x).reshape(-1)
    res.info.pop("U", None)
    res.info.pop("V", None)
    return res


def riem_adaiht_vec(problem: Problem, *, rank: int | None = None, s: int | None = None,
                    fac_r: float = 1.0, fac_s: float = 1.0, **kwargs: Any) -> Result:
    """:func:`riem_adaiht` for the method registry (``x = vec(X)``).

    Parameters
    ----------
    problem : Problem
        A matrix problem (e.g. :func:`~overparam.problems.lrrs_problem`).
    rank, s : int, optional
        Rank and row-sparsity guesses, used unchanged when given (default
        ``floor(fac_r * rank)``, ``floor(fac_s * s)`` of the problem's ``info``, capped at
        ``min(n1, n2)`` and ``n1``; see
        :func:`~overparam.problems.structured.lrrs_guesses`).
    fac_r, fac_s : float, optional
        Factors (> 0, default 1) on the recorded rank and row sparsity.
    **kwargs
        Passed to :func:`riem_adaiht`.

    Returns
    -------
    Result
        As from :func:`riem_adaiht`, with ``x`` flattened to ``vec(X)`` (row-major).
    """
    rank, s = lrrs_guesses(problem, rank, s, fac_r, fac_s)
    res = riem_adaiht(problem, rank, s, **kwargs)
    res.x = np.asarray(res.x).reshape(-1)
    return res
