"""Measurement operators and problem generators."""
from .operators import (
    DenseOperator,
    LinearOperatorAdapter,
    Operator,
    PartialDCT,
    as_operator,
    gaussian,
    partial_dct,
    rademacher,
)
from .problem import Problem, as_problem
from .sparse import sparse_recovery, sparse_vector

__all__ = [
    "DenseOperator",
    "LinearOperatorAdapter",
    "Operator",
    "PartialDCT",
    "Problem",
    "as_operator",
    "as_problem",
    "gaussian",
    "partial_dct",
    "rademacher",
    "sparse_recovery",
    "sparse_vector",
]
from .matrix import (  # noqa: E402  (deep matrix factorization problems)
    EntryMask,
    GaussianSensing,
    MatrixIdentity,
    MatrixOperator,
    low_rank_matrix,
    matrix_completion,
    matrix_estimation,
    matrix_sensing,
    matrix_shape_of,
)

__all__ += [
    "EntryMask",
    "GaussianSensing",
    "MatrixIdentity",
    "MatrixOperator",
    "low_rank_matrix",
    "matrix_completion",
    "matrix_estimation",
    "matrix_sensing",
    "matrix_shape_of",
]
