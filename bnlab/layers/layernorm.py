"""Layer normalization (Ba, Kiros & Hinton, 2016): batchnorm's maths over the other axis.

    y = gamma * (x - mu) / sqrt(var + eps) + beta,   mu, var per example over its D features

No running statistics and no train/test difference: every example normalises itself.
"""

from __future__ import annotations

from typing import NamedTuple

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


class LayerNormCache(NamedTuple):
    x_hat: np.ndarray  # (N, D) the standardised input
    inv_std: np.ndarray  # (N, 1) one per example
    gamma: np.ndarray  # (D,)


@small_ufunc_buffer
def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple[np.ndarray, LayerNormCache]:
    """y = gamma * (x - mu_n) / sqrt(var_n + eps) + beta, mu_n and var_n over each row of x

    x: (N, D)
    gamma, beta: (D,), one per feature, as in batchnorm
    ln_param: dict with optional 'eps' (1e-5)
    Returns out: (N, D) in x's dtype, and the cache.
    """
    check_float_array("x", x, ndim=2)
    check_param_dict("ln_param", ln_param)
    eps = ln_param.get("eps", 1e-5)
    if not eps > 0:
        raise ValueError(f"ln_param['eps'] must be > 0, got {eps!r}")
    D = x.shape[1]
    check_shape("gamma", gamma, (D,), f"one per feature of x, shape {x.shape}")
    check_shape("beta", beta, (D,), f"one per feature of x, shape {x.shape}")
    gamma = check_param("gamma", gamma, (D,), x.dtype)
    beta = check_param("beta", beta, (D,), x.dtype)
    x_hat, _, _, inv_std = standardize(x, axes=(1,), eps=eps)
    out = x_hat * gamma
    out += beta
    return out, LayerNormCache(x_hat, inv_std, gamma)


@small_ufunc_buffer
def layernorm_backward(
    dout: np.ndarray, cache: LayerNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), dx_hat = gamma * dout

    dout: (N, D)
    Returns dx: (N, D), dgamma: (D,), dbeta: (D,).
    """
    x_hat, inv_std, gamma = cache
    dout = check_dout(dout, x_hat.shape, x_hat.dtype)
    # gamma and beta are per feature, so their gradients sum over the batch (axis 0) ...
    dbeta = sum_over(dout, (0,))
    dgamma = dot_over(dout, x_hat, (0,))
    # ... while the statistics run over features (axis 1), where gamma is not constant:
    # it has to be folded into dy before the standardisation backward.
    dx = standardize_backward(dout * gamma, x_hat, inv_std, axes=(1,))
    return dx, dgamma, dbeta
