"""The NNLS examples stay runnable: the TOML spec validates, the scripts import and their
``main`` runs the documented tables (the full runs are examples/nnls_*.py)."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_nnls_spec_validates():
    pytest.importorskip("tomllib")
    from overparam.experiments.spec import load_spec

    spec = load_spec(EXAMPLES / "nnls_implicit_bias.toml")
    assert spec is not None


SMALL = {
    "nnls_implicit_bias.toml": ["experiment.trials=2", "methods[2].depth=2",
                                "methods[2].init_scale=[1e-2]", "methods[3].depth=2",
                                "methods[3].init_scale=[1e-2]"],
    "nnls_fft.toml": ["problem.n=256", "problem.m=200", "problem.s=4", "experiment.trials=2",
                      "methods[0].init_scale=[1e-2]"],
    "nnls_convergence.toml": ["problem.n=40", "problem.m=16", "problem.s=2",
                              "experiment.trials=1", "methods[1].max_iter=3000",
                              "methods[1].step=['auto', 'nesterov@mirror']"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_nnls_spec_runs_small(name, tmp_path):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from overparam.cli import main
    from overparam.experiments import load

    args = ["run", str(EXAMPLES / name), "--out", str(tmp_path / "r"),
            "--set", "run.executor=serial"]
    for item in SMALL[name]:
        args += ["--set", item]
    assert main(args) == 0
    df = load(tmp_path / "r")
    assert (df["error"] == "").all(), df["error"].unique()
    assert (df["residual"] < 1e-2).all()       # tiny runs: every method well on its way
    if name == "nnls_convergence.toml":        # the mirror policy keeps the flow's limit
        row = df[df["label"] == "nesterov@mirror"]
        assert (row["ref_error"] < 1e-4).all()


@pytest.mark.parametrize("name", ["nnls_convergence.py"])
def test_nnls_scripts_import(name):
    path = EXAMPLES / name
    spec = importlib.util.spec_from_file_location(name[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)
