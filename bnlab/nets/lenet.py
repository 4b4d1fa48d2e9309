"""LeNet-5 as d2l builds it (seed 001), with batchnorm after every conv and hidden affine layer.

    conv 5x5 (6, pad 2) - [bn] - sigmoid - 2x2 avg pool - conv 5x5 (16) - [bn] - sigmoid
    - 2x2 avg pool - affine 120 - [bn] - sigmoid - affine 84 - [bn] - sigmoid - affine 10

On 28x28 Fashion-MNIST images the shapes are (1, 28, 28) -> (6, 28, 28) -> (6, 14, 14)
-> (16, 10, 10) -> (16, 5, 5) -> 400 -> 120 -> 84 -> 10. As in study note 001 (and LeCun et al.,
1998) the nonlinearity is the sigmoid and the pooling averages; both can be swapped for the
modern relu and max pooling.
"""

from __future__ import annotations

import numpy as np

from bnlab._validation import check_choice, check_count
from bnlab.nets.builder import NORM_PLACEMENTS, NetBuilder, check_num_groups
from bnlab.nets.model import ChainNet
from bnlab.nets.registry import SPATIAL_NORMALIZATIONS

FILTER_SIZE = 5
FIRST_PAD = 2  # keeps 28x28: LeNet was designed for 32x32 inputs, which MNIST's 28x28 are not


class LeNet(ChainNet):
    """LeNet-5 with switchable batchnorm: spatial for conv outputs, 2-D for affine outputs.

    Params, with i = 1..5 in layer order (conv1, conv2, affine3, affine4, affine5):
    - W1: (6, C, 5, 5), W2: (16, 6, 5, 5), W3: (16*5*5, 120), W4: (120, 84), W5: (84, 10)
      (for 28x28 inputs), b{i} the matching biases
    - with any normalization: gamma{i}, beta{i} for i = 1..4, (C_out,) or (D_out,)

    Arguments:
    - input_dim: (C, H, W) of one image; H and W must be multiples of 4 and at least 12, so
      that both 2x2 pools tile exactly (28 and 32 work)
    - num_classes: outputs of the last affine layer
    - normalization: 'batchnorm' (study note 001's net, default), None (d2l's plain LeNet),
      'layernorm' (each example's C, H, W after a conv) or 'groupnorm' (each example's
      num_groups groups of channels); both use layernorm after the hidden affine layers
    - num_groups: groupnorm's number of groups, dividing 6 and 16 (num_filters): 1 or 2
    - activation: 'sigmoid' (study note 001's), 'relu', 'tanh' or 'leaky_relu'
    - pooling: 'avg' (study note 001's) or 'max'
    - weight_scale: 'xavier' by default, the std of d2l's ``init_cnn`` (xavier_uniform_, whose
      std is sqrt(2 / (fan_in + fan_out)) like bnlab's normal 'xavier'); or 'he' or a float
    - reg: L2 strength on the weights; dtype: np.float32 or np.float64; seed: the weights'
      own generator (None: NumPy's global one)
    - num_filters, hidden_dims: the widths, (6, 16) and (120, 84) in LeNet-5; smaller ones
      give the same architecture small enough to gradient-check
    - norm_placement: 'before' (study note 001's, default): conv/affine - norm - activation;
      'after': conv/affine - activation - norm (the pooling still follows both)
    Biases start at 0 (d2l keeps PyTorch's small uniform ones), gamma at 1 and beta at 0.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (1, 28, 28),
        num_classes: int = 10,
        normalization: str | None = "batchnorm",
        activation: str = "sigmoid",
        pooling: str = "avg",
        weight_scale: float | str = "xavier",
        reg: float = 0.0,
        dtype: type = np.float32,
        seed: int | None = None,
        *,
        num_groups: int | None = None,
        num_filters: tuple[int, int] = (6, 16),
        hidden_dims: tuple[int, int] = (120, 84),
        norm_placement: str = "before",
    ) -> None:
        check_choice("normalization", normalization, (None, *SPATIAL_NORMALIZATIONS))
        check_choice("norm_placement", norm_placement, NORM_PLACEMENTS)
        check_num_groups(normalization, num_groups)
        check_count("num_classes", num_classes, minimum=1)
        for name, sizes in [("num_filters", num_filters), ("hidden_dims", hidden_dims)]:
            if not isinstance(sizes, tuple | list) or len(sizes) != 2:
                raise ValueError(f"{name} must hold 2 sizes, got {sizes!r}")
            for size in sizes:
                check_count(name, size, minimum=1)
        self.normalization = normalization
        self.norm_placement = norm_placement
        net = NetBuilder(input_dim, weight_scale, dtype, seed)
        for num_filter, pad in zip(num_filters, (FIRST_PAD, 0), strict=True):
            net.conv(num_filter, FILTER_SIZE, pad=pad)
            net.norm_and_activation(normalization, activation, norm_placement, num_groups)
            net.pool(pooling, 2)
        for hidden_dim in hidden_dims:
            net.affine(hidden_dim)
            net.norm_and_activation(normalization, activation, norm_placement, num_groups)
        net.affine(num_classes)
        super().__init__(net, reg)
