"""Layers: every one a pair of plain functions, ``*_forward -> (out, cache)`` and ``*_backward``.

cs231n users: ``from cs231n.layers import *``, ``from cs231n.fast_layers import *`` and
``from cs231n.layer_utils import *`` all become ``from bnlab.layers import *``: the fast
convolution and max pooling (cs231n's fast_layers) live in :mod:`bnlab.fast` and are
re-exported here.
"""

from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.pooling import max_pool_backward_fast, max_pool_forward_fast
from bnlab.layers.activations import (
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from bnlab.layers.affine import affine_backward, affine_forward
from bnlab.layers.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from bnlab.layers.conv import conv_backward_naive, conv_forward_naive
from bnlab.layers.dropout import dropout_backward, dropout_forward
from bnlab.layers.groupnorm import spatial_groupnorm_backward, spatial_groupnorm_forward
from bnlab.layers.layernorm import layernorm_backward, layernorm_forward
from bnlab.layers.losses import mse_loss, softmax_loss, svm_loss
from bnlab.layers.pooling import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
)
from bnlab.layers.sandwich import (
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)

__all__ = [
    "affine_backward",
    "affine_bn_relu_backward",
    "affine_bn_relu_forward",
    "affine_forward",
    "affine_ln_relu_backward",
    "affine_ln_relu_forward",
    "affine_relu_backward",
    "affine_relu_forward",
    "avg_pool_backward",
    "avg_pool_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "conv_backward_fast",
    "conv_backward_naive",
    "conv_bn_relu_backward",
    "conv_bn_relu_forward",
    "conv_forward_fast",
    "conv_forward_naive",
    "conv_relu_backward",
    "conv_relu_forward",
    "conv_relu_pool_backward",
    "conv_relu_pool_forward",
    "dropout_backward",
    "dropout_forward",
    "layernorm_backward",
    "layernorm_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "max_pool_backward_fast",
    "max_pool_backward_naive",
    "max_pool_forward_fast",
    "max_pool_forward_naive",
    "mse_loss",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "spatial_groupnorm_backward",
    "spatial_groupnorm_forward",
    "svm_loss",
    "tanh_backward",
    "tanh_forward",
]
