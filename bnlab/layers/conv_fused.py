"""Convolutional sandwich layers: conv -> [spatial batchnorm] -> ReLU [-> max pool].

cs231n's layer_utils names and signatures. Each is built from the fast primitives
(``conv_forward_fast``, ``max_pool_forward_fast``) with :func:`bnlab.layers.fused.sandwich_forward`,
so ``cache`` is the tuple of the primitives' caches, e.g. ``(conv_cache, relu_cache,
pool_cache)``, and each backward unwinds it in reverse, returning (dx, dw, db[, dgamma, dbeta]).
"""

from __future__ import annotations

import numpy as np

from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.pooling import max_pool_backward_fast, max_pool_forward_fast
from bnlab.layers.activations import relu_backward, relu_forward
from bnlab.layers.batchnorm import spatial_batchnorm_backward, spatial_batchnorm_forward
from bnlab.layers.fused import Grads, sandwich_backward, sandwich_forward


def conv_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, tuple]:
    """out = max(0, conv(x, w) + b)

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param as in conv_forward_fast.
    Returns out: (N, F, H', W') and cache = (conv_cache, relu_cache).
    """
    return sandwich_forward(x, (conv_forward_fast, w, b, conv_param), (relu_forward,))


def conv_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of conv_relu_forward. dout: (N, F, H', W'). Returns (dx, dw, db)."""
    return sandwich_backward(dout, cache, conv_backward_fast, relu_backward)


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict, pool_param: dict
) -> tuple[np.ndarray, tuple]:
    """out = maxpool(max(0, conv(x, w) + b))

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param as in conv_forward_fast;
    pool_param as in max_pool_forward_fast.
    Returns out: (N, F, H'', W'') (the pooled size) and cache = (conv_cache, relu_cache,
    pool_cache).
    """
    return sandwich_forward(
        x,
        (conv_forward_fast, w, b, conv_param),
        (relu_forward,),
        (max_pool_forward_fast, pool_param),
    )


def conv_relu_pool_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of conv_relu_pool_forward. dout: (N, F, H'', W''). Returns (dx, dw, db)."""
    return sandwich_backward(dout, cache, conv_backward_fast, relu_backward, max_pool_backward_fast)


def conv_bn_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    conv_param: dict,
    bn_param: dict,
) -> tuple[np.ndarray, tuple]:
    """out = max(0, spatial_batchnorm(conv(x, w) + b))

    x: (N, C, H, W); w: (F, C, HH, WW); b, gamma, beta: (F,); conv_param as in
    conv_forward_fast; bn_param as in spatial_batchnorm_forward.
    Returns out: (N, F, H', W') and cache = (conv_cache, bn_cache, relu_cache).
    """
    return sandwich_forward(
        x,
        (conv_forward_fast, w, b, conv_param),
        (spatial_batchnorm_forward, gamma, beta, bn_param),
        (relu_forward,),
    )


def conv_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of conv_bn_relu_forward. dout: (N, F, H', W').

    Returns (dx, dw, db, dgamma, dbeta). In train mode db is 0 up to rounding: batchnorm
    removes any shift of its input.
    """
    return sandwich_backward(
        dout, cache, conv_backward_fast, spatial_batchnorm_backward, relu_backward
    )
