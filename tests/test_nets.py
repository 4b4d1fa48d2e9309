"""FullyConnectedNet: whole-net gradient checks, dtypes, the legacy keywords, the model API."""

import numpy as np
import pytest
from net_checks import assert_net_gradients

from bnlab.nets import FullyConnectedNet


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("reg", [0.0, 3.14])
@pytest.mark.parametrize("keep", [1.0, 0.6])
def test_whole_net_gradients(normalization, reg, keep):
    rng = np.random.default_rng(0)
    N, D, C = 4, 12, 7
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    model = FullyConnectedNet(
        [10, 8],
        input_dim=D,
        num_classes=C,
        normalization=normalization,
        reg=reg,
        dropout_keep_ratio=keep,
        weight_scale=0.5,
        dtype=np.float64,
        seed=3,  # fixes the dropout mask, so the loss is a deterministic function
    )
    assert_net_gradients(model, X, y)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("loss", ["svm", "mse"])
def test_other_activations_and_losses(activation, loss):
    rng = np.random.default_rng(1)
    N, D = 5, 6
    C = 1 if loss == "mse" else 4
    X = rng.standard_normal((N, D))
    y = rng.standard_normal(N) if loss == "mse" else rng.integers(0, C, N)
    model = FullyConnectedNet(
        [7, 5], input_dim=D, num_classes=C, activation=activation, loss=loss,
        normalization="batchnorm", weight_scale="xavier", dtype=np.float64, seed=0,
    )  # fmt: skip
    assert_net_gradients(model, X, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_dtype_is_preserved(dtype, normalization):
    rng = np.random.default_rng(0)
    model = FullyConnectedNet(
        [6, 5], input_dim=3 * 2 * 2, num_classes=3, normalization=normalization,
        dropout_keep_ratio=0.5, dtype=dtype, seed=0,
    )  # fmt: skip
    X = rng.standard_normal((4, 3, 2, 2)).astype(dtype)
    scores = model.loss(X)
    assert scores.dtype == dtype and scores.shape == (4, 3)
    _, grads = model.loss(X, np.array([0, 1, 2, 0]))
    for name, grad in grads.items():
        assert grad.dtype == dtype, name
        assert model.params[name].dtype == dtype, name


def test_parameter_names_and_initial_values():
    model = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, normalization="batchnorm", seed=0)
    assert sorted(model.params) == sorted(
        ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    )
    assert model.params["W1"].shape == (3, 5) and model.params["W3"].shape == (4, 2)
    assert np.all(model.params["gamma2"] == 1) and np.all(model.params["beta2"] == 0)
    assert len(model.bn_params) == 2


def test_seed_makes_initialisation_reproducible():
    a = FullyConnectedNet([5], input_dim=3, num_classes=2, seed=7)
    b = FullyConnectedNet([5], input_dim=3, num_classes=2, seed=7)
    c = FullyConnectedNet([5], input_dim=3, num_classes=2, seed=8)
    assert np.array_equal(a.params["W1"], b.params["W1"])
    assert not np.array_equal(a.params["W1"], c.params["W1"])


def test_weight_scale_he_and_xavier():
    rng_dims = dict(input_dim=2000, num_classes=10, seed=0, dtype=np.float64)
    he = FullyConnectedNet([1000], weight_scale="he", **rng_dims)
    xavier = FullyConnectedNet([1000], weight_scale="xavier", **rng_dims)
    assert he.params["W1"].std() == pytest.approx(np.sqrt(2 / 2000), rel=0.02)
    assert xavier.params["W1"].std() == pytest.approx(np.sqrt(2 / 3000), rel=0.02)


def test_regularisation_adds_half_reg_squared_weights():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((3, 4)), np.array([0, 1, 0])
    plain = FullyConnectedNet([5], input_dim=4, num_classes=2, dtype=np.float64, seed=0)
    reg = FullyConnectedNet([5], input_dim=4, num_classes=2, dtype=np.float64, seed=0, reg=0.7)
    expected = sum(0.5 * 0.7 * np.sum(plain.params[w] ** 2) for w in ("W1", "W2"))
    assert reg.loss(X, y)[0] - plain.loss(X, y)[0] == pytest.approx(expected, rel=1e-12)
    # biases are not regularised
    assert np.allclose(reg.loss(X, y)[1]["b1"], plain.loss(X, y)[1]["b1"])


def test_legacy_keywords():
    model = FullyConnectedNet([5], input_dim=3, num_classes=2, use_batchnorm=True, dropout=0.25)
    assert model.normalization == "batchnorm"
    assert model.use_dropout and model.dropout_param["p"] == pytest.approx(0.75)
    assert FullyConnectedNet([5], input_dim=3, use_batchnorm=False).normalization is None
    assert not FullyConnectedNet([5], input_dim=3, dropout=0).use_dropout


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(use_batchnorm=True, normalization="layernorm"), ["use_batchnorm", "normalization"]),
        (dict(dropout=0.5, dropout_keep_ratio=0.9), ["dropout", "dropout_keep_ratio"]),
        (dict(normalization="groupnorm"), ["normalization", "'batchnorm'", "'groupnorm'"]),
        (dict(activation="gelu"), ["activation", "'relu'", "'gelu'"]),
        (dict(loss="hinge"), ["loss", "'softmax'"]),
        (dict(dropout_keep_ratio=0.0), ["dropout_keep_ratio", "(0, 1]"]),
        (dict(weight_scale=-1.0), ["weight_scale", "-1.0"]),
        (dict(weight_scale="lecun"), ["weight_scale", "'he'"]),
        (dict(dtype=np.int32), ["dtype"]),
        (dict(reg=-0.1), ["reg", "-0.1"]),
    ],
)
def test_bad_constructor_arguments(kwargs, words):
    with pytest.raises(ValueError) as info:
        FullyConnectedNet([5], input_dim=3, num_classes=2, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_bad_hidden_dims():
    with pytest.raises(ValueError, match="positive integers"):
        FullyConnectedNet([5, 0], input_dim=3)


def test_test_mode_uses_running_statistics_and_leaves_them_alone():
    rng = np.random.default_rng(0)
    model = FullyConnectedNet([6], input_dim=4, num_classes=3, normalization="batchnorm", seed=0)
    X = rng.standard_normal((8, 4)).astype(np.float32)
    model.loss(X, rng.integers(0, 3, 8))
    before = {k: v.copy() for k, v in model.bn_params[0].items() if isinstance(v, np.ndarray)}
    one = model.loss(X[:1])  # a single example works in test mode
    assert one.shape == (1, 3)
    for k, v in before.items():
        assert np.array_equal(model.bn_params[0][k], v)


def test_activations_returns_every_layer_output():
    model = FullyConnectedNet([6, 5], input_dim=4, num_classes=3, normalization="batchnorm", seed=0)
    X = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    outputs = model.activations(X)
    assert list(outputs) == [
        "affine1", "batchnorm1", "relu1", "affine2", "batchnorm2", "relu2", "affine3",
    ]  # fmt: skip
    assert outputs["affine1"].shape == (8, 6)
    assert np.allclose(outputs["affine3"], model.loss(X))


def test_integer_input_is_refused():
    model = FullyConnectedNet([5], input_dim=3, num_classes=2)
    with pytest.raises(TypeError, match="X must have dtype float32 or float64"):
        model.loss(np.ones((2, 3), dtype=np.int64))


def test_two_layer_net_is_cs231ns():
    from bnlab.nets import TwoLayerNet

    model = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.5, seed=0,
                        dtype=np.float64)  # fmt: skip
    assert sorted(model.params) == ["W1", "W2", "b1", "b2"]
    assert model.params["W1"].shape == (6, 5) and model.params["W2"].shape == (5, 3)
    rng = np.random.default_rng(0)
    assert_net_gradients(model, rng.standard_normal((4, 6)), rng.integers(0, 3, 4))


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_overfits_50_real_examples_to_full_train_accuracy(normalization):
    """cs231n's sanity check: a 3-layer net memorises 50 bundled Fashion-MNIST images."""
    from bnlab.data import load_bundled, subsample
    from bnlab.solver import Solver

    data = subsample(load_bundled(), 50, seed=0)
    model = FullyConnectedNet(
        [100, 100], input_dim=784, normalization=normalization, weight_scale="he", seed=0
    )
    solver = Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, num_epochs=20,
        batch_size=25, seed=0, verbose=False,
    )  # fmt: skip
    solver.train()
    assert max(solver.train_acc_history) == 1.0
