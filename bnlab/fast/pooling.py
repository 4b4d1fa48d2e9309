"""The fast pooling: every window at once, over im2col columns.

Same maths, arguments, checks and tie rule as the loops in :mod:`bnlab.layers.pooling` (the
lesson, and the reference these are tested against in ``tests/test_fast_conv_pool.py``).
cs231n's ``max_pool_forward_fast`` / ``max_pool_backward_fast`` are also exported by
:mod:`bnlab.layers`; the nets use these, and ``avg_pool_forward_fast`` / ``avg_pool_backward_fast``.

The windows are copied with ``im2col`` (as the fast convolution does) and reduced over its
contiguous window axes. There is no separate reshape path for windows that tile x (2x2 stride
2): ``x.reshape(N, C, H', 2, W', 2).max(axis=(3, 5))`` reduces over two tiny strided axes and is
slower than im2col + max (``benchmarks/conv.py`` prints both). The fast max-pool caches the
flat index in x of each window's maximum, so its backward is one ``np.bincount``, which also
sums a maximum shared by overlapping windows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.fast.im2col import col2im, im2col
from bnlab.layers.checks import check_pool, check_pool_dout
from bnlab.layers.pooling import PoolCache


class MaxPoolFastCache(NamedTuple):
    made_by = "max_pool_forward_fast"  # named in the backward's errors

    x: np.ndarray  # (N, C, H, W)
    pool_param: dict  # {"pool_height": ..., "pool_width": ..., "stride": ...}
    max_index: np.ndarray  # (N, C, H', W'): flat index in x of each window's first maximum


def _window_starts(x_shape: tuple[int, ...], stride: int, H_out: int, W_out: int) -> np.ndarray:
    """Flat index in x of every window's top-left pixel: (N, C, H', W')."""
    N, C, H, W = x_shape
    image = np.arange(N * C).reshape(N, C, 1, 1) * (H * W)
    row = np.arange(H_out).reshape(H_out, 1) * (stride * W)
    col = np.arange(W_out) * stride
    return image + row + col


def max_pool_forward_fast(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, MaxPoolFastCache]:
    """out[n, c, y, z] = max(x[n, c, window (y, z)])  -- all windows at once

    x: (N, C, H, W); pool_param as in max_pool_forward_naive.
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param, max_index) with
    max_index: (N, C, H', W'), the flat index in x of each window's first maximum.
    """
    ph, pw, stride = check_pool(x, pool_param)
    H, W = x.shape[2:]
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    x_cols = im2col(x, ph, pw, stride)  # (N, C, ph, pw, H', W')
    out = x_cols.max(axis=(2, 3))  # (N, C, H', W')
    # Scanning the offsets backwards, the first maximum in row-major order is written last.
    offset = np.zeros(out.shape, dtype=np.intp)
    for i in reversed(range(ph)):
        for j in reversed(range(pw)):
            offset = np.where(x_cols[:, :, i, j] == out, i * W + j, offset)
    max_index = _window_starts(x.shape, stride, H_out, W_out) + offset
    return out, MaxPoolFastCache(x, pool_param, max_index)


def max_pool_backward_fast(dout: np.ndarray, cache: MaxPoolFastCache) -> np.ndarray:
    """dx.flat[max_index] += dout  (summing where overlapping windows share a maximum)

    dout: (N, C, H', W'); cache: from max_pool_forward_fast.
    Returns dx: (N, C, H, W) in x's dtype.
    """
    dout = check_pool_dout(dout, cache, MaxPoolFastCache, "max_pool_backward_fast")
    x, max_index = cache.x, cache.max_index
    # bincount adds up repeated indices (dx.flat[max_index] += dout would keep only one).
    dx = np.bincount(max_index.ravel(), weights=dout.ravel(), minlength=x.size)  # float64
    return dx.reshape(x.shape).astype(x.dtype, copy=False)


def avg_pool_forward_fast(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """out[n, c, y, z] = mean(x[n, c, window (y, z)])  -- all windows at once

    x: (N, C, H, W); pool_param as in max_pool_forward_naive.
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param), the cache of
    avg_pool_forward (either backward takes it).
    """
    ph, pw, stride = check_pool(x, pool_param)
    out = im2col(x, ph, pw, stride).mean(axis=(2, 3))  # (N, C, ph, pw, H', W') -> (N, C, H', W')
    return out, PoolCache(x, pool_param)


def avg_pool_backward_fast(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx[n, c, window (y, z)] += dout[n, c, y, z] / (pool_height * pool_width)  -- all at once

    dout: (N, C, H', W'); cache: from avg_pool_forward_fast (or avg_pool_forward).
    Returns dx: (N, C, H, W) in x's dtype.
    """
    dout = check_pool_dout(dout, cache, PoolCache, "avg_pool_backward_fast")
    x, pool_param = cache.x, cache.pool_param
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    share = dout / (ph * pw)  # every pixel of a window had the same weight, 1 / (ph*pw)
    N, C, H_out, W_out = dout.shape
    dx_cols = np.broadcast_to(share[:, :, None, None], (N, C, ph, pw, H_out, W_out))  # no copy
    return col2im(dx_cols, x.shape, stride)
