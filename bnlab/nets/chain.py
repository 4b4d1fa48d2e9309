"""A net as a chain of forward/backward pairs: written once, reused by every model.

A :class:`Layer` names a forward function, its backward, the keys of ``model.params`` it
takes (in argument order) and, for batchnorm/layernorm/dropout/conv/pool, the settings dict it
receives last (``bn_param``, ``conv_param`` and friends). :class:`ChainNet` runs the chain
forward, applies the loss, and runs it backward collecting ``grads`` under the same keys as
``params``. :class:`ChainBuilder` grows a chain block by block, tracking the example's shape,
for nets whose layer sizes follow from the input's (the convolutional ones).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bnlab._validation import check_choice, check_float_array, output_length
from bnlab.fast.conv import conv_backward_fast, conv_forward_fast
from bnlab.fast.pooling import (
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
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
POOLS: dict[str, tuple[Callable, Callable]] = {
    "max": (max_pool_forward_fast, max_pool_backward_fast),
    "avg": (avg_pool_forward_fast, avg_pool_backward_fast),
}


@dataclass
class Layer:
    """One step of a chain: ``out, cache = forward(x, *params, [state])``."""

    name: str  # e.g. 'affine1', 'batchnorm1', 'relu1'
    forward: Callable
    backward: Callable  # returns dx alone when param_names is empty, else (dx, *dparams)
    param_names: tuple[str, ...] = ()  # keys of model.params, in the forward's argument order
    state: dict[str, Any] | None = None  # bn_param / dropout_param / conv_param ..., passed last
    # The backward takes need_dx=False (affine, conv): a net's first layer never needs its dx.
    skips_dx: bool = False


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


def conv_layer(index: int, conv_param: dict[str, int]) -> Layer:
    """conv{index} with params W{index}, b{index}: the fast (im2col) convolution."""
    return Layer(
        f"conv{index}",
        conv_forward_fast,
        conv_backward_fast,
        (f"W{index}", f"b{index}"),
        conv_param,
        skips_dx=True,
    )


def pool_layer(kind: str, index: int, pool_param: dict[str, int]) -> Layer:
    """max_pool{index} or avg_pool{index} (the fast versions); no params."""
    check_choice("pooling", kind, POOLS)
    forward, backward = POOLS[kind]
    return Layer(f"{kind}_pool{index}", forward, backward, state=pool_param)


def init_weight(
    rng: np.random.Generator,
    fan_in: int,
    fan_out: int,
    weight_scale: float | str,
    dtype: npt.DTypeLike,
) -> np.ndarray:
    """W ~ N(0, std^2): std = weight_scale, or 'he' sqrt(2/fan_in), or 'xavier' sqrt(2/(fan_in+fan_out))."""
    return init_filter(rng, (fan_in, fan_out), fan_in, fan_out, weight_scale, dtype)


def init_filter(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    weight_scale: float | str,
    dtype: npt.DTypeLike,
) -> np.ndarray:
    """A weight array of any shape with the std rule of :func:`init_weight`."""
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


class ChainBuilder:
    """Grows a net's params, layers and batchnorm settings block by block, tracking the shape.

    ``shape`` is one example's shape at the current end of the chain: (C, H, W) while the
    layers are convolutional, (D,) after the first affine layer (which flattens its input).
    Every weighted layer takes the next index (conv1, conv2, affine3, ...: params W1, b1, W2,
    ...); the normalisation, activation and pooling layers after it share its index
    (batchnorm1, sigmoid1, avg_pool1), so gamma1, beta1 act on the output of W1, as in cs231n.
    Weights are drawn in order from ``np.random.default_rng(seed)`` with the std rule of
    :func:`init_weight`; a conv filter's fans are C*HH*WW in and F*HH*WW out (PyTorch's).
    """

    def __init__(
        self, input_dim: tuple[int, ...], weight_scale: float | str, dtype, seed: int | None
    ) -> None:
        check_choice("dtype", np.dtype(dtype), (np.dtype(np.float32), np.dtype(np.float64)))
        if not isinstance(input_dim, tuple | list) or not all(
            isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 1
            for d in input_dim
        ):
            raise ValueError(f"input_dim must be a tuple of positive integers, got {input_dim!r}")
        self.input_dim = tuple(int(d) for d in input_dim)
        self.shape = self.input_dim
        self.weight_scale = weight_scale
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        self.layers: list[Layer] = []
        self.bn_params: list[dict[str, Any]] = []
        self.index = 0  # the index of the last weighted layer

    def _add_weights(self, shape: tuple[int, ...], fan_in: int, fan_out: int) -> int:
        """W{i} of ``shape`` and b{i} = 0 (one per output, shape[0] for conv, shape[1] affine)."""
        self.index += 1
        i = self.index
        self.params[f"W{i}"] = init_filter(
            self.rng, shape, fan_in, fan_out, self.weight_scale, self.dtype
        )
        self.params[f"b{i}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1], self.dtype)
        return i

    def _windows_fit(
        self, layer: str, window: int, stride: int, pad: int | None, names: tuple[str, str]
    ) -> tuple[int, int]:
        """(H', W') after a sliding-window layer, or a ValueError naming input_dim and the layer."""
        if len(self.shape) != 3:
            raise ValueError(
                f"{layer} needs images: input_dim must be (C, H, W), got {self.input_dim}"
            )
        window_name, stride_name = names
        try:
            return tuple(
                output_length(axis, size, window, stride, pad, (axis[0].upper(), *names))
                for axis, size in (("height", self.shape[1]), ("width", self.shape[2]))
            )
        except ValueError as error:
            raise ValueError(
                f"input_dim {self.input_dim} does not fit the net: {layer} gets inputs of "
                f"shape {self.shape} ({window_name} = {window}, {stride_name} = {stride}), and "
                f"{error}"
            ) from None

    def conv(self, num_filters: int, filter_size: int, pad: int = 0, stride: int = 1) -> None:
        """conv{i}: num_filters square filters; (C, H, W) -> (num_filters, H', W')."""
        conv_param = {"stride": stride, "pad": pad}
        H_out, W_out = self._windows_fit(
            f"conv{self.index + 1}", filter_size, stride, pad, ("filter_size", "stride")
        )
        C = self.shape[0]
        F, k = num_filters, filter_size
        i = self._add_weights((F, C, k, k), C * k * k, F * k * k)
        self.layers.append(conv_layer(i, conv_param))
        self.shape = (F, H_out, W_out)

    def affine(self, num_outputs: int) -> None:
        """affine{i}: (C, H, W) is flattened to C*H*W inputs; -> (num_outputs,)."""
        D = int(np.prod(self.shape))
        i = self._add_weights((D, num_outputs), D, num_outputs)
        self.layers.append(affine_layer(i))
        self.shape = (num_outputs,)

    def norm(self, kind: str | None) -> None:
        """batchnorm{i} on the last weighted layer's output, spatial for images; None: no layer."""
        if kind is None:
            return
        num_features = self.shape[0]  # C for (C, H, W), D for (D,)
        self.params[f"gamma{self.index}"] = np.ones(num_features, dtype=self.dtype)
        self.params[f"beta{self.index}"] = np.zeros(num_features, dtype=self.dtype)
        state = {"mode": "train"} if kind == "batchnorm" else {}
        self.bn_params.append(state)
        self.layers.append(norm_layer(kind, self.index, state, spatial=len(self.shape) == 3))

    def activation(self, kind: str) -> None:
        """{kind}{i}: relu, tanh, sigmoid or leaky_relu; the shape is unchanged."""
        self.layers.append(activation_layer(kind, self.index))

    def pool(self, kind: str, size: int) -> None:
        """{kind}_pool{i}: size x size windows, stride size; (C, H, W) -> (C, H/size, W/size)."""
        check_choice("pooling", kind, POOLS)
        pool_param = {"pool_height": size, "pool_width": size, "stride": size}
        H_out, W_out = self._windows_fit(
            f"{kind}_pool{self.index}", size, size, None, ("window", "stride")
        )
        self.layers.append(pool_layer(kind, self.index, pool_param))
        self.shape = (self.shape[0], H_out, W_out)

    def finish(self, model: ChainNet, reg: float, loss: str = "softmax") -> None:
        """Hand the built chain to ``model`` with the settings the :class:`ChainNet` API names."""
        if not reg >= 0:
            raise ValueError(f"reg must be >= 0, got {reg!r}")
        check_choice("loss", loss, LOSSES)
        model.params, model.chain, model.bn_params = self.params, Chain(self.layers), self.bn_params
        model.reg, model.dtype, model.loss_type = reg, self.dtype, loss


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
