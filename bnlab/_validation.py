"""Argument checks shared by every public function.

Each check raises ``TypeError`` or ``ValueError`` with a message that names the argument
and states what was expected and what was given, so that a student never has to decode a
bare NumPy broadcasting error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def check_float_array(name: str, value: Any, ndim: int | Sequence[int] | None = None) -> np.ndarray:
    """Return ``value`` as a floating-point ndarray (float32/float64), or raise.

    Integer and boolean arrays are refused rather than silently cast: a layer fed
    ``np.arange`` would otherwise compute in float64 and hide a dtype bug upstream.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    if value.dtype not in (np.float32, np.float64):
        raise TypeError(
            f"{name} must have dtype float32 or float64, got {value.dtype} "
            f"(convert with {name}.astype(np.float64))"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if value.ndim not in allowed:
            wanted = " or ".join(str(d) for d in allowed)
            raise ValueError(
                f"{name} must be {wanted}-dimensional, got shape {value.shape} ({value.ndim}-D)"
            )
    return value


def check_shape(name: str, value: Any, expected: tuple[int, ...], meaning: str = "") -> None:
    """Raise ``ValueError`` unless ``value.shape == expected``."""
    shape = np.shape(value)
    if tuple(shape) != tuple(expected):
        because = f" ({meaning})" if meaning else ""
        raise ValueError(f"{name} must have shape {tuple(expected)}{because}, got {tuple(shape)}")


def check_param(name: str, value: Any, expected: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Check a learnable parameter's shape and return it in the layer's dtype (no copy if equal)."""
    if not isinstance(value, np.ndarray | float | int | np.floating):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    check_shape(name, value, expected)
    return np.asarray(value).astype(dtype, copy=False)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices`` (which are listed)."""
    choices = tuple(choices)
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {valid}; got {value!r}")


def check_count(name: str, value: Any, minimum: int = 0, allow_none: bool = False) -> int | None:
    """An int >= minimum (bools refused), or None if allow_none: a count of examples, epochs...

    Returned as a Python int, so a NumPy integer does not travel further than the check.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        wanted = "an int or None" if allow_none else "an int"
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def output_length(
    axis: str, size: int, window: int, stride: int, pad: int | None, names: tuple[str, str, str]
) -> int:
    """H' = 1 + (H + 2*pad - HH) / stride for one axis, or a ValueError that names the numbers.

    A convolution or pooling layer slides an HH-wide window ``stride`` apart over H (padded by
    ``pad`` on both sides). bnlab requires the division to be exact (cs231n's rule): PyTorch
    would silently floor it and drop the last rows or columns of x, which hides a wrong
    architecture. Shared by the layers' checks and the nets' shape tracking.

    axis: "height" or "width"; size: H; window: HH; pad: None for a layer without padding;
    names: how the message calls (H, HH, stride), e.g. ("H", "HH", "conv_param['stride']").
    """
    size_name, window_name, stride_name = names
    if pad is None:
        span, span_name, span_sum, knobs = size, size_name, f"{size}", "stride or input size"
    else:
        span, span_name = size + 2 * pad, f"{size_name} + 2*pad"
        span_sum, knobs = f"{size} + 2*{pad}", "stride, pad or input size"
    if window > span:
        where = f"{span_name} = {span}" if pad is None else f"{span_name} = {span_sum} = {span}"
        raise ValueError(
            f"the window does not fit: {window_name} = {window} is larger than the input's "
            f"{'padded ' if pad else ''}{axis}, {where}"
        )
    left_over = (span - window) % stride
    if left_over:
        lines = "rows" if axis == "height" else "columns"
        raise ValueError(
            f"{stride_name} = {stride} does not divide {span_name} - {window_name} = "
            f"{span_sum} - {window} = {span - window}: the windows would not tile the {axis} "
            f"exactly (the last {left_over} {lines} would be ignored); change the {knobs}"
        )
    return 1 + (span - window) // stride


def check_labels(name: str, y: Any, num_samples: int, num_classes: int) -> np.ndarray:
    """Integer class labels of shape (N,) with every value in [0, num_classes)."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray of integer labels, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    check_shape(name, y, (num_samples,), "one label per row of x")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"{name} must hold labels in [0, {num_classes - 1}] for {num_classes} classes, "
            f"got values from {y.min()} to {y.max()}"
        )
    return y


def check_same_shape(name: str, value: np.ndarray, like_name: str, like: np.ndarray) -> None:
    """Raise unless ``value`` is an ndarray with exactly ``like``'s shape (e.g. dout vs out)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    if value.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name}, {like.shape}, got {value.shape}"
        )


def check_dout(dout: Any, expected_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The upstream gradient of a backward pass: a float array shaped like the forward output.

    Returned in the forward's ``dtype`` (a no-op when it already is), so that every gradient
    comes back in the dtype of the values it belongs to: a float64 dout reaching a float32 layer
    must not silently turn the rest of the backward pass into float64.
    """
    check_float_array("dout", dout)
    if dout.shape != tuple(expected_shape):
        raise ValueError(
            f"dout must have the shape of the forward output, {tuple(expected_shape)}, "
            f"got {dout.shape}"
        )
    return dout.astype(dtype, copy=False)


def check_param_dict(name: str, value: Any) -> dict:
    """A layer's mutable settings dict (bn_param, ln_param, dropout_param, ...)."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    return value


def unpack_cache(cache: Any, size: int, backward: str, forward: str, hint: str = "") -> tuple:
    """``cache`` if it is the ``size``-tuple ``forward`` returns; else a TypeError saying so.

    A cache from another forward (the naive and fast versions of a layer keep different ones)
    would otherwise fail deep inside the backward with "too many values to unpack".
    """
    if not isinstance(cache, tuple) or len(cache) != size:
        got = f"a tuple of {len(cache)}" if isinstance(cache, tuple) else type(cache).__name__
        raise TypeError(
            f"{backward} needs the cache {forward} returns (a tuple of {size}), got {got}{hint}"
        )
    return cache
