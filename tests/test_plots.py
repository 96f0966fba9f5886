"""Plots read the store only: phase, curve and trace figures from a tiny sweep."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra
pytest.importorskip("matplotlib")  # the `experiments` extra

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from overparam import plots  # noqa: E402
from overparam.experiments import METHODS, run  # noqa: E402
from overparam.plots.figures import filter_rows  # noqa: E402

SPEC = {
    "experiment": {"seed": 1, "trials": 2, "traces": True,
                   "metrics": ["recovered", "rel_error", "l1_gap"]},
    "problem": {"n": 20, "s": [1, 3], "m": [8, 12]},
    "methods": [
        {"name": "basis_pursuit"},
        {"name": "hadamard_limit", "depth": 2, "init_scale": [1e-1, 1e-2]},
        {"name": "hadamard_gd", "depth": 2, "init_scale": 1e-2, "max_iter": 200,
         "tol": 1e-4, "record": 8},
    ],
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "r"
    run(SPEC, out, executor="serial")
    return out


@pytest.fixture
def no_solvers(monkeypatch):
    """Plots must never recompute: every solver raises while they run."""
    import overparam.experiments.runner as runner

    def boom(*a, **k):
        raise AssertionError("a plot tried to recompute")

    monkeypatch.setattr(runner, "run_cell", boom)
    for entry in list(METHODS.values()):
        monkeypatch.setattr(type(entry), "load", boom)


@pytest.mark.parametrize("kind, options", [
    ("phase", dict(x="s", y="m")),
    ("curve", dict(x="m", y="recovered")),
    ("curve", dict(x="init_scale", y="l1_gap", hue="s", where={"method": "hadamard_limit"})),
    ("trace", dict(field="residual", where={"m": 12})),
    ("trace", dict(field="residual", hue="init_scale", where={"max_iter": 200}, logx=False)),
])
def test_figures_are_written_from_the_store(folder, tmp_path, no_solvers, kind, options):
    files = plots.plot(folder, kind, out=tmp_path, formats=("png", "pdf"), **options)
    assert [f.suffix for f in files] == [".png", ".pdf"]
    assert files[0].read_bytes()[:8] == PNG and files[0].stat().st_size > 5000
    assert files[1].read_bytes()[:5] == b"%PDF-"


def test_curve_draws_the_theoretical_transition(folder):
    fig = plots.curve(folder, "m", "recovered", where={"s": 3})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(lab.startswith("theory") for lab in labels)
    assert "basis_pursuit" in labels and "hadamard_limit(init_scale=0.1)" in labels
    fig = plots.phase(folder, "s", "m")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4 + 1  # 4 panels + colorbar


def test_transitions_interpolate_the_half_crossing():
    df = pd.DataFrame(dict(label=["a"] * 6, m=[10, 10, 20, 20, 30, 30],
                           recovered=[0, 0, 0, 1, 1, 1]))
    assert plots.transitions(df) == {"a": 20.0}
    df.loc[3, "recovered"] = 0
    assert plots.transitions(df) == {"a": 25.0}
    assert np.isnan(plots.transitions(df.assign(recovered=0.0))["a"])


def test_where_keeps_methods_without_the_parameter():
    df = pd.DataFrame(dict(method=["bp", "gd", "gd"], init_scale=[np.nan, 1e-2, 1e-4]))
    assert filter_rows(df, {"init_scale": 1e-4}).method.tolist() == ["bp", "gd"]
    assert filter_rows(df, {"init_scale": [1e-2, 1e-4]}).shape[0] == 3
    with pytest.raises(KeyError, match="no column 'depth'"):
        filter_rows(df, {"depth": 2})
    with pytest.raises(ValueError, match="no rows match"):
        filter_rows(df, {"method": "lasso"})


def test_trace_without_stored_traces_says_so(tmp_path):
    spec = dict(SPEC, experiment=dict(SPEC["experiment"], traces=False))
    run(spec, tmp_path / "r", executor="serial")
    with pytest.raises(ValueError, match="traces = true"):
        plots.trace(tmp_path / "r")


def test_traces_carry_method_parameters_and_kinds_refuse_foreign_options(folder, tmp_path):
    from overparam.experiments import SpecError, load_spec, load_traces

    tr = load_traces(folder)
    assert {"init_scale", "depth", "max_iter", "m", "s"} <= set(tr.columns)
    assert (tr.groupby(["cell", "label"]).max_iter.nunique() == 1).all()
    with pytest.raises(ValueError, match="a trace plot does not take stat"):
        plots.plot(folder, "trace", out=tmp_path, stat="mean")
    with pytest.raises(ValueError, match="a phase plot does not take logx"):
        plots.plot(folder, "phase", out=tmp_path, logx=True)
    with pytest.raises(SpecError, match=r"plots\[0\]\.theory: a trace plot does not take"):
        load_spec(dict(SPEC, plots=[{"kind": "trace", "theory": False}]))
