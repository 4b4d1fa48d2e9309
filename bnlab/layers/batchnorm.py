"""Batch normalization (Ioffe & Szegedy, 2015): 2-D and spatial, forward and two backwards.

    y = gamma * (x - mu) / sqrt(var + eps) + beta,   mu, var over the batch

In train mode mu and var are the batch statistics (biased variance, always); in test mode
they are the running averages kept in ``bn_param``.

Running statistics
------------------
After each training batch (m values per feature: m = N, or N*H*W spatially)::

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var * (m / (m - 1) if unbiased else 1)

``momentum`` weighs the OLD value (cs231n's meaning, default 0.9). ``running_mean`` starts at
zeros and ``running_var`` at ones (PyTorch's choice: cs231n's zeros make an untrained model
divide by sqrt(eps) in test mode). ``unbiased=False`` (default) averages the biased batch
variance, exactly as cs231n; ``unbiased=True`` stores the unbiased one, the BN paper's
inference rule and PyTorch's.

The conventions elsewhere, and how to get each from bnlab
---------------------------------------------------------
===========  =========  ========  ========  =========  ====================================
source       momentum   default   stored    init       the same from bnlab's bn_param
             weighs     momentum  variance  mean, var
===========  =========  ========  ========  =========  ====================================
cs231n       old value  0.9       biased    0, 0       momentum=0.9, running_var=zeros(D)
PyTorch      new batch  0.1       unbiased  0, 1       momentum=0.9, unbiased=True
d2l (0.x)    old value  0.9       biased    0, 1       momentum=0.9 (the defaults)
d2l (1.x)    new batch  0.1       biased    0, 1       momentum=0.9 (the defaults)
seeds' MyBN  old value  0.01      biased    0, 0       momentum=0.01, running_var=zeros(D)
Keras        old value  0.99      biased    0, 1       momentum=0.99, eps=1e-3
===========  =========  ========  ========  =========  ====================================

(The seeds' MyBN also never switches to its running statistics: it normalises test data with
the test batch's own statistics. Keras' default eps is 1e-3; everyone else's is 1e-5.)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bnlab._validation import (
    check_choice,
    check_dout,
    check_float_array,
    check_param,
    check_param_dict,
    check_shape,
)
from bnlab.layers.normalization import (
    Axes,
    center,
    centered_backward,
    count_over,
    dot_over,
    kept_shape,
    small_ufunc_buffer,
    sum_over,
)

MODES = ("train", "test")


class BatchNormCache(NamedTuple):
    """What batchnorm's forward keeps for either backward (shapes for x: (N, D)).

    It keeps the centred input xc rather than x_hat = xc * inv_std: the forward then never
    materialises x_hat (out = xc * (gamma * inv_std) + beta), and the closed-form backward
    needs only xc. ``cache.x_hat`` still works: it is computed when asked for.
    """

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


def _read_bn_param(bn_param: Any, num_features: int, dtype: np.dtype) -> tuple[str, float, float]:
    """Validate bn_param, fill in its defaults in place, return (mode, eps, momentum)."""
    check_param_dict("bn_param", bn_param)
    if "mode" not in bn_param:
        raise ValueError("bn_param['mode'] is missing: expected 'train' or 'test'")
    mode = bn_param["mode"]
    check_choice("bn_param['mode']", mode, MODES)
    eps = bn_param.setdefault("eps", 1e-5)
    if not eps > 0:
        raise ValueError(f"bn_param['eps'] must be > 0, got {eps!r}")
    momentum = bn_param.setdefault("momentum", 0.9)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"bn_param['momentum'] must be in [0, 1] (the weight of the old running value), "
            f"got {momentum!r}"
        )
    bn_param.setdefault("unbiased", False)
    bn_param.setdefault("running_mean", np.zeros(num_features, dtype=dtype))
    bn_param.setdefault("running_var", np.ones(num_features, dtype=dtype))
    check_shape("bn_param['running_mean']", bn_param["running_mean"], (num_features,))
    check_shape("bn_param['running_var']", bn_param["running_var"], (num_features,))
    return mode, eps, momentum


def update_running_stats(bn_param: dict, mu: np.ndarray, var: np.ndarray, m: int) -> None:
    """running = momentum * running + (1 - momentum) * batch, stored back into ``bn_param``

    mu, var: (D,) the batch mean and biased batch variance over m values each.
    """
    momentum = bn_param["momentum"]
    if bn_param["unbiased"]:
        var = var * (m / (m - 1))  # the population-variance estimate (BN paper, PyTorch)
    bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * var


@small_ufunc_buffer
def _batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict, axes: Axes
) -> tuple[np.ndarray, BatchNormCache]:
    """The shared forward: statistics over ``axes``, one (gamma, beta) per feature on axis 1."""
    num_features = x.shape[1]
    mode, eps, _ = _read_bn_param(bn_param, num_features, x.dtype)
    stat_shape = kept_shape(x.shape, axes)  # (1, D) or (1, C, 1, 1)
    per_feature = f"one per {'channel' if x.ndim == 4 else 'feature'} of x, shape {x.shape}"
    check_shape("gamma", gamma, (num_features,), per_feature)
    check_shape("beta", beta, (num_features,), per_feature)
    gamma = check_param("gamma", gamma, (num_features,), x.dtype).reshape(stat_shape)
    beta = check_param("beta", beta, (num_features,), x.dtype).reshape(stat_shape)

    if mode == "train":
        m = count_over(x.shape, axes)
        if m < 2:
            raise ValueError(
                f"batchnorm in train mode needs more than one value per feature to compute a "
                f"variance, but x of shape {x.shape} gives {m} (use bn_param['mode'] = 'test' "
                f"for a single example)"
            )
        xc, mu, var = center(x, axes)
        update_running_stats(bn_param, mu.ravel(), var.ravel(), m)
    else:
        mu = np.asarray(bn_param["running_mean"], dtype=x.dtype).reshape(stat_shape)
        var = np.asarray(bn_param["running_var"], dtype=x.dtype).reshape(stat_shape)
        xc = x - mu
    inv_std = 1.0 / np.sqrt(var + eps)

    # gamma * x_hat = (gamma * inv_std) * xc: one small product instead of a full-size pass.
    out = xc * (gamma * inv_std)
    out += beta
    return out, BatchNormCache(xc, mu, var, inv_std, gamma, eps, axes, mode)


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, BatchNormCache]:
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, mu and var per feature over the batch

    x: (N, D)
    gamma, beta: (D,)
    bn_param: dict, updated in place --
        'mode': 'train' (batch statistics; updates the running ones) or 'test' (running ones)
        'eps': 1e-5;  'momentum': 0.9 (weight of the OLD running value);  'unbiased': False
        'running_mean': (D,), zeros at first;  'running_var': (D,), ones at first
    Returns out: (N, D) in x's dtype, and the cache for either backward.
    See the module docstring for the conventions of cs231n, PyTorch, d2l and Keras.
    """
    check_float_array("x", x, ndim=2)
    return _batchnorm_forward(x, gamma, beta, bn_param, axes=(0,))


def _frozen_statistics_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test mode: mu and var are constants, so dx = gamma * inv_std * dout."""
    dbeta = sum_over(dout, cache.axes)
    dgamma = dot_over(dout, cache.xc, cache.axes) * cache.inv_std.ravel()  # sum(dout * x_hat)
    return dout * (cache.gamma * cache.inv_std), dgamma, dbeta


@small_ufunc_buffer
def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The naive backward: walk the forward's computational graph back one node at a time.

    dout: (N, D)
    cache: from batchnorm_forward
    Returns dx: (N, D), dgamma: (D,), dbeta: (D,).
    This is the lesson, not the fast path: see batchnorm_backward_alt for that.
    """
    dout = check_dout(dout, cache.xc.shape, cache.xc.dtype)
    if cache.mode == "test":
        return _frozen_statistics_backward(dout, cache)
    xc, _, var, _, gamma, eps, axes, _ = cache
    m = count_over(xc.shape, axes)

    # The forward, one node per line; the backward below visits them in reverse.
    #   (1) mu      = sum(x) / m
    #   (2) xc      = x - mu
    #   (3) var     = sum(xc ** 2) / m
    #   (4) std     = sqrt(var + eps)
    #   (5) inv_std = 1 / std
    #   (6) x_hat   = xc * inv_std
    #   (7) out     = gamma * x_hat + beta
    # The cache holds xc (node 2); replay nodes (4) to (6) from it.
    std = np.sqrt(var + eps)
    inv_std = 1 / std
    x_hat = xc * inv_std

    # (7) out = gamma * x_hat + beta: gamma and beta are shared by the whole batch, so sum.
    dbeta = np.sum(dout, axis=axes)
    dgamma = np.sum(dout * x_hat, axis=axes)
    dx_hat = dout * gamma

    # (6) x_hat = xc * inv_std: a product, so each factor's gradient is the other factor.
    dxc = dx_hat * inv_std
    dinv_std = np.sum(dx_hat * xc, axis=axes, keepdims=True)

    # (5) inv_std = 1 / std
    dstd = -dinv_std / std**2

    # (4) std = sqrt(var + eps)
    dvar = dstd * 0.5 / std

    # (3) var = sum(xc ** 2) / m: xc also fed (6), so its second gradient is added.
    dxc += 2 * xc * dvar / m

    # (2) xc = x - mu: the gradient reaches x directly and mu with a minus sign.
    dx = dxc
    dmu = -np.sum(dxc, axis=axes, keepdims=True)

    # (1) mu = sum(x) / m: every x gets an equal share; x also fed (2), so add.
    dx += dmu / m
    return dx, dgamma, dbeta


@small_ufunc_buffer
def batchnorm_backward_alt(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = gamma * inv_std / m * (m * dout - sum(dout) - x_hat * sum(dout * x_hat))

    The closed form: collapsing the graph above, and noting that the two sums are dbeta and
    dgamma, leaves one expression and two reductions.
    dout: (N, D) (or (N, C, H, W) from spatial_batchnorm_forward)
    cache: from batchnorm_forward (the same cache as batchnorm_backward)
    Returns dx: shape of dout, dgamma: (D,), dbeta: (D,).
    """
    dout = check_dout(dout, cache.xc.shape, cache.xc.dtype)
    if cache.mode == "test":
        return _frozen_statistics_backward(dout, cache)
    xc, _, _, inv_std, gamma, _, axes, _ = cache
    dbeta = sum_over(dout, axes)
    sum_dout_xc = dot_over(dout, xc, axes)
    dgamma = sum_dout_xc * inv_std.ravel()  # sum(dout * x_hat), x_hat = xc * inv_std
    dx = centered_backward(
        dout, xc, inv_std, axes, scale=gamma, sum_dy=dbeta, sum_dy_xc=sum_dout_xc
    )
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, BatchNormCache]:
    """y = gamma_c * (x - mu_c) / sqrt(var_c + eps) + beta_c, statistics per channel over N*H*W

    x: (N, C, H, W)
    gamma, beta: (C,)
    bn_param: as for batchnorm_forward; running_mean, running_var: (C,), and the unbiased
        factor uses m = N*H*W (every pixel of every example is a sample of its channel).
    Returns out: (N, C, H, W) and the cache for spatial_batchnorm_backward.
    """
    check_float_array("x", x, ndim=4)
    # Reduce over (0, 2, 3) in place: no transpose to (N*H*W, C) and back.
    return _batchnorm_forward(x, gamma, beta, bn_param, axes=(0, 2, 3))


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The closed-form backward of spatial batchnorm (batchnorm_backward_alt over N, H, W)

    dout: (N, C, H, W)
    Returns dx: (N, C, H, W), dgamma: (C,), dbeta: (C,).
    """
    return batchnorm_backward_alt(dout, cache)
