"""cs231n's ThreeLayerConvNet: conv - [norm] - relu - 2x2 max pool - affine - [norm] - relu - affine - softmax."""

from __future__ import annotations

import numpy as np

from bnlab._validation import check_choice, check_count
from bnlab.nets.builder import NetBuilder, check_num_groups
from bnlab.nets.model import ChainNet
from bnlab.nets.registry import SPATIAL_NORMALIZATIONS


class ThreeLayerConvNet(ChainNet):
    """conv - [norm] - relu - 2x2 max pool - affine - [norm] - relu - affine - softmax

    The convolution keeps H and W: stride 1, pad (filter_size - 1) // 2 (odd filter sizes).
    Params (cs231n's names and shapes), for input_dim = (C, H, W):
    - W1: (num_filters, C, filter_size, filter_size), b1: (num_filters,)
    - W2: (num_filters * H/2 * W/2, hidden_dim), b2: (hidden_dim,)
    - W3: (hidden_dim, num_classes), b3: (num_classes,)
    - with a normalization also gamma1, beta1: (num_filters,) (after the conv) and
      gamma2, beta2: (hidden_dim,) (after the hidden affine)

    Arguments (cs231n's signature, plus seed, normalization and num_groups):
    - input_dim: (C, H, W) of one image; H and W must be even for the 2x2 pool
    - num_filters, filter_size: the conv layer's F and HH = WW
    - hidden_dim, num_classes: the sizes of the two affine layers
    - weight_scale: std of the initial weights, or 'he' / 'xavier'; biases start at 0
    - reg: L2 strength; the loss gains 0.5 * reg * sum of squared weights
    - dtype: np.float32 (fast) or np.float64 (for gradient checks)
    - seed: seeds the weights' own generator (None: NumPy's global one, as cs231n draws them)
    - normalization: None, 'batchnorm' (spatial after the conv), 'layernorm' (each example's
      C, H, W after the conv) or 'groupnorm' (each example's num_groups groups of channels);
      both of the latter use layernorm after the hidden affine layer
    - num_groups: groupnorm's number of groups, a divisor of num_filters (None otherwise)
    The layers are the fast conv and pool functions, run by the inherited :class:`ChainNet`.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float | str = 1e-3,
        reg: float = 0.0,
        dtype: type = np.float32,
        seed: int | None = None,
        normalization: str | None = None,
        num_groups: int | None = None,
    ) -> None:
        check_choice("normalization", normalization, (None, *SPATIAL_NORMALIZATIONS))
        check_num_groups(normalization, num_groups)
        for name, size in [
            ("num_filters", num_filters),
            ("filter_size", filter_size),
            ("hidden_dim", hidden_dim),
            ("num_classes", num_classes),
        ]:
            check_count(name, size, minimum=1)
        self.normalization = normalization
        net = NetBuilder(input_dim, weight_scale, dtype, seed)
        net.conv(num_filters, filter_size, pad=(filter_size - 1) // 2)
        net.norm(normalization, num_groups)
        net.activation("relu")
        net.pool("max", 2)
        net.affine(hidden_dim)
        net.norm(normalization, num_groups)
        net.activation("relu")
        net.affine(num_classes)
        super().__init__(net, reg)
