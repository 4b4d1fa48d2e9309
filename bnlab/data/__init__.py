"""Datasets as one standard dict, cs231n's ``get_CIFAR10_data`` format.

Every image loader returns::

    X_train, X_val, X_test: (N, C, H, W) float32 (or ``dtype=np.float64``), mean-subtracted
    y_train, y_val, y_test: (N,) int64 class labels
    mean_image:             (C, H, W) the training-set mean image that was subtracted
    class_names:            one string per class

``load_dataset(name)`` picks the loader by name:

- ``'bundled'`` (default): a 9000-image Fashion-MNIST subset shipped with bnlab, no download;
- ``'fashion-mnist'``, ``'mnist'``: the IDX files (pixels / 255, last 5000 training images
  validate), searched as :mod:`bnlab.data.locate` describes;
- ``'cifar10'``: the ``cifar-10-batches-py`` folder (cs231n's 0..255 pixels, 49000 / 1000);
- ``'synthetic'``: CIFAR-shaped class templates plus noise, made on the spot.

``make_regression_data`` gives the study notes' y = x^2 + noise task with the same X/y keys, and
``bnlab data fetch NAME`` (:func:`fetch`) downloads the real datasets.
"""

from __future__ import annotations

import os
from typing import Any

from bnlab.data.bundled import load_bundled
from bnlab.data.cifar10 import get_CIFAR10_data, load_CIFAR10, load_cifar10, load_CIFAR_batch
from bnlab.data.download import fetch
from bnlab.data.fashion_mnist import load_fashion_mnist, load_mnist
from bnlab.data.idx import read_idx
from bnlab.data.preprocess import subsample
from bnlab.data.synthetic import make_regression_data, make_synthetic_images

SYNTHETIC_SIZES = {"num_train": 4000, "num_val": 500, "num_test": 500}


def load_synthetic(**kwargs: Any) -> dict[str, Any]:
    """:func:`make_synthetic_images` with default sizes 4000 / 500 / 500 (any can be passed)."""
    return make_synthetic_images(**{**SYNTHETIC_SIZES, **kwargs})


# name -> (loader, whether it reads files from a path)
LOADERS = {
    "bundled": (load_bundled, False),
    "fashion-mnist": (load_fashion_mnist, True),
    "mnist": (load_mnist, True),
    "cifar10": (load_cifar10, True),
    "synthetic": (load_synthetic, False),
}


def load_dataset(
    name: str = "bundled", path: str | os.PathLike | None = None, **kwargs: Any
) -> dict[str, Any]:
    """The standard dict of dataset ``name`` (see the module docstring).

    path: the folder with the dataset's files (only for datasets read from files; default
        search). kwargs go to the loader: ``dtype``, ``num_val``, ``num_train``, ``num_test``,
        ``subtract_mean``, and for 'synthetic' also ``seed``, ``image_shape``, ``noise``.
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(LOADERS)}")
    loader, reads_files = LOADERS[name]
    if path is not None:
        if not reads_files:
            raise ValueError(f"dataset {name!r} is not read from files; got path={path!r}")
        kwargs["path"] = path
    return loader(**kwargs)


__all__ = [
    "LOADERS",
    "fetch",
    "get_CIFAR10_data",
    "load_CIFAR10",
    "load_CIFAR_batch",
    "load_bundled",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_synthetic",
    "make_regression_data",
    "make_synthetic_images",
    "read_idx",
    "subsample",
]
