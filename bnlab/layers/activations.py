"""Elementwise nonlinearities: ReLU, leaky ReLU, sigmoid and tanh.

Each backward is ``dx = dout * f'(x)``, with f' written from what the forward cached.
"""

from __future__ import annotations

import numpy as np

from bnlab._validation import check_dout, check_float_array


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = max(x, 0)

    x: any shape. Returns out (same shape and dtype as x) and cache = x.
    """
    check_float_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * [x > 0]

    dout: shape of x. Returns dx: shape of x.
    """
    x = cache
    dout = check_dout(dout, x.shape, x.dtype)
    return np.where(x > 0, dout, 0)  # dout is in x's dtype, and a Python 0 does not widen it


def leaky_relu_forward(
    x: np.ndarray, negative_slope: float = 0.01
) -> tuple[np.ndarray, tuple[np.ndarray, float]]:
    """out = x if x > 0 else negative_slope * x

    x: any shape; negative_slope: the slope for x <= 0 (PyTorch's name and default).
    Returns out (shape and dtype of x) and cache = (x, negative_slope).
    """
    check_float_array("x", x)
    if not np.isfinite(negative_slope):
        raise ValueError(f"negative_slope must be a finite number, got {negative_slope!r}")
    slope = x.dtype.type(negative_slope)
    return np.where(x > 0, x, slope * x), (x, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache: tuple[np.ndarray, float]) -> np.ndarray:
    """dx = dout if x > 0 else negative_slope * dout

    dout: shape of x. Returns dx: shape of x.
    """
    x, negative_slope = cache
    dout = check_dout(dout, x.shape, x.dtype)
    return np.where(x > 0, dout, dout.dtype.type(negative_slope) * dout)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = 1 / (1 + exp(-x))

    x: any shape. Returns out (shape and dtype of x) and cache = out.
    """
    check_float_array("x", x)
    # The tanh identity never overflows, unlike exp(-x) for very negative x.
    out = np.tanh(x * x.dtype.type(0.5))
    out += 1
    out *= 0.5
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * out * (1 - out)

    dout: shape of x. Returns dx: shape of x.
    """
    out = cache
    dout = check_dout(dout, out.shape, out.dtype)
    return dout * out * (1 - out)


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = tanh(x)

    x: any shape. Returns out (shape and dtype of x) and cache = out.
    """
    check_float_array("x", x)
    out = np.tanh(x)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * (1 - out^2)

    dout: shape of x. Returns dx: shape of x.
    """
    out = cache
    dout = check_dout(dout, out.shape, out.dtype)
    return dout * (1 - out * out)
