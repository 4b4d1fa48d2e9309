"""Elementwise nonlinearities: ReLU, leaky ReLU, sigmoid and tanh.

Each backward is ``dx = dout * f'(x)``, with f' written from what the forward cached.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab._validation import check_float_array
from bnlab.layers.checks import (
    check_cached_x_backward,
    check_elementwise_backward,
    check_leaky_relu,
)


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
    dout = check_elementwise_backward(dout, cache, "relu_backward", "relu_forward")
    x = cache
    return np.where(x > 0, dout, 0)  # dout is in x's dtype, and a Python 0 does not widen it


class LeakyReluCache(NamedTuple):
    made_by = "leaky_relu_forward"  # named in the backward's errors

    x: np.ndarray
    negative_slope: float


def leaky_relu_forward(
    x: np.ndarray, negative_slope: float = 0.01
) -> tuple[np.ndarray, LeakyReluCache]:
    """out = x if x > 0 else negative_slope * x

    x: any shape; negative_slope: the slope for x <= 0 (PyTorch's name and default).
    Returns out (shape and dtype of x) and cache = (x, negative_slope).
    """
    check_leaky_relu(x, negative_slope)
    slope = x.dtype.type(negative_slope)  # a float64 slope must not widen a float32 x
    return np.where(x > 0, x, slope * x), LeakyReluCache(x, negative_slope)


def leaky_relu_backward(dout: np.ndarray, cache: LeakyReluCache) -> np.ndarray:
    """dx = dout if x > 0 else negative_slope * dout

    dout: shape of x. Returns dx: shape of x.
    """
    dout = check_cached_x_backward(dout, cache, LeakyReluCache, "leaky_relu_backward")
    x = cache.x
    slope = x.dtype.type(cache.negative_slope)
    return np.where(x > 0, dout, slope * dout)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = 1 / (1 + exp(-x))

    x: any shape. Returns out (shape and dtype of x) and cache = out.
    """
    check_float_array("x", x)
    # The identity 1 / (1 + exp(-x)) = (1 + tanh(x / 2)) / 2 never overflows, unlike exp(-x)
    # for very negative x.
    out = 0.5 * (1 + np.tanh(0.5 * x))
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * out * (1 - out)

    dout: shape of x. Returns dx: shape of x.
    """
    dout = check_elementwise_backward(dout, cache, "sigmoid_backward", "sigmoid_forward")
    out = cache
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
    dout = check_elementwise_backward(dout, cache, "tanh_backward", "tanh_forward")
    out = cache
    return dout * (1 - out * out)
