"""The affine (fully connected) layer."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnlab.layers.checks import check_affine, check_affine_backward


class AffineCache(NamedTuple):
    made_by = "affine_forward"  # named in the backward's errors

    x: np.ndarray  # (N, d_1, ..., d_k), as given
    w: np.ndarray  # (D, M), in x's dtype
    b: np.ndarray  # (M,), in x's dtype


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, AffineCache]:
    """out = x.reshape(N, D) @ w + b

    x: (N, d_1, ..., d_k), flattened to (N, D) with D = d_1 * ... * d_k
    w: (D, M)
    b: (M,)
    Returns out: (N, M) in x's dtype, and cache = (x, w, b).
    """
    w, b = check_affine(x, w, b)
    x_flat = x.reshape(x.shape[0], w.shape[0])  # (N, D)
    out = x_flat @ w + b  # (N, M)
    return out, AffineCache(x, w, b)


def affine_backward(
    dout: np.ndarray, cache: AffineCache, *, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dx = dout @ w.T,  dw = x.T @ dout,  db = sum_N dout

    dout: (N, M)
    cache: from affine_forward
    need_dx: False skips dx (returned as None) -- the first layer of a net never needs it.
    Returns dx: (N, d_1, ..., d_k), dw: (D, M), db: (M,).
    """
    dout = check_affine_backward(dout, cache, AffineCache)
    x, w = cache.x, cache.w
    x_flat = x.reshape(x.shape[0], w.shape[0])  # (N, D)
    dw = x_flat.T @ dout
    db = dout.sum(axis=0)
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    return dx, dw, db
