"""check_layer: verify any forward/backward pair against numerical gradients, in one line.

    check_layer(batchnorm_forward, batchnorm_backward,
                {"x": x, "gamma": gamma, "beta": beta}, params={"bn_param": {"mode": "train"}})

``inputs`` are the arrays to differentiate, ``params`` everything else the forward takes
(labels, bn_param, negative_slope, ...). The forward is called as
``forward(*inputs.values(), *params.values())`` and must return ``(out, cache)``; the backward
as ``backward(dout, cache)`` and must return one gradient per input, in the order of
``inputs`` (a single array when there is one input). The result is a GradCheckReport: one
row per input with its maximum relative error (cs231n's rel_error) and pass/fail.

When an entry passes
--------------------
An entry a of the backward's gradient, n of the numerical one, passes when

    |a - n| <= tol * (|a| + |n|)                      (cs231n's relative error <= tol), or
    |a - n| <= max(tol * max|n|, rounding floor)      (an absolute error that means nothing)

max|n| is over the same input's gradient; the rounding floor is 100 * eps * sum|dout * out| / h,
the error rounding alone can give a central difference. The second rule is for entries much
smaller than the rest: a central difference carries an absolute error of ~1e-11 * |f| however
small the entry, so an entry of 1e-5 shows a relative error of ~1e-6 with a correct backward,
and the gradient of a bias just before batchnorm -- exactly 0, batchnorm removes any shift --
shows ~1e-2 (the b relative error around 1e-3 that puzzles cs231n students). Each input is
judged at its own scale, so a dx of 1e-3 is not excused by a dw of 1e3 beside it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab.gradcheck.numerical import (
    as_float64,
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)

# A correct float64 backward agrees with central differences (h = 1e-5) to ~1e-9; a bug
# is almost always off by more than 1e-3. 1e-7 leaves room for the first, none for the second.
DEFAULT_TOL = 1e-7
# Rounding inside a layer can exceed eps * |out| (its intermediate values may be larger than
# out: ~20x in affine_ln_relu); 100x leaves margin and is still ~1e-7 of an O(1) gradient.
ROUNDING_MARGIN = 100.0
_DOUT_STREAM = 0xD0  # mixed into an int seed so that dout's stream is not the caller's


@dataclass
class InputCheck:
    """One differentiable input's result: its name, its worst errors, pass or fail."""

    name: str
    max_rel_error: float  # rel_error(analytic, numerical), cs231n's
    max_abs_error: float  # max |analytic - numerical|
    atol: float  # absolute errors up to this pass: max(tol * max|numerical|, rounding floor)
    passed: bool
    analytic: np.ndarray = field(repr=False)  # the backward's gradient, float64
    numerical: np.ndarray = field(repr=False)  # the central-difference gradient


@dataclass
class GradCheckReport:
    """The outcome of check_layer or check_loss: one InputCheck per differentiable input.

    ``report.passed`` is True when every input passed; ``str(report)`` (or ``print(report)``)
    is a table; ``report['x'].numerical`` is the gradient to compare yours with.
    """

    layer: str
    checks: list[InputCheck]
    tol: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def __getitem__(self, name: str) -> InputCheck:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no input named {name!r}; checked: {[c.name for c in self.checks]}")

    def __str__(self) -> str:
        return format_table([self])


def _verdict(check: InputCheck, tol: float) -> str:
    if not check.passed:
        return "FAIL"
    if check.max_rel_error <= tol:
        return "ok"
    # Passed on the absolute rule: say so, or a large relative error next to "ok" puzzles.
    return f"ok (abs error {check.max_abs_error:.0e} <= {check.atol:.0e})"


def format_table(reports: Sequence[GradCheckReport]) -> str:
    """The reports as one table: layer, argument, max relative error, pass."""
    header = ("layer", "argument", "max rel error", "pass")
    rows = []
    for report in reports:
        for i, check in enumerate(report.checks):
            layer = report.layer if i == 0 else ""  # the name once per layer reads as a group
            verdict = _verdict(check, report.tol)
            rows.append((layer, check.name, f"{check.max_rel_error:.2e}", verdict))
    widths = [max(len(row[col]) for row in [header, *rows]) for col in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()

    return "\n".join([line(header), "-" * len(line(header)), *map(line, rows)])


def _check_tol(tol: float) -> None:
    if not (isinstance(tol, float | int) and tol > 0):
        raise ValueError(f"tol must be a positive number such as 1e-7, got {tol!r}")


def _dout_rng(seed: int | np.random.Generator) -> np.random.Generator:
    """The generator for dout: a Generator as given; an int seeds a stream of its own.

    Not default_rng(seed): a caller who drew x from default_rng(0) and checks with seed=0
    would get dout equal to x's standardisation, and batchnorm's dx for such a dout is 0.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng([seed, _DOUT_STREAM])


def _input_arrays(inputs: Mapping[str, Any], h: float) -> dict[str, np.ndarray]:
    """float64 copies of the inputs: the caller's arrays are never perturbed, even briefly."""
    if not isinstance(inputs, Mapping) or not inputs:
        raise TypeError(
            "inputs must be a non-empty dict of name -> array, e.g. {'x': x, 'w': w, 'b': b}, "
            f"got {inputs!r}"
        )
    arrays = {}
    for name, value in inputs.items():  # a loop, not a comprehension: that would add a frame
        # stacklevel 4: a float32 warning points at the line that called check_layer
        arrays[name] = np.array(as_float64(f"inputs[{name!r}]", value, h, stacklevel=4))
    return arrays


def _grads_by_name(grads: Any, names: list[str], shapes: dict[str, tuple]) -> dict[str, Any]:
    """Match backward's return value to the inputs in order, checking count and shapes."""
    if len(names) == 1 and not isinstance(grads, tuple | list):
        grads = (grads,)
    if not isinstance(grads, tuple | list) or len(grads) != len(names):
        got = f"{len(grads)} values" if isinstance(grads, tuple | list) else type(grads).__name__
        raise ValueError(
            f"backward must return one gradient per input, in order ({', '.join(names)}): "
            f"expected {len(names)}, got {got}"
        )
    for position, (name, grad) in enumerate(zip(names, grads, strict=True)):
        if not isinstance(grad, np.ndarray | float | np.floating):
            raise TypeError(
                f"backward's gradient number {position + 1} (for {name!r}) must be an ndarray, "
                f"got {type(grad).__name__}"
            )
        if np.shape(grad) != shapes[name]:
            raise ValueError(
                f"backward's gradient number {position + 1} (for {name!r}) must have the shape "
                f"of inputs[{name!r}], {shapes[name]}, got {np.shape(grad)}"
            )
    return dict(zip(names, grads, strict=True))


def rounding_floor(dout: np.ndarray, out: Any, h: float) -> float:
    """The absolute error rounding alone can give a central difference of sum(dout * out).

    Each evaluation of sum(dout * out) is off by ~eps * sum|dout * out| (more when the layer's
    intermediate values are larger than out), and the difference of two is divided by 2h.
    """
    scale = float(np.vdot(np.abs(dout), np.abs(np.asarray(out, dtype=np.float64))))
    return ROUNDING_MARGIN * np.finfo(np.float64).eps * scale / h


def _compare(
    analytic: Mapping[str, Any], numerical: Mapping[str, np.ndarray], tol: float, floor: float
) -> list[InputCheck]:
    """One InputCheck per numerical gradient (see "When an entry passes" above)."""
    checks = []
    for name, n in numerical.items():
        a = np.asarray(analytic[name], dtype=np.float64)
        abs_error = np.abs(a - n)
        atol = max(tol * float(np.max(np.abs(n), initial=0.0)), floor)
        within = (abs_error <= tol * np.maximum(1e-8, np.abs(a) + np.abs(n))) | (abs_error <= atol)
        max_abs = float(np.max(abs_error, initial=0.0))
        passed = bool(np.all(within))  # False if anything is nan
        checks.append(InputCheck(name, rel_error(a, n), max_abs, atol, passed, a, n))
    return checks


def check_layer(
    forward: Callable[..., tuple[Any, Any]],
    backward: Callable[[np.ndarray, Any], Any],
    inputs: Mapping[str, np.ndarray],
    params: Mapping[str, Any] | None = None,
    *,
    wrt: str | Iterable[str] | None = None,
    tol: float = DEFAULT_TOL,
    h: float = 1e-5,
    seed: int | np.random.Generator = 0,
    name: str | None = None,
) -> GradCheckReport:
    """backward(dout, cache) vs the numerical gradient of sum(dout * forward(...)[0]), per input

    forward: called as forward(*inputs.values(), *params.values()) -> (out, cache).
    backward: called as backward(dout, cache) -> one gradient per input, in order (a single
        array for one input); each must have its input's shape.
    inputs: name -> array, the differentiable arguments, e.g. {'x': x, 'gamma': g, 'beta': b}.
        Checked in float64 (float32 arrays are copied to float64, with a warning).
    params: name -> anything, the other arguments, e.g. {'bn_param': {'mode': 'train'}}. Every
        forward call gets a deep copy, so a forward that updates them (running statistics, a
        dropout Generator) sees the same state each time, and the caller's dict is untouched.
    wrt: the name(s) of the inputs to check numerically (default: all of them).
    tol: relative error allowed (default 1e-7; see the module docstring for the exact rule).
    h: the central-difference step.
    seed: int or np.random.Generator for dout (an int seeds a stream of its own, so
        x = default_rng(0).standard_normal(...) and seed=0 do not make dout equal to x).
    name: the layer's name in the report (default: forward's name without "_forward").
    Returns a GradCheckReport (``report.passed``, ``print(report)``).

    The upstream gradient dout is random standard normal, never all ones: the rows of a
    batchnorm output always sum to N * beta whatever x is, so with dout = ones the true dx is
    exactly zero -- and a backward that wrongly returns zeros, or drops the terms that a
    uniform dout cancels, would pass.
    """
    arrays = _input_arrays(inputs, h)
    if params is not None and not isinstance(params, Mapping):
        raise TypeError(
            "params must be a dict of name -> value, e.g. {'bn_param': {'mode': 'train'}}, "
            f"got {type(params).__name__}"
        )
    params = dict(params or {})
    _check_tol(tol)
    names = list(arrays)
    checked = names if wrt is None else [wrt] if isinstance(wrt, str) else list(wrt)
    unknown = [n for n in checked if n not in arrays]
    if unknown:
        raise ValueError(f"wrt names {unknown} are not inputs; the inputs are {names}")

    def call_forward(values: Mapping[str, np.ndarray]) -> tuple[Any, Any]:
        result = forward(*values.values(), *copy.deepcopy(params).values())
        if not (isinstance(result, tuple) and len(result) == 2):
            length = f" of length {len(result)}" if isinstance(result, tuple) else ""
            raise TypeError(
                f"forward must return (out, cache), got {type(result).__name__}{length}"
            )
        return result

    out, cache = call_forward(arrays)
    dout = np.asarray(_dout_rng(seed).standard_normal(np.shape(out)))
    grads = _grads_by_name(backward(dout, cache), names, {n: a.shape for n, a in arrays.items()})

    numerical = {}
    for input_name in checked:

        def out_given(value: np.ndarray, input_name: str = input_name) -> Any:
            return call_forward({**arrays, input_name: value})[0]

        numerical[input_name] = eval_numerical_gradient_array(
            out_given, arrays[input_name], dout, h=h
        )
    if name is None:
        name = getattr(forward, "__name__", "layer").removesuffix("_forward")
    floor = rounding_floor(dout, out, h)
    return GradCheckReport(name, _compare(grads, numerical, tol, floor), tol)


def check_loss(
    loss: Callable[[np.ndarray, Any], tuple[float, np.ndarray]],
    x: np.ndarray,
    y: Any,
    *,
    tol: float = DEFAULT_TOL,
    h: float = 1e-5,
    name: str | None = None,
) -> GradCheckReport:
    """loss(x, y)[1] (the analytic dx) vs the numerical gradient of the scalar loss(x, y)[0]

    loss: called as loss(x, y) -> (loss, dx), like softmax_loss, svm_loss, mse_loss.
    x: the scores, any shape loss accepts; checked in float64 (float32 is copied, with a
        warning). y: the targets, passed through unchanged.
    tol, h, name: as in check_layer. Returns a GradCheckReport with one row, 'x'.
    """
    _check_tol(tol)
    x = np.array(as_float64("x", x, h))
    result = loss(x, y)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"loss must return (loss, dx), got {type(result).__name__}")
    value, dx = result
    _grads_by_name(dx, ["x"], {"x": x.shape})
    numerical = eval_numerical_gradient(lambda v: loss(v, y)[0], x, verbose=False, h=h)
    if name is None:
        name = getattr(loss, "__name__", "loss")
    floor = rounding_floor(np.ones(()), value, h)  # a loss is its own sum(dout * out), dout = 1
    return GradCheckReport(name, _compare({"x": dx}, {"x": numerical}, tol, floor), tol)
