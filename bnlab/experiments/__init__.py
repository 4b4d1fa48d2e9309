"""The study notes' experiments, each reproducible as ``bnlab experiment NAME`` with a figure.

Every experiment is a module in this package that defines:

- ``Config``: a dataclass, one commented line per field, with a ``seed`` field and a
  ``quick()`` classmethod returning the shrunk version the tests run in seconds;
- ``run(config) -> result``: the computation, returning its results as data (no plotting);
- ``plot(result, out_dir) -> list[Path]``: the figures, drawn with :mod:`bnlab.plotting`;
- ``summarize(result) -> str``: the key numbers, printed after a run.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class ExperimentInfo:
    name: str  # what the command line calls it
    module: str  # bnlab.experiments.<module>
    source: str  # the study note (or issue) it reproduces
    description: str  # one line for --list


REGISTRY: dict[str, ExperimentInfo] = {
    info.name: info
    for info in [
        ExperimentInfo(
            "bn-sanity",
            "bn_sanity",
            "study note 003",
            "activation statistics before/after batchnorm; test mode; naive vs closed-form backward",
        ),
        ExperimentInfo(
            "bn-vs-baseline",
            "bn_vs_baseline",
            "study note 003",
            "6-layer net on 1000 examples, with and without batchnorm: loss and accuracy curves",
        ),
        ExperimentInfo(
            "weight-scale",
            "weight_scale",
            "study note 003",
            "20 weight initialisation scales, with and without batchnorm",
        ),
        ExperimentInfo(
            "regression",
            "regression",
            "study notes 000, 002",
            "y = x^2 + noise with tanh nets: batchnorm rescues inputs in the saturated range",
        ),
        ExperimentInfo(
            "activations",
            "activations",
            "study note 004",
            "SimpleNet vs SimpleNetBN on Fashion-MNIST: first-layer activation distributions",
        ),
        ExperimentInfo(
            "bn-conventions",
            "bn_conventions",
            "conventions table",
            "running statistics under cs231n, PyTorch and the study notes' MyBN conventions",
        ),
        ExperimentInfo(
            "lenet-bn",
            "lenet_bn",
            "study note 001",
            "LeNet with and without batchnorm on Fashion-MNIST",
        ),
        ExperimentInfo(
            "dropout",
            "dropout",
            "study notes 001, 003",
            "plain, dropout, batchnorm and both: train/val gap; dropout's variance shift at test time",
        ),
        ExperimentInfo(
            "population-statistics",
            "population_statistics",
            "study note 004",
            "batchnorm momentum 0.5-0.999: moving averages vs recomputed statistics, and the cost",
        ),
        ExperimentInfo(
            "placement",
            "placement",
            "study note 001",
            "batchnorm before vs after the activation: six-layer FC net, sigmoid and relu LeNet",
        ),
        ExperimentInfo(
            "learning-rate",
            "learning_rate",
            "study notes 001, 003",
            "learning rates over 4-5 decades, with and without batchnorm: six-layer net and LeNets",
        ),
        ExperimentInfo(
            "batch-size",
            "batch_size",
            "cs231n assignment 2 (issue 12)",
            "batch sizes 2 to 256: LeNet with batchnorm/layernorm/groupnorm, FC net with batchnorm/layernorm",
        ),
    ]
}


def load(name: str) -> ModuleType:
    """The module of experiment ``name``; a clear error listing the valid names otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; valid names: {', '.join(REGISTRY)}")
    return importlib.import_module(f"bnlab.experiments.{REGISTRY[name].module}")
