"""The fast normalisation layers (bnlab/fast/normalization.py) against their plain twins in
bnlab.layers: same outputs, gradients and running statistics, same argument checks, caches
that do not mix, and no change to NumPy's global settings.

Numerical gradients of the fast layers (relative error <= 1e-7, float64) are checked by the
catalog entries '*_fast*' in tests/test_layer_gradients.py; PyTorch parity in
tests/test_torch_parity.py.
"""

import numpy as np
import pytest

from bnlab.fast.normalization import (
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_backward_fast,
    spatial_batchnorm_forward_fast,
    spatial_groupnorm_backward_fast,
    spatial_groupnorm_forward_fast,
)
from bnlab.fast.ufunc_buffer import small_ufunc_buffer
from bnlab.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)

# The twins compute the same maths in a different operation order (einsum vs np.sum, x_hat
# vs xc * inv_std): float64 results agree to a few ulps of the largest value, float32 ones
# to a few float32 ulps (~1e-7) times the length of a reduction's dependence chain.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}

# name: (plain forward, plain backward, fast forward, fast backward, x shapes)
BATCHNORMS = {
    "batchnorm": (
        batchnorm_forward,
        batchnorm_backward_alt,
        batchnorm_forward_fast,
        batchnorm_backward_fast,
        [(6, 5), (4, 9), (64, 3)],  # N != D both ways
    ),
    "batchnorm_naive": (
        batchnorm_forward,
        batchnorm_backward,
        batchnorm_forward_fast,
        batchnorm_backward_fast,
        [(7, 4)],
    ),
    "spatial_batchnorm": (
        spatial_batchnorm_forward,
        spatial_batchnorm_backward,
        spatial_batchnorm_forward_fast,
        spatial_batchnorm_backward_fast,
        [(2, 3, 4, 5), (5, 2, 3, 1)],
    ),
}
BATCHNORM_CASES = [(name, shape) for name, (*_, shapes) in BATCHNORMS.items() for shape in shapes]


def assert_close(fast, plain, rtol, what):
    fast, plain = np.asarray(fast), np.asarray(plain)
    assert fast.shape == plain.shape, f"{what}: shape {fast.shape} vs {plain.shape}"
    assert fast.dtype == plain.dtype, f"{what}: dtype {fast.dtype} vs {plain.dtype}"
    err = np.abs(fast - plain).max() / max(np.abs(plain).max(), 1e-300)
    assert err <= rtol, (
        f"{what}: relative difference {err:.2e} > {rtol:.0e}\n"
        f"fast:  {fast.ravel()[:5]}\nplain: {plain.ravel()[:5]}"
    )


def per_channel_data(rng, shape, dtype):
    """x with a mean far from 0 and a different scale in every channel (axis 1), and dout."""
    C = shape[1]
    stat_shape = (1, C) + (1,) * (len(shape) - 2)
    # |mean| up to ~30, std 1 to 5: far from standardised, yet float32 keeps ~5 digits of
    # x - mu (a mean/std ratio of 100 would leave float32 x_hat only ~1e-5 relative)
    mean = rng.normal(0.0, 10.0, stat_shape)
    x = mean + rng.uniform(1.0, 5.0, stat_shape) * rng.standard_normal(shape)
    return x.astype(dtype), rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("buffered", [False, True], ids=["default_buffer", "small_buffer"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("unbiased", [False, True], ids=["biased", "unbiased"])
@pytest.mark.parametrize(
    "name, shape", BATCHNORM_CASES, ids=[f"{n}{s}" for n, s in BATCHNORM_CASES]
)
def test_fast_batchnorm_equals_plain(name, shape, unbiased, dtype, buffered):
    plain_forward, plain_backward, fast_forward, fast_backward, _ = BATCHNORMS[name]
    rng = np.random.default_rng([len(name), *shape])  # a fixed draw per case
    C, rtol = shape[1], RTOL[dtype]
    gamma, beta = rng.normal(1.0, 0.5, C).astype(dtype), rng.standard_normal(C).astype(dtype)
    plain_param = {"mode": "train", "momentum": 0.7, "unbiased": unbiased}
    fast_param = dict(plain_param)
    # two training steps (the running statistics move twice), then one in test mode
    for step, mode in enumerate(["train", "train", "test"]):
        plain_param["mode"] = fast_param["mode"] = mode
        x, dout = per_channel_data(rng, shape, dtype)
        out, cache = plain_forward(x, gamma, beta, plain_param)
        grads = plain_backward(dout, cache)
        with small_ufunc_buffer() if buffered else np.errstate():
            out_fast, cache_fast = fast_forward(x, gamma, beta, fast_param)
            grads_fast = fast_backward(dout, cache_fast)
        where = f"{name} {shape} step {step} ({mode})"
        assert_close(out_fast, out, rtol, f"{where}: out")
        for grad_name, g_fast, g in zip(["dx", "dgamma", "dbeta"], grads_fast, grads, strict=True):
            assert_close(g_fast, g, rtol, f"{where}: {grad_name}")
        for key in ("running_mean", "running_var"):
            assert_close(fast_param[key], plain_param[key], rtol, f"{where}: {key}")
        assert_close(cache_fast.x_hat, cache.x_hat, rtol, f"{where}: cache.x_hat")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 11), (40, 2)])
def test_fast_layernorm_equals_plain(shape, dtype):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    D, rtol = shape[1], RTOL[dtype]
    # rows far from zero mean, each on its own scale: layernorm's statistics run along rows
    x = (rng.normal(0.0, 10.0, (shape[0], 1)) + rng.uniform(1.0, 5.0, (shape[0], 1))
         * rng.standard_normal(shape)).astype(dtype)  # fmt: skip
    dout = rng.standard_normal(shape).astype(dtype)
    gamma, beta = rng.normal(1.0, 0.5, D).astype(dtype), rng.standard_normal(D).astype(dtype)
    out, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-3})
    out_fast, cache_fast = layernorm_forward_fast(x, gamma, beta, {"eps": 1e-3})
    assert_close(out_fast, out, rtol, "out")
    grads = layernorm_backward(dout, cache)
    grads_fast = layernorm_backward_fast(dout, cache_fast)
    for name, g_fast, g in zip(["dx", "dgamma", "dbeta"], grads_fast, grads, strict=True):
        assert_close(g_fast, g, rtol, name)


GROUPNORM_CASES = [((2, 6, 3, 4), 2), ((2, 6, 3, 4), 3), ((3, 4, 2, 5), 4), ((1, 5, 3, 3), 1)]


@pytest.mark.parametrize("cs231n_shape", [False, True], ids=["(C,)", "(1,C,1,1)"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape, G", GROUPNORM_CASES, ids=[f"{s}G{g}" for s, g in GROUPNORM_CASES])
def test_fast_groupnorm_equals_plain(shape, G, dtype, cs231n_shape):
    rng = np.random.default_rng(sum(shape) * 10 + G)
    C, rtol = shape[1], RTOL[dtype]
    x, dout = per_channel_data(rng, shape, dtype)
    param_shape = (1, C, 1, 1) if cs231n_shape else (C,)
    gamma = rng.normal(1.0, 0.5, param_shape).astype(dtype)
    beta = rng.standard_normal(param_shape).astype(dtype)
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, {})
    out_fast, cache_fast = spatial_groupnorm_forward_fast(x, gamma, beta, G, {})
    assert_close(out_fast, out, rtol, "out")
    grads = spatial_groupnorm_backward(dout, cache)
    grads_fast = spatial_groupnorm_backward_fast(dout, cache_fast)
    for name, g_fast, g in zip(["dx", "dgamma", "dbeta"], grads_fast, grads, strict=True):
        assert_close(g_fast, g, rtol, name)


# --- the same checks, caches that do not mix ------------------------------------------

X, X4 = np.ones((4, 5)), np.ones((2, 6, 3, 3))
ONES5, ONES6 = np.ones(5), np.ones(6)

# (id, plain call, fast call): the twins share their argument checks, so the messages match
BAD = [
    ("bn gamma", lambda f: f(X, np.ones(4), ONES5, {"mode": "train"})),
    ("bn gamma list", lambda f: f(X, [1.0] * 5, ONES5, {"mode": "train"})),
    ("bn mode", lambda f: f(X, ONES5, ONES5, {"mode": "eval"})),
    ("bn N=1", lambda f: f(X[:1], ONES5, ONES5, {"mode": "train"})),
    ("bn momentum", lambda f: f(X, ONES5, ONES5, {"mode": "train", "momentum": 2.0})),
    ("bn int x", lambda f: f(X.astype(int), ONES5, ONES5, {"mode": "train"})),
]
SPATIAL_BAD = [
    ("spatial 2-D x", lambda f: f(X, ONES5, ONES5, {"mode": "train"})),
    ("spatial beta", lambda f: f(X4, ONES6, np.ones(5), {"mode": "train"})),
]
LN_BAD = [
    ("ln eps", lambda f: f(X, ONES5, ONES5, {"eps": 0.0})),
    ("ln beta", lambda f: f(X, ONES5, np.ones(6), {})),
]
GN_BAD = [
    ("gn G", lambda f: f(X4, ONES6, ONES6, 4, {})),
    ("gn gamma", lambda f: f(X4, np.ones((6, 1, 1)), ONES6, 2, {})),
]
TWINS_BAD = (
    [(case, batchnorm_forward, batchnorm_forward_fast) for case in BAD]
    + [(case, spatial_batchnorm_forward, spatial_batchnorm_forward_fast) for case in SPATIAL_BAD]
    + [(case, layernorm_forward, layernorm_forward_fast) for case in LN_BAD]
    + [(case, spatial_groupnorm_forward, spatial_groupnorm_forward_fast) for case in GN_BAD]
)


@pytest.mark.parametrize(
    "call, plain, fast",
    [(c[1], p, f) for c, p, f in TWINS_BAD],
    ids=[c[0] for c, _, _ in TWINS_BAD],
)
def test_fast_twin_refuses_bad_input_with_the_same_message(call, plain, fast):
    with pytest.raises((TypeError, ValueError)) as plain_error:
        call(plain)
    with pytest.raises(plain_error.type) as fast_error:
        call(fast)
    assert str(fast_error.value) == str(plain_error.value)


def _forwarded(forward, *args):
    return forward(*args)


# (plain forward, plain backward, fast forward, fast backward, the forward's arguments)
MIXES = [
    (batchnorm_forward, batchnorm_backward, batchnorm_forward_fast, batchnorm_backward_fast,
     (X, ONES5, ONES5, {"mode": "train"})),
    (batchnorm_forward, batchnorm_backward_alt, batchnorm_forward_fast, batchnorm_backward_fast,
     (X, ONES5, ONES5, {"mode": "train"})),
    (spatial_batchnorm_forward, spatial_batchnorm_backward, spatial_batchnorm_forward_fast,
     spatial_batchnorm_backward_fast, (X4, ONES6, ONES6, {"mode": "train"})),
    (layernorm_forward, layernorm_backward, layernorm_forward_fast, layernorm_backward_fast,
     (X, ONES5, ONES5, {})),
    (spatial_groupnorm_forward, spatial_groupnorm_backward, spatial_groupnorm_forward_fast,
     spatial_groupnorm_backward_fast, (X4, ONES6, ONES6, 2, {})),
]  # fmt: skip


@pytest.mark.parametrize("direction", ["fast cache to plain", "plain cache to fast"])
@pytest.mark.parametrize("mix", MIXES, ids=[m[1].__name__ for m in MIXES])
def test_a_cache_from_the_other_twin_is_refused_naming_both(mix, direction):
    plain_forward, plain_backward, fast_forward, fast_backward, args = mix
    if direction == "fast cache to plain":
        forward, backward, other_backward = fast_forward, plain_backward, fast_backward
    else:
        forward, backward, other_backward = plain_forward, fast_backward, plain_backward
    out, cache = forward(*[dict(a) if isinstance(a, dict) else a for a in args])
    with pytest.raises(TypeError) as info:
        backward(np.ones_like(out), cache)
    message = str(info.value)
    # the backward called, the forward it needs, and the forward that made the cache
    expected_forward = backward.__name__.replace("backward_alt", "forward")
    expected_forward = expected_forward.replace("backward", "forward")
    for fragment in (backward.__name__, expected_forward, forward.__name__, "plain and fast"):
        assert fragment in message, f"{fragment!r} not in message: {message}"
    other_backward(np.ones_like(out), cache)  # the right backward takes it


# --- NumPy's global settings -------------------------------------------------------------


def test_no_normalisation_layer_touches_numpys_global_settings(monkeypatch):
    # The ufunc buffer is the caller's business (the Solver and the benchmarks enter
    # small_ufunc_buffer()): no layer, plain or fast, may change it or the error state.
    def refuse(*args, **kwargs):
        raise AssertionError("a layer changed NumPy's global settings")

    for setter in ("setbufsize", "seterr", "errstate"):
        monkeypatch.setattr(np, setter, refuse)
    for plain_forward, plain_backward, fast_forward, fast_backward, args in MIXES:
        for forward, backward in ((plain_forward, plain_backward), (fast_forward, fast_backward)):
            out, cache = forward(*[dict(a) if isinstance(a, dict) else a for a in args])
            backward(np.ones_like(out), cache)


def test_small_ufunc_buffer_restores_the_callers_settings():
    with np.errstate(over="raise", under="warn"):
        old = np.getbufsize()
        np.setbufsize(4096)
        try:
            settings = (np.getbufsize(), np.geterr())
            with small_ufunc_buffer():
                assert np.getbufsize() == 256
            assert (np.getbufsize(), np.geterr()) == settings
            with pytest.raises(ValueError), small_ufunc_buffer(512):
                assert np.getbufsize() == 512
                batchnorm_forward_fast(X, ONES5, ONES5, {"mode": "eval"})
            assert (np.getbufsize(), np.geterr()) == settings
        finally:
            np.setbufsize(old)


# --- the caches' statistics: what bnlab.experiments reads, and what a student inspects ------


@pytest.mark.parametrize(
    "forward, shape, axes",
    [(batchnorm_forward, (6, 4), (0,)), (batchnorm_forward_fast, (6, 4), (0,)),
     (spatial_batchnorm_forward, (3, 4, 2, 2), (0, 2, 3)),
     (spatial_batchnorm_forward_fast, (3, 4, 2, 2), (0, 2, 3))],
    ids=lambda v: getattr(v, "__name__", None),
)  # fmt: skip
def test_batchnorm_cache_holds_the_batch_mean_variance_and_eps(forward, shape, axes):
    x = np.random.default_rng(5).normal(2.0, 3.0, shape)
    C = shape[1]
    _, cache = forward(x, np.ones(C), np.zeros(C), {"mode": "train", "eps": 1e-3})
    np.testing.assert_allclose(cache.mu.reshape(-1), x.mean(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(cache.var.reshape(-1), x.var(axis=axes), rtol=1e-12)
    assert cache.eps == 1e-3
