"""Problem generators a spec can name (``[problem] generator = ...``), with parameter types."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from .methods import _check_fields, _check_names, _check_target, check_value

__all__ = ["GeneratorEntry", "GENERATORS", "PROBLEM_KINDS", "example_problem", "generator_kinds",
           "get_generator", "register_generator", "register_problem_kind"]


@dataclass(frozen=True)
class GeneratorEntry:
    """A problem generator ``fn(**params, seed=int) -> Problem``.

    Attributes
    ----------
    name : str
        Registry key, used in specs (``[problem] generator = ...``).
    target : str
        ``"module:function"`` of the generator, imported on first use.
    params : dict of str to str
        Each parameter a spec may set, with its type spec (see ``methods.check_value``).
    required : tuple of str, optional
        Parameters the spec must set. Default none.
    choices : tuple of (str, tuple of str), optional
        ``(parameter, allowed values)`` pairs restricting string parameters. Default none.
    one_of : tuple of tuple of str, optional
        Groups of parameters of which the spec must set exactly one (e.g. ``m`` or
        ``oversampling``). Default none.
    kinds : tuple of str, optional
        The problem kinds its problems serve (the ``MethodEntry.problems`` of the methods
        that run on them; a spec pairing a method of another kind is refused). Empty
        (default): not declared, no method is refused.
    minimum : tuple of (str, float), optional
        ``(parameter, smallest allowed value)`` pairs for numeric parameters, checked with
        the spec (else every trial of such a cell is an error row). Default none.
    """

    name: str
    target: str
    params: dict[str, str]
    required: tuple[str, ...] = ()
    choices: tuple[tuple[str, tuple[str, ...]], ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    kinds: tuple[str, ...] = ()
    minimum: tuple[tuple[str, float], ...] = ()

    def load(self) -> Callable[..., Any]:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def make(self, params: dict[str, Any], seed: int) -> Any:
        return self.load()(**params, seed=seed)


GENERATORS: dict[str, GeneratorEntry] = {
    "sparse_recovery": GeneratorEntry(
        "sparse_recovery", "overparam.problems:sparse_recovery",
        {"n": "int", "m": "int", "s": "int", "operator": "str", "signal": "str",
         "nonneg": "bool", "noise": "float"},
        required=("n", "m", "s"),
        choices=(("operator", ("gaussian", "rademacher", "dct", "fft")),
                 ("signal", ("gaussian", "sign", "uniform"))),
        kinds=("vector",),
        minimum=(("n", 1), ("m", 1), ("s", 0), ("noise", 0.0)),
    ),
}


_MATRIX = {"n1": "int", "n2": "int", "rank": "int", "spectrum": "str", "condition": "float",
           "symmetric": "bool", "fro_norm": "float", "noise": "float", "noise_norm": "str"}
_MATRIX_MINIMUM = (("n1", 1), ("n2", 1), ("rank", 1), ("condition", 1.0), ("noise", 0.0),
                   ("n_observed", 1), ("m", 1))
for _name, _extra in [("matrix_estimation", {}),
                      ("matrix_completion", {"n_observed": "int", "fraction": "float"}),
                      ("matrix_sensing", {"m": "int", "matrix_free": "bool|str"})]:
    GENERATORS[_name] = GeneratorEntry(
        _name, f"overparam.problems:{_name}", dict(_MATRIX, **_extra), required=("n1", "rank"),
        one_of=(("n_observed", "fraction"),) if _name == "matrix_completion" else (),
        # vector methods solve the vectorized matrix (l1 / NNLS baselines, Hadamard GD)
        kinds=("matrix", "vector"),
        minimum=tuple((k, v) for k, v in _MATRIX_MINIMUM if k in _MATRIX or k in _extra))



#: for each problem kind a method can declare (``MethodEntry.problems``), a small
#: generator call making one: the registry's contract tests run every method on it
PROBLEM_KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    "vector": ("sparse_recovery", dict(n=30, m=15, s=2, nonneg=True)),
    "matrix": ("matrix_sensing", dict(n1=6, rank=1, m=30)),
}


def register_problem_kind(kind: str, generator: str, params: dict[str, Any]) -> None:
    """Declare a problem kind with a small example (a registered generator and its
    parameters).

    Parameters
    ----------
    kind : str
        Name of the problem kind (as in ``MethodEntry.problems``).
    generator : str
        Name of a registered generator that makes problems of this kind.
    params : dict
        Generator parameters of a small example (copied).

    Raises
    ------
    ValueError
        If ``kind`` is already declared with another example, or is not a non-empty string.
    KeyError
        If ``generator`` is not registered (register it first).
    """
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"problem kind must be a non-empty string, got {kind!r}")
    # an unknown generator was accepted, and example_problem / the contract tests failed
    # later on it
    get_generator(generator)
    if kind in PROBLEM_KINDS and PROBLEM_KINDS[kind] != (generator, params):
        raise ValueError(f"problem kind {kind!r} is already declared")
    PROBLEM_KINDS[kind] = (generator, dict(params))


def example_problem(kind: str, seed: int = 1) -> Any:
    """A small problem of a declared kind (see :data:`PROBLEM_KINDS`).

    Parameters
    ----------
    kind : str
        A declared problem kind (``"vector"``, ``"matrix"`` or one an area registers).
    seed : int, optional
        Seed passed to the generator; default 1.

    Returns
    -------
    Problem
        The kind's example generator called on its example parameters.

    Raises
    ------
    KeyError
        If ``kind`` is not declared.
    """
    try:
        name, params = PROBLEM_KINDS[kind]
    except KeyError:
        raise KeyError(f"unknown problem kind {kind!r} (declared: "
                       f"{', '.join(PROBLEM_KINDS)})") from None
    return get_generator(name).make(params, seed)


def register_generator(entry: GeneratorEntry, *, replace: bool = False) -> GeneratorEntry:
    """Add a generator to the registry (an error if the name is taken, unless ``replace``).

    Parameters
    ----------
    entry : GeneratorEntry
        The generator to register under ``entry.name``.
    replace : bool, optional
        If True, overwrite an entry of the same name. Default False.

    Returns
    -------
    GeneratorEntry
        ``entry``.

    Raises
    ------
    ValueError
        If the name is taken and ``replace`` is False, the name is not a non-empty
        string, a parameter type is unknown, ``required``, ``choices``, ``one_of`` or
        ``minimum`` names a parameter not in ``params``, or ``params`` has a ``seed``
        (the runner passes ``seed=`` itself).
    TypeError
        If ``entry`` is not a GeneratorEntry, its target is not ``"module:function"``, a
        field is not of its documented form (e.g. a bare string for ``required``,
        ``kinds``, a ``one_of`` group or a ``choices`` value list: a one-item tuple
        needs its trailing comma) or a ``minimum`` is not a number for a numeric
        parameter.
    """
    if not isinstance(entry, GeneratorEntry):
        raise TypeError(f"register_generator takes a GeneratorEntry, got "
                        f"{type(entry).__name__}")
    # checked here, not when a spec names it: a bad entry (a non-string name) broke every
    # later lookup's error message, and an unknown parameter type failed only then
    what = f"generator {entry.name!r}"  # _check_names adds the name to its "generator"
    # the tuple fields are checked item by item: a bare string where a tuple belongs (a
    # missing trailing comma) was iterated by character, e.g. kinds="vector" refused every
    # vector method ("makes c / e / o / r / t / v problems"), choices ("operator",
    # ("gaussian")) refused 'gaussian' ("not one of g, a, u, ...") and one_of=("m", "n")
    # made m and n each required
    pairs = {}
    for field in ("choices", "minimum"):
        try:
            pairs[field] = [(k, v) for k, v in getattr(entry, field)]
        except (TypeError, ValueError):
            raise TypeError(f"{what}: {field} must be a tuple of (parameter, value) pairs, "
                            f"got {getattr(entry, field)!r}") from None
    try:
        groups = [_check_names("generator", entry.name, "each one_of group", group)
                  for group in entry.one_of]
    except TypeError as exc:  # not iterable, or a group that is a bare string
        raise TypeError(f"{exc}; one_of is a tuple of such groups") from None
    _check_fields("generator", entry.name, entry.params, [
        ("required", entry.required), ("choices", [k for k, _ in pairs["choices"]]),
        ("one_of", [k for group in groups for k in group]),
        ("minimum", [k for k, _ in pairs["minimum"]])])
    _check_target(entry.target, f"{what}: target", allow_callable=False)
    _check_names("generator", entry.name, "kinds", entry.kinds)
    for key, values in pairs["choices"]:
        _check_names("generator", entry.name, f"choices of {key!r}", values)
    for key, low in pairs["minimum"]:
        # compared with the spec's values: a string minimum (or one on a str parameter)
        # raised a bare "'<' not supported" from the spec's validation
        if not (check_value(low, "float")
                and {"int", "float"} & set(entry.params[key].split("|"))):
            raise TypeError(f"{what}: minimum of {key!r} must be a number, for a numeric "
                            f"parameter (its type is {entry.params[key]!r}), got {low!r}")
    if "seed" in entry.params:
        # make() passes seed= itself: every trial failed with "got multiple values for
        # keyword argument 'seed'"
        raise ValueError(f"{what}: 'seed' cannot be one of its params (each trial's seed "
                         "is derived by the runner and passed as seed=)")
    if entry.name in GENERATORS and not replace:
        raise ValueError(f"generator {entry.name!r} is already registered")
    GENERATORS[entry.name] = entry
    return entry


def generator_kinds(name: str) -> tuple[str, ...]:
    """The problem kinds a registered generator's problems serve, sorted (empty when
    undeclared: then no method is refused on it).

    Parameters
    ----------
    name : str
        A registered generator.

    Returns
    -------
    tuple of str
        Its declared ``kinds``, with every kind whose example it makes (see
        :func:`register_problem_kind`).
    """
    kinds = get_generator(name).kinds
    if not kinds:
        return ()
    examples = {kind for kind, (gen, _) in PROBLEM_KINDS.items() if gen == name}
    return tuple(sorted(set(kinds) | examples))


def get_generator(name: str) -> GeneratorEntry:
    """The registry entry of a generator.

    Parameters
    ----------
    name : str
        Generator name, as in ``[problem] generator = ...``.

    Returns
    -------
    GeneratorEntry

    Raises
    ------
    KeyError
        If no generator of that name is registered (the message lists the known ones).
    """
    try:
        return GENERATORS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name such as a list
        raise KeyError(f"unknown generator {name!r} (known: {', '.join(GENERATORS)})") from None
