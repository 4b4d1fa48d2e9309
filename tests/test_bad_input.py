"""Bad input to the core layers: a ValueError or TypeError whose message names the argument
and shows what was expected and what was given -- never a bare numpy broadcasting error."""

import re

import numpy as np
import pytest

from bnlab.fast.normalization import (
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_backward_fast,
    spatial_batchnorm_forward_fast,
)
from bnlab.fast.pooling import avg_pool_backward_fast
from bnlab.layers import (
    affine_backward,
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    avg_pool_backward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward_fast,
    conv_backward_naive,
    conv_forward_fast,
    conv_forward_naive,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    max_pool_backward_fast,
    max_pool_backward_naive,
    max_pool_forward_fast,
    max_pool_forward_naive,
    mse_loss,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    svm_loss,
    tanh_backward,
    tanh_forward,
)

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 5))  # (N, D)
X4 = rng.standard_normal((2, 3, 4, 4))  # (N, C, H, W)
ONES5, ZEROS5 = np.ones(5), np.zeros(5)
ONES3, ZEROS3 = np.ones(3), np.zeros(3)
SCORES = rng.standard_normal((4, 3))  # (N, C) for the losses


def train():
    return {"mode": "train"}


def bn(x=X, gamma=ONES5, beta=ZEROS5, param=None):
    return lambda: batchnorm_forward(x, gamma, beta, train() if param is None else param)


def spatial(x=X4, gamma=ONES3, beta=ZEROS3, param=None):
    return lambda: spatial_batchnorm_forward(x, gamma, beta, train() if param is None else param)


def dropout(p, **more):
    return lambda: dropout_forward(X, {"p": p, "mode": "train", "seed": 0, **more})


# (id, call, exception, fragments the message must contain)
CASES = [
    # gamma / beta not matching D or C
    ("bn gamma", bn(gamma=np.ones(4)), ValueError, ["gamma", "(5,)", "per feature", "(4,)"]),
    ("bn beta", bn(beta=np.zeros((1, 5))), ValueError, ["beta", "(5,)", "(1, 5)"]),
    ("bn gamma list", bn(gamma=[1.0] * 5), TypeError, ["gamma", "ndarray", "list"]),
    ("spatial gamma", spatial(gamma=np.ones(4)), ValueError,
     ["gamma", "(3,)", "per channel", "(4,)"]),
    ("spatial beta", spatial(beta=np.zeros(2)), ValueError, ["beta", "(3,)", "(2,)"]),
    ("ln gamma", lambda: layernorm_forward(X, np.ones(3), ZEROS5, {}), ValueError,
     ["gamma", "(5,)", "(3,)"]),
    ("ln beta", lambda: layernorm_forward(X, ONES5, np.zeros(6), {}), ValueError,
     ["beta", "(5,)", "(6,)"]),
    # mode
    ("bn mode", bn(param={"mode": "eval"}), ValueError,
     ["bn_param['mode']", "'train'", "'test'", "'eval'"]),
    ("bn mode missing", bn(param={}), ValueError,
     ["bn_param['mode']", "missing", "'train'", "'test'"]),
    ("spatial mode", spatial(param={"mode": "Train"}), ValueError, ["mode", "'train'", "'Train'"]),
    ("dropout mode", dropout(0.5, mode="eval"), ValueError,
     ["dropout_param['mode']", "'train'", "'test'", "'eval'"]),
    # one value per feature in train mode
    ("bn N=1", bn(x=X[:1]), ValueError, ["x", "(1, 5)", "more than one value", "'test'"]),
    ("spatial N=H=W=1", spatial(x=X4[:1, :, :1, :1]), ValueError, ["x", "(1, 3, 1, 1)", "'test'"]),
    # settings
    ("bn eps", bn(param={"mode": "train", "eps": 0.0}), ValueError,
     ["bn_param['eps']", "> 0", "0.0"]),
    ("bn momentum", bn(param={"mode": "train", "momentum": 1.5}), ValueError,
     ["bn_param['momentum']", "[0, 1]", "1.5"]),
    ("bn running_mean", bn(param={"mode": "test", "running_mean": np.zeros(4)}), ValueError,
     ["bn_param['running_mean']", "(5,)", "(4,)"]),
    ("bn running_var", bn(param={"mode": "test", "running_var": np.ones(6)}), ValueError,
     ["bn_param['running_var']", "(5,)", "(6,)"]),
    ("ln eps", lambda: layernorm_forward(X, ONES5, ZEROS5, {"eps": -1.0}), ValueError,
     ["ln_param['eps']", "> 0", "-1.0"]),
    # integer x
    ("bn int x", bn(x=np.ones((4, 5), dtype=np.int64)), TypeError,
     ["x", "float32 or float64", "int64"]),
    ("affine int x", lambda: affine_forward(np.ones((2, 3), np.int32), np.ones((3, 2)), np.ones(2)),
     TypeError, ["x", "float32 or float64", "int32"]),
    ("relu int x", lambda: relu_forward(np.arange(4)), TypeError,
     ["x", "float32 or float64", "int"]),
    ("dropout bool x", lambda: dropout_forward(np.ones(3, bool), {"p": 0.5}), TypeError,
     ["x", "float32 or float64", "bool"]),
    ("softmax list x", lambda: softmax_loss([[1.0, 2.0]], np.array([0])), TypeError,
     ["x", "ndarray", "list"]),
    # labels
    ("softmax label too big", lambda: softmax_loss(SCORES, np.array([0, 1, 2, 3])), ValueError,
     ["y", "[0, 2]", "3 classes", "3"]),
    ("svm negative label", lambda: svm_loss(SCORES, np.array([0, -1, 2, 1])), ValueError,
     ["y", "[0, 2]", "-1"]),
    ("softmax label shape", lambda: softmax_loss(SCORES, np.zeros((4, 1), int)), ValueError,
     ["y", "(4,)", "(4, 1)"]),
    ("svm label count", lambda: svm_loss(SCORES, np.zeros(3, int)), ValueError,
     ["y", "(4,)", "(3,)"]),
    ("softmax float labels", lambda: softmax_loss(SCORES, np.zeros(4)), TypeError,
     ["y", "integer", "float64"]),
    ("svm label list", lambda: svm_loss(SCORES, [0, 1, 2, 0]), TypeError, ["y", "ndarray", "list"]),
    ("mse target shape", lambda: mse_loss(SCORES, np.zeros(4)), ValueError,
     ["y", "(4, 3)", "(or (4,) when x has one column), got (4,)"]),
    ("mse target type", lambda: mse_loss(SCORES, "zeros"), TypeError, ["y", "str"]),
    ("mse target of strings", lambda: mse_loss(SCORES, np.full((4, 3), "a")), TypeError,
     ["y", "numeric numpy ndarray"]),
    # a loss is a mean over the batch: an empty one has none (numpy would give nan)
    ("softmax empty batch", lambda: softmax_loss(SCORES[:0], np.zeros(0, int)), ValueError,
     ["x", "empty batch", "(0, 3)"]),
    ("svm empty batch", lambda: svm_loss(SCORES[:0], np.zeros(0, int)), ValueError,
     ["x", "empty batch", "(0, 3)"]),
    ("mse empty batch", lambda: mse_loss(SCORES[:0], SCORES[:0]), ValueError,
     ["x", "empty batch", "(0, 3)"]),
    ("softmax no classes", lambda: softmax_loss(SCORES[:, :0], np.zeros(4, int)), ValueError,
     ["x", "no columns", "(4, 0)"]),
    ("mse no outputs", lambda: mse_loss(SCORES[:, :0], SCORES[:, :0]), ValueError,
     ["x", "no columns", "(4, 0)"]),
    # dropout p is the keep probability, in (0, 1]
    ("dropout keep_prob=0", lambda: dropout_forward(X, {"keep_prob": 0, "mode": "train"}),
     ValueError, ["dropout_param['keep_prob']", "keep", "(0, 1]", "0"]),
    ("dropout p=1.5", dropout(1.5), ValueError, ["dropout_param['p']", "(0, 1]", "1.5"]),
    ("dropout p=-0.1", dropout(-0.1), ValueError, ["dropout_param['p']", "(0, 1]", "-0.1"]),
    ("dropout p missing", lambda: dropout_forward(X, {"mode": "train"}), ValueError,
     ["dropout_param['p']", "missing"]),
    ("dropout mode missing", lambda: dropout_forward(X, {"p": 0.5}), ValueError,
     ["dropout_param['mode']", "missing", "'train' or 'test'"]),
    ("dropout seed", dropout(0.5, seed="zero"), TypeError, ["dropout_param['seed']", "an int or a np.random.Generator", "str"]),
    # wrong-rank x
    ("bn 3-D x", bn(x=X4[0]), ValueError, ["x", "2-dimensional", "(3, 4, 4)"]),
    ("bn_fast 4-D x", lambda: batchnorm_forward_fast(X4, ONES3, ZEROS3, train()), ValueError,
     ["x", "2-dimensional", "(2, 3, 4, 4)"]),
    ("spatial 2-D x", spatial(x=X), ValueError, ["x", "4-dimensional", "(4, 5)"]),
    ("ln 1-D x", lambda: layernorm_forward(X[0], ONES5, ZEROS5, {}), ValueError,
     ["x", "2-dimensional", "(5,)"]),
    ("softmax 1-D x", lambda: softmax_loss(SCORES[0], np.array([0])), ValueError,
     ["x", "2-dimensional", "(3,)"]),
    ("affine scalar x", lambda: affine_forward(np.array(2.0), np.ones((1, 1)), np.ones(1)),
     ValueError, ["x", "batch dimension", "()"]),
    # w and b not matching x
    ("affine w rows", lambda: affine_forward(X4, np.ones((47, 2)), np.ones(2)), ValueError,
     ["w", "D = 48", "(3, 4, 4)", "(47, 2)"]),
    ("affine w rank", lambda: affine_forward(X, np.ones(5), np.ones(1)), ValueError,
     ["w", "2-dimensional", "(5,)"]),
    ("affine b", lambda: affine_forward(X, np.ones((5, 2)), np.ones(3)), ValueError,
     ["b", "(2,)", "(3,)"]),
    ("affine int w", lambda: affine_forward(X, np.ones((5, 2), np.int64), np.ones(2)), TypeError,
     ["w", "float32 or float64", "int64"]),
    ("leaky_relu slope", lambda: leaky_relu_forward(X, float("nan")), ValueError,
     ["negative_slope", "a finite number", "nan"]),
    ("leaky_relu list x", lambda: leaky_relu_forward([1.0]), TypeError, ["x", "ndarray", "list"]),
    ("sigmoid list x", lambda: sigmoid_forward([1.0]), TypeError, ["x", "ndarray", "list"]),
    ("tanh list x", lambda: tanh_forward([1.0]), TypeError, ["x", "ndarray", "list"]),
    ("dropout list x", lambda: dropout_forward([1.0], {"keep_prob": 0.5, "mode": "train"}),
     TypeError, ["x", "ndarray", "list"]),
    ("sandwich w",
     lambda: affine_bn_relu_forward(X, np.ones((4, 3)), ZEROS3, ONES3, ZEROS3, train()),
     ValueError, ["w", "D = 5", "(4, 3)"]),
    ("sandwich gamma",
     lambda: affine_ln_relu_forward(X, np.ones((5, 3)), ZEROS3, ONES5, ZEROS3, {}),
     ValueError, ["gamma", "(3,)", "(5,)"]),
    # the settings dicts
    ("bn_param list", bn(param=["train"]), TypeError, ["bn_param", "dict", "list"]),
    ("bn_param str", spatial(param="train"), TypeError, ["bn_param", "dict", "str"]),
    ("ln_param None", lambda: layernorm_forward(X, ONES5, ZEROS5, None), TypeError,
     ["ln_param", "dict", "NoneType"]),
    ("dropout_param float", lambda: dropout_forward(X, 0.5), TypeError,
     ["dropout_param", "dict", "float"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "call, error, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_named_with_expected_and_actual(call, error, fragments):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in message: {message}"
    # the argument's name as a whole word: not inside a longer, wrong name
    name = fragments[0]
    assert re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message), f"{name!r} in {message}"


def test_train_mode_needs_two_values_but_test_mode_takes_one():
    # The positive side of the N = 1 cases above.
    running = {"running_mean": np.zeros(5), "running_var": np.ones(5)}
    out, _ = batchnorm_forward(X[:1], ONES5, ZEROS5, {"mode": "test", **running})
    assert out.shape == (1, 5)
    spatial_running = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    out4, _ = spatial_batchnorm_forward(
        X4[:1, :, :1, :1], ONES3, ZEROS3, {"mode": "test", **spatial_running}
    )
    assert out4.shape == (1, 3, 1, 1)
    out, _ = batchnorm_forward(X[:2], ONES5, ZEROS5, train())  # two values: enough
    assert out.shape == (2, 5)
    # one example, four pixels: m = N*H*W = 4 values per channel, enough for train mode
    out4, _ = spatial_batchnorm_forward(X4[:1, :, :2, :2], ONES3, ZEROS3, train())
    assert out4.shape == (1, 3, 2, 2)


# --- dout of the wrong shape, for every backward -----------------------------------------


def _forward_caches():
    """(id, backward, cache, the shape dout should have)."""
    w, b = rng.standard_normal((5, 3)), rng.standard_normal(3)
    cases = []

    def add(name, backward, forward_result):
        out, cache = forward_result
        cases.append((name, backward, cache, out.shape))

    add("affine", affine_backward, affine_forward(X, w, b))
    add("relu", relu_backward, relu_forward(X))
    add("leaky_relu", leaky_relu_backward, leaky_relu_forward(X))
    add("sigmoid", sigmoid_backward, sigmoid_forward(X))
    add("tanh", tanh_backward, tanh_forward(X))
    add("batchnorm", batchnorm_backward, batchnorm_forward(X, ONES5, ZEROS5, train()))
    add("batchnorm_alt", batchnorm_backward_alt, batchnorm_forward(X, ONES5, ZEROS5, train()))
    add(
        "spatial", spatial_batchnorm_backward, spatial_batchnorm_forward(X4, ONES3, ZEROS3, train())
    )
    add("layernorm", layernorm_backward, layernorm_forward(X, ONES5, ZEROS5, {}))
    add("batchnorm_fast", batchnorm_backward_fast,
        batchnorm_forward_fast(X, ONES5, ZEROS5, train()))  # fmt: skip
    add("spatial_fast", spatial_batchnorm_backward_fast,
        spatial_batchnorm_forward_fast(X4, ONES3, ZEROS3, train()))  # fmt: skip
    add("layernorm_fast", layernorm_backward_fast, layernorm_forward_fast(X, ONES5, ZEROS5, {}))
    add(
        "dropout train",
        dropout_backward,
        dropout_forward(X, {"p": 0.5, "mode": "train", "seed": 0}),
    )
    add("dropout test", dropout_backward, dropout_forward(X, {"p": 0.5, "mode": "test"}))
    add("affine_relu", affine_relu_backward, affine_relu_forward(X, w, b))
    add("affine_bn_relu", affine_bn_relu_backward,
        affine_bn_relu_forward(X, w, b, ONES3, ZEROS3, train()))  # fmt: skip
    add("affine_ln_relu", affine_ln_relu_backward,
        affine_ln_relu_forward(X, w, b, ONES3, ZEROS3, {}))  # fmt: skip
    return cases


BACKWARDS = _forward_caches()


@pytest.mark.parametrize(
    "backward, cache, shape", [c[1:] for c in BACKWARDS], ids=[c[0] for c in BACKWARDS]
)
def test_dout_of_the_wrong_shape_is_refused(backward, cache, shape):
    wrong = (*shape[:-1], shape[-1] + 1)
    with pytest.raises(ValueError) as info:
        backward(np.ones(wrong), cache)
    message = str(info.value)
    for fragment in ("dout", str(shape), str(wrong)):
        assert fragment in message, f"{fragment!r} not in message: {message}"
    with pytest.raises(TypeError, match="dout must have dtype float32 or float64"):
        backward(np.ones(shape, dtype=np.int64), cache)


@pytest.mark.parametrize(
    "forward, backward, args",
    [
        (conv_forward_fast, conv_backward_naive, ({"stride": 1, "pad": 1},)),
        (conv_forward_naive, conv_backward_fast, ({"stride": 1, "pad": 1},)),
        (max_pool_forward_fast, max_pool_backward_naive, ()),
        (max_pool_forward_naive, max_pool_backward_fast, ()),
        (max_pool_forward_fast, avg_pool_backward, ()),
        (max_pool_forward_fast, avg_pool_backward_fast, ()),
    ],
    ids=lambda f: getattr(f, "__name__", ""),
)
def test_a_naive_cache_in_a_fast_backward_or_back_is_named(forward, backward, args):
    x = np.ones((2, 3, 4, 4))
    if args:  # conv: w, b and conv_param
        out, cache = forward(x, np.ones((2, 3, 3, 3)), np.zeros(2), *args)
    else:
        out, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    expected_forward = backward.__name__.replace("backward", "forward")
    with pytest.raises(TypeError) as info:
        backward(np.ones_like(out), cache)
    # the backward, the forward it needs, and the forward that made the cache it got
    fragments = [backward.__name__, expected_forward, f"from {forward.__name__}"]
    for fragment in fragments:
        assert fragment in str(info.value)
