"""Exact limits of the simulated dynamics (convex duals solved by Newton's method)."""
from .hadamard import hadamard_limit

__all__ = ["hadamard_limit"]
