"""Bandlimited graph signals and their coarse quantization.

For a connected undirected graph with adjacency ``W`` and degrees ``D``, the normalized
Laplacian is ``L = I - D^{-1/2} W D^{-1/2}``; ``X_r`` holds its eigenvectors of the ``r``
smallest eigenvalues. A signal ``f = X_r a`` is r-bandlimited; the brick-wall low-pass
filter is ``L_r = X_r X_r^T`` and the quantization error of ``q`` is
``||L_r (f - q)|| = ||X_r^T (f - q)||``. The incoherence is
``mu(X_r) = (N / r) max_i ||X_r^T e_i||^2`` (in ``[1, N / r]``).

``graph_signal`` quantizes ``f`` (with ``||f||_inf <= 1``) to the alphabet
``linspace(-1, 1, 2**bits)`` by

* ``"single-shot"``: the vertex pre-processing against ``X_r^T`` (``X_r^T z = X_r^T f``, ``z``
  in the cells of ``f``, at most ``r`` entries off the alphabet), then MSQ: our reading of
  Maly & Veselovska's single-shot noise shaping (marked inference in the digest);
* ``"msq"``: rounding each entry;
* ``"sigma-delta"``: first-order Sigma-Delta along a graph ordering (``u_i = u_{i-1} + f_i -
  q_i``, ``q_i = Q(u_{i-1} + f_i)``), the iterative baseline.
"""
from __future__ import annotations

import numbers
import time
import warnings
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, reverse_cuthill_mckee

from .._core import (Result, Status, as_generator, check_int, check_positive, pow2_exponent,
                     safe_norm)
from .._core.checks import _scalar_of
from ._alphabet import check_bits, check_real, msq_round
from .vertex import unused_vertex_options, vertex

__all__ = ["make_graph", "as_adjacency", "normalized_laplacian", "laplacian_eigenvectors",
           "bandlimited_signal", "incoherence", "graph_signal", "sigma_delta",
           "graph_ordering", "GRAPH_KINDS", "GRAPH_METHODS", "grid_adjacency"]

GRAPH_KINDS = ("geometric", "grid", "erdos-renyi", "mesh", "triangular", "small-world",
               "barabasi-albert", "clustered", "lollipop", "hub")
GRAPH_METHODS = ("single-shot", "msq", "sigma-delta")


def as_adjacency(graph: Any) -> sp.csr_matrix:
    """A symmetric non-negative sparse adjacency from a networkx graph or a (sparse) matrix.

    Parameters
    ----------
    graph : networkx graph, scipy sparse matrix or array_like of shape (N, N)
        An undirected, connected graph with real non-negative symmetric weights and no
        isolated node; self-loops are dropped.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (N, N)
        Zero diagonal, explicit zeros removed.

    Raises
    ------
    ValueError
        For a directed, disconnected or non-square graph, negative or asymmetric
        weights, or an isolated node.
    """
    try:
        import networkx as nx
        if isinstance(graph, nx.Graph):
            if graph.is_directed():
                raise ValueError("the graph must be undirected")
            # as for a 0 x 0 matrix below (networkx raised NetworkXError "Graph has no
            # nodes or edges")
            if graph.number_of_nodes() == 0:
                raise ValueError("the adjacency is empty (a graph with no nodes)")
            graph = nx.to_scipy_sparse_array(graph, format="csr", dtype=float)
    except ImportError:  # pragma: no cover - networkx is a dependency of the extra
        pass
    if sp.issparse(graph):
        # before the cast: csr_matrix(dtype=float) dropped an imaginary part with only a
        # ComplexWarning
        if np.iscomplexobj(graph):
            raise TypeError(f"adjacency must be real, got dtype {graph.dtype}")
        Wm = sp.csr_matrix(graph, dtype=float)
        if Wm.nnz:
            check_real(Wm.data, "adjacency")
    else:
        Wm = sp.csr_matrix(check_real(graph, "adjacency", ndim=2))
    n = Wm.shape[0]
    if Wm.shape != (n, n):
        raise ValueError(f"the adjacency must be square, got shape {Wm.shape}")
    if n == 0:   # a sparse 0 x 0 passed (a dense one is refused as empty)
        raise ValueError("the adjacency is empty (a graph with no nodes)")
    if Wm.nnz and Wm.data.min() < 0:
        raise ValueError("the adjacency has negative weights")
    # relative to the weights, in units of 2**e ~ max weight (exact): an absolute floor of 1
    # let a 2x asymmetry of weights ~1e-12 pass, and sums of weights ~1e308 overflowed to
    # inf, which let any asymmetry pass
    Ws = _unit_scaled(Wm)
    if abs(Ws - Ws.T).sum() > 1e-10 * abs(Ws).sum():
        raise ValueError("the adjacency must be symmetric (an undirected graph)")
    Wm = Wm.tolil()
    Wm.setdiag(0)
    Wm = Wm.tocsr()
    Wm.eliminate_zeros()
    ncomp, _ = connected_components(Wm, directed=False)
    if ncomp > 1:
        raise ValueError(f"the graph is disconnected ({ncomp} components): the normalized "
                         "Laplacian's low-pass space then mixes components; quantize each "
                         "component separately")
    if n > 1 and np.diff(Wm.indptr).min() == 0:   # no edge (weight sums could overflow)
        raise ValueError("the graph has an isolated node")
    return Wm


def _unit_scaled(Wm: sp.csr_matrix) -> sp.csr_matrix:
    """``Wm / 2**e`` with ``2**e ~ max |W|`` (exact, except entries more than ~1e308 below
    the largest, which underflow); the normalized Laplacian does not change."""
    e = int(pow2_exponent(np.abs(Wm.data).max(initial=0.0)))
    out = Wm.copy()
    out.data = np.ldexp(out.data, -e)
    return out


def grid_adjacency(h: int, w: int) -> sp.csr_matrix:
    """The 4-neighbour grid graph of an ``h x w`` image, nodes in row-major order.

    Parameters
    ----------
    h, w : int
        Number of rows and columns of the grid.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (h w, h w)
        Unit weights; node ``i w + j`` is pixel ``(i, j)``.
    """
    import networkx as nx

    # 0, -1 or 2.5 failed inside networkx ("Graph has no nodes or edges", "'float' object
    # is not iterable")
    h, w = check_int(h, "h", minimum=1), check_int(w, "w", minimum=1)
    g = nx.grid_2d_graph(h, w)
    order = [(i, j) for i in range(h) for j in range(w)]
    return sp.csr_matrix(nx.to_scipy_sparse_array(g, nodelist=order, format="csr",
                                                  dtype=float))


def make_graph(kind: str, n: int, *, seed: int = 0, degree: float | None = None,
               max_tries: int = 20) -> sp.csr_matrix:
    """A connected graph from a networkx generator (or a Delaunay mesh), as sparse adjacency.

    Parameters
    ----------
    kind : {"geometric", "grid", "erdos-renyi", "mesh", "triangular", "small-world", \
            "barabasi-albert", "clustered", "lollipop", "hub"}
        Random geometric graph in the unit square (radius for about ``degree`` neighbours),
        the ``floor(sqrt n) x ceil(n / floor(sqrt n))`` grid (about ``n`` nodes), an
        Erdos-Renyi graph with mean degree ``degree``, the Delaunay triangulation of ``n``
        uniform points (an irregular mesh), networkx's triangular lattice (a regular
        mesh, about ``n`` nodes), a Watts-Strogatz ring (6 neighbours, rewiring 0.1), a
        Barabasi-Albert graph (3 edges per new node, hubs), an 8-nearest-neighbour graph of
        points from 8 Gaussian clusters of very different spreads, or a lollipop (a clique
        of ``n / 8`` nodes on a path), or a grid of ``n - 1`` nodes (the first ``n - 1``
        nodes, row-major, of the ``h x ceil((n - 1) / h)`` grid, ``h = floor(sqrt(n - 1))``)
        plus one hub joined to ``degree`` random grid nodes (default ``n // 4``); ``n`` nodes
        in all. The hub concentrates the first normalized-Laplacian eigenvector (entries
        ``~ sqrt(degree)``): ``degree`` tunes the incoherence ``mu``.
    n : int
        Number of nodes: at least 4 (7 for ``"small-world"``, 9 for ``"clustered"``).
    seed : int
    degree : float, optional
        Target mean degree (geometric, Erdos-Renyi); default ``max(6, 2 log n)``, twice the
        connectivity threshold. For ``"hub"``: the hub's degree, an integer in
        ``[1, n - 1]``.
    max_tries : int
        Random graphs are redrawn (with derived seeds) until connected.
    """
    import networkx as nx

    n = check_int(n, "n", minimum=4)
    # max_tries <= 0 raised "no connected graph ... raise degree" without drawing one
    max_tries = check_int(max_tries, "max_tries", minimum=1)
    # the generators' own limits failed inside them (networkx "k>n", an IndexError of the
    # nearest-neighbour query)
    least = _MIN_NODES.get(kind, 4) if isinstance(kind, str) else 4
    if n < least:
        raise ValueError(f"kind={kind!r} needs n >= {least} nodes, got n={n}")
    rng = as_generator(seed)
    if kind == "hub":
        hub_degree = n // 4 if degree is None else _scalar_of(degree)
        # a string or complex degree failed in float() or in the comparison
        if not isinstance(hub_degree, (numbers.Real, np.bool_)):   # bool: ValueError below
            raise TypeError(f"the hub degree must be an integer, got "
                            f"{type(hub_degree).__name__} {hub_degree!r}")
        if isinstance(hub_degree, (bool, np.bool_)) or not (
                float(hub_degree).is_integer() and 1 <= hub_degree <= n - 1):
            raise ValueError(f"the hub degree must be an integer in [1, n - 1] = "
                             f"[1, {n - 1}] (the grid nodes), got {hub_degree}")
        m = n - 1
        h = int(np.floor(np.sqrt(m)))
        # the first m nodes of a row-major grid: full rows and a partial last row, connected
        G = grid_adjacency(h, -(-m // h))[:m, :m].tolil()
        G.resize((m + 1, m + 1))
        nb = rng.choice(m, size=int(hub_degree), replace=False)
        G[m, nb] = 1.0
        G[nb, m] = 1.0
        return as_adjacency(G.tocsr())
    if degree is None:
        degree = max(6.0, 2.0 * np.log(n))
    else:   # NaN gave the complete graph (min(1.0, nan) is 1.0), inf too
        degree = check_positive(degree, "degree")
    if kind == "grid":
        h = int(np.floor(np.sqrt(n)))
        return as_adjacency(grid_adjacency(h, int(np.ceil(n / h))))
    if kind == "triangular":  # (rows + 1) * (cols // 2 + 1) nodes for rows x cols triangles
        rows = max(1, int(round(np.sqrt(n))) - 1)
        cols = max(2, 2 * int(round(n / (rows + 1))) - 2)
        g = nx.triangular_lattice_graph(rows, cols)
        return as_adjacency(nx.to_scipy_sparse_array(g, format="csr", dtype=float))
    for _ in range(max_tries):
        s = int(rng.integers(2**31))
        if kind == "geometric":
            radius = np.sqrt(degree / (np.pi * n))
            g = nx.random_geometric_graph(n, radius, seed=s)
            A = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr", dtype=float)
        elif kind == "erdos-renyi":
            g = nx.fast_gnp_random_graph(n, min(1.0, degree / (n - 1)), seed=s)
            A = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr", dtype=float)
        elif kind == "mesh":
            from scipy.spatial import Delaunay

            pts = np.random.default_rng(s).random((n, 2))
            tri = Delaunay(pts).simplices
            i = np.concatenate([tri[:, 0], tri[:, 1], tri[:, 2]])
            j = np.concatenate([tri[:, 1], tri[:, 2], tri[:, 0]])
            A = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)).tocsr()
            A = ((A + A.T) > 0).astype(float)
        elif kind == "small-world":
            g = nx.watts_strogatz_graph(n, 6, 0.1, seed=s)
            A = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr", dtype=float)
        elif kind == "barabasi-albert":
            g = nx.barabasi_albert_graph(n, 3, seed=s)
            A = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr", dtype=float)
        elif kind == "clustered":
            A = _clustered_knn(n, np.random.default_rng(s))
        elif kind == "lollipop":
            g = nx.lollipop_graph(max(3, n // 8), n - max(3, n // 8))
            A = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr", dtype=float)
        else:
            raise ValueError(f"kind must be one of {GRAPH_KINDS}, got {kind!r}")
        if connected_components(A, directed=False)[0] == 1:
            return as_adjacency(A)
    raise RuntimeError(f"no connected {kind} graph with n={n}, degree={degree} in "
                       f"{max_tries} draws: raise degree")


#: the fewest nodes a kind's generator takes (default 4): a Watts-Strogatz ring joins each
#: node to 6 others, the clustered graph to its 8 nearest neighbours
_MIN_NODES = {"small-world": 7, "clustered": 9}


def _clustered_knn(n: int, rng: np.random.Generator, k: int = 8,
                   clusters: int = 8) -> sp.csr_matrix:
    """Symmetrized k-nearest-neighbour graph of points from Gaussian clusters whose spreads
    range over two decades."""
    from scipy.spatial import cKDTree

    centres = rng.random((clusters, 2))
    spread = np.geomspace(0.003, 0.3, clusters)
    label = rng.integers(clusters, size=n)
    pts = centres[label] + spread[label, None] * rng.standard_normal((n, 2))
    _, nb = cKDTree(pts).query(pts, k + 1)
    i = np.repeat(np.arange(n), k)
    A = sp.coo_matrix((np.ones(n * k), (i, nb[:, 1:].ravel())), shape=(n, n)).tocsr()
    return ((A + A.T) > 0).astype(float).tocsr()


def normalized_laplacian(graph: Any) -> sp.csr_matrix:
    """``L = I - D^{-1/2} W D^{-1/2}`` of a connected graph (sparse).

    Parameters
    ----------
    graph : networkx graph, scipy sparse matrix or array_like of shape (N, N)
        See :func:`as_adjacency`.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (N, N)
    """
    # scale-free: degrees of weights ~1e308 overflowed to inf (L = I, or NaN entries)
    Wm = _unit_scaled(as_adjacency(graph))
    if Wm.shape[0] == 1:
        # the one-node graph (degree 0): 1 / sqrt(0) warned "divide by zero" and gave L = 1;
        # L = 0 as for networkx (the constant signal has eigenvalue 0 on a connected graph)
        return sp.csr_matrix((1, 1))
    d = np.asarray(Wm.sum(axis=1)).ravel()
    s = sp.diags(1.0 / np.sqrt(d))
    return sp.csr_matrix(sp.identity(Wm.shape[0]) - s @ Wm @ s)


def laplacian_eigenvectors(graph: Any, r: int, *, dense_below: int = 600,
                           tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The ``r`` smallest eigenpairs of the normalized Laplacian.

    Dense ``eigh`` below ``dense_below`` nodes, else ARPACK (``eigsh``) in shift-invert mode
    around ``-1e-3`` (``L + 1e-3 I`` is positive definite, factored once by SuperLU).

    Parameters
    ----------
    graph : networkx graph, scipy sparse matrix or array_like of shape (N, N)
        See :func:`as_adjacency`.
    r : int
        Number of eigenpairs, ``1 <= r <= N``.
    dense_below : int, optional
        Node count up to which the dense solver is used (default 600); it is used too
        when ``r >= N - 1``.
    tol : float, optional
        Relative accuracy of the ARPACK eigenpairs (default 1e-10; unused by the dense
        solver).

    Returns
    -------
    (eigenvalues of shape (r,), X_r of shape (N, r)) with orthonormal columns, ascending.

    Warns
    -----
    UserWarning
        When ``r`` splits a repeated eigenvalue (``lambda_r = lambda_{r+1}``, e.g. the
        32 x 32 grid at ``r = 5``): ``X_r`` is then not unique.
    """
    L = normalized_laplacian(graph)
    N = L.shape[0]
    r = check_int(r, "r", minimum=1)
    dense_below = check_int(dense_below, "dense_below")
    tol = check_positive(tol, "tol", allow_zero=True)   # NaN: an ArpackError (error 3)
    if r > N:
        raise ValueError(f"r = {r} exceeds the number of nodes N = {N}")
    if N <= dense_below or r >= N - 1:
        lam, vec = np.linalg.eigh(L.toarray())
        _warn_split(lam, r)
        return lam[:r], np.ascontiguousarray(vec[:, :r])
    from scipy.sparse.linalg import eigsh

    v0 = np.random.default_rng(0).standard_normal(N)
    # one pair more than asked: whether r splits a repeated eigenvalue
    lam, vec = eigsh(L.tocsc(), k=r + 1, sigma=-1e-3, which="LM", tol=tol, v0=v0)
    order = np.argsort(lam)
    lam, vec = lam[order], vec[:, order]
    _warn_split(lam, r)
    lam, vec = lam[:r], vec[:, :r]
    # re-orthonormalize (clusters of close eigenvalues)
    vec, _ = np.linalg.qr(vec)
    return lam, np.ascontiguousarray(vec)


#: eigenvalues of the normalized Laplacian (in [0, 2]) closer than this count as equal
SPLIT_GAP = 1e-9


def _warn_split(lam: np.ndarray, r: int) -> None:
    """Warn when ``lam[r - 1] == lam[r]`` (ascending; within ``SPLIT_GAP``): ``X_r`` then
    holds an arbitrary part of an eigenspace, chosen by the solver (ARPACK and dense
    ``eigh`` disagree: on the 32 x 32 grid at r = 5 the smallest principal cosine between
    their subspaces was 0.28, and mu and quantization errors changed by 10-40%)."""
    if r < lam.size and lam[r] - lam[r - 1] <= SPLIT_GAP:
        warnings.warn(f"r = {r} splits a repeated eigenvalue of the Laplacian (eigenvalues "
                      f"{r} and {r + 1} are both {lam[r - 1]:.12g}): X_r is not unique, it "
                      "is one the eigensolver picked (results depend on the solver); use an "
                      "r at the end of an eigenspace", UserWarning, stacklevel=3)


def incoherence(Xr: Any) -> float:
    """``mu(X_r) = (N / r) max_i ||X_r^T e_i||^2`` for orthonormal columns ``X_r`` (N x r).

    Parameters
    ----------
    Xr : array_like of shape (N, r)
        Real, orthonormal columns (not checked), e.g. from :func:`laplacian_eigenvectors`.

    Returns
    -------
    float
        In ``[1, N / r]`` for orthonormal columns.
    """
    Xr = check_real(Xr, "X_r", ndim=2)
    N, r = Xr.shape
    return float(N / r * np.max(np.einsum("ij,ij->i", Xr, Xr)))


def bandlimited_signal(Xr: Any, *, seed: int, amplitude: float = 1.0) -> np.ndarray:
    """``f = X_r a`` with Gaussian ``a``, scaled so that ``||f||_inf = amplitude``.

    Parameters
    ----------
    Xr : array_like of shape (N, r)
        Real basis of the band (e.g. from :func:`laplacian_eigenvectors`).
    seed : int
        Source of ``a ~ N(0, I_r)`` (keyword only, required).
    amplitude : float, optional
        The largest ``|f_i|`` (default 1: the range of the quantization alphabet).

    Returns
    -------
    ndarray of shape (N,)

    Raises
    ------
    ValueError
        When ``amplitude`` is not finite and > 0, or ``X_r a = 0`` (e.g. a zero basis):
        no signal of that amplitude exists (it was NaN with a RuntimeWarning).
    """
    Xr = check_real(Xr, "X_r", ndim=2)
    amplitude = check_positive(amplitude, "amplitude")
    a = as_generator(seed).standard_normal(Xr.shape[1])
    f = Xr @ a
    top = np.abs(f).max(initial=0.0)
    if not top > 0:
        raise ValueError("X_r a = 0 for the drawn a: X_r spans no signal (a zero basis?)")
    return amplitude * f / top


def graph_ordering(graph: Any, ordering: str = "rcm") -> np.ndarray:
    """A node ordering for Sigma-Delta.

    Parameters
    ----------
    graph : networkx graph, scipy sparse matrix or array_like of shape (N, N)
        See :func:`as_adjacency`.
    ordering : {"rcm", "fiedler", "natural"}, optional
        ``"rcm"`` (default; reverse Cuthill-McKee: consecutive nodes are close in the
        graph), ``"fiedler"`` (sorted by the second Laplacian eigenvector) or
        ``"natural"`` (as given, e.g. row-major on a grid).

    Returns
    -------
    ndarray of int of shape (N,)
        A permutation of the nodes.
    """
    Wm = as_adjacency(graph)
    if ordering == "natural":
        return np.arange(Wm.shape[0])
    if ordering == "rcm":
        return np.asarray(reverse_cuthill_mckee(Wm, symmetric_mode=True))
    if ordering == "fiedler":
        if Wm.shape[0] == 1:   # no second eigenvector: "r = 2 exceeds ... N = 1" named an
            return np.arange(1)   # r the caller never gave
        _, vec = laplacian_eigenvectors(Wm, 2)
        return np.argsort(vec[:, 1], kind="stable")
    raise ValueError(f"ordering must be 'rcm', 'fiedler' or 'natural', got {ordering!r}")


def sigma_delta(f: np.ndarray, bits: int, order: np.ndarray | None = None) -> np.ndarray:
    """First-order Sigma-Delta with the alphabet ``linspace(-1, 1, 2**bits)`` along ``order``.

    ``u_i = u_{i-1} + f_i - q_i`` with ``q_i = Q(u_{i-1} + f_i)``; stable (``|u_i| <= step/2``)
    for ``||f||_inf <= 1``.

    Parameters
    ----------
    f : array_like of shape (N,)
        Real signal, ideally with ``||f||_inf <= 1`` (not checked here).
    bits : int
        Bits per entry, 1 to 24.
    order : array_like of int of shape (N,), optional
        The order in which the entries are quantized: a permutation of ``range(N)``
        (a ValueError otherwise; every entry is quantized once). Default ``0..N-1``.

    Returns
    -------
    ndarray of shape (N,)
        The quantized signal ``q``, entries on the alphabet.
    """
    bits = check_bits(bits)
    f = check_real(f, "f", ndim=1)
    order = np.arange(f.size) if order is None else _check_order(order, f.size)
    q = np.empty_like(f)
    n = 2**bits - 1
    step = 2.0 / n
    u = 0.0
    for i in order.tolist():
        v = u + f[i]
        qi = -1.0 + min(max(round((v + 1.0) / step), 0), n) * step
        q[i] = qi
        u = v - qi
    return q


def _check_order(order: Any, N: int) -> np.ndarray:
    """``order`` as an index array, if it is a permutation of ``range(N)``."""
    order = np.asarray(order)
    if (order.ndim != 1 or not np.issubdtype(order.dtype, np.integer)
            or not np.array_equal(np.sort(order), np.arange(N))):
        raise ValueError(f"the ordering must be a permutation of range({N}) (every node "
                         f"once), got an array of shape {order.shape}, dtype {order.dtype}")
    return order


def graph_signal(f: Any, graph: Any, r: int, bits: int = 1,
                 method: Literal["single-shot", "msq", "sigma-delta"] = "single-shot", *,
                 Xr: Any = None, ordering: str | np.ndarray = "rcm",
                 **vertex_kw: Any) -> Result:
    """Quantize a graph signal with ``||f||_inf <= 1`` to ``2**bits`` levels in ``[-1, 1]``.

    Parameters
    ----------
    f : array of shape (N,)
        The signal (typically r-bandlimited), entries in ``[-1, 1]``.
    graph : networkx graph, sparse or dense adjacency, or None
        Connected and undirected, with ``N`` nodes, checked (a clear error otherwise)
        where it is used: for the eigenvectors when ``Xr`` is not given, and for the
        Sigma-Delta orderings ``"rcm"`` and ``"fiedler"``. Otherwise it is not used and
        not checked (None is allowed).
    r : int
        Bandwidth: the low-pass filter keeps the ``r`` smallest Laplacian eigenvectors.
    bits : int >= 1
    method : {"single-shot", "msq", "sigma-delta"}
    Xr : array of shape (N, r), optional
        Precomputed eigenvectors (orthonormal columns).
    ordering : {"rcm", "fiedler", "natural"} or array
        Node order for Sigma-Delta (other methods refuse a value other than the default,
        a ``TypeError``).
    **vertex_kw
        Passed to the vertex walk (``solver``, ``block``, ``window``) for single-shot; other
        methods refuse them (a ``TypeError`` for a value other than the default).

    Returns
    -------
    Result
        ``x``: the quantized signal ``q``; ``info``: ``rel_error``
        (``||L_r (f - q)|| / ||f||``, NaN for ``f = 0``), ``mu`` (incoherence of ``X_r``),
        ``r``, ``bits``, ``method`` and, for single-shot, ``n_free`` (entries MSQ rounded);
        the status is the vertex walk's for single-shot.

    Examples
    --------
    >>> import overparam
    >>> from overparam.quantize import make_graph, laplacian_eigenvectors, bandlimited_signal
    >>> A = make_graph("grid", 100)
    >>> _, Xr = laplacian_eigenvectors(A, 6)  # r = 5 would split a repeated eigenvalue
    >>> f = bandlimited_signal(Xr, seed=0)
    >>> res = overparam.quantize.graph_signal(f, A, 6, bits=1, Xr=Xr)
    >>> res.info["n_free"] <= 6
    True
    """
    t0 = time.perf_counter()
    bits = check_bits(bits)
    if method not in GRAPH_METHODS:
        raise ValueError(f"method must be one of {GRAPH_METHODS}, got {method!r}")
    f = check_real(f, "f", ndim=1)
    N = f.size
    r = check_int(r, "r", minimum=1)
    if r > N:
        raise ValueError(f"r = {r} exceeds the number of nodes N = {N}")
    if np.abs(f).max() > 1.0 + 1e-12:
        raise ValueError(f"||f||_inf = {np.abs(f).max():.4g} > 1: scale the signal into "
                         "the alphabet's range [-1, 1]")
    f = np.clip(f, -1.0, 1.0)
    if method != "single-shot":
        unused_vertex_options(vertex_kw, f"method={method!r}")
    # only Sigma-Delta walks an ordering: another one (or a typo) was ignored silently
    if method != "sigma-delta" and not (isinstance(ordering, str) and ordering == "rcm"):
        raise TypeError(f"ordering is an option of method='sigma-delta', not of "
                        f"method={method!r}")
    sd_graph = (method == "sigma-delta" and isinstance(ordering, str)
                and ordering != "natural")
    if sd_graph and graph is None:
        raise ValueError(f"sigma-delta with ordering={ordering!r} needs the graph; "
                         "pass it, or ordering='natural' or a permutation")
    adj = None
    if Xr is None or sd_graph:  # the graph is used: it must be f's
        if graph is None:
            raise ValueError("graph is needed for the Laplacian eigenvectors when Xr is "
                             "not given")
        adj = as_adjacency(graph)
        if adj.shape[0] != N:
            raise ValueError(f"f has {N} entries but the graph {adj.shape[0]} nodes")
    if Xr is None:
        _, Xr = laplacian_eigenvectors(adj, r)
    else:
        Xr = check_real(Xr, "Xr", ndim=2)
        if Xr.shape != (N, r):
            raise ValueError(f"Xr must have shape ({N}, {r}), got {Xr.shape}")
    info: dict[str, Any] = {}
    status, message = Status.CONVERGED, ""
    if method == "msq":
        q = msq_round(f, bits, 1.0)
    elif method == "sigma-delta":
        if isinstance(ordering, str):
            order = np.arange(N) if ordering == "natural" else graph_ordering(adj, ordering)
        else:
            order = _check_order(ordering, N)
        q = sigma_delta(f, bits, order)
        info["ordering"] = ordering if isinstance(ordering, str) else "custom"
    else:
        if r >= N:
            raise ValueError("single-shot needs r < N (no slack otherwise)")
        v = vertex(Xr.T, f, bits, 1.0, **vertex_kw)
        q = msq_round(v.x, bits, 1.0)
        status, message = v.status, v.message
        info.update(n_free=int(v.info["n_free"]), vertex_residual=v.info["residual"])
    # relative to ||f||: undefined (NaN, as layer's rel_error for Xw = 0) for f = 0
    # safe_norm: np.linalg.norm squares, ||f|| of a signal ~1e-200 was 0 (NaN error)
    nf = safe_norm(f)
    err = safe_norm(Xr.T @ (f - q)) / nf if nf > 0 else float("nan")
    info.update(rel_error=err, mu=incoherence(Xr), r=r, bits=bits, method=method)
    return Result(x=q, status=status, message=message, n_iter=N, fun=err,
                  wall_time=time.perf_counter() - t0, info=info)
