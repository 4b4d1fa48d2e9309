"""Models: lists of layers with a loss, following the model API of :class:`ChainNet`.

cs231n users: ``from cs231n.classifiers.fc_net import *`` and ``from cs231n.classifiers.cnn
import *`` become ``from bnlab.nets import *`` and ``from bnlab.layers import *`` (cs231n's
modules star-import the layers, which notebooks then call; bnlab keeps the two apart).

- :mod:`bnlab.nets.model`: :class:`Layer` and :class:`ChainNet` (the model API: ``loss``
  runs the layers forward and backward)
- :mod:`bnlab.nets.builder`: :class:`NetBuilder`, which every net uses to make its layers
- :mod:`bnlab.nets.registry`: the layer functions the nets are made of, by setting name
- :mod:`bnlab.nets.weights`: the initial weights
- the nets: :mod:`~bnlab.nets.fc_net`, :mod:`~bnlab.nets.cnn`, :mod:`~bnlab.nets.lenet`
- :func:`recompute_bn_statistics` (:mod:`bnlab.nets.population`): batchnorm's population
  statistics for inference, averaged over training batches (the BN paper's section 3.1)
"""

from bnlab.nets.builder import NetBuilder
from bnlab.nets.cnn import ThreeLayerConvNet
from bnlab.nets.fc_net import FullyConnectedNet, TwoLayerNet
from bnlab.nets.lenet import LeNet
from bnlab.nets.model import ChainNet, Layer
from bnlab.nets.population import recompute_bn_statistics

__all__ = [
    "ChainNet",
    "FullyConnectedNet",
    "Layer",
    "LeNet",
    "NetBuilder",
    "ThreeLayerConvNet",
    "TwoLayerNet",
    "recompute_bn_statistics",
]
