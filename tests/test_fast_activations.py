"""The fast ReLU backward against its plain twin, bnlab.layers.relu_backward: bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.fast.activations import relu_backward_fast
from bnlab.layers import relu_backward, relu_forward


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.int32 if a.dtype == np.float32 else np.int64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(50, 100), (1024, 100), (2, 3, 4, 5), (7,)])
def test_relu_backward_fast_is_the_plain_one_bit_for_bit(shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype)
    x.flat[:3] = 0.0  # x = 0 is dropped (the derivative taken there is 0)
    dout = rng.normal(size=shape).astype(dtype)
    dout.flat[3:8] = [np.nan, -0.0, np.inf, -np.inf, -np.nan]  # every bit of a kept value stays
    _, cache = relu_forward(x)
    fast, plain = relu_backward_fast(dout, cache), relu_backward(dout, cache)
    assert fast.dtype == plain.dtype == dtype and fast.shape == plain.shape
    assert np.array_equal(bits(fast), bits(plain))


def test_relu_backward_fast_takes_non_contiguous_arrays():
    rng = np.random.default_rng(1)
    x, dout = rng.normal(size=(6, 8)).T, rng.normal(size=(8, 6))[:, ::-1]
    assert np.array_equal(bits(relu_backward_fast(dout, x)), bits(relu_backward(dout, x)))


def test_relu_backward_fast_converts_dout_to_x_dtype_like_the_plain_one():
    x = np.array([1.0, -1.0], dtype=np.float32)
    out = relu_backward_fast(np.array([2.0, 3.0]), x)
    assert out.dtype == np.float32 and np.array_equal(out, relu_backward(np.array([2.0, 3.0]), x))


def test_relu_backward_fast_refuses_a_wrong_cache():
    with pytest.raises(TypeError, match="relu_backward_fast needs the cache from relu_forward"):
        relu_backward_fast(np.ones(3), None)
