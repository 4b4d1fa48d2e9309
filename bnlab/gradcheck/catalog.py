"""The built-in layers' gradient checks, behind ``bnlab gradcheck`` and the tests.

Each entry says which layer to check and how to make its inputs; an entry is run with a seed
(inputs and dout are drawn from it) and a tolerance. Adding a layer is one entry in :func:`entries`:

    LayerCheck(
        "layernorm", layernorm_forward, layernorm_backward,
        inputs={"x": normal(N, D, mean=12, std=5), "gamma": normal(D), "beta": normal(D)},
        params={"ln_param": {}},
    ),

``inputs`` are the differentiable arguments, in the forward's order, each a Spec (made from
the seed) or a fixed array; ``params`` the others, where a Spec may also sit inside a dict
(``bn_param``'s running_mean). Inputs are chosen so that a check means something: ReLU inputs
away from the kink at 0, batchnorm x with a mean far from 0 and a std far from 1, gamma random,
max-pooling inputs without two values close enough to swap places under the perturbation.

:func:`entries` builds the list on each call (``CATALOG`` reads it too), so nothing is built at
import: a mutation tester that changes how an entry is made after the module is loaded sees its
change (see docs/mutation-testing.md).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab.fast.normalization import (
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    layernorm_backward_fast,
    layernorm_forward_fast,
    spatial_batchnorm_backward_fast,
    spatial_batchnorm_forward_fast,
    spatial_groupnorm_backward_fast,
    spatial_groupnorm_forward_fast,
)
from bnlab.fast.pooling import avg_pool_backward_fast, avg_pool_forward_fast
from bnlab.gradcheck.check_layer import DEFAULT_TOL, GradCheckReport, check_layer, check_loss
from bnlab.layers import (
    affine_backward,
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_forward,
    affine_ln_relu_backward,
    affine_ln_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    avg_pool_backward,
    avg_pool_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward_fast,
    conv_backward_naive,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_forward_fast,
    conv_forward_naive,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    max_pool_backward_fast,
    max_pool_backward_naive,
    max_pool_forward_fast,
    max_pool_forward_naive,
    mse_loss,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
    svm_loss,
    tanh_backward,
    tanh_forward,
)
from bnlab.layers.sandwich import sandwich_backward, sandwich_forward

# --- how inputs are made ------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A value made from the check's Generator when the check runs."""

    make: Callable[[np.random.Generator], Any]


def normal(*shape: int, mean: float = 0.0, std: float = 1.0) -> Spec:
    """mean + std * standard normal, float64, of the given shape."""
    return Spec(lambda rng: mean + std * rng.standard_normal(shape))


def uniform(*shape: int, low: float, high: float) -> Spec:
    """Uniform on [low, high), float64 (e.g. a positive running_var)."""
    return Spec(lambda rng: rng.uniform(low, high, shape))


def away_from_zero(*shape: int, low: float = 0.5, high: float = 2.0) -> Spec:
    """Random sign times uniform [low, high): no entry near a ReLU's kink at 0.

    At the kink the function has no derivative, and a central difference straddling it
    averages the two slopes: a correct backward would fail.
    """
    return Spec(lambda rng: rng.choice([-1.0, 1.0], shape) * rng.uniform(low, high, shape))


def distinct(*shape: int, gap: float = 0.1) -> Spec:
    """A random permutation of 0, gap, 2*gap, ..., centred on 0: no two entries within gap.

    A max-pooling window then has a single maximum that stays the maximum when the numerical
    gradient moves an entry by h << gap (random normals could be closer than 2h).
    """
    size = int(np.prod(shape))
    return Spec(lambda rng: (rng.permutation(size) - (size - 1) / 2).reshape(shape) * gap)


def labels(N: int, C: int) -> Spec:
    """Integer class labels: (N,) in [0, C)."""
    return Spec(lambda rng: rng.integers(0, C, N))


def _make(value: Any, rng: np.random.Generator) -> Any:
    """value with every Spec in it (also inside nested dicts) replaced by its draw."""
    if isinstance(value, Spec):
        return value.make(rng)
    if isinstance(value, dict):
        return {key: _make(item, rng) for key, item in value.items()}
    return value


def _summary(functions: tuple[Callable, ...], wrt: Iterable[str], note: str) -> str:
    """One line for ``bnlab gradcheck --list``: the functions, the inputs, the note."""
    names = " / ".join(getattr(f, "__name__", repr(f)) for f in functions)
    return f"{names} wrt {', '.join(wrt)}" + (f"; {note}" if note else "")


# --- entries --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerCheck:
    """check_layer(forward, backward, inputs, params) with inputs made from a seed."""

    name: str
    forward: Callable[..., tuple[Any, Any]]
    backward: Callable[[np.ndarray, Any], Any]
    inputs: dict[str, Spec | np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # shown by ``bnlab gradcheck --list``

    def describe(self) -> str:
        return _summary((self.forward, self.backward), self.inputs, self.note)

    def make_arguments(
        self, rng: np.random.Generator, dtype: Any = np.float64
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(inputs, params) drawn from the specs, the float inputs in ``dtype``."""
        inputs = {
            name: value.astype(dtype) if np.issubdtype(value.dtype, np.floating) else value
            for name, value in _make(self.inputs, rng).items()
        }
        return inputs, _make(self.params, rng)

    def run(self, seed: int = 0, tol: float = DEFAULT_TOL) -> GradCheckReport:
        rng = np.random.default_rng(seed)
        inputs, params = self.make_arguments(rng)
        return check_layer(
            self.forward, self.backward, inputs, params, tol=tol, seed=rng, name=self.name
        )


@dataclass(frozen=True)
class LossCheck:
    """check_loss(loss, x, y): the dx a loss returns vs the numerical gradient of the loss."""

    name: str
    loss: Callable[[np.ndarray, Any], tuple[float, np.ndarray]]
    x: Spec | np.ndarray
    y: Spec | np.ndarray
    note: str = ""

    def describe(self) -> str:
        return _summary((self.loss,), ["x (dx returned with the loss)"], self.note)

    def run(self, seed: int = 0, tol: float = DEFAULT_TOL) -> GradCheckReport:
        rng = np.random.default_rng(seed)
        return check_loss(
            self.loss, _make(self.x, rng), _make(self.y, rng), tol=tol, name=self.name
        )


def compose(
    first: tuple[Callable, Callable], second: tuple[Callable, Callable], first_arity: int
) -> tuple[Callable, Callable]:
    """(forward, backward) of second(first(a_1..a_k), b_1..) from two layer pairs, k = first_arity

    The composite's inputs are first's k arguments then second's remaining ones, and its
    backward returns their gradients in that order. It is a two-layer sandwich: the chain is
    :func:`bnlab.layers.sandwich.sandwich_forward` / ``sandwich_backward``, as in the
    sandwich layers and the nets.
    """
    (first_forward, first_backward), (second_forward, second_backward) = first, second

    def forward(*args: Any) -> tuple[Any, tuple]:
        x, first_args, second_args = args[0], args[1:first_arity], args[first_arity:]
        return sandwich_forward(x, (first_forward, *first_args), (second_forward, *second_args))

    def backward(dout: np.ndarray, cache: tuple) -> tuple:
        return sandwich_backward(dout, cache, first_backward, second_backward)

    forward.__name__ = f"{first_forward.__name__}+{second_forward.__name__}"
    backward.__name__ = f"{second_backward.__name__}+{first_backward.__name__}"
    return forward, backward


def with_settings(forward: Callable, *settings: Any) -> Callable:
    """forward with its trailing settings fixed: bound(*inputs) = forward(*inputs, *settings)

    compose() passes the first layer only its inputs, so a convolution goes in as
    ``with_settings(conv_forward_fast, conv_param)``.
    """

    def bound(*inputs: Any) -> tuple[Any, Any]:
        return forward(*inputs, *settings)

    bound.__name__ = forward.__name__
    return bound


# --- the catalog ----------------------------------------------------------------------

N, D, M = 4, 5, 3  # batch, features, outputs: small enough that each check takes milliseconds
C, H, W = 3, 4, 4  # channels, height, width of the spatial inputs
AFFINE = (affine_forward, affine_backward)

# Convolutions and pooling: 2 examples of CC = 2 channels, F = 2 filters of 3 x 3. Each input
# entry costs two forwards (and the naive conv loops over every output value), so keep them few.
CC, F = 2, 2
_STRIDED_CONV = {"stride": 2, "pad": 1}
_SAME_CONV = {"stride": 1, "pad": 1}  # 3 x 3 filters keep H x W = 4 x 4, which pooling halves
# 3 x 3 windows 2 apart overlap, so a maximum shared by two windows gets both gradients
_OVERLAPPING_POOL = {"pool_height": 3, "pool_width": 3, "stride": 2}
_HALVING_POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}
SPATIAL_BN = (spatial_batchnorm_forward, spatial_batchnorm_backward)
SPATIAL_BN_FAST = (spatial_batchnorm_forward_fast, spatial_batchnorm_backward_fast)
LAYERNORM = (layernorm_forward, layernorm_backward)
LAYERNORM_FAST = (layernorm_forward_fast, layernorm_backward_fast)
GROUPNORM = (spatial_groupnorm_forward, spatial_groupnorm_backward)
GROUPNORM_FAST = (spatial_groupnorm_forward_fast, spatial_groupnorm_backward_fast)


# The tables from here to entries() are data: which layer is checked on which example inputs,
# with a note for --list. A mutant that changes a mean, a shape or a note changes an example,
# not the checking, so mutmut leaves them alone; the machinery above is mutated.
# pragma: no mutate start
def _affine_norm_inputs() -> dict[str, Spec]:
    """x, w, b of an affine layer (N, 6) -> (N, D), then gamma, beta of a normalisation."""
    # b's mean 12 gives the normalisation an input far from zero mean, as a net's hidden layer does
    return {"x": normal(N, 6), "w": normal(6, D), "b": normal(D, mean=12, std=5),
            "gamma": normal(D), "beta": normal(D)}  # fmt: skip


def _spatial_inputs() -> dict[str, Spec]:
    """x: (2, C, H, W) far from zero mean and unit variance; gamma, beta: (C,)."""
    return {"x": normal(2, C, H, W, mean=-7, std=3), "gamma": normal(C), "beta": normal(C)}


def _conv_inputs() -> dict[str, Spec]:
    """x: (2, CC, 3, 5), w: (F, CC, 3, 3), b: (F,)."""
    # 3 x 5 is not square, so a swapped H and W shows; stride 2, pad 1 makes a 2 x 3 output
    return {"x": normal(2, CC, 3, 5), "w": normal(F, CC, 3, 3), "b": normal(F)}


def _conv_relu_inputs() -> dict[str, Spec]:
    """x: (2, CC, H, W), w: (F, CC, 3, 3), b: (F,)."""
    return {"x": normal(2, CC, H, W), "w": normal(F, CC, 3, 3), "b": normal(F)}


def _conv_norm_inputs() -> dict[str, Spec]:
    """A convolution's x, w, b (b far from 0, as for batchnorm), then gamma, beta: (F,)."""
    return {"x": normal(2, CC, H, W), "w": normal(F, CC, 3, 3),
            "b": normal(F, mean=12, std=5), "gamma": normal(F), "beta": normal(F)}  # fmt: skip


def _batchnorm_checks(
    backward: Callable, label: str, forward: Callable = batchnorm_forward
) -> list[LayerCheck]:
    """batchnorm with this backward, in train mode, test mode, and after an affine layer."""
    # x far from zero mean and unit variance: a backward that assumes x is already
    # standardised (drops the mean or variance paths) then gets visibly wrong numbers.
    bn_inputs = {"x": normal(N, D, mean=12, std=5), "gamma": normal(D), "beta": normal(D)}
    running = {
        "running_mean": normal(D, mean=12, std=2),
        "running_var": uniform(D, low=10, high=40),
    }
    return [
        LayerCheck(f"{label}_train", forward, backward, inputs=bn_inputs,
                   params={"bn_param": {"mode": "train"}}, note="train mode: batch statistics"),
        LayerCheck(f"{label}_test", forward, backward, inputs=bn_inputs,
                   params={"bn_param": {"mode": "test", **running}},
                   note="test mode: running statistics"),
        LayerCheck(f"affine_{label}", *compose(AFFINE, (forward, backward), 3),
                   inputs=_affine_norm_inputs(), params={"bn_param": {"mode": "train"}},
                   note="train mode; dx reaches x through w, as in a network"),
    ]  # fmt: skip


def _spatial_batchnorm_checks(layer: tuple[Callable, Callable], label: str) -> list[LayerCheck]:
    """spatial batchnorm (forward, backward) in train mode and test mode."""
    spatial_inputs = _spatial_inputs()
    running = {"running_mean": normal(C, mean=-7), "running_var": uniform(C, low=4, high=16)}
    return [
        LayerCheck(f"{label}_train", *layer, inputs=spatial_inputs,
                   params={"bn_param": {"mode": "train"}},
                   note="train mode: statistics over N, H, W"),
        LayerCheck(f"{label}_test", *layer, inputs=spatial_inputs,
                   params={"bn_param": {"mode": "test", **running}},
                   note="test mode: running statistics"),
    ]  # fmt: skip


def _layernorm_and_groupnorm_checks(
    layernorm: tuple[Callable, Callable], groupnorm: tuple[Callable, Callable], suffix: str
) -> list[LayerCheck]:
    """layernorm, and groupnorm with gamma, beta of shape (C,) and of cs231n's (1, C, 1, 1)."""
    group_x = normal(2, 6, 2, 3, mean=5, std=3)  # C = 6 channels: groups of 1, 2, 3 or 6
    return [
        LayerCheck(f"layernorm{suffix}", *layernorm,
                   inputs={"x": normal(N, D, mean=12, std=5), "gamma": normal(D),
                           "beta": normal(D)},
                   params={"ln_param": {}}),
        LayerCheck(f"groupnorm{suffix}", *groupnorm,
                   inputs={"x": group_x, "gamma": normal(6), "beta": normal(6)},
                   params={"G": 2, "gn_param": {}}, note="G = 2 groups of 3 channels"),
        LayerCheck(f"groupnorm{suffix}_cs231n_shape", *groupnorm,
                   inputs={"x": group_x, "gamma": normal(1, 6, 1, 1),
                           "beta": normal(1, 6, 1, 1)},
                   params={"G": 3, "gn_param": {}},
                   note="gamma, beta of cs231n's shape (1, C, 1, 1); G = 3 groups of 2 channels"),
    ]  # fmt: skip


def entries() -> list[LayerCheck | LossCheck]:
    """Every built-in check, built afresh on each call (in ``bnlab gradcheck --list`` order)."""
    return [
        LayerCheck("affine", affine_forward, affine_backward,
                   inputs={"x": normal(N, 2, 3), "w": normal(6, M), "b": normal(M)},
                   note="x (N, 2, 3) flattened to (N, 6)"),
        LayerCheck("relu", relu_forward, relu_backward, inputs={"x": away_from_zero(N, D)}),
        LayerCheck("leaky_relu", leaky_relu_forward, leaky_relu_backward,
                   inputs={"x": away_from_zero(N, D)}, params={"negative_slope": 0.1}),
        LayerCheck("sigmoid", sigmoid_forward, sigmoid_backward, inputs={"x": normal(N, D)}),
        LayerCheck("tanh", tanh_forward, tanh_backward, inputs={"x": normal(N, D)}),
        *_batchnorm_checks(batchnorm_backward, "batchnorm"),
        *_batchnorm_checks(batchnorm_backward_alt, "batchnorm_alt"),
        *_batchnorm_checks(batchnorm_backward_fast, "batchnorm_fast", batchnorm_forward_fast),
        *_spatial_batchnorm_checks(SPATIAL_BN, "spatial_batchnorm"),
        *_spatial_batchnorm_checks(SPATIAL_BN_FAST, "spatial_batchnorm_fast"),
        *_layernorm_and_groupnorm_checks(LAYERNORM, GROUPNORM, ""),
        *_layernorm_and_groupnorm_checks(LAYERNORM_FAST, GROUPNORM_FAST, "_fast"),
        LayerCheck("conv_naive", conv_forward_naive, conv_backward_naive, inputs=_conv_inputs(),
                   params={"conv_param": _STRIDED_CONV}, note="stride 2, pad 1"),
        LayerCheck("conv_fast", conv_forward_fast, conv_backward_fast, inputs=_conv_inputs(),
                   params={"conv_param": _STRIDED_CONV}, note="stride 2, pad 1"),
        LayerCheck("max_pool_naive", max_pool_forward_naive, max_pool_backward_naive,
                   inputs={"x": distinct(2, CC, 5, 5)}, params={"pool_param": _OVERLAPPING_POOL},
                   note="overlapping 3 x 3 windows, stride 2; no ties in x"),
        LayerCheck("max_pool_fast", max_pool_forward_fast, max_pool_backward_fast,
                   inputs={"x": distinct(2, CC, 5, 5)}, params={"pool_param": _OVERLAPPING_POOL},
                   note="overlapping 3 x 3 windows, stride 2; no ties in x"),
        LayerCheck("avg_pool", avg_pool_forward, avg_pool_backward, inputs={"x": normal(2, CC, 5, 5)},
                   params={"pool_param": _OVERLAPPING_POOL}, note="overlapping 3 x 3 windows, stride 2"),
        LayerCheck("avg_pool_fast", avg_pool_forward_fast, avg_pool_backward_fast,
                   inputs={"x": normal(2, CC, 5, 5)}, params={"pool_param": _OVERLAPPING_POOL},
                   note="overlapping 3 x 3 windows, stride 2"),
        LayerCheck("dropout_train", dropout_forward, dropout_backward, inputs={"x": normal(N, D)},
                   params={"dropout_param": {"mode": "train", "keep_prob": 0.7, "seed": 0}},
                   note="keep probability 0.7, a fixed seed so every call draws the same mask"),
        LayerCheck("dropout_test", dropout_forward, dropout_backward, inputs={"x": normal(N, D)},
                   params={"dropout_param": {"mode": "test", "keep_prob": 0.7}}),
        LossCheck("softmax_loss", softmax_loss, x=normal(N, D), y=labels(N, D)),
        LossCheck("svm_loss", svm_loss, x=normal(N, D), y=labels(N, D)),
        LossCheck("mse_loss", mse_loss, x=normal(N, M), y=normal(N, M)),
        LossCheck("mse_loss_column", mse_loss, x=normal(N, 1), y=normal(N),
                  note="x (N, 1), y (N,): the regression case"),
        LayerCheck("affine_relu", affine_relu_forward, affine_relu_backward,
                   inputs={"x": normal(N, 6), "w": normal(6, D), "b": normal(D)}),
        LayerCheck("affine_bn_relu", affine_bn_relu_forward, affine_bn_relu_backward,
                   inputs=_affine_norm_inputs(), params={"bn_param": {"mode": "train"}},
                   note="train mode"),
        LayerCheck("affine_ln_relu", affine_ln_relu_forward, affine_ln_relu_backward,
                   inputs=_affine_norm_inputs(), params={"ln_param": {}}),
        LayerCheck("conv_relu", conv_relu_forward, conv_relu_backward, inputs=_conv_relu_inputs(),
                   params={"conv_param": _SAME_CONV}, note="stride 1, pad 1"),
        LayerCheck("conv_relu_pool", conv_relu_pool_forward, conv_relu_pool_backward,
                   inputs=_conv_relu_inputs(),
                   params={"conv_param": _SAME_CONV, "pool_param": _HALVING_POOL},
                   note="stride 1, pad 1, then 2 x 2 max pooling, stride 2"),
        LayerCheck("conv_spatial_batchnorm",
                   *compose((with_settings(conv_forward_fast, _SAME_CONV), conv_backward_fast),
                            SPATIAL_BN, 3),
                   inputs=_conv_norm_inputs(), params={"bn_param": {"mode": "train"}},
                   note="train mode; b's exact gradient is 0: batchnorm removes any shift"),
        LayerCheck("conv_bn_relu", conv_bn_relu_forward, conv_bn_relu_backward,
                   inputs=_conv_norm_inputs(),
                   params={"conv_param": _SAME_CONV, "bn_param": {"mode": "train"}},
                   note="train mode"),
    ]  # fmt: skip


# pragma: no mutate end
def __getattr__(name: str) -> list[LayerCheck | LossCheck]:
    """``CATALOG``: the list :func:`entries` builds, kept for code that reads the old constant."""
    if name == "CATALOG":
        return entries()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def names() -> list[str]:
    """Every entry's name, in catalog order."""
    return [entry.name for entry in entries()]


def select(patterns: Iterable[str] = ()) -> list[LayerCheck | LossCheck]:
    """The entries matching any of the names or shell patterns ('batchnorm*'); all if none.

    Raises ValueError for a pattern that matches nothing, listing the valid names.
    """
    patterns, checks = list(patterns), entries()
    if not patterns:
        return checks
    valid = [entry.name for entry in checks]
    unknown = [p for p in patterns if not fnmatch.filter(valid, p)]
    if unknown:
        raise ValueError(
            f"no layer check named {', '.join(map(repr, unknown))}; valid names: {', '.join(valid)}"
        )
    return [e for e in checks if any(fnmatch.fnmatchcase(e.name, p) for p in patterns)]
