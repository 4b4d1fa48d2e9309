"""Convolution, naive and fast: numerical gradients, known values, dtypes, PyTorch parity, bad input.

(The fast convolution against the naive one: tests/test_fast_conv_pool.py.)"""

import re

import numpy as np
import pytest

from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.gradcheck import eval_numerical_gradient_array
from bnlab.layers.conv import conv_backward_naive, conv_forward_naive

# Numerical checks: relative error <= 1e-7, as ||num - ana|| / (||num|| + ||ana||). Convolution
# is linear in x, w and b, so central differences (h = 1e-5) are exact but for rounding (~1e-10).
GRAD_REL_TOL = 1e-7
# bnlab vs PyTorch in float64: the same sums in a different order.
SAME_SUMS_TOL = 1e-10
# cs231n's notebook prints its expected values to 8 decimals.
CS231N_TOL = 1e-8
# float32 vs float64 on O(1) values summed over C*HH*WW <= 54 terms.
FLOAT32_TOL = 1e-5

PAIRS = {
    "naive": (conv_forward_naive, conv_backward_naive),
    "fast": (conv_forward_fast, conv_backward_fast),
}

# (N, C, H, W, F, HH, WW, stride, pad): stride 1 and 2 each with pad 0, 1 and 2, stride 3;
# square and rectangular images and filters, a 1x1 filter.
CASES = [
    (2, 3, 5, 5, 4, 3, 3, 1, 0),
    (2, 3, 5, 5, 4, 3, 3, 1, 1),
    (2, 2, 7, 5, 3, 3, 3, 2, 1),
    (1, 3, 6, 6, 2, 2, 2, 2, 0),
    (2, 2, 4, 6, 3, 2, 4, 2, 2),
    (2, 2, 5, 4, 3, 3, 2, 1, 2),
    (1, 2, 7, 6, 2, 3, 2, 3, 1),
    (2, 4, 3, 3, 2, 1, 1, 1, 0),
]
CASE_IDS = ["x{}x{}x{}x{}-w{}x{}x{}-stride{}-pad{}".format(*case) for case in CASES]


def make_case(case, rng, dtype=np.float64):
    """x, w, b, conv_param and a random non-uniform dout for one CASES entry."""
    N, C, H, W, F, HH, WW, stride, pad = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    dout = rng.standard_normal((N, F, H_out, W_out)).astype(dtype)
    return x, w, b, {"stride": stride, "pad": pad}, dout


def relative_error(num, ana):
    """||num - ana|| / (||num|| + ||ana||): one number per gradient, robust to entries near 0."""
    return np.linalg.norm(num - ana) / max(np.linalg.norm(num) + np.linalg.norm(ana), 1e-300)


def assert_close(ours, theirs, tol, what):
    """Elementwise |ours - theirs| <= tol * (1 + |theirs|), with a message showing both."""
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    err = np.abs(ours - theirs) / (1 + np.abs(theirs))
    assert err.max() <= tol, (
        f"{what}: error {err.max():.2e} > {tol:.0e}\nours:\n{ours}\ntheirs:\n{theirs}"
    )


@pytest.mark.parametrize("impl", PAIRS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_backward_matches_numerical_gradient(impl, case):
    """Relative error <= 1e-7 for dx, dw and db against central differences (float64)."""
    forward, backward = PAIRS[impl]
    x, w, b, conv_param, dout = make_case(case, np.random.default_rng(0))
    _, cache = forward(x, w, b, conv_param)
    grads = dict(zip(("x", "w", "b"), backward(dout, cache), strict=True))
    for name, value in (("x", x), ("w", w), ("b", b)):
        # value is perturbed in place, so forward sees it through x, w or b.
        num = eval_numerical_gradient_array(lambda _: forward(x, w, b, conv_param)[0], value, dout)
        err = relative_error(num, grads[name])
        assert err <= GRAD_REL_TOL, f"d{name}: relative error {err:.2e} > {GRAD_REL_TOL}"


@pytest.mark.parametrize("impl", PAIRS)
def test_cs231n_sanity_check_values(impl):
    """The expected output of cs231n's ConvolutionalNetworks notebook (stride 2, pad 1)."""
    forward, _ = PAIRS[impl]
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = forward(x, w, b, {"stride": 2, "pad": 1})
    correct_out = np.array(
        [
            [
                [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
            ],
            [
                [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
            ],
        ]
    )
    np.testing.assert_allclose(out, correct_out, rtol=0, atol=CS231N_TOL)


@pytest.mark.parametrize("impl", PAIRS)
def test_hand_computed_2x2_box_filter(impl):
    """x = 0..8 in a 3x3 image, one 2x2 filter of ones: each output sums a 2x2 block."""
    forward, backward = PAIRS[impl]
    x = np.arange(9.0).reshape(1, 1, 3, 3)  # [[0 1 2] [3 4 5] [6 7 8]]
    w = np.ones((1, 1, 2, 2))
    out, cache = forward(x, w, np.array([0.5]), {})  # {}: stride 1, pad 0 by default
    np.testing.assert_array_equal(out[0, 0], [[8.5, 12.5], [20.5, 24.5]])
    dx, dw, db = backward(np.ones_like(out), cache)
    # dx counts the windows that cover each pixel; dw[i, j] sums the pixels under filter tap (i, j).
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    np.testing.assert_array_equal(dw[0, 0], [[8, 12], [20, 24]])
    np.testing.assert_array_equal(db, [4])


@pytest.mark.parametrize("impl", PAIRS)
def test_hand_computed_stride_and_zero_padding(impl):
    """A 1x1 filter of 2 with pad 1, stride 2 samples the padded image at every other pixel."""
    forward, backward = PAIRS[impl]
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # padded: a ring of zeros around [[1 2 3] ...]
    out, cache = forward(x, np.full((1, 1, 1, 1), 2.0), np.zeros(1), {"stride": 2, "pad": 1})
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])
    dx, dw, _ = backward(np.arange(9.0).reshape(1, 1, 3, 3), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 8, 0], [0, 0, 0]])
    np.testing.assert_array_equal(dw.ravel(), [4 * 5])  # only output (1, 1) saw a nonzero pixel


@pytest.mark.parametrize("impl", PAIRS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(impl, dtype):
    forward, backward = PAIRS[impl]
    case = (2, 3, 6, 6, 4, 3, 3, 1, 1)
    x, w, b, conv_param, dout = make_case(case, np.random.default_rng(2), dtype)
    # float64 parameters with float32 x: the layer computes in x's dtype.
    out, cache = forward(x, w.astype(np.float64), b.astype(np.float64), conv_param)
    assert out.dtype == dtype
    for name, grad in zip(("dx", "dw", "db"), backward(dout, cache), strict=True):
        assert grad.dtype == dtype, f"{name} is {grad.dtype}, not {np.dtype(dtype)}"
    gold, _ = conv_forward_naive(*(a.astype(np.float64) for a in (x, w, b)), conv_param)
    assert_close(out.astype(np.float64), gold, FLOAT32_TOL, "out vs float64")


def test_forward_does_not_modify_inputs():
    x, w, b, conv_param, dout = make_case(CASES[2], np.random.default_rng(3))
    saved = [a.copy() for a in (x, w, b, dout)]
    for forward, backward in PAIRS.values():
        _, cache = forward(x, w, b, conv_param)
        backward(dout, cache)
    for before, after in zip(saved, (x, w, b, dout), strict=True):
        np.testing.assert_array_equal(before, after)
    assert conv_param == {"stride": 2, "pad": 1}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_torch_conv2d(case):
    torch = pytest.importorskip("torch")
    x, w, b, conv_param, dout = make_case(case, np.random.default_rng(4))
    out, cache = conv_forward_fast(x, w, b, conv_param)
    dx, dw, db = conv_backward_fast(dout, cache)
    x_t, w_t, b_t = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(
        x_t, w_t, b_t, stride=conv_param["stride"], padding=conv_param["pad"]
    )
    out_t.backward(torch.from_numpy(dout))
    assert_close(out, out_t.detach().numpy(), SAME_SUMS_TOL, "out vs torch")
    for name, ours, theirs in (("dx", dx, x_t), ("dw", dw, w_t), ("db", db, b_t)):
        assert_close(ours, theirs.grad.numpy(), SAME_SUMS_TOL, f"{name} vs torch")


def good_args():
    """x (2, 3, 5, 5), w (4, 3, 3, 3), b (4,), stride 1, pad 1: a valid call to break."""
    rng = np.random.default_rng(5)
    return {
        "x": rng.standard_normal((2, 3, 5, 5)),
        "w": rng.standard_normal((4, 3, 3, 3)),
        "b": np.zeros(4),
        "conv_param": {"stride": 1, "pad": 1},
    }


BAD_FORWARD = {
    "x not an array": ({"x": [[1.0]]}, TypeError, "x must be a numpy ndarray, got list"),
    "integer x": ({"x": np.ones((2, 3, 5, 5), dtype=int)}, TypeError, "x must have dtype float"),
    "integer w": ({"w": np.ones((4, 3, 3, 3), dtype=int)}, TypeError, "w must have dtype float"),
    "3-D x": (
        {"x": np.ones((3, 5, 5))},
        ValueError,
        "x must be 4-dimensional, got shape (3, 5, 5)",
    ),
    "2-D w": ({"w": np.ones((4, 27))}, ValueError, "w must be 4-dimensional, got shape (4, 27)"),
    "C mismatch": (
        {"w": np.ones((4, 2, 3, 3))},
        ValueError,
        "with C = 3, the channels of x of shape (2, 3, 5, 5); got w of shape (4, 2, 3, 3)",
    ),
    "b not (F,)": ({"b": np.zeros((4, 1))}, ValueError, "b must have shape (4,), got (4, 1)"),
    "b of the wrong F": ({"b": np.zeros(3)}, ValueError, "b must have shape (4,), got (3,)"),
    "filter too tall": (
        {"w": np.ones((4, 3, 8, 3))},
        ValueError,
        "HH = 8 is larger than the input's padded height, H + 2*pad = 5 + 2*1 = 7",
    ),
    "filter too wide, no pad": (
        {"w": np.ones((4, 3, 3, 6)), "conv_param": {"pad": 0}},
        ValueError,
        "WW = 6 is larger than the input's width, W + 2*pad = 5 + 2*0 = 5",
    ),
    "stride does not divide": (
        {"conv_param": {"stride": 3, "pad": 1}},
        ValueError,
        "conv_param['stride'] = 3 does not divide H + 2*pad - HH = 5 + 2*1 - 3 = 4",
    ),
    "zero stride": (
        {"conv_param": {"stride": 0}},
        ValueError,
        "conv_param['stride'] must be a positive integer, got 0",
    ),
    "negative stride": (
        {"conv_param": {"stride": -1}},
        ValueError,
        "conv_param['stride'] must be a positive integer, got -1",
    ),
    "float stride": (
        {"conv_param": {"stride": 1.5}},
        TypeError,
        "conv_param['stride'] must be an integer, got float 1.5",
    ),
    "negative pad": (
        {"conv_param": {"pad": -1}},
        ValueError,
        "conv_param['pad'] must be an integer >= 0, got -1",
    ),
    "conv_param not a dict": ({"conv_param": 1}, TypeError, "conv_param must be a dict, got int"),
}


@pytest.mark.parametrize("impl", PAIRS)
@pytest.mark.parametrize("bad", BAD_FORWARD)
def test_bad_forward_input_is_named(impl, bad):
    forward, _ = PAIRS[impl]
    change, error, message = BAD_FORWARD[bad]
    args = good_args() | change
    with pytest.raises(error, match=re.escape(message)):
        forward(**args)


BAD_DOUT = {
    "wrong shape": (
        np.ones((2, 4, 4, 5)),
        ValueError,
        "forward output, (2, 4, 5, 5), got (2, 4, 4, 5)",
    ),
    "F and C swapped": (np.ones((2, 3, 5, 5)), ValueError, "got (2, 3, 5, 5)"),
    "integer": (np.ones((2, 4, 5, 5), dtype=int), TypeError, "dout must have dtype float"),
    "not an array": (0.0, TypeError, "dout must be a numpy ndarray, got float"),
}


@pytest.mark.parametrize("impl", PAIRS)
@pytest.mark.parametrize("bad", BAD_DOUT)
def test_bad_dout_is_named(impl, bad):
    forward, backward = PAIRS[impl]
    _, cache = forward(**good_args())  # out: (2, 4, 5, 5)
    dout, error, message = BAD_DOUT[bad]
    with pytest.raises(error, match=re.escape(message)):
        backward(dout, cache)
