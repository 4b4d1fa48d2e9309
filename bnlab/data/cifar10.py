"""CIFAR-10 from the standard ``cifar-10-batches-py`` folder, with cs231n's loaders.

The folder holds python pickles ``data_batch_1`` .. ``data_batch_5`` (training) and
``test_batch``, each a dict with ``data``: (N, 3072) uint8 rows (1024 red, 1024 green, 1024
blue values, each a 32x32 image in row-major order) and ``labels``: N ints in 0..9, plus
``batches.meta`` with the ``label_names``. The real files were pickled by Python 2, so their
keys load as bytes (``b'data'``); both bytes and str keys are accepted.

cs231n's preprocessing keeps pixels in 0..255 (no division by 255) and subtracts the
training-set mean image; its split takes the validation rows right after the training rows.

Unpickling can run arbitrary code, so batches are read with an unpickler that only builds
numpy arrays, lists, dicts, strings and numbers.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from bnlab._safe_pickle import NUMPY_GLOBALS
from bnlab.data.locate import CIFAR10_BATCHES, locate
from bnlab.data.preprocess import (
    check_count,
    last_val_dict,
    select_splits,
    standard_dict,
    take_first,
)

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
IMAGE_SHAPE = (3, 32, 32)  # (C, H, W), the order of a row of ``data``
_FETCH_HINT = "get a fresh copy with: bnlab data fetch cifar10"


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in NUMPY_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays and lists"
            )
        return super().find_class(module, name)


def _unpickle(filename: Path) -> dict:
    """The dict stored in ``filename``, with str keys (the real files' bytes keys decoded)."""
    if not filename.is_file():
        folder = filename.parent
        state = "is missing" if folder.is_dir() else f"cannot be read: no folder {folder}"
        raise FileNotFoundError(f"CIFAR-10 file {filename} {state}; {_FETCH_HINT}")
    try:
        with open(filename, "rb") as f:
            content = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{filename} is not a readable CIFAR-10 pickle (corrupt or truncated: {error}); "
            f"{_FETCH_HINT}"
        ) from None
    if not isinstance(content, dict):
        raise ValueError(f"{filename} holds a {type(content).__name__}, not a CIFAR-10 dict")
    return {
        key.decode() if isinstance(key, bytes) else key: value for key, value in content.items()
    }


def read_cifar_batch(filename: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 3, 32, 32) uint8, labels (N,) int64) from one batch file; N is read, not assumed."""
    filename = Path(filename)
    batch = _unpickle(filename)
    for key in ("data", "labels"):
        if key not in batch:
            raise ValueError(f"{filename} has no {key!r} entry; keys: {sorted(batch)}")
    data = np.asarray(batch["data"])
    try:
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (TypeError, ValueError):
        raise ValueError(f"{filename}: 'labels' must be integers 0..9") from None
    row = int(np.prod(IMAGE_SHAPE))
    if data.ndim != 2 or data.shape[1] != row or data.dtype != np.uint8:
        raise ValueError(
            f"{filename}: 'data' must be uint8 of shape (N, {row}), got {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),):
        raise ValueError(
            f"count mismatch in {filename}: {len(data)} images but {labels.size} labels"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise ValueError(f"{filename}: labels must be in 0..9, got {labels.min()}..{labels.max()}")
    return data.reshape(-1, *IMAGE_SHAPE), labels  # (N, 3, 32, 32)


def read_cifar10(
    root: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(Xtr, Ytr, Xte, Yte, class_names) as uint8 (N, 3, 32, 32) images and int64 labels.

    root: the ``cifar-10-batches-py`` folder or its parent (default: search).
    """
    root = locate("cifar10", root)
    train = [read_cifar_batch(root / name) for name in CIFAR10_BATCHES[:-1]]
    Xte, Yte = read_cifar_batch(root / CIFAR10_BATCHES[-1])
    class_names = CIFAR10_CLASSES
    if (root / "batches.meta").is_file():
        names = _unpickle(root / "batches.meta").get("label_names", [])
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        class_names = names if len(names) == len(CIFAR10_CLASSES) else CIFAR10_CLASSES
    Xtr = np.concatenate([X for X, _ in train])
    Ytr = np.concatenate([Y for _, Y in train])
    return Xtr, Ytr, Xte, Yte, class_names


def _to_cs231n(X: np.ndarray) -> np.ndarray:
    return X.transpose(0, 2, 3, 1).astype(np.float64)  # (N, 3, H, W) -> (N, H, W, 3)


def load_CIFAR_batch(filename: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """cs231n's: (X (N, 32, 32, 3) float64 pixels in 0..255, Y (N,) int64) from one batch file."""
    X, Y = read_cifar_batch(filename)
    return _to_cs231n(X), Y


def load_CIFAR10(
    ROOT: str | os.PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """cs231n's: (Xtr, Ytr, Xte, Yte), images (N, 32, 32, 3) float64 in 0..255, labels int64.

    ROOT: the ``cifar-10-batches-py`` folder (default: search, see :mod:`bnlab.data.locate`).
    """
    Xtr, Ytr, Xte, Yte, _ = read_cifar10(ROOT)
    return _to_cs231n(Xtr), Ytr, _to_cs231n(Xte), Yte


def get_CIFAR10_data(
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    subtract_mean: bool = True,
    cifar10_dir: str | os.PathLike | None = None,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """X = pixels - mean(train pixels); cs231n's split of CIFAR-10 as the standard dict.

    Training rows ``[0, num_training)``, validation rows ``[num_training, num_training +
    num_validation)`` of the training batches; test rows ``[0, num_test)`` of ``test_batch``.
    Pixels stay in 0..255 as in cs231n. X_*: (N, 3, 32, 32) ``dtype``; y_*: (N,) int64;
    ``mean_image``: (3, 32, 32); ``class_names``. cs231n returned float64; pass ``dtype``.
    """
    num_training = check_count("num_training", num_training, minimum=1)
    num_validation = check_count("num_validation", num_validation)
    Xtr, Ytr, Xte, Yte, class_names = read_cifar10(cifar10_dir)
    end = num_training + num_validation
    if end > len(Xtr):
        raise ValueError(
            f"num_training + num_validation = {end} exceeds the {len(Xtr)} CIFAR-10 training images"
        )
    test_rows = take_first(len(Xte), num_test, "num_test", "CIFAR-10's test_batch")
    train_rows, val_rows = slice(0, num_training), slice(num_training, end)
    splits = select_splits((Xtr, Ytr), (Xte, Yte), train_rows, val_rows, test_rows)
    return standard_dict(splits, class_names, 1.0, subtract_mean, dtype)


def load_cifar10(
    path: str | os.PathLike | None = None,
    num_val: int = 1000,
    num_train: int | None = None,
    num_test: int | None = None,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """X = pixels - mean(train pixels); CIFAR-10 as the standard dict, like the other loaders.

    The last ``num_val`` training images validate (49000 / 1000 by default, cs231n's sizes);
    ``num_train`` / ``num_test`` keep the first rows (default: all). Pixels stay in 0..255.
    """
    Xtr, Ytr, Xte, Yte, class_names = read_cifar10(path)
    sizes = (num_val, num_train, num_test)
    return last_val_dict(
        (Xtr, Ytr), (Xte, Yte), class_names, "CIFAR-10", *sizes, 1.0, subtract_mean, dtype
    )
