"""Sharpness: the largest eigenvalue of the loss Hessian, from Hessian-vector products.

The Hessian is never formed. A Hessian-vector product is a forward-over-reverse
derivative, ``jax.jvp(jax.grad(loss), (p,), (v,))``, at about the cost of two gradients,
so an estimate of ``lambda_max`` costs ``k`` gradients (``k`` Lanczos or power
iterations) and ``O(k n)`` memory, where the dense Hessian costs ``n`` products (or
``n^2`` memory) plus an ``O(n^3)`` eigensolver.

* :func:`lanczos` -- ``k`` Lanczos steps with full reorthogonalization; the extreme Ritz
  values of the tridiagonal matrix converge to the extreme eigenvalues far faster than
  power iteration (Kaniel-Paige), and the whole spectrum end is returned.
* :func:`power_iteration` -- the power method on ``H`` (converges to the eigenvalue of
  largest *modulus*), stopped on a relative change of the Rayleigh quotient.
* :func:`sharpness` -- the public entry point, ``sharpness(loss_fn, params)``.

All functions are jittable (``lax`` loops only) and work on any pytree of float arrays.

References
----------
J. Cohen, S. Kaur, Y. Li, J. Z. Kolter, A. Talwalkar, "Gradient descent on neural networks
typically occurs at the edge of stability", ICLR 2021 (sharpness by Lanczos on HVPs).
C. Lanczos, "An iteration method for the solution of the eigenvalue problem of linear
differential and integral operators", J. Res. Nat. Bur. Standards 45, 1950.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._core import check_bool

__all__ = ["hvp", "lanczos", "power_iteration", "sharpness", "dense_hessian_eigvals"]

METHODS = ("lanczos", "power")


def hvp(loss_fn: Callable[[Any], jax.Array], params: Any, v: Any) -> Any:
    """Hessian-vector product ``H(params) v`` of a scalar ``loss_fn`` (forward over
    reverse mode).

    Parameters
    ----------
    loss_fn : callable
        Scalar, twice differentiable, JAX-traceable function of ``params``.
    params : pytree of arrays
        Where the Hessian is taken.
    v : pytree of arrays
        The vector, with the structure of ``params``.

    Returns
    -------
    pytree of arrays
        ``H v``, with the structure of ``params``.
    """
    return jax.jvp(jax.grad(loss_fn), (params,), (v,))[1]


def _flat_hvp(loss_fn: Callable, params: Any) -> tuple[Callable, int, Any]:
    """A flat-vector HVP ``v -> H v`` at ``params`` (linearized once), the dimension and
    the dtype."""
    # by dtype (jittable): the Hessian of a real loss in complex parameters is not the
    # operator that jvp-of-grad applies (|p|^2 on C^3: 11.8 came back instead of 2)
    leaves = jax.tree_util.tree_leaves(params)
    if any(jnp.iscomplexobj(leaf) for leaf in leaves):
        raise TypeError("params must be real: the sharpness of complex parameters is not "
                        "defined here (split them into real and imaginary parts)")
    # integer / bool parameters failed inside jax.grad ("... use vjp or set allow_int"),
    # advice that does not apply here
    bad = [jnp.result_type(leaf) for leaf in leaves
           if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating)]
    if bad:
        raise TypeError(f"params must be floating point (a Hessian needs real-valued "
                        f"parameters), got dtype {bad[0]}: cast them, e.g. "
                        f"params.astype(float)")
    flat, unravel = ravel_pytree(params)
    if flat.shape[0] == 0:
        # a pytree of size-0 arrays: Lanczos failed with an IndexError, the power method
        # returned 0.0 as the sharpness
        raise ValueError("params is empty (no parameters to take a Hessian in)")

    def flat_loss(z):
        return loss_fn(unravel(z))

    # linearize the gradient once: each product then reuses the forward pass
    _, lin = jax.linearize(jax.grad(flat_loss), flat)
    return lin, flat.shape[0], flat.dtype


def _work_dtype(dtype: Any) -> Any:
    """The dtype the Krylov / power recurrences run in: float32 at least."""
    return jnp.float32 if jnp.finfo(dtype).bits < 32 else dtype


def _work_hvp(loss_fn: Callable, params: Any) -> tuple[Callable, int, Any, Any]:
    """:func:`_flat_hvp` with the recurrences in :func:`_work_dtype`: the products stay
    in the parameters' dtype, the vectors, Gram-Schmidt and Rayleigh quotients do not.

    In float16 / bfloat16 the Lanczos vectors lost orthogonality and an invariant subspace
    was never detected (its residual is rounding noise, ~1e-3, far above the breakdown
    threshold): Ritz values left the spectrum (3.88 for ``2 I`` in bfloat16) or came back
    NaN (float16, ``diag(0, 0, 0, 1e-3)``), and the power method's stop test compared
    quotients rounded to 8 bits (0.28 for lambda_max = 1 in bfloat16)."""
    matvec, n, dtype = _flat_hvp(loss_fn, params)
    work = _work_dtype(dtype)
    if work == dtype:
        return matvec, n, dtype, work
    return (lambda v: matvec(v.astype(dtype)).astype(work)), n, dtype, work


def _pow2(x: jax.Array) -> jax.Array:
    """Integer ``e`` with ``|x| 2**-e`` in ``[0.5, 1)`` (0 where ``x`` is 0 or not finite):
    scaling by ``2**-e`` is exact."""
    ax = jnp.abs(x)
    return jnp.where((ax > 0) & jnp.isfinite(ax), jnp.frexp(ax)[1], 0)


def _norm(w: jax.Array) -> jax.Array:
    """``||w||_2`` computed on ``w / 2**e``, ``2**e ~ max|w|`` (jittable, exact scaling).

    ``jnp.linalg.norm`` squares the entries: a Hessian-vector product of size below
    ~1e-154 (float64; ~1e-19 in float32) had norm 0 and one above ~1e154 (~1e19) norm
    inf, so Lanczos stopped after one step ("breakdown") and the power method returned
    the Rayleigh quotient of its random start (1.68 for lambda_max = 3 at a float32
    Hessian of size 1e-20), or 0 / inf. (Not ``w / max|w|``: see :func:`_divide`.)
    """
    e = _pow2(jnp.max(jnp.abs(w), initial=0.0))
    return jnp.ldexp(jnp.linalg.norm(jnp.ldexp(w, -e)), e)


def _divide(w: jax.Array, s: jax.Array) -> jax.Array:
    """``w / s`` for a scalar ``s > 0``, also where ``1 / s`` is subnormal.

    XLA:CPU divides an array by a scalar as a product with the reciprocal, and flushes a
    subnormal reciprocal to zero: ``w / s`` was 0 for ``s`` above ~8.5e37 (float32;
    ~4.5e307 in float64), and the power method returned 0.0 as the sharpness of
    ``1e38 I`` (float32), Lanczos NaN. ``s`` is first brought to ``[0.5, 1)`` by an
    exact power of two.
    """
    e = _pow2(s)
    return jnp.ldexp(w, -e) / jnp.ldexp(s, -e)


def _start_vector(n: int, key: Any, dtype: Any) -> jax.Array:
    if key is None:
        key = jax.random.PRNGKey(0)
    v = jax.random.normal(key, (n,), dtype=dtype)
    return v / jnp.linalg.norm(v)


def _lanczos_flat(matvec: Callable, v0: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """``k`` Lanczos steps with full reorthogonalization (twice, classical Gram-Schmidt).

    Returns the tridiagonal's diagonal ``alpha``, off-diagonal ``beta`` (length k-1) and
    the number of live steps. After an invariant subspace is found (``beta ~ 0``) the
    remaining steps are inert: decoupled (beta = 0), their alpha a placeholder that
    :func:`lanczos` replaces.
    """
    n = v0.shape[0]
    V = jnp.zeros((k, n), dtype=v0.dtype).at[0].set(v0)
    alphas = jnp.zeros((k,), dtype=v0.dtype)
    betas = jnp.zeros((k,), dtype=v0.dtype)
    scale = jnp.zeros((), dtype=v0.dtype)

    def body(j, carry):
        V, alphas, betas, alive, scale, live = carry
        v = V[j]
        w = matvec(v)
        a = jnp.vdot(v, w)
        mask = (jnp.arange(k) <= j).astype(v.dtype)[:, None]
        Vm = V * mask
        # (Vm @ w) @ Vm, not Vm.T @ (Vm @ w): XLA:CPU would copy the transpose
        w = w - (Vm @ w) @ Vm
        w = w - (Vm @ w) @ Vm
        b = _norm(w)
        # max, not |a| + b: the sum overflowed for ||H|| near the float range's top
        scale = jnp.maximum(scale, jnp.maximum(jnp.abs(a), b))
        # breakdown: the Krylov space is invariant, the Ritz values are exact
        ok = alive & (b > 1e-13 * jnp.maximum(scale, 1e-300))
        # after a breakdown, repeat a diagonal entry of the exact block (a Rayleigh
        # quotient, so inside its Ritz range): the decoupled 1x1 blocks add no new
        # extreme eigenvalue
        alphas = alphas.at[j].set(jnp.where(alive, a, alphas[jnp.maximum(j - 1, 0)]))
        betas = betas.at[j].set(jnp.where(ok, b, 0.0))
        nxt = jnp.where(ok, _divide(w, jnp.where(ok, b, 1.0)), jnp.zeros_like(w))
        V = jax.lax.cond(j + 1 < k, lambda V: V.at[jnp.minimum(j + 1, k - 1)].set(nxt),
                         lambda V: V, V)
        return V, alphas, betas, ok, scale, live + alive.astype(live.dtype)

    V, alphas, betas, _, _, live = jax.lax.fori_loop(
        0, k, body, (V, alphas, betas, jnp.asarray(True), scale, jnp.asarray(0)))
    return alphas, betas[: k - 1], live


def lanczos(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    k: int = 30,
    *,
    key: Any = None,
) -> jax.Array:
    """Ritz values (ascending) of ``k`` Lanczos steps on the loss Hessian at ``params``.

    ``k`` is capped at the number of parameters. The last value estimates
    ``lambda_max``, the first ``lambda_min``; both converge first, typically to machine
    precision within a few dozen steps for a spectral edge that is separated from the
    rest. The iteration reorthogonalizes fully (memory ``k * n``).

    Parameters
    ----------
    loss_fn : callable
        Scalar, twice differentiable, JAX-traceable function of ``params``.
    params : pytree of arrays
        Where the Hessian is taken.
    k : int, optional
        Lanczos steps, a positive integer (default 30; ValueError otherwise).
    key : jax PRNG key, optional
        Start vector (default ``PRNGKey(0)``: deterministic).

    Returns
    -------
    jax.Array of shape (min(k, n),)
        The Ritz values, ascending, in the parameters' float dtype. When the Krylov space
        is invariant after ``j < k`` steps (a start vector in a ``j``-dimensional invariant
        subspace, e.g. a Hessian with ``j`` distinct eigenvalues), these ``j`` values are
        exact and the smallest is repeated to fill ``k`` entries.
    """
    # int(k) and max(1, .) would turn k = 2.7 into 2 and k = 0 or -3 into 1 silently
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    # the recurrence in float32 at least (see _work_hvp); eigvalsh has no float16 /
    # bfloat16 kernel either ("Unsupported dtype bfloat16")
    matvec, n, dtype, work = _work_hvp(loss_fn, params)
    k = min(int(k), n)
    alphas, betas, live = _lanczos_flat(matvec, _start_vector(n, key, work), k)
    # After a breakdown at step `live` the Ritz values are those of the leading block; the
    # inert steps are decoupled 1x1 blocks. Placed below the block's Gershgorin interval
    # they are the `pad` smallest eigenvalues, replaced by the smallest Ritz value (they
    # repeated a diagonal entry before: diag(-3, 10, 10, 10) gave -3, -2.86, -2.86, 10).
    idx = jnp.arange(k)
    pad = k - live
    # T is scaled by an exact power of two to entries below 1 in magnitude: eigvalsh gave
    # NaN for entries near 1e308, and the placeholders (below) at -4 * bound - 1
    # overflowed to -inf for ||H|| above ~4.5e307 (NaN Ritz values)
    top = jnp.maximum(jnp.max(jnp.where(idx < live, jnp.abs(alphas), 0.0)),
                      jnp.max(jnp.abs(betas), initial=0.0))
    e = _pow2(top)
    # the scaled block's eigenvalues lie in (-3, 3) (Gershgorin): the placeholders at -4
    # are the `pad` smallest eigenvalues
    alphas = jnp.where(idx < live, jnp.ldexp(alphas, -e), -4.0)
    betas = jnp.ldexp(betas, -e)
    T = jnp.diag(alphas) + jnp.diag(betas, 1) + jnp.diag(betas, -1)
    eig = jnp.ldexp(jnp.linalg.eigvalsh(T), e)
    return eig[jnp.maximum(idx, pad)].astype(dtype)


def _power_flat(
    matvec: Callable,
    v0: jax.Array,
    max_iter: int,
    tol: float,
    absolute: bool,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The power method on ``matvec`` from the unit vector ``v0``:
    ``(rayleigh_quotient, norm_estimate, iterations)``.

    ``norm_estimate = ||H v||`` for the unit iterate ``v``: it increases monotonically to
    ``max |lambda|`` whatever the signs, while the Rayleigh quotient stalls strictly inside
    ``(-|lambda|, |lambda|)`` when ``lambda`` and ``-lambda`` are both extreme (e.g. at the
    saddle ``u = v = 0`` of ``x = u * v``). The stop watches the quantity that is returned.
    """
    dtype = v0.dtype

    def step(v):
        w = matvec(v)
        nrm = _norm(w)
        v_new = jnp.where(nrm > 0, _divide(w, jnp.where(nrm > 0, nrm, 1.0)), v)
        return v_new, jnp.vdot(v, w), nrm

    def cond(c):
        _, lam, nrm, prev, it = c
        cur = nrm if absolute else lam
        return (it < max_iter) & (jnp.abs(cur - prev) > tol * jnp.abs(cur))

    def body(c):
        v, lam, nrm, _, it = c
        v_new, lam_new, nrm_new = step(v)
        return v_new, lam_new, nrm_new, (nrm if absolute else lam), it + 1

    v1, lam0, nrm0 = step(v0)
    _, lam, nrm, _, it = jax.lax.while_loop(
        cond, body, (v1, lam0, nrm0, jnp.asarray(jnp.inf, dtype), jnp.int64(1)))
    return lam, nrm, it


def _check_power_settings(max_iter: Any, tol: Any) -> None:
    """Refuse ``max_iter < 1`` and a NaN, infinite or negative ``tol``: either stopped the
    power method after one product without saying so (Python / NumPy numbers only:
    traced values pass through)."""
    # a string (tol="1e-3") failed deep in the loop: "Only integer scalar arrays can be
    # converted to a scalar index"
    for name, value in (("max_iter", max_iter), ("tol", tol)):
        if not isinstance(value, (numbers.Real, jax.Array, np.ndarray)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__} "
                            f"{value!r}")
    if isinstance(max_iter, bool) or (isinstance(max_iter, numbers.Real) and (
            not isinstance(max_iter, numbers.Integral) or max_iter < 1)):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if isinstance(tol, numbers.Real) and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite float >= 0, got {tol!r}")


def _power(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    max_iter: int,
    tol: float,
    key: Any,
    absolute: bool,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """:func:`_power_flat` on the loss Hessian at ``params`` (in the parameters' dtype)."""
    matvec, n, dtype, work = _work_hvp(loss_fn, params)
    lam, nrm, it = _power_flat(matvec, _start_vector(n, key, work), max_iter, tol, absolute)
    return lam.astype(dtype), nrm.astype(dtype), it


def _power_lambda_max(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    max_iter: int,
    tol: float,
    key: Any,
) -> jax.Array:
    """``lambda_max`` by the power method, also when the eigenvalue of largest modulus is
    negative.

    The plain power method converges to ``lambda_min`` then (``-5`` for the spectrum
    ``{1, -5, 0.2}``); its norm estimate ``s ~ max |lambda|`` makes ``H + s I`` positive
    semidefinite (up to the estimate's error) with top eigenvalue ``lambda_max + s``, which
    a second power run finds. Up to ``2 * max_iter`` products.
    """
    matvec, n, dtype, work = _work_hvp(loss_fn, params)
    v0 = _start_vector(n, key, work)
    lam, nrm, _ = _power_flat(matvec, v0, max_iter, tol, absolute=False)

    def shifted():
        mu, _, _ = _power_flat(lambda v: matvec(v) + nrm * v, v0, max_iter, tol,
                               absolute=False)
        return mu - nrm

    # a nonnegative dominant eigenvalue is lambda_max: no second run
    return jax.lax.cond(lam < 0, shifted, lambda: lam).astype(dtype)


def power_iteration(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    max_iter: int = 1000,
    tol: float = 1e-10,
    *,
    key: Any = None,
) -> tuple[jax.Array, jax.Array]:
    """The power method on the loss Hessian: ``(eigenvalue, iterations)``.

    Converges to the eigenvalue of largest modulus (signed), linearly with ratio
    ``|lambda_2| / |lambda_1|``; stops when the Rayleigh quotient changes by less than
    ``tol`` relatively between two iterations, or after ``max_iter`` products. When
    ``lambda`` and ``-lambda`` are both of largest modulus the signed value is undefined
    (the quotient stalls in between); ``sharpness(..., method="power", absolute=True)``
    still returns ``max |lambda|``, and ``sharpness(..., method="power")`` returns
    ``lambda_max`` when the eigenvalue of largest modulus is negative.

    Parameters
    ----------
    loss_fn : callable
        Scalar, twice differentiable, JAX-traceable function of ``params``.
    params : pytree of arrays
        Where the Hessian is taken.
    max_iter : int, optional
        Cap on the Hessian-vector products, >= 1 (default 1000).
    tol : float, optional
        Relative change of the Rayleigh quotient that stops the iteration, finite and
        >= 0 (default 1e-10).
    key : jax PRNG key, optional
        Start vector (default ``PRNGKey(0)``: deterministic).

    Returns
    -------
    eigenvalue : jax.Array
        The last Rayleigh quotient (a scalar).
    iterations : jax.Array
        The number of products taken (an int64 scalar).
    """
    # checked here too: only sharpness() did, and power_iteration(tol=nan) returned the
    # Rayleigh quotient of the random start after one product
    _check_power_settings(max_iter, tol)
    lam, _, it = _power(loss_fn, params, max_iter, tol, key, absolute=False)
    return lam, it


def sharpness(
    loss_fn: Callable[[Any], jax.Array],
    params: Any,
    *,
    method: str = "lanczos",
    k: int = 30,
    max_iter: int = 1000,
    tol: float = 1e-10,
    absolute: bool = False,
    key: Any = None,
) -> jax.Array:
    """The sharpness of ``loss_fn`` at ``params``: the largest Hessian eigenvalue.

    Parameters
    ----------
    loss_fn : callable
        Scalar, twice differentiable, JAX-traceable function of ``params``.
    params : pytree of arrays
        Where the Hessian is taken.
    method : {"lanczos", "power"}
        ``"lanczos"`` (default): ``k`` Lanczos steps with full reorthogonalization;
        ``"power"``: the power method (up to ``max_iter`` products, relative tolerance
        ``tol`` on the Rayleigh quotient). The power method finds the eigenvalue of largest
        modulus; when that is negative, a second run on the shifted Hessian
        ``H + ||H|| I`` gives ``lambda_max`` (up to ``max_iter`` more products). Under a
        ``+-lambda`` tie the quotient can stall at a value in ``[0, lambda)``, which is
        returned (see :func:`power_iteration`); ``absolute=True`` is not affected.
    k : int
        Lanczos steps (capped at the number of parameters).
    max_iter : int
        Cap on the power method's products (``method="power"`` only; default 1000).
    tol : float
        Relative tolerance on the Rayleigh quotient (``method="power"`` only; default
        1e-10).
    absolute : bool
        Return ``max |lambda|`` (the spectral norm ``||H||_2`` that Fojtik et al. call the
        sharpness) instead of ``lambda_max``. The two agree near a minimum (H >= 0).
    key : jax PRNG key, optional
        Start vector (default ``PRNGKey(0)``: deterministic).

    Returns
    -------
    jax.Array
        A scalar of the parameters' float dtype (float64 for float64 parameters).
        Jittable: ``jax.jit(lambda p: sharpness(f, p))``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> f = lambda p: 0.5 * (3.0 * p[0] ** 2 + p[1] ** 2)
    >>> float(sharpness(f, jnp.array([1.0, 2.0])))  # doctest: +ELLIPSIS
    3.0...
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    absolute = check_bool(absolute, "absolute")  # "no" was truthy
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError("params is empty")
    if method == "power":
        _check_power_settings(max_iter, tol)
        if absolute:
            # ||H v||, not |v^T H v|: the latter misses max |lambda| under a +-lambda tie
            return _power(loss_fn, params, max_iter, tol, key, absolute=True)[1]
        # lambda_max, not the eigenvalue of largest modulus (-5 for {1, -5, 0.2}, where
        # Lanczos gives 1)
        return _power_lambda_max(loss_fn, params, max_iter, tol, key)
    ritz = lanczos(loss_fn, params, k, key=key)
    if absolute:
        return jnp.maximum(jnp.abs(ritz[0]), jnp.abs(ritz[-1]))
    return ritz[-1]


def dense_hessian_eigvals(loss_fn: Callable[[Any], jax.Array], params: Any) -> np.ndarray:
    """All eigenvalues (ascending) of the dense Hessian, by ``jax.hessian`` and
    ``numpy.linalg.eigvalsh`` (the oracle; memory ``n^2``).

    Parameters
    ----------
    loss_fn : callable
        Scalar, twice differentiable, JAX-traceable function of ``params``.
    params : pytree of arrays
        Where the Hessian is taken.

    Returns
    -------
    ndarray of shape (n,)
        Eigenvalues of the symmetrized Hessian, ``n`` the number of parameters.
    """
    # the checks of sharpness(): complex or integer parameters failed inside jacfwd
    # ("pass holomorphic=True", an argument this function does not have)
    for leaf in jax.tree_util.tree_leaves(params):
        if not jnp.issubdtype(jnp.result_type(leaf), jnp.floating):
            raise TypeError(f"params must be real floating point, got dtype "
                            f"{jnp.result_type(leaf)}")
    flat, unravel = ravel_pytree(params)
    H = jax.jit(jax.hessian(lambda z: loss_fn(unravel(z))))(flat)
    H = np.asarray(H)
    return np.linalg.eigvalsh(0.5 * (H + H.T))
