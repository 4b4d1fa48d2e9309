"""Group normalization (Wu & He, 2018): layernorm over groups of channels.

    y = gamma_c * (x - mu_ng) / sqrt(var_ng + eps) + beta_c,   mu_ng, var_ng over (C/G, H, W)

The C channels of each example are split into G groups of C/G consecutive channels, and each
(example, group) is standardised on its own: x is viewed as (N, G, C/G, H, W) and the shared
core of :mod:`bnlab.layers.normalization` reduces over the last three axes. gamma and beta stay
one per channel. G = 1 is layernorm over (C, H, W), G = C instance norm. Like layernorm there
are no running statistics and no train/test difference.
PyTorch: ``torch.nn.GroupNorm(G, C, eps=eps)``.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, NamedTuple

import numpy as np

from bnlab._validation import (
    check_dout,
    check_float_array,
    check_param,
    check_param_dict,
    check_shape,
)
from bnlab.layers.normalization import (
    dot_over,
    small_ufunc_buffer,
    standardize,
    standardize_backward,
    sum_over,
)

GROUP_AXES = (2, 3, 4)  # (C/G, H, W) of the grouped view (N, G, C/G, H, W)
CHANNEL_SUM_AXES = (0, 2, 3)  # gamma and beta are shared by every example and pixel


class GroupNormCache(NamedTuple):
    x_hat: np.ndarray  # (N, C, H, W) the standardised input
    inv_std: np.ndarray  # (N, G, 1, 1, 1) one per example and group
    gamma: np.ndarray  # (1, C, 1, 1) in x's dtype
    gamma_shape: tuple[int, ...]  # as given, (C,) or (1, C, 1, 1): dgamma is returned in it
    beta_shape: tuple[int, ...]  # likewise for dbeta


def _check_groups(G: Any, x_shape: tuple[int, ...]) -> int:
    """G as an int that divides C, or an error naming C and G."""
    C = x_shape[1]
    if isinstance(G, bool) or not isinstance(G, Integral):
        raise TypeError(f"G, the number of groups, must be an integer, got {type(G).__name__}")
    if G < 1 or C % G:
        raise ValueError(
            f"G, the number of groups, must divide C = {C}, the channels of x of shape "
            f"{x_shape}; got G = {G}"
        )
    return int(G)


def _per_channel(name: str, value: Any, x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """gamma or beta as (1, C, 1, 1) in x's dtype, and the shape it was given in."""
    C = x.shape[1]
    # cs231n's notebook passes (1, C, 1, 1); everything else in bnlab (and PyTorch) uses (C,).
    given = np.shape(value)
    expected = given if given == (1, C, 1, 1) else (C,)
    meaning = f"one per channel of x, shape {x.shape}; (1, {C}, 1, 1) is accepted too"
    check_shape(name, value, expected, meaning)
    return check_param(name, value, expected, x.dtype).reshape(1, C, 1, 1), expected


@small_ufunc_buffer
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
    check_float_array("x", x, ndim=4)
    G = _check_groups(G, x.shape)
    check_param_dict("gn_param", gn_param)
    eps = gn_param.get("eps", 1e-5)
    if not eps > 0:
        raise ValueError(f"gn_param['eps'] must be > 0, got {eps!r}")
    gamma, gamma_shape = _per_channel("gamma", gamma, x)
    beta, beta_shape = _per_channel("beta", beta, x)

    N, C, H, W = x.shape
    x_grouped = x.reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W), a view
    x_hat, _, _, inv_std = standardize(x_grouped, GROUP_AXES, eps)
    x_hat = x_hat.reshape(N, C, H, W)  # (N, C, H, W), a view
    out = x_hat * gamma
    out += beta
    return out, GroupNormCache(x_hat, inv_std, gamma, gamma_shape, beta_shape)


@small_ufunc_buffer
def spatial_groupnorm_backward(
    dout: np.ndarray, cache: GroupNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), dx_hat = gamma * dout

    Means over each (example, group)'s (C/G, H, W) values.
    dout: (N, C, H, W)
    Returns dx: (N, C, H, W), and dgamma, dbeta in the shapes gamma and beta were given in.
    """
    x_hat, inv_std, gamma, gamma_shape, beta_shape = cache
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    N, C, H, W = x_hat.shape
    G = inv_std.shape[1]
    dbeta = sum_over(dout, CHANNEL_SUM_AXES)
    dgamma = dot_over(dout, x_hat, CHANNEL_SUM_AXES)
    # gamma varies inside a group, so it is folded into dy rather than passed as the scale.
    dx_hat = (dout * gamma).reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W)
    x_hat_grouped = x_hat.reshape(N, G, C // G, H, W)  # (N, G, C/G, H, W)
    dx = standardize_backward(dx_hat, x_hat_grouped, inv_std, GROUP_AXES)
    return dx.reshape(N, C, H, W), dgamma.reshape(gamma_shape), dbeta.reshape(beta_shape)
