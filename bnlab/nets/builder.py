"""NetBuilder: how every bnlab net makes its params and layers, block by block."""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab._validation import check_choice, check_count
from bnlab.nets.model import Layer
from bnlab.nets.registry import (
    ACTIVATIONS,
    AFFINE,
    CONV,
    DROPOUT,
    FLAT_NORMALIZATION,
    NORMALIZATIONS,
    POOLS,
    SPATIAL_NORMALIZATIONS,
    output_length,
)
from bnlab.nets.weights import init_weight

# norm_placement= setting: where a hidden layer's normalisation goes relative to its activation
NORM_PLACEMENTS = ("before", "after")


class NetBuilder:
    """Grows a net's params and layers block by block, tracking one example's shape.

    ``shape`` is one example's shape at the current end of the net: (C, H, W) while the
    layers are convolutional, (D,) after the first affine layer (which flattens its input).
    Every weighted layer takes the next index (conv1, conv2, affine3, ...: params W1, b1, W2,
    ...); the normalisation, activation, dropout and pooling layers after it share its index
    (batchnorm1, sigmoid1, avg_pool1), so gamma1, beta1 act on the output of W1, as in cs231n.
    Weights are drawn in order, with the std rule of :func:`~bnlab.nets.weights.init_weight`,
    from ``np.random.default_rng(seed)``, or without a seed from NumPy's global generator as
    cs231n draws them (``std * np.random.randn(*shape)``), so ``np.random.seed`` reproduces a
    cs231n notebook's weights. A net hands the builder to
    :class:`~bnlab.nets.model.ChainNet`'s constructor, which takes its ``params``, ``layers``,
    ``norm_params``, ``dropout_param`` and ``dtype``.

    input_dim: one example's shape, (D,) or (C, H, W); weight_scale: a std, 'he' or
    'xavier'; dtype: np.float32 or np.float64; seed: the weights (and dropout's fixed mask).
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
        self.seed = seed
        # np.random (the module) draws from NumPy's global generator, as cs231n's nets do
        self.rng = np.random if seed is None else np.random.default_rng(seed)
        self.params: dict[str, np.ndarray] = {}
        self.layers: list[Layer] = []
        self.norm_params: list[dict[str, Any]] = []
        self.dropout_param: dict[str, Any] = {}
        self.index = 0  # the index of the last weighted layer

    def _add_weights(self, shape: tuple[int, ...], fan_in: int, fan_out: int) -> int:
        """W{i} of ``shape`` and b{i} = 0 (one per output, shape[0] for conv, shape[1] affine)."""
        self.index += 1
        i = self.index
        self.params[f"W{i}"] = init_weight(
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
        """conv{i}: num_filters square filters; (C, H, W) -> (num_filters, H', W').

        The filters' fans are C*HH*WW in and F*HH*WW out (PyTorch's convention).
        """
        conv_param = {"stride": stride, "pad": pad}
        H_out, W_out = self._windows_fit(
            f"conv{self.index + 1}", filter_size, stride, pad, ("filter_size", "stride")
        )
        C = self.shape[0]
        F, k = num_filters, filter_size
        i = self._add_weights((F, C, k, k), C * k * k, F * k * k)
        self.layers.append(Layer(f"conv{i}", *CONV, (f"W{i}", f"b{i}"), conv_param, skips_dx=True))
        self.shape = (F, H_out, W_out)

    def affine(self, num_outputs: int) -> None:
        """affine{i}: (C, H, W) is flattened to C*H*W inputs; -> (num_outputs,)."""
        D = int(np.prod(self.shape))
        i = self._add_weights((D, num_outputs), D, num_outputs)
        self.layers.append(Layer(f"affine{i}", *AFFINE, (f"W{i}", f"b{i}"), skips_dx=True))
        self.shape = (num_outputs,)

    def norm(self, kind: str | None, num_groups: int | None = None) -> None:
        """{kind}{i} on the last weighted layer's output; None: no layer.

        On images (C, H, W): 'batchnorm' is spatial batchnorm (per channel over N, H, W),
        'groupnorm' normalises each example's num_groups groups of C/num_groups channels over
        (C/G, H, W), and 'layernorm' is groupnorm with one group (each example over C, H, W),
        as Wu & He (2018) define it. On features (D,): batchnorm or layernorm, and groupnorm
        becomes layernorm (there are no channels to group). Adds gamma{i} = 1 and beta{i} = 0,
        one per channel or feature, and the layer's settings dict to ``norm_params``.
        """
        if kind is None:
            return
        spatial = len(self.shape) == 3
        if not spatial:
            kind = FLAT_NORMALIZATION.get(kind, kind)
        registry = SPATIAL_NORMALIZATIONS if spatial else NORMALIZATIONS
        check_choice("normalization", kind, registry)
        num_features = self.shape[0]  # C for (C, H, W), D for (D,)
        i = self.index
        constants: tuple[int, ...] = ()
        if spatial and kind != "batchnorm":
            G = 1 if kind == "layernorm" else self._groups_of(num_groups)
            constants = (G,)  # spatial_groupnorm_forward(x, gamma, beta, G, gn_param)
        self.params[f"gamma{i}"] = np.ones(num_features, dtype=self.dtype)
        self.params[f"beta{i}"] = np.zeros(num_features, dtype=self.dtype)
        state = {"mode": "train"} if kind == "batchnorm" else {}  # layernorm, groupnorm: no mode
        self.norm_params.append(state)
        self.layers.append(
            Layer(
                f"{kind}{i}",
                *registry[kind],
                (f"gamma{i}", f"beta{i}"),
                state,
                constants=constants,
            )
        )

    def _groups_of(self, num_groups: int | None) -> int:
        """num_groups, checked against the channels of the layer about to be normalised."""
        check_num_groups("groupnorm", num_groups)
        C = self.shape[0]
        if C % num_groups:
            raise ValueError(
                f"num_groups must divide the channels of every normalised layer: "
                f"groupnorm{self.index} gets C = {C} channels, got num_groups = {num_groups}"
            )
        return int(num_groups)

    def activation(self, kind: str) -> None:
        """{kind}{i}: relu, tanh, sigmoid or leaky_relu; the shape is unchanged."""
        check_choice("activation", kind, ACTIVATIONS)
        self.layers.append(Layer(f"{kind}{self.index}", *ACTIVATIONS[kind]))

    def norm_and_activation(
        self,
        kind: str | None,
        activation: str,
        placement: str = "before",
        num_groups: int | None = None,
    ) -> None:
        """The two layers after a weighted one, in the order ``placement`` says.

        'before': {kind}{i} - {activation}{i}, the BN paper's and cs231n's order (normalise the
        affine/conv output, then apply the nonlinearity); 'after': {activation}{i} - {kind}{i},
        normalising what the nonlinearity outputs. kind None: the activation alone.
        num_groups: groupnorm's G, as in :meth:`norm`.
        """
        check_choice("norm_placement", placement, NORM_PLACEMENTS)
        if placement == "before":
            self.norm(kind, num_groups)
        self.activation(activation)
        if placement == "after":
            self.norm(kind, num_groups)

    def dropout(self, keep_ratio: float) -> None:
        """dropout{i}, keeping each unit with probability keep_ratio; 1: no layer.

        Every dropout layer shares one ``dropout_param`` (cs231n's); with a seed its mask is
        fixed, as in cs231n, so that the net can be gradient-checked.
        """
        if keep_ratio == 1:
            return
        if not self.dropout_param:
            # keep_prob: the keep probability whatever cs231n year is set (see bnlab.layers.dropout)
            self.dropout_param.update(mode="train", keep_prob=keep_ratio)
            if self.seed is not None:
                self.dropout_param["seed"] = self.seed
        self.layers.append(Layer(f"dropout{self.index}", *DROPOUT, state=self.dropout_param))

    def pool(self, kind: str, size: int) -> None:
        """{kind}_pool{i}: size x size windows, stride size; (C, H, W) -> (C, H/size, W/size)."""
        check_choice("pooling", kind, POOLS)
        pool_param = {"pool_height": size, "pool_width": size, "stride": size}
        H_out, W_out = self._windows_fit(
            f"{kind}_pool{self.index}", size, size, None, ("window", "stride")
        )
        self.layers.append(Layer(f"{kind}_pool{self.index}", *POOLS[kind], state=pool_param))
        self.shape = (self.shape[0], H_out, W_out)


def check_num_groups(normalization: str | None, num_groups: int | None) -> None:
    """num_groups: a positive int with normalization='groupnorm', None with any other.

    Whether it divides each layer's channels is checked as the layers are built.
    """
    if normalization == "groupnorm":
        if num_groups is None:
            raise ValueError(
                "normalization='groupnorm' needs num_groups, the number of groups of channels "
                "(a divisor of every normalised layer's channels); got None"
            )
        check_count("num_groups", num_groups, minimum=1)
    elif num_groups is not None:
        raise ValueError(
            f"num_groups is for normalization='groupnorm' only; got num_groups={num_groups!r} "
            f"with normalization={normalization!r}"
        )
