"""The fast path's normalisation core: einsum reductions and in-place passes, shared by the fast
batchnorm, spatial batchnorm, layernorm and groupnorm in :mod:`bnlab.fast.normalization`.

Every one of them standardises x over some axes, then scales and shifts it:

    x_hat = (x - mu) / sqrt(var + eps)      mu, var: mean and biased variance over ``axes``

    batchnorm          x: (N, D)           axes (0,)         one mu per feature
    spatial batchnorm  x: (N, C, H, W)     axes (0, 2, 3)    one mu per channel, over N*H*W values
    layernorm          x: (N, D)           axes (1,)         one mu per example
    groupnorm          x: (N, G, C/G, H, W) axes (2, 3, 4)   one mu per example and group

With dx_hat = scale * dy (scale constant over ``axes``) the backward of standardisation is

    dx = scale * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))      means over ``axes``

which is batchnorm's closed-form backward with scale = gamma, dy = dout. Written with the
centred input xc = x - mu (x_hat = xc * inv_std) the same backward is

    dx = scale * inv_std * (dy - mean(dy) - xc * inv_std**2 * mean(dy * xc))

which lets batchnorm keep xc instead of x_hat and so skip one full pass in its forward.

Reductions use ``np.einsum``: it sums products without building the product array first, and
it reduces (N, C, H, W) over (0, 2, 3) without a transpose. What each trick buys, measured, is
in docs/fast-path.md. The plain versions, for reading, are in :mod:`bnlab.layers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

Axes = tuple[int, ...]
_LETTERS = "abcdefghij"


@lru_cache(maxsize=64)
def _subscripts(ndim: int, axes: Axes, operands: int) -> str:
    """einsum subscripts to reduce ``operands`` ndim arrays' product over axes: 'abcd->b' for
    (0, 2, 3) and one operand, 'ab,ab->b' for (0,) and two. Built once per shape of call."""
    full = _LETTERS[:ndim]
    kept = "".join(letter for i, letter in enumerate(full) if i not in axes)
    return ",".join([full] * operands) + "->" + kept


def sum_over(a: np.ndarray, axes: Axes) -> np.ndarray:
    """sum of a over ``axes`` (the reduced axes are dropped)."""
    return np.einsum(_subscripts(a.ndim, axes, 1), a)


def dot_over(a: np.ndarray, b: np.ndarray, axes: Axes) -> np.ndarray:
    """sum of a * b over ``axes``, without materialising a * b."""
    return np.einsum(_subscripts(a.ndim, axes, 2), a, b)


def kept_shape(shape: Sequence[int], axes: Axes) -> tuple[int, ...]:
    """The shape of a statistic over ``axes`` kept for broadcasting: (1, C, 1, 1) for (0, 2, 3)."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def count_over(shape: Sequence[int], axes: Axes) -> int:
    """m, the number of values behind each statistic (N for batchnorm, N*H*W spatially)."""
    return math.prod(shape[i] for i in axes)


def center(x: np.ndarray, axes: Axes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xc = x - mu, var = mean(xc**2), statistics over ``axes``

    x: any shape. Returns xc (shape of x, a new array) and mu, var in the kept shape (reduced
    axes of size 1, so they broadcast against x). var is the biased variance, computed from xc
    (two passes) rather than as mean(x**2) - mu**2, which cancels catastrophically in float32.
    """
    stat_shape = kept_shape(x.shape, axes)
    m = count_over(x.shape, axes)
    mu = (sum_over(x, axes) / m).reshape(stat_shape)
    xc = x - mu
    var = (dot_over(xc, xc, axes) / m).reshape(stat_shape)
    return xc, mu, var


def standardize(
    x: np.ndarray, axes: Axes, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_hat = (x - mu) / sqrt(var + eps), statistics over ``axes``

    x: any shape. Returns x_hat (shape of x) and mu, var, inv_std in the kept shape
    (reduced axes of size 1, so they broadcast against x). var is the biased variance.
    """
    x_hat, mu, var = center(x, axes)  # centred now, standardised below: one temporary in all
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat *= inv_std
    return x_hat, mu, var, inv_std


def centered_backward(
    dy: np.ndarray,
    xc: np.ndarray,
    inv_std: np.ndarray | float,
    axes: Axes,
    scale: np.ndarray | float = 1.0,
    sum_dy: np.ndarray | None = None,
    sum_dy_xc: np.ndarray | None = None,
) -> np.ndarray:
    """dx = scale * inv_std * (dy - mean(dy) - xc * inv_std**2 * mean(dy * xc)), means over ``axes``

    The standardisation backward from the centred input xc = x - mu (x_hat = xc * inv_std).
    dy, xc: same shape; inv_std and scale broadcast against them and are constant over
    ``axes``. sum_dy, sum_dy_xc: the two reductions over ``axes`` if the caller already has
    them, in any shape that reshapes to the kept one. Returns dx: shape of dy, a new array.
    """
    stat_shape = kept_shape(dy.shape, axes)
    m = count_over(dy.shape, axes)
    if sum_dy is None:
        sum_dy = sum_over(dy, axes)
    if sum_dy_xc is None:
        sum_dy_xc = dot_over(dy, xc, axes)
    mean_dy = (sum_dy / m).reshape(stat_shape)
    mean_dy_xc = (sum_dy_xc / m).reshape(stat_shape)
    # Four passes over full-size arrays, one of them allocating: numpy has no fused a*b + c.
    dx = xc * (-(inv_std * inv_std) * mean_dy_xc)
    dx += dy
    dx -= mean_dy
    dx *= scale * inv_std
    return dx


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
    them (for batchnorm they are dbeta and dgamma), in any shape that reshapes to the kept one.
    Returns dx: shape of dy.
    """
    # x_hat is xc in units of its own std, so this is centered_backward with inv_std = 1
    # inside the bracket, the true inv_std folded into the scale in front.
    return centered_backward(
        dy, x_hat, 1.0, axes, scale=scale * inv_std, sum_dy=sum_dy, sum_dy_xc=sum_dy_x_hat
    )
