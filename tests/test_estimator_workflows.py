"""The estimators inside scikit-learn workflows: clone, grid search, pipelines, pandas,
pickling in a fresh process, refits, input conversions; the functional solvers as oracles."""
from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from overparam import hadamard_gd, hadamard_limit
from overparam.dynamics.steps import Nesterov
from overparam.estimators import DeepMatrixCompletion, HadamardRegressor


def planted(n=30, m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, m))
    coef = np.zeros(m)
    coef[[1, 5, 9]] = [1.0, -2.0, 0.5]
    return X, X @ coef, coef


# ------------------------------------------------------------------------ step policies
@pytest.mark.parametrize("step", ["nesterov@mirror", Nesterov(space="mirror", depth=2)],
                         ids=["string", "object"])
def test_gd_accepts_the_step_policies_hadamard_gd_accepts(step):
    # the estimator let only "auto" through of the policy strings hadamard_gd documents
    # (ValueError "step must be 'auto', a positive float or a step policy, got
    # 'nesterov@mirror'"), so a grid over steps failed. Mirror-space steps converge to the
    # flow's limit whatever the step sizes: hadamard_limit is the oracle
    X, y, _ = planted(n=20, m=40)
    reg = HadamardRegressor(solver="gd", step=step, init_scale=1e-2, max_iter=20_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.fit(X, y)
    same = hadamard_gd(X, y, step=step, init_scale=1e-2, max_iter=20_000)
    np.testing.assert_array_equal(reg.coef_, np.asarray(same.x))
    limit = hadamard_limit(X, y, init_scale=1e-2).x
    np.testing.assert_allclose(reg.coef_, limit, atol=1e-4)


def test_bad_step_policy_string_is_refused_before_validation():
    X, y, _ = planted(n=20, m=40)
    reg = HadamardRegressor(solver="gd", step="nesterov@nowhere")
    with pytest.raises(ValueError, match="step"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")
    with pytest.raises(TypeError, match="step"):
        HadamardRegressor(solver="gd", step=object()).fit(X, y)


def test_grid_search_over_solver_and_step_policies_in_parallel():
    X, y, _ = planted(n=20, m=40)
    grid = dict(depth=[2, 3], init_scale=[1e-1, 1e-5])
    # n_jobs=2 runs the fits in worker processes: the same scores as in this one
    one = GridSearchCV(HadamardRegressor(), grid, cv=3, n_jobs=1, error_score="raise")
    two = GridSearchCV(HadamardRegressor(), grid, cv=3, n_jobs=2, error_score="raise")
    one.fit(X, y)
    try:
        two.fit(X, y)
    finally:
        # loky keeps its workers for reuse: they would outlive this test (and the engine's
        # tests kill and count this process's children)
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    # (workers may run BLAS on another thread count: equal up to the solver's tolerance)
    np.testing.assert_allclose(two.cv_results_["mean_test_score"],
                               one.cv_results_["mean_test_score"], rtol=0, atol=1e-8)
    assert one.best_params_["init_scale"] == 1e-5 and one.best_score_ > 0.99
    # the refitted best estimator is the functional limit on all the data
    best = one.best_estimator_
    ref = hadamard_limit(X, y, depth=best.depth, init_scale=best.init_scale)
    np.testing.assert_allclose(best.coef_, ref.x, rtol=0, atol=1e-8)
    # a grid over gd step policies (policy strings were refused before the fit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # gd at max_iter: expected
        gd = GridSearchCV(HadamardRegressor(solver="gd", init_scale=1e-2, max_iter=2000),
                          dict(step=["auto", "nesterov@mirror"]), cv=2,
                          error_score="raise").fit(X, y)
    assert np.all(np.isfinite(gd.cv_results_["mean_test_score"]))


def test_clone_set_params_refit_on_another_shape_and_repr_roundtrip():
    X, y, _ = planted()
    reg = HadamardRegressor(depth=3, init_scale=1e-4, solver="limit", tol=1e-9).fit(X, y)
    twin = clone(reg)
    assert twin.get_params() == reg.get_params() and not hasattr(twin, "coef_")
    back = eval(repr(reg), {"HadamardRegressor": HadamardRegressor})
    assert back.get_params() == reg.get_params()
    # set_params then refit on fewer columns: every fitted attribute follows
    reg.set_params(depth=2, init_scale=1e-6).fit(X[:, :40], y)
    assert reg.n_features_in_ == 40 == reg.coef_.shape[0]
    np.testing.assert_array_equal(reg.coef_, hadamard_limit(X[:, :40], y, depth=2,
                                                            init_scale=1e-6).x)
    with pytest.raises(ValueError, match="40 features"):
        reg.predict(X)


def test_pipeline_transformed_target_and_cross_val_score():
    X, y, coef = planted()
    pipe = make_pipeline(StandardScaler(), HadamardRegressor(init_scale=1e-6,
                                                             fit_intercept=True))
    ttr = TransformedTargetRegressor(pipe, transformer=StandardScaler())
    ttr.fit(X, 5.0 * y + 3.0)
    # scaling y by 1/sd and X columns by 1/sd_j keeps the planted support: back in the
    # original units the coefficients are the planted ones
    reg = ttr.regressor_[-1]
    sx, sy = ttr.regressor_[0].scale_, ttr.transformer_.scale_[0]
    np.testing.assert_allclose(reg.coef_ / sx * sy, 5.0 * coef, atol=1e-5)
    scores = cross_val_score(make_pipeline(StandardScaler(), HadamardRegressor(
        init_scale=1e-6, fit_intercept=True)), X, y, cv=3)
    assert scores.min() > 0.99


def test_pandas_feature_names_and_column_order():
    pd = pytest.importorskip("pandas")
    X, y, _ = planted()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    reg = HadamardRegressor(init_scale=1e-6).fit(df, pd.Series(y))
    np.testing.assert_array_equal(reg.feature_names_in_, df.columns)
    with pytest.raises(ValueError, match="same order"):
        reg.predict(df[df.columns[::-1]])
    with pytest.warns(UserWarning, match="feature names"):
        reg.predict(X)
    reg.fit(X, y)  # a refit on an array forgets the names
    assert not hasattr(reg, "feature_names_in_")


def test_pickle_then_predict_in_a_fresh_process(tmp_path):
    X, y, _ = planted()
    regs = [HadamardRegressor(init_scale=1e-6, fit_intercept=True).fit(X, y + 1.0),
            HadamardRegressor(solver="gd", step="nesterov@mirror", max_iter=200)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        regs[1].fit(X, y)
    path = tmp_path / "regs.pkl"
    path.write_bytes(pickle.dumps((regs, X)))
    code = ("import pickle, sys, numpy as np; regs, X = pickle.load(open(sys.argv[1], 'rb'));"
            "np.save(sys.argv[2], np.stack([r.predict(X) for r in regs]))")
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "p.npy")],
                   check=True, timeout=120)
    got = np.load(tmp_path / "p.npy")
    np.testing.assert_array_equal(got, np.stack([r.predict(X) for r in regs]))


def test_input_conversions_and_clear_errors():
    X, y, _ = planted()
    reg = HadamardRegressor(init_scale=1e-6)
    with pytest.raises(NotFittedError):
        reg.predict(X)
    ref = reg.fit(X, y).coef_
    # float32 X: converted to float64, the limit of the converted data
    x32 = X.astype(np.float32)
    np.testing.assert_array_equal(
        HadamardRegressor(init_scale=1e-6).fit(x32, y).coef_,
        hadamard_limit(x32.astype(np.float64), y, init_scale=1e-6).x)
    with pytest.warns(DataConversionWarning, match="column-vector"):
        np.testing.assert_array_equal(HadamardRegressor(init_scale=1e-6)
                                      .fit(X, y[:, None]).coef_, ref)
    with pytest.raises(ValueError, match="1d array"):
        HadamardRegressor().fit(X, np.c_[y, y])
    for nan_X, nan_y in [(np.where(X > 2, np.nan, X), y), (X, np.r_[np.nan, y[1:]])]:
        with pytest.raises(ValueError, match="NaN"):
            HadamardRegressor().fit(nan_X, nan_y)
    for sparse in (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix):
        with pytest.raises(TypeError, match="[Ss]parse"):
            HadamardRegressor().fit(sparse(X), y)
        with pytest.raises(TypeError, match="[Ss]parse"):
            reg.predict(sparse(X))
    # score accepts sample_weight (the weighted R^2)
    w = np.linspace(0.5, 2.0, y.size)
    pred = reg.predict(X)
    r2 = 1 - np.sum(w * (y - pred) ** 2) / np.sum(w * (y - np.average(y, weights=w)) ** 2)
    assert reg.score(X, y, sample_weight=w) == pytest.approx(r2, abs=1e-12)


def test_one_column_without_interpolant_is_the_least_squares_fit():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((30, 1)), rng.standard_normal(30)
    for depth in (2, 3):
        with pytest.warns(ConvergenceWarning, match="infeasible"):
            reg = HadamardRegressor(depth=depth).fit(x, y)
        assert reg.coef_[0] == pytest.approx(float(x[:, 0] @ y / (x[:, 0] @ x[:, 0])),
                                             rel=1e-9)


def test_matrix_completion_in_workflows(tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    M = rng.standard_normal((12, 2)) @ rng.standard_normal((2, 10))
    X = np.where(rng.random(M.shape) < 0.6, M, np.nan)
    est = DeepMatrixCompletion(max_iter=100)
    with pytest.raises(NotFittedError):
        est.transform(X)
    twin = clone(DeepMatrixCompletion(widths=[6, 6], max_iter=100))
    assert twin.get_params()["widths"] == [6, 6]
    df = pd.DataFrame(X, columns=[f"c{i}" for i in range(10)])
    est.set_output(transform="pandas")
    out = est.fit_transform(df)
    assert list(out.columns) == list(df.columns)
    with pytest.raises(ValueError, match="same order"):
        est.transform(df[df.columns[::-1]])
    # float32 input and a scaler in front: same fit as float64
    a = DeepMatrixCompletion(max_iter=100).fit(X.astype(np.float32)).completed_
    b = DeepMatrixCompletion(max_iter=100).fit(X.astype(np.float32).astype(float)).completed_
    np.testing.assert_array_equal(a, b)
    assert make_pipeline(StandardScaler(), DeepMatrixCompletion(max_iter=100)) \
        .fit_transform(X).shape == X.shape
    # set_params and a refit on another shape
    est.set_params(depth=2).fit(X[:, :6])
    assert est.n_features_in_ == 6 and est.completed_.shape == (12, 6)
    path = tmp_path / "dmc.pkl"
    path.write_bytes(pickle.dumps((est, X[:, :6])))
    code = ("import pickle, sys, numpy as np; e, X = pickle.load(open(sys.argv[1], 'rb'));"
            "np.save(sys.argv[2], np.asarray(e.transform(X)))")
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "t.npy")],
                   check=True, timeout=120)
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"),
                                  np.asarray(est.transform(X[:, :6])))


@pytest.mark.parametrize("side", ["y", "X"])
def test_fit_intercept_near_the_float64_limit_centers_without_overflow(side):
    # the column means of finite data ~3e307 overflowed in their sum: fit raised "y
    # contains 30 non-finite value(s)" ("A contains 1800 ...") for data it was given
    # finite. Oracle: the fit is equivariant (exactly, for a power-of-two s) under
    # y -> s y with init_scale -> init_scale s^(1/2) (coef -> s coef), and under
    # X -> s X with init_scale -> init_scale s^(-1/2) (coef -> coef / s)
    X, y, _ = planted()
    X, y = X + 5.0, y + 4.0  # same-sign entries: the sums overflow at scale 2^1018
    ref = HadamardRegressor(init_scale=1e-6, fit_intercept=True).fit(X, y)
    s = 2.0 ** 1018
    if side == "y":
        reg = HadamardRegressor(init_scale=1e-6 * 2.0 ** 509, fit_intercept=True)
        reg.fit(X, y * s)
        coef, intercept = reg.coef_ / s, reg.intercept_ / s
    else:
        reg = HadamardRegressor(init_scale=1e-6 * 2.0 ** -509, fit_intercept=True)
        reg.fit(X * s, y)
        coef, intercept = reg.coef_ * s, reg.intercept_
    assert reg.result_.success
    np.testing.assert_allclose(coef, ref.coef_, rtol=0, atol=1e-9)
    assert intercept == pytest.approx(ref.intercept_, rel=1e-9)


def test_fit_intercept_centering_that_overflows_is_a_clear_error():
    X, y, _ = planted()
    Xb = X.copy()
    Xb[:, 0] = 1.5e308
    Xb[0, 0] = -1.5e308  # finite; x - mean(x) is not
    reg = HadamardRegressor(fit_intercept=True)
    with pytest.raises(ValueError, match="fit_intercept.*column 0 of X"):
        reg.fit(Xb, y)
    assert not hasattr(reg, "n_features_in_")


def test_nonneg_at_depth_one_is_refused_not_silently_signed():
    # at depth 1 the model coef = u has no sign constraint: nonneg=True, solver="gd"
    # returned coef_.min() = -0.437 (a "non-negative" fit with negative coefficients)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 20)), np.abs(rng.standard_normal(10))
    reg = HadamardRegressor(solver="gd", depth=1, nonneg=True, max_iter=2000)
    with pytest.raises(ValueError, match="nonneg.*depth >= 2"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")
    # depth 1 without nonneg is plain gradient descent from 0: the minimal-l2 interpolant
    reg = HadamardRegressor(solver="gd", depth=1, max_iter=20_000).fit(X, y)
    np.testing.assert_allclose(reg.coef_, np.linalg.pinv(X) @ y, atol=1e-5)
    # the non-negative fit at depth 2 is non-negative (y may have no such interpolant)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = HadamardRegressor(solver="gd", nonneg=True, max_iter=2000).fit(X, y)
    assert reg.coef_.min() >= 0


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_fit_intercept_centers_a_low_precision_y_in_float64(dtype):
    # y was centered in its own dtype (NumPy keeps float32 for y - python float): the
    # rounding of the centered y left it outside the range of the centered X, so an
    # interpolable problem warned "infeasible" and returned a least-squares fit (residual
    # 2e-5 instead of 1e-10); a float16 y crashed ("array type float16 is unsupported in
    # linalg"). Oracle: the fit of the same values given in float64
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 20))
    coef = np.zeros(20)
    coef[[1, 5]] = [1.0, -2.0]
    y = (X @ coef + 1000.0).astype(dtype)
    yd = y.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = HadamardRegressor(fit_intercept=True).fit(X, y)
    ref = HadamardRegressor(fit_intercept=True).fit(X, yd)
    assert ref.result_.success
    np.testing.assert_array_equal(reg.coef_, ref.coef_)
    assert reg.intercept_ == ref.intercept_
    assert np.linalg.norm(reg.predict(X) - yd) <= 1e-9 * np.linalg.norm(yd - yd.mean())


@pytest.mark.parametrize("fit_intercept", [False, True])
@pytest.mark.parametrize("y", [np.array(["1.5"] * 10), np.array([b"1"] * 10),
                               np.arange(10).astype("datetime64[D]"),
                               np.arange(10).astype("timedelta64[ms]")],
                         ids=["str", "bytes", "datetime", "timedelta"])
def test_non_numeric_y_is_refused_clearly(y, fit_intercept):
    # with fit_intercept the centering met y first: UFuncTypeError "ufunc 'absolute' did
    # not contain a loop with signature matching types", or "Could not convert object to
    # NumPy timedelta" (without, the solver refused it); now one error either way
    X = np.random.default_rng(0).standard_normal((10, 20))
    reg = HadamardRegressor(fit_intercept=fit_intercept)
    with pytest.raises(TypeError, match="y must be a numeric array"):
        reg.fit(X, y)
    assert not hasattr(reg, "n_features_in_")
