"""Layer arguments the checks used to let through to raw Python or NumPy errors (issue 11,
items 6 and 12), for every public layer of the lesson (bnlab.layers) and the fast path.

- item 12: a wrong cache (None, a hand-made tuple, another layer's cache) given to ANY public
  backward; eps, momentum or negative_slope that are not numbers; a list as running_mean; a
  zero-size batch in the affine and conv backwards.
- item 6: a mean or variance that overflows although x is finite (|x - mean| around 1e19 in
  float32) used to give an output of just beta, silently.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import bnlab.fast.activations
import bnlab.fast.conv
import bnlab.fast.normalization
import bnlab.fast.pooling
import bnlab.layers
from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.normalization import (
    batchnorm_forward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_forward_fast,
    spatial_groupnorm_forward_fast,
)
from bnlab.layers import (
    affine_backward,
    affine_bn_relu_forward,
    affine_forward,
    affine_ln_relu_forward,
    batchnorm_forward,
    conv_backward_naive,
    conv_bn_relu_forward,
    conv_forward_naive,
    layernorm_forward,
    leaky_relu_forward,
    spatial_batchnorm_forward,
    spatial_groupnorm_forward,
)
from bnlab.layers.checks import OverflowInNormalization

# --- item 12: every public backward refuses a wrong cache, naming itself and its forward ----


def public_backwards() -> dict[str, object]:
    """Every public backward of bnlab.layers and of the fast modules, found by name."""
    found = {name: getattr(bnlab.layers, name) for name in bnlab.layers.__all__}
    fast = (bnlab.fast.activations, bnlab.fast.normalization, bnlab.fast.conv, bnlab.fast.pooling)
    for module in fast:
        for name, function in vars(module).items():
            if inspect.isfunction(function) and function.__module__ == module.__name__:
                found[name] = function
    # "__" leaves out private helpers and the copies a mutation tester adds (x_f__mutmut_1)
    return {name: f for name, f in found.items() if "_backward" in name and "__" not in f"_{name}"}


BACKWARDS = public_backwards()


def forward_of(backward: str) -> str:
    """The forward whose cache ``backward`` needs: batchnorm_backward_alt -> batchnorm_forward."""
    if backward == "relu_backward_fast":
        return "relu_forward"  # the one ReLU forward: its cache (x) serves both backwards
    return backward.replace("_backward_alt", "_forward").replace("_backward", "_forward")


def test_the_list_of_backwards_is_complete():
    # a new backward is picked up by name; these are the ones the issue counted, and more
    assert len(BACKWARDS) >= 28
    for name in ("affine_backward", "relu_backward_fast", "conv_relu_pool_backward"):
        assert name in BACKWARDS


def names(function: str, message: str) -> bool:
    """The message names ``function`` as a whole word (not inside a longer, wrong name)."""
    return re.search(rf"(?<!\w){re.escape(function)}(?!\w)", message) is not None


def another_layers_cache(backward: str) -> object:
    """A real cache from a different layer: affine's, or leaky relu's for affine_backward."""
    x = np.ones((2, 3))
    if backward.startswith("affine_backward"):
        return leaky_relu_forward(x)[1]
    return affine_forward(x, np.ones((3, 2)), np.zeros(2))[1]


@pytest.mark.parametrize("kind", ["None", "a wrong tuple", "another layer's cache"])
@pytest.mark.parametrize("name", sorted(BACKWARDS))
def test_a_wrong_cache_is_refused_naming_the_backward_and_its_forward(name, kind):
    cache = {
        "None": None,
        "a wrong tuple": (np.ones(3), {"stride": 1}),
        "another layer's cache": another_layers_cache(name),
    }[kind]
    with pytest.raises((TypeError, ValueError)) as info:
        BACKWARDS[name](np.ones((2, 2)), cache)
    message = str(info.value)
    assert names(name, message), message
    assert names(forward_of(name), message), message


def test_a_sandwich_names_itself_when_one_of_its_layers_refuses():
    out, cache = affine_bn_relu_forward(
        np.ones((4, 3)), np.ones((3, 2)), np.zeros(2), np.ones(2), np.zeros(2), {"mode": "train"}
    )
    fc_cache, _, relu_cache = cache
    with pytest.raises(TypeError) as info:
        bnlab.layers.affine_bn_relu_backward(out, (fc_cache, fc_cache, relu_cache))
    message = str(info.value)
    for fragment in ("affine_bn_relu_backward", "affine_bn_relu_forward", "AffineCache"):
        assert fragment in message, message


# --- item 12: settings that are not numbers ---------------------------------------------------

NORM_FORWARDS = {
    "batchnorm_forward": (batchnorm_forward, "bn_param", 2),
    "batchnorm_forward_fast": (batchnorm_forward_fast, "bn_param", 2),
    "spatial_batchnorm_forward": (spatial_batchnorm_forward, "bn_param", 4),
    "spatial_batchnorm_forward_fast": (spatial_batchnorm_forward_fast, "bn_param", 4),
    "layernorm_forward": (layernorm_forward, "ln_param", 2),
    "layernorm_forward_fast": (layernorm_forward_fast, "ln_param", 2),
    "spatial_groupnorm_forward": (spatial_groupnorm_forward, "gn_param", 4),
    "spatial_groupnorm_forward_fast": (spatial_groupnorm_forward_fast, "gn_param", 4),
}


def call_norm(name: str, x: np.ndarray, param: dict):
    forward = NORM_FORWARDS[name][0]
    C = x.shape[1]
    gamma, beta = np.ones(C, dtype=x.dtype), np.zeros(C, dtype=x.dtype)
    if "groupnorm" in name:
        return forward(x, gamma, beta, 2, param)
    return forward(x, gamma, beta, param)


def norm_input(name: str, dtype=np.float64) -> np.ndarray:
    shape = (4, 4) if NORM_FORWARDS[name][2] == 2 else (3, 4, 2, 2)
    return np.random.default_rng(0).normal(size=shape).astype(dtype)


@pytest.mark.parametrize("value", ["1e-5", None, [1e-5]], ids=["str", "None", "list"])
@pytest.mark.parametrize("name", sorted(NORM_FORWARDS))
def test_eps_that_is_not_a_number_is_refused(name, value):
    param_name = NORM_FORWARDS[name][1]
    with pytest.raises(TypeError) as info:
        call_norm(name, norm_input(name), {"mode": "train", "eps": value})
    message = str(info.value)
    assert f"{param_name}['eps']" in message and "a number > 0" in message, message
    assert type(value).__name__ in message, message


@pytest.mark.parametrize("value", ["0.9", None], ids=["str", "None"])
@pytest.mark.parametrize("name", [n for n in sorted(NORM_FORWARDS) if "batchnorm" in n])
def test_momentum_that_is_not_a_number_is_refused(name, value):
    with pytest.raises(TypeError) as info:
        call_norm(name, norm_input(name), {"mode": "train", "momentum": value})
    expected = (
        f"bn_param['momentum'] must be a number in [0, 1], got {type(value).__name__} {value!r}"
    )
    assert str(info.value) == expected


@pytest.mark.parametrize("key", ["running_mean", "running_var"])
@pytest.mark.parametrize("name", [n for n in sorted(NORM_FORWARDS) if "batchnorm" in n])
def test_a_list_as_running_statistic_is_refused(name, key):
    x = norm_input(name)
    with pytest.raises(TypeError) as info:
        call_norm(name, x, {"mode": "train", key: [0.0] * x.shape[1]})
    message = str(info.value)
    assert f"bn_param['{key}']" in message and "ndarray" in message and "list" in message


@pytest.mark.parametrize("value", ["0.1", None], ids=["str", "None"])
def test_negative_slope_that_is_not_a_number_is_refused(value):
    with pytest.raises(TypeError) as info:
        leaky_relu_forward(np.ones(3), value)
    expected = f"negative_slope must be a finite number, got {type(value).__name__} {value!r}"
    assert str(info.value) == expected


# --- item 12: a zero-size batch --------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(0, 4), (0, 2, 2)])
def test_affine_backward_of_an_empty_batch(x_shape):
    w, b = np.ones((4, 3)), np.zeros(3)
    out, cache = affine_forward(np.zeros(x_shape), w, b)
    dx, dw, db = affine_backward(np.zeros(out.shape), cache)
    assert dx.shape == x_shape and not dw.any() and not db.any() and dw.shape == w.shape


@pytest.mark.parametrize(
    "forward, backward",
    [(conv_forward_naive, conv_backward_naive), (conv_forward_fast, conv_backward_fast)],
    ids=["naive", "fast"],
)
def test_conv_of_an_empty_batch(forward, backward):
    x, w, b = np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.zeros(3)
    out, cache = forward(x, w, b, {"stride": 1, "pad": 1})
    assert out.shape == (0, 3, 5, 5)
    dx, dw, db = backward(np.zeros(out.shape), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and not dw.any() and not db.any()


# --- item 6: statistics that overflow although x is finite ------------------------------------

HUGE = {np.float32: 1e20, np.float64: 1e160}  # |x - mean| whose square overflows the dtype


def overflowing(shape: tuple[int, ...], dtype, axis: int, index: int) -> np.ndarray:
    """x ~ N(0, 1) with one feature / channel / example (``index`` along ``axis``) at +-HUGE."""
    x = np.random.default_rng(1).normal(size=shape)
    part = [slice(None)] * len(shape)
    part[axis] = index
    signs = np.sign(np.random.default_rng(2).normal(size=x[tuple(part)].shape))
    x[tuple(part)] = signs * HUGE[dtype]
    return x.astype(dtype)


# name -> (layer call, axis and index made huge, what the message calls it)
def _norm(name, G=2):
    def run(x):
        return call_norm(name, x, {"mode": "train"})

    return run


def _sandwich(forward, param):
    def run(x):
        D = x.shape[1]
        dtype = x.dtype
        eye, zeros, ones = np.eye(D, dtype=dtype), np.zeros(D, dtype=dtype), np.ones(D, dtype)
        return forward(x, eye, zeros, ones, zeros, dict(param))

    return run


def _conv_bn_relu(x):
    C = x.shape[1]
    w = np.zeros((C, C, 1, 1), dtype=x.dtype)
    w[np.arange(C), np.arange(C)] = 1  # a 1x1 identity convolution
    zeros, ones = np.zeros(C, dtype=x.dtype), np.ones(C, dtype=x.dtype)
    return conv_bn_relu_forward(
        x, w, zeros, ones, zeros, {"stride": 1, "pad": 0}, {"mode": "train"}
    )


OVERFLOW_CASES = {
    "batchnorm_forward": (_norm("batchnorm_forward"), (6, 4), 1, 2, "feature 2"),
    "batchnorm_forward_fast": (_norm("batchnorm_forward_fast"), (6, 4), 1, 2, "feature 2"),
    "spatial_batchnorm_forward": (
        _norm("spatial_batchnorm_forward"), (3, 4, 2, 2), 1, 3, "channel 3"),
    "spatial_batchnorm_forward_fast": (
        _norm("spatial_batchnorm_forward_fast"), (3, 4, 2, 2), 1, 3, "channel 3"),
    "layernorm_forward": (_norm("layernorm_forward"), (5, 4), 0, 1, "example 1"),
    "layernorm_forward_fast": (_norm("layernorm_forward_fast"), (5, 4), 0, 1, "example 1"),
    "spatial_groupnorm_forward": (
        _norm("spatial_groupnorm_forward"), (3, 4, 2, 2), 0, 2, "(example, group) (2, 0)"),
    "spatial_groupnorm_forward_fast": (
        _norm("spatial_groupnorm_forward_fast"), (3, 4, 2, 2), 0, 2, "(example, group) (2, 0)"),
    "affine_bn_relu_forward": (
        _sandwich(affine_bn_relu_forward, {"mode": "train"}), (6, 4), 1, 0, "feature 0"),
    "affine_ln_relu_forward": (
        _sandwich(affine_ln_relu_forward, {}), (5, 4), 0, 3, "example 3"),
    "conv_bn_relu_forward": (_conv_bn_relu, (3, 4, 2, 2), 1, 1, "channel 1"),
}  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OVERFLOW_CASES))
def test_an_overflowing_variance_is_refused_naming_the_layer_and_the_feature(name, dtype):
    run, shape, axis, index, unit = OVERFLOW_CASES[name]
    x = overflowing(shape, dtype, axis, index)
    assert np.isfinite(x).all()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(ValueError) as info:
        run(x)
    # its own class, so that the Solver can tell it from a bad argument and call it divergence
    assert isinstance(info.value, OverflowInNormalization), repr(info.value)
    message = str(info.value)
    layer = name.replace("affine_bn_relu", "batchnorm").replace("affine_ln_relu", "layernorm")
    layer = layer.replace("conv_bn_relu", "spatial_batchnorm")
    # the sandwiches use the fast twins, so the layer named is the fast one
    if name.startswith(("affine", "conv")):
        layer += "_fast"
    assert names(layer, message), message
    for fragment in (unit, "overflows", np.dtype(dtype).name):
        assert fragment in message, f"{fragment!r} not in {message!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(OVERFLOW_CASES))
def test_a_large_but_representable_spread_still_normalises(name, dtype):
    # below the overflow threshold: the output is standardised, not just beta
    run, shape, axis, index, _ = OVERFLOW_CASES[name]
    x = overflowing(shape, dtype, axis, index) * dtype(1e-2 if dtype == np.float32 else 1e-8)
    out, _ = run(x)
    assert np.isfinite(out).all() and np.abs(out).max() > 0.5


@pytest.mark.parametrize("name", sorted(NORM_FORWARDS))
def test_nan_in_x_is_passed_through_not_refused(name):
    # a NaN that reached the layer is the Solver's to report (as divergence), not the layer's
    x = norm_input(name, np.float32)
    x.flat[0] = np.nan
    with np.errstate(invalid="ignore"):
        out, _ = call_norm(name, x, {"mode": "train"})
    assert np.isnan(out).any()


@pytest.mark.parametrize("name", ["relu_backward", "sigmoid_backward", "tanh_backward"])
@pytest.mark.parametrize(
    "kind, got",
    [("None", "None"), ("a tuple", "a tuple"),
     ("another layer's cache", "a AffineCache from affine_forward")],
)  # fmt: skip
def test_an_elementwise_backward_says_what_it_got_instead_of_its_cache(name, kind, got):
    cache = {"None": None, "a tuple": (np.ones(3), 1),
             "another layer's cache": another_layers_cache(name)}[kind]  # fmt: skip
    forward = forward_of(name)
    message = (
        f"{name} needs the cache from {forward} (the float ndarray it returns), got {got}: "
        f"pass the cache that forward returned"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        BACKWARDS[name](np.ones((2, 2)), cache)


def test_a_sandwich_backward_says_how_many_caches_it_needs():
    message = (
        "affine_relu_backward needs the cache affine_relu_forward returns (a tuple of 2), "
        "got a tuple of 3, one per layer"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        bnlab.layers.affine_relu_backward(np.ones((2, 2)), (1, 2, 3))
