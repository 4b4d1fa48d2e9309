"""A net as a list of layers with a loss: the model API every bnlab net follows.

A :class:`Layer` names a forward function, its backward, the keys of ``model.params`` it
takes (in argument order), any constant arguments after them (groupnorm's G) and, for
batchnorm/layernorm/groupnorm/dropout/conv/pool, the settings dict it receives last
(``bn_param``, ``conv_param`` and friends). :meth:`ChainNet.loss` runs the
layers forward, applies the loss and runs them backward: the forward and backward loops are
:func:`~bnlab.layers.sandwich.sandwich_forward` and ``sandwich_backward``, the chain the
sandwich layers (affine_bn_relu, ...) use too. The nets build their layers with
:class:`bnlab.nets.builder.NetBuilder`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from bnlab._validation import check_choice, check_float_array
from bnlab.layers.sandwich import sandwich_backward, sandwich_forward
from bnlab.nets.registry import LOSSES

if TYPE_CHECKING:
    from bnlab.nets.builder import NetBuilder


@dataclass
class Layer:
    """One step of a net: ``out, cache = forward(x, *params, *constants, state)``."""

    name: str  # e.g. 'affine1', 'batchnorm1', 'relu1'
    forward: Callable
    backward: Callable  # returns dx alone when param_names is empty, else (dx, *dparams)
    param_names: tuple[str, ...] = ()  # keys of model.params, in the forward's argument order
    state: dict[str, Any] | None = None  # bn_param / dropout_param / conv_param ..., passed last
    # The backward takes need_dx=False (affine, conv): a net's first layer never needs its dx.
    skips_dx: bool = False
    constants: tuple[Any, ...] = ()  # fixed arguments between the params and state (groupnorm's G)

    def arguments(self, params: dict[str, np.ndarray]) -> tuple:
        """What the forward takes after x: this layer's params, its constants, its settings dict."""
        weights = tuple(params[name] for name in self.param_names)
        fixed = (*weights, *self.constants)
        return fixed if self.state is None else (*fixed, self.state)


class ChainNet:
    """The model API every net follows (what :class:`bnlab.solver.Solver` relies on).

    - ``params``: dict name -> array (W1, b1, gamma1, beta1, ...), all in ``dtype``
    - ``loss(X, y=None)``: scores in test mode when y is None, else ``(loss, grads)`` in train mode
    - ``loss_type``: 'softmax', 'svm' or 'mse'; ``reg``: L2 strength on weights (names starting W)
    - ``norm_params``: the normalisation layers' settings dicts (batchnorm's hold the running
      statistics), one per layer in order; ``bn_params`` is cs231n's name for the same list
    - ``dropout_param``: the settings dict every dropout layer shares ({} without dropout)
    - ``layers``: the :class:`Layer` list; ``activations(X, mode)``: every layer's output

    net: the built layers and params (a :class:`~bnlab.nets.builder.NetBuilder`);
    reg: >= 0; loss: a key of LOSSES.
    """

    def __init__(self, net: NetBuilder, reg: float, loss: str = "softmax") -> None:
        if not reg >= 0:  # also refuses NaN
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        check_choice("loss", loss, LOSSES)
        self.params: dict[str, np.ndarray] = net.params
        self.layers: list[Layer] = net.layers
        self.norm_params: list[dict[str, Any]] = net.norm_params
        self.dropout_param: dict[str, Any] = net.dropout_param
        self.reg, self.dtype, self.loss_type = reg, net.dtype, loss

    @property
    def bn_params(self) -> list[dict[str, Any]]:
        """cs231n's name for :attr:`norm_params` (which holds layernorm's dicts too)."""
        return self.norm_params

    @bn_params.setter
    def bn_params(self, value: list[dict[str, Any]]) -> None:
        self.norm_params = value

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, num_classes) if y is None; else (loss, grads) with 0.5*reg*sum(W^2) added."""
        X = self._prepare(X)
        self.set_mode("test" if y is None else "train")
        # forward: every layer's output is the next one's input
        scores, caches = sandwich_forward(X, *self._steps())
        if y is None:
            return scores
        loss, dscores = LOSSES[self.loss_type](scores, y)
        # backward: the layers in reverse, each one's dx the previous one's dout
        backwards = [layer.backward for layer in self.layers]
        if self.layers[0].skips_dx:  # no one needs dX: the first affine/conv layer skips it
            backwards[0] = partial(backwards[0], need_dx=False)
        _, *dparams = sandwich_backward(dscores, caches, *backwards)  # dparams in forward order
        names = [name for layer in self.layers for name in layer.param_names]
        grads = dict(zip(names, dparams, strict=True))
        if self.reg:
            for name in self.weight_names():
                w = self.params[name]
                loss += 0.5 * self.reg * float(np.vdot(w, w))
                grads[name] += self.reg * w
        return loss, grads

    def _steps(self) -> list[tuple]:
        """(forward, *its arguments after x) per layer, as sandwich_forward takes them."""
        return [(layer.forward, *layer.arguments(self.params)) for layer in self.layers]

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        check_float_array("X", X)
        return X.astype(self.dtype, copy=False)

    def set_mode(self, mode: str) -> None:
        """'train' or 'test' into every settings dict that has a mode (batchnorm, dropout)."""
        for layer in self.layers:
            if layer.state is not None and "mode" in layer.state:
                layer.state["mode"] = mode

    def weight_names(self) -> list[str]:
        """The regularised parameters: weights, not biases or gamma/beta."""
        return [name for name in self.params if name.startswith("W")]

    def activations(self, X: np.ndarray, mode: str = "test") -> dict[str, np.ndarray]:
        """Every layer's output for X, keyed by layer name (e.g. 'affine1' = pre-activations).

        mode='train' uses batch statistics and updates the running ones, as training would.
        """
        check_choice("mode", mode, ("train", "test"))
        self.set_mode(mode)
        outputs: list[np.ndarray] = []
        sandwich_forward(self._prepare(X), *self._steps(), outputs=outputs)
        return dict(zip((layer.name for layer in self.layers), outputs, strict=True))
