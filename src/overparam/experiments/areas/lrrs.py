"""Registry entries of the lrrs area: simultaneously row-sparse and low-rank recovery.

* generator ``lrrs_problem``: :func:`overparam.problems.lrrs_problem` (dense Gaussian,
  Gaussian rank-one or Fourier rank-one measurements; ``m`` or ``oversampling``; ``snr``);
* methods ``irls_lrrs``, ``rspf``, ``riem_adaiht`` (matrix problems; the guesses of rank and
  row sparsity default to the truth times ``fac_r`` / ``fac_s``, the paper's
  misspecification);
* metrics ``lrrs_rel_error`` and ``lrrs_recovered`` (relative Frobenius error of the
  solver's matrix, complex-aware: the Fourier rank-one measurements are complex and so are
  the iterates), ``iter_to_tol`` (first iteration whose recorded relative error is below
  ``recovery_tol``; NaN if never) and ``best_rel_error`` (smallest recorded error).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..generators import GeneratorEntry, register_generator
from ..measures import MetricEntry, register_metric
from ..methods import MethodEntry, register

_GUESS = {"rank": "int", "s": "int", "fac_r": "float", "fac_s": "float"}

register_generator(GeneratorEntry(
    "lrrs_problem", "overparam.problems.structured:lrrs_problem",
    {"n1": "int", "n2": "int", "rank": "int", "s": "int", "m": "int",
     "oversampling": "float", "operator": "str", "snr": "float",
     "matrix_free": "bool|str"},
    required=("n1", "n2", "rank", "s"), one_of=(("m", "oversampling"),),
    choices=(("operator", ("gaussian", "gaussian_rank_one", "fourier_rank_one")),),
    kinds=("matrix", "vector"),
    minimum=(("n1", 1), ("n2", 1), ("rank", 1), ("s", 1), ("m", 1))))

register(MethodEntry(
    "irls_lrrs", "overparam.solvers.lrrs:irls_lrrs_vec",
    dict(_GUESS, max_iter="int", tol="float", epsmin="float", weights="str",
         stop_on_delta_floor="bool", ls_solver="str", res_tol="float|str"),
    problems="matrix",
    description="IRLS for row-sparse and low-rank matrices (Kuemmerle & Maly 2023)"))
register(MethodEntry(
    "rspf", "overparam.baselines.lrrs:rspf_vec",
    dict(_GUESS, max_iter="int", inner_max_iter="int", tol="float", htp_stop="str",
         res_tol="float|str"),
    problems="matrix",
    description="rank-r sparse power factorization with HTP (Lee, Wu & Bresler 2018)"))
register(MethodEntry(
    "riem_adaiht", "overparam.baselines.lrrs:riem_adaiht_vec",
    dict(_GUESS, max_iter="int", tol="float", step0="float", armijo="float",
         res_tol="float|str"),
    problems="matrix",
    description="adaptive Riemannian IHT for row-sparse low-rank matrices "
                "(Eisenmann et al. 2023)"))


def _complex_rel_error(problem: Any, result: Any) -> float:
    x = np.asarray(result.x).reshape(-1)
    xt = np.asarray(problem.x_true).reshape(-1)
    if not np.all(np.isfinite(x)):
        return math.nan
    if x.shape != xt.shape:
        # a size-1 (or otherwise broadcastable) estimate was broadcast against the truth,
        # giving a silently wrong error
        raise ValueError(f"shape mismatch: the estimate has {x.size} entries, the true "
                         f"matrix {xt.size}")
    return float(np.linalg.norm(x - xt) / max(np.linalg.norm(xt), 1e-300))


def _lrrs_rel_error(problem, result, ref, tol):
    return _complex_rel_error(problem, result)


def _lrrs_recovered(problem, result, ref, tol):
    # a diverged (non-finite) estimate has not recovered the matrix: 0, as the core
    # ``recovered`` metric; a NaN would drop the trial from the success rate
    err = _complex_rel_error(problem, result)
    return 0.0 if math.isnan(err) else float(err < tol)


def _iter_to_tol(problem, result, ref, tol):
    tr = result.trace or {}
    err = np.asarray(tr.get("rel_error", []), dtype=float)
    it = np.asarray(tr.get("iter", np.arange(err.size)))
    hit = np.flatnonzero(err < tol)
    return float(it[hit[0]]) if hit.size else math.nan


def _best_rel_error(problem, result, ref, tol):
    err = np.asarray((result.trace or {}).get("rel_error", []), dtype=float)
    # an all-NaN trace (a diverged run) warned "All-NaN slice encountered"
    return float(np.nanmin(err)) if np.any(~np.isnan(err)) else math.nan


for _entry in (
    MetricEntry("lrrs_rel_error", _lrrs_rel_error, needs_truth=True, takes_result=True,
                description="||X - X*||_F / ||X*||_F of the solver's (possibly complex) "
                            "matrix"),
    MetricEntry("lrrs_recovered", _lrrs_recovered, needs_truth=True, takes_result=True,
                if_not_finite=0.0,
                description="1 if lrrs_rel_error < recovery_tol (the paper: 1e-4)"),
    MetricEntry("iter_to_tol", _iter_to_tol, needs_truth=True, takes_result=True,
                description="first iteration whose traced relative error is below "
                            "recovery_tol (NaN if never)"),
    MetricEntry("best_rel_error", _best_rel_error, needs_truth=True, takes_result=True,
                description="smallest relative error along the solver's trace"),
):
    register_metric(_entry)
