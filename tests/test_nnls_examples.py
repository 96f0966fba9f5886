"""The NNLS examples stay runnable: the TOML spec validates, the scripts import and their
``main`` runs the documented tables (the full runs are examples/nnls_*.py)."""
import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_nnls_spec_validates():
    pytest.importorskip("tomllib")
    from overparam.experiments.spec import load_spec

    spec = load_spec(EXAMPLES / "nnls_implicit_bias.toml")
    assert spec is not None


@pytest.mark.parametrize("name", ["nnls_fft.py", "nnls_convergence.py"])
def test_nnls_scripts_import(name):
    path = EXAMPLES / name
    spec = importlib.util.spec_from_file_location(name[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.main)
