"""Coarse quantization: vertex pre-processing + memoryless scalar quantization (MSQ).

* :func:`vertex`: a point ``z`` with ``Xz = Xw`` in the quantization cells of ``w``, at most
  ``rank(X)`` entries off the alphabet (a vertex of the polytope).
* :func:`layer`, :func:`quantize_network`: neural network weights (vertex-MSQ, MSQ, GPFQ);
  :func:`digits_mlp` trains the small real test case.
* :func:`graph_signal`: bandlimited graph signals (single-shot, MSQ, Sigma-Delta), with the
  graph helpers :func:`make_graph`, :func:`laplacian_eigenvectors`, :func:`incoherence`,
  :func:`bandlimited_signal`, and :func:`halftone` for images.

See ``docs/quantize.md`` for the method, what is inferred about the papers, and what our
runs confirm.
"""
from ._alphabet import alphabet, cells, msq_round
from .graph import (
    GRAPH_KINDS,
    GRAPH_METHODS,
    as_adjacency,
    bandlimited_signal,
    graph_ordering,
    graph_signal,
    grid_adjacency,
    incoherence,
    laplacian_eigenvectors,
    make_graph,
    normalized_laplacian,
    sigma_delta,
)
from .halftone import halftone, shipped_image
from .layer import LAYER_METHODS, gpfq, layer, msq, relative_error
from .network import DigitsTask, accuracy, digits_mlp, forward, quantize_network, train_mlp
from .vertex import vertex, vertex_box

__all__ = [
    "GRAPH_KINDS", "GRAPH_METHODS", "LAYER_METHODS", "DigitsTask", "accuracy", "alphabet",
    "as_adjacency", "bandlimited_signal", "cells", "digits_mlp", "forward", "gpfq",
    "graph_ordering", "graph_signal", "grid_adjacency", "halftone", "incoherence", "layer",
    "laplacian_eigenvectors", "make_graph", "msq", "msq_round", "normalized_laplacian",
    "quantize_network", "relative_error", "shipped_image", "sigma_delta", "train_mlp",
    "vertex", "vertex_box",
]
