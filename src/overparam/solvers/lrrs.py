"""IRLS-LRRS: iteratively reweighted least squares for row-sparse *and* low-rank matrices.

Kuemmerle & Maly (NeurIPS 2023) recover an ``n1 x n2`` matrix of rank ``r`` with ``s``
nonzero rows from ``m ~ r (s + n2)`` linear measurements ``y = Phi(X)`` by minimizing, one
weighted least-squares problem at a time, the smoothed log surrogate

    F_{eps,delta}(X) = eps^2 sum_i f_eps(sigma_i(X)) + delta^2 sum_i f_delta(||X_{i,:}||),

``f_e(t) = log|t|`` for ``|t| >= e`` and ``log e + (t^2/e^2 - 1)/2`` below. Each step is

    X^{k+1} = argmin <X, W_k X>  subject to  Phi(X) = y,
    W_k = eps_k^2 W_lr(X^k, eps_k) + delta_k^2 W_sp(X^k, delta_k),

with the row weights ``W_sp Z = diag(max(||X_i||, delta)^-2) Z`` and the low-rank weight
``W_lr = eps^-2 Id + P_T (D - eps^-2) P_T^*`` on the tangent space ``T`` of the rank-``r_k``
manifold at ``X^k`` (``r_k`` the number of singular values above ``eps_k``).

The weighted step is solved exactly through the Woodbury identity: with the row scaling
``B = (Id + delta^2 W_sp)^-1`` and ``K = eps^2 D - 1`` (diagonal in the tangent coordinates
``(Gamma1, Gamma2, Gamma3)`` of size ``r(n1 + n2 + r)``)

    W^-1 = B - B P (K^-1 + P^* B P)^-1 P^* B.

``C = K^-1 + P^* B P`` never has to be formed densely: it is block diagonal, ``r`` systems of
size ``r + n1`` (the ``(Gamma1, Gamma2)`` block, one per column) and one ``r x r`` system
(the ``Gamma3`` block, whose rows are orthogonal to ``V``). The cost of a step is then
dominated by the ``m x m`` Gram matrix ``Phi B Phi^H``: ``O(m^2 n1 n2)`` for a dense
operator, ``O(m^2 (n1 + n2))`` for rank-one measurements
(:class:`~overparam.problems.structured.RankOneSensing`), against ``O((n1 n2)^3)`` for a dense
solve with the full ``n1 n2 x n1 n2`` weight matrix (:func:`lrrs_weighted_ls_dense`, kept as
the reference that the tests compare with).

Weight variants (``weights=``)
------------------------------
``"simirls"`` (default)
    The weights of the authors' code, with which all published figures were made: the
    one-sided tangent blocks get ``1/(sigma_j sigma_{r_k})`` (the code passes only the
    ``r_k`` leading singular values to the MatrixIRLS weight routine, which then reads
    ``sigma_{r_k}^2`` where it expects ``eps^2``).
``"matrixirls"``
    The weights of the low-rank-only IRLS (MatrixIRLS, Kuemmerle & Sigl 2021) and of the
    paper's formula: ``H_ij = 1/(max(sigma_i, eps) max(sigma_j, eps))``, i.e. one-sided
    blocks ``1/(sigma_j eps)``.

References
----------
C. Kuemmerle, J. Maly, "Recovering simultaneously structured data via non-convex
iteratively reweighted least squares", NeurIPS 2023 (arXiv:2306.04961); code
github.com/ckuemmerle/simirls (``IRLS_LRRS.m``).
C. Kuemmerle, C. Mayrink Verdun, "A scalable second order method for ill-conditioned
matrix completion from few samples", ICML 2021 (MatrixIRLS).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.linalg as sla

from .._core import (Result, Status, check_bool, check_finite_array, check_int,
                     check_matrix_shape, check_positive, ldexp_array, nearest_pow2_exponent,
                     refuse_masked, safe_norm)
from ..baselines.lrrs import _fit_tolerance, _hard, _not_a_solution
from ..problems import Problem
from ..problems.matrix import matrix_shape_of
from ..problems.structured import (MatrixMeasurements, lrrs_guesses, lrrs_inputs,
                                   rel_fro_error)

__all__ = [
    "LRRSWeights",
    "WEIGHT_VARIANTS",
    "irls_lrrs",
    "irls_lrrs_vec",
    "lrrs_weighted_ls",
    "lrrs_weighted_ls_dense",
    "lrrs_weights",
]

WEIGHT_VARIANTS = ("simirls", "matrixirls")

# eps and delta below this fraction of sigma_1(X): the weighted system may become singular
# because the iterate is structured to working precision (a stopping rule, not a failure)
_SATURATED = 1e-7
# a weighted step whose relative residual ||Phi(X) - y|| / ||y|| exceeds this (and 100 times
# the previous one) is an unreliable solve: the constraint is exact in exact arithmetic
_RES_ACCEPT = 1e-11


# the start's Gram matrix Phi Phi^H with a reciprocal condition number below this (cond(Phi)
# above ~1e5) is checked for linearly dependent measurements by a pivoted QR
_GRAM_RCOND = 1e-10
# lrrs_weighted_ls: a step violating Phi(Z) = y by more than this (relative) is retried on
# independent measurements
_RES_DEPENDENT = 1e-8


def _saturated(eps: float, delta: float, sigma1: float, rank: int, s: int, n1: int,
               n2: int) -> bool:
    """Whether ``eps`` and ``delta`` have fallen below ``_SATURATED sigma_1(X)``: the iterate
    is rank-``r`` and ``s``-row-sparse to working precision. A smoothing parameter that
    is not data-driven (``rank >= min(n1, n2)``: ``eps = epsmin`` from the start;
    ``s = n1``: ``delta = epsmin``) proves nothing, so with neither structure a singular
    system is never saturation."""
    low_rank, sparse = rank < min(n1, n2), s < n1
    bound = _SATURATED * max(sigma1, 1e-300)
    return ((low_rank or sparse) and (not low_rank or eps <= bound)
            and (not sparse or delta <= bound))


# ---------------------------------------------------------------- measurement access
def _tangent_atoms(meas: MatrixMeasurements, b: np.ndarray, U: np.ndarray, V: np.ndarray):
    """Tangent coordinates of ``B M_i`` (``M_i = Phi^H e_i``) for all ``i``:
    arrays ``(m, r, r)``, ``(m, n1, r)``, ``(m, r, n2)``."""
    Uh = U.conj().T
    if meas.rank_one:
        lb = meas.scale * (meas.L.conj() * b)               # rows b * conj(L_i) (with scale)
        rr = meas.R.conj()                                  # rows conj(R_i)
        a = lb @ Uh.T                                       # (m, r): U^H (b l_i)
        c = rr @ V                                          # (m, r): V^T r_i
        q = lb - a @ U.T                                    # (m, n1): Q (b l_i)
        e = rr - c @ V.conj().T                             # (m, n2): (I - V V^H)^T r_i
        return (a[:, :, None] * c[:, None, :], q[:, :, None] * c[:, None, :],
                a[:, :, None] * e[:, None, :])
    m, n1, n2, r = meas.m, meas.n1, meas.n2, U.shape[1]
    ZV = (meas.Mc.reshape(m * n1, n2) @ V).reshape(m, n1, r) * b[None, :, None]  # B M_i V
    core = Uh @ ZV                                          # (m, r, r)
    G2 = ZV - U @ core                                      # (m, n1, r)
    UZ = ((Uh * b) @ meas.Mt).reshape(r, m, n2).transpose(1, 0, 2)   # U^H B M_i
    G3 = UZ - core @ V.conj().T
    return core, G2, G3


# ---------------------------------------------------------------- weights
@dataclass(frozen=True)
class LRRSWeights:
    """The IRLS weight operator ``W = eps^2 W_lr + delta^2 W_sp`` at one iterate.

    Attributes
    ----------
    U, V : ndarray
        Leading ``r_k`` left/right singular vectors of the iterate.
    sigma : ndarray
        Its ``r_k`` singular values above ``eps`` (descending).
    eps, delta : float
        Smoothing parameters of the rank and row-sparsity terms.
    row_weights : ndarray
        ``w_i = max(||X_i||, delta)^-2`` (rounded to inf or 0 where it over- or underflows,
        for ``max(||X_i||, delta)`` below ~1e-154 or above ~1e154).
    sigma_ref : float
        The value replacing ``sigma`` outside the tangent space in the one-sided blocks:
        ``eps`` (``"matrixirls"``) or ``sigma_{r_k}`` (``"simirls"``).
    row_ratio : ndarray
        ``delta^2 w_i = min(1, delta / ||X_i||)^2`` computed without forming ``w_i``: the
        scale-free quantity that the weighted step uses (``delta^2 w_i`` read ``0 * inf =
        NaN`` or ``1e-320 * 1e320`` rounded to garbage for data near 1e-160). None:
        computed from ``row_weights``.
    """

    U: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    eps: float
    delta: float
    row_weights: np.ndarray
    sigma_ref: float
    row_ratio: np.ndarray | None = None

    @property
    def rank(self) -> int:
        return int(self.sigma.size)

    @property
    def dw(self) -> np.ndarray:
        """``delta^2 w_i`` in ``[0, 1]`` (``row_ratio``)."""
        if self.row_ratio is not None:
            return self.row_ratio
        # from row_weights: scale delta to unit size first (exact) so that neither
        # delta^2 nor the product over- or underflows where w_i is finite
        k = nearest_pow2_exponent(self.delta)
        with np.errstate(over="ignore", under="ignore"):
            return math.ldexp(self.delta, -k) ** 2 * np.ldexp(self.row_weights, 2 * k)

    @property
    def b(self) -> np.ndarray:
        """Row scaling ``B = (1 + delta^2 w_i)^-1``."""
        return 1.0 / (1.0 + self.dw)

    def lam(self) -> tuple[np.ndarray, np.ndarray]:
        """``Lambda = eps^2 d / (1 - eps^2 d) = -K^-1 - 1 >= 0`` on the core (r x r) and on
        the one-sided blocks (r,) (Gamma2 columns = Gamma3 rows), computed without
        cancellation."""
        # 0-homogeneous in (sigma, eps): evaluated on values divided by 2**k ~ eps (exact,
        # the same bits where nothing under- or overflows); eps**2 overflowed (Python
        # OverflowError) above 1e154 and eps^2 / (sigma^2 - eps^2) read 0/0 = NaN or a
        # wrong ratio of subnormals below 1e-154
        k = nearest_pow2_exponent(self.eps)
        s = np.ldexp(self.sigma, -k)
        e2 = math.ldexp(self.eps, -k) ** 2
        ref = math.ldexp(self.sigma_ref, -k)
        with np.errstate(over="ignore"):                    # sigma >> eps: Lambda -> 0
            return e2 / (np.outer(s, s) - e2), e2 / (s * ref - e2)


def _row_norms(X: np.ndarray) -> np.ndarray:
    """Row norms, each computed on its row divided by a power of two near its largest
    entry (exact; ``numpy.linalg.norm`` squares the entries, 0 for rows below ~1e-154 and
    inf above ~1e154)."""
    top = np.max(np.abs(X), axis=1)
    ex = np.frexp(np.where(top > 0, top, 1.0))[1]
    return np.ldexp(np.linalg.norm(ldexp_array(X, -ex[:, None]), axis=1), ex)


def lrrs_weights(X: np.ndarray, eps: float, delta: float, *, weights: str = "simirls",
                 epsmin: float | None = None, svd: tuple | None = None) -> LRRSWeights:
    """The weight operator of IRLS-LRRS at ``X`` for given smoothing parameters.

    Parameters
    ----------
    X : ndarray of shape (n1, n2)
        The current iterate.
    eps, delta : float
        Smoothing of the rank and the row-sparsity term (``> 0``).
    weights : {"simirls", "matrixirls"}
        Weight variant (see the module docstring).
    epsmin : float, optional
        ``r_k = #{sigma_i > eps + epsmin}`` (absolute here, ``>= 0``). Default
        ``1e-14 sigma_1(X)``: a fixed absolute ``1e-14`` (the default before) counted
        ``r_k = 0`` for any ``X`` below ~1e-14, e.g. at ``(X, eps, delta)`` scaled by
        1e-150, where the weights are otherwise those at unit scale.
    svd : tuple of ndarray, optional
        ``(U, s, Vh)``, the thin SVD of ``X`` when the caller has it
        (``numpy.linalg.svd(X, full_matrices=False)``; not checked against ``X``).
        Default: computed here.

    Returns
    -------
    LRRSWeights

    Raises
    ------
    ValueError
        An unknown ``weights``, a non-finite or non-2-D ``X``, ``eps`` or ``delta`` not
        ``> 0``, or a negative ``epsmin``.
    """
    if weights not in WEIGHT_VARIANTS:
        raise ValueError(f"weights must be one of {WEIGHT_VARIANTS}, got {weights!r}")
    # NaN/inf or a non-matrix X failed inside LAPACK ("SVD did not converge") or later
    X = check_finite_array(X, "X", ndim=2)
    # eps = 0 or delta = 0 would divide by zero in the weights (inf/NaN steps, no error)
    eps, delta = check_positive(eps, "eps"), check_positive(delta, "delta")
    U, s, Vh = np.linalg.svd(X, full_matrices=False) if svd is None else svd
    epsmin = (1e-14 * float(s[0]) if epsmin is None
              else check_positive(epsmin, "epsmin", allow_zero=True))
    rk = int(np.count_nonzero(s > eps + epsmin))
    rows = _row_norms(X)
    # delta^2 w_i and w_i on rows divided by 2**k ~ delta (exact): the ratio is scale-free
    k = nearest_pow2_exponent(delta)
    with np.errstate(over="ignore", under="ignore"):        # far above delta: w_i -> 0
        inv = 1.0 / np.maximum(np.ldexp(rows, -k), math.ldexp(delta, -k)) ** 2
        ratio = math.ldexp(delta, -k) ** 2 * inv
        w = np.ldexp(inv, -2 * k)
    sigma = s[:rk].copy()
    ref = float(eps) if (weights == "matrixirls" or rk == 0) else float(sigma[-1])
    return LRRSWeights(U[:, :rk].copy(), Vh[:rk].conj().T.copy(), sigma, float(eps),
                       float(delta), w, ref, ratio)


# ---------------------------------------------------------------- weighted least squares
class SingularSystemError(np.linalg.LinAlgError):
    """The weighted least-squares system is (numerically) singular."""


def _C_blocks(Wt: LRRSWeights) -> tuple[np.ndarray, np.ndarray]:
    """The Hermitian positive definite blocks of ``-C``, ``C = K^-1 + P^* B P``.

    ``C`` is indefinite and, near a solution, tiny on the structured directions, as the
    difference of the O(1) terms ``K^-1 ~ -1`` and ``P^* B P ~ 1``. On valid coordinates
    (``P^* P = Id``) it equals ``-(Lambda + P^* (Id - B) P)`` exactly, a sum of two positive
    semidefinite terms that we form without that cancellation (``1 - B`` is
    ``delta^2 w / (1 + delta^2 w)``). The right-hand sides are always valid coordinates;
    the invalid ones (components of Gamma2 columns in span U) get a multiple of the
    identity, which does not change the solution on the valid ones.

    Returns ``mats`` of shape ``(r, r + n1, r + n1)``, the system of column ``j`` of the
    stacked ``(Gamma1; Gamma2)``, and the ``r x r`` matrix ``G + diag(Lambda)`` of the
    Gamma3 block (whose rows are orthogonal to ``V``, so that
    ``G Gamma3 (I - V V^H) + diag(Lambda) Gamma3 = (G + diag(Lambda)) Gamma3``).
    """
    U = Wt.U
    r, n1 = Wt.rank, U.shape[0]
    Uh = U.conj().T
    dw = Wt.dw
    sb = dw / (1.0 + dw)                                    # 1 - b
    sU = U * sb[:, None]
    G = Uh @ sU                                             # U^H diag(sb) U
    E = (Uh * sb) - (G @ Uh)                                # U^H diag(sb) Q
    F = np.diag(sb).astype(E.dtype) - U @ E - (sU @ Uh)     # Q diag(sb) Q
    # identity-like filler on the invalid Gamma2 coordinates (span U), scaled like the
    # valid block on the rows of U so that the blocks stay graded along the coordinates
    # (an O(1) filler next to the tiny support block made them numerically singular)
    tau = max(float(np.real(np.trace(G))) / max(r, 1), np.finfo(float).tiny)
    M = np.block([[G, E], [E.conj().T, F + tau * (U @ Uh)]])
    lam_core, lam_side = Wt.lam()
    diag12 = np.concatenate([lam_core, np.broadcast_to(lam_side, (n1, r))], axis=0)
    mats = np.broadcast_to(M, (r,) + M.shape).copy()
    idx = np.arange(r + n1)
    mats[:, idx, idx] += diag12.T
    mats = 0.5 * (mats + np.conj(np.swapaxes(mats, 1, 2)))
    M3 = G + np.diag(lam_side)
    return mats, 0.5 * (M3 + M3.conj().T)


def _solve_C(Wt: LRRSWeights, core, G2, G3):
    """Apply ``-C^-1`` to tangent coordinates with a trailing axis of right-hand sides:
    ``core (r, r, q)``, ``G2 (n1, r, q)``, ``G3 (r, n2, q)`` (see :func:`_C_blocks`)."""
    r = Wt.rank
    mats, M3 = _C_blocks(Wt)
    rhs12 = np.moveaxis(np.concatenate([core, G2], axis=0), 1, 0)   # (r, r+n1, q)
    try:
        sol12 = np.linalg.solve(mats, rhs12)
        sol3 = np.linalg.solve(M3, G3.reshape(r, -1)).reshape(G3.shape)
    except np.linalg.LinAlgError as err:
        raise SingularSystemError(f"singular tangent-space system: {err}") from None
    sol12 = np.moveaxis(sol12, 0, 1)                        # (r+n1, r, q)
    return sol12[:r], sol12[r:], sol3


def _P(Wt: LRRSWeights, c1, c2, c3) -> np.ndarray:
    """``P(gamma) = U G1 V^H + Q G2 V^H + U G3 (I - V V^H)`` for one coordinate vector."""
    U, V = Wt.U, Wt.V
    Vh = V.conj().T
    G2 = c2 - U @ (U.conj().T @ c2)
    G3 = c3 - (c3 @ V) @ Vh
    return U @ c1 @ Vh + G2 @ Vh + U @ G3


def _weighted_ls(meas: MatrixMeasurements, y: np.ndarray, Wt: LRRSWeights,
                 method: str = "cholesky") -> np.ndarray:
    """``W^-1 Phi^H (Phi W^-1 Phi^H)^-1 y`` with ``W^-1 = B + B P (-C)^-1 P^* B``.

    ``"cholesky"``: form ``S = Phi W^-1 Phi^H = Phi B Phi^H + conj(T) (-C)^-1 T^T`` (a sum
    of positive semidefinite terms; ``T`` holds the tangent coordinates of ``B Phi^H e_i``)
    and solve it by Cholesky. ``"qr"``: with ``-C = L L^H`` write ``W^-1 = R R^H``,
    ``R = [B^(1/2), B P L^-H]``, and take the minimum-norm solution of ``Phi R w = y`` by a
    QR factorization of ``(Phi R)^H``: accurate to ``cond(Phi R)`` instead of its square
    (used when ``S`` is numerically singular, i.e. in the last quadratic steps).
    """
    b = Wt.b
    r, m = Wt.rank, meas.m
    n1, n2 = meas.n1, meas.n2
    if method == "qr":
        return _weighted_ls_qr(meas, y, Wt)
    S = meas.gram(b)
    if r > 0:
        core, G2, G3 = _tangent_atoms(meas, b, Wt.U, Wt.V)   # rows: P^* B Phi^H e_i
        Y1, Y2, Y3 = _solve_C(Wt, np.moveaxis(core, 0, -1), np.moveaxis(G2, 0, -1),
                              np.moveaxis(G3, 0, -1))       # -C^-1 P^* B Phi^H
        Tm = np.concatenate([core.reshape(m, -1), G2.reshape(m, -1), G3.reshape(m, -1)], 1)
        Y = np.concatenate([Y1.reshape(-1, m), Y2.reshape(-1, m), Y3.reshape(-1, m)], 0)
        S = S + Tm.conj() @ Y                               # Phi W^-1 Phi^H
    z = _solve_gram(S, y)
    X = meas.adjoint(z) * b[:, None]
    if r > 0:
        c = Y @ z
        c1 = c[: r * r].reshape(r, r)
        c2 = c[r * r: r * r + n1 * r].reshape(n1, r)
        c3 = c[r * r + n1 * r:].reshape(r, n2)
        X = X + _P(Wt, c1, c2, c3) * b[:, None]
    return X


def _weighted_ls_qr(meas: MatrixMeasurements, y: np.ndarray, Wt: LRRSWeights) -> np.ndarray:
    b = Wt.b
    r, m = Wt.rank, meas.m
    n1, n2 = meas.n1, meas.n2
    sb = np.sqrt(b)
    blocks = [meas.dense() * np.repeat(sb, n2)]            # Phi B^(1/2)
    if r > 0:
        core, G2, G3 = _tangent_atoms(meas, b, Wt.U, Wt.V)
        mats, M3 = _C_blocks(Wt)
        try:
            Ls = np.linalg.cholesky(mats)
            L3 = np.linalg.cholesky(M3)
        except np.linalg.LinAlgError as err:
            raise SingularSystemError(f"tangent-space system not definite: {err}") from None
        rhs12 = np.moveaxis(np.concatenate([np.moveaxis(core, 0, -1),
                                            np.moveaxis(G2, 0, -1)], axis=0), 1, 0)
        J12 = np.stack([sla.solve_triangular(Ls[j], rhs12[j], lower=True) for j in range(r)])
        J3 = sla.solve_triangular(L3, np.moveaxis(G3, 0, -1).reshape(r, -1), lower=True)
        J = np.concatenate([J12.reshape(-1, m), J3.reshape(-1, m)], 0)   # L^-1 T^T
        blocks.append(J.conj().T)
    Zh = np.concatenate(blocks, axis=1).conj().T            # (Phi R)^H
    Q, Rq = sla.qr(Zh, mode="economic", check_finite=False)
    d = np.abs(np.diag(Rq))
    if d.min() <= np.finfo(float).eps * d.max() * max(Zh.shape):
        raise SingularSystemError("Phi W^-1/2 is numerically rank deficient")
    w = Q @ sla.solve_triangular(Rq, y, trans="C", lower=False, check_finite=False)
    X = (sb[:, None] * w[: n1 * n2].reshape(n1, n2)).astype(np.result_type(w, b))
    if r > 0:
        w2 = w[n1 * n2:]
        w12 = w2[: r * (r + n1)].reshape(r, r + n1)
        x12 = np.stack([sla.solve_triangular(Ls[j], w12[j], lower=True, trans="C")
                        for j in range(r)]).T            # (r + n1, r)
        c3 = sla.solve_triangular(L3, w2[r * (r + n1):].reshape(r, n2), lower=True,
                                  trans="C")
        X = X + _P(Wt, x12[:r], x12[r:], c3) * b[:, None]
    if not np.all(np.isfinite(X)):
        raise SingularSystemError("non-finite weighted least-squares solution")
    return X


def _factor_gram(S: np.ndarray, lu_fallback: bool = True) -> tuple:
    """The symmetrized ``S``, its Cholesky factor (None when only LU succeeded) and a solver
    ``v -> S^-1 v`` (Cholesky, LU as a fallback); SingularSystemError when both fail."""
    S = 0.5 * (S + S.conj().T)
    try:
        fac = sla.cho_factor(S, check_finite=False)
        return S, fac, lambda v: sla.cho_solve(fac, v, check_finite=False)
    except (np.linalg.LinAlgError, ValueError) as err:
        if not lu_fallback:
            raise SingularSystemError(f"Gram system not positive definite: {err}") from None
        try:
            with warnings.catch_warnings():     # singularity is checked (and raised) below
                warnings.simplefilter("ignore", sla.LinAlgWarning)
                lu = sla.lu_factor(S, check_finite=False)
        except (np.linalg.LinAlgError, ValueError) as err2:
            raise SingularSystemError(f"singular Gram system: {err2}") from None
        if np.min(np.abs(np.diag(lu[0]))) <= np.finfo(float).eps * np.abs(lu[0]).max():
            raise SingularSystemError("singular Gram system Phi W^-1 Phi^H")
        return S, None, lambda v: sla.lu_solve(lu, v, check_finite=False)


def _solve_gram(S: np.ndarray, y: np.ndarray, refine: int = 1,
                factored: tuple | None = None) -> np.ndarray:
    """Solve the Hermitian positive definite ``S z = y`` (Cholesky, LU as a fallback), with
    ``refine`` steps of iterative refinement (``S`` is very ill-conditioned near a
    solution: huge on the structured directions, O(1) elsewhere). ``factored``: the
    output of :func:`_factor_gram` for this ``S``."""
    S, _, solve = _factor_gram(S) if factored is None else factored
    z = solve(y)
    for _ in range(refine):
        z = z + solve(y - S @ z)
    if not np.all(np.isfinite(z)):
        raise SingularSystemError("non-finite solution of the Gram system")
    return z


def _gram_rcond(factored: tuple) -> float:
    """LAPACK's estimate of the reciprocal 1-norm condition number of a Gram matrix from
    its Cholesky factor (0 when Cholesky failed)."""
    S, fac, _ = factored
    if fac is None:
        return 0.0
    c, lower = fac
    anorm = float(np.max(np.sum(np.abs(S), axis=0)))
    pocon = sla.get_lapack_funcs("pocon", (c,))
    rcond, info = pocon(c, anorm, uplo="L" if lower else "U")
    return float(rcond) if info == 0 else 0.0


@dataclass(frozen=True)
class _RowReduction:
    """Outcome of :func:`_independent_rows`: the measurements kept (indices into the
    original rows) and how far ``y`` lies from the range of ``Phi`` (relative)."""

    rows: np.ndarray
    m: int
    range_residual: float

    @property
    def note(self) -> str:
        return (f"{self.m - self.rows.size} of {self.m} measurements are linearly dependent "
                f"on the others and were dropped; y was projected onto the range of Phi "
                f"(relative change {self.range_residual:.1e})")


def _independent_rows(meas: MatrixMeasurements, y: np.ndarray
                      ) -> tuple[MatrixMeasurements, np.ndarray, _RowReduction | None]:
    """Reduce ``Phi(X) = y`` to a maximal set of linearly independent measurements.

    The weighted steps need ``Phi W^-1 Phi^H`` nonsingular, i.e. ``Phi`` of full row rank;
    ``m > n1 n2``, repeated or zero measurements break that. A column-pivoted QR of
    ``Phi^H`` picks ``k = rank(Phi)`` well-conditioned rows (numerical rank at the
    tolerance of ``numpy.linalg.matrix_rank``). ``y`` is replaced by its orthogonal
    projection onto the range of ``Phi`` (a no-op for consistent data; the least-squares
    fit for noisy repeated measurements), restricted to those rows: then
    ``Phi(X) = P y`` exactly when the reduced constraint holds. Returns the inputs
    unchanged (and None) when ``Phi`` has full row rank.
    """
    Phi = meas.dense()
    m, N = Phi.shape
    _, R, piv = sla.qr(Phi.conj().T, mode="economic", pivoting=True, check_finite=False)
    d = np.abs(np.diag(R))
    k = int(np.count_nonzero(d > max(m, N) * np.finfo(float).eps * (d[0] if d.size else 0)))
    if k == m:
        return meas, y, None
    if k == 0:
        raise ValueError("the measurement operator is zero: no measurement carries "
                         "information about X")
    # Phi[piv] = R^H Q^H, so the range of Phi is that of the first k columns of R^H (in
    # pivoted order); R22 is below the rank tolerance
    Qy, _ = np.linalg.qr(R[:k].conj().T)
    yp = y[piv]
    proj = Qy @ (Qy.conj().T @ yp)
    res = float(np.linalg.norm(yp - proj)) / max(float(np.linalg.norm(y)), 1e-300)
    order = np.argsort(piv[:k])                             # keep the original row order
    rows = piv[:k][order]
    return (meas.take_rows(rows), proj[:k][order].astype(np.result_type(y, Phi)),
            _RowReduction(rows, m, res))


def _prepare(A: Any, y: Any, shape: tuple[int, int] | None):
    # a malformed shape (an int, a 3-tuple, negative sizes) failed inside Python or NumPy
    shape = None if shape is None else check_matrix_shape(shape)
    # np.asarray dropped the mask: the data under masked entries were used as measurements
    refuse_masked(A, "A")
    if isinstance(A, Problem):
        if y is not None:
            raise TypeError("pass either a Problem or (A, y), not both")
        if shape is None:
            shape = matrix_shape_of(A, shape_arg=True)
        A, y = A.A, A.y
    else:
        y = check_finite_array(y, "y", ndim=1)
        if shape is None:
            shape = matrix_shape_of(A, shape_arg=True)
    own = getattr(A, "matrix_shape", None)
    if own is not None and tuple(shape) != tuple(own):
        raise ValueError(f"shape={tuple(shape)} contradicts the operator's matrix_shape "
                         f"{tuple(own)}")
    return A, y, shape


def _measurements(A: Any, y: np.ndarray, shape: tuple[int, int]) -> MatrixMeasurements:
    """The operator as MatrixMeasurements, with ``y`` checked against its rows: a ``y``
    of another length failed deep in NumPy/SciPy ("incompatible dimensions")."""
    meas = MatrixMeasurements(A, tuple(shape))
    if np.shape(y) != (meas.m,):
        raise ValueError(f"y has shape {np.shape(y)}, the operator has {meas.m} rows")
    return meas


def _check_iterate(X: Any, shape: tuple[int, int]) -> np.ndarray:
    X = check_finite_array(X, "X", ndim=2)
    if X.shape != tuple(shape):
        raise ValueError(f"X has shape {X.shape}, expected {tuple(shape)}")
    return X


def _weighted_step(meas: MatrixMeasurements, y: np.ndarray, Wt: LRRSWeights,
                   ls_solver: str) -> tuple[np.ndarray, float]:
    """One weighted step by ``ls_solver`` (``"auto"``: Cholesky, and QR when that fails or
    misses ``Phi(Z) = y`` by more than ``_RES_ACCEPT``, keeping the better of the two, as
    :func:`irls_lrrs` does). Returns ``(Z, ||Phi(Z) - y|| / ||y||)``; SingularSystemError
    when no solve succeeds."""
    ynorm = max(safe_norm(y), 1e-300)
    Z, res, error = None, math.inf, None
    try:
        Z = _weighted_ls(meas, y, Wt, "qr" if ls_solver == "qr" else "cholesky")
        res = safe_norm(meas.forward(Z) - y) / ynorm
    except SingularSystemError as err:
        error = err
    if ls_solver == "auto" and not res <= _RES_ACCEPT:
        try:
            Zq = _weighted_ls(meas, y, Wt, "qr")
            res_q = safe_norm(meas.forward(Zq) - y) / ynorm
            if Z is None or res_q < res:
                Z, res = Zq, res_q
        except SingularSystemError:
            pass
    if Z is None:
        raise error
    return Z, res


def lrrs_weighted_ls(A: Any, y: Any, X: np.ndarray, eps: float, delta: float, *,
                     weights: str = "simirls", epsmin: float | None = None,
                     shape: tuple[int, int] | None = None,
                     ls_solver: str = "auto") -> np.ndarray:
    """One weighted least-squares step of IRLS-LRRS, by the tangent-space Woodbury solve.

    Returns ``argmin <Z, W Z> s.t. Phi(Z) = y`` with ``W`` the weight operator at ``X``
    (:func:`lrrs_weights`). When the solve fails or misses ``Phi(Z) = y`` because
    measurements are linearly dependent, it is repeated on an independent subset with
    ``y`` projected onto the range of ``Phi`` (as in :func:`irls_lrrs`).

    Parameters
    ----------
    A : Problem, matrix operator or array
        The measurement operator ``Phi`` on row-major ``vec(Z)`` (or a Problem, then
        ``y=None``).
    y : array of shape (m,)
        Measurements (finite); None with a Problem.
    X : ndarray of shape (n1, n2)
        The iterate where the weights are taken (finite, of shape ``shape``).
    eps, delta : float
        Smoothing of the rank and the row-sparsity term (``> 0``).
    weights : {"simirls", "matrixirls"}, optional
        Weight variant (default ``"simirls"``).
    epsmin : float, optional
        Rank threshold offset, as in :func:`lrrs_weights` (also for its default).
    shape : (int, int), optional
        ``(n1, n2)`` when the operator does not carry ``matrix_shape`` (must agree with
        it when it does).
    ls_solver : {"auto", "cholesky", "qr"}, optional
        As for :func:`irls_lrrs`: ``"auto"`` (default) solves by Cholesky and, when that
        fails or misses ``Phi(Z) = y`` by more than 1e-11 relative (ill-conditioned
        weights, e.g. ``eps``, ``delta`` far below the scale of ``X``), by QR;
        ``"cholesky"`` or ``"qr"`` only. (Cholesky alone returned steps violating the
        constraint by up to 110% relative where QR meets it to 1e-9.)

    Returns
    -------
    ndarray of shape (n1, n2)
        The step ``Z``.

    Raises
    ------
    ValueError
        ``X`` of another shape, an unknown ``ls_solver``, or invalid weight parameters.
    TypeError
        A Problem given together with ``y``.
    SingularSystemError
        No solve succeeds on full-rank measurements.
    """
    A, y, shape = _prepare(A, y, shape)
    X = _check_iterate(X, shape)
    if ls_solver not in ("auto", "cholesky", "qr"):
        raise ValueError(f"ls_solver must be 'auto', 'cholesky' or 'qr', got {ls_solver!r}")
    meas = _measurements(A, y, shape)
    Wt = lrrs_weights(X, eps, delta, weights=weights, epsmin=epsmin)
    error: SingularSystemError | None = None
    try:
        Z, res = _weighted_step(meas, y, Wt, ls_solver)
        if res <= _RES_DEPENDENT:
            return Z
    except SingularSystemError as err:
        error = err
    sub, ysub, reduction = _independent_rows(meas, y)
    if reduction is None:                   # full row rank: not a matter of dependent rows
        if error is not None:
            raise error
        return Z
    return _weighted_step(sub, ysub, Wt, ls_solver)[0]


def lrrs_weighted_ls_dense(A: Any, y: Any, X: np.ndarray, eps: float, delta: float, *,
                           weights: str = "simirls", epsmin: float | None = None,
                           shape: tuple[int, int] | None = None) -> np.ndarray:
    """The same step as :func:`lrrs_weighted_ls` by dense linear algebra (reference).

    Builds the full ``n1 n2 x n1 n2`` weight matrix from its definition with the full SVD,
    ``W_lr = (U_f x conj V_f) diag(vec H) (U_f x conj V_f)^H``, and solves
    ``Z = W^-1 Phi^H (Phi W^-1 Phi^H)^-1 y``: ``O((n1 n2)^3)`` time, ``O((n1 n2)^2)`` memory.
    Dependent measurements are reduced to an independent subset first.

    Parameters
    ----------
    A, y, X, eps, delta, weights, epsmin, shape
        As for :func:`lrrs_weighted_ls` (``X`` must have shape ``(n1, n2)``).

    Returns
    -------
    ndarray of shape (n1, n2)
        The step ``Z``.
    """
    A, y, shape = _prepare(A, y, shape)
    # an X of another shape failed in a NumPy broadcast ("operands could not be broadcast")
    X = _check_iterate(X, shape)
    n1, n2 = shape
    meas, y, _ = _independent_rows(_measurements(A, y, shape), y)
    Phi = meas.dense()
    Wt = lrrs_weights(X, eps, delta, weights=weights, epsmin=epsmin)
    Uf, _, Vhf = np.linalg.svd(X, full_matrices=True)
    rk = Wt.rank
    # eps^2 H from the ratios eps / sigma_i (on values divided by 2**k ~ eps, exact): eps^2
    # and 1 / (sigma_i sigma_j) over- or underflowed separately for data far from unit scale
    k = nearest_pow2_exponent(Wt.eps)
    q = math.ldexp(Wt.eps, -k) / np.ldexp(Wt.sigma, -k)         # eps / sigma_i, in (0, 1)
    q_ref = math.ldexp(Wt.eps, -k) / math.ldexp(Wt.sigma_ref, -k)
    q1 = np.full(n1, np.nan)
    q2 = np.full(n2, np.nan)
    q1[:rk] = q
    q2[:rk] = q
    E2H = np.ones((n1, n2))
    ii, jj = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    both = (ii < rk) & (jj < rk)
    left = (ii < rk) & (jj >= rk)
    right = (ii >= rk) & (jj < rk)
    E2H[both] = q1[ii[both]] * q2[jj[both]]
    E2H[left] = q1[ii[left]] * q_ref
    E2H[right] = q2[jj[right]] * q_ref
    Kron = np.kron(Uf, Vhf.T)             # row-major vec(U M V^H) = (U kron conj V) vec M
    W = (Kron * E2H.reshape(-1)) @ Kron.conj().T
    W[np.diag_indices_from(W)] += np.repeat(Wt.dw, n2)
    WiPhiH = sla.solve(W, Phi.conj().T, assume_a="her")
    z = sla.solve(Phi @ WiPhiH, y, assume_a="her")
    return (WiPhiH @ z).reshape(n1, n2)


# ---------------------------------------------------------------- the algorithm
def _f_smooth(t: np.ndarray, e: float) -> float:
    t = np.abs(t)
    big = t >= e
    out = np.where(big, np.log(np.maximum(t, 1e-300)), math.log(e) + 0.5 * (t**2 / e**2 - 1))
    return float(out.sum())


def _objective(sv: np.ndarray, rows: np.ndarray, eps: float, delta: float) -> float:
    """``F_{eps,delta}`` from the singular values and the row norms."""
    return eps**2 * _f_smooth(sv, eps) + delta**2 * _f_smooth(rows, delta)


def _objective_scaled(sv: np.ndarray, rows: np.ndarray, eps: float, delta: float,
                      e: int) -> float:
    """``F_{eps,delta}`` of ``2**e X`` from the quantities of ``X``: ``f_{ce}(ct) = log c
    + f_e(t)`` gives ``F(cX) = c^2 (F(X) + log c (eps^2 #sv + delta^2 #rows))``, without
    the underflow of ``eps^2`` at the scale of the data (inf where ``F`` overflows)."""
    F = _objective(sv, rows, eps, delta)
    if e == 0:
        return F
    F += e * math.log(2.0) * (eps**2 * sv.size + delta**2 * rows.size)
    with np.errstate(over="ignore"):
        return float(np.ldexp(F, 2 * e))


def irls_lrrs(
    problem: Any,
    rank: int | None = None,
    s: int | None = None,
    *,
    y: Any = None,
    shape: tuple[int, int] | None = None,
    max_iter: int = 200,
    tol: float = 1e-9,
    epsmin: float = 1e-14,
    weights: str = "simirls",
    stop_on_delta_floor: bool = True,
    ls_solver: str = "auto",
    res_tol: float | str | None = "auto",
    callback: Callable[[int, np.ndarray], Any] | None = None,
) -> Result:
    """Recover a row-sparse, low-rank matrix by IRLS-LRRS (Kuemmerle & Maly, Algorithm 1).

    0. Linearly dependent measurements (``m > n1 n2``, repeated or zero rows of ``Phi``)
       make every weighted system singular. When ``Phi Phi^H`` is singular or
       ill-conditioned (reciprocal condition below 1e-10), a column-pivoted QR of
       ``Phi^H`` keeps a maximal independent subset of the measurements, and ``y`` is
       replaced by its orthogonal projection onto the range of ``Phi``: exact data are
       unchanged, noisy repeated measurements are averaged (the least-squares fit), and
       the constraint below becomes ``Phi(X) = P y``. ``info["independent_rows"]`` and
       ``info["range_residual"]`` (``||y - P y|| / ||y||``) report it, the message too.
    1. Start from the minimum-norm solution ``X^0 = Phi^H (Phi Phi^H)^-1 y``,
       ``eps = delta = inf``.
    2. Smoothing: ``delta_k = max(min(delta_{k-1}, rho_{s+1}(X^k)), epsmin)`` (the
       ``(s+1)``-th largest row norm) and ``eps_k = max(min(eps_{k-1}, sigma_{r+1}(X^k)),
       epsmin)``.
    3. Weights at ``X^k`` (:func:`lrrs_weights`).
    4. ``X^{k+1} = argmin <X, W_k X> s.t. Phi(X) = y`` via the tangent-space Woodbury
       solve (:func:`lrrs_weighted_ls`).
    5. Stop when ``||X^{k+1} - X^k||_F / ||X^{k+1}||_F < tol``, when ``delta`` reaches
       ``epsmin`` (the iterate is ``s``-row-sparse to machine precision; only when
       ``s < n1``), when the weighted system turns singular because the weights saturate
       (``eps`` and ``delta`` below ``1e-7 sigma_1(X)``: the iterate is structured to
       working precision; the authors' code also ends on this; never without any
       structure, ``rank >= min(n1, n2)`` and ``s = n1``, where both are at ``epsmin``
       from the start), or after ``max_iter`` steps.

    Parameters
    ----------
    problem : Problem or operator
        A matrix problem (e.g. :func:`~overparam.problems.lrrs_problem`), or a matrix
        operator / dense ``m x (n1 n2)`` array (row-major ``vec``; also a scipy.sparse
        matrix or a SciPy ``LinearOperator``, materialized) with ``y`` and ``shape``.
    rank, s : int, optional
        Rank and row-sparsity *guesses* (may exceed the truth: misspecification is
        supported). Default: ``problem.info["rank"]`` and ``problem.info["s"]``
        (``s = n1``, no row sparsity, when the problem does not say).
    y : array, optional
        Measurements (only with an operator as first argument).
    shape : tuple of int, optional
        ``(n1, n2)`` when the operator does not carry ``matrix_shape``.
    max_iter : int
        Weighted least-squares steps (``N0``, default 200; 0 returns the start
        ``X^0 = Phi^H (Phi Phi^H)^-1 y`` with status ``max_iter``).
    tol : float
        Tolerance on the relative change (default 1e-9; the paper's experiments use 1e-10).
    epsmin : float
        Floor of ``eps`` and ``delta`` (default 1e-14), *relative* to the size of the
        data: the floor used is ``epsmin ||y|| sqrt(n1 n2) / ||Phi||_F``
        (:meth:`~overparam.problems.structured.MatrixMeasurements.signal_scale`, an
        estimate of ``||X*||_F``; ``info["epsmin"]``), so that rescaling ``y`` or ``Phi``
        rescales the iterates and changes nothing else (the run itself is made on ``y``
        divided by a power of two near that size, so that no weight or norm under- or
        overflows; equivariant from 1e-200 to 1e200). For the operators of
        :func:`~overparam.problems.lrrs_problem` and the paper's unit-norm truths this is
        the authors' absolute ``1e-14`` up to the spread of ``||y||`` around ``||X*||_F``
        (about 5% at ``m = 1125``, 15% at ``m = 168``).
    weights : {"simirls", "matrixirls"}
        Weight variant (module docstring): the authors' code (published figures) or the
        low-rank-only IRLS / the paper's formula.
    stop_on_delta_floor : bool
        Stop when ``delta`` hits ``epsmin`` (the authors' rule). It looks at the row
        sparsity only: with misspecified guesses it can (rarely) end a run whose iterate
        is not yet of rank ``r``; ``False`` lets those continue.
    ls_solver : {"auto", "cholesky", "qr"}
        How the weighted least-squares step is solved (always through the tangent-space
        Woodbury structure): Cholesky of the ``m x m`` system ``Phi W^-1 Phi^H``
        (fastest), a QR factorization of ``(Phi W^-1/2)^H`` (accurate to
        ``cond(Phi W^-1/2)`` instead of its square; materializes a rank-one operator), or
        ``"auto"``: Cholesky, and QR when that system is numerically singular or its
        solution violates ``Phi(X) = y`` by more than 1e-11 relative (the last quadratic
        steps).
    res_tol : float, "auto" or None
        Every iterate interpolates ``y``, so a stop (any of the rules of step 5) only
        means a solution when the iterate is also rank-``r`` and ``s``-row-sparse. On small
        instances near the transition the smoothing parameters can stall with the
        iterate far from that (``sigma_{r+1} / sigma_1`` up to 0.5, error 1.3 while the
        truth is feasible): the run is then STAGNATED, not CONVERGED, when the best
        structured approximation of the iterate (the ``s`` rows of largest norm, truncated
        to rank ``r``) misses ``y`` by more than ``res_tol`` (relative). ``"auto"``
        (default): ``1e-6``, plus twice the relative noise level ``sigma sqrt(m) / ||y||``
        for a Problem that records its noise ``sigma`` (no check when it is NaN);
        ``None``: no check (the authors' code).
    callback : callable, optional
        ``callback(k, X)`` after each iterate (``k = 0`` is the start).

    Returns
    -------
    Result
        ``x`` the ``n1 x n2`` matrix; ``status`` CONVERGED (tolerance, delta floor or
        saturated weights, at an iterate that is structured to ``res_tol``), STAGNATED
        (one of those rules at an iterate that is not), MAX_ITER, or NUMERICAL_ERROR
        (singular weighted system away from saturation; the previous iterate is
        returned); ``n_iter`` the number of
        weighted steps; ``fun`` the final smoothed objective ``F_{eps,delta}``; ``trace``
        per iterate (``iter``, ``eps``, ``delta``, ``rank`` (``r_k``), ``row_sparsity``
        (rows above ``delta``), ``rel_change``, ``objective`` and, when the problem knows
        the truth, ``rel_error``);
        ``info["stop"]`` names the rule that stopped the run; ``info["epsmin"]`` the
        absolute floor, ``info["independent_rows"]`` and ``info["range_residual"]`` the
        reduction of dependent measurements (step 0), ``info["rel_residual"]``
        ``||Phi(X) - y|| / ||y||`` against the data as given, ``info["structured_residual"]``
        that of the structured approximation (against the independent measurements) and
        ``info["res_tol"]``.

    Examples
    --------
    >>> from overparam.problems import lrrs_problem
    >>> p = lrrs_problem(64, 10, 2, 8, oversampling=3.0, seed=0)
    >>> res = irls_lrrs(p, tol=1e-10)
    >>> bool(np.linalg.norm(res.x.reshape(-1) - p.x_true) < 1e-8)
    True
    """
    t0 = time.perf_counter()
    if callback is not None and not callable(callback):  # (it failed after the start)
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    meas, yv, n1, n2, rank, s, Xt = lrrs_inputs(problem, y, shape, rank, s)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    tol = check_positive(tol, "tol")
    epsmin = check_positive(epsmin, "epsmin")
    # any truthy value (e.g. the string "False" of a config file) kept the rule on
    stop_on_delta_floor = check_bool(stop_on_delta_floor, "stop_on_delta_floor")
    if weights not in WEIGHT_VARIANTS:
        raise ValueError(f"weights must be one of {WEIGHT_VARIANTS}, got {weights!r}")
    if ls_solver not in ("auto", "cholesky", "qr"):
        raise ValueError(f"ls_solver must be 'auto', 'cholesky' or 'qr', got {ls_solver!r}")
    fit_tol = _fit_tolerance(problem, yv, res_tol)
    # epsmin is relative to the size of the data: an absolute floor makes the delta-floor
    # stop fire early (and the rank count r_k wrong) for data of small norm
    ref = meas.signal_scale(yv)
    # Run on data scaled by a power of two 2**-e ~ 1 / ref (exact, so the run is that of
    # unit-scale data bit for bit; e = 0 within sqrt(2) of unit scale, where nothing
    # changes) and scale X, eps, delta, the objective back on output: at 1e-150 the row weights
    # delta^-2 (delta ~ 1e-164) overflowed and the first step ended in a SciPy
    # ValueError; residual and error norms underflowed to 0 below ~1e-154.
    e = nearest_pow2_exponent(ref)
    # and on Phi / 2**f with 2**f ~ its root-mean-square gain (y / 2**f with it: the
    # weighted least-squares solutions do not change): the Gram matrices Phi W^-1 Phi^H
    # under- or overflowed for Phi ~ 1e+-200 (NUMERICAL_ERROR, error 1.0)
    f = nearest_pow2_exponent(meas.fro_norm / math.sqrt(n1 * n2))
    meas = meas.rescaled(f)
    yv = ldexp_array(yv, -(e + f))
    Xt = None if Xt is None else ldexp_array(Xt, -e)
    epsmin = epsmin * math.ldexp(ref, -e) if ref > 0 else epsmin
    n_qr = 0

    rec: dict[str, list] = {k: [] for k in ("iter", "eps", "delta", "rank", "row_sparsity",
                                           "rel_change", "objective", "rel_error")}

    def record(k, X, eps, delta, rk, change, sv):
        rows = np.linalg.norm(X, axis=1)
        rec["iter"].append(k)
        rec["eps"].append(math.ldexp(eps, e))               # in the units of the data
        rec["delta"].append(math.ldexp(delta, e))
        rec["rank"].append(rk)
        rec["row_sparsity"].append(int(np.count_nonzero(rows > delta + epsmin)))
        rec["rel_change"].append(change)
        rec["objective"].append(_objective_scaled(sv, rows, eps, delta, e)
                                if np.isfinite(eps) else np.nan)
        rec["rel_error"].append(np.nan if Xt is None else rel_fro_error(X, Xt))

    status, stop = Status.MAX_ITER, "max_iter"
    meas0, y0 = meas, yv                                    # as given (for rel_residual)
    # the start X^0 = Phi^H (Phi Phi^H)^-1 y, whose Gram matrix also tells whether Phi has
    # full row rank; if not (or barely), reduce to independent measurements once
    reduction = None
    try:
        factored = _factor_gram(meas.gram(np.ones(n1)), lu_fallback=False)
        if _gram_rcond(factored) < _GRAM_RCOND:
            raise SingularSystemError("ill-conditioned Phi Phi^H")
    except SingularSystemError:
        meas, yv, reduction = _independent_rows(meas, yv)
        factored = None
    try:
        X = meas.adjoint(_solve_gram(meas.gram(np.ones(n1)), yv) if factored is None
                         else _solve_gram(None, yv, factored=factored))
    except SingularSystemError as err:
        return Result(x=np.zeros((n1, n2), dtype=meas.dtype), status=Status.NUMERICAL_ERROR,
                      message=f"{Status.NUMERICAL_ERROR.advice} ({err})",
                      wall_time=time.perf_counter() - t0, info={"stop": "singular"})
    eps = delta = math.inf
    k, change = 0, math.nan
    ynorm = max(safe_norm(yv), 1e-300)
    res_prev = safe_norm(meas.forward(X) - yv) / ynorm
    if callback is not None:
        callback(0, ldexp_array(X, e))
    while True:
        svd = np.linalg.svd(X, full_matrices=False)
        sv = svd[1]
        rows = np.sort(np.linalg.norm(X, axis=1))[::-1]
        eps = max(min(eps, float(sv[rank]) if rank < sv.size else 0.0), epsmin)
        delta = max(min(delta, float(rows[s]) if s < n1 else 0.0), epsmin)
        rk = int(np.count_nonzero(sv > eps + epsmin))
        record(k, X, eps, delta, rk, change, sv)
        if k >= 1 and change < tol:
            status, stop = Status.CONVERGED, "tol"
            break
        if stop_on_delta_floor and s < n1 and delta <= epsmin:
            status, stop = Status.CONVERGED, "delta_floor"
            break
        if k >= max_iter:
            break
        Wt = lrrs_weights(X, eps, delta, weights=weights, epsmin=epsmin, svd=svd)
        try:
            try:
                Xn = _weighted_ls(meas, yv, Wt, "qr" if ls_solver == "qr" else "cholesky")
            except SingularSystemError:
                if ls_solver != "auto":
                    raise
                Xn = _weighted_ls(meas, yv, Wt, "qr")
                n_qr += 1
        except SingularSystemError as err:
            # The weighted system loses solvability when the weights saturate: eps and delta
            # far below the scale of X mean X is rank-r and s-row-sparse to working
            # precision (the authors' code ends its loop on this warning too). Anywhere
            # else it is a numerical failure.
            at_floor = _saturated(eps, delta, float(sv[0]), rank, s, n1, n2)
            status = Status.CONVERGED if at_floor else Status.NUMERICAL_ERROR
            stop = "saturated" if at_floor else f"singular ({err})"
            break
        if not np.all(np.isfinite(Xn)):
            status, stop = Status.NUMERICAL_ERROR, "non-finite iterate"
            break
        res_n = safe_norm(meas.forward(Xn) - yv) / ynorm
        if res_n > max(_RES_ACCEPT, 100.0 * res_prev) and ls_solver == "auto":
            # the Cholesky step violates Phi(X) = y: an unreliable solve; retry by QR
            try:
                Xq = _weighted_ls(meas, yv, Wt, "qr")
                res_q = safe_norm(meas.forward(Xq) - yv) / ynorm
                if res_q < res_n:
                    Xn, res_n = Xq, res_q
                    n_qr += 1
            except SingularSystemError:
                pass
        if res_n > max(_RES_ACCEPT, 100.0 * res_prev):
            # Both solves violate the constraint. Near saturation (see above) this is the
            # end of the attainable accuracy: keep the previous iterate.
            at_floor = _saturated(eps, delta, float(sv[0]), rank, s, n1, n2)
            status = Status.CONVERGED if at_floor else Status.NUMERICAL_ERROR
            stop = "saturated" if at_floor else (
                f"inaccurate weighted solve (relative residual {res_n:.1e})")
            break
        res_prev = res_n
        k += 1
        change = safe_norm(Xn - X) / max(safe_norm(Xn), 1e-300)
        X = Xn
        if callback is not None:
            callback(k, ldexp_array(X, e))
    trace = {key: np.asarray(v) for key, v in rec.items()}
    if Xt is None:
        del trace["rel_error"]
    fun = float(trace["objective"][-1]) if trace["objective"].size else math.nan
    # the structured approximation's fit (on the independent, projected data: the part of
    # y outside the range of Phi is reported by range_residual)
    struct_res = (safe_norm(meas.forward(_hard(X, s, rank)[0]) - yv)
                  / max(safe_norm(yv), 1e-300))
    if status is Status.CONVERGED and not struct_res <= fit_tol:
        # the smoothing stalled at an interpolating iterate that is not rank-r and
        # s-row-sparse: a stationary point of F_{eps,delta}, not a solution
        status = Status.STAGNATED
        msg = _not_a_solution(struct_res, fit_tol, f"the rank-{rank}, {s}-row-sparse "
                              f"approximation of X (stop: {stop})")
    elif stop == "max_iter":
        # not status.advice: its hints on init_scale and step='auto' are for GD
        msg = (f"The iteration limit max_iter = {max_iter} was reached before the relative "
               f"change fell below tol = {tol:g}: raise max_iter or loosen tol."
               + (" (max_iter = 0 returns the start X^0 = Phi^H (Phi Phi^H)^-1 y.)"
                  if max_iter == 0 else ""))
    else:
        msg = (status.advice if stop == "tol" else f"{status.advice} (stop: {stop})")
    if reduction is not None:
        msg = f"{msg} Note: {reduction.note}."
    # y0 (scaled like yv) is the data as given, before any reduction
    rel_res = safe_norm(meas0.forward(X) - y0) / max(safe_norm(y0), 1e-300)
    return Result(x=ldexp_array(X, e), status=status, message=msg, n_iter=k, fun=fun,
                  trace=trace, wall_time=time.perf_counter() - t0,
                  info={"stop": stop, "rank": rank, "s": s, "weights": weights,
                        "qr_steps": n_qr,
                        "eps": math.ldexp(eps, e), "delta": math.ldexp(delta, e),
                        "epsmin": math.ldexp(epsmin, e),
                        "independent_rows": meas.m,
                        "range_residual": 0.0 if reduction is None
                        else reduction.range_residual,
                        "rel_residual": rel_res, "structured_residual": struct_res,
                        "res_tol": fit_tol})


def irls_lrrs_vec(problem: Problem, *, rank: int | None = None, s: int | None = None,
                  fac_r: float = 1.0, fac_s: float = 1.0, **kwargs: Any) -> Result:
    """:func:`irls_lrrs` for the method registry: ``x = vec(X)``; the guesses default to
    ``floor(fac_r * rank)`` and ``floor(fac_s * s)`` of the problem (misspecification),
    capped at ``min(n1, n2)`` and ``n1``.

    Parameters
    ----------
    problem : Problem
        A matrix problem (e.g. :func:`~overparam.problems.lrrs_problem`).
    rank, s : int, optional
        Rank and row-sparsity guesses, used unchanged when given (default: from the
        problem's ``info``, see :func:`~overparam.problems.structured.lrrs_guesses`).
    fac_r, fac_s : float, optional
        Factors (> 0, default 1) on the recorded rank and row sparsity.
    **kwargs
        Passed to :func:`irls_lrrs`.

    Returns
    -------
    Result
        As from :func:`irls_lrrs`, with ``x`` flattened to ``vec(X)`` (row-major).
    """
    rank, s = lrrs_guesses(problem, rank, s, fac_r, fac_s)
    res = irls_lrrs(problem, rank, s, **kwargs)
    res.x = np.asarray(res.x).reshape(-1)
    return res
