"""Models: chains of layers with a loss, following the model API of :class:`ChainNet`."""

from bnlab.nets.chain import Chain, ChainNet, Layer
from bnlab.nets.fc_net import FullyConnectedNet

__all__ = ["Chain", "ChainNet", "FullyConnectedNet", "Layer"]
