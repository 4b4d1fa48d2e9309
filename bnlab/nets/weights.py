"""Initial weights: W ~ N(0, std^2) with a fixed std, He's or Xavier's."""

from __future__ import annotations

import numbers
from types import ModuleType

import numpy as np
import numpy.typing as npt


def init_weight(
    rng: np.random.Generator | ModuleType,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    weight_scale: float | str,
    dtype: npt.DTypeLike,
) -> np.ndarray:
    """W ~ N(0, std^2): std = weight_scale, or 'he' sqrt(2/fan_in), or 'xavier' sqrt(2/(fan_in+fan_out))

    rng: draws the weights (a Generator, or the np.random module: NumPy's global generator);
    shape: (D, M) for an affine layer, (F, C, HH, WW) for a conv;
    fan_in, fan_out: D and M, or C*HH*WW and F*HH*WW for a conv (PyTorch's convention);
    weight_scale: a positive number, 'he' or 'xavier'; dtype: float32 or float64.
    Returns W: ``shape``, in ``dtype``.
    """
    expected = "a positive number, 'he' or 'xavier'"
    if isinstance(weight_scale, bool) or not isinstance(weight_scale, str | numbers.Real):
        raise TypeError(f"weight_scale must be {expected}; got {weight_scale!r}")
    if weight_scale == "he":
        std = np.sqrt(2.0 / fan_in)  # keeps ReLU activations' variance (He et al., 2015)
    elif weight_scale == "xavier":
        std = np.sqrt(2.0 / (fan_in + fan_out))  # Glorot & Bengio, 2010
    elif not isinstance(weight_scale, str) and weight_scale > 0:
        std = weight_scale
    else:
        raise ValueError(f"weight_scale must be {expected}; got {weight_scale!r}")
    # Beyond these the weights are inf or all 0 (float32: above ~3e38, below ~1e-45).
    limits = np.finfo(dtype)
    lowest, highest = float(limits.smallest_subnormal), float(limits.max)
    if not lowest <= std <= highest:  # Python numbers: no overflow, even for 10**400
        raise ValueError(
            f"weight_scale must be between {lowest:.1e} and {highest:.1e} for {limits.dtype} "
            f"weights (beyond, they are all 0 or inf); got {weight_scale!r}"
        )
    return (float(std) * rng.standard_normal(shape)).astype(dtype)
