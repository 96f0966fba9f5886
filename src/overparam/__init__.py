"""overparam: implicit regularization as a solver and as a laboratory.

Importing overparam enables JAX float64 (``jax_enable_x64``) for the process, overriding
an earlier setting: the exact limits and the oracle tolerances of the simulated dynamics
need double precision. The driver and the solvers on it (``hadamard_gd``,
``hadamard_gd_batch``, ``nnls``, ``dmf_gd``, ``wn_gd``, ``diagonal_gd``, ``mlp_gd``,
``eos_flow``, ``gradient_flow``, ``flow_sharpness``, ``HadamardRegressor``,
``DeepMatrixCompletion``) also run in float64 when a caller turns it off again, globally or
in one thread (``with jax.enable_x64(False)``): they set it for their own duration, in their
thread only.

Importing overparam (before JAX's backend exists) also raises XLA's size threshold for
compiling a CPU ``while`` loop as one function, to 4 MiB per iteration: the driver's
gradient steps on small problems run 1.4-3x faster. ``OVERPARAM_XLA_SMALL_LOOP_BYTES=off``
leaves XLA's default (see ``overparam._core.xla_loops``).
"""
import importlib as _importlib

import jax as _jax

_jax.config.update("jax_enable_x64", True)

# before anything creates JAX's backend: XLA reads its options then (see _core.xla_loops)
from ._core import xla_loops as _xla_loops  # noqa: E402

_xla_loops.configure()

from . import baselines, dynamics, limits, metrics, models, problems, solvers  # noqa: E402
from ._core import Result, Status  # noqa: E402
from .baselines import basis_pursuit, lasso  # noqa: E402
from .dynamics import dmf_gd, dmf_gd_batch, hadamard_gd, hadamard_gd_batch  # noqa: E402
from .solvers import nnls  # noqa: E402  (the front end; SciPy's is baselines.nnls)
from .limits import hadamard_limit  # noqa: E402

__version__ = "0.1.0"

# heavier or optional parts load on first use
_LAZY = {
    "HadamardRegressor": "overparam.estimators",
    "DeepMatrixCompletion": "overparam.estimators",
    "irls_lrrs": "overparam.solvers.lrrs",
    "mamstar": "overparam.mamstar",
    "sparse_top_eigenvectors": "overparam.mamstar",
    "quantize": "overparam.quantize",
    "experiments": "overparam.experiments",
    "theory": "overparam.theory",
    "estimators": "overparam.estimators",
}


def __getattr__(name: str):
    if name in _LAZY:
        module = _importlib.import_module(_LAZY[name])
        return module if module.__name__.endswith(name) else getattr(module, name)
    raise AttributeError(f"module 'overparam' has no attribute {name!r}")


__all__ = [
    "DeepMatrixCompletion",
    "HadamardRegressor",
    "Result",
    "Status",
    "baselines",
    "basis_pursuit",
    "dmf_gd",
    "dmf_gd_batch",
    "dynamics",
    "hadamard_gd",
    "hadamard_gd_batch",
    "hadamard_limit",
    "irls_lrrs",
    "lasso",
    "limits",
    "mamstar",
    "metrics",
    "models",
    "nnls",
    "problems",
    "quantize",
    "solvers",
    "sparse_top_eigenvectors",
]
