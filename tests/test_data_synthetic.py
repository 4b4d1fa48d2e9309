"""Synthetic image classes and the study notes' y = x^2 regression data."""

import numpy as np
import pytest

from bnlab.data import make_regression_data, make_synthetic_images

# float32 noise widened to float64 vs computed in float32: mean subtraction rounds differently
WIDEN_ATOL = 1e-5


def nearest_mean_accuracy(data):
    """Accuracy on X_val of the classifier 'closest training class mean': learnable => high."""
    X = data["X_train"].reshape(len(data["X_train"]), -1)  # (N, C*H*W)
    means = np.stack([X[data["y_train"] == c].mean(axis=0) for c in range(10)])
    X_val = data["X_val"].reshape(len(data["X_val"]), -1)
    distances = ((X_val[:, None, :] - means[None]) ** 2).sum(axis=2)  # (N_val, classes)
    return (distances.argmin(axis=1) == data["y_val"]).mean()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_synthetic_images_shapes_and_dtypes(dtype):
    data = make_synthetic_images(50, 20, 10, dtype=dtype)
    for split, n in (("train", 50), ("val", 20), ("test", 10)):
        assert data[f"X_{split}"].shape == (n, 3, 32, 32) and data[f"X_{split}"].dtype == dtype
        assert data[f"y_{split}"].dtype == np.int64
        assert data[f"y_{split}"].min() >= 0 and data[f"y_{split}"].max() < 10
    assert data["mean_image"].shape == (3, 32, 32) and len(data["class_names"]) == 10


def test_synthetic_images_are_learnable():
    data = make_synthetic_images(300, 200, 10, noise=2.0)
    assert nearest_mean_accuracy(data) > 0.9
    # and the task is not trivial: with much more noise the same classifier falls back
    assert nearest_mean_accuracy(make_synthetic_images(300, 200, 10, noise=40.0)) < 0.7


def test_synthetic_images_deterministic_per_seed_and_dtype_independent():
    a, b = make_synthetic_images(20, 5, 5, seed=3), make_synthetic_images(20, 5, 5, seed=3)
    other = make_synthetic_images(20, 5, 5, seed=4)
    wide = make_synthetic_images(20, 5, 5, seed=3, dtype=np.float64)
    for key in ("X_train", "y_train", "X_test"):
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.array_equal(a[key], other[key])
        np.testing.assert_allclose(wide[key], a[key], atol=WIDEN_ATOL)


def test_synthetic_custom_shape_and_classes():
    data = make_synthetic_images(30, 0, 4, image_shape=(1, 7, 9), num_classes=3, seed=1)
    assert data["X_train"].shape == (30, 1, 7, 9) and data["X_val"].shape == (0, 1, 7, 9)
    assert data["y_train"].max() == 2 and list(data["class_names"]) == [
        "class 0",
        "class 1",
        "class 2",
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_train": 0}, ValueError, "num_train must be >= 1, got 0"),
        ({"num_val": -2}, ValueError, "num_val must be >= 0, got -2"),
        ({"num_classes": 1}, ValueError, "num_classes must be >= 2"),
        ({"image_shape": (32, 32)}, ValueError, r"image_shape must be \(C, H, W\)"),
        ({"noise": -1.0}, ValueError, "noise must be >= 0"),
        ({"dtype": np.float16}, TypeError, "dtype must be np.float32 or np.float64"),
    ],
)
def test_synthetic_bad_arguments(kwargs, error, match):
    args = {"num_train": 10, "num_val": 2, "num_test": 2, **kwargs}
    with pytest.raises(error, match=match):
        make_synthetic_images(**args)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_data_is_x_squared_plus_noise(dtype):
    data = make_regression_data(
        low=-5.0, high=5.0, noise=1.0, num_train=1000, num_val=50, dtype=dtype
    )
    for split, n in (("train", 1000), ("val", 50), ("test", 100)):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        assert X.shape == (n, 1) and y.shape == (n,) and X.dtype == dtype and y.dtype == dtype
    np.testing.assert_allclose(data["X_train"][:, 0], np.linspace(-5, 5, 1000), rtol=1e-6)
    np.testing.assert_allclose(data["X_test"][:, 0], np.linspace(-5, 5, 100), rtol=1e-6)
    x_val = data["X_val"][:, 0]
    assert x_val.min() >= -5 and x_val.max() <= 5 and np.all(np.diff(x_val) >= 0)
    residual = data["y_train"] - data["X_train"][:, 0] ** 2
    # 1000 N(0, 1) draws: mean within 4 standard errors of 0, std within 10% of 1
    assert abs(residual.mean()) < 4 / np.sqrt(1000) and 0.9 < residual.std() < 1.1


def test_regression_data_deterministic_per_seed():
    a, b, c = (make_regression_data(seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a["y_train"], b["y_train"])
    np.testing.assert_array_equal(a["X_val"], b["X_val"])
    assert not np.array_equal(a["y_train"], c["y_train"])
    assert set(a) == {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"low": 1.0, "high": 1.0}, "low must be < high, got low=1.0, high=1.0"),
        ({"noise": -0.1}, "noise must be >= 0"),
        ({"num_test": 0}, "num_test must be >= 1"),
    ],
)
def test_regression_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_regression_data(**kwargs)
