"""The fast convolution and pooling (bnlab.fast) against their plain twins (the loops in
bnlab.layers), on random shapes, forward and every gradient, float64 and float32."""

import numpy as np
import pytest

import bnlab.fast.conv
import bnlab.fast.pooling
from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.im2col import col2im, im2col
from bnlab.fast.pooling import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from bnlab.gradcheck.catalog import LayerCheck, entries
from bnlab.layers.conv import conv_backward_naive, conv_forward_naive
from bnlab.layers.pooling import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

# Relative error ||fast - plain|| / ||plain|| (Frobenius). Fast and plain add the same terms
# in another order: in float64 that leaves ~1e-16 per term; float32 rounds at ~6e-8 per term.
FLOAT64_REL = 1e-12
FLOAT32_REL = 1e-5
TOLERANCES = {np.float64: FLOAT64_REL, np.float32: FLOAT32_REL}
DTYPES = list(TOLERANCES)
SEEDS = range(6)  # six random shapes per (stride, pad) setting


def rel_error(fast, plain):
    return np.linalg.norm(fast - plain) / np.linalg.norm(plain)


def assert_agree(fast, plain, dtype, what):
    assert fast.dtype == plain.dtype == dtype, f"{what}: {fast.dtype} vs {plain.dtype}"
    assert fast.shape == plain.shape, f"{what}: shape {fast.shape} vs {plain.shape}"
    err = rel_error(fast.astype(np.float64), plain.astype(np.float64))
    assert err <= TOLERANCES[dtype], f"{what}: relative error {err:.2e} > {TOLERANCES[dtype]:.0e}"


def window_size(rng, stride, pad, out):
    """(input length, window length) for out windows, stride apart, that tile the input padded
    by pad: the window is 1 to 4 longer than the total padding beyond the other windows."""
    window = max(1, 2 * pad + 1 - (out - 1) * stride) + int(rng.integers(0, 4))
    return (out - 1) * stride + window - 2 * pad, window


# --- convolution ---------------------------------------------------------------------------

CONV_SETTINGS = [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)]  # (stride, pad)


def conv_case(seed, stride, pad, dtype):
    """x, w, b, conv_param, dout on a random shape: N, C, F in 2..4, H' and W' in 1..4."""
    rng = np.random.default_rng(seed)
    N, C, F = rng.integers(2, 5, 3)
    H, HH = window_size(rng, stride, pad, int(rng.integers(1, 5)))
    W, WW = window_size(rng, stride, pad, int(rng.integers(1, 5)))
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    dout = rng.standard_normal((N, F, H_out, W_out)).astype(dtype)
    return x, w, b, {"stride": stride, "pad": pad}, dout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("stride", "pad"), CONV_SETTINGS)
def test_fast_conv_agrees_with_naive(stride, pad, seed, dtype):
    x, w, b, conv_param, dout = conv_case(seed, stride, pad, dtype)
    out_fast, cache_fast = conv_forward_fast(x, w, b, conv_param)
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    assert_agree(out_fast, out_naive, dtype, "out")
    grads_fast = conv_backward_fast(dout, cache_fast)
    grads_naive = conv_backward_naive(dout, cache_naive)
    for name, fast, naive in zip(("dx", "dw", "db"), grads_fast, grads_naive, strict=True):
        assert_agree(fast, naive, dtype, name)
    # need_dx=False (a net's first conv) skips dx and leaves dw and db exactly as they were.
    skipped, dw, db = conv_backward_fast(dout, cache_fast, need_dx=False)
    assert skipped is None
    assert np.array_equal(dw, grads_fast[1]) and np.array_equal(db, grads_fast[2])


# --- pooling -------------------------------------------------------------------------------

POOL_SETTINGS = [(2, 2, 2), (3, 3, 1), (3, 3, 2), (2, 3, 1), (1, 1, 2), (4, 2, 3)]  # ph, pw, stride


def pool_case(seed, ph, pw, stride, dtype):
    """x, pool_param, dout on a random shape: N, C in 2..4, H' and W' in 1..4."""
    rng = np.random.default_rng(seed)
    N, C = rng.integers(2, 5, 2)
    H_out, W_out = rng.integers(1, 5, 2)
    H, W = (H_out - 1) * stride + ph, (W_out - 1) * stride + pw
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    dout = rng.standard_normal((N, C, H_out, W_out)).astype(dtype)
    return x, {"pool_height": ph, "pool_width": pw, "stride": stride}, dout


POOL_PAIRS = {
    "max": (max_pool_forward_fast, max_pool_backward_fast, max_pool_forward_naive,
            max_pool_backward_naive),
    "avg": (avg_pool_forward_fast, avg_pool_backward_fast, avg_pool_forward, avg_pool_backward),
}  # fmt: skip


@pytest.mark.parametrize("kind", POOL_PAIRS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("ph", "pw", "stride"), POOL_SETTINGS)
def test_fast_pooling_agrees_with_plain(ph, pw, stride, seed, dtype, kind):
    forward_fast, backward_fast, forward_plain, backward_plain = POOL_PAIRS[kind]
    x, pool_param, dout = pool_case(seed, ph, pw, stride, dtype)
    out_fast, cache_fast = forward_fast(x, pool_param)
    out_plain, cache_plain = forward_plain(x, pool_param)
    assert_agree(out_fast, out_plain, dtype, "out")
    assert_agree(backward_fast(dout, cache_fast), backward_plain(dout, cache_plain), dtype, "dx")


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("ph", "pw", "stride"), POOL_SETTINGS)
def test_fast_max_pool_breaks_ties_as_the_naive_one(ph, pw, stride, seed):
    """Most windows hold ties: both send a window's gradient to its first maximum."""
    x, pool_param, dout = pool_case(seed, ph, pw, stride, np.float64)
    x = np.round(x)  # a few integers
    out_fast, cache_fast = max_pool_forward_fast(x, pool_param)
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    assert np.array_equal(out_fast, out_naive)
    dx_fast = max_pool_backward_fast(dout, cache_fast)
    assert_agree(dx_fast, max_pool_backward_naive(dout, cache_naive), np.float64, "dx")


# --- im2col and col2im -----------------------------------------------------------------------


def im2col_loops(x, HH, WW, stride):
    """cols[n, c, i, j, y, z] = x[n, c, y*stride + i, z*stride + j], one value at a time."""
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - HH) // stride, 1 + (W - WW) // stride
    cols = np.empty((N, C, HH, WW, H_out, W_out), x.dtype)
    for i in range(HH):
        for j in range(WW):
            for y in range(H_out):
                for z in range(W_out):
                    cols[:, :, i, j, y, z] = x[:, :, y * stride + i, z * stride + j]
    return cols


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("ph", "pw", "stride"), POOL_SETTINGS)
def test_im2col_copies_every_window_and_col2im_is_its_adjoint(ph, pw, stride, seed):
    x, _, _ = pool_case(seed, ph, pw, stride, np.float64)
    cols = im2col(x, ph, pw, stride)
    assert np.array_equal(cols, im2col_loops(x, ph, pw, stride))
    # Adjoint: <im2col(x), c> = <x, col2im(c)> for every c; overlapping windows add up in col2im.
    c = np.random.default_rng(seed).standard_normal(cols.shape)
    lhs, rhs = np.sum(cols * c), np.sum(x * col2im(c, x.shape, stride))
    assert abs(lhs - rhs) <= FLOAT64_REL * np.linalg.norm(cols) * np.linalg.norm(c)


# --- every fast function has a gradient check --------------------------------------------------


def test_every_fast_function_is_in_the_gradient_check_catalog():
    fast = {
        name
        for module in (bnlab.fast.conv, bnlab.fast.pooling)
        for name in dir(module)
        if name.endswith("_fast") and callable(getattr(module, name))
    }
    checked = {
        f.__name__ for e in entries() if isinstance(e, LayerCheck) for f in (e.forward, e.backward)
    }
    assert len(fast) == 6 and fast <= checked, f"not in the catalog: {sorted(fast - checked)}"
