"""overparam: implicit regularization as a solver and as a laboratory.

Importing overparam enables JAX float64 (``jax_enable_x64``): the exact limits and the
oracle tolerances of the simulated dynamics need double precision.
"""
import jax as _jax

_jax.config.update("jax_enable_x64", True)

from . import problems, models, dynamics  # noqa: E402
from ._core import Result, Status  # noqa: E402
from .dynamics import hadamard_gd, hadamard_gd_batch  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Result",
    "Status",
    "dynamics",
    "hadamard_gd",
    "hadamard_gd_batch",
    "models",
    "problems",
]
