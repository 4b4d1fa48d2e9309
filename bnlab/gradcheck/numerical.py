"""Numerical gradients by central differences, with cs231n's names and signatures.

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

The error of a central difference is O(h^2) from the Taylor series plus O(eps * |f| / h) from
rounding f. In float64 (eps ~ 1e-16) with h = 1e-5 both are ~1e-10: a correct backward agrees
to a relative error of about 1e-9, and bnlab's tests demand <= 1e-7. In float32 (eps ~ 6e-8)
the rounding term alone is ~1e-2, which no tolerance can tell from a bug, so float32 input is
checked in float64: the functions below perturb a float64 copy of x, pass that copy to f, and
warn. (f must then compute from its argument: a closure that ignores it and reads the original
array, ``lambda _: model.loss(X)[0]``, only works for float64 x.)

x is perturbed in place one entry at a time and always restored, also when f raises.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab._validation import check_float_array

FLOAT32_WARNING = (
    "{name} is float32: checking in float64 instead, on a copy that f receives "
    "(central differences in float32 with h={h:g} have ~1e-2 error, which hides any bug)"
)


def as_float64(name: str, x: Any, h: float, stacklevel: int = 3) -> np.ndarray:
    """x itself if it is float64; a float64 copy (with a warning saying why) if float32."""
    check_float_array(name, x)
    if x.dtype == np.float32:
        warnings.warn(FLOAT32_WARNING.format(name=name, h=h), UserWarning, stacklevel=stacklevel)
        return x.astype(np.float64)
    return x


def check_copy_was_used(grad: np.ndarray, x_given: np.ndarray, x_checked: np.ndarray) -> None:
    """Raise if a float32 x was checked on a copy that f never read (the gradient is all 0).

    cs231n's ``lambda _: model.loss(X, y)[0]`` ignores its argument: it only works when x is
    the model's own float64 array, perturbed in place.
    """
    if x_checked is not x_given and grad.size and not np.any(grad):
        raise ValueError(
            "the numerical gradient is exactly zero everywhere: f ignores the float64 copy it is "
            "given and reads the original float32 array instead (e.g. lambda _: "
            "model.loss(X, y)[0]). Build the model with dtype=np.float64 for gradient checks."
        )


def _check_step(h: float) -> None:
    if not (isinstance(h, float | int) and 0 < h < 1):
        raise ValueError(f"h must be a small positive step such as 1e-5, got {h!r}")


def central_difference(
    f: Callable[[np.ndarray], Any], x: np.ndarray, ix: tuple[int, ...], h: float
) -> tuple[np.ndarray, np.ndarray]:
    """(f(x + h e_ix), f(x - h e_ix)) as float64 arrays; x[ix] is restored even if f raises.

    The results are copies: f may return a view of x (dropout in test mode returns x itself),
    which the next perturbation would change.
    """
    old = x[ix]
    try:
        x[ix] = old + h
        f_plus = np.array(f(x), dtype=np.float64)
        x[ix] = old - h
        f_minus = np.array(f(x), dtype=np.float64)
    finally:
        x[ix] = old
    return f_plus, f_minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """grad_i = (f(x + h e_i) - f(x - h e_i)) / (2 h) for a scalar-valued f (a loss)

    f: maps an array shaped like x to a scalar.
    x: any shape, float64 (float32 is checked on a float64 copy, with a warning).
    verbose: print each index and its gradient, as cs231n does.
    Returns grad: shape of x, float64.
    """
    _check_step(h)
    x_given, x = x, as_float64("x", x, h)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        f_plus, f_minus = central_difference(f, x, ix, h)
        if f_plus.size != 1:
            raise ValueError(
                f"f must return a scalar (a loss), got an array of shape {f_plus.shape}; "
                f"use eval_numerical_gradient_array(f, x, dout) for array-valued f"
            )
        grad[ix] = (f_plus.item() - f_minus.item()) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    check_copy_was_used(grad, x_given, x)
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """grad_i = sum(df * (f(x + h e_i) - f(x - h e_i))) / (2 h): the gradient of sum(df * f(x))

    f: maps an array shaped like x to an array shaped like df (a layer's forward output).
    x: any shape, float64 (float32 is checked on a float64 copy, with a warning).
    df: the upstream gradient dout, shape of f(x). Make it random: with dout all ones the
        batchnorm dx is exactly zero, so a wrong dx can still match.
    Returns grad: shape of x, float64.
    """
    _check_step(h)
    x_given, x = x, as_float64("x", x, h)
    check_float_array("df", df)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        f_plus, f_minus = central_difference(f, x, ix, h)
        if f_plus.shape != df.shape:
            raise ValueError(f"df must have the shape of f(x), {f_plus.shape}, got {df.shape}")
        f_plus -= f_minus  # reuse the buffer: this runs once per entry of x
        grad[ix] = np.vdot(f_plus, df) / (2 * h)
    check_copy_was_used(grad, x_given, x)
    return grad


def rel_error(x: Any, y: Any) -> float:
    """max over entries of |x - y| / max(1e-8, |x| + |y|): cs231n's relative error

    x, y: arrays (or scalars) of the same shape. Returns a float (nan if either holds nan).
    The 1e-8 floor keeps two entries that are both ~0 from dividing by zero.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(
            f"rel_error needs x and y of the same shape, got {x.shape} and {y.shape} "
            f"(broadcasting them would compare the wrong entries)"
        )
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | np.random.Generator | None = None,
    verbose: bool = True,
) -> np.ndarray:
    """Compare analytic_grad with central differences at num_checks random entries of x

    f: maps an array shaped like x to a scalar (a loss).
    x: any shape, float64 (float32 is checked on a float64 copy, with a warning).
    analytic_grad: shape of x, the gradient to test.
    seed: int or np.random.Generator choosing the entries (numpy's global state is untouched).
    verbose: print each check as cs231n does.
    Returns the relative errors: (num_checks,), each as in rel_error.
    """
    _check_step(h)
    x = as_float64("x", x, h)
    check_float_array("analytic_grad", analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad must have the shape of x, {x.shape}, got {analytic_grad.shape}"
        )
    if x.size == 0:
        raise ValueError("x is empty: there is no entry to check")
    rng = np.random.default_rng(seed)
    errors = np.empty(num_checks)
    for k in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        f_plus, f_minus = central_difference(f, x, ix, h)
        numerical = (f_plus.item() - f_minus.item()) / (2 * h)
        analytic = float(analytic_grad[ix])
        errors[k] = rel_error(numerical, analytic)
        if verbose:
            print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {errors[k]:e}")
    return errors
