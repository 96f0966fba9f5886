"""Simulated dynamics: the one driver loop, step policies, and the public GD solvers."""
from . import steps
from .driver import DriverConfig, make_config, record_points, run_driver, run_driver_batch
from .hadamard_gd import hadamard_gd, hadamard_gd_batch
from .steps import Auto, BarzilaiBorwein, Constant, Decaying, Nesterov

__all__ = [
    "BarzilaiBorwein",
    "Nesterov",
    "Auto",
    "Constant",
    "Decaying",
    "DriverConfig",
    "hadamard_gd",
    "hadamard_gd_batch",
    "make_config",
    "record_points",
    "run_driver",
    "run_driver_batch",
    "steps",
]
from .dmf_gd import dmf_gd, dmf_gd_batch  # noqa: E402

__all__ += ["dmf_gd", "dmf_gd_batch"]
from .eos import diagonal_gd, eos_flow, mlp_gd  # noqa: E402
from .flow import Flow, flow_sharpness, gradient_flow  # noqa: E402
from .wn_gd import RadiusScaled, wn_gd, wn_gd_batch  # noqa: E402

__all__ += ["Flow", "RadiusScaled", "diagonal_gd", "eos_flow", "flow_sharpness",
            "gradient_flow", "mlp_gd", "wn_gd", "wn_gd_batch"]
