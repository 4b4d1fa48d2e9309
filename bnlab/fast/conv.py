"""The fast convolution: the naive loops' sums as matrix products over im2col columns.

Same maths, arguments and checks as ``conv_forward_naive`` / ``conv_backward_naive`` in
:mod:`bnlab.layers.conv` (the lesson, and the reference these are tested against in
``tests/test_fast_conv_pool.py``); pure NumPy, float32 stays float32. cs231n's
``conv_forward_fast`` / ``conv_backward_fast``, also exported by :mod:`bnlab.layers`; the nets
and the conv sandwich layers use these. Each backward takes only the cache of its own forward.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.fast.im2col import col2im, crop_spatial, im2col, pad_spatial
from bnlab.layers.checks import check_conv, check_conv_dout


class ConvFastCache(NamedTuple):
    made_by = "conv_forward_fast"  # named in the backward's errors

    x: np.ndarray  # (N, C, H, W), as given
    w: np.ndarray  # (F, C, HH, WW), in x's dtype
    b: np.ndarray  # (F,), in x's dtype
    conv_param: dict  # {"stride": stride, "pad": pad}, defaults filled in
    x_cols: np.ndarray  # (N, C*HH*WW, H'*W'): one column per output pixel


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvFastCache]:
    """out[n] = w.reshape(F, C*HH*WW) @ x_cols[n] + b  -- the naive sums as one matmul per image

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param as in conv_forward_naive.
    x_cols: (N, C*HH*WW, H'*W'), one column per output pixel (see bnlab.fast.im2col).
    Returns out: (N, F, H', W') in x's dtype, and cache = (x, w, b, conv_param, x_cols).
    """
    w, b, conv_param = check_conv(x, w, b, conv_param)
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_cols = im2col(pad_spatial(x, pad), HH, WW, stride)  # (N, C, HH, WW, H', W')
    # explicit sizes, not -1: a reshape cannot infer a length from an empty batch (N = 0)
    x_cols = x_cols.reshape(N, C * HH * WW, H_out * W_out)  # (N, C*HH*WW, H'*W')
    out = np.matmul(
        w.reshape(F, C * HH * WW), x_cols
    )  # (F, C*HH*WW) @ (N, C*HH*WW, H'*W') -> (N, F, H'*W')
    out = out.reshape(N, F, H_out, W_out)
    out += b[:, None, None]
    return out, ConvFastCache(x, w, b, conv_param, x_cols)


def conv_backward_fast(
    dout: np.ndarray, cache: ConvFastCache, *, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dw = sum_n dout[n] @ x_cols[n].T;  dx = col2im(w.T @ dout[n]);  db = sum dout

    dout: (N, F, H', W'); cache: from conv_forward_fast.
    need_dx: False skips dx (returned as None). A net's first conv never needs it, and there
    it is the costliest part of the backward: col2im over the largest feature map.
    Returns dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,), all in x's dtype.
    """
    dout = check_conv_dout(dout, cache, ConvFastCache, "conv_backward_fast")
    x, w, x_cols = cache.x, cache.w, cache.x_cols
    stride, pad = cache.conv_param["stride"], cache.conv_param["pad"]
    N, F, H_out, W_out = dout.shape
    C, HH, WW = w.shape[1:]
    dout_flat = dout.reshape(N, F, H_out * W_out)  # (N, F, H'*W')
    # A batched matmul on transposed views: einsum or tensordot would first copy x_cols.
    dw = np.matmul(dout_flat, x_cols.transpose(0, 2, 1)).sum(axis=0)  # (F, C*HH*WW)
    db = dout.sum(axis=(0, 2, 3))
    if not need_dx:
        return None, dw.reshape(w.shape), db
    dx_cols = np.matmul(w.reshape(F, C * HH * WW).T, dout_flat)  # (N, C*HH*WW, H'*W')
    dx_cols = dx_cols.reshape(N, C, HH, WW, H_out, W_out)
    x_pad_shape = (N, C, x.shape[2] + 2 * pad, x.shape[3] + 2 * pad)
    dx = crop_spatial(col2im(dx_cols, x_pad_shape, stride), pad)
    return dx, dw.reshape(w.shape), db
