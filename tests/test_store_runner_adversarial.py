"""Results store, runner and executors under adversarial folders and arguments: a manifest
that is a directory, --force on another program's folder, a cell list edited by hand,
resume after an interruption, ignored executor arguments. Uses a fast registered method
(no JAX compile)."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra

import json  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from overparam import Result, Status  # noqa: E402
from overparam.experiments import (  # noqa: E402
    METHODS,
    MethodEntry,
    StoreError,
    expand_cells,
    load,
    load_spec,
    register,
    run,
)
from overparam.experiments import executors  # noqa: E402
from overparam.experiments.executors import execute  # noqa: E402

CALLS: list[tuple] = []
BOOM: dict[str, int] = {"at": -1}


def _fast(problem, *, k: float = 1.0):
    """A trivial solver; raises KeyboardInterrupt on call BOOM, ValueError for k < 0."""
    CALLS.append((problem.m, k))
    if len(CALLS) == BOOM["at"]:
        raise KeyboardInterrupt
    if k < 0:
        raise ValueError("k must be >= 0")
    return Result(x=np.full(problem.n, 0.1 * k), status=Status.CONVERGED, n_iter=1)


@pytest.fixture(autouse=True)
def fast_method():
    register(MethodEntry("t_adv_fast", _fast, {"k": "float"}), replace=True)
    CALLS.clear()
    BOOM["at"] = -1
    yield
    METHODS.pop("t_adv_fast", None)


def spec(m=(10, 14), k=(1.0, 2.0)) -> dict:
    return {"experiment": {"seed": 5, "trials": 2, "metrics": ["rel_error"]},
            "problem": {"n": 20, "s": 2, "m": list(m)},
            "methods": [{"name": "t_adv_fast", "k": list(k)}]}


def test_a_manifest_that_is_a_directory_is_named_even_with_force(tmp_path):
    # was a raw IsADirectoryError ("[Errno 21] Is a directory") from run, load and
    # run(force=True) alike
    out = tmp_path / "r"
    (out / "manifest.json").mkdir(parents=True)
    for call in (lambda: run(spec(), out, executor="serial"),
                 lambda: run(spec(), out, executor="serial", force=True),
                 lambda: load(out)):
        with pytest.raises(StoreError, match="manifest.json: Is a directory, not a manifest"):
            call()
    assert not CALLS and (out / "manifest.json").is_dir()
    assert not (out / "parts").exists()  # a refused folder gets no store folders


def test_force_on_another_programs_folder_keeps_its_files(tmp_path):
    # force on a folder whose manifest.json is another program's deleted every
    # parts/*.parquet and traces/*.parquet in it (2 files of the user's, gone)
    out = tmp_path / "r"
    for sub in ("parts", "traces"):
        (out / sub).mkdir(parents=True)
        (out / sub / "mydata.parquet").write_bytes(b"the user's own data")
    (out / "pending").mkdir()
    (out / "pending" / "notes.pkl").write_bytes(b"mine too")
    (out / "manifest.json").write_text(json.dumps({"name": "another program"}))
    with pytest.raises(StoreError, match="not a manifest of overparam"):
        run(spec(), out, executor="serial")
    with pytest.warns(RuntimeWarning, match="left 3 file.* not readable overparam"):
        summary = run(spec(), out, executor="serial", force=True)
    assert summary.computed == 2
    for sub, name in (("parts", "mydata.parquet"), ("traces", "mydata.parquet"),
                      ("pending", "notes.pkl")):
        assert (out / sub / name).exists()
    assert (out / "parts" / "mydata.parquet").read_bytes() == b"the user's own data"
    with pytest.warns(RuntimeWarning, match="skipping part .*mydata"):
        assert len(load(out)) == 2 * 2 * 2  # cells x configurations x trials


def test_force_with_another_spec_still_removes_the_stale_overparam_parts(tmp_path):
    # what --force promises (docstring of run): another spec's cells are replaced
    out = tmp_path / "r"
    run(spec(m=(10, 14)), out, executor="serial")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "left ... files" warning: all are ours
        summary = run(spec(m=(10, 12)), out, executor="serial", force=True)
    assert summary.skipped == 1 and summary.computed == 1
    assert len(list((out / "parts").glob("*.parquet"))) == 2
    assert sorted(load(out).m.unique()) == [10, 12]


def test_a_cell_list_edited_by_hand_is_restored_by_a_run(tmp_path):
    # with a cell left out of manifest["cells"], every run said "0 computed, 2 already
    # done" and load skipped that cell's part for good (4 of 8 rows)
    out = tmp_path / "r"
    run(spec(), out, executor="serial")
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["cells"] = manifest["cells"][:1]
    path.write_text(json.dumps(manifest))
    summary = run(spec(), out, executor="serial")
    assert summary.computed == 0 and summary.skipped == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df = load(out)
    assert len(df) == 8 and sorted(df.m.unique()) == [10, 14]


def test_an_interrupted_run_resumes_every_cell_exactly_once(tmp_path):
    out = tmp_path / "r"
    sp = spec(m=(10, 12, 14))
    BOOM["at"] = 6  # in the second cell (4 solver runs a cell)
    with pytest.raises(KeyboardInterrupt):
        run(sp, out, executor="serial")
    assert len(list((out / "parts").glob("*.parquet"))) == 1
    first = list(CALLS[:4])
    BOOM["at"] = -1
    CALLS.clear()
    summary = run(sp, out, executor="serial")
    assert summary.skipped == 1 and summary.computed == 2 and len(CALLS) == 8
    assert not set(CALLS) & set(first)  # the finished cell did not run again
    df = load(out)
    assert len(df) == 12 and not df.duplicated(["cell", "label", "trial"]).any()


def test_a_method_error_is_a_row_and_a_broken_configuration_is_reported(tmp_path):
    summary = run(spec(k=(1.0, -1.0)), tmp_path / "r", executor="serial")
    df = load(tmp_path / "r")
    bad = df[df.k < 0]
    assert (bad.status == "error").all() and bad.error.str.contains("k must be >= 0").all()
    assert (df[df.k > 0].status != "error").all()
    assert summary.error_rows == 4 and not summary.ok
    assert list(summary.failed_configs) == ["t_adv_fast(k=-1)"]


def test_the_serial_executor_warns_about_what_it_ignores(tmp_path):
    # run.address and run.workers of a spec (or a Python caller's) were ignored silently
    sp = load_spec(spec())
    cells = expand_cells(sp)
    with pytest.warns(RuntimeWarning, match="address 'tcp://h:8786' is ignored"):
        run(sp, tmp_path / "a", executor="serial", address="tcp://h:8786")
    with pytest.warns(RuntimeWarning, match="workers=4 is ignored: the serial"):
        outs = list(execute(sp.data, cells, "serial", workers=4))
    assert len(outs) == 2 and all("rows" in o for _, o in outs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(execute(sp.data, cells, "serial", workers=1))) == 2


def test_more_local_workers_than_cores_are_capped(monkeypatch):
    # workers=16 on 2 cores started 16 JAX processes: a 16-cell sweep took 42 s (11 s
    # with 2 workers). The pool function is replaced to see the number it gets.
    sp = load_spec(spec())
    cells = expand_cells(sp)
    seen = []

    def fake(spec_data, units, workers):
        seen.append(workers)
        return executors._serial(spec_data, units)

    monkeypatch.setattr(executors, "_processes", fake)
    monkeypatch.setattr(executors, "default_workers", lambda: 2)
    with pytest.warns(RuntimeWarning, match="workers=64 is more than the 2 usable"):
        assert len(list(execute(sp.data, cells, "processes", workers=64))) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(execute(sp.data, cells, "processes", workers=2))) == 2
    assert seen == [2, 2]
