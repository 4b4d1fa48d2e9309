"""Layer normalization (Ba, Kiros & Hinton, 2016): batchnorm's maths over the other axis.

    y = gamma * (x - mu) / sqrt(var + eps) + beta,   mu, var per example over its D features

No running statistics and no train/test difference: every example normalises itself.
The fast twins are in :mod:`bnlab.fast.normalization`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.layers.checks import (
    check_finite_statistics,
    check_layernorm_forward,
    check_norm_backward,
)


class LayerNormCache(NamedTuple):
    """What layernorm_forward keeps for layernorm_backward."""

    made_by = "layernorm_forward"  # named in the backward's errors

    x_hat: np.ndarray  # (N, D) the standardised input, (x - mu) * inv_std
    inv_std: np.ndarray  # (N, 1) 1 / sqrt(var + eps), one per example
    gamma: np.ndarray  # (D,) in x's dtype


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple[np.ndarray, LayerNormCache]:
    """y = gamma * (x - mu_n) / sqrt(var_n + eps) + beta, mu_n and var_n over each row of x

    x: (N, D)
    gamma, beta: (D,), one per feature, as in batchnorm
    ln_param: dict with optional 'eps' (1e-5)
    Returns out: (N, D) in x's dtype, and the cache.
    """
    gamma, beta, eps = check_layernorm_forward(x, gamma, beta, ln_param)
    # batchnorm's statistics over axis 1 (the features of one example) instead of axis 0
    mu = np.mean(x, axis=1, keepdims=True)  # (N, 1)
    var = np.var(x, axis=1, keepdims=True)  # (N, 1), biased
    # after the fact: an overflowed var would make the output silently beta
    check_finite_statistics(var, x, "layernorm_forward", "example", (0,))
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    return out, LayerNormCache(x_hat=x_hat, inv_std=inv_std, gamma=gamma)


def layernorm_backward(
    dout: np.ndarray, cache: LayerNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), dx_hat = gamma * dout

    Means over each row's D values.
    dout: (N, D)
    cache: from layernorm_forward
    Returns dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    dout = check_norm_backward(dout, cache, LayerNormCache, "layernorm_backward")
    x_hat, inv_std = cache.x_hat, cache.inv_std
    # gamma and beta are per feature, so their gradients sum over the batch (axis 0) ...
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    # ... while the statistics run over the features (axis 1), where gamma is not constant:
    # it enters through dx_hat, and the means below are batchnorm's closed form over axis 1.
    dx_hat = dout * cache.gamma
    mean_dx_hat = np.mean(dx_hat, axis=1, keepdims=True)  # (N, 1)
    mean_dx_hat_x_hat = np.mean(dx_hat * x_hat, axis=1, keepdims=True)  # (N, 1)
    dx = inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)
    return dx, dgamma, dbeta
