"""Layer argument checks that mutation testing found unguarded (docs/mutation-testing.md):
messages whose words a mutant could change without any test noticing."""

import re

import numpy as np
import pytest

from bnlab.fast.normalization import batchnorm_forward_fast
from bnlab.layers import (
    batchnorm_backward,
    batchnorm_forward,
    conv_forward_naive,
    max_pool_forward_naive,
    softmax_loss,
    spatial_groupnorm_forward,
)

X4, ONES = np.ones((2, 4, 3, 3)), np.ones(4)  # groupnorm's x (N, C, H, W) and a (C,) parameter


def test_a_loss_of_an_empty_batch_says_why_it_is_refused():
    message = (
        "x is an empty batch, shape (0, 3): the loss is a mean over the batch and needs at "
        "least one example"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        softmax_loss(np.ones((0, 3)), np.zeros(0, dtype=int))


def test_a_pooling_stride_that_does_not_tile_the_width_names_the_width():
    message = (
        "pool_param['stride'] = 2 does not divide W - pool_param['pool_width'] = 5 - 2 = 3: "
        "the windows would not tile the width exactly (the last 1 columns would be ignored); "
        "change the stride or input size"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        max_pool_forward_naive(np.ones((1, 1, 4, 5)), {"pool_height": 2, "pool_width": 2,
                                                       "stride": 2})  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: spatial_groupnorm_forward(X4, ONES, ONES, 2, []), TypeError,
         "gn_param must be a dict, got list"),
        (lambda: spatial_groupnorm_forward(X4, [1.0] * 4, ONES, 2, {}), TypeError,
         "gamma must be a numpy ndarray, got list"),
        (lambda: spatial_groupnorm_forward(X4, ONES, [1.0] * 4, 2, {}), TypeError,
         "beta must be a numpy ndarray, got list"),
        (lambda: spatial_groupnorm_forward([1.0], ONES, ONES, 2, {}), TypeError,
         "x must be a numpy ndarray, got list"),
        (lambda: batchnorm_forward(np.ones((3, 2)), np.ones(2), np.ones(2),
                                   {"mode": "train", "eps": "a"}), TypeError,
         "bn_param['eps'] must be a number > 0, got str 'a'"),
        (lambda: conv_forward_naive(np.ones((1, 1, 3, 4)), np.ones((1, 1, 3, 3)), np.ones(1),
                                    {"stride": 2, "pad": 0}), ValueError,
         "conv_param['stride'] = 2 does not divide W + 2*pad - WW = 4 + 2*0 - 3 = 1: the windows "
         "would not tile the width exactly (the last 1 columns would be ignored); change the "
         "stride, pad or input size"),
    ],
    ids=["gn_param", "gamma", "beta", "x", "eps", "conv width"],
)  # fmt: skip
def test_bad_arguments_are_named_exactly(call, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call()


def test_a_float32_groupnorm_overflow_names_the_example_and_group():
    x = np.zeros((1, 4, 1, 1), np.float32)
    x[0, 2:, 0, 0] = [3e19, -3e19]  # group 1 of 2: its variance, 9e38, overflows float32
    message = (
        "spatial_groupnorm_forward: the mean or variance of (example, group) (0, 1) overflows "
        "float32 although x is finite (x's largest magnitude is 3e+19; squares above 1.84e+19 "
        "overflow): scale x down or compute in float64"
    )
    gamma, beta = np.ones(4, np.float32), np.zeros(4, np.float32)
    with np.errstate(over="ignore"), pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        spatial_groupnorm_forward(x, gamma, beta, 2, {})


NEEDS = (
    "batchnorm_backward needs the cache from batchnorm_forward or spatial_batchnorm_forward "
    "(a BatchNormCache), got "
)
FAST_CACHE_GOT = (
    "a FastBatchNormCache from batchnorm_forward_fast or spatial_batchnorm_forward_fast: pass "
    "the cache that forward returned (the plain and fast versions of a layer keep different "
    "caches)"
)


@pytest.mark.parametrize(
    ("cache", "got"),
    [
        (None, "None: pass the cache that forward returned"),
        ((1, 2, 3), "a tuple of 3 values: pass the cache that forward returned"),
        ([1, 2], "a list: pass the cache that forward returned"),
        ("fast", FAST_CACHE_GOT),
    ],
    ids=["None", "tuple", "list", "fast cache"],
)
def test_a_wrong_cache_is_described_exactly(cache, got):
    if cache == "fast":
        x = np.random.default_rng(0).standard_normal((4, 3))
        _, cache = batchnorm_forward_fast(x, np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(TypeError, match=f"^{re.escape(NEEDS + got)}$"):
        batchnorm_backward(np.ones((4, 3)), cache)
