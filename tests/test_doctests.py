"""Every docstring example of the package runs and prints what it says (doctest)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

import overparam


def _modules_with_examples() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(overparam.__path__, "overparam."):
        spec = importlib.util.find_spec(info.name)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        if ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
            names.append(info.name)
    return sorted(names)


MODULES = _modules_with_examples()


def test_examples_were_found():
    # a broken discovery must not pass silently with nothing collected
    assert len(MODULES) >= 20 and "overparam.limits.hadamard" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    with threadpool_limits(limits=1):
        out = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    # (a module whose examples are all "+SKIP", e.g. paths to results, attempts none)
    assert out.failed == 0, f"{out.failed} failing example(s) in {name}"
