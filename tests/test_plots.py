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


def _mesh(ax):
    from matplotlib.collections import QuadMesh

    return next(c for c in ax.collections if isinstance(c, QuadMesh))


def test_hue_without_the_parameter_is_one_line_of_its_own():
    # basis pursuit has no init_scale: its rows are one line "init_scale=none", not an
    # empty line per NaN (NaN != NaN) and not a crash in a phase panel
    df = pd.DataFrame(dict(method=["bp"] * 4 + ["gd"] * 4, s=1, n=20,
                           init_scale=[np.nan] * 4 + [1e-2] * 4, m=[10, 10, 20, 20] * 2,
                           recovered=[0, 1, 1, 1, 0, 0, 0, 1]))
    fig = plots.curve(df, "m", hue="init_scale", theory=False)
    lines = {ln.get_label(): ln.get_ydata().tolist() for ln in fig.axes[0].get_lines()}
    assert lines == {"init_scale=0.01": [0.0, 0.5], "init_scale=none": [0.5, 1.0]}
    fig = plots.phase(df, "s", "m", facet="init_scale")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["init_scale=0.01", "init_scale=none"]
    cross = plots.transitions(df, hue="init_scale")
    assert cross[0.01] == 20.0 and [v for k, v in cross.items() if k != 0.01] == [10.0]


def test_failed_runs_count_as_not_recovered_in_rates():
    # status "error" rows carry NaN metrics; a rate over the successful runs only would
    # put the 50% point at m = 15 instead of 20
    df = pd.DataFrame(dict(label="a", m=[10, 10, 20, 20, 30, 30],
                           status=["ok", "ok", "ok", "error", "ok", "ok"],
                           recovered=[0, 0, 1, np.nan, 1, 1], rel_error=0.1))
    assert plots.transitions(df) == {"a": 20.0}
    fig = plots.curve(df, "m", "recovered", theory=False)
    assert fig.axes[0].get_lines()[0].get_ydata().tolist() == [0.0, 0.5, 1.0]
    fig = plots.phase(df.assign(s=1), "s", "m", facet=None, theory=False)
    assert _mesh(fig.axes[0]).get_array().ravel().tolist() == [0.0, 0.5, 1.0]


def test_phase_keeps_empty_rows_and_shares_one_colour_scale():
    # an m whose cells are all NaN must keep its row (else 30's values sit on tick "20"),
    # and panels with different ranges share the one colorbar's scale
    df = pd.DataFrame(dict(label=["a"] * 6 + ["b"] * 6, s=[2, 1] * 6,
                           m=[30, 30, 20, 20, 10, 10] * 2,
                           rel_error=[5, 6, np.nan, np.nan, 1, 2] + [0.1] * 6))
    fig = plots.phase(df, "s", "m", "rel_error", theory=False)
    a, b = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in a.get_yticklabels()] == ["10", "20", "30"]
    assert [t.get_text() for t in a.get_xticklabels()] == ["1", "2"]
    grid = np.ma.filled(_mesh(a).get_array(), np.nan).reshape(3, 2)
    np.testing.assert_array_equal(grid, [[2, 1], [np.nan, np.nan], [6, 5]])
    assert _mesh(a).get_clim() == _mesh(b).get_clim() == (0.0, 6.0)


def test_titles_name_fixed_n_and_s_and_strings_are_an_axis():
    df = pd.DataFrame(dict(label="a", method=["bp", "gd"] * 2, n=20, s=3, m=12,
                           init_scale=[1e-1, 1e-1, 1e-3, 1e-3], l1_gap=[0.0, 0.1, 0.0, 0.2],
                           recovered=[1, 0, 1, 1]))
    title = plots.curve(df, "init_scale", "l1_gap").axes[0].get_title()
    assert title == "l1_gap vs init_scale\nn=20, m=12, s=3"     # "s" in "init_scale"
    fig = plots.curve(df, "method", "recovered")                 # no float() of "bp"
    assert fig.axes[0].get_lines()[0].get_ydata().tolist() == [1.0, 0.5]


def test_titles_say_which_sizes_a_summary_pools_over():
    # a curve over m of cells with several s averaged them without a word
    df = pd.DataFrame(dict(label="a", n=20, m=[10, 10, 20, 20], s=[2, 4, 2, 4],
                           recovered=[1, 0, 1, 1]))
    curve = plots.curve(df, "m").axes[0].get_title()
    assert curve == "recovered vs m\nn=20, pooled over s (2 values)"
    assert plots.curve(df, "m", hue="s").axes[0].get_title() == "recovered vs m\nn=20"
    assert "pooled" not in plots.curve(df, "m", where={"s": 2}).axes[0].get_title()
    assert plots.phase(df.assign(n=[20, 30] * 2), facet="n")._suptitle.get_text() == (
        "recovered vs s, m")  # n is the facet


def test_rate_curves_stay_linear_and_bad_formats_write_nothing(folder, tmp_path):
    df = pd.DataFrame(dict(label="a", m=[10, 20, 30], recovered=[0.005, 0.5, 1.0]))
    assert plots.curve(df, "m").axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="format must be"):
        plots.plot(folder, "curve", x="m", out=tmp_path, formats=("png", "jpg"))
    assert not list(tmp_path.iterdir())
    # the value was dropped for the y without a word
    with pytest.raises(ValueError, match="both give a curve's metric"):
        plots.plot(folder, "curve", x="m", y="l1_gap", value="recovered", out=tmp_path)
    # a repeated format is written (and listed) once
    assert len(plots.plot(folder, "curve", x="m", out=tmp_path, formats=["png", "png"])) == 1


def _apart(labels, axis: str) -> bool:
    """Drawn tick labels: no two neighbours' boxes overlap along ``axis``."""
    boxes = sorted((t.get_window_extent() for t in labels if t.get_text()),
                   key=lambda b: b.x0 if axis == "x" else b.y0)
    if axis == "x":
        return all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))
    return all(a.y1 <= b.y0 for a, b in zip(boxes, boxes[1:]))


def _styles(lines) -> list:
    """(colour as RGBA, line style, marker) of each line."""
    from matplotlib.colors import to_rgba

    return [(to_rgba(ln.get_color()), ln.get_linestyle(), ln.get_marker()) for ln in lines]


def test_fourteen_lines_differ_and_the_legend_is_off_the_data():
    # more_is_less draws 14 configurations: the default cycle's 10 colours made line 11
    # ("L=3 alpha=0.1") the same blue as line 1 (basis_pursuit), and the 14-entry legend
    # sat on the curves
    labels = [f"cfg{i:02d}" for i in range(14)]
    df = pd.DataFrame(dict(label=np.repeat(labels, 4), n=50, s=2, m=[10, 10, 20, 20] * 14,
                           recovered=np.tile([0, 1, 1, 1], 14), residual=1.0))
    fig = plots.curve(df, "m", "recovered")
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in labels]
    assert len(lines) == 14 and len(set(_styles(lines))) == 14
    legend = fig.legends[0]  # the legend's keys are drawn like their lines
    keys = dict(zip([t.get_text() for t in legend.get_texts()], legend.legend_handles))
    assert _styles([keys[lab] for lab in labels]) == _styles(lines)
    assert fig.axes[0].get_legend() is None
    fig.draw_without_rendering()
    assert not legend.get_window_extent().overlaps(fig.axes[0].get_window_extent())
    tr = pd.DataFrame(dict(label=np.repeat(labels, 3), iter=[1, 2, 4] * 14,
                           residual=np.tile([1.0, 0.5, 0.2], 14)))
    lines = plots.trace(tr, "residual").axes[0].get_lines()
    assert len(lines) == 14 and len(set(_styles(lines))) == 14


def test_phase_tick_labels_are_compact_and_do_not_overlap():
    # init_scale 1e-16 ... 1e-1 as "%g" ("1e-08", "0.0001") ran into each other in the
    # panels of a 3-column phase figure
    alphas = [1e-16, 1e-12, 1e-8, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    df = pd.DataFrame([dict(label=f"L={d}", init_scale=a, m=m, recovered=float(a < 1e-3))
                       for d in (2, 3, 4) for a in alphas for m in (20, 40)])
    fig = plots.phase(df, "init_scale", "m", theory=False)
    fig.draw_without_rendering()
    for ax in fig.axes[:3]:
        shown = [t.get_text() for t in ax.get_xticklabels()]
        assert shown == ["1e-16", "1e-12", "1e-8", "1e-6", "1e-5", "1e-4", "1e-3", "1e-2",
                         "1e-1"]
        assert _apart(ax.get_xticklabels(), "x") and _apart(ax.get_yticklabels(), "y")
    # 40 long grid values (turned upright), and in a large font (also thinned): apart,
    # every label still at its own cell
    import matplotlib

    df = pd.DataFrame(dict(label="a", s=1, m=np.arange(100, 140) * 1001, recovered=1.0))
    for size in (10, 24):
        with matplotlib.rc_context({"font.size": size}):
            fig = plots.phase(df, "m", "s", theory=False)
            fig.draw_without_rendering()
        ax = fig.axes[0]
        assert _apart(ax.get_xticklabels(), "x") and len(ax.get_xticks()) >= 4
        for loc, text in zip(ax.get_xticks(), ax.get_xticklabels()):
            assert text.get_text() == f"{(100 + int(loc)) * 1001}"


@pytest.mark.parametrize("values, labels", [
    ([10, 20, 30], ["10", "20", "30"]),
    ([0.1, 0.01, 0.001], ["0.1", "0.01", "0.001"]),
    ([2.5e-4, 1e-2, 1e-1], ["2.5e-4", "1e-2", "1e-1"]),
    ([1e6, 2e6], ["1e6", "2e6"]),
    (["bp", "gd"], ["bp", "gd"]),
])
def test_tick_labels_are_short(values, labels):
    from overparam.plots.figures import _ticks

    got = []
    _ticks(lambda idx, texts: got.extend(texts), np.array(values, dtype=object))
    assert got == labels


def test_axes_read_well_integer_ticks_long_names_and_the_theory_legend():
    df = pd.DataFrame(dict(label="a", n=20, s=1, m=[8, 8, 12, 12], recovered=[0, 1, 1, 1]))
    ticks = plots.curve(df, "m", theory=False).axes[0].get_xticks()
    assert len(ticks) > 1 and np.all(ticks == np.round(ticks))      # no tick at m = 8.5
    names = [f"a_rather_long_method_name_{i}" for i in range(6)]
    df = pd.DataFrame(dict(label="a", method=names, recovered=1.0))
    fig = plots.curve(df, "method")
    fig.draw_without_rendering()
    assert _apart(fig.axes[0].get_xticklabels(), "x")
    # the theory line's legend sits below the panels, not on a panel's cells
    df = pd.DataFrame(dict(label="a", n=20, s=[1, 2, 3] * 3, m=np.repeat([6, 10, 14], 3),
                           recovered=1.0))
    fig = plots.phase(df, "s", "m")
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    fig.draw_without_rendering()
    box = fig.legends[0].get_window_extent()
    assert not box.overlaps(fig.axes[0].get_window_extent())


@pytest.mark.parametrize("name", ["../../escape", "sub/dir", "..", " "])
def test_a_plot_name_cannot_leave_the_plots_folder(folder, tmp_path, name):
    # the stem was joined to the output folder as given: ../../escape wrote two levels up
    with pytest.raises(ValueError, match="file stem"):
        plots.plot(folder, "curve", x="m", name=name, out=tmp_path / "p")
    assert not (tmp_path.parent / "escape.png").exists()
    assert plots.plot(folder, "curve", x="m", name="ok", out=tmp_path / "p")[0].name == "ok.png"


# ------------------------------------------------------------------- regression tests
def test_a_legend_of_hundreds_of_entries_stays_on_the_figure():
    # one column of 300 entries ran off the bottom of a 3.8 in figure: 20 were shown
    labels = [f"configuration {i:03d}" for i in range(300)]
    df = pd.DataFrame(dict(label=np.repeat(labels, 2), m=[10, 20] * 300, recovered=0.5))
    fig = plots.curve(df, "m", "recovered", theory=False)
    fig.draw_without_rendering()
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == labels
    assert fig.bbox.contains(*legend.get_window_extent().p0)
    assert fig.bbox.contains(*legend.get_window_extent().p1)
    assert fig.get_figwidth() < 25 and fig.get_figheight() < 30     # not one long strip
    assert not legend.get_window_extent().overlaps(fig.axes[0].get_window_extent())
    # a few entries: one column, the figure keeps its height
    fig = plots.curve(df[df.label.isin(labels[:8])], "m", "recovered", theory=False)
    assert fig.get_figheight() == pytest.approx(3.8)
    fig.draw_without_rendering()
    box = fig.legends[0].get_window_extent()
    texts = [t.get_window_extent() for t in fig.legends[0].get_texts()]
    assert all(t.x0 < box.x0 + box.width / 2 for t in texts)             # one column


def test_huge_integer_valued_hues_are_short_legend_entries():
    # float(1e300).is_integer(): the entry was "init_scale=1000000000000000052504760..."
    # (301 digits), which widened the figure by 23 in once the legend moved out
    df = pd.DataFrame(dict(label="a", init_scale=np.repeat([1e300, 1e200, 1e3, 2.5], 2),
                           m=[10, 20] * 4, rel_error=1.0))
    fig = plots.curve(df, "m", "rel_error", hue="init_scale", theory=False)
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert texts == ["init_scale=1e+300", "init_scale=1e+200", "init_scale=1000",
                     "init_scale=2.5"]
    fig = plots.phase(df.assign(s=1), "s", "m", "rel_error", facet="init_scale",
                      theory=False)
    assert [ax.get_title() for ax in fig.axes[:4]] == texts


def test_curve_refuses_an_unknown_stat_and_hue_equal_to_x():
    # stat="sem" (or "Mean") silently drew the median; hue == x failed inside pandas with
    # "cannot insert m, already exists"
    df = pd.DataFrame(dict(label="a", m=[10, 10, 20, 20], rel_error=[1.0, 3.0, 1.0, 1.0]))
    for stat in ("sem", "Mean", ""):
        with pytest.raises(ValueError, match="stat must be one of mean, median"):
            plots.curve(df, "m", "rel_error", stat=stat)
    with pytest.raises(ValueError, match="hue and x are both 'm'"):
        plots.curve(df, "m", "rel_error", hue="m")
    line = plots.curve(df, "m", "rel_error", stat="mean").axes[0].get_lines()[0]
    assert line.get_ydata().tolist() == [2.0, 1.0]


def test_a_text_column_is_no_plotted_value():
    # pandas said "could not convert string to float: 'converged'", not which column
    df = pd.DataFrame(dict(label="a", m=[10, 10, 20, 20], s=[1, 2, 1, 2],
                           status=["converged", "max_iter"] * 2))
    with pytest.raises(ValueError, match="y 'status' is not a numeric column .*'converged'"):
        plots.curve(df, "m", "status")
    with pytest.raises(ValueError, match="value 'status' is not a numeric column"):
        plots.phase(df, "s", "m", "status")
    df["rel_error"] = pd.Series([1.0, None, 3.0, 4.0], dtype=object)  # numbers only: plots
    assert plots.curve(df, "m", "rel_error").axes[0].get_lines()


def test_a_median_curve_of_a_boolean_column():
    # `success` is stored as bool: quantile raised "Cannot use quantile with bool dtype"
    df = pd.DataFrame(dict(label="a", m=[10, 10, 10, 20, 20, 20],
                           success=[True, False, False, True, True, False]))
    line = plots.curve(df, "m", "success", stat="median").axes[0].get_lines()[0]
    assert line.get_ydata().tolist() == [0.0, 1.0]


def test_auto_log_over_the_whole_float_range_warns_nothing():
    # max / min overflowed (RuntimeWarning) for 1e-320 ... 1e10
    import warnings

    from overparam.plots.figures import _auto_log

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _auto_log(np.array([1e-320, 1e10]))
        assert not _auto_log(np.array([1.0, 99.0])) and _auto_log(np.array([1.0, 100.0]))


def test_trace_on_a_linear_axis_keeps_iteration_0_and_names_a_missing_iter():
    # iteration 0 (the initial value) was dropped also when logx=False
    tr = pd.DataFrame(dict(label="a", iter=[0, 1, 2, 4] * 2, residual=[1.0, 0.5, 0.2, 0.1] * 2))
    lin = plots.trace(tr, "residual", logx=False).axes[0].get_lines()[0]
    assert lin.get_xdata().tolist() == [0, 1, 2, 4]
    log = plots.trace(tr, "residual").axes[0].get_lines()[0]
    assert log.get_xdata().tolist() == [1, 2, 4]
    with pytest.raises(KeyError, match="no column 'iter'"):
        plots.trace(tr.drop(columns="iter"), "residual")


def test_a_log_rate_axis_and_a_phase_of_one_axis():
    # logy=True on a rate: set_ylim(-0.03, ...) warned "Attempt to set non-positive ylim on
    # a log-scaled axis"; x == y in a phase failed in pandas ("Grouper for 's' not
    # 1-dimensional")
    import warnings

    df = pd.DataFrame(dict(label="a", s=1, m=[10, 10, 20, 20], recovered=[0.2, 0.4, 1, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = plots.curve(df, "m", "recovered", logy=True, theory=False).axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim()[1] == 1.03 and ax.get_ylim()[0] > 0
    assert plots.curve(df, "m", "recovered", theory=False).axes[0].get_ylim() == (-0.03, 1.03)
    with pytest.raises(ValueError, match="x and y are both 's'"):
        plots.phase(df, "s", "s")


def _png_opens(fig) -> np.ndarray:
    import io

    from matplotlib.image import imread

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    buf.seek(0)
    return imread(buf)


def test_a_metric_nan_in_every_row_draws_an_empty_figure_on_linear_axes():
    # a log axis (automatic for x spanning decades, or asked for) with no finite point
    # drawn: the figure was returned, and saving it failed with matplotlib's "Data cannot
    # be log-scaled because all values are <= 0"
    import warnings

    import matplotlib.pyplot as plt

    df = pd.DataFrame(dict(label="a", m=[1, 10, 100, 1000] * 2, iter=[1, 2, 4, 8] * 2,
                           rel_error=np.nan, residual=np.nan, recovered=np.nan))
    figs = [plots.curve(df, "m", "rel_error"), plots.curve(df, "m", "rel_error", logy=True),
            plots.curve(df, "m", "recovered", logy=True), plots.trace(df, "residual"),
            plots.trace(df, "residual", logx=True, logy=True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fig in figs:
            assert _png_opens(fig).shape[2] == 4
            ax = fig.axes[0]
            assert ax.get_xscale() == ax.get_yscale() == "linear"
    # with one finite value the log axes are kept
    one = df.assign(rel_error=[np.nan] * 7 + [0.5])
    assert plots.curve(one, "m", "rel_error").axes[0].get_xscale() == "log"
    assert plt.get_fignums() == []


def test_a_trace_of_iteration_0_alone_is_drawn_on_a_linear_axis():
    # the default log axis dropped iteration 0: nothing was left, and saving failed
    tr = pd.DataFrame(dict(label=["a", "b"], iter=0, residual=[1.0, 2.0]))
    fig = plots.trace(tr, "residual")
    assert _png_opens(fig).ndim == 3
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    assert [ln.get_ydata().tolist() for ln in ax.get_lines()] == [[1.0], [2.0]]


def test_every_format_is_written_to_a_new_folder_with_spaces(folder, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    out = tmp_path / "new parent" / "plots here"
    files = plots.plot(folder, "curve", out=out, formats=("png", "pdf", "svg"), x="m",
                       name="a curve")
    assert [f.name for f in files] == ["a curve.png", "a curve.pdf", "a curve.svg"]
    assert imread(files[0]).shape[2] == 4
    assert files[1].read_bytes()[:5] == b"%PDF-"
    assert b"<svg" in files[2].read_bytes()[:1000]
    assert plt.get_fignums() == []


def test_where_of_a_nested_value_is_refused_naming_the_column():
    df = pd.DataFrame(dict(method=["bp", "gd", "gd"], init_scale=[np.nan, 1e-2, 1e-4]))
    # was "Lengths must match to compare" (overparam plot --where m=[[6]])
    with pytest.raises(ValueError, match=r"where: init_scale: expected a value .* got list"):
        filter_rows(df, {"init_scale": [[1e-4]]})
    with pytest.raises(ValueError, match="where: init_scale: expected a value"):
        filter_rows(df, {"init_scale": {"a": 1}})
    assert filter_rows(df, {"init_scale": np.float64(1e-4)}).shape[0] == 2
    assert filter_rows(df, {"method": np.str_("gd"), "init_scale": [np.float64(1e-2)]}
                       ).shape[0] == 1


def test_where_on_a_parameter_stored_as_text_compares_its_text():
    """step = ["auto", 0.05] is stored as text; a numeric value for such a column raised
    "Cannot interpret '<StringDtype>' as a data type" (and a number never equals text)."""
    df = pd.DataFrame(dict(method=["bp", "gd", "gd"],
                           step=pd.array([None, "auto", "0.05"], dtype="string")))
    assert filter_rows(df, {"step": 0.05}).method.tolist() == ["bp", "gd"]
    assert filter_rows(df, {"step": "auto"}).step.tolist()[1:] == ["auto"]
    with pytest.raises(ValueError, match="no rows match"):
        filter_rows(df, {"method": 0.5})


def test_a_bool_parameter_of_some_methods_stays_bool_in_the_store(tmp_path):
    """nonneg = [true, false] on hadamard_limit next to nnls (no such parameter): the
    missing value (NaN) counted as a second type, so the column was stored as the strings
    'True' / 'False' / 'nan' and where={'method_nonneg': True} matched no row."""
    from overparam.experiments import load, load_spec, run

    spec = load_spec({
        "experiment": {"name": "b", "seed": 0, "trials": 1, "metrics": ["rel_error"]},
        "problem": {"generator": "sparse_recovery", "n": 20, "s": 2, "m": 10,
                    "nonneg": True},
        "methods": [{"name": "nnls"},
                    {"name": "hadamard_limit", "init_scale": 1e-3, "nonneg": [True, False]}],
        "run": {"executor": "serial"}})
    run(spec, tmp_path / "r", progress=False)
    df = load(tmp_path / "r")
    assert df.method_nonneg.tolist() == [None, True, False]
    assert filter_rows(df, {"method_nonneg": True}).label.tolist() == [
        "nnls", "hadamard_limit(nonneg=True)"]
