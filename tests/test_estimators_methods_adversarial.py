"""Adversarial checks of the estimators and the experiment registries: registration
mistakes refused when made (not iterated by character, nor failing in a later run), a
non-finite reference that no longer turns every row into an error, and the fitted
estimator against independent oracles (HiGHS l1 minimization with a free intercept)."""
import warnings

import numpy as np
import pytest
import scipy.optimize
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from overparam import Result, Status
from overparam.estimators import HadamardRegressor
from overparam.experiments import generators, measures, methods
from overparam.experiments.generators import GeneratorEntry, register_generator
from overparam.experiments.measures import MetricEntry, compute_metrics, register_metric
from overparam.experiments.methods import MethodEntry, register
from overparam.problems import sparse_recovery

_GEN = "overparam.problems:sparse_recovery"
_GEN_PARAMS = {"n": "int", "m": "int", "s": "int", "operator": "str", "noise": "float"}


@pytest.fixture(autouse=True)
def _restore_registries():
    """Leave the registries as they were (tests register throwaway entries)."""
    saved = (dict(methods.METHODS), dict(generators.GENERATORS), dict(measures.METRICS))
    yield
    for live, old in zip((methods.METHODS, generators.GENERATORS, measures.METRICS), saved):
        live.clear()
        live.update(old)


# ------------------------------------------------------------- generator registration
# Before: each was accepted; a bare string (a one-item tuple without its trailing comma)
# was iterated by character. kinds="vector" made the kinds c/e/o/r/t/v (every vector
# method refused), choices ("operator", ("gaussian")) refused 'gaussian' ("not one of g,
# a, u, s, ..."), required="nm" silently required n and m, one_of=("m", "n") required
# both, a string minimum raised a bare "'<' not supported" from the spec, and a "seed"
# parameter failed every trial with "got multiple values for keyword argument 'seed'".
@pytest.mark.parametrize("kw, exc, fragment", [
    (dict(kinds="vector"), TypeError, "kinds must be a tuple of strings"),
    (dict(choices=(("operator", "gaussian"),)), TypeError,
     "choices of 'operator' must be a tuple of strings"),
    (dict(required="nm"), TypeError, "required must be a tuple of strings"),
    (dict(one_of=("m", "n")), TypeError, "each one_of group must be a tuple of strings"),
    (dict(minimum=(("n", "1"),)), TypeError, "minimum of 'n' must be a number"),
    (dict(minimum=(("operator", 1),)), TypeError, "minimum of 'operator' must be a number"),
    (dict(choices=("operator",)), TypeError, "choices must be a tuple of"),
])
def test_generator_fields_of_the_wrong_form_are_refused(kw, exc, fragment):
    with pytest.raises(exc, match=fragment):
        register_generator(GeneratorEntry("t_adv_gen", _GEN, _GEN_PARAMS, **kw))
    assert "t_adv_gen" not in generators.GENERATORS


def test_generator_with_a_seed_parameter_is_refused():
    with pytest.raises(ValueError, match="'seed' cannot be one of its params"):
        register_generator(GeneratorEntry("t_adv_seed", _GEN, dict(_GEN_PARAMS, seed="int")))


def test_well_formed_generator_fields_still_register():
    entry = register_generator(GeneratorEntry(
        "t_adv_ok", _GEN, _GEN_PARAMS, required=("n",), kinds=["vector"],
        choices=(("operator", ("gaussian", "dct")),), one_of=(("m",),),
        minimum=(("n", 1), ("noise", 0.0))))
    assert generators.generator_kinds("t_adv_ok") == ("vector",)
    assert entry.make(dict(n=8, m=4, s=1), seed=0).A.shape == (4, 8)


# ---------------------------------------------------------------- method registration
def _solve(problem, *, k: float = 1.0, seed: int = 0):
    return Result(x=np.full(problem.n, k), status=Status.CONVERGED)


@pytest.mark.parametrize("kw, exc, fragment", [
    # before: ValueError "required names 'a'" (the string iterated)
    (dict(required="k"), TypeError, "required must be a tuple of strings"),
    # before: accepted; "no" is truthy, so seed= was passed to the solver
    (dict(seeded="no"), TypeError, "seeded must be a bool"),
    # before: accepted; every trial failed calling None
    (dict(call=None), TypeError, "call must be callable"),
    # before: accepted; a tuple is never among a generator's kinds
    (dict(problems=("vector",)), TypeError, "problems must be a problem kind"),
    # before: accepted; the runner's seed= overrode the spec's seed without a word
    (dict(params={"k": "float", "seed": "int"}, seeded=True), ValueError,
     "'seed' cannot also be one of its params"),
])
def test_method_fields_of_the_wrong_form_are_refused(kw, exc, fragment):
    kw = dict(dict(params={"k": "float"}), **kw)
    with pytest.raises(exc, match=fragment):
        register(MethodEntry("t_adv_m", _solve, **kw))
    assert "t_adv_m" not in methods.METHODS


def test_unseeded_method_may_still_take_seed_as_a_parameter():
    entry = register(MethodEntry("t_adv_seedparam", _solve, {"k": "float", "seed": "int"}))
    p = sparse_recovery(6, 3, 1, seed=0)
    assert np.all(entry.configure(k=2.0, seed=5)(p, 123).x == 2.0)


# ----------------------------------------------------------------------------- metrics
def test_metric_with_a_non_string_name_or_no_function_is_refused():
    # before: MetricEntry(3, ...) was registered and every later unknown-metric lookup
    # raised "TypeError: sequence item 74: expected str instance, int found"
    with pytest.raises(ValueError, match="metric name must be a non-empty string"):
        register_metric(MetricEntry(3, lambda *a: 0.0))
    with pytest.raises(TypeError, match="fn must be callable"):
        register_metric(MetricEntry("t_adv_none", None))
    with pytest.raises(TypeError, match="takes a MetricEntry"):
        register_metric("rel_error")
    with pytest.raises(KeyError, match="unknown metric 'nope'"):
        compute_metrics(["nope"], None, np.zeros(2), None, 1e-3)


def test_non_finite_reference_gives_nan_reference_metrics_not_an_error():
    # before: ValueError "x_ref contains 12 non-finite value(s)" from l1_gap, which the
    # runner turned into an error row for every configuration on the problem
    p = sparse_recovery(12, 6, 2, seed=0)
    x = np.asarray(p.x_true, dtype=float)
    ref = np.full(12, np.nan)
    out = compute_metrics(["rel_error", "l1_gap", "ref_error", "residual"], p, x, ref, 1e-3)
    assert np.isnan(out["l1_gap"]) and np.isnan(out["ref_error"])
    assert out["rel_error"] == 0.0 and out["residual"] < 1e-12


def test_runner_rows_survive_a_reference_that_succeeds_with_nan(tmp_path):
    from overparam.experiments import load, run

    def nanref(problem):
        return Result(x=np.full(problem.n, np.nan), status=Status.CONVERGED)

    def half(problem, seed):
        return Result(x=0.5 * np.asarray(problem.x_true), status=Status.CONVERGED)

    register(MethodEntry("t_adv_nanref", nanref, {}))
    register(MethodEntry("t_adv_half", half, {}, seeded=True))
    spec = {"experiment": {"name": "adv", "trials": 2, "seed": 0,
                           "metrics": ["rel_error", "l1_gap"], "reference": "t_adv_nanref"},
            "problem": {"generator": "sparse_recovery", "n": 12, "m": 6, "s": 2},
            "methods": [{"name": "t_adv_half"}, {"name": "t_adv_nanref"}],
            "run": {"executor": "serial"}}
    summary = run(spec, tmp_path / "out", progress=False)
    df = load(tmp_path / "out")
    assert summary.error_rows == 0 and (df["status"] == "converged").all()
    half_rows = df[df["method"] == "t_adv_half"]
    np.testing.assert_allclose(half_rows["rel_error"], 0.5, rtol=1e-12)
    assert df["l1_gap"].isna().all()
    # the problem seeds are the method's own: identical across methods
    assert sorted(half_rows["seed"]) == sorted(df[df["method"] == "t_adv_nanref"]["seed"])


# ------------------------------------------------------------------------ estimators
def _l1_with_intercept(X, y):
    """min ||c||_1 s.t. X c + b = y (b free), by HiGHS."""
    m, n = X.shape
    res = scipy.optimize.linprog(np.r_[np.ones(2 * n), 0.0], A_eq=np.c_[X, -X, np.ones(m)],
                                 b_eq=y, bounds=[(0, None)] * (2 * n) + [(None, None)],
                                 method="highs")
    return res.x[:n] - res.x[n:2 * n], res.x[-1]


def test_fit_intercept_matches_highs_l1_with_free_intercept():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 30)) + 3.0  # uncentered columns
    c = np.zeros(30)
    c[[2, 7]] = [1.5, -2.0]
    y = X @ c + 5.0
    coef, b = _l1_with_intercept(X, y)
    reg = HadamardRegressor(depth=3, init_scale=1e-4, fit_intercept=True).fit(X, y)
    assert reg.result_.success
    np.testing.assert_allclose(reg.coef_, coef, atol=1e-7)
    assert abs(reg.intercept_ - b) < 1e-7
    np.testing.assert_allclose(reg.predict(X), y, atol=1e-8)


def test_sklearn_conventions_round_trip_and_refit():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8, 20))
    y = X[:, 3] - 2 * X[:, 11]
    reg = HadamardRegressor(depth=3, init_scale=1e-3)
    with pytest.raises(NotFittedError):
        reg.predict(X)
    assert reg.fit(X, y) is reg and reg.coef_.shape == (20,)
    twin = clone(reg).set_params(**reg.get_params())
    assert not hasattr(twin, "coef_")
    np.testing.assert_array_equal(twin.fit(X, y).coef_, reg.coef_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # column-vector y: scikit-learn's own warning
        np.testing.assert_array_equal(clone(reg).fit(X, y[:, None]).coef_, reg.coef_)
    reg.fit(X[:, :10], y)  # refit on fewer features
    assert reg.n_features_in_ == 10 and reg.coef_.shape == (10,)
    with pytest.raises(ValueError, match="expecting 10 features"):
        reg.predict(X)
