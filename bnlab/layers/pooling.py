"""Max and average pooling over pool_height x pool_width windows, ``stride`` apart, as loops.

    max:  out[n, c, y, z] = max  of x[n, c, y*stride : y*stride + pool_height, z*stride : z*stride + pool_width]
    avg:  out[n, c, y, z] = mean of the same window

x: (N, C, H, W); ``pool_param`` must hold ``pool_height``, ``pool_width`` and ``stride``
(no defaults, no padding, as in cs231n). out: (N, C, H', W') with
H' = 1 + (H - pool_height) / stride, which must divide exactly (the windows tile x).
PyTorch: ``max_pool2d`` / ``avg_pool2d(x, (pool_height, pool_width), stride)``.

Ties in max pooling: the whole gradient of a window goes to ONE of its maxima, the first in
row-major order (``np.argmax`` of the flattened window), as in PyTorch. It is a valid
subgradient; sending dout to every tied maximum instead (cs231n's fast version does)
multiplies the gradient by the number of ties.

These loops are the lesson, and the reference that the fast pooling (``bnlab.fast.pooling``:
every window at once over im2col columns, what the nets use) is tested against.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.layers.checks import check_pool, check_pool_dout


class PoolCache(NamedTuple):
    made_by = "max_pool_forward_naive, avg_pool_forward or avg_pool_forward_fast"

    x: np.ndarray  # (N, C, H, W)
    pool_param: dict  # {"pool_height": ..., "pool_width": ..., "stride": ...}


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """out[n, c, y, z] = max(x[n, c, window (y, z)])  -- one loop per index

    x: (N, C, H, W)
    pool_param: {"pool_height": int, "pool_width": int, "stride": int}, all >= 1
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param).
    """
    ph, pw, stride = check_pool(x, pool_param)
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for z in range(W_out):
                    window = x[n, c, y * stride : y * stride + ph, z * stride : z * stride + pw]
                    out[n, c, y, z] = window.max()
    return out, PoolCache(x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx[n, c, argmax of window (y, z)] += dout[n, c, y, z]  (the first maximum on ties)

    dout: (N, C, H', W'); cache: from max_pool_forward_naive.
    Returns dx: (N, C, H, W) in x's dtype.
    """
    dout = check_pool_dout(dout, cache, PoolCache, "max_pool_backward_naive")
    x, pool_param = cache.x, cache.pool_param
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for z in range(W_out):
                    window = x[n, c, y * stride : y * stride + ph, z * stride : z * stride + pw]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    # += because overlapping windows (stride < pool size) can share a maximum.
                    dx[n, c, y * stride + i, z * stride + j] += dout[n, c, y, z]
    return dx


def avg_pool_forward(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """out[n, c, y, z] = mean(x[n, c, window (y, z)])  -- one loop per index

    x: (N, C, H, W); pool_param as in max_pool_forward_naive.
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param).
    """
    ph, pw, stride = check_pool(x, pool_param)
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for z in range(W_out):
                    window = x[n, c, y * stride : y * stride + ph, z * stride : z * stride + pw]
                    out[n, c, y, z] = window.mean()
    return out, PoolCache(x, pool_param)


def avg_pool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx[n, c, window (y, z)] += dout[n, c, y, z] / (pool_height * pool_width)

    dout: (N, C, H', W'); cache: from avg_pool_forward (or avg_pool_forward_fast).
    Returns dx: (N, C, H, W) in x's dtype.
    """
    dout = check_pool_dout(dout, cache, PoolCache, "avg_pool_backward")
    x, pool_param = cache.x, cache.pool_param
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for z in range(W_out):
                    # every pixel of the window had the same weight, 1 / (ph * pw);
                    # += because overlapping windows (stride < pool size) share pixels
                    rows = slice(y * stride, y * stride + ph)
                    cols = slice(z * stride, z * stride + pw)
                    dx[n, c, rows, cols] += dout[n, c, y, z] / (ph * pw)
    return dx
