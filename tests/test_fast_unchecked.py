"""The nets' unchecked backwards (bnlab.nets.registry) against the checked public functions.

A net calls ``_affine_backward_unchecked``, ``_relu_backward_unchecked`` and
``_batchnorm_backward_unchecked``: the public functions' bodies without their argument
checks, which a net's own caches and douts always pass. Here each returns the same bits as the
checked function it stands for, alone and inside a net's loss and gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.fast.activations import _relu_backward_unchecked, relu_backward_fast
from bnlab.fast.affine import _affine_backward_unchecked
from bnlab.fast.normalization import (
    _batchnorm_backward_unchecked,
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    spatial_batchnorm_backward_fast,
    spatial_batchnorm_forward_fast,
)
from bnlab.layers import affine_backward, affine_forward, relu_forward
from bnlab.nets import FullyConnectedNet, ThreeLayerConvNet

# unchecked twin -> the checked function a user calls (for a 4-D batchnorm cache, the spatial one)
CHECKED = {
    _affine_backward_unchecked: affine_backward,
    _relu_backward_unchecked: relu_backward_fast,
    _batchnorm_backward_unchecked: batchnorm_backward_fast,
}


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.int32 if a.dtype == np.float32 else np.int64)


def assert_same_bits(ours: tuple, theirs: tuple) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if b is None:
            assert a is None
            continue
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(bits(a), bits(b)), f"ours {a.ravel()[:4]} vs checked {b.ravel()[:4]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("need_dx", [True, False])
def test_affine_backward_unchecked_is_the_checked_one(dtype, need_dx):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 2, 3, 4)).astype(dtype)  # flattened to (5, 24)
    _, cache = affine_forward(x, rng.normal(size=(24, 7)).astype(dtype), np.ones(7, dtype))
    dout = rng.normal(size=(5, 7)).astype(dtype)
    assert_same_bits(
        _affine_backward_unchecked(dout, cache, need_dx=need_dx),
        affine_backward(dout, cache, need_dx=need_dx),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_fast_unchecked_is_the_checked_one(dtype):
    rng = np.random.default_rng(1)
    _, cache = relu_forward(rng.normal(size=(50, 100)).astype(dtype))
    dout = rng.normal(size=(50, 100)).astype(dtype)
    dout.flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
    assert_same_bits((_relu_backward_unchecked(dout, cache),), (relu_backward_fast(dout, cache),))


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize(
    "forward, checked, shape",
    [
        (batchnorm_forward_fast, batchnorm_backward_fast, (50, 100)),
        (spatial_batchnorm_forward_fast, spatial_batchnorm_backward_fast, (4, 3, 5, 6)),
    ],
)
def test_batchnorm_backward_fast_unchecked_is_the_checked_one(forward, checked, shape, mode):
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, size=shape).astype(np.float32)
    C = shape[1]
    bn_param = {"mode": "train"}
    forward(x, rng.normal(size=C).astype(np.float32), np.zeros(C, np.float32), bn_param)
    bn_param["mode"] = mode  # test mode: the running statistics of one training batch
    gamma, beta = rng.normal(size=C).astype(np.float32), rng.normal(size=C).astype(np.float32)
    _, cache = forward(x, gamma, beta, bn_param)
    dout = rng.normal(size=shape).astype(np.float32)
    assert_same_bits(_batchnorm_backward_unchecked(dout, cache), checked(dout, cache))


def with_checked_backwards(model) -> int:
    """Swap each of model's unchecked backwards for the checked function; how many swapped."""
    swapped = 0
    for layer in model.layers:
        checked = CHECKED.get(layer.backward)
        if checked is batchnorm_backward_fast and layer.forward is spatial_batchnorm_forward_fast:
            checked = spatial_batchnorm_backward_fast
        if checked is not None:
            layer.backward = checked
            swapped += 1
    return swapped


@pytest.mark.parametrize(
    "make_net, X_shape, swaps",
    [
        # affine, batchnorm, relu x 3 + affine: every unchecked backward the nets use
        (lambda: FullyConnectedNet([20, 30, 10], input_dim=48, normalization="batchnorm", seed=0), (16, 3, 4, 4), 10),
        # conv, spatial batchnorm, relu, pool, affine, batchnorm, relu, affine
        (
            lambda: ThreeLayerConvNet((3, 8, 8), 4, 3, 10, normalization="batchnorm", seed=0),
            (6, 3, 8, 8),
            None,
        ),
    ],
)  # fmt: skip
def test_a_nets_loss_and_grads_are_those_of_the_checked_functions(make_net, X_shape, swaps):
    rng = np.random.default_rng(3)
    X = rng.normal(size=X_shape)
    y = rng.integers(0, 10, size=X_shape[0])
    ours, checked = make_net(), make_net()
    swapped = with_checked_backwards(checked)
    assert swapped > 0 and (swaps is None or swapped == swaps)  # the nets do use the twins
    for _ in range(2):  # the second step runs on the first step's updated params
        loss, grads = ours.loss(X, y)
        checked_loss, checked_grads = checked.loss(X, y)
        assert loss == checked_loss
        assert grads.keys() == checked_grads.keys()
        for name in grads:
            assert_same_bits((grads[name],), (checked_grads[name],))
            for model in (ours, checked):
                model.params[name] -= 1e-2 * grads[name]
    assert_same_bits((ours.loss(X),), (checked.loss(X),))  # test mode too
