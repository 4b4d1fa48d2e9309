"""Sandwich layers: a chain of primitives as one layer, with nested caches.

A chain runs forward through its layers, each output feeding the next, and backward in
reverse, each layer's dx becoming the previous layer's dout. :func:`sandwich_forward` and
:func:`sandwich_backward` are that chain, written once: the sandwich layers below use them,
so do the nets (:mod:`bnlab.nets.model`) and the gradient-check catalog's composites.

Each sandwich forward returns the primitives' caches as one tuple, e.g.
``cache = (fc_cache, bn_cache, relu_cache)``; each backward unwinds them in reverse and returns
dx followed by the parameter gradients in the forward's argument order, e.g.
``(dx, dw, db, dgamma, dbeta)``. cs231n's layer_utils names and signatures.

The sandwiches are conveniences for building nets, not lessons: they chain the fast layers
(bnlab.fast) where there is one, as cs231n's convolutional sandwiches chain its fast_layers.
The normalisation layers here are the fast twins (the same numbers as the lesson's
batchnorm_forward, layernorm_forward, ... to rounding, tested; their caches are the fast
caches), the ReLU backward the branch-free one (bit for bit the lesson's), the convolution
and pooling the im2col ones. To learn a layer, read its own module; what the fast ones buy
is in docs/fast-path.md (python benchmarks/sandwich.py measures affine_bn_relu).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab._validation import unpack_cache
from bnlab.fast.activations import relu_backward_fast
from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.normalization import (
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_backward_fast,
    spatial_batchnorm_forward_fast,
)
from bnlab.fast.pooling import max_pool_backward_fast, max_pool_forward_fast
from bnlab.layers.activations import relu_forward
from bnlab.layers.affine import affine_backward, affine_forward

Grads = tuple[np.ndarray, ...]


# --- the chain ---------------------------------------------------------------------------


def sandwich_forward(
    x: np.ndarray, *layers: tuple, outputs: list[np.ndarray] | None = None
) -> tuple[np.ndarray, tuple]:
    """out = f_k(... f_2(f_1(x, *args_1), *args_2) ..., *args_k)

    x: the first layer's input; layers: one ``(forward, *args)`` per layer, in order, where
    args are what the forward takes after its input (weights, then a settings dict).
    outputs: if a list, every layer's output is appended to it (a net's ``activations``).
    Returns out (the last layer's output) and cache = (cache_1, ..., cache_k).
    """
    caches = []
    for forward, *args in layers:
        x, layer_cache = forward(x, *args)
        caches.append(layer_cache)
        if outputs is not None:
            outputs.append(x)
    return x, tuple(caches)


def sandwich_backward(
    dout: np.ndarray, cache: tuple, *backwards: Callable, name: str = "a sandwich's backward"
) -> Grads:
    """The chain rule through sandwich_forward's layers, last layer first.

    dout: the gradient of the chain's output; cache: from sandwich_forward;
    backwards: one backward per layer, in the FORWARD's order. Each returns dx alone (a layer
    without parameters: relu, pooling, dropout) or (dx, *parameter gradients).
    name: the sandwich's backward (e.g. "affine_relu_backward"), named in errors.
    Returns (dx, *parameter gradients of layer 1, of layer 2, ...).
    """
    forward = name.replace("_backward", "_forward") if name.endswith("_backward") else "its forward"
    unpack_cache(cache, len(backwards), name, forward, ", one per layer")
    param_grads: list[np.ndarray] = []
    try:
        for backward, layer_cache in zip(reversed(backwards), reversed(cache), strict=True):
            grads = backward(dout, layer_cache)
            dout, *layer_param_grads = grads if isinstance(grads, tuple) else (grads,)
            param_grads[:0] = layer_param_grads  # earlier layers' gradients come first
    except (TypeError, ValueError) as error:  # a layer's check: say which sandwich it was in
        kind = TypeError if isinstance(error, TypeError) else ValueError  # not a subclass's init
        raise kind(f"{name} (is cache the one {forward} returned?): {error}") from error
    return (dout, *param_grads)


# --- affine sandwiches -------------------------------------------------------------------


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = max(0, x @ w + b)

    x: (N, d_1, ..., d_k); w: (D, M); b: (M,). Returns out: (N, M) and (fc_cache, relu_cache).
    """
    return sandwich_forward(x, (affine_forward, w, b), (relu_forward,))


def affine_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_relu_forward. dout: (N, M). Returns (dx, dw, db)."""
    return sandwich_backward(
        dout, cache, affine_backward, relu_backward_fast, name="affine_relu_backward"
    )


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
        x, (affine_forward, w, b), (batchnorm_forward_fast, gamma, beta, bn_param), (relu_forward,)
    )


def affine_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_bn_relu_forward (with the fast closed-form batchnorm backward).

    dout: (N, M). Returns (dx, dw, db, dgamma, dbeta).
    """
    return sandwich_backward(
        dout,
        cache,
        affine_backward,
        batchnorm_backward_fast,
        relu_backward_fast,
        name="affine_bn_relu_backward",
    )


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
        x, (affine_forward, w, b), (layernorm_forward_fast, gamma, beta, ln_param), (relu_forward,)
    )


def affine_ln_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of affine_ln_relu_forward. dout: (N, M). Returns (dx, dw, db, dgamma, dbeta)."""
    return sandwich_backward(
        dout,
        cache,
        affine_backward,
        layernorm_backward_fast,
        relu_backward_fast,
        name="affine_ln_relu_backward",
    )


# --- convolutional sandwiches --------------------------------------------------------------


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
    return sandwich_backward(
        dout, cache, conv_backward_fast, relu_backward_fast, name="conv_relu_backward"
    )


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
    return sandwich_backward(
        dout,
        cache,
        conv_backward_fast,
        relu_backward_fast,
        max_pool_backward_fast,
        name="conv_relu_pool_backward",
    )


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
        (spatial_batchnorm_forward_fast, gamma, beta, bn_param),
        (relu_forward,),
    )


def conv_bn_relu_backward(dout: np.ndarray, cache: tuple) -> Grads:
    """Backward of conv_bn_relu_forward. dout: (N, F, H', W').

    Returns (dx, dw, db, dgamma, dbeta). In train mode db is 0 up to rounding: batchnorm
    removes any shift of its input.
    """
    return sandwich_backward(
        dout,
        cache,
        conv_backward_fast,
        spatial_batchnorm_backward_fast,
        relu_backward_fast,
        name="conv_bn_relu_backward",
    )
