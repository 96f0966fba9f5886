"""CLI end to end on a tiny spec: run (with --set), resume, plot, info, --help, errors."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra
pytest.importorskip("matplotlib")  # the `experiments` extra

import subprocess  # noqa: E402
import sys  # noqa: E402


from overparam.cli import main  # noqa: E402
from overparam.experiments import load  # noqa: E402

TINY = """
[experiment]
name = "tiny"
seed = 4
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
depth = [2, 3]
init_scale = 1e-3

[run]
executor = "serial"

[[plots]]
kind = "curve"
x = "m"
y = "recovered"
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_run_resume_and_plot(spec, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--set", "problem.m=[6,10,14]"]) == 0
    text = capsys.readouterr().out
    assert "3 cell(s) computed" in text and "plots written to" in text
    assert "theory delta(s=2, n=20)" in text
    assert (out / "plots" / "curve_recovered_vs_m.png").exists()
    df = load(out)
    assert sorted(df.m.unique()) == [6, 10, 14] and len(df) == 3 * 2 * 3

    assert main(["run", str(spec), "--out", str(out), "--set", "problem.m=[6,10,14]"]) == 0
    assert "0 cell(s) computed, 3 already done" in capsys.readouterr().out

    # a different spec into the same folder is refused, then accepted with --force
    assert main(["run", str(spec), "--out", str(out)]) == 2
    assert "another spec" in capsys.readouterr().err
    assert main(["run", str(spec), "--out", str(out), "--force", "--no-plots"]) == 0

    assert main(["plot", str(out), "--kind", "phase", "--x", "init_scale", "--y", "m",
                 "--hue", "depth", "--where", "method=hadamard_limit", "--format", "png",
                 "pdf", "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "phase_recovered_init_scale_m.pdf").exists()
    assert main(["plot", str(out)]) == 0                         # the spec's [[plots]]
    assert main(["plot", str(out), "--kind", "curve", "--x", "m", "--y", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err

    (out / "manifest.json").write_text('{"spec": ')                # damaged by hand
    assert main(["plot", str(out)]) == 2
    assert "manifest.json is damaged" in capsys.readouterr().err


def test_invalid_spec_exits_2_with_the_key_path(spec, tmp_path, capsys):
    assert main(["run", str(spec), "--out", str(tmp_path / "o"), "--set",
                 "methods[1].depht=2"]) == 2
    assert "methods[1].depht: unknown parameter" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_dry_run_and_info(spec, capsys):
    assert main(["run", str(spec), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "2 cell(s) x 2 trial(s) x 3 method configuration(s) = 12" in text
    # --help promises the cells too (only the count was printed)
    assert "'m': 6" in text and "'m': 10" in text
    assert main(["run", str(spec), "--dry-run", "--set", f"problem.m={list(range(3, 20))}",
                 "--set", "problem.n=30"]) == 0
    assert "... and 0 more" not in (text := capsys.readouterr().out)
    assert main(["run", str(spec), "--dry-run", "--set", f"problem.m={list(range(3, 30))}",
                 "--set", "problem.n=30"]) == 0
    assert "... and 7 more" in capsys.readouterr().out


def test_transition_report_without_a_crossing(spec, tmp_path, capsys):
    # every m far above the transition: rate 1 everywhere, no 50% point ("m50 = nan")
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--set", "problem.m=[16,18]"]) == 0
    text = capsys.readouterr().out
    assert "no 50% crossing on this grid of m" in text and "nan" not in text
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    for word in ("jax", "devices:", "hadamard_gd", "hadamard_limit", "basis_pursuit",
                 "lasso", "nnls", "[batched]", "l1_gap"):
        assert word in text


@pytest.mark.parametrize("args", [[], ["run"], ["plot"], ["info"]])
def test_help_everywhere(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args + ["--help"])
    assert info.value.code == 0
    assert "usage: overparam" in capsys.readouterr().out


def test_console_script_entry_point():
    done = subprocess.run([sys.executable, "-m", "overparam.cli", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "run" in done.stdout and "plot" in done.stdout


def test_run_reports_numeric_hue_and_bad_spec_plots_exit_2(spec, tmp_path, capsys):
    # hue = "depth" gives float keys: the 50% report formats them like the legend
    text = spec.read_text().replace('y = "recovered"', 'y = "recovered"\nhue = "depth"\n'
                                    'where = { method = "hadamard_limit" }')
    spec.write_text(text)
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.strip().startswith("depth=2 ") and "m50 =" in line for line in lines)
    # a plot's where outside the (overridden) grid: a message and exit 2, results kept
    assert main(["run", str(spec), "--out", str(tmp_path / "r2"), "--set",
                 "plots[0].where.s=5"]) == 2
    err = capsys.readouterr().err
    assert "error: plots: no rows match" in err and "Traceback" not in err
    assert len(load(tmp_path / "r2")) == 2 * 2 * 3  # cells x trials x configurations
    assert main(["plot", str(out), "--kind", "curve", "--x", "m", "--where", "s"]) == 2
    assert "--where 's': expected COL=VALUE" in capsys.readouterr().err


def test_bad_paths_and_plot_columns_exit_2_without_a_traceback(spec, tmp_path, capsys):
    # the spec path is a folder: IsADirectoryError escaped as a traceback (exit 1)
    assert main(["run", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    # --out naming a file: FileExistsError escaped from `plot`
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["plot", str(out), "--kind", "curve", "--x", "m", "--out", str(afile)]) == 2
    assert "afile" in capsys.readouterr().err
    # a text column as the curve's metric: pandas' TypeError escaped
    assert main(["plot", str(out), "--kind", "curve", "--x", "m", "--y", "label"]) == 2
    assert "error:" in capsys.readouterr().err
    # the spec's [[plots]] at the end of `run` cannot be written: results kept, exit 2
    (out / "plots").write_text("")
    assert main(["run", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "error: plots:" in err and "overparam plot" in err
    assert len(load(out)) == 2 * 2 * 3


@pytest.mark.parametrize("args", [[], ["run"], ["plot"]])
def test_help_documents_the_exit_status(args, capsys):
    with pytest.raises(SystemExit):
        main(args + ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 done; 1 some cells failed" in text and "2 bad input" in text


def test_info_shows_required_parameters_problem_kinds_and_choices(capsys):
    from overparam.experiments.generators import GENERATORS
    from overparam.experiments.methods import METHODS

    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    text = "\n".join(lines)
    assert "alpha: float (required)" in text                      # lasso
    assert "solves: digits problems (e.g. generator digits)" in text   # mlp_gd
    assert "solves: eigen problems (e.g. generator sparse_eigen)" in text
    assert "operator: str in {gaussian, rademacher, dct, fft}" in text
    # every registered method, generator and parameter appears
    for name, entry in METHODS.items():
        i = next(k for k, line in enumerate(lines) if line.split()[:1] == [name])
        assert all(f"{p}: {t}" in lines[i + 1] for p, t in entry.params.items())
        assert lines[i + 2].split()[:2] == ["solves:", entry.problems]
    for name, gen in GENERATORS.items():
        line = next(line for line in lines if line.split()[:1] == [name])
        assert all(f"{p}: {t}" in line for p, t in gen.params.items())


def test_a_method_failing_on_every_problem_exits_1_with_its_message(spec, tmp_path, capsys):
    # the method's parameter is rejected only when it solves: every row an error row, and
    # the run used to exit 0 with "see the `error` column"
    out = tmp_path / "res"
    args = ["run", str(spec), "--out", str(out), "--no-plots",
            "--set", 'experiment.metrics=["recovered"]',
            "--set", "methods=[{name='basis_pursuit', method='nope'}]"]
    assert main(args) == 1
    text = capsys.readouterr().out
    assert "4 of 4 row(s) record a method that failed" in text
    assert f"overparam.experiments.load({str(out)!r})" in text
    assert "method configuration 'basis_pursuit' failed on every problem: ValueError" in text
    assert main(args) == 1                   # resumed: the stored rows still say so
    assert "failed on every problem" in capsys.readouterr().out
    assert (load(out).status == "error").all()


def test_run_refuses_a_method_of_another_kind_with_exit_2(spec, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--set",
                 "methods[1]={name='dmf_gd'}"]) == 2
    err = capsys.readouterr().err
    assert "methods[1].name: method 'dmf_gd' solves matrix problems, generator " \
           "'sparse_recovery' makes vector problems" in err
    assert not out.exists()
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "makes: vector problems" in text and "makes: matrix / vector problems" in text
