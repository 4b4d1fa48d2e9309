"""The layers the nets are made of: every layer function a net uses is imported here, once.

Each registry maps a setting (a net's ``activation=``, ``normalization=``, ``pooling=``,
``loss=`` argument) to its ``(forward, backward)`` pair, or for LOSSES to the loss function.
The nets use the fast path (:mod:`bnlab.fast`) where there is one: the same results as the
plain lesson functions (tested), many times faster.
"""

from __future__ import annotations

from collections.abc import Callable

from bnlab._validation import output_length
from bnlab.fast.activations import relu_backward_fast
from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.normalization import (
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_backward_fast,
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
    affine_backward,
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

AFFINE: Pair = (affine_forward, affine_backward)
CONV: Pair = (conv_forward_fast, conv_backward_fast)
DROPOUT: Pair = (dropout_forward, dropout_backward)
ACTIVATIONS: dict[str, Pair] = {
    "relu": (relu_forward, relu_backward_fast),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}
# normalization= setting -> the layer normalising (N, D) features; None means no layer
NORMALIZATIONS: dict[str, Pair] = {
    "batchnorm": (batchnorm_forward_fast, batchnorm_backward_fast),
    "layernorm": (layernorm_forward_fast, layernorm_backward_fast),
}
# ... and the one normalising (N, C, H, W) feature maps. Batchnorm's statistics are per channel
# over (N, H, W); groupnorm's per example and group of channels over (C/G, H, W), and layernorm
# is groupnorm with one group (Wu & He, 2018): both take G after gamma and beta.
SPATIAL_NORMALIZATIONS: dict[str, Pair] = {
    "batchnorm": (spatial_batchnorm_forward_fast, spatial_batchnorm_backward_fast),
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
