"""Max and average pooling over pool_height x pool_width windows, ``stride`` apart.

    max:  out[n, c, y, z] = max  of x[n, c, y*stride : y*stride + pool_height, z*stride : z*stride + pool_width]
    avg:  out[n, c, y, z] = mean of the same window

x: (N, C, H, W); ``pool_param`` must hold ``pool_height``, ``pool_width`` and ``stride``
(no defaults, no padding, as in cs231n). out: (N, C, H', W') with
H' = 1 + (H - pool_height) / stride, which must divide exactly (see ``bnlab.layers.im2col``).
PyTorch: ``max_pool2d`` / ``avg_pool2d(x, (pool_height, pool_width), stride)``.

Ties in max pooling: the whole gradient of a window goes to ONE of its maxima, the first in
row-major order (``np.argmax`` of the flattened window), in the naive and the fast version
alike, and as in PyTorch. It is a valid subgradient; sending dout to every tied maximum
instead (cs231n's fast version does) multiplies the gradient by the number of ties.

The fast versions copy the windows with ``im2col`` (as the fast convolution does) and reduce
over its contiguous window axes. There is no separate reshape path for windows that tile x
(2x2 stride 2): ``x.reshape(N, C, H', 2, W', 2).max(axis=(3, 5))`` reduces over two tiny
strided axes and measured 15x slower than im2col + max on (50, 32, 32, 32) (36 ms vs 2.4 ms;
mean: 18 ms vs 2.5 ms). The fast max-pool caches the flat index in x of each window's maximum,
so its backward is one ``np.bincount``, which also sums a maximum shared by overlapping windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab._validation import (
    NAIVE_OR_FAST,
    check_dout,
    check_float_array,
    check_param_dict,
    unpack_cache,
)
from bnlab.layers.im2col import col2im, im2col, int_param, output_length

PoolCache = tuple[np.ndarray, dict]
MaxPoolFastCache = tuple[np.ndarray, dict, np.ndarray]


def _pool_geometry(x: Any, pool_param: Any) -> tuple[int, int, int, int, int]:
    """Check the inputs; return pool_height, pool_width, stride, H', W'."""
    check_float_array("x", x, ndim=4)
    check_param_dict("pool_param", pool_param)
    ph = int_param("pool_param", pool_param, "pool_height")
    pw = int_param("pool_param", pool_param, "pool_width")
    stride = int_param("pool_param", pool_param, "stride")
    names = ("pool_param['pool_height']", "pool_param['pool_width']", "pool_param['stride']")
    H_out = output_length("height", x.shape[2], ph, stride, None, ("H", names[0], names[2]))
    W_out = output_length("width", x.shape[3], pw, stride, None, ("W", names[1], names[2]))
    return ph, pw, stride, H_out, W_out


def _window_starts(x_shape: tuple[int, ...], stride: int, H_out: int, W_out: int) -> np.ndarray:
    """Flat index in x of every window's top-left pixel: (N, C, H', W')."""
    N, C, H, W = x_shape
    image = np.arange(N * C).reshape(N, C, 1, 1) * (H * W)
    row = np.arange(H_out).reshape(H_out, 1) * (stride * W)
    col = np.arange(W_out) * stride
    return image + row + col


def _backward_setup(dout: Any, x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, int, int, int]:
    """dout checked against the forward's output (N, C, H', W') and cast to x's dtype;
    pool_height, pool_width, stride."""
    ph, pw, stride = (pool_param[k] for k in ("pool_height", "pool_width", "stride"))
    N, C, H, W = x.shape
    out_shape = (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)
    return check_dout(dout, out_shape, x.dtype), ph, pw, stride


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """out[n, c, y, z] = max(x[n, c, window (y, z)])  -- one loop per index

    x: (N, C, H, W)
    pool_param: {"pool_height": int, "pool_width": int, "stride": int}, all >= 1
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param).
    """
    ph, pw, stride, H_out, W_out = _pool_geometry(x, pool_param)
    N, C = x.shape[:2]
    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for z in range(W_out):
                    window = x[n, c, y * stride : y * stride + ph, z * stride : z * stride + pw]
                    out[n, c, y, z] = window.max()
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx[n, c, argmax of window (y, z)] += dout[n, c, y, z]  (the first maximum on ties)

    dout: (N, C, H', W'); cache: from max_pool_forward_naive.
    Returns dx: (N, C, H, W) in x's dtype.
    """
    x, pool_param = unpack_cache(
        cache, 2, "max_pool_backward_naive", "max_pool_forward_naive", NAIVE_OR_FAST
    )
    dout, ph, pw, stride = _backward_setup(dout, x, pool_param)
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


def max_pool_forward_fast(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, MaxPoolFastCache]:
    """out[n, c, y, z] = max(x[n, c, window (y, z)])  -- all windows at once

    x: (N, C, H, W); pool_param as in max_pool_forward_naive.
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param, max_index) with
    max_index: (N, C, H', W'), the flat index in x of each window's first maximum.
    """
    ph, pw, stride, H_out, W_out = _pool_geometry(x, pool_param)
    W = x.shape[3]
    x_cols = im2col(x, ph, pw, stride)  # (N, C, ph, pw, H', W')
    out = x_cols.max(axis=(2, 3))  # (N, C, H', W')
    # Scanning the offsets backwards, the first maximum in row-major order is written last.
    offset = np.zeros(out.shape, dtype=np.intp)
    for i in reversed(range(ph)):
        for j in reversed(range(pw)):
            offset = np.where(x_cols[:, :, i, j] == out, i * W + j, offset)
    max_index = _window_starts(x.shape, stride, H_out, W_out) + offset
    return out, (x, pool_param, max_index)


def max_pool_backward_fast(dout: np.ndarray, cache: MaxPoolFastCache) -> np.ndarray:
    """dx.flat[max_index] += dout  (summing where overlapping windows share a maximum)

    dout: (N, C, H', W'); cache: from max_pool_forward_fast.
    Returns dx: (N, C, H, W) in x's dtype.
    """
    x, pool_param, max_index = unpack_cache(
        cache, 3, "max_pool_backward_fast", "max_pool_forward_fast", NAIVE_OR_FAST
    )
    dout, _, _, _ = _backward_setup(dout, x, pool_param)
    # bincount adds up repeated indices (dx.flat[max_index] += dout would keep only one).
    dx = np.bincount(max_index.ravel(), weights=dout.ravel(), minlength=x.size)  # float64
    return dx.reshape(x.shape).astype(x.dtype, copy=False)


def avg_pool_forward(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, PoolCache]:
    """out[n, c, y, z] = mean(x[n, c, window (y, z)])

    x: (N, C, H, W); pool_param as in max_pool_forward_naive.
    Returns out: (N, C, H', W') in x's dtype, and cache = (x, pool_param).
    """
    ph, pw, stride, _, _ = _pool_geometry(x, pool_param)
    out = im2col(x, ph, pw, stride).mean(axis=(2, 3))  # (N, C, ph, pw, H', W') -> (N, C, H', W')
    return out, (x, pool_param)


def avg_pool_backward(dout: np.ndarray, cache: PoolCache) -> np.ndarray:
    """dx[n, c, window (y, z)] += dout[n, c, y, z] / (pool_height * pool_width)

    dout: (N, C, H', W'); cache: from avg_pool_forward.
    Returns dx: (N, C, H, W) in x's dtype.
    """
    x, pool_param = unpack_cache(cache, 2, "avg_pool_backward", "avg_pool_forward")
    dout, ph, pw, stride = _backward_setup(dout, x, pool_param)
    share = dout / (ph * pw)  # every pixel of a window had the same weight, 1 / (ph*pw)
    N, C, H_out, W_out = dout.shape
    dx_cols = np.broadcast_to(share[:, :, None, None], (N, C, ph, pw, H_out, W_out))  # no copy
    return col2im(dx_cols, x.shape, stride)
