"""Core types and helpers: Result/Status, input checks, seeds."""
from .checks import (
    check_bool,
    check_depth,
    check_finite_array,
    check_int,
    check_matrix_shape,
    check_not_complex,
    check_positive,
    check_real_array,
    check_system,
    refuse_masked,
)
from .cores import usable_cores
from .jaxmode import x64_entry, x64_scope
from .norms import ldexp_array, nearest_pow2_exponent, pow2_exponent, safe_norm
from .result import Result, Status
from .seeds import as_generator, derive_seed

__all__ = [
    "Result",
    "Status",
    "as_generator",
    "check_bool",
    "check_depth",
    "check_finite_array",
    "check_int",
    "check_matrix_shape",
    "check_not_complex",
    "check_positive",
    "check_real_array",
    "check_system",
    "derive_seed",
    "ldexp_array",
    "nearest_pow2_exponent",
    "pow2_exponent",
    "refuse_masked",
    "safe_norm",
    "usable_cores",
    "x64_entry",
    "x64_scope",
]
