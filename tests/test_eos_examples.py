"""The example specs of the edge-of-stability / weight-normalization area validate and run
end to end at a tiny size (serial), plots included."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra
pytest.importorskip("matplotlib")  # the `experiments` extra

from pathlib import Path  # noqa: E402


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
_STEPS = "[0.5]"
SMALL = {
    "wn_l1_gap.toml": ["problem.n=20", "problem.m=10", "problem.s=2", "problem.m_test=20",
                       "experiment.trials=2", "methods[1].init_scale=[1.0]",
                       "methods[2].init_scale=[1.0]", "methods[2].radius_step_ratio=[3.0]",
                       "plots[0].where.radius_step_ratio=3.0",
                       "plots[3].where.radius_step_ratio=3.0",
                       "methods[1].tol=1e-5", "methods[2].tol=1e-5",
                       "methods[2].max_iter=20000", "methods[3].init_scale=[1.0]",
                       "methods[3].radius_step_ratio=[10.0]", "methods[3].tol=1e-5",
                       "methods[3].max_iter=20000", "run.executor=serial"],
    "eos_lr_sweep_mlp.toml": ["problem.n_train=40", "problem.n_test=20",
                              "methods[0].width=4", "methods[1].width=4",
                              "methods[0].loss_threshold=0.3", "methods[1].loss_threshold=0.3",
                              "methods[0].every=10", "methods[1].max_iter=500",
                              f"methods[1].step={_STEPS}", f"methods[2].step={_STEPS}"],
    "eos_lr_sweep_diagonal.toml": ["problem.n=12", "problem.m=6", "problem.s=1",
                                   "problem.m_test=10", "methods[0].model=['hadamard']",
                                   *[f"methods[{i}].loss_threshold=1e-2" for i in range(5)],
                                   *[f"methods[{i}].max_iter=2000" for i in (2, 3, 4)],
                                   *[f"methods[{i}].step=[0.2]" for i in (2, 3, 4, 5)]],
    "eos_sharpness_trajectory.toml": ["problem.n_train=40", "problem.n_test=20",
                                      "methods[0].width=4", "methods[0].loss_threshold=0.1",
                                      "methods[0].max_iter=200",
                                      "methods[0].sharpness_every=5",
                                      "methods[0].step=[0.5]"],
}


def test_every_area_example_is_listed():
    mine = {p.name for p in EXAMPLES.glob("*.toml")
            if p.name.startswith(("eos_", "wn_"))}
    assert mine == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_runs_small(name, run_small_example, tmp_path):
    spec, df, _, _ = run_small_example(name, SMALL[name])
    if name == "eos_sharpness_trajectory.toml":            # sharpness recorded in traces
        from overparam.experiments import load_traces
        tr = load_traces(tmp_path / "r")
        assert tr["sharpness"].notna().sum() >= 3 and (tr["sharpness"].dropna() > 0).all()
    if "sharpness" in df:
        assert df.loc[df.method.isin(["mlp_gd", "diagonal_gd", "eos_line"]),
                      "sharpness"].notna().all()
