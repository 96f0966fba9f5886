"""Results store and runner under hostile inputs: a folder that is a file, lost trace parts,
a run interrupted from inside a method. Uses a fast registered method (no JAX compile)."""
from __future__ import annotations

import pytest

pytest.importorskip("pandas")  # the `experiments` extra
pytest.importorskip("pyarrow")  # the `experiments` extra

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from overparam import Result, Status  # noqa: E402
from overparam.experiments import (  # noqa: E402
    METHODS,
    MethodEntry,
    Store,
    StoreError,
    load,
    load_traces,
    register,
    run,
)

CALLS: list[float] = []
BOOM: dict[str, int] = {"at": -1}


def _fast(problem, *, k: float = 1.0):
    """A trivial solver with a two-point trace; raises KeyboardInterrupt on call BOOM."""
    CALLS.append(k)
    if len(CALLS) == BOOM["at"]:
        raise KeyboardInterrupt
    return Result(x=np.full(problem.n, 0.1 * k), status=Status.CONVERGED, n_iter=1,
                  trace={"iter": np.array([0, 1]), "loss": np.array([1.0, k])})


@pytest.fixture(autouse=True)
def fast_method():
    register(MethodEntry("t_store_fast", _fast, {"k": "float"}), replace=True)
    CALLS.clear()
    BOOM["at"] = -1
    yield
    METHODS.pop("t_store_fast", None)


def spec(traces: bool = False, m=(10, 14)) -> dict:
    return {"experiment": {"seed": 5, "trials": 2, "metrics": ["rel_error"],
                           "traces": traces},
            "problem": {"n": 20, "s": 2, "m": list(m)},
            "methods": [{"name": "t_store_fast", "k": [1.0, 2.0]}]}


def test_a_results_folder_that_is_a_file_is_named(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    with pytest.raises(StoreError, match="afile is a file, not a results folder"):
        run(spec(), afile, executor="serial")  # was FileExistsError "[Errno 17] File exists"
    assert afile.read_text() == "mine" and not CALLS


def test_a_lost_trace_part_is_said_by_load_traces_and_recomputed(tmp_path):
    # a cell whose trace part was deleted counted as finished for good: load_traces left
    # its traces out without a word, and no re-run brought them back
    out = tmp_path / "r"
    run(spec(traces=True), out, executor="serial")
    reference = load_traces(out)
    assert len(reference) == 2 * 2 * 2 * 2  # cells x configurations x trials x points
    lost = sorted((out / "traces").glob("*.parquet"))[0]
    lost.unlink()
    with pytest.warns(RuntimeWarning, match="trace parts of 1 cell.* are missing"):
        partial = load_traces(out)
    assert len(partial) == len(reference) // 2
    with pytest.warns(RuntimeWarning, match="its trace part is missing"):
        summary = run(spec(traces=True), out, executor="serial")
    assert summary.computed == 1 and summary.skipped == 1 and lost.exists()
    pd.testing.assert_frame_equal(reference, load_traces(out))


def test_a_cell_without_traces_is_not_recomputed_for_its_absent_trace_part(tmp_path):
    out = tmp_path / "r"
    run(spec(traces=False), out, executor="serial")
    assert not list((out / "traces").glob("*.parquet"))
    assert run(spec(traces=False), out, executor="serial").skipped == 2


@pytest.mark.parametrize("cells, at, redo", [
    ((10, 14), 6, 4),   # whole cells, in the second one: that cell is run again
    ((10,), 3, 2),      # one cell split by configuration, in the second: that one again
])
def test_keyboard_interrupt_in_a_method_loses_nothing_and_counts_nothing_twice(
        tmp_path, cells, at, redo):
    whole = tmp_path / "whole"
    run(spec(m=cells), whole, executor="serial")
    reference = load(whole).drop(columns="wall_time")
    CALLS.clear()
    out = tmp_path / "r"
    BOOM["at"] = at
    with pytest.raises(KeyboardInterrupt):
        run(spec(m=cells), out, executor="serial")
    BOOM["at"] = -1
    CALLS.clear()
    summary = run(spec(m=cells), out, executor="serial")
    # what finished (a cell's part, a configuration's checkpoint) is not run again
    assert len(CALLS) == redo
    assert summary.skipped + summary.computed == len(cells)
    assert not list(Store(out).pending.iterdir())
    after = load(out).drop(columns="wall_time")
    assert not after.duplicated(["cell", "label", "trial"]).any()
    pd.testing.assert_frame_equal(reference, after)
