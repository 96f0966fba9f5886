"""HadamardRegressor: scikit-learn conventions, recovery, warnings, bad input."""
from __future__ import annotations

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
# overdetermined and noisy) fit warns ConvergenceWarning and returns the flow's limit, a
# least-squares (non-negative: NNLS) fit, which meets check_regressors_train's R^2
# threshold (no ``poor_score`` tag: the non-negative depth-3 fit failed it while coef_ was
# the dual iteration's last point).
@parametrize_with_checks([HadamardRegressor(), HadamardRegressor(nonneg=True, depth=3)])
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


# ------------------------------------------------------------- fit refused: no half state
@pytest.mark.parametrize(
    "params",
    [dict(solver="newton"), dict(depth=0), dict(tol=0.0)],  # tol 0: only gd runs to max_iter
    ids=["solver", "depth", "limit-tol0"],
)
def test_refused_fit_leaves_no_half_fitted_state(params):
    # parameters were checked after validate_data had set n_features_in_: a refused fit
    # then made predict raise AttributeError('coef_') instead of NotFittedError, and a
    # refused refit on other data left n_features_in_ (20) disagreeing with coef_ (30)
    X, y, _ = planted(n=30, m=10, s=2)
    bad = HadamardRegressor(**params)
    with pytest.raises(ValueError):
        bad.fit(X, y)
    assert not hasattr(bad, "n_features_in_")
    with pytest.raises(NotFittedError):
        bad.predict(X)
    reg = HadamardRegressor().fit(X, y)
    before = reg.predict(X)
    reg.set_params(**params)
    with pytest.raises(ValueError):
        reg.fit(X[:, :20], y)
    assert reg.n_features_in_ == 30 == reg.coef_.shape[0]
    np.testing.assert_array_equal(reg.predict(X), before)
    with pytest.raises(ValueError, match="expecting 30 features"):
        reg.predict(X[:, :20])


def test_gd_accepts_tol_zero():
    X, y, _ = planted(n=30, m=10, s=2)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        reg = HadamardRegressor(solver="gd", tol=0.0, max_iter=20).fit(X, y)
    assert reg.n_iter_ == 20


# ----------------------------------------------------------------- independent oracles
def _scipy_basis_pursuit(X, y, nonneg):
    from scipy.optimize import linprog

    n = X.shape[1]
    if nonneg:
        return linprog(np.ones(n), A_eq=X, b_eq=y, bounds=(0, None), method="highs").x
    x = linprog(np.ones(2 * n), A_eq=np.hstack([X, -X]), b_eq=y, bounds=(0, None),
                method="highs").x
    return x[:n] - x[n:]


@pytest.mark.parametrize("nonneg, s, seed", [(False, 15, 0), (False, 15, 2), (True, 20, 3),
                                             (True, 20, 4)])
def test_limit_matches_scipy_basis_pursuit_beyond_recovery(nonneg, s, seed):
    # s-sparse from 40 samples: basis pursuit no longer recovers the planted vector, so
    # agreement with it is the implicit bias, not recovery (measured gap 7e-11 .. 9e-8)
    X, y, x_true = planted(n=120, m=40, s=s, nonneg=nonneg, seed=seed)
    bp = _scipy_basis_pursuit(X, y, nonneg)
    assert relative_error(bp, x_true) > 1e-2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = HadamardRegressor(depth=3, init_scale=1e-6, nonneg=nonneg).fit(X, y)
    assert relative_error(reg.coef_, bp) < 1e-6
    # negative control: depth 2 at a moderate scale is measurably off basis pursuit
    assert relative_error(HadamardRegressor(init_scale=1e-2, nonneg=nonneg).fit(X, y).coef_,
                          bp) > 1e-3


def test_nonneg_overdetermined_matches_scipy_nnls_and_intercept_oracle():
    from scipy.optimize import nnls

    from overparam.limits import hadamard_limit

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 15))
    x_true = np.abs(rng.standard_normal(15))
    x_true[:5] = 0.0
    y = X @ x_true  # consistent: the non-negative interpolant is unique
    reg = HadamardRegressor(nonneg=True).fit(X, y)
    assert relative_error(reg.coef_, nnls(X, y)[0]) < 1e-8
    # fit_intercept == the solver on centered data, and predict == X @ coef_ + intercept_
    Xu, yu, _ = planted(seed=4)
    reg = HadamardRegressor(init_scale=1e-4, fit_intercept=True).fit(Xu, yu - 2.0)
    ref = np.asarray(hadamard_limit(Xu - Xu.mean(0), yu - yu.mean(), init_scale=1e-4).x)
    np.testing.assert_allclose(reg.coef_, ref, rtol=0, atol=1e-12)
    assert reg.intercept_ == pytest.approx(yu.mean() - 2.0 - Xu.mean(0) @ ref, abs=1e-12)
    np.testing.assert_allclose(reg.predict(Xu), Xu @ reg.coef_ + reg.intercept_, atol=1e-12)


# depth 3 at init_scale 1e-6 can stall at a relative residual ~1.04e-10 > tol = 1e-10 (the
# float64 resolution the solver's message states): a warning, not a wrong fit
@pytest.mark.filterwarnings("ignore:.*status stagnated:sklearn.exceptions.ConvergenceWarning")
def test_pickle_dataframe_and_grid_search():
    import pickle

    pd = pytest.importorskip("pandas")
    from sklearn.model_selection import GridSearchCV
    from sklearn.preprocessing import StandardScaler

    X, y, _ = planted(seed=3)
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    reg = HadamardRegressor(init_scale=1e-6).fit(df, y)
    assert list(reg.feature_names_in_) == list(df.columns)
    with pytest.raises(ValueError, match="feature names"):
        reg.predict(df[df.columns[::-1]])
    back = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(back.predict(df), reg.predict(df))
    pipe = make_pipeline(StandardScaler(), HadamardRegressor(init_scale=1e-6,
                                                             fit_intercept=True))
    assert pipe.fit(X, y).score(X, y) == pytest.approx(1.0, abs=1e-9)
    gs = GridSearchCV(HadamardRegressor(), dict(init_scale=[1e-1, 1e-6], depth=[2, 3]),
                      cv=3, n_jobs=1).fit(X, y)
    # the small scale (sparse bias) generalizes on held-out rows; the large one does not
    assert gs.best_params_["init_scale"] == 1e-6 and gs.best_score_ > 0.99


def test_depth_three_default_tol_is_reachable_without_spurious_warnings():
    # float64 resolves the L = 3 limit to ~1e-16 a^(2-L) = 1e-10 at a = 1e-6: the old
    # default tol 1e-10 stagnated at 1.0-1.3e-10 with a ConvergenceWarning on most fits
    n_warned = 0
    for seed in range(5):
        X, y, _ = planted(nonneg=True, seed=seed)
        reg = HadamardRegressor(depth=3, init_scale=1e-6, nonneg=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always", ConvergenceWarning)
            reg.fit(X, y)
        n_warned += any(issubclass(x.category, ConvergenceWarning) for x in w)
        assert reg.result_.info["relative_residual"] <= 1e-9
    assert n_warned == 0
    # an explicit tol is kept (and reported honestly when out of reach)
    assert HadamardRegressor(depth=3, tol=1e-12)._solver_kwargs()["tol"] == 1e-12


# ------------------------------------------------- default tolerance at the data's scale
def _warned(fit):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always", ConvergenceWarning)
        reg = fit()
    return reg, any(issubclass(x.category, ConvergenceWarning) for x in w)


@pytest.mark.parametrize("depth, init_scale, sx, sy", [
    (3, 1e-12, 1, 1), (3, 1e-20, 1, 1), (4, 1e-6, 1, 1), (5, 1e-6, 1, 1), (6, 1e-3, 1, 1),
    (3, 1e-150, 1e-200, 1e200)])
def test_fit_without_warning_interpolates(depth, init_scale, sx, sy):
    # the depth >= 3 default tol 1e-15 a^(2-L) had no ceiling: at L = 3, a = 1e-20 it was
    # 1e5 and the fit stopped "converged" at coef_ = 0 (relative residual 1.0) without a
    # warning; at L = 3, a = 1e-12 it stopped at 9e-4 although the limit reaches 8e-5.
    # Float64 cannot resolve these limits to 1e-6: the fit must say so
    X, y, _ = planted()
    reg, warned = _warned(lambda: HadamardRegressor(depth=depth, init_scale=init_scale)
                          .fit(X * sx, y * sy))
    assert warned or reg.result_.info["relative_residual"] <= 1e-6
    if (depth, init_scale) in ((3, 1e-20), (5, 1e-6)):  # nothing resolvable: x stays ~0
        assert warned and not reg.result_.success


def test_fit_at_extreme_scales_raises_no_numpy_warning():
    # the limit's unscaling multiplied a failed first run's inf by a factor that had
    # underflowed to 0: "RuntimeWarning: invalid value encountered in multiply"
    X, y, _ = planted()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        HadamardRegressor(depth=3, init_scale=1e-150).fit(X * 1e-200, y * 1e200)


def test_default_tol_follows_the_data_scale():
    # the limit is resolved to ~1e-16 a^(2-L) for the *effective* scale a = init_scale /
    # s^(1/L) of coefficients of size s; the default tol ignored s: y * 1e6 stagnated at
    # 1.6e-8 > 1e-9 with a ConvergenceWarning on an accurate fit, and y * 1e-6 stopped at
    # 5.2e-10, 20x off basis pursuit (5.5e-10) where the limit reaches 2.8e-11
    X, y, _ = planted()
    bp = _scipy_basis_pursuit(X, y, False)
    # bound on the gap to basis pursuit: ~ the resolution 1e-16 a^(2-L) (measured 1.5e-8,
    # 8.9e-7 and 2.8e-11)
    for s, gap in ((1e6, 1e-7), (1e12, 1e-5), (1e-6, 1e-10)):
        reg, warned = _warned(lambda: HadamardRegressor(depth=3, init_scale=1e-6)
                              .fit(X, y * s))
        assert not warned, s
        assert relative_error(reg.coef_ / s, bp) < gap, s
    # the same with X scaled instead (s = 1 / 1e-6), and the threshold at unit scale kept
    reg, warned = _warned(lambda: HadamardRegressor(depth=3, init_scale=1e-6).fit(X * 1e-6, y))
    assert not warned and relative_error(reg.coef_ * 1e-6, bp) < 1e-7


# ------------------------------------------------------ a refused fit keeps the last fit
def test_solver_error_after_validation_keeps_previous_fit(monkeypatch):
    # validate_data resets n_features_in_ / feature_names_in_ before the solver runs: a
    # solver that refused the data (e.g. hadamard_limit's "init_scale is too small ... at
    # the scale of the data") left n_features_in_ = 60 beside the previous coef_ (100)
    import overparam.limits

    pd = pytest.importorskip("pandas")
    X, y, _ = planted()
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(100)])
    reg = HadamardRegressor(init_scale=1e-4).fit(df, y)
    before = reg.predict(df)

    def refuse(*args, **kwargs):
        raise ValueError("refused by the solver")

    monkeypatch.setattr(overparam.limits, "hadamard_limit", refuse)
    with pytest.raises(ValueError, match="refused by the solver"):
        reg.fit(X[:, :60], y)
    assert reg.n_features_in_ == 100 == reg.coef_.shape[0]
    assert list(reg.feature_names_in_) == list(df.columns)
    np.testing.assert_array_equal(reg.predict(df), before)
    fresh = HadamardRegressor()
    with pytest.raises(ValueError, match="refused by the solver"):
        fresh.fit(df, y)
    assert not hasattr(fresh, "n_features_in_") and not hasattr(fresh, "feature_names_in_")
    with pytest.raises(NotFittedError):
        fresh.predict(X)


def test_convergence_warning_raised_as_error_leaves_a_consistent_fit():
    # under warnings-as-errors (pytest -W error, a CI filter) the ConvergenceWarning of a
    # refit came after validate_data had reset n_features_in_ (30) but before coef_ was
    # set: predict then failed either way, "expecting 30 features" on the 20 it had fitted
    # and a matmul shape error on 30; a first fit became half-fitted (NotFittedError)
    rng = np.random.default_rng(0)
    X, y, _ = planted(n=20, m=10, s=2)
    Xb, yb = rng.standard_normal((40, 30)), rng.standard_normal(40)  # no interpolant
    for reg in (HadamardRegressor().fit(X, y), HadamardRegressor()):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            with pytest.raises(ConvergenceWarning, match="infeasible"):
                reg.fit(Xb, yb)
        # the fit it warned about, as without the filter
        with pytest.warns(ConvergenceWarning, match="infeasible"):
            ref = HadamardRegressor().fit(Xb, yb)
        assert reg.n_features_in_ == 30 == reg.coef_.shape[0]
        np.testing.assert_array_equal(reg.coef_, ref.coef_)
        np.testing.assert_array_equal(reg.predict(Xb), ref.predict(Xb))
        assert reg.result_.status is Status.INFEASIBLE


def _signed_flow_limit(X, y, depth, a):
    """Independent oracle: the gradient flow of 0.5 ||X (u^L - v^L) - y||^2 from
    u = v = a, integrated by SciPy to t = 1e4 (depth 2 in the mirror coordinate z with
    x = 2 a^2 sinh(z))."""
    from scipy.integrate import solve_ivp

    n = X.shape[1]
    if depth == 2:
        sol = solve_ivp(lambda t, z: -4.0 * X.T @ (X @ (2 * a * a * np.sinh(z)) - y),
                        (0.0, 1e4), np.zeros(n), method="LSODA", rtol=1e-11, atol=1e-12)
        return 2 * a * a * np.sinh(sol.y[:, -1])

    def rhs(t, uv):
        u, v = uv[:n], uv[n:]
        g = X.T @ (X @ (u**depth - v**depth) - y)
        return np.concatenate([-depth * u ** (depth - 1) * g, depth * v ** (depth - 1) * g])

    sol = solve_ivp(rhs, (0.0, 1e4), np.full(2 * n, a), method="LSODA", rtol=1e-11,
                    atol=1e-14)
    u, v = sol.y[:n, -1], sol.y[n:, -1]
    return u**depth - v**depth


@pytest.mark.parametrize("depth, a", [(2, 0.1), (3, 0.3)])
def test_no_interpolant_with_rank_deficient_X_returns_the_flow_limit(depth, a):
    # centered columns (what StandardScaler does) make X rank deficient and put a y of
    # nonzero mean outside its range: the dual Newton iteration then has no minimizer and
    # coef_ was its last point, ||X coef - y|| = 1.2e6 against a least-squares residual
    # 0.96 (R^2 = -1.9e10 in a StandardScaler pipeline). The flow still converges: to the
    # limit for the projection of y onto range(X).
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, 12))
    X -= X.mean(axis=0)
    y = rng.standard_normal(6)
    with pytest.warns(ConvergenceWarning, match="infeasible"):
        reg = HadamardRegressor(depth=depth, init_scale=a).fit(X, y)
    assert reg.result_.status is Status.INFEASIBLE
    np.testing.assert_allclose(reg.coef_, _signed_flow_limit(X, y, depth, a), atol=1e-8)
    ls = np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.linalg.norm(X @ reg.coef_ - y) == pytest.approx(np.linalg.norm(X @ ls - y),
                                                              rel=1e-10)


def test_standard_scaler_pipeline_without_interpolant_scores_like_least_squares():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 50))
    coef = np.zeros(50)
    coef[[1, 7]] = [1.0, -2.0]
    y = X @ coef
    Xs = StandardScaler().fit_transform(X)
    ls_r2 = 1.0 - np.sum((Xs @ np.linalg.lstsq(Xs, y, rcond=None)[0] - y) ** 2) / np.sum(
        (y - y.mean()) ** 2)
    for depth in (2, 3):
        pipe = make_pipeline(StandardScaler(), HadamardRegressor(depth=depth,
                                                                 init_scale=1e-5))
        with pytest.warns(ConvergenceWarning, match="infeasible"):
            pipe.fit(X, y)
        assert pipe.score(X, y) == pytest.approx(ls_r2, abs=1e-9)  # was -1.9e10


def _nonneg_flow_limit(X, y, depth, a):
    """Independent oracle: the flow of 0.5 ||X u^L - y||^2 from u = a, by SciPy (depth 2
    in the mirror coordinate z, x = a^2 exp(z))."""
    from scipy.integrate import solve_ivp

    n = X.shape[1]
    if depth == 2:
        sol = solve_ivp(lambda t, z: -4.0 * X.T @ (X @ (a * a * np.exp(z)) - y),
                        (0.0, 1e5), np.zeros(n), method="LSODA", rtol=1e-12, atol=1e-12)
        return a * a * np.exp(sol.y[:, -1])
    sol = solve_ivp(lambda t, u: -depth * u ** (depth - 1) * (X.T @ (X @ u**depth - y)),
                    (0.0, 1e5), np.full(n, a), method="LSODA", rtol=1e-12, atol=1e-15)
    return sol.y[:, -1] ** depth


@pytest.mark.parametrize("seed", [0, 1, 3])
@pytest.mark.parametrize("depth, a", [(2, 0.1), (3, 0.3)])
def test_no_nonneg_solution_returns_the_flow_limit_an_nnls_fit(seed, depth, a):
    # no x >= 0 solves X x = y: coef_ was the dual Newton iteration's last point, residuals
    # 4e3 .. 8e14 away from the flow's limit (which is an NNLS fit), overdetermined or not
    from scipy.optimize import nnls

    rng = np.random.default_rng(seed)
    if seed % 2 == 0:  # rank deficient, 6 x 12
        X = rng.standard_normal((6, 12))
        X -= X.mean(axis=0)
        X = np.c_[X[:, :3], 2.0 * X[:, :3], X[:, 6:]]
        y = rng.standard_normal(6) - np.abs(rng.standard_normal(6))
    else:  # overdetermined, full column rank
        X = rng.standard_normal((12, 6))
        y = rng.standard_normal(12)
    with pytest.warns(ConvergenceWarning, match="infeasible"):
        reg = HadamardRegressor(depth=depth, init_scale=a, nonneg=True).fit(X, y)
    assert reg.result_.status is Status.INFEASIBLE
    np.testing.assert_allclose(reg.coef_, _nonneg_flow_limit(X, y, depth, a), atol=1e-8)
    assert np.linalg.norm(X @ reg.coef_ - y) == pytest.approx(
        np.linalg.norm(X @ nnls(X, y)[0] - y), rel=1e-10)
