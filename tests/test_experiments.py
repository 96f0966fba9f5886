"""Experiments engine: spec validation, overrides, seeds, registry contract, runner, store."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra

import copy  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from overparam import Result, Status  # noqa: E402
from overparam.experiments import (  # noqa: E402
    METHODS,
    MethodEntry,
    SpecError,
    Store,
    StoreError,
    expand_cells,
    get_method,
    load,
    load_spec,
    make_problem,
    problem_seed,
    read_manifest,
    register,
    run,
    run_cell,
)
from overparam.experiments.runner import chunk_sizes  # noqa: E402
from overparam.experiments.generators import example_problem  # noqa: E402
from overparam.problems import sparse_recovery  # noqa: E402

BASE = {
    "experiment": {"seed": 3, "trials": 2, "metrics": ["recovered", "rel_error", "l1_gap"]},
    "problem": {"n": 24, "s": 2, "m": [10, 14]},
    "methods": [
        {"name": "basis_pursuit"},
        {"name": "hadamard_gd", "depth": [2, 3], "init_scale": 1e-2, "max_iter": 300,
         "tol": 1e-4, "record": 8},
    ],
}


def spec_dict(**sections):
    d = copy.deepcopy(BASE)
    for key, value in sections.items():
        d[key] = value
    return d


# -- spec validation ---------------------------------------------------------------------

@pytest.mark.parametrize("override, fragment", [
    ("experiment.trails=3", "experiment.trails: unknown key"),
    ('experiment.trials="5"', "experiment.trials: expected int"),
    ("experiment.trials=0", "experiment.trials: must be >= 1"),
    ("problem.m=[]", "problem.m: empty grid"),
    ("problem.m=[10, 2.5]", "problem.m: expected int"),
    ("problem.mm=3", "problem.mm: unknown parameter of generator"),
    ('problem.operator="fourier"', "problem.operator: 'fourier' is not one of"),
    ('problem.generator="nope"', "problem.generator: unknown generator"),
    ('methods[0].name="bp"', "methods[0].name: unknown method 'bp'"),
    ("methods[1].depht=2", "methods[1].depht: unknown parameter of method 'hadamard_gd'"),
    ("methods[1].depth=2.5", "methods[1].depth: expected int"),
    ("methods[1].init_scale=[]", "methods[1].init_scale: empty grid"),
    ('experiment.metrics=["rel_err"]', "experiment.metrics[0]: unknown metric 'rel_err'"),
    ('run.executor="mpi"', "run.executor: 'mpi' is not one of"),
    ("plots[0].kind='pie'", "plots[0].kind: must be one of"),
    # raised by the drawing at the end of `overparam run`, after the whole sweep
    ("plots[0].format='jpg'", "plots[0].format: 'jpg' is not one of png, pdf, svg"),
    ("plots[0].format=['png', 1]", "plots[0].format: 1 is not one of"),
    # wrote no file at all, exit status 0
    ("plots[0].format=[]", "plots[0].format: empty"),
    ("bogus.x=1", "bogus: unknown section"),
    # found only when a run reached them (a crash in the metrics or the chunking)
    ('experiment.name=""', "experiment.name: empty"),
    ("experiment.recovery_tol=0", "experiment.recovery_tol: must be finite and > 0"),
    ("experiment.recovery_tol=nan", "experiment.recovery_tol: must be finite and > 0"),
    ("experiment.batch_memory_mb=nan", "experiment.batch_memory_mb: must be finite"),
    ("experiment.batch_memory_mb=inf", "experiment.batch_memory_mb: must be finite"),
    # TypeError (unhashable) instead of the key path
    ('experiment.metrics=[["rel_error"]]', "experiment.metrics[0]: expected str"),
    ('problem.generator=["sparse_recovery"]', "problem.generator: expected str"),
    ('methods[1].label="{depth.real.x}"', "label '{depth.real.x}': cannot format"),
    # the same cell (same seeds) or configuration twice
    ("problem.m=[10, 14, 10]", "problem.m: 10 appears twice in the grid"),
    ("problem.noise=[0, 0.0]", "problem.noise: 0.0 appears twice in the grid"),
    ("methods[1].depth=[2, 2]", "methods[1].depth: 2 appears twice in the grid"),
    # every trial of such a cell was an error row
    ("problem.m=[10, -5]", "problem.m[1]: must be >= 1, got -5"),
    ("problem.n=0", "problem.n: must be >= 1, got 0"),
    ("problem.noise=-0.1", "problem.noise: must be >= 0.0, got -0.1"),
    ('experiment.metrics=["rel_error", "recovered", "rel_error"]',
     "experiment.metrics[2]: 'rel_error' is listed twice"),
])
def test_spec_errors_name_the_key_path(override, fragment):
    data = spec_dict()
    if override.startswith("plots"):
        data["plots"] = [{"kind": "curve", "x": "m"}]
    with pytest.raises(SpecError) as info:
        load_spec(data, [override])
    assert fragment in str(info.value)


def test_plots_writing_the_same_file_are_refused():
    """The default stem names only the kind and axes: two curves differing in `where`
    both wrote curve_recovered_vs_m.png, the second over the first (exit status 0)."""
    data = spec_dict(plots=[{"kind": "curve", "x": "m"},
                            {"kind": "curve", "x": "m", "where": {"depth": 2}}])
    with pytest.raises(SpecError, match=r"plots\[1\]: writes curve_recovered_vs_m.png, as "
                       r"plots\[0\] does"):
        load_spec(data)
    data["plots"][1]["name"] = "curve_depth2"
    assert len(load_spec(data).plots) == 2
    # the same explicit name in different formats is two files
    data["plots"] = [{"kind": "curve", "x": "m", "name": "c", "format": "png"},
                     {"kind": "phase", "name": "c", "format": "pdf"}]
    assert len(load_spec(data).plots) == 2
    with pytest.raises(SpecError, match=r"writes c.pdf"):
        load_spec(data, ["plots[0].format=['png', 'pdf']"])


def test_the_default_plot_stems():
    from overparam.experiments.spec import plot_stem

    assert plot_stem("curve", x="m") == "curve_recovered_vs_m"
    assert plot_stem("curve", x="m", value="rel_error") == "curve_rel_error_vs_m"
    assert plot_stem("phase") == "phase_recovered_s_m"
    assert plot_stem("trace", y="loss") == "trace_loss"
    assert plot_stem("trace", name="t") == "t"


def test_spec_errors_for_missing_pieces():
    with pytest.raises(SpecError, match="problem.n: required parameter"):
        load_spec(spec_dict(problem={"m": 5, "s": 1}))
    with pytest.raises(SpecError, match="methods: give at least one"):
        load_spec(spec_dict(methods=[]))
    with pytest.raises(SpecError, match=r"methods\[0\].alpha: required parameter of 'lasso'"):
        load_spec(spec_dict(methods=[{"name": "lasso"}]))
    with pytest.raises(SpecError, match="share the label"):
        load_spec(spec_dict(methods=[{"name": "hadamard_gd", "depth": [2, 3], "label": "gd"}]))


def test_valid_spec_is_accepted_before_anything_runs(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[problem]\nn = 10\ns = 1\nm = 5\n[[methods]]\nname = "nope"\n')
    with pytest.raises(SpecError, match=r"methods\[0\].name"):
        run(bad, tmp_path / "out", executor="serial")
    assert not (tmp_path / "out").exists()


def test_overrides_set_any_key():
    spec = load_spec(spec_dict(), ["problem.m=[50,100]", "experiment.trials=5",
                                   "methods[1].depth=3", "methods.1.init_scale=[1e-3, 1e-4]",
                                   "run.executor=serial", 'experiment.name="x y"'])
    assert spec.problem_axes["m"] == [50, 100]
    assert spec.experiment["trials"] == 5
    assert [c.params["init_scale"] for c in spec.method_configs()[1:]] == [1e-3, 1e-4]
    assert {c.params["depth"] for c in spec.method_configs()[1:]} == {3}
    assert spec.run["executor"] == "serial" and spec.name == "x y"
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(spec_dict(), ["methods[5].depth=3"])
    with pytest.raises(SpecError, match="KEY=VALUE"):
        load_spec(spec_dict(), ["problem.m"])


def test_config_keys_of_a_big_method_grid_expand_it_once(monkeypatch):
    # `Spec.reference` re-expanded every configuration for each (cell, configuration)
    # key: 2 cells x 1000 init scales took 30 s before the first cell ran (quadratic)
    from overparam.experiments import spec as spec_module
    from overparam.experiments.cells import config_key

    scales = [10.0 ** (-1 - k / 300) for k in range(300)]
    spec = load_spec(spec_dict(methods=[{"name": "hadamard_limit", "init_scale": scales}]))
    calls = []
    expand = spec_module._expand_methods
    monkeypatch.setattr(spec_module, "_expand_methods",
                        lambda tables: calls.append(1) or expand(tables))
    keys = {config_key(spec, c.params, cfg)
            for c in expand_cells(spec) for cfg in spec.method_configs()}
    assert len(keys) == 2 * 300 and len(calls) == 1
    assert spec.reference.name == "basis_pursuit"
    configs = spec.method_configs()
    configs.pop()  # a copy: the spec's own list is not changed
    assert len(spec.method_configs()) == 300


def test_spec_hash_ignores_run_and_plots_and_labels_tell_configs_apart():
    a = load_spec(spec_dict())
    b = load_spec(spec_dict(), ["run.executor=serial", "run.workers=3"])
    c = load_spec(spec_dict(), ["experiment.trials=3"])
    assert a.hash == b.hash != c.hash
    assert [cfg.label for cfg in a.method_configs()] == [
        "basis_pursuit", "hadamard_gd(depth=2)", "hadamard_gd(depth=3)"]
    import tomllib

    assert load_spec(tomllib.loads(a.to_toml())).hash == a.hash   # the manifest's TOML


def test_manifest_toml_reads_back_with_any_label_or_where_column():
    """``to_toml`` wrote keys needing quotes bare and non-BMP characters as surrogate
    escapes: the manifest's TOML did not parse."""
    import tomllib

    data = spec_dict(plots=[{"kind": "curve", "x": "m", "y": "recovered",
                             "where": {"method_init scale": 1e-2, "a.b": "x"}}])
    data["methods"][0]["label"] = 'BP \U0001F600 "q"\x7f\n'
    spec = load_spec(data)
    back = load_spec(tomllib.loads(spec.to_toml()))
    assert back.hash == spec.hash and back.plots == spec.plots
    assert back.method_configs()[0].label == data["methods"][0]["label"]


def test_int_and_float_spellings_of_a_float_are_one_spec():
    """``1`` and ``1.0`` of a float parameter were different specs: other hashes, cell keys
    and (through the problem parameters) other problem seeds, hence other problems."""
    base = load_spec(spec_dict(), ["problem.noise=0.0", "methods[1].init_scale=1.0"])
    ints = load_spec(spec_dict(), ["problem.noise=0", "methods[1].init_scale=1",
                                   "experiment.batch_memory_mb=256"])   # the default 256.0
    assert ints.hash == base.hash
    assert [c.key for c in expand_cells(ints)] == [c.key for c in expand_cells(base)]
    assert [c.params for c in expand_cells(ints)] == [c.params for c in expand_cells(base)]
    assert isinstance(ints.data["problem"]["noise"], float)
    assert [c.key for c in ints.method_configs()] == [c.key for c in base.method_configs()]
    # ints stay ints where the type allows them (step = "str|float" keeps strings)
    assert load_spec(spec_dict(), ['methods[1].step="auto"']).method_configs()[1].params[
        "step"] == "auto"
    assert load_spec(spec_dict()).problem_axes["m"] == [10, 14]


def test_reference_is_checked_against_the_expanded_labels():
    gd = {"name": "hadamard_gd", "depth": [2, 3], "init_scale": 1e-2, "max_iter": 300,
          "label": "gd L={depth}"}
    methods = [{"name": "basis_pursuit"}, gd]
    # a label as it appears in the results names one configuration (was refused)
    spec = load_spec(spec_dict(methods=methods), ['experiment.reference="gd L=3"'])
    assert spec.reference.label == "gd L=3" and spec.reference.params["depth"] == 3
    default = load_spec(spec_dict(), ['experiment.reference="hadamard_gd(depth=2)"'])
    assert default.reference.params["depth"] == 2
    # the raw template names no configuration (was accepted, then the run crashed with
    # "unknown method 'gd L={depth}'")
    with pytest.raises(SpecError, match="experiment.reference: unknown method"):
        load_spec(spec_dict(methods=methods), ['experiment.reference="gd L={depth}"'])
    # a registered method that cannot run without parameters (was accepted; every
    # l1_gap was NaN)
    with pytest.raises(SpecError, match="experiment.reference: method 'lasso' needs"):
        load_spec(spec_dict(), ['experiment.reference="lasso"'])
    load_spec(spec_dict(), ['experiment.reference="lasso"', 'experiment.metrics=["rel_error"]'])


def test_metrics_with_a_matrix_reference_match_overparam_metrics():
    from overparam import metrics
    from overparam.experiments.measures import compute_metrics

    problem = example_problem("matrix")
    rng = np.random.default_rng(0)
    x = problem.x_true + 0.1 * rng.standard_normal(problem.x_true.shape)
    ref = (problem.x_true + 0.05 * rng.standard_normal(problem.x_true.shape)).reshape(6, 6)
    # dmf_gd returns a 6 x 6 x; as the reference it crashed run_cell (shape mismatch)
    got = compute_metrics(["ref_error", "l1_gap", "rel_error"], problem, x.reshape(6, 6),
                          ref, 1e-3)
    assert got["ref_error"] == pytest.approx(metrics.relative_error(x, ref.reshape(-1)))
    assert got["l1_gap"] == pytest.approx(metrics.l1_gap(x, ref.reshape(-1)))
    assert got["rel_error"] == pytest.approx(metrics.relative_error(x, problem.x_true))


def test_a_diverged_estimate_counts_as_not_recovered():
    from overparam import metrics
    from overparam.experiments.measures import compute_metrics

    problem = example_problem("vector")
    # was NaN: the trial dropped out of the recovery rate (a mean over trials)
    bad = np.full(problem.x_true.shape, np.nan)
    got = compute_metrics(["recovered", "rel_error"], problem, bad, None, 1e-3)
    assert got["recovered"] == float(metrics.success(bad, problem.x_true, 1e-3)) == 0.0
    assert np.isnan(got["rel_error"])


# -- seeds and cells ---------------------------------------------------------------------

def test_problem_seeds_do_not_depend_on_methods_or_order():
    a = load_spec(spec_dict())
    b = load_spec(spec_dict(methods=[{"name": "hadamard_limit", "depth": 2}]))
    cells_a, cells_b = expand_cells(a), expand_cells(b)
    assert [c.params for c in cells_a] == [c.params for c in cells_b]
    for ca, cb in zip(cells_a, cells_b):
        for t in range(2):
            pa, sa = make_problem(a, ca.params, t)
            pb, sb = make_problem(b, cb.params, t)
            assert sa == sb == problem_seed(3, ca.params, t)
            np.testing.assert_array_equal(pa.A.to_dense(), pb.A.to_dense())
            np.testing.assert_array_equal(pa.y, pb.y)
    # distinct trials and distinct cells get distinct problems
    assert problem_seed(3, {"m": 10}, 0) != problem_seed(3, {"m": 10}, 1)
    assert problem_seed(3, {"m": 10}, 0) != problem_seed(3, {"m": 14}, 0)
    # reversed grid order: the same cell parameters get the same key and seeds
    rev = load_spec(spec_dict(), ["problem.m=[14, 10]"])
    assert {c.params["m"]: c.key for c in expand_cells(rev)} == \
        {c.params["m"]: c.key for c in cells_a}


def test_chunk_sizes_respect_the_memory_bound():
    assert chunk_sizes(20, 10, 1e9) == [20]
    assert chunk_sizes(20, 10, 70) == [7, 7, 6] or sum(chunk_sizes(20, 10, 70)) == 20
    sizes = chunk_sizes(20, 10, 70)
    assert sum(sizes) == 20 and max(sizes) <= 7
    assert chunk_sizes(3, 10**9, 1) == [1, 1, 1]


# -- registry contract ---------------------------------------------------------------------

REQUIRED = {"lasso": {"alpha": 1e-4}}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_registered_method_returns_a_result(name):
    entry = get_method(name)
    if not entry.available:
        pytest.skip(f"{name}: solver module not importable")
    problem = example_problem(entry.problems)     # each kind declares a small example
    params = dict(REQUIRED.get(name, {}))
    if "max_iter" in entry.params and name in ("hadamard_gd", "dmf_gd"):
        params.update(max_iter=200)
    res = entry.configure(**params)(problem, 7)
    assert isinstance(res, Result) and isinstance(res.status, Status)
    if entry.problems in ("vector", "matrix"):   # other kinds define their own x
        assert np.asarray(res.x).size == problem.n
    if entry.batchable:
        batch = entry.configure_batch(**params)([problem, problem], [1, 2])
        assert len(batch) == 2 and all(isinstance(r, Result) for r in batch)


def test_builtin_methods_are_enrolled():
    assert {"hadamard_gd", "hadamard_limit", "basis_pursuit", "lasso", "nnls"} <= set(METHODS)
    assert get_method("hadamard_gd").batchable
    with pytest.raises(KeyError, match="registered:"):
        get_method("nope")


# -- runner ---------------------------------------------------------------------------------

def _flaky(problem, *, fail_on: int = 14):
    if problem.m == fail_on:
        raise FloatingPointError("boom on purpose")
    return Result(x=np.zeros(problem.n), status=Status.CONVERGED)


@pytest.fixture
def flaky_method():
    register(MethodEntry("test_flaky", _flaky, {"fail_on": "int"}), replace=True)
    yield "test_flaky"
    METHODS.pop("test_flaky", None)


def test_a_failing_method_gives_error_rows_not_a_crashed_sweep(tmp_path, flaky_method):
    data = spec_dict(methods=[{"name": "basis_pursuit"}, {"name": flaky_method}])
    summary = run(data, tmp_path / "r", executor="serial")
    assert summary.computed == 2 and not summary.failed and summary.error_rows == 2
    df = load(tmp_path / "r")
    bad = df[df.status == "error"]
    assert len(bad) == 2 and set(bad.m) == {14} and set(bad.label) == {flaky_method}
    assert bad.error.str.contains("FloatingPointError: boom on purpose").all()
    assert bad.rel_error.isna().all() and not bad.success.any()
    good = df[df.status != "error"]
    assert (good.error == "").all() and len(good) == 6


def _malformed(problem, *, mode: str = "shape"):
    if problem.m != 14:
        return Result(x=np.zeros(problem.n), status=Status.CONVERGED)
    if mode == "shape":
        return Result(x=np.zeros(problem.n - 1), status=Status.CONVERGED)
    return Result(x=np.zeros(problem.n), status=Status.CONVERGED, fun="not a number")


@pytest.mark.parametrize("mode, message", [("shape", "shape mismatch"),
                                           ("fun", "could not convert")])
def test_a_malformed_result_gives_error_rows_not_a_failed_cell(tmp_path, mode, message):
    # a Result the metrics cannot use used to fail the whole cell: every method's rows of
    # that cell were lost and the CLI exited 1
    register(MethodEntry("test_malformed", _malformed, {"mode": "str"}), replace=True)
    try:
        data = spec_dict(methods=[{"name": "basis_pursuit"},
                                  {"name": "test_malformed", "mode": mode}])
        summary = run(data, tmp_path / "r", executor="serial")
    finally:
        METHODS.pop("test_malformed", None)
    assert summary.computed == 2 and not summary.failed and summary.error_rows == 2
    df = load(tmp_path / "r")
    assert len(df) == 8
    bad = df[df.status == "error"]
    assert set(bad.m) == {14} and set(bad.label) == {"test_malformed"}
    assert bad.error.str.contains(f"unusable result: .*{message}").all()
    assert bad.rel_error.isna().all() and np.isnan(bad.fun).all()
    bp = df[(df.m == 14) & (df.method == "basis_pursuit")]
    assert (bp.status == "converged").all() and (bp.rel_error < 1e-6).all()


def test_a_batched_solver_that_cannot_load_falls_back_to_one_by_one(tmp_path):
    # configure_batch raising (its module missing) used to fail every cell of the sweep
    register(MethodEntry("test_nobatch", _malformed, {"mode": "str"},
                         batch_target="overparam.no_such_module:solve"), replace=True)
    try:
        data = spec_dict(problem={"n": 24, "s": 2, "m": 10},
                         methods=[{"name": "test_nobatch"}])
        summary = run(data, tmp_path / "r", executor="serial")
    finally:
        METHODS.pop("test_nobatch", None)
    assert summary.computed == 1 and not summary.failed and summary.error_rows == 0
    df = load(tmp_path / "r")
    assert len(df) == 2 and (df.status == "converged").all()


def test_batched_rows_match_one_by_one(tmp_path):
    spec = load_spec(spec_dict(), ["problem.m=[12]", "experiment.trials=3"])
    cell = expand_cells(spec)[0]
    batched = pd.DataFrame(run_cell(spec.data, cell)["rows"])
    tiny = load_spec(spec.data, ["experiment.batch_memory_mb=1e-6"])  # one trial per chunk
    single = pd.DataFrame(run_cell(tiny.data, expand_cells(tiny)[0])["rows"])
    for col in ("rel_error", "l1_gap", "n_iter"):
        np.testing.assert_allclose(batched[col], single[col], rtol=1e-9, atol=1e-12)
    assert (batched.seed == single.seed).all()


def test_reference_is_basis_pursuit_of_the_same_problem(tmp_path):
    summary = run(spec_dict(), tmp_path / "r", executor="serial")
    df = load(summary.folder)
    bp = df[df.method == "basis_pursuit"]
    assert np.allclose(bp.l1_gap, 0.0, atol=1e-12)
    assert set(df.columns) >= {"cell", "n", "m", "s", "method", "label", "depth",
                               "init_scale", "trial", "seed", "status", "success", "n_iter",
                               "wall_time", "recovered", "rel_error", "l1_gap", "error",
                               "overparam_version", "jax_version"}
    assert len(df) == 2 * 2 * 3 and not df.duplicated(["cell", "label", "trial"]).any()


# -- store ------------------------------------------------------------------------------

def test_resume_skips_and_corrupt_parts_are_recomputed(tmp_path):
    out = tmp_path / "r"
    first = run(spec_dict(), out, executor="serial")
    assert first.computed == 2
    reference = load(out)
    again = run(spec_dict(), out, executor="serial")
    assert again.computed == 0 and again.skipped == 2

    parts = sorted((out / "parts").glob("*.parquet"))
    data = parts[0].read_bytes()
    parts[0].write_bytes(data[: len(data) // 2])          # truncated
    parts[1].write_bytes(b"PAR1" + b"\x00garbage" * 50)    # corrupt
    (out / "parts" / ".leftover.123.tmp").write_bytes(b"x")  # a killed writer's temp file
    with pytest.warns(RuntimeWarning, match="corrupt or truncated part"):
        third = run(spec_dict(), out, executor="serial")
    assert third.computed == 2 and third.skipped == 0
    assert not list((out / "parts").glob(".*.tmp"))
    after = load(out)
    pd.testing.assert_frame_equal(reference.drop(columns="wall_time"),
                                  after.drop(columns="wall_time"))


def test_changed_spec_is_refused_unless_forced(tmp_path):
    out = tmp_path / "r"
    run(spec_dict(), out, executor="serial")
    changed = copy.deepcopy(BASE)
    changed["problem"]["m"] = [10, 18]
    with pytest.raises(StoreError, match="another spec"):
        run(changed, out, executor="serial")
    summary = run(changed, out, executor="serial", force=True)
    assert summary.computed == 1 and summary.skipped == 1   # m = 10 is unchanged
    df = load(out)
    assert sorted(df.m.unique()) == [10, 18]


@pytest.mark.parametrize("content", [b'{"spec": ', b"[1, 2]", b'{"spec_hash": "x"}',
                                     b"\xff\xfe",
                                     b'{"spec": {}, "spec_hash": "x", "cells": "abc"}'])
def test_a_damaged_manifest_is_named_and_rebuilt_with_force(tmp_path, content):
    out = tmp_path / "r"
    data = spec_dict(methods=[{"name": "basis_pursuit"}])
    run(data, out, executor="serial")
    reference = load(out)
    (out / "manifest.json").write_bytes(content)
    for action in (lambda: run(data, out, executor="serial"), lambda: load(out)):
        with pytest.raises(StoreError, match="manifest.json .*--force"):
            action()
    summary = run(data, out, executor="serial", force=True)
    assert summary.skipped == 2 and summary.computed == 0   # the parts were kept
    pd.testing.assert_frame_equal(reference, load(out))


def test_load_skips_parts_that_hold_another_cell_or_spec(tmp_path):
    # a part copied in from another folder used to be returned by load() as if it were a
    # result of this spec: silently wrong or duplicated rows
    import shutil

    out, other = tmp_path / "r", tmp_path / "o"
    data = spec_dict(methods=[{"name": "basis_pursuit"}])
    run(data, out, executor="serial")
    reference = load(out)
    run(spec_dict(experiment=dict(BASE["experiment"], seed=4),
                  methods=[{"name": "basis_pursuit"}]), other, executor="serial")
    mine = sorted((out / "parts").glob("*.parquet"))
    foreign = sorted((other / "parts").glob("*.parquet"))
    shutil.copy(foreign[0], mine[0])                              # over one of ours
    shutil.copy(foreign[1], out / "parts" / foreign[1].name)      # next to ours
    with pytest.warns(RuntimeWarning) as record:
        df = load(out)
    text = " ".join(str(w.message) for w in record)
    assert "holds the rows of cell" in text and "not a cell of the spec" in text
    assert len(df) == 2 and set(df.cell) == {mine[1].stem}
    assert set(df.seed) <= set(reference.seed)
    with pytest.warns(RuntimeWarning, match="belongs to another cell"):
        summary = run(data, out, executor="serial")
    assert summary.computed == 1 and summary.skipped == 1
    with pytest.warns(RuntimeWarning, match="not a cell of the spec"):
        after = load(out)
    pd.testing.assert_frame_equal(reference.drop(columns="wall_time"),
                                  after.drop(columns="wall_time"))


def test_a_corrupt_trace_part_is_recomputed_with_its_cell(tmp_path):
    # a damaged trace part used to be skipped forever: run saw the result part as finished
    from overparam.experiments import load_traces

    out = tmp_path / "r"
    data = spec_dict(experiment=dict(BASE["experiment"], traces=True),
                     methods=[dict(BASE["methods"][1], depth=2)])
    run(data, out, executor="serial")
    reference = load_traces(out)
    assert set(reference.cell) == {c.key for c in expand_cells(load_spec(data))}
    trace = sorted((out / "traces").glob("*.parquet"))[0]
    blob = trace.read_bytes()
    trace.write_bytes(blob[: len(blob) // 2])
    with pytest.warns(RuntimeWarning, match="corrupt or truncated part .*its trace part"):
        summary = run(data, out, executor="serial")
    assert summary.computed == 1 and summary.skipped == 1
    pd.testing.assert_frame_equal(reference, load_traces(out))


def test_traces_of_a_cell_without_its_result_part_are_not_loaded(tmp_path):
    # a run killed between a cell's trace part and its result part, or a result part
    # gone bad: its traces were joined with no parameters (NaN), so `where m=10` (which
    # keeps rows without a value) mixed them into the traces of m = 10
    from overparam.experiments import load_traces

    out = tmp_path / "r"
    data = spec_dict(experiment=dict(BASE["experiment"], traces=True),
                     methods=[dict(BASE["methods"][1], depth=2)])
    run(data, out, executor="serial")
    cells = expand_cells(load_spec(data))
    reference = load_traces(out)
    Store(out).part_path(cells[1].key).unlink()
    traces = load_traces(out)
    assert set(traces.cell) == {cells[0].key} and traces.m.notna().all()
    pd.testing.assert_frame_equal(traces, reference[reference.cell == cells[0].key])
    Store(out).part_path(cells[0].key).unlink()
    assert load_traces(out).empty  # was KeyError: "None of [Index(['cell', 'label'])]"


def test_manifest_records_spec_hash_and_versions(tmp_path):
    import json

    import jax

    import overparam

    run(spec_dict(), tmp_path / "r", executor="serial")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["spec_hash"] == load_spec(spec_dict()).hash
    assert manifest["jax_version"] == jax.__version__
    assert manifest["overparam_version"] == overparam.__version__
    assert manifest["spec"]["problem"]["m"] == [10, 14]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(Store(tmp_path / "r").load()) == 12


def test_a_failing_generator_gives_error_rows(tmp_path):
    data = spec_dict(problem={"n": 24, "s": [2, 30], "m": 10},
                     methods=[{"name": "basis_pursuit"}])
    summary = run(data, tmp_path / "r", executor="serial")
    assert summary.computed == 2 and summary.error_rows == 2
    df = load(tmp_path / "r")
    bad = df[df.s == 30]
    assert (bad.status == "error").all()
    assert bad.error.str.contains("problem generation failed: ValueError: sparsity").all()
    assert (df[df.s == 2].status == "converged").all()


def test_residual_metric_is_nan_without_a_linear_system():
    # an eigenproblem (FactoredMatrix) or a network task has no A, y: the residual metric
    # raised AttributeError, turning mamstar's or quantize's real results into error rows
    from types import SimpleNamespace

    from overparam.experiments.measures import compute_metrics
    from overparam.problems.eigen import sparse_eigen_problem

    for problem in (sparse_eigen_problem(50, 2, 3, seed=0), SimpleNamespace(x_true=None)):
        out = compute_metrics(["residual", "l1_norm"], problem, np.ones(4), None, 1e-3)
        assert np.isnan(out["residual"]) and out["l1_norm"] == 4.0


@pytest.mark.parametrize("name", ["../x", "a/b", ".."])
def test_a_plot_name_with_a_folder_is_refused_up_front(name):
    # the stem is joined to FOLDER/plots: "../x" wrote outside it, at the end of the run
    data = {"experiment": {"name": "t", "trials": 1}, "problem": {"n": 20, "s": 2, "m": 10},
            "methods": [{"name": "basis_pursuit"}],
            "plots": [{"kind": "curve", "x": "m", "name": name}]}
    with pytest.raises(SpecError, match=r"plots\[0\]\.name"):
        load_spec(data)


@pytest.mark.parametrize("generator, params, given", [
    ("lrrs_problem", dict(n1=8, n2=4, rank=1, s=2), "none"),
    ("lrrs_problem", dict(n1=8, n2=4, rank=1, s=2, m=40, oversampling=2.0),
     "m, oversampling"),
    ("matrix_completion", dict(n1=6, rank=1), "none"),
    ("matrix_completion", dict(n1=6, rank=1, n_observed=20, fraction=0.5),
     "n_observed, fraction"),
])
def test_generators_exactly_one_of_is_checked_by_the_spec(generator, params, given):
    # every trial failed at generation ("give exactly one of ...") and the run exited 0
    import overparam.experiments.areas  # noqa: F401  (registers lrrs_problem)

    data = {"experiment": {"name": "t", "trials": 1},
            "problem": dict(params, generator=generator),
            "methods": [{"name": "dmf_gd", "depth": 2}]}
    with pytest.raises(SpecError, match=f"exactly one of .*got {given}"):
        load_spec(data)
    ok = dict(params)
    ok.pop("oversampling", None), ok.pop("fraction", None)
    ok.setdefault("m" if generator == "lrrs_problem" else "n_observed", 20)
    assert load_spec(dict(data, problem=dict(ok, generator=generator))).data["problem"][
        "generator"] == generator


# -- a configuration failing on every problem; manifest format; odd values ----------------

def test_a_configuration_failing_on_every_problem_is_reported_also_on_resume(tmp_path):
    # a parameter value only the solver rejects: every row of the run was an error row and
    # the summary said only "see the `error` column"
    data = spec_dict(methods=[{"name": "basis_pursuit"},
                              {"name": "basis_pursuit", "method": "nope", "label": "bad"}])
    data["experiment"]["metrics"] = ["rel_error"]
    summary = run(data, tmp_path / "r", executor="serial")
    assert summary.rows == 8 and summary.error_rows == 4 and not summary.ok
    assert list(summary.failed_configs) == ["bad"]
    assert "got 'nope'" in summary.failed_configs["bad"]
    text = str(summary)
    assert "4 of 8 row(s)" in text and "overparam.experiments.load(" in text
    assert "method configuration 'bad' failed on every problem" in text
    again = run(data, tmp_path / "r", executor="serial")    # nothing computed: the store
    assert again.skipped == 2 and list(again.failed_configs) == ["bad"] and not again.ok


def test_a_configuration_failing_on_some_problems_is_not_a_failed_run(tmp_path, flaky_method):
    summary = run(spec_dict(methods=[{"name": flaky_method}]), tmp_path / "r",
                  executor="serial")
    assert summary.error_rows == 2 and summary.rows == 4
    assert summary.ok and not summary.failed_configs


def test_manifest_format_version_is_written_and_an_old_manifest_reads_as_version_1(tmp_path):
    import json

    out = tmp_path / "r"
    data = spec_dict(methods=[{"name": "basis_pursuit"}])
    run(data, out, executor="serial")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    del manifest["format_version"]            # as written before versions
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(out)["spec_hash"] == manifest["spec_hash"] and len(load(out)) == 4
    assert run(data, out, executor="serial").skipped == 2


def test_a_newer_manifest_version_is_refused_even_with_force(tmp_path):
    import json

    out = tmp_path / "r"
    data = spec_dict(methods=[{"name": "basis_pursuit"}])
    run(data, out, executor="serial")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(dict(manifest, format_version=7)))
    for action in (lambda: load(out), lambda: run(data, out, executor="serial"),
                   lambda: run(data, out, executor="serial", force=True)):
        with pytest.raises(StoreError, match=f"{out} holds results in store format "
                                             "version 7 .*up to 1"):
            action()
    assert json.loads((out / "manifest.json").read_text())["format_version"] == 7


@pytest.mark.parametrize("change, fragment", [
    ({"spec": {"plots": [1]}}, "spec.plots"),
    ({"spec": {"plots": 5}}, "spec.plots"),
    ({"spec": {"experiment": 3}}, "spec.experiment"),
    ({"spec": {"methods": {"name": "x"}}}, "spec.methods"),
    ({"spec_hash": 12}, "spec_hash"),
    ({"format_version": "1"}, "format_version '1'"),
])
def test_a_manifest_of_the_wrong_structure_names_the_file(tmp_path, change, fragment):
    # valid JSON of the wrong shape used to pass, then fail in plotting or load_traces
    # with an AttributeError / TypeError
    import json

    out = tmp_path / "r"
    data = spec_dict(methods=[{"name": "basis_pursuit"}])
    run(data, out, executor="serial")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(dict(manifest, **change)))
    with pytest.raises(StoreError, match="manifest.json is not a manifest") as info:
        read_manifest(out)
    assert fragment in str(info.value)
    assert run(data, out, executor="serial", force=True).skipped == 2


@pytest.mark.parametrize("override, fragment", [
    # TypeError when the manifest was written ("cannot write date as TOML")
    ("plots[0].where.m=2024-01-01", "plots[0].where.m: a TOML date or time"),
    ("plots[0].where.m=12:30:00", "plots[0].where.m: a TOML date or time"),
    ("experiment.name=1979-05-27T07:32:00Z", "experiment.name: a TOML date or time"),
    # OverflowError from pyarrow after the whole sweep, when the first part was written
    ("problem.m=99999999999999999999", "problem.m: 99999999999999999999 does not fit"),
    ("methods[1].max_iter=[10, -99999999999999999999]",
     "methods[1].max_iter[1]: -99999999999999999999 does not fit"),
])
def test_odd_override_values_are_refused_with_the_key_path(override, fragment):
    data = spec_dict(plots=[{"kind": "curve", "x": "m"}])
    with pytest.raises(SpecError) as info:
        load_spec(data, [override])
    assert str(info.value).startswith(fragment)


@pytest.mark.parametrize("override, fragment", [
    # accepted (a dry run too); the drawing at the end of the sweep then failed with
    # "Lengths must match to compare" or "no rows match"
    ("plots[0].where={m=[[10]]}", "plots[0].where.m[0]: expected a value"),
    ("plots[0].where={m={a=1}}", "plots[0].where.m: expected a value"),
    ("plots[0].where={m=[10, {a=1}]}", "plots[0].where.m[1]: expected a value"),
])
def test_a_plot_where_of_nested_values_is_refused_before_the_sweep(override, fragment):
    data = spec_dict(plots=[{"kind": "curve", "x": "m"}])
    with pytest.raises(SpecError) as info:
        load_spec(data, [override])
    assert str(info.value).startswith(fragment)
    assert load_spec(data, ["plots[0].where={m=[10, 14], label='x', ok=true}"])


def test_a_big_seed_is_still_a_spec_value():
    # the root seed is hashed into the problem seeds, never stored in a column
    assert load_spec(spec_dict(), ["experiment.seed=99999999999999999999"])


def test_an_unknown_plot_stat_is_refused_before_the_sweep():
    # curve plots draw "mean" or "median"; "sem" was refused only when drawing, after the
    # whole sweep had run (and before that silently drew the median)
    data = {"experiment": {"name": "t", "trials": 1, "metrics": ["rel_error"]},
            "problem": {"n": 10, "m": 5, "s": 1},
            "methods": [{"name": "basis_pursuit"}],
            "plots": [{"kind": "curve", "x": "m", "y": "rel_error", "stat": "sem"}]}
    with pytest.raises(SpecError, match=r"plots\[0\]\.stat: 'sem' is not one of mean, median"):
        load_spec(data)
    data["plots"][0]["stat"] = "median"
    assert load_spec(data).data["plots"][0]["stat"] == "median"


def test_a_spec_file_not_utf8_is_named_and_a_utf8_bom_is_accepted(tmp_path):
    text = '# phase diagram\n[problem]\nn = 10\ns = 1\nm = 5\n[[methods]]\nname = "basis_pursuit"\n'
    latin = tmp_path / "latin.toml"
    latin.write_bytes(text.replace("phase", "caf\xe9").encode("latin-1"))
    # was a UnicodeDecodeError naming no file
    with pytest.raises(SpecError, match=r"latin\.toml: not UTF-8 text"):
        load_spec(latin)
    # Notepad's byte order mark was "not valid TOML: Invalid statement (line 1, column 1)"
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + text.encode())
    plain = tmp_path / "bom2.toml"
    plain.write_text(text)
    assert load_spec(bom).hashed_part()["problem"] == load_spec(plain).hashed_part()["problem"]
    assert load_spec(bom).name == "bom"
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xef\xbb\xbf[problem\n")
    with pytest.raises(SpecError, match=r"bad\.toml: not valid TOML"):
        load_spec(bad)


@pytest.mark.parametrize("override, fragment", [
    # an empty key was dropped: the value landed on problem.m
    ("problem..m=3", "--set problem..m: empty key at character 8"),
    (".problem.m=3", "--set .problem.m: empty key at character 1"),
    ("problem.m.=3", "--set problem.m.: empty key at character 10"),
    ("methods[0]..depth=3", "--set methods[0]..depth: empty key"),
    # a key in brackets was read as a key
    ("problem[m]=3", "--set problem[m]: [m] at character 8 is not an index"),
    # "methods.-1 is not a table"
    ("methods[-1].depth=3", "--set methods[-1].depth: index -1 at character 8 is negative"),
    ("methods[0]]=3", "--set methods[0]]: unexpected ']' at character 11"),
    ("methods[1.depth=3", "--set methods[1.depth: unexpected '[' at character 8"),
    # str.isdigit() is true of "²": int() raised a bare ValueError (a traceback in the
    # CLI); other scripts' digits ("١") were read as indices
    ("methods[²].depth=3", "--set methods[²].depth: [²] at character 8 is not an index"),
    ("methods[١].depth=3", "--set methods[١].depth: [١] at character 8 is not an index"),
    ("methods.².depth=3", "--set methods.².depth: methods is a list of tables"),
])
def test_a_malformed_override_path_is_refused(override, fragment):
    with pytest.raises(SpecError) as info:
        load_spec(spec_dict(), [override])
    assert str(info.value).startswith(fragment)


def test_override_paths_still_take_every_documented_spelling():
    spec = load_spec(spec_dict(), ["methods[1].depth=3", "methods.1.tol=1e-3",
                                   "methods[1].max_iter=50", "problem.m = [8, 9]"])
    assert [c.params["depth"] for c in spec.method_configs()[1:]] == [3]
    assert spec.method_configs()[1].params["tol"] == 1e-3
    assert spec.method_configs()[1].params["max_iter"] == 50
    assert spec.problem_axes["m"] == [8, 9]


@pytest.mark.parametrize("name", ["..", ".", "a/b", "/tmp/x", "../x", "a\\b", "a\x00b"])
def test_an_experiment_name_that_is_not_one_folder_name_is_refused(name, tmp_path):
    # results/<name>: ".." wrote into the current folder, "/tmp/x" anywhere
    data = spec_dict()
    data["experiment"]["name"] = name
    with pytest.raises(SpecError, match="experiment.name: .* is not a single folder name"):
        load_spec(data)
    data["experiment"]["name"] = "ok"
    data["plots"] = [{"kind": "curve", "x": "m", "name": name}]
    with pytest.raises(SpecError, match=r"plots\[0\]\.name: must be a file stem"):
        load_spec(data)


def test_an_experiment_name_may_be_any_single_folder_name():
    for name in ["x y", "phase-2.v1", "..x", "café"]:
        assert load_spec(spec_dict(experiment={"name": name})).name == name


def test_a_failing_store_write_closes_the_executor_at_once(tmp_path, monkeypatch):
    from overparam.experiments import sweep

    events: list[str] = []
    held: list = []     # a second reference: the generator is not collected on unwinding

    def execute(spec_data, cells, *args, **kwargs):
        def outputs():
            try:
                for cell in cells:
                    events.append("yield")
                    yield cell, dict(key=cell.key, rows=[], traces=[], trials=1)
            finally:
                events.append("closed")  # here the process executor stops its workers
        held.append(outputs())
        return held[-1]

    def write(self, output):
        raise OSError("disk full")

    monkeypatch.setattr(sweep, "execute", execute)
    monkeypatch.setattr(Store, "write", write)
    with pytest.raises(OSError, match="disk full"):
        run(spec_dict(), tmp_path / "out", executor="serial")
    assert events == ["yield", "closed"]


def test_run_refuses_a_bool_for_workers_and_takes_a_numpy_int(tmp_path):
    data = spec_dict(experiment={"trials": 1, "metrics": ["rel_error"]},
                     problem={"n": 10, "s": 1, "m": 5}, methods=[{"name": "basis_pursuit"}])
    for bad in (True, False):
        # True ran one worker (serially) without a word
        with pytest.raises(SpecError, match="workers: must be an int >= 0"):
            run(data, tmp_path / "out", executor="processes", workers=bad)
    assert not (tmp_path / "out").exists()
    summary = run(data, tmp_path / "out", executor="processes", workers=np.int64(1))
    assert summary.computed == 1 and summary.ok


def test_a_grid_too_big_to_expand_is_refused_with_its_size():
    from overparam.experiments.spec import MAX_GRID

    axis = list(range(1, 1001))
    noise = [i / 1000 for i in range(1000)]
    # 10**6 pairs: accepted (counted, not expanded, so this is quick)
    spec = load_spec(spec_dict(methods=[{"name": "basis_pursuit"}]),
                     [f"problem.m={axis}", f"problem.noise={noise}"])
    assert len(spec.problem_axes["m"]) * len(spec.problem_axes["noise"]) == MAX_GRID
    # three configurations: 3 * 10**6 pairs (9 * 10**6 cells took 80 s and 4 GB to expand)
    with pytest.raises(SpecError, match=r"problem, methods: the grids make 1,000,000 "
                                        r"cell\(s\) x 3 method configuration\(s\)"):
        load_spec(spec_dict(), [f"problem.m={axis}", f"problem.noise={noise}"])
    with pytest.raises(SpecError, match=r"1 cell\(s\) x 1,001,001 method"):
        load_spec(spec_dict(problem={"n": 10, "s": 1, "m": 5},
                            methods=[{"name": "hadamard_gd", "depth": 2,
                                      "init_scale": [1e-3 * (i + 1) for i in range(1001)],
                                      "tol": [1e-6 * (i + 1) for i in range(1000)]},
                                     {"name": "basis_pursuit"}]))


def test_minus_zero_repeats_zero_in_a_grid():
    # -0.0 and 0.0 made two cells of one noise level (differing only in their seeds)
    with pytest.raises(SpecError, match="problem.noise: -0.0 appears twice in the grid"):
        load_spec(spec_dict(), ["problem.noise=[0.0, -0.0]"])
    with pytest.raises(SpecError, match="problem.noise: -0.0 appears twice in the grid"):
        load_spec(spec_dict(), ["problem.noise=[0, -0.0]"])
    assert load_spec(spec_dict(), ["problem.noise=[-0.0, 0.1]"]).problem_axes["noise"][0] == 0


def test_nan_in_a_problem_grid_is_refused_with_its_key_path():
    # every trial of the cell was an error row ("noise must be finite"), and NaN rows fall
    # out of groupby and `where`
    with pytest.raises(SpecError, match=r"problem.noise\[1\]: nan is not a problem"):
        load_spec(spec_dict(), ["problem.noise=[0.0, nan]"])
    with pytest.raises(SpecError, match=r"problem.noise: nan is not a problem"):
        load_spec(spec_dict(), ["problem.noise=nan"])
    # inf stays a value: lrrs_problem reads snr = inf as noiseless
    spec = load_spec({**spec_dict(), "problem": {"generator": "lrrs_problem", "n1": 4,
                                                 "n2": 4, "rank": 1, "s": 2, "m": 20,
                                                 "snr": [float("inf"), 10.0]},
                      "methods": [{"name": "irls_lrrs"}]})
    assert spec.problem_axes["snr"] == [float("inf"), 10.0]


def test_a_failing_write_removes_its_temporary_file_and_names_the_file(tmp_path,
                                                                       monkeypatch):
    import errno

    from overparam.experiments import store as store_mod

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    data = spec_dict(experiment={"trials": 1, "metrics": ["rel_error"]},
                     problem={"n": 10, "s": 1, "m": [5, 6]},
                     methods=[{"name": "basis_pursuit"}])
    summary = run(data, tmp_path / "r", executor="serial", overrides=("problem.m=5",))
    assert summary.computed == 1
    monkeypatch.setattr(store_mod.os, "fsync", full)
    # the manifest of the new spec is written first
    with pytest.raises(OSError, match=r"No space left on device: '.*manifest.json'") as err:
        run(data, tmp_path / "r", executor="serial", force=True)
    assert err.value.errno == errno.ENOSPC
    # the full disk kept the partly written file (removed only by the next run)
    assert [f.name for f in (tmp_path / "r").iterdir() if f.name.endswith(".tmp")] == []
    monkeypatch.undo()
    assert len(load(tmp_path / "r")) == 1  # the stored cell is kept


def test_a_cell_holds_one_chunk_of_problems_at_a_time(monkeypatch):
    import gc
    import weakref

    from overparam.experiments import runner

    real = runner.get_generator
    made: list = []
    alive_at_make: list[int] = []

    class Counting:
        def __init__(self, gen):
            self.gen = gen

        def make(self, params, seed):
            gc.collect()
            alive_at_make.append(sum(r() is not None for r in made))
            problem = self.gen.make(params, seed)
            made.append(weakref.ref(problem))
            return problem

    monkeypatch.setattr(runner, "get_generator", lambda name: Counting(real(name)))
    spec = load_spec(spec_dict(), ["problem.m=[12]", "experiment.trials=6"])
    # a bound of about two trials: 6 trials in 3 chunks of 2 (every chunk a vmap batch)
    per = 8 * (12 * 24 + 8 * 24 + 12)  # a dense trial: the matrix and solver vectors
    tight = load_spec(spec.data, [f"experiment.batch_memory_mb={2.5 * per / 2**20}"])
    out = run_cell(tight.data, expand_cells(tight)[0])
    # before: all 6 problems of the cell at once (trials x their size, 1.3 GB for 40
    # trials of a 1000 x 2500 problem under a 64 MB bound)
    assert len(alive_at_make) == 6 and max(alive_at_make) <= 2
    whole = run_cell(spec.data, expand_cells(spec)[0])  # one chunk: the same rows
    a = pd.DataFrame(out["rows"]).drop(columns=["wall_time", "cell"])
    b = pd.DataFrame(whole["rows"]).drop(columns=["wall_time", "cell"])
    assert list(a.label) == list(b.label) and list(a.trial) == list(b.trial)
    assert (a.status == "error").sum() == 0
    np.testing.assert_allclose(a.rel_error, b.rel_error, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.l1_gap, b.l1_gap, rtol=1e-9, atol=1e-12)


def test_checkpoints_of_a_finished_cell_left_by_a_killed_run_are_removed(tmp_path):
    from overparam.experiments.cells import config_key

    data = spec_dict(experiment={"trials": 1, "metrics": ["rel_error"]},
                     problem={"n": 10, "s": 1, "m": 5})
    out = tmp_path / "r"
    assert run(data, out, executor="serial").computed == 1
    spec = load_spec(data)
    cell = expand_cells(spec)[0]
    store = Store(out)
    # as a run killed between writing the cell's part and dropping its checkpoints left
    left = [store.write_config(config_key(spec, cell.params, cfg),
                               dict(key=cell.key, rows=[{}], traces=[], seconds=0.0,
                                    trials=1))
            for cfg in spec.method_configs()]
    summary = run(data, out, executor="serial")
    assert summary.skipped == 1 and summary.computed == 0
    assert not [p for p in left if p.exists()]  # before: kept forever, never read
    assert len(load(out)) == 3
