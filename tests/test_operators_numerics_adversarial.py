"""Adversarial review of the problems layer seen numerically: operators against
independent oracles (explicit DCT / DFT matrices, dense SVDs), adjoint identities on every
path, the spectral norms behind the step sizes, and the generators' documented
distributions."""
from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

from oracles import operator_zoo
from overparam.problems import (LinearOperatorAdapter, PartialDCT, SubsampledFFT,
                                fourier_rank_one, gaussian, gaussian_rank_one,
                                low_rank_matrix, matrix_sensing, partial_dct,
                                sparse_eigen_problem, sparse_recovery, subsampled_fft)
from overparam.problems import operators as ops
from overparam.problems import structured as sts


OPS = operator_zoo()


# ------------------------------------------------------------------ oracles (all fine)
@pytest.mark.parametrize("name", sorted(OPS))
def test_adjoint_identity_on_numpy_and_jax_paths_and_batches(name):
    A = OPS[name]
    D = np.asarray(A.to_dense())
    m, n = A.shape
    rng = np.random.default_rng(7)
    x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    z = rng.standard_normal(m) + 1j * rng.standard_normal(m)
    scale = np.linalg.norm(D, 2) * np.linalg.norm(x) * np.linalg.norm(z)
    # <z, A x> = <A^H z, x> (complex inner product, conjugate-linear in the first slot)
    assert abs(np.vdot(z, A.matvec(x)) - np.vdot(A.rmatvec(z), x)) <= 1e-13 * scale
    assert A.dot_test() < 1e-12
    # SciPy's view: matmat of a block equals its columns one by one, and the adjoint
    lo = A.as_linear_operator()
    X = rng.standard_normal((n, 3))
    Z = rng.standard_normal((m, 3))
    np.testing.assert_allclose(lo.matmat(X), D @ X, atol=1e-13 * np.abs(D).sum())
    np.testing.assert_allclose(lo.rmatmat(Z), D.conj().T @ Z, atol=1e-13 * np.abs(D).sum())
    # JAX (the plain maps: tests/test_problems_adversarial.py), one compiled program: for
    # real operators the VJP of the forward map is the adjoint (what the dynamics'
    # gradients use), and the adjoint maps a batch under vmap
    if name.endswith("adjoint"):
        return  # the wrapped operator's JAX maps, swapped
    tol = 1e-12 * np.abs(D).sum()

    @jax.jit
    def jax_maps(x, z, Z):
        g = jax.vjp(A.jax_matvec, x)[1](z)[0] if not np.iscomplexobj(D) else x
        return g, jax.vmap(A.jax_rmatvec)(Z)

    g, batch = jax_maps(jnp.asarray(x.real), jnp.asarray(z.real), jnp.asarray(Z.T))
    if not np.iscomplexobj(D):
        np.testing.assert_allclose(np.asarray(g), D.T @ z.real, atol=tol)
    np.testing.assert_allclose(np.asarray(batch), Z.T @ D.conj(), atol=tol)


def test_partial_dct_and_subsampled_fft_match_the_explicit_transforms():
    # independent oracle: the DCT-II and DFT matrices written out (to_dense applies the
    # operator itself, so comparing the maps with it would be circular)
    for n in (1, 2, 3, 8, 13):
        j, k = np.arange(n), np.arange(n)[:, None]
        C = np.sqrt(2.0 / n) * np.cos(np.pi * k * (2 * j + 1) / (2 * n))
        C[0] /= np.sqrt(2.0)
        F = np.exp(-2j * np.pi * k * j / n)
        for m in range(1, n + 1):
            A = partial_dct(m, n, m)
            np.testing.assert_allclose(A.to_dense(), np.sqrt(n / m) * C[A.rows],
                                       atol=1e-13)
            B = SubsampledFFT.random(m, n, m)
            Fs = F[B.rows] / np.sqrt(m)
            np.testing.assert_allclose(B.to_dense(), np.vstack([Fs.real, Fs.imag]),
                                       atol=1e-13)


@given(n=st.integers(1, 12), data=st.data())
@settings(max_examples=25)
def test_closed_form_norms_of_the_transforms_are_exact(n, data):
    # the step sizes come from these: an underestimate makes gradient descent diverge
    rows = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    for A in (SubsampledFFT(n, rows), PartialDCT(n, rows)):
        exact = np.linalg.norm(A.to_dense(), 2)
        assert A.norm2 == pytest.approx(exact, rel=1e-12)
        assert A.T.norm2 == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("make", [
    lambda rng: ops.DenseOperator(rng.standard_normal((520, 500))),       # Lanczos path
    lambda rng: ops.DenseOperator(rng.standard_normal((2, 130_001))),    # min(m, n) = 2
    lambda rng: LinearOperatorAdapter(sp.random(300, 400, density=0.05, random_state=1)),
    lambda rng: gaussian_rank_one(6, 7, 30, 0),
    lambda rng: fourier_rank_one(6, 7, 30, 0),
], ids=["dense_lanczos", "dense_two_rows", "sparse", "rank_one", "fourier_rank_one"])
@pytest.mark.parametrize("scale", [1e-250, 1.0, 1e250])
def test_norm2_matches_the_dense_svd_at_any_scale(make, scale):
    A0 = make(np.random.default_rng(0))
    D = np.asarray(A0.to_dense())
    if isinstance(A0, sts.RankOneSensing):
        A = sts.RankOneSensing(A0.L, A0.R, scale=A0.scale * scale)
    elif isinstance(A0, LinearOperatorAdapter):
        A = LinearOperatorAdapter(A0.linop.A * scale)
    else:
        A = ops.DenseOperator(D * scale)
    exact = np.linalg.norm(D, 2)
    # Lanczos to 1e-8: never an underestimate beyond that
    assert A.norm2 / scale == pytest.approx(exact, rel=1e-8)


# ------------------------------------------------------------------ generators (fine)
@given(n=st.integers(1, 12), s_frac=st.floats(0, 1), seed=st.integers(0, 2**32),
       op=st.sampled_from(["gaussian", "rademacher", "dct", "fft"]))
@settings(max_examples=25)
def test_sparse_recovery_sparsity_consistency_and_seeds(n, s_frac, seed, op):
    s = int(round(s_frac * n))
    m = 2 * n if op == "fft" else n
    state = np.random.get_state()[1].copy()
    p = sparse_recovery(n, m, s, operator=op, seed=seed)
    q = sparse_recovery(n, m, s, operator=op, seed=seed)
    assert np.array_equal(np.random.get_state()[1], state)
    assert np.count_nonzero(p.x_true) == s
    assert np.array_equal(p.y, q.y) and np.array_equal(p.x_true, q.x_true)
    D = np.asarray(p.A.to_dense())
    np.testing.assert_allclose(D @ p.x_true, p.y, atol=1e-12 * (1 + np.abs(p.y).max()))
    if op in ("rademacher", "fft") or (op == "dct" and m == n):
        # exactly unit-norm columns (the Gaussian and subsampled DCT: in expectation)
        np.testing.assert_allclose((D**2).sum(axis=0), 1.0, rtol=1e-12)


def test_low_rank_truths_and_eigen_problems_have_their_documented_spectra():
    for spectrum, want in (("linear", np.linspace(1, 0.02, 4)),
                           ("geometric", np.geomspace(1, 0.02, 4)),
                           ([3.0, 1.0, 2.0, 0.5], np.array([3.0, 2.0, 1.0, 0.5]))):
        for symmetric in (False, True):
            W, s = low_rank_matrix(5, 5, 4, spectrum=spectrum, condition=50,
                                   symmetric=symmetric, seed=1)
            sv = np.linalg.svd(W, compute_uv=False)
            np.testing.assert_allclose(sv[:4], want, rtol=1e-12)
            np.testing.assert_allclose(s, want, rtol=1e-12)
            assert sv[4] < 1e-14
    for decay in ("expo", "lin", "gen"):
        for support in ("disjoint", "overlapping"):
            F = sparse_eigen_problem(40, 3, 4, decay=decay, support=support, tail_times=2,
                                     tail_ratio=0.1, seed=0)
            ev = np.sort(np.linalg.eigvalsh(F.to_dense()))[::-1]
            np.testing.assert_allclose(ev[:3], F.eigenvalues, atol=1e-14)
            assert np.abs(ev[3:]).max() < 1e-14


def test_matrix_noise_and_snr_are_as_documented():
    p = matrix_sensing(4, 5, 2, 4000, noise=0.5, seed=0)
    assert np.std(p.y - p.A.matvec(p.x_true)) == pytest.approx(p.noise, rel=0.05)
    q = sts.lrrs_problem(10, 6, 2, 4, m=4000, snr=4.0, seed=0)
    clean = q.A.matvec(q.x_true)
    assert np.sum(clean**2) / np.sum((q.y - clean) ** 2) == pytest.approx(4.0, rel=0.1)


# ------------------------------------------------------------------ defects (fixed)
def test_gaussian_sensing_matrix_cannot_be_edited_under_its_problem():
    # before: to_dense() handed out the writable stored matrix; D *= 10 changed the
    # operator under y (residual of the truth 8.4 instead of 0) and left the cached norm2
    # 10x too small (1.54 for 15.4), i.e. gradient steps 100x too large
    p = matrix_sensing(3, 4, 1, 20, seed=0)
    before = p.A.norm2
    D = p.A.to_dense()
    with pytest.raises(ValueError, match="read-only"):
        D *= 10
    with pytest.raises(ValueError, match="read-only"):
        p.A.matrix[0, 0] = 1.0
    assert p.A.norm2 == before == pytest.approx(np.linalg.norm(p.A.to_dense(), 2))
    assert np.abs(p.residual(p.x_true)).max() < 1e-14


@pytest.mark.parametrize("make", [lambda: subsampled_fft(4, 8, 0),
                                  lambda: partial_dct(2, 8, 0)], ids=["fft", "dct"])
def test_transform_rows_cannot_be_edited_under_a_cached_norm(make):
    # before: SubsampledFFT rows [5, 7] (norm sqrt(2)) edited to [0, 4] kept the cached
    # norm2 sqrt(2) while the operator's norm became 2 (steps 2x too large)
    A = make()
    A.norm2
    with pytest.raises(ValueError, match="read-only"):
        A.rows[:] = [0, 4]


def test_adjoint_of_a_complex_operator_keeps_its_dtype_for_scipy():
    # before: the adjoint's LinearOperator was float64 whatever the operator; SciPy cast
    # the complex products to real (ComplexWarning) and svds returned 1.9555 for
    # ||A|| = 2.1860
    A = fourier_rank_one(3, 4, 6, 0)
    T = A.T
    lo = T.as_linear_operator()
    assert np.iscomplexobj(np.zeros(1, dtype=lo.dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        s = spla.svds(lo, k=1, return_singular_vectors=False, random_state=0)
        assert T.dot_test() < 1e-12
    assert float(s[0]) == pytest.approx(np.linalg.norm(A.to_dense(), 2), rel=1e-10)
    # real operators: the adjoint's view is still the transpose
    G = gaussian(4, 6, 0)
    x = np.arange(4.0)
    np.testing.assert_allclose(G.T.as_linear_operator().matvec(x), G.matrix.T @ x)


class _Unconjugated(ops.Operator):
    """A complex operator whose adjoint forgets the conjugate (a classic bug)."""

    def __init__(self, M):
        self.M = M
        self.shape = M.shape

    def matvec(self, x):
        return self.M @ x

    def rmatvec(self, r):
        return self.M.T @ r


def test_dot_test_catches_an_unconjugated_adjoint():
    # before: float() kept the real parts only (with a ComplexWarning), where
    # Re(r^T A x) = Re(x^T A^T r): the wrong adjoint scored ~1e-16
    rng = np.random.default_rng(0)
    M = rng.standard_normal((5, 4)) + 1j * rng.standard_normal((5, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning)
        assert _Unconjugated(M).dot_test() > 0.1
        assert _Unconjugated(M.real).dot_test() < 1e-14
