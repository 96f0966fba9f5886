"""Cells and seeds: the problem grid expanded into cells, each holding every trial.

A cell is one point of the problem grid; it runs all trials of all method configurations
there, so that every method sees the same problems and a reference solution (for
``l1_gap``) is computed once per problem. Problem seeds derive from (root seed, problem
parameters, trial index) only, never from the method, the cell order or the executor.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .._core import derive_seed
from .spec import Spec

__all__ = ["Cell", "expand_cells", "problem_seed", "method_seed", "make_problem",
           "config_key"]


@dataclass(frozen=True)
class Cell:
    """One point of the problem grid.

    Attributes
    ----------
    index : int
        Position in the spec's grid order (for display only).
    params : dict
        Problem parameters of the cell.
    key : str
        Content hash of everything that determines the cell's rows (its parameters, the
        generator, trials, root seed, metrics and method configurations): the part file's
        name, so a finished cell is recognised on resume even after other cells change.
    """

    index: int
    params: dict[str, Any]
    key: str


def problem_seed(root_seed: int, params: dict[str, Any], trial: int) -> int:
    """Seed of trial ``trial`` at problem parameters ``params``.

    Parameters
    ----------
    root_seed : int
        The spec's ``experiment.seed``.
    params : dict
        Problem parameters of the cell.
    trial : int
        Trial index, ``0 <= trial < experiment.trials``.

    Returns
    -------
    int
        A seed that depends only on these three arguments (not on the method, the cell
        order or the executor).
    """
    return derive_seed("problem", int(root_seed), params, int(trial))


def method_seed(pseed: int, name: str, params: dict[str, Any]) -> int:
    """Seed handed to a (randomized) method on one problem.

    Parameters
    ----------
    pseed : int
        The problem's seed, from :func:`problem_seed`.
    name : str
        Method name.
    params : dict
        The method configuration's parameters.

    Returns
    -------
    int
        A seed derived from the three arguments.
    """
    return derive_seed("method", int(pseed), name, params)


def cell_key(spec: Spec, params: dict[str, Any]) -> str:
    blob = json.dumps([spec.experiment, spec.generator, spec.data["methods"], params],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def config_key(spec: Spec, params: dict[str, Any], cfg: Any) -> str:
    """Content hash of everything that determines one method configuration's rows in one
    cell: the cell's problems (parameters, generator, experiment settings), the
    configuration and its label, and the reference configuration (metrics compare to it).
    Unlike the cell key it does not change when other configurations of the spec change.

    Parameters
    ----------
    spec : Spec
        The experiment spec.
    params : dict
        Problem parameters of the cell.
    cfg : MethodConfig
        The method configuration (its ``key`` and ``label`` are hashed).

    Returns
    -------
    str
        The first 20 hex digits of a SHA-256 hash.
    """
    ref = spec.reference
    blob = json.dumps([spec.experiment, spec.generator, params, cfg.key, cfg.label,
                       None if ref is None else ref.key], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def expand_cells(spec: Spec) -> list[Cell]:
    """The cells of a spec, in grid order.

    Parameters
    ----------
    spec : Spec
        The experiment spec; its problem grid gives one cell per parameter combination.

    Returns
    -------
    list of Cell
    """
    return [Cell(i, params, cell_key(spec, params))
            for i, params in enumerate(spec.problem_grid())]


def make_problem(spec: Spec, params: dict[str, Any], trial: int) -> tuple[Any, int]:
    """(problem, seed) of one trial.

    Parameters
    ----------
    spec : Spec
        The experiment spec (its generator and ``experiment.seed``).
    params : dict
        Problem parameters of the cell, passed to the generator.
    trial : int
        Trial index.

    Returns
    -------
    problem : object
        What the spec's generator returns for ``params`` and the trial's seed.
    seed : int
        The trial's seed, from :func:`problem_seed`.
    """
    from .generators import get_generator

    seed = problem_seed(spec.experiment["seed"], params, trial)
    return get_generator(spec.generator).make(params, seed), seed
