"""Experiments as data: a TOML spec -> cells (grid x trials, derived seeds) -> executor
(serial | processes | Dask) -> a store of Parquet parts, with resume.

>>> from overparam import experiments
>>> summary = experiments.run("examples/more_is_less.toml")      # doctest: +SKIP
>>> df = experiments.load(summary.folder)                          # doctest: +SKIP

Needs the ``experiments`` extra (pandas, pyarrow, matplotlib, tqdm); ``dask`` for the Dask
executor.
"""
from .cells import Cell, expand_cells, make_problem, method_seed, problem_seed
from .compile_cache import compilation_cache_dir, enable_compilation_cache
from .measures import METRICS
from .methods import METHODS, MethodEntry, available_methods, get_method, register
from .runner import run_cell
from .spec import MethodConfig, Spec, SpecError, apply_overrides, load_spec, parse_override
from .store import Store, StoreError, load, load_traces, read_manifest
from .sweep import RunSummary, run
from . import areas  # noqa: E402,F401  (registers the other research areas)

__all__ = [
    "Cell",
    "METHODS",
    "METRICS",
    "MethodConfig",
    "MethodEntry",
    "RunSummary",
    "Spec",
    "SpecError",
    "Store",
    "StoreError",
    "apply_overrides",
    "available_methods",
    "compilation_cache_dir",
    "enable_compilation_cache",
    "expand_cells",
    "get_method",
    "load",
    "load_spec",
    "load_traces",
    "make_problem",
    "method_seed",
    "parse_override",
    "problem_seed",
    "read_manifest",
    "register",
    "run",
    "run_cell",
]
