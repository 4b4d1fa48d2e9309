"""Argument checks for the layers: one call at the top of each public layer function.

Each ``check_*`` raises ``TypeError`` or ``ValueError`` naming the argument, the expected and
the actual value (built on the shared primitives in :mod:`bnlab._validation`), so the layer's
maths below the call reads alone.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from bnlab._validation import (
    check_choice,
    check_dout,
    check_float_array,
    check_labels,
    check_param,
    check_param_dict,
    check_shape,
    output_length,
)

# --- normalisation layers: batchnorm, spatial batchnorm, layernorm, groupnorm --------------

BN_MODES = ("train", "test")


def _check_per_channel(
    name: str, value: Any, expected: tuple[int, ...], dtype: np.dtype, meaning: Callable[[], str]
) -> np.ndarray:
    """gamma or beta: an ndarray of shape ``expected``, returned in the layer's dtype.

    meaning() says what the shape is, for the message (built only when it is needed: these
    checks run on every call of the nets' layers).
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    if value.shape != expected:
        check_shape(name, value, expected, meaning())
    return value.astype(dtype, copy=False)


def _check_number(name: str, value: Any, wanted: str) -> None:
    """A real number: a Python or NumPy float or int, or a 0-d numeric array (not a bool,
    a string or None)."""
    if type(value) is float or type(value) is int:  # the usual case, without an ABC check
        return
    if isinstance(value, bool) or not (
        isinstance(value, Real)
        or (isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")
    ):
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__} {value!r}")


def _check_eps(name: str, eps: Any) -> float:
    _check_number(f"{name}['eps']", eps, "a number > 0")
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
    if bn_param["mode"] not in BN_MODES:
        check_choice("bn_param['mode']", bn_param["mode"], BN_MODES)
    _check_eps("bn_param", bn_param.setdefault("eps", 1e-5))
    momentum = bn_param.setdefault("momentum", 0.9)
    _check_number("bn_param['momentum']", momentum, "a number in [0, 1]")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"bn_param['momentum'] must be in [0, 1] (the weight of the old running value), "
            f"got {momentum!r}"
        )
    D = x.shape[1]
    bn_param.setdefault("unbiased", False)
    if "running_mean" not in bn_param:  # not setdefault: it would build the zeros every call
        bn_param["running_mean"] = np.zeros(D, dtype=x.dtype)
    if "running_var" not in bn_param:
        bn_param["running_var"] = np.ones(D, dtype=x.dtype)
    for key in ("running_mean", "running_var"):
        # an ndarray: the update computes momentum * running, which a list would not survive
        running = bn_param[key]
        if not isinstance(running, np.ndarray):
            raise TypeError(
                f"bn_param[{key!r}] must be a numpy ndarray of shape ({D},), "
                f"got {type(running).__name__}"
            )
        if running.shape != (D,):
            check_shape(f"bn_param[{key!r}]", running, (D,))

    def meaning() -> str:
        return f"one per {'channel' if ndim == 4 else 'feature'} of x, shape {x.shape}"

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

    def meaning() -> str:
        return f"one per feature of x, shape {x.shape}"

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

    def meaning() -> str:
        return f"one per channel of x, shape {x.shape}; (1, {C}, 1, 1) is accepted too"

    checked = []
    for name, value in (("gamma", gamma), ("beta", beta)):
        expected = (1, C, 1, 1) if np.shape(value) == (1, C, 1, 1) else (C,)
        checked.append(_check_per_channel(name, value, expected, x.dtype, meaning))
    return checked[0], checked[1], int(G), eps


class OverflowInNormalization(ValueError):
    """A normalisation layer's mean or variance overflowed although its input x is finite.

    Raised by :func:`check_finite_statistics`. During training it means the activations
    exploded (a learning rate too large, say): the :class:`~bnlab.solver.Solver` reports it as
    a divergence, like a NaN or infinite loss. A ValueError, as it was before it had a name.
    ``summary`` is the finding without the advice to the caller of a single layer.
    """

    def __init__(self, summary: str, advice: str = "") -> None:
        super().__init__(f"{summary}: {advice}" if advice else summary)
        self.summary = summary


def check_finite_statistics(
    var: np.ndarray, x: np.ndarray, layer: str, unit: str, kept_axes: tuple[int, ...]
) -> None:
    """Refuse a mean or variance that overflowed although x is finite (checked after the fact).

    var: the variance per ``unit`` ("feature", "channel", "example", "(example, group)"), in a
    shape whose ``kept_axes`` index the units. In float32, |x - mu| above about 1.8e19
    squares to inf (1.3e154 in float64); inv_std would then be 0 and the output silently
    beta. A NaN or inf already in x is let through: it is not the layer's doing, and the
    Solver reports a non-finite loss as divergence. Raises :class:`OverflowInNormalization`.
    Costs one reduction over var when all is well.
    """
    if np.isfinite(var).all() or not np.isfinite(x).all():
        return
    position = np.argwhere(~np.isfinite(var))[0]
    index = tuple(int(position[axis]) for axis in kept_axes)
    where = index[0] if len(index) == 1 else index
    limit = float(np.sqrt(np.finfo(x.dtype).max))
    raise OverflowInNormalization(
        f"{layer}: the mean or variance of {unit} {where} overflows {x.dtype} although x is "
        f"finite (x's largest magnitude is {float(np.abs(x).max()):.3g}; squares above "
        f"{limit:.3g} overflow)",
        "scale x down or compute in float64",
    )


def check_cache(cache: Any, cache_type: type, backward: str) -> None:
    """``cache`` must be what the forward behind ``backward`` returns: a ``cache_type``.

    cache_type: a cache NamedTuple naming its forward in ``made_by``. A None, a hand-made
    tuple or another layer's cache (the plain and fast versions of a layer keep different
    ones) is refused here, naming the backward and the forward it needs, not deep inside the
    maths.
    """
    if isinstance(cache, cache_type):
        return
    made_by = getattr(type(cache), "made_by", None)
    if made_by:
        got = f"a {type(cache).__name__} from {made_by}"
    elif isinstance(cache, tuple):
        got = f"a {type(cache).__name__} of {len(cache)} values"
    else:
        got = "None" if cache is None else f"a {type(cache).__name__}"
    hint = " (the plain and fast versions of a layer keep different caches)" if made_by else ""
    raise TypeError(
        f"{backward} needs the cache from {cache_type.made_by} (a {cache_type.__name__}), "
        f"got {got}: pass the cache that forward returned{hint}"
    )


def check_norm_backward(
    dout: Any, cache: Any, cache_type: type, backward: str, like: str = "x_hat"
) -> np.ndarray:
    """A normalisation backward's arguments: ``cache`` from the right forward, ``dout`` shaped
    like the forward's output (the cache's ``like`` field). Returns dout in the forward's dtype.

    The plain and the fast version of a layer keep different caches: one passed to the other's
    backward is refused (see check_cache).
    """
    check_cache(cache, cache_type, backward)
    reference = getattr(cache, like)
    return check_dout(dout, reference.shape, reference.dtype)


# (end of the normalisation section)


# --- the other layers: affine, activations, dropout, losses, conv, pooling ----------------


def check_affine(x: Any, w: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, d_1, ..., d_k) float, w: (D, M) float with D = d_1 * ... * d_k, b: (M,).

    Returns w and b in x's dtype (no copy when they already are).
    """
    check_float_array("x", x)
    if x.ndim < 1:
        raise ValueError(f"x must have a batch dimension, got a scalar of shape {x.shape}")
    D = math.prod(x.shape[1:])  # a Python int: np.prod would cost microseconds every call
    check_float_array("w", w, ndim=2)
    if w.shape[0] != D:
        raise ValueError(
            f"w must have shape (D, M) with D = {D} (the product of x's shape {x.shape[1:]} "
            f"after the batch axis), got w of shape {w.shape}"
        )
    b = check_param("b", b, (w.shape[1],), x.dtype)
    return w.astype(x.dtype, copy=False), b


def check_leaky_relu(x: Any, negative_slope: Any) -> None:
    """x: a float array; negative_slope: a finite number."""
    check_float_array("x", x)
    _check_number("negative_slope", negative_slope, "a finite number")
    if not np.isfinite(negative_slope):
        raise ValueError(f"negative_slope must be a finite number, got {negative_slope!r}")


LAST_DROP_YEAR = 2017  # cs231n's dropout argument: the DROP probability to 2017, KEEP from 2018


class DropoutConventionWarning(UserWarning):
    """A cs231n dropout argument whose meaning depends on the course year, and no year set."""


def keep_probability(name: str, value: Any, unset_reading: str | None, stacklevel: int) -> float:
    """The keep probability meant by cs231n's year-dependent dropout argument ``name = value``.

    The year set with ``bnlab.set_cs231n_year`` decides (up to 2017: drop probability, in
    [0, 1); from 2018: keep probability, in (0, 1]). Without a year, 0 and 1 both mean no
    dropout (each has only one valid reading), 0.5 keeps half either way, and another is read as
    ``unset_reading`` ('keep' or 'drop') with a :class:`DropoutConventionWarning`; pass
    ``unset_reading=None`` to skip that warning where the value does not matter (test mode).
    stacklevel: the warning's, counted from this function (so it names the user's line).
    """
    from bnlab import cs231n_year  # the package's setting; imported here, as bnlab imports us

    ranges = "the DROP probability in [0, 1) up to 2017, the KEEP probability in (0, 1] from 2018"
    if isinstance(value, bool) or not isinstance(value, float | int | np.floating | np.integer):
        raise TypeError(f"{name} must be a number ({ranges}), got {value!r}")
    year = cs231n_year()
    if year is None:
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1] ({ranges}), got {value!r}")
        if value in (0, 1):
            return 1
        reading = unset_reading
        if reading is not None and value != 0.5:  # 0.5 keeps half in every year
            warnings.warn(
                f"{name} = {value!r} is ambiguous: cs231n read it as the DROP probability up to "
                f"2017 (keep {1 - value:g}) and as the KEEP probability from 2018 (keep "
                f"{value:g}); bnlab reads it as the {reading.upper()} probability. Say which "
                "course year the notebook follows, once at its top: bnlab.set_cs231n_year(2017) "
                "or bnlab.set_cs231n_year(2019) (see bnlab.layers.dropout)",
                DropoutConventionWarning,
                stacklevel=stacklevel,
            )
    else:
        reading = "drop" if year <= LAST_DROP_YEAR else "keep"
        low, high = (value >= 0, value < 1) if reading == "drop" else (value > 0, value <= 1)
        if not (low and high):
            expected = "[0, 1)" if reading == "drop" else "(0, 1]"
            raise ValueError(
                f"{name} must be in {expected}: with bnlab.set_cs231n_year({year}) it is the "
                f"{reading.upper()} probability; got {value!r}"
            )
    return 1 - value if reading == "drop" else value


def check_dropout(x: Any, dropout_param: Any) -> tuple[float, str]:
    """x: a float array; dropout_param: a dict with 'mode' and 'p' or 'keep_prob'. Returns keep, mode.

    'keep_prob' is the keep probability, in (0, 1]; 'p' is cs231n's, read by the course year
    (:func:`keep_probability`). The mode has no default: defaulting to 'train' would silently
    drop units at test time.
    """
    check_float_array("x", x)
    check_param_dict("dropout_param", dropout_param)
    if "mode" not in dropout_param:
        raise ValueError("dropout_param['mode'] is missing: expected 'train' or 'test'")
    mode = dropout_param["mode"]
    check_choice("dropout_param['mode']", mode, ("train", "test"))
    if "keep_prob" in dropout_param:
        if "p" in dropout_param:
            raise ValueError("dropout_param holds both 'p' and 'keep_prob': pass only one")
        keep = dropout_param["keep_prob"]
        if isinstance(keep, bool) or not (
            isinstance(keep, float | int | np.floating | np.integer) and 0 < keep <= 1
        ):
            raise ValueError(
                f"dropout_param['keep_prob'] is the keep probability and must be in (0, 1], "
                f"got {keep!r}"
            )
        return keep, mode
    if "p" not in dropout_param:
        raise ValueError(
            "dropout_param['p'] is missing (or pass 'keep_prob', the keep probability in (0, 1])"
        )
    # The mask depends on p only in train mode: only there is an ambiguous p worth a warning.
    unset_reading = "keep" if mode == "train" else None
    keep = keep_probability("dropout_param['p']", dropout_param["p"], unset_reading, stacklevel=4)
    return keep, mode


def _check_scores(x: Any) -> tuple[int, int]:
    """(N, C) of the scores x: (N, C), refused when there is nothing to average the loss over."""
    check_float_array("x", x, ndim=2)
    if x.shape[0] == 0:
        raise ValueError(
            f"x is an empty batch, shape {x.shape}: the loss is a mean over the batch and "
            "needs at least one example"
        )
    if x.shape[1] == 0:
        raise ValueError(f"x has no columns (no classes or outputs), shape {x.shape}")
    return x.shape


def check_class_scores(x: Any, y: Any) -> tuple[int, int]:
    """x: (N, C) float scores, y: (N,) integer labels in [0, C). Returns N, C."""
    N, C = _check_scores(x)
    check_labels("y", y, N, C)
    return N, C


def check_targets(x: Any, y: Any) -> np.ndarray:
    """x: (N, D) float predictions; y: (N, D) numeric targets, or (N,) when D = 1.

    Returns y as (N, D) in x's dtype.
    """
    _check_scores(x)
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"y must be a numeric numpy ndarray of targets, got {type(y).__name__}")
    if y.shape == (x.shape[0],) and x.shape[1] == 1:
        y = y[:, None]  # (N,) -> (N, 1)
    if y.shape != x.shape:
        raise ValueError(
            f"y must have the shape of x, {x.shape} (or ({x.shape[0]},) when x has one column), "
            f"got {y.shape}"
        )
    return y.astype(x.dtype, copy=False)


def _int_setting(
    dict_name: str, params: dict, key: str, *, default: int | None = None, minimum: int = 1
) -> int:
    """``params[key]`` as an int >= ``minimum``; ``default`` if absent (None: the key is required)."""
    name = f"{dict_name}[{key!r}]"
    if key not in params:
        if default is None:
            raise ValueError(f"{dict_name} must contain {key!r}, got keys {sorted(params)}")
        return default
    value: Any = params[key]
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {wanted}, got {value}")
    return int(value)


def check_conv(
    x: Any, w: Any, b: Any, conv_param: Any
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """x: (N, C, H, W) float, w: (F, C, HH, WW) float, b: (F,), conv_param: {stride, pad}.

    The windows must tile the padded input exactly (see ``bnlab._validation.output_length``).
    Returns w and b in x's dtype, and conv_param with its defaults filled in:
    {"stride": stride (default 1), "pad": pad (default 0)}, a new dict.
    """
    check_float_array("x", x, ndim=4)
    check_float_array("w", w, ndim=4)
    _, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(
            f"w must have shape (F, C, HH, WW) with C = {C}, the channels of x of shape "
            f"{x.shape}; got w of shape {w.shape} (C = {C_w})"
        )
    b = check_param("b", b, (F,), x.dtype)
    check_param_dict("conv_param", conv_param)
    stride = _int_setting("conv_param", conv_param, "stride", default=1)
    pad = _int_setting("conv_param", conv_param, "pad", default=0, minimum=0)
    output_length("height", H, HH, stride, pad, ("H", "HH", "conv_param['stride']"))
    output_length("width", W, WW, stride, pad, ("W", "WW", "conv_param['stride']"))
    return w.astype(x.dtype, copy=False), b, {"stride": stride, "pad": pad}


def check_conv_dout(dout: Any, cache: Any, cache_type: type, backward: str) -> np.ndarray:
    """dout: (N, F, H', W') float, for a ``cache_type`` cache from the forward of ``backward``.

    cache: (x, w, b, conv_param[, ...]), conv_param as check_conv returns it.
    Returns dout in x's dtype.
    """
    check_cache(cache, cache_type, backward)
    x, w, conv_param = cache.x, cache.w, cache.conv_param
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    out_shape = (N, F, 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride)
    return check_dout(dout, out_shape, x.dtype)


POOL_KEYS = ("pool_height", "pool_width", "stride")


def check_pool(x: Any, pool_param: Any) -> tuple[int, int, int]:
    """x: (N, C, H, W) float; pool_param: {pool_height, pool_width, stride}, no defaults.

    The windows must tile x exactly (see ``bnlab._validation.output_length``).
    Returns pool_height, pool_width, stride.
    """
    check_float_array("x", x, ndim=4)
    check_param_dict("pool_param", pool_param)
    ph, pw, stride = (_int_setting("pool_param", pool_param, key) for key in POOL_KEYS)
    names = [f"pool_param[{key!r}]" for key in POOL_KEYS]
    output_length("height", x.shape[2], ph, stride, None, ("H", names[0], names[2]))
    output_length("width", x.shape[3], pw, stride, None, ("W", names[1], names[2]))
    return ph, pw, stride


def check_pool_dout(dout: Any, cache: Any, cache_type: type, backward: str) -> np.ndarray:
    """dout: (N, C, H', W') float, for a ``cache_type`` cache from the forward of ``backward``.

    cache: (x, pool_param[, ...]). Returns dout in x's dtype.
    """
    check_cache(cache, cache_type, backward)
    x, pool_param = cache.x, cache.pool_param
    ph, pw, stride = (pool_param[key] for key in POOL_KEYS)
    N, C, H, W = x.shape
    out_shape = (N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride)
    return check_dout(dout, out_shape, x.dtype)


def check_affine_backward(dout: Any, cache: Any, cache_type: type) -> np.ndarray:
    """dout: (N, M) float, for cache = (x, w, b) from affine_forward. Returns dout in x's dtype."""
    check_cache(cache, cache_type, "affine_backward")
    return check_dout(dout, (cache.x.shape[0], cache.w.shape[1]), cache.x.dtype)


def check_elementwise_backward(dout: Any, cache: Any, backward: str, forward: str) -> np.ndarray:
    """dout shaped like ``cache``, the float ndarray ``forward`` returns as its cache (x or out).

    For relu, sigmoid and tanh, whose cache is that one array. Returns dout in its dtype.
    """
    if not isinstance(cache, np.ndarray) or cache.dtype not in (np.float32, np.float64):
        made_by = getattr(type(cache), "made_by", None)
        got = "None" if cache is None else f"a {type(cache).__name__}"
        got += f" from {made_by}" if made_by else ""
        raise TypeError(
            f"{backward} needs the cache from {forward} (the float ndarray it returns), "
            f"got {got}: pass the cache that forward returned"
        )
    return check_dout(dout, cache.shape, cache.dtype)


def check_cached_x_backward(dout: Any, cache: Any, cache_type: type, backward: str) -> np.ndarray:
    """dout shaped like the forward's input, from a ``cache_type`` cache with fields
    ``x_shape`` and ``x_dtype`` (dropout) or ``x`` (leaky relu). Returns dout in x's dtype."""
    check_cache(cache, cache_type, backward)
    if hasattr(cache, "x_shape"):
        return check_dout(dout, cache.x_shape, cache.x_dtype)
    return check_dout(dout, cache.x.shape, cache.x.dtype)


# (end of the other layers' section)
