"""Batchnorm's behaviour (not its gradients: tests/test_layer_gradients.py checks those).

Known values, cs231n's sanity checks, naive vs closed-form backward, the running statistics,
and spatial batchnorm's per-channel statistics.
"""

import numpy as np
import pytest

from bnlab.fast.normalization import batchnorm_backward_fast, batchnorm_forward_fast
from bnlab.layers import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

EPS = 1e-5  # bnlab's default eps
# float64 results computed two ways (different operation order) agree to a few ulps of the
# largest value; 1e-12 relative leaves room for the ~N additions in a reduction.
SAME_MATHS_RTOL = 1e-12
# With eps = 1e-5 a standardised column has std sqrt(var / (var + eps)), not exactly 1: for
# the data below (var >= 0.1) that is within 5e-5 of 1.
STD_RTOL = 1e-4
# Test mode after 50 batches uses running averages, not this batch's statistics: a fresh
# batch of 200 has a sample mean ~ std / sqrt(200) ~ 0.07 away from the population's.
RUNNING_STATS_ATOL = 0.25


def train_param(**settings):
    return {"mode": "train", **settings}


def column_stats(out, axes=(0,)):
    return out.mean(axis=axes), out.std(axis=axes)


def spatial_as_2d(a):
    """(N, C, H, W) -> (N*H*W, C): every pixel of every example is one sample of its channel."""
    C = a.shape[1]
    return a.transpose(0, 2, 3, 1).reshape(-1, C)  # (N*H*W, C)


def spatial_from_2d(a, shape):
    """The inverse of spatial_as_2d for an (N, C, H, W) ``shape``."""
    N, C, H, W = shape
    return a.reshape(N, H, W, C).transpose(0, 3, 1, 2)  # (N, C, H, W)


# --- known values ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_seed_example_gives_plus_minus_1_2247(dtype):
    # Study note 000's check: [[1,2],[3,4],[5,6]] -> -1.2247, 0, 1.2247 in both columns.
    x = np.array([[1, 2], [3, 4], [5, 6]], dtype=dtype)
    out, _ = batchnorm_forward(x, np.ones(2, dtype), np.zeros(2, dtype), train_param())
    assert out.dtype == dtype
    expected = np.array([-2.0, 0.0, 2.0]) / np.sqrt(8 / 3 + EPS)  # mean 3, biased var 8/3
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for column in out.T:
        np.testing.assert_allclose(column, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(out[:, 0], [-1.2247, 0.0, 1.2247], atol=1e-4)


def cs231n_activations(rng, N=200, D1=50, D2=60, D3=3):
    """a = relu(X W1) W2, cs231n's input for its batchnorm sanity checks: (N, D3)."""
    W1 = rng.standard_normal((D1, D2))
    W2 = rng.standard_normal((D2, D3))
    X = rng.standard_normal((N, D1))
    return np.maximum(0, X @ W1) @ W2


@pytest.mark.parametrize(
    "gamma, beta",
    [([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]), ([1.0, 2.0, 3.0], [11.0, 12.0, 13.0])],
    ids=["unit", "scaled"],
)
def test_cs231n_train_mode_means_and_stds(gamma, beta):
    rng = np.random.default_rng(231)
    a = cs231n_activations(rng)
    assert np.abs(a.mean(axis=0)).max() > 1  # far from standardised before batchnorm
    out, _ = batchnorm_forward(a, np.array(gamma), np.array(beta), train_param())
    means, stds = column_stats(out)
    np.testing.assert_allclose(means, beta, atol=1e-10)
    np.testing.assert_allclose(stds, gamma, rtol=STD_RTOL)


def test_cs231n_test_mode_after_50_training_batches():
    rng = np.random.default_rng(2310)
    D1, D2, D3 = 50, 60, 3
    W1 = rng.standard_normal((D1, D2))
    W2 = rng.standard_normal((D2, D3))
    bn_param = train_param()
    gamma, beta = np.ones(D3), np.zeros(D3)
    for _ in range(50):
        X = rng.standard_normal((200, D1))
        batchnorm_forward(np.maximum(0, X @ W1) @ W2, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    X = rng.standard_normal((200, D1))
    out, _ = batchnorm_forward(np.maximum(0, X @ W1) @ W2, gamma, beta, bn_param)
    means, stds = column_stats(out)
    np.testing.assert_allclose(means, 0.0, atol=RUNNING_STATS_ATOL)
    np.testing.assert_allclose(stds, 1.0, atol=RUNNING_STATS_ATOL)


# --- the two backward passes -----------------------------------------------------------


def forward_in_mode(rng, mode, forward=batchnorm_forward, N=6, D=5):
    """A batchnorm forward in ``mode``; in test mode the running stats come from two batches.

    Returns x, its cache, gamma and bn_param.
    """
    gamma, beta = rng.normal(1.0, 0.5, D), rng.normal(size=D)
    bn_param = train_param(momentum=0.5)
    for _ in range(2):
        forward(rng.normal(2.0, 3.0, (N, D)), gamma, beta, bn_param)
    bn_param["mode"] = mode
    x = rng.normal(2.0, 3.0, (N, D))
    _, cache = forward(x, gamma, beta, bn_param)
    return x, cache, gamma, bn_param


def relative_difference(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_naive_and_alt_backward_agree_in_train_mode():
    rng = np.random.default_rng(5)
    x, cache, _, _ = forward_in_mode(rng, "train")
    dout = rng.standard_normal(x.shape)
    for naive, alt, name in zip(
        batchnorm_backward(dout, cache),
        batchnorm_backward_alt(dout, cache),
        "dx dgamma dbeta".split(),
        strict=True,
    ):
        err = relative_difference(naive, alt)
        assert err <= SAME_MATHS_RTOL, f"{name}: naive vs alt relative difference {err:.1e}"


@pytest.mark.parametrize(
    "forward, backward",
    [
        (batchnorm_forward, batchnorm_backward),
        (batchnorm_forward, batchnorm_backward_alt),
        (batchnorm_forward_fast, batchnorm_backward_fast),
    ],
    ids=["naive", "alt", "fast"],
)
def test_test_mode_backward_is_gamma_inv_std_dout(forward, backward):
    # In test mode mu and var are the running statistics, constants: the graph through them is
    # cut, and every backward must reduce to the frozen-statistics gradient, computed here from
    # bn_param alone (not from the cache the backward reads).
    rng = np.random.default_rng(6)
    x, cache, gamma, bn_param = forward_in_mode(rng, "test", forward)
    dout = rng.standard_normal(x.shape)
    inv_std = 1.0 / np.sqrt(bn_param["running_var"] + bn_param["eps"])
    x_hat = (x - bn_param["running_mean"]) * inv_std
    expected = {
        "dx": dout * gamma * inv_std,
        "dgamma": (dout * x_hat).sum(axis=0),
        "dbeta": dout.sum(axis=0),
    }
    for (name, want), got in zip(expected.items(), backward(dout, cache), strict=True):
        err = relative_difference(got, want)
        assert err <= SAME_MATHS_RTOL, f"{backward.__name__} {name}: relative difference {err:.1e}"


def test_train_mode_backward_is_not_the_frozen_one():
    # Guards the test above: in train mode dx also flows through mu and var.
    rng = np.random.default_rng(6)
    x, cache, gamma, _ = forward_in_mode(rng, "train")
    dout = rng.standard_normal(x.shape)
    frozen = gamma * cache.inv_std * dout
    assert relative_difference(batchnorm_backward_alt(dout, cache)[0], frozen) > 1e-3


@pytest.mark.parametrize(
    "forward, backward, other",
    [
        (batchnorm_forward, batchnorm_backward_alt, batchnorm_backward),
        (batchnorm_forward_fast, batchnorm_backward_fast, batchnorm_backward_fast),
    ],
    ids=["plain", "fast"],
)
def test_backward_leaves_cache_and_dout_alone(forward, backward, other):
    # The fast backward works in place on its own buffers: never on dout or the cache.
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    x_before = x.copy()
    _, cache = forward(x, np.ones(3), np.zeros(3), train_param())
    dout = rng.standard_normal((4, 3))
    dout_before = dout.copy()
    cache_before = [np.copy(field) for field in cache]
    first = backward(dout, cache)
    other(dout, cache)
    again = backward(dout, cache)
    assert np.array_equal(x, x_before) and np.array_equal(dout, dout_before)
    for name, field, before in zip(cache._fields, cache, cache_before, strict=True):
        assert np.array_equal(field, before), f"cache.{name} changed"
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)


def test_cache_x_hat_is_the_standardised_input():
    rng = np.random.default_rng(8)
    x = rng.normal(5.0, 2.0, (10, 4))
    out, cache = batchnorm_forward(x, np.ones(4), np.zeros(4), train_param())
    np.testing.assert_allclose(cache.x_hat, (x - x.mean(0)) / np.sqrt(x.var(0) + EPS), rtol=1e-12)
    np.testing.assert_allclose(cache.x_hat, out, rtol=1e-12)


# --- running statistics ------------------------------------------------------------------


def test_running_stats_start_at_zero_mean_and_unit_variance():
    bn_param = train_param()
    x = np.arange(12.0, dtype=np.float32).reshape(4, 3)
    batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    # one step from the initial values: 0.9 * init + 0.1 * batch
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(bn_param["running_var"], 0.9 * 1.0 + 0.1 * x.var(0), rtol=1e-6)
    assert bn_param["running_mean"].dtype == np.float32
    assert bn_param["running_var"].dtype == np.float32
    assert (bn_param["eps"], bn_param["momentum"], bn_param["unbiased"]) == (1e-5, 0.9, False)


@pytest.mark.parametrize("momentum", [0.9, 0.3, 0.0, 1.0])
@pytest.mark.parametrize("unbiased", [False, True])
def test_running_stats_follow_the_momentum_formula(momentum, unbiased):
    rng = np.random.default_rng(9)
    N, D = 7, 4
    bn_param = train_param(momentum=momentum, unbiased=unbiased)
    running_mean, running_var = np.zeros(D), np.ones(D)
    for step in range(3):
        x = rng.normal(step, 1.0 + step, (N, D))
        batchnorm_forward(x, np.ones(D), np.zeros(D), bn_param)
        # momentum weighs the OLD value (cs231n); the stored variance is biased unless asked
        batch_var = x.var(axis=0, ddof=1 if unbiased else 0)
        running_mean = momentum * running_mean + (1 - momentum) * x.mean(axis=0)
        running_var = momentum * running_var + (1 - momentum) * batch_var
        np.testing.assert_allclose(bn_param["running_mean"], running_mean, rtol=SAME_MATHS_RTOL)
        np.testing.assert_allclose(bn_param["running_var"], running_var, rtol=SAME_MATHS_RTOL)


def test_unbiased_stores_var_times_m_over_m_minus_1():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((5, 3))
    biased, unbiased = train_param(momentum=0.0), train_param(momentum=0.0, unbiased=True)
    batchnorm_forward(x, np.ones(3), np.zeros(3), biased)
    batchnorm_forward(x, np.ones(3), np.zeros(3), unbiased)
    np.testing.assert_allclose(biased["running_var"], x.var(0), rtol=SAME_MATHS_RTOL)
    np.testing.assert_allclose(unbiased["running_var"], x.var(0) * 5 / 4, rtol=SAME_MATHS_RTOL)


@pytest.mark.parametrize("unbiased", [False, True])
def test_spatial_running_var_uses_m_equal_n_h_w(unbiased):
    rng = np.random.default_rng(11)
    N, C, H, W = 2, 3, 4, 5
    x = rng.normal(1.0, 2.0, (N, C, H, W))
    bn_param = train_param(momentum=0.0, unbiased=unbiased)
    spatial_batchnorm_forward(x, np.ones(C), np.zeros(C), bn_param)
    m = N * H * W  # 40 samples per channel, not N = 2
    expected = x.var(axis=(0, 2, 3)) * (m / (m - 1) if unbiased else 1.0)
    np.testing.assert_allclose(bn_param["running_var"], expected, rtol=SAME_MATHS_RTOL)
    np.testing.assert_allclose(bn_param["running_mean"], x.mean(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("spatial", [False, True], ids=["2d", "spatial"])
def test_test_mode_leaves_running_stats_bit_identical(spatial):
    rng = np.random.default_rng(12)
    shape = (4, 3, 2, 2) if spatial else (4, 3)
    forward = spatial_batchnorm_forward if spatial else batchnorm_forward
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    bn_param = train_param(momentum=0.7)
    forward(rng.standard_normal(shape), gamma, beta, bn_param)
    bn_param["mode"] = "test"
    snapshot = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in bn_param.items()}
    arrays = {k: v for k, v in bn_param.items() if isinstance(v, np.ndarray)}
    for _ in range(3):
        forward(rng.standard_normal(shape), gamma, beta, bn_param)
    assert set(bn_param) == set(snapshot)
    for key, value in snapshot.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(bn_param[key], value), key
            assert bn_param[key] is arrays[key], f"{key} was replaced"
        else:
            assert bn_param[key] == value, key


def test_test_mode_works_for_a_single_example():
    rng = np.random.default_rng(13)
    bn_param = train_param()
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    batchnorm_forward(rng.standard_normal((8, 3)), gamma, beta, bn_param)
    bn_param["mode"] = "test"
    x = rng.standard_normal((1, 3))
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    expected = (
        gamma * (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + EPS) + beta
    )
    np.testing.assert_allclose(out, expected, rtol=SAME_MATHS_RTOL)
    spatial_param = {"mode": "test", "running_mean": np.zeros(3), "running_var": np.ones(3)}
    out4, _ = spatial_batchnorm_forward(
        rng.standard_normal((1, 3, 1, 1)), gamma, beta, spatial_param
    )
    assert out4.shape == (1, 3, 1, 1)


# --- spatial batchnorm ---------------------------------------------------------------------


def channels_with_different_scales(rng, N=4, C=3, H=5, W=6):
    """Channel c has mean 10**c and std 0.5 * 10**c: any mixing of channels shows."""
    means = 10.0 ** np.arange(C)
    x = rng.standard_normal((N, C, H, W))
    return x * (0.5 * means)[None, :, None, None] + means[None, :, None, None]


def assert_each_channel_standardised(out, gamma, beta):
    means, stds = column_stats(out, axes=(0, 2, 3))
    np.testing.assert_allclose(means, beta, atol=1e-9)
    np.testing.assert_allclose(stds, gamma, rtol=STD_RTOL)


def reshape_without_transpose(x, gamma, beta):
    """The classic spatial-batchnorm bug: x.reshape(-1, C) mixes channels and positions."""
    N, C, H, W = x.shape
    out, _ = batchnorm_forward(x.reshape(-1, C), gamma, beta, train_param())
    return out.reshape(N, C, H, W)


def test_spatial_statistics_are_per_channel_over_n_h_w():
    rng = np.random.default_rng(14)
    x = channels_with_different_scales(rng)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 5.0])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, train_param())
    assert_each_channel_standardised(out, gamma, beta)
    # The data would catch the reshape-without-transpose bug:
    with pytest.raises(AssertionError):
        assert_each_channel_standardised(reshape_without_transpose(x, gamma, beta), gamma, beta)


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("unbiased", [False, True])
def test_spatial_equals_2d_batchnorm_of_the_transposed_input(mode, unbiased):
    rng = np.random.default_rng(15)
    shape = (3, 4, 2, 5)
    C = shape[1]
    gamma, beta = rng.normal(1.0, 0.3, C), rng.standard_normal(C)
    spatial_param = train_param(momentum=0.6, unbiased=unbiased)
    flat_param = train_param(momentum=0.6, unbiased=unbiased)
    for step in range(3):
        if step == 2:
            spatial_param["mode"] = flat_param["mode"] = mode
        x = channels_with_different_scales(rng, *shape)
        dout = rng.standard_normal(shape)
        out, cache = spatial_batchnorm_forward(x, gamma, beta, spatial_param)
        dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)

        out2, cache2 = batchnorm_forward(spatial_as_2d(x), gamma, beta, flat_param)
        dx2, dgamma2, dbeta2 = batchnorm_backward_alt(spatial_as_2d(dout), cache2)

        np.testing.assert_allclose(out, spatial_from_2d(out2, shape), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, spatial_from_2d(dx2, shape), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dgamma, dgamma2, rtol=1e-10)
        np.testing.assert_allclose(dbeta, dbeta2, rtol=1e-10)
        for key in ("running_mean", "running_var"):
            np.testing.assert_allclose(spatial_param[key], flat_param[key], rtol=SAME_MATHS_RTOL)


def test_naive_backward_of_a_spatial_cache_is_spatial_batchnorms():
    # m = N*H*W values per channel: the naive backward reads the axes from the cache; W != C
    # here, so a statistic that lost its kept dimensions would broadcast along W and fail
    rng = np.random.default_rng(12)
    x = rng.normal(2.0, 3.0, (2, 3, 4, 5))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dout = rng.standard_normal(out.shape)
    naive = batchnorm_backward(dout, cache)
    for got, want in zip(naive, spatial_batchnorm_backward(dout, cache), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
