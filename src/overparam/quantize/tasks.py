"""Problem generators and solver adapters for experiment specs (registered in
``overparam.experiments.areas.quantize``).

* ``layer_problem``: one neuron ``w`` and Gaussian layer inputs ``X`` (m x N) as a
  :class:`~overparam.problems.Problem` with ``A = X``, ``x_true = w``, ``y = Xw``.
* ``graph_problem``: an r-bandlimited signal ``f`` on a generated graph as a Problem with
  ``A = X_r^T``, ``x_true = f`` (nodes relabelled in reverse Cuthill-McKee order, so the
  index order is the Sigma-Delta ordering); ``info["mu"]`` is the incoherence.
* ``digits_task``: a trained digits MLP (cached per process by its parameters and seed).

Every adapter quantizes ``x_true`` of any Problem against its ``A`` (so the registry's
contract tests can run them on sparse recovery problems too), or a whole network for a
:class:`~overparam.quantize.network.DigitsTask`.
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
from scipy.sparse.csgraph import reverse_cuthill_mckee

from .._core import Result, Status, as_generator, check_int, pow2_exponent
from ._alphabet import check_bits
from .graph import (bandlimited_signal, incoherence, laplacian_eigenvectors, make_graph,
                    sigma_delta)
from .layer import layer, relative_error
from .network import DigitsTask, accuracy, digits_mlp, quantize_network

__all__ = ["layer_problem", "graph_problem", "image_problem", "digits_task", "vertex_msq",
           "msq_method", "gpfq_method", "sigma_delta_method"]


def layer_problem(m: int, N: int, weights: str = "gaussian", *, seed: int):
    """Gaussian inputs ``X`` (m x N, unit variance) and one neuron ``w`` (Gaussian or
    uniform on [-1, 1]) as a Problem ``(A = X, y = Xw, x_true = w)``.

    Parameters
    ----------
    m : int
        Number of input samples (rows of ``X``, >= 1).
    N : int
        Number of inputs of the neuron (>= 2).
    weights : {"gaussian", "uniform"}, optional
        Distribution of ``w``: N(0, 1) (default) or U[-1, 1].
    seed : int
        Source of ``X`` and ``w`` (keyword only, required).

    Returns
    -------
    Problem
        ``info`` records ``m``, ``N``, ``weights`` and ``seed``.
    """
    from ..problems import Problem

    m, N = check_int(m, "m", minimum=1), check_int(N, "N", minimum=2)
    rng = as_generator(seed)
    X = rng.standard_normal((m, N))
    if weights == "gaussian":
        w = rng.standard_normal(N)
    elif weights == "uniform":
        w = rng.uniform(-1.0, 1.0, N)
    else:
        raise ValueError(f"weights must be 'gaussian' or 'uniform', got {weights!r}")
    return Problem(X, X @ w, x_true=w, info=dict(m=m, N=N, weights=weights, seed=seed))


def graph_problem(kind: str, n: int, r: int, degree: float = 0.0, *, seed: int):
    """An r-bandlimited signal (``||f||_inf = 1``) on a ``make_graph(kind, n)`` graph as a
    Problem ``(A = X_r^T, y = X_r^T f, x_true = f)``, nodes in reverse Cuthill-McKee order.

    Parameters
    ----------
    kind : str
        One of :data:`~overparam.quantize.GRAPH_KINDS` (see :func:`make_graph`).
    n : int
        Number of nodes (>= 4; ``"grid"`` and ``"triangular"`` give about ``n``).
    r : int
        Bandwidth: the number of Laplacian eigenvectors in ``X_r`` (``1 <= r <= N``).
    degree : float, optional
        ``degree`` of :func:`make_graph`; 0 (default) for its default.
    seed : int
        Seeds the graph and the signal (keyword only, required).

    Returns
    -------
    Problem
        ``info`` records ``kind``, ``n`` (the actual node count ``N``), ``r``, ``mu``
        (the incoherence of ``X_r``) and ``seed``.
    """
    from ..problems import Problem

    r = check_int(r, "r", minimum=1)
    A = make_graph(kind, n, seed=seed, degree=degree or None)
    order = np.asarray(reverse_cuthill_mckee(A, symmetric_mode=True))
    A = A[order][:, order]
    _, Xr = laplacian_eigenvectors(A, r)
    f = bandlimited_signal(Xr, seed=seed)
    N = A.shape[0]
    return Problem(Xr.T, Xr.T @ f, x_true=f,
                   info=dict(kind=kind, n=N, r=r, mu=incoherence(Xr), seed=seed))


def image_problem(image: str = "camera", size: int = 64, r: int = 100, *, seed: int = 0):
    """A shipped image (``shipped_image``, values in [-1, 1]) as a signal on its grid graph:
    a Problem ``(A = X_r^T, y = X_r^T f, x_true = f)`` with the pixels in serpentine scan
    order, so that index-order Sigma-Delta is the classic serpentine error diffusion.
    Deterministic (``seed`` is unused).

    Parameters
    ----------
    image : {"camera", "ascent"}, optional
        The image (default ``"camera"``).
    size : int, optional
        Side in pixels (default 64; at least 4 and a divisor of 512).
    r : int, optional
        Bandwidth (default 100; ``1 <= r <= size^2``).
    seed : int, optional
        Unused (the problem generators' signature).

    Returns
    -------
    Problem
        ``info`` records ``image``, ``n`` (pixels), ``r`` and ``mu``.
    """
    from ..problems import Problem
    from .graph import grid_adjacency
    from .halftone import shipped_image

    img = shipped_image(image, size)
    _, Xr = laplacian_eigenvectors(grid_adjacency(size, size), check_int(r, "r", minimum=1))
    idx = np.arange(size * size).reshape(size, size)
    idx[1::2] = idx[1::2, ::-1]
    perm = idx.ravel()
    Xr, f = Xr[perm], img.ravel()[perm]
    return Problem(Xr.T, Xr.T @ f, x_true=f,
                   info=dict(image=image, n=size * size, r=r, mu=incoherence(Xr)))


@functools.lru_cache(maxsize=8)
def _digits_cached(hidden: tuple[int, ...], epochs: int, seed: int) -> DigitsTask:
    return digits_mlp(hidden, epochs=epochs, seed=seed)


def digits_task(hidden: int = 256, depth: int = 2, epochs: int = 40, *, seed: int):
    """A ReLU MLP with ``depth`` hidden layers of width ``hidden`` trained on the digits.

    Parameters
    ----------
    hidden : int, optional
        Width of each hidden layer (>= 1, default 256).
    depth : int, optional
        Number of hidden layers (>= 1, default 2).
    epochs : int, optional
        Training epochs (>= 1, default 40).
    seed : int
        Seeds the split, the initialization and the minibatches (keyword only, required;
        taken modulo ``2**31``).

    Returns
    -------
    DigitsTask
        Cached per process (8 entries) by its parameters: callers share the object.
    """
    depth = check_int(depth, "depth", minimum=1)
    return _digits_cached((check_int(hidden, "hidden", minimum=1),) * depth,
                          check_int(epochs, "epochs", minimum=1),
                          # int(seed): None failed in int(), 1.7 was truncated to 1
                          check_int(seed, "seed") % 2**31)


def _weights(problem: Any) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(problem.A.to_dense(), dtype=float)
    w = problem.x_true
    if w is None:  # no planted weights: the minimum-norm interpolant of y
        w = np.linalg.lstsq(X, problem.y, rcond=None)[0]
    return X, np.asarray(w, dtype=float)


def _network(problem: DigitsTask, bits: int, method: str, samples_per_input: float
             ) -> Result:
    res = quantize_network(problem.params, problem.X_train, bits, method,
                           samples_per_input=samples_per_input)
    res.info.update(test_accuracy=accuracy(res.info["params"], problem.X_test,
                                           problem.y_test),
                    full_accuracy=problem.test_accuracy)
    res.info.pop("params")
    return res


def _layer_adapter(method: str):
    def solve(problem: Any, bits: int = 2, samples_per_input: float = 0.5) -> Result:
        bits = check_bits(bits)
        if isinstance(problem, DigitsTask):
            return _network(problem, bits, method, samples_per_input)
        X, w = _weights(problem)
        return layer(w, X, bits, method)
    solve.__name__ = method.replace("-", "_")
    solve.__doc__ = (f"``{method}`` of ``x_true`` against ``A`` (or of a whole DigitsTask "
                     "network); alphabet scale ``max |x_true|``.\n\n"
                     "Parameters\n----------\n"
                     "problem : Problem or DigitsTask\n"
                     "    A Problem: its ``x_true`` (else the minimum-norm solution of\n"
                     "    ``A x = y``) is quantized as one neuron against the inputs\n"
                     "    ``A``. A DigitsTask: the whole network, layer by layer.\n"
                     "bits : int, optional\n"
                     "    Bits per weight, 1 to 24 (default 2).\n"
                     "samples_per_input : float, optional\n"
                     "    In (0, 1), default 0.5: the samples per layer input of\n"
                     "    :func:`~overparam.quantize.quantize_network` (networks only).\n\n"
                     "Returns\n-------\nResult\n"
                     "    That of :func:`~overparam.quantize.layer` or, for a network,\n"
                     "    :func:`~overparam.quantize.quantize_network` with\n"
                     "    ``info[\"test_accuracy\"]`` and ``info[\"full_accuracy\"]``.\n")
    return solve


vertex_msq = _layer_adapter("vertex-msq")
msq_method = _layer_adapter("msq")
gpfq_method = _layer_adapter("gpfq")


def sigma_delta_method(problem: Any, bits: int = 1) -> Result:
    """First-order Sigma-Delta of ``x_true`` in index order (graph problems: the reverse
    Cuthill-McKee order), alphabet scale ``max |x_true|``.

    Parameters
    ----------
    problem : Problem
        Its ``x_true`` (else the minimum-norm solution of ``A x = y``) is quantized;
        the error is measured through ``A``.
    bits : int, optional
        Bits per entry, 1 to 24 (default 1).

    Returns
    -------
    Result
        ``x`` the quantized vector, ``fun`` and ``info["rel_error"]`` the error
        ``||A(x_true - q)|| / ||A x_true||``, ``info["scale"]`` the alphabet scale.
    """
    t0 = time.perf_counter()
    bits = check_bits(bits)
    X, w = _weights(problem)
    c = float(np.abs(w).max())
    q = c * sigma_delta(w / c, bits) if c > 0 else np.zeros_like(w)
    err = float(relative_error(X, w[:, None], q[:, None])[0])
    return Result(x=q, status=Status.CONVERGED, n_iter=w.size, fun=err,
                  wall_time=time.perf_counter() - t0,
                  info=dict(rel_error=err, bits=bits, scale=c, method="sigma-delta"))


# -- metrics ---------------------------------------------------------------------------------

def layer_error(problem: Any, x: np.ndarray, ref: Any, tol: float) -> float:
    """``||A(x_true - x)|| / ||A x_true||`` (NaN where ``A x_true = 0``).

    Parameters
    ----------
    problem : Problem
        A layer problem (:func:`layer_problem`): ``A = X``, ``x_true = w``.
    x : ndarray of shape (n,)
        The quantized weights.
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`).
    """
    X, w = _weights(problem)
    return float(relative_error(X, np.reshape(w, (-1, 1)), np.reshape(x, (-1, 1)))[0])


def graph_error(problem: Any, x: np.ndarray, ref: Any, tol: float) -> float:
    """``||A(x_true - x)|| / ||x_true||`` (with ``A = X_r^T``: ``||L_r(f - q)|| / ||f||``).

    NaN where ``x_true = 0``.

    Parameters
    ----------
    problem : Problem
        A graph problem (:func:`graph_problem`, :func:`image_problem`).
    x : ndarray of shape (n,)
        The quantized signal.
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`).
    """
    X, w = _weights(problem)
    x = np.asarray(x, dtype=float)
    # an x of shape (N, 1) broadcast w - x to N x N (a Frobenius norm of the wrong thing)
    if x.shape != w.shape:
        raise ValueError(f"x must have shape {w.shape} (one entry per node), got {x.shape}")
    # in units of powers of two (exact): X (w - x) and ||w|| neither over- nor underflow
    eX = pow2_exponent(np.abs(X).max(initial=0.0))
    ew = pow2_exponent(np.abs(w).max(initial=0.0))
    num = np.linalg.norm(np.ldexp(X, -eX) @ (np.ldexp(w, -ew) - np.ldexp(x, -ew)))
    den = np.linalg.norm(np.ldexp(w, -ew))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return float(np.ldexp(num / den, eX)) if den > 0 else float("nan")


def mu_metric(problem: Any, x: np.ndarray, ref: Any, tol: float) -> float:
    """Incoherence ``mu(X_r)`` of a graph problem (NaN otherwise).

    Parameters
    ----------
    problem : Problem
        Read from ``info["mu"]``.
    x : ndarray of shape (n,)
        Unused.
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`).
    """
    return float(getattr(problem, "info", {}).get("mu", np.nan))


def mu_factor(problem: Any, x: np.ndarray, ref: Any, tol: float) -> float:
    """``mu(X_r) r / sqrt(N)``, the factor of the single-shot bound (NaN if not a graph).

    Parameters
    ----------
    problem : Problem
        Read from ``info`` (``mu``, ``r``, ``n``).
    x : ndarray of shape (n,)
        Unused.
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`).
    """
    info = getattr(problem, "info", {})
    if "mu" not in info:
        return float("nan")
    return float(info["mu"] * info["r"] / np.sqrt(info["n"]))


def quantized_accuracy(problem: Any, result: Result, ref: Any, tol: float) -> float:
    """Test accuracy of the quantized network (from ``Result.info``; NaN if absent).

    Parameters
    ----------
    problem : DigitsTask or Problem
        Unused.
    result : Result
        Of a network quantization (``info["test_accuracy"]``).
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`; this metric takes the Result).
    """
    return float(result.info.get("test_accuracy", np.nan))


def full_accuracy(problem: Any, result: Result, ref: Any, tol: float) -> float:
    """Test accuracy of the full-precision network (from ``Result.info``; NaN if absent).

    Parameters
    ----------
    problem : DigitsTask or Problem
        Unused.
    result : Result
        Of a network quantization (``info["full_accuracy"]``).
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`; this metric takes the Result).
    """
    return float(result.info.get("full_accuracy", np.nan))


def accuracy_drop(problem: Any, result: Result, ref: Any, tol: float) -> float:
    """Full-precision minus quantized test accuracy (NaN unless both are recorded).

    Parameters
    ----------
    problem : DigitsTask or Problem
        Unused.
    result : Result
        Of a network quantization.
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`; this metric takes the Result).
    """
    i = result.info
    return float(i.get("full_accuracy", np.nan) - i.get("test_accuracy", np.nan))


def n_free(problem: Any, result: Result, ref: Any, tol: float) -> float:
    """Coordinates off the alphabet at the vertex (rounded by MSQ); NaN for other methods.

    The mean over neurons when ``info["n_free"]`` holds several; NaN for a whole network
    (its counts are per layer, in ``info["layers"]``).

    Parameters
    ----------
    problem : DigitsTask or Problem
        Unused.
    result : Result
        Of a vertex-MSQ quantization (``info["n_free"]``).
    ref, tol
        Unused (the metric signature ``(problem, x, ref, tol)`` of
        :mod:`overparam.experiments.measures`; this metric takes the Result).
    """
    return float(np.mean(result.info.get("n_free", np.nan)))


__all__ += ["layer_error", "graph_error", "mu_metric", "mu_factor", "quantized_accuracy",
            "full_accuracy", "accuracy_drop", "n_free"]
