"""Link functions of the Hadamard gradient flow: ``x = h(z)`` with ``z`` in range(A^T).

For the loss ``0.5 * ||A x - y||^2`` and ``u(0) = v(0) = a`` (``a = init_scale``), write
``G(t) = int_0^t A^T (A x - y)``. The flow ``du/dt = -L u^(L-1) g`` (and ``dv/dt = +L v^(L-1) g``
for the signed model) integrates in closed form:

* ``L = 2``: ``u = a exp(-2G)``, ``v = a exp(2G)``; with ``z = -4G``,
  signed ``x = u^2 - v^2 = 2 a^2 sinh(z)``, non-negative ``x = u^2 = a^2 exp(z)``.
* ``L >= 3``: ``u^(2-L) = a^(2-L) + L(L-2) G`` and ``v^(2-L) = a^(2-L) - L(L-2) G``; with
  ``c = a^(2-L)``, ``p = L/(L-2)`` and ``z = -L(L-2) G``, signed
  ``x = (c - z)^(-p) - (c + z)^(-p)`` on ``|z| < c``, non-negative ``x = (c - z)^(-p)`` on
  ``z < c``.

Each ``h`` is increasing, ``h = H'`` for a convex ``H`` (a barrier at the ends of the domain
when ``L >= 3``), and ``z`` stays in range(A^T) because ``G`` does. Every method here works
on arrays and is vectorised; ``log_a = log(init_scale)`` is the continuation parameter.
"""
from __future__ import annotations

import numpy as np


class Link:
    """``h``, its derivative, its primitive ``H`` and ``dh/dlog(a)`` for one model."""

    def __init__(self, depth: int, nonneg: bool, log_a: float):
        if depth < 2:
            raise ValueError("limits need depth >= 2 (depth 1 has no implicit bias)")
        self.depth = int(depth)
        self.nonneg = bool(nonneg)
        self.set_scale(log_a)

    # -- scale -------------------------------------------------------------------------
    def set_scale(self, log_a: float) -> None:
        """Set ``log(init_scale)``."""
        self.log_a = float(log_a)
        L = self.depth
        if 2 * (L - 1) * self.log_a > 690.0:
            # the lazy regime: z ~ x / a^(2L-2) leaves the float64 range (a raw
            # OverflowError for depth 3 at 1e150, NaN for depth 2 beyond 1e150)
            top = f"use init_scale <= {np.exp(690.0 / (2 * (L - 1))):.3g}"
            if self.nonneg:
                # (no l2 hint: the non-negative limit at large scales is not the least
                # l2-norm solution; measured at depth 2, a = 1e10: [1, 3e-11, 1e-14, 2, ...]
                # where lstsq gives a signed dense x, at depth 3 another dense x > 0)
                raise ValueError(
                    f"init_scale = {np.exp(self.log_a):.3g} is too large for the "
                    f"non-negative depth-{L} model: beyond the init scales this solver "
                    f"supports in float64; {top}")
            raise ValueError(
                f"init_scale = {np.exp(self.log_a):.3g} is too large for depth {L} in "
                f"float64 (the dual variable z ~ x / a^{2 * L - 2} underflows); {top}: "
                "beyond ~1e3 the limit is the least l2-norm solution to float64 precision "
                "(numpy.linalg.lstsq)")
        if L == 2:
            self.la2 = 2.0 * self.log_a
            self.c = np.inf
        else:
            lc = (2 - L) * self.log_a
            if lc > 700.0:
                raise ValueError(
                    f"init_scale = {np.exp(self.log_a):.3g} is too small for depth {L} in "
                    f"float64 (a^(2-L) overflows); use init_scale >= "
                    f"{np.exp(-700.0 / (L - 2)):.3g}"
                )
            self.c = float(np.exp(lc))
            self.p = L / (L - 2.0)
            self.q = 2.0 / (L - 2.0)

    @property
    def lower(self) -> float:
        """Lower end of the domain of ``z`` (exclusive)."""
        if self.depth == 2 or self.nonneg:
            return -np.inf
        return -self.c

    @property
    def upper(self) -> float:
        """Upper end of the domain of ``z`` (exclusive)."""
        return self.c

    # -- maps --------------------------------------------------------------------------
    def evaluate(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(sum H(z), h(z), h'(z))``; ``sum H`` is ``inf`` outside the domain."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.depth == 2:
                ep = np.exp(z + self.la2)
                if self.nonneg:
                    return float(ep.sum()), ep, ep
                em = np.exp(self.la2 - z)
                # 2 a^2 sinh(z), not ep - em, where |z| < 1: the difference of two numbers
                # near a^2 kept only ~1e-16 a^2 / |x| of x at large init scales (the lazy
                # regime, z ~ 1e-8 at a = 1e4, where the limit stagnated at 1e-6)
                h = np.where(np.abs(z) < 1.0, 2.0 * np.exp(self.la2) * np.sinh(z), ep - em)
                return float(ep.sum() + em.sum()), h, ep + em
            p, q, c = self.p, self.q, self.c
            um = c - z
            if np.any(um <= 0.0):
                return np.inf, np.full_like(z, np.nan), np.full_like(z, np.nan)
            ump = um ** (-p)
            if self.nonneg:
                return float((um * ump).sum() / q), ump, p * ump / um
            up = c + z
            if np.any(up <= 0.0):
                return np.inf, np.full_like(z, np.nan), np.full_like(z, np.nan)
            upp = up ** (-p)
            Hs = float(((um * ump).sum() + (up * upp).sum()) / q)
            # (c - z)^-p - (c + z)^-p = 2 c^-p (1 - t^2)^(-p/2) sinh(p atanh(t)), t = z / c:
            # no cancellation where |z| << c (large init scales)
            t = z / c
            h = 2.0 * c ** (-p) * np.exp(-0.5 * p * np.log1p(-t * t)) * np.sinh(p * np.arctanh(t))
            return Hs, h, p * (ump / um + upp / up)

    def primitive(self, z: np.ndarray) -> float:
        """``sum H(z)`` only (line searches); ``inf`` outside the domain."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.depth == 2:
                s = np.exp(z + self.la2).sum()
                if not self.nonneg:
                    s = s + np.exp(self.la2 - z).sum()
                return float(s)
            c, q = self.c, self.q
            um = c - z
            if np.any(um <= 0.0):
                return np.inf
            s = (um ** (-q)).sum()
            if not self.nonneg:
                up = c + z
                if np.any(up <= 0.0):
                    return np.inf
                s = s + (up ** (-q)).sum()
            return float(s / q)

    def excess(self, z: np.ndarray) -> float:
        """``sum H(z) - sum H(0)`` without cancellation (line searches); ``inf`` outside
        the domain.

        ``sum H(0)`` is ``2 n a^2`` (signed, ``L = 2``) or ``2 n c^-q / q`` (``L >= 3``):
        at large init scales it dwarfs the variation of the dual objective (``~1e-21`` of
        it at ``a = 1e10``), so ``primitive`` differences lost every digit and the line
        search stalled. The constant does not change the minimiser.
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if self.depth == 2:
                small = np.abs(z) < 1.0
                a2 = np.exp(self.la2)
                if self.nonneg:
                    big = np.exp(z + self.la2) - a2
                    return float(np.where(small, a2 * np.expm1(z), big).sum())
                # 2 a^2 (cosh z - 1) = (2 a sinh(z/2))^2: the square of a sinh(z/2), not
                # a^2 times sinh(z/2)^2, which underflows for |z| < 1e-154 (the lazy regime
                # of init scales >= 1e80, z ~ x / a^2: a zero excess failed every line
                # search, and Newton-CG stopped at max_iter)
                big = np.exp(z + self.la2) + np.exp(self.la2 - z) - 2.0 * a2
                half = 2.0 * np.exp(0.5 * self.la2) * np.sinh(0.5 * z)
                return float(np.where(small, half * half, big).sum())
            c, q = self.c, self.q
            t = z / c
            if np.any(t >= 1.0) or (not self.nonneg and np.any(t <= -1.0)):
                return np.inf
            scale = c ** (-q) / q
            if self.nonneg:
                return float(scale * np.expm1(-q * np.log1p(-t)).sum())
            # (1-t)^-q + (1+t)^-q - 2 = 2 (expm1(M) cosh(D) + 2 sinh(D/2)^2),
            # M = -q log(1 - t^2) / 2 >= 0, D = q atanh(t): a sum of non-negative terms
            D = q * np.arctanh(t)
            # with r = sqrt(scale): scale * 4 sinh(D/2)^2 = (2 r sinh(D/2))^2, and for
            # |t| < 1e-8 scale * expm1(M) = q (r t)^2 / 2 (to 1e-16): the squares t^2 and
            # sinh(D/2)^2 underflowed to 0 for |t| < 1e-154 (the lazy regime of large init
            # scales), and a zero excess failed every line search
            r = np.sqrt(scale)
            tiny = np.abs(t) < 1e-8
            with np.errstate(over="ignore", invalid="ignore"):
                em = np.where(tiny, 0.5 * q * (r * t) ** 2,
                              scale * np.expm1(-0.5 * q * np.log1p(-t * t)))
            half = 2.0 * r * np.sinh(0.5 * D)
            return float((2.0 * em * np.cosh(D) + half * half).sum())

    def dscale(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        """``d h(z) / d log(a)`` at fixed ``z`` (``h`` is ``h(z)``, reused)."""
        if self.depth == 2:
            return 2.0 * h
        L, p, c = self.depth, self.p, self.c
        um = c - z
        dh_dc = -p * um ** (-p - 1.0)
        if not self.nonneg:
            dh_dc = dh_dc + p * (c + z) ** (-p - 1.0)
        return (2 - L) * c * dh_dc

    def max_step(self, z: np.ndarray, dz: np.ndarray, fraction: float = 0.99) -> float:
        """Largest ``t <= 1`` keeping ``z + t dz`` a ``fraction`` of the way inside the domain."""
        if not np.isfinite(self.c):
            return 1.0
        t = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = dz > 0
            if np.any(pos):
                t = min(t, fraction * float(np.min((self.c - z[pos]) / dz[pos])))
            if not self.nonneg:
                neg = dz < 0
                if np.any(neg):
                    t = min(t, fraction * float(np.min((self.c + z[neg]) / -dz[neg])))
        return t

    def start_scale(self, x_scale: float) -> float:
        """``log(a0)``: the scale at which ``h`` is nearly linear over ``|x| <~ x_scale``
        (the start of the continuation in the scale)."""
        return float(np.log(max(x_scale, 1e-300)) / self.depth)
