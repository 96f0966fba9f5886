"""Adversarial checks of dmf_gd, wn_gd and the sharpness metric against independent
oracles (NumPy loops, dense Hessians, eigvalsh)."""
import jax.numpy as jnp
import numpy as np
import pytest

from overparam.metrics.sharpness import lanczos, sharpness


# ------------------------------------------------ sharpness at the top of the float range
@pytest.mark.parametrize("dtype, c, spec, method", [
    (jnp.float32, 1e38, (1.0, 1.0, 1.0), "lanczos"),
    (jnp.float32, 1e38, (1.0, 1.0, 1.0), "power"),
    (jnp.float32, 3e38, (1.0, 0.9, -0.5), "power"),
    (jnp.float64, 5e307, (1.0, 1.0, 2.0), "power"),
    (jnp.float64, 1e308, (1.0, 0.0, 0.0), "lanczos"),
])
def test_sharpness_near_the_largest_float(dtype, c, spec, method):
    """sharpness(c f) = c sharpness(f) up to the top of the float range. XLA:CPU divides
    by a scalar through its reciprocal, flushed to 0 when subnormal: a unit vector w / ||w||
    was 0 for ||w|| above ~8.5e37 (float32; ~4.5e307 float64). Before: the power method
    gave 0.0 for 1e38 I (float32) and for 1e308 diag(1, 0, 0), 1.83 c for c diag(1, 1, 2)
    at c = 5e307; Lanczos NaN (eigvalsh of a tridiagonal with entries ~1e308, and padding
    at -4 * bound - 1 = -inf)."""
    d = jnp.asarray(np.array(spec) * c, dtype)
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    est = float(sharpness(f, jnp.ones(3, dtype), method=method)) / c
    rtol = 1e-5 if dtype == jnp.float32 else 1e-9
    assert abs(est - max(spec)) <= rtol * max(spec), est


def test_lanczos_ritz_values_near_the_largest_float():
    """All Ritz values (k = n: the spectrum) of c diag(1, -1, 0.3) at c = 1.7e308 (the sum
    |alpha| + beta of the breakdown scale overflowed, eigvalsh gave NaN)."""
    c = 1.7e308
    d = jnp.asarray([c, -c, 0.3 * c])
    f = lambda p: 0.5 * jnp.sum(d * p**2)  # noqa: E731
    ritz = np.asarray(lanczos(f, jnp.ones(3), 3)) / c
    np.testing.assert_allclose(ritz, [-1.0, 0.3, 1.0], rtol=1e-12)


# ------------------------------------------------------------------ dmf_gd closed form
def test_depth1_completion_keeps_unobserved_entries_and_factor_product():
    """Depth 1 is plain GD on W from alpha I: the gradient vanishes off the mask, so the
    unobserved entries keep their start values exactly and the observed ones are fitted
    (closed form); depth 3 returns factors whose product is x."""
    from overparam.dynamics import dmf_gd
    from overparam.problems import matrix_completion
    p = matrix_completion(4, 5, 2, 9, seed=2)
    mask = np.zeros((4, 5), bool)
    mask[p.A.rows, p.A.cols] = True
    r = dmf_gd(p, depth=1, init_scale=0.3, max_iter=50, tol=1e-12, record=2)
    assert np.array_equal(r.x[~mask], 0.3 * np.eye(4, 5)[~mask])
    np.testing.assert_allclose(r.x[mask], p.x_true.reshape(4, 5)[mask], atol=1e-11)
    r3 = dmf_gd(p, depth=3, init_scale=0.3, max_iter=20, record=2)
    W1, W2, W3 = r3.info["factors"]
    np.testing.assert_allclose(W3 @ W2 @ W1, r3.x, rtol=1e-13, atol=1e-15)
