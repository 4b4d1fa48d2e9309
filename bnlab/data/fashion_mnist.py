"""Fashion-MNIST and MNIST from their standard IDX files, as the standard data dict.

Both datasets are 60000 training and 10000 test images of 28x28 grey pixels in 10 classes,
stored in the same four files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``, gzipped or not).

Preprocessing: pixels / 255 (to [0, 1]), then the training-set mean image is subtracted.
Validation split: the *last* ``num_val`` training images (5000 by default, leaving 55000 to
train), so the split is the same on every run and never overlaps the training rows.
Images come out as (N, 1, 28, 28).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.data.idx import read_idx_pair
from bnlab.data.locate import DATASET_FILES, find_file, how_to_replace, locate
from bnlab.data.preprocess import last_val_dict

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
MNIST_CLASSES = [str(digit) for digit in range(10)]
PIXEL_SCALE = 1.0 / 255.0


def _read_idx_files(name: str, folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(train images, labels), (test images, labels)] read from ``folder``, sizes checked."""
    spec = DATASET_FILES[name]
    parts, images_paths = [], []
    for prefix in ("train", "t10k"):
        images_path = find_file(folder, f"{prefix}-images-idx3-ubyte", spec.gz_optional)
        labels_path = find_file(folder, f"{prefix}-labels-idx1-ubyte", spec.gz_optional)
        images, labels = read_idx_pair(images_path, labels_path)
        if labels.size and labels.max() >= 10:
            raise ValueError(f"{labels_path} holds label {labels.max()}; expected 0..9")
        parts.append((images[:, None], labels))  # (N, 28, 28) -> (N, 1, 28, 28)
        images_paths.append(images_path)
    (rows, cols), (test_rows, test_cols) = parts[0][0].shape[2:], parts[1][0].shape[2:]
    if (rows, cols) != (test_rows, test_cols):
        raise ValueError(
            f"{images_paths[0]} holds {rows}x{cols} images but {images_paths[1]} holds "
            f"{test_rows}x{test_cols}: the files come from different datasets"
        )
    return parts


def read_idx_dataset(
    name: str, path: str | os.PathLike | None = None
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((train images, train labels), (test images, test labels)) of an IDX dataset, raw.

    Images are uint8 (N, 1, 28, 28) (a channel axis added), labels uint8 (N,). A damaged or
    mismatched file raises ValueError naming it and saying how to get the dataset again.
    """
    folder = locate(name, path)
    try:
        train, test = _read_idx_files(name, folder)
    except ValueError as error:
        raise ValueError(f"{error}\nTo repair {folder}: {how_to_replace(name, folder)}") from None
    return train, test


def _load_idx(
    name: str, class_names: list[str], path, num_val, num_train, num_test, subtract_mean, dtype
) -> dict[str, Any]:
    train, test = read_idx_dataset(name, path)
    sizes = (num_val, num_train, num_test)
    title = DATASET_FILES[name].title
    return last_val_dict(train, test, class_names, title, *sizes, PIXEL_SCALE, subtract_mean, dtype)


def load_fashion_mnist(
    path: str | os.PathLike | None = None,
    num_val: int = 5000,
    num_train: int | None = None,
    num_test: int | None = None,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """X = pixels / 255 - mean(train); Fashion-MNIST as the standard dict.

    path: the folder with the four IDX files (default: search, see :mod:`bnlab.data.locate`).
    num_val: the last ``num_val`` training images become ``X_val``.
    num_train: keep the first ``num_train`` training images (default: all the rest).
    num_test: keep the first ``num_test`` test images (default: all 10000).
    Returns X_*: (N, 1, 28, 28) ``dtype``; y_*: (N,) int64; ``mean_image``: (1, 28, 28);
    ``class_names``: the 10 Fashion-MNIST classes.
    """
    split_args = (num_val, num_train, num_test, subtract_mean, dtype)
    return _load_idx("fashion-mnist", FASHION_MNIST_CLASSES, path, *split_args)


def load_mnist(
    path: str | os.PathLike | None = None,
    num_val: int = 5000,
    num_train: int | None = None,
    num_test: int | None = None,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """X = pixels / 255 - mean(train); MNIST digits as the standard dict.

    Arguments and returns as :func:`load_fashion_mnist`; ``class_names`` are '0' .. '9'.
    """
    split_args = (num_val, num_train, num_test, subtract_mean, dtype)
    return _load_idx("mnist", MNIST_CLASSES, path, *split_args)
