"""What the solvers return when they fail: projected_gradient (extreme warm starts, a
diverging run), hadamard_limit on infeasible problems, nnls(method="reparam") failures
caused by the init_scale."""
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from scipy.sparse.linalg import aslinearoperator

from overparam import Status
from overparam.baselines import projected_gradient
from overparam.limits import hadamard_limit
from overparam.problems.operators import Operator
from overparam.solvers import nnls

_hl = sys.modules["overparam.limits.hadamard"]


def _data(m, n, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)), rng.standard_normal(m) * scale


@pytest.mark.parametrize("e", [300, 298])
def test_pg_extreme_warm_start_converges(e):
    # before: x0 / max|y| overflowed: x0 = 1e300 (y ~ 1e-10) returned x = inf as
    # "diverged" after 0 steps (with a RuntimeWarning); x0 = 1e298 stopped after 0 steps
    # as "max_iter" (the loop's finiteness test sums x: 5e308 = inf), x = x0
    A, y = _data(8, 5, scale=1e-10)
    ref, _ = scipy.optimize.nnls(A, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = projected_gradient(A, y, x0=np.full(5, 10.0**e), gram=False)
    assert r.status is Status.CONVERGED and r.n_iter > 0
    assert np.max(np.abs(r.x - ref)) <= 1e-6 * np.max(np.abs(ref))


class _Inconsistent(Operator):
    """NumPy maps A, JAX maps 3 A: norm2 (from the NumPy maps) is 3x too small, so the
    step 1 / norm2^2 is 9x too long and the iteration blows up."""

    def __init__(self, A):
        self.A, self.shape = A, A.shape

    def matvec(self, x):
        return self.A @ x

    def rmatvec(self, r):
        return self.A.T @ r

    def jax_matvec(self, x):
        return 3.0 * (jnp.asarray(self.A) @ x)

    def jax_rmatvec(self, r):
        return 3.0 * (jnp.asarray(self.A).T @ r)


def test_pg_diverged_returns_last_finite_iterate():
    # before: x = [inf, inf, ...] (kkt NaN) although Status.DIVERGED says "the returned x
    # is the last finite iterate", and the message advised "a smaller step or
    # step='auto'", parameters projected_gradient does not have
    rng = np.random.default_rng(0)
    A = rng.standard_normal((8, 5))
    y = A @ np.abs(rng.standard_normal(5))
    r = projected_gradient(_Inconsistent(A), y)
    assert r.status is Status.DIVERGED
    assert np.all(np.isfinite(r.x)) and np.isfinite(r.info["kkt_rel"])
    assert "step='auto'" not in r.message and "last finite iterate" in r.message


@pytest.mark.parametrize("linop", [False, True])
def test_hadamard_signed_infeasible_cg_returns_projected_limit(linop):
    # before: method="newton-cg" returned x = +-inf (relative residual NaN) as
    # "infeasible", and a LinearOperator input leaked "RuntimeWarning: invalid value
    # encountered in dot". The flow's gradient A^T (A x - y) is that of P y (y projected
    # onto range(A)): x is now the limit for P y, as dense Newton returned already
    A, y = _data(8, 5)
    sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    py = A @ sol
    ref = hadamard_limit(A, py, method="newton")
    assert ref.status is Status.CONVERGED
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = hadamard_limit(aslinearoperator(A) if linop else A, y, method="newton-cg")
    assert r.status is Status.INFEASIBLE
    assert np.max(np.abs(r.x - ref.x)) <= 1e-7 * np.max(np.abs(ref.x))
    # the residual is the least-squares one, relative to ||y||
    assert r.info["relative_residual"] == pytest.approx(
        np.linalg.norm(py - y) / np.linalg.norm(y), rel=1e-8)


def test_hadamard_signed_nonfinite_keeps_last_finite_iterate(monkeypatch):
    # an operator too large to materialise gets no range(A) diagnosis (simulated by a
    # tiny cap): before, x = inf with relative residual NaN, returned without a word
    monkeypatch.setattr(_hl, "_DENSE_FALLBACK_MAX_ENTRIES", 10)
    A, y = _data(8, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = hadamard_limit(aslinearoperator(A), y, method="newton-cg")
    assert r.status is not Status.CONVERGED
    assert np.all(np.isfinite(r.x)) and np.isfinite(r.info["relative_residual"])


def test_hadamard_nonneg_infeasible_returns_nnls_minimizer():
    # before: a Farkas certificate at the first step returned the continuation's start:
    # A = [[2]], y = [-3] gave x = 1.5 (residual 6, worse than x = 0); a HiGHS-confirmed
    # infeasible problem returned the Newton iterate (x_0 = 1e-27 where the minimizer is 0)
    r = hadamard_limit(np.array([[2.0]]), np.array([-3.0]), nonneg=True)
    assert r.status is Status.INFEASIBLE and r.x[0] == 0.0
    assert r.info["relative_residual"] == pytest.approx(1.0, rel=1e-12)
    A, y = _data(8, 5)
    ref, _ = scipy.optimize.nnls(A, y)
    r = hadamard_limit(A, y, nonneg=True)
    assert r.status is Status.INFEASIBLE
    assert np.max(np.abs(r.x - ref)) <= 1e-8 * np.max(np.abs(ref))
    assert r.info["x_status"] == "converged"


def test_nnls_reparam_large_init_scale_names_it():
    # before: depth 3 from init_scale 1e3 (x(0) = 1e9, the solution ~1) stagnated at x = 0
    # and the message blamed "the tolerance ... or y is not reachable"
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 8))
    y = A @ np.abs(rng.standard_normal(8))
    r = nnls(A, y, method="reparam", depth=3, init_scale=1e3, max_iter=2000)
    assert r.status is Status.STAGNATED
    assert "init_scale" in r.message and "tolerance may be below" not in r.message
