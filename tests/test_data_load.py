"""load_dataset, the shared preprocessing and subsample."""

import numpy as np
import pytest
from data_helpers import isolate, write_cifar_folder, write_idx_folder

from bnlab.data import LOADERS, load_dataset, subsample
from bnlab.data.preprocess import standard_dict


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    return tmp_path


def test_every_name_loads_the_standard_dict(isolated):
    write_idx_folder(isolated / "fashion-mnist")
    write_idx_folder(isolated / "mnist")
    write_cifar_folder(isolated, rows_per_batch=4)
    keys = {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test", "mean_image", "class_names"}
    shapes = {"cifar10": (3, 32, 32), "synthetic": (3, 32, 32)}
    for name in LOADERS:
        path = isolated if name in ("fashion-mnist", "mnist", "cifar10") else None
        sizes = {"num_val": 5, "num_train": 3} if name != "synthetic" else {"num_train": 3}
        data = load_dataset(name, path=path, dtype=np.float64, **sizes)
        assert set(data) == keys, name
        assert data["X_train"].shape == (3, *shapes.get(name, (1, 28, 28))), name
        assert data["X_val"].dtype == np.float64, name


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'") as info:
        load_dataset("cifar")
    assert "bundled, fashion-mnist, mnist, cifar10, synthetic" in str(info.value)


@pytest.mark.parametrize("name", ["bundled", "synthetic"])
def test_path_is_refused_where_no_file_is_read(name, tmp_path):
    with pytest.raises(ValueError, match=f"dataset '{name}' is not read from files"):
        load_dataset(name, path=tmp_path)


def test_standard_dict_centres_on_the_training_mean_only():
    images = np.arange(2 * 1 * 2 * 2, dtype=np.uint8).reshape(2, 1, 2, 2)
    splits = {"train": (images, [0, 1]), "test": (images[:1] + 100, [1])}
    data = standard_dict(splits, ["a", "b"], scale=0.5, dtype=np.float64)
    np.testing.assert_array_equal(data["mean_image"], images.mean(axis=0) * 0.5)
    np.testing.assert_array_equal(data["X_test"], (images[:1] + 100) * 0.5 - data["mean_image"])
    assert images[0, 0, 0, 0] == 0  # the caller's array is untouched


def test_subsample_draws_without_replacement_and_shares_the_rest():
    data = {
        "X_train": np.arange(40.0).reshape(20, 2),
        "y_train": np.arange(20),
        "X_val": np.zeros((3, 2)),
    }
    small = subsample(data, 8, seed=1)
    assert small["X_train"].shape == (8, 2) and len(np.unique(small["y_train"])) == 8
    np.testing.assert_array_equal(small["X_train"][:, 0], small["y_train"] * 2.0)  # rows paired
    assert small["X_val"] is data["X_val"] and len(data["X_train"]) == 20
    np.testing.assert_array_equal(subsample(data, 8, seed=1)["y_train"], small["y_train"])
    np.testing.assert_array_equal(subsample(data, 5, seed=None)["y_train"], np.arange(5))


@pytest.mark.parametrize(
    ("num_train", "data", "error", "match"),
    [
        (21, None, ValueError, "num_train=21 exceeds the 20 training examples"),
        (0, None, ValueError, "num_train must be >= 1"),
        (5, {"X_train": np.zeros((20, 2))}, KeyError, "must hold 'y_train'"),
        (
            5,
            {"X_train": np.zeros((20, 2)), "y_train": np.zeros(19)},
            ValueError,
            "one label per row",
        ),
    ],
)
def test_subsample_bad_arguments(num_train, data, error, match):
    data = data or {"X_train": np.zeros((20, 2)), "y_train": np.zeros(20, np.int64)}
    with pytest.raises(error, match=match):
        subsample(data, num_train)
