"""The example specs validate and run end to end at a tiny size (serial), plots included."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra
pytest.importorskip("matplotlib")  # the `experiments` extra

from pathlib import Path  # noqa: E402



EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SMALL = {
    "more_is_less.toml": ["problem.n=40", "problem.s=3", "problem.m=[10, 20, 30]",
                          "experiment.trials=2", "methods[1].init_scale=[1e-2, 1e-4]",
                          "methods[2].init_scale=[1e-2, 1e-4]", "plots[2].where.m=30",
                          "run.executor=serial"],
    "trajectories.toml": ["problem.n=30", "problem.m=15", "problem.s=2",
                          "experiment.trials=2", "methods[0].max_iter=300",
                          "methods[0].depth=2"],
}


def test_every_example_is_covered():
    # each area's test module runs its own examples at a tiny size, naming them
    tests = Path(__file__).resolve().parent
    text = "".join(f.read_text() for f in tests.glob("test_*.py") if f.name != Path(__file__).name)
    text += "".join(SMALL)
    missing = [p.name for p in EXAMPLES.glob("*.toml") if p.name not in text]
    assert not missing, f"example specs no test runs: {missing}"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_runs_small(name, run_small_example):
    spec, df, out, _ = run_small_example(name, SMALL[name])
    if name == "more_is_less.toml":
        assert "theory delta(s=3, n=40)" in out
