"""Sandwich layers: a chain of primitives as one layer, with nested caches.

Each forward calls the primitives in order and returns their caches as one tuple, e.g.
``cache = (fc_cache, bn_cache, relu_cache)``; each backward unwinds them in reverse and returns
dx followed by the parameter gradients in the forward's argument order. They exist for cs231n
compatibility (its layer_utils) and convenience; the nets in :mod:`bnlab.nets` chain the
primitives directly.

The affine sandwiches are here; the convolutional ones, built from the same two helpers
``sandwich_forward`` and ``sandwich_backward``, are in :mod:`bnlab.layers.conv_fused`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab._validation import unpack_cache
from bnlab.layers.activations import relu_backward, relu_forward
from bnlab.layers.affine import affine_backward, affine_forward
from bnlab.layers.batchnorm import batchnorm_backward_alt, batchnorm_forward
from bnlab.layers.layernorm import layernorm_backward, layernorm_forward

Grads = tuple[np.ndarray, ...]


def sandwich_forward(x: np.ndarray, *layers: tuple) -> tuple[np.ndarray, tuple]:
    """out = f_k(... f_2(f_1(x, *args_1), *args_2) ..., *args_k)

    x: the first layer's input; layers: one ``(forward, *args)`` per primitive, in order.
    Returns out (the last layer's output) and cache = (cache_1, ..., cache_k).
    """
    caches = []
    for forward, *args in layers:
        x, layer_cache = forward(x, *args)
        caches.append(layer_cache)
    return x, tuple(caches)


def sandwich_backward(dout: np.ndarray, cache: tuple, *backwards: Callable) -> Grads:
    """The chain rule through sandwich_forward's layers, last layer first.

    dout: the gradient of the sandwich's output; cache: from sandwich_forward;
    backwards: one backward per layer, in the FORWARD's order. Each returns dx alone or
    (dx, *parameter gradients). Returns (dx, *parameter gradients of layer 1, of layer 2, ...).
    """
    unpack_cache(cache, len(backwards), "a sandwich's backward", "its forward", ", one per layer")
    param_grads: list[np.ndarray] = []
    for backward, layer_cache in zip(reversed(backwards), reversed(cache), strict=True):
        grads = backward(dout, layer_cache)
        dout, *layer_param_grads = grads if isinstance(grads, tuple) else (grads,)
        param_grads[:0] = layer_param_grads  # earlier layers' gradients come first
    return (dout, *param_grads)


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = max(0, x @ w + b)

    x: (N, d_1, ..., d_k); w: (D, M); b: (M,). Returns out: (N, M) and (fc_cache, relu_cache).
    """
    return sandwich_forward(x, (affine_forward, w, b), (relu_forward,))


def affine_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_relu_forward. dout: (N, M). Returns (dx, dw, db)."""
    return sandwich_backward(dout, cache, affine_backward, relu_backward)


def affine_bn_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict[str, Any],
) -> tuple[np.ndarray, tuple]:
    """out = max(0, batchnorm(x @ w + b))

    x: (N, d_1, ..., d_k); w: (D, M); b, gamma, beta: (M,); bn_param as in batchnorm_forward.
    Returns out: (N, M) and cache = (fc_cache, bn_cache, relu_cache).
    """
    return sandwich_forward(
        x, (affine_forward, w, b), (batchnorm_forward, gamma, beta, bn_param), (relu_forward,)
    )


def affine_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_bn_relu_forward (with the fast batchnorm backward).

    dout: (N, M). Returns (dx, dw, db, dgamma, dbeta).
    """
    return sandwich_backward(dout, cache, affine_backward, batchnorm_backward_alt, relu_backward)


def affine_ln_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    ln_param: dict[str, Any],
) -> tuple[np.ndarray, tuple]:
    """out = max(0, layernorm(x @ w + b))

    x: (N, d_1, ..., d_k); w: (D, M); b, gamma, beta: (M,); ln_param as in layernorm_forward.
    Returns out: (N, M) and cache = (fc_cache, ln_cache, relu_cache).
    """
    return sandwich_forward(
        x, (affine_forward, w, b), (layernorm_forward, gamma, beta, ln_param), (relu_forward,)
    )


def affine_ln_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_ln_relu_forward. dout: (N, M). Returns (dx, dw, db, dgamma, dbeta)."""
    return sandwich_backward(dout, cache, affine_backward, layernorm_backward, relu_backward)
