"""hadamard_limit on problems whose column norms span decades (1e-3 .. 1e3).

Before the continuation's trust bound (_Z_TRUST) was made scale-aware, Newton directions
moving z by ~1e4 on large columns whose x was ~1e-30 damped every continuation step to
t ~ 5e-4: the non-negative limit stopped at max_iter partway along the path."""
import numpy as np
import pytest
import scipy.optimize

from overparam.limits import hadamard_limit


def scaled_problem(m, n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n)) * 10 ** rng.uniform(-3, 3, n)
    k = max(2, m // 5)
    x0 = np.zeros(n)
    x0[rng.choice(n, k, replace=False)] = rng.uniform(0.5, 2.0, k)
    return A, A @ x0


def l1_min(A, y):
    n = A.shape[1]
    lp = scipy.optimize.linprog(np.ones(n), A_eq=A, b_eq=y, bounds=(0, None),
                                method="highs")
    assert lp.status == 0
    return lp.fun


def check_limit(A, y, res, a):
    """The documented optimality conditions: A x = y and x = a^2 exp(z), z in range(A^T)."""
    assert res.success, res.message
    x, z = res.x, res.info["z"]
    assert np.all(x >= 0)
    assert np.linalg.norm(A @ x - y) <= 1e-9 * np.linalg.norm(y)
    assert np.allclose(x, a * a * np.exp(z), rtol=1e-12, atol=0)
    # component of z outside range(A^T), by an orthonormal basis of range(A^T)
    q, _ = np.linalg.qr(A.T)
    off = z - q @ (q.T @ z)
    assert np.linalg.norm(off) <= 1e-8 * np.linalg.norm(z)


# (m, n, seed, init_scale): all stopped at max_iter before the fix
@pytest.mark.parametrize("m, n, seed, a", [(20, 60, 0, 1e-6), (20, 60, 1, 1e-6),
                                           (20, 60, 2, 1e-3), (20, 60, 2, 1e-4)])
def test_nonneg_limit_with_scaled_columns_converges(m, n, seed, a):
    A, y = scaled_problem(m, n, seed)
    res = hadamard_limit(A, y, nonneg=True, init_scale=a)
    check_limit(A, y, res, a)
    # near the minimal-l1 non-negative solution
    f = l1_min(A, y)
    assert abs(res.x.sum() - f) <= 2e-2 * f  # (the gap closes slowly: 1e-2 at a = 1e-2)


def test_nonneg_scaled_columns_l1_gap_shrinks():
    A, y = scaled_problem(20, 60, 2)
    f = l1_min(A, y)
    gaps = []
    for a in (1e-2, 1e-4):
        res = hadamard_limit(A, y, nonneg=True, init_scale=a)
        assert res.success, res.message
        gaps.append(res.x.sum() - f)
    assert 0 < gaps[1] < 0.5 * gaps[0]


def test_nonneg_scaled_columns_newton_cg():
    # explicit Newton-CG stagnated here before the fix
    A, y = scaled_problem(20, 60, 1)
    res = hadamard_limit(A, y, nonneg=True, init_scale=1e-3, method="newton-cg")
    check_limit(A, y, res, 1e-3)
