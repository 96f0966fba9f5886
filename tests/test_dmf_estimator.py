"""DeepMatrixCompletion: scikit-learn conventions, accuracy, bad input."""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from overparam.estimators.matrix import DeepMatrixCompletion


def _incomplete(n1=24, n2=20, r=2, frac=0.6, seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n1, r)) @ rng.standard_normal((r, n2))
    X = np.where(rng.random(M.shape) < frac, M, np.nan)
    return M, X


def test_fit_transform_completes_and_keeps_observed():
    M, X = _incomplete()
    est = DeepMatrixCompletion(depth=3, init_scale=1e-3, max_iter=4000, record=16)
    out = est.fit_transform(X)
    obs = ~np.isnan(X)
    np.testing.assert_array_equal(out[obs], X[obs])
    assert np.linalg.norm(est.completed_ - M) / np.linalg.norm(M) < 1e-2
    assert est.mask_.sum() == obs.sum() and est.n_iter_ > 0
    assert est.stopped_interval_ is None
    # negative control: depth 1 (least squares from a small start) does not complete
    flat = DeepMatrixCompletion(depth=1, max_iter=200, record=4).fit(X)
    assert np.linalg.norm(flat.completed_ - M) / np.linalg.norm(M) > 0.3


def test_sklearn_params_and_clone():
    est = DeepMatrixCompletion(depth=2, init_scale=1e-2, early_stopping=True)
    c = clone(est)
    assert c.get_params()["depth"] == 2 and c.get_params()["early_stopping"] is True
    with pytest.raises(Exception):
        c.transform(np.zeros((2, 2)))


def test_bad_input():
    est = DeepMatrixCompletion(max_iter=10)
    X = np.ones((4, 3))
    X[1, :] = np.nan
    with pytest.raises(ValueError, match=r"row\(s\) \[1\]"):
        est.fit(X)
    X = np.ones((4, 3))
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"column\(s\) \[2\]"):
        est.fit(X)
    with pytest.raises(ValueError, match="no observed"):
        est.fit(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="infinite"):
        est.fit(np.array([[1.0, np.inf], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="2-dimensional"):
        est.fit(np.ones(4))
    with pytest.raises(TypeError, match="numeric"):
        est.fit(np.array([["a", "b"]]))
    est.fit(np.array([[1.0, np.nan], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="fitted on"):
        est.transform(np.ones((3, 2)))


def test_failed_fit_warns_and_max_iter_does_not():
    _, X = _incomplete(n1=6, n2=5, frac=0.7)
    # a constant step far above the stability limit: diverged after 2 iterations (the last
    # finite iterate), returned without a word
    with pytest.warns(ConvergenceWarning, match="status diverged"):
        bad = DeepMatrixCompletion(depth=2, step=5.0, max_iter=20, record=2).fit(X)
    assert bad.result_.status.value == "diverged"
    # the iteration cap is the normal end of a run (the step is a dynamic argument of the
    # same compiled program)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ok = DeepMatrixCompletion(depth=2, step=1e-3, max_iter=20, record=2).fit(X)
    assert ok.result_.status.value == "max_iter"


def test_tags_allow_nan():
    # NaN marks the entries to complete; the tags said NaN input was not allowed
    assert DeepMatrixCompletion().__sklearn_tags__().input_tags.allow_nan is True


# ------------------------------------------------------------ scikit-learn input handling
def test_pandas_missing_values_feature_names_and_pandas_output():
    # pandas' own missing value (pd.NA of the nullable dtypes) was refused as "not a
    # numeric matrix", feature names were neither recorded nor checked, and set_output
    # did not exist (no get_feature_names_out)
    pd = pytest.importorskip("pandas")
    _, X = _incomplete(n1=8, n2=6, seed=1)
    cols = [f"c{j}" for j in range(6)]
    df = pd.DataFrame(X, columns=cols).astype("Float64")
    assert df.isna().to_numpy().sum() == np.isnan(X).sum() > 0
    kw = dict(depth=2, max_iter=50, record=2)
    est = DeepMatrixCompletion(**kw).fit(df)
    ref = DeepMatrixCompletion(**kw).fit(X)
    np.testing.assert_array_equal(est.mask_, ~np.isnan(X))
    np.testing.assert_array_equal(est.completed_, ref.completed_)
    assert list(est.feature_names_in_) == cols and est.n_features_in_ == 6
    with pytest.raises(ValueError, match="feature names"):
        est.transform(df[cols[::-1]])
    out = DeepMatrixCompletion(**kw).set_output(transform="pandas").fit_transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == cols
    np.testing.assert_array_equal(out.to_numpy(dtype=float), ref.transform(X))
    # an object matrix of numbers (None for missing) is a numeric matrix too
    obj = X.astype(object)
    obj[np.isnan(X)] = None
    np.testing.assert_array_equal(DeepMatrixCompletion(**kw).fit(obj).completed_,
                                  ref.completed_)


def test_refuses_sparse_complex_empty_and_non_bool_clearly():
    import scipy.sparse

    _, X = _incomplete(n1=6, n2=5, frac=0.7)
    est = DeepMatrixCompletion(max_iter=10, record=2)
    # was "X must be a numeric matrix (NaN for missing), got dtype object"
    with pytest.raises(TypeError, match="[Ss]parse"):
        est.fit(scipy.sparse.csr_matrix(np.nan_to_num(X)))
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.fit(X + 1j)
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        est.fit(np.zeros((5, 0)))
    # early_stopping="no" is truthy: it silently switched early stopping on
    with pytest.raises(TypeError, match="early_stopping"):
        DeepMatrixCompletion(early_stopping="no", max_iter=10).fit(X)
    est.fit(X)
    with pytest.raises(ValueError, match="expecting 5 features"):
        est.transform(X[:, :4])
    with pytest.raises(ValueError, match="Reshape your data"):
        est.transform(X[0])


# scikit-learn's common checks: the transform of this transductive estimator completes the
# matrix it was fitted on, so it refuses any other number of rows. Two checks need that:
_TRANSDUCTIVE = {
    "check_methods_subset_invariance": "transform of a subset of the fitted rows",
    "check_fit_idempotent": "transform of held-out rows (another shape than the fit)",
}
# checks that failed before the scikit-learn input validation (fast: a few small fits)
_INPUT_CHECKS = ["check_n_features_in_after_fitting", "check_complex_data",
                 "check_dtype_object", "check_estimators_empty_data_messages",
                 "check_estimator_sparse_tag", "check_estimator_sparse_array",
                 "check_estimator_sparse_matrix", "check_fit2d_predict1d"]


@pytest.mark.parametrize("name", _INPUT_CHECKS)
def test_sklearn_input_checks(name):
    from sklearn.utils import estimator_checks

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(estimator_checks, name)(name, DeepMatrixCompletion(max_iter=20, record=2))


@pytest.mark.skipif(not os.environ.get("OVERPARAM_SLOW"),
                    reason="slow (a JIT compilation per data shape); set OVERPARAM_SLOW=1")
def test_sklearn_compatible_all_checks():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_estimator(DeepMatrixCompletion(max_iter=20, record=2),
                        expected_failed_checks=_TRANSDUCTIVE)


# ------------------------------------------------------ a refused fit keeps the last fit
@pytest.mark.parametrize("bad", [dict(depth=0), dict(init="nope"), dict(max_iter=0),
                                 dict(init_scale=np.nan)], ids=lambda d: next(iter(d)))
def test_refused_refit_keeps_previous_fit(bad):
    # dmf_gd checks its parameters after the data validation reset n_features_in_: a
    # refused refit on a 4-column matrix left n_features_in_ = 4 beside the previous
    # 6-column completed_ (transform of the fitted matrix then failed)
    pd = pytest.importorskip("pandas")
    _, X = _incomplete(n1=8, n2=6, seed=2)
    cols = [f"c{j}" for j in range(6)]
    est = DeepMatrixCompletion(depth=2, max_iter=30, record=2).fit(pd.DataFrame(X, columns=cols))
    before = est.transform(pd.DataFrame(X, columns=cols))
    est.set_params(**bad)
    with pytest.raises(ValueError):
        est.fit(X[:, :4])
    assert est.n_features_in_ == 6 == est.completed_.shape[1]
    assert list(est.feature_names_in_) == cols
    np.testing.assert_array_equal(est.transform(pd.DataFrame(X, columns=cols)), before)
    fresh = DeepMatrixCompletion(**{**dict(max_iter=30, record=2), **bad})
    with pytest.raises(ValueError):
        fresh.fit(X)
    assert not hasattr(fresh, "n_features_in_")


def test_fit_transform_does_not_drop_fit_params():
    # fit_transform(X, sample_weight=w) silently ignored the unsupported argument
    _, X = _incomplete(n1=6, n2=5, frac=0.7)
    est = DeepMatrixCompletion(depth=2, max_iter=20, record=2)
    with pytest.raises(TypeError, match="sample_weight"):
        est.fit_transform(X, sample_weight=np.ones(6))
    np.testing.assert_array_equal(est.fit_transform(X), est.fit(X).transform(X))


@pytest.mark.parametrize("s", [1e-200, 1e-141, 1e141, 1e200])
def test_out_of_range_scale_is_refused_in_terms_of_X_and_keeps_previous_fit(s):
    # dmf_gd's refusal spoke of "y" and of rescaling "y": an estimator user passed only X
    est = DeepMatrixCompletion(max_iter=50, record=4).fit(np.array([[1.0, np.nan],
                                                                     [2.0, 3.0]]))
    before = est.completed_.copy()
    X = np.array([[1.0, np.nan, 2.0], [np.nan, 3.0, 1.0]]) * s
    with pytest.raises(ValueError, match="observed entries of X reach magnitude"):
        est.fit(X)
    assert est.n_features_in_ == 2
    np.testing.assert_array_equal(est.completed_, before)


def test_rescaling_advice_holds_and_rank_one_closed_form():
    # the refusal's advice: the fit of X at init_scale a is s times that of X / s at
    # init_scale a / s; and one missing entry of a rank-one matrix has the closed form
    # M[i, j] = M[i, k] M[l, j] / M[l, k]
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal(7), rng.standard_normal(5)
    M = np.outer(u, v)
    X = M.copy()
    X[2, 3] = np.nan
    kw = dict(max_iter=3000, record=4, tol=1e-12)
    unit = DeepMatrixCompletion(init_scale=1e-3, **kw).fit(X)
    assert unit.transform(X)[2, 3] == pytest.approx(M[2, 0] * M[1, 3] / M[1, 0], rel=1e-4)
    for s in (1e-120, 1e120):
        scaled = DeepMatrixCompletion(init_scale=1e-3 * s, **kw).fit(X * s)
        np.testing.assert_allclose(scaled.completed_ / s, unit.completed_, rtol=1e-9,
                                   atol=1e-12 * np.abs(M).max())


def test_masked_array_marks_the_missing_entries():
    # np.asarray in scikit-learn's validation dropped the mask: the masked entries were
    # fitted as observed, with their placeholder values (here 0), and transform returned
    # those placeholders. Oracle: the same matrix with NaN for the masked entries
    _, X = _incomplete(n1=8, n2=6, frac=0.7, seed=2)
    missing = np.isnan(X)
    kw = dict(depth=2, max_iter=50, record=2)
    for data in (np.nan_to_num(X), np.round(np.nan_to_num(X) * 100).astype(np.int64)):
        masked = np.ma.masked_array(data, mask=missing)
        ref_data = np.where(missing, np.nan, data.astype(float))
        est = DeepMatrixCompletion(**kw).fit(masked)
        np.testing.assert_array_equal(est.mask_, ~missing)
        ref = DeepMatrixCompletion(**kw).fit(ref_data)
        np.testing.assert_array_equal(est.completed_, ref.completed_)
        out = est.transform(masked)
        assert not isinstance(out, np.ma.MaskedArray)
        np.testing.assert_array_equal(out, ref.transform(ref_data))
        assert np.all(out[missing] == ref.completed_[missing])
    with pytest.raises(TypeError, match="numeric"):
        est.fit(np.ma.masked_array(np.array([["a", "b"], ["c", "d"]]),
                                   mask=[[0, 1], [0, 0]]))


def test_overflowing_init_scale_is_refused_not_reported_as_a_divergence():
    # init_scale=1e200 (end_to_end: W(0) ~ 1e200) gave an infinite initial loss: a
    # ConvergenceWarning "diverged ... use a smaller step" and completed_ full of inf/NaN
    _, X = _incomplete(n1=6, n2=5, frac=0.7)
    with pytest.raises(ValueError, match="smaller init_scale"):
        DeepMatrixCompletion(init_scale=1e200, max_iter=20, record=2).fit(X)
    with pytest.raises(ValueError, match="smaller init_scale"):
        DeepMatrixCompletion(init_scale=1e50, scale="factor", max_iter=20, record=2).fit(X)
