"""Synthetic data made on the spot: CIFAR-shaped image classes and the study notes' x^2 regression.

Both are deterministic per seed (an explicit ``np.random.default_rng(seed)``, no global state).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnlab.data.preprocess import check_count, check_dtype, select_splits, standard_dict


def make_synthetic_images(
    num_train: int,
    num_val: int,
    num_test: int,
    image_shape: tuple[int, ...] = (3, 32, 32),
    num_classes: int = 10,
    seed: int = 0,
    dtype: Any = np.float32,
    noise: float = 1.0,
    subtract_mean: bool = True,
) -> dict[str, Any]:
    """x = template[y] + noise * N(0, 1); a learnable image classification task, standard dict.

    Each class has a fixed random template image with N(0, 1) pixels, smooth at the scale of
    4x4 pixel blocks so it looks like a blurry picture; an example is its class's template plus
    independent Gaussian pixel noise. Labels are uniform over ``num_classes``.
    image_shape: (C, H, W); noise: the noise's standard deviation (larger is harder).
    Returns X_*: (N, C, H, W) ``dtype``; y_*: (N,) int64; ``mean_image``: (C, H, W);
    ``class_names``: 'class 0', 'class 1', ...
    The values do not depend on ``dtype``: float64 data is the float32 data, widened.
    """
    dtype = check_dtype(dtype)
    counts = [
        check_count("num_train", num_train, 1),
        check_count("num_val", num_val),
        check_count("num_test", num_test),
    ]
    num_classes = check_count("num_classes", num_classes, 2)
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (C, H, W) of positive sizes, got {image_shape}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    C, H, W = image_shape
    coarse = rng.standard_normal((num_classes, C, -(-H // 4), -(-W // 4)))  # ceil(H/4), ceil(W/4)
    templates = coarse.repeat(4, axis=2).repeat(4, axis=3)[:, :, :H, :W]  # (classes, C, H, W)
    total = sum(counts)
    y = rng.integers(num_classes, size=total)
    # noise drawn in float32 for both dtypes, so float64 data equals float32 data widened
    X = rng.standard_normal((total, C, H, W), dtype=np.float32).astype(dtype, copy=False)
    X *= dtype.type(noise)
    for c, template in enumerate(templates.astype(dtype)):
        X[y == c] += template  # per class: a temporary of one class's rows, not of all of X
    train_rows = slice(0, counts[0])
    val_rows = slice(counts[0], counts[0] + counts[1])
    test_rows = slice(counts[0] + counts[1], total)
    splits = select_splits((X, y), (X, y), train_rows, val_rows, test_rows)
    class_names = [f"class {c}" for c in range(num_classes)]
    return standard_dict(splits, class_names, 1.0, subtract_mean, dtype)


def make_regression_data(
    low: float = -1.0,
    high: float = 1.0,
    noise: float = 0.1,
    num_train: int = 1000,
    num_val: int = 200,
    num_test: int = 100,
    seed: int = 0,
    dtype: Any = np.float32,
) -> dict[str, np.ndarray]:
    """y = x^2 + N(0, noise^2); the regression task of seeds 000 and 002.

    As in the study notes, training inputs are ``linspace(low, high, num_train)`` and test inputs
    ``linspace(low, high, num_test)``; validation inputs are drawn uniformly from [low, high]
    and sorted (so a fitted curve plots directly). The study notes used (-1, 1, noise 0.1), where
    tanh units stay in their sensitive range, and (-5, 5, noise 1), where they saturate.
    Returns X_train, X_val, X_test: (N, 1) ``dtype``; y_train, y_val, y_test: (N,) ``dtype``.
    """
    dtype = check_dtype(dtype)
    num_train = check_count("num_train", num_train, 1)
    num_val = check_count("num_val", num_val)
    num_test = check_count("num_test", num_test, 1)
    if not low < high:
        raise ValueError(f"low must be < high, got low={low}, high={high}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    inputs = {
        "train": np.linspace(low, high, num_train),
        "val": np.sort(rng.uniform(low, high, num_val)),
        "test": np.linspace(low, high, num_test),
    }
    data = {}
    for split, x in inputs.items():
        y = np.square(x) + rng.normal(0.0, noise, x.shape)
        data[f"X_{split}"] = x[:, None].astype(dtype)  # (N,) -> (N, 1): one input feature
        data[f"y_{split}"] = y.astype(dtype)
    return data
