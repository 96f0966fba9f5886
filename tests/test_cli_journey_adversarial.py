"""The command line as a user meets it after an interrupted run, and the messages of
``overparam plot`` options a figure kind does not take."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra
pytest.importorskip("matplotlib")  # the `experiments` extra

from overparam.cli import main  # noqa: E402

SPEC = """
[experiment]
name = "journey"
seed = 1
trials = 2
metrics = ["recovered", "l1_gap"]

[problem]
n = 20
s = 2
m = [6, 10]

[[methods]]
name = "basis_pursuit"

[[methods]]
name = "hadamard_limit"
depth = 2
init_scale = 1e-3

[run]
executor = "serial"

[[plots]]
kind = "curve"
name = "gap_at_10"
x = "init_scale"
y = "l1_gap"
where = { m = 10, method = "hadamard_limit" }

[[plots]]
kind = "curve"
name = "rate"
x = "m"
y = "recovered"
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("journey")
    spec = tmp / "journey.toml"
    spec.write_text(SPEC)
    out = tmp / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    return out


def _interrupted_copy(folder, tmp_path, drop_m: int):
    """The folder as a run stopped before the cell of m = ``drop_m`` left it (parts are
    written whole, one per cell, and the manifest lists every cell from the start)."""
    import shutil

    import pyarrow.parquet as pq

    out = tmp_path / "stopped"
    shutil.copytree(folder, out)
    for part in (out / "parts").glob("*.parquet"):
        if set(pq.read_table(part, columns=["m"]).column("m").to_pylist()) == {drop_m}:
            part.unlink()
            return out
    raise AssertionError("no part of that cell")


def test_plot_of_an_interrupted_run_draws_what_it_can(folder, tmp_path, capsys):
    # before: the first table needing the unfinished cell stopped `overparam plot`, the
    # later tables were not drawn, and the advice "draw it with --kind and options that
    # fit these results" blamed a correct table
    out = _interrupted_copy(folder, tmp_path, drop_m=10)
    capsys.readouterr()
    assert main(["plot", str(out)]) == 2
    captured = capsys.readouterr()
    assert (out / "plots" / "rate.png").exists()            # plots[1]: was not drawn
    assert str(out / "plots" / "rate.png") in captured.out
    assert not (out / "plots" / "gap_at_10.png").exists()
    err = captured.err
    assert "in plots[0] (name gap_at_10) of the folder's spec" in err
    assert "only 1 of 2 cells are finished" in err and "run the spec again" in err
    assert "draw it with --kind" not in err
    # the whole folder: both drawn, exit status 0
    assert main(["plot", str(folder), "--out", str(tmp_path / "all")]) == 0
    assert {p.name for p in (tmp_path / "all").iterdir()} == {"gap_at_10.png", "rate.png"}


def test_plot_of_an_interrupted_run_with_only_checkpoints_says_resume(folder, tmp_path,
                                                                     capsys):
    # a one-cell study stopped mid-cell keeps its finished method configurations in
    # pending/; before: "run its spec with `overparam run` first", as if it never ran
    out = _interrupted_copy(folder, tmp_path, drop_m=10)
    for part in (out / "parts").glob("*.parquet"):
        part.unlink()
    (out / "pending" / ("0" * 20 + ".pkl")).write_bytes(b"")
    capsys.readouterr()
    assert main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds no finished cell yet (0 of 2)" in err
    assert "1 finished method configuration(s) checkpointed" in err and "again" in err
    assert "first" not in err


@pytest.mark.parametrize("extra, wrong, absent", [
    (["--kind", "trace", "--value", "rel_error"], "--value", "field"),
    (["--kind", "phase", "--stat", "mean", "--logx"], "--stat, --[no-]logx", "--[no-]logy"),
    (["--kind", "phase", "--no-logy"], "--[no-]logy", "--stat"),
])
def test_plot_options_a_kind_does_not_take_are_named_as_flags(extra, wrong, absent,
                                                               tmp_path, capsys):
    # before: "a trace plot does not take value (it takes field, hue, logx, logy, title,
    # where, x, y)": the API's names, listing `field` (no such flag) and `x` (refused
    # for a trace); and only after the results folder had been read
    assert main(["plot", str(tmp_path / "no_such_folder"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {wrong}: not ") and f"of --kind {extra[1]}" in err
    assert absent not in err and "no manifest" not in err
    assert "--x" not in err if extra[1] == "trace" else "--x" in err


def _rows(s_values, n=40):
    import pandas as pd

    return pd.DataFrame([{"n": n, "s": s, "m": m, "label": "bp", "trial": t,
                          "recovered": float(s < 10 and m >= 20)}
                         for s in s_values for m in (10, 20, 30) for t in range(2)])


def test_theory_line_skips_sparsities_past_n():
    # s = 50 > n = 40 (a grid point whose problems the generator refused: error rows,
    # rate 0); before, the default theory line failed the whole figure with "need
    # 0 <= s <= n and n > 0, got s=40.11..., n=40.0" (phase) and "got s=50.0" (curve)
    import matplotlib.pyplot as plt

    from overparam.plots import curve, phase
    from overparam.theory import l1_statistical_dimension

    fig = phase(_rows([2, 4, 50]))
    ys = [line.get_ydata() for ax in fig.axes for line in ax.get_lines()]
    # the line is still drawn over s in [2, 4], where delta(s, 40) is in the m grid
    assert ys and np.isfinite(np.concatenate(ys)).any()
    plt.close(fig)
    fig = curve(_rows([50]), x="m")
    assert not [ln for ax in fig.axes for ln in ax.get_lines() if "theory" in ln.get_label()]
    plt.close(fig)
    fig = curve(_rows([4]), x="m")      # s <= n: the line stays, at delta(4, 40)
    (xs,) = {tuple(ln.get_xdata()) for ax in fig.axes for ln in ax.get_lines()
             if "theory" in ln.get_label()}
    assert xs[0] == pytest.approx(l1_statistical_dimension(4, 40), rel=1e-12)
    plt.close(fig)
