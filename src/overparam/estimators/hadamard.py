"""scikit-learn shell over the Hadamard solvers (no numerics of its own beyond the
least-squares target of a fit without interpolant)."""
from __future__ import annotations

import numbers
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from .._core import (Result, Status, check_bool, check_depth, check_finite_array, check_int,
                     check_positive, refuse_masked)

SOLVERS = ("limit", "gd")

# the loosest default tolerance of the limit: that of solver="gd". Where float64 cannot
# resolve the limit even to it (depth >= 3 at a tiny effective init scale) the fit warns
# instead of stopping "converged" at a residual up to 100% (the resolution 1e-15 a^(2-L)
# exceeds 1 once a < 1e-15 at L = 3)
_LOOSEST_DEFAULT_TOL = 1e-6

# attributes validate_data(reset=True) sets before the fit proper starts
_VALIDATION_ATTRS = ("n_features_in_", "feature_names_in_")


@contextmanager
def _keep_fitted_state_on_error(est: Any) -> Iterator[None]:
    """Undo ``validate_data``'s reset of ``n_features_in_`` and ``feature_names_in_`` when
    ``fit`` raises after it (data the solver refuses, parameters it checks itself): the
    estimator keeps its previous fit (or stays unfitted) instead of a half-fitted state
    whose ``n_features_in_`` disagrees with its fitted arrays."""
    saved = {k: est.__dict__[k] for k in _VALIDATION_ATTRS if k in est.__dict__}
    try:
        yield
    except BaseException:
        for k in _VALIDATION_ATTRS:
            est.__dict__.pop(k, None)
        est.__dict__.update(saved)
        raise


def _resolution_tol(X: np.ndarray, y: np.ndarray, depth: int, init_scale: float) -> float:
    """Default residual tolerance of the depth >= 3 limit: the float64 resolution.

    The limit is resolved to about ``1e-16 c`` relative, ``c = a^(2-L)`` for the
    *effective* scale ``a = init_scale / s^(1/L)`` of the coefficients ``s ~ max|y| /
    max|X|`` (``limit(X, s y, a) = s limit(X, y, a s^(-1/L))``): ``1e-15 c`` with a
    margin, at least 1e-10, at most :data:`_LOOSEST_DEFAULT_TOL`.
    """
    ytop, xtop = float(np.max(np.abs(y), initial=0.0)), float(np.max(np.abs(X), initial=0.0))
    log_s = float(np.log(ytop) - np.log(xtop)) if ytop > 0 and xtop > 0 else 0.0
    # in logs: s and c can overflow float64 at extreme data scales
    log_c = (depth - 2) * (log_s / depth - float(np.log(init_scale)))
    log_tol = float(np.log(1e-15)) + log_c
    return float(min(_LOOSEST_DEFAULT_TOL, max(1e-10, np.exp(min(log_tol, 0.0)))))


def _scaled_mean(a: np.ndarray) -> np.ndarray:
    """Mean along axis 0 of ``a / max|a|``, times ``max|a|`` (per column): the plain sum
    of finite entries ~1e307 overflows (the fit then refused its own centered data as
    "non-finite")."""
    top = np.max(np.abs(a), axis=0, initial=0.0)
    top = np.where(top > 0, top, 1.0)
    return (a / top).mean(axis=0) * top


def _centered(a: np.ndarray, mean: Any, name: str) -> np.ndarray:
    """``a - mean``, refused clearly where it leaves float64 (entries of both signs near
    the float64 maximum)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = a - mean
    bad = ~np.isfinite(out)
    if bad.any():
        where = f"column {int(np.nonzero(bad)[1][0])} of X" if a.ndim == 2 else "y"
        raise ValueError(
            f"fit_intercept=True: centering {where} overflows float64 (entries up to "
            f"{float(np.max(np.abs(a))):.1e}); divide {name} by a scale s ~ max|{name}| "
            "first")
    return out


class HadamardRegressor(RegressorMixin, BaseEstimator):
    """Interpolating sparse regression by the implicit bias of an overparameterized model.

    Fits ``coef`` with ``X @ coef = y`` (an interpolant, not a penalized fit) through the
    deep Hadamard factorization ``coef = u^L - v^L`` (``u^L`` if ``nonneg``) trained by
    gradient descent from the small initialization ``u = v = init_scale``. The fit is the
    point gradient flow converges to: as ``init_scale -> 0`` it tends to the minimal-l1
    interpolant (basis pursuit), so when ``y`` comes from a sparse coefficient vector and
    there are enough samples, the sparse vector is recovered. Use it for underdetermined
    systems (``n_samples < n_features``) with noiseless or nearly noiseless targets.

    Parameters
    ----------
    depth : int, default 2
        Depth ``L`` of the factorization (``solver="limit"`` needs ``L >= 2``).
    init_scale : float, default 1e-3
        Initial value ``alpha > 0`` of every factor entry: smaller is closer to basis
        pursuit (the deviation shrinks like ``alpha^L`` for ``L >= 3``, and
        like ``1 / log(1/alpha)`` for ``L = 2``).
    nonneg : bool, default False
        Non-negative model ``coef = u^L`` (limit: non-negative basis pursuit); needs
        ``depth >= 2`` (at depth 1, ``coef = u`` has no sign constraint).
    solver : {"limit", "gd"}, default "limit"
        ``"limit"``: the exact limit of the gradient flow, by Newton's method on its
        convex dual (:func:`overparam.limits.hadamard_limit`; fast, tens of steps).
        ``"gd"``: simulate gradient descent (:func:`overparam.hadamard_gd`; slow, to see
        the dynamics themselves, e.g. with a large step).
    step : "auto", float, str or step policy, default "auto"
        Step size of ``solver="gd"`` (ignored by the limit): a constant step, a policy
        string such as ``"nesterov@mirror"`` or a policy object; see
        :func:`overparam.hadamard_gd`.
    max_iter : int or None, default None
        Newton steps (limit, default 500) or gradient steps (gd, default 100000).
    tol : float or None, default None
        Stop at ``||X coef - y|| <= tol * ||y||`` (default for the limit: 1e-10, or for
        ``depth >= 3`` the float64 resolution ``1e-15 * a^(2 - depth)`` where that is
        larger, ``a = init_scale * (max|X| / max|y|)^(1/depth)`` the initialization scale
        relative to the data's, but at most 1e-6: beyond, float64 cannot resolve the
        limit and the fit warns; 1e-6 for gd).
    fit_intercept : bool, default False
        Fit a free (unregularized) intercept: the fit then minimizes over ``coef`` the
        implicit bias subject to ``X coef + intercept = y``, solved exactly on centered
        ``X`` and ``y`` (for any ``coef``, the best intercept is
        ``mean(y) - mean(X, axis=0) @ coef``, and ``X coef + b = y`` is solvable in ``b``
        iff the centered system holds).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        The interpolating coefficients.
    intercept_ : float
        ``0.0`` unless ``fit_intercept``.
    n_iter_ : int
        Newton steps (limit) or gradient steps (gd) performed.
    result_ : overparam.Result
        The solver's full result (status, message, trace, info).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Feature names, when ``X`` has string column names.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When the solver does not reach its tolerance: typically ``y`` cannot be
        interpolated (more samples than features, noisy targets, or no non-negative
        solution with ``nonneg``), or, at ``depth >= 3``, float64 cannot resolve the limit
        at so small an ``init_scale`` (relative to the data's scale); ``coef_`` then holds
        the solver's last point and ``result_`` says why. Where no interpolant exists
        (status ``infeasible``: ``y`` outside the range of ``X``, or no non-negative
        solution with ``nonneg``), ``coef_`` is the limit of the flow all the same, a
        least-squares (NNLS with ``nonneg``) fit.

    See Also
    --------
    overparam.limits.hadamard_limit, overparam.hadamard_gd, overparam.baselines.basis_pursuit

    Notes
    -----
    The interpolation constraint makes this estimator unlike penalized regressors: on an
    overdetermined noisy problem (e.g. scikit-learn's common test data) there is no
    interpolant, the fit warns and its score is not meaningful.

    Examples
    --------
    >>> import numpy as np
    >>> from overparam.estimators import HadamardRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 100))
    >>> coef = np.zeros(100); coef[[3, 50, 97]] = [1.0, -2.0, 0.5]
    >>> reg = HadamardRegressor(init_scale=1e-6).fit(X, X @ coef)
    >>> bool(np.allclose(reg.coef_, coef, atol=1e-4)), reg.result_.status.value
    (True, 'converged')
    >>> float(np.round(reg.score(X, X @ coef), 12))
    1.0
    """

    def __init__(
        self,
        depth: int = 2,
        init_scale: float = 1e-3,
        nonneg: bool = False,
        solver: str = "limit",
        step: Any = "auto",
        max_iter: int | None = None,
        tol: float | None = None,
        fit_intercept: bool = False,
    ):
        self.depth = depth
        self.init_scale = init_scale
        self.nonneg = nonneg
        self.solver = solver
        self.step = step
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.target_tags.multi_output = False
        # where no interpolant exists (scikit-learn's common regression data: 200 noisy
        # samples, 10 features) fit warns (ConvergenceWarning) and returns the flow's
        # limit, a least-squares (NNLS) fit, whose R^2 passes check_regressors_train (the
        # non-negative one failed it at depth 3 while coef_ was the dual iteration's
        # last point)
        return tags

    # -------------------------------------------------------------------------------
    def _solver_kwargs(self) -> dict[str, Any]:
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        kw: dict[str, Any] = dict(
            depth=check_depth(self.depth),
            init_scale=check_positive(self.init_scale, "init_scale"),
            nonneg=check_bool(self.nonneg, "nonneg", allow_int=True),
        )
        if kw["nonneg"] and kw["depth"] < 2:
            # the depth-1 model coef = u has no sign constraint (hadamard_gd returns
            # negative coefficients): nonneg=True would silently be a signed fit
            raise ValueError(
                "nonneg=True needs depth >= 2: at depth 1 the model coef = u is plain "
                "gradient descent with no sign constraint (for non-negative least squares "
                "see overparam.nnls)")
        if self.max_iter is not None:
            kw["max_iter"] = check_int(self.max_iter, "max_iter", minimum=1)
        if self.tol is not None:
            # tol = 0 (run to max_iter) is a valid gd setting; the limit's residual test
            # needs tol > 0, refused here rather than by the solver after X is validated
            kw["tol"] = check_positive(self.tol, "tol", allow_zero=self.solver == "gd")
        if self.solver == "gd":
            if isinstance(self.step, numbers.Real):
                check_positive(self.step, "step")
            else:
                # policy strings ("nesterov@mirror", "bb:short@x") and objects, as
                # hadamard_gd takes them (only "auto" was let through), checked here so
                # that a bad one is refused before validate_data resets the fitted state
                from ..dynamics.steps import as_policy

                try:
                    as_policy(self.step, depth=kw["depth"])
                except (TypeError, ValueError) as exc:  # e.g. "space must be one of ..."
                    kind = TypeError if isinstance(exc, TypeError) else ValueError
                    raise kind(f"step {self.step!r}: {exc}") from exc
            kw["step"] = self.step
            kw["record"] = 16
        elif kw["depth"] < 2:
            raise ValueError(
                "solver='limit' needs depth >= 2 (depth 1 is plain gradient descent, whose "
                "limit is the minimal-l2 interpolant); use solver='gd' for depth 1"
            )
        return kw

    def _solve(self, X: np.ndarray, y: np.ndarray, kw: dict[str, Any]) -> Result:
        if self.solver == "limit":
            from ..limits import hadamard_limit

            return hadamard_limit(X, y, **kw)
        from ..dynamics import hadamard_gd

        return hadamard_gd(X, y, **kw)

    def _least_squares_limit(self, X: np.ndarray, y: np.ndarray, kw: dict[str, Any],
                             failed: Result) -> Result:
        """The limit of the flow when no interpolant exists (``solver="limit"``).

        The flow minimizes ``||X coef - y||`` and its limit is a least-squares fit, but the
        dual Newton iteration on ``y`` has no minimizer then: its last point was returned
        (measured: ``StandardScaler`` then 20 x 50 data, a residual 1e6 times the
        least-squares one, R^2 = -2e10; non-negative, residuals up to 1e15 times that of
        NNLS). It is the limit of a solvable problem instead:

        * signed: the gradient ``X^T (X coef - y)`` is that of the projection ``p`` of
          ``y`` onto ``range(X)``: the flow, and its limit, are those of ``X coef = p``;
        * non-negative: with ``p = X c`` the (unique) NNLS fit and ``lam = X^T (p - y)
          >= 0``, the flow sends the coefficients with ``lam_i > 0`` to 0 (their mirror
          coordinate decreases like ``-lam_i t``) and the others converge to the limit of
          ``X_F coef_F = p`` on the columns ``F`` with ``lam_i = 0``.

        Keeps the status ``infeasible`` (no interpolant) and the original message; returns
        ``failed`` when the solvable problem does not converge either.
        """
        # scale-free: X and y divided by their largest entries (NNLS squares them)
        xs = max(float(np.max(np.abs(X), initial=0.0)), np.finfo(float).tiny)
        ys = max(float(np.max(np.abs(y), initial=0.0)), np.finfo(float).tiny)
        Xn, yn = X / xs, y / ys
        n = X.shape[1]
        cols = np.ones(n, dtype=bool)
        if kw["nonneg"]:
            import scipy.optimize

            try:
                c = scipy.optimize.nnls(Xn, yn, maxiter=max(50 * n, 1000))[0]
            except RuntimeError:  # iteration limit of older SciPy versions
                return failed
            target = Xn @ c
            lam = Xn.T @ (target - yn)
            # lam_i = 0 on NNLS's support up to its rounding, ~1e-16 ||X_i|| ||y|| (the
            # floor on ||p - y||: an infeasibility by a hair has a residual at that level)
            gap = max(float(np.linalg.norm(target - yn)), 1e-7 * float(np.linalg.norm(yn)))
            cols = lam <= 1e-9 * np.linalg.norm(Xn, axis=0) * gap
        else:
            target = Xn @ np.linalg.lstsq(Xn, yn, rcond=None)[0]
        target = target * ys
        x = np.zeros(n)
        if cols.any():
            proj = self._solve(X[:, cols], target, kw)
            if not proj.success:
                return failed
            x[cols] = proj.x
            trace, n_iter, wall, info = proj.trace, proj.n_iter, proj.wall_time, proj.info
        else:  # NNLS fit 0: every coefficient is driven to 0
            trace, n_iter, wall, info = None, 0, 0.0, {}
        resid = float(np.linalg.norm(X @ x - y))
        with np.errstate(over="ignore"):  # 0.5 r^2 of data ~1e200 is inf, as the solver's
            fun = 0.5 * resid * resid
        info = dict(info, least_squares_target=target, least_squares_columns=cols,
                    infeasible_result=failed)
        return Result(
            x=x, status=Status.INFEASIBLE, n_iter=failed.n_iter + n_iter, fun=fun,
            trace=trace, wall_time=failed.wall_time + wall, info=info,
            message=(f"{failed.message}; coef_ is the limit of the flow all the same: that "
                     f"of the {'NNLS' if kw['nonneg'] else 'least-squares'} fit "
                     "X coef = p (info['least_squares_target'])"))

    def fit(self, X: Any, y: Any) -> "HadamardRegressor":
        """Fit the interpolant of ``X @ coef (+ intercept) = y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Design matrix (dense).
        y : array-like of shape (n_samples,)
            Targets.

        Returns
        -------
        self : HadamardRegressor
            The fitted estimator.
        """
        # parameters first: validate_data already sets n_features_in_ (and resets the
        # feature names), so a fit refused after it would leave a half-fitted estimator
        kw = self._solver_kwargs()
        fit_intercept = check_bool(self.fit_intercept, "fit_intercept", allow_int=True)
        with _keep_fitted_state_on_error(self):
            refuse_masked(X, "X")
            refuse_masked(y, "y")
            try:
                X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
            except OverflowError as exc:  # Python ints beyond float64 (no argument named)
                raise ValueError(f"X or y holds a number beyond float64's range ({exc})"
                                 ) from exc
            # validate_data casts only X: a float32 y was centered in float32 (its rounding
            # made interpolable data "infeasible"), a float16 y crashed in linalg and a
            # string or datetime y met np.abs with an obscure UFuncTypeError
            y = check_finite_array(y, "y", ndim=1)
            if fit_intercept:
                x_mean, y_mean = _scaled_mean(X), float(_scaled_mean(y))
                X, y = _centered(X, x_mean, "X"), _centered(y, y_mean, "y")
            if self.solver == "limit" and self.tol is None and kw["depth"] >= 3:
                # float64 resolves the depth >= 3 limit only to ~1e-16 * a^(2-L) relative
                # (at the data's scale): a default of 1e-10 is out of reach from a <= 1e-6
                # at L = 3, and a ConvergenceWarning on an accurate fit would be wrong
                kw["tol"] = _resolution_tol(X, y, kw["depth"], kw["init_scale"])
            result = self._solve(X, y, kw)
            if self.solver == "limit" and result.status is Status.INFEASIBLE:
                result = self._least_squares_limit(X, y, kw, result)
        coef = np.asarray(result.x, dtype=np.float64).reshape(-1)
        # the fitted state before the warning: raised as an error (warnings filter
        # "error"), it would leave n_features_in_ of this fit beside the last fit's coef_
        self.coef_ = coef
        self.intercept_ = float(y_mean - x_mean @ coef) if fit_intercept else 0.0
        self.n_iter_ = int(result.n_iter)
        self.result_ = result
        if not result.success:
            warnings.warn(
                f"HadamardRegressor(solver={self.solver!r}) did not converge: status "
                f"{result.status.value}. {result.message}",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predictions.
        """
        check_is_fitted(self, "coef_")
        refuse_masked(X, "X")
        try:
            X = validate_data(self, X, reset=False, dtype=np.float64)
        except OverflowError as exc:
            raise ValueError(f"X holds a number beyond float64's range ({exc})") from exc
        return X @ self.coef_ + self.intercept_
