"""Regression tasks with a held-out test set: sparse linear regression and digits.

* :func:`sparse_regression` -- ``y = A x_true + noise`` with a second, independent set of
  test rows drawn from the same distribution, so that the test error of a diagonal
  network's estimate can be measured (:class:`RegressionProblem`).
* :func:`digits_regression` -- scikit-learn's 8x8 digits (1797 images, shipped inside
  scikit-learn: no download), one-hot targets for full-batch MSE training of a small
  network (:class:`DigitsProblem`); the operator is the identity on the vector of all
  predictions (see :class:`overparam.models.TwoLayerNet`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core import (as_generator, check_int, check_not_complex,
                     check_positive, check_real_array)
from .matrix import MatrixIdentity, _IdentityForward
from .operators import OPERATORS, as_operator
from .problem import Problem
from .sparse import sparse_vector

__all__ = ["Identity", "RegressionProblem", "DigitsProblem", "sparse_regression",
           "digits_regression"]


class Identity(MatrixIdentity):
    """The identity on R^n (matrix-free) whose JAX forward map is one shared object, so
    that every run on an identity of this size reuses one compiled program (the matrix
    identity makes a new forward per call).

    Parameters
    ----------
    n : int
        Dimension (>= 1): the operator is ``n x n`` (a :class:`MatrixIdentity` of shape
        ``(n, 1)``).
    """

    def __init__(self, n: int):
        super().__init__(n, 1)

    def jax_forward_data(self):
        return _IDENTITY_FORWARD, None


_IDENTITY_FORWARD = _IdentityForward()


@dataclass(frozen=True, eq=False)
class RegressionProblem(Problem):
    """A :class:`Problem` with held-out test data ``(A_test, y_test)``.

    ``test_error(x)`` is the test mean squared error ``||A_test x - y_test||^2 / m_test``.

    Attributes
    ----------
    A, y, x_true, noise, info
        As in :class:`Problem`.
    A_test : ndarray of shape (m_test, n)
        Test rows (real, finite; required although it has a default of None).
    y_test : ndarray of shape (m_test,)
        Test targets (real, finite; required).
    """

    A_test: Any = None
    y_test: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.A_test is None or self.y_test is None:
            raise ValueError("a RegressionProblem needs A_test and y_test")
        # real: a complex test set was accepted and made test_error fail (or, cast to
        # float, drop its imaginary part)
        At = check_real_array(self.A_test, "A_test", ndim=2)
        yt = check_real_array(self.y_test, "y_test", ndim=1)
        if At.shape[1] != self.n:
            raise ValueError(f"A_test has {At.shape[1]} columns, A has {self.n}")
        if At.shape[0] != yt.shape[0]:
            raise ValueError(f"A_test has {At.shape[0]} rows but y_test {yt.shape[0]} entries")
        At.setflags(write=False)
        yt.setflags(write=False)
        object.__setattr__(self, "A_test", At)
        object.__setattr__(self, "y_test", yt)

    def test_error(self, x: Any) -> float:
        """Test mean squared error of the linear predictor ``x``."""
        # np.asarray(x, dtype=float) dropped an imaginary part with only a warning, and
        # reshape(-1) took any array of n entries (e.g. shape (2, n/2)) as a vector
        x = check_real_array(x, "x")
        if np.squeeze(x).ndim > 1 or x.size != self.n:
            raise ValueError(f"x must be a vector of {self.n} entries, got shape {x.shape}")
        x = x.reshape(-1)
        r = self.A_test @ x - self.y_test
        return float(r @ r) / r.shape[0]


def sparse_regression(
    n: int,
    m: int,
    s: int,
    *,
    m_test: int = 500,
    noise: float = 0.0,
    operator: str = "gaussian",
    signal: str = "gaussian",
    seed: int | np.random.Generator,
) -> RegressionProblem:
    """Sparse linear regression with ``m`` training and ``m_test`` test rows.

    Rows of both sets are i.i.d. from one ensemble (``"gaussian"``: N(0, 1/m) entries;
    ``"rademacher"``: +-1/sqrt(m)), ``x_true`` is s-sparse (:func:`sparse_vector`) and both
    targets carry i.i.d. N(0, noise^2) noise. The test MSE of ``x_true`` itself is about
    ``noise^2``. The training data ``(A, x_true, y)`` do not depend on ``m_test``.

    Parameters
    ----------
    n : int
        Signal length (>= 1).
    m : int
        Number of training rows (>= 1).
    s : int
        Number of nonzeros of ``x_true``, ``0 <= s <= n``.
    m_test : int, optional
        Number of test rows (>= 1, default 500).
    noise : float, optional
        Standard deviation of the noise on each target, >= 0 (default 0).
    operator : {"gaussian", "rademacher"}, optional
        Row ensemble, scaled by ``1/sqrt(m)`` for both sets (default ``"gaussian"``).
    signal : {"gaussian", "sign", "uniform"}, optional
        Distribution of the nonzero values (see :func:`sparse_vector`).
    seed : int or numpy.random.Generator
        Required: every draw comes from it.

    Returns
    -------
    RegressionProblem
    """
    n = check_int(n, "n", minimum=1)
    m = check_int(m, "m", minimum=1)
    s = check_int(s, "s", minimum=0)
    m_test = check_int(m_test, "m_test", minimum=1)
    if s > n:
        raise ValueError(f"sparsity s = {s} exceeds the dimension n = {n}")
    noise = check_positive(noise, "noise", allow_zero=True)
    if operator not in ("gaussian", "rademacher"):
        raise ValueError(f"operator must be 'gaussian' or 'rademacher', got {operator!r}")
    rng = as_generator(seed)
    # the training noise comes from a spawned child stream: drawn from ``rng`` after the
    # test rows, it changed with m_test (same seed, other training data). Spawning takes
    # no draws from ``rng``, so A, x_true and A_test are as before and the same for every
    # noise level.
    try:
        noise_rng = rng.spawn(1)[0]
    except TypeError:
        # a bit generator without a SeedSequence (e.g. Philox(key=...)) cannot spawn
        # ("does not implement spawning"): the child is seeded by one draw instead, taken
        # whatever the noise and before anything that depends on m_test
        noise_rng = np.random.default_rng(int(rng.integers(2**63)))
    A = OPERATORS[operator](m, n, rng)
    x = sparse_vector(n, s, rng, signal=signal)
    y = A.matvec(x) + noise * noise_rng.standard_normal(m)
    if operator == "gaussian":
        At = rng.standard_normal((m_test, n)) / np.sqrt(m)
    else:
        At = (2.0 * rng.integers(0, 2, size=(m_test, n)) - 1.0) / np.sqrt(m)
    yt = At @ x + noise * rng.standard_normal(m_test)
    info = dict(generator="sparse_regression", n=n, m=m, s=s, m_test=m_test,
                operator=operator, signal=signal, noise=noise)
    return RegressionProblem(as_operator(A), y, x_true=x, noise=noise, info=info,
                             A_test=At, y_test=yt)


@dataclass(frozen=True, eq=False)
class DigitsProblem(Problem):
    """Full-batch classification as regression: the identity operator on all predictions
    and ``y = onehot / sqrt(N)`` (see :class:`overparam.models.TwoLayerNet`), plus the
    inputs and the test set.

    Attributes
    ----------
    A, y, x_true, noise, info
        As in :class:`Problem`; ``A`` has ``N * n_classes`` rows for ``N`` training
        inputs.
    X_train : ndarray of shape (N, d), optional
        Training inputs (given together with ``labels_train``).
    labels_train : ndarray of int of shape (N,), optional
        Training classes, in ``[0, n_classes)``.
    X_test : ndarray of shape (N_test, d), optional
        Test inputs (given together with ``labels_test``).
    labels_test : ndarray of int of shape (N_test,), optional
        Test classes, in ``[0, n_classes)``.
    n_classes : int, optional
        Number of classes (>= 2, default 10).
    """

    X_train: Any = None
    labels_train: Any = None
    X_test: Any = None
    labels_test: Any = None
    n_classes: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        k = check_int(self.n_classes, "n_classes", minimum=2)
        object.__setattr__(self, "n_classes", k)
        # labels index np.eye(n_classes): a negative label silently wrapped around to the
        # last classes, one >= n_classes failed deep inside Y_train / Y_test
        for X_name, lab_name in (("X_train", "labels_train"), ("X_test", "labels_test")):
            X, lab = getattr(self, X_name), getattr(self, lab_name)
            if X is None and lab is None:
                continue
            if X is None or lab is None:
                raise ValueError(f"{X_name} and {lab_name} go together")
            X = check_real_array(X, X_name, ndim=2)
            lab = np.asarray(lab)
            if lab.ndim != 1 or not np.issubdtype(lab.dtype, np.integer):
                raise ValueError(f"{lab_name} must be a 1-d integer array, got dtype "
                                 f"{lab.dtype} and shape {lab.shape}")
            if lab.shape[0] != X.shape[0]:
                raise ValueError(f"{X_name} has {X.shape[0]} rows, {lab_name} "
                                 f"{lab.shape[0]} entries")
            if lab.size and (lab.min() < 0 or lab.max() >= k):
                raise ValueError(f"{lab_name} must lie in [0, {k}), got values in "
                                 f"[{lab.min()}, {lab.max()}]")
            if X_name == "X_train" and self.shape[0] != X.shape[0] * k:
                raise ValueError(f"{X.shape[0]} training inputs with {k} classes make "
                                 f"{X.shape[0] * k} predictions, the problem has "
                                 f"{self.shape[0]} measurements")
            object.__setattr__(self, X_name, X)
            object.__setattr__(self, lab_name, lab)
        if (self.X_train is not None and self.X_test is not None
                and self.X_train.shape[1] != self.X_test.shape[1]):
            raise ValueError(f"X_test has {self.X_test.shape[1]} features, X_train "
                             f"{self.X_train.shape[1]}")

    @property
    def Y_train(self) -> np.ndarray:  # noqa: N802
        return np.eye(self.n_classes)[np.asarray(self.labels_train)]

    @property
    def Y_test(self) -> np.ndarray:  # noqa: N802
        return np.eye(self.n_classes)[np.asarray(self.labels_test)]

    def test_error(self, predictions: Any) -> float:
        """Test MSE ``(1/N_test) sum_i ||f(x_i) - onehot_i||^2`` of test predictions."""
        # the float cast dropped an imaginary part with only a warning (NaN stays allowed:
        # a diverged run scores NaN)
        check_not_complex(predictions, "predictions")
        P = np.asarray(predictions, dtype=float)
        if P.shape != self.Y_test.shape:
            raise ValueError(f"predictions have shape {P.shape}, expected {self.Y_test.shape}")
        return float(np.sum((P - self.Y_test) ** 2) / P.shape[0])

    def test_accuracy(self, predictions: Any) -> float:
        """Fraction of test images whose largest prediction is the right class (NaN when
        a prediction is NaN, as :meth:`test_error`: a diverged run)."""
        check_not_complex(predictions, "predictions")
        P = np.asarray(predictions, dtype=float)
        # a wrong number of rows or classes was scored anyway (or failed inside NumPy)
        if P.shape != (len(self.labels_test), self.n_classes):
            raise ValueError(f"predictions have shape {P.shape}, expected "
                             f"{(len(self.labels_test), self.n_classes)}")
        if np.isnan(P).any():
            # argmax takes the first NaN as the largest: all-NaN predictions of a diverged
            # run scored the share of class 0 (about 0.1 on digits)
            return float("nan")
        return float(np.mean(np.argmax(P, axis=1) == np.asarray(self.labels_test)))


def digits_regression(
    n_train: int = 500,
    n_test: int = 500,
    *,
    classes: int = 10,
    seed: int | np.random.Generator,
) -> DigitsProblem:
    """Scikit-learn's digits (8x8 images, 1797 samples) as full-batch MSE regression.

    A random subset of ``n_train`` training and ``n_test`` disjoint test images of the
    first ``classes`` digits; pixels divided by 16 and centered by the training mean;
    one-hot targets. The operator is the identity on the ``n_train * classes``
    predictions and ``y = onehot / sqrt(n_train)`` (so that the driver's loss is the MSE
    ``(1/2N) sum ||f(x_i) - y_i||^2``).

    Parameters
    ----------
    n_train : int, optional
        Number of training images (>= 1, default 500).
    n_test : int, optional
        Number of test images (>= 1, default 500); ``n_train + n_test`` must not exceed
        the images of the kept classes (about 180 per class).
    classes : int, optional
        Keep the digits ``0, ..., classes - 1`` (2 to 10, default 10).
    seed : int or numpy.random.Generator
        Source of the random split.

    Returns
    -------
    DigitsProblem
    """
    from sklearn.datasets import load_digits

    n_train = check_int(n_train, "n_train", minimum=1)
    n_test = check_int(n_test, "n_test", minimum=1)
    classes = check_int(classes, "classes", minimum=2)
    if classes > 10:
        raise ValueError(f"digits has 10 classes, got classes = {classes}")
    data = load_digits()
    keep = data.target < classes
    X, t = data.data[keep] / 16.0, data.target[keep]
    if n_train + n_test > X.shape[0]:
        raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the "
                         f"{X.shape[0]} available images")
    rng = as_generator(seed)
    perm = rng.permutation(X.shape[0])
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    mean = X[tr].mean(axis=0)
    Xtr, Xte = X[tr] - mean, X[te] - mean
    y = (np.eye(classes)[t[tr]] / np.sqrt(n_train)).reshape(-1)
    info = dict(generator="digits", n_train=n_train, n_test=n_test, classes=classes)
    return DigitsProblem(Identity(n_train * classes), y, info=info, X_train=Xtr,
                         labels_train=t[tr], X_test=Xte, labels_test=t[te],
                         n_classes=classes)
