"""The public API is documented: every function and class exported by a public module's
``__all__`` has a numpydoc docstring whose ``Parameters`` (or, for classes, ``Attributes``)
section names each of its parameters, and type hints on all of them."""
from __future__ import annotations

import enum
import importlib
import inspect
import pkgutil
import re

import overparam

_SECTIONS = ("Parameters", "Other Parameters", "Attributes")
_HEADER = re.compile(r"^([A-Z][A-Za-z ]+)\n-{3,}\s*$", re.M)


def _public_objects():
    names = ["overparam"] + [
        m.name for m in pkgutil.walk_packages(overparam.__path__, "overparam.")
        if not any(part.startswith("_") for part in m.name.split("."))]
    seen = set()
    for modname in names:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name, None)
            if obj is None or id(obj) in seen:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if inspect.isclass(obj) and issubclass(obj, (enum.Enum, Exception)):
                continue  # members / a message, not parameters
            seen.add(id(obj))
            yield f"{modname}.{name}", obj


def documented_names(doc: str) -> set[str]:
    """Parameter names listed in the docstring's Parameters/Attributes sections."""
    names: set[str] = set()
    heads = list(_HEADER.finditer(doc))
    for i, h in enumerate(heads):
        if h.group(1).strip() not in _SECTIONS:
            continue
        end = heads[i + 1].start() if i + 1 < len(heads) else len(doc)
        for line in doc[h.end():end].splitlines():
            if not line or line[0].isspace():
                continue
            head = line.split(" : ")[0].rstrip(":").strip()
            for part in head.split(","):
                part = part.strip().lstrip("*")
                if re.fullmatch(r"[A-Za-z_]\w*", part):
                    names.add(part)
    return names


def _parameters(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [p for p in sig.parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            and p.name not in ("self", "cls")]


def test_public_api_has_numpydoc_parameters_and_type_hints():
    problems = []
    objects = list(_public_objects())
    assert len(objects) > 150  # the walk found the API
    for qual, obj in objects:
        doc = inspect.getdoc(obj) or ""
        params = _parameters(obj)
        if not doc.strip():
            problems.append(f"{qual}: no docstring")
            continue
        if not params:
            continue
        missing = [p.name for p in params if p.name not in documented_names(doc)]
        if missing:
            problems.append(f"{qual}: parameters not in a Parameters/Attributes section: "
                            f"{', '.join(missing)}")
        hints = [p.name for p in params if p.annotation is inspect.Parameter.empty]
        if hints:
            problems.append(f"{qual}: no type hint for {', '.join(hints)}")
    assert not problems, f"{len(problems)} undocumented:\n" + "\n".join(problems)


def test_documented_names_reads_numpydoc_sections():
    doc = """Summary.

Parameters
----------
A, y : array
    Data.
depth : int, optional
    Depth.
**kw
    Passed on.

Returns
-------
out : Result
"""
    assert documented_names(doc) == {"A", "y", "depth", "kw"}
