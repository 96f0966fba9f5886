"""Parametrizations: params -> signal, pure functions."""
from .hadamard import Hadamard

__all__ = ["Hadamard"]
from .dmf import DeepMatrixFactorization, dmf_model  # noqa: E402

__all__ += ["DeepMatrixFactorization", "dmf_model"]
