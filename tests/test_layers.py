"""The other core layers' behaviour: affine, activations, layernorm, dropout, losses, sandwiches,
and every public layer function's dtype. (Gradients: tests/test_layer_gradients.py.)"""

import inspect
import re
import warnings

import numpy as np
import pytest

import bnlab
import bnlab.layers as layers
import bnlab.layers.sandwich as sandwich
from bnlab.fast.normalization import (
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
)
from bnlab.gradcheck.catalog import LayerCheck, LossCheck, _make, entries, names
from bnlab.layers import (
    affine_backward,
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    mse_loss,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    svm_loss,
    tanh_backward,
    tanh_forward,
)
from bnlab.layers.dropout import DropoutConventionWarning
from bnlab.layers.sandwich import sandwich_backward, sandwich_forward

EPS = 1e-5
SAME_MATHS_RTOL = 1e-12  # float64, the same maths in a different operation order
STD_RTOL = 1e-4  # std of a standardised row is sqrt(var / (var + eps)), not exactly 1
# A fraction of n Bernoulli(p) draws has std sqrt(p (1 - p) / n) <= 0.5 / sqrt(n): for
# n = 200_000 that is 0.0011, so 0.01 is a 9-sigma band.
FRACTION_ATOL = 0.01


# --- affine ------------------------------------------------------------------------------


def test_affine_known_values_and_flattening():
    x = np.arange(12.0).reshape(2, 3, 2)  # (N, d1, d2) -> flattened to (2, 6)
    w = np.arange(18.0).reshape(6, 3) / 10
    b = np.array([1.0, -1.0, 0.5])
    out, _ = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(2, 6) @ w + b, rtol=SAME_MATHS_RTOL)
    np.testing.assert_allclose(out[0], [1 + 16.5, -1 + 18.0, 0.5 + 19.5], rtol=SAME_MATHS_RTOL)


def test_affine_takes_a_1d_x_as_a_batch_of_scalars():
    out, _ = affine_forward(np.arange(4.0), np.full((1, 2), 2.0), np.array([1.0, -1.0]))
    np.testing.assert_array_equal(out, np.arange(4.0)[:, None] * 2 + [1.0, -1.0])


def test_affine_backward_shapes_and_need_dx():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 3))
    out, cache = affine_forward(x, rng.standard_normal((6, 5)), rng.standard_normal(5))
    dout = rng.standard_normal(out.shape)
    dx, dw, db = affine_backward(dout, cache)
    assert dx.shape == x.shape and dw.shape == (6, 5) and db.shape == (5,)
    np.testing.assert_allclose(db, dout.sum(0), rtol=SAME_MATHS_RTOL)
    skipped, dw2, db2 = affine_backward(dout, cache, need_dx=False)
    assert skipped is None
    assert np.array_equal(dw, dw2) and np.array_equal(db, db2)


def test_caches_name_their_fields_and_unpack_as_in_cs231n():
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    _, cache = affine_forward(x, w, b)
    assert cache.x is x and cache.w is w and cache.b is b
    x_c, w_c, b_c = cache  # cs231n's backward unpacks (x, w, b)
    assert x_c is x and w_c is w and b_c is b
    _, cache = leaky_relu_forward(x, 0.2)
    assert cache.x is x and cache.negative_slope == 0.2
    _, cache = dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    assert cache.mode == "train" and cache.mask is cache[1] and cache.x_shape == x.shape
    x4, w4 = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3))
    _, (x_c, w_c, b_c, conv_param) = layers.conv_forward_naive(x4, w4, b, {"pad": 1})
    assert x_c is x4 and conv_param == {"stride": 1, "pad": 1}  # the defaults filled in
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 1}
    _, cache = layers.max_pool_forward_naive(x4, pool_param)
    assert cache.x is x4 and cache.pool_param is pool_param
    _, cache = layers.conv_forward_fast(x4, w4, b, {"pad": 1})
    x_c, w_c, b_c, _, _ = cache  # cs231n's fast conv cache (x, w, b, conv_param, x_cols)
    assert all(np.array_equal(a, e) for a, e in ((x_c, x4), (w_c, w4), (b_c, b)))


# --- activations -----------------------------------------------------------------------


def test_activation_known_values():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(relu_forward(x)[0], [[0.0, 0.0, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(leaky_relu_forward(x)[0], [[-0.02, -0.005, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(leaky_relu_forward(x, 0.2)[0], [[-0.4, -0.1, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(tanh_forward(x)[0], np.tanh(x), rtol=1e-12)


def test_relu_backward_passes_gradient_only_where_x_is_positive():
    x = np.array([[-1.0, 0.0, 3.0]])
    dx = relu_backward(np.array([[5.0, 6.0, 7.0]]), relu_forward(x)[1])
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 7.0]])


def test_activation_backward_known_values():
    # dout differs per entry, so a backward that ignores, divides by or misplaces it fails
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    dout = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    s = 1 / (1 + np.exp(-x))  # sigmoid'(x) = s (1 - s), computed here independently
    np.testing.assert_allclose(sigmoid_backward(dout, sigmoid_forward(x)[1]), dout * s * (1 - s),
                               rtol=1e-12)  # fmt: skip
    t = np.tanh(x)  # tanh'(x) = 1 - tanh(x)^2
    np.testing.assert_allclose(tanh_backward(dout, tanh_forward(x)[1]), dout * (1 - t**2),
                               rtol=1e-12)  # fmt: skip
    # leaky relu: slope * dout where x <= 0 (x = 0 included, as relu's), dout where x > 0
    dx = leaky_relu_backward(dout, leaky_relu_forward(x, 0.1)[1])
    np.testing.assert_allclose(dx, [[0.1, 0.2, 0.3, 4.0, 5.0]], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_huge_inputs(dtype):
    x = np.array([[-1e4, -100.0, 0.0, 100.0, 1e4]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):  # unlike 1 / (1 + exp(-x))
        out, _ = sigmoid_forward(x)
    np.testing.assert_allclose(out, [[0.0, 0.0, 0.5, 1.0, 1.0]], atol=1e-30)


# --- layernorm -------------------------------------------------------------------------


def test_layernorm_standardises_each_row():
    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, (5, 8)) * np.arange(1, 6)[:, None]  # rows on different scales
    out, _ = layernorm_forward(x, np.ones(8), np.zeros(8), {})
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=1), 1.0, rtol=STD_RTOL)


def test_layernorm_gamma_and_beta_are_per_feature():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3))
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 4.0])
    plain, _ = layernorm_forward(x, np.ones(3), np.zeros(3), {})
    out, _ = layernorm_forward(x, gamma, beta, {})
    np.testing.assert_allclose(out, plain * gamma + beta, rtol=SAME_MATHS_RTOL)


def test_layernorm_is_batchnorm_of_the_transpose():
    # With gamma = 1 and beta = 0 both are pure standardisation; layernorm over the rows of x
    # is batchnorm over the columns of x.T -- forward and backward.
    rng = np.random.default_rng(3)
    N, D = 4, 6
    x, dout = rng.normal(2.0, 3.0, (N, D)), rng.standard_normal((N, D))
    out, cache = layernorm_forward(x, np.ones(D), np.zeros(D), {"eps": EPS})
    dx, _, _ = layernorm_backward(dout, cache)
    out_t, cache_t = batchnorm_forward(x.T, np.ones(N), np.zeros(N), {"mode": "train", "eps": EPS})
    dx_t, _, _ = batchnorm_backward_alt(dout.T, cache_t)
    np.testing.assert_allclose(out, out_t.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, dx_t.T, rtol=1e-10, atol=1e-12)


def test_layernorm_ignores_the_batch():
    # Each example normalises itself: its output does not depend on the other rows.
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    whole, _ = layernorm_forward(x, gamma, beta, {})
    single, _ = layernorm_forward(x[2:3], gamma, beta, {})
    np.testing.assert_allclose(whole[2:3], single, rtol=SAME_MATHS_RTOL)


# --- dropout ---------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.25, 0.5, 0.9])
def test_dropout_p_is_the_keep_probability(p):
    x = np.full((400, 500), 2.0)
    out, _ = dropout_forward(x, {"keep_prob": p, "mode": "train", "seed": 0})
    kept = out != 0
    assert kept.mean() == pytest.approx(p, abs=FRACTION_ATOL)
    np.testing.assert_allclose(out[kept], 2.0 / p, rtol=1e-12)  # inverted: kept units scaled by 1/p
    assert out.mean() == pytest.approx(2.0, rel=FRACTION_ATOL / p)  # E[out] = x


def test_dropout_test_mode_and_p_equal_one_are_the_identity():
    x = np.random.default_rng(5).standard_normal((3, 4))
    for param in (
        {"keep_prob": 0.3, "mode": "test"},
        {"keep_prob": 1.0, "mode": "train", "seed": 0},
    ):
        out, cache = dropout_forward(x, param)
        assert np.array_equal(out, x) and cache.mode == param["mode"] and cache.mask is None
        dout = np.ones_like(x)
        assert np.array_equal(dropout_backward(dout, cache), dout)


def test_dropout_backward_uses_the_forward_mask():
    x = np.random.default_rng(6).standard_normal((50, 40)) + 10.0  # never exactly 0
    out, cache = dropout_forward(x, {"keep_prob": 0.6, "mode": "train", "seed": 3})
    dout = np.full_like(x, 3.0)
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[out != 0], 3.0 / 0.6, rtol=1e-12)


def test_dropout_int_seed_repeats_the_mask_and_a_generator_advances():
    x = np.ones((20, 30))
    seeded = {"keep_prob": 0.5, "mode": "train", "seed": 42}
    assert np.array_equal(dropout_forward(x, seeded)[0], dropout_forward(x, seeded)[0])
    rng = np.random.default_rng(42)
    with_generator = {"keep_prob": 0.5, "mode": "train", "seed": rng}
    first = dropout_forward(x, with_generator)[0]
    second = dropout_forward(x, with_generator)[0]
    assert not np.array_equal(first, second)
    # the Generator's first draw is the int seed's mask: same stream, consumed once
    assert np.array_equal(first, dropout_forward(x, seeded)[0])


def test_dropout_leaves_numpy_global_random_state_alone():
    before = np.random.get_state()  # noqa: NPY002 (the legacy global state is the point)
    x = np.ones((10, 10))
    for param in (
        {"keep_prob": 0.5, "mode": "train"},
        {"keep_prob": 0.5, "mode": "train", "seed": 1},
    ):
        dropout_forward(x, param)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0] and np.array_equal(before[1], after[1])
    assert before[2:] == after[2:]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask_is_in_the_input_dtype(dtype):
    x = np.ones((8, 8), dtype=dtype)
    out, cache = dropout_forward(x, {"keep_prob": 0.7, "mode": "train", "seed": 0})
    assert out.dtype == dtype and cache[1].dtype == dtype


# cs231n's dropout argument p: the DROP probability up to 2017, the KEEP probability from 2018
# (bnlab.layers.dropout's conventions); bnlab.set_cs231n_year says which.


@pytest.fixture
def cs231n_year():
    """Set the course year for one test; always put the package's setting back."""
    before = bnlab.cs231n_year()
    yield bnlab.set_cs231n_year
    bnlab.set_cs231n_year(before)


def kept_scale(p, mode="train"):
    """What dropout with cs231n's p does to ones: the scale of the kept units (1 / keep)."""
    out, _ = dropout_forward(np.ones((50, 40)), {"p": p, "mode": mode, "seed": 0})
    return np.unique(out[out != 0])


@pytest.mark.parametrize(("year", "keep"), [(2016, 0.75), (2017, 0.75), (2018, 0.25), (2019, 0.25)])
def test_dropout_p_follows_the_course_year(cs231n_year, year, keep):
    cs231n_year(year)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a year is set: no warning about the convention
        np.testing.assert_allclose(kept_scale(0.25), [1 / keep], rtol=1e-12)


@pytest.mark.parametrize(
    ("year", "p", "reading", "expected"),
    [(2017, 1, "DROP", "[0, 1)"), (2017, 1.5, "DROP", "[0, 1)"), (2017, -0.1, "DROP", "[0, 1)"),
     (2019, 0, "KEEP", "(0, 1]"), (2019, 1.5, "KEEP", "(0, 1]"), (2019, -0.1, "KEEP", "(0, 1]")],
)  # fmt: skip
def test_dropout_p_out_of_the_years_range_is_refused(cs231n_year, year, p, reading, expected):
    cs231n_year(year)
    message = (
        f"dropout_param['p'] must be in {expected}: with bnlab.set_cs231n_year({year}) it is "
        f"the {reading} probability; got {p!r}"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        kept_scale(p)


@pytest.mark.parametrize(("year", "p"), [(2017, 0), (2017, 0.999), (2019, 1), (2019, 0.001)])
def test_dropout_p_at_the_ends_of_the_years_range_is_accepted(cs231n_year, year, p):
    cs231n_year(year)
    keep = 1 - p if year <= 2017 else p
    np.testing.assert_allclose(kept_scale(p), [1 / keep], rtol=1e-9)


@pytest.mark.parametrize("p", [0, 1])
def test_dropout_p_zero_or_one_without_a_year_means_no_dropout(cs231n_year, p):
    # 0 is a drop probability only (2017), 1 a keep probability only (2018): both keep all
    cs231n_year(None)
    x = np.random.default_rng(7).standard_normal((6, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = dropout_forward(x, {"p": p, "mode": "train", "seed": 0})
    np.testing.assert_array_equal(out, x)


def test_dropout_ambiguous_p_without_a_year_is_read_as_keep_with_a_warning(cs231n_year):
    cs231n_year(None)
    with pytest.warns(DropoutConventionWarning) as record:
        out, _ = dropout_forward(np.ones((50, 40)), {"p": 0.3, "mode": "train", "seed": 0})
    np.testing.assert_allclose(np.unique(out[out != 0]), [1 / 0.3], rtol=1e-12)
    assert len(record) == 1
    assert str(record[0].message) == (
        "dropout_param['p'] = 0.3 is ambiguous: cs231n read it as the DROP probability up to "
        "2017 (keep 0.7) and as the KEEP probability from 2018 (keep 0.3); bnlab reads it as the "
        "KEEP probability. Say which course year the notebook follows, once at its top: "
        "bnlab.set_cs231n_year(2017) or bnlab.set_cs231n_year(2019) (see bnlab.layers.dropout)"
    )


def test_dropout_convention_warning_names_the_line_that_called_dropout(cs231n_year):
    cs231n_year(None)
    with pytest.warns(DropoutConventionWarning) as record:
        dropout_forward(np.ones((5, 4)), {"p": 0.3, "mode": "train", "seed": 0})
    line = inspect.currentframe().f_lineno - 1
    assert (record[0].filename, record[0].lineno) == (__file__, line)


@pytest.mark.parametrize(("p", "mode"), [(0.5, "train"), (0.3, "test")])
def test_dropout_p_half_or_test_mode_needs_no_year(cs231n_year, p, mode):
    # 0.5 keeps half in every year; in test mode p does not change the output
    cs231n_year(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scale = kept_scale(p, mode)
    np.testing.assert_allclose(scale, [2.0] if mode == "train" else [1.0], rtol=1e-12)


@pytest.mark.parametrize("p", ["0.5", True, None])
def test_dropout_p_that_is_not_a_number_is_refused(cs231n_year, p):
    cs231n_year(None)
    message = (
        f"dropout_param['p'] must be a number (the DROP probability in [0, 1) up to 2017, the "
        f"KEEP probability in (0, 1] from 2018), got {p!r}"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        kept_scale(p)


def test_dropout_keep_prob_and_p_together_are_refused():
    param = {"p": 0.5, "keep_prob": 0.5, "mode": "train"}
    message = "dropout_param holds both 'p' and 'keep_prob': pass only one"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        dropout_forward(np.ones((2, 2)), param)


@pytest.mark.parametrize("keep", [1.5, 2, 0, -0.5, True])
def test_dropout_keep_prob_outside_zero_one_is_refused(keep):
    with pytest.raises(ValueError, match=re.escape(f"must be in (0, 1], got {keep!r}")):
        dropout_forward(np.ones((2, 2)), {"keep_prob": keep, "mode": "train"})


def test_dropout_rng_key_takes_a_generator():
    x = np.ones((20, 30))
    by_rng, _ = dropout_forward(x, {"keep_prob": 0.5, "mode": "train",
                                    "rng": np.random.default_rng(9)})  # fmt: skip
    by_seed, _ = dropout_forward(x, {"keep_prob": 0.5, "mode": "train", "seed": 9})
    np.testing.assert_array_equal(by_rng, by_seed)


# --- losses ----------------------------------------------------------------------------


def test_softmax_shifts_each_row_by_its_own_max():
    # rows on scales 1000 apart: a shift by the global max would underflow the small row
    x = np.array([[1000.0, 0.0], [0.0, 1.0]])
    loss, dx = softmax_loss(x, np.array([0, 1]))
    expected = (0.0 + np.log1p(np.exp(-1.0))) / 2  # -log p(correct) per row, averaged
    assert loss == pytest.approx(expected, rel=1e-12)
    assert np.isfinite(dx).all()


def test_mse_takes_integer_targets_as_numbers():
    x = np.random.default_rng(8).standard_normal((4, 3))
    y = np.arange(12).reshape(4, 3)
    loss, dx = mse_loss(x, y)
    loss_f, dx_f = mse_loss(x, y.astype(np.float64))
    assert loss == loss_f
    np.testing.assert_array_equal(dx, dx_f)


@pytest.mark.parametrize("C", [2, 10, 1000])
def test_softmax_of_uniform_scores_is_log_c(C):
    x = np.full((4, C), 3.7)
    loss, dx = softmax_loss(x, np.arange(4) % C)
    assert loss == pytest.approx(np.log(C), rel=1e-12)
    np.testing.assert_allclose(dx.sum(axis=1), 0.0, atol=1e-15)  # probabilities minus one-hot


def test_softmax_is_stable_for_huge_scores():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp(-2e4) = 0 is fine
        loss, dx = softmax_loss(x, np.array([1, 2]))
    # row 0: log-softmax of the label is -1e4; row 1: two tied maxima, -log(1/2)
    assert loss == pytest.approx((1e4 + np.log(2)) / 2, rel=1e-12)
    assert np.all(np.isfinite(dx))
    np.testing.assert_allclose(dx, [[0.5, -0.5, 0.0], [0.0, 0.25, -0.25]], atol=1e-12)


def test_svm_known_small_case():
    x = np.array([[3.0, 1.0, 2.5], [0.0, 2.0, 2.2]])
    y = np.array([0, 1])
    # row 0: margins max(0, 1-3+1) = 0, max(0, 2.5-3+1) = 0.5; row 1: 0-2+1 -> 0, 2.2-2+1 = 1.2
    loss, dx = svm_loss(x, y)
    assert loss == pytest.approx((0.5 + 1.2) / 2, rel=1e-12)
    np.testing.assert_allclose(dx, [[-0.5, 0.0, 0.5], [0.0, -0.5, 0.5]], rtol=1e-12)


def test_mse_known_value_and_column_targets():
    x = np.array([[1.0], [2.0], [4.0]])
    loss, dx = mse_loss(x, np.array([0.0, 2.0, 1.0]))  # (N,) targets for an (N, 1) prediction
    assert loss == pytest.approx((1 + 0 + 9) / 3, rel=1e-12)
    np.testing.assert_allclose(dx, [[2 / 3], [0.0], [2.0]], rtol=1e-12)
    loss_col, dx_col = mse_loss(x, np.array([[0.0], [2.0], [1.0]]))
    assert loss_col == loss and np.array_equal(dx_col, dx)


def test_mse_averages_over_every_element():
    x = np.array([[1.0, 3.0], [0.0, 0.0]])
    loss, _ = mse_loss(x, np.zeros((2, 2)))
    assert loss == pytest.approx(10 / 4, rel=1e-12)  # PyTorch's nn.MSELoss: mean over N * D


# --- sandwich layers -------------------------------------------------------------------


def sandwich_inputs(rng, N=5, D=4, M=3):
    return (
        rng.standard_normal((N, D)),
        rng.standard_normal((D, M)),
        rng.standard_normal(M),
        rng.normal(1.0, 0.2, M),
        rng.standard_normal(M),
    )


def compose(x, w, b, gamma, beta, norm_forward, norm_backward, norm_param, dout):
    a, fc_cache = affine_forward(x, w, b)
    a_norm, norm_cache = norm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a_norm)
    da, dgamma, dbeta = norm_backward(relu_backward(dout, relu_cache), norm_cache)
    return out, (*affine_backward(da, fc_cache), dgamma, dbeta)


@pytest.mark.parametrize(
    "forward, backward, norm_forward, norm_backward, plain_forward, plain_backward, norm_param",
    [
        (affine_bn_relu_forward, affine_bn_relu_backward, batchnorm_forward_fast,
         batchnorm_backward_fast, batchnorm_forward, batchnorm_backward_alt, {"mode": "train"}),
        (affine_ln_relu_forward, affine_ln_relu_backward, layernorm_forward_fast,
         layernorm_backward_fast, layernorm_forward, layernorm_backward, {}),
    ],
    ids=["bn", "ln"],
)  # fmt: skip
def test_sandwich_equals_the_composed_primitives(
    forward, backward, norm_forward, norm_backward, plain_forward, plain_backward, norm_param
):
    # The sandwiches chain the fast normalisation twins: exactly those primitives composed,
    # and the lesson's primitives to rounding (float64, 1e-12 relative).
    rng = np.random.default_rng(7)
    x, w, b, gamma, beta = sandwich_inputs(rng)
    dout = rng.standard_normal((5, 3))
    out, cache = forward(x, w, b, gamma, beta, dict(norm_param))
    grads = backward(dout, cache)
    out2, grads2 = compose(
        x, w, b, gamma, beta, norm_forward, norm_backward, dict(norm_param), dout
    )
    out3, grads3 = compose(
        x, w, b, gamma, beta, plain_forward, plain_backward, dict(norm_param), dout
    )
    assert np.array_equal(out, out2)
    np.testing.assert_allclose(out, out3, rtol=1e-12, atol=1e-12)
    assert len(grads) == 5
    for name, g, g2, g3 in zip("dx dw db dgamma dbeta".split(), grads, grads2, grads3, strict=True):
        assert np.array_equal(g, g2), name
        np.testing.assert_allclose(g, g3, rtol=1e-12, atol=1e-12, err_msg=name)


def test_affine_relu_equals_the_composed_primitives():
    rng = np.random.default_rng(8)
    x, w, b, _, _ = sandwich_inputs(rng)
    dout = rng.standard_normal((5, 3))
    out, cache = affine_relu_forward(x, w, b)
    a, fc_cache = affine_forward(x, w, b)
    assert np.array_equal(out, np.maximum(a, 0))
    expected = affine_backward(dout * (a > 0), fc_cache)
    for g, g2 in zip(affine_relu_backward(dout, cache), expected, strict=True):
        assert np.array_equal(g, g2)


def test_sandwich_chain_passes_bare_and_tuple_gradients_and_collects_outputs():
    """sandwich_forward/backward, the one chain behind the sandwiches, the nets and the catalog:
    a layer without parameters returns dx alone, one with parameters (dx, *grads)."""
    rng = np.random.default_rng(9)
    x, w, b, _, _ = sandwich_inputs(rng)
    outputs = []
    out, cache = sandwich_forward(
        x, (relu_forward,), (affine_forward, w, b), (relu_forward,), outputs=outputs
    )
    h1, relu1_cache = relu_forward(x)
    h2, fc_cache = affine_forward(h1, w, b)
    h3, relu2_cache = relu_forward(h2)
    assert len(outputs) == 3 and outputs[-1] is out
    for ours, expected in zip(outputs, (h1, h2, h3), strict=True):
        assert np.array_equal(ours, expected)
    dout = rng.standard_normal(out.shape)
    grads = sandwich_backward(dout, cache, relu_backward, affine_backward, relu_backward)
    dh1, dw, db = affine_backward(relu_backward(dout, relu2_cache), fc_cache)
    expected = (relu_backward(dh1, relu1_cache), dw, db)
    assert len(grads) == 3
    for name, g, g2 in zip("dx dw db".split(), grads, expected, strict=True):
        assert np.array_equal(g, g2), name


def catalog_entry(name):
    """The gradient-check catalog's entry called name, built now (not at import)."""
    return next(entry for entry in entries() if entry.name == name)


SANDWICHES = [
    "affine_relu", "affine_bn_relu", "affine_ln_relu", "conv_relu", "conv_relu_pool",
    "conv_bn_relu",
]  # fmt: skip


@pytest.mark.parametrize("name", SANDWICHES)
def test_every_sandwich_runs_through_the_one_chain(name, monkeypatch):
    """Each sandwich layer is sandwich_forward / sandwich_backward over its primitives."""
    calls = []

    def spy(kind, chain):
        def recorded(x, cache_or_first, *rest, **kwargs):
            calls.append(kind)
            return chain(x, cache_or_first, *rest, **kwargs)

        return recorded

    monkeypatch.setattr(sandwich, "sandwich_forward", spy("forward", sandwich_forward))
    monkeypatch.setattr(sandwich, "sandwich_backward", spy("backward", sandwich_backward))
    entry = catalog_entry(name)
    inputs, params = entry.make_arguments(np.random.default_rng(0))
    out, cache = entry.forward(*inputs.values(), *params.values())
    entry.backward(np.ones_like(out), cache)
    assert calls == ["forward", "backward"]


# --- dtype: every public function, float32 and float64 ---------------------------------
# The table is the gradient-check catalog: each entry names a forward/backward pair (or a
# loss) and how to build its inputs. Here they are built, cast to the dtype and run.


def _cast(value, dtype):
    return (
        value.astype(dtype) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value
    )


def test_dtype_table_covers_every_public_layer_function():
    covered = set()
    for entry in entries():
        functions = (
            (entry.forward, entry.backward) if isinstance(entry, LayerCheck) else (entry.loss,)
        )
        covered |= {f.__name__ for f in functions}
    assert set(layers.__all__) <= covered, f"missing: {set(layers.__all__) - covered}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", names())
def test_every_layer_returns_the_input_dtype(name, dtype):
    entry = catalog_entry(name)
    rng = np.random.default_rng(9)
    if isinstance(entry, LossCheck):
        x, y = _cast(_make(entry.x, rng), dtype), _make(entry.y, rng)
        loss, dx = entry.loss(x, y)
        assert isinstance(loss, float) and np.isfinite(loss)
        assert dx.dtype == dtype and dx.shape == x.shape
        return
    # Only the differentiable inputs take the dtype: settings such as bn_param's running
    # statistics stay float64, and the layer must still answer in x's dtype.
    inputs = [_cast(v, dtype) for v in _make(entry.inputs, rng).values()]
    out, cache = entry.forward(*inputs, *_make(entry.params, rng).values())
    assert out.dtype == dtype, f"{entry.name} forward returned {out.dtype}"
    grads = entry.backward(rng.standard_normal(out.shape).astype(dtype), cache)
    for i, grad in enumerate(grads if isinstance(grads, tuple) else (grads,)):
        assert grad.dtype == dtype, f"{entry.name} backward output {i} is {grad.dtype}"
        assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("forward", [affine_relu_forward, affine_forward])
def test_float64_parameters_follow_a_float32_input(forward):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    out, cache = forward(x, rng.standard_normal((4, 2)), rng.standard_normal(2))
    assert out.dtype == np.float32
    backward = affine_relu_backward if forward is affine_relu_forward else affine_backward
    assert all(g.dtype == np.float32 for g in backward(np.ones_like(out), cache))
