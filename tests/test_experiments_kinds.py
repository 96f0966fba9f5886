"""Problem kinds: a spec pairing a method with a generator of another kind is refused."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra

from overparam.experiments import (  # noqa: E402
    METHODS,
    SpecError,
    get_method,
    load,
    load_spec,
    run,
)
from overparam.experiments.generators import GENERATORS, PROBLEM_KINDS  # noqa: E402

SPARSE = {"n": 20, "m": 10, "s": 2}
SENSING = {"generator": "matrix_sensing", "n1": 5, "rank": 1, "m": 20}
EIGEN = {"generator": "sparse_eigen", "n": 300, "rank": 2, "sparsity": 3}


def _spec(problem, *methods, metrics=("rel_error",)):
    return {"experiment": {"trials": 1, "metrics": list(metrics)}, "problem": dict(problem),
            "methods": [dict(m) for m in methods]}


# each failed on every trial at run time (one error row per trial; measured by running
# every registered method on a small problem of every generator)
@pytest.mark.parametrize("problem, own, method, fragment", [
    (SPARSE, "basis_pursuit", "dmf_gd", "method 'dmf_gd' solves matrix problems, "
                                        "generator 'sparse_recovery' makes vector problems"),
    (SPARSE, "basis_pursuit", "mlp_gd", "method 'mlp_gd' solves digits problems"),
    (SENSING, "dmf_gd", "mamstar", "method 'mamstar' solves eigen problems, generator "
                                   "'matrix_sensing' makes matrix / vector problems"),
    (EIGEN, None, "hadamard_gd", "method 'hadamard_gd' solves vector problems, generator "
                                 "'sparse_eigen' makes eigen problems"),
    ({"generator": "quantize_layer", "m": 5, "N": 10}, "msq", "nuclear_norm_prox",
     "solves matrix problems"),
    ({"generator": "sparse_regression", "n": 20, "m": 10, "s": 2}, "lasso", "irls_lrrs",
     "solves matrix problems"),
])
def test_a_method_of_another_kind_is_refused_with_its_key_path(problem, own, method,
                                                                fragment):
    index = 0 if own is None else 1
    first = [dict(name=own, **({"alpha": 1e-3} if own == "lasso" else {}))] if own else []
    methods = first + [{"name": method}]
    with pytest.raises(SpecError) as info:
        load_spec(_spec(problem, *methods))
    msg = str(info.value)
    assert msg.startswith(f"methods[{index}].name: ") and fragment in msg
    assert "generators of " in msg     # names generators that do fit


def test_the_refusal_comes_before_anything_runs(tmp_path):
    with pytest.raises(SpecError, match=r"methods\[1\]\.name"):
        run(_spec(SPARSE, {"name": "basis_pursuit"}, {"name": "dmf_gd"}), tmp_path / "r",
            executor="serial")
    assert not (tmp_path / "r").exists()


def test_a_reference_of_another_kind_is_refused_when_a_metric_needs_it():
    # basis_pursuit (the default reference) fails on every eigenproblem
    with pytest.raises(SpecError, match="experiment.reference: method 'basis_pursuit' "
                                        "solves vector problems"):
        load_spec(_spec(EIGEN, {"name": "eigsh_truncated"}, metrics=("l1_gap",)))
    load_spec(_spec(EIGEN, {"name": "eigsh_truncated"}, metrics=("overlap",)))


@pytest.mark.parametrize("problem, method", [
    # vector methods on the vectorized matrix: they run (l1 / NNLS baselines)
    (SENSING, "basis_pursuit"),
    (SENSING, "hadamard_gd"),
    ({"generator": "lrrs_problem", "n1": 6, "n2": 6, "rank": 1, "s": 2, "m": 40},
     "nnls"),
    ({"generator": "matrix_completion", "n1": 5, "rank": 1, "fraction": 0.5}, "lasso"),
    # digits: regression weights, as a vector or a (features x classes) matrix
    ({"generator": "digits"}, "dmf_gd"),
    ({"generator": "digits"}, "basis_pursuit"),
    ({"generator": "digits"}, "mlp_gd"),
    ({"generator": "quantize_graph", "kind": "grid", "n": 16, "r": 4}, "hadamard_limit"),
    # undeclared: the quantize methods ("vector") quantize the trained network
    ({"generator": "digits_mlp"}, "msq"),
])
def test_pairs_that_run_are_accepted(problem, method):
    params = {"alpha": 1e-3} if method == "lasso" else {}
    load_spec(_spec(problem, dict(name=method, **params)))


def test_a_vector_method_on_matrix_problems_runs_without_error_rows(tmp_path):
    summary = run(_spec(SENSING, {"name": "basis_pursuit"}), tmp_path / "r",
                  executor="serial")
    assert summary.error_rows == 0 and summary.ok
    assert (load(tmp_path / "r").status != "error").all()


def test_declared_kinds_are_kinds_methods_declare():
    from overparam.experiments.generators import generator_kinds

    # a typo in a generator's kinds would refuse every method on it
    method_kinds = {e.problems for e in METHODS.values()}
    for name in GENERATORS:
        assert set(generator_kinds(name)) <= method_kinds | set(PROBLEM_KINDS), name
    # the example generator of a kind makes that kind
    for kind, (gen, _) in PROBLEM_KINDS.items():
        kinds = generator_kinds(gen)
        assert not kinds or kind in kinds, (kind, gen)
    assert get_method("dmf_gd").problems not in generator_kinds("sparse_recovery")


def test_declared_minimums_are_numeric_parameters_the_generator_refuses_below():
    # a typo would never check anything; a bound above the generator's own would refuse
    # specs that run. Below the bound the generator itself refuses (ints: bound - 1).
    for name, gen in GENERATORS.items():
        for key, low in gen.minimum:
            assert key in gen.params and gen.params[key] in ("int", "float"), (name, key)
    cases = [("sparse_recovery", dict(n=8, m=4, s=1)),
             ("matrix_completion", dict(n1=4, rank=1, fraction=0.5)),
             ("matrix_sensing", dict(n1=4, rank=1, m=8)),
             ("lrrs_problem", dict(n1=4, n2=4, rank=1, s=2, m=10)),
             ("sparse_eigen", dict(n=10, rank=1, sparsity=2)),
             ("quantize_layer", dict(m=4, N=4)),
             ("quantize_graph", dict(kind="grid", n=9, r=1))]
    for name, base in cases:
        gen = GENERATORS[name]
        for key, low in gen.minimum:
            below = low - 1 if gen.params[key] == "int" else low - 0.5
            kw = dict(base, **{key: below})
            if key == "n_observed":  # one of n_observed, fraction
                del kw["fraction"]
            with pytest.raises(ValueError, match=key):
                gen.make(kw, 0)
