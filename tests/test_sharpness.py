"""Sharpness by Hessian-vector products (Lanczos, power iteration) against the dense
Hessian: ``numpy.linalg.eigvalsh`` of ``jax.hessian`` on small models."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import overparam
from overparam.metrics import sharpness
from overparam.metrics.sharpness import dense_hessian_eigvals, hvp, lanczos, power_iteration
from overparam.models import DiagonalUV, Hadamard, TwoLayerNet, WeightNormDiagonal

RTOL = 1e-6


def _eig_oracle(loss, params):
    """The independent oracle: dense Hessian by jax.hessian on the flat vector, then
    numpy.linalg.eigvalsh (no Hessian-vector products involved)."""
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    H = np.asarray(jax.jit(jax.hessian(lambda z: loss(unravel(z))))(flat))
    return np.linalg.eigvalsh(0.5 * (H + H.T))


def _ls_loss(model, A, y):
    A, y = jnp.asarray(A), jnp.asarray(y)

    def loss(p):
        r = A @ model.signal(p) - y
        return 0.5 * jnp.vdot(r, r)
    return loss


def _random_params(model, n, rng):
    p = model.init(None, n)
    return jax.tree_util.tree_map(
        lambda a: a + 0.3 * jnp.asarray(rng.standard_normal(a.shape)), p)


def _cases():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((12, 15)) / np.sqrt(12)
    y = rng.standard_normal(12)
    out = []
    for model in [Hadamard(2, init_scale=0.8), DiagonalUV(init_scale=0.8),
                  WeightNormDiagonal(2, 0.8, "coordinate")]:
        out.append((type(model).__name__, _ls_loss(model, A, y),
                    _random_params(model, 15, rng)))
    X = rng.standard_normal((20, 6))
    net = TwoLayerNet(X, 3, width=8)
    Y = jnp.asarray(rng.standard_normal(60))
    out.append(("mlp", lambda p: 0.5 * jnp.sum((net.signal(p) - Y) ** 2), net.init(None)))
    return out


CASES = _cases()


@pytest.mark.parametrize("name,loss,params", CASES, ids=[c[0] for c in CASES])
def test_lanczos_matches_dense_eigvalsh(name, loss, params):
    ev = _eig_oracle(loss, params)
    ritz = np.asarray(jax.jit(lambda p: lanczos(loss, p, 40))(params))
    est = ritz[-1]
    assert abs(est - ev[-1]) <= RTOL * abs(ev[-1]), (est, ev[-1])
    # the lower spectral end converges too (what `absolute=True` compares with)
    assert abs(ritz[0] - ev[0]) <= RTOL * max(abs(ev[0]), abs(ev[-1]))
    # negative control: the second eigenvalue (a wrong answer) fails the same check
    assert abs(ev[-2] - ev[-1]) > RTOL * abs(ev[-1])


def test_power_iteration_matches_dense_eigvalsh():
    # power iteration converges to the eigenvalue of largest modulus; on a PSD
    # Gauss-Newton-dominated point it is lambda_max
    name, loss, params = CASES[0]
    ev = _eig_oracle(loss, params)
    top = ev[np.argmax(np.abs(ev))]
    lam, it = power_iteration(loss, params, max_iter=20000, tol=1e-15)
    assert abs(float(lam) - top) <= RTOL * abs(top)
    est = float(sharpness(loss, params, method="power", max_iter=20000, tol=1e-15))
    assert abs(est - top) <= RTOL * abs(top)
    # negative control: stopped after 3 products it is not converged to 1e-6
    lam3, _ = power_iteration(loss, params, max_iter=3, tol=0.0)
    assert abs(float(lam3) - top) > RTOL * abs(top)


def test_dense_helper_and_hvp():
    name, loss, params = CASES[1]
    np.testing.assert_allclose(dense_hessian_eigvals(loss, params), _eig_oracle(loss, params),
                               rtol=1e-10, atol=1e-10)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    H = np.asarray(jax.jit(jax.hessian(lambda z: loss(unravel(z))))(flat))
    v = np.random.default_rng(1).standard_normal(flat.shape[0])
    hv = jax.flatten_util.ravel_pytree(hvp(loss, params, unravel(jnp.asarray(v))))[0]
    np.testing.assert_allclose(np.asarray(hv), H @ v, rtol=1e-10, atol=1e-10)


def test_jit_and_known_quadratic():
    diag = jnp.asarray([3.0, 1.0, -5.0, 0.5])

    def f(p):
        return 0.5 * jnp.sum(diag * p**2)
    p = jnp.ones(4)
    both = jax.jit(lambda q: (sharpness(f, q), sharpness(f, q, absolute=True, k=4)))(p)
    assert abs(float(both[0]) - 3.0) < 1e-12 and abs(float(both[1]) - 5.0) < 1e-12
    # Lanczos stops cleanly at an invariant subspace (k > n is capped; repeated values)
    assert abs(float(sharpness(lambda q: 0.5 * jnp.sum(q**2), jnp.ones(6), k=50)) - 1.0) < 1e-12


def test_bad_input():
    f = lambda p: jnp.sum(p**2)  # noqa: E731
    with pytest.raises(ValueError, match="method"):
        sharpness(f, jnp.ones(3), method="arnoldi")
    with pytest.raises(ValueError, match="k must"):
        sharpness(f, jnp.ones(3), k=0)
    with pytest.raises(ValueError, match="empty"):
        sharpness(f, {})


@settings(max_examples=8)
@given(c=st.floats(0.1, 10.0), seed=st.integers(0, 1000))
def test_scaling_invariant(c, seed):
    """Scaling the loss by c scales the sharpness by c; a rotation of the parameters
    (orthogonal change of variables) leaves it unchanged."""
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((8, 8))
    H = jnp.asarray(M @ M.T)
    Q = jnp.asarray(np.linalg.qr(rng.standard_normal((8, 8)))[0])
    p = jnp.asarray(rng.standard_normal(8))
    s1, s2, s3 = (float(v) for v in _three(p, H, Q, jnp.float64(c)))
    assert abs(s2 - c * s1) <= 1e-8 * abs(c * s1)
    assert abs(s3 - s1) <= 1e-8 * abs(s1)


def _f(p, H):
    return 0.5 * p @ H @ p + jnp.sum(p**4) / 4


@jax.jit
def _three(p, H, Q, c):
    return (sharpness(lambda q: _f(q, H), p, k=8),
            sharpness(lambda q: c * _f(q, H), p, k=8),
            sharpness(lambda q: _f(Q @ q, H), Q.T @ p, k=8))


def test_public_name():
    assert overparam.metrics.sharpness is sharpness


def test_power_absolute_at_a_symmetric_saddle():
    """At the saddle u = v = 0 of x = u * v the Hessian is [[0, -D], [-D, 0]]
    (D = diag(A^T y)): its spectrum is +-|D_i|. The Rayleigh quotient of the power method
    stalls strictly inside (-||H||, ||H||) there; ``absolute=True`` must still give
    ``||H||_2`` (regression: it returned |v^T H v| = 0.53 against 1.585)."""
    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.standard_normal((4, 6)))
    y = jnp.asarray(rng.standard_normal(4))

    def loss(p):
        r = A @ (p["u"] * p["v"]) - y
        return 0.5 * jnp.vdot(r, r)
    params = {"u": jnp.zeros(6), "v": jnp.zeros(6)}
    ev = _eig_oracle(loss, params)
    top = np.max(np.abs(ev))
    assert abs(ev[0] + ev[-1]) < 1e-12 * top           # the +-lambda tie
    est = float(sharpness(loss, params, method="power", absolute=True,
                          max_iter=20000, tol=1e-15))
    assert abs(est - top) <= RTOL * top, (est, top)
    # negative control: the signed Rayleigh quotient is not an eigenvalue here
    lam, _ = power_iteration(loss, params, max_iter=20000, tol=1e-15)
    assert np.min(np.abs(ev - float(lam))) > RTOL * top


def test_power_settings_are_validated():
    """A NaN ``tol`` (or ``max_iter=0``) used to stop the power method after one product
    and return that Rayleigh quotient as the sharpness."""
    d = jnp.asarray([3.0, 1.0, 0.5])
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    for bad in (dict(tol=float("nan")), dict(tol=-1.0), dict(max_iter=0),
                dict(max_iter=2.5)):
        with pytest.raises(ValueError, match="tol|max_iter"):
            sharpness(f, jnp.ones(3), method="power", **bad)
    with pytest.raises(TypeError, match="absolute must be a bool"):
        sharpness(f, jnp.ones(3), absolute="no")   # "no" was truthy


@pytest.mark.parametrize("d, want", [([-3.0, 10, 10, 10], [-3.0, 10]),
                                     ([5.0, 5, 5, 1, 1], [1.0, 5]),
                                     ([2.0, 2, 2, 2], [2.0])])
def test_lanczos_after_an_invariant_subspace_returns_only_ritz_values(d, want):
    # the Krylov space of a Hessian with j distinct eigenvalues is j-dimensional: the
    # steps after it repeated a diagonal entry, -2.86 for diag(-3, 10, 10, 10), which is
    # no eigenvalue (counting negative eigenvalues gave 3 instead of 1)
    dj = jnp.asarray(d)
    f = lambda p: 0.5 * jnp.sum(dj * p**2)  # noqa: E731
    ritz = np.asarray(lanczos(f, jnp.ones(len(d)), len(d)))
    assert ritz.shape == (len(d),) and np.all(np.diff(ritz) >= 0)
    assert np.all(np.min(np.abs(ritz[:, None] - np.asarray(want)[None, :]), 1) < 1e-12)
    assert set(np.round(ritz, 12)) == set(want)


def test_lanczos_rejects_bad_k():
    """``lanczos`` used to clamp k = 0 / negative k to one step and truncate k = 2.7 to 2
    (one step: the Rayleigh quotient of the random start vector, 2.2 for lambda_max 3)."""
    d = jnp.asarray([3.0, 1.0, 0.5])
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    for bad in (0, -3, 2.7, True):
        with pytest.raises(ValueError, match="k must"):
            lanczos(f, jnp.ones(3), bad)
    assert abs(float(lanczos(f, jnp.ones(3), np.int64(3))[-1]) - 3.0) < 1e-12


def test_power_sharpness_is_lambda_max_under_negative_curvature():
    """``sharpness(method="power")`` returned the eigenvalue of largest modulus, signed:
    -5 for the spectrum {1, -5, 0.2}, where the default (Lanczos) gives lambda_max = 1.
    Oracle: dense eigvalsh on a random symmetric quadratic plus a quartic (non-diagonal),
    with a dominant negative eigenvalue, and on an all-negative one."""
    rng = np.random.default_rng(3)
    Q = np.linalg.qr(rng.standard_normal((7, 7)))[0]
    p = jnp.asarray(0.1 * rng.standard_normal(7))
    for spec in ([2.0, 1.0, 0.3, -0.5, -1.0, -4.0, -6.0],
                 [-0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]):
        H = jnp.asarray(Q @ np.diag(spec) @ Q.T)

        def f(q, H=H):
            return 0.5 * q @ H @ q + jnp.sum(q**4) / 4
        ev = _eig_oracle(f, p)
        assert ev[0] < 0 and abs(ev[0]) > abs(ev[-1])     # the dominant one is negative
        est = float(jax.jit(lambda q, f=f: sharpness(f, q, method="power", max_iter=20000,
                                                     tol=1e-15))(p))
        assert abs(est - ev[-1]) <= RTOL * np.max(np.abs(ev)), (est, ev[-1])
        # the same quantity as Lanczos
        assert abs(est - float(sharpness(f, p))) <= RTOL * np.max(np.abs(ev))
        # negative control: the plain power method converges to lambda_min
        lam, _ = power_iteration(f, p, max_iter=20000, tol=1e-15)
        assert abs(float(lam) - ev[0]) <= RTOL * abs(ev[0])
        assert abs(float(lam) - ev[-1]) > 1.0


def test_complex_params_are_refused():
    """A real loss of complex parameters gave a meaningless number (11.8 for |p|^2 on
    C^3, whose Hessian in real coordinates is 2 I)."""
    f = lambda p: jnp.real(jnp.vdot(p, p))  # noqa: E731
    p = jnp.ones(3, jnp.complex128)
    with pytest.raises(TypeError, match="real"):
        sharpness(f, p)
    with pytest.raises(TypeError, match="real"):
        sharpness(f, {"a": jnp.ones(2), "b": p}, method="power")
    with pytest.raises(TypeError, match="real"):
        lanczos(f, p, 3)
    with pytest.raises(TypeError, match="real"):
        power_iteration(f, p)
    # the same loss on the real coordinates: sharpness 2
    g = lambda z: jnp.sum(z**2)  # noqa: E731
    assert abs(float(sharpness(g, jnp.ones(6))) - 2.0) < 1e-12


# ------------------------------------------- scale, dtype and size edges (round 12)
_SPEC = np.array([3.0, 1.0, -2.0, 0.5])   # lambda_max 3, max |lambda| 3


@pytest.mark.parametrize("dtype, c", [(jnp.float32, 1e-25), (jnp.float32, 1e-20),
                                      (jnp.float32, 1e20), (jnp.float32, 1e25),
                                      (jnp.float64, 1e-200), (jnp.float64, 1e-160),
                                      (jnp.float64, 1e160), (jnp.float64, 1e200)])
@pytest.mark.parametrize("method", ["lanczos", "power"])
@pytest.mark.parametrize("absolute", [False, True])
def test_sharpness_is_homogeneous_at_extreme_hessian_scales(dtype, c, method, absolute):
    """sharpness(c f) = c sharpness(f) wherever c * lambda is representable. The norm of a
    Hessian-vector product squared its entries: 0 below ~1e-154 (float64; ~1e-19 in
    float32) and inf above ~1e154 (~1e19), so Lanczos stopped after one step with the
    Rayleigh quotient of its start (1.68 c for 3 c at float32 c = 1e-20, -1.46 c at
    float64 c = 1e-200) and the power method returned that, 0 or inf."""
    d = jnp.asarray(_SPEC * c, dtype)
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    est = float(sharpness(f, jnp.ones(4, dtype), method=method, absolute=absolute))
    rtol = (1e-5 if dtype == jnp.float32 else 1e-12) if method == "lanczos" else 1e-6
    assert abs(est / c - 3.0) <= rtol * 3.0, est / c


def test_sharpness_refuses_parameters_of_size_zero():
    """A pytree of empty arrays passed the 'params is empty' check (it has a leaf):
    Lanczos failed with an IndexError and the power method returned 0.0."""
    f = lambda p: jnp.sum(p**2)  # noqa: E731
    for method in ("lanczos", "power"):
        with pytest.raises(ValueError, match="empty"):
            sharpness(f, jnp.zeros(0), method=method)
        with pytest.raises(ValueError, match="empty"):
            sharpness(lambda p: jnp.sum(p["a"] ** 2), {"a": jnp.zeros((0, 3))},
                      method=method)
    with pytest.raises(ValueError, match="empty"):
        lanczos(f, jnp.zeros(0), 3)
    with pytest.raises(ValueError, match="empty"):
        power_iteration(f, jnp.zeros(0))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_lanczos_in_half_precision(dtype):
    """eigvalsh has no half-precision kernel: Lanczos failed ("Unsupported dtype
    bfloat16") where the power method worked; the result keeps the parameters' dtype."""
    d = jnp.asarray(_SPEC, dtype)
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    for absolute, want in ((False, 3.0), (True, 3.0)):
        est = sharpness(f, jnp.ones(4, dtype), absolute=absolute)
        assert est.dtype == dtype
        assert abs(float(est) - want) <= 0.02 * want
    assert lanczos(f, jnp.ones(4, dtype), 4).dtype == dtype


def test_power_iteration_validates_its_settings():
    """Only sharpness() checked them: power_iteration(tol=nan) stopped after one product
    and returned the start vector's Rayleigh quotient (with max_iter=0 as well)."""
    d = jnp.asarray([3.0, 1.0, 0.5])
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    for bad in (dict(tol=float("nan")), dict(tol=-1.0), dict(tol=float("inf")),
                dict(max_iter=0), dict(max_iter=2.5), dict(max_iter=True)):
        with pytest.raises(ValueError, match="tol|max_iter"):
            power_iteration(f, jnp.ones(3), **bad)
    lam, it = power_iteration(f, jnp.ones(3), max_iter=np.int64(500), tol=0.0)
    assert abs(float(lam) - 3.0) < 1e-10 and 1 <= int(it) <= 500


# ------------------------------------------------ adversarial inputs (round 13)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("spec", [[2.0, 2.0, 2.0, 2.0], [0.0, 0.0, 0.0, 1e-3],
                                  [1.0, 1.0, 1.0, 1.0, 1.0, 5.0]])
def test_low_precision_ritz_values_stay_in_the_spectrum(dtype, spec):
    """In float16 / bfloat16 the Lanczos recurrence itself ran in half precision: an
    invariant subspace was never detected (its residual is rounding noise) and the
    vectors lost orthogonality, so Ritz values left the spectrum (sharpness 3.88 for
    2 I in bfloat16) or came back NaN (float16, diag(0, 0, 0, 1e-3)). Oracle: eigvalsh."""
    d = np.asarray(spec)
    f = lambda p: 0.5 * jnp.sum(jnp.asarray(d, dtype) * p * p)  # noqa: E731
    p = jnp.ones(len(d), dtype)
    ritz = np.asarray(lanczos(f, p, len(d)), dtype=np.float64)
    top = float(np.linalg.eigvalsh(np.diag(d))[-1])
    tol = 0.02 * top
    assert np.all(np.isfinite(ritz))
    assert ritz.min() >= d.min() - tol and ritz.max() <= top + tol, ritz
    est = sharpness(f, p)
    assert est.dtype == dtype and abs(float(est) - top) <= tol, float(est)


def test_power_method_in_bfloat16_finds_lambda_max():
    """The power method's stop test compared Rayleigh quotients rounded to bfloat16: it
    stopped on a repeated value and the shifted run (lambda_min = -5 dominates) returned
    0.28 for lambda_max = 1."""
    d = jnp.asarray([-5.0, 1.0, 0.2, 0.2], jnp.bfloat16)
    f = lambda p: 0.5 * jnp.sum(d * p * p)  # noqa: E731
    est = sharpness(f, jnp.ones(4, jnp.bfloat16), method="power", max_iter=300, tol=1e-4)
    assert est.dtype == jnp.bfloat16 and abs(float(est) - 1.0) < 0.05, float(est)
    lam, _ = power_iteration(f, jnp.ones(4, jnp.bfloat16), max_iter=300, tol=1e-4)
    assert abs(float(lam) + 5.0) < 0.1


def test_integer_params_and_string_settings_are_named():
    """Integer / bool parameters failed inside jax.grad ("... set allow_int to True") and
    in the oracle inside jacfwd ("pass holomorphic=True"); tol="1e-3" failed in the loop
    with "Only integer scalar arrays can be converted to a scalar index"."""
    f = lambda p: jnp.sum(p.astype(float) ** 2)  # noqa: E731
    for p in (jnp.ones(3, jnp.int32), jnp.ones(3, bool), np.arange(3)):
        for method in ("lanczos", "power"):
            with pytest.raises(TypeError, match="params must be floating point"):
                sharpness(f, p, method=method)
        with pytest.raises(TypeError, match="params must be real floating point"):
            dense_hessian_eigvals(f, p)
    with pytest.raises(TypeError, match="params must be real floating point"):
        dense_hessian_eigvals(lambda p: jnp.sum(jnp.abs(p) ** 2), jnp.ones(3, complex))
    g = lambda p: 0.5 * jnp.sum(jnp.asarray([3.0, 1.0]) * p**2)  # noqa: E731
    for bad in (dict(tol="1e-3"), dict(max_iter="10"), dict(tol=None)):
        with pytest.raises(TypeError, match="tol|max_iter"):
            sharpness(g, jnp.ones(2), method="power", **bad)
        with pytest.raises(TypeError, match="tol|max_iter"):
            power_iteration(g, jnp.ones(2), **bad)
    # traced settings still pass
    lam, _ = jax.jit(lambda m, t: power_iteration(g, jnp.ones(2), max_iter=m, tol=t))(
        200, 1e-12)
    assert abs(float(lam) - 3.0) < 1e-9
