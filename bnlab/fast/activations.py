"""The fast ReLU backward: bnlab.layers.relu_backward's numbers, bit for bit, without a branch.

``np.where(x > 0, dout, 0)`` (the lesson) picks each value with a data-dependent branch; on
random signs the processor mispredicts about half of them, and for a (1024, 100) float32
batch the choice takes longer than the layer's matrix product (docs/fast-path.md). Here the
choice is a bitwise AND: the mask ``x > 0`` becomes an integer of all ones (keep) or all
zeros (drop) and is ANDed with dout's bits. A kept value keeps every bit (NaN, -0.0 and inf
included), a dropped one becomes +0.0: exactly what np.where gives.
tests/test_fast_activations.py checks that the two agree bit for bit.
"""

from __future__ import annotations

import numpy as np

from bnlab.layers.checks import check_elementwise_backward

_SAME_SIZE_INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def relu_backward_fast(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * [x > 0]: bnlab.layers.relu_backward, branch-free

    dout: shape of x; cache: x, from relu_forward. Returns dx: shape and dtype of x.
    """
    dout = check_elementwise_backward(dout, cache, "relu_backward_fast", "relu_forward")
    return _relu_backward_unchecked(dout, cache)


def _relu_backward_unchecked(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """relu_backward_fast without the argument check: for the nets, whose backward gets the
    cache its own forward made and a dout of its shape (see bnlab.nets.registry). Users call
    relu_backward_fast; tests/test_fast_unchecked.py checks that both return the same bits."""
    x = cache
    bits = _SAME_SIZE_INT[dout.dtype]
    keep = (x > 0).astype(bits)  # 1 or 0 per value
    np.negative(keep, out=keep)  # all ones (-1) or all zeros
    keep &= np.ascontiguousarray(dout).view(bits)  # dout's bits where x > 0, else +0.0
    return keep.view(dout.dtype)
