"""Argument checks for the layers: one call at the top of each public layer function.

Each ``check_*`` raises ``TypeError`` or ``ValueError`` naming the argument, the expected and
the actual value (built on the shared primitives in :mod:`bnlab._validation`), so the layer's
maths below the call reads alone.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from bnlab._validation import (
    check_choice,
    check_dout,
    check_float_array,
    check_param_dict,
    check_shape,
)

# --- normalisation layers: batchnorm, spatial batchnorm, layernorm, groupnorm --------------

BN_MODES = ("train", "test")


def _check_per_channel(
    name: str, value: Any, expected: tuple[int, ...], dtype: np.dtype, meaning: str
) -> np.ndarray:
    """gamma or beta: an ndarray of shape ``expected``, returned in the layer's dtype."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    check_shape(name, value, expected, meaning)
    return value.astype(dtype, copy=False)


def _check_eps(name: str, eps: Any) -> float:
    if not eps > 0:
        raise ValueError(f"{name}['eps'] must be > 0, got {eps!r}")
    return eps


def check_batchnorm_forward(
    x: Any, gamma: Any, beta: Any, bn_param: Any, ndim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Check batchnorm's (or, with ndim=4, spatial batchnorm's) arguments; fill bn_param in.

    x: (N, D) for ndim=2, (N, C, H, W) for ndim=4, float32 or float64; gamma, beta: (D,) or
    (C,). bn_param needs 'mode'; 'eps' (1e-5), 'momentum' (0.9), 'unbiased' (False),
    'running_mean' (zeros) and 'running_var' (ones, both (D,) in x's dtype) are set in place
    when missing. Returns gamma and beta in x's dtype.
    """
    check_float_array("x", x, ndim=ndim)
    check_param_dict("bn_param", bn_param)
    if "mode" not in bn_param:
        raise ValueError("bn_param['mode'] is missing: expected 'train' or 'test'")
    check_choice("bn_param['mode']", bn_param["mode"], BN_MODES)
    _check_eps("bn_param", bn_param.setdefault("eps", 1e-5))
    momentum = bn_param.setdefault("momentum", 0.9)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"bn_param['momentum'] must be in [0, 1] (the weight of the old running value), "
            f"got {momentum!r}"
        )
    D = x.shape[1]
    bn_param.setdefault("unbiased", False)
    bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    bn_param.setdefault("running_var", np.ones(D, dtype=x.dtype))
    check_shape("bn_param['running_mean']", bn_param["running_mean"], (D,))
    check_shape("bn_param['running_var']", bn_param["running_var"], (D,))
    meaning = f"one per {'channel' if ndim == 4 else 'feature'} of x, shape {x.shape}"
    gamma = _check_per_channel("gamma", gamma, (D,), x.dtype, meaning)
    beta = _check_per_channel("beta", beta, (D,), x.dtype, meaning)
    m = x.size // D  # the values behind each statistic: N, or N*H*W
    if bn_param["mode"] == "train" and m < 2:
        raise ValueError(
            f"batchnorm in train mode needs more than one value per feature to compute a "
            f"variance, but x of shape {x.shape} gives {m} (use bn_param['mode'] = 'test' "
            f"for a single example)"
        )
    return gamma, beta


def check_layernorm_forward(
    x: Any, gamma: Any, beta: Any, ln_param: Any
) -> tuple[np.ndarray, np.ndarray, float]:
    """Check layernorm's arguments: x (N, D) float, gamma and beta (D,), ln_param a dict.

    Returns gamma and beta in x's dtype, and eps (ln_param's, 1e-5 if absent).
    """
    check_float_array("x", x, ndim=2)
    check_param_dict("ln_param", ln_param)
    eps = _check_eps("ln_param", ln_param.get("eps", 1e-5))
    D = x.shape[1]
    meaning = f"one per feature of x, shape {x.shape}"
    gamma = _check_per_channel("gamma", gamma, (D,), x.dtype, meaning)
    beta = _check_per_channel("beta", beta, (D,), x.dtype, meaning)
    return gamma, beta, eps


def check_groupnorm_forward(
    x: Any, gamma: Any, beta: Any, G: Any, gn_param: Any
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Check groupnorm's arguments: x (N, C, H, W) float, G an int dividing C, gamma and beta
    (C,) or cs231n's (1, C, 1, 1), gn_param a dict.

    Returns gamma and beta in x's dtype (in the shape given), G as an int, and eps
    (gn_param's, 1e-5 if absent).
    """
    check_float_array("x", x, ndim=4)
    C = x.shape[1]
    if isinstance(G, bool) or not isinstance(G, Integral):
        raise TypeError(f"G, the number of groups, must be an integer, got {type(G).__name__}")
    if G < 1 or C % G:
        raise ValueError(
            f"G, the number of groups, must divide C = {C}, the channels of x of shape "
            f"{x.shape}; got G = {G}"
        )
    check_param_dict("gn_param", gn_param)
    eps = _check_eps("gn_param", gn_param.get("eps", 1e-5))
    # cs231n's notebook passes (1, C, 1, 1); everything else in bnlab (and PyTorch) uses (C,).
    meaning = f"one per channel of x, shape {x.shape}; (1, {C}, 1, 1) is accepted too"
    checked = []
    for name, value in (("gamma", gamma), ("beta", beta)):
        expected = (1, C, 1, 1) if np.shape(value) == (1, C, 1, 1) else (C,)
        checked.append(_check_per_channel(name, value, expected, x.dtype, meaning))
    return checked[0], checked[1], int(G), eps


def check_norm_backward(
    dout: Any, cache: Any, cache_type: type, backward: str, like: str = "x_hat"
) -> np.ndarray:
    """A normalisation backward's arguments: ``cache`` from the right forward, ``dout`` shaped
    like the forward's output (the cache's ``like`` field). Returns dout in the forward's dtype.

    The plain and the fast version of a layer keep different caches: one passed to the other's
    backward is refused here, naming both forwards, not deep inside the maths.
    """
    if not isinstance(cache, cache_type):
        made_by = getattr(type(cache), "made_by", None)
        got = f"a {type(cache).__name__}" + (f" from {made_by}" if made_by else "")
        raise TypeError(
            f"{backward} needs the cache from {cache_type.made_by} (a {cache_type.__name__}), "
            f"got {got}: the plain and fast versions keep different caches"
        )
    reference = getattr(cache, like)
    return check_dout(dout, reference.shape, reference.dtype)


# (end of the normalisation section)


# --- the other layers: affine, activations, dropout, losses, conv, pooling ----------------


# (end of the other layers' section)
