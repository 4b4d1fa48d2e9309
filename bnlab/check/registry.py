"""The functions ``bnlab check`` knows: cs231n name -> the check that probes it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

# name -> (module in bnlab.check, check function); the order is the order of the report
CHECKS: dict[str, tuple[str, str]] = {
    "affine_forward": ("basic", "check_affine_forward"),
    "affine_backward": ("basic", "check_affine_backward"),
    "relu_forward": ("basic", "check_relu_forward"),
    "relu_backward": ("basic", "check_relu_backward"),
    "softmax_loss": ("basic", "check_softmax_loss"),
    "svm_loss": ("basic", "check_svm_loss"),
    "batchnorm_forward": ("norm_forward", "check_batchnorm_forward"),
    "batchnorm_backward": ("norm_backward", "check_norm_backward"),
    "batchnorm_backward_alt": ("norm_backward", "check_norm_backward"),
    "layernorm_forward": ("norm_forward", "check_layernorm_forward"),
    "layernorm_backward": ("norm_backward", "check_norm_backward"),
    "spatial_batchnorm_forward": ("norm_forward", "check_batchnorm_forward"),
    "spatial_batchnorm_backward": ("norm_backward", "check_norm_backward"),
    "dropout_forward": ("dropout", "check_dropout_forward"),
    "dropout_backward": ("dropout", "check_dropout_backward"),
    "spatial_groupnorm_forward": ("groupnorm", "check_groupnorm_forward"),
    "spatial_groupnorm_backward": ("groupnorm", "check_groupnorm_backward"),
    "conv_forward_naive": ("conv", "check_conv_forward"),
    "conv_backward_naive": ("conv", "check_conv_backward"),
    "max_pool_forward_naive": ("pooling", "check_pool_forward"),
    "max_pool_backward_naive": ("pooling", "check_pool_backward"),
    **{
        f"{sandwich}_{direction}": ("sandwich", f"check_sandwich_{direction}")
        for sandwich in (
            "affine_relu",
            "affine_bn_relu",
            "affine_ln_relu",
            "conv_relu",
            "conv_relu_pool",
            "conv_bn_relu",
        )
        for direction in ("forward", "backward")
    },
    "sgd": ("optim", "check_update_rule"),
    "sgd_momentum": ("optim", "check_update_rule"),
    "rmsprop": ("optim", "check_update_rule"),
    "adam": ("optim", "check_update_rule"),
}

# the cs231n file each function lives in (layers.py unless named here)
SOURCE_FILE: dict[str, str] = {
    **{name: "layer_utils.py" for name, (module, _) in CHECKS.items() if module == "sandwich"},
    **{name: "optim.py" for name, (module, _) in CHECKS.items() if module == "optim"},
}

CONVENTIONS = ("cs231n", "cs231n-2016", "cs231n-2017")


def check_for(name: str) -> Callable:
    module, function = CHECKS[name]
    return getattr(importlib.import_module(f"bnlab.check.{module}"), function)
