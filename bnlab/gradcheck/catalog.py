"""The built-in layers' gradient checks, behind ``bnlab gradcheck`` and the tests.

Each entry says which layer to check and how to make its inputs; an entry is run with a seed
(inputs and dout are drawn from it) and a tolerance. Adding a layer is one entry in CATALOG:

    LayerCheck(
        "layernorm", layernorm_forward, layernorm_backward,
        inputs={"x": normal(N, D, mean=12, std=5), "gamma": normal(D), "beta": normal(D)},
        params={"ln_param": {}},
    ),

``inputs`` are the differentiable arguments, in the forward's order, each a Spec (made from
the seed) or a fixed array; ``params`` the others, where a Spec may also sit inside a dict
(``bn_param``'s running_mean). Inputs are chosen so that a check means something: ReLU inputs
away from the kink at 0, batchnorm x with a mean far from 0 and a std far from 1, gamma random.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    mse_loss,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    svm_loss,
    tanh_backward,
    tanh_forward,
)

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

    def run(self, seed: int = 0, tol: float = DEFAULT_TOL) -> GradCheckReport:
        rng = np.random.default_rng(seed)
        inputs, params = _make(self.inputs, rng), _make(self.params, rng)
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
    backward returns their gradients in that order (second's first gradient, the one for
    first's output, is passed on to first's backward instead).
    """
    (first_forward, first_backward), (second_forward, second_backward) = first, second

    def forward(*args: Any) -> tuple[Any, tuple]:
        hidden, first_cache = first_forward(*args[:first_arity])
        out, second_cache = second_forward(hidden, *args[first_arity:])
        return out, (first_cache, second_cache)

    def backward(dout: np.ndarray, cache: tuple) -> tuple:
        first_cache, second_cache = cache
        second_grads = second_backward(dout, second_cache)
        if not isinstance(second_grads, tuple):
            second_grads = (second_grads,)
        first_grads = first_backward(second_grads[0], first_cache)
        if not isinstance(first_grads, tuple):
            first_grads = (first_grads,)
        return (*first_grads, *second_grads[1:])

    forward.__name__ = f"{first_forward.__name__}+{second_forward.__name__}"
    backward.__name__ = f"{second_backward.__name__}+{first_backward.__name__}"
    return forward, backward


# --- the catalog ----------------------------------------------------------------------

N, D, M = 4, 5, 3  # batch, features, outputs: small enough that each check takes milliseconds
C, H, W = 3, 4, 4  # channels, height, width of the spatial inputs
AFFINE = (affine_forward, affine_backward)
# b's mean 12 gives the normalisation an input far from zero mean, as a net's hidden layer does
_affine_norm_inputs = {"x": normal(N, 6), "w": normal(6, D), "b": normal(D, mean=12, std=5),
                       "gamma": normal(D), "beta": normal(D)}  # fmt: skip
_spatial_inputs = {"x": normal(2, C, H, W, mean=-7, std=3), "gamma": normal(C), "beta": normal(C)}


def _batchnorm_checks(backward: Callable, label: str) -> list[LayerCheck]:
    """batchnorm with this backward, in train mode, test mode, and after an affine layer."""
    # x far from zero mean and unit variance: a backward that assumes x is already
    # standardised (drops the mean or variance paths) then gets visibly wrong numbers.
    bn_inputs = {"x": normal(N, D, mean=12, std=5), "gamma": normal(D), "beta": normal(D)}
    running = {
        "running_mean": normal(D, mean=12, std=2),
        "running_var": uniform(D, low=10, high=40),
    }
    return [
        LayerCheck(f"{label}_train", batchnorm_forward, backward, inputs=bn_inputs,
                   params={"bn_param": {"mode": "train"}}, note="train mode: batch statistics"),
        LayerCheck(f"{label}_test", batchnorm_forward, backward, inputs=bn_inputs,
                   params={"bn_param": {"mode": "test", **running}},
                   note="test mode: running statistics"),
        LayerCheck(f"affine_{label}", *compose(AFFINE, (batchnorm_forward, backward), 3),
                   inputs=_affine_norm_inputs, params={"bn_param": {"mode": "train"}},
                   note="train mode; dx reaches x through w, as in a network"),
    ]  # fmt: skip


CATALOG: list[LayerCheck | LossCheck] = [
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
    LayerCheck("spatial_batchnorm_train", spatial_batchnorm_forward, spatial_batchnorm_backward,
               inputs=_spatial_inputs, params={"bn_param": {"mode": "train"}},
               note="train mode: statistics over N, H, W"),
    LayerCheck("spatial_batchnorm_test", spatial_batchnorm_forward, spatial_batchnorm_backward,
               inputs=_spatial_inputs,
               params={"bn_param": {"mode": "test", "running_mean": normal(C, mean=-7),
                                    "running_var": uniform(C, low=4, high=16)}},
               note="test mode: running statistics"),
    LayerCheck("layernorm", layernorm_forward, layernorm_backward,
               inputs={"x": normal(N, D, mean=12, std=5), "gamma": normal(D), "beta": normal(D)},
               params={"ln_param": {}}),
    LayerCheck("dropout_train", dropout_forward, dropout_backward, inputs={"x": normal(N, D)},
               params={"dropout_param": {"mode": "train", "p": 0.7, "seed": 0}},
               note="keep probability 0.7, a fixed seed so every call draws the same mask"),
    LayerCheck("dropout_test", dropout_forward, dropout_backward, inputs={"x": normal(N, D)},
               params={"dropout_param": {"mode": "test", "p": 0.7}}),
    LossCheck("softmax_loss", softmax_loss, x=normal(N, D), y=labels(N, D)),
    LossCheck("svm_loss", svm_loss, x=normal(N, D), y=labels(N, D)),
    LossCheck("mse_loss", mse_loss, x=normal(N, M), y=normal(N, M)),
    LossCheck("mse_loss_column", mse_loss, x=normal(N, 1), y=normal(N),
              note="x (N, 1), y (N,): the regression case"),
    LayerCheck("affine_relu", affine_relu_forward, affine_relu_backward,
               inputs={"x": normal(N, 6), "w": normal(6, D), "b": normal(D)}),
    LayerCheck("affine_bn_relu", affine_bn_relu_forward, affine_bn_relu_backward,
               inputs=_affine_norm_inputs, params={"bn_param": {"mode": "train"}},
               note="train mode"),
    LayerCheck("affine_ln_relu", affine_ln_relu_forward, affine_ln_relu_backward,
               inputs=_affine_norm_inputs, params={"ln_param": {}}),
]  # fmt: skip


def names() -> list[str]:
    """Every entry's name, in catalog order."""
    return [entry.name for entry in CATALOG]


def select(patterns: Iterable[str] = ()) -> list[LayerCheck | LossCheck]:
    """The entries matching any of the names or shell patterns ('batchnorm*'); all if none.

    Raises ValueError for a pattern that matches nothing, listing the valid names.
    """
    patterns = list(patterns)
    if not patterns:
        return list(CATALOG)
    unknown = [p for p in patterns if not fnmatch.filter(names(), p)]
    if unknown:
        raise ValueError(
            f"no layer check named {', '.join(map(repr, unknown))}; valid names: "
            f"{', '.join(names())}"
        )
    return [e for e in CATALOG if any(fnmatch.fnmatchcase(e.name, p) for p in patterns)]
