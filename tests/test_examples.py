"""Example scripts run at their small size."""
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script, args", [("sparse_recovery_table.py", ["--small"])])
def test_example_script_runs(script, args, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", [script, *args])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    out = capsys.readouterr().out
    assert "basis pursuit" in out and "converged" in out
