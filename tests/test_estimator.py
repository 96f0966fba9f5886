"""HadamardRegressor: scikit-learn conventions, recovery, warnings, bad input."""
from __future__ import annotations

import doctest
import os
import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks
from threadpoolctl import threadpool_limits

from overparam import Status
from overparam.baselines import basis_pursuit
from overparam.estimators import HadamardRegressor
from overparam.metrics import relative_error, success
from overparam.problems import sparse_recovery


def planted(n=100, m=40, s=4, nonneg=False, seed=0):
    p = sparse_recovery(n, m, s, nonneg=nonneg, seed=seed)
    return p.A.to_dense(), np.array(p.y), p.x_true


# ------------------------------------------------------------------ scikit-learn checks
# All checks apply. Where no interpolant exists (most of the common test data is
# overdetermined and noisy) fit warns ConvergenceWarning, and the R^2 threshold of
# check_regressors_train is waived by the estimator's ``poor_score`` tag.
@parametrize_with_checks([HadamardRegressor()])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_compatible(estimator, check):
    with threadpool_limits(limits=1):  # tiny problems: BLAS threads only contend
        check(estimator)


@pytest.mark.skipif(not os.environ.get("OVERPARAM_SLOW"),
                    reason="slow (a JIT compilation per data shape); set OVERPARAM_SLOW=1")
def test_sklearn_compatible_gd():
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(HadamardRegressor(solver="gd", max_iter=5000))


def test_params_roundtrip_and_no_work_in_init():
    reg = HadamardRegressor(depth=3, init_scale=1e-4, solver="nonsense", tol=-1)  # no check
    assert reg.get_params()["depth"] == 3 and reg.get_params()["solver"] == "nonsense"
    reg.set_params(solver="gd", tol=1e-6)
    assert clone(reg).get_params() == reg.get_params()
    assert not hasattr(reg, "coef_")
    with pytest.raises(NotFittedError):
        reg.predict(np.ones((2, 3)))


# ---------------------------------------------------------------------------- recovery
@pytest.mark.parametrize("nonneg", [False, True], ids=["signed", "nonneg"])
@pytest.mark.parametrize("depth", [2, 3])
def test_recovers_planted_sparse(nonneg, depth):
    X, y, x_true = planted(nonneg=nonneg, seed=depth)
    # deviation from basis pursuit ~ 1/log(1/a) for L = 2, ~ a^(L-2)... for L >= 3
    init_scale = 1e-6 if depth == 2 else 1e-3
    reg = HadamardRegressor(depth=depth, init_scale=init_scale, nonneg=nonneg)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y)
    assert reg.result_.success and reg.n_iter_ >= 1
    assert reg.coef_.shape == (100,) and reg.intercept_ == 0.0
    assert success(reg.coef_, x_true, tol=1e-3)
    bp = basis_pursuit(X, y, nonneg=nonneg).x
    assert relative_error(reg.coef_, bp) < 1e-3
    np.testing.assert_allclose(reg.predict(X), y, atol=1e-7 * np.linalg.norm(y))
    # negative control: plain least norm (depth 1 limit, large scale) is not sparse
    lstsq = np.linalg.pinv(X) @ y
    assert not success(lstsq, x_true, tol=1e-3)


def test_large_init_scale_is_not_sparse():
    # the implicit bias needs a small initialization: the same check fails at scale 1
    X, y, x_true = planted(seed=5)
    assert success(HadamardRegressor(init_scale=1e-6).fit(X, y).coef_, x_true)
    big = HadamardRegressor(init_scale=1.0).fit(X, y)
    assert big.result_.success and not success(big.coef_, x_true)


def test_gd_solver_approaches_the_limit():
    # a small constant step: GD tracks the gradient flow, whose limit solver="limit" returns
    # (the gap shrinks linearly with the step: ~3e-3 at 0.1/||X||^2, ~9e-4 at 0.03/||X||^2)
    X, y, _ = planted(n=40, m=20, s=2, seed=1)
    step = 0.03 / np.linalg.norm(X, 2) ** 2
    limit = HadamardRegressor(init_scale=0.1).fit(X, y)
    gd = HadamardRegressor(init_scale=0.1, solver="gd", step=step, max_iter=200_000).fit(X, y)
    assert gd.result_.success and gd.n_iter_ > 10 and gd.result_.trace is not None
    assert relative_error(gd.coef_, limit.coef_) < 2e-3
    # negative control: the limit for another initialization scale is farther away
    other = HadamardRegressor(init_scale=0.2).fit(X, y)
    assert relative_error(gd.coef_, other.coef_) > 1e-2


def test_fit_intercept():
    X, y, x_true = planted(seed=7)
    y_shift = y + 3.0
    reg = HadamardRegressor(init_scale=1e-6, fit_intercept=True).fit(X, y_shift)
    assert reg.intercept_ == pytest.approx(3.0, abs=1e-6)
    assert success(reg.coef_, x_true, tol=1e-3)
    np.testing.assert_allclose(reg.predict(X), y_shift, atol=1e-6)
    # negative control: without the intercept the shift is absorbed into coef
    no_icpt = HadamardRegressor(init_scale=1e-6).fit(X, y_shift)
    assert not success(no_icpt.coef_, x_true, tol=1e-3)


def test_pipeline_and_dataframe_like_inputs():
    X, y, x_true = planted(seed=8)
    pipe = make_pipeline(HadamardRegressor(init_scale=1e-6)).fit(X.tolist(), y.tolist())
    assert success(pipe[-1].coef_, x_true)
    assert pipe.predict(X[:3]).shape == (3,)


# ---------------------------------------------------------------------------- warnings
def test_warns_when_no_interpolant():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 5)), rng.standard_normal(30)
    with pytest.warns(ConvergenceWarning, match="did not converge: status infeasible"):
        reg = HadamardRegressor().fit(X, y)
    assert reg.result_.status is Status.INFEASIBLE
    assert np.all(np.isfinite(reg.coef_))


def test_warns_on_iteration_cap():
    X, y, _ = planted(n=40, m=20, s=2, seed=1)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        reg = HadamardRegressor(solver="gd", max_iter=10).fit(X, y)
    assert reg.n_iter_ == 10 and reg.result_.status is Status.MAX_ITER


def test_warns_when_no_nonneg_solution():
    rng = np.random.default_rng(1)
    X = np.abs(rng.standard_normal((5, 20)))
    y = -X @ np.abs(rng.standard_normal(20))
    with pytest.warns(ConvergenceWarning):
        HadamardRegressor(nonneg=True).fit(X, y)
    with warnings.catch_warnings():  # the signed model interpolates it
        warnings.simplefilter("error", ConvergenceWarning)
        HadamardRegressor().fit(X, y)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, err, match",
    [
        (dict(solver="newton"), ValueError, "solver"),
        (dict(depth=0), ValueError, "depth"),
        (dict(depth=1), ValueError, "depth >= 2"),
        (dict(depth=2.5), TypeError, "depth"),
        (dict(init_scale=0.0), ValueError, "init_scale"),
        (dict(init_scale=np.nan), ValueError, "init_scale"),
        (dict(max_iter=0), ValueError, "max_iter"),
        (dict(tol=-1.0), ValueError, "tol"),
        (dict(nonneg="yes"), TypeError, "nonneg"),
        (dict(fit_intercept=None), TypeError, "fit_intercept"),
        (dict(solver="gd", step=-0.1), ValueError, "step"),
        (dict(solver="gd", step="fast"), ValueError, "step"),
    ],
)
def test_bad_params_raise_in_fit(params, err, match):
    X, y, _ = planted(n=20, m=10, s=2)
    reg = HadamardRegressor(**params)  # accepted here: sklearn validates in fit
    with pytest.raises(err, match=match):
        reg.fit(X, y)


def test_bad_data():
    X, y, _ = planted(n=20, m=10, s=2)
    reg = HadamardRegressor()
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reg.fit(Xn, y)
    yi = y.copy()
    yi[1] = np.inf
    with pytest.raises(ValueError, match="infinity|inf"):
        reg.fit(X, yi)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.fit(X, y[:-1])
    with pytest.raises(ValueError, match="0 sample"):
        reg.fit(X[:0], y[:0])
    with pytest.raises(TypeError, match="[Ss]parse"):
        reg.fit(scipy.sparse.csr_matrix(X), y)
    reg.fit(X, y)
    with pytest.raises(ValueError, match="features"):
        reg.predict(X[:, :5])
    with pytest.raises(ValueError, match="2D array"):
        reg.predict(X[0])


def test_docstring_examples():
    import overparam.estimators.hadamard as mod

    out = doctest.testmod(mod)
    assert out.attempted > 0 and out.failed == 0
