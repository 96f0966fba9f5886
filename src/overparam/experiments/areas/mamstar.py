"""Registry entries of the mamstar area (see the package docstring).

Generator ``sparse_eigen`` (:func:`overparam.problems.sparse_eigen_problem`: factored
``A = sum lambda_j v_j v_j^T`` with sparse v_j, any N). Methods ``mamstar`` (sketch, decode
with the median / oracle / bit-test decoder, optional subspace refinement),
``eigsh_truncated`` and ``truncated_power`` (baselines); they solve ``sparse_eigen``
problems only (``problems="eigen"``). Metrics (read from ``Result.info``, first 6
eigenvectors, NaN where a method has no such quantity): ``l2_before``, ``linf_before``
(sketch eigenvector vs ``M v_j / sqrt K``), ``l2_after``, ``linf_after`` (decoded vs
v_j), ``overlap`` (top-s support overlap), ``eigenvalue`` (relative eigenvalue error) as
means over the reported eigenvectors, and per eigenvector as ``<name>_<j>``, j = 1..6;
``sketch_m`` (m), ``decode_seconds``.
"""
from __future__ import annotations

from ..generators import GeneratorEntry, register_generator, register_problem_kind
from ..measures import info_metric, register_metric
from ..methods import MethodEntry, register

_T = "overparam.mamstar.experiment"

register_generator(GeneratorEntry(
    "sparse_eigen", "overparam.problems.eigen:sparse_eigen_problem",
    {"n": "int", "rank": "int", "sparsity": "int", "decay": "str", "support": "str",
     "tail_times": "int", "tail_ratio": "float"},
    required=("n", "rank", "sparsity"),
    choices=(("decay", ("expo", "lin", "gen")), ("support", ("disjoint", "overlapping"))),
    kinds=("eigen",), minimum=(("n", 1), ("rank", 1), ("sparsity", 1))))

# the example the registry's contract tests run the "eigen" methods on
register_problem_kind("eigen", "sparse_eigen", dict(n=300, rank=2, sparsity=3))

register(MethodEntry(
    "mamstar", f"{_T}:mamstar_method",
    {"decoder": "str", "refine": "bool", "rank": "int", "sparsity": "int", "keep": "int",
     "smallest_prime": "int", "rule_n": "int", "rule_s": "int", "extra_primes": "int",
     "builder": "str", "bits": "int", "n_decode": "int", "agree": "int"},
    problems="eigen",
    description="MAM*: one-pass sketch (1/K) M A M^T with prime-residue M, top eigenvectors "
                "decoded (median / oracle / bit-test), optional subspace refinement"))
register(MethodEntry(
    "eigsh_truncated", f"{_T}:eigsh_method",
    {"rank": "int", "sparsity": "int", "max_memory": "float"}, problems="eigen",
    description="ARPACK eigsh on A, then the s largest entries of each eigenvector"))
register(MethodEntry(
    "truncated_power", f"{_T}:power_method",
    {"rank": "int", "sparsity": "int", "max_iter": "int", "tol": "float"}, problems="eigen",
    description="truncated power method with deflation (sparse PCA, Yuan & Zhang 2013)"))

_ERRORS = {
    "l2_before": "relative l2 error of the sketch eigenvector vs M v_j / sqrt K",
    "linf_before": "relative linf error of the sketch eigenvector vs M v_j / sqrt K",
    "l2_after": "relative l2 error of the decoded eigenvector vs v_j (up to sign)",
    "linf_after": "relative linf error of the decoded eigenvector vs v_j (up to sign)",
    "overlap": "fraction of the top-s entries of v_j among the top-s decoded",
    "eigenvalue": "|lambda_hat_j - lambda_j| / |lambda_j|",
}
for _name, _desc in _ERRORS.items():
    register_metric(info_metric(_name, f"{_desc}; mean over the first 6 eigenvectors"))
    for _j in range(1, 7):
        register_metric(info_metric(f"{_name}_{_j}", f"{_desc}; eigenvector {_j}"))
register_metric(info_metric("sketch_m", "number m of sketch rows", key="m"))
register_metric(info_metric("decode_seconds", "seconds spent decoding"))
