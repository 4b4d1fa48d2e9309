"""FullyConnectedNet: whole-net gradient checks, dtypes, the legacy keywords, the model API."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from net_checks import assert_net_gradients

from bnlab.layers.sandwich import sandwich_backward, sandwich_forward
from bnlab.nets import ChainNet, FullyConnectedNet, Layer, LeNet, ThreeLayerConvNet, TwoLayerNet


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
    # dropout=0.25 without a course year: read as 2017's drop probability, with a warning
    # (the year conventions are tested in tests/test_cs231n_notebooks.py)
    with pytest.warns(UserWarning, match="set_cs231n_year"):
        model = FullyConnectedNet([5], input_dim=3, num_classes=2, use_batchnorm=True, dropout=0.25)
    assert model.normalization == "batchnorm"
    assert model.use_dropout and model.dropout_param["keep_prob"] == pytest.approx(0.75)
    assert FullyConnectedNet([5], input_dim=3, use_batchnorm=False).normalization is None
    # no dropout in every year: 0 (2017's drop probability) and 1 (2018-2019's keep probability)
    assert not FullyConnectedNet([5], input_dim=3, dropout=0).use_dropout
    assert not FullyConnectedNet([5], input_dim=3, dropout=1).use_dropout


def test_two_layer_net_computes_in_float64_like_cs231n():
    model = TwoLayerNet(input_dim=4, hidden_dim=3, num_classes=2, seed=0)
    assert model.dtype == np.float64
    assert all(value.dtype == np.float64 for value in model.params.values())
    assert model.loss(np.ones((2, 4), np.float32)).dtype == np.float64
    assert TwoLayerNet(input_dim=4, dtype=np.float32).params["W1"].dtype == np.float32


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
    assert max(solver.train_metric_history) == 1.0


# --- how every net is built and run ---------------------------------------------------------

# The four nets, small; weight_scale a fixed std so the draws can be redone by hand below.
NETS = {
    "FullyConnectedNet": lambda: FullyConnectedNet(
        [6, 5], input_dim=12, num_classes=3, normalization="batchnorm", dropout_keep_ratio=0.8,
        weight_scale=0.05, dtype=np.float64, seed=4,
    ),
    "TwoLayerNet": lambda: TwoLayerNet(
        input_dim=12, hidden_dim=6, num_classes=3, weight_scale=0.05, dtype=np.float64, seed=4
    ),
    "ThreeLayerConvNet": lambda: ThreeLayerConvNet(
        input_dim=(3, 2, 2), num_filters=4, filter_size=3, hidden_dim=5, num_classes=3,
        normalization="batchnorm", weight_scale=0.05, dtype=np.float64, seed=4,
    ),
    "LeNet": lambda: LeNet(
        input_dim=(3, 12, 12), num_classes=3, num_filters=(2, 3), hidden_dims=(5, 4),
        weight_scale=0.05, dtype=np.float64, seed=4,
    ),
}  # fmt: skip


def net_inputs(model, N=4):
    """X of the net's input shape and N labels."""
    rng = np.random.default_rng(5)
    W1 = model.params["W1"]
    if W1.ndim == 2:
        shape = (W1.shape[0],)
    else:
        shape = (3, 12, 12) if isinstance(model, LeNet) else (3, 2, 2)
    return rng.standard_normal((N, *shape)), rng.integers(0, 3, N)


@pytest.mark.parametrize("name", NETS)
def test_every_net_is_a_chain_net_with_the_model_api(name):
    model = NETS[name]()
    assert isinstance(model, ChainNet) and all(isinstance(layer, Layer) for layer in model.layers)
    assert model.reg == 0.0 and model.dtype is np.float64 and model.loss_type == "softmax"
    assert isinstance(model.dropout_param, dict) and isinstance(model.norm_params, list)
    for layer in model.layers:
        if layer.name.startswith("dropout"):
            assert layer.state is model.dropout_param  # one dict shared by every dropout layer
        if layer.name.startswith("batchnorm"):
            assert any(layer.state is state for state in model.norm_params)
    X, _ = net_inputs(model)
    assert list(model.activations(X)) == [layer.name for layer in model.layers]


@pytest.mark.parametrize("name", NETS)
def test_weights_are_drawn_in_layer_order_from_the_seed(name):
    """W1, W2, ... are consecutive draws of one default_rng(seed); gamma, beta, b draw nothing."""
    model = NETS[name]()
    rng = np.random.default_rng(4)
    weights = sorted((k for k in model.params if k.startswith("W")), key=lambda k: int(k[1:]))
    for k in weights:
        expected = (0.05 * rng.standard_normal(model.params[k].shape)).astype(np.float64)
        assert np.array_equal(model.params[k], expected), k


@pytest.mark.parametrize("name", NETS)
def test_every_net_runs_its_layers_through_the_sandwich_chain(name, monkeypatch):
    """loss() and activations() chain the layers with sandwich_forward / sandwich_backward,
    the mechanism of the sandwich layers (bnlab.layers.sandwich)."""
    import bnlab.nets.model

    model = NETS[name]()
    calls = []

    def spy(kind, chain):
        def recorded(x, *layers, **kwargs):
            calls.append((kind, len(layers) - (kind == "backward")))  # backward: cache first
            return chain(x, *layers, **kwargs)

        return recorded

    monkeypatch.setattr(bnlab.nets.model, "sandwich_forward", spy("forward", sandwich_forward))
    monkeypatch.setattr(bnlab.nets.model, "sandwich_backward", spy("backward", sandwich_backward))
    X, y = net_inputs(model)
    model.loss(X, y)
    model.activations(X)
    n = len(model.layers)
    assert calls == [("forward", n), ("backward", n), ("forward", n)]


def test_the_first_affine_layer_skips_its_dx():
    model = FullyConnectedNet([5, 4], input_dim=3, num_classes=2, seed=0)
    calls = []
    for layer in model.layers:
        if layer.name.startswith("affine"):
            backward = layer.backward

            def recorded(dout, cache, _name=layer.name, _backward=backward, **kwargs):
                calls.append((_name, kwargs))
                return _backward(dout, cache, **kwargs)

            layer.backward = recorded
    model.loss(np.ones((2, 3), np.float32), np.array([0, 1]))
    assert calls == [("affine3", {}), ("affine2", {}), ("affine1", {"need_dx": False})]


@pytest.mark.parametrize("normalization", ["batchnorm", "layernorm"])
def test_bn_params_is_norm_params(normalization):
    """cs231n's notebooks read model.bn_params; it is the list of every normalisation dict."""
    model = FullyConnectedNet([5, 4], input_dim=3, normalization=normalization, seed=0)
    assert model.bn_params is model.norm_params and len(model.norm_params) == 2
    norm_layers = [layer for layer in model.layers if layer.name.startswith(normalization)]
    assert all(a is b.state for a, b in zip(model.norm_params, norm_layers, strict=True))
    replacement = [{"mode": "train"}, {"mode": "train"}]
    model.bn_params = replacement
    assert model.norm_params is replacement


def test_the_nets_do_not_import_the_solver():
    code = (
        "import sys, bnlab.nets; "
        "print(sorted(m for m in sys.modules if m.startswith('bnlab.solver')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )  # fmt: skip
    assert result.stdout.strip() == "[]"


def test_only_the_registry_imports_layer_functions():
    """One spot to switch the nets to other layer functions (e.g. the fast ones): registry.py.
    model.py imports the chain itself, sandwich_forward / sandwich_backward."""
    import ast

    import bnlab.nets

    importers = {}
    for path in Path(bnlab.nets.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            module = getattr(node, "module", None) or ""
            # argument checks (bnlab.layers.checks) are not layer functions
            if module.startswith("bnlab.layers") and module != "bnlab.layers.checks":
                importers.setdefault(path.name, set()).update(a.name for a in node.names)
    assert importers.pop("model.py") == {"sandwich_forward", "sandwich_backward"}
    assert list(importers) == ["registry.py"]


def test_without_a_seed_weights_are_cs231n_draws_from_the_global_generator():
    # cs231n's nets: W = weight_scale * np.random.randn(*shape), layer by layer in order
    np.random.seed(0)  # noqa: NPY002 (what a cs231n notebook does)
    model = ThreeLayerConvNet(
        (3, 8, 8), num_filters=4, filter_size=3, hidden_dim=5, weight_scale=1e-2, dtype=np.float64
    )
    np.random.seed(0)  # noqa: NPY002
    for name, shape in [("W1", (4, 3, 3, 3)), ("W2", (4 * 4 * 4, 5)), ("W3", (5, 10))]:
        assert np.array_equal(model.params[name], 1e-2 * np.random.randn(*shape)), name  # noqa: NPY002
    first = FullyConnectedNet([4], input_dim=3, seed=5).params["W1"]
    np.random.randn(3)  # noqa: NPY002 (moves the global generator on)
    second = FullyConnectedNet([4], input_dim=3, seed=5).params["W1"]
    assert np.array_equal(first, second)  # a seed: the net's own generator, whatever the global
