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
notes' MyBN  old value  0.01      biased    0, 0       momentum=0.01, running_var=zeros(D)
Keras        old value  0.99      biased    0, 1       momentum=0.99, eps=1e-3
===========  =========  ========  ========  =========  ====================================

(The study notes' MyBN also never switches to its running statistics: it normalises test data
with the test batch's own statistics. Keras' default eps is 1e-3; everyone else's is 1e-5.)

This module is the lesson, plain NumPy from top to bottom. The nets train with the fast twins
in :mod:`bnlab.fast.normalization` (the same numbers in fewer passes over memory); what each
trick buys is in docs/fast-path.md.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.layers.checks import (
    check_batchnorm_forward,
    check_finite_statistics,
    check_norm_backward,
)


class BatchNormCache(NamedTuple):
    """What batchnorm's forward keeps for the backwards.

    Shapes for x: (N, D); for spatial batchnorm x: (N, C, H, W) and the statistics (1, C, 1, 1).
    """

    made_by = "batchnorm_forward or spatial_batchnorm_forward"  # named in the backwards' errors

    x_hat: np.ndarray  # (N, D) the standardised input, (x - mu) * inv_std
    xc: np.ndarray  # (N, D) the centred input, x - mu
    mu: np.ndarray  # (1, D) the mean used: batch mean in train mode, running mean in test mode
    var: np.ndarray  # (1, D) the variance used (the biased batch variance in train mode)
    inv_std: np.ndarray  # (1, D) 1 / sqrt(var + eps)
    gamma: np.ndarray  # (1, D) the scale, shaped to broadcast against x
    eps: float
    axes: tuple[int, ...]  # the axes the statistics run over: (0,), or (0, 2, 3) spatially
    mode: str  # 'train' or 'test'


def update_running_stats(bn_param: dict, mu: np.ndarray, var: np.ndarray, m: int) -> None:
    """running = momentum * running + (1 - momentum) * batch, stored back into ``bn_param``

    mu, var: (D,) the batch mean and biased batch variance over m values each.
    """
    momentum = bn_param["momentum"]
    if bn_param["unbiased"]:
        var = var * (m / (m - 1))  # the population-variance estimate (BN paper, PyTorch)
    bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mu
    bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * var


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
    gamma, beta = check_batchnorm_forward(x, gamma, beta, bn_param, ndim=2)
    return _normalize(x, gamma, beta, bn_param, axes=(0,))


def _normalize(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict, axes: tuple[int, ...]
) -> tuple[np.ndarray, BatchNormCache]:
    """y = gamma * x_hat + beta, x_hat = (x - mu) / sqrt(var + eps), mu and var over ``axes``

    x: (N, D) with axes (0,), or (N, C, H, W) with axes (0, 2, 3); gamma, beta: (D,) or (C,).
    """
    layer = "spatial_batchnorm_forward" if x.ndim == 4 else "batchnorm_forward"
    stat_shape = [1 if i in axes else n for i, n in enumerate(x.shape)]  # (1, D) or (1, C, 1, 1)
    gamma = gamma.reshape(stat_shape)
    beta = beta.reshape(stat_shape)
    if bn_param["mode"] == "train":
        mu = np.mean(x, axis=axes, keepdims=True)
        var = np.var(x, axis=axes, keepdims=True)  # biased: divides by m, as the paper does
        # after the fact: an overflowed var would make the output silently beta
        check_finite_statistics(var, x, layer, "channel" if x.ndim == 4 else "feature", (1,))
        m = x.size // x.shape[1]  # the values behind each statistic: N, or N*H*W spatially
        update_running_stats(bn_param, mu.reshape(-1), var.reshape(-1), m)
    else:
        mu = np.asarray(bn_param["running_mean"], dtype=x.dtype).reshape(stat_shape)
        var = np.asarray(bn_param["running_var"], dtype=x.dtype).reshape(stat_shape)
    xc = x - mu
    inv_std = 1 / np.sqrt(var + bn_param["eps"])
    x_hat = xc * inv_std
    out = gamma * x_hat + beta
    cache = BatchNormCache(
        x_hat=x_hat,
        xc=xc,
        mu=mu,
        var=var,
        inv_std=inv_std,
        gamma=gamma,
        eps=bn_param["eps"],
        axes=axes,
        mode=bn_param["mode"],
    )
    return out, cache


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The staged backward: walk the forward's computational graph back one node at a time.

    dout: (N, D) (or (N, C, H, W) from spatial_batchnorm_forward)
    cache: from batchnorm_forward
    Returns dx: shape of dout, dgamma: (D,), dbeta: (D,).
    The closed form, batchnorm_backward_alt, gets the same numbers in fewer passes.
    """
    dout = check_norm_backward(dout, cache, BatchNormCache, "batchnorm_backward")
    if cache.mode == "test":
        return _test_mode_backward(dout, cache)
    xc, var, eps, gamma, axes = cache.xc, cache.var, cache.eps, cache.gamma, cache.axes
    m = dout.size // dout.shape[1]  # the values behind each statistic: N, or N*H*W

    # The forward, one node per line; the backward below visits them in reverse.
    #   (1) mu      = sum(x) / m
    #   (2) xc      = x - mu
    #   (3) var     = sum(xc ** 2) / m
    #   (4) std     = sqrt(var + eps)
    #   (5) inv_std = 1 / std
    #   (6) x_hat   = xc * inv_std
    #   (7) out     = gamma * x_hat + beta
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
    dxc = dxc + 2 * xc * dvar / m

    # (2) xc = x - mu: the gradient reaches x directly and mu with a minus sign.
    dmu = -np.sum(dxc, axis=axes, keepdims=True)

    # (1) mu = sum(x) / m: every x gets an equal share; x also fed (2), so add.
    dx = dxc + dmu / m
    return dx, dgamma, dbeta


def batchnorm_backward_alt(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = gamma * inv_std / m * (m * dout - sum(dout) - x_hat * sum(dout * x_hat))

    The closed form: collapsing the graph above, and noting that the two sums are dbeta and
    dgamma, leaves one expression and two reductions (sums over the m = N values of a feature).
    dout: (N, D) (or (N, C, H, W) from spatial_batchnorm_forward)
    cache: from batchnorm_forward (the same cache as batchnorm_backward)
    Returns dx: shape of dout, dgamma: (D,), dbeta: (D,).
    """
    dout = check_norm_backward(dout, cache, BatchNormCache, "batchnorm_backward_alt")
    if cache.mode == "test":
        return _test_mode_backward(dout, cache)
    x_hat, inv_std, gamma, axes = cache.x_hat, cache.inv_std, cache.gamma, cache.axes
    m = dout.size // dout.shape[1]  # the values behind each statistic: N, or N*H*W

    sum_dout = np.sum(dout, axis=axes, keepdims=True)  # (1, D): dbeta, kept to broadcast
    sum_dout_x_hat = np.sum(dout * x_hat, axis=axes, keepdims=True)  # (1, D): dgamma
    dx = gamma * inv_std / m * (m * dout - sum_dout - x_hat * sum_dout_x_hat)
    return dx, sum_dout_x_hat.reshape(-1), sum_dout.reshape(-1)


def _test_mode_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = gamma * inv_std * dout: in test mode mu and var are constants, not functions of x

    dout: (N, D) (or (N, C, H, W)); cache: from batchnorm_forward in test mode.
    Returns dx: shape of dout, dgamma: (D,), dbeta: (D,).
    Both batchnorm_backward and batchnorm_backward_alt come here for a test-mode cache.
    """
    dbeta = np.sum(dout, axis=cache.axes)
    dgamma = np.sum(dout * cache.x_hat, axis=cache.axes)
    dx = dout * cache.gamma * cache.inv_std
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
    gamma, beta = check_batchnorm_forward(x, gamma, beta, bn_param, ndim=4)
    # batchnorm with the statistics over N, H and W: the same maths, reduced over (0, 2, 3)
    # rather than transposed to (N*H*W, C) and back.
    return _normalize(x, gamma, beta, bn_param, axes=(0, 2, 3))


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The closed-form backward of spatial batchnorm (batchnorm_backward_alt over N, H, W)

    dout: (N, C, H, W)
    cache: from spatial_batchnorm_forward
    Returns dx: (N, C, H, W), dgamma: (C,), dbeta: (C,).
    """
    dout = check_norm_backward(dout, cache, BatchNormCache, "spatial_batchnorm_backward")
    return batchnorm_backward_alt(dout, cache)
