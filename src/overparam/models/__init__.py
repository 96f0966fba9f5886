"""Parametrizations: params -> signal, pure functions."""
from .hadamard import Hadamard

__all__ = ["Hadamard"]
