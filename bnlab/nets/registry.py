"""The layers the nets are made of: every layer function a net uses is imported here, once.

Each registry maps a setting (a net's ``activation=``, ``normalization=``, ``pooling=``,
``loss=`` argument) to its ``(forward, backward)`` pair, or for LOSSES to the loss function.
The nets use the fast path (:mod:`bnlab.fast`) where there is one: the same results as the
plain lesson functions (tested), many times faster.

The affine, relu and batchnorm backwards here are the ``_*_unchecked`` twins of the public
(checked) functions: a net hands each backward the cache its own forward made and the dout the
next layer's backward returned, which is all their argument checks verify, once per layer per
step. Every forward stays checked (a user may replace ``model.params`` or edit a settings dict),
and so does what a user calls. tests/test_fast_unchecked.py checks that a net's loss and
gradients are bit for bit those of the checked functions.
"""

from __future__ import annotations

from collections.abc import Callable

from bnlab._validation import output_length
from bnlab.fast.activations import _relu_backward_unchecked
from bnlab.fast.affine import _affine_backward_unchecked
from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.normalization import (
    _batchnorm_backward_unchecked,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_forward_fast,
    spatial_groupnorm_backward_fast,
    spatial_groupnorm_forward_fast,
)
from bnlab.fast.pooling import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from bnlab.layers import (
    affine_forward,
    dropout_backward,
    dropout_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    mse_loss,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    svm_loss,
    tanh_backward,
    tanh_forward,
)

Pair = tuple[Callable, Callable]

AFFINE: Pair = (affine_forward, _affine_backward_unchecked)
CONV: Pair = (conv_forward_fast, conv_backward_fast)
DROPOUT: Pair = (dropout_forward, dropout_backward)
ACTIVATIONS: dict[str, Pair] = {
    "relu": (relu_forward, _relu_backward_unchecked),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}
# normalization= setting -> the layer normalising (N, D) features; None means no layer
NORMALIZATIONS: dict[str, Pair] = {
    "batchnorm": (batchnorm_forward_fast, _batchnorm_backward_unchecked),
    "layernorm": (layernorm_forward_fast, layernorm_backward_fast),
}
# ... and the one normalising (N, C, H, W) feature maps. Batchnorm's statistics are per channel
# over (N, H, W); groupnorm's per example and group of channels over (C/G, H, W), and layernorm
# is groupnorm with one group (Wu & He, 2018): both take G after gamma and beta.
SPATIAL_NORMALIZATIONS: dict[str, Pair] = {
    "batchnorm": (spatial_batchnorm_forward_fast, _batchnorm_backward_unchecked),
    "layernorm": (spatial_groupnorm_forward_fast, spatial_groupnorm_backward_fast),
    "groupnorm": (spatial_groupnorm_forward_fast, spatial_groupnorm_backward_fast),
}
# a net normalising with groupnorm uses layernorm on (N, D) features, where channels end
FLAT_NORMALIZATION = {"groupnorm": "layernorm"}
POOLS: dict[str, Pair] = {
    "max": (max_pool_forward_fast, max_pool_backward_fast),
    "avg": (avg_pool_forward_fast, avg_pool_backward_fast),
}
LOSSES: dict[str, Callable] = {"softmax": softmax_loss, "svm": svm_loss, "mse": mse_loss}

__all__ = [
    "ACTIVATIONS",
    "AFFINE",
    "CONV",
    "DROPOUT",
    "FLAT_NORMALIZATION",
    "LOSSES",
    "NORMALIZATIONS",
    "POOLS",
    "SPATIAL_NORMALIZATIONS",
    "output_length",  # the sliding-window layers' output size, for the builder's shape checks
]
