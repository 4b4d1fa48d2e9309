"""The affine (fully connected) layer."""

from __future__ import annotations

import numpy as np

from bnlab._validation import check_dout, check_float_array, check_param

AffineCache = tuple[np.ndarray, np.ndarray, np.ndarray]


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """out = x.reshape(N, D) @ w + b

    x: (N, d_1, ..., d_k), flattened to (N, D) with D = d_1 * ... * d_k
    w: (D, M)
    b: (M,)
    Returns out: (N, M) in x's dtype, and cache = (x, w, b).
    """
    check_float_array("x", x)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch dimension, got a scalar of shape {x.shape}")
    N = x.shape[0]
    D = int(np.prod(x.shape[1:], dtype=np.int64))
    check_float_array("w", w, ndim=2)
    if w.shape[0] != D:
        raise ValueError(
            f"w must have shape (D, M) with D = {D} (the product of x's shape {x.shape[1:]} "
            f"after the batch axis), got w of shape {w.shape}"
        )
    M = w.shape[1]
    w = check_param("w", w, (D, M), x.dtype)
    b = check_param("b", b, (M,), x.dtype)
    out = x.reshape(N, D) @ w  # (N, M)
    out += b
    return out, (x, w, b)


def affine_backward(
    dout: np.ndarray, cache: AffineCache, *, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dx = dout @ w.T,  dw = x.T @ dout,  db = sum_N dout

    dout: (N, M)
    cache: from affine_forward
    need_dx: False skips dx (returned as None) -- the first layer of a net never needs it.
    Returns dx: (N, d_1, ..., d_k), dw: (D, M), db: (M,).
    """
    x, w, _ = cache
    N = x.shape[0]
    dout = check_dout(dout, (N, w.shape[1]), x.dtype)
    x_flat = x.reshape(N, -1)  # (N, D)
    dw = x_flat.T @ dout
    db = dout.sum(axis=0)
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    return dx, dw, db
