"""scikit-learn estimators over the functional API (no numerics of their own)."""
from .hadamard import HadamardRegressor

__all__ = ["HadamardRegressor"]
