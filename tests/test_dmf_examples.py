"""The deep-matrix-factorization example specs load and run at a tiny size (serial)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from overparam import experiments  # noqa: E402
from overparam.experiments import generators, methods  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

_MATRIX = {"n1": "int", "n2": "int", "rank": "int", "spectrum": "str", "condition": "float",
           "symmetric": "bool", "fro_norm": "float", "noise": "float", "noise_norm": "str"}
_GENERATORS = [
    generators.GeneratorEntry("matrix_estimation", "overparam.problems:matrix_estimation",
                              dict(_MATRIX), required=("n1", "rank")),
    generators.GeneratorEntry("matrix_completion", "overparam.problems:matrix_completion",
                              dict(_MATRIX, n_observed="int", fraction="float"),
                              required=("n1", "rank")),
    generators.GeneratorEntry("matrix_sensing", "overparam.problems:matrix_sensing",
                              dict(_MATRIX, m="int"), required=("n1", "rank")),
]
_DMF = {"depth": "int", "init": "str", "init_scale": "float", "scale": "str",
        "balanced": "bool", "step": "str|float", "max_iter": "int", "tol": "float",
        "record": "int", "early_stopping": "bool"}
_METHODS = [
    methods.MethodEntry(
        "dmf_gd", "overparam.dynamics:dmf_gd", _DMF,
        batch_target="overparam.dynamics:dmf_gd_batch", seeded=True,
        description="gradient descent on a deep matrix factorization W_N...W_1"),
    methods.MethodEntry(
        "nuclear_norm_prox", "overparam.baselines.matrix:nuclear_norm_prox_vec",
        {"lam": "float", "lam_min_ratio": "float", "max_iter": "int", "tol": "float"},
        description="min ||W||_* s.t. A(W) = y (FISTA-SVT with continuation)"),
]


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Enrol the matrix generators and methods when the registries lack them."""
    for g in _GENERATORS:
        if g.name not in generators.GENERATORS:
            monkeypatch.setitem(generators.GENERATORS, g.name, g)
    for m in _METHODS:
        if m.name not in methods.METHODS:
            monkeypatch.setitem(methods.METHODS, m.name, m)


SMALL = {
    "dmf_dynamics_estimation.toml": ["problem.n1=12", "problem.rank=3",
                                     "problem.condition=10.0", "methods[0].depth=3",
                                     "methods[0].init_scale=0.1",
                                     "methods[0].max_iter=300", "experiment.trials=1"],
    "dmf_dynamics_sensing.toml": ["problem.n1=8", "problem.rank=2", "problem.m=120",
                                  "methods[0].depth=2", "methods[0].init_scale=0.1",
                                  "methods[0].max_iter=300", "experiment.trials=1"],
    "dmf_arora_completion.toml": ["problem.n1=12", "problem.rank=2",
                                  "problem.n_observed=80", "problem.fro_norm=12.0",
                                  "methods[0].depth=[1, 3]", "methods[0].init_scale=1e-3",
                                  "methods[0].max_iter=300", "methods[1].max_iter=300",
                                  "experiment.trials=1", "plots[0].where.n_observed=80",
                                  "plots[1].where.n_observed=80"],
    "dmf_perturbed.toml": ["problem.n1=12", "problem.noise=0.3", "methods[0].record=30",
                           "methods[0].max_iter=400", "experiment.trials=1"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_dmf_spec_runs_small(name, run_small_example):
    # through the CLI, so the spec's [[plots]] are drawn too
    spec, df, _, folder = run_small_example(name, SMALL[name] + ["run.executor=serial"])
    assert len(df) > 0
    assert "rel_error" in df.columns
    assert df["rel_error"].notna().all()
    if spec.experiment["traces"]:
        tr = experiments.load_traces(folder)
        assert {"erank", "sv1", "loss"} <= set(tr.columns)
