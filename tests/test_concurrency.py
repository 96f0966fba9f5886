"""Concurrency, re-entrancy and global state: solvers on threads, estimators under joblib,
the JAX mode a caller may change, solvers called from inside a run, interrupted runs."""
from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import overparam
from overparam.baselines import basis_pursuit
from overparam.baselines import nnls as scipy_nnls
from overparam.dynamics import Constant, gradient_flow
from overparam.models import Hadamard
from overparam.problems import matrix_sensing, sparse_recovery
from overparam.problems.regression import sparse_regression

TIMEOUT = 120  # seconds per future: a deadlock fails instead of hanging the suite


def _nonneg_system(seed: int, m: int = 15, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x = np.zeros(n)
    x[:3] = rng.random(3) + 0.5
    return A, A @ x


# shapes used only by this module (n = 23, 27, 29): the threaded calls compile afresh, so
# concurrent first calls (the compile caches' races) are exercised, not just warm ones
SPARSE = [sparse_recovery(23, 12, 2, seed=s) for s in range(4)]
NONNEG = [_nonneg_system(s, 13, 27) for s in range(4)]
MATRIX = [matrix_sensing(3, 3, 1, 29, seed=s) for s in range(4)]
DIAG = sparse_regression(30, 12, 2, m_test=20, seed=0)

SOLVERS: dict[str, Callable[[int], Any]] = {
    "hadamard_gd": lambda i: overparam.hadamard_gd(SPARSE[i], tol=1e-4, max_iter=1500),
    "hadamard_gd_mirror": lambda i: overparam.hadamard_gd(
        SPARSE[i], step="nesterov@mirror", tol=1e-8, max_iter=1500, record=[0, 7, 1500]),
    "hadamard_gd_batch": lambda i: overparam.hadamard_gd_batch(
        SPARSE[i:] + SPARSE[:i], tol=1e-4, max_iter=800, workers=2, chunk_bytes=1),
    "hadamard_limit": lambda i: overparam.hadamard_limit(SPARSE[i], depth=2 + i % 2),
    "nnls": lambda i: overparam.nnls(*NONNEG[i]),
    "dmf_gd": lambda i: overparam.dmf_gd(MATRIX[i], max_iter=100, record=8),
    "gradient_flow": lambda i: gradient_flow(Hadamard(depth=2, init_scale=1e-2), SPARSE[i],
                                             max_iter=60, tol=1e-3, record=8),
    "basis_pursuit": lambda i: basis_pursuit(SPARSE[i]),
    "scipy_nnls": lambda i: scipy_nnls(*NONNEG[i]),
}


def _key(res: Any) -> Any:
    """What must agree between a threaded and a serial call: x, status, n_iter, trace."""
    if isinstance(res, list):
        return [_key(r) for r in res]
    trace = {k: np.array(v) for k, v in (res.trace or {}).items()}
    return np.array(res.x), res.status, res.n_iter, trace


def _assert_same(got: Any, want: Any) -> None:
    if isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _assert_same(g, w)
        return
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1:3] == want[1:3]
    assert got[3].keys() == want[3].keys()
    for k in want[3]:
        np.testing.assert_array_equal(got[3][k], want[3][k], err_msg=k)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_solvers_on_threads_match_serial(name):
    f = SOLVERS[name]
    # threads first (cold caches), on different problems and then all on the same one
    with ThreadPoolExecutor(4) as pool:
        diff = [pool.submit(f, i) for i in range(4)]
        diff = [_key(fu.result(timeout=TIMEOUT)) for fu in diff]
        same = [pool.submit(f, 1) for _ in range(4)]
        same = [_key(fu.result(timeout=TIMEOUT)) for fu in same]
    serial = [_key(f(i)) for i in range(4)]
    for i in range(4):
        _assert_same(diff[i], serial[i])
        _assert_same(same[i], serial[1])


# -- scikit-learn under joblib -----------------------------------------------------------

def _regression_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 40))
    coef = np.zeros(40)
    coef[:3] = [1.0, -2.0, 0.5]
    return X, X @ coef


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # gd, 2000 steps
@pytest.mark.parametrize("solver", ["limit", "gd"])
def test_cross_val_score_threading_matches_serial(solver):
    from joblib import parallel_backend
    from sklearn.model_selection import KFold, cross_val_score

    X, y = _regression_data()
    est = overparam.HadamardRegressor(solver=solver, max_iter=2000, tol=1e-3)
    cv = KFold(3, shuffle=True, random_state=0)
    serial = cross_val_score(est, X, y, cv=cv, n_jobs=1)
    with parallel_backend("threading"):
        threaded = cross_val_score(est, X, y, cv=cv, n_jobs=2)
    np.testing.assert_array_equal(threaded, serial)
    assert np.all(serial > 0.8)  # fits that recover the planted coefficients


def test_cross_val_score_loky_matches_serial():
    from sklearn.model_selection import KFold, cross_val_score

    X, y = _regression_data()
    est = overparam.HadamardRegressor(solver="limit")
    cv = KFold(3, shuffle=True, random_state=0)
    serial = cross_val_score(est, X, y, cv=cv, n_jobs=1)
    try:
        processes = cross_val_score(est, X, y, cv=cv, n_jobs=2)  # loky: worker processes
    finally:
        # loky keeps its workers for reuse: they would outlive this test (and other tests
        # check that a run leaves no child process behind)
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    np.testing.assert_array_equal(processes, serial)


def test_deep_matrix_completion_threads_match_serial():
    from joblib import Parallel, delayed, parallel_backend

    rng = np.random.default_rng(1)
    masked = []
    for s in range(3):
        M = np.outer(rng.standard_normal(6), rng.standard_normal(5))
        M.reshape(-1)[rng.choice(M.size, 8, replace=False)] = np.nan  # one program for all
        masked.append(M)

    def fit(M):
        est = overparam.estimators.DeepMatrixCompletion(max_iter=200, record=4)
        return est.fit(M).completed_

    serial = [fit(M) for M in masked]
    with parallel_backend("threading"):
        threaded = Parallel(n_jobs=2)(delayed(fit)(M) for M in masked)
    for a, b in zip(threaded, serial):
        np.testing.assert_array_equal(a, b)


# -- global state --------------------------------------------------------------------------

_IMPORT_PROBE = r"""
import warnings, numpy as np
import jax, jax.numpy as jnp
# the dependencies' own import-time filters (SciPy's, scikit-learn's) come first
import scipy.optimize, scipy.sparse, scipy.sparse.linalg, scipy.special, sklearn.linear_model
filters, err = list(warnings.filters), np.geterr()
assert jnp.ones(3).dtype == jnp.float32 and not jax.config.jax_enable_x64
import overparam, overparam.estimators, overparam.limits, overparam.baselines
import overparam.dynamics, overparam.solvers
print(jax.config.jax_enable_x64, jnp.ones(3).dtype)
print([f for f in warnings.filters if f not in filters], np.geterr() == err)
"""


def test_import_changes_only_the_documented_jax_setting():
    out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True,
                         text=True, timeout=TIMEOUT, env={"JAX_PLATFORMS": "cpu",
                                                          "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    # documented (overparam/__init__.py, README): float64 on; nothing else changes
    assert out.stdout.split("\n")[:2] == ["True float64", "[] True"]
    assert "jax_enable_x64" in overparam.__doc__


def _x64_off_runs() -> dict[str, Callable[[], Any]]:
    from overparam.dynamics import diagonal_gd, wn_gd

    p = SPARSE[0]
    h = Hadamard(depth=2, init_scale=1e-2)
    return {
        "hadamard_gd": lambda: overparam.hadamard_gd(p, tol=1e-8, max_iter=600),
        "hadamard_gd_batch": lambda: overparam.hadamard_gd_batch(
            [p, SPARSE[1]], tol=1e-8, max_iter=600, workers=1)[0],
        "gradient_flow": lambda: gradient_flow(h, p, max_iter=100, tol=1e-9),
        "nnls": lambda: overparam.nnls(*NONNEG[0], method="reparam"),
        "dmf_gd": lambda: overparam.dmf_gd(MATRIX[0], max_iter=100, record=8),
        "wn_gd": lambda: wn_gd(p, init_scale=0.5, step=0.05, max_iter=200, tol=1e-9),
        "diagonal_gd": lambda: diagonal_gd(DIAG, step=0.05, max_iter=200),
    }


@pytest.mark.parametrize("name", list(_x64_off_runs()))
def test_solvers_stay_float64_when_the_caller_turns_x64_off(name):
    """A caller may turn float64 off again for its own code (here thread-locally, as
    ``jax.config.update("jax_enable_x64", False)`` does globally): the solvers used to run
    in float32 then, silently (x off by 2e-7 to 1e-4, dmf_gd / nnls stopping at max_iter
    instead of converging)."""
    f = _x64_off_runs()[name]
    want = f()
    with jax.enable_x64(False):
        assert jnp.ones(2).dtype == jnp.float32  # the caller's setting holds around the call
        got = f()
        assert jnp.ones(2).dtype == jnp.float32
    assert got.x.dtype == np.float64
    np.testing.assert_array_equal(got.x, want.x)
    assert (got.status, got.n_iter) == (want.status, want.n_iter)


def test_deep_matrix_completion_stays_float64_when_the_caller_turns_x64_off():
    M = np.outer([1.0, -2.0, 0.5, 1.5], [0.3, 1.0, -1.0, 2.0, 0.7])
    M[[0, 1, 2, 3], [1, 3, 0, 4]] = np.nan
    def fit():
        return overparam.estimators.DeepMatrixCompletion(max_iter=300, record=4).fit(M)

    want = fit().completed_
    with jax.enable_x64(False):
        got = fit().completed_
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


def test_float32_params0_of_a_model_without_abstract_init():
    """The deep matrix factorization's init cannot be traced abstractly, so params0 was
    passed on uncast: a float32 one (e.g. drawn with x64 off) was a carry-type TypeError
    inside the traced loop."""
    from overparam.dynamics.driver import make_config, run_driver
    from overparam.models import DeepMatrixFactorization

    p = MATRIX[0]
    model = DeepMatrixFactorization((3, 3), depth=3, init_scale=1e-2)
    p0 = model.init(None, p.n)
    cfg = make_config(200, 1e-10, 4)
    want, _, _ = run_driver(model, Constant(0.05), p.A, p.y, cfg, params0=p0)
    p32 = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), p0)
    got, _, _ = run_driver(model, Constant(0.05), p.A, p.y, cfg, params0=p32)
    want32, _, _ = run_driver(model, Constant(0.05), p.A, p.y, cfg,
                              params0=jax.tree_util.tree_map(
                                  lambda a: np.asarray(a, np.float64), p32))
    assert got["x"].dtype == np.float64
    np.testing.assert_array_equal(got["x"], want32["x"])
    # and the float32 rounding of the start is all that differs from the float64 run
    np.testing.assert_allclose(got["x"], want["x"], rtol=0, atol=1e-6)


# -- re-entrancy -----------------------------------------------------------------------------

def test_metric_that_calls_a_solver():
    """A metric traced inside the run that itself runs a solver on other data: the nested
    run's compiled call was staged into the outer trace (TracerArrayConversionError)."""
    p, q = SPARSE[0], SPARSE[2]
    inner = overparam.hadamard_gd(q, tol=1e-3, max_iter=200)
    lim = overparam.hadamard_limit(q)

    def to_inner(x):
        return jnp.linalg.norm(x - overparam.hadamard_gd(q, tol=1e-3, max_iter=200).x)

    def to_limit(x):
        return jnp.linalg.norm(x - overparam.hadamard_limit(q).x)

    res = overparam.hadamard_gd(p, tol=1e-4, max_iter=500,
                                metrics={"to_inner": to_inner, "to_limit": to_limit})
    np.testing.assert_allclose(res.trace["to_inner"][-1], np.linalg.norm(res.x - inner.x),
                               rtol=1e-12)
    np.testing.assert_allclose(res.trace["to_limit"][-1], np.linalg.norm(res.x - lim.x),
                               rtol=1e-12)


@dataclass(frozen=True)
class _NestedStep:
    """Constant-step GD on u whose step is set, at trace time, from a nested solver run
    (its n_iter, so that the step depends on the nested run having really happened)."""

    eta: float
    problem: Any

    def __hash__(self) -> int:
        return hash((self.eta, id(self.problem)))

    def init(self, params: Any) -> Any:
        return ()

    def update(self, params, grads, state, ctx):
        inner = overparam.hadamard_gd(self.problem, tol=1e-3, max_iter=100, record=2)
        eta = jnp.asarray(self.eta * inner.n_iter / 100, dtype=jnp.float64)
        return jax.tree_util.tree_map(lambda u, g: u - eta * g, params, grads), state, eta


def test_step_policy_that_calls_a_solver():
    p, q = SPARSE[0], SPARSE[3]
    n_inner = overparam.hadamard_gd(q, tol=1e-3, max_iter=100, record=2).n_iter
    got = overparam.hadamard_gd(p, step=_NestedStep(0.02, q), max_iter=300, tol=1e-12)
    want = overparam.hadamard_gd(p, step=Constant(0.02 * n_inner / 100), max_iter=300,
                                 tol=1e-12)
    np.testing.assert_allclose(got.x, want.x, rtol=0, atol=1e-15)
    assert got.n_iter == want.n_iter


def test_keyboard_interrupt_from_a_callback_leaves_the_next_call_working():
    p = SPARSE[1]
    want = _key(overparam.hadamard_gd(p, tol=1e-4, max_iter=500))

    def at_trace(x):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        overparam.hadamard_gd(p, tol=1e-4, max_iter=500, metrics={"stop": at_trace})

    calls = []

    def host(x):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.float64(0.0)

    def at_run(x):
        return jax.pure_callback(host, jax.ShapeDtypeStruct((), jnp.float64), x)

    # raised in the compiled run: JAX reports it as its own runtime error
    with pytest.raises(BaseException):
        overparam.hadamard_gd(p, tol=1e-4, max_iter=500, record=8, metrics={"stop": at_run})
    assert len(calls) == 3
    # the next calls (here and from another thread: no lock left held) work as before
    _assert_same(_key(overparam.hadamard_gd(p, tol=1e-4, max_iter=500)), want)
    out: dict[str, Any] = {}
    t = threading.Thread(target=lambda: out.update(
        r=overparam.hadamard_gd(p, tol=1e-4, max_iter=500)), daemon=True)
    t.start()
    t.join(TIMEOUT)
    assert not t.is_alive()
    _assert_same(_key(out["r"]), want)


def test_lasso_statuses_and_warning_filters_on_threads():
    # lasso caught ConvergenceWarnings with warnings.catch_warnings, which swaps the
    # process-wide filter list: on 4 threads 4 of 144 statuses were wrong (another call's
    # warning recorded) and ('always', ConvergenceWarning) stayed in the user's filters
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    from overparam.baselines import lasso

    probs = [sparse_recovery(40, 80, 5, seed=s) for s in range(8)]
    jobs = [(p, 2 if i % 2 else 100000) for i, p in enumerate(probs)] * 6
    serial = [lasso(p, alpha=1e-4, max_iter=mi).status for p, mi in jobs]
    assert {s.value for s in serial} == {"converged", "max_iter"}
    before = list(warnings.filters)
    for _ in range(3):
        with ThreadPoolExecutor(4) as ex:
            got = list(ex.map(lambda j: lasso(j[0], alpha=1e-4, max_iter=j[1]).status,
                              jobs))
        assert got == serial
    assert warnings.filters == before
