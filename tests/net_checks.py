"""Whole-net gradient checks shared by the net tests (tests/test_nets.py, tests/test_conv_nets.py)."""

from __future__ import annotations

import numpy as np
import pytest

# Whole-net check: relative error <= 1e-7, measured as ||num - ana|| / (||num|| + ||ana||) per
# parameter. A ratio is meaningless for a bias that feeds a batchnorm layer: its true gradient
# is exactly zero (batchnorm subtracts any constant back out), so those are checked absolutely.
NET_REL_TOL = 1e-7
ZERO_GRAD_ATOL = 1e-6  # central differences of a flat function, h = 1e-5, loss ~ 1..500


def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f()
        x[i] = old - h
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def assert_net_gradients(model, X, y):
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name, param in model.params.items():
        num = numerical_gradient(lambda: model.loss(X, y)[0], param)
        ana = grads[name]
        assert ana.shape == param.shape and ana.dtype == param.dtype
        scale = np.linalg.norm(num) + np.linalg.norm(ana)
        # with norm_placement='after' the activation sits between the bias and the batchnorm
        feeds_batchnorm = (
            f"gamma{name[1:]}" in model.params
            and model.normalization == "batchnorm"
            and getattr(model, "norm_placement", "before") == "before"
        )
        if name.startswith("b") and feeds_batchnorm:
            assert np.abs(ana).max() < ZERO_GRAD_ATOL and np.abs(num).max() < ZERO_GRAD_ATOL
            continue
        err = np.linalg.norm(num - ana) / max(scale, 1e-12)
        assert err <= NET_REL_TOL, f"{name}: relative error {err:.2e} > {NET_REL_TOL}"


def assert_refused(make, kwargs, error, words):
    """make(**kwargs) raises error, and its message contains every one of words."""
    with pytest.raises(error) as info:
        make(**kwargs)
    for word in words:
        assert word in str(info.value), str(info.value)
