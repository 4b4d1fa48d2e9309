"""From raw pixels to the standard data dict that every bnlab loader returns.

The standard dict, as cs231n's ``get_CIFAR10_data`` returns it, plus two extras::

    X_train, X_val, X_test: (N, C, H, W) float32 or float64, mean-subtracted
    y_train, y_val, y_test: (N,) int64 class labels
    mean_image:             (C, H, W) the training-set mean that was subtracted (zeros if not)
    class_names:            (num_classes,) array of str, one name per class (an array, so
                            every value of the dict has a .shape, as cs231n notebooks expect)

``X + mean_image`` undoes the mean subtraction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab._validation import check_count

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a numpy dtype, which must be float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    return resolved


def split_last(
    num_available: int, num_train: int | None, num_val: int, source: str
) -> tuple[slice, slice]:
    """Row ranges of a training file: the last ``num_val`` rows validate, the first rows train.

    ``num_train=None`` takes every row not used for validation.
    Returns ``(train_rows, val_rows)`` as slices.
    """
    num_val = check_count("num_val", num_val)
    if num_train is None:
        num_train = num_available - num_val
        if num_train < 1:
            raise ValueError(
                f"num_val={num_val} leaves no training examples: {source} has "
                f"{num_available} training rows"
            )
    num_train = check_count("num_train", num_train, minimum=1)
    if num_train + num_val > num_available:
        raise ValueError(
            f"num_train + num_val = {num_train} + {num_val} = {num_train + num_val} "
            f"exceeds the {num_available} training rows of {source}"
        )
    return slice(0, num_train), slice(num_available - num_val, num_available)


def take_first(num_available: int, num: int | None, name: str, source: str) -> slice:
    """The first ``num`` rows (all of them for ``None``), with a clear error if too few."""
    if num is None:
        return slice(0, num_available)
    num = check_count(name, num, minimum=1)
    if num > num_available:
        raise ValueError(f"{name}={num} exceeds the {num_available} rows of {source}")
    return slice(0, num)


Pair = tuple[np.ndarray, np.ndarray]  # (images, labels)


def select_splits(train: Pair, test: Pair, train_rows, val_rows, test_rows) -> dict[str, Pair]:
    """``{'train', 'val', 'test'}`` -> (images, labels): rows of the training and test parts."""
    (X, y), (X_test, y_test) = train, test
    return {
        "train": (X[train_rows], y[train_rows]),
        "val": (X[val_rows], y[val_rows]),
        "test": (X_test[test_rows], y_test[test_rows]),
    }


def standard_dict(
    splits: dict[str, Pair],
    class_names: list[str],
    scale: float = 1.0,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """x = images * scale - mean(train images * scale); the standard dict (module docstring).

    splits: ``{'train': (images, labels), 'val': ..., 'test': ...}`` with images (N, C, H, W)
        of any numeric dtype (uint8 pixels usually) and labels (N,) integers.
    scale: multiplies the pixels first (1/255 maps uint8 to [0, 1]; 1.0 keeps cs231n's CIFAR-10).
    """
    dtype = check_dtype(dtype)
    data: dict[str, Any] = {}
    for split, (images, labels) in splits.items():
        # astype copies, so the in-place ops below never touch the caller's (or a cached) array
        X = np.asarray(images).astype(dtype)
        if scale != 1.0:
            X *= dtype.type(scale)
        data[f"X_{split}"] = X
        data[f"y_{split}"] = np.asarray(labels).astype(np.int64)
    X_train = data["X_train"]
    if subtract_mean:
        # accumulate in float64: a float32 running sum over 50000 images loses digits
        mean_image = X_train.mean(axis=0, dtype=np.float64).astype(dtype)
        for split in splits:
            data[f"X_{split}"] -= mean_image
    else:
        mean_image = np.zeros(X_train.shape[1:], dtype=dtype)
    data["mean_image"] = mean_image
    data["class_names"] = np.asarray(class_names, dtype=str)
    return data


def last_val_dict(
    train: Pair,
    test: Pair,
    class_names: list[str],
    source: str,
    num_val: int,
    num_train: int | None = None,
    num_test: int | None = None,
    scale: float = 1.0,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """The standard dict with bnlab's split: the last ``num_val`` training rows validate.

    train, test: (images (N, C, H, W), labels (N,)); ``num_train`` / ``num_test`` keep the
    first rows (default: every training row not validating, every test row).
    """
    train_rows, val_rows = split_last(len(train[0]), num_train, num_val, source)
    test_rows = take_first(len(test[0]), num_test, "num_test", f"{source}'s test set")
    splits = select_splits(train, test, train_rows, val_rows, test_rows)
    return standard_dict(splits, class_names, scale, subtract_mean, dtype)


def subsample(data: dict[str, Any], num_train: int, seed: int | None = 0) -> dict[str, Any]:
    """A copy of ``data`` with ``num_train`` training examples drawn without replacement.

    seed: an int draws a random subset (sorted, so the original order is kept); ``None``
        takes the first ``num_train`` (cs231n's ``small_data``).
    The validation and test sets and ``mean_image`` (of the full training set) are shared.
    """
    for key in ("X_train", "y_train"):
        if key not in data:
            raise KeyError(f"data must hold {key!r} (a bnlab data dict); keys: {sorted(data)}")
    X_train, y_train = data["X_train"], data["y_train"]
    if len(y_train) != len(X_train):
        raise ValueError(
            f"y_train must hold one label per row of X_train ({len(X_train)}), got {len(y_train)}"
        )
    num_train = check_count("num_train", num_train, minimum=1)
    if num_train > len(X_train):
        raise ValueError(f"num_train={num_train} exceeds the {len(X_train)} training examples")
    if seed is None:
        rows = np.arange(num_train)
    else:
        rows = np.sort(np.random.default_rng(seed).choice(len(X_train), num_train, replace=False))
    return dict(data, X_train=X_train[rows], y_train=y_train[rows])
