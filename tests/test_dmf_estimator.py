"""DeepMatrixCompletion: scikit-learn conventions, accuracy, bad input."""
from __future__ import annotations

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
