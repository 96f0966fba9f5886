"""Plots under adversarial use: figures that pool several method configurations or
problem parameters say so, log axes never hide points without a word, the theory line
is in the legend only when it is drawn, and an output path that reads as a file name is
refused. Content is checked on the matplotlib objects, not only that a file exists."""
from __future__ import annotations

import warnings

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra
pytest.importorskip("matplotlib")  # the `experiments` extra

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from overparam import plots  # noqa: E402
from overparam.experiments import run  # noqa: E402

SPEC = {
    "experiment": {"seed": 3, "trials": 2, "traces": True,
                   "metrics": ["recovered", "rel_error", "l1_gap"]},
    # signal: a problem parameter other than n, m, s
    "problem": {"n": 20, "s": [1, 3], "m": [6, 12], "signal": ["gaussian", "sign"]},
    "methods": [
        {"name": "basis_pursuit"},
        {"name": "hadamard_limit", "depth": [2, 3], "init_scale": 1e-2},
        {"name": "hadamard_gd", "depth": 2, "init_scale": 1e-2, "max_iter": 100,
         "record": 6},
    ],
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("adv") / "r"
    run(SPEC, out, executor="serial")
    return out


def _mesh(ax):
    from matplotlib.collections import QuadMesh

    return next(c for c in ax.collections if isinstance(c, QuadMesh))


def _lines(ax) -> dict:
    return {ln.get_label(): np.asarray(ln.get_ydata(), dtype=float) for ln in ax.get_lines()}


# ----------------------------------------------------------- pooling is always named
def test_a_hue_that_pools_method_configurations_says_so(folder):
    # hue = "method": hadamard_limit at depths 2 and 3 averaged into one line (and one
    # panel) with nothing in the figure saying so; hue = "depth": hadamard_gd and
    # hadamard_limit(depth=2) averaged into "depth=2"
    from overparam.experiments import load

    df = load(folder)
    fig = plots.phase(folder, "s", "m", facet="method", where={"signal": "gaussian"})
    assert "pooled over label (up to 2 per point)" in fig._suptitle.get_text()
    panel = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}["method=hadamard_limit"]
    sub = df[(df.method == "hadamard_limit") & (df.signal == "gaussian")]
    want = sub.pivot_table(index="m", columns="s", values="recovered", aggfunc="mean")
    np.testing.assert_allclose(np.ma.filled(_mesh(panel).get_array(), np.nan).reshape(2, 2),
                               want.to_numpy())
    title = plots.curve(folder, "m", hue="depth").axes[0].get_title()
    assert "label (up to 2 per point)" in title
    assert "label (up to 4 per point)" in plots.curve(folder, "m", hue=None).axes[0].get_title()
    # one configuration per point: no note
    for fig in (plots.curve(folder, "m"), plots.phase(folder, "s", "m"),
                plots.curve(folder, "m", hue="depth", where={"method": "hadamard_limit"})):
        text = fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title()
        assert "label" not in text


def test_problem_parameters_beyond_n_m_s_are_named_when_pooled(folder):
    # quantize_graph's "graph_error_vs_N" averaged four graph kinds; only n, m and s were
    # ever named in the title
    title = plots.curve(folder, "m", where={"s": 1}).axes[0].get_title()
    assert title == "recovered vs m\nn=20, s=1, pooled over signal (2 values)"
    title = plots.curve(folder, "m", where={"s": 1, "signal": "sign"}).axes[0].get_title()
    assert title == "recovered vs m\nn=20, s=1, signal=sign"
    assert "signal (2 values)" in plots.phase(folder, "s", "m")._suptitle.get_text()
    assert "signal" not in plots.phase(folder, "s", "m", facet="signal")._suptitle.get_text()
    assert "pooled over m (2 values), s (2 values), signal (2 values)" in \
        plots.trace(folder, "residual").axes[0].get_title()
    # the line is the mean over both signals
    from overparam.experiments import load

    df = load(folder)
    want = df[(df.s == 1) & (df.label == "basis_pursuit")].groupby("m").recovered.mean()
    got = _lines(plots.curve(folder, "m", where={"s": 1}).axes[0])["basis_pursuit"]
    np.testing.assert_allclose(got, want.to_numpy())


# ---------------------------------------------------------------- log axes and <= 0
def test_a_log_axis_names_the_points_it_cannot_show(folder):
    # basis pursuit's l1 gap is 0: with logy its line vanished while its legend entry
    # stayed; a figure whose every point was <= 0 was an empty plot (matplotlib warned
    # "Data has no positive values" and the file was written)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plots.curve(folder, "m", "l1_gap", logy=True)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    lines = _lines(ax)
    assert lines["basis_pursuit"].tolist() == [0.0, 0.0]
    hidden = [k for k, v in lines.items() if (v <= 0).any()]           # (GD after 100
    count = sum(int((v <= 0).sum()) for v in lines.values())          # steps: < 0 too)
    assert ax.get_title().endswith(f"\nnot shown on the log y axis: {count} point(s) <= 0 "
                                   f"({', '.join(hidden)})")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=r"logy: every point of 'l1_gap' drawn has y "
                                             r"<= 0.*drop logy"):
            plots.curve(folder, "m", "l1_gap", logy=True,
                        where={"method": "basis_pursuit"})
    # a user's title keeps the note; all-positive values and linear axes: no note
    fig = plots.curve(folder, "m", "l1_gap", logy=True, title="gap")
    assert fig.axes[0].get_title().startswith("gap\nnot shown on the log y axis")
    assert "not shown" not in plots.curve(folder, "m", "l1_gap").axes[0].get_title()
    assert "not shown" not in plots.curve(
        folder, "m", "l1_gap", logy=True, where={"method": "hadamard_limit"}).axes[0].get_title()


def test_log_axes_of_a_curve_and_a_trace_with_zero_and_negative_values():
    df = pd.DataFrame(dict(label=["a"] * 4 + ["b"] * 4, x=[-1.0, 0.0, 1.0, 10.0] * 2,
                           y=[1.0, 2.0, 3.0, 4.0, 1.0, 2.0, -3.0, 4.0]))
    title = plots.curve(df, "x", "y", logx=True, logy=True).axes[0].get_title()
    assert title.endswith("not shown on the log x and y axis: 5 point(s) <= 0 (a, b)")
    with pytest.raises(ValueError, match="logx: every point of 'y' drawn has x <= 0"):
        plots.curve(df[df.x <= 0], "x", "y", logx=True)
    tr = pd.DataFrame(dict(label="a", trial=[0] * 3 + [1] * 3, iter=[0, 1, 2] * 2,
                           l1=[0.0, 0.5, 1.0] * 2))
    ax = plots.trace(tr, "l1", logx=False, logy=True).axes[0]
    assert ax.get_title().endswith("not shown on the log y axis: 1 point(s) <= 0 (a)")
    assert "not shown" not in plots.trace(tr, "l1", logy=True).axes[0].get_title()  # iter 0
    with pytest.raises(ValueError, match="logy: every point of 'l1'"):
        plots.trace(tr.assign(l1=0.0), "l1", logy=True)


def test_the_cli_reports_an_empty_log_figure_without_a_traceback(folder, tmp_path, capsys):
    from overparam.cli import main

    code = main(["plot", str(folder), "--kind", "curve", "--x", "m", "--y", "l1_gap",
                 "--logy", "--where", "method=basis_pursuit", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: logy: every point") and "Traceback" not in err
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------ the theory line
def test_the_phase_theory_is_in_the_legend_only_where_it_is_drawn():
    # one s, or a transition outside the grid: the curve was all NaN (nothing drawn), yet
    # the legend below the panels said "theory delta(s,n)"
    from overparam.theory import l1_transition_curve

    df = pd.DataFrame(dict(label="a", n=20, s=3, m=[6, 6, 12, 12], recovered=[0, 0, 1, 1]))
    fig = plots.phase(df, "s", "m")
    (line,) = fig.axes[0].get_lines()
    xy = line.get_xydata()
    assert xy[:, 0].min() == -0.5 and xy[:, 0].max() == 0.5     # across the one column
    m = l1_transition_curve(20, np.array([3.0]))[0]               # 8.56: between 6 and 12
    np.testing.assert_allclose(xy[:, 1], (m - 6) / 6)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["theory $\\delta(s,n)$"]
    swapped = plots.phase(df, "m", "s").axes[0].get_lines()[0].get_xydata()
    np.testing.assert_allclose(swapped, xy[:, ::-1])
    for rows in (df.assign(s=1), df.assign(m=[30, 30, 40, 40]), df[df.m == 12]):
        fig = plots.phase(rows, "s", "m")
        assert fig.axes[0].get_lines() == [] and fig.legends == []
    # several s: unchanged, the curve through the grid
    df = pd.DataFrame(dict(label="a", n=20, s=[1, 2, 3] * 2, m=np.repeat([4, 9], 3),
                           recovered=1.0))
    line = plots.phase(df, "s", "m").axes[0].get_lines()[0]
    assert np.isfinite(line.get_xydata()).all(axis=1).sum() > 100


def test_the_theory_legend_comes_from_any_panel():
    # two panels with different grids: the transition crosses only the second one's
    df = pd.DataFrame(dict(label=["a"] * 4 + ["b"] * 4, n=20, s=[2, 3] * 4,
                           m=[20, 20, 30, 30, 6, 6, 12, 12], recovered=1.0))
    fig = plots.phase(df, "s", "m")
    assert [len(ax.get_lines()) for ax in fig.axes[:2]] == [0, 1]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["theory $\\delta(s,n)$"]


# ------------------------------------------------------------------ output paths
def test_an_output_path_that_reads_as_a_file_is_refused(folder, tmp_path):
    # out="fig.png" made a folder fig.png holding curve_recovered_vs_m.png
    for out in ("fig.png", "fig.PDF", "a/b.svg"):
        with pytest.raises(ValueError, match=r"out is the folder the files go to.*name="):
            plots.plot(folder, "curve", x="m", out=tmp_path / out)
    assert not list(tmp_path.iterdir())
    (tmp_path / "plots.png").mkdir()  # an existing folder of that name is a folder
    files = plots.plot(folder, "curve", x="m", out=tmp_path / "plots.png", name="c",
                       formats=["pdf"])
    assert files == [tmp_path / "plots.png" / "c.pdf"]
    assert files[0].read_bytes()[:5] == b"%PDF-"
    # an unknown suffix is a folder name, created with its parents
    files = plots.plot(folder, "curve", x="m", out=tmp_path / "new" / "x.v2")
    assert files == [tmp_path / "new" / "x.v2" / "curve_recovered_vs_m.png"]


# ---------------------------------------------------- already right: content checks
def test_unknown_columns_list_what_exists_through_the_cli(folder, tmp_path, capsys):
    from overparam.cli import main

    for args in (["--kind", "curve", "--x", "m", "--y", "nope"],
                 ["--kind", "phase", "--x", "nope"],
                 ["--kind", "trace", "--y", "nope"]):
        assert main(["plot", str(folder), *args, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: no column 'nope'") and "rel_error" in err
        assert "Traceback" not in err
    assert main(["plot", str(folder), "--kind", "curve", "--x", "m", "--where",
                 "method=lasso", "--out", str(tmp_path)]) == 2
    assert "no rows match" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_failed_and_nan_cells_in_a_phase_and_a_curve():
    # errors count as 0 in a rate; a metric NaN in a whole cell leaves that cell empty
    df = pd.DataFrame(dict(label="a", s=[1, 1, 2, 2], m=10,
                           status=["ok", "error", "error", "error"],
                           recovered=[1.0, np.nan, np.nan, np.nan],
                           rel_error=[0.1, np.nan, np.nan, np.nan]))
    fig = plots.phase(df, "s", "m", theory=False)
    assert np.ma.filled(_mesh(fig.axes[0]).get_array(), np.nan).tolist() == [[0.5, 0.0]]
    fig = plots.phase(df, "s", "m", "rel_error", theory=False)
    grid = np.ma.filled(_mesh(fig.axes[0]).get_array(), np.nan).ravel()
    assert grid[0] == pytest.approx(0.1) and np.isnan(grid[1])
    line = plots.curve(df, "s", "rel_error").axes[0].get_lines()[0]
    assert line.get_xdata().tolist() == [1, 2]
    assert line.get_ydata()[0] == pytest.approx(0.1) and np.isnan(line.get_ydata()[1])


def test_parse_where_refuses_broken_lists_and_strings():
    from overparam.plots.figures import parse_where

    assert parse_where(["m=[10, 20]", "method=lasso", 'label="a b"']) == {
        "m": [10, 20], "method": "lasso", "label": "a b"}
    for bad in ("m=[10,", 'label="open', "t={a=1"):
        with pytest.raises(ValueError, match="not valid TOML"):
            parse_where([bad])
