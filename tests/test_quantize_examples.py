"""The quantize examples validate at full size and run end to end at a tiny size."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")
pytest.importorskip("matplotlib")


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_BITS = [f"methods[{i}].bits=[1, 2]" for i in range(3)]
SMALL = {
    "quantize_layer.toml": ["problem.m=6", "problem.N=[16, 48]", "experiment.trials=2",
                            "plots[1].where.N=48", "run.executor=serial", *_BITS],
    "quantize_digits.toml": ["problem.hidden=12", "problem.depth=1", "problem.epochs=2",
                             "experiment.trials=1", *_BITS],
    "quantize_graph.toml": ["problem.kind=['grid', 'mesh']", "problem.n=[36, 64]",
                            "problem.r=[4]", "experiment.trials=1", "run.executor=serial",
                            "plots[0].where.r=4", "plots[1].where.n=64", "plots[1].where.r=4",
                            "plots[2].where.n=64", "plots[2].where.r=4", *_BITS],
    "quantize_incoherence.toml": ["problem.n=65", "problem.r=3", "problem.degree=[2.0, 32.0]",
                                  "experiment.trials=1", "run.executor=serial", *_BITS],
    "quantize_halftone.toml": ["problem.size=16", "problem.r=[4, 8]",
                               "problem.image=['camera']", "run.executor=serial", *_BITS],
}


def test_every_quantize_example_is_covered():
    assert {p.name for p in EXAMPLES.glob("quantize_*.toml")} == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_quantize_example_runs_small(name, run_small_example):
    spec, df, _, _ = run_small_example(name, SMALL[name])
    metric = spec.experiment["metrics"][0]
    assert df[metric].notna().all()


def test_halftone_script_runs_small(tmp_path, capsys):
    path = EXAMPLES / "quantize_halftone.py"
    spec = importlib.util.spec_from_file_location("quantize_halftone", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = module.main(size=16, r=8, out=tmp_path)
    assert (tmp_path / "halftone.png").exists()
    assert errors["single-shot"] < errors["msq"]
