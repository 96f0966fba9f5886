"""Parametrizations: params -> signal, pure functions."""
from .hadamard import Hadamard

__all__ = ["Hadamard"]
from .dmf import DeepMatrixFactorization, dmf_model  # noqa: E402

__all__ += ["DeepMatrixFactorization", "dmf_model"]
from .mlp import TwoLayerNet  # noqa: E402
from .weightnorm import DiagonalUV, WeightNormDiagonal  # noqa: E402

__all__ += ["DiagonalUV", "TwoLayerNet", "WeightNormDiagonal"]
