"""The update rules, in place and with one scratch buffer: the fast twins of :mod:`bnlab.solver.optim`.

Same names, same contract ``rule(w, dw, config=None) -> (next_w, config)`` and same defaults as
the lesson in :mod:`bnlab.solver.optim`, which is where to learn what each rule computes.
What differs is only how, for speed:

- they work in place: they update ``w`` and the state arrays in ``config`` and return ``w``
  itself as next_w. That keeps the Solver's hot path to at most one temporary array per
  parameter per step (the plain rules build three or four). ``dw`` is never modified. The
  cost: a caller that wants to keep the old ``w`` must copy it first.
- missing state is created once as zeros (not with ``setdefault``, which would allocate a
  zeros array on every step only to throw it away);
- adam folds its bias corrections into scalars.

The Solver uses these for an ``update_rule`` given by name; ``tests/test_fast_optim.py``
checks each against its plain twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from bnlab._validation import check_float_array, check_param_dict, check_same_shape


def _start(w: np.ndarray, dw: np.ndarray, config: dict | None) -> dict:
    """Check the arguments shared by every rule and return the config dict to fill."""
    check_float_array("w", w)
    check_float_array("dw", dw)
    if dw.shape != w.shape:  # the message is built only when needed: this runs every step
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
    if not isinstance(state, np.ndarray) or state.shape != w.shape:
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

    # the one temporary, reused for the step below (out=: an array even for a 0-d w)
    scratch = np.square(dw, out=np.empty_like(dw))
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
    # the one temporary, reused below (out=: an array even for a 0-d w)
    scratch = np.multiply(dw, 1.0 - beta1, out=np.empty_like(dw))
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


UPDATE_RULES: dict[str, Callable[..., tuple[np.ndarray, dict]]] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "rmsprop": rmsprop,
    "adam": adam,
}

# What each rule keeps in its config: arrays shaped like w, updated every step (STATE_KEYS), and
# Python numbers (SCALAR_KEYS, defaults included). bnlab.fast.multi_tensor packs by these.
STATE_KEYS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "rmsprop": ("cache",),
    "adam": ("m", "v"),
}
SCALAR_KEYS: dict[str, tuple[str, ...]] = {
    "sgd": ("learning_rate",),
    "sgd_momentum": ("learning_rate", "momentum"),
    "rmsprop": ("learning_rate", "decay_rate", "epsilon"),
    "adam": ("learning_rate", "beta1", "beta2", "epsilon", "t"),
}
