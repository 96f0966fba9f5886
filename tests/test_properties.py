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


# each new shape compiles the GD loop (~0.5 s): shapes from a few corners of the range
# above, data drawn freely (the property is about the data's sign, not the shape)
gd_problems = st.tuples(st.sampled_from([3, 8]), st.sampled_from([1, 10]),
                        st.integers(0, 2**31 - 1))


@given(gd_problems)
def test_gd_sign_symmetry_is_exact(prob):
    """GD on (A, -y) swaps the roles of u and v, so its iterates are exactly negated."""
    A, y, _ = _system(*prob)
    kw = dict(depth=2, init_scale=0.1, step=0.05, max_iter=200, tol=0.0)
    a = overparam.hadamard_gd(A, y, **kw)
    b = overparam.hadamard_gd(A, -y, **kw)
    np.testing.assert_allclose(b.x, -a.x, rtol=1e-12, atol=1e-15)


# =====================================================================================
# Problem generators: determinism, documented distributions, parameter boundaries
# =====================================================================================
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402
from scipy import stats  # noqa: E402

from overparam.metrics.errors import (l1_gap, relative_error, residual,  # noqa: E402
                                      support_recovery)
from overparam.problems import sparse_recovery  # noqa: E402
from overparam.problems.regression import sparse_regression  # noqa: E402
from overparam.problems.sparse import sparse_vector  # noqa: E402

_DIGEST_SCRIPT = r"""
import hashlib, sys
import numpy as np
from overparam.problems import sparse_recovery
from overparam.problems.eigen import sparse_eigen_problem
from overparam.problems.regression import sparse_regression
from overparam.problems.structured import lrrs_problem

def dense(A):
    return A.to_dense() if hasattr(A, "to_dense") else np.asarray(A)

def digest(seed):
    h = hashlib.sha256()
    for op in ("gaussian", "rademacher", "dct", "fft"):
        for sig in ("gaussian", "sign", "uniform"):
            p = sparse_recovery(12, 6, 3, operator=op, signal=sig, noise=0.1, seed=seed)
            for a in (dense(p.A), p.y, p.x_true):
                h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    r = sparse_regression(12, 6, 3, m_test=7, noise=0.2, seed=seed)
    for a in (dense(r.A), r.y, r.x_true, r.A_test, r.y_test):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    for op in ("gaussian", "gaussian_rank_one", "fourier_rank_one"):
        q = lrrs_problem(6, 4, 2, 3, m=20, operator=op, snr=50.0, seed=seed)
        for a in (q.y, q.x_true):
            h.update(np.ascontiguousarray(a).tobytes())
    f = sparse_eigen_problem(40, 3, 4, support="overlapping", tail_times=1, seed=seed)
    h.update(f.vectors.toarray().tobytes())
    return h.hexdigest()
"""


def _digests(seeds, in_process):
    """sha256 of a batch of generated problems per seed, here or in a fresh interpreter
    (the same source, run by ``python -c``)."""
    if in_process:
        ns: dict = {}
        exec(_DIGEST_SCRIPT, ns)
        return [ns["digest"](s) for s in seeds]
    script = _DIGEST_SCRIPT + '\nprint(" ".join(digest(int(s)) for s in sys.argv[1:]))\n'
    out = subprocess.run([sys.executable, "-c", script, *map(str, seeds)],
                         capture_output=True, text=True, check=True, timeout=600)
    return out.stdout.split()


def test_generators_are_reproducible_across_processes():
    """The same seed gives bit-identical problems in another interpreter (no hidden
    global state, no dependence on call order); different seeds give different ones."""
    seeds = [0, 1, 2**40 + 3]
    here = _digests(seeds, in_process=True)
    assert here == _digests(seeds, in_process=True)            # repeated calls
    assert _digests(seeds, in_process=False) == here          # a fresh process
    assert len(set(here)) == len(seeds)


@settings(max_examples=15)
@given(st.integers(1, 30), st.data(), st.integers(0, 2**63),
       st.sampled_from(["gaussian", "sign", "uniform"]), st.booleans())
def test_sparse_vector_has_exactly_s_nonzeros_of_the_documented_kind(n, data, seed, signal,
                                                                      nonneg):
    s = data.draw(st.integers(0, n))
    x = sparse_vector(n, s, seed, signal=signal, nonneg=nonneg)
    assert x.shape == (n,) and x.dtype == np.float64
    assert np.count_nonzero(x) == s
    np.testing.assert_array_equal(x, sparse_vector(n, s, seed, signal=signal, nonneg=nonneg))
    v = x[x != 0]
    if signal == "sign":
        assert set(np.abs(v)) <= {1.0}
    if signal == "uniform":
        assert np.all(np.abs(v) <= 1.0)
    if nonneg:
        assert np.all(v > 0)


@settings(max_examples=15)
@given(st.integers(0, 2**63), st.integers(0, 2**63))
def test_sparse_recovery_seeds_decide_the_problem(a, b):
    pa, pb = (sparse_recovery(20, 8, 3, noise=0.1, seed=s) for s in (a, b))
    pa2 = sparse_recovery(20, 8, 3, noise=0.1, seed=a)
    np.testing.assert_array_equal(pa.y, pa2.y)
    np.testing.assert_array_equal(pa.A.to_dense(), pa2.A.to_dense())
    assert (a == b) == np.array_equal(pa.y, pb.y)
    # y = A x_true + noise: the residual of the truth is the noise draw
    r = pa.y - pa.A.matvec(pa.x_true)
    assert 0 < np.linalg.norm(r) < 0.1 * 10 * np.sqrt(8)


def test_support_is_uniform_and_values_follow_their_distribution():
    """Chi-square on the support positions, KS on the nonzero values (N(0, 1),
    U[-1, 1], |N(0, 1)| for nonneg) and a binomial test on the signs; fixed seeds, a
    threshold (p > 1e-4) that a biased sampler fails."""
    rng = np.random.default_rng(12)
    n, s, trials = 12, 4, 4000
    counts = np.zeros(n)
    vals = {sig: [] for sig in ("gaussian", "sign", "uniform")}
    for sig in vals:
        for _ in range(trials):
            x = sparse_vector(n, s, rng, signal=sig)
            counts += x != 0
            vals[sig].append(x[x != 0])
    assert stats.chisquare(counts).pvalue > 1e-4
    assert stats.kstest(np.concatenate(vals["gaussian"]), "norm").pvalue > 1e-4
    assert stats.kstest(np.concatenate(vals["uniform"]), stats.uniform(-1, 2).cdf).pvalue > 1e-4
    signs = np.concatenate(vals["sign"])
    assert stats.binomtest(int((signs > 0).sum()), signs.size).pvalue > 1e-4
    pos = np.concatenate([sparse_vector(40, 40, k, nonneg=True) for k in range(100)])
    assert stats.kstest(pos, "halfnorm").pvalue > 1e-4
    # negative control: the KS test at this size tells N(0, 1) from N(0, 1.05^2)
    assert stats.kstest(1.05 * np.concatenate(vals["gaussian"]), "norm").pvalue < 1e-4


@pytest.mark.parametrize("operator", ["gaussian", "rademacher", "dct", "fft"])
def test_named_operators_have_unit_norm_columns_in_expectation(operator):
    cn = np.array([(sparse_recovery(16, 8, 2, operator=operator, seed=k).A.to_dense() ** 2)
                   .sum(0) for k in range(300)]).ravel()
    if operator in ("rademacher", "fft"):
        np.testing.assert_allclose(cn, 1.0, rtol=1e-13)        # exactly unit norm
    else:
        se = cn.std() / np.sqrt(cn.size)
        assert abs(cn.mean() - 1.0) < 4 * se, (cn.mean(), se)
        assert se < 0.02


def test_noise_is_gaussian_at_the_documented_level():
    res = np.concatenate([(lambda p: p.y - p.A.matvec(p.x_true))(
        sparse_recovery(20, 40, 3, noise=0.3, seed=k)) for k in range(150)])
    assert stats.kstest(res / 0.3, "norm").pvalue > 1e-4
    assert stats.kstest(res / 0.36, "norm").pvalue < 1e-4     # negative control
    reg = [sparse_regression(20, 40, 3, m_test=100, noise=0.3, seed=k) for k in range(60)]
    tres = np.concatenate([r.y_test - r.A_test @ r.x_true for r in reg])
    assert stats.kstest(tres / 0.3, "norm").pvalue > 1e-4
    # "the test MSE of x_true itself is about noise^2"
    assert np.mean([r.test_error(r.x_true) for r in reg]) == pytest.approx(0.09, rel=0.05)


@pytest.mark.parametrize("operator", ["gaussian", "rademacher", "dct", "fft"])
def test_sparse_recovery_at_the_ends_of_its_parameters(operator):
    m_small = 2 if operator == "fft" else 1
    for n, m, s in ((6, m_small, 0), (6, m_small, 6), (1, 2 if operator == "fft" else 1, 1),
                    (6, 6, 6)):
        p = sparse_recovery(n, m, s, operator=operator, seed=3)
        assert p.A.shape == (m, n) and np.count_nonzero(p.x_true) == s
        if s == 0:
            np.testing.assert_array_equal(p.y, 0.0)
    # more measurements than unknowns: random ensembles allow it, transforms refuse it
    if operator in ("gaussian", "rademacher"):
        p = sparse_recovery(4, 9, 2, operator=operator, seed=3)
        assert p.A.shape == (9, 4)
    elif operator == "dct":
        with pytest.raises(ValueError, match="at most n"):
            sparse_recovery(4, 9, 2, operator=operator, seed=3)
    else:
        with pytest.raises(ValueError, match="even"):
            sparse_recovery(4, 7, 2, operator=operator, seed=3)
        with pytest.raises(ValueError, match="at most 2 n"):
            sparse_recovery(4, 10, 2, operator=operator, seed=3)
    for bad in (dict(s=7), dict(s=-1), dict(m=0), dict(n=0), dict(noise=-0.1),
                dict(noise=float("nan"))):
        kw = dict(n=6, m=4, s=2, operator=operator, seed=3) | bad
        with pytest.raises(ValueError):
            sparse_recovery(**kw)


# =====================================================================================
# Metrics: invariances and agreement with plain NumPy formulas
# =====================================================================================
_vec = st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, 2**32 - 1), st.floats(-250, 250)))


def _pair(n, seed, logscale):
    rng = np.random.default_rng(seed)
    c = 10.0 ** logscale
    ref = rng.standard_normal(n) * (rng.random(n) < 0.6)
    ref[rng.integers(n)] = rng.standard_normal() or 1.0        # never all zero
    x = ref + 0.3 * rng.standard_normal(n) * (rng.random(n) < 0.5)
    return c * x, c * ref, rng


@given(_vec)
def test_metrics_are_invariant_under_permutation_sign_and_positive_scaling(v):
    x, ref, rng = _pair(*v)
    perm = rng.permutation(x.size)
    c = 2.0 ** int(rng.integers(-60, 60))      # exact scaling: the values must not move
    for fn in (relative_error, l1_gap):
        base = fn(x, ref)
        assert fn(x[perm], ref[perm]) == pytest.approx(base, rel=1e-13, abs=1e-300)
        assert fn(-x, -ref) == base
        assert fn(c * x, c * ref) == base
    s0 = support_recovery(x, ref)
    assert support_recovery(x[perm], ref[perm]) == s0
    assert support_recovery(-x, ref) == s0 == support_recovery(c * x, -ref)
    assert support_recovery(x, ref, k=s0.n_true)[:3] == support_recovery(
        c * x, ref, k=s0.n_true)[:3]


@given(_vec)
def test_relative_error_and_l1_gap_agree_with_numpy_at_unit_scale(v):
    n, seed, logscale = v
    x, ref, _ = _pair(n, seed, 0.0)
    want = np.linalg.norm(x - ref) / np.linalg.norm(ref)
    assert relative_error(x, ref) == pytest.approx(want, rel=1e-13)
    g = (np.abs(x).sum() - np.abs(ref).sum()) / np.abs(ref).sum()
    assert l1_gap(x, ref) == pytest.approx(g, rel=1e-12, abs=1e-15)
    # at any scale the value is that of the unit-scale data
    c = 10.0 ** logscale
    assert relative_error(c * x, c * ref) == pytest.approx(want, rel=1e-13)
    assert l1_gap(c * x, c * ref) == pytest.approx(g, rel=1e-12, abs=1e-15)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1), st.floats(-150, 150))
def test_residual_equivariances(m, n, seed, logscale):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    x, y = rng.standard_normal(n), rng.standard_normal(m)
    base = residual(A, x, y)
    want = np.linalg.norm(A @ x - y) / np.linalg.norm(y)
    assert base == pytest.approx(want, rel=1e-12)
    pr, pc = rng.permutation(m), rng.permutation(n)
    assert residual(A[pr][:, pc], x[pc], y[pr]) == pytest.approx(base, rel=1e-12)
    assert residual(A, -x, -y) == pytest.approx(base, rel=1e-14)
    c = 10.0 ** logscale
    # relative misfit: unchanged by scaling (A, y) or (x, y); absolute: scales with c
    assert residual(c * A, x, c * y) == pytest.approx(base, rel=1e-12)
    assert residual(A, c * x, c * y) == pytest.approx(base, rel=1e-12)
    assert residual(A, c * x, c * y, relative=False) == pytest.approx(
        c * np.linalg.norm(A @ x - y), rel=1e-12)


@pytest.mark.parametrize("cast", [np.float32, np.int64, np.int8, bool, "jax", "list",
                                  "fortran"])
def test_metrics_take_any_numeric_array_as_its_float64_values(cast):
    import jax.numpy as jnp
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, 7).astype(float)
    ref = rng.integers(-3, 4, 7).astype(float)
    ref[0] = 2.0
    A = rng.integers(-2, 3, (5, 7)).astype(float)

    def conv(a):
        if cast == "jax":
            return jnp.asarray(a)
        if cast == "list":
            return a.tolist()
        if cast == "fortran":
            return np.asfortranarray(np.stack([a, a]))[0]
        return np.asarray(a).astype(cast)

    def f64(a):
        return np.asarray(conv(a), dtype=np.float64)

    y = A @ ref
    assert relative_error(conv(x), conv(ref)) == relative_error(f64(x), f64(ref))
    assert l1_gap(conv(x), conv(ref)) == l1_gap(f64(x), f64(ref))
    assert support_recovery(conv(x), conv(ref)) == support_recovery(f64(x), f64(ref))
    assert residual(conv(A), conv(x), conv(y)) == pytest.approx(
        residual(f64(A), f64(x), f64(y)), rel=1e-15)
