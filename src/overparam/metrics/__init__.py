"""Pure metrics on estimates (NumPy): errors, l1 gap, support recovery, residual, success."""
from .errors import (
    SupportScore,
    l1_gap,
    relative_error,
    residual,
    success,
    support_recovery,
)
from .rank import (Plateau, erank, erank_energy, nuclear_rank, numerical_rank, rank_plateaus,
                   rank_trace, select_plateau, singular_values, stable_rank)

__all__ = [
    "Plateau",
    "erank",
    "erank_energy",
    "nuclear_rank",
    "numerical_rank",
    "rank_plateaus",
    "rank_trace",
    "select_plateau",
    "singular_values",
    "stable_rank",
    "SupportScore",
    "l1_gap",
    "relative_error",
    "residual",
    "success",
    "support_recovery",
]
from .sharpness import dense_hessian_eigvals, hvp, lanczos, power_iteration, sharpness  # noqa: E402,E501

__all__ += ["dense_hessian_eigvals", "hvp", "lanczos", "power_iteration", "sharpness"]
