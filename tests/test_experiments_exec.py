"""Executors: processes and Dask equal serial bit for bit; a SIGKILLed sweep resumes
with every cell exactly once. Kept small (a few seconds each, most of it worker start-up)."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra

import contextlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pandas as pd  # noqa: E402

from overparam.experiments import expand_cells, load, load_spec, run  # noqa: E402

SPEC = {
    "experiment": {"seed": 11, "trials": 3, "metrics": ["recovered", "rel_error", "l1_gap"]},
    "problem": {"n": 30, "s": 2, "m": [10, 16]},
    "methods": [
        {"name": "basis_pursuit"},
        {"name": "hadamard_gd", "depth": 2, "init_scale": 1e-2, "max_iter": 400,
         "tol": 1e-5, "record": 8},
    ],
}


def _rows(folder):
    return load(folder).drop(columns="wall_time")


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "r"
    run(SPEC, out, executor="serial")
    return _rows(out)


def test_processes_equal_serial(serial_run, tmp_path):
    summary = run(SPEC, tmp_path / "p", executor="processes", workers=2)
    assert summary.computed == 2 and not summary.failed
    pd.testing.assert_frame_equal(serial_run, _rows(tmp_path / "p"), check_exact=True)


def test_few_cells_run_one_task_per_configuration_and_join_in_order():
    from overparam.experiments.executors import _Joiner, tasks

    cells = expand_cells(load_spec(SPEC))
    units = tasks(load_spec(SPEC).data, cells, workers=2)  # 2 cells < 2 x 2 workers
    assert [(u[0].key, len(u[1])) for u in units] == [(c.key, 1) for c in cells
                                                      for _ in range(2)]
    assert all(p is None for _, p in tasks(load_spec(SPEC).data, cells, workers=1))
    join = _Joiner(units)
    out = lambda i: dict(rows=[i], traces=[], seconds=1.0, trials=3)  # noqa: E731
    assert join.add(1, out(1)) is None  # the second part first: joined in order
    assert join.add(0, out(0)) == dict(key=cells[0].key, rows=[0, 1], traces=[],
                                       seconds=2.0, trials=6)
    assert "failed" in join.add(2, dict(key=cells[1].key, failed="boom"))
    assert join.add(3, out(3)) is None  # a failed cell yields nothing more


def test_dask_local_cluster_equals_serial(serial_run, tmp_path):
    pytest.importorskip("dask.distributed")
    summary = run(SPEC, tmp_path / "d", executor="dask", workers=1)
    assert summary.computed == 2 and not summary.failed
    pd.testing.assert_frame_equal(serial_run, _rows(tmp_path / "d"), check_exact=True)


def test_unreachable_scheduler_and_negative_workers_are_named(tmp_path):
    pytest.importorskip("dask.distributed")
    import dask

    from overparam.experiments import SpecError

    with pytest.raises(SpecError, match="workers: must be an int >= 0"):
        run(SPEC, tmp_path / "w", executor="processes", workers=-1)
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(OSError, match="cannot reach the Dask scheduler at"):
            run(SPEC, tmp_path / "d", executor="dask", address="tcp://127.0.0.1:9")
    # Dask's bare ValueError for a malformed address named neither the setting nor a form
    with pytest.raises(ValueError, match="run.address: 'bogus://h:1' is not a Dask"):
        run(SPEC, tmp_path / "b", executor="dask", address="bogus://h:1")


KILL_SPEC = """
[experiment]
seed = 5
trials = 2
metrics = ["rel_error"]
[problem]
n = 40
m = 20               # one shape: each process compiles one loop
s = [1, 2, 3, 4, 5, 6, 7, 8]
[[methods]]
name = "hadamard_gd"
depth = 2
init_scale = 1e-2
tol = 0.0            # never converges: each cell runs max_iter steps (~0.7 s)
max_iter = 200000
record = 4
"""


def _cli(*args):
    return [sys.executable, "-m", "overparam.cli", *args]


def test_sigkill_mid_run_then_resume_gives_every_cell_exactly_once(tmp_path):
    spec_file = tmp_path / "kill.toml"
    spec_file.write_text(KILL_SPEC)
    out = tmp_path / "r"
    parts = out / "parts"
    cmd = _cli("run", str(spec_file), "--out", str(out), "--executor", "processes",
               "--workers", "2", "--no-plots")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group: workers die with it
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.exists() and len(list(parts.glob("*.parquet"))) >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed: slow it down"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    n_before = len(list(parts.glob("*.parquet")))
    assert 1 <= n_before < 8

    # resume (serially: no second round of worker start-up)
    done = subprocess.run(cmd[:-5] + ["--executor", "serial", "--no-plots"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{n_before} already done" in done.stdout

    df = load(out)
    cells = expand_cells(load_spec(spec_file))
    assert sorted(df.cell.unique()) == sorted(c.key for c in cells)
    assert len(df) == 8 * 2
    assert not df.duplicated(["cell", "label", "trial"]).any()
    assert df.groupby("cell").size().eq(2).all()
    assert not list(parts.glob(".*.tmp"))


ONE_CELL = {**SPEC, "problem": {"n": 30, "s": 2, "m": 12}}


def test_one_cell_checkpoints_each_configuration_and_resumes_from_them(tmp_path):
    from overparam.experiments.cells import config_key
    from overparam.experiments.runner import run_cell, versions
    from overparam.experiments.store import Store

    whole = tmp_path / "whole"
    s0 = run(ONE_CELL, whole, executor="serial")
    assert s0.computed == 1 and s0.trials == 6 and s0.resumed_configs == 0
    assert not list((whole / "pending").iterdir())  # checkpoints dropped with the part

    # an interrupted run: only the second configuration finished and was checkpointed
    spec = load_spec(ONE_CELL)
    cell = expand_cells(spec)[0]
    cfgs = spec.method_configs()
    out = tmp_path / "resumed"
    store = Store(out)
    keys = {c.key: config_key(spec, cell.params, c) for c in cfgs}
    store.prepare(spec, [cell.key], versions(), config_keys=keys.values())
    store.write_config(keys[cfgs[1].key], run_cell(spec.data, cell, [cfgs[1].key]))
    summary = run(ONE_CELL, out, executor="serial")
    assert summary.resumed_configs == 1 and summary.trials == 3 and summary.computed == 1
    pd.testing.assert_frame_equal(_rows(whole), _rows(out), check_exact=True)

    # an edited spec (a third configuration, another method: the labels of the first two
    # stay): the unchanged configurations come from checkpoints
    edited = {**ONE_CELL, "methods": ONE_CELL["methods"] + [
        {"name": "hadamard_limit", "depth": 2, "init_scale": 1e-3}]}
    spec2 = load_spec(edited)
    cell2 = expand_cells(spec2)[0]
    assert cell2.key != cell.key  # the cell changed, its first two configurations did not
    assert [config_key(spec2, cell2.params, c) for c in spec2.method_configs()[:2]] == \
        list(keys.values())
    for c in cfgs:
        store.write_config(keys[c.key], run_cell(spec.data, cell, [c.key]))
    (store.pending / f"{keys[cfgs[0].key]}.pkl").write_bytes(b"truncated")
    with pytest.warns(RuntimeWarning, match="corrupt or truncated checkpoint"):
        s2 = run(edited, out, executor="serial", force=True)
    assert s2.resumed_configs == 1 and s2.trials == 6  # the corrupt one was recomputed
    df = _rows(out)
    assert len(df) == 9 and set(df.cell) == {cell2.key}
    first_two = df[df.label.isin([c.label for c in cfgs])].drop(columns="cell")
    pd.testing.assert_frame_equal(_rows(whole).drop(columns="cell"),
                                  first_two.reset_index(drop=True), check_exact=True)


def test_processes_checkpoint_parts_and_join_like_serial(tmp_path):
    serial = tmp_path / "s"
    run(ONE_CELL, serial, executor="serial")
    summary = run(ONE_CELL, tmp_path / "p", executor="processes", workers=2)
    assert summary.computed == 1 and summary.trials == 6 and not summary.failed
    pd.testing.assert_frame_equal(_rows(serial), _rows(tmp_path / "p"), check_exact=True)
    assert not list((tmp_path / "p" / "pending").iterdir())


# one cell, one fast and one slow configuration: split into two tasks on two workers
SLOW = {
    "experiment": {"seed": 3, "trials": 2, "metrics": ["rel_error"]},
    "problem": {"n": 400, "s": 40, "m": 100},
    "methods": [{"name": "hadamard_gd", "depth": 2, "init_scale": 1e-2, "tol": 0.0,
                 "max_iter": [10, 3_000_000]}],  # ~3 s and ~90 s on one core
}


def _slow_run():
    from overparam.experiments.executors import execute

    spec = load_spec(SLOW)
    cells = expand_cells(spec)
    gen = execute(spec.data, cells, "processes", workers=2, checkpoint=True)
    first = next(gen)[1]
    assert first.get("partial") and first["config"] == spec.method_configs()[0].key
    return gen


def _pool_workers() -> list:
    """This process's spawned pool workers (not, e.g., a loky worker another test left)."""
    import multiprocessing

    return [p for p in multiprocessing.active_children()
            if type(p).__name__ == "SpawnProcess"]


def test_a_killed_worker_fails_the_cells_in_flight_and_the_sweep_goes_on():
    gen = _slow_run()
    t0 = time.monotonic()
    os.kill(_pool_workers()[0].pid, signal.SIGKILL)
    rest = list(gen)  # before: BrokenProcessPool stopped the whole sweep
    assert len(rest) == 1 and "BrokenProcessPool: a worker process died" in rest[0][1]["failed"]
    assert time.monotonic() - t0 < 20 and not _pool_workers()


def test_stopping_early_terminates_the_workers_instead_of_waiting_for_their_cells():
    gen = _slow_run()
    t0 = time.monotonic()
    gen.close()  # as a KeyboardInterrupt in the parent does; before: waited ~90 s
    assert time.monotonic() - t0 < 15
    assert not _pool_workers()


def test_a_memory_budget_that_overflows_to_inf_is_one_chunk():
    import math

    from overparam.experiments.runner import chunk_sizes, run_cell

    assert chunk_sizes(5, 8, math.inf) == [5] and chunk_sizes(0, 8, 1.0) == []
    assert chunk_sizes(7, 1, 3) == [3, 3, 1] and chunk_sizes(4, 8, 32) == [4]
    tiny = {"experiment": {"seed": 1, "trials": 3, "metrics": ["rel_error"]},
            "problem": {"n": 10, "s": 1, "m": 6},
            "methods": [{"name": "hadamard_gd", "depth": 2, "max_iter": 30}]}
    outs = []
    for mb in (256.0, 1e303):  # 1e303 * 2**20 bytes is inf; before, every cell failed
        spec = load_spec({**tiny, "experiment": {**tiny["experiment"], "batch_memory_mb": mb}})
        out = run_cell(spec.data, expand_cells(spec)[0])
        outs.append([{k: v for k, v in r.items() if k not in ("wall_time", "cell")}
                     for r in out["rows"]])
    assert outs[0] == outs[1] and all(r["status"] != "error" for r in outs[0])


def test_dask_task_keys_name_the_computation_not_the_task_index(monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    from overparam.experiments.executors import execute
    from overparam.experiments.runner import run_cell

    submitted = []

    class Future:
        def __init__(self, args):
            self.args = args

        def result(self):
            return dict(key=self.args[1].key, rows=[], traces=[], seconds=0.0, trials=3)

    class Client:
        def __init__(self, *args, **kwargs):
            pass

        def submit(self, fn, *args, key, pure):
            assert fn is run_cell and pure is False
            submitted.append((args[2][0], key))
            return Future(args)

        def close(self):
            pass

    class Cluster:
        def __init__(self, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(distributed, "Client", Client)
    monkeypatch.setattr(distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(distributed, "as_completed", iter)
    spec = load_spec(ONE_CELL)
    cells = expand_cells(spec)
    c0, c1 = (c.key for c in spec.method_configs())
    assert len(list(execute(spec.data, cells, "dask", workers=2))) == 1
    whole = dict(submitted)
    assert len(set(whole.values())) == 2
    # a resumed run (c0 finished before): c1 alone is now task 0, and must not take the
    # key of the first run's c0 (one scheduler shares a key between its clients)
    submitted.clear()
    have = {cells[0].key: {c0: dict(key=cells[0].key, rows=[], traces=[], seconds=0.0,
                                    trials=3)}}
    assert len(list(execute(spec.data, cells, "dask", workers=2, have=have))) == 1
    assert submitted == [(c1, whole[c1])]


def test_execute_refuses_negative_workers_at_once():
    from overparam.experiments.executors import execute

    spec = load_spec(SPEC)
    with pytest.raises(ValueError, match="workers: must be an int >= 0"):
        execute(spec.data, expand_cells(spec), "processes", workers=-2)


def test_execute_refuses_a_bool_for_workers():
    from overparam.experiments.executors import execute

    spec = load_spec(SPEC)
    for cells in (expand_cells(spec), []):
        for bad in (True, False):
            # True ran one worker (serially) without a word
            with pytest.raises(ValueError, match="workers: must be an int >= 0"):
                execute(spec.data, cells, "processes", workers=bad)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is gone
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_of_a_run_killed_outright_exit_with_it(tmp_path):
    # SIGKILL of the run alone (the out-of-memory killer, `kill -9 PID`), not of its
    # group: the workers lived on, blocked on their task queue, half a GB each
    spec_file = tmp_path / "kill.toml"
    spec_file.write_text(KILL_SPEC)
    out = tmp_path / "r"
    cmd = _cli("run", str(spec_file), "--out", str(out), "--executor", "processes",
               "--workers", "2", "--no-plots")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    workers = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            # a stored cell: the workers are running cells (past their start-up)
            if out.exists() and list((out / "parts").glob("*.parquet")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed: slow it down"
        workers = [c for c in _children(proc.pid)
                   if b"spawn_main" in open(f"/proc/{c}/cmdline", "rb").read()]
        assert workers
        proc.kill()
        proc.wait(timeout=30)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)]
    finally:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # the group started here, if anything is left
        proc.wait(timeout=30)
