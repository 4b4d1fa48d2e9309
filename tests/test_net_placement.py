"""norm_placement ('before'/'after' the activation) and dropout_position ('every'/'last'):
the layer order each option builds, whole-net gradient checks of the new arrangements, the
defaults' nets unchanged, and bad values refused."""

from __future__ import annotations

import numpy as np
import pytest
from net_checks import assert_net_gradients

from bnlab.layers import affine_backward, affine_forward, softmax_loss
from bnlab.layers.sandwich import affine_bn_relu_backward, affine_bn_relu_forward
from bnlab.nets import FullyConnectedNet, LeNet

# A LeNet with every layer of LeNet-5 but a few units per layer (as in tests/test_conv_nets.py).
SMALL_LENET = dict(input_dim=(1, 12, 12), num_classes=3, num_filters=(2, 3), hidden_dims=(5, 4))


def small_fc(**kwargs):
    return FullyConnectedNet(
        [5, 4, 3], input_dim=6, num_classes=2, normalization="batchnorm",
        dropout_keep_ratio=0.5, **kwargs,
    )  # fmt: skip


def names(model):
    return [layer.name for layer in model.layers]


@pytest.mark.parametrize(
    "options, expected",
    [
        (
            {},  # the defaults: cs231n's order, dropout after every hidden layer
            "affine1 batchnorm1 relu1 dropout1 affine2 batchnorm2 relu2 dropout2 "
            "affine3 batchnorm3 relu3 dropout3 affine4",
        ),
        (
            {"norm_placement": "after"},
            "affine1 relu1 batchnorm1 dropout1 affine2 relu2 batchnorm2 dropout2 "
            "affine3 relu3 batchnorm3 dropout3 affine4",
        ),
        (
            {"dropout_position": "last"},
            "affine1 batchnorm1 relu1 affine2 batchnorm2 relu2 affine3 batchnorm3 relu3 dropout3 "
            "affine4",
        ),
        (
            {"norm_placement": "after", "dropout_position": "last"},
            "affine1 relu1 batchnorm1 affine2 relu2 batchnorm2 affine3 relu3 batchnorm3 dropout3 "
            "affine4",
        ),
    ],
)
def test_fully_connected_layer_order(options, expected):
    model = small_fc(**options)
    assert names(model) == expected.split()
    assert sorted(model.params) == sorted(
        [f"{p}{i}" for i in (1, 2, 3) for p in ("W", "b", "gamma", "beta")] + ["W4", "b4"]
    )


@pytest.mark.parametrize(
    "placement, expected",
    [
        (
            "before",
            "conv1 batchnorm1 sigmoid1 avg_pool1 conv2 batchnorm2 sigmoid2 avg_pool2 "
            "affine3 batchnorm3 sigmoid3 affine4 batchnorm4 sigmoid4 affine5",
        ),
        (
            "after",
            "conv1 sigmoid1 batchnorm1 avg_pool1 conv2 sigmoid2 batchnorm2 avg_pool2 "
            "affine3 sigmoid3 batchnorm3 affine4 sigmoid4 batchnorm4 affine5",
        ),
    ],
)
def test_lenet_layer_order(placement, expected):
    assert names(LeNet(norm_placement=placement, seed=0)) == expected.split()
    if placement == "before":  # the default
        assert names(LeNet(seed=0)) == expected.split()


@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
@pytest.mark.parametrize("placement", ["before", "after"])
@pytest.mark.parametrize("position", ["every", "last"])
def test_fully_connected_gradients(normalization, placement, position):
    """Every parameter against a numerical gradient (float64): relative error <= 1e-7."""
    rng = np.random.default_rng(0)
    N, D, C = 4, 12, 7
    model = FullyConnectedNet(
        [10, 8], input_dim=D, num_classes=C, normalization=normalization, reg=0.5,
        dropout_keep_ratio=0.6, weight_scale=0.5, dtype=np.float64, seed=3,
        norm_placement=placement, dropout_position=position,
    )  # fmt: skip
    assert_net_gradients(model, rng.standard_normal((N, D)), rng.integers(0, C, N))


@pytest.mark.parametrize(
    "activation, pooling", [("sigmoid", "avg"), ("relu", "avg"), ("tanh", "max")]
)
def test_lenet_after_activation_gradients(activation, pooling):
    """Every parameter against a numerical gradient (float64): relative error <= 1e-7."""
    rng = np.random.default_rng(2)
    model = LeNet(
        **SMALL_LENET, activation=activation, pooling=pooling, weight_scale=0.5, reg=0.3,
        dtype=np.float64, seed=0, norm_placement="after",
    )  # fmt: skip
    X = rng.standard_normal((4, *SMALL_LENET["input_dim"]))
    assert_net_gradients(model, X, rng.integers(0, SMALL_LENET["num_classes"], 4))


def test_default_fully_connected_net_is_cs231ns_affine_bn_relu_chain():
    """The defaults compute what cs231n's sandwich layers compute, loss and every gradient."""
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    model = FullyConnectedNet(
        [4, 4], input_dim=5, num_classes=3, normalization="batchnorm", weight_scale=0.3,
        dtype=np.float64, seed=1,
    )  # fmt: skip
    loss, grads = model.loss(X, y)
    p = model.params
    bn_params = [{"mode": "train"}, {"mode": "train"}]
    h1, cache1 = affine_bn_relu_forward(X, p["W1"], p["b1"], p["gamma1"], p["beta1"], bn_params[0])
    h2, cache2 = affine_bn_relu_forward(h1, p["W2"], p["b2"], p["gamma2"], p["beta2"], bn_params[1])
    scores, cache3 = affine_forward(h2, p["W3"], p["b3"])
    expected_loss, dscores = softmax_loss(scores, y)
    expected = {}
    dh2, expected["W3"], expected["b3"] = affine_backward(dscores, cache3)
    dh1, *grads2 = affine_bn_relu_backward(dh2, cache2)
    _, *grads1 = affine_bn_relu_backward(dh1, cache1)
    for i, layer_grads in ((1, grads1), (2, grads2)):
        for name, grad in zip(("W", "b", "gamma", "beta"), layer_grads, strict=True):
            expected[f"{name}{i}"] = grad
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert set(grads) == set(expected)
    for name, grad in expected.items():
        np.testing.assert_allclose(grads[name], grad, rtol=1e-10, atol=1e-14, err_msg=name)


@pytest.mark.parametrize(
    "make, argument, value",
    [
        (lambda v: small_fc(norm_placement=v), "norm_placement", "middle"),
        (lambda v: small_fc(norm_placement=v), "norm_placement", None),
        (lambda v: small_fc(dropout_position=v), "dropout_position", "first"),
        (lambda v: LeNet(norm_placement=v), "norm_placement", "Before"),
    ],
)
def test_bad_values_are_refused_naming_the_argument(make, argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be one of .*; got {value!r}"):
        make(value)


def test_lenet_groupnorm_after_the_activation():
    """The placement and groupnorm options combine: G groups after each activation, and every
    parameter against a numerical gradient (float64): relative error <= 1e-7."""
    options = {**SMALL_LENET, "num_filters": (4, 4)}
    model = LeNet(
        **options, normalization="groupnorm", num_groups=2, norm_placement="after",
        activation="tanh", weight_scale=0.5, reg=0.3, dtype=np.float64, seed=0,
    )  # fmt: skip
    assert names(model)[:3] == ["conv1", "tanh1", "groupnorm1"]
    assert names(model)[-3:] == ["tanh4", "layernorm4", "affine5"]
    rng = np.random.default_rng(4)
    X = rng.standard_normal((4, *options["input_dim"]))
    assert_net_gradients(model, X, rng.integers(0, options["num_classes"], 4))
