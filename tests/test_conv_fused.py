"""The convolutional sandwich layers (conv_relu, conv_relu_pool, conv_bn_relu): each equals its
primitives called in turn, nests their caches, and refuses a wrong cache or dout clearly.

Numerical gradients (relative error <= 1e-7, float64, random non-uniform dout) are checked by
the catalog entries 'conv_relu', 'conv_relu_pool' and 'conv_bn_relu' in
tests/test_layer_gradients.py, and float32/float64 by the catalog-driven dtype test in
tests/test_layers.py.
"""

import numpy as np
import pytest

# conv_bn_relu chains the fast spatial batchnorm (bnlab.layers.sandwich's docstring says why)
from bnlab.fast.normalization import FastBatchNormCache
from bnlab.fast.normalization import spatial_batchnorm_backward_fast as spatial_batchnorm_backward
from bnlab.fast.normalization import spatial_batchnorm_forward_fast as spatial_batchnorm_forward
from bnlab.layers import (
    conv_backward_fast,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_forward_fast,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    max_pool_backward_fast,
    max_pool_forward_fast,
    relu_backward,
    relu_forward,
)

CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}
N, C, H, W, F = 2, 3, 6, 6, 4


def make_inputs(seed):
    """x, w, b, gamma, beta for a 3 x 3 'same' convolution of (N, C, H, W) into F channels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, 3, 3))
    return x, w, rng.standard_normal(F), rng.normal(1.0, 0.3, F), rng.standard_normal(F)


# --- the sandwiches written out by hand: (out, grads) given dout and the forward's arguments --


def conv_relu_by_hand(dout, x, w, b, conv_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_by_hand(dout, x, w, b, conv_param, pool_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    ds = max_pool_backward_fast(dout, pool_cache)
    return out, conv_backward_fast(relu_backward(ds, relu_cache), conv_cache)


def conv_bn_relu_by_hand(dout, x, w, b, gamma, beta, conv_param, bn_param):
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    a_norm, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a_norm)
    da, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
    return out, (*conv_backward_fast(da, conv_cache), dgamma, dbeta)


# name: (forward, backward, by hand, the gradients' names)
SANDWICHES = {
    "conv_relu": (conv_relu_forward, conv_relu_backward, conv_relu_by_hand, "dx dw db"),
    "conv_relu_pool": (
        conv_relu_pool_forward, conv_relu_pool_backward, conv_relu_pool_by_hand, "dx dw db"),
    "conv_bn_relu": (
        conv_bn_relu_forward, conv_bn_relu_backward, conv_bn_relu_by_hand,
        "dx dw db dgamma dbeta"),
}  # fmt: skip


def forward_args(name, seed):
    """The forward's arguments, with a fresh bn_param on every call (batchnorm updates it)."""
    x, w, b, gamma, beta = make_inputs(seed)
    if name == "conv_relu":
        return x, w, b, CONV_PARAM
    if name == "conv_relu_pool":
        return x, w, b, CONV_PARAM, POOL_PARAM
    return x, w, b, gamma, beta, CONV_PARAM, {"mode": "train"}


@pytest.mark.parametrize("name", SANDWICHES)
def test_sandwich_equals_its_primitives_in_turn(name):
    forward, backward, by_hand, grad_names = SANDWICHES[name]
    out, cache = forward(*forward_args(name, seed=0))
    dout = np.random.default_rng(1).standard_normal(out.shape)
    grads = backward(dout, cache)
    expected_out, expected_grads = by_hand(dout, *forward_args(name, seed=0))
    # The very same operations in the same order: equal to the last bit.
    assert np.array_equal(out, expected_out)
    assert len(grads) == len(grad_names.split())
    for grad_name, grad, expected in zip(grad_names.split(), grads, expected_grads, strict=True):
        assert np.array_equal(grad, expected), f"{name}: {grad_name} differs from the primitives"


def test_output_shapes():
    x, w, b, gamma, beta = make_inputs(2)
    out, _ = conv_relu_forward(x, w, b, CONV_PARAM)
    pooled, _ = conv_relu_pool_forward(x, w, b, CONV_PARAM, POOL_PARAM)
    normalised, _ = conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, {"mode": "train"})
    assert out.shape == normalised.shape == (N, F, H, W)  # a 'same' convolution
    assert pooled.shape == (N, F, H // 2, W // 2)


def test_conv_bn_relu_updates_bn_param_like_spatial_batchnorm():
    x, w, b, gamma, beta = make_inputs(3)
    sandwich_param, primitive_param = {"mode": "train"}, {"mode": "train"}
    conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, sandwich_param)
    a, _ = conv_forward_fast(x, w, b, CONV_PARAM)
    spatial_batchnorm_forward(a, gamma, beta, primitive_param)
    for key in ("running_mean", "running_var"):
        assert np.array_equal(sandwich_param[key], primitive_param[key]), key
    # test mode: the sandwich normalises with the running statistics, as the primitive does
    test_out, _ = conv_bn_relu_forward(
        x, w, b, gamma, beta, CONV_PARAM, {**sandwich_param, "mode": "test"}
    )
    a_norm, _ = spatial_batchnorm_forward(a, gamma, beta, {**primitive_param, "mode": "test"})
    assert np.array_equal(test_out, np.maximum(a_norm, 0))


# --- cache nesting ---------------------------------------------------------------------


def test_conv_relu_pool_cache_is_the_three_primitive_caches():
    x, w, b, _, _ = make_inputs(4)
    out, cache = conv_relu_pool_forward(x, w, b, CONV_PARAM, POOL_PARAM)
    assert isinstance(cache, tuple) and len(cache) == 3
    conv_cache, relu_cache, pool_cache = cache
    a, _ = conv_forward_fast(x, w, b, CONV_PARAM)
    assert conv_cache[0] is x  # the conv cached its own input, not a copy
    assert np.array_equal(relu_cache, a)  # the ReLU cached the conv's output
    assert np.array_equal(pool_cache[0], np.maximum(a, 0))  # the pool cached the ReLU's output
    assert np.array_equal(max_pool_forward_fast(pool_cache[0], POOL_PARAM)[0], out)


def test_conv_bn_relu_cache_is_the_three_primitive_caches():
    x, w, b, gamma, beta = make_inputs(5)
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, {"mode": "train"})
    assert isinstance(cache, tuple) and len(cache) == 3
    conv_cache, bn_cache, relu_cache = cache
    assert conv_cache[0] is x
    assert isinstance(bn_cache, FastBatchNormCache) and bn_cache.axes == (0, 2, 3)  # spatial
    assert np.array_equal(np.maximum(relu_cache, 0), out)


def test_conv_relu_cache_is_the_two_primitive_caches():
    x, w, b, _, _ = make_inputs(6)
    out, cache = conv_relu_forward(x, w, b, CONV_PARAM)
    conv_cache, relu_cache = cache
    assert conv_cache[0] is x
    assert np.array_equal(np.maximum(relu_cache, 0), out)


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("name", SANDWICHES)
def test_dout_of_the_wrong_shape_is_refused(name):
    forward, backward, _, _ = SANDWICHES[name]
    out, cache = forward(*forward_args(name, seed=7))
    wrong = (*out.shape[:-1], out.shape[-1] + 1)
    with pytest.raises(ValueError) as info:
        backward(np.ones(wrong), cache)
    for fragment in ("dout", str(out.shape), str(wrong)):
        assert fragment in str(info.value)


@pytest.mark.parametrize("name", SANDWICHES)
def test_a_cache_of_another_layer_is_refused(name):
    forward, backward, _, _ = SANDWICHES[name]
    out, cache = forward(*forward_args(name, seed=8))
    expected = (
        rf"{name}_backward needs the cache {name}_forward returns \(a tuple of {len(cache)}\), "
        "got a tuple of"
    )
    with pytest.raises(TypeError, match=expected):
        backward(np.ones(out.shape), cache[:-1])
    with pytest.raises(TypeError, match="got ndarray"):
        backward(np.ones(out.shape), out)


def test_bad_settings_reach_the_student_from_the_primitive():
    x, w, b, gamma, beta = make_inputs(9)
    with pytest.raises(ValueError, match=r"pool_param\['stride'\] = 3 does not divide"):
        conv_relu_pool_forward(x, w, b, CONV_PARAM, {**POOL_PARAM, "stride": 3})
    with pytest.raises(ValueError, match=r"bn_param\['mode'\]"):
        conv_bn_relu_forward(x, w, b, gamma, beta, CONV_PARAM, {})
    with pytest.raises(ValueError, match=r"w must have shape \(F, C, HH, WW\) with C = 3"):
        conv_relu_forward(x, w[:, :2], b, CONV_PARAM)
