"""CIFAR-10 from small ``cifar-10-batches-py`` folders in the real pickle format."""

import os
import pickle

import numpy as np
import pytest
from data_helpers import isolate, write_cifar_folder

from bnlab.data import get_CIFAR10_data, load_CIFAR10, load_cifar10, load_CIFAR_batch
from bnlab.data.cifar10 import read_cifar_batch

ROWS = 7  # per batch: nothing may assume CIFAR-10's 10000
# 0..255 pixels minus a mean, in float32: a few ulps of 255
PIXEL_ATOL = {np.float32: 1e-4 * 255, np.float64: 1e-10}


@pytest.fixture(params=[False, True], ids=["bytes-keys", "str-keys"])
def cifar_dir(request, monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    return write_cifar_folder(tmp_path / "data", ROWS, str_keys=request.param)


def raw_batches(folder):
    """Every batch re-read the plain way: (N, 3072) uint8 data and labels, by file name."""
    out = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        out[name] = (batch["data"], np.array(batch["labels"]))
    return out


def test_batch_layout_is_channels_then_rows(cifar_dir):
    X, Y = read_cifar_batch(cifar_dir / "data_batch_2")
    data, labels = raw_batches(cifar_dir)["data_batch_2"]
    assert X.shape == (ROWS, 3, 32, 32) and X.dtype == np.uint8 and Y.dtype == np.int64
    # row r: 1024 red values (32 rows of 32), then green, then blue
    assert X[3, 1, 2, 5] == data[3, 1024 + 2 * 32 + 5]
    np.testing.assert_array_equal(Y, labels)


def test_cs231n_load_CIFAR10(cifar_dir):
    Xtr, Ytr, Xte, Yte = load_CIFAR10(cifar_dir)
    raw = raw_batches(cifar_dir)
    assert Xtr.shape == (5 * ROWS, 32, 32, 3) and Xte.shape == (ROWS, 32, 32, 3)
    assert Xtr.dtype == np.float64 and Ytr.dtype == np.int64
    expected = raw["data_batch_1"][0].reshape(ROWS, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(Xtr[:ROWS], expected)
    np.testing.assert_array_equal(
        Ytr, np.concatenate([raw[f"data_batch_{i}"][1] for i in range(1, 6)])
    )
    X1, Y1 = load_CIFAR_batch(cifar_dir / "test_batch")
    np.testing.assert_array_equal(X1, Xte)
    np.testing.assert_array_equal(Y1, Yte)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_get_CIFAR10_data_cs231n_split_and_mean(cifar_dir, dtype):
    Xtr, Ytr, Xte, Yte = load_CIFAR10(cifar_dir)
    data = get_CIFAR10_data(20, 6, 4, cifar10_dir=cifar_dir, dtype=dtype)
    # cs231n: train = rows [0, 20), val = rows [20, 26), test = the first 4 test rows
    expected = {"train": (Xtr[:20], Ytr[:20]), "val": (Xtr[20:26], Ytr[20:26])}
    expected["test"] = (Xte[:4], Yte[:4])
    mean = Xtr[:20].mean(axis=0)  # (32, 32, 3), cs231n's mean image
    for split, (X, y) in expected.items():
        ours = data[f"X_{split}"]
        assert ours.dtype == dtype and ours.shape == (len(X), 3, 32, 32)
        np.testing.assert_allclose(ours.transpose(0, 2, 3, 1), X - mean, atol=PIXEL_ATOL[dtype])
        np.testing.assert_array_equal(data[f"y_{split}"], y)
    np.testing.assert_allclose(data["mean_image"], mean.transpose(2, 0, 1), atol=PIXEL_ATOL[dtype])
    assert list(data["class_names"]) == [f"name{c}" for c in range(10)]  # from batches.meta


def test_load_cifar10_validates_on_the_last_rows(cifar_dir):
    data = load_cifar10(cifar_dir.parent, num_val=5, subtract_mean=False)  # the parent works too
    Xtr = load_CIFAR10(cifar_dir)[0]
    assert len(data["X_train"]) == 5 * ROWS - 5
    np.testing.assert_array_equal(data["X_val"].transpose(0, 2, 3, 1), Xtr[-5:])


def test_get_CIFAR10_data_too_many_rows(cifar_dir):
    with pytest.raises(ValueError, match=f"= 41 exceeds the {5 * ROWS} CIFAR-10 training images"):
        get_CIFAR10_data(40, 1, 1, cifar10_dir=cifar_dir)
    with pytest.raises(ValueError, match="num_test=8 exceeds the 7 rows"):
        get_CIFAR10_data(10, 1, 8, cifar10_dir=cifar_dir)


def test_missing_meta_falls_back_to_the_standard_names(cifar_dir):
    os.remove(cifar_dir / "batches.meta")
    assert list(load_cifar10(cifar_dir, num_val=2)["class_names"][:2]) == ["airplane", "automobile"]


def test_missing_batch_is_named(cifar_dir):
    os.remove(cifar_dir / "data_batch_3")
    with pytest.raises(FileNotFoundError, match="missing data_batch_3") as info:
        load_CIFAR10(cifar_dir)
    assert "bnlab data fetch cifar10" in str(info.value)
    with pytest.raises(FileNotFoundError, match="data_batch_3 is missing"):
        load_CIFAR_batch(cifar_dir / "data_batch_3")


def test_missing_folder(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError, match="CIFAR-10 not found") as info:
        load_CIFAR10(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in str(info.value)
    with pytest.raises(FileNotFoundError, match="no folder"):
        load_CIFAR_batch(tmp_path / "nowhere" / "data_batch_1")


def test_truncated_pickle(cifar_dir):
    path = cifar_dir / "data_batch_4"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="not a readable CIFAR-10 pickle") as info:
        load_CIFAR10(cifar_dir)
    assert str(path) in str(info.value)


def test_a_pickle_that_runs_code_is_refused(cifar_dir, tmp_path):
    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    (cifar_dir / "test_batch").write_bytes(pickle.dumps({"data": Exploit()}))
    with pytest.raises(ValueError, match=r"refusing to load (posix|os)\.system"):
        load_CIFAR_batch(cifar_dir / "test_batch")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        ({"data": np.zeros((3, 3072), np.uint8), "labels": [1, 2]}, "count mismatch"),
        ({"data": np.zeros((3, 100), np.uint8), "labels": [1, 2, 3]}, r"shape \(N, 3072\)"),
        ({"data": np.zeros((2, 3072), np.float32), "labels": [1, 2]}, "must be uint8"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 10]}, "labels must be in 0..9"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [1, "cat"]}, "must be integers"),
        ({"labels": [1, 2]}, "no 'data' entry"),
        ([1, 2, 3], "holds a list"),
    ],
)
def test_malformed_batch(cifar_dir, batch, match):
    (cifar_dir / "data_batch_1").write_bytes(pickle.dumps(batch))
    with pytest.raises(ValueError, match=match) as info:
        load_CIFAR_batch(cifar_dir / "data_batch_1")
    assert str(cifar_dir / "data_batch_1") in str(info.value)


def test_get_cifar10_data_values_all_have_a_shape(cifar_dir):
    """cs231n's first data cell prints ``v.shape`` for every value of the dict."""
    data = get_CIFAR10_data(num_training=8, num_validation=2, num_test=2, cifar10_dir=cifar_dir)
    for key, value in data.items():
        assert isinstance(value.shape, tuple), key
