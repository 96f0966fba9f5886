"""Deep matrix factorization ``W = W_N ... W_1`` (a deep linear network without biases).

References
----------
H.-H. Chou, C. Gieshoff, J. Maly, H. Rauhut, "Gradient descent for deep matrix
factorization: dynamics and implicit bias towards low rank", ACHA 68:101595, 2024
(arXiv:2011.13772).
S. Arora, N. Cohen, W. Hu, Y. Luo, "Implicit regularization in deep matrix factorization",
NeurIPS 2019 (arXiv:1905.13655).
S. Arora, N. Cohen, N. Golowich, W. Hu, "A convergence analysis of gradient descent for
deep linear neural networks", ICLR 2019 (balanced initialization).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._core import check_bool, check_depth, check_int, check_matrix_shape, check_positive

INITS = ("scaled_identity", "orthogonal", "gaussian")
SCALE_MODES = ("factor", "end_to_end")


def check_seed(seed: Any, name: str = "seed") -> int:
    """A seed of the initialization: an integer in ``[0, 2**63)`` (``jax.random.PRNGKey``
    takes a signed 64-bit integer: a larger one failed with a bare OverflowError)."""
    s = check_int(seed, name, minimum=0)
    if s >= 2**63:
        raise ValueError(f"{name} must be < 2**63, got {s}")
    return s


def _factor_key(j: int) -> str:
    return f"W{j}"


@dataclass(frozen=True)
class DeepMatrixFactorization:
    """``W = W_N W_{N-1} ... W_1`` with ``W_1: d_1 x n2``, ``W_j: d_j x d_{j-1}``,
    ``W_N: n1 x d_{N-1}``; the signal is ``vec(W)`` (row-major).

    Parameters
    ----------
    shape : tuple of int
        ``(n1, n2)``, the shape of the end-to-end matrix.
    depth : int
        N >= 1 (1 is plain gradient descent on W).
    widths : sequence of int, optional
        Hidden widths ``(d_1, ..., d_{N-1})``; default all ``min(n1, n2)`` (enough for
        any rank).
    init_kind : {"scaled_identity", "orthogonal", "gaussian"}
        The initialization (``init`` in :func:`~overparam.dmf_gd`; the field is not
        called ``init``, which is the contract's method). ``"scaled_identity"``: ``W_j(0) = alpha_j I`` (rectangular identity when the
        shapes differ), the setting of Chou et al.; ``"orthogonal"``: ``alpha_j Q_j`` with
        Haar (semi-)orthogonal ``Q_j``; ``"gaussian"``: i.i.d. ``N(0, alpha_j^2 / d_in)``
        entries (Arora et al.'s scaling: each factor's Frobenius norm is about
        ``alpha_j sqrt(d_out)``).
    init_scale : float or sequence of float
        ``alpha`` (one per factor for an unbalanced start). Its meaning is set by
        ``scale``.
    scale : {"factor", "end_to_end"}
        ``"factor"`` (default): each factor starts at scale ``alpha`` (so ``W(0) = alpha^N
        I`` for the identity init, the convention of Chou et al.). ``"end_to_end"``: the
        product starts at scale ``alpha`` (each factor at ``alpha^(1/N)``), the convention
        of Arora et al.'s ``init_scale`` (their Gaussian product has Frobenius norm about
        ``alpha sqrt(n)``).
    balanced : bool
        Only for ``init_kind="gaussian"``: draw the end-to-end matrix ``G`` (i.i.d.
        ``N(0, alpha^(2N) / n2)`` entries, as the product of Gaussian factors would have)
        and split its SVD ``G = U S V^T`` evenly: ``W_1 = S^(1/N) V^T``, ``W_j = S^(1/N)``,
        ``W_N = U S^(1/N)``, so ``W_{j+1}^T W_{j+1} = W_j W_j^T`` (Arora, Cohen, Golowich,
        Hu). The identity and orthogonal starts are balanced by construction (equal
        ``alpha_j``, square factors).
    seed : int
        Seed of the random initializations, in ``[0, 2**63)`` (``init(key, n)`` uses
        ``key`` when given).

    Notes
    -----
    The loss is ``0.5 ||A(vec(W)) - y||^2``; the driver pulls ``A^*(r)`` back through the
    product with :meth:`signal_vjp` (hand-ordered products, equal to autodiff's vjp), so
    the gradients for the estimation loss are
    ``grad_j = (W_N ... W_{j+1})^T (W - Y) (W_{j-1} ... W_1)^T``.
    With ``W_j(0) = alpha I`` and a symmetric target ``Y = V diag(sigma) V^T`` every factor
    stays ``V diag(lambda) V^T`` with ``lambda <- lambda - eta lambda^(N-1) (lambda^N -
    sigma)`` (the exact oracle of the tests).
    """

    shape: tuple[int, int]
    depth: int = 3
    widths: tuple[int, ...] | None = None
    init_kind: str = "scaled_identity"
    init_scale: float | tuple[float, ...] = 1e-3
    scale: str = "factor"
    balanced: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        # (a scalar shape failed with a bare "'int' object is not iterable")
        n1, n2 = check_matrix_shape(self.shape)
        object.__setattr__(self, "shape", (n1, n2))
        N = check_depth(self.depth)
        object.__setattr__(self, "depth", N)
        if self.widths is None:
            widths = (min(n1, n2),) * (N - 1)
        else:
            if not isinstance(self.widths, Iterable):
                raise TypeError(f"widths must be a sequence of {N - 1} ints, got "
                                f"{type(self.widths).__name__} {self.widths!r}")
            widths = tuple(check_int(w, "width", minimum=1) for w in self.widths)
            if len(widths) != N - 1:
                raise ValueError(
                    f"depth {N} needs {N - 1} hidden widths, got {len(widths)}")
        object.__setattr__(self, "widths", widths)
        if self.init_kind not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init_kind!r}")
        if self.scale not in SCALE_MODES:
            raise ValueError(f"scale must be one of {SCALE_MODES}, got {self.scale!r}")
        if not isinstance(self.init_scale, (list, tuple, np.ndarray)) and getattr(
                self.init_scale, "ndim", 0) >= 1:
            # per-factor scales as a JAX array were refused ("must be a real number, got
            # ArrayImpl") where the NumPy array of the same values ran
            object.__setattr__(self, "init_scale", np.asarray(self.init_scale))
        if isinstance(self.init_scale, np.ndarray) and self.init_scale.ndim == 0:
            # a 0-d array is one scale (tuple() of it raised "iteration over a 0-d array")
            object.__setattr__(self, "init_scale", self.init_scale.item())
        if isinstance(self.init_scale, (list, tuple, np.ndarray)):
            scales = tuple(check_positive(a, "init_scale") for a in self.init_scale)
            if len(scales) != N:
                raise ValueError(f"depth {N} needs {N} init scales, got {len(scales)}")
            object.__setattr__(self, "init_scale", scales)
        else:
            object.__setattr__(self, "init_scale", check_positive(self.init_scale,
                                                                  "init_scale"))
        # any truthy value (e.g. the string "no") drew a balanced start
        object.__setattr__(self, "balanced", check_bool(self.balanced, "balanced"))
        if self.balanced and self.init_kind != "gaussian":
            raise ValueError("balanced=True applies to init='gaussian' (identity and "
                             "orthogonal starts are balanced already)")
        if self.balanced and isinstance(self.init_scale, tuple):
            raise ValueError("a balanced start needs one init_scale, not one per factor")
        object.__setattr__(self, "seed", check_seed(self.seed))

    # -- shapes ---------------------------------------------------------------------------
    @property
    def dims(self) -> tuple[int, ...]:
        """``(n2, d_1, ..., d_{N-1}, n1)``: W_j maps dims[j-1] to dims[j]."""
        return (self.shape[1],) + tuple(self.widths) + (self.shape[0],)

    @property
    def factor_scales(self) -> tuple[float, ...]:
        """The per-factor ``alpha_j``."""
        N = self.depth
        scales = (self.init_scale if isinstance(self.init_scale, tuple)
                  else (self.init_scale,) * N)
        if self.scale == "end_to_end":
            scales = tuple(a ** (1.0 / N) for a in scales)
        return scales

    @property
    def products_per_step(self) -> int:
        """Matrix products of one gradient step with autodiff: N-1 forward, 2(N-1) back."""
        return 3 * (self.depth - 1)

    def flops_per_step(self) -> int:
        """Multiply-add flops (2 per pair) of the products in one gradient step."""
        d = self.dims
        fwd = sum(2 * d[j + 1] * d[j] * d[0] for j in range(1, self.depth))
        return 3 * fwd

    # -- the parametrization contract -----------------------------------------------------
    def loop_model(self) -> "DeepMatrixFactorization":
        """This model with its initialization-only fields set to fixed values.

        The compiled loop reads the forward map, pullback and Hessian bound (shape, depth,
        widths), never the initialization; the driver keys its programs on this model, so
        that a sweep over seeds or init scales compiles the loop once (the initial factors
        reach the driver as ``params0``)."""
        return replace(self, init_kind="scaled_identity", init_scale=1.0, scale="factor",
                       balanced=False, seed=0)

    def init(self, key: Any, n: int) -> dict[str, jnp.ndarray]:
        """Initial factors ``{"W1": W_1, ..., "WN": W_N}`` (float64)."""
        n1, n2 = self.shape
        # n = 4.0 (or True for a 1 x 1 model) passed as the count, as it does not in the
        # other models' init
        if check_int(n, "n", minimum=1) != n1 * n2:
            raise ValueError(f"the operator acts on {n} entries, the model on {n1} x {n2}")
        if key is None:
            key = jax.random.PRNGKey(self.seed)
        elif isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            # failed deep in JAX ("invalid PRNG key data"), as in TwoLayerNet.init
            raise TypeError(f"key must be a JAX PRNG key or None (None uses seed="
                            f"{self.seed}), got the integer {key!r}: pass "
                            f"jax.random.PRNGKey({key!r}) or set seed")
        seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        d, N, alphas = self.dims, self.depth, self.factor_scales
        mats: list[np.ndarray] = []
        if self.init_kind == "gaussian" and self.balanced:
            # checked before filling the factors: a narrower width failed with NumPy's
            # "could not broadcast" in the slice assignment below
            if any(w < min(n1, n2) for w in self.widths):
                raise ValueError("a balanced start needs widths >= min(n1, n2) = "
                                 f"{min(n1, n2)}, got {self.widths}")
            a = alphas[0]
            G = rng.standard_normal((n1, n2)) * (a**N / np.sqrt(n2))
            U, s, Vt = np.linalg.svd(G, full_matrices=False)
            k = s.size
            root = s ** (1.0 / N)
            for j in range(1, N + 1):
                W = np.zeros((d[j], d[j - 1]))
                if N == 1:
                    W = G
                elif j == 1:
                    W[:k, :] = root[:, None] * Vt
                elif j == N:
                    W[:, :k] = U * root
                else:
                    W[:k, :k] = np.diag(root)
                mats.append(W)
        else:
            for j in range(1, N + 1):
                out, inn, a = d[j], d[j - 1], alphas[j - 1]
                if self.init_kind == "scaled_identity":
                    W = a * np.eye(out, inn)
                elif self.init_kind == "orthogonal":
                    q, r = np.linalg.qr(rng.standard_normal((max(out, inn), min(out, inn))))
                    q = q * np.sign(np.diag(r))
                    W = a * (q if out >= inn else q.T)
                else:
                    W = rng.standard_normal((out, inn)) * (a / np.sqrt(inn))
                mats.append(W)
        return {_factor_key(j + 1): jnp.asarray(W, dtype=jnp.float64)
                for j, W in enumerate(mats)}

    def factors(self, params: dict[str, Any]) -> list[Any]:
        """``[W_1, ..., W_N]``."""
        return [params[_factor_key(j)] for j in range(1, self.depth + 1)]

    def matrix(self, params: dict[str, Any]) -> jnp.ndarray:
        """The end-to-end matrix ``W_N ... W_1``."""
        fs = self.factors(params)
        P = fs[0]
        for W in fs[1:]:
            P = W @ P
        return P

    def signal(self, params: dict[str, Any]) -> jnp.ndarray:
        """``vec(W_N ... W_1)`` (row-major)."""
        return self.matrix(params).reshape(-1)

    def signal_vjp(self, params: dict[str, Any]) -> tuple[jnp.ndarray, Any]:
        """``(vec(W), pullback)`` with an explicit pullback of ``3 (N - 1)`` products.

        The same values as ``jax.vjp(self.signal, params)`` (to rounding), in the order of a
        hand-written step: the prefixes ``P_j = W_j ... W_1`` of the forward pass are kept,
        and the pullback of ``G`` runs ``D_N = G``, ``grad_N = D_N P_{N-1}^T``,
        ``D_j = W_{j+1}^T D_{j+1}``, ``grad_j = D_j P_{j-1}^T`` (``grad_1 = D_1``).
        The transposes ``W_{j+1}^T`` are materialized (O(size) copies): left to itself XLA
        folds them into the product, whose transposed-left-operand form runs at about half
        the rate of the plain one on CPU. The driver uses this for first-order steps;
        ``signal`` stays the plain function for higher derivatives (Hessian-vector
        products).
        """
        fs = self.factors(params)
        prefixes = [fs[0]]
        for W in fs[1:]:
            prefixes.append(W @ prefixes[-1])
        x = prefixes[-1].reshape(-1)
        N = self.depth

        def pullback(g):
            D = jnp.reshape(g, self.shape)
            grads = [None] * N
            for j in range(N - 1, -1, -1):  # factor W_{j+1} (0-based j)
                grads[j] = D if j == 0 else D @ prefixes[j - 1].T
                if j > 0:
                    D = _transposed(fs[j]) @ D
            return ({_factor_key(j + 1): grads[j] for j in range(N)},)

        return x, pullback

    def project(self, params: dict[str, Any]) -> dict[str, Any]:
        """No constraint: the factors are free."""
        return params

    def hessian_bound(self, params: dict[str, Any], g: jnp.ndarray, opnorm2: Any) -> Any:
        """Upper bound on the largest Hessian eigenvalue of the loss in the factors.

        The bound of :meth:`hessian_bound_warm` with the exact spectral norms
        ``s_j = ||W_j||_2`` (an SVD per factor), so it holds for any factors. (It read
        the power-iteration estimates from a fixed start, which are far below ``||W_j||_2``
        when the top singular vector is orthogonal to the start: 2.2 against 65.) The
        driver uses the cheaper :meth:`hessian_bound_warm`.
        """
        fs = self.factors(params)
        s = jnp.stack([jnp.linalg.norm(W, 2) for W in fs])
        return _bound_from_norms(s, g, opnorm2)

    def bound_state(self, params: dict[str, Any]) -> tuple[jnp.ndarray, ...]:
        """Start vectors of the power iterations of :meth:`hessian_bound_warm`: a fixed
        generic unit vector per factor."""
        return tuple(jnp.asarray(_start_vector(W.shape[1]), W.dtype)
                     for W in self.factors(params))

    def hessian_bound_warm(self, params: dict[str, Any], g: jnp.ndarray, opnorm2: Any,
                           state: tuple[jnp.ndarray, ...]) -> tuple[Any, tuple]:
        """Estimate (from above, not guaranteed) of the largest Hessian eigenvalue of the
        loss in the factors, and the power-iteration vectors to start from at the next
        step: the driver's bound for ``step="auto"``, which takes a fraction of
        ``2 / bound``.

        With ``s_j ~ ||W_j||_2`` (see :func:`_norm2_bounds`: O(size) work, no product) and
        ``G = A^*(r)``:
        ``||A||^2 sum_j prod_{i != j} s_i^2`` (Gauss-Newton part) plus
        ``(N - 1) ||G||_F max_{i<j} prod_{k != i, j} s_k`` (curvature of the product);
        with the exact norms this is an upper bound (:meth:`hessian_bound`). Here ``s_j``
        is capped by guaranteed bounds but read from power iterations, which start from
        the previous step's vectors: the factors change little per step, so the vectors
        follow the top singular vectors, also when a fixed start is (nearly) orthogonal
        to them. The initial factors of :meth:`init` are random, or multiples of
        (semi-)orthogonal matrices (all nonzero singular values equal: exact from a
        generic start). Should the estimate still fall short, the step exceeds the
        stability limit and the loss grows (DIVERGED, by the driver's guard) or stalls
        (STAGNATED or MAX_ITER): not reported as converged.
        """
        fs = self.factors(params)
        bounds, vs = _norm2_bounds(fs, state)
        return _bound_from_norms(jnp.stack(bounds), g, opnorm2), vs


def _bound_from_norms(s: jnp.ndarray, g: jnp.ndarray, opnorm2: Any) -> jnp.ndarray:
    """``||A||^2 sum_j prod_{i != j} s_i^2 + (N - 1) ||G||_F max_{i<j} prod_{k != i, j}
    s_k`` for the factors' norms ``s`` (``opnorm2`` alone for one factor), in logs so
    that no product under- or overflows."""
    N = s.shape[0]
    if N == 1:
        return jnp.asarray(opnorm2, jnp.float64) * jnp.ones((), jnp.float64)
    logs = jnp.log(jnp.maximum(s, 1e-300))
    total = jnp.sum(logs)
    gn = jnp.sum(jnp.exp(2.0 * (total - logs)))
    i, j = np.triu_indices(N, 1)
    pair = jnp.max(jnp.exp(total - logs[i] - logs[j]))
    return opnorm2 * gn + (N - 1) * jnp.sqrt(jnp.sum(g * g)) * pair


def _transposed(W: jnp.ndarray) -> jnp.ndarray:
    """``W^T`` as a materialized array (the barrier keeps XLA from folding the transpose
    into the next product's dimension numbers)."""
    return jax.lax.optimization_barrier(jnp.transpose(W))


POWER_ITERS = 6


def _start_vector(d: int) -> np.ndarray:
    v = np.cos(np.arange(1, d + 1) * 2.399963229728653) + 0.1
    return v / np.linalg.norm(v)


def _norm2_bounds(mats: list[jnp.ndarray], starts: Sequence[jnp.ndarray] | None = None
                  ) -> tuple[list[jnp.ndarray], tuple[jnp.ndarray, ...]]:
    """Cheap estimates from above of ``||W||_2`` for each matrix, and the final
    power-iteration vectors: the smallest of the Frobenius norm, ``sqrt(||W||_1
    ||W||_inf)`` (both true upper bounds) and ``k`` power iterations on ``W^T W`` from
    ``starts`` (default a fixed generic unit vector), inflated by ``d^(1/(4k))``.

    The inflation covers a start with ``1/d`` of its energy on the top singular vector:
    the iteration then reaches at least ``s_1 d^(-1/(4k))``. A fixed start can have far
    less (a structured W whose top singular vector it is nearly orthogonal to), so the
    gradient descent driver passes the previous step's vectors (see
    ``DeepMatrixFactorization.hessian_bound_warm``). Matrices of one shape are iterated
    together (one batched product per iteration), so the cost is ``O(k size)`` and a few
    small operations per step."""
    out: list[Any] = [None] * len(mats)
    vout: list[Any] = [None] * len(mats)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, W in enumerate(mats):
        groups.setdefault(tuple(W.shape), []).append(i)
    for (_, d), idx in groups.items():
        Ws = jnp.stack([mats[i] for i in idx])
        fro = jnp.sqrt(jnp.sum(Ws * Ws, axis=(1, 2)))
        a = jnp.abs(Ws)
        holder = jnp.sqrt(jnp.max(jnp.sum(a, axis=1), axis=1)
                          * jnp.max(jnp.sum(a, axis=2), axis=1))
        generic = jnp.asarray(_start_vector(d), Ws.dtype)
        if starts is None:
            v = jnp.broadcast_to(generic, (len(idx), d))
        else:
            v = jnp.stack([starts[i] for i in idx])
            # a start that collapsed (W v = 0, e.g. a zero factor) restarts generic
            v = jnp.where(jnp.linalg.norm(v, axis=1, keepdims=True) > 0, v, generic)

        def body(_, v):
            w = jnp.einsum("bij,bi->bj", Ws, jnp.einsum("bij,bj->bi", Ws, v))
            return w / jnp.maximum(jnp.linalg.norm(w, axis=1, keepdims=True), 1e-300)

        v = jax.lax.fori_loop(0, POWER_ITERS, body, v, unroll=True)
        est = jnp.linalg.norm(jnp.einsum("bij,bj->bi", Ws, v), axis=1)
        est = est * float(d) ** (1.0 / (4 * POWER_ITERS))
        bound = jnp.minimum(jnp.minimum(fro, holder), est)
        for k, i in enumerate(idx):
            out[i] = bound[k]
            vout[i] = v[k]
    return out, tuple(vout)


def dmf_model(shape: Sequence[int], depth: int = 3, **kwargs: Any) -> DeepMatrixFactorization:
    """Shorthand for :class:`DeepMatrixFactorization`.

    Parameters
    ----------
    shape : sequence of int
        ``(n1, n2)``, the shape of the end-to-end matrix.
    depth : int, optional
        N >= 1 factors (default 3).
    **kwargs
        The other fields of :class:`DeepMatrixFactorization` (``widths``, ``init_kind``,
        ``init_scale``, ``scale``, ``balanced``, ``seed``).

    Returns
    -------
    DeepMatrixFactorization
    """
    return DeepMatrixFactorization(tuple(shape), depth, **kwargs)
