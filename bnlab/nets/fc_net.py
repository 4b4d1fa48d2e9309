"""cs231n's FullyConnectedNet: {affine - [batch/layer norm] - activation - [dropout]} x (L - 1) - affine - loss.

Options move the normalisation after the activation and keep dropout to the last hidden layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab._validation import check_choice
from bnlab.layers.checks import keep_probability
from bnlab.nets.builder import NORM_PLACEMENTS, NetBuilder
from bnlab.nets.model import ChainNet
from bnlab.nets.registry import NORMALIZATIONS

_UNSET: Any = object()
DROPOUT_POSITIONS = ("every", "last")  # dropout_position= setting


def _resolve_legacy(normalization, use_batchnorm, dropout_keep_ratio, dropout):
    """Map the 2017 keywords (use_batchnorm=, dropout=) onto the current ones, refusing conflicts."""
    if use_batchnorm is not _UNSET:
        wanted = "batchnorm" if use_batchnorm else None
        if normalization is not _UNSET and normalization != wanted:
            raise ValueError(
                f"use_batchnorm={use_batchnorm!r} conflicts with normalization={normalization!r}; "
                f"pass only normalization="
            )
        normalization = wanted
    if dropout is not _UNSET:
        # cs231n's dropout= was the DROP probability in 2017, the KEEP probability in 2018-2019:
        # the course year decides (bnlab.layers.dropout); without one, 0 and 1 mean no dropout.
        wanted = keep_probability("dropout", dropout, unset_reading="drop", stacklevel=4)
        if dropout_keep_ratio is not _UNSET and dropout_keep_ratio != wanted:
            raise ValueError(
                f"dropout={dropout!r} (keep probability {wanted!r}) conflicts with "
                f"dropout_keep_ratio={dropout_keep_ratio!r}; pass only dropout_keep_ratio="
            )
        dropout_keep_ratio = wanted
    normalization = None if normalization is _UNSET else normalization
    dropout_keep_ratio = 1 if dropout_keep_ratio is _UNSET else dropout_keep_ratio
    return normalization, dropout_keep_ratio


class FullyConnectedNet(ChainNet):
    """A fully connected net of any depth, with optional batchnorm/layernorm and dropout.

    Architecture: {affine - [batchnorm | layernorm] - activation - [dropout]} x (L - 1) - affine,
    then softmax, SVM or MSE loss. Parameters W1, b1, gamma1, beta1, ..., W{L}, b{L}.

    Arguments (cs231n's signature, plus activation, loss and string weight scales):
    - hidden_dims: list of hidden layer sizes
    - input_dim: D, the size of one flattened input (3*32*32 for CIFAR-10)
    - num_classes: outputs of the last layer (1 for the study notes' scalar regression)
    - dropout_keep_ratio: probability of KEEPING a unit; 1 means no dropout
    - normalization: None, 'batchnorm' or 'layernorm'
    - reg: L2 strength; the loss gains 0.5 * reg * sum of squared weights
    - weight_scale: std of the initial weights, or 'he' / 'xavier'
    - dtype: np.float32 (fast) or np.float64 (for gradient checks)
    - seed: seeds the weights' own generator (None: NumPy's global one, so that
      ``np.random.seed`` reproduces cs231n's weights) and, as in cs231n, fixes the dropout
      mask so the model can be gradient-checked (for training with a varying but reproducible mask set
      ``model.dropout_param['rng'] = np.random.default_rng(k)``)
    - activation: 'relu', 'tanh', 'sigmoid' or 'leaky_relu'
    - loss: 'softmax', 'svm' or 'mse'
    - norm_placement (keyword only): 'before' (default) normalises the affine output before
      the activation, affine - norm - activation, as the BN paper and cs231n do; 'after' gives
      affine - activation - norm. gamma{i}, beta{i} keep their names and shapes (D_i,).
    - dropout_position (keyword only): 'every' (default) puts dropout after every hidden
      layer; 'last' only after the last one, so that no normalisation layer ever sees
      dropout's train-time variance (Li et al., 2019, "Understanding the disharmony between
      dropout and batch normalization by variance shift").
    Older keywords still work: ``use_batchnorm=True`` and ``dropout=`` (the DROP probability in
    2017, the KEEP probability in 2018-2019: ``bnlab.set_cs231n_year`` says which). The dropout
    conventions are set out once, in :mod:`bnlab.layers.dropout`'s docstring.

    The constructor below lists the layers; the forward pass, the loss and the backward pass
    are :meth:`ChainNet.loss` (bnlab/nets/model.py), whose loops over the layers are
    ``sandwich_forward`` and ``sandwich_backward`` (bnlab/layers/sandwich.py).
    """

    def __init__(
        self,
        hidden_dims: list[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = _UNSET,
        normalization: str | None = _UNSET,
        reg: float = 0.0,
        weight_scale: float | str = 1e-2,
        dtype: type = np.float32,
        seed: int | None = None,
        activation: str = "relu",
        loss: str = "softmax",
        *,
        use_batchnorm: bool = _UNSET,
        dropout: float = _UNSET,
        norm_placement: str = "before",
        dropout_position: str = "every",
    ) -> None:
        normalization, dropout_keep_ratio = _resolve_legacy(
            normalization, use_batchnorm, dropout_keep_ratio, dropout
        )
        check_choice("normalization", normalization, (None, *NORMALIZATIONS))
        check_choice("norm_placement", norm_placement, NORM_PLACEMENTS)
        check_choice("dropout_position", dropout_position, DROPOUT_POSITIONS)
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio!r}")
        dims = [input_dim, *hidden_dims, num_classes]
        if any(not isinstance(d, int | np.integer) or d < 1 for d in dims):
            raise ValueError(
                f"input_dim, hidden_dims and num_classes must be positive integers, got {dims}"
            )
        self.normalization = normalization
        self.norm_placement = norm_placement
        self.dropout_position = dropout_position
        self.use_dropout = dropout_keep_ratio != 1
        self.num_layers = 1 + len(hidden_dims)
        net = NetBuilder((input_dim,), weight_scale, dtype, seed)
        for layer, hidden_dim in enumerate(hidden_dims, start=1):
            net.affine(hidden_dim)
            net.norm_and_activation(normalization, activation, norm_placement)
            if dropout_position == "every" or layer == len(hidden_dims):
                net.dropout(dropout_keep_ratio)
        net.affine(num_classes)
        super().__init__(net, reg, loss)


class TwoLayerNet(FullyConnectedNet):
    """cs231n's TwoLayerNet: affine - relu - affine - softmax, params W1, b1, W2, b2.

    A FullyConnectedNet with one hidden layer and cs231n's defaults for this class, float64
    included (cs231n's TwoLayerNet computes in float64, and its notebook checks the scores to
    1e-6 and the loss to 1e-10; pass dtype=np.float32 for speed).
    input_dim: D; hidden_dim: H; num_classes: C; weight_scale: std of the initial weights;
    seed: the weights' own generator (None: NumPy's global one, as cs231n).
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype: type = np.float64,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            [hidden_dim],
            input_dim=input_dim,
            num_classes=num_classes,
            weight_scale=weight_scale,
            reg=reg,
            dtype=dtype,
            seed=seed,
        )
