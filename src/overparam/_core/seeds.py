"""Seed handling: explicit seeds everywhere, derived deterministically when composed."""
from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from .checks import _scalar_of


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator from an int seed (or a Generator, passed through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise ValueError(
            "a seed is required (pass an int): overparam never draws from global randomness"
        )
    seed = _scalar_of(seed)  # a 0-d integer array (np.asarray(3), jnp.int64(3)) is an int
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed derived from any JSON-serialisable parts (stable across runs and machines).

    Used so that, e.g., a problem's seed depends on (root seed, problem parameters, trial)
    and never on the method or the execution order.
    """
    blob = json.dumps(parts, sort_keys=True, default=_jsonable).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little") >> 1


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        item = obj.item()
        if isinstance(item, np.generic):
            # a long double: .item() hands it back unchanged, and json called this hook
            # on it again without end (RecursionError)
            raise TypeError(f"cannot derive a seed from {type(obj).__name__}: convert it "
                            "to a Python float first")
        return item
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot derive a seed from {type(obj).__name__}")
