"""The fast normalisation layers: batchnorm, spatial batchnorm, layernorm and groupnorm.

Each computes what its plain twin in :mod:`bnlab.layers` computes (``batchnorm_forward_fast``
is ``batchnorm_forward``, and so on; tests/test_fast_norm.py checks that they agree) with the
tricks of :mod:`bnlab.fast.norm_core`: einsum reductions, a cached centred input xc instead of
x_hat, and an in-place four-pass backward. They take the same arguments, are checked by the
same functions, and return their own caches: a fast cache goes to a fast backward only.

They run faster still inside ``bnlab.fast.ufunc_buffer.small_ufunc_buffer()``, which the
Solver's training loop and the benchmarks enter; see docs/fast-path.md.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.fast.norm_core import (
    Axes,
    center,
    centered_backward,
    count_over,
    dot_over,
    kept_shape,
    standardize,
    standardize_backward,
    sum_over,
)
from bnlab.layers.batchnorm import update_running_stats
from bnlab.layers.checks import (
    check_batchnorm_forward,
    check_finite_statistics,
    check_groupnorm_forward,
    check_layernorm_forward,
    check_norm_backward,
)
from bnlab.layers.groupnorm import CHANNEL_SUM_AXES, GROUP_AXES

# --- batchnorm and spatial batchnorm -----------------------------------------------------


class FastBatchNormCache(NamedTuple):
    """What the fast batchnorm forward keeps (shapes for x: (N, D)).

    It keeps the centred input xc rather than x_hat = xc * inv_std: the forward then never
    materialises x_hat (out = xc * (gamma * inv_std) + beta), and the closed-form backward
    needs only xc. ``cache.x_hat`` still works: it is computed when asked for.
    """

    made_by = "batchnorm_forward_fast or spatial_batchnorm_forward_fast"

    xc: np.ndarray  # (N, D) x - mu, the centred input
    mu: np.ndarray  # (1, D) the mean used: batch mean in train mode, running mean in test mode
    var: np.ndarray  # (1, D) the variance used (biased batch variance in train mode)
    inv_std: np.ndarray  # (1, D) 1 / sqrt(var + eps)
    gamma: np.ndarray  # (1, D) the scale, shaped to broadcast against x
    eps: float
    axes: Axes  # the axes the statistics run over: (0,) or (0, 2, 3)
    mode: str  # 'train' or 'test'

    @property
    def x_hat(self) -> np.ndarray:
        """(N, D) the standardised input, xc * inv_std (a new array on every access)."""
        return self.xc * self.inv_std


def _batchnorm_forward_fast(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict, axes: Axes
) -> tuple[np.ndarray, FastBatchNormCache]:
    """The shared forward: statistics over ``axes``, one (gamma, beta) per feature on axis 1."""
    mode, eps = bn_param["mode"], bn_param["eps"]
    layer = "spatial_batchnorm_forward_fast" if x.ndim == 4 else "batchnorm_forward_fast"
    stat_shape = kept_shape(x.shape, axes)  # (1, D) or (1, C, 1, 1)
    gamma = gamma.reshape(stat_shape)
    beta = beta.reshape(stat_shape)
    if mode == "train":
        m = count_over(x.shape, axes)
        xc, mu, var = center(x, axes)
        # after the fact (one small reduction): an overflowed var would make the output beta
        check_finite_statistics(var, x, layer, "channel" if x.ndim == 4 else "feature", (1,))
        update_running_stats(bn_param, mu.ravel(), var.ravel(), m)
    else:
        mu = np.asarray(bn_param["running_mean"], dtype=x.dtype).reshape(stat_shape)
        var = np.asarray(bn_param["running_var"], dtype=x.dtype).reshape(stat_shape)
        xc = x - mu
    inv_std = 1.0 / np.sqrt(var + eps)

    # gamma * x_hat = (gamma * inv_std) * xc: one small product instead of a full-size pass.
    out = xc * (gamma * inv_std)
    out += beta
    return out, FastBatchNormCache(xc, mu, var, inv_std, gamma, eps, axes, mode)


def batchnorm_forward_fast(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, FastBatchNormCache]:
    """y = gamma * (x - mu) / sqrt(var + eps) + beta: bnlab.layers.batchnorm_forward, faster

    x: (N, D); gamma, beta: (D,); bn_param: as for batchnorm_forward.
    Returns out: (N, D) in x's dtype, and the cache for batchnorm_backward_fast.
    """
    gamma, beta = check_batchnorm_forward(x, gamma, beta, bn_param, ndim=2)
    return _batchnorm_forward_fast(x, gamma, beta, bn_param, axes=(0,))


def spatial_batchnorm_forward_fast(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, FastBatchNormCache]:
    """y = gamma_c * (x - mu_c) / sqrt(var_c + eps) + beta_c: spatial_batchnorm_forward, faster

    x: (N, C, H, W); gamma, beta: (C,); bn_param: as for spatial_batchnorm_forward.
    Returns out: (N, C, H, W) and the cache for spatial_batchnorm_backward_fast.
    """
    gamma, beta = check_batchnorm_forward(x, gamma, beta, bn_param, ndim=4)
    # Reduce over (0, 2, 3) in place: no transpose to (N*H*W, C) and back.
    return _batchnorm_forward_fast(x, gamma, beta, bn_param, axes=(0, 2, 3))


def _frozen_statistics_backward(
    dout: np.ndarray, cache: FastBatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test mode: mu and var are constants, so dx = gamma * inv_std * dout."""
    dbeta = sum_over(dout, cache.axes)
    dgamma = dot_over(dout, cache.xc, cache.axes) * cache.inv_std.ravel()  # sum(dout * x_hat)
    return dout * (cache.gamma * cache.inv_std), dgamma, dbeta


def batchnorm_backward_fast(
    dout: np.ndarray, cache: FastBatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = gamma * inv_std / m * (m * dout - sum(dout) - x_hat * sum(dout * x_hat))

    batchnorm_backward_alt, faster (and dx = gamma * inv_std * dout in test mode).
    dout: (N, D) (or (N, C, H, W) from spatial_batchnorm_forward_fast)
    cache: from batchnorm_forward_fast
    Returns dx: shape of dout, dgamma: (D,), dbeta: (D,).
    """
    dout = check_norm_backward(
        dout, cache, FastBatchNormCache, "batchnorm_backward_fast", like="xc"
    )
    return _batchnorm_backward_unchecked(dout, cache)


def _batchnorm_backward_unchecked(
    dout: np.ndarray, cache: FastBatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """batchnorm_backward_fast (and its spatial twin) without the argument check: for the nets.

    A net's backward gets the cache its own forward made and a dout shaped like that forward's
    output (the next layer's dx), which is what the check verifies, so the nets call this
    (see bnlab.nets.registry). Users call the checked functions above: this one trusts its
    arguments and fails with NumPy's errors, or silently, on wrong ones.
    tests/test_fast_unchecked.py checks that both return the same bits.
    """
    if cache.mode == "test":
        return _frozen_statistics_backward(dout, cache)
    xc, inv_std, axes = cache.xc, cache.inv_std, cache.axes
    dbeta = sum_over(dout, axes)
    sum_dout_xc = dot_over(dout, xc, axes)
    dgamma = sum_dout_xc * inv_std.ravel()  # sum(dout * x_hat), x_hat = xc * inv_std
    dx = centered_backward(
        dout, xc, inv_std, axes, scale=cache.gamma, sum_dy=dbeta, sum_dy_xc=sum_dout_xc
    )
    return dx, dgamma, dbeta


def spatial_batchnorm_backward_fast(
    dout: np.ndarray, cache: FastBatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """spatial_batchnorm_backward, faster: batchnorm_backward_fast over N, H, W

    dout: (N, C, H, W); cache: from spatial_batchnorm_forward_fast.
    Returns dx: (N, C, H, W), dgamma: (C,), dbeta: (C,).
    """
    dout = check_norm_backward(
        dout, cache, FastBatchNormCache, "spatial_batchnorm_backward_fast", like="xc"
    )
    return _batchnorm_backward_unchecked(dout, cache)  # checked once, just above


# --- layernorm ---------------------------------------------------------------------------


class FastLayerNormCache(NamedTuple):
    made_by = "layernorm_forward_fast"

    x_hat: np.ndarray  # (N, D) the standardised input
    inv_std: np.ndarray  # (N, 1) one per example
    gamma: np.ndarray  # (D,)


def layernorm_forward_fast(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple[np.ndarray, FastLayerNormCache]:
    """y = gamma * (x - mu_n) / sqrt(var_n + eps) + beta: layernorm_forward, faster

    x: (N, D); gamma, beta: (D,); ln_param: dict with optional 'eps' (1e-5).
    Returns out: (N, D) in x's dtype, and the cache for layernorm_backward_fast.
    """
    gamma, beta, eps = check_layernorm_forward(x, gamma, beta, ln_param)
    x_hat, _, var, inv_std = standardize(x, axes=(1,), eps=eps)
    check_finite_statistics(var, x, "layernorm_forward_fast", "example", (0,))
    out = x_hat * gamma
    out += beta
    return out, FastLayerNormCache(x_hat, inv_std, gamma)


def layernorm_backward_fast(
    dout: np.ndarray, cache: FastLayerNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)): layernorm_backward

    dout: (N, D); cache: from layernorm_forward_fast.
    Returns dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    dout = check_norm_backward(dout, cache, FastLayerNormCache, "layernorm_backward_fast")
    x_hat = cache.x_hat
    # gamma and beta are per feature, so their gradients sum over the batch (axis 0) ...
    dbeta = sum_over(dout, (0,))
    dgamma = dot_over(dout, x_hat, (0,))
    # ... while the statistics run over features (axis 1), where gamma is not constant:
    # it has to be folded into dy before the standardisation backward.
    dx = standardize_backward(dout * cache.gamma, x_hat, cache.inv_std, axes=(1,))
    return dx, dgamma, dbeta


# --- groupnorm ---------------------------------------------------------------------------


class FastGroupNormCache(NamedTuple):
    made_by = "spatial_groupnorm_forward_fast"

    x_hat: np.ndarray  # (N, C, H, W) the standardised input
    inv_std: np.ndarray  # (N, G, 1, 1, 1) one per example and group
    gamma: np.ndarray  # (1, C, 1, 1) in x's dtype
    gamma_shape: tuple[int, ...]  # as given, (C,) or (1, C, 1, 1): dgamma is returned in it
    beta_shape: tuple[int, ...]  # likewise for dbeta


def spatial_groupnorm_forward_fast(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: dict
) -> tuple[np.ndarray, FastGroupNormCache]:
    """y = gamma_c * (x - mu_ng) / sqrt(var_ng + eps) + beta_c: spatial_groupnorm_forward, faster

    x: (N, C, H, W); gamma, beta: (C,) or (1, C, 1, 1); G: a divisor of C;
    gn_param: dict with optional 'eps' (1e-5).
    Returns out: (N, C, H, W) in x's dtype, and the cache for spatial_groupnorm_backward_fast.
    """
    gamma, beta, G, eps = check_groupnorm_forward(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    gamma_shape, beta_shape = gamma.shape, beta.shape
    gamma = gamma.reshape(1, C, 1, 1)
    beta = beta.reshape(1, C, 1, 1)
    x_grouped = x.reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W), a view
    x_hat, _, var, inv_std = standardize(x_grouped, GROUP_AXES, eps)
    check_finite_statistics(var, x, "spatial_groupnorm_forward_fast", "(example, group)", (0, 1))
    x_hat = x_hat.reshape(N, C, H, W)  # (N, C, H, W), a view
    out = x_hat * gamma
    out += beta
    return out, FastGroupNormCache(x_hat, inv_std, gamma, gamma_shape, beta_shape)


def spatial_groupnorm_backward_fast(
    dout: np.ndarray, cache: FastGroupNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), per (n, group)

    spatial_groupnorm_backward, faster. dout: (N, C, H, W); cache: from
    spatial_groupnorm_forward_fast. Returns dx: (N, C, H, W), and dgamma, dbeta in the
    shapes gamma and beta were given in.
    """
    dout = check_norm_backward(dout, cache, FastGroupNormCache, "spatial_groupnorm_backward_fast")
    x_hat, inv_std = cache.x_hat, cache.inv_std
    N, C, H, W = x_hat.shape
    G = inv_std.shape[1]
    dbeta = sum_over(dout, CHANNEL_SUM_AXES)
    dgamma = dot_over(dout, x_hat, CHANNEL_SUM_AXES)
    # gamma varies inside a group, so it is folded into dy rather than passed as the scale.
    dx_hat = (dout * cache.gamma).reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W)
    x_hat_grouped = x_hat.reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W)
    dx = standardize_backward(dx_hat, x_hat_grouped, inv_std, GROUP_AXES)
    return (
        dx.reshape(N, C, H, W),
        dgamma.reshape(cache.gamma_shape),
        dbeta.reshape(cache.beta_shape),
    )
