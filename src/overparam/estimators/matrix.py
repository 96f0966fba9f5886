"""scikit-learn style matrix completion by deep matrix factorization (a thin shell over
:func:`overparam.dynamics.dmf_gd`; no numerics of its own).

References
----------
S. Arora, N. Cohen, W. Hu, Y. Luo, "Implicit regularization in deep matrix factorization",
NeurIPS 2019 (arXiv:1905.13655).
H.-H. Chou, C. Gieshoff, J. Maly, H. Rauhut, "Gradient descent for deep matrix
factorization: dynamics and implicit bias towards low rank", ACHA 68:101595, 2024.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._core import Result, Status, check_bool, x64_scope
from ..dynamics.dmf_gd import dmf_gd
from ..dynamics.driver import _Y_SCALE
from ..problems import Problem
from ..problems.matrix import EntryMask
from .hadamard import _keep_fitted_state_on_error


def _validate_incomplete(est: "DeepMatrixCompletion", X: Any, *, reset: bool) -> np.ndarray:
    """``X`` as a float64 matrix with NaN for the missing entries; clear errors.

    scikit-learn's validation sets (``reset``) or checks ``n_features_in_`` and
    ``feature_names_in_``, refuses sparse input (an implicit zero is neither an observed
    nor a missing entry), complex and empty input, and turns pandas' missing values
    (``pd.NA`` of the nullable dtypes, ``None``) and the masked entries of a NumPy masked
    array into NaN.
    """
    X = _masked_as_nan(X)
    try:
        arr = validate_data(est, X, reset=reset, dtype=np.float64, ensure_all_finite=False)
    except (ValueError, TypeError) as exc:
        _reword(X, exc)
        raise
    if np.any(np.isinf(arr)):
        raise ValueError(f"X contains {int(np.isinf(arr).sum())} infinite value(s); "
                         "only NaN marks a missing entry")
    return arr


def _masked_as_nan(X: Any) -> Any:
    """A masked array with NaN for its masked entries; anything else unchanged.

    ``np.asarray`` (in scikit-learn's validation) drops the mask: the masked entries were
    fitted as observed, with whatever placeholder values the array held under them.
    """
    if not isinstance(X, np.ma.MaskedArray):
        return X
    if X.dtype.kind not in "biufc":  # filled(nan) would not say what is wrong
        raise TypeError(f"X must be a numeric matrix (NaN for missing), got a masked "
                        f"array of dtype {X.dtype}")
    # complex stays complex, for the validation's own refusal
    return X.astype(np.complex128 if X.dtype.kind == "c" else np.float64).filled(np.nan)


def _reword(X: Any, exc: Exception) -> None:
    """Raise a clearer error than scikit-learn's for strings (also inside an object
    matrix) and for a non-matrix; return for any other failure (``exc`` is re-raised)."""
    try:
        probe = np.asarray(X)  # only to word the error (e.g. not for a ragged list)
    except (ValueError, TypeError):
        return
    if probe.dtype.kind in ("U", "S", "V"):
        raise TypeError(f"X must be a numeric matrix (NaN for missing), got dtype "
                        f"{probe.dtype}") from exc
    if probe.dtype == object and probe.ndim == 2:
        try:  # the validation's own conversion (pd.NA of "Float64" -> NaN), not its checks
            check_array(X, dtype=np.float64, ensure_all_finite=False, ensure_min_samples=0,
                        ensure_min_features=0)
        except (ValueError, TypeError) as conv:
            # NumPy's words alone ("could not convert string to float: 'a'") named no
            # argument; other failures (e.g. feature names) pass unchanged
            if str(conv) == str(exc):
                raise TypeError(f"X must be a numeric matrix (NaN for missing); {exc}") \
                    from exc
        return
    if probe.dtype != object and probe.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {probe.shape}. {exc}") from exc


def _check_incomplete(est: "DeepMatrixCompletion", X: Any) -> tuple[np.ndarray, np.ndarray]:
    """(values, observed mask) of a matrix to fit; sets ``n_features_in_``."""
    arr = _validate_incomplete(est, X, reset=True)
    observed = ~np.isnan(arr)
    if not observed.any():
        raise ValueError("X has no observed entry (all NaN)")
    empty_rows = np.flatnonzero(~observed.any(axis=1))
    if empty_rows.size:
        raise ValueError(f"row(s) {empty_rows[:10].tolist()} of X have no observed entry: "
                         "nothing can be inferred about them; drop them first")
    empty_cols = np.flatnonzero(~observed.any(axis=0))
    if empty_cols.size:
        raise ValueError(f"column(s) {empty_cols[:10].tolist()} of X have no observed entry: "
                         "nothing can be inferred about them; drop them first")
    return arr, observed


def _check_scale(values: np.ndarray) -> None:
    """Refuse observed entries whose squares leave float64, in terms of ``X``.

    ``dmf_gd`` refuses them too, but speaks of ``y`` (its measurements), which an
    estimator user never passed. The fit is equivariant under ``X -> s X`` with
    ``init_scale -> s init_scale`` (``scale="end_to_end"``), which is how to rescale.
    """
    top = float(np.max(np.abs(values), initial=0.0))
    lo, hi = _Y_SCALE
    if top > 0 and not lo <= top <= hi:
        raise ValueError(
            f"the observed entries of X reach magnitude {top:.1e}: the squared loss under- "
            f"or overflows in float64 (supported: {lo:.0e} to {hi:.0e}); fit X / s for a "
            "scale s ~ max|X| and multiply the completion by s (with scale='end_to_end', "
            "fitting X at init_scale a is fitting X / s at init_scale a / s)")


# the run failed: its iterate is not a fit. MAX_ITER is not among them: ending by the
# iteration cap (before a tolerance that noisy entries never reach) is the normal end
_FAILED = (Status.DIVERGED, Status.STAGNATED, Status.NUMERICAL_ERROR)


class DeepMatrixCompletion(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Complete a matrix by gradient descent on a deep factorization ``W_N ... W_1``
    fitted to the observed entries, started small (implicit low-rank bias).

    Parameters
    ----------
    depth : int, default 3
        Number of factors N (1 is plain gradient descent on W).
    init : {"scaled_identity", "orthogonal", "gaussian"}, default "scaled_identity"
    init_scale : float, default 1e-3
        Initialization scale (see ``scale``).
    scale : {"factor", "end_to_end"}, default "end_to_end"
        Whether ``init_scale`` is the product's scale (Arora et al.'s convention, the
        default here) or each factor's.
    widths : sequence of int, optional
        Hidden widths (default ``min(n1, n2)``).
    step : "auto", float or step policy, default "auto"
    max_iter : int, default 20000
    tol : float, default 1e-8
        Relative residual on the observed entries at which to stop.
    early_stopping : bool, default False
        Stop inside the low-rank plateau of the effective rank found in the trace
        (for noisy entries); see :func:`overparam.dynamics.dmf_gd`.
    record : int, default 64
        Record points of the trace.
    seed : int, default 0
        Seed of random initializations.

    Attributes
    ----------
    completed_ : ndarray of shape (n1, n2)
        The fitted end-to-end matrix.
    mask_ : ndarray of bool
        The observed entries of the fitted X.
    result_ : Result
        The full result of the run (trace, status, factors in ``info``).
    n_iter_ : int
    stopped_interval_ : tuple of int or None
        With early stopping, the effective-rank plateau (iterations) it stopped in.
    n_features_in_ : int
        Number of columns of the fitted matrix.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` has string column names (checked by :meth:`transform`).

    Warns
    -----
    ConvergenceWarning
        From :meth:`fit` when the run diverged (e.g. too large a constant ``step``; the
        last finite iterate is kept), stagnated or hit a numerical error: ``completed_``
        is then not a fit. Reaching ``max_iter`` does not warn. ``result_.status`` and
        ``result_.message`` say what happened.

    Examples
    --------
    >>> import numpy as np
    >>> from overparam.estimators.matrix import DeepMatrixCompletion
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((30, 2)) @ rng.standard_normal((2, 30))
    >>> X = np.where(rng.random(M.shape) < 0.5, M, np.nan)
    >>> est = DeepMatrixCompletion(depth=3, init_scale=1e-3, max_iter=5000).fit(X)
    >>> bool(np.linalg.norm(est.completed_ - M) / np.linalg.norm(M) < 1e-2)
    True
    """

    def __init__(self, depth: int = 3, init: str = "scaled_identity",
                 init_scale: float = 1e-3, scale: str = "end_to_end",
                 widths: Sequence[int] | None = None, step: Any = "auto",
                 max_iter: int = 20_000, tol: float = 1e-8, early_stopping: bool = False,
                 record: int = 64, seed: int = 0):
        self.depth = depth
        self.init = init
        self.init_scale = init_scale
        self.scale = scale
        self.widths = widths
        self.step = step
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.record = record
        self.seed = seed

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN marks the missing entries to complete: it is the input, not an error
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None) -> "DeepMatrixCompletion":
        """Fit to the observed (non-NaN) entries of ``X``."""
        # a truthy string ("no") would silently switch early stopping on
        early_stopping = check_bool(self.early_stopping, "early_stopping", allow_int=True)
        # dmf_gd checks the other parameters (and the data's scale) only after the data
        # validation has reset n_features_in_: a refused fit must not leave it disagreeing
        # with the previous fit's completed_
        with _keep_fitted_state_on_error(self):
            arr, observed = _check_incomplete(self, X)
            rows, cols = np.nonzero(observed)
            op = EntryMask(arr.shape[0], arr.shape[1], rows, cols)
            values = arr.reshape(-1)[op.flat_index]
            _check_scale(values)
            problem = Problem(op, values, info=dict(matrix_shape=arr.shape))
            # float64 whatever the caller's jax_enable_x64 (dmf_gd draws its initial
            # factors before the driver's own x64 scope: they were float32 with it off)
            with x64_scope():
                res: Result = dmf_gd(problem, depth=self.depth, widths=self.widths,
                                     init=self.init, init_scale=self.init_scale,
                                     scale=self.scale, step=self.step,
                                     max_iter=self.max_iter, tol=self.tol, record=self.record,
                                     early_stopping=early_stopping, seed=self.seed)
        self.result_ = res
        # a writeable copy: res.x is a read-only view of a JAX buffer (in-place edits of
        # completed_, e.g. clipping, raised "assignment destination is read-only")
        self.completed_ = np.array(res.x, dtype=np.float64)
        self.mask_ = observed
        self.n_iter_ = res.n_iter
        es = res.info.get("early_stopping")
        self.stopped_interval_ = None if es is None else es.get("interval")
        if res.status in _FAILED:
            warnings.warn(f"DeepMatrixCompletion did not fit: status {res.status.value}. "
                          f"{res.message}", ConvergenceWarning, stacklevel=2)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """``X`` with its missing (NaN) entries filled from ``completed_`` (same shape as
        the fitted matrix); observed entries are kept."""
        check_is_fitted(self, "completed_")
        arr = _validate_incomplete(self, X, reset=False)
        if arr.shape != self.completed_.shape:
            raise ValueError(f"X has shape {arr.shape}, the model was fitted on "
                             f"{self.completed_.shape}")
        return np.where(np.isnan(arr), self.completed_, arr)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` of the same ``X``.

        ``fit_params`` go to :meth:`fit`, which takes none: an unsupported argument (e.g.
        ``sample_weight``) is a TypeError, not silently ignored.
        """
        return self.fit(X, y, **fit_params).transform(X)
