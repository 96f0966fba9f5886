"""Measurement operators and problem generators."""
from .operators import (
    DenseOperator,
    LinearOperatorAdapter,
    Operator,
    PartialDCT,
    SubsampledFFT,
    as_operator,
    gaussian,
    partial_dct,
    subsampled_fft,
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
    "SubsampledFFT",
    "subsampled_fft",
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
from .regression import (  # noqa: E402  (edge of stability / weight normalization tasks)
    DigitsProblem,
    Identity,
    RegressionProblem,
    digits_regression,
    sparse_regression,
)

__all__ += ["DigitsProblem", "Identity", "RegressionProblem", "digits_regression",
            "sparse_regression"]
from .eigen import FactoredMatrix, eigen_decay, sparse_eigen_problem  # noqa: E402

__all__ += ["FactoredMatrix", "eigen_decay", "sparse_eigen_problem"]
from .structured import (  # noqa: E402  (row-sparse and low-rank recovery)
    RankOneSensing,
    fourier_rank_one,
    gaussian_rank_one,
    lrrs_dof,
    lrrs_problem,
    row_sparse_low_rank_matrix,
)

__all__ += ["RankOneSensing", "fourier_rank_one", "gaussian_rank_one", "lrrs_dof",
            "lrrs_problem", "row_sparse_low_rank_matrix"]
