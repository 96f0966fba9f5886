"""Pure metrics on estimates (NumPy): errors, l1 gap, support recovery, residual, success."""
from .errors import (
    SupportScore,
    l1_gap,
    relative_error,
    residual,
    success,
    support_recovery,
)

__all__ = [
    "SupportScore",
    "l1_gap",
    "relative_error",
    "residual",
    "success",
    "support_recovery",
]
