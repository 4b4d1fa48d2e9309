"""Sliding windows over images (N, C, H, W) for the fast path: im2col and its adjoint col2im.

A convolution or pooling layer looks at HH x WW windows of x, one per output pixel, moving by
``stride`` over x zero-padded by ``pad`` on every side; the output is H' x W' with
H' = 1 + (H + 2*pad - HH) / stride (checked by ``bnlab._validation.output_length``).

im2col copies every window into a column, so that a convolution becomes one matrix product;
col2im is its adjoint, the backward of that copy: each window's gradient is added back where
the window came from, and pixels shared by overlapping windows sum their gradients. Both loop
over the HH*WW offsets inside a window (9 for a 3x3 filter), never over pixels: offset (i, j)
of every window at once is the strided slice ``x[:, :, i::stride, j::stride]`` (cut to H' x W').
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def pad_spatial(x: np.ndarray, pad: int) -> np.ndarray:
    """x zero-padded by ``pad`` on both sides of H and W: (N, C, H, W) -> (N, C, H + 2p, W + 2p)."""
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def crop_spatial(x_pad: np.ndarray, pad: int) -> np.ndarray:
    """The inverse of pad_spatial: drop ``pad`` rows and columns on each side (a view)."""
    if pad == 0:
        return x_pad
    return x_pad[:, :, pad:-pad, pad:-pad]


def window_view(x: np.ndarray, HH: int, WW: int, stride: int) -> np.ndarray:
    """Every HH x WW window of x, ``stride`` apart, as a read-only view (no copy).

    x: (N, C, H, W), already padded. Returns (N, C, H', W', HH, WW):
    ``view[n, c, i, j] == x[n, c, i*stride : i*stride + HH, j*stride : j*stride + WW]``.
    """
    # sliding_window_view makes every window at stride 1; keeping every stride-th is still a view.
    return sliding_window_view(x, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]


def im2col(x: np.ndarray, HH: int, WW: int, stride: int) -> np.ndarray:
    """cols[n, c, i, j, y, z] = x[n, c, y*stride + i, z*stride + j]  (a contiguous copy)

    x: (N, C, H, W), already padded. Returns cols: (N, C, HH, WW, H', W'), which reshapes
    without copying to (N, C*HH*WW, H'*W'): one column of C*HH*WW values per output pixel.
    """
    windows = window_view(x, HH, WW, stride)  # (N, C, H', W', HH, WW)
    # Window offsets before pixels, so that the reshape puts one window in each column.
    return np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))  # (N, C, HH, WW, H', W')


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], stride: int) -> np.ndarray:
    """dx[n, c, y*stride + i, z*stride + j] += cols[n, c, i, j, y, z]  (the adjoint of im2col)

    cols: (N, C, HH, WW, H', W'), any strides (a transposed or broadcast view is fine).
    x_shape: (N, C, H, W) of the (padded) input the windows were taken from.
    Returns dx: x_shape, in cols' dtype.
    """
    HH, WW, H_out, W_out = cols.shape[2:]
    dx = np.zeros(x_shape, dtype=cols.dtype)
    for i in range(HH):
        rows = slice(i, i + stride * H_out, stride)  # i, i + stride, ..., i + (H'-1)*stride
        for j in range(WW):
            columns = slice(j, j + stride * W_out, stride)
            dx[:, :, rows, columns] += cols[:, :, i, j]  # offset (i, j) of every window
    return dx
