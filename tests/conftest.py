"""Test hygiene: float64 JAX, strict dtype promotion, a seeded hypothesis profile."""
import os

import jax

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "overparam",
    derandomize=True,
    deadline=None,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "25")),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("overparam")
