"""Models: chains of layers with a loss, following the model API of :class:`ChainNet`."""

from bnlab.nets.chain import Chain, ChainBuilder, ChainNet, Layer
from bnlab.nets.cnn import ThreeLayerConvNet
from bnlab.nets.fc_net import FullyConnectedNet, TwoLayerNet
from bnlab.nets.lenet import LeNet

__all__ = [
    "Chain",
    "ChainBuilder",
    "ChainNet",
    "FullyConnectedNet",
    "Layer",
    "LeNet",
    "ThreeLayerConvNet",
    "TwoLayerNet",
]
