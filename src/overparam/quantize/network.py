"""Whole networks: layer-by-layer quantization of a ReLU MLP, and a small MLP on the digits.

A network is a list of ``(W, b)`` pairs with ``W`` of shape (inputs, outputs); hidden layers
apply ReLU, the last is linear (logits). Biases stay in full precision.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._core import Result, Status, as_generator, check_int, check_positive
from .._core.checks import _scalar_of
from ._alphabet import check_bits, check_real
from .layer import LAYER_METHODS, layer

__all__ = ["quantize_network", "forward", "accuracy", "DigitsTask", "digits_mlp",
           "train_mlp"]

Params = list[tuple[np.ndarray, np.ndarray]]


def _check_params(params: Sequence[tuple[Any, Any]]) -> Params:
    if not isinstance(params, (list, tuple)) or not params:
        raise TypeError("params must be a non-empty list of (W, b) pairs")
    out = []
    for i, pair in enumerate(params):
        if len(pair) != 2:
            raise TypeError(f"params[{i}] must be a (W, b) pair")
        W = check_real(pair[0], f"params[{i}].W", ndim=2)
        b = check_real(pair[1], f"params[{i}].b", ndim=1)
        if b.shape[0] != W.shape[1]:
            raise ValueError(f"params[{i}]: b has {b.shape[0]} entries, W has {W.shape[1]} "
                             "outputs")
        if out and out[-1][0].shape[1] != W.shape[0]:
            raise ValueError(f"params[{i}].W has {W.shape[0]} inputs, the previous layer "
                             f"{out[-1][0].shape[1]} outputs")
        out.append((W, b))
    return out


def forward(params: Params, X: np.ndarray, upto: int | None = None) -> np.ndarray:
    """Outputs of the network (or the inputs of layer ``upto``): ReLU between layers.

    Parameters
    ----------
    params : list of (W, b)
        The network, as in :func:`quantize_network`: ``W`` of shape (inputs, outputs),
        real arrays of any kind (converted to NumPy float64: JAX weights gave a JAX
        float32 result, and :func:`accuracy` a float32 mean, 0.15000000596 for 0.15).
    X : array of shape (m, inputs)
        The inputs, one sample per row.
    upto : int, optional
        Apply only the first ``upto`` layers, giving the inputs of layer ``upto``
        (0-based); default None: all layers, the logits.

    Returns
    -------
    ndarray of shape (m, width)
    """
    params = _check_params(params)
    # X went through np.asarray: complex lost its imaginary part (a ComplexWarning), NaN
    # gave NaN logits, and the wrong width failed inside matmul's gufunc signature
    h = check_real(X, "X", ndim=2)
    if h.shape[1] != params[0][0].shape[0]:
        raise ValueError(f"X has {h.shape[1]} columns, the network {params[0][0].shape[0]} "
                         "inputs")
    # upto=-1 applied all layers but the last, and upto beyond the depth all of them,
    # silently (a slice); upto=1.5 failed as a slice index
    L = len(params) if upto is None else check_int(upto, "upto", minimum=0)
    if L > len(params):
        raise ValueError(f"upto must be <= {len(params)} (the number of layers), got {L}")
    for i, (W, b) in enumerate(params[:L]):
        h = h @ W + b
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
    return h


def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of ``X`` whose argmax logit is ``y``.

    Parameters
    ----------
    params : list of (W, b)
        The network (see :func:`forward`).
    X : array of shape (m, inputs)
        The inputs.
    y : array of int of shape (m,)
        The true classes.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        When ``y`` is not one integer label per row of ``X`` (a column ``y[:, None]``
        compared all pairs, float labels matched nothing).
    """
    logits = forward(params, X)
    y = np.asarray(y)
    if y.shape != (logits.shape[0],):
        raise ValueError(f"y must have shape ({logits.shape[0]},), one label per row of X, "
                         f"got {y.shape}")
    if y.dtype.kind not in "iu":
        if not (y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    return float(np.mean(np.argmax(logits, axis=1) == y))


def quantize_network(params: Sequence[tuple[Any, Any]], X: Any, bits: int = 2,
                     method: str = "vertex-msq", *, samples_per_input: float = 0.5,
                     scale: Any = None, **kw: Any) -> Result:
    """Quantize every weight matrix of a ReLU MLP, layer by layer.

    Layer ``l`` is quantized against the inputs the *quantized* network feeds it
    (``Xq``: the previous layers already quantized); GPFQ also sees the analog inputs and
    matches ``Xq q`` to ``X w`` (its published form), vertex-MSQ keeps ``Xq z = Xq w``.

    Parameters
    ----------
    params : list of (W, b)
        ``W`` of shape (inputs, outputs). Biases are kept in full precision.
    X : array of shape (m, inputs)
        Training inputs used to quantize. A layer with ``N`` inputs uses the first
        ``min(m, floor(samples_per_input * N))`` rows (vertex-MSQ needs fewer samples than
        inputs; all methods use the same rows).
    bits : int >= 1
    method : {"vertex-msq", "msq", "gpfq"}
    samples_per_input : float in (0, 1)
    scale : see :func:`~overparam.quantize.layer.layer`
    **kw
        Passed to :func:`~overparam.quantize.layer.layer`.

    Returns
    -------
    Result
        ``x``: the concatenated quantized weights; ``info["params"]``: the quantized
        network; ``info["layers"]``: per layer ``rel_error`` (mean over neurons),
        ``samples``, ``n_free`` (vertex-MSQ: mean coordinates rounded off the vertex).
        The status is that of the first layer that did not succeed (its message names
        the layer), else ``CONVERGED``.
    """
    t0 = time.perf_counter()
    bits = check_bits(bits)
    if method not in LAYER_METHODS:
        raise ValueError(f"method must be one of {LAYER_METHODS}, got {method!r}")
    # a string or an array failed in the comparison ("'<' not supported", "truth value of
    # an array is ambiguous")
    if (isinstance(samples_per_input, (bool, np.bool_))
            or not isinstance(_scalar_of(samples_per_input), numbers.Real)):
        raise TypeError(f"samples_per_input must be a real number in (0, 1), got "
                        f"{type(samples_per_input).__name__} {samples_per_input!r}")
    if not 0 < samples_per_input < 1:
        raise ValueError(f"samples_per_input must be in (0, 1), got {samples_per_input}")
    net = _check_params(params)
    X = check_real(X, "X", ndim=2)
    if X.shape[1] != net[0][0].shape[0]:
        raise ValueError(f"X has {X.shape[1]} columns, the network {net[0][0].shape[0]} "
                         "inputs")
    qnet: Params = []
    h, hq = X, X
    layers = []
    # a layer's failure (vertex-MSQ: NUMERICAL_ERROR) is the network's: it was reported as
    # CONVERGED whatever the layers said
    status, messages = Status.CONVERGED, []
    for i, (W, b) in enumerate(net):
        N = W.shape[0]
        m = int(min(X.shape[0], max(1, np.floor(samples_per_input * N))))
        try:
            res = layer(W, h[:m], bits, method, scale=scale,
                        Xq=None if i == 0 else hq[:m], **kw)
        except ValueError as err:  # e.g. a scale below this layer's weights: say which
            raise ValueError(f"layer {i} (weights {W.shape}): {err}") from err
        Q = res.x
        # a copy: the input's own bias array was returned, so an in-place bias correction
        # of the quantized network changed the analog one (and a cached DigitsTask)
        qnet.append((Q, b.copy()))
        if not res.status.success:
            status = res.status if status.success else status
            messages.append(f"layer {i}: {res.message}")
        # all NaN (X w = 0 for every neuron, e.g. zero weights or inputs): nanmean warned
        # "Mean of empty slice" (an error where warnings are errors)
        err = np.asarray(res.info["rel_error"])
        entry = dict(samples=m, rel_error=float(np.nanmean(err)) if np.any(~np.isnan(err))
                     else float("nan"))
        if "n_free" in res.info:
            entry["n_free"] = float(np.mean(res.info["n_free"]))
        layers.append(entry)
        if i < len(net) - 1:
            h = np.maximum(h @ W + b, 0.0)
            hq = np.maximum(hq @ Q + b, 0.0)
    x = np.concatenate([Q.ravel() for Q, _ in qnet])
    return Result(x=x, status=status, message="; ".join(messages), n_iter=len(net),
                  fun=layers[-1]["rel_error"], wall_time=time.perf_counter() - t0,
                  info=dict(params=qnet, layers=layers, bits=bits, method=method))


# -- the digits MLP ------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class DigitsTask:
    """A trained MLP on scikit-learn's digits and its data split (a "problem" for specs).

    ``n`` is the number of weights, so a quantization Result's ``x`` has ``n`` entries.

    Attributes
    ----------
    params : list of (W, b)
        The trained network (see :func:`forward`).
    X_train, y_train : ndarray
        Training inputs ``(m, 64)`` in [0, 1] and their classes.
    X_test, y_test : ndarray
        Held-out inputs and classes.
    info : dict
        Training parameters (``hidden``, ``epochs``, ``seed``).
    """

    params: Params
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    info: dict

    @property
    def n(self) -> int:
        return int(sum(W.size for W, _ in self.params))

    @property
    def test_accuracy(self) -> float:
        return accuracy(self.params, self.X_test, self.y_test)


def train_mlp(X: np.ndarray, y: np.ndarray, hidden: Sequence[int], *, epochs: int,
              batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 0,
              weight_decay: float = 0.0) -> Params:
    """Train a ReLU MLP with cross-entropy and Adam (JAX + optax), minibatches, seeded.

    Parameters
    ----------
    X : array of shape (m, d)
        Training inputs.
    y : array of int of shape (m,)
        Classes ``0, ..., k - 1``; the network has ``max(y) + 1`` outputs.
    hidden : sequence of int
        Hidden layer widths (>= 1; an int: one hidden layer).
    epochs : int
        Passes over the data (keyword only, required; 0: the initial weights).
    batch_size : int, optional
        Minibatch size (default 64); each epoch takes ``max(1, m // batch_size)``
        minibatches of a fresh permutation, so a last partial batch is left out.
    learning_rate : float, optional
        Adam step size (default 1e-3).
    seed : int, optional
        Seeds the He-normal initialization and the minibatch order (default 0).
    weight_decay : float, optional
        Decoupled weight decay of ``optax.adamw`` (default 0: plain Adam).

    Returns
    -------
    list of (W, b)
        NumPy float64 weights, ``W`` of shape (inputs, outputs).
    """
    # unchecked, these trained silently on garbage: labels -1 (an all-zero one-hot) or 1.5
    # (truncated), fewer labels than rows (JAX clamps out-of-range indices), NaN inputs or
    # learning rate (NaN weights), epochs or batch_size < 0; others failed obscurely
    # (batch_size=0, a width 0: ZeroDivisionError; 1-D X: IndexError)
    X = check_real(X, "X", ndim=2)
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), one label per row of X, got "
                         f"{y.shape}")
    if y.dtype.kind not in "iu" and not (
            y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0:
        raise ValueError(f"y must hold class labels >= 0, got {y.min()}")
    y = y.astype(np.int64)
    hidden = ((check_int(hidden, "hidden", minimum=1),) if not isinstance(hidden, (list, tuple))
              and np.ndim(hidden) == 0 else
              tuple(check_int(h, "hidden width", minimum=1) for h in hidden))
    epochs = check_int(epochs, "epochs", minimum=0)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    learning_rate = check_positive(learning_rate, "learning_rate")
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)

    import jax
    import jax.numpy as jnp
    import optax

    rng = as_generator(seed)
    sizes = [X.shape[1], *hidden, int(np.max(y)) + 1]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params.append((jnp.asarray(rng.standard_normal((a, b)) * np.sqrt(2.0 / a)),
                       jnp.zeros(b)))

    def loss(p, xb, yb):
        h = xb
        for i, (W, b) in enumerate(p):
            h = h @ W + b
            if i < len(p) - 1:
                h = jax.nn.relu(h)
        return optax.softmax_cross_entropy_with_integer_labels(h, yb).mean()

    opt = optax.adamw(learning_rate, weight_decay=weight_decay)

    @jax.jit
    def step(p, s, xb, yb):
        g = jax.grad(loss)(p, xb, yb)
        upd, s = opt.update(g, s, p)
        return optax.apply_updates(p, upd), s

    Xj, yj = jnp.asarray(X, dtype=jnp.float64), jnp.asarray(y, dtype=jnp.int32)
    n = X.shape[0]
    nb = max(1, n // batch_size)
    # optax's bias correction mixes a Python float and an int32 step count, which JAX's
    # "strict" promotion mode (used by the test suite) refuses: train under "standard"
    with jax.numpy_dtype_promotion("standard"):
        state = opt.init(params)
        for _ in range(epochs):
            perm = rng.permutation(n)
            for k in range(nb):
                idx = perm[k * batch_size:(k + 1) * batch_size]
                params, state = step(params, state, Xj[idx], yj[idx])
    return [(np.asarray(W, dtype=float), np.asarray(b, dtype=float)) for W, b in params]


def digits_mlp(hidden: int | Sequence[int] = (256, 256), *, epochs: int = 60,
               test_fraction: float = 0.3, seed: int = 0) -> DigitsTask:
    """Train a ReLU MLP on scikit-learn's 8x8 digits (shipped data; inputs scaled to [0, 1]).

    Parameters
    ----------
    hidden : int or sequence of int
        Hidden layer widths (an int: one hidden layer).
    epochs : int
        Adam epochs over the training split (minibatches of 64).
    test_fraction : float
        Held-out fraction (stratified, seeded).
    seed : int
        Seeds the split, the initialization and the minibatch order.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    hidden = (hidden,) if isinstance(hidden, (int, np.integer)) else tuple(hidden)
    for h in hidden:
        check_int(h, "hidden width", minimum=1)
    check_int(epochs, "epochs", minimum=1)
    # scikit-learn reads an int >= 1 as a count of samples (test_fraction=10: 10 samples)
    if (isinstance(test_fraction, (bool, np.bool_))
            or not isinstance(test_fraction, (float, np.floating))
            or not 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must be a float in (0, 1), got {test_fraction!r}")
    data = load_digits()
    X = data.data / 16.0
    Xtr, Xte, ytr, yte = train_test_split(X, data.target, test_size=test_fraction,
                                          random_state=int(seed) % 2**32,
                                          stratify=data.target)
    params = train_mlp(Xtr, ytr, hidden, epochs=epochs, seed=seed)
    return DigitsTask(params, Xtr, ytr, Xte, yte,
                      dict(hidden=list(hidden), epochs=epochs, seed=seed))
