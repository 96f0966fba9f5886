"""Invariants of the Hadamard dynamics and their limits (hypothesis property tests)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import overparam
from overparam.limits import hadamard_limit

problems = st.tuples(st.integers(3, 8), st.integers(1, 10), st.integers(0, 2**31 - 1))
depths = st.sampled_from([2, 3, 4])


def _system(m, extra, seed, nonneg=False):
    rng = np.random.default_rng(seed)
    n = m + extra
    A = rng.standard_normal((m, n)) / np.sqrt(m)
    x = np.zeros(n)
    k = rng.choice(n, size=min(2, n), replace=False)
    x[k] = np.abs(rng.standard_normal(k.size)) if nonneg else rng.standard_normal(k.size)
    return A, A @ x, rng


def _limit(A, y, L, nonneg=False, alpha=0.05):
    r = hadamard_limit(A, y, depth=L, init_scale=alpha, nonneg=nonneg, tol=1e-12)
    assert r.success, r.message
    return r.x


@given(problems, depths)
def test_sign_symmetry(prob, L):
    A, y, _ = _system(*prob)
    np.testing.assert_allclose(_limit(A, -y, L), -_limit(A, y, L), rtol=1e-7, atol=1e-10)
    # flipping the sign of a column flips that coordinate
    D = np.ones(A.shape[1])
    D[0] = -1.0
    np.testing.assert_allclose(_limit(A * D, y, L), D * _limit(A, y, L), rtol=1e-7, atol=1e-10)


@given(problems, depths, st.booleans())
def test_permutation_equivariance(prob, L, nonneg):
    A, y, rng = _system(*prob, nonneg=nonneg)
    perm = rng.permutation(A.shape[1])
    x = _limit(A, y, L, nonneg)
    xp = _limit(A[:, perm], y, L, nonneg)
    np.testing.assert_allclose(xp, x[perm], rtol=1e-7, atol=1e-10)


@given(problems, depths, st.booleans())
def test_duplicate_columns_share_their_weight(prob, L, nonneg):
    A, y, rng = _system(*prob, nonneg=nonneg)
    j = int(rng.integers(A.shape[1]))
    Ad = np.column_stack([A, A[:, j]])
    x = _limit(Ad, y, L, nonneg)
    np.testing.assert_allclose(x[j], x[-1], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(Ad @ x, y, atol=1e-9 * max(1.0, np.linalg.norm(y)))


@given(problems)
def test_gd_sign_symmetry_is_exact(prob):
    """GD on (A, -y) swaps the roles of u and v, so its iterates are exactly negated."""
    A, y, _ = _system(*prob)
    kw = dict(depth=2, init_scale=0.1, step=0.05, max_iter=200, tol=0.0)
    a = overparam.hadamard_gd(A, y, **kw)
    b = overparam.hadamard_gd(A, -y, **kw)
    np.testing.assert_allclose(b.x, -a.x, rtol=1e-12, atol=1e-15)
