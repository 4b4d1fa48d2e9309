"""Inverted dropout (Srivastava et al., 2014), and the one place bnlab's dropout conventions live.

In train mode each unit is kept with probability p and scaled by 1/p, so E[out] = x and test
mode is the identity. Everywhere in bnlab the number you pass is the KEEP probability:

- the layer: ``dropout_param['p']`` = keep probability, in (0, 1] (cs231n's convention since
  2018; PyTorch's ``nn.Dropout(p)`` takes the DROP probability, 1 - this).
- ``FullyConnectedNet(dropout_keep_ratio=...)``: the keep probability, 1 (the default) = no
  dropout; it becomes the shared ``dropout_param['p']``.
- ``FullyConnectedNet(dropout=...)``: the legacy 2017 keyword, the DROP probability in [0, 1)
  (0 = no dropout); it means ``dropout_keep_ratio = 1 - dropout``; passing both raises a
  ValueError unless they agree.
- ``bnlab train --keep``: the keep probability, passed on as ``dropout_keep_ratio``
  (1 = no dropout).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bnlab.layers.checks import check_cached_x_backward, check_dropout


class DropoutCache(NamedTuple):
    made_by = "dropout_forward"  # named in the backward's errors

    mode: str  # 'train' or 'test'
    mask: np.ndarray | None  # keep / p: 0 or 1/p per unit, in x's dtype; None when out = x
    x_shape: tuple[int, ...]
    x_dtype: np.dtype


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
        'p': the probability of KEEPING each unit, in (0, 1] (see the module docstring)
        'mode': 'train' or 'test' (required)
        'seed': optional int (same mask every call) or np.random.Generator; or 'rng'
    Returns out (shape and dtype of x) and cache = (mode, mask, x.shape, x.dtype), mask = the
    scaled mask (0 or 1/p per unit), None in test mode or when p = 1.
    """
    p, mode = check_dropout(x, dropout_param)
    if mode == "test" or p == 1:
        return x, DropoutCache(mode, None, x.shape, x.dtype)
    keep = _rng_from(dropout_param).random(x.shape, dtype=x.dtype) < p
    mask = keep * x.dtype.type(1 / p)  # (shape of x), 0 or 1/p
    return x * mask, DropoutCache(mode, mask, x.shape, x.dtype)


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> np.ndarray:
    """dx = dout * mask / p in train mode, dout in test mode (p = keep probability)

    dout: shape of x. Returns dx: shape of x.
    """
    dout = check_cached_x_backward(dout, cache, DropoutCache, "dropout_backward")
    return dout if cache.mask is None else dout * cache.mask
