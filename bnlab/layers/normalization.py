"""The normalisation core shared by batchnorm, spatial batchnorm, layernorm and groupnorm.

Every one of them standardises x over some axes, then scales and shifts it:

    x_hat = (x - mu) / sqrt(var + eps)      mu, var: mean and biased variance over ``axes``

    batchnorm          x: (N, D)           axes (0,)         one mu per feature
    spatial batchnorm  x: (N, C, H, W)     axes (0, 2, 3)    one mu per channel, over N*H*W values
    layernorm          x: (N, D)           axes (1,)         one mu per example
    groupnorm          x: (N, G, C/G, H, W) axes (2, 3, 4)   one mu per example and group

With dx_hat = scale * dy (scale constant over ``axes``) the backward of standardisation is

    dx = scale * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))      means over ``axes``

which is batchnorm's closed-form backward with scale = gamma, dy = dout.

Reductions use ``np.einsum``: it sums products without building the product array first,
about twice as fast as ``(a * b).sum(axis)`` and it reduces (N, C, H, W) over (0, 2, 3)
without a transpose.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Axes = tuple[int, ...]
_LETTERS = "abcdefghij"


def _subscripts(ndim: int, axes: Axes) -> tuple[str, str]:
    """einsum subscripts for 'reduce an ndim array over axes': ('abcd', 'b') for (0, 2, 3)."""
    full = _LETTERS[:ndim]
    kept = "".join(letter for i, letter in enumerate(full) if i not in axes)
    return full, kept


def sum_over(a: np.ndarray, axes: Axes) -> np.ndarray:
    """sum of a over ``axes`` (the reduced axes are dropped)."""
    full, kept = _subscripts(a.ndim, axes)
    return np.einsum(f"{full}->{kept}", a)


def dot_over(a: np.ndarray, b: np.ndarray, axes: Axes) -> np.ndarray:
    """sum of a * b over ``axes``, without materialising a * b."""
    full, kept = _subscripts(a.ndim, axes)
    return np.einsum(f"{full},{full}->{kept}", a, b)


def kept_shape(shape: Sequence[int], axes: Axes) -> tuple[int, ...]:
    """The shape of a statistic over ``axes`` kept for broadcasting: (1, C, 1, 1) for (0, 2, 3)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count_over(shape: Sequence[int], axes: Axes) -> int:
    """m, the number of values behind each statistic (N for batchnorm, N*H*W spatially)."""
    return int(np.prod([shape[i] for i in axes], dtype=np.int64))


def standardize(
    x: np.ndarray, axes: Axes, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_hat = (x - mu) / sqrt(var + eps), statistics over ``axes``

    x: any shape. Returns x_hat (shape of x) and mu, var, inv_std in the kept shape
    (reduced axes of size 1, so they broadcast against x). var is the biased variance.
    """
    stat_shape = kept_shape(x.shape, axes)
    m = count_over(x.shape, axes)
    mu = (sum_over(x, axes) / m).reshape(stat_shape)
    x_hat = x - mu  # centred now, standardised below: one temporary for the whole forward
    var = (dot_over(x_hat, x_hat, axes) / m).reshape(stat_shape)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    return x_hat, mu, var, inv_std


def standardize_backward(
    dy: np.ndarray,
    x_hat: np.ndarray,
    inv_std: np.ndarray,
    axes: Axes,
    scale: np.ndarray | float = 1.0,
    sum_dy: np.ndarray | None = None,
    sum_dy_x_hat: np.ndarray | None = None,
) -> np.ndarray:
    """dx = scale * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat)), means over ``axes``

    dy, x_hat: same shape; inv_std and scale broadcast against them and are constant over
    ``axes``. sum_dy, sum_dy_x_hat: the two reductions over ``axes`` if the caller already has
    them (batchnorm does: they are dbeta and dgamma), in any shape that reshapes to the kept one.
    Returns dx: shape of dy.
    """
    stat_shape = kept_shape(dy.shape, axes)
    m = count_over(dy.shape, axes)
    if sum_dy is None:
        sum_dy = sum_over(dy, axes)
    if sum_dy_x_hat is None:
        sum_dy_x_hat = dot_over(dy, x_hat, axes)
    mean_dy = (sum_dy / m).reshape(stat_shape)
    mean_dy_x_hat = (sum_dy_x_hat / m).reshape(stat_shape)
    dx = x_hat * -mean_dy_x_hat  # the only full-size temporary
    dx += dy
    dx -= mean_dy
    dx *= scale * inv_std
    return dx
