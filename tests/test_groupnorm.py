"""Group normalization: standardisation per (example, group), its two limits (layernorm and
instance norm), PyTorch parity (plain and fast), dtypes and bad input.

Numerical gradients (relative error <= 1e-7, float64, random non-uniform dout) are checked by
the catalog entries 'groupnorm' and 'groupnorm_cs231n_shape' in tests/test_layer_gradients.py.
"""

import numpy as np
import pytest

from bnlab.fast.normalization import (
    spatial_groupnorm_backward_fast,
    spatial_groupnorm_forward_fast,
)
from bnlab.layers import spatial_groupnorm_backward, spatial_groupnorm_forward

EPS = 1e-5
# float64, the same maths in a different operation order: a few ulps of O(1) values.
SAME_MATHS_RTOL = 1e-12
# bnlab vs PyTorch in float64: both ~1e-15 from the exact answer; 1e-10 is far below any bug.
TORCH_RTOL = 1e-10
# float32 vs float64: a standardised value carries ~1e-7 relative rounding, the backward's
# sums over C/G*H*W = 24 values a few times that.
FLOAT32_RTOL = 1e-5


def make_inputs(rng, shape=(3, 6, 2, 4), gamma_shape=None):
    """x far from zero mean and unit variance, and different in every channel; gamma, beta, dout."""
    C = shape[1]
    channel_mean = rng.normal(0.0, 5.0, (1, C, 1, 1))
    x = channel_mean + rng.uniform(0.5, 4.0, (1, C, 1, 1)) * rng.standard_normal(shape)
    gamma, beta = rng.normal(1.0, 0.5, C), rng.standard_normal(C)
    if gamma_shape is not None:
        gamma, beta = gamma.reshape(gamma_shape), beta.reshape(gamma_shape)
    return x, gamma, beta, rng.standard_normal(shape)


def normalise_over(x, axes, gamma, beta, eps=EPS):
    """Reference: gamma_c * (x - mean) / sqrt(var + eps) + beta_c, in plain NumPy over ``axes``."""
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return gamma.reshape(1, -1, 1, 1) * (x - mu) / np.sqrt(var + eps) + beta.reshape(1, -1, 1, 1)


def assert_close(ours, theirs, rtol, what):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    err = np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-300)
    assert err <= rtol, (
        f"{what}: relative difference {err:.2e} > {rtol:.0e}\n"
        f"ours:   {ours.ravel()[:6]}\ntheirs: {theirs.ravel()[:6]}"
    )


# --- what it computes ------------------------------------------------------------------


@pytest.mark.parametrize("G", [1, 2, 3, 6])
def test_each_example_and_group_is_standardised(G):
    rng = np.random.default_rng(0)
    x, _, _, _ = make_inputs(rng)
    N, C = x.shape[:2]
    out, _ = spatial_groupnorm_forward(x, np.ones(C), np.zeros(C), G, {"eps": EPS})
    groups = out.reshape(N, G, -1)  # (N, G, C/G*H*W): one row per (example, group)
    x_var = x.reshape(N, G, -1).var(axis=2)
    assert np.abs(groups.mean(axis=2)).max() < 1e-12
    # with eps the variance is var / (var + eps), not exactly 1
    assert_close(groups.var(axis=2), x_var / (x_var + EPS), SAME_MATHS_RTOL, "variance")


def test_one_group_is_layernorm_over_channels_and_pixels():
    x, gamma, beta, _ = make_inputs(np.random.default_rng(1))
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 1, {"eps": EPS})
    assert_close(out, normalise_over(x, (1, 2, 3), gamma, beta), SAME_MATHS_RTOL, "G = 1")


def test_one_group_per_channel_is_instance_norm():
    x, gamma, beta, _ = make_inputs(np.random.default_rng(2))
    C = x.shape[1]
    out, _ = spatial_groupnorm_forward(x, gamma, beta, C, {"eps": EPS})
    assert_close(out, normalise_over(x, (2, 3), gamma, beta), SAME_MATHS_RTOL, "G = C")


def test_an_example_is_normalised_alone():
    rng = np.random.default_rng(3)
    x, gamma, beta, _ = make_inputs(rng)
    out, _ = spatial_groupnorm_forward(x, gamma, beta, 2, {})
    alone, _ = spatial_groupnorm_forward(x[1:2], gamma, beta, 2, {})
    assert_close(alone[0], out[1], SAME_MATHS_RTOL, "example 1 alone vs in the batch")


def test_eps_defaults_to_1e_5_and_is_used():
    x, gamma, beta, _ = make_inputs(np.random.default_rng(4), shape=(2, 4, 1, 2))
    C = x.shape[1]
    default, _ = spatial_groupnorm_forward(x, gamma, beta, C, {})
    explicit, _ = spatial_groupnorm_forward(x, gamma, beta, C, {"eps": 1e-5})
    large, _ = spatial_groupnorm_forward(x, gamma, beta, C, {"eps": 10.0})
    assert np.array_equal(default, explicit)
    reference = normalise_over(x, (2, 3), gamma, beta, eps=10.0)
    assert_close(large, reference, SAME_MATHS_RTOL, "eps = 10")


# --- PyTorch ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forward, backward",
    [
        (spatial_groupnorm_forward, spatial_groupnorm_backward),
        (spatial_groupnorm_forward_fast, spatial_groupnorm_backward_fast),
    ],
    ids=["plain", "fast"],
)
@pytest.mark.parametrize("gamma_shape", [(6,), (1, 6, 1, 1)], ids=["(C,)", "(1,C,1,1)"])
@pytest.mark.parametrize("G", [1, 2, 3, 6])
def test_matches_torch_group_norm(G, gamma_shape, forward, backward):
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = make_inputs(np.random.default_rng(5), gamma_shape=gamma_shape)
    C = x.shape[1]
    layer = torch.nn.GroupNorm(G, C, eps=EPS).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma.ravel()))
        layer.bias.copy_(torch.from_numpy(beta.ravel()))
    x_t = torch.from_numpy(x).requires_grad_(True)
    out_t = layer(x_t)
    out_t.backward(torch.from_numpy(dout))

    out, cache = forward(x, gamma, beta, G, {"eps": EPS})
    dx, dgamma, dbeta = backward(dout, cache)
    ours = {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    # dgamma and dbeta come back in the shape gamma and beta were given in
    theirs = {
        "out": out_t.detach().numpy(),
        "dx": x_t.grad.numpy(),
        "dgamma": layer.weight.grad.numpy().reshape(gamma_shape),
        "dbeta": layer.bias.grad.numpy().reshape(gamma_shape),
    }
    for name, value in ours.items():
        assert_close(value, theirs[name], TORCH_RTOL, f"G = {G}, gamma {gamma_shape}: {name}")


# --- dtypes ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_returns_the_input_dtype_and_float32_agrees(dtype):
    x, gamma, beta, dout = make_inputs(np.random.default_rng(6))
    out64, cache64 = spatial_groupnorm_forward(x, gamma, beta, 3, {})
    grads64 = spatial_groupnorm_backward(dout, cache64)
    # gamma and beta stay float64: the layer follows x's dtype, as every bnlab layer does
    out, cache = spatial_groupnorm_forward(x.astype(dtype), gamma, beta, 3, {})
    grads = spatial_groupnorm_backward(dout.astype(dtype), cache)
    assert out.dtype == dtype
    assert_close(out, out64, FLOAT32_RTOL, f"{dtype.__name__} out")
    for name, grad, grad64 in zip(("dx", "dgamma", "dbeta"), grads, grads64, strict=True):
        assert grad.dtype == dtype, f"{name} is {grad.dtype}"
        assert_close(grad, grad64, FLOAT32_RTOL, f"{dtype.__name__} {name}")


# --- bad input -------------------------------------------------------------------------

X = np.random.default_rng(7).standard_normal((2, 6, 3, 3))
ONES, ZEROS = np.ones(6), np.zeros(6)


def gn(x=X, gamma=ONES, beta=ZEROS, G=2, gn_param=None):
    return lambda: spatial_groupnorm_forward(
        x, gamma, beta, G, {} if gn_param is None else gn_param
    )


# (id, call, exception, fragments the message must contain)
BAD = [
    ("G not dividing C", gn(G=4), ValueError, ["G", "divide", "C = 6", "G = 4"]),
    ("G larger than C", gn(G=12), ValueError, ["C = 6", "G = 12"]),
    ("G zero", gn(G=0), ValueError, ["C = 6", "G = 0"]),
    ("G float", gn(G=2.0), TypeError, ["G", "integer", "float"]),
    ("G bool", gn(G=True), TypeError, ["G", "integer", "bool"]),
    ("gamma length", gn(gamma=np.ones(4)), ValueError,
     ["gamma", "(6,)", "(1, 6, 1, 1)", "per channel", "(4,)"]),
    ("gamma 4-D wrong C", gn(gamma=np.ones((1, 3, 1, 1))), ValueError,
     ["gamma", "(6,)", "(1, 3, 1, 1)"]),
    ("gamma (C, 1, 1)", gn(gamma=np.ones((6, 1, 1))), ValueError, ["gamma", "(6, 1, 1)"]),
    ("beta length", gn(beta=np.zeros(7)), ValueError, ["beta", "(6,)", "(7,)"]),
    ("gamma list", gn(gamma=[1.0] * 6), TypeError, ["gamma", "ndarray", "list"]),
    ("x 3-D", gn(x=X[0]), ValueError, ["x", "4-dimensional", "(6, 3, 3)"]),
    ("x 2-D", gn(x=X.reshape(2, -1)), ValueError, ["x", "4-dimensional", "(2, 54)"]),
    ("x int", gn(x=np.ones((2, 6, 3, 3), dtype=np.int64)), TypeError,
     ["x", "float32 or float64", "int64"]),
    ("gn_param None", lambda: spatial_groupnorm_forward(X, ONES, ZEROS, 2, None), TypeError,
     ["gn_param", "dict", "NoneType"]),
    ("eps zero", gn(gn_param={"eps": 0.0}), ValueError, ["gn_param['eps']", "> 0", "0.0"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "call, exception, fragments", [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_input_is_refused_with_a_clear_message(call, exception, fragments):
    with pytest.raises(exception) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in message: {message}"


def test_dout_of_the_wrong_shape_is_refused():
    _, cache = gn()()
    with pytest.raises(ValueError, match=r"dout .*\(2, 6, 3, 3\), got \(2, 6, 3, 4\)"):
        spatial_groupnorm_backward(np.ones((2, 6, 3, 4)), cache)
    with pytest.raises(TypeError, match="dout must have dtype float32 or float64"):
        spatial_groupnorm_backward(np.ones(X.shape, dtype=np.int64), cache)
