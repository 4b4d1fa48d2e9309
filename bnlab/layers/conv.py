"""The convolutional layer (cross-correlation, as in every deep-learning library), two ways.

    out[n, f, y, z] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, c, y*stride + i, z*stride + j]

x: (N, C, H, W), w: (F, C, HH, WW), b: (F,); ``conv_param`` holds ``stride`` (default 1) and
``pad`` (default 0: zeros added on every side of H and W). out: (N, F, H', W') with
H' = 1 + (H + 2*pad - HH) / stride, which must divide exactly (see ``bnlab.layers.im2col``).
PyTorch: ``torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad)``.

``conv_forward_naive`` / ``conv_backward_naive`` loop over every output value: the lesson, and
the reference the fast pair is tested against. ``conv_forward_fast`` / ``conv_backward_fast``
do the same sums as matrix products over im2col columns (pure NumPy, float32 stays float32).
Each backward takes only the cache of its own forward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab._validation import (
    NAIVE_OR_FAST,
    check_dout,
    check_float_array,
    check_param,
    check_param_dict,
    unpack_cache,
)
from bnlab.layers.im2col import col2im, crop_spatial, im2col, int_param, output_length, pad_spatial

ConvCache = tuple[np.ndarray, np.ndarray, np.ndarray, dict]
ConvFastCache = tuple[np.ndarray, np.ndarray, np.ndarray, dict, np.ndarray]


def _stride_pad(conv_param: Any) -> tuple[int, int]:
    """conv_param's stride (default 1) and pad (default 0), checked."""
    check_param_dict("conv_param", conv_param)
    stride = int_param("conv_param", conv_param, "stride", default=1)
    pad = int_param("conv_param", conv_param, "pad", default=0, minimum=0)
    return stride, pad


def _conv_geometry(
    x: Any, w: Any, b: Any, conv_param: Any
) -> tuple[np.ndarray, np.ndarray, int, int, int, int]:
    """Check the inputs; return w and b in x's dtype, stride, pad, H', W'."""
    check_float_array("x", x, ndim=4)
    check_float_array("w", w, ndim=4)
    _, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(
            f"w must have shape (F, C, HH, WW) with C = {C}, the channels of x of shape "
            f"{x.shape}; got w of shape {w.shape} (C = {C_w})"
        )
    w = check_param("w", w, w.shape, x.dtype)
    b = check_param("b", b, (F,), x.dtype)
    stride, pad = _stride_pad(conv_param)
    H_out = output_length("height", H, HH, stride, pad, ("H", "HH", "conv_param['stride']"))
    W_out = output_length("width", W, WW, stride, pad, ("W", "WW", "conv_param['stride']"))
    return w, b, stride, pad, H_out, W_out


def _backward_setup(dout: Any, x: np.ndarray, w: np.ndarray, conv_param: dict) -> tuple:
    """Check dout against the forward's output shape; return dout in x's dtype, stride, pad."""
    stride, pad = _stride_pad(conv_param)
    H_out = 1 + (x.shape[2] + 2 * pad - w.shape[2]) // stride
    W_out = 1 + (x.shape[3] + 2 * pad - w.shape[3]) // stride
    return check_dout(dout, (x.shape[0], w.shape[0], H_out, W_out), x.dtype), stride, pad


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """out[n, f, y, z] = b[f] + sum(w[f] * x_pad[n, :, window (y, z)])  -- one loop per index

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,)
    conv_param: {"stride": int >= 1 (default 1), "pad": int >= 0 (default 0)}
    Returns out: (N, F, H', W') in x's dtype, and cache = (x, w, b, conv_param).
    """
    w, b, stride, pad, H_out, W_out = _conv_geometry(x, w, b, conv_param)
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    x_pad = pad_spatial(x, pad)  # (N, C, H + 2*pad, W + 2*pad)
    out = np.empty((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for y in range(H_out):
                for z in range(W_out):
                    window = x_pad[n, :, y * stride : y * stride + HH, z * stride : z * stride + WW]
                    out[n, f, y, z] = np.sum(window * w[f]) + b[f]  # window: (C, HH, WW)
    return out, (x, w, b, conv_param)


def conv_backward_naive(
    dout: np.ndarray, cache: ConvCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx_pad[n, :, window (y, z)] += w[f] * dout[n, f, y, z];  dw[f] += x_pad[n, :, window] * dout[n, f, y, z];  db = sum dout

    dout: (N, F, H', W'); cache: from conv_forward_naive.
    Returns dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,), all in x's dtype.
    """
    x, w, _, conv_param = unpack_cache(
        cache, 4, "conv_backward_naive", "conv_forward_naive", NAIVE_OR_FAST
    )
    dout, stride, pad = _backward_setup(dout, x, w, conv_param)
    N, F, H_out, W_out = dout.shape
    HH, WW = w.shape[2:]
    x_pad = pad_spatial(x, pad)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    # Each output value used one window and one filter: send its gradient back to both.
    for n in range(N):
        for f in range(F):
            for y in range(H_out):
                for z in range(W_out):
                    rows = slice(y * stride, y * stride + HH)
                    cols = slice(z * stride, z * stride + WW)
                    dx_pad[n, :, rows, cols] += w[f] * dout[n, f, y, z]
                    dw[f] += x_pad[n, :, rows, cols] * dout[n, f, y, z]
    db = dout.sum(axis=(0, 2, 3))
    return crop_spatial(dx_pad, pad), dw, db


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvFastCache]:
    """out[n] = w.reshape(F, C*HH*WW) @ x_cols[n] + b  -- the naive sums as one matmul per image

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param as in conv_forward_naive.
    x_cols: (N, C*HH*WW, H'*W'), one column per output pixel (see bnlab.layers.im2col).
    Returns out: (N, F, H', W') in x's dtype, and cache = (x, w, b, conv_param, x_cols).
    """
    w, b, stride, pad, H_out, W_out = _conv_geometry(x, w, b, conv_param)
    N, F, HH, WW = x.shape[0], w.shape[0], w.shape[2], w.shape[3]
    x_cols = im2col(pad_spatial(x, pad), HH, WW, stride)  # (N, C, HH, WW, H', W')
    x_cols = x_cols.reshape(N, -1, H_out * W_out)  # (N, C*HH*WW, H'*W')
    out = np.matmul(w.reshape(F, -1), x_cols)  # (F, C*HH*WW) @ (N, C*HH*WW, H'*W') -> (N, F, H'*W')
    out = out.reshape(N, F, H_out, W_out)
    out += b[:, None, None]
    return out, (x, w, b, conv_param, x_cols)


def conv_backward_fast(
    dout: np.ndarray, cache: ConvFastCache, *, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dw = sum_n dout[n] @ x_cols[n].T;  dx = col2im(w.T @ dout[n]);  db = sum dout

    dout: (N, F, H', W'); cache: from conv_forward_fast.
    need_dx: False skips dx (returned as None). A net's first conv never needs it, and there
    it is the costliest part of the backward: col2im over the largest feature map.
    Returns dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,), all in x's dtype.
    """
    x, w, _, conv_param, x_cols = unpack_cache(
        cache, 5, "conv_backward_fast", "conv_forward_fast", NAIVE_OR_FAST
    )
    dout, stride, pad = _backward_setup(dout, x, w, conv_param)
    N, F, H_out, W_out = dout.shape
    C, HH, WW = w.shape[1:]
    dout_flat = dout.reshape(N, F, H_out * W_out)  # (N, F, H'*W')
    # A batched matmul on transposed views: einsum or tensordot would first copy x_cols (2x slower).
    dw = np.matmul(dout_flat, x_cols.transpose(0, 2, 1)).sum(axis=0)  # (F, C*HH*WW)
    db = dout.sum(axis=(0, 2, 3))
    if not need_dx:
        return None, dw.reshape(w.shape), db
    dx_cols = np.matmul(w.reshape(F, -1).T, dout_flat)  # (N, C*HH*WW, H'*W')
    dx_cols = dx_cols.reshape(N, C, HH, WW, H_out, W_out)
    x_pad_shape = (N, C, x.shape[2] + 2 * pad, x.shape[3] + 2 * pad)
    dx = crop_spatial(col2im(dx_cols, x_pad_shape, stride), pad)
    return dx, dw.reshape(w.shape), db
