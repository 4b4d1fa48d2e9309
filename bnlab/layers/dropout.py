"""Inverted dropout (Srivastava et al., 2014), and the one place bnlab's dropout conventions live.

In train mode each unit is kept with probability keep and scaled by 1/keep, so E[out] = x and
test mode is the identity. Which number means what:

- the KEEP probability, in (0, 1], 1 = no dropout: ``dropout_param['keep_prob']`` (bnlab's
  name; the nets pass it), ``FullyConnectedNet(dropout_keep_ratio=)`` (cs231n's since 2020)
  and ``bnlab train --keep``.
- cs231n's ``dropout_param['p']`` and ``FullyConnectedNet(dropout=)`` changed meaning: the
  DROP probability up to 2017 (``p`` in 2016-2017, ``dropout=`` in 2017), the KEEP probability
  from 2018 (``dropout=`` in 2018-2019). PyTorch's ``nn.Dropout(p)`` takes the drop probability.
  Say which course year a notebook follows with one line at its top:
  ``bnlab.set_cs231n_year(2017)``. Without it, 0 and 1 both mean no dropout (each is valid in
  one reading only) and any other value is read as bnlab always did (``p`` as the keep,
  ``dropout=`` as the drop probability) with a ``DropoutConventionWarning`` naming both readings.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bnlab.layers.checks import (
    DropoutConventionWarning,
    check_cached_x_backward,
    check_dropout,
)

__all__ = ["DropoutCache", "DropoutConventionWarning", "dropout_backward", "dropout_forward"]


class DropoutCache(NamedTuple):
    made_by = "dropout_forward"  # named in the backward's errors

    mode: str  # 'train' or 'test'
    mask: np.ndarray | None  # 0 or 1/keep_prob per unit, in x's dtype; None when out = x
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
    """out = x * mask / keep in train mode (mask ~ Bernoulli(keep)), out = x in test mode

    x: any shape
    dropout_param: dict --
        'keep_prob': the probability of KEEPING each unit, in (0, 1]; or cs231n's 'p', read
            by the course year (see the module docstring)
        'mode': 'train' or 'test' (required)
        'seed': optional int (same mask every call) or np.random.Generator; or 'rng'
    Returns out (shape and dtype of x) and cache = (mode, mask, x.shape, x.dtype), mask = the
    scaled mask (0 or 1/keep per unit), None in test mode or when keep = 1.
    """
    keep_prob, mode = check_dropout(x, dropout_param)  # p read by the course year, see above
    if mode == "test" or keep_prob == 1:
        return x, DropoutCache(mode, None, x.shape, x.dtype)
    kept = _rng_from(dropout_param).random(x.shape, dtype=x.dtype) < keep_prob
    mask = kept * x.dtype.type(1 / keep_prob)  # (shape of x), 0 or 1/keep_prob
    return x * mask, DropoutCache(mode, mask, x.shape, x.dtype)


def dropout_backward(dout: np.ndarray, cache: DropoutCache) -> np.ndarray:
    """dx = dout * mask / keep in train mode, dout in test mode (keep = keep probability)

    dout: shape of x. Returns dx: shape of x.
    """
    dout = check_cached_x_backward(dout, cache, DropoutCache, "dropout_backward")
    return dout if cache.mask is None else dout * cache.mask
