"""Adversarial checks of the simulated Hadamard dynamics (driver, steps, flow) against
independent oracles and on edge cases."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import overparam
from overparam import Status
from overparam.dynamics import Auto, make_config, run_driver, run_driver_batch
from overparam.dynamics.flow import gradient_flow
from overparam.dynamics.hadamard_gd import hadamard_gd_batch
from overparam.models import Hadamard
from overparam.problems import Problem


def _small(seed=0, m=4, n=6):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x = np.zeros(n)
    x[:2] = [1.0, -0.5]
    return A, A @ x


def test_an_operator_whose_squared_norm_overflows_is_refused_by_name():
    # before: ||A||_2 = 3e160 made run_driver's op.norm2**2 (a Python float power) raise a
    # bare "OverflowError: (34, 'Numerical result out of range')"
    A, y = _small()
    big = 1e160 * A
    with pytest.raises(ValueError, match="spectral norm"):
        overparam.hadamard_gd(big, y, max_iter=5)
    with pytest.raises(ValueError, match="spectral norm"):
        gradient_flow(Hadamard(2), big, y, max_iter=5)
    with pytest.raises(ValueError, match="spectral norm"):  # distinct operators
        hadamard_gd_batch([Problem(big, y), Problem(2 * big, y)], max_iter=5, workers=1)
    with pytest.raises(ValueError, match="spectral norm"):  # one shared operator
        hadamard_gd_batch([Problem(big, y), Problem(big, 2 * y)], max_iter=5, workers=1)
    # a large norm whose square float64 holds still runs
    res = overparam.hadamard_gd(1e150 * A, y, max_iter=5)
    assert res.n_iter == 5 and np.all(np.isfinite(res.x))


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_run_driver_takes_float32_and_integer_measurements(dtype):
    # before: under jax_numpy_dtype_promotion="strict" (set by conftest) a float32 or
    # integer y met the float64 residual A x - y inside the loop: TypePromotionError
    A = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    y64 = np.array([3.0, -2.0])
    op = Problem(A, y64).A
    cfg = make_config(40, 1e-8, 8)
    ref, _, _ = run_driver(Hadamard(2, init_scale=0.1), Auto(), op, y64, cfg)
    out, _, _ = run_driver(Hadamard(2, init_scale=0.1), Auto(), op, y64.astype(dtype), cfg)
    np.testing.assert_array_equal(out["x"], ref["x"])
    bout, _, _ = run_driver_batch(Hadamard(2, init_scale=0.1), Auto(), [op, op],
                                  [y64.astype(dtype)] * 2, cfg)
    np.testing.assert_allclose(bout["x"][1], ref["x"], rtol=1e-12, atol=1e-14)


def test_a_saddle_plateau_at_depth_three_or_more_is_not_blamed_on_y_or_the_tolerance():
    # before: stagnated at relative residual 0.48 with only "the tolerance may be below what
    # floating point allows, or y is not reachable by the model", though the signed model
    # reaches every y in range(A) (and the gradient flow stalls there too)
    from overparam.problems import sparse_recovery

    p = sparse_recovery(30, 15, 3, seed=1)
    res = overparam.hadamard_gd(p, depth=4, init_scale=1e-4, max_iter=3000, tol=1e-4)
    assert res.status is Status.STAGNATED and res.info["relative_residual"] > 0.4
    assert "saddle plateaus" in res.message and "hadamard_limit" in res.message
    assert "above its best" not in res.message  # flat: not a step too large
    (b,) = hadamard_gd_batch([p], depth=4, init_scale=1e-4, max_iter=3000, tol=1e-4,
                             workers=1)
    assert b.status is Status.STAGNATED and "saddle plateaus" in b.message
    # no such hint at a least-squares point of an inconsistent system (y out of reach)
    rng = np.random.default_rng(7)
    A2, y2 = rng.standard_normal((12, 5)), rng.standard_normal(12)
    ls = overparam.hadamard_gd(A2, y2, depth=3, init_scale=1.0, max_iter=5000, tol=1e-8)
    assert ls.status is Status.STAGNATED and "plateau" not in ls.message
    np.testing.assert_allclose(ls.x, np.linalg.lstsq(A2, y2)[0], atol=1e-6)
    A = p.A.to_dense()  # y is in the range of A: x = u^4 - v^4 can interpolate it
    assert np.linalg.norm(A @ np.linalg.lstsq(A, p.y)[0] - p.y) < 1e-12


@pytest.mark.parametrize("depth", [3, 4])
def test_a_step_too_large_to_descend_is_named_when_the_run_stagnates(depth):
    # before: constant step 1.0 at init_scale 0.5: the loss jumped between 0.03 and 0.2
    # (depth 4; at depth 3 the odd-depth guard also pinned 22 factors at 0) and the run
    # stagnated at relative residual ~0.5 with advice blaming the tolerance or y only
    from overparam.problems import sparse_recovery

    p = sparse_recovery(30, 15, 3, seed=1)
    res = overparam.hadamard_gd(p, depth=depth, init_scale=0.5, step=1.0, max_iter=3000,
                                tol=1e-6)
    assert res.status is Status.STAGNATED and res.info["relative_residual"] > 0.3
    assert "above its best" in res.message and "plateau" not in res.message
    assert res.fun > 1.01 * np.min(res.trace["loss"])  # the loss did rise again
    # a stable step on the same problem converges
    ok = overparam.hadamard_gd(p, depth=depth, init_scale=0.5, step=0.2, max_iter=3000,
                               tol=1e-6)
    assert ok.status is Status.CONVERGED
