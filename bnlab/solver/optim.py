"""First-order update rules, as in cs231n's ``optim.py``.

Every rule has the same contract::

    next_w, config = rule(w, dw, config=None)

- w: a float ndarray, the current parameter (any shape)
- dw: the gradient of the loss with respect to w, same shape
- config: a dict of hyperparameters and optimizer state (velocity, cache, m, v, t). Missing
  hyperparameters are filled with cs231n's defaults, missing state with zeros in ``w``'s dtype,
  so a float32 model keeps float32 state.
- next_w: the updated parameter; config: the same dict, holding the new state.

Rules work in place: they update ``w`` and the state arrays in ``config`` and return ``w``
itself as next_w. That keeps the Solver's hot path to at most one temporary array per
parameter per step (cs231n builds three or four). ``dw`` is never modified. The cost of this
choice: a caller that wants to keep the old ``w`` must copy it first.

Learning rates and decay rates are read as Python floats, so a NumPy float64 scalar in config
cannot silently upcast a float32 update to float64.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab._validation import check_float_array, check_param_dict, check_same_shape

UpdateRule = Callable[[np.ndarray, np.ndarray, "dict[str, Any] | None"], tuple[np.ndarray, dict]]


# The hyperparameters the rules read, and the values that make sense for them:
# (lowest, highest, whether the lowest is allowed, how to say it in an error).
HYPERPARAMETER_RANGES = {
    "learning_rate": (0.0, math.inf, False, "a positive number"),
    "momentum": (0.0, 1.0, True, "in [0, 1)"),
    "decay_rate": (0.0, 1.0, True, "in [0, 1)"),
    "beta1": (0.0, 1.0, True, "in [0, 1)"),
    "beta2": (0.0, 1.0, True, "in [0, 1)"),
    "epsilon": (0.0, math.inf, False, "a positive number"),
}


def check_hyperparameters(config: dict[str, Any], name: str = "optim_config") -> None:
    """A ValueError naming the first hyperparameter in ``config`` outside its sensible range.

    A negative learning rate climbs the loss and beta2 = 1 divides by zero in Adam's bias
    correction: both would otherwise train to a silently wrong answer or crash mid-run.
    """
    for key, (low, high, low_allowed, expected) in HYPERPARAMETER_RANGES.items():
        if key not in config:
            continue
        value = config[key]
        in_range = (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and (low <= value if low_allowed else low < value)
            and value < high
        )
        if not in_range:
            raise ValueError(f"{name}[{key!r}] must be {expected}, got {value!r}")


def _start(w: np.ndarray, dw: np.ndarray, config: dict | None) -> dict:
    """Check the arguments shared by every rule and return the config dict to fill."""
    check_float_array("w", w)
    check_float_array("dw", dw)
    check_same_shape("dw", dw, "w", w)
    if config is None:
        return {}
    return check_param_dict("config", config)


def _state(config: dict, key: str, w: np.ndarray) -> np.ndarray:
    """config[key], created as zeros like w on first use (not setdefault: that would allocate
    a zeros array on every step only to throw it away)."""
    if key not in config:
        config[key] = np.zeros_like(w)
    state = config[key]
    check_same_shape(f"config[{key!r}]", state, "w", w)
    return state


def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """w <- w - learning_rate * dw

    config: learning_rate (default 1e-2).
    """
    config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)

    w -= float(config["learning_rate"]) * dw
    return w, config


def sgd_momentum(
    w: np.ndarray, dw: np.ndarray, config: dict | None = None
) -> tuple[np.ndarray, dict]:
    """v <- momentum * v - learning_rate * dw;  w <- w + v

    config: learning_rate (default 1e-2), momentum (default 0.9; 0 reduces to sgd),
    velocity (same shape as w; default zeros).
    """
    config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = _state(config, "velocity", w)

    v *= float(config["momentum"])
    v -= float(config["learning_rate"]) * dw
    w += v
    return w, config


def rmsprop(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """cache <- decay_rate * cache + (1 - decay_rate) * dw^2;  w <- w - lr * dw / (sqrt(cache) + eps)

    config: learning_rate (default 1e-2), decay_rate (default 0.99), epsilon (default 1e-8),
    cache (moving average of squared gradients, same shape as w; default zeros).
    """
    config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = _state(config, "cache", w)
    decay_rate = float(config["decay_rate"])

    scratch = np.square(dw)  # the one temporary, reused for the step below
    scratch *= 1.0 - decay_rate
    cache *= decay_rate
    cache += scratch
    np.sqrt(cache, out=scratch)
    scratch += float(config["epsilon"])
    np.divide(dw, scratch, out=scratch)
    scratch *= float(config["learning_rate"])
    w -= scratch
    return w, config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None) -> tuple[np.ndarray, dict]:
    """m <- b1 m + (1-b1) dw;  v <- b2 v + (1-b2) dw^2;  w <- w - lr m_hat / (sqrt(v_hat) + eps)

    with the bias corrections m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), where t is
    incremented *before* use, so the first step has t = 1 (Kingma & Ba, 2015, Algorithm 1).

    config: learning_rate (default 1e-3), beta1 (default 0.9), beta2 (default 0.999),
    epsilon (default 1e-8), m and v (moving averages of the gradient and its square, same
    shape as w; default zeros), t (the step count; default 0).
    """
    config = _start(w, dw, config)
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("t", 0)
    m = _state(config, "m", w)
    v = _state(config, "v", w)
    beta1, beta2 = float(config["beta1"]), float(config["beta2"])

    config["t"] += 1
    t = config["t"]
    scratch = np.multiply(dw, 1.0 - beta1)  # the one temporary, reused below
    m *= beta1
    m += scratch
    np.square(dw, out=scratch)
    scratch *= 1.0 - beta2
    v *= beta2
    v += scratch
    # sqrt(v_hat) + eps, with the bias correction folded into scalars
    np.sqrt(v, out=scratch)
    scratch *= 1.0 / math.sqrt(1.0 - beta2**t)
    scratch += float(config["epsilon"])
    np.divide(m, scratch, out=scratch)
    scratch *= float(config["learning_rate"]) / (1.0 - beta1**t)
    w -= scratch
    return w, config


UPDATE_RULES: dict[str, UpdateRule] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}
