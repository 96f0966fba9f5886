"""Experiment specs: one TOML file describing a sweep, validated before anything runs.

Format (every section but ``[problem]`` and ``[[methods]]`` is optional)::

    [experiment]
    name = "phase"            # default: the file name
    seed = 0                  # root seed: problem seeds derive from it
    trials = 20               # random problems per grid point
    metrics = ["recovered", "rel_error", "l1_gap"]
    recovery_tol = 1e-3       # `recovered` = rel_error < recovery_tol
    reference = "basis_pursuit"   # solution that l1_gap / ref_error compare against
                                  # (a registered method, or a method's label in this spec)
    traces = false            # store solver traces (for `overparam plot --kind trace`)
    batch_memory_mb = 256     # memory bound of one chunk of trials (their problems,
                              # and their vmap batch)

    [problem]
    generator = "sparse_recovery"
    n = 200
    s = 10
    m = [30, 40, 50]          # a list is a grid axis: cells = product of all axes

    [[methods]]
    name = "basis_pursuit"

    [[methods]]
    name = "hadamard_limit"
    depth = [2, 3]            # grids over method parameters too
    init_scale = [1e-2, 1e-4]
    label = "limit L={depth} alpha={init_scale:g}"   # optional, a format string

    [run]                     # how to run (not part of the spec hash)
    executor = "processes"    # serial | processes | dask
    workers = 0               # 0: all cores
    address = ""              # dask scheduler, e.g. "tcp://host:8786"; "" = LocalCluster
    blas_threads = 1          # BLAS threads per cell (0: the library default)

    [[plots]]                 # written at the end of `overparam run` (not hashed)
    kind = "curve"            # phase | curve | trace
    x = "m"
    y = "recovered"
    hue = "label"
    where = { s = 10 }
    theory = true

Any key can be overridden with ``--set path=value`` (``value`` in TOML syntax, e.g.
``problem.m=[50,100]``, ``methods[1].depth=3``, ``experiment.trials=5``).
"""
from __future__ import annotations

import copy
import datetime
import hashlib
import itertools
import json
import math
import numbers
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .generators import GENERATORS, generator_kinds, get_generator
from .measures import METRICS
from .methods import check_value, get_method

__all__ = ["Spec", "SpecError", "MethodConfig", "load_spec", "parse_override",
           "apply_overrides", "EXECUTORS", "PLOT_KINDS", "PLOT_OPTIONS", "PLOT_FORMATS",
           "PLOT_STATS"]

EXECUTORS = ("serial", "processes", "dask")
PLOT_KINDS = ("phase", "curve", "trace")
PLOT_FORMATS = ("png", "pdf", "svg")     # what `plots.plot` writes
PLOT_STATS = ("mean", "median")         # the centre line of a curve plot
# the options of each kind (besides kind, name, format); x / y / value / hue are mapped to
# the drawing function's own names by `plots.plot`
PLOT_OPTIONS = {
    "phase": {"x", "y", "value", "hue", "where", "theory", "title"},
    "curve": {"x", "y", "value", "hue", "where", "stat", "theory", "logx", "logy", "title"},
    "trace": {"x", "y", "field", "hue", "where", "logx", "logy", "title"},
}

_EXPERIMENT = {
    "name": ("str", None),
    "seed": ("int", 0),
    "trials": ("int", 10),
    "metrics": ("list", ["recovered", "rel_error"]),
    "recovery_tol": ("float", 1e-3),
    "reference": ("str", "basis_pursuit"),
    "traces": ("bool", False),
    "batch_memory_mb": ("float", 256.0),
}
_RUN = {
    "executor": ("str", "processes"),
    "workers": ("int", 0),
    "address": ("str", ""),
    "out": ("str", ""),
    "blas_threads": ("int", 1),
}
_PLOT = {
    "kind": "str", "x": "str", "y": "str", "value": "str", "hue": "str", "where": "dict",
    "name": "str", "format": "str|list", "theory": "bool", "logx": "bool", "logy": "bool",
    "title": "str", "field": "str", "stat": "str",
}
_SECTIONS = ("experiment", "problem", "methods", "run", "plots")


def is_plot_stem(name: Any) -> bool:
    """Whether ``name`` can name a plot file: a non-empty stem without a folder (the stem
    is joined to the plots folder, and ``../x`` would write outside it) or a NUL (which
    the file system refuses only when the file is written, after the sweep)."""
    text = str(name)
    return bool(text.strip()) and not {"/", "\\", "\0"} & set(text) and \
        text not in (".", "..")


def is_where_value(value: Any) -> bool:
    """Whether ``value`` can be compared with a result column by a plot's ``where``: a
    scalar, NumPy's too (a ``where`` value is one of these or a list of them)."""
    return (value is None or isinstance(value, (str, numbers.Number))
            or getattr(value, "ndim", None) == 0)  # np.bool_ is no Number


def plot_stem(kind: str, name: str | None = None, **options: Any) -> str:
    """The file stem of a plot: ``name``, else one from the kind and its axes
    (``phase_<value>_<x>_<y>``, ``curve_<y>_vs_<x>``, ``trace_<field>``), with the
    defaults of :func:`overparam.plots.plot`."""
    if name is not None:
        return name
    if kind == "phase":
        return (f"phase_{options.get('value') or 'recovered'}_{options.get('x') or 's'}_"
                f"{options.get('y') or 'm'}")
    if kind == "curve":
        return (f"curve_{options.get('y') or options.get('value') or 'recovered'}_vs_"
                f"{options.get('x')}")
    return f"trace_{options.get('field') or options.get('y') or 'residual'}"


class SpecError(ValueError):
    """An invalid spec; the message starts with the key path at fault."""


@dataclass(frozen=True)
class MethodConfig:
    """One method with all its parameters fixed (one point of a method grid).

    Attributes
    ----------
    name : str
        Registered method name.
    params : dict
        The method's parameters (one value each).
    label : str
        Display name in result rows and plots: the spec's ``label`` format string filled
        with ``params``, or by default the name with the parameters that differ between
        configurations of the same method, e.g. ``"hadamard_gd(depth=2)"``.
    """

    name: str
    params: dict[str, Any]
    label: str

    @property
    def key(self) -> str:
        return json.dumps([self.name, self.params], sort_keys=True)


def _type_ok(value: Any, types: str) -> bool:
    if types == "dict":
        return isinstance(value, dict)
    return check_value(value, types)


def _plain(value: Any) -> Any:
    """``value`` with NumPy scalars (also inside lists, tuples and tables) as Python ones."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _normalize(value: Any, types: str) -> Any:
    """An integer given for a float-only parameter, as a float.

    TOML (and ``--set``) read ``1`` as an int and ``1.0`` as a float; without this the two
    spellings of one value would give different spec hashes, cell keys and seeds (the
    seeds hash the parameters' JSON, ``1`` vs ``1.0``). NumPy scalars (``np.int64(200)``,
    which the type checks accept) become Python ones: the spec hash, cell keys and seeds
    are JSON, which refused them (a raw "int64 is not JSON serializable")."""
    value = _plain(value)
    kinds = types.split("|")
    if ("float" in kinds and "int" not in kinds and isinstance(value, numbers.Integral)
            and not isinstance(value, bool)):
        return float(value)
    return value


def _check_table(table: Any, schema: dict, path: str) -> dict:
    if not isinstance(table, dict):
        raise SpecError(f"{path}: expected a table, got {type(table).__name__}")
    out = {}
    for key, value in table.items():
        if key not in schema:
            raise SpecError(f"{path}.{key}: unknown key (allowed: {', '.join(schema)})")
        types = schema[key][0] if isinstance(schema[key], tuple) else schema[key]
        if not _type_ok(value, types):
            raise SpecError(f"{path}.{key}: expected {types}, got {type(value).__name__} "
                            f"{value!r}")
        out[key] = _normalize(value, types)
    for key, spec in schema.items():
        if isinstance(spec, tuple) and key not in out and spec[1] is not None:
            out[key] = copy.deepcopy(spec[1])
    return out


def _grid_values(value: Any, path: str) -> list:
    """A grid axis: a list (non-empty) is the axis, a scalar is a one-point axis."""
    if isinstance(value, list):
        if not value:
            raise SpecError(f"{path}: empty grid (give at least one value)")
        return value
    return [value]


def _check_grid(value: Any, types: str, path: str, choices: Iterable[str] = ()) -> Any:
    """Check a parameter (a scalar or a grid axis); returns it normalized (see
    `_normalize`), in the same form (scalar or list)."""
    choices = tuple(choices)
    values = [_normalize(v, types) for v in _grid_values(value, path)]
    seen: set[str] = set()
    for v in values:
        if not check_value(v, types):
            raise SpecError(f"{path}: expected {types}, got {type(v).__name__} {v!r}")
        if choices and v not in choices:
            raise SpecError(f"{path}: {v!r} is not one of {', '.join(choices)}")
        # a repeated value would run the same cell (same seeds) or configuration twice;
        # + 0.0: -0.0 is 0.0 to every solver (it would only change the seeds)
        blob = json.dumps(v + 0.0 if isinstance(v, float) else v, sort_keys=True)
        if blob in seen:
            raise SpecError(f"{path}: {v!r} appears twice in the grid")
        seen.add(blob)
    return values if isinstance(value, list) else values[0]


def _product(axes: dict[str, list]) -> list[dict[str, Any]]:
    keys = list(axes)
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes.values())]


class Spec:
    """A validated experiment spec (see the module docstring for the format).

    Attributes
    ----------
    data : dict
        The normalized spec (defaults filled in), as stored in the manifest. Given as the
        parsed TOML tables; it is copied, then validated (not to be modified afterwards:
        build a new Spec, e.g. with :func:`load_spec` and overrides).
    source : str or None, optional
        Path of the spec file, if any (the default experiment name is its stem, else
        ``"experiment"``). Default None.

    Raises
    ------
    SpecError
        If ``data`` is not a valid spec (see :func:`load_spec`).
    """

    def __init__(self, data: dict[str, Any], source: str | None = None):
        self.source = source
        self.data = _validate(copy.deepcopy(data), source)
        self._configs: list[MethodConfig] | None = None  # see method_configs

    # -- sections -----------------------------------------------------------------------
    @property
    def experiment(self) -> dict[str, Any]:
        return self.data["experiment"]

    @property
    def run(self) -> dict[str, Any]:
        return self.data["run"]

    @property
    def plots(self) -> list[dict[str, Any]]:
        return self.data["plots"]

    @property
    def name(self) -> str:
        return self.experiment["name"]

    @property
    def generator(self) -> str:
        return self.data["problem"]["generator"]

    @property
    def problem_axes(self) -> dict[str, list]:
        """Problem parameters as grid axes (every value a list)."""
        return {k: _grid_values(v, f"problem.{k}")
                for k, v in self.data["problem"].items() if k != "generator"}

    def problem_grid(self) -> list[dict[str, Any]]:
        """All problem parameter combinations, in spec order."""
        return _product(self.problem_axes)

    def method_configs(self) -> list[MethodConfig]:
        """All method configurations (each method's grid expanded), in spec order."""
        # expanded once: `reference` (asked by cells.config_key for every (cell,
        # configuration) pair) expanded them all again each time, quadratic in the
        # configurations (2 cells x 1000 init scales: 30 s before the first cell ran)
        if self._configs is None:
            self._configs = _expand_methods(self.data["methods"])
        return list(self._configs)

    @property
    def reference(self) -> MethodConfig | None:
        """The reference method, when a requested metric needs one."""
        if not any(METRICS[m].needs_reference for m in self.experiment["metrics"]):
            return None
        name = self.experiment["reference"]
        labelled = [c for c in self.method_configs() if c.label == name]
        if len(labelled) == 1:      # a method of the spec, by its label
            return labelled[0]
        if labelled:
            raise SpecError(f"experiment.reference: label {name!r} names a grid of "
                            f"{len(labelled)} configurations, it must name one")
        return MethodConfig(name, {}, name)

    # -- identity -----------------------------------------------------------------------
    def hashed_part(self) -> dict[str, Any]:
        """What determines the results (``[run]`` and ``[[plots]]`` do not)."""
        return {k: self.data[k] for k in ("experiment", "problem", "methods")}

    @property
    def hash(self) -> str:
        blob = json.dumps(self.hashed_part(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def to_toml(self) -> str:
        """The normalized spec as TOML text (for records)."""
        return _to_toml(self.data)


def _expand_methods(tables: list[dict[str, Any]]) -> list[MethodConfig]:
    """Each method table's grid expanded. Default labels show the parameters that tell
    configurations of the same method apart (those that differ between them)."""
    expanded = []
    for table in tables:
        axes = {k: _grid_values(v, "") for k, v in table.items() if k not in ("name", "label")}
        expanded += [(table, params) for params in _product(axes)]
    varying: dict[str, set[str]] = {}
    for name in {t["name"] for t, _ in expanded}:
        group = [p for t, p in expanded if t["name"] == name]
        keys = set().union(*group)
        varying[name] = {k for k in keys
                         if len({json.dumps(p.get(k), sort_keys=True) for p in group}) > 1}
    return [MethodConfig(t["name"], params,
                         _label(t["name"], {k: v for k, v in params.items()
                                            if k in varying[t["name"]]}, t.get("label"),
                                params))
            for t, params in expanded]


def _label(name: str, params: dict, template: str | None, all_params: dict) -> str:
    if template:
        try:
            return template.format(**all_params)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            raise SpecError(f"label {template!r}: cannot format with {all_params}: "
                            f"{exc}") from exc
    if not params:
        return name
    inner = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in params.items())
    return f"{name}({inner})"


_INT64 = 2**63


def _check_values(value: Any, path: str, columns: bool = False) -> None:
    """Every value must be storable: TOML dates and times have no JSON (manifest) form
    here, and the integers of problem and method parameters (result columns) must fit
    64 bits; else they fail when the manifest is written, or after the whole sweep when
    the first Parquet part is."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_values(item, f"{path}.{key}" if path else str(key),
                          columns or (not path and key in ("problem", "methods")))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_values(item, f"{path}[{i}]", columns)
    elif isinstance(value, (datetime.date, datetime.time)):
        raise SpecError(f"{path}: a TOML date or time ({value}) is not a spec value; quote "
                        "it to give a string")
    elif (columns and isinstance(value, int) and not isinstance(value, bool)
          and not -_INT64 <= value < _INT64):
        raise SpecError(f"{path}: {value} does not fit a 64-bit integer (a column of the "
                        "results)")


def _validate(data: dict[str, Any], source: str | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SpecError(f"a spec is a table, got {type(data).__name__}")
    _check_values(data, "")
    for key in data:
        if key not in _SECTIONS:
            raise SpecError(f"{key}: unknown section (allowed: {', '.join(_SECTIONS)})")
    out: dict[str, Any] = {}

    exp = _check_table(data.get("experiment", {}), _EXPERIMENT, "experiment")
    if exp.get("name") is None:
        exp["name"] = Path(source).stem if source else "experiment"
    if not exp["name"].strip():
        # results would go to results/ itself, among the other experiments' folders
        raise SpecError("experiment.name: empty (it names the results folder)")
    if not is_plot_stem(exp["name"]):  # the same rule as a plot file's stem
        # results go to results/<name>: "a/b" nests, ".." is the current folder and "/x"
        # an absolute path, outside results/
        raise SpecError(f"experiment.name: {exp['name']!r} is not a single folder name "
                        "(no /, \\, NUL, '.' or '..': the results go to results/<name>); "
                        "set run.out (or --out) to write elsewhere")
    if exp["trials"] < 1:
        raise SpecError(f"experiment.trials: must be >= 1, got {exp['trials']}")
    if exp["trials"] > MAX_TRIALS:
        # every cell lists the seeds of all its trials first: 10**23 trials passed the dry
        # run, then the run hung without a word, filling the memory
        raise SpecError(f"experiment.trials: {exp['trials']:,} is more than {MAX_TRIALS:,} "
                        "per cell (each cell lists its trials' seeds and holds their rows "
                        "in memory); run the spec again with other experiment.seed values "
                        "for more independent trials")
    if exp["seed"] < 0:
        raise SpecError(f"experiment.seed: must be >= 0, got {exp['seed']}")
    if not exp["metrics"]:
        raise SpecError("experiment.metrics: empty list (name at least one metric)")
    for i, m in enumerate(exp["metrics"]):
        if not isinstance(m, str):
            raise SpecError(f"experiment.metrics[{i}]: expected str, got "
                            f"{type(m).__name__} {m!r}")
        if m not in METRICS:
            raise SpecError(f"experiment.metrics[{i}]: unknown metric {m!r} "
                            f"(known: {', '.join(METRICS)})")
        # a repeated metric is one column, but a different spec hash: a resumed run of the
        # same study would recompute every cell
        if m in exp["metrics"][:i]:
            raise SpecError(f"experiment.metrics[{i}]: {m!r} is listed twice")
    # `not x > 0` also rejects NaN; a bad tolerance would only fail in the metrics of the
    # first finished trial, a NaN memory bound in the first batched chunk
    if not (exp["batch_memory_mb"] > 0 and math.isfinite(exp["batch_memory_mb"])):
        raise SpecError(f"experiment.batch_memory_mb: must be finite and > 0, got "
                        f"{exp['batch_memory_mb']!r}")
    if not (exp["recovery_tol"] > 0 and math.isfinite(exp["recovery_tol"])):
        raise SpecError(f"experiment.recovery_tol: must be finite and > 0, got "
                        f"{exp['recovery_tol']!r}")
    out["experiment"] = exp

    if "problem" not in data:
        raise SpecError("problem: missing section (name a generator and its parameters)")
    prob = data["problem"]
    if not isinstance(prob, dict):
        raise SpecError(f"problem: expected a table, got {type(prob).__name__}")
    gen_name = prob.get("generator", "sparse_recovery")
    if not isinstance(gen_name, str):
        raise SpecError(f"problem.generator: expected str, got {type(gen_name).__name__}")
    try:
        gen = get_generator(gen_name)
    except KeyError as exc:
        raise SpecError(f"problem.generator: {exc.args[0]}") from None
    choices, minimum = dict(gen.choices), dict(gen.minimum)
    problem: dict[str, Any] = {}
    for key, value in prob.items():
        if key == "generator":
            problem[key] = gen_name
            continue
        if key not in gen.params:
            raise SpecError(f"problem.{key}: unknown parameter of generator {gen_name!r} "
                            f"(allowed: {', '.join(gen.params)})")
        problem[key] = _check_grid(value, gen.params[key], f"problem.{key}",
                                   choices.get(key, ()))
        # NaN is no grid point: every generator refuses it (each trial of the cell was an
        # error row), and its rows would fall out of groupby and `where` (NaN != NaN)
        # a value below a declared minimum (a negative size) likewise made only error rows
        for i, v in enumerate(_grid_values(problem[key], "")):
            at = f"problem.{key}[{i}]" if isinstance(value, list) else f"problem.{key}"
            if isinstance(v, float) and math.isnan(v):
                raise SpecError(f"{at}: nan is not a problem parameter value")
            if (key in minimum and isinstance(v, (int, float)) and not isinstance(v, bool)
                    and v < minimum[key]):
                raise SpecError(f"{at}: must be >= {minimum[key]}, got {v!r}")
    for key in gen.required:
        if key not in prob:
            raise SpecError(f"problem.{key}: required parameter of {gen_name!r} is missing")
    for group in gen.one_of:
        # else every trial failed at generation ("give exactly one of ...") and the run
        # still ended with exit status 0
        given = [key for key in group if key in prob]
        if len(given) != 1:
            raise SpecError(f"problem.{group[0]}: {gen_name!r} needs exactly one of "
                            f"{', '.join(group)} (got {', '.join(given) or 'none'})")
    out["problem"] = dict(problem, generator=gen_name)

    methods = data.get("methods")
    if not isinstance(methods, list) or not methods:
        raise SpecError("methods: give at least one [[methods]] table")
    out["methods"] = []
    for i, table in enumerate(methods):
        path = f"methods[{i}]"
        if not isinstance(table, dict):
            raise SpecError(f"{path}: expected a table, got {type(table).__name__}")
        if "name" not in table or not isinstance(table["name"], str):
            raise SpecError(f"{path}.name: missing (a registered method name)")
        try:
            entry = get_method(table["name"])
        except KeyError as exc:
            raise SpecError(f"{path}.name: {exc.args[0]}") from None
        _check_kind(entry, gen_name, f"{path}.name")
        if "label" in table and not isinstance(table["label"], str):
            raise SpecError(f"{path}.label: expected str")
        method: dict[str, Any] = {}
        for key, value in table.items():
            if key in ("name", "label"):
                method[key] = value
                continue
            if key not in entry.params:
                allowed = ", ".join(sorted(entry.params)) or "none"
                raise SpecError(f"{path}.{key}: unknown parameter of method "
                                f"{entry.name!r} (allowed: {allowed})")
            method[key] = _check_grid(value, entry.params[key], f"{path}.{key}")
        for key in entry.required:
            if key not in table:
                raise SpecError(f"{path}.{key}: required parameter of {entry.name!r} "
                                "is missing")
        out["methods"].append(method)

    run = _check_table(data.get("run", {}), _RUN, "run")
    if run["executor"] not in EXECUTORS:
        raise SpecError(f"run.executor: {run['executor']!r} is not one of "
                        f"{', '.join(EXECUTORS)}")
    if run["blas_threads"] < 0:
        raise SpecError("run.blas_threads: must be >= 0 (0 = the BLAS default)")
    if run["blas_threads"] > _C_INT_MAX:
        # BLAS takes a C int: every cell failed at run time ("ArgumentError: argument 1:
        # OverflowError: int too long to convert")
        raise SpecError(f"run.blas_threads: {run['blas_threads']} is more than BLAS takes "
                        f"({_C_INT_MAX}); give the number of threads per cell")
    if run["workers"] < 0:
        raise SpecError("run.workers: must be >= 0 (0 = all cores)")
    if "\0" in run["out"]:  # no path holds one: a ValueError traceback when the run began
        raise SpecError(f"run.out: {run['out']!r} holds a NUL character, no folder can")
    out["run"] = run

    plots = data.get("plots", [])
    if not isinstance(plots, list):
        raise SpecError("plots: expected an array of tables ([[plots]])")
    out["plots"] = []
    for i, table in enumerate(plots):
        table = _check_table(table, _PLOT, f"plots[{i}]")
        if table.get("kind") not in PLOT_KINDS:
            raise SpecError(f"plots[{i}].kind: must be one of {', '.join(PLOT_KINDS)}")
        fmts = table.get("format", [])
        if "format" in table and not fmts:
            # else the run "wrote" the plot as no file at all
            raise SpecError(f"plots[{i}].format: empty; give one or more of "
                            f"{', '.join(PLOT_FORMATS)} (default png)")
        for fmt in [fmts] if isinstance(fmts, str) else fmts:
            # else `overparam run` fails at its end, after the sweep, while drawing
            if fmt not in PLOT_FORMATS:
                raise SpecError(f"plots[{i}].format: {fmt!r} is not one of "
                                f"{', '.join(PLOT_FORMATS)}")
        if "stat" in table and table["stat"] not in PLOT_STATS:
            # else refused only when drawing, after the sweep
            raise SpecError(f"plots[{i}].stat: {table['stat']!r} is not one of "
                            f"{', '.join(PLOT_STATS)}")
        for col, value in table.get("where", {}).items():
            # a nested list or a table compares with no column value: the drawing at the
            # end of the sweep failed ("Lengths must match to compare")
            for j, v in enumerate(value if isinstance(value, list) else [value]):
                if not is_where_value(v):
                    at = f"plots[{i}].where.{col}" + (f"[{j}]" if isinstance(value, list)
                                                      else "")
                    raise SpecError(f"{at}: expected a value (str, int, float or bool) or "
                                    f"a list of values, got {type(v).__name__} {v!r}")
        name = table.get("name")
        if name is not None and not is_plot_stem(name):
            raise SpecError(f"plots[{i}].name: must be a file stem without a folder, "
                            f"got {name!r}")
        extra = sorted(set(table) - {"kind", "name", "format"} - PLOT_OPTIONS[table["kind"]])
        if extra:
            raise SpecError(f"plots[{i}].{extra[0]}: a {table['kind']} plot does not take it "
                            f"(it takes {', '.join(sorted(PLOT_OPTIONS[table['kind']]))})")
        _check_plot_axes(table, f"plots[{i}]")
        out["plots"].append(table)
    # plots writing the same file overwrote each other (the default stem names only the
    # kind and axes, not `where`, `hue` or `stat`)
    stems: dict[str, int] = {}
    for i, table in enumerate(out["plots"]):
        fmts = table.get("format", "png")
        stem = plot_stem(table["kind"], **{k: v for k, v in table.items() if k != "kind"})
        for fmt in [fmts] if isinstance(fmts, str) else fmts:
            if (stem, fmt) in stems:
                raise SpecError(
                    f"plots[{i}]: writes {stem}.{fmt}, as plots[{stems[stem, fmt]}] does "
                    "(the later would overwrite the earlier): give them different `name`s")
            stems[stem, fmt] = i

    _check_size(out["problem"], out["methods"])
    # labels must format and be unique
    seen: dict[str, str] = {}
    configs = _expand_methods(out["methods"])
    for cfg in configs:
        if cfg.label in seen and seen[cfg.label] != cfg.key:
            raise SpecError(f"methods: two configurations share the label {cfg.label!r}; "
                            "give `label` format strings that tell them apart")
        seen[cfg.label] = cfg.key
    if len(set(seen.values())) != len(configs):
        raise SpecError("methods: the same method configuration is listed twice")
    _check_reference(out["experiment"], configs, gen_name)
    return out


def _check_plot_axes(table: dict[str, Any], path: str) -> None:
    """Refuse the axes that `plots.plot` refuses whatever the results (with its defaults:
    phase x = "s", y = "m"; curve hue = "label"): else `overparam run` failed at its end,
    after the whole sweep."""
    kind = table["kind"]
    if kind == "phase" and table.get("x", "s") == table.get("y", "m"):
        raise SpecError(f"{path}.y: x and y are both {table.get('y', 'm')!r}: a phase "
                        "diagram needs two axes (defaults x = 's', y = 'm')")
    if kind == "curve":
        if "x" not in table:
            raise SpecError(f"{path}.x: missing; a curve plot needs x (the axis), e.g. "
                            "x = \"m\"")
        if "value" in table and "y" in table:
            raise SpecError(f"{path}.value: value and y both give a curve's metric; give "
                            "one (y)")
        if table.get("hue", "label") == table["x"]:
            raise SpecError(f"{path}.hue: hue and x are both {table['x']!r} (hue defaults "
                            "to 'label'); give another hue")


#: most trials a cell may have (see `_validate`)
MAX_TRIALS = 10**6
_C_INT_MAX = 2**31 - 1

#: most (problem cell, method configuration) pairs a spec may have: expanding 10**7 took
#: 80 s and 4 GB of memory before anything ran (and every pair gets a key in the store)
MAX_GRID = 10**6


def _check_size(problem: dict[str, Any], methods: list[dict[str, Any]]) -> None:
    """Refuse a grid too big to expand, counted without expanding it."""
    cells = math.prod(len(_grid_values(v, "")) for k, v in problem.items()
                      if k != "generator")
    configs = sum(math.prod(len(_grid_values(v, "")) for k, v in table.items()
                            if k not in ("name", "label")) for table in methods)
    if cells * configs > MAX_GRID:
        raise SpecError(f"problem, methods: the grids make {cells:,} cell(s) x {configs:,} "
                        f"method configuration(s) = {cells * configs:,} pairs, more than "
                        f"{MAX_GRID:,} (expanding them alone would take minutes and "
                        "gigabytes); split the sweep into several specs")


def _check_kind(entry: Any, generator: str, path: str) -> None:
    """Refuse a method whose kind of problem the generator does not make: it would fail
    on every trial at run time (one error row each, e.g. ``dmf_gd`` on sparse vectors)."""
    kinds = generator_kinds(generator)
    if not kinds or entry.problems in kinds:
        return
    fits = [name for name in GENERATORS if entry.problems in generator_kinds(name)]
    hint = (f"; generators of {entry.problems} problems: {', '.join(fits)}" if fits
            else "")
    raise SpecError(f"{path}: method {entry.name!r} solves {entry.problems} problems, "
                    f"generator {generator!r} makes {' / '.join(kinds)} problems{hint}")


def _check_reference(exp: dict[str, Any], configs: list[MethodConfig],
                     generator: str) -> None:
    """``experiment.reference`` must name one configuration of the spec by its label (as
    expanded, the label `Spec.reference` matches) or a registered method that runs
    without parameters; else it would fail only when the first cell runs."""
    name = exp["reference"]
    if any(c.label == name for c in configs):     # labels are unique (checked above)
        return
    try:
        entry = get_method(name)
    except KeyError as exc:
        raise SpecError(f"experiment.reference: {exc.args[0]} (or the label of one "
                        "method configuration of the spec)") from None
    if entry.required and any(METRICS[m].needs_reference for m in exp["metrics"]):
        raise SpecError(f"experiment.reference: method {name!r} needs parameters "
                        f"({', '.join(entry.required)}); list it under [[methods]] with a "
                        "label and name that label")
    if any(METRICS[m].needs_reference for m in exp["metrics"]):
        # the default reference (basis_pursuit) has no meaning on e.g. eigenproblems
        _check_kind(entry, generator, "experiment.reference")


# one step of a --set key path: a bracketed index, or a key (after a dot unless first)
_PATH_STEP = re.compile(r"\[(?P<index>[^\]]*)\]|(?P<dot>\.?)(?P<key>[^.\[\]]*)")


def _is_index(text: str) -> bool:
    """Whether ``text`` is a list index: ASCII digits (``str.isdigit`` is also true of
    ``²``, on which ``int`` raised a bare ValueError, and of other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _split_path(path: str) -> list[str | int]:
    """``"methods[1].depth"`` (or ``"methods.1.depth"``) -> ``["methods", 1, "depth"]``.

    Refuses, naming the path, what a token scan would skip: an empty key (``problem..m``
    set ``problem.m``), a key in brackets (``problem[m]``), a stray bracket, and negative
    or non-numeric indices."""
    if not path:
        raise SpecError(f"--set {path!r}: empty key path")
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        step = _PATH_STEP.match(path, pos)   # always matches (the key may be empty)
        where = f"at character {pos + 1}"
        if step.group("index") is not None:
            index = step.group("index").strip()
            if index.startswith("-") and _is_index(index[1:]):
                raise SpecError(f"--set {path}: index {index} {where} is negative; indices "
                                "count from 0 (methods[0] is the first [[methods]] table)")
            if not _is_index(index):
                raise SpecError(f"--set {path}: [{step.group('index')}] {where} is not an "
                                "index; brackets hold a number (a key goes after a dot)")
            parts.append(int(index))
        else:
            key = step.group("key")
            if pos > 0 and not step.group("dot"):
                raise SpecError(f"--set {path}: unexpected {path[pos]!r} {where} (a key "
                                "path is like methods[1].depth or problem.m)")
            if not key:
                raise SpecError(f"--set {path}: empty key {where} (two dots in a row, a "
                                "dot at an end, or a stray bracket)")
            if pos == 0 and step.group("dot"):
                raise SpecError(f"--set {path}: empty key {where} (the path starts with a "
                                "dot)")
            parts.append(int(key) if _is_index(key) else key)
        pos = step.end()
    return parts


def parse_override(text: str) -> tuple[str, Any]:
    """``"problem.m=[50,100]"`` -> ``("problem.m", [50, 100])``; the value is read as TOML
    (a bare word that is not TOML is taken as a string; a broken list or quoted string,
    ``[6,10`` or ``"x``, is refused).

    Parameters
    ----------
    text : str
        ``KEY=VALUE``, as given to ``--set``; whitespace around both is stripped.

    Returns
    -------
    path : str
        The key path, e.g. ``"methods[0].depth"``.
    value : object
        The value read as TOML, or the raw text.

    Raises
    ------
    SpecError
        If ``text`` has no ``=``, or its value starts with ``[``, ``"`` or ``'`` but is
        not valid TOML.
    """
    if "=" not in text:
        raise SpecError(f"--set {text!r}: expected KEY=VALUE, e.g. problem.m=[50,100]")
    path, _, raw = text.partition("=")
    path, raw = path.strip(), raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as exc:
        # a broken list or quoted string is a typo, not a bare word: taken as text,
        # `[6,10` became the string '[6,10' (refused as "expected int, got str") and
        # `"x` the label '"x' (accepted); `{` stays a bare word (labels like {depth})
        if raw[:1] in ("[", '"', "'"):
            hint = ("; strings need quotes inside a list, e.g. "
                    "experiment.metrics=[\"recovered\"]" if raw[0] == "[" else "")
            # the position tomllib gives is in "v = VALUE", not in what was typed
            why = re.sub(r"\s*\(at (line|end)[^)]*\)$", "", str(exc))
            raise SpecError(f"--set {text}: {raw} is not a TOML value ({why}){hint}"
                            ) from None
        value = raw
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str | tuple[str, Any]]) -> dict:
    """A copy of ``data`` with ``--set`` overrides applied (paths like ``methods[0].depth``).

    Parameters
    ----------
    data : dict
        Spec data (parsed TOML); not modified.
    overrides : iterable of str or (str, object)
        ``"KEY=VALUE"`` strings (see :func:`parse_override`) or ``(path, value)`` pairs,
        applied in order. Missing tables on the path are created; list indices must exist.

    Returns
    -------
    dict
        The modified copy (not validated).

    Raises
    ------
    SpecError
        If a path runs through a missing list item or a value that is not a table.
    """
    data = copy.deepcopy(data)
    for item in overrides:
        path, value = parse_override(item) if isinstance(item, str) else item
        parts = _split_path(path)
        node: Any = data
        for j, part in enumerate(parts):
            # the path so far as a user writes it (methods[1]), for the messages
            where = _join_path(parts[: j + 1])
            if isinstance(part, int):
                if not isinstance(node, list):
                    raise SpecError(f"--set {path}: {_join_path(parts[:j]) or 'the spec'} "
                                    "is not a list (an index goes after an array of "
                                    "tables such as methods or plots)")
                if part >= len(node):
                    have = (f"{_join_path(parts[:j])} has {len(node)} item(s), "
                            f"{_join_path(parts[:j] + [0])} to "
                            f"{_join_path(parts[:j] + [len(node) - 1])}"
                            if node else f"{_join_path(parts[:j])} is empty")
                    raise SpecError(f"--set {path}: {where} does not exist ({have}; "
                                    "--set changes items, it does not add them)")
            elif not isinstance(node, dict):
                tables = isinstance(node, list) and all(isinstance(v, dict) for v in node)
                kind = (f"a list of tables; give an index, e.g. "
                        f"{_join_path(parts[:j] + [0] + parts[j:])}"
                        if tables and node else f"a value, not a table ({node!r})")
                raise SpecError(f"--set {path}: {_join_path(parts[:j])} is {kind}")
            if j == len(parts) - 1:
                node[part] = value
            else:
                if isinstance(part, str) and part not in node:
                    node[part] = [] if isinstance(parts[j + 1], int) else {}
                node = node[part]
    return data


def _join_path(parts: list[str | int]) -> str:
    """``["methods", 1, "depth"]`` -> ``"methods[1].depth"`` (the form ``--set`` takes)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def load_spec(source: str | Path | dict[str, Any], overrides: Iterable[str] = ()) -> Spec:
    """Read and validate a spec from a TOML file (or a dict), applying ``--set`` overrides.

    Parameters
    ----------
    source : str, Path or dict
        Path of a TOML file, or spec data (then the experiment name defaults to
        ``"experiment"``).
    overrides : iterable of str, optional
        ``--set`` overrides, ``"KEY=VALUE"`` each (see :func:`apply_overrides`). Default
        none.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        On unknown keys, wrong types, empty grids, unknown methods, metrics or generators,
        a method (or reference) of a problem kind the generator does not make, values
        the results store cannot hold (TOML dates, integers beyond 64 bits), grids of
        more than `MAX_GRID` (cell, method configuration) pairs, more than `MAX_TRIALS`
        trials, and [[plots]] whose axes no results can draw; the message starts with
        the key path. Also on a file that is not UTF-8 or not TOML (the
        message starts with the file name; a UTF-8 byte order mark is accepted).
    OSError
        When the file cannot be read (missing, a folder, no permission).
    """
    if isinstance(source, dict):
        return Spec(apply_overrides(source, overrides))
    path = Path(source)
    with open(path, "rb") as fh:
        raw = fh.read()
    # editors such as Notepad start UTF-8 files with a byte order mark, which TOML does
    # not allow ("Invalid statement" at line 1, column 1)
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # tomllib's own error names no file
        raise SpecError(f"{path}: not UTF-8 text (TOML must be): {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    return Spec(apply_overrides(data, overrides), source=str(path))


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(k: str) -> str:
    """A key as TOML: bare when it can be (``where`` tables may name any column)."""
    return k if _BARE_KEY.fullmatch(k) else _toml_string(k)


def _toml_string(v: str) -> str:
    # JSON escapes are TOML escapes, but JSON's ASCII-only output writes characters
    # beyond the BMP as surrogate pairs, which TOML rejects; DEL must be escaped in TOML
    return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}"
                                for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _to_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section in _SECTIONS:
        value = data.get(section)
        if isinstance(value, dict):
            lines.append(f"[{section}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
            lines.append("")
        elif isinstance(value, list):
            for table in value:
                lines.append(f"[[{section}]]")
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
                lines.append("")
    return "\n".join(lines)
