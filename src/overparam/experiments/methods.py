"""The method registry: every solver by name, the one place that knows every algorithm.

An entry turns spec parameters into a configured callable ``(problem, seed) -> Result``
(and, for methods that can, a batched callable over the trials of a cell). Solver modules
are imported lazily, on first use, so that the registry can be read (``overparam info``,
spec validation) without importing every solver, and an entry whose module is missing
reports itself unavailable instead of breaking the others.

Adding a method is one ``register(MethodEntry(...))`` call (or one line in ``_builtin``).
"""
from __future__ import annotations

import importlib
import inspect
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["MethodEntry", "METHODS", "register", "get_method", "available_methods",
           "check_value"]

#: type names accepted in ``MethodEntry.params`` (``float`` accepts ints too)
_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
    # numpy.bool_ too (``nonneg=np.all(x >= 0)``), as _core.checks.check_bool: it was
    # refused as "expected bool, got bool np.True_"
    "bool": lambda v: isinstance(v, (bool, np.bool_)),
    "str": lambda v: isinstance(v, str),
    "list": lambda v: isinstance(v, (list, tuple)),
}


def check_value(value: Any, types: str) -> bool:
    """Whether ``value`` matches a type spec such as ``"float"`` or ``"str|float"``.

    Parameters
    ----------
    value : object
        The value to check.
    types : str
        Type names joined by ``"|"``, each one of ``"int"``, ``"float"`` (accepts ints),
        ``"bool"``, ``"str"``, ``"list"`` (a list or tuple); bools are not ints or floats.

    Returns
    -------
    bool
        True if ``value`` matches any of the types.
    """
    return any(_TYPES[t](value) for t in types.split("|"))


def _check_target(target: Any, what: str, *, allow_callable: bool = True) -> None:
    """Refuse a target that is neither a callable nor ``"module:function"`` (it failed only
    when first used, as ``AttributeError: ... has no attribute ''``)."""
    if allow_callable and callable(target):
        return
    module, sep, attr = target.partition(":") if isinstance(target, str) else ("", "", "")
    if not (module and sep and attr):
        kind = "a callable or " if allow_callable else ""
        raise TypeError(f"{what} must be {kind}a 'module:function' string, got {target!r}")


def _check_names(what: str, name: str, field: str, value: Any) -> tuple[str, ...]:
    """``value`` as a tuple of parameter names, refusing a bare string (and non-string
    items). ``required=("n1")`` (no trailing comma) is the string ``"n1"``: iterated, it
    was the names ``'n'`` and ``'1'`` (``required="nm"`` silently required ``n`` and
    ``m``; ``kinds="vector"`` made the kinds ``c / e / o / r / t / v``)."""
    items = None if isinstance(value, (str, bytes)) else value
    try:
        out = tuple(items) if items is not None else None
    except TypeError:
        out = None
    if out is None or not all(isinstance(k, str) for k in out):
        raise TypeError(f"{what} {name!r}: {field} must be a tuple of strings, got "
                        f"{value!r} (a one-item tuple needs a trailing comma: ('x',))")
    return out


def _check_fields(what: str, name: Any, params: Any, keys: Sequence[tuple[str, Any]]) -> None:
    """Checks shared by :func:`register` and ``generators.register_generator``: a
    non-empty string name, parameter types :func:`check_value` knows, and every parameter
    named elsewhere in the entry (``keys``: field and names) among ``params``.

    A bad entry used to be accepted and fail later: an unknown type name as a bare
    ``KeyError: 'double'`` when configured, a required parameter missing from ``params``
    made the method unusable, and a non-string name broke the "unknown name" error of
    every later lookup (sorting the names raised TypeError)."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} name must be a non-empty string, got {name!r}")
    if not isinstance(params, dict):
        raise TypeError(f"{what} {name!r}: params must be a dict of name to type, got "
                        f"{type(params).__name__}")
    for key, types in params.items():
        bad = [t for t in types.split("|") if t not in _TYPES] if isinstance(types, str) else [1]
        if not isinstance(key, str) or bad:
            raise ValueError(f"{what} {name!r}: parameter {key!r} has type {types!r}; types "
                             f"are {', '.join(_TYPES)} (alternatives joined by '|')")
    for field, names in keys:
        names = _check_names(what, name, field, names)
        unknown = [k for k in names if k not in params]
        if unknown:
            raise ValueError(f"{what} {name!r}: {field} names {unknown[0]!r}, which is not "
                             f"one of its params ({', '.join(params) or 'none'})")


def _import(target: str | Callable) -> Callable:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _call_problem(fn: Callable, problem: Any, params: dict) -> Any:
    return fn(problem, **params)


@dataclass(frozen=True)
class MethodEntry:
    """One registered solver.

    Attributes
    ----------
    name : str
        Registry key, used in specs (``[[methods]] name = ...``) and in result rows.
    target : str or callable
        ``"module:function"`` of the solver, imported on first use (or the function;
        then the entry exists only in processes that register it, so use it with the
        serial executor).
    params : dict of str to str
        The parameters a spec may set, with their types (``"int"``, ``"float"``, ``"bool"``,
        ``"str"``, or alternatives such as ``"str|float"``).
    required : tuple of str
        Parameters without a default (a spec must set them).
    batch_target : str, callable or None
        ``"module:function"`` taking a list of problems and the same parameters and
        returning a list of Results (trials are then run with ``jax.vmap``).
    call : callable
        ``call(fn, problem, params)``: how the solver is invoked (default
        ``fn(problem, **params)``).
    description : str
        One line for ``overparam info``.
    problems : str
        The kind of problems the method solves: ``"vector"`` (any ``A x = y``, vectorized
        matrices included), ``"matrix"`` (the matrix generators), or a kind an area
        declares (``generators.register_problem_kind``). A spec naming the method with a
        generator that does not make this kind (``generators.generator_kinds``) is
        refused; the contract tests run the method on the kind's example.
    seeded : bool
        Whether the solver takes a ``seed`` keyword (randomized methods; the batched
        solver then takes ``seeds``).
    """

    name: str
    target: str | Callable
    params: dict[str, str]
    required: tuple[str, ...] = ()
    batch_target: str | Callable | None = None
    call: Callable = _call_problem
    description: str = ""
    seeded: bool = False
    problems: str = "vector"

    # -- loading ----------------------------------------------------------------------
    def load(self) -> Callable:
        """The solver function (imports its module)."""
        return _import(self.target)

    @property
    def available(self) -> bool:
        """True when the solver's module imports."""
        try:
            self.load()
        except (ImportError, AttributeError):
            return False
        return True

    @property
    def batchable(self) -> bool:
        return self.batch_target is not None

    # -- configuration ----------------------------------------------------------------
    def validate(self, params: dict[str, Any], path: str = "") -> dict[str, Any]:
        """Check parameter names and types; returns the parameters. Errors name ``path``."""
        where = f"{path}." if path else ""
        for key, value in params.items():
            if key not in self.params:
                allowed = ", ".join(sorted(self.params)) or "none"
                raise ValueError(f"{where}{key}: unknown parameter of method {self.name!r} "
                                 f"(allowed: {allowed})")
            if not check_value(value, self.params[key]):
                raise TypeError(f"{where}{key}: expected {self.params[key]} for method "
                                f"{self.name!r}, got {type(value).__name__} {value!r}")
        missing = [k for k in self.required if k not in params]
        if missing:
            raise ValueError(f"{where}{missing[0]}: required parameter of method "
                             f"{self.name!r} is missing")
        return dict(params)

    def configure(self, **params: Any) -> Callable[[Any, int], Any]:
        """A callable ``(problem, seed) -> Result`` with ``params`` fixed."""
        params = self.validate(params)
        fn = self.load()
        call, seeded = self.call, self.seeded

        def solve(problem: Any, seed: int) -> Any:
            kw = dict(params, seed=seed) if seeded else params
            return call(fn, problem, kw)

        solve.__name__ = f"{self.name}_configured"
        return solve

    def configure_batch(self, **params: Any) -> Callable[[Sequence[Any], Sequence[int]], list]:
        """A callable ``(problems, seeds) -> list of Result`` (batched when the method
        can batch, else a loop over ``configure``); it refuses a number of seeds other
        than the number of problems (ValueError)."""
        if self.batch_target is None:
            one = self.configure(**params)

            def run(problems: list, seeds: list) -> list:
                return [one(p, s) for p, s in zip(problems, seeds)]
        else:
            params = self.validate(params)
            fn = _import(self.batch_target)
            seeded = self.seeded

            def run(problems: list, seeds: list) -> list:
                return fn(problems, seeds=seeds, **params) if seeded else fn(problems, **params)

        def solve_batch(problems: Sequence[Any], seeds: Sequence[int]) -> list:
            problems, seeds = list(problems), list(seeds)
            if len(problems) != len(seeds):
                # zip silently dropped the trials without a seed (and an unseeded batch
                # ignored the seeds): one seed per problem, as the runner passes them
                raise ValueError(f"method {self.name!r}: {len(problems)} problems but "
                                 f"{len(seeds)} seeds (one seed per problem)")
            return run(problems, seeds)

        solve_batch.__name__ = f"{self.name}_batch_configured"
        return solve_batch


METHODS: dict[str, MethodEntry] = {}


def register(entry: MethodEntry, *, replace: bool = False) -> MethodEntry:
    """Add a method to the registry (``replace=True`` to overwrite an entry).

    Parameters
    ----------
    entry : MethodEntry
        The method to register under ``entry.name``.
    replace : bool, optional
        If True, overwrite an entry of the same name. Default False.

    Returns
    -------
    MethodEntry
        ``entry``.

    Raises
    ------
    ValueError
        If the name is taken and ``replace`` is False, the name is not a non-empty
        string, a parameter type is unknown, ``required`` names a parameter not in
        ``params``, or a ``seeded`` method declares a ``seed`` parameter.
    TypeError
        If ``entry`` is not a MethodEntry, a target is neither a callable nor a
        ``"module:function"`` string, a callable target (with the default ``call``)
        cannot be called as ``target(problem, **params)`` (``seed=`` too when ``seeded``),
        ``required`` is not a tuple of strings (e.g. a bare string), ``problems`` is not a
        string, ``seeded`` is not a bool or ``call`` is not callable.
    """
    if not isinstance(entry, MethodEntry):
        raise TypeError(f"register takes a MethodEntry, got {type(entry).__name__}")
    _check_fields("method", entry.name, entry.params, [("required", entry.required)])
    _check_target(entry.target, f"method {entry.name!r}: target")
    # each was accepted and failed (or misbehaved) only when a spec used the method: a
    # truthy seeded="no" passed seed= to a solver without one, call=None failed each trial
    # and problems=("vector",) was never a generator's kind
    if not isinstance(entry.problems, str) or not entry.problems.strip():
        raise TypeError(f"method {entry.name!r}: problems must be a problem kind (a "
                        f"non-empty string), got {entry.problems!r}")
    if not isinstance(entry.seeded, (bool, np.bool_)):
        raise TypeError(f"method {entry.name!r}: seeded must be a bool, got "
                        f"{entry.seeded!r}")
    if not callable(entry.call):
        raise TypeError(f"method {entry.name!r}: call must be callable, got {entry.call!r}")
    if entry.seeded and "seed" in entry.params:
        # the runner's seed= overrode it: a spec's seed = 5 was silently not used
        raise ValueError(f"method {entry.name!r}: a seeded method receives its seed from "
                         "the runner; 'seed' cannot also be one of its params")
    if entry.batch_target is not None:
        _check_target(entry.batch_target, f"method {entry.name!r}: batch_target")
    if callable(entry.target) and entry.call is _call_problem:
        _check_signature(entry)
    if entry.name in METHODS and not replace:
        raise ValueError(f"method {entry.name!r} is already registered")
    METHODS[entry.name] = entry
    return entry


def _check_signature(entry: MethodEntry) -> None:
    """Refuse a solver function that cannot take the problem and every declared parameter
    (each trial of a sweep was otherwise an error row naming only the function)."""
    try:
        sig = inspect.signature(entry.target)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return
    kw = dict.fromkeys(entry.params)
    if entry.seeded:
        kw["seed"] = 0
    try:
        sig.bind(None, **kw)
    except TypeError as exc:
        name = getattr(entry.target, "__qualname__", "target")
        args = ", ".join(["problem"] + [f"{k}=..." for k in kw])
        raise TypeError(f"method {entry.name!r}: {name}{sig} cannot be called as "
                        f"{name}({args}): {exc}") from None


def get_method(name: str) -> MethodEntry:
    """The registry entry for ``name`` (a clear error listing the known names).

    Parameters
    ----------
    name : str
        Method name, as in ``[[methods]] name = ...``.

    Returns
    -------
    MethodEntry

    Raises
    ------
    KeyError
        If no method of that name is registered.
    """
    try:
        return METHODS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name such as a list
        known = ", ".join(sorted(METHODS))
        raise KeyError(f"unknown method {name!r} (registered: {known})") from None


def available_methods() -> list[str]:
    """Names of the registered methods whose solver modules import."""
    return [name for name, e in sorted(METHODS.items()) if e.available]


_HADAMARD = {"depth": "int", "init_scale": "float", "nonneg": "bool"}


def _builtin() -> None:
    register(MethodEntry(
        "hadamard_gd", "overparam.dynamics:hadamard_gd",
        dict(_HADAMARD, step="str|float", max_iter="int", tol="float", record="int"),
        batch_target="overparam.dynamics:hadamard_gd_batch",
        description="gradient descent on x = u^L - v^L from a small init (jit; trials "
                    "batched with vmap)"))
    register(MethodEntry(
        "hadamard_limit", "overparam.limits:hadamard_limit",
        dict(_HADAMARD, tol="float", max_iter="int", method="str"),
        description="exact limit of the Hadamard gradient flow (Newton on the dual)"))
    register(MethodEntry(
        "basis_pursuit", "overparam.baselines:basis_pursuit",
        {"nonneg": "bool", "method": "str", "tol": "float", "max_iter": "int"},
        description="min ||x||_1 s.t. Ax = y (HiGHS LP or SPGL1)"))
    register(MethodEntry(
        "lasso", "overparam.baselines:lasso",
        {"alpha": "float", "nonneg": "bool", "max_iter": "int", "tol": "float"},
        required=("alpha",),
        description="l1-penalized least squares"))
    register(MethodEntry(
        "nnls", "overparam.baselines:nnls", {"max_iter": "int"},
        description="non-negative least squares (scipy.optimize.nnls)"))
    # matrix problems (x is the vectorized matrix)
    register(MethodEntry(
        "dmf_gd", "overparam.dynamics:dmf_gd",
        {"depth": "int", "init": "str", "init_scale": "float", "scale": "str",
         "balanced": "bool", "step": "str|float", "max_iter": "int", "tol": "float",
         "record": "int", "early_stopping": "bool"},
        batch_target="overparam.dynamics:dmf_gd_batch", seeded=True,
        problems="matrix",
        description="gradient descent on a deep matrix factorization W_N...W_1"))
    register(MethodEntry(
        "nuclear_norm_prox", "overparam.baselines.matrix:nuclear_norm_prox_vec",
        {"lam": "float", "lam_min_ratio": "float", "continuation": "float",
         "max_iter": "int", "tol": "float"},
        problems="matrix",
        description="min ||W||_* s.t. A(W) = y (FISTA-SVT with continuation)"))
    register(MethodEntry(
        "nuclear_norm_cvxpy", "overparam.baselines.matrix:nuclear_norm_cvxpy_vec",
        {"lam": "float", "solver": "str"},
        problems="matrix",
        description="min ||W||_* s.t. A(W) = y with CVXPY (overparam[cvxpy])"))
    register(MethodEntry(
        "min_norm_least_squares", "overparam.baselines.matrix:min_norm_least_squares_vec",
        {"tol": "float", "max_iter": "int"},
        problems="matrix",
        description="minimum-Frobenius-norm least squares (limit of depth-1 GD from 0)"))
    # non-negative least squares front end and projected-gradient baseline
    register(MethodEntry(
        "nnls_solver", "overparam.solvers:nnls",
        {"method": "str", "depth": "int", "init_scale": "float", "tol": "float",
         "max_iter": "int", "interp_tol": "float"},
        description="NNLS front end (coordinate descent, APG, reparametrized GD x = u^L, "
                    "its limit, Lawson-Hanson) with a KKT certificate"))
    register(MethodEntry(
        "projected_gradient", "overparam.baselines:projected_gradient",
        {"accelerated": "bool", "restart": "bool", "tol": "float", "max_iter": "int",
         "gram": "bool|str"},
        description="(accelerated) projected gradient for NNLS"))


_builtin()
