"""LeNet and ThreeLayerConvNet with layernorm and groupnorm: gradients, shapes, batch
independence and the num_groups checks (batchnorm's own tests are in tests/test_conv_nets.py)."""

from __future__ import annotations

import numpy as np
import pytest
from net_checks import assert_net_gradients, assert_refused

from bnlab.nets import LeNet, ThreeLayerConvNet
from bnlab.nets.registry import NORMALIZATIONS, SPATIAL_NORMALIZATIONS

# Small enough to check every parameter numerically. 4 and 6 filters: groups of 2 and 3
# channels with num_groups=2 (a group of one channel would make the conv bias's true gradient
# 0, as batchnorm does, and a ratio check meaningless). 12x12: 12 -> 6 -> 2 -> 1.
SMALL_LENET = dict(input_dim=(1, 12, 12), num_classes=3, num_filters=(4, 6), hidden_dims=(5, 4))
SMALL_CONVNET = dict(input_dim=(2, 6, 6), num_filters=4, filter_size=3, hidden_dim=5, num_classes=4)
# normalization -> the extra arguments it needs
NORMS = {"layernorm": {}, "groupnorm": {"num_groups": 2}}
# float32 rounding of one forward pass, for comparing an example's scores across batches
SAME_SCORES_ATOL = 1e-6


def labels(rng, N, C):
    return rng.integers(0, C, N)


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("activation, pooling, reg", [("tanh", "max", 0.3), ("sigmoid", "avg", 0)])
def test_lenet_gradients(normalization, activation, pooling, reg):
    """Every parameter against a numerical gradient, float64: relative error <= 1e-7."""
    rng = np.random.default_rng(2)
    model = LeNet(
        **SMALL_LENET, normalization=normalization, **NORMS[normalization],
        activation=activation, pooling=pooling, weight_scale=0.5, reg=reg,
        dtype=np.float64, seed=3,
    )  # fmt: skip
    X = rng.standard_normal((4, *SMALL_LENET["input_dim"]))
    assert_net_gradients(model, X, labels(rng, 4, SMALL_LENET["num_classes"]))


@pytest.mark.parametrize("normalization", NORMS)
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_three_layer_convnet_gradients(normalization, reg):
    """Every parameter against a numerical gradient, float64: relative error <= 1e-7."""
    rng = np.random.default_rng(0)
    model = ThreeLayerConvNet(
        **SMALL_CONVNET, weight_scale="he", reg=reg, normalization=normalization,
        **NORMS[normalization], dtype=np.float64, seed=1,
    )  # fmt: skip
    X = rng.standard_normal((4, *SMALL_CONVNET["input_dim"]))
    assert_net_gradients(model, X, labels(rng, 4, SMALL_CONVNET["num_classes"]))


@pytest.mark.parametrize("normalization, groups", [("layernorm", 1), ("groupnorm", 2)])
def test_lenet_layers_params_and_groups(normalization, groups):
    model = LeNet(normalization=normalization, num_groups=groups if groups > 1 else None, seed=0)
    shapes = {k: p.shape for k, p in model.params.items() if k.startswith(("gamma", "beta"))}
    assert shapes == {
        "gamma1": (6,), "beta1": (6,), "gamma2": (16,), "beta2": (16,),
        "gamma3": (120,), "beta3": (120,), "gamma4": (84,), "beta4": (84,),
    }  # fmt: skip
    norms = [
        layer for layer in model.layers if layer.param_names[:1] == (f"gamma{layer.name[-1]}",)
    ]
    assert [layer.name for layer in norms] == [
        f"{normalization}1", f"{normalization}2", "layernorm3", "layernorm4",
    ]  # fmt: skip
    # the conv outputs: groupnorm with G groups; the affine outputs: the (N, D) layernorm
    assert [layer.constants for layer in norms] == [(groups,), (groups,), (), ()]
    assert norms[0].forward is SPATIAL_NORMALIZATIONS[normalization][0]
    assert norms[2].forward is NORMALIZATIONS["layernorm"][0]
    assert model.norm_params == [{}, {}, {}, {}]  # no mode, no running statistics


def test_three_layer_convnet_params_with_groupnorm():
    model = ThreeLayerConvNet(normalization="groupnorm", num_groups=8, seed=0)
    assert model.params["gamma1"].shape == (32,) and model.params["beta1"].shape == (32,)
    assert model.params["gamma2"].shape == (100,) and model.params["beta2"].shape == (100,)
    assert [layer.name for layer in model.layers] == [
        "conv1", "groupnorm1", "relu1", "max_pool1", "affine2", "layernorm2", "relu2", "affine3",
    ]  # fmt: skip
    assert model.layers[1].constants == (8,)


def test_groupnorm_statistics_are_per_example_and_group():
    """groupnorm1's output, with gamma = 1 and beta = 0, has mean 0 and variance ~1 per group."""
    model = LeNet(normalization="groupnorm", num_groups=2, dtype=np.float64, seed=0)
    X = np.random.default_rng(0).standard_normal((3, 1, 28, 28))
    out = model.activations(X)["groupnorm1"].reshape(3, 2, -1)  # (N, G, 3 * 28 * 28)
    np.testing.assert_allclose(out.mean(axis=2), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=2), 1, atol=1e-4)  # var / (var + eps)
    # ... and not per channel, as batchnorm's would be
    assert np.abs(out.reshape(3, 6, -1).mean(axis=2)).max() > 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda n: LeNet(normalization=n, num_groups=2 if n == "groupnorm" else None, seed=0),
        lambda n: ThreeLayerConvNet(
            **SMALL_CONVNET, normalization=n, num_groups=2 if n == "groupnorm" else None, seed=0
        ),
    ],
    ids=["LeNet", "ThreeLayerConvNet"],
)
@pytest.mark.parametrize("normalization", ["batchnorm", *NORMS])
def test_one_example_s_output_ignores_the_rest_of_the_batch(make, normalization):
    """Layernorm and groupnorm use no batch statistics, in train mode or test mode; batchnorm
    uses them in train mode (which shows the comparison can tell)."""
    model = make(normalization)
    image = model.params["W1"].shape[1]  # C
    size = 28 if isinstance(model, LeNet) else SMALL_CONVNET["input_dim"][1]
    rng = np.random.default_rng(1)
    X = rng.standard_normal((6, image, size, size)).astype(np.float32)
    others = X.copy()
    others[1:] = 3 * rng.standard_normal(others[1:].shape) + 2
    last = model.layers[-1].name
    for mode in ("test", "train"):
        in_batch = model.activations(X, mode=mode)[last][0]
        with_others = model.activations(others, mode=mode)[last][0]
        independent = np.allclose(in_batch, with_others, atol=SAME_SCORES_ATOL)
        expected = normalization != "batchnorm" or mode == "test"
        assert independent == expected, (normalization, mode, in_batch, with_others)
        if normalization != "batchnorm":  # batchnorm refuses a batch of one in train mode
            alone = model.activations(X[:1], mode=mode)[last][0]
            np.testing.assert_allclose(alone, in_batch, atol=SAME_SCORES_ATOL)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(normalization="groupnorm"), ValueError, ["groupnorm", "num_groups", "None"]),
        (dict(normalization="groupnorm", num_groups=0), ValueError, ["num_groups", ">= 1", "0"]),
        (dict(normalization="groupnorm", num_groups=-2), ValueError, ["num_groups", "-2"]),
        (dict(normalization="groupnorm", num_groups=2.0), TypeError, ["num_groups", "2.0"]),
        (dict(normalization="groupnorm", num_groups=True), TypeError, ["num_groups", "True"]),
        (dict(normalization="groupnorm", num_groups="2"), TypeError, ["num_groups", "'2'"]),
        # 4 does not divide conv1's 6 channels; 3 divides 6 but not conv2's 16
        (
            dict(normalization="groupnorm", num_groups=4),
            ValueError,
            ["num_groups", "groupnorm1", "C = 6", "num_groups = 4"],
        ),
        (
            dict(normalization="groupnorm", num_groups=3),
            ValueError,
            ["num_groups", "groupnorm2", "C = 16", "num_groups = 3"],
        ),
        (dict(normalization="layernorm", num_groups=2), ValueError, ["num_groups", "'layernorm'"]),
        (dict(normalization=None, num_groups=2), ValueError, ["num_groups", "None"]),
        (dict(normalization="instancenorm"), ValueError, ["normalization", "'groupnorm'"]),
    ],
)
def test_lenet_refuses_bad_normalization_settings(kwargs, error, words):
    assert_refused(LeNet, kwargs, error, words)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(normalization="groupnorm"), ValueError, ["num_groups", "None"]),
        (dict(normalization="groupnorm", num_groups=5), ValueError, ["C = 32", "= 5"]),
        (dict(normalization="batchnorm", num_groups=4), ValueError, ["num_groups", "'batchnorm'"]),
    ],
)
def test_three_layer_convnet_refuses_bad_normalization_settings(kwargs, error, words):
    with pytest.raises(error) as info:
        ThreeLayerConvNet(**kwargs)
    for word in words:
        assert word in str(info.value), str(info.value)
