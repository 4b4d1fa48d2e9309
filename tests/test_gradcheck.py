"""The gradient checker itself: cs231n's numerical functions, check_layer, check_loss, the
catalog's selection and the ``bnlab gradcheck`` command. (The built-in layers' checks:
tests/test_layer_gradients.py.)

Toy layers written here have known gradients, so each test knows whether the checker should
pass or fail them.
"""

import re

import numpy as np
import pytest

from bnlab.cli import main
from bnlab.gradcheck import (
    DEFAULT_TOL,
    catalog,
    check_layer,
    check_loss,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)
from bnlab.gradcheck.catalog import LayerCheck, compose, normal

# A correct gradient agrees with a float64 central difference (h = 1e-5) to ~1e-9 relative:
# "relative error <= 1e-7" is the project's pass mark. A bug is off by far more.
NUMERICAL_RTOL = 1e-7
BUG_MIN_ERROR = 1e-3  # every deliberate bug below is off by at least this relative error
EPS = 1e-5


def rng(seed=0):
    return np.random.default_rng(seed)


# --- toy layers --------------------------------------------------------------------------


def scale_shift_forward(x, w, b):
    """out = x * w + b, elementwise; x: (N, D), w, b: (D,)"""
    return x * w + b, (x, w)


def scale_shift_backward(dout, cache):
    x, w = cache
    return dout * w, (dout * x).sum(0), dout.sum(0)


def scale_shift_backward_wrong_dw(dout, cache):
    dx, dw, db = scale_shift_backward(dout, cache)
    return dx, 2 * dw, db


def standardize_forward(x):
    """out = (x - mean) / sqrt(var + eps) per column; x: (N, D)"""
    xc = x - x.mean(0)
    inv_std = 1 / np.sqrt((xc**2).mean(0) + EPS)
    x_hat = xc * inv_std
    return x_hat, (x_hat, inv_std)


def standardize_backward(dout, cache):
    x_hat, inv_std = cache
    return inv_std * (dout - dout.mean(0) - x_hat * (dout * x_hat).mean(0))


def standardize_backward_no_variance_path(dout, cache):
    """The classic bug: the gradient through var is dropped. With dout = ones it is invisible."""
    _, inv_std = cache
    return inv_std * (dout - dout.mean(0))


def shift_standardize_forward(x, b):
    """out = standardize(x + b): b's gradient is exactly 0, batchnorm removes any shift."""
    return standardize_forward(x + b)


def shift_standardize_backward(dout, cache):
    dx = standardize_backward(dout, cache)
    return dx, dx.sum(0)  # = 0 up to rounding


def shift_standardize_backward_wrong_db(dout, cache):
    return standardize_backward(dout, cache), dout.sum(0)  # forgets the standardisation


def square_loss(x, y):
    """loss = sum((x - y)^2) / N; dx = 2 (x - y) / N"""
    diff = x - y
    return float((diff**2).sum() / len(x)), 2 * diff / len(x)


def square_loss_forgets_n(x, y):
    loss, dx = square_loss(x, y)
    return loss, dx * len(x)


# --- eval_numerical_gradient, eval_numerical_gradient_array ----------------------------


def test_eval_numerical_gradient_of_a_known_function():
    x = rng().standard_normal((3, 4))
    grad = eval_numerical_gradient(lambda v: np.sum(v**3), x, verbose=False)
    assert grad.shape == x.shape and grad.dtype == np.float64
    assert rel_error(grad, 3 * x**2) <= NUMERICAL_RTOL  # relative error <= 1e-7


def test_eval_numerical_gradient_verbose_prints_each_index(capsys):
    eval_numerical_gradient(lambda v: float(np.sum(v**2)), np.array([1.0, -2.0]))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("(0,)") and lines[1].startswith("(1,)")
    assert abs(float(lines[1].split()[-1]) - (-4.0)) < 1e-6


def test_eval_numerical_gradient_array_of_a_linear_map():
    A = rng(1).standard_normal((5, 3))
    x, df = rng(2).standard_normal(3), rng(3).standard_normal(5)
    grad = eval_numerical_gradient_array(lambda v: A @ v, x, df)
    assert rel_error(grad, A.T @ df) <= NUMERICAL_RTOL  # relative error <= 1e-7


def test_x_is_restored_afterwards_bit_for_bit():
    x = rng().standard_normal((2, 3))
    before = x.copy()
    eval_numerical_gradient(lambda v: np.sum(np.sin(v)), x, verbose=False)
    eval_numerical_gradient_array(np.tanh, x, np.ones_like(x))
    grad_check_sparse(lambda v: np.sum(v**2), x, 2 * x, num_checks=4, seed=0, verbose=False)
    assert np.array_equal(x, before)


@pytest.mark.parametrize("which", ["scalar", "array", "sparse"])
def test_x_is_restored_when_f_raises(which):
    x = rng().standard_normal(4)
    before = x.copy()
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) == 2:  # the x - h call, while x is perturbed
            raise RuntimeError("boom")
        return np.sum(v) if which != "array" else v

    with pytest.raises(RuntimeError, match="boom"):
        if which == "scalar":
            eval_numerical_gradient(f, x, verbose=False)
        elif which == "array":
            eval_numerical_gradient_array(f, x, np.ones(4))
        else:
            grad_check_sparse(f, x, np.ones(4), seed=0, verbose=False)
    assert not np.array_equal(calls[-1], before)  # it really was perturbed when f raised
    assert np.array_equal(x, before)


def test_f_returning_a_view_of_x_is_handled():
    # dropout in test mode returns x itself; the x + h result must not change with x - h
    x = rng().standard_normal(5)
    df = rng(1).standard_normal(5)
    grad = eval_numerical_gradient_array(lambda v: v, x, df)
    assert rel_error(grad, df) <= NUMERICAL_RTOL  # relative error <= 1e-7


def test_float32_is_checked_in_float64_with_a_warning_that_says_why():
    x32 = rng().standard_normal(6).astype(np.float32)
    before = x32.copy()
    exact = np.cos(x32.astype(np.float64))
    with pytest.warns(UserWarning, match=r"float32.*float64.*1e-2") as record:
        grad = eval_numerical_gradient(lambda v: np.sum(np.sin(v)), x32, verbose=False)
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert grad.dtype == np.float64
    assert rel_error(grad, exact) <= NUMERICAL_RTOL  # relative error <= 1e-7
    assert np.array_equal(x32, before) and x32.dtype == np.float32


def test_the_float32_warning_is_true():
    # The same central difference done in float32 really is ~1e-2 off: why we upcast.
    x32 = rng().standard_normal(6).astype(np.float32)
    h = np.float32(1e-5)
    in_float32 = np.array([(np.sin(x32[i] + h) - np.sin(x32[i] - h)) / (2 * h) for i in range(6)])
    assert rel_error(in_float32, np.cos(x32.astype(np.float64))) > BUG_MIN_ERROR


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda: eval_numerical_gradient(np.sum, np.arange(3), verbose=False), TypeError, "dtype"),
        (lambda: eval_numerical_gradient(np.sum, [1.0, 2.0], verbose=False), TypeError, "ndarray"),
        (lambda: eval_numerical_gradient(np.sum, np.ones(3), h=0), ValueError, "h must be"),
        (lambda: eval_numerical_gradient(np.sin, np.ones(3), verbose=False), ValueError, "scalar"),
        (lambda: eval_numerical_gradient_array(np.sin, np.ones(3), np.ones(4)), ValueError,
         "df must have the shape of f(x), (3,), got (4,)"),
        (lambda: eval_numerical_gradient_array(np.sin, np.ones(3), np.ones(3, int)), TypeError,
         "df must have dtype"),
        (lambda: grad_check_sparse(np.sum, np.ones(3), np.ones(2)), ValueError,
         "analytic_grad must have the shape of x, (3,), got (2,)"),
        (lambda: grad_check_sparse(np.sum, np.ones(0), np.ones(0)), ValueError, "x is empty"),
        (lambda: rel_error(np.ones(3), np.ones((3, 1))), ValueError, "same shape"),
    ],
)  # fmt: skip
def test_bad_input_is_named(call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert fragment in str(info.value)


# --- rel_error, grad_check_sparse --------------------------------------------------------


def test_rel_error_is_cs231ns_formula():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert rel_error(1.0, 3.0) == pytest.approx(0.5)  # |1 - 3| / (1 + 3)
    # the worst entry, not an average: entries with errors 0 and 1/3
    assert rel_error(np.array([5.0, 1.0]), np.array([5.0, 2.0])) == pytest.approx(1 / 3)
    assert rel_error(0.0, 1e-10) == pytest.approx(1e-2)  # the 1e-8 floor
    assert np.isnan(rel_error(np.array([np.nan]), np.array([1.0])))


def test_grad_check_sparse_is_seeded_and_leaves_the_global_rng_alone(capsys):
    x = rng().standard_normal((4, 5))
    f = lambda v: np.sum(v**3)  # noqa: E731
    state = np.random.get_state()[1].copy()  # noqa: NPY002 -- checking it is untouched
    first = grad_check_sparse(f, x, 3 * x**2, num_checks=6, seed=7)
    again = grad_check_sparse(f, x, 3 * x**2, num_checks=6, seed=np.random.default_rng(7))
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    assert np.array_equal(first, again) and first.shape == (6,)
    assert first.max() <= NUMERICAL_RTOL  # relative error <= 1e-7
    lines = capsys.readouterr().out.splitlines()
    assert (
        len(lines) == 12 and lines[0].startswith("numerical: ") and "relative error: " in lines[0]
    )


def test_grad_check_sparse_flags_a_wrong_gradient():
    x = rng().standard_normal((4, 5))
    errors = grad_check_sparse(
        lambda v: np.sum(v**3), x, 2 * x**2, num_checks=5, seed=0, verbose=False
    )
    assert errors.min() > BUG_MIN_ERROR


# --- check_layer ---------------------------------------------------------------------------


def scale_shift_inputs(seed=0):
    r = rng(seed)
    return {"x": r.standard_normal((4, 3)), "w": r.standard_normal(3), "b": r.standard_normal(3)}


def test_check_layer_passes_a_correct_layer():
    report = check_layer(scale_shift_forward, scale_shift_backward, scale_shift_inputs())
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == ["x", "w", "b"]
    assert all(c.max_rel_error <= NUMERICAL_RTOL for c in report.checks)  # rel error <= 1e-7
    assert report.layer == "scale_shift" and report.tol == DEFAULT_TOL == 1e-7


def test_check_layer_fails_a_wrong_backward_and_names_the_input():
    report = check_layer(scale_shift_forward, scale_shift_backward_wrong_dw, scale_shift_inputs())
    assert not report.passed
    assert report["x"].passed and report["b"].passed
    assert not report["w"].passed and report["w"].max_rel_error > BUG_MIN_ERROR
    table = str(report)
    assert "FAIL" in table and "w " in table
    np.testing.assert_allclose(report["w"].analytic, 2 * report["w"].numerical, rtol=1e-6)


def test_a_bug_hidden_by_an_all_ones_dout_is_caught():
    x = 5 * rng().standard_normal((6, 4)) + 12
    out, cache = standardize_forward(x)
    # with dout = ones the true dx is 0 (each column of out sums to 0 whatever x is), and
    # the buggy backward returns 0 too: an all-ones check cannot tell them apart ...
    ones = np.ones_like(out)
    assert np.abs(standardize_backward_no_variance_path(ones, cache)).max() < 1e-12
    true_dx = eval_numerical_gradient_array(lambda v: standardize_forward(v)[0], x.copy(), ones)
    assert np.abs(true_dx).max() < 1e-8
    # ... check_layer's random dout can.
    good = check_layer(standardize_forward, standardize_backward, {"x": x})
    bad = check_layer(standardize_forward, standardize_backward_no_variance_path, {"x": x})
    assert good.passed, str(good)
    assert not bad.passed and bad["x"].max_rel_error > BUG_MIN_ERROR


def test_dout_is_not_drawn_from_the_same_stream_as_the_callers_inputs():
    # x from default_rng(0) and seed=0: with a shared stream dout would equal x's
    # standardisation and the true dx would be exactly 0, making the check meaningless.
    x = 5 * np.random.default_rng(0).standard_normal((4, 5)) + 12
    report = check_layer(standardize_forward, standardize_backward, {"x": x}, seed=0)
    assert report.passed, str(report)
    assert np.abs(report["x"].numerical).max() > 1e-3


def test_an_exactly_zero_gradient_passes_but_a_wrong_one_does_not():
    r = rng(3)
    inputs = {"x": r.standard_normal((4, 3)), "b": 12 + 5 * r.standard_normal(3)}
    good = check_layer(shift_standardize_forward, shift_standardize_backward, inputs)
    assert good.passed, str(good)
    assert np.abs(good["b"].numerical).max() < 1e-8  # b's true gradient is 0
    bad = check_layer(shift_standardize_forward, shift_standardize_backward_wrong_db, inputs)
    assert not bad.passed and not bad["b"].passed and bad["x"].passed


def test_each_input_is_judged_at_its_own_scale():
    # pixels 0..255 and weights ~1e-3: dw is ~1e5 times dx, and a 1% error in dx must still fail
    r = rng(4)
    inputs = {"x": r.uniform(0, 255, (5, 4)), "w": 1e-3 * r.standard_normal((4, 3))}

    def forward(x, w):
        return x @ w, (x, w)

    def backward(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout

    def backward_dx_one_percent_off(dout, cache):
        dx, dw = backward(dout, cache)
        return 1.01 * dx, dw

    assert check_layer(forward, backward, inputs).passed
    bad = check_layer(forward, backward_dx_one_percent_off, inputs)
    assert not bad["x"].passed and bad["w"].passed
    assert np.abs(bad["w"].numerical).max() > 1e4 * np.abs(bad["x"].numerical).max()


def test_a_forward_that_is_not_repeatable_fails():
    # dropout drawing a fresh mask on every call: the numerical gradient is noise
    draws = np.random.default_rng(0)

    def forward(x):
        mask = draws.random(x.shape) < 0.5
        return x * mask, mask

    report = check_layer(forward, lambda dout, mask: dout * mask, {"x": rng().standard_normal(20)})
    assert not report.passed


def test_check_layer_forward_gets_params_after_inputs_and_a_copy_each_call():
    calls = []

    def forward(x, gamma, layer_param, slope):
        calls.append(layer_param["calls"])
        layer_param["calls"] += 1  # a forward that updates its param dict, as batchnorm does
        return x * gamma * slope, (x, gamma, slope)

    def backward(dout, cache):
        x, gamma, slope = cache
        return dout * gamma * slope, (dout * x * slope).sum(0)

    layer_param = {"calls": 0}
    x, gamma = rng().standard_normal((3, 2)), rng(1).standard_normal(2)
    report = check_layer(
        forward, backward, {"x": x, "gamma": gamma}, {"layer_param": layer_param, "slope": 0.5}
    )
    assert report.passed, str(report)
    assert set(calls) == {0} and len(calls) == 1 + 2 * (x.size + gamma.size)
    assert layer_param == {"calls": 0}


def test_check_layer_accepts_a_single_array_and_wrt():
    x = rng().standard_normal((3, 4))
    report = check_layer(lambda v: (np.tanh(v), np.tanh(v)), lambda d, t: d * (1 - t**2), {"x": x})
    assert report.passed and report.layer == "<lambda>"
    inputs = scale_shift_inputs()
    only_w = check_layer(scale_shift_forward, scale_shift_backward, inputs, wrt="w", name="mine")
    assert [c.name for c in only_w.checks] == ["w"] and only_w.layer == "mine"


def test_check_layer_float32_inputs_are_checked_in_float64_and_left_untouched():
    inputs = {k: v.astype(np.float32) for k, v in scale_shift_inputs().items()}
    before = {k: v.copy() for k, v in inputs.items()}
    with pytest.warns(UserWarning, match="float32") as record:
        report = check_layer(scale_shift_forward, scale_shift_backward, inputs)
    assert record[0].filename == __file__
    assert report.passed and report["x"].numerical.dtype == np.float64
    for k in inputs:
        assert inputs[k].dtype == np.float32 and np.array_equal(inputs[k], before[k])


@pytest.mark.parametrize(
    "backward, error, fragments",
    [
        (lambda d, c: scale_shift_backward(d, c)[:2], ValueError,
         ["one gradient per input", "x, w, b", "expected 3, got 2"]),
        (lambda d, c: (*scale_shift_backward(d, c)[:2], np.zeros(4)), ValueError,
         ["number 3 (for 'b')", "inputs['b'], (3,), got (4,)"]),
        (lambda d, c: (scale_shift_backward(d, c)[0], [1.0, 2.0, 3.0], None), TypeError,
         ["number 2 (for 'w') must be an ndarray, got list"]),
    ],
)  # fmt: skip
def test_backward_returning_the_wrong_grads_is_named(backward, error, fragments):
    with pytest.raises(error) as info:
        check_layer(scale_shift_forward, backward, scale_shift_inputs())
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"inputs": {}}, TypeError, "non-empty dict"),
        ({"inputs": [np.ones(3)]}, TypeError, "non-empty dict"),
        ({"inputs": {"x": np.arange(3)}}, TypeError, "inputs['x'] must have dtype"),
        ({"params": [1]}, TypeError, "params must be a dict"),
        ({"wrt": ["x", "gamma"]}, ValueError, "['gamma'] are not inputs"),
        ({"tol": 0}, ValueError, "tol must be a positive number"),
        ({"forward": lambda x, w, b: x * w + b}, TypeError, "forward must return (out, cache)"),
    ],
)
def test_check_layer_bad_arguments_are_named(kwargs, error, fragment):
    call = {
        "forward": scale_shift_forward,
        "backward": scale_shift_backward,
        "inputs": scale_shift_inputs(),
        **kwargs,
    }
    with pytest.raises(error) as info:
        check_layer(**call)
    assert fragment in str(info.value)


def test_report_lookup_of_an_unknown_input_lists_the_checked_ones():
    report = check_layer(scale_shift_forward, scale_shift_backward, scale_shift_inputs())
    with pytest.raises(KeyError, match="checked: \\['x', 'w', 'b'\\]"):
        report["gamma"]


# --- check_loss ----------------------------------------------------------------------------


def test_check_loss_passes_a_correct_loss_and_fails_a_wrong_one():
    x, y = rng().standard_normal((4, 3)), rng(1).standard_normal((4, 3))
    good = check_loss(square_loss, x, y)
    assert good.passed and good.layer == "square_loss"
    assert good["x"].max_rel_error <= NUMERICAL_RTOL  # relative error <= 1e-7
    bad = check_loss(square_loss_forgets_n, x, y)
    assert not bad.passed and bad["x"].max_rel_error > BUG_MIN_ERROR


def test_check_loss_refuses_a_loss_without_dx():
    with pytest.raises(TypeError, match=r"loss must return \(loss, dx\), got float"):
        check_loss(lambda x, y: float(np.sum(x)), np.ones(3), None)


# --- the catalog and the command -----------------------------------------------------------


def test_compose_chains_two_layers_and_their_gradients():
    forward, backward = compose(
        (scale_shift_forward, scale_shift_backward), (standardize_forward, standardize_backward), 3
    )
    report = check_layer(forward, backward, scale_shift_inputs(), name="scale_then_standardize")
    assert report.passed, str(report)
    assert forward.__name__ == "scale_shift_forward+standardize_forward"


def test_compose_is_a_two_layer_sandwich():
    """compose() chains with the sandwich layers' mechanism (bnlab.layers.sandwich): its cache
    is the tuple of the two layers' caches, and a wrong cache gets the sandwich's message."""
    forward, backward = compose(
        (scale_shift_forward, scale_shift_backward), (standardize_forward, standardize_backward), 3
    )
    inputs = scale_shift_inputs()
    out, cache = forward(*inputs.values())
    expected_out, _ = standardize_forward(scale_shift_forward(*inputs.values())[0])
    assert np.array_equal(out, expected_out)
    assert isinstance(cache, tuple) and len(cache) == 2
    assert cache[0][0] is inputs["x"] and cache[0][1] is inputs["w"]  # scale_shift's (x, w)
    assert np.array_equal(cache[1][0], out)  # standardize's x_hat
    expected = r"a sandwich's backward needs the cache its forward returns \(a tuple of 2\)"
    with pytest.raises(TypeError, match=expected):
        backward(np.ones_like(out), cache[:1])


def test_select_by_name_and_pattern():
    assert [e.name for e in catalog.select(["relu"])] == ["relu"]
    assert {e.name for e in catalog.select(["affine_*relu"])} == {
        "affine_relu",
        "affine_bn_relu",
        "affine_ln_relu",
    }
    assert len(catalog.select([])) == len(catalog.entries()) == len(catalog.CATALOG)
    with pytest.raises(ValueError, match="no layer check named 'nope'; valid names: affine, relu"):
        catalog.select(["relu", "nope"])


def test_the_catalog_is_built_on_each_call_not_at_import():
    """A mutation tester changes how entries are made after import: entries() must see it."""
    assert "CATALOG" not in vars(catalog)
    first, second = catalog.entries(), catalog.entries()
    assert [e.name for e in first] == [e.name for e in second] == catalog.names()
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert [e.name for e in catalog.CATALOG] == catalog.names()  # the old constant still reads
    with pytest.raises(AttributeError, match="has no attribute 'CATALOGUE'"):
        catalog.CATALOGUE  # noqa: B018


def test_catalog_names_are_unique():
    assert len(set(catalog.names())) == len(catalog.names())


def test_gradcheck_command_prints_the_table(capsys):
    assert main(["gradcheck", "relu", "batchnorm_train"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["layer", "argument", "max", "rel", "error", "pass"]
    for fragment in ("relu", "batchnorm_train", "gamma", "beta", "2 layers, 4 gradients"):
        assert fragment in out
    assert "all passed" in out and "FAIL" not in out


def test_gradcheck_command_list_and_unknown_name(capsys):
    assert main(["gradcheck", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in catalog.names())
    assert "batchnorm_forward / batchnorm_backward_alt wrt x, gamma, beta" in listed
    assert main(["gradcheck", "batchnrom"]) == 2
    assert "no layer check named 'batchnrom'; valid names:" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # refused while parsing, naming the option
        main(["gradcheck", "--tol", "-1"])
    assert stop.value.code == 2 and "argument --tol" in capsys.readouterr().err


def test_gradcheck_command_exits_non_zero_on_a_failure_or_a_crash(monkeypatch, capsys):
    def crashing_forward(x):
        raise RuntimeError("layer is broken")

    entries = [
        LayerCheck("good", scale_shift_forward, scale_shift_backward,
                   inputs={"x": normal(4, 3), "w": normal(3), "b": normal(3)}),
        LayerCheck("wrong_dw", scale_shift_forward, scale_shift_backward_wrong_dw,
                   inputs={"x": normal(4, 3), "w": normal(3), "b": normal(3)}),
        LayerCheck("crashing", crashing_forward, scale_shift_backward, inputs={"x": normal(3)}),
    ]  # fmt: skip
    monkeypatch.setattr(catalog, "entries", lambda: entries)
    assert main(["gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "ERROR in crashing: RuntimeError: layer is broken" in out
    assert "2 FAILED: wrong_dw, crashing" in out
    assert main(["gradcheck", "good"]) == 0


def test_float32_copy_ignored_by_f_is_an_error_not_a_zero_gradient():
    """cs231n's ``lambda _: model.loss(X, y)[0]`` on a float32 model used to return zeros."""
    w = np.random.default_rng(0).standard_normal((3, 2)).astype(np.float32)
    with pytest.warns(UserWarning, match="float32"):
        with pytest.raises(ValueError, match="f ignores the float64 copy"):
            eval_numerical_gradient(lambda _: float(np.sum(w**2)), w, verbose=False)


# --- what the checker shows: its table, its defaults, its names --------------------------


def test_format_table_prints_one_aligned_row_per_input():
    from bnlab.gradcheck.check_layer import GradCheckReport, InputCheck, format_table

    def row(name, rel, abs_error, atol, passed):
        return InputCheck(name, rel, abs_error, atol, passed, np.zeros(1), np.zeros(1))

    reports = [
        GradCheckReport("scale", [row("x", 1e-9, 1e-12, 1e-10, True),
                                  row("w", 0.5, 0.1, 1e-10, False),
                                  row("b", 3e-3, 2e-9, 1e-8, True)], tol=1e-7),
        GradCheckReport("loss", [row("x", 1e-7, 1e-9, 1e-8, True)], tol=1e-7),  # exactly tol: ok
    ]  # fmt: skip
    assert format_table(reports).splitlines() == [
        "layer  argument  max rel error  pass",
        "------------------------------------",
        "scale  x         1.00e-09       ok",
        "       w         5.00e-01       FAIL",  # the layer's name once per group
        "       b         3.00e-03       ok (abs error 2e-09 <= 1e-08)",
        "loss   x         1.00e-07       ok",
    ]


def cube_loss(x, y):
    """sum(x^3) with dx = 3 x^2: its central difference is 3 x^2 + h^2, so h shows"""
    return np.sum(x**3), 3 * x**2


def test_check_loss_honours_h_and_tol_names_an_anonymous_loss_and_prints_nothing(capsys):
    import functools

    x = rng(3).standard_normal((2, 3))
    report = check_loss(functools.partial(cube_loss), x, None, h=1e-2, tol=1e-3)
    assert report.layer == "loss"  # a partial has no __name__
    assert report.tol == 1e-3
    np.testing.assert_allclose(report["x"].numerical, 3 * x**2 + 1e-4, rtol=1e-8)
    assert capsys.readouterr().out == ""
    assert check_loss(cube_loss, x, None, name="cubes").layer == "cubes"


def test_check_loss_float32_warning_states_h():
    x32 = rng().standard_normal((2, 3)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"^x is float32: .* h=0\.001 "):
        check_loss(cube_loss, x32, None, h=1e-3)
    with pytest.warns(UserWarning, match=r"^x is float32: .* h=0\.001 "):
        grad_check_sparse(lambda v: cube_loss(v, None)[0], x32, 3 * x32**2, h=1e-3,
                          verbose=False)  # fmt: skip


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check_loss(cube_loss, [1.0], None), "x must be a numpy ndarray, got list"),
        (lambda: eval_numerical_gradient(np.sum, [1.0], verbose=False),
         "x must be a numpy ndarray, got list"),
        (lambda: grad_check_sparse(np.sum, [1.0], np.ones(1)), "x must be a numpy ndarray, got list"),
        (lambda: grad_check_sparse(np.sum, np.ones(1), [1.0]),
         "analytic_grad must be a numpy ndarray, got list"),
    ],
)  # fmt: skip
def test_bad_input_message_starts_with_the_arguments_name(call, message):
    with pytest.raises(TypeError, match=f"^{message}$"):
        call()


def test_a_zero_gradient_of_a_float64_x_is_a_result_not_an_error():
    # only a float32 x checked on a copy makes an all-zero gradient suspicious
    grad = eval_numerical_gradient(lambda v: 3.0, np.ones(4), verbose=False)
    np.testing.assert_array_equal(grad, np.zeros(4))


def test_grad_check_sparse_checks_ten_entries_by_default(capsys):
    x = rng().standard_normal((3, 4))
    errors = grad_check_sparse(lambda v: cube_loss(v, None)[0], x, 3 * x**2, seed=0)
    assert errors.shape == (10,)  # cs231n's num_checks=10
    assert len(capsys.readouterr().out.splitlines()) == 10


def cube_forward(x, gamma):
    """out = gamma * x^3, elementwise; x: (N, D), gamma: (D,)"""
    return gamma * x**3, (x, gamma)


def cube_backward(dout, cache):
    x, gamma = cache
    return 3 * gamma * x**2 * dout, (dout * x**3).sum(0)


def cube_inputs(seed=0):
    r = rng(seed)
    return {"x": r.standard_normal((3, 4)), "gamma": r.standard_normal(4)}


def test_check_layer_honours_h_seed_wrt_and_names_an_anonymous_forward():
    import functools

    inputs = cube_inputs()
    default = check_layer(cube_forward, cube_backward, inputs)
    # the default seed is 0, and a seed repeats the same dout: the same numbers each call
    for again in (check_layer(cube_forward, cube_backward, inputs, seed=0),
                  check_layer(cube_forward, cube_backward, inputs)):  # fmt: skip
        np.testing.assert_array_equal(again["x"].numerical, default["x"].numerical)
    # the central difference of x^3 is 3 x^2 + h^2: h reaches the numerical gradient
    coarse = check_layer(cube_forward, cube_backward, inputs, h=1e-2, tol=1e-3)
    analytic, numerical = coarse["x"].analytic, coarse["x"].numerical
    dout = analytic / (3 * inputs["gamma"] * inputs["x"] ** 2)
    np.testing.assert_allclose(numerical, analytic + dout * inputs["gamma"] * 1e-4, rtol=1e-7)
    only_gamma = check_layer(cube_forward, cube_backward, inputs, wrt="gamma")
    assert [c.name for c in only_gamma.checks] == ["gamma"]
    anonymous = check_layer(functools.partial(cube_forward), cube_backward, inputs)
    assert anonymous.layer == "layer"


def test_check_layer_reports_its_absolute_errors():
    report = check_layer(cube_forward, cube_backward, cube_inputs())
    for check in report.checks:
        assert check.max_abs_error == np.max(np.abs(check.analytic - check.numerical))
        # the absolute pass mark scales with the gradient (here < 1e3), not with 1
        assert 0 < check.atol < 1e3 * report.tol


def test_a_wrong_gradient_is_caught_however_small_it_is():
    # dw = sum(dout * x) ~ 1e-8 here: doubled, its absolute error (~1e-8) is below tol itself,
    # but its relative error is 1/3: the check must fail
    inputs = scale_shift_inputs()
    inputs["x"] = inputs["x"] * 1e-8
    inputs["b"] = np.zeros(3)
    report = check_layer(scale_shift_forward, scale_shift_backward_wrong_dw, inputs)
    assert not report["w"].passed and report["x"].passed


@pytest.mark.parametrize(
    "forward, params, error, message",
    [
        (lambda x: [x, None], None, TypeError, "forward must return (out, cache), got list"),
        (lambda x: (x, None, None), None, TypeError,
         "forward must return (out, cache), got tuple of length 3"),
        (lambda x: (x, None), [1], TypeError,
         "params must be a dict of name -> value, e.g. {'bn_param': {'mode': 'train'}}, got list"),
    ],
)  # fmt: skip
def test_check_layer_refuses_a_wrong_forward_or_params(forward, params, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        check_layer(forward, lambda dout, cache: dout, {"x": np.ones(3)}, params)


def test_rel_error_is_computed_in_float64_and_is_zero_for_empty_arrays():
    a = np.array([1.0, 3.0], np.float32)
    b = np.array([1.0 + 2**-23, 3.0 + 2**-22], np.float32)
    assert rel_error(a, b) == rel_error(a.astype(np.float64), b.astype(np.float64))
    assert rel_error(np.ones(0), np.ones(0)) == 0.0


def test_catalog_entries_name_their_arguments_as_the_layer_does():
    """`bnlab gradcheck` prints each argument's name: it must be the layer's own."""
    import inspect

    named = 0
    for entry in catalog.entries():
        assert isinstance(entry.name, str) and entry.name
        if not isinstance(entry, LayerCheck):
            continue
        parameters = list(inspect.signature(entry.forward).parameters)
        if parameters == ["args"]:  # a composed chain takes *args
            continue
        named += 1
        assert parameters == [*entry.inputs, *(entry.params or {})], entry.name
        if "running statistics" in entry.note:  # test mode: bn_param brings its own
            param = next(iter(entry.params.values()))
            assert {"running_mean", "running_var"} <= set(param), entry.name
    assert named >= 30


def test_a_single_gradient_may_come_alone_or_in_a_tuple():
    double = (lambda x: (2 * x, None), {"x": rng().standard_normal(3)})
    for backward in (lambda dout, cache: 2 * dout, lambda dout, cache: (2 * dout,)):
        assert check_layer(double[0], backward, double[1]).passed


def test_a_backward_returning_too_few_gradients_is_told_what_it_returned():
    inputs = scale_shift_inputs()
    expected = "backward must return one gradient per input, in order (x, w, b): expected 3, got "
    for backward, got in ((lambda dout, cache: dout, "ndarray"),
                          (lambda dout, cache: (dout, dout), "2 values")):  # fmt: skip
        with pytest.raises(ValueError, match=f"^{re.escape(expected + got)}$"):
            check_layer(scale_shift_forward, backward, inputs)
