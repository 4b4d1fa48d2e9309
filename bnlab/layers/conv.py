"""The convolutional layer (cross-correlation, as in every deep-learning library), as loops.

    out[n, f, y, z] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, c, y*stride + i, z*stride + j]

x: (N, C, H, W), w: (F, C, HH, WW), b: (F,); ``conv_param`` holds ``stride`` (default 1) and
``pad`` (default 0: zeros added on every side of H and W). out: (N, F, H', W') with
H' = 1 + (H + 2*pad - HH) / stride, which must divide exactly (the windows tile the padded x).
PyTorch: ``torch.nn.functional.conv2d(x, w, b, stride=stride, padding=pad)``.

These loops over every output value are the lesson, and the reference that the fast
convolution (``bnlab.fast.conv``: the same sums as matrix products over im2col columns, what
the nets use) is tested against.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.layers.checks import check_conv, check_conv_dout


class ConvCache(NamedTuple):
    made_by = "conv_forward_naive"  # named in the backward's errors

    x: np.ndarray  # (N, C, H, W), as given
    w: np.ndarray  # (F, C, HH, WW), in x's dtype
    b: np.ndarray  # (F,), in x's dtype
    conv_param: dict  # {"stride": stride, "pad": pad}, defaults filled in


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, ConvCache]:
    """out[n, f, y, z] = b[f] + sum(w[f] * x_pad[n, :, window (y, z)])  -- one loop per index

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,)
    conv_param: {"stride": int >= 1 (default 1), "pad": int >= 0 (default 0)}
    Returns out: (N, F, H', W') in x's dtype, and cache = (x, w, b, conv_param).
    """
    w, b, conv_param = check_conv(x, w, b, conv_param)
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H + 2*pad, W + 2*pad)
    out = np.empty((N, F, H_out, W_out), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for y in range(H_out):
                for z in range(W_out):
                    window = x_pad[n, :, y * stride : y * stride + HH, z * stride : z * stride + WW]
                    out[n, f, y, z] = np.sum(window * w[f]) + b[f]  # window: (C, HH, WW)
    return out, ConvCache(x, w, b, conv_param)


def conv_backward_naive(
    dout: np.ndarray, cache: ConvCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx_pad[n, :, window (y, z)] += w[f] * dout[n, f, y, z];  dw[f] += x_pad[n, :, window] * dout[n, f, y, z];  db = sum dout

    dout: (N, F, H', W'); cache: from conv_forward_naive.
    Returns dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,), all in x's dtype.
    """
    dout = check_conv_dout(dout, cache, ConvCache, "conv_backward_naive")
    x, w = cache.x, cache.w
    stride, pad = cache.conv_param["stride"], cache.conv_param["pad"]
    N, F, H_out, W_out = dout.shape
    _, _, H, W = x.shape
    HH, WW = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # (N, C, H + 2*pad, W + 2*pad)
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
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]  # drop the padding: (N, C, H, W)
    return dx, dw, db
