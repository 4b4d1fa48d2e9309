"""A net as a chain of forward/backward pairs: written once, reused by every model.

A :class:`Layer` names a forward function, its backward, the keys of ``model.params`` it
takes (in argument order) and, for batchnorm/layernorm/dropout, the mutable settings dict it
receives last (``bn_param`` and friends). :class:`ChainNet` runs the chain forward, applies the
loss, and runs it backward collecting ``grads`` under the same keys as ``params``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab._validation import check_choice, check_float_array
from bnlab.layers import (
    affine_backward,
    affine_forward,
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

LOSSES: dict[str, Callable] = {"softmax": softmax_loss, "svm": svm_loss, "mse": mse_loss}
ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
}
NORMALIZATIONS = (None, "batchnorm", "layernorm")


@dataclass
class Layer:
    """One step of a chain: ``out, cache = forward(x, *params, [state])``."""

    name: str  # e.g. 'affine1', 'batchnorm1', 'relu1'
    forward: Callable
    backward: Callable  # returns dx alone when param_names is empty, else (dx, *dparams)
    param_names: tuple[str, ...] = ()  # keys of model.params, in the forward's argument order
    state: dict[str, Any] | None = None  # bn_param / ln_param / dropout_param, passed last
    skips_dx: bool = (
        False  # backward accepts need_dx=False (affine): the first layer never needs dx
    )


@dataclass
class Chain:
    """Layers applied in order; the backward walks them in reverse."""

    layers: list[Layer] = field(default_factory=list)

    def set_mode(self, mode: str) -> None:
        """'train' or 'test' into every state dict that has a mode (batchnorm, dropout)."""
        for layer in self.layers:
            if layer.state is not None and "mode" in layer.state:
                layer.state["mode"] = mode

    def forward(
        self, x: np.ndarray, params: dict[str, np.ndarray], keep_outputs: bool = False
    ) -> tuple[np.ndarray, list, dict[str, np.ndarray]]:
        """Returns the last output, every layer's cache, and (if asked) every layer's output."""
        caches, outputs = [], {}
        for layer in self.layers:
            args = [params[name] for name in layer.param_names]
            if layer.state is not None:
                args.append(layer.state)
            x, cache = layer.forward(x, *args)
            caches.append(cache)
            if keep_outputs:
                outputs[layer.name] = x
        return x, caches, outputs

    def backward(self, dout: np.ndarray, caches: list) -> dict[str, np.ndarray]:
        """Gradients of every parameter, keyed like ``params``; the input's dx is not computed."""
        grads = {}
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i == 0 and layer.skips_dx:
                result = layer.backward(dout, caches[i], need_dx=False)
            else:
                result = layer.backward(dout, caches[i])
            if not layer.param_names:
                dout = result
                continue
            dout, *dparams = result
            grads.update(zip(layer.param_names, dparams, strict=True))
        return grads


def affine_layer(index: int) -> Layer:
    """affine{index} with params W{index}, b{index}."""
    return Layer(
        f"affine{index}",
        affine_forward,
        affine_backward,
        (f"W{index}", f"b{index}"),
        skips_dx=True,
    )


def norm_layer(kind: str, index: int, state: dict[str, Any], spatial: bool = False) -> Layer:
    """batchnorm{index} / layernorm{index} with params gamma{index}, beta{index}."""
    if kind == "batchnorm" and spatial:
        forward, backward = spatial_batchnorm_forward, spatial_batchnorm_backward
    elif kind == "batchnorm":
        forward, backward = batchnorm_forward, batchnorm_backward_alt
    else:
        forward, backward = layernorm_forward, layernorm_backward
    return Layer(f"{kind}{index}", forward, backward, (f"gamma{index}", f"beta{index}"), state)


def activation_layer(kind: str, index: int) -> Layer:
    """relu{index}, tanh{index}, sigmoid{index} or leaky_relu{index}."""
    check_choice("activation", kind, ACTIVATIONS)
    forward, backward = ACTIVATIONS[kind]
    return Layer(f"{kind}{index}", forward, backward)


def dropout_layer(index: int, dropout_param: dict[str, Any]) -> Layer:
    """dropout{index}, sharing one dropout_param across the net (as cs231n does)."""
    return Layer(f"dropout{index}", dropout_forward, dropout_backward, state=dropout_param)


def init_weight(
    rng: np.random.Generator, fan_in: int, fan_out: int, weight_scale: float | str, dtype
) -> np.ndarray:
    """W ~ N(0, std^2): std = weight_scale, or 'he' sqrt(2/fan_in), or 'xavier' sqrt(2/(fan_in+fan_out))."""
    return init_filter(rng, (fan_in, fan_out), fan_in, fan_out, weight_scale, dtype)


def init_filter(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    weight_scale: float | str,
    dtype,
) -> np.ndarray:
    """A weight array of any shape with the std rule of :func:`init_weight`."""
    if weight_scale == "he":
        std = np.sqrt(2.0 / fan_in)  # keeps ReLU activations' variance (He et al., 2015)
    elif weight_scale == "xavier":
        std = np.sqrt(2.0 / (fan_in + fan_out))  # Glorot & Bengio, 2010
    elif isinstance(weight_scale, int | float) and weight_scale > 0:
        std = float(weight_scale)
    else:
        raise ValueError(
            f"weight_scale must be a positive number, 'he' or 'xavier'; got {weight_scale!r}"
        )
    return (std * rng.standard_normal(shape)).astype(dtype)


class ChainNet:
    """The model API every net follows (what :class:`bnlab.solver.Solver` relies on).

    - ``params``: dict name -> array (W1, b1, gamma1, beta1, ...), all in ``dtype``
    - ``loss(X, y=None)``: scores in test mode when y is None, else ``(loss, grads)`` in train mode
    - ``loss_type``: 'softmax', 'svm' or 'mse'; ``reg``: L2 strength on weights (names starting W)
    - ``bn_params``: the normalisation layers' settings dicts, holding running statistics
    Subclasses build ``self.chain`` and ``self.params``.
    """

    params: dict[str, np.ndarray]
    chain: Chain
    reg: float
    dtype: type
    loss_type: str
    bn_params: list[dict[str, Any]]

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        check_float_array("X", X)
        return X.astype(self.dtype, copy=False)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, num_classes) if y is None; else (loss, grads) with 0.5*reg*sum(W^2) added."""
        X = self._prepare(X)
        self.chain.set_mode("test" if y is None else "train")
        scores, caches, _ = self.chain.forward(X, self.params)
        if y is None:
            return scores
        loss, dscores = LOSSES[self.loss_type](scores, y)
        grads = self.chain.backward(dscores, caches)
        if self.reg:
            for name in self.weight_names():
                w = self.params[name]
                loss += 0.5 * self.reg * float(np.vdot(w, w))
                grads[name] += self.reg * w
        return loss, grads

    def weight_names(self) -> Iterable[str]:
        """The regularised parameters: weights, not biases or gamma/beta."""
        return [name for name in self.params if name.startswith("W")]

    def activations(self, X: np.ndarray, mode: str = "test") -> dict[str, np.ndarray]:
        """Every layer's output for X, keyed by layer name (e.g. 'affine1' = pre-activations).

        mode='train' uses batch statistics and updates the running ones, as training would.
        """
        check_choice("mode", mode, ("train", "test"))
        self.chain.set_mode(mode)
        _, _, outputs = self.chain.forward(self._prepare(X), self.params, keep_outputs=True)
        return outputs
