"""Bad input to the method, generator and metric registries: refused when registered or
called, with a message naming what is wrong (not a later bare KeyError/AttributeError,
nor a silently dropped trial)."""
import numpy as np
import pytest

from overparam import Result, Status
from overparam.experiments import generators, methods
from overparam.experiments.generators import (GeneratorEntry, get_generator,
                                              register_generator, register_problem_kind)
from overparam.experiments.measures import compute_metrics
from overparam.experiments.methods import MethodEntry, get_method, register


@pytest.fixture(autouse=True)
def _restore_registries():
    """Leave the registries as they were (a test registers throwaway entries)."""
    saved = (dict(methods.METHODS), dict(generators.GENERATORS),
             dict(generators.PROBLEM_KINDS))
    yield
    for live, old in zip((methods.METHODS, generators.GENERATORS, generators.PROBLEM_KINDS),
                         saved):
        live.clear()
        live.update(old)


def _solve(problem, *, k: float = 1.0):
    return Result(x=np.full(problem.n, k), status=Status.CONVERGED)


def _solve_batch(problems, *, k: float = 1.0):
    return [_solve(p, k=k) for p in problems]


@pytest.fixture
def problems():
    gen = get_generator("sparse_recovery")
    return [gen.make(dict(n=6, m=4, s=1), seed) for seed in (0, 1, 2)]


# -- methods ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [123, "", "   ", None])
def test_a_method_name_that_is_not_a_nonempty_string_is_refused(name):
    with pytest.raises(ValueError, match="method name must be a non-empty string"):
        register(MethodEntry(name, _solve, {"k": "float"}))
    # a non-string name in the registry used to break every later unknown-name error
    with pytest.raises(KeyError, match="registered:"):
        get_method("no_such_method")


def test_an_unknown_parameter_type_is_refused_when_registered():
    # was accepted, then configure raised a bare KeyError: 'double'
    with pytest.raises(ValueError, match="'k' has type 'double'"):
        register(MethodEntry("t_reg_type", _solve, {"k": "double"}))
    with pytest.raises(ValueError, match="'k' has type 'float|dbl'"):
        register(MethodEntry("t_reg_type", _solve, {"k": "float|dbl"}))


def test_a_required_parameter_not_among_params_is_refused():
    # a spec could never set it, so the method could never run
    with pytest.raises(ValueError, match="required names 'alpha'"):
        register(MethodEntry("t_reg_req", _solve, {"k": "float"}, required=("alpha",)))


@pytest.mark.parametrize("field, value", [
    ("target", 42), ("target", "overparam.baselines"), ("target", "overparam.baselines:"),
    ("batch_target", ":lasso"), ("batch_target", 3.5)])
def test_a_target_that_is_not_a_callable_nor_module_function_is_refused(field, value):
    kw = {"target": _solve, field: value}
    with pytest.raises(TypeError, match=f"{field} must be a callable or a 'module:function'"):
        register(MethodEntry("t_reg_target", params={"k": "float"}, **kw))
    assert "t_reg_target" not in methods.METHODS


def _no_problem():
    return None


def _unseeded(problem, *, k=1.0):
    return None


@pytest.mark.parametrize("fn, params, seeded, fragment", [
    (_unseeded, {"alpha": "float"}, False, "unexpected keyword argument 'alpha'"),
    (_unseeded, {"k": "float"}, True, "unexpected keyword argument 'seed'"),
    (_no_problem, {}, False, "too many positional arguments"),
])
def test_a_callable_that_cannot_take_the_problem_and_params_is_refused(fn, params, seeded,
                                                                       fragment):
    # was accepted, and every trial of a sweep became an error row
    with pytest.raises(TypeError, match=f"method 't_sig'.*{fragment}"):
        register(MethodEntry("t_sig", fn, params, seeded=seeded))


def test_callables_taking_the_params_or_any_keywords_are_accepted(problems):
    def loose(problem, **kw):
        return _solve(problem)

    register(MethodEntry("t_sig_ok", _solve, {"k": "float"}))
    register(MethodEntry("t_sig_kw", loose, {"a": "int"}, seeded=True))
    assert get_method("t_sig_ok").configure(k=2.0)(problems[0], 1).x[0] == 2.0
    # a custom ``call`` decides the signature itself: not checked
    register(MethodEntry("t_sig_call", _no_problem, {"k": "float"},
                         call=lambda fn, problem, params: _solve(problem, **params)))
    with pytest.raises(ValueError, match="already registered"):
        register(MethodEntry("t_sig_ok", _solve, {"k": "float"}))


def test_a_numpy_bool_is_a_bool_parameter_but_not_an_int_or_float():
    entry = get_method("lasso")
    # was "expected bool for method 'lasso', got bool np.True_"
    entry.configure(alpha=0.1, nonneg=np.True_)
    with pytest.raises(TypeError, match="alpha: expected float"):
        entry.configure(alpha=np.True_)
    with pytest.raises(TypeError, match="max_iter: expected int"):
        entry.configure(alpha=0.1, max_iter=np.False_)


@pytest.mark.parametrize("batched", [False, True])
def test_configure_batch_refuses_a_seed_count_other_than_the_problem_count(problems, batched):
    register(MethodEntry("t_batch", _solve, {"k": "float"},
                         batch_target=_solve_batch if batched else None))
    run = get_method("t_batch").configure_batch(k=3.0)
    # the loop over configure zipped problems with seeds: 3 problems, 1 seed -> 1 result
    with pytest.raises(ValueError, match="3 problems but 1 seeds"):
        run(problems, [7])
    out = run(iter(problems), (s for s in (1, 2, 3)))   # any iterables, one seed each
    assert [r.x[0] for r in out] == [3.0, 3.0, 3.0]


def test_an_unhashable_method_or_generator_name_is_an_unknown_name():
    with pytest.raises(KeyError, match=r"unknown method \['lasso'\]"):
        get_method(["lasso"])
    with pytest.raises(KeyError, match=r"unknown generator \['sparse_recovery'\]"):
        get_generator(["sparse_recovery"])


# -- generators ---------------------------------------------------------------------------
_GEN = "overparam.problems:sparse_recovery"


@pytest.mark.parametrize("kw, error, fragment", [
    (dict(name=5), ValueError, "generator name must be a non-empty string"),
    (dict(target="overparam.problems"), TypeError, "target must be a 'module:function'"),
    (dict(params={"n": "integer"}), ValueError, "'n' has type 'integer'"),
    (dict(required=("m",)), ValueError, "required names 'm'"),
    (dict(choices=(("signal", ("gaussian",)),)), ValueError, "choices names 'signal'"),
    (dict(minimum=(("s", 0),)), ValueError, "minimum names 's'"),
    (dict(one_of=(("n", "m"),)), ValueError, "one_of names 'm'"),
])
def test_a_malformed_generator_entry_is_refused_when_registered(kw, error, fragment):
    entry = {**dict(name="t_gen", target=_GEN, params={"n": "int"}), **kw}
    with pytest.raises(error, match=fragment):
        register_generator(GeneratorEntry(**entry))
    with pytest.raises(KeyError, match="known:"):
        get_generator("no_such_generator")


def test_a_problem_kind_needs_a_registered_generator_and_a_name():
    # an unknown generator was accepted; example_problem failed on it later
    with pytest.raises(KeyError, match="unknown generator 'no_such_gen'"):
        register_problem_kind("t_kind", "no_such_gen", {})
    assert "t_kind" not in generators.PROBLEM_KINDS
    with pytest.raises(ValueError, match="problem kind must be a non-empty string"):
        register_problem_kind("", "sparse_recovery", dict(n=6, m=4, s=1))


def test_generator_seeds_reproduce_and_differ():
    gen = get_generator("sparse_recovery")
    params = dict(n=8, m=5, s=2)
    a, b = gen.make(params, 11), gen.make(params, np.int64(11))
    assert np.array_equal(a.y, b.y) and np.array_equal(a.x_true, b.x_true)
    assert not np.array_equal(a.y, gen.make(params, 12).y)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        gen.make(params, -1)


# -- measures -----------------------------------------------------------------------------
def test_an_unknown_metric_name_is_named_with_the_registered_ones(problems):
    p = problems[0]
    with pytest.raises(KeyError, match="unknown metric 'nope' .registered: rel_error"):
        compute_metrics(["rel_error", "nope"], p, p.x_true, None, 1e-3)


def test_a_single_metric_name_string_is_refused(problems):
    p = problems[0]
    # iterating the string asked for the metric 'r'
    with pytest.raises(TypeError, match="list of metric names, got the string 'rel_error'"):
        compute_metrics("rel_error", p, p.x_true, None, 1e-3)
    assert compute_metrics(("rel_error",), p, p.x_true, None, 1e-3) == {"rel_error": 0.0}
