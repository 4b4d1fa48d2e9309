"""Group normalization (Wu & He, 2018): layernorm over groups of channels.

    y = gamma_c * (x - mu_ng) / sqrt(var_ng + eps) + beta_c,   mu_ng, var_ng over (C/G, H, W)

The C channels of each example are split into G groups of C/G consecutive channels, and each
(example, group) is standardised on its own: x is viewed as (N, G, C/G, H, W) and the
statistics run over its last three axes. gamma and beta stay one per channel. G = 1 is
layernorm over (C, H, W), G = C instance norm. Like layernorm there are no running statistics
and no train/test difference. PyTorch: ``torch.nn.GroupNorm(G, C, eps=eps)``.
The fast twins are in :mod:`bnlab.fast.normalization`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.layers.checks import (
    check_finite_statistics,
    check_groupnorm_forward,
    check_norm_backward,
)

GROUP_AXES = (2, 3, 4)  # (C/G, H, W) of the grouped view (N, G, C/G, H, W)
CHANNEL_SUM_AXES = (0, 2, 3)  # gamma and beta are shared by every example and pixel


class GroupNormCache(NamedTuple):
    """What spatial_groupnorm_forward keeps for spatial_groupnorm_backward."""

    made_by = "spatial_groupnorm_forward"  # named in the backward's errors

    x_hat: np.ndarray  # (N, C, H, W) the standardised input
    inv_std: np.ndarray  # (N, G, 1, 1, 1) one per example and group
    gamma: np.ndarray  # (1, C, 1, 1) in x's dtype
    gamma_shape: tuple[int, ...]  # as given, (C,) or (1, C, 1, 1): dgamma is returned in it
    beta_shape: tuple[int, ...]  # likewise for dbeta


def spatial_groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: dict
) -> tuple[np.ndarray, GroupNormCache]:
    """y = gamma_c * (x - mu_ng) / sqrt(var_ng + eps) + beta_c, statistics per example and group

    x: (N, C, H, W)
    gamma, beta: (C,), or cs231n's (1, C, 1, 1)
    G: the number of groups, a divisor of C; group g holds channels g*C/G to (g+1)*C/G - 1
    gn_param: dict with optional 'eps' (1e-5)
    Returns out: (N, C, H, W) in x's dtype, and the cache.
    """
    gamma, beta, G, eps = check_groupnorm_forward(x, gamma, beta, G, gn_param)
    N, C, H, W = x.shape
    x_grouped = x.reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W), a view
    mu = np.mean(x_grouped, axis=GROUP_AXES, keepdims=True)  # (N, G, 1, 1, 1)
    var = np.var(x_grouped, axis=GROUP_AXES, keepdims=True)  # (N, G, 1, 1, 1), biased
    # after the fact: an overflowed var would make the output silently beta
    check_finite_statistics(var, x, "spatial_groupnorm_forward", "(example, group)", (0, 1))
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = ((x_grouped - mu) * inv_std).reshape(N, C, H, W)  # (N, C, H, W)
    gamma_c = gamma.reshape(1, C, 1, 1)  # (1, C, 1, 1): one per channel
    out = gamma_c * x_hat + beta.reshape(1, C, 1, 1)
    cache = GroupNormCache(
        x_hat=x_hat,
        inv_std=inv_std,
        gamma=gamma_c,
        gamma_shape=gamma.shape,
        beta_shape=beta.shape,
    )
    return out, cache


def spatial_groupnorm_backward(
    dout: np.ndarray, cache: GroupNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), dx_hat = gamma * dout

    Means over each (example, group)'s (C/G, H, W) values.
    dout: (N, C, H, W)
    cache: from spatial_groupnorm_forward
    Returns dx: (N, C, H, W), and dgamma, dbeta in the shapes gamma and beta were given in.
    """
    dout = check_norm_backward(dout, cache, GroupNormCache, "spatial_groupnorm_backward")
    N, C, H, W = dout.shape
    G = cache.inv_std.shape[1]
    dbeta = np.sum(dout, axis=CHANNEL_SUM_AXES)  # (C,)
    dgamma = np.sum(dout * cache.x_hat, axis=CHANNEL_SUM_AXES)  # (C,)
    # gamma varies inside a group, so it enters through dx_hat, as in layernorm
    dx_hat = (dout * cache.gamma).reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W)
    x_hat = cache.x_hat.reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W)
    mean_dx_hat = np.mean(dx_hat, axis=GROUP_AXES, keepdims=True)  # (N, G, 1, 1, 1)
    mean_dx_hat_x_hat = np.mean(dx_hat * x_hat, axis=GROUP_AXES, keepdims=True)
    dx = cache.inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)
    return (
        dx.reshape(N, C, H, W),
        dgamma.reshape(cache.gamma_shape),
        dbeta.reshape(cache.beta_shape),
    )
