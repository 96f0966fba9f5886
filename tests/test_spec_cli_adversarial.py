"""Adversarial inputs to specs, ``--set`` and ``overparam run``: each a user error that
escaped as a traceback, hung, or failed only after the sweep; now a message naming the
key path (or the path at fault) and exit status 2, before anything runs."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra

import re  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402

from overparam.cli import main  # noqa: E402
from overparam.experiments import SpecError, load_spec  # noqa: E402

TINY = """
[experiment]
name = "tiny"
trials = 1
metrics = ["recovered"]

[problem]
n = 12
s = 1
m = 6

[[methods]]
name = "basis_pursuit"

[run]
executor = "serial"
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _refused(capsys, argv, *needles):
    """``overparam ARGV`` exits 2 with one error line holding every needle."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_trials_beyond_the_per_cell_bound_are_refused(spec, tmp_path, capsys):
    # 10**23 trials passed the dry run (exit 0), then the run listed every trial's seed
    # first and hung, filling the memory, without a word
    from overparam.experiments.spec import MAX_TRIALS

    with pytest.raises(SpecError, match=r"^experiment\.trials: .* more than 1,000,000"):
        load_spec(spec, [f"experiment.trials={MAX_TRIALS + 1}"])
    assert load_spec(spec, [f"experiment.trials={MAX_TRIALS}"]).experiment["trials"] == \
        MAX_TRIALS
    _refused(capsys, ["run", str(spec), "--dry-run", "--set",
                      "experiment.trials=99999999999999999999999"], "experiment.trials:")
    out = tmp_path / "out"
    _refused(capsys, ["run", str(spec), "--out", str(out), "--set",
                      "experiment.trials=99999999999999999999999"], "experiment.trials:")
    assert not out.exists()


def test_blas_threads_beyond_a_c_int_are_refused(spec):
    # every cell failed at run time: "ArgumentError: argument 1: OverflowError: int too
    # long to convert" (exit 1, nothing computed)
    with pytest.raises(SpecError, match=r"^run\.blas_threads: 2147483648 is more than"):
        load_spec(spec, ["run.blas_threads=2147483648"])
    assert load_spec(spec, ["run.blas_threads=2147483647"]).run["blas_threads"] == 2**31 - 1


def test_a_nul_in_run_out_is_refused(spec, capsys):
    # ValueError: embedded null byte, as a traceback, when the run made its folder
    with pytest.raises(SpecError, match=r"^run\.out: .* NUL"):
        load_spec(spec, [r'run.out="a\u0000b"'])
    _refused(capsys, ["run", str(spec), "--set", r'run.out="a\u0000b"'], "run.out:")


def test_a_results_path_the_system_refuses_is_an_error_not_a_traceback(
        spec, tmp_path, capsys, monkeypatch):
    # a folder name over 255 bytes (here the default results/<experiment.name>): Path.exists
    # raised "File name too long" as a traceback, in the dry run too
    monkeypatch.chdir(tmp_path)
    long = "a" * 300
    # with no results/ yet, the name is reached only when the folder is made: the run's
    # handler asked whether a manifest was stored there, and that raised again
    _refused(capsys, ["run", str(spec), "--set", f"experiment.name={long}"],
             "File name too long")
    (tmp_path / "results").mkdir(exist_ok=True)  # (as after any earlier experiment)
    for extra in (["--dry-run"], ["--no-plots"]):
        _refused(capsys, ["run", str(spec), "--set", f"experiment.name={long}", *extra],
                 "error: the results folder", "File name too long")
        _refused(capsys, ["run", str(spec), "--out", long, *extra],
                 "error: --out", "File name too long")
    _refused(capsys, ["run", str(spec), "--out", f"x/{long}/y"], "File name too long")
    assert main(["run", str(spec), "--out", "res"]) == 0
    capsys.readouterr()
    _refused(capsys, ["plot", "res", "--kind", "curve", "--x", "m", "--out", long],
             "error: --out", "File name too long")


@pytest.mark.parametrize("plot, key, message", [
    ('{kind = "curve", y = "recovered"}', "plots[0].x", "a curve plot needs x"),
    ('{kind = "curve", x = "m", hue = "m"}', "plots[0].hue", "hue and x are both 'm'"),
    ('{kind = "curve", x = "label"}', "plots[0].hue", "hue and x are both 'label'"),
    ('{kind = "curve", x = "m", y = "recovered", value = "rel_error"}', "plots[0].value",
     "value and y both give"),
    ('{kind = "phase", x = "m"}', "plots[0].y", "x and y are both 'm'"),
    ('{kind = "phase", x = "n", y = "n"}', "plots[0].y", "x and y are both 'n'"),
])
def test_plot_tables_that_cannot_be_drawn_are_refused_before_the_sweep(
        spec, tmp_path, capsys, plot, key, message):
    # each was accepted (the dry run said nothing), the whole sweep ran, then the run
    # failed drawing: "error: plots: a curve plot needs x ..." (exit 2)
    with pytest.raises(SpecError, match="^" + re.escape(f"{key}: ")):
        load_spec(spec, [f"plots=[{plot}]"])
    out = tmp_path / "out"
    _refused(capsys, ["run", str(spec), "--out", str(out), "--set", f"plots=[{plot}]"],
             key, message)
    assert not out.exists()


def test_valid_plot_axes_still_pass(spec):
    for plot in ('{kind = "curve", x = "m"}', '{kind = "curve", x = "m", hue = "method"}',
                 '{kind = "curve", x = "m", value = "rel_error"}',
                 '{kind = "phase"}', '{kind = "phase", x = "n"}',
                 '{kind = "phase", y = "s", x = "m"}', '{kind = "trace"}'):
        assert load_spec(spec, [f"plots=[{plot}]"]).plots


@pytest.fixture
def http_server():
    """A server on localhost answering every connection as HTTP does (a Dask dashboard's
    port, a web proxy): not a Dask scheduler."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    thread.join(2)
    srv.close()


def test_a_dask_address_where_no_scheduler_answers_is_an_error(spec, tmp_path, capsys,
                                                               http_server):
    # Dask read the HTTP reply as a message length and the run escaped as a traceback:
    # "MemoryError: Unable to allocate 3.07 EiB" (exit 1)
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "5s"}):
        _refused(capsys, ["run", str(spec), "--out", str(tmp_path / "d"), "--executor",
                          "dask", "--address", http_server],
                 f"no Dask scheduler answers at '{http_server}'", "8787")


def test_numpy_scalars_in_a_spec_dict_are_plain_values():
    # before: Spec() accepted np.int64 in the type checks, then hashing the grid raised
    # "TypeError: Object of type int64 is not JSON serializable"
    import numpy as np

    plain = {"experiment": {"name": "np", "trials": 2, "metrics": ["recovered"]},
             "problem": {"n": 12, "s": 1, "m": [6, 8]},
             "methods": [{"name": "basis_pursuit"},
                         {"name": "hadamard_gd", "init_scale": 1e-3, "max_iter": 10}]}
    numpy = {"experiment": {"name": "np", "trials": np.int64(2), "metrics": ["recovered"]},
             "problem": {"n": np.int64(12), "s": np.int32(1),
                         "m": [np.int64(6), np.int64(8)]},
             "methods": [{"name": "basis_pursuit"},
                         {"name": "hadamard_gd", "init_scale": np.float64(1e-3),
                          "max_iter": np.int64(10)}]}
    a, b = load_spec(plain), load_spec(numpy)
    assert a.hash == b.hash
    from overparam.experiments import expand_cells
    assert [c.key for c in expand_cells(a)] == [c.key for c in expand_cells(b)]
