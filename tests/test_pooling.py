"""Max and average pooling, plain and fast: gradients, routing and ties, dtypes, PyTorch, bad input.

(The fast pooling against the plain loops: tests/test_fast_conv_pool.py.)"""

import re

import numpy as np
import pytest
from test_conv import assert_close, relative_error

from bnlab.fast.pooling import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from bnlab.gradcheck import eval_numerical_gradient_array
from bnlab.layers.pooling import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

# Numerical checks: relative error <= 1e-7. Pooling is piecewise linear; the inputs are spaced
# at least 1e-2 apart, far more than h = 1e-5, so no perturbation moves a window's maximum.
GRAD_REL_TOL = 1e-7
# bnlab vs PyTorch in float64: overlapping windows add in another order.
SAME_SUMS_TOL = 1e-10

POOLS = {
    "max_naive": (max_pool_forward_naive, max_pool_backward_naive),
    "max_fast": (max_pool_forward_fast, max_pool_backward_fast),
    "avg": (avg_pool_forward, avg_pool_backward),
    "avg_fast": (avg_pool_forward_fast, avg_pool_backward_fast),
}

# (N, C, H, W, pool_height, pool_width, stride): tiling windows (stride == pool size, the
# reshape path) and overlapping, gapped or rectangular ones (the strided-view path).
CASES = [
    (2, 3, 4, 6, 2, 2, 2),
    (1, 2, 6, 9, 3, 3, 3),
    (2, 2, 5, 5, 3, 3, 1),
    (2, 2, 4, 5, 2, 3, 1),
    (1, 3, 7, 6, 3, 2, 2),
    (2, 2, 8, 8, 4, 4, 2),
    (1, 2, 7, 7, 1, 1, 3),
    (2, 1, 3, 4, 3, 4, 1),
]
CASE_IDS = ["x{}x{}x{}x{}-pool{}x{}-stride{}".format(*case) for case in CASES]


def make_case(case, rng, dtype=np.float64):
    """x with distinct values (no ties, every gap >= 1e-2), pool_param, non-uniform dout."""
    N, C, H, W, ph, pw, stride = case
    x = (rng.permutation(N * C * H * W) * 1e-2 - 1.0).reshape(N, C, H, W).astype(dtype)
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    dout = rng.standard_normal((N, C, H_out, W_out)).astype(dtype)
    return x, {"pool_height": ph, "pool_width": pw, "stride": stride}, dout


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_matches_numerical_gradient(pool, case):
    """Relative error <= 1e-7 for dx against central differences (float64)."""
    forward, backward = POOLS[pool]
    x, pool_param, dout = make_case(case, np.random.default_rng(0))
    _, cache = forward(x, pool_param)
    dx = backward(dout, cache)
    num = eval_numerical_gradient_array(lambda v: forward(v, pool_param)[0], x, dout)
    err = relative_error(num, dx)
    assert err <= GRAD_REL_TOL, f"dx: relative error {err:.2e} > {GRAD_REL_TOL}"


def test_cs231n_max_pool_sanity_check_values():
    """The expected output of cs231n's notebook (2x2, stride 2), printed there to 8 decimals."""
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    # x increases along every row and column, so each window's maximum is its bottom-right.
    correct_out = np.array(
        [
            [
                [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
            ],
            [
                [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                [[0.32631579, 0.34105263], [0.38526316, 0.4]],
            ],
        ]
    )
    pool_param = {"pool_width": 2, "pool_height": 2, "stride": 2}
    for forward in (max_pool_forward_naive, max_pool_forward_fast):
        out, _ = forward(x, pool_param)
        np.testing.assert_allclose(out, correct_out, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    ("pool_param", "max_out", "avg_out"),
    [
        (
            {"pool_height": 2, "pool_width": 2, "stride": 2},
            [[5, 7], [13, 15]],
            [[2.5, 4.5], [10.5, 12.5]],
        ),
        ({"pool_height": 3, "pool_width": 3, "stride": 1}, [[10, 11], [14, 15]], [[5, 6], [9, 10]]),
        ({"pool_height": 1, "pool_width": 4, "stride": 3}, [[3], [15]], [[1.5], [13.5]]),
    ],
    ids=["2x2-stride2", "3x3-stride1", "1x4-stride3"],
)
def test_hand_computed_values(pool_param, max_out, avg_out):
    """x = 0..15 in a 4x4 image: a window's max is its bottom-right, its mean its centre."""
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    for forward in (max_pool_forward_naive, max_pool_forward_fast):
        np.testing.assert_array_equal(forward(x, pool_param)[0][0, 0], max_out)
    for forward in (avg_pool_forward, avg_pool_forward_fast):
        np.testing.assert_array_equal(forward(x, pool_param)[0][0, 0], avg_out)


MAX_POOLS = ["max_naive", "max_fast"]


@pytest.mark.parametrize("pool", MAX_POOLS)
def test_max_pool_routes_gradient_to_the_maximum(pool):
    forward, backward = POOLS[pool]
    x = np.array(
        [[1.0, 9.0, 2.0, 3.0], [4.0, 0.0, 5.0, 8.0], [7.0, 6.0, 0.0, 1.0], [2.0, 3.0, 4.0, 2.5]]
    )
    out, cache = forward(x.reshape(1, 1, 4, 4), {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(out[0, 0], [[9, 8], [7, 4]])
    dx = backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 3], expected[2, 0], expected[3, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("pool", MAX_POOLS)
def test_max_pool_ties_send_everything_to_the_first_maximum(pool):
    """Ties: each window's whole gradient goes to its first maximum in row-major order."""
    forward, backward = POOLS[pool]
    x = np.array([[3.0, 3.0, 0.0, 1.0], [3.0, 3.0, 1.0, 1.0]]).reshape(1, 1, 2, 4)
    _, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = backward(np.array([[[[5.0, 7.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[5, 0, 0, 7], [0, 0, 0, 0]])


@pytest.mark.parametrize("pool", MAX_POOLS)
def test_overlapping_windows_add_up_at_a_shared_maximum(pool):
    """With stride 1 all four 2x2 windows of a 3x3 image hold its centre, the maximum."""
    forward, backward = POOLS[pool]
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    _, cache = forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), cache)
    expected = np.zeros((3, 3))
    expected[1, 1] = 10.0
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", [CASES[0], CASES[2]], ids=["tiling", "overlapping"])
def test_dtype_is_preserved(pool, dtype, case):
    forward, backward = POOLS[pool]
    x, pool_param, dout = make_case(case, np.random.default_rng(2), dtype)
    out, cache = forward(x, pool_param)
    assert out.dtype == dtype
    # A float64 dout still gives dx in x's dtype.
    assert backward(dout.astype(np.float64), cache).dtype == dtype


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("pool", POOLS)
def test_matches_torch(case, pool):
    torch = pytest.importorskip("torch")
    x, pool_param, dout = make_case(case, np.random.default_rng(3))
    forward, backward = POOLS[pool]
    torch_pool = getattr(torch.nn.functional, f"{pool.split('_')[0]}_pool2d")
    out, cache = forward(x, pool_param)
    dx = backward(dout, cache)
    x_t = torch.from_numpy(x).requires_grad_(True)
    kernel = (pool_param["pool_height"], pool_param["pool_width"])
    out_t = torch_pool(x_t, kernel, pool_param["stride"])
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), SAME_SUMS_TOL, "out vs torch")
    assert_close(dx, x_t.grad.numpy(), SAME_SUMS_TOL, "dx vs torch")


def test_max_pool_ties_match_torch():
    torch = pytest.importorskip("torch")
    x, pool_param, dout = make_case(CASES[5], np.random.default_rng(4))
    x = np.round(x)  # values in {-1, 0, 1, 2}: ties in every window
    _, cache = max_pool_forward_fast(x, pool_param)
    x_t = torch.from_numpy(x).requires_grad_(True)
    torch.nn.functional.max_pool2d(x_t, 4, 2).backward(torch.from_numpy(dout))
    assert_close(max_pool_backward_fast(dout, cache), x_t.grad.numpy(), SAME_SUMS_TOL, "dx")


GOOD_POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}

BAD_FORWARD = {
    "x not an array": ([[1.0]], GOOD_POOL, TypeError, "x must be a numpy ndarray, got list"),
    "integer x": (
        np.ones((1, 1, 4, 4), dtype=int),
        GOOD_POOL,
        TypeError,
        "x must have dtype float",
    ),
    "3-D x": (
        np.ones((1, 4, 4)),
        GOOD_POOL,
        ValueError,
        "x must be 4-dimensional, got shape (1, 4, 4)",
    ),
    "pool_param not a dict": (None, 2, TypeError, "pool_param must be a dict, got int"),
    "missing stride": (
        None,
        {"pool_height": 2, "pool_width": 2},
        ValueError,
        "pool_param must contain 'stride', got keys ['pool_height', 'pool_width']",
    ),
    "missing pool_width": (
        None,
        {"pool_height": 2, "stride": 2},
        ValueError,
        "pool_param must contain 'pool_width'",
    ),
    "zero stride": (
        None,
        GOOD_POOL | {"stride": 0},
        ValueError,
        "pool_param['stride'] must be a positive integer, got 0",
    ),
    "negative pool_height": (
        None,
        GOOD_POOL | {"pool_height": -2},
        ValueError,
        "pool_param['pool_height'] must be a positive integer, got -2",
    ),
    "float stride": (
        None,
        GOOD_POOL | {"stride": 2.0},
        TypeError,
        "pool_param['stride'] must be an integer, got float 2.0",
    ),
    "window taller than x": (
        None,
        GOOD_POOL | {"pool_height": 5},
        ValueError,
        "pool_param['pool_height'] = 5 is larger than the input's height, H = 4",
    ),
    "stride does not divide": (
        None,
        {"pool_height": 3, "pool_width": 3, "stride": 2},
        ValueError,
        "pool_param['stride'] = 2 does not divide H - pool_param['pool_height'] = 4 - 3 = 1",
    ),
}


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("bad", BAD_FORWARD)
def test_bad_forward_input_is_named(pool, bad):
    forward, _ = POOLS[pool]
    x, pool_param, error, message = BAD_FORWARD[bad]
    x = np.ones((1, 1, 4, 4)) if x is None else x
    with pytest.raises(error, match=re.escape(message)):
        forward(x, pool_param)


BAD_DOUT = {
    "wrong shape": (
        np.ones((2, 3, 2, 3)),
        ValueError,
        "forward output, (2, 3, 2, 2), got (2, 3, 2, 3)",
    ),
    "integer": (np.ones((2, 3, 2, 2), dtype=int), TypeError, "dout must have dtype float"),
    "not an array": ([1.0], TypeError, "dout must be a numpy ndarray, got list"),
}


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("bad", BAD_DOUT)
def test_bad_dout_is_named(pool, bad):
    forward, backward = POOLS[pool]
    _, cache = forward(np.ones((2, 3, 4, 4)), GOOD_POOL)  # out: (2, 3, 2, 2)
    dout, error, message = BAD_DOUT[bad]
    with pytest.raises(error, match=re.escape(message)):
        backward(dout, cache)
