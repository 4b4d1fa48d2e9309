"""bnlab.gradcheck behaviour that mutation testing found unguarded (docs/mutation-testing.md).

Each test names what a user would see go wrong: a correct loss judged failing, a listing without
its notes, a seeded check that is not reproducible, a message that lost its words.
"""

import functools
import re

import numpy as np
import pytest

from bnlab.gradcheck import (
    catalog,
    check_layer,
    check_loss,
    eval_numerical_gradient_array,
    grad_check_sparse,
)
from bnlab.gradcheck.catalog import LayerCheck, LossCheck, normal
from bnlab.layers import relu_backward, relu_forward, softmax_loss


def test_check_loss_excuses_the_rounding_of_a_large_loss_value():
    """loss = 1e6 + sum(x**2) / 2: its value's rounding (~1e-10 * 1e6 / h) swamps dx = x.

    The central difference then carries an absolute error near 1e-5 whatever dx is; the
    rounding floor (100 eps |loss| / h, about 2e-3 here) is what lets the correct dx pass.
    """

    def offset_square_loss(x, y):
        return 1e6 + float(np.sum(x**2)) / 2, x.copy()

    x = np.random.default_rng(0).standard_normal((3, 4)) * 1e-3
    report = check_loss(offset_square_loss, x, None)
    assert report.passed, str(report)
    assert report["x"].atol > 1e-3  # the floor, not tol * max|dx| ~ 1e-10


def test_grad_check_sparse_on_an_empty_x_says_so_exactly():
    with pytest.raises(ValueError) as error:
        grad_check_sparse(np.sum, np.ones(0), np.ones(0))
    assert str(error.value) == "x is empty: there is no entry to check"


# --- what ``bnlab gradcheck --list`` prints for an entry ---------------------------------------


def relu_check(note=""):
    return LayerCheck("relu", relu_forward, relu_backward, inputs={"x": normal(3)}, note=note)


def test_describe_appends_the_note_only_when_there_is_one():
    assert relu_check().describe() == "relu_forward / relu_backward wrt x"
    assert relu_check("away from 0").describe() == (
        "relu_forward / relu_backward wrt x; away from 0"
    )


def test_describe_names_a_function_without_a_name_by_its_repr():
    forward = functools.partial(relu_forward)  # a partial has no __name__
    entry = LayerCheck("bound", forward, relu_backward, inputs={"x": normal(3)})
    assert entry.describe() == f"{forward!r} / relu_backward wrt x"


def test_a_loss_entry_describes_its_loss_and_its_note():
    entry = LossCheck("mse_loss_column", softmax_loss, x=normal(4, 3), y=normal(4), note="a note")
    assert entry.describe() == "softmax_loss wrt x (dx returned with the loss); a note"


# --- running a loss entry ---------------------------------------------------------------------


def loss_entries():
    return [entry for entry in catalog.entries() if isinstance(entry, LossCheck)]


def test_a_loss_entry_reports_under_its_own_name_and_tolerance():
    names = [entry.name for entry in loss_entries()]
    assert "mse_loss_column" in names  # a name that is not its loss function's
    for entry in loss_entries():
        report = entry.run(seed=0, tol=1e-4)
        assert report.layer == entry.name
        assert report.tol == 1e-4
        assert report.passed, str(report)


def test_a_loss_entry_is_reproducible_from_its_seed():
    """The same seed draws the same x and y, so the errors repeat to the last bit."""
    for entry in loss_entries():
        first, again = entry.run(seed=3), entry.run(seed=3)
        np.testing.assert_array_equal(first["x"].numerical, again["x"].numerical)
        other = entry.run(seed=4)
        assert not np.array_equal(first["x"].numerical, other["x"].numerical), entry.name


def test_select_names_every_unknown_pattern():
    message = "no layer check named 'nope', 'nada'; valid names: affine, relu, "
    with pytest.raises(ValueError, match=re.escape(message)):
        catalog.select(["nope", "relu", "nada"])


# --- the input makers and layer entries ----------------------------------------------------------


def test_away_from_zero_draws_both_signs_within_the_band():
    x = catalog.away_from_zero(40, 5, low=0.5, high=2.0).make(np.random.default_rng(0))
    assert x.shape == (40, 5)
    assert (x > 0).any() and (x < 0).any()
    assert np.all((np.abs(x) >= 0.5) & (np.abs(x) < 2.0))


def test_distinct_is_a_centred_grid_of_the_gap_in_random_order():
    x = catalog.distinct(2, 3, 4, gap=0.1).make(np.random.default_rng(0))
    assert x.shape == (2, 3, 4)
    np.testing.assert_allclose(np.sort(x.ravel()), (np.arange(24) - 11.5) * 0.1, atol=1e-12)
    assert not np.array_equal(x.ravel(), np.sort(x.ravel()))


def test_labels_cover_every_class_from_zero():
    y = catalog.labels(200, 4).make(np.random.default_rng(0))
    assert y.shape == (200,) and set(y.tolist()) == {0, 1, 2, 3}


def test_a_layer_entry_is_reproducible_and_reports_its_tolerance():
    entry = next(e for e in catalog.entries() if e.name == "batchnorm_train")
    first, again, other = entry.run(seed=3, tol=1e-5), entry.run(seed=3), entry.run(seed=4)
    assert first.tol == 1e-5 and again.tol == catalog.DEFAULT_TOL
    np.testing.assert_array_equal(first["x"].numerical, again["x"].numerical)
    assert not np.array_equal(first["x"].numerical, other["x"].numerical)


# --- check_layer's pass rule ---------------------------------------------------------------------


def scaled_backward(factor):
    """The backward of out = 3 x, off by the relative amount factor - 1."""
    return lambda dout, cache: 3 * factor * dout


def triple(x):
    return 3 * x, None


def test_the_relative_rule_uses_the_sum_of_the_magnitudes():
    """An error of 1.5e-7 relative to one value is 0.75e-7 of |a| + |n|: within tol = 1e-7,
    though beyond the absolute rule's tol * max|n|."""
    x = {"x": np.array([1.0])}
    assert check_layer(triple, scaled_backward(1 + 1.5e-7), x).passed
    assert not check_layer(triple, scaled_backward(1 + 3e-7), x).passed


def test_an_empty_input_is_checked_without_error():
    report = check_layer(triple, scaled_backward(1), {"x": np.ones((0, 3))})
    assert report.passed and report["x"].max_abs_error == 0.0 and report["x"].atol == 0.0


# --- a float32 x: checked on a float64 copy -----------------------------------------------------


def test_a_float32_x_is_checked_on_a_float64_copy_with_a_warning_that_says_why():
    x = np.array([1.0, -2.0, 3.0], np.float32)
    message = (
        "x is float32: checking in float64 instead, on a copy that f receives (central "
        "differences in float32 with h=0.001 have ~1e-2 error, which hides any bug)"
    )
    with pytest.warns(UserWarning, match=f"^{re.escape(message)}$"):
        grad = eval_numerical_gradient_array(lambda v: v**2, x, np.ones(3), h=1e-3)
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-6)


def test_an_f_that_ignores_the_float64_copy_is_told_so():
    x = np.ones(3, np.float32)
    message = (
        "the numerical gradient is exactly zero everywhere: f ignores the float64 copy it is "
        "given and reads the original float32 array instead (e.g. lambda _: "
        "model.loss(X, y)[0]). Build the model with dtype=np.float64 for gradient checks."
    )
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        eval_numerical_gradient_array(lambda _: x**2, x, np.ones(3))


def test_check_layer_refuses_inputs_that_are_not_a_dict_exactly():
    message = (
        "inputs must be a non-empty dict of name -> array, e.g. {'x': x, 'w': w, 'b': b}, got [1.0]"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        check_layer(triple, scaled_backward(1), [1.0])
