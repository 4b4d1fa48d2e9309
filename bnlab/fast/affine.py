"""The affine backward the nets call: bnlab.layers.affine_backward without its argument check.

A net runs its layers' backwards on the caches its own forwards made, each with the dout the
next layer's backward returned (shaped like this layer's output, in its dtype): exactly what
``check_affine_backward`` verifies, once per layer per step. So the nets call this twin (see
bnlab.nets.registry) and users call :func:`bnlab.layers.affine_backward`, whose maths, the
three lines below, it repeats. tests/test_fast_unchecked.py checks that both return the
same bits.
"""

from __future__ import annotations

import numpy as np

from bnlab.layers.affine import AffineCache


def _affine_backward_unchecked(
    dout: np.ndarray, cache: AffineCache, *, need_dx: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dx = dout @ w.T,  dw = x.T @ dout,  db = sum_N dout (affine_backward, unchecked)

    dout: (N, M) in x's dtype; cache: from affine_forward; need_dx: False skips dx (None).
    Returns dx: (N, d_1, ..., d_k), dw: (D, M), db: (M,).
    """
    x, w = cache.x, cache.w
    x_flat = x.reshape(x.shape[0], w.shape[0])  # (N, D)
    dw = x_flat.T @ dout
    db = dout.sum(axis=0)
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    return dx, dw, db
