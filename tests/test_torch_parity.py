"""bnlab against PyTorch (float64), plain and fast normalisation layers alike, and against the
running-statistics conventions of the other sources listed in the module docstring of
bnlab/layers/batchnorm.py (those need no PyTorch: only the tests that use it import it)."""

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
from bnlab.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

# Both sides compute the same float64 maths in a different operation order (PyTorch's
# reductions are blocked/vectorised differently), so they agree to ~1e-14 relative; 1e-10
# leaves room for the sums over a few hundred values, and is far below any real bug.
TORCH_RTOL = 1e-10
# The reference conventions below are the same formula written differently (e.g.
# (1 - 0.1) * r vs 0.9 * r): a few ulps apart.
CONVENTION_RTOL = 1e-12


def assert_close(ours, theirs, what, rtol=TORCH_RTOL):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    scale = max(np.abs(theirs).max(), 1e-300)
    err = np.abs(ours - theirs).max() / scale
    assert err <= rtol, (
        f"{what}: relative difference {err:.2e} > {rtol}\n"
        f"ours:   {ours.ravel()[:6]}\ntheirs: {theirs.ravel()[:6]}"
    )


def as_numpy(t):
    return t.detach().numpy().copy()


# --- batchnorm: torch.nn.BatchNorm1d / BatchNorm2d ----------------------------------------

KINDS = {
    # kind: (shape, bnlab forward, bnlab backwards, torch module)
    "1d": ((16, 5), batchnorm_forward, (batchnorm_backward, batchnorm_backward_alt), "BatchNorm1d"),
    "2d": ((4, 3, 5, 6), spatial_batchnorm_forward, (spatial_batchnorm_backward,), "BatchNorm2d"),
    "1d_fast": ((16, 5), batchnorm_forward_fast, (batchnorm_backward_fast,), "BatchNorm1d"),
    "2d_fast": (
        (4, 3, 5, 6),
        spatial_batchnorm_forward_fast,
        (spatial_batchnorm_backward_fast,),
        "BatchNorm2d",
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_batchnorm_matches_pytorch(kind):
    torch = pytest.importorskip("torch")
    shape, forward, backwards, module = KINDS[kind]
    rng = np.random.default_rng(2015)
    C = shape[1]
    gamma, beta = rng.normal(1.0, 0.5, C), rng.normal(0.0, 1.0, C)
    layer = getattr(torch.nn, module)(C).double()  # PyTorch defaults: momentum 0.1, eps 1e-5
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    # PyTorch's momentum=0.1 weighs the NEW batch: bnlab's momentum=0.9 weighs the old value.
    bn_param = {"mode": "train", "momentum": 0.9, "unbiased": True}

    def step(mode, x, dout):
        layer.train(mode == "train")
        bn_param["mode"] = mode
        x_t = torch.from_numpy(x).requires_grad_(True)
        layer.zero_grad()
        out_t = layer(x_t)
        out_t.backward(torch.from_numpy(dout))
        out, cache = forward(x, gamma, beta, bn_param)
        where = f"{kind} {mode} step"
        assert_close(out, as_numpy(out_t), f"{where}: out")
        for backward in backwards:
            dx, dgamma, dbeta = backward(dout, cache)
            name = f"{where} {backward.__name__}"
            assert_close(dx, as_numpy(x_t.grad), f"{name}: dx")
            assert_close(dgamma, as_numpy(layer.weight.grad), f"{name}: dgamma")
            assert_close(dbeta, as_numpy(layer.bias.grad), f"{name}: dbeta")
        assert_close(
            bn_param["running_mean"], as_numpy(layer.running_mean), f"{where}: running_mean"
        )
        assert_close(bn_param["running_var"], as_numpy(layer.running_var), f"{where}: running_var")

    for i in range(4):  # different batches: the running statistics have to track each one
        step("train", rng.normal(i - 1.0, 1.0 + i, shape), rng.normal(0.0, 1.0 + i, shape))
    for _ in range(2):
        step("test", rng.normal(0.5, 2.0, shape), rng.standard_normal(shape))


@pytest.mark.parametrize(
    "forward, backward",
    [(layernorm_forward, layernorm_backward), (layernorm_forward_fast, layernorm_backward_fast)],
    ids=["plain", "fast"],
)
def test_layernorm_matches_pytorch(forward, backward):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2016)
    N, D = 6, 7
    gamma, beta = rng.normal(1.0, 0.5, D), rng.standard_normal(D)
    x, dout = rng.normal(2.0, 3.0, (N, D)), rng.standard_normal((N, D))
    layer = torch.nn.LayerNorm(D, eps=1e-5).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    x_t = torch.from_numpy(x).requires_grad_(True)
    out_t = layer(x_t)
    out_t.backward(torch.from_numpy(dout))

    out, cache = forward(x, gamma, beta, {"eps": 1e-5})
    dx, dgamma, dbeta = backward(dout, cache)
    assert_close(out, as_numpy(out_t), "layernorm out")
    assert_close(dx, as_numpy(x_t.grad), "layernorm dx")
    assert_close(dgamma, as_numpy(layer.weight.grad), "layernorm dgamma")
    assert_close(dbeta, as_numpy(layer.bias.grad), "layernorm dbeta")


# --- the conventions table: each source's update rule, written as that source writes it ----


def batch_moments(x):
    """Per-feature mean, biased variance and unbiased variance of x: (N, D)."""
    return x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).mean(axis=0), x.var(axis=0, ddof=1)


def cs231n_rule(state, x):
    # cs231n assignment 2: momentum = 0.9 weighs the old value; running_var starts at zeros
    momentum = 0.9
    mean, var, _ = batch_moments(x)
    state["running_mean"] = momentum * state["running_mean"] + (1 - momentum) * mean
    state["running_var"] = momentum * state["running_var"] + (1 - momentum) * var


def pytorch_rule(state, x):
    # torch.nn.BatchNorm1d: momentum = 0.1 weighs the NEW batch, whose variance is unbiased
    momentum = 0.1
    mean, _, unbiased_var = batch_moments(x)
    state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
    state["running_var"] = (1 - momentum) * state["running_var"] + momentum * unbiased_var


def d2l_0x_rule(state, x):
    # d2l 0.x (MXNet): moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
    momentum = 0.9
    mean, var, _ = batch_moments(x)
    state["running_mean"] = momentum * state["running_mean"] + (1.0 - momentum) * mean
    state["running_var"] = momentum * state["running_var"] + (1.0 - momentum) * var


def d2l_1x_rule(state, x):
    # d2l 1.x (PyTorch): moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
    momentum = 0.1
    mean, var, _ = batch_moments(x)
    state["running_mean"] = (1.0 - momentum) * state["running_mean"] + momentum * mean
    state["running_var"] = (1.0 - momentum) * state["running_var"] + momentum * var


def mybn_rule(state, x):
    # the study notes' MyBN: momentum = 0.01 on the OLD value, biased variance, both start at zeros
    momentum = 0.01
    mean, var, _ = batch_moments(x)
    state["running_mean"] = momentum * state["running_mean"] + (1.0 - momentum) * mean
    state["running_var"] = momentum * state["running_var"] + (1.0 - momentum) * var


def keras_rule(state, x):
    # keras.layers.BatchNormalization: variable * momentum + value * (1 - momentum), 0.99
    momentum = 0.99
    mean, var, _ = batch_moments(x)
    state["running_mean"] = state["running_mean"] * momentum + mean * (1 - momentum)
    state["running_var"] = state["running_var"] * momentum + var * (1 - momentum)


D = 4
# (source, its rule, its initial running_var, its eps, bnlab's bn_param from the table)
CONVENTIONS = [
    ("cs231n", cs231n_rule, 0.0, 1e-5, {"momentum": 0.9, "running_var": np.zeros(D)}),
    ("PyTorch", pytorch_rule, 1.0, 1e-5, {"momentum": 0.9, "unbiased": True}),
    ("d2l 0.x", d2l_0x_rule, 1.0, 1e-5, {"momentum": 0.9}),
    ("d2l 1.x", d2l_1x_rule, 1.0, 1e-5, {"momentum": 0.9}),
    ("study notes' MyBN", mybn_rule, 0.0, 1e-5, {"momentum": 0.01, "running_var": np.zeros(D)}),
    ("Keras", keras_rule, 1.0, 1e-3, {"momentum": 0.99, "eps": 1e-3}),
]


@pytest.mark.parametrize(
    "rule, init_var, eps, settings", [c[1:] for c in CONVENTIONS], ids=[c[0] for c in CONVENTIONS]
)
def test_conventions_table_settings_reproduce_each_source(rule, init_var, eps, settings):
    rng = np.random.default_rng(7)
    reference = {"running_mean": np.zeros(D), "running_var": np.full(D, init_var)}
    bn_param = {"mode": "train", **{k: np.copy(v) for k, v in settings.items()}}
    gamma, beta = rng.normal(1.0, 0.3, D), rng.standard_normal(D)
    for step in range(5):
        x = rng.normal(step - 2.0, 1.0 + step, (8, D))
        rule(reference, x)
        batchnorm_forward(x, gamma, beta, bn_param)
        for key in ("running_mean", "running_var"):
            assert_close(bn_param[key], reference[key], f"step {step}: {key}", CONVENTION_RTOL)
    # and inference with that source's eps
    bn_param["mode"] = "test"
    x = rng.standard_normal((3, D))
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = gamma * (x - reference["running_mean"]) / np.sqrt(reference["running_var"] + eps)
    assert_close(out, expected + beta, "test-mode output", CONVENTION_RTOL)
