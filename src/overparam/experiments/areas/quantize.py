"""Registry entries of the quantize area (see the package docstring).

Generators: ``quantize_layer`` (Gaussian layer inputs, one neuron per trial),
``quantize_graph`` (an r-bandlimited signal on a generated graph), ``quantize_image`` (a
shipped image on its grid graph, serpentine node order) and ``digits_mlp`` (a trained MLP
on scikit-learn's digits). Methods: ``vertex_msq`` (``single_shot`` on graph
problems is the same algorithm), ``msq``, ``gpfq``, ``sigma_delta``. Metrics:
``layer_error``, ``graph_error``, ``mu``, ``mu_factor``, ``quantized_accuracy``,
``full_accuracy``, ``accuracy_drop``, ``n_free``. Targets live in
:mod:`overparam.quantize.tasks` and are imported on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

from ..generators import GeneratorEntry, register_generator
from ..measures import MetricEntry, register_metric
from ..methods import MethodEntry, register

_T = "overparam.quantize.tasks"

register_generator(GeneratorEntry(
    "quantize_layer", f"{_T}:layer_problem", {"m": "int", "N": "int", "weights": "str"},
    required=("m", "N"), choices=(("weights", ("gaussian", "uniform")),), kinds=("vector",),
    minimum=(("m", 1), ("N", 2))))
register_generator(GeneratorEntry(
    "quantize_graph", f"{_T}:graph_problem",
    {"kind": "str", "n": "int", "r": "int", "degree": "float"}, required=("kind", "n", "r"),
    choices=(("kind", ("geometric", "grid", "erdos-renyi", "mesh", "triangular",
                       "small-world", "barabasi-albert", "clustered", "lollipop",
                       "hub")),), kinds=("vector",), minimum=(("n", 4), ("r", 1))))
register_generator(GeneratorEntry(
    "quantize_image", f"{_T}:image_problem", {"image": "str", "size": "int", "r": "int"},
    choices=(("image", ("camera", "ascent")),), kinds=("vector",),
    minimum=(("size", 4), ("r", 1))))
# (kinds undeclared: the quantize methods, declared "vector", quantize a trained network,
# the other vector methods fail on it, and one kind cannot say so: no method is refused)
register_generator(GeneratorEntry(
    "digits_mlp", f"{_T}:digits_task", {"hidden": "int", "depth": "int", "epochs": "int"},
    minimum=(("hidden", 1), ("depth", 1), ("epochs", 1))))

_LAYER = {"bits": "int", "samples_per_input": "float"}
for _name, _fn, _desc in [
        ("vertex_msq", "vertex_msq", "vertex pre-processing (Xz = Xw, <= rank X entries off "
                                     "the alphabet) then MSQ; on graphs: single-shot"),
        ("single_shot", "vertex_msq", "single-shot noise shaping (= vertex_msq) for graph "
                                      "signals"),
        ("msq", "msq_method", "memoryless scalar quantization (round each entry)"),
        ("gpfq", "gpfq_method", "greedy path-following quantization (Lybrand & Saab)")]:
    register(MethodEntry(_name, f"{_T}:{_fn}", dict(_LAYER), description=_desc))
register(MethodEntry("sigma_delta", f"{_T}:sigma_delta_method", {"bits": "int"},
                     description="first-order Sigma-Delta in index order (graph problems: "
                                 "reverse Cuthill-McKee order)"))


def _lazy(name: str):
    def fn(*args: Any) -> float:
        return getattr(importlib.import_module(_T), name)(*args)
    fn.__name__ = name
    return fn


for _metric, _target, _kw in [
        ("layer_error", "layer_error", dict(needs_truth=True,
                                            description="||A(x_true - x)|| / ||A x_true||")),
        ("graph_error", "graph_error", dict(needs_truth=True,
                                            description="||L_r(f - q)|| / ||f|| (A = X_r^T)")),
        ("mu", "mu_metric", dict(description="incoherence mu(X_r) of a graph problem")),
        ("mu_factor", "mu_factor", dict(description="mu(X_r) r / sqrt(N)")),
        ("quantized_accuracy", "quantized_accuracy",
         dict(takes_result=True, description="test accuracy of the quantized network")),
        ("full_accuracy", "full_accuracy",
         dict(takes_result=True, description="test accuracy of the full-precision network")),
        ("accuracy_drop", "accuracy_drop",
         dict(takes_result=True, description="full minus quantized test accuracy")),
        ("n_free", "n_free",
         dict(takes_result=True, description="entries off the alphabet at the vertex"))]:
    register_metric(MetricEntry(_metric, _lazy(_target), **_kw))
