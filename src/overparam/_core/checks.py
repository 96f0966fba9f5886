"""Input validation shared by every public entry point: one clear error per problem."""
from __future__ import annotations

import decimal
import math
import numbers
from typing import Any

import numpy as np


def low_precision_as_float32(arr: np.ndarray) -> np.ndarray:
    """``arr`` in float32 when its dtype is one of ml_dtypes' floats (bfloat16, float8_*:
    what JAX hands over for ``jnp.bfloat16`` arrays), else ``arr`` itself.

    NumPy sees those dtypes as kind ``"V"`` (void), not as numbers: a bfloat16 estimate was
    refused as "not a numeric array". Every one of them converts to float32 exactly.
    """
    if arr.dtype.kind != "V" or arr.dtype.fields is not None:
        return arr
    try:
        import ml_dtypes  # a dependency of JAX
        ml_dtypes.finfo(arr.dtype)                # raises for non-float types (int4, V8)
    except (ImportError, ValueError, TypeError):
        return arr
    return arr.astype(np.float32)


def refuse_masked(a: Any, name: str) -> None:
    """Refuse a NumPy masked array with masked entries: ``np.asarray`` drops the mask, so
    the hidden (often garbage) values behind it were used as data."""
    if isinstance(a, np.ma.MaskedArray):
        masked = int(np.count_nonzero(np.ma.getmaskarray(a)))
        if masked:
            raise ValueError(f"{name} is a masked array with {masked} masked entr"
                             f"{'y' if masked == 1 else 'ies'}: fill them "
                             f"({name}.filled(value)) or drop them first")


def check_finite_array(a: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``a`` as a float ndarray, refusing NaN/inf and a wrong number of dimensions.

    Parameters
    ----------
    a : array_like
        Boolean, integer, float or complex values (complex ones are returned as they are).
    name : str
        The parameter's name, for the error messages.
    ndim : int, optional
        The required number of dimensions.

    Returns
    -------
    numpy.ndarray
        ``a`` as float64 (or its complex dtype), all entries finite.
    """
    if hasattr(a, "tocoo") and hasattr(a, "nnz"):
        # a scipy sparse matrix became a 0-d object array: "numeric array, got dtype
        # object" did not say what was wrong
        raise TypeError(f"{name} is a scipy sparse matrix, which this function does not "
                        f"take: pass a dense array ({name}.toarray())")
    refuse_masked(a, name)
    try:
        arr = np.asarray(a)
    except ValueError as exc:  # ragged nesting: NumPy's message did not name the parameter
        raise ValueError(f"{name} is not a rectangular array (rows of different lengths?): "
                         f"{exc}") from None
    arr = low_precision_as_float32(arr)
    # by dtype kind (bool, int, uint, float, complex): np.issubdtype(timedelta64,
    # np.number) is True, so durations used to pass as their integer counts
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.iscomplexobj(arr):
        # cast first: a long double beyond the float64 range is finite before the cast
        # and came back as inf
        with np.errstate(over="ignore"):
            arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN, inf, or beyond "
                         f"the float64 range)")
    return arr


def check_not_complex(a: Any, name: str) -> None:
    """Refuse complex values with a clear TypeError where the math is real (casting to
    float would drop the imaginary part with only a warning, or fail deep inside JAX)."""
    try:
        cplx = np.iscomplexobj(a)
    except ValueError:  # ragged nesting: check_finite_array says so, naming the parameter
        return
    if cplx:
        raise TypeError(f"{name} must be real, got dtype {np.asarray(a).dtype}")


def check_real_array(a: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """:func:`check_finite_array` that also refuses complex input."""
    check_not_complex(a, name)
    return check_finite_array(a, name, ndim)


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0 with ``allow_zero``)."""
    value = _scalar_of(value)
    if isinstance(value, decimal.Decimal):  # a Number but not a numbers.Real
        value = float(value) if not value.is_snan() else math.nan
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        v = float(value)
    except OverflowError:  # 10**400 or a huge Fraction raised OverflowError, not ValueError
        v = math.inf if value > 0 else -math.inf
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return v


def check_matrix_shape(shape: Any, name: str = "shape") -> tuple[int, int]:
    """``shape`` as ``(n1, n2)``: exactly two integers >= 1 (a tuple, list or 1-D array).

    A 3-tuple must not be cut to two entries, nor a scalar or a string read as sizes."""
    try:
        pair = not isinstance(shape, (str, bytes)) and np.ndim(shape) == 1 and len(shape) == 2
    except (TypeError, ValueError):  # ragged nesting, objects without a length
        pair = False
    if not pair:
        raise ValueError(f"{name} must be a pair (n1, n2) of integers >= 1, got {shape!r}")
    return check_int(shape[0], "n1", minimum=1), check_int(shape[1], "n2", minimum=1)


def _scalar_of(value: Any) -> Any:
    """A 0-d array (NumPy or JAX, e.g. ``jnp.asarray(0.3)``) of a real or integer dtype as
    its Python scalar (``eps=jnp.asarray(0.3)`` was refused while ``np.float32`` passed);
    anything else unchanged."""
    if (not isinstance(value, (numbers.Number, str, bytes)) and hasattr(value, "dtype")
            and getattr(value, "shape", None) == ()):
        kind = np.dtype(value.dtype).kind if not isinstance(value.dtype, str) else ""
        if kind in "biuf" and kind:
            return np.asarray(value).item()
    return value


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """An integer, optionally with a lower bound."""
    value = _scalar_of(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {v}")
    return v


def check_bool(value: Any, name: str, *, allow_int: bool = False) -> bool:
    """A flag as a bool: ``bool`` or ``numpy.bool_`` (and the integers 0 and 1 with
    ``allow_int``). Anything else (e.g. the string ``"False"`` from a config file, which
    is truthy) is a TypeError. A 0-d boolean (or, with ``allow_int``, integer) array counts
    as its scalar, as in :func:`check_int`."""
    # a flag computed as jnp.all(x >= 0) (a 0-d JAX array) was refused
    value = _scalar_of(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if allow_int and isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {type(value).__name__} {value!r}")


#: depths beyond this are refused: JAX's integer arithmetic on L overflows long before (a
#: depth of 2**62 failed inside a jitted computation with "An overflow was encountered
#: while parsing an argument", 10**30 in the deep factorization with "cannot fit 'int'
#: into an index-sized integer", neither naming the depth)
MAX_DEPTH = 2**31 - 1


def check_depth(depth: Any) -> int:
    """Depth L of a factorization: an integer in ``[1, MAX_DEPTH]``."""
    L = check_int(depth, "depth", minimum=1)
    if L > MAX_DEPTH:
        raise ValueError(f"depth = {L} is beyond the largest supported, {MAX_DEPTH}")
    return L


def check_system(shape: tuple[int, int], y: Any) -> np.ndarray:
    """Validate measurements ``y`` against an operator of shape ``(m, n)``."""
    m, n = shape
    if m < 1 or n < 1:
        raise ValueError(f"the operator has no {'rows' if m < 1 else 'columns'}: shape {shape}")
    y = check_finite_array(y, "y")
    if y.ndim == 2 and 1 in y.shape:
        y = y.reshape(-1)
    if y.ndim != 1:
        raise ValueError(f"y must be a vector, got shape {y.shape}")
    if y.shape[0] != m:
        raise ValueError(f"shape mismatch: A has {m} rows but y has {y.shape[0]} entries")
    return y
