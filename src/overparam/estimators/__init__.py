"""scikit-learn estimators over the functional API (no numerics of their own)."""
from .hadamard import HadamardRegressor
from .matrix import DeepMatrixCompletion

__all__ = ["DeepMatrixCompletion", "HadamardRegressor"]
