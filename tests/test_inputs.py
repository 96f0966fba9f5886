"""How the sparse-recovery solvers take their inputs: every accepted container (SciPy sparse
formats, LinearOperators, Fortran-ordered / strided / read-only / memory-mapped arrays, JAX
arrays, pandas objects, lists, ``np.matrix``, other dtypes, y as a row or column) gives the
answer of the dense float64 call; what cannot be solved raises an error naming the problem;
inputs are never modified; results pickle and print."""
from __future__ import annotations

import pickle
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from overparam import Status
from overparam.baselines import basis_pursuit, lasso, nnls, projected_gradient
from overparam.limits import hadamard_limit
from overparam.problems import (LinearOperatorAdapter, Operator, Problem, as_operator,
                                sparse_recovery)

pd = pytest.importorskip("pandas")

# np.matrix inputs are tested on purpose
pytestmark = pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")


# ------------------------------------------------------------------------------ fixtures
def _wide() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 12 x 30 system with zero entries (so sparse formats store fewer) and a 3-sparse
    non-negative solution: ``(A, y, x_true)``."""
    rng = np.random.default_rng(1)
    A = rng.standard_normal((12, 30)) / np.sqrt(12)
    A[np.abs(A) < 0.15] = 0.0
    x = np.zeros(30)
    x[[2, 7, 19]] = [1.0, 0.5, 2.0]
    return A, A @ x, x


def _tall() -> tuple[np.ndarray, np.ndarray]:
    """A 40 x 15 system of full column rank: NNLS has a unique solution."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((40, 15))
    A[np.abs(A) < 0.3] = 0.0
    return A, rng.standard_normal(40)


A_W, Y_W, X_W = _wide()
A_T, Y_T = _tall()

# name -> (solver, wide problem?) ; the unique answers: interpolating limits and LPs on the
# wide system, least squares on the tall one
SOLVERS = {
    "bp-highs": (lambda A, y: basis_pursuit(A, y), True),
    "bp-ipm": (lambda A, y: basis_pursuit(A, y, method="highs-ipm"), True),
    "bp-nonneg": (lambda A, y: basis_pursuit(A, y, nonneg=True), True),
    "bp-spgl1": (lambda A, y: basis_pursuit(A, y, method="spgl1"), True),
    "lasso": (lambda A, y: lasso(A, y, alpha=1e-3), True),
    "hadamard": (lambda A, y: hadamard_limit(A, y, init_scale=1e-4), True),
    "hadamard-cg": (lambda A, y: hadamard_limit(A, y, init_scale=1e-4, method="newton-cg"),
                    True),
    "hadamard-nonneg": (lambda A, y: hadamard_limit(A, y, init_scale=1e-4, nonneg=True),
                        True),
    "nnls": (lambda A, y: nnls(A, y), False),
    "pg": (lambda A, y: projected_gradient(A, y, tol=1e-12, max_iter=100_000), False),
}
_REF: dict[str, object] = {}


def _data(name: str) -> tuple[np.ndarray, np.ndarray]:
    return (A_W, Y_W) if SOLVERS[name][1] else (A_T, Y_T)


def _reference(name: str):
    if name not in _REF:
        A, y = _data(name)
        _REF[name] = SOLVERS[name][0](A.copy(), y.copy())
        assert _REF[name].status is Status.CONVERGED
    return _REF[name]


def _unsorted_csr(A: np.ndarray) -> sp.csr_matrix:
    c = sp.csr_matrix(A)
    data, ind, ptr = c.data.copy(), c.indices.copy(), c.indptr.copy()
    for i in range(A.shape[0]):
        s, e = ptr[i], ptr[i + 1]
        data[s:e], ind[s:e] = data[s:e][::-1].copy(), ind[s:e][::-1].copy()
    out = sp.csr_matrix((data, ind, ptr), shape=A.shape)
    out.has_sorted_indices = False
    return out


def _explicit_zeros(A: np.ndarray) -> sp.csr_array:
    r, c = np.nonzero(A)
    zr, zc = np.nonzero(A == 0)
    rows, cols = np.concatenate([r, zr[:7]]), np.concatenate([c, zc[:7]])
    vals = np.concatenate([A[r, c], np.zeros(7)])
    out = sp.csr_array((vals, (rows, cols)), shape=A.shape)
    assert out.nnz == r.size + 7  # the zeros are stored
    return out


def _duplicates(A: np.ndarray) -> sp.coo_matrix:
    r, c = np.nonzero(A)
    v = A[r, c]
    return sp.coo_matrix((np.concatenate([0.25 * v, 0.75 * v]),
                          (np.concatenate([r, r]), np.concatenate([c, c]))), shape=A.shape)


def _strided(A: np.ndarray) -> np.ndarray:
    big = np.zeros((2 * A.shape[0], 3 * A.shape[1]))
    big[::2, ::3] = A
    return big[::2, ::3]


def _readonly(A: np.ndarray) -> np.ndarray:
    out = A.copy()
    out.setflags(write=False)
    return out


def _memmap(A: np.ndarray, tmp_path) -> np.ndarray:
    path = tmp_path / "A.npy"
    np.save(path, A)
    return np.load(path, mmap_mode="r")


# every form carries exactly the float64 matrix A
A_FORMS = {
    "csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix,
    "dia": sp.dia_matrix, "csr_array": sp.csr_array, "coo_array": sp.coo_array,
    "dia_array": sp.dia_array, "lil": sp.lil_matrix, "dok_array": sp.dok_array,
    "bsr": sp.bsr_matrix, "explicit_zeros": _explicit_zeros, "unsorted": _unsorted_csr,
    "duplicates": _duplicates,
    "linop": spla.aslinearoperator,
    "linop_float32": lambda A: spla.LinearOperator(
        A.shape, matvec=lambda v: A @ v, rmatvec=lambda v: A.T @ v, dtype=np.float32),
    "linop_no_rmatvec": lambda A: spla.LinearOperator(A.shape, matvec=lambda v: A @ v,
                                                      dtype=np.float64),
    "fortran": np.asfortranarray, "strided": _strided, "readonly": _readonly,
    "jax": jnp.asarray, "dataframe": pd.DataFrame, "list": lambda A: A.tolist(),
    "np.matrix": np.asmatrix, "longdouble": lambda A: A.astype(np.longdouble),
}
# solvers that need the adjoint A^T as an operator (not only the matrix)
NEEDS_ADJOINT = {"bp-spgl1", "hadamard", "hadamard-cg", "hadamard-nonneg", "pg"}


def _assert_same(res, ref, rtol: float = 1e-7) -> None:
    assert res.status is ref.status, (res.status, res.message)
    x = np.asarray(res.x)
    assert x.shape == ref.x.shape and x.dtype == np.float64
    err = float(np.max(np.abs(x - ref.x)) / np.max(np.abs(ref.x)))
    assert err <= rtol, err
    assert pickle.loads(pickle.dumps(res)).status is res.status
    assert "Result(status=" in repr(res)


def _snapshot(v):
    return pickle.loads(pickle.dumps(v))


def _same_values(a, b) -> bool:
    dense = lambda v: np.asarray(v.toarray() if sp.issparse(v) else v, dtype=np.float64)  # noqa: E731
    return np.array_equal(dense(a), dense(b))


# --------------------------------------------------------------- equivalence of containers
@pytest.mark.parametrize("form", sorted(A_FORMS))
@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_container_of_A_gives_the_dense_answer(name, form, tmp_path):
    A, y = _data(name)
    Av = A_FORMS[form](A.copy())
    before = None if form.startswith("linop") or form == "jax" else _snapshot(Av)
    if form == "linop_no_rmatvec" and name in NEEDS_ADJOINT:
        with pytest.raises(NotImplementedError, match="has no rmatvec .*adjoint"):
            SOLVERS[name][0](Av, y.copy())
        return
    # SPGL1 runs on the matrix or on products: the two orders of summation differ in
    # rounding, which a first-order method carries to ~its tolerance
    rtol = 1e-5 if name == "bp-spgl1" else 1e-7
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning, overflow, ...
        res = SOLVERS[name][0](Av, y.copy())
    _assert_same(res, _reference(name), rtol)
    if before is not None:
        assert _same_values(before, Av)


@pytest.mark.parametrize("name", ["bp-highs", "hadamard", "nnls", "pg"])
def test_memmap_A_gives_the_dense_answer(name, tmp_path):
    A, y = _data(name)
    _assert_same(SOLVERS[name][0](_memmap(A, tmp_path), y), _reference(name))


Y_FORMS = {
    "column": lambda y: y.reshape(-1, 1), "row": lambda y: y.reshape(1, -1),
    "list": lambda y: y.tolist(), "series": pd.Series, "dataframe": pd.DataFrame,
    "jax": jnp.asarray, "np.matrix": np.asmatrix, "np.matrix.T": lambda y: np.asmatrix(y).T,
    "strided": lambda y: np.repeat(y, 2)[::2], "readonly": _readonly,
}


@pytest.mark.parametrize("form", sorted(Y_FORMS))
@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_container_of_y_gives_the_dense_answer(name, form):
    A, y = _data(name)
    yv = Y_FORMS[form](y.copy())
    before = None if form == "jax" else _snapshot(yv)
    res = SOLVERS[name][0](A, yv)
    _assert_same(res, _reference(name))
    if before is not None:
        assert _same_values(before, yv)


@pytest.mark.parametrize("name", ["bp-highs", "hadamard", "nnls", "pg"])
def test_inputs_are_not_modified(name):
    A, y = _data(name)
    for Av in (A.copy(), sp.csr_matrix(A), np.asfortranarray(A)):
        a0, y0 = _snapshot(Av), y.copy()
        yv = y.copy()
        SOLVERS[name][0](Av, yv)
        assert _same_values(a0, Av) and np.array_equal(y0, yv)
    p = Problem(A, y)
    SOLVERS[name][0](p, None)
    assert np.array_equal(p.y, y) and np.array_equal(p.A.to_dense(), A)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.bool_])
@pytest.mark.parametrize("name", ["bp-highs", "hadamard", "nnls", "lasso"])
def test_other_dtypes_equal_their_float64_cast(name, dtype):
    A, y = _data(name)
    Ad = (A * 10).astype(dtype) if dtype is np.int64 else (
        A > 0 if dtype is np.bool_ else A.astype(dtype))
    Af = np.asarray(Ad, dtype=np.float64)
    y = Af @ np.abs(X_W) if SOLVERS[name][1] else y
    ref = SOLVERS[name][0](Af, y)
    # (scipy.sparse has no float16)
    for form in (Ad,) if dtype is np.float16 else (Ad, sp.csr_matrix(Ad)):
        _assert_same(SOLVERS[name][0](form, y), ref, 1e-6)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_unusable_inputs_raise_clear_errors(name):
    A, y = _data(name)
    f = SOLVERS[name][0]
    cases = [
        # (hadamard_limit documents ValueError for every input error)
        (A.astype(object), y, (TypeError, ValueError), "numeric"),
        (A, y.astype(object), (TypeError, ValueError), "numeric"),
        (A, np.array(1.0), ValueError, "vector"),
        (A, y.reshape(1, -1, 1), ValueError, "vector"),
        (A, np.append(y, 1.0), ValueError, "shape mismatch"),
        (sp.csr_matrix(A[:-1]), y, ValueError, "shape mismatch"),
        (A[0], y[:1], ValueError, "2-dimensional"),
        (sp.csr_matrix(A.astype(complex)), y, (TypeError, ValueError), "complex"),
        (spla.LinearOperator(A.shape, matvec=lambda v: A @ v, rmatvec=lambda v: A.T @ v,
                             dtype=complex), y, (TypeError, ValueError), "complex"),
    ]
    for Av, yv, err, match in cases:
        with pytest.raises(err, match=match):
            f(Av, yv)


def test_problem_with_mismatched_shapes_is_refused():
    A, y, x = A_W, Y_W, X_W
    with pytest.raises(ValueError, match="shape mismatch"):
        Problem(A, y[:-1])
    with pytest.raises(ValueError, match="30 columns"):
        Problem(A, y, x_true=x[:-1])
    with pytest.raises(ValueError, match="pass either a Problem or"):
        hadamard_limit(Problem(A, y), y)
    with pytest.raises(TypeError, match="pass either a Problem or"):
        basis_pursuit(Problem(A, y), y)
    # a row or a column is a vector; any other 2-D shape is not (it was flattened: a
    # 5 x 6 array was taken for the 30 entries of x_true)
    for shape in ((1, 30), (30, 1)):
        assert Problem(A, y, x_true=x.reshape(shape)).x_true.shape == (30,)
    for shape in ((5, 6), (1, 5, 6)):
        with pytest.raises(ValueError, match=r"x_true must be a vector, got shape"):
            Problem(A, y, x_true=x.reshape(shape))


# ------------------------------------------------------------------ regressions (fixed)
@pytest.mark.parametrize("name", ["bp-highs", "bp-nonneg", "lasso", "nnls"])
def test_linear_operator_without_rmatvec_is_materialised_by_columns(name):
    """HiGHS, scikit-learn and SciPy's NNLS need only the matrix: it is built from matvecs
    (it was built from rmatvecs when m < n, and SciPy's "rmatvec is not defined" ended
    the call)."""
    A, y = _data(name)
    L = spla.LinearOperator(A.shape, matvec=lambda v: A @ v, dtype=np.float64)
    assert np.array_equal(as_operator(L).to_dense(), A)
    res = SOLVERS[name][0](L, y)
    _assert_same(res, _reference(name))
    if name == "nnls":
        np.testing.assert_allclose(res.info["gradient"], A.T @ (A @ res.x - y), atol=1e-12)


@pytest.mark.parametrize("name", sorted(NEEDS_ADJOINT))
def test_linear_operator_without_rmatvec_names_the_missing_adjoint(name):
    A, y = _data(name)
    L = spla.LinearOperator(A.shape, matvec=lambda v: A @ v, dtype=np.float64)
    with pytest.raises(NotImplementedError, match=r"has no rmatvec \(the adjoint A\^T\)"):
        SOLVERS[name][0](L, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "dia", "lil", "dense-linop"])
def test_sparse_or_wrapped_matrix_with_nan_is_refused(fmt, bad):
    """Solvers that run on products (hadamard_limit, SPGL1, projected gradient) took a
    sparse A with NaN/inf: hadamard_limit returned max_iter with x = 0, SPGL1
    numerical_error, projected_gradient failed estimating ||A||."""
    A, y = A_W.copy(), Y_W
    A[3, 2] = bad
    Av = spla.aslinearoperator(A) if fmt == "dense-linop" else sp.coo_matrix(A).asformat(fmt)
    with pytest.raises(ValueError, match=r"A contains 1 non-finite value"):
        as_operator(Av)
    for f in (lambda: hadamard_limit(Av, y), lambda: basis_pursuit(Av, y, method="spgl1"),
              lambda: projected_gradient(Av, y), lambda: basis_pursuit(Av, y)):
        with pytest.raises(ValueError, match=r"non-finite"):
            f()


def test_linear_operator_with_complex_products_is_refused():
    """A LinearOperator declared real whose products are complex: the imaginary part was
    dropped with only a ComplexWarning, and the solvers answered for Re(A)."""
    A, y = A_W, Y_W
    L = spla.LinearOperator(A.shape, matvec=lambda v: (A @ v) * (1 + 0.5j),
                            rmatvec=lambda v: (A.T @ v) * (1 - 0.5j), dtype=np.float64)
    for f in (lambda: hadamard_limit(L, y), lambda: basis_pursuit(L, y),
              lambda: nnls(L, y), lambda: as_operator(L).matvec(np.ones(30))):
        with pytest.raises(TypeError, match=r"returned complex values .* but A must be real"):
            f()
    # products of a real operator built from FFTs carry rounding-level imaginary parts:
    # taken as real, silently
    R = spla.LinearOperator(A.shape, matvec=lambda v: (A @ v) * (1 + 1e-17j),
                            rmatvec=lambda v: (A.T @ v) * (1 - 1e-17j), dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_same(hadamard_limit(R, y, init_scale=1e-4), _reference("hadamard"))


@pytest.mark.parametrize("nonneg", [False, True])
@pytest.mark.parametrize("form", ["csr", "linop"])
def test_hadamard_limit_infeasible_matches_dense_for_sparse_and_operators(form, nonneg):
    """The same unreachable y was ``infeasible`` for a dense A and ``max_iter`` or
    ``stagnated`` for a sparse A or a LinearOperator."""
    A = A_W.copy()
    A[-1] = A[0]
    y = np.abs(Y_W) if nonneg else Y_W.copy()
    y[-1] += 1.0  # not in range(A)
    dense = hadamard_limit(A, y, init_scale=1e-4, nonneg=nonneg)
    assert dense.status is Status.INFEASIBLE
    Av = sp.csr_matrix(A) if form == "csr" else spla.aslinearoperator(A)
    res = hadamard_limit(Av, y, init_scale=1e-4, nonneg=nonneg, max_iter=200)
    assert res.status is Status.INFEASIBLE, res.message
    # and an all-zero sparse A with y != 0
    zero = sp.csr_matrix(A.shape) if form == "csr" else spla.aslinearoperator(
        sp.csr_matrix(A.shape))
    assert hadamard_limit(zero, y, max_iter=50, nonneg=nonneg).status is Status.INFEASIBLE


def test_hadamard_newton_cg_with_zero_matrix_has_no_overflow_warnings():
    """Float32 Hessian products of a direction beyond the float32 range (the
    preconditioner divides by mu ~ 1e-300 when A = 0) warned "overflow encountered in
    cast" and "invalid value in matmul"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = hadamard_limit(np.zeros((12, 30)), Y_W, init_scale=1e-4, method="newton-cg")
    assert res.status is Status.INFEASIBLE


def test_operator_without_jax_maps_names_them():
    """A NumPy-only Operator subclass in projected_gradient: a bare NotImplementedError
    (no message); the suggested host-callback wrapper solves it."""
    A, y = A_T, Y_T

    class NumpyOnly(Operator):
        shape = A.shape

        def matvec(self, x):
            return A @ x

        def rmatvec(self, r):
            return A.T @ r

    with pytest.raises(NotImplementedError, match="NumpyOnly does not implement jax_"):
        projected_gradient(NumpyOnly(), y)
    res = projected_gradient(LinearOperatorAdapter(NumpyOnly().as_linear_operator()), y,
                             tol=1e-12, max_iter=100_000)
    ref, _ = scipy.optimize.nnls(A, y)
    assert np.max(np.abs(res.x - ref)) <= 1e-7 * np.max(np.abs(ref))


def test_projected_gradient_x0_must_be_a_vector():
    A, y = A_T, Y_T
    n = A.shape[1]
    x0 = np.abs(np.random.default_rng(0).standard_normal(n))
    ref = projected_gradient(A, y, x0=x0, tol=1e-12, max_iter=100_000)
    for good in (x0.reshape(1, -1), x0.reshape(-1, 1), x0.tolist(), np.asmatrix(x0)):
        _assert_same(projected_gradient(A, y, x0=good, tol=1e-12, max_iter=100_000), ref)
    # a 3 x 5 array was flattened into the 15 entries of x0; errors named the flattened
    # shape ((30,) for a 15 x 2 array)
    for bad in (x0.reshape(3, 5), np.ones((n, 2)), np.ones(n + 1), np.array(1.0)):
        with pytest.raises(ValueError, match="x0 has shape") as err:
            projected_gradient(A, y, x0=bad)
        assert f"x0 has shape {bad.shape}," in str(err.value)


def test_results_pickle_and_print_for_every_solver():
    p = sparse_recovery(40, 20, 3, seed=0)
    for name, (f, _) in SOLVERS.items():
        res = f(p.A, p.y) if name not in ("nnls", "pg") else f(*_data(name))
        back = pickle.loads(pickle.dumps(res))
        assert back.status is res.status and np.array_equal(back.x, res.x)
        assert back.message == res.message and back.info.keys() == res.info.keys()
        assert f"status={res.status.value}" in repr(res) and repr(back) == repr(res)


@pytest.mark.parametrize("c", [1e-200, 1e200])
@pytest.mark.parametrize("form", ["csr", "linop"])
def test_hadamard_limit_matrix_free_at_extreme_scales_matches_dense(form, c):
    """A dense A beyond 2^+-100 was solved as A / 2^j; a sparse A or a LinearOperator was
    not: numerical_error at 1e-200 and max_iter at 1e200 where the dense call converged."""
    A, y = A_W * c, Y_W
    dense = hadamard_limit(A, y, init_scale=1e-4)
    assert dense.status is Status.CONVERGED
    Av = sp.csr_matrix(A) if form == "csr" else spla.aslinearoperator(A)
    res = hadamard_limit(Av, y, init_scale=1e-4)
    assert res.status is Status.CONVERGED, res.message
    assert np.max(np.abs(res.x - dense.x)) <= 1e-8 * np.max(np.abs(dense.x))
    assert res.info["relative_residual"] <= 1e-10


def test_hadamard_limit_nonneg_diagnosis_is_scale_free():
    """When the run fails, feasibility was confirmed by a HiGHS LP on A and y as given:
    its absolute tolerances called a feasible problem (y = A x with x >= 0) infeasible for
    max|A| ~ 1e60."""
    A = A_W * 1e60
    y = Y_W  # = A (X_W / 1e60), X_W >= 0: feasible
    assert np.all(X_W >= 0)
    res = hadamard_limit(A, y, init_scale=1e-4, nonneg=True)
    assert res.status is not Status.INFEASIBLE, res.message


@pytest.mark.parametrize("depth, a", [(2, 1e80), (2, 1e140), (3, 1e60), (4, 1e40)])
def test_hadamard_newton_cg_in_the_lazy_regime(depth, a):
    """At large init scales the dual's excess underflowed to 0: ``4 a^2 sinh(z/2)^2`` for
    depth 2 (z ~ x / a^2 < 1e-154 from a ~ 1e80), the squares ``t^2``, ``sinh(D/2)^2`` of
    ``t = z / c`` for depth >= 3. Every line search failed and Newton-CG ran to max_iter
    where dense Newton converged in one step. (Also reached by a sparse A ~ 1e200, which
    is solved as A / 2^664 with init_scale 1e-4 * 2^332.)"""
    A, y = A_W, Y_W
    ref = hadamard_limit(A, y, depth=depth, init_scale=a, method="newton")
    res = hadamard_limit(A, y, depth=depth, init_scale=a, method="newton-cg")
    assert ref.status is Status.CONVERGED and res.status is Status.CONVERGED, res.message
    assert np.max(np.abs(res.x - ref.x)) <= 1e-8 * np.max(np.abs(ref.x))
    # the lazy limit is the least-norm interpolant
    x_ln = np.linalg.lstsq(A, y, rcond=None)[0]
    assert np.max(np.abs(res.x - x_ln)) <= 1e-8 * np.max(np.abs(x_ln))


def test_link_excess_has_no_underflow_for_tiny_z():
    """``sum H(z) - sum H(0)`` against high-precision closed forms where ``z`` is tiny."""
    mpmath = pytest.importorskip("mpmath")
    from overparam.limits._links import Link

    with mpmath.workdps(800):  # the differences H(z) - H(0) are ~1e-400 relative
        z = np.array([1e-190, -3e-170, 2e-160])
        link = Link(2, False, float(np.log(1e100)))
        a2 = mpmath.e ** (2 * mpmath.mpf(link.log_a))
        want = float(sum(2 * a2 * (mpmath.cosh(mpmath.mpf(v)) - 1) for v in z))
        assert want > 0 and link.excess(z) == pytest.approx(want, rel=1e-12, abs=0)
        # depth 3, signed: H(z) = ((c - z)^-2 + (c + z)^-2) / 2 with c = 1/a (q = 2)
        link = Link(3, False, float(np.log(1e60)))
        c = mpmath.mpf(link.c)
        zz = np.array([1e-170, -2e-165]) * link.c
        H = lambda v: ((c - v) ** -2 + (c + v) ** -2) / 2  # noqa: E731
        want = float(sum(H(mpmath.mpf(v)) - H(0) for v in zz))
        assert want > 0 and link.excess(zz) == pytest.approx(want, rel=1e-10, abs=0)
        # and away from the tiny branch
        zz = np.array([0.3, -0.5, 1e-9, 1e-7]) * link.c
        want = float(sum(H(mpmath.mpf(v)) - H(0) for v in zz))
        assert link.excess(zz) == pytest.approx(want, rel=1e-10, abs=0)


def test_pcg_does_not_divide_by_an_underflowed_inner_product():
    """Depth 3 at init_scale 1e74 (the largest admissible): ``<r, P^-1 r>`` underflowed to 0
    inside CG and the call died with a raw ZeroDivisionError."""
    res = hadamard_limit(A_W, Y_W, depth=3, init_scale=1e74, method="newton-cg",
                         max_iter=30)
    ref = hadamard_limit(A_W, Y_W, depth=3, init_scale=1e74, method="newton")
    assert res.status is Status.CONVERGED and ref.status is Status.CONVERGED, res.message
    assert np.max(np.abs(res.x - ref.x)) <= 1e-8 * np.max(np.abs(ref.x))


@pytest.mark.parametrize("e", [-565, -997, 565])  # s = 2^e ~ 1e-170, 1e-300, 1e170
def test_pcg_solve_is_homogeneous_in_the_right_hand_side(e):
    """``A D A^T d = s b`` has the solution ``s d`` (exactly, in floating point, for a power
    of two ``s``): CG squared ``b`` (``||b||`` read 0 for max|b| ~ 1e-170 and the solve
    returned d = 0 after 0 iterations; ``<r, P^-1 r>`` underflowed to 0 and divided by
    it; ``||b||`` overflowed for 1e170)."""
    s = 2.0**e
    from overparam.limits._linsolve import PCGSolver

    A = A_W
    m, n = A.shape
    D = np.exp(np.linspace(-3.0, 3.0, n))

    def solver():
        return PCGSolver(A.__matmul__, A.T.__matmul__, (m, n),
                         columns=lambda idx: A[:, idx],
                         col_sqnorms=np.einsum("ij,ij->j", A, A))

    b = np.random.default_rng(0).standard_normal(m)
    ref, k_ref = solver().solve(D, b, 1e-10)
    exact = np.linalg.solve((A * D) @ A.T, b)
    assert np.max(np.abs(ref - exact)) <= 1e-6 * np.max(np.abs(exact))
    sol = solver()
    d, k = sol.solve(D, s * b, 1e-10)
    assert k == k_ref
    assert np.max(np.abs(d - s * ref)) <= 1e-14 * np.max(np.abs(s * ref))
    assert np.max(np.abs(sol.last_atd - A.T @ d)) <= 1e-8 * np.max(np.abs(A.T @ d))


def test_newton_cg_column_caches_are_bounded():
    """The preconditioner's column caches of a matrix-free operator stay within a memory
    bound: at n = 1e6, m = 1e5 (partial DCT) they reserved 2.6 GB in one allocation (a
    MemoryError; ~0.6 GB at n = 1e5), the doubling reserved up to 6 max_cols rows, and the
    column memo kept every column ever selected."""
    from overparam.limits._linsolve import PCGSolver, _ColumnCache

    # default: m / 5 columns, kept up to 3x over, capped near 240 MB of rows
    big = PCGSolver(lambda v: v, lambda v: v, (100_000, 1_000_000),
                    columns=lambda idx: None, col_sqnorms=np.ones(1_000_000))
    assert big.cache_factor * big.max_cols * big.m * 8 <= 2.5e8
    small = PCGSolver(lambda v: v, lambda v: v, (200, 1000),
                      columns=lambda idx: None, col_sqnorms=np.ones(1000))
    assert small.max_cols == 40  # small problems unchanged

    rng = np.random.default_rng(0)
    m, n = 30, 400
    A = rng.standard_normal((m, n))
    sol = PCGSolver(A.__matmul__, A.T.__matmul__, (m, n), columns=lambda idx: A[:, idx],
                    col_sqnorms=np.einsum("ij,ij->j", A, A), max_cols=5)
    for start in range(0, 40, 5):  # 5 new columns at a time, as the selection moves
        D = np.full(n, 1e-6)
        D[start:start + 5] = 1e3
        b = rng.standard_normal(m)
        d, _ = sol.solve(D, b, 1e-10)
        assert np.linalg.norm((A * D) @ (A.T @ d) - b) <= 1e-6 * np.linalg.norm(b)
        assert sol._rows.shape[0] <= sol.cache_factor * sol.max_cols + 1
        assert sol._G.shape[0] <= sol.cache_factor * sol.max_cols + 1

    op = as_operator(spla.aslinearoperator(A))
    memo = _ColumnCache(op, max_entries=10 * m)
    for start in range(0, 100, 5):
        idx = np.arange(start, start + 5)
        np.testing.assert_allclose(memo(idx), A[:, idx], rtol=1e-12, atol=1e-12)
        assert len(memo.cols) <= 10


def test_newton_cg_sparse_columns_are_sliced():
    """The preconditioner takes a stored sparse matrix's columns by slicing, not by one
    product with e_i each (a pass over all nonzeros: 2.0 of hadamard_limit's 6.2 s at
    n = 1e5, m = 1e4 with 1e6 nonzeros, 3.6 s in all after)."""
    from overparam.limits._linsolve import _ColumnCache

    S = sp.random(40, 300, density=0.1, random_state=0, format="csr")
    op = as_operator(S)
    calls = []
    op.matvec = lambda x, f=op.matvec: calls.append(1) or f(x)  # count the products
    idx = np.array([5, 0, 299, 17, 5])
    np.testing.assert_array_equal(_ColumnCache(op)(idx), S.toarray()[:, idx])
    assert not calls
    # integer and boolean entries give float64 columns
    for M in (sp.csr_matrix(np.eye(3, 5, dtype=np.int64)), sp.coo_matrix(np.eye(3, 5) > 0)):
        cols = _ColumnCache(as_operator(M))(np.array([4, 1]))
        assert cols.dtype == np.float64
        np.testing.assert_array_equal(cols, M.toarray()[:, [4, 1]].astype(float))
    # and the limit is the one of the dense matrix
    p = sparse_recovery(300, 40, 3, operator=S, seed=1)
    ref = hadamard_limit(S.toarray(), p.y, method="newton-cg")
    res = hadamard_limit(S, p.y, method="newton-cg")
    assert res.success and ref.success
    assert np.max(np.abs(res.x - ref.x)) <= 1e-6 * np.max(np.abs(ref.x))
