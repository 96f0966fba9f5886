"""hadamard_gd / hadamard_gd_batch on awkward inputs: each test failed before its fix."""
import re

import numpy as np
import pytest

import overparam
from overparam import Status
from overparam.dynamics.driver import MAX_ITER_CAP, make_config
from overparam.problems import Problem, partial_dct, sparse_recovery

# one shape (6 x 10) and depth 2 throughout: few compiled programs
_RNG = np.random.default_rng(0)
A = _RNG.standard_normal((6, 10))
X = np.zeros(10)
X[[1, 4]] = [1.0, -2.0]
Y = A @ X


def _np_gd(A, y, a, eta, steps):
    """The signed depth-2 update in plain NumPy (the oracle)."""
    u = np.full(A.shape[1], a)
    v = u.copy()
    for _ in range(steps):
        g = A.T @ (A @ (u**2 - v**2) - y)
        u, v = u - 2 * eta * u * g, v + 2 * eta * v * g
    return u**2 - v**2


@pytest.mark.parametrize("max_iter", [10**20, 2**63, 2**63 - 1])
def test_a_max_iter_beyond_int64_acts_as_the_cap(max_iter):
    # 10**20 was a bare "loop of ufunc does not support ... log10", 2**63 an int64
    # OverflowError, and 2**63 - 1 rounded its last record point to a negative iteration
    cfg = make_config(max_iter, 1e-6, 64)
    assert cfg.max_iter == MAX_ITER_CAP
    assert min(cfg.record_iters) == 0 and cfg.record_iters[-1] == MAX_ITER_CAP
    assert list(cfg.record_iters) == sorted(set(cfg.record_iters))
    r = overparam.hadamard_gd(A, Y, init_scale=0.5, step=0.01, max_iter=max_iter, tol=1e-2)
    assert r.status is Status.CONVERGED and 0 < r.n_iter < 10_000
    # the same iterate as the NumPy loop run for n_iter steps
    np.testing.assert_allclose(r.x, _np_gd(A, Y, 0.5, 0.01, r.n_iter), rtol=0, atol=1e-12)


@pytest.mark.parametrize("problems, match", [
    (Problem(A, Y), "got one Problem"),                         # "not iterable"
    ([(A, Y)], r"problems\[0\] is a tuple, not a Problem"),     # "y is required"
    ([Problem(A, Y), A], r"problems\[1\] is a ndarray"),
    (A, "sequence of Problems, got ndarray"),                   # "y is required"
    (None, "sequence of Problems, got NoneType"),
])
def test_batch_names_what_is_not_a_list_of_problems(problems, match):
    with pytest.raises(TypeError, match=match):
        overparam.hadamard_gd_batch(problems, max_iter=10)


def test_batch_of_distinct_matrix_free_operators_runs_whatever_the_worker_count():
    # two equal partial DCTs (distinct objects) and a DCT next to a dense matrix: a chunk
    # of more than one trial raised "batched runs need dense operators", so the batch ran
    # on two cores (one trial per chunk) and failed on one
    d1, d2 = partial_dct(6, 10, seed=0), partial_dct(6, 10, seed=0)
    dense = d1.to_dense()
    probs = [Problem(d1, d1.matvec(X)), Problem(d2, 2 * d2.matvec(X)),
             Problem(dense, -dense @ X)]
    kw = dict(init_scale=0.1, step=0.05, max_iter=300, tol=0)
    rb = overparam.hadamard_gd_batch(probs, workers=1, **kw)
    for p, b in zip(probs, rb):
        one = overparam.hadamard_gd(p, **kw)
        assert b.status is one.status and b.n_iter == one.n_iter == 300
        np.testing.assert_allclose(b.x, one.x, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(b.trace["iter"], one.trace["iter"])


@pytest.mark.parametrize("fn", [
    lambda x: np.asarray(x).sum(),     # was a bare TracerArrayConversionError
    lambda x: "not a number",          # was "could not convert string to float"
])
def test_a_metric_that_is_not_traceable_is_named(fn):
    with pytest.raises(TypeError, match="metric 'bad' failed while JAX traced"):
        overparam.hadamard_gd(A, Y, metrics={"ok": lambda x: x[0], "bad": fn}, max_iter=10)


@pytest.mark.parametrize("nonneg", [False, True])
def test_stagnation_from_an_underflowing_init_scale_says_so(nonneg):
    # init 1e-200 at depth 2: x = u^2 (- v^2) is exactly 0 for ~100 steps, so the run
    # stagnates at relative residual 1; the advice blamed the tolerance or y's reachability
    y = np.abs(A) @ np.abs(X) if nonneg else Y
    a_mat = np.abs(A) if nonneg else A
    r = overparam.hadamard_gd(a_mat, y, init_scale=1e-200, nonneg=nonneg, max_iter=2000)
    assert r.status is Status.STAGNATED
    assert "init_scale >= 1.49e-154" in r.message
    (b,) = overparam.hadamard_gd_batch([Problem(a_mat, y)], init_scale=1e-200,
                                       nonneg=nonneg, max_iter=2000)
    assert b.status is Status.STAGNATED and "init_scale >= 1.49e-154" in b.message
    # negative controls: a normal-range init runs on, and a stagnation from a normal
    # init scale does not get the hint
    ok = overparam.hadamard_gd(a_mat, y, init_scale=1e-150, nonneg=nonneg, max_iter=2000)
    assert ok.status is not Status.STAGNATED and ok.info["relative_residual"] < 0.9
    flat = overparam.hadamard_gd(0 * A, Y, max_iter=2000)
    assert flat.status is Status.STAGNATED and "init_scale >=" not in flat.message


def test_precision_hint_for_data_far_below_the_init_scale_suggests_a_scale_that_works():
    # A x 1e150 against y ~ 1: the solution is ~1e-150, far below x's rounding at init
    # 1e-3; the hint said "a relative residual below ~2e+129 is out of reach"
    p = sparse_recovery(40, 20, 3, seed=0)
    A, y = p.A.to_dense() * 1e150, np.asarray(p.y)
    res = overparam.hadamard_gd(A, y, max_iter=3000)
    assert res.status is Status.STAGNATED
    assert "out of reach" not in res.message and "cannot decrease" in res.message
    a_max = float(re.search(r"init_scale below ~([0-9.e+-]+)", res.message).group(1))
    assert 1e-80 < a_max < 1e-60
    ok = overparam.hadamard_gd(A, y, init_scale=a_max / 1e10, max_iter=3000)
    assert ok.info["relative_residual"] < 0.05   # it moves (and converges given time)
