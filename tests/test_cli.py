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
    assert "error: plots:" in err and "overparam plot" in err and "--out DIR" in err
    assert "fix the spec" not in err  # the path is at fault, not the [[plots]] tables
    assert len(load(out)) == 2 * 2 * 3
    assert main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "writable --out" in err and "--kind" not in err


@pytest.mark.parametrize("args", [[], ["run"], ["plot"]])
def test_help_documents_the_exit_status(args, capsys):
    with pytest.raises(SystemExit):
        main(args + ["--help"])
    text = " ".join(capsys.readouterr().out.split())
    if args == ["plot"]:
        # plot never returns 1 and has nothing to resume: not run's statuses
        assert "exit status: 0 done; 2 bad input" in text and "130 interrupted" in text
        assert "cells failed" not in text and "resumes" not in text
    else:
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


def _flip_byte(path, at: float) -> None:
    """Flip one byte inside a stored (uncompressed) array of an .npz: its zip directory
    stays valid, the CRC check fails only when that array is read."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def test_sketch_names_a_shard_that_breaks_mid_file(tmp_path):
    # only the shards' headers are checked before the pass: a bad CRC inside an array
    # surfaced as "Bad CRC-32 for file 'row.npy'", naming no shard among thousands
    import numpy as np

    folder = tmp_path / "shärds with space"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.npz", "b.npz"):
        i, j = rng.integers(0, 30, 3000), rng.integers(0, 30, 3000)
        np.savez(folder / name, row=np.r_[i, j], col=np.r_[j, i], value=np.ones(6000))
    _flip_byte(folder / "b.npz", 0.5)
    with pytest.raises(SystemExit) as info:
        main(["sketch", str(folder), "--n", "30", "--primes", "5,7", "--out",
              str(tmp_path / "B.npz"), "--no-progress"])
    msg = str(info.value.code)
    assert msg.startswith("overparam sketch: ") and "Bad CRC-32" in msg
    assert str(folder / "b.npz") in msg


def test_ctrl_c_exits_130_with_one_line_and_the_run_resumes(spec, tmp_path, capsys,
                                                            monkeypatch):
    import overparam.experiments.sweep as sweep

    real = sweep.execute

    def interrupted(*args, **kwargs):  # Ctrl-C after the first cell is stored
        for k, item in enumerate(real(*args, **kwargs)):
            if k == 1:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(sweep, "execute", interrupted)
    out = tmp_path / "res"
    try:  # escaping, it would stop the test session
        code = main(["run", str(spec), "--out", str(out), "--no-plots"])
    except KeyboardInterrupt:
        code = "KeyboardInterrupt escaped main()"
    assert code == 130
    err = capsys.readouterr().err
    assert "overparam run: interrupted" in err and "same command" in err
    assert "Traceback" not in err
    monkeypatch.setattr(sweep, "execute", real)
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    assert "1 cell(s) computed, 1 already done" in capsys.readouterr().out


def test_a_closed_output_pipe_ends_quietly(spec):
    # `overparam run spec --dry-run | head -1`: BrokenPipeError escaped as a traceback
    proc = subprocess.Popen([sys.executable, "-m", "overparam.cli", "run", str(spec),
                             "--dry-run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "Exception ignored" not in err and "Broken" not in err


def test_a_second_run_on_the_same_folder_at_once_is_refused(spec, tmp_path, capsys):
    # two runs on one folder both computed every cell, and the second one's start deleted
    # the first one's temporary files (os.replace then failed in the first)
    out = tmp_path / "res"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; "
         f"fd = os.open({str(out / '.overparam-run.lock')!r}, os.O_RDWR | os.O_CREAT); "
         "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode()); "
         "print('locked', flush=True); time.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 2
        err = capsys.readouterr().err
        assert f"is in use by another run (pid {holder.pid})" in err
        assert not (out / "manifest.json").exists()
        # the library's run() takes the same lock (API users, notebooks)
        from overparam.experiments import StoreError, run
        with pytest.raises(StoreError, match="in use by another run"):
            run(str(spec), out, progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    assert "2 cell(s) computed" in capsys.readouterr().out


def test_a_run_failing_before_it_starts_leaves_no_folder(spec, tmp_path, capsys):
    out = tmp_path / "new" / "res"
    assert main(["run", str(spec), "--out", str(out), "--workers", "-1"]) == 2
    assert "workers" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_spec_that_is_not_utf8_exits_2_naming_it(tmp_path, capsys):
    # Latin-1 text (an editor's default): UnicodeDecodeError escaped as a traceback
    path = tmp_path / "latin.toml"
    path.write_bytes(TINY.replace('"tiny"', '"caf\xe9"').encode("latin-1"))
    assert main(["run", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not UTF-8") and "Traceback" not in err


def test_ctrl_c_during_a_sketch_exits_130_naming_the_checkpoint(tmp_path, capsys,
                                                                monkeypatch):
    import importlib

    import numpy as np

    # (the package's `sketch` attribute is the function, not this module)
    sketch = importlib.import_module("overparam.mamstar.sketch")
    np.savez(tmp_path / "a.npz", row=[1, 2], col=[2, 1], value=[1.0, 1.0])
    np.savez(tmp_path / "b.npz", row=[3], col=[3], value=[2.0])
    real = sketch._shard_partial

    def interrupted(path, *args):  # Ctrl-C while the second shard is read
        if path.endswith("b.npz"):
            raise KeyboardInterrupt
        return real(path, *args)

    monkeypatch.setattr(sketch, "_shard_partial", interrupted)
    ckpt, out = tmp_path / "ck pt", tmp_path / "o" / "B.npz"
    args = ["sketch", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--n", "10",
            "--primes", "5,7", "--no-progress", "--checkpoint", str(ckpt), "--out", str(out)]
    try:
        code = main(args)
    except KeyboardInterrupt:
        code = "KeyboardInterrupt escaped main()"
    assert code == 130
    err = capsys.readouterr().err
    assert f"overparam sketch: interrupted; the finished shards are saved in {ckpt}" in err
    monkeypatch.setattr(sketch, "_shard_partial", real)
    assert main(args) == 0
    assert "3 entries from 2 shards (1 resumed)" in capsys.readouterr().out


def test_an_empty_out_is_refused_not_read_as_the_default(spec, tmp_path, capsys,
                                                         monkeypatch):
    # `--out "$OUT"` with OUT unset wrote the results to results/<name> instead
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(spec), "--out", "", "--no-plots"]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    assert main(["run", str(spec), "--out", "res", "--no-plots"]) == 0
    assert main(["plot", "res", "--kind", "curve", "--x", "m", "--out", ""]) == 2
    assert "--out is empty" in capsys.readouterr().err
    assert not (tmp_path / "res" / "plots").exists()


def test_a_full_disk_mid_run_exits_2_naming_the_file_and_the_run_resumes(spec, tmp_path,
                                                                         capsys,
                                                                         monkeypatch):
    import errno

    import overparam.experiments.store as store_mod

    real = store_mod.os.fsync
    calls = []

    def full(fd):  # the manifest and the first part are written, then the disk is full
        calls.append(fd)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(store_mod.os, "fsync", full)
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 2
    err = capsys.readouterr().err
    # before: "error: [Errno 28] No space left on device", no file, nothing about the
    # stored cell, and the partly written part left in FOLDER/parts
    assert "No space left on device: " in err and str(out / "parts") in err
    assert "cells finished before the error are stored" in err and "Traceback" not in err
    assert not list((out / "parts").glob(".*.tmp"))
    monkeypatch.setattr(store_mod.os, "fsync", real)
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    assert "1 cell(s) computed, 1 already done" in capsys.readouterr().out


def test_a_set_value_that_is_broken_toml_is_refused_not_read_as_text(spec, capsys):
    # `[6,10` was the string '[6,10' ("expected int, got str"), and `"x` the label '"x'
    # (accepted: the run stored it)
    one = ["--set", "methods[1].depth=2"]            # a single configuration: no clash
    assert main(["run", str(spec), "--dry-run", "--set", "problem.m=[6,10"]) == 2
    err = capsys.readouterr().err
    assert "--set problem.m=[6,10: [6,10 is not a TOML value" in err
    assert main(["run", str(spec), "--dry-run", *one,
                 "--set", 'methods[1].label="x']) == 2
    assert 'is not a TOML value (Unterminated string)' in capsys.readouterr().err
    assert main(["run", str(spec), "--dry-run", "--set",
                 "experiment.metrics=[recovered]"]) == 2
    assert 'strings need quotes inside a list, e.g. experiment.metrics=["recovered"]' in \
        capsys.readouterr().err
    # a bare word is still text, also a label format starting with a brace
    assert main(["run", str(spec), "--dry-run", *one,
                 "--set", "methods[1].label={depth}x"]) == 0
    assert "  2x: hadamard_limit" in capsys.readouterr().out


def test_a_set_path_that_misses_names_the_items_there_are(spec, capsys):
    assert main(["run", str(spec), "--dry-run", "--set", "methods[5].depth=3"]) == 2
    # was "methods.5 does not exist" (a form --set does not take), without the count
    assert "methods[5] does not exist (methods has 2 item(s), methods[0] to methods[1]" in \
        capsys.readouterr().err
    assert main(["run", str(spec), "--dry-run", "--set", "methods.depth=3"]) == 2
    # was "parent is not a table"
    assert "methods is a list of tables; give an index, e.g. methods[0].depth" in \
        capsys.readouterr().err
    assert main(["run", str(spec), "--dry-run", "--set", "problem.m.x=3"]) == 2
    assert "problem.m is a value, not a table ([6, 10])" in capsys.readouterr().err


def test_a_dry_run_checks_the_run_arguments_too(spec, tmp_path, capsys):
    # the dry run said "fine" (exit 0) to arguments the run then refused
    assert main(["run", str(spec), "--dry-run", "--workers", "-1"]) == 2
    assert "error: --workers: must be an integer >= 0" in capsys.readouterr().err
    # --address without the dask executor was ignored: the cells ran in local processes
    assert main(["run", str(spec), "--dry-run", "--address", "tcp://host:8786"]) == 2
    assert "--address needs the dask executor (the executor is serial)" in \
        capsys.readouterr().err
    assert main(["run", str(spec), "--dry-run", "--address", "tcp://host:8786",
                 "--executor", "dask"]) == 0
    afile = tmp_path / "afile"
    afile.write_text("")
    for extra in (["--dry-run"], ["--no-plots"], ["--no-plots", "--force"]):
        assert main(["run", str(spec), "--out", str(afile), *extra]) == 2
        err = capsys.readouterr().err
        # was "[Errno 17] File exists (cells finished before the error are stored; ...
        # run the same command again to resume)": nothing had run, nothing would resume
        assert f"--out {afile} is a file, not a folder" in err and "resume" not in err


def test_a_run_that_cannot_make_its_folder_does_not_promise_a_resume(spec, tmp_path,
                                                                     capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert main(["run", str(spec), "--out", str(blocker / "res"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "resume" not in err and "Traceback" not in err


def test_failed_spec_plots_say_which_table_and_a_fix_that_works(spec, tmp_path, capsys):
    out = tmp_path / "r2"
    args = ["run", str(spec), "--out", str(out), "--set", "plots[0].where.s=5"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "error: plots: no rows match" in err and "in plots[0] (the results" in err
    # the advice was "run `overparam plot FOLDER`", which draws the stored [[plots]]: the
    # same broken table, also after the spec's file is fixed
    assert "run the same command again" in err
    assert main(["plot", str(out)]) == 2
    assert "in plots[0] of the folder's spec" in capsys.readouterr().err
    assert main(["run", str(spec), "--out", str(out)]) == 0      # fixed: no recompute
    assert "0 cell(s) computed, 2 already done" in capsys.readouterr().out


def test_plot_options_without_kind_are_refused_not_ignored(spec, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    for extra in (["--x", "init_scale"], ["--format", "pdf"], ["--where", "m=6"],
                  ["--no-theory"], ["--name", "z"]):
        assert main(["plot", str(out), *extra]) == 2    # drew the spec's plots, exit 0
        assert "only with --kind" in capsys.readouterr().err
    assert not (out / "plots").exists()
    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "curve_recovered_vs_m.png").exists()


def test_plot_of_a_folder_without_finished_cells_says_so(spec, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    parts = sorted((out / "parts").glob("*.parquet"))
    parts[0].unlink()                                  # half finished: drawn, with a note
    assert main(["plot", str(out), "--kind", "curve", "--x", "m"]) == 0
    assert "note: 1 of 2 cells of" in capsys.readouterr().err
    parts[1].write_bytes(parts[1].read_bytes()[:40])  # the other one truncated
    assert main(["plot", str(out), "--kind", "curve", "--x", "m"]) == 2
    err = capsys.readouterr().err
    # was "no column 'm' in the results (columns: )"
    assert "holds no finished cell yet (0 of 2): 1 part(s) unreadable" in err
    assert "overparam run" in err
    parts[1].unlink()                                  # none finished (a run stopped early)
    assert main(["plot", str(out), "--kind", "curve", "--x", "m"]) == 2
    err = capsys.readouterr().err
    # was "no column 'm' in the results (columns: )"
    assert "holds no finished cell yet (0 of 2)" in err and "overparam run" in err


def test_sketch_refuses_an_empty_out(tmp_path):
    import numpy as np

    np.savez(tmp_path / "a.npz", row=[1], col=[1], value=[1.0])
    with pytest.raises(SystemExit) as info:   # was "--out . is a folder"
        main(["sketch", str(tmp_path / "a.npz"), "--n", "10", "--primes", "5,7",
              "--out", "", "--no-progress"])
    assert str(info.value.code) == "overparam sketch: --out is empty; give a file name " \
                                   "such as B.npz"


def test_example_comments_give_one_key_per_set():
    # `--set problem.s=[20] problem.m=[...]` stops argparse ("unrecognized arguments")
    import re
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "examples"
    for path in sorted(examples.glob("*.toml")):
        comments = " ".join(line.split("#", 1)[1] for line in path.read_text().splitlines()
                            if "#" in line)
        bad = re.findall(r"--set\s+\S+=\S+\s+([\w.\[\]]+=\S*)", comments)
        assert not bad, (path.name, bad)


def test_plot_draws_the_plots_of_the_latest_run_of_the_same_spec(spec, tmp_path, capsys):
    # [[plots]] do not change the results (nor the spec's hash): a re-run with edited
    # plots drew the new ones, but the manifest kept the first run's, so `overparam plot
    # FOLDER` went on drawing those
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    spec.write_text(TINY.replace('y = "recovered"', 'y = "l1_gap"'))
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    assert "0 cell(s) computed" in capsys.readouterr().out
    assert main(["plot", str(out), "--out", str(tmp_path / "figs")]) == 0
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert names and all("l1_gap" in n for n in names), names


def test_a_where_column_given_twice_or_nested_is_refused_not_dropped(spec, tmp_path,
                                                                     capsys):
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    base = ["plot", str(out), "--kind", "curve", "--x", "m"]
    # the second --where replaced the first: a figure of m=10 only, exit status 0
    assert main(base + ["--where", "m=6", "--where", "m=10"]) == 2
    err = capsys.readouterr().err
    assert "column 'm' given twice; give its values as one list, e.g. m=[6, 10]" in err
    # was "error: Lengths must match to compare"
    assert main(base + ["--where", "m=[[6]]"]) == 2
    assert "where: m: expected a value (str, int, float or bool) or a list of values, " \
        "got list [6]" in capsys.readouterr().err
    assert main(base + ["--where", "m=[6, 10]", "--where", "s=2"]) == 0


def test_a_bad_dask_address_or_no_dask_exits_2_before_the_folder_is_made(spec, tmp_path,
                                                                         capsys,
                                                                         monkeypatch):
    out = tmp_path / "res"
    if _has_distributed():
        # "foo bar" (no port) escaped from the run as distributed's ValueError traceback,
        # exit status 1, after the results folder was made; the dry run passed it
        for address in ("foo bar", "bogus://h:1", "tcp://h:abc", "tcp://h:99999"):
            for extra in (["--dry-run"], ["--no-plots"]):
                assert main(["run", str(spec), "--out", str(out), "--executor", "dask",
                             "--address", address, *extra]) == 2
                err = capsys.readouterr().err
                assert f"--address: {address!r} is not a Dask scheduler address" in err
                assert "Traceback" not in err and not out.exists()
        assert main(["run", str(spec), "--dry-run", "--set", 'run.executor="dask"',
                     "--set", 'run.address="nope"']) == 2
        assert "run.address: 'nope' is not a Dask scheduler" in capsys.readouterr().err
        assert main(["run", str(spec), "--dry-run", "--executor", "dask", "--address",
                     "tcp://127.0.0.1:8786"]) == 0
        capsys.readouterr()
    # Dask not installed: the executor's ImportError escaped as a traceback
    monkeypatch.setitem(sys.modules, "distributed.comm.addressing", None)
    assert main(["run", str(spec), "--out", str(out), "--executor", "dask"]) == 2
    assert "the dask executor needs `pip install overparam[dask]`" in \
        capsys.readouterr().err
    assert not out.exists()


def _has_distributed() -> bool:
    import importlib.util

    return importlib.util.find_spec("distributed") is not None


def test_workers_with_the_serial_executor_is_refused_not_ignored(spec, capsys):
    # the tiny spec's executor is serial: --workers 2 ran the cells one at a time
    assert main(["run", str(spec), "--dry-run", "--workers", "2"]) == 2
    assert "--workers needs the processes or dask executor (the executor is serial)" in \
        capsys.readouterr().err
    assert main(["run", str(spec), "--dry-run", "--workers", "2", "--executor",
                 "processes"]) == 0


def test_a_dry_run_refuses_a_folder_the_run_refuses(spec, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    other = ["run", str(spec), "--out", str(out), "--dry-run", "--set", "problem.m=[6]"]
    assert main(other) == 2                  # was exit 0, then the run refused the folder
    assert "holds results of another spec" in capsys.readouterr().err
    assert main(other + ["--force"]) == 0
    assert main(["run", str(spec), "--out", str(out), "--dry-run"]) == 0  # the same spec
    capsys.readouterr()
    # a manifest.json that is a folder: IsADirectoryError tracebacks from plot and the
    # dry run; the run said that finished cells were stored
    bad = tmp_path / "bad"
    (bad / "manifest.json").mkdir(parents=True)
    for args in (["plot", str(bad)], ["run", str(spec), "--out", str(bad), "--dry-run"],
                 ["run", str(spec), "--out", str(bad), "--no-plots"]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "Is a directory" in err and "Traceback" not in err
        assert "cells finished before the error are stored" not in err


def test_plot_options_the_figure_would_drop_are_refused(spec, tmp_path, capsys):
    import json

    out = tmp_path / "res"
    assert main(["run", str(spec), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    # the x of a trace plot was dropped without a word (its axis is the iteration)
    assert main(["plot", str(out), "--kind", "trace", "--x", "m"]) == 2
    assert "--x: a trace plot's x axis is the iteration" in capsys.readouterr().err
    # --value was dropped when --y was given: a figure of l1_gap, exit status 0
    assert main(["plot", str(out), "--kind", "curve", "--x", "m", "--y", "l1_gap",
                 "--value", "recovered"]) == 2
    assert "--value recovered and --y l1_gap both give the curve's metric" in \
        capsys.readouterr().err
    # a repeated format wrote the file twice and printed its path twice
    assert main(["plot", str(out), "--kind", "curve", "--x", "m", "--format", "png", "svg",
                 "png"]) == 0
    printed = capsys.readouterr().out.split()
    assert [p.rsplit(".", 1)[1] for p in printed] == ["png", "svg"]
    # a hand-edited manifest's plot table without a kind: "error: kind in plots[0]"
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["spec"]["plots"] = [{"x": "m"}]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert main(["plot", str(out)]) == 2
    assert "kind must be phase, curve or trace, got None in plots[0]" in \
        capsys.readouterr().err
