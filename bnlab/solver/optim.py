"""First-order update rules, as in cs231n's ``optim.py``.

Every rule has the same contract::

    next_w, config = rule(w, dw, config=None)

- w: a float ndarray, the current parameter (any shape)
- dw: the gradient of the loss with respect to w, same shape
- config: a dict of hyperparameters and optimizer state (velocity, cache, m, v, t). Missing
  hyperparameters are filled with cs231n's defaults by ``config.setdefault``, missing state
  with zeros like ``w``, so a float32 model keeps float32 state.
- next_w: the updated parameter, a new array; config: the same dict, holding the new state.
  Neither ``w`` nor ``dw`` is modified.

Arithmetic on a 0-d array gives a NumPy scalar, not an array, so the rules pass their results
through ``np.asarray``: a 0-d parameter (one scalar) stays an array from step to step.

Learning rates and decay rates are read as Python floats: under NumPy 2's promotion rules a
NumPy float64 scalar in config would silently turn a float32 update into float64.

These are the lesson. The Solver runs their in-place twins from :mod:`bnlab.fast.optim`
(same names, same results to round-off) when ``update_rule`` is given by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab._validation import check_float_array, check_param_dict, check_same_shape

UpdateRule = Callable[[np.ndarray, np.ndarray, "dict[str, Any] | None"], tuple[np.ndarray, dict]]


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """w <- w - learning_rate * dw

    config: learning_rate (default 1e-2).
    """
    config = check_rule_arguments(w, dw, config)
    config.setdefault("learning_rate", 1e-2)

    next_w = w - float(config["learning_rate"]) * dw
    return np.asarray(next_w), config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple[np.ndarray, dict]:
    """v <- momentum * v - learning_rate * dw;  w <- w + v

    config: learning_rate (default 1e-2), momentum (default 0.9; 0 reduces to sgd),
    velocity (same shape as w; default zeros).
    """
    config = check_rule_arguments(w, dw, config, state=("velocity",))
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))

    v = float(config["momentum"]) * v - float(config["learning_rate"]) * dw
    next_w = w + v
    config["velocity"] = np.asarray(v)
    return np.asarray(next_w), config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """cache <- decay_rate * cache + (1 - decay_rate) * dw^2;  w <- w - lr * dw / (sqrt(cache) + eps)

    config: learning_rate (default 1e-2), decay_rate (default 0.99), epsilon (default 1e-8),
    cache (moving average of squared gradients, same shape as w; default zeros).
    """
    config = check_rule_arguments(w, dw, config, state=("cache",))
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w))
    learning_rate, decay_rate = float(config["learning_rate"]), float(config["decay_rate"])

    cache = decay_rate * cache + (1 - decay_rate) * dw**2
    next_w = w - learning_rate * dw / (np.sqrt(cache) + float(config["epsilon"]))
    config["cache"] = np.asarray(cache)
    return np.asarray(next_w), config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """m <- b1 m + (1-b1) dw;  v <- b2 v + (1-b2) dw^2;  w <- w - lr m_hat / (sqrt(v_hat) + eps)

    with the bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), where t is
    incremented *before* use, so the first step has t = 1 (Kingma & Ba, 2015, Algorithm 1).

    config: learning_rate (default 1e-3), beta1 (default 0.9), beta2 (default 0.999),
    epsilon (default 1e-8), m and v (moving averages of the gradient and its square, same
    shape as w; default zeros), t (the step count; default 0).
    """
    config = check_rule_arguments(w, dw, config, state=("m", "v"))
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    learning_rate = float(config["learning_rate"])
    beta1, beta2 = float(config["beta1"]), float(config["beta2"])

    t = config["t"] + 1
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    next_w = w - learning_rate * m_hat / (np.sqrt(v_hat) + float(config["epsilon"]))
    config.update(m=np.asarray(m), v=np.asarray(v), t=t)
    return np.asarray(next_w), config


UPDATE_RULES: dict[str, UpdateRule] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}


def check_rule_arguments(
    w: np.ndarray, dw: np.ndarray, config: dict | None, state: tuple[str, ...] = ()
) -> dict:
    """The checks every rule starts with; returns the config dict to fill ({} for None).

    w, dw: float arrays of one shape; config: a dict whose ``state`` arrays, if present, have
    w's shape (a wrong shape would broadcast into a silently wrong update).
    """
    check_float_array("w", w)
    check_float_array("dw", dw)
    check_same_shape("dw", dw, "w", w)
    if config is None:
        return {}
    config = check_param_dict("config", config)
    for key in state:
        if key in config:
            check_same_shape(f"config[{key!r}]", config[key], "w", w)
    return config
