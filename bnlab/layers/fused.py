"""Sandwich layers: affine -> [normalisation] -> ReLU, with nested caches.

Each forward calls the primitives in order and returns ``cache = (fc_cache, norm_cache,
relu_cache)``; each backward unwinds them in reverse. They exist for cs231n compatibility and
convenience; the nets in :mod:`bnlab.nets` chain the primitives directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab.layers.activations import relu_backward, relu_forward
from bnlab.layers.affine import affine_backward, affine_forward
from bnlab.layers.batchnorm import batchnorm_backward_alt, batchnorm_forward
from bnlab.layers.layernorm import layernorm_backward, layernorm_forward

Grads = tuple[np.ndarray, ...]


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = max(0, x @ w + b)

    x: (N, d_1, ..., d_k); w: (D, M); b: (M,). Returns out: (N, M) and (fc_cache, relu_cache).
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_relu_forward. dout: (N, M). Returns (dx, dw, db)."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def _affine_norm_relu_forward(
    norm_forward: Callable, x: np.ndarray, w: np.ndarray, b: np.ndarray, gamma, beta, norm_param
) -> tuple[np.ndarray, tuple]:
    a, fc_cache = affine_forward(x, w, b)
    a_norm, norm_cache = norm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a_norm)
    return out, (fc_cache, norm_cache, relu_cache)


def _affine_norm_relu_backward(norm_backward: Callable, dout: np.ndarray, cache: tuple) -> Grads:
    fc_cache, norm_cache, relu_cache = cache
    da_norm = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = norm_backward(da_norm, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


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
    return _affine_norm_relu_forward(batchnorm_forward, x, w, b, gamma, beta, bn_param)


def affine_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_bn_relu_forward (with the fast batchnorm backward).

    dout: (N, M). Returns (dx, dw, db, dgamma, dbeta).
    """
    return _affine_norm_relu_backward(batchnorm_backward_alt, dout, cache)


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
    return _affine_norm_relu_forward(layernorm_forward, x, w, b, gamma, beta, ln_param)


def affine_ln_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_ln_relu_forward. dout: (N, M). Returns (dx, dw, db, dgamma, dbeta)."""
    return _affine_norm_relu_backward(layernorm_backward, dout, cache)
