"""ThreeLayerConvNet and LeNet: whole-net gradient checks, dtypes, shapes, bad arguments, and
parity with the same net built in PyTorch (forward, every gradient, running statistics)."""

from __future__ import annotations

import numpy as np
import pytest
from net_checks import assert_net_gradients, assert_refused

from bnlab.nets import LeNet, ThreeLayerConvNet
from bnlab.nets.registry import NORMALIZATIONS, SPATIAL_NORMALIZATIONS

# A LeNet with every layer of LeNet-5 but a few units per layer: small enough to check every
# parameter numerically. On 12x12 inputs: 12 -> conv 12 -> pool 6 -> conv 2 -> pool 1.
SMALL_LENET = dict(input_dim=(1, 12, 12), num_classes=3, num_filters=(2, 3), hidden_dims=(5, 4))
SMALL_CONVNET = dict(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5, num_classes=4)
# Parity with PyTorch in float64: the same sums in a different order, three SGD steps deep.
PARITY_RTOL = 1e-10
PARITY_ATOL = 1e-13  # for the conv/affine biases before batchnorm, whose gradient is ~1e-17
XAVIER_STD_RTOL = 0.06  # 4 sigma of a std estimated from 2400 draws


def labels(rng, N, C):
    return rng.integers(0, C, N)


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_three_layer_convnet_gradients(normalization, reg):
    """Every parameter against a numerical gradient: relative error <= 1e-7."""
    rng = np.random.default_rng(0)
    model = ThreeLayerConvNet(
        **SMALL_CONVNET, weight_scale="he", reg=reg, normalization=normalization,
        dtype=np.float64, seed=1,
    )  # fmt: skip
    X = rng.standard_normal((4, *SMALL_CONVNET["input_dim"]))
    assert_net_gradients(model, X, labels(rng, 4, SMALL_CONVNET["num_classes"]))


@pytest.mark.parametrize(
    "normalization, activation, pooling, reg",
    [
        ("batchnorm", "sigmoid", "avg", 0.0),  # study note 001's net
        (None, "sigmoid", "avg", 0.0),  # d2l's plain LeNet
        # Not relu with batchnorm here: when every 2x2 window's maximum passes the relu,
        # shifting beta2 shifts affine3's output by one constant for the whole batch, which
        # batchnorm3 removes, so beta2's true gradient is 0 and a ratio check means nothing
        # (test_matches_pytorch_over_three_sgd_steps covers batchnorm + relu + max pool).
        ("batchnorm", "tanh", "max", 0.3),
        (None, "relu", "max", 0.3),
    ],
)
def test_lenet_gradients(normalization, activation, pooling, reg):
    """Every parameter against a numerical gradient: relative error <= 1e-7."""
    rng = np.random.default_rng(2)
    model = LeNet(
        **SMALL_LENET, normalization=normalization, activation=activation, pooling=pooling,
        weight_scale=0.5, reg=reg, dtype=np.float64, seed=3,
    )  # fmt: skip
    X = rng.standard_normal((4, *SMALL_LENET["input_dim"]))
    assert_net_gradients(model, X, labels(rng, 4, SMALL_LENET["num_classes"]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "make, image, num_classes",
    [
        (lambda dtype: LeNet(dtype=dtype, seed=0), (1, 28, 28), 10),
        (
            lambda dtype: LeNet(normalization=None, pooling="max", dtype=dtype, seed=0),
            (1, 28, 28),
            10,
        ),
        (
            lambda dtype: ThreeLayerConvNet(
                **SMALL_CONVNET, normalization="batchnorm", dtype=dtype
            ),
            SMALL_CONVNET["input_dim"],
            SMALL_CONVNET["num_classes"],
        ),
    ],
    ids=["lenet-bn", "lenet-plain-max", "convnet-bn"],
)
def test_dtype_is_preserved(make, image, num_classes, dtype):
    model = make(dtype)
    X = np.random.default_rng(0).standard_normal((3, *image)).astype(dtype)
    scores = model.loss(X)
    assert scores.dtype == dtype and scores.shape == (3, num_classes)
    _, grads = model.loss(X, np.array([0, 1, 2]))
    for name, grad in grads.items():
        assert grad.dtype == dtype, name
        assert model.params[name].dtype == dtype, name


def test_lenet_shapes_follow_lenet5():
    model = LeNet(seed=0)
    shapes = {name: param.shape for name, param in model.params.items()}
    assert shapes == {
        "W1": (6, 1, 5, 5), "b1": (6,), "gamma1": (6,), "beta1": (6,),
        "W2": (16, 6, 5, 5), "b2": (16,), "gamma2": (16,), "beta2": (16,),
        "W3": (400, 120), "b3": (120,), "gamma3": (120,), "beta3": (120,),
        "W4": (120, 84), "b4": (84,), "gamma4": (84,), "beta4": (84,),
        "W5": (84, 10), "b5": (10,),
    }  # fmt: skip
    assert len(model.bn_params) == 4
    X = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    outputs = model.activations(X)
    assert {name: out.shape[1:] for name, out in outputs.items()} == {
        "conv1": (6, 28, 28), "batchnorm1": (6, 28, 28), "sigmoid1": (6, 28, 28),
        "avg_pool1": (6, 14, 14),
        "conv2": (16, 10, 10), "batchnorm2": (16, 10, 10), "sigmoid2": (16, 10, 10),
        "avg_pool2": (16, 5, 5),
        "affine3": (120,), "batchnorm3": (120,), "sigmoid3": (120,),
        "affine4": (84,), "batchnorm4": (84,), "sigmoid4": (84,),
        "affine5": (10,),
    }  # fmt: skip


def test_lenet_without_batchnorm_has_no_gamma_beta_and_32x32_inputs_work():
    model = LeNet(input_dim=(3, 32, 32), normalization=None, seed=0)
    assert not any(name.startswith(("gamma", "beta")) for name in model.params)
    assert model.bn_params == [] and model.params["W3"].shape == (16 * 6 * 6, 120)
    assert model.params["W1"].shape == (6, 3, 5, 5)


def test_three_layer_convnet_shapes_are_cs231n_s():
    model = ThreeLayerConvNet(seed=0)
    shapes = {name: param.shape for name, param in model.params.items()}
    assert shapes == {
        "W1": (32, 3, 7, 7), "b1": (32,), "W2": (32 * 16 * 16, 100), "b2": (100,),
        "W3": (100, 10), "b3": (10,),
    }  # fmt: skip
    assert [layer.name for layer in model.layers] == [
        "conv1", "relu1", "max_pool1", "affine2", "relu2", "affine3",
    ]  # fmt: skip
    assert model.layers[0].state == {"stride": 1, "pad": 3}
    assert model.params["W1"].std() == pytest.approx(1e-3, rel=0.05)  # cs231n's weight_scale
    bn = ThreeLayerConvNet(seed=0, normalization="batchnorm")
    assert bn.params["gamma1"].shape == (32,) and bn.params["gamma2"].shape == (100,)
    # spatial batchnorm after the conv, the (N, D) one after the hidden affine layer
    assert bn.layers[1].forward is SPATIAL_NORMALIZATIONS["batchnorm"][0]
    assert bn.layers[5].name == "batchnorm2"
    assert bn.layers[5].forward is NORMALIZATIONS["batchnorm"][0]


def test_xavier_uses_the_filter_fans():
    """fan_in = C*HH*WW, fan_out = F*HH*WW (PyTorch's convention for conv weights)."""
    model = LeNet(dtype=np.float64, seed=0)
    expected = np.sqrt(2 / (6 * 25 + 16 * 25))
    assert model.params["W2"].std() == pytest.approx(expected, rel=XAVIER_STD_RTOL)


def test_seed_and_regularisation_of_conv_weights():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((4, 1, 12, 12)), labels(rng, 4, 3)
    plain = LeNet(**SMALL_LENET, dtype=np.float64, seed=5)
    same = LeNet(**SMALL_LENET, dtype=np.float64, seed=5)
    assert all(np.array_equal(plain.params[k], same.params[k]) for k in plain.params)
    reg = LeNet(**SMALL_LENET, dtype=np.float64, seed=5, reg=0.7)
    weights = [f"W{i}" for i in range(1, 6)]
    assert sorted(reg.weight_names()) == weights  # the 4-D conv filters too, not biases/gammas
    expected = sum(0.5 * 0.7 * np.sum(plain.params[w] ** 2) for w in weights)
    assert reg.loss(X, y)[0] - plain.loss(X, y)[0] == pytest.approx(expected, rel=1e-12)


def test_single_example_in_test_mode():
    model = LeNet(seed=0)
    X = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    assert model.loss(X).shape == (1, 10)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(normalization="instancenorm"), ValueError, ["normalization", "'instancenorm'"]),
        (dict(activation="gelu"), ValueError, ["activation", "'gelu'"]),
        (dict(pooling="median"), ValueError, ["pooling", "'median'", "'avg'"]),
        (dict(input_dim=(1, 30, 30)), ValueError, ["input_dim (1, 30, 30)", "avg_pool2", "11"]),
        (dict(input_dim=(1, 8, 8)), ValueError, ["input_dim (1, 8, 8)", "conv2", "larger"]),
        (dict(input_dim=(28, 28)), ValueError, ["conv1 needs images", "(C, H, W)"]),
        (dict(input_dim=(1, 0, 28)), ValueError, ["input_dim", "positive integers"]),
        (dict(weight_scale=-1.0), ValueError, ["weight_scale", "-1.0"]),
        (dict(weight_scale=float("nan")), ValueError, ["weight_scale", "positive number"]),
        (dict(weight_scale=True), TypeError, ["weight_scale", "True"]),
        (dict(weight_scale=1e39), ValueError, ["weight_scale", "float32", "3.4e+38", "1e+39"]),
        (dict(weight_scale=1e-46), ValueError, ["weight_scale", "float32", "1.4e-45"]),
        (dict(weight_scale=None), TypeError, ["weight_scale", "'he' or 'xavier'", "None"]),
        (dict(dtype=np.int32), ValueError, ["dtype", "int32"]),
        (dict(reg=-0.1), ValueError, ["reg", "-0.1"]),
        (dict(num_classes=0), ValueError, ["num_classes", ">= 1"]),
        (dict(num_classes=2.5), TypeError, ["num_classes", "2.5"]),
        (dict(hidden_dims=(120,)), ValueError, ["hidden_dims", "2 sizes", "(120,)"]),
        (dict(num_filters=6), ValueError, ["num_filters", "2 sizes"]),
    ],
)
def test_lenet_bad_arguments(kwargs, error, words):
    assert_refused(LeNet, kwargs, error, words)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(input_dim=(3, 31, 31)), ValueError, ["input_dim (3, 31, 31)", "max_pool1"]),
        (dict(filter_size=4), ValueError, ["max_pool1 gets inputs of shape (32, 31, 31)"]),
        (dict(num_filters=0), ValueError, ["num_filters", ">= 1"]),
        (dict(filter_size="7"), TypeError, ["filter_size", "'7'"]),
        (dict(hidden_dim=-3), ValueError, ["hidden_dim", "-3"]),
        (dict(normalization="groupnorm1d"), ValueError, ["normalization", "'groupnorm1d'"]),
        (dict(weight_scale="lecun"), ValueError, ["weight_scale", "'lecun'"]),
    ],
)
def test_three_layer_convnet_bad_arguments(kwargs, error, words):
    with pytest.raises(error) as info:
        ThreeLayerConvNet(**kwargs)
    for word in words:
        assert word in str(info.value), str(info.value)


def test_wrong_image_shape_is_refused_with_the_layer_s_message():
    model = LeNet(seed=0)
    X = np.zeros((2, 3, 28, 28), dtype=np.float32)  # colour images into a grey LeNet
    with pytest.raises(ValueError, match=r"w must have shape \(F, C, HH, WW\) with C = 3"):
        model.loss(X)


# -- parity with PyTorch ------------------------------------------------------------------------


def torch_twin(model):
    """The model's chain as a torch.nn.Sequential with the same weights, in float64.

    Returns (net, params) with params: our parameter name -> (torch parameter, transposed?).
    Batchnorm gets PyTorch's momentum 0.1 (bnlab's 0.9 with unbiased=True, set by the caller).
    """
    torch = pytest.importorskip("torch")
    nn = torch.nn
    modules, params, bns = [], {}, []
    for layer in model.layers:
        kind, i = layer.name.rstrip("0123456789"), layer.name.lstrip("abcdefghijklmnopqrstuvwxyz_")
        if kind == "conv":
            F, C, k, _ = model.params[f"W{i}"].shape
            stride, pad = layer.state["stride"], layer.state["pad"]
            module = nn.Conv2d(C, F, k, stride=stride, padding=pad)
            names = {"weight": (f"W{i}", False), "bias": (f"b{i}", False)}
        elif kind == "affine":
            D, M = model.params[f"W{i}"].shape
            modules.append(nn.Flatten())
            module = nn.Linear(D, M)
            names = {"weight": (f"W{i}", True), "bias": (f"b{i}", False)}
        elif kind == "batchnorm":
            spatial = layer.forward is SPATIAL_NORMALIZATIONS["batchnorm"][0]
            features = model.params[f"gamma{i}"].shape[0]
            module = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(features, momentum=0.1)
            names = {"weight": (f"gamma{i}", False), "bias": (f"beta{i}", False)}
            bns.append(module)
        else:
            pools = {"avg_pool": nn.AvgPool2d, "max_pool": nn.MaxPool2d}
            if kind in pools:
                module = pools[kind](layer.state["pool_height"], layer.state["stride"])
            else:
                module = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}[kind]()
            names = {}
        module = module.double()
        for attr, (name, transposed) in names.items():
            value = model.params[name].T if transposed else model.params[name]
            getattr(module, attr).data = torch.tensor(np.ascontiguousarray(value))
            params[name] = (getattr(module, attr), transposed)
        modules.append(module)
    return nn.Sequential(*modules), params, bns


def assert_parity(what, ours, theirs):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    np.testing.assert_allclose(
        ours, theirs, rtol=PARITY_RTOL, atol=PARITY_ATOL, err_msg=f"{what}: ours vs torch"
    )


@pytest.mark.parametrize(
    "make, image",
    [
        (lambda: LeNet(dtype=np.float64, seed=0), (1, 28, 28)),
        (lambda: LeNet(activation="relu", pooling="max", dtype=np.float64, seed=1), (1, 28, 28)),
        (
            lambda: ThreeLayerConvNet(
                **SMALL_CONVNET,
                normalization="batchnorm",
                weight_scale="he",
                dtype=np.float64,
                seed=2,
            ),
            SMALL_CONVNET["input_dim"],
        ),
    ],
    ids=["lenet-bn", "lenet-bn-relu-max", "convnet-bn"],
)
def test_matches_pytorch_over_three_sgd_steps(make, image):
    """Loss, every gradient and the running statistics after 3 SGD steps, then test-mode scores."""
    torch = pytest.importorskip("torch")
    model = make()
    for bn_param in model.bn_params:
        bn_param["unbiased"] = True  # PyTorch's running_var; bnlab momentum 0.9 = PyTorch's 0.1
    net, params, bns = torch_twin(model)
    rng = np.random.default_rng(0)
    learning_rate = 0.5
    num_classes = model.params[model.layers[-1].param_names[0]].shape[1]  # W of the last
    for step in range(3):
        X, y = rng.standard_normal((8, *image)), labels(rng, 8, num_classes)
        loss, grads = model.loss(X, y)
        net.train()
        net.zero_grad()
        torch_loss = torch.nn.functional.cross_entropy(net(torch.tensor(X)), torch.tensor(y))
        torch_loss.backward()
        assert_parity(f"loss at step {step}", loss, torch_loss)
        for name, (param, transposed) in params.items():
            theirs = param.grad.T if transposed else param.grad
            assert_parity(f"d{name} at step {step}", grads[name], theirs)
            model.params[name] -= learning_rate * grads[name]
            with torch.no_grad():
                param -= learning_rate * param.grad
    for j, (bn_param, bn) in enumerate(zip(model.bn_params, bns, strict=True)):
        assert_parity(f"running_mean of batchnorm {j}", bn_param["running_mean"], bn.running_mean)
        assert_parity(f"running_var of batchnorm {j}", bn_param["running_var"], bn.running_var)
    X = rng.standard_normal((5, *image))
    net.eval()
    assert_parity("test-mode scores", model.loss(X), net(torch.tensor(X)))


def test_numpy_scalar_weight_scale_is_a_std():
    model = LeNet(weight_scale=np.float32(0.01), seed=0)
    assert model.params["W3"].std() == pytest.approx(0.01, rel=0.05)  # 48000 values


@pytest.mark.parametrize("make", [LeNet, ThreeLayerConvNet], ids=["LeNet", "ThreeLayerConvNet"])
def test_the_first_conv_skips_its_dx_and_the_others_do_not(make):
    """The input's gradient is never used; computing it (col2im over the largest map) is waste."""
    input_dim = (1, 28, 28) if make is LeNet else (3, 16, 16)
    model = make(input_dim=input_dim, seed=0)
    calls = []
    for layer in model.layers:
        if layer.name.startswith("conv"):
            layer.backward = spy(layer.name, layer.backward, calls)
    x = np.random.default_rng(0).standard_normal((2, *input_dim)).astype(np.float32)
    model.loss(x, np.array([0, 1]))
    first, *rest = [layer.name for layer in model.layers if layer.name.startswith("conv")]
    assert calls[-1] == (first, {"need_dx": False})  # the backward walks the chain in reverse
    assert all(kwargs == {} for name, kwargs in calls[:-1]) and len(calls) == 1 + len(rest)


def spy(name, backward, calls):
    def recorded(dout, cache, **kwargs):
        calls.append((name, kwargs))
        return backward(dout, cache, **kwargs)

    return recorded
