"""Inverted dropout (Srivastava et al., 2014); as in cs231n, p is the KEEP probability."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab._validation import check_choice, check_dout, check_float_array, check_param_dict

DropoutCache = tuple[str, np.ndarray | None, tuple[int, ...], np.dtype]


def _rng_from(dropout_param: dict) -> np.random.Generator:
    """The mask's random source: dropout_param['rng'] or ['seed'] (an int or a Generator).

    An int seed gives a fresh Generator on every call, so the mask repeats -- what a gradient
    check needs. Numpy's global random state is never touched.
    """
    source: Any = dropout_param.get("rng", dropout_param.get("seed"))
    if isinstance(source, np.random.Generator):
        return source
    if source is None or isinstance(source, int | np.integer):
        return np.random.default_rng(source)
    raise TypeError(
        "dropout_param['seed'] must be an int or a np.random.Generator, "
        f"got {type(source).__name__}"
    )


def dropout_forward(x: np.ndarray, dropout_param: dict) -> tuple[np.ndarray, DropoutCache]:
    """out = x * mask / p in train mode (mask ~ Bernoulli(p)), out = x in test mode

    x: any shape
    dropout_param: dict --
        'p': the probability of KEEPING each unit (cs231n's convention; PyTorch's p is the
             drop probability, 1 - this), in (0, 1]
        'mode': 'train' or 'test'
        'seed': optional int (same mask every call) or np.random.Generator; or 'rng'
    Dividing by p at train time ("inverted" dropout) keeps E[out] = x, so test mode is the identity.
    Returns out (shape and dtype of x) and cache = (mode, scaled mask or None, x.shape, x.dtype).
    """
    check_float_array("x", x)
    check_param_dict("dropout_param", dropout_param)
    if "p" not in dropout_param:
        raise ValueError("dropout_param['p'] (the keep probability, in (0, 1]) is missing")
    p = dropout_param["p"]
    if not (isinstance(p, float | int | np.floating) and 0 < p <= 1):
        raise ValueError(
            f"dropout_param['p'] is the keep probability and must be in (0, 1], got {p!r}"
        )
    if "mode" not in dropout_param:  # a default would silently drop units at test time
        raise ValueError("dropout_param['mode'] is missing: expected 'train' or 'test'")
    mode = dropout_param["mode"]
    check_choice("dropout_param['mode']", mode, ("train", "test"))
    if mode == "test" or p == 1:
        return x, (mode, None, x.shape, x.dtype)
    keep = _rng_from(dropout_param).random(x.shape, dtype=x.dtype) < p
    mask = keep * x.dtype.type(1 / p)  # (shape of x), 0 or 1/p
    return x * mask, (mode, mask, x.shape, x.dtype)


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> np.ndarray:
    """dx = dout * mask / p in train mode, dout in test mode (p = keep probability)

    dout: shape of x. Returns dx: shape of x.
    """
    _, mask, shape, dtype = cache
    dout = check_dout(dout, shape, dtype)
    return dout if mask is None else dout * mask
