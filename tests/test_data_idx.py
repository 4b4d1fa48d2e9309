"""IDX files, the Fashion-MNIST / MNIST loaders and where they look for their files."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from data_helpers import IDX_NAMES, isolate, write_idx_folder

from bnlab.data import load_fashion_mnist, load_mnist, locate, read_idx
from bnlab.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx_pair, write_idx

# pixels / 255 - mean then + mean, * 255 in float32: a few ulps of 255
PIXEL_ATOL = {np.float32: 1e-4, np.float64: 1e-10}
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    return tmp_path


# --- the IDX format ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"])
def test_idx_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    write_idx(tmp_path / f"a{suffix}", array)
    back = read_idx(tmp_path / f"a{suffix}")
    assert back.shape == (3, 4, 5) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1  # a writable copy, not a view of the file's bytes


def test_gzip_is_detected_by_content_not_name(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "labels.gz", labels)
    (tmp_path / "labels.gz").rename(tmp_path / "labels")
    np.testing.assert_array_equal(read_idx(tmp_path / "labels", LABELS_MAGIC), labels)


def test_bad_magic_names_file_expected_and_actual(tmp_path):
    write_idx(tmp_path / "labels", np.arange(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="bad magic number") as info:
        read_idx(tmp_path / "labels", IMAGES_MAGIC)
    message = str(info.value)
    assert str(tmp_path / "labels") in message and "2051" in message and "2049" in message


def test_not_an_idx_file(tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"hello world, not IDX")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "notes.txt")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_reports_expected_and_actual_size(tmp_path, gz):
    write_idx(tmp_path / "images", np.zeros((4, 28, 28), np.uint8))
    content = (tmp_path / "images").read_bytes()[:-100]  # header + 4*784 - 100 bytes
    path = tmp_path / ("short.gz" if gz else "short")
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match="truncated") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)
    assert (
        "(4, 28, 28)" in str(info.value) and "3136" in str(info.value) and "3036" in str(info.value)
    )


def test_trailing_bytes_and_short_header(tmp_path):
    write_idx(tmp_path / "labels", np.arange(5, dtype=np.uint8))
    path = tmp_path / "labels"
    path.write_bytes(path.read_bytes() + b"\x00\x00")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))  # declares 3 dimensions, has no sizes
    with pytest.raises(ValueError, match="truncated: its header needs 16 bytes"):
        read_idx(path)


def test_damaged_gzip(tmp_path):
    write_idx(tmp_path / "images.gz", np.zeros((40, 28, 28), np.uint8))
    content = (tmp_path / "images.gz").read_bytes()
    (tmp_path / "images.gz").write_bytes(content[: len(content) // 2])
    with pytest.raises(ValueError, match="damaged gzip file") as info:
        read_idx(tmp_path / "images.gz")
    assert str(tmp_path / "images.gz") in str(info.value)


def test_count_mismatch_between_images_and_labels(tmp_path):
    write_idx(tmp_path / "images", np.zeros((6, 28, 28), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="count mismatch") as info:
        read_idx_pair(tmp_path / "images", tmp_path / "labels")
    assert "6 images" in str(info.value) and "5 labels" in str(info.value)


# --- the loaders ---------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fashion_mnist_loads_scaled_centred_and_split(isolated, gz, dtype):
    raw = write_idx_folder(isolated / "fm", num_train=30, num_test=20, gz=gz)
    data = load_fashion_mnist(isolated / "fm", num_val=8, dtype=dtype)
    assert data["X_train"].shape == (22, 1, 28, 28)
    assert data["X_val"].shape == (8, 1, 28, 28) and data["X_test"].shape == (20, 1, 28, 28)
    for split in ("train", "val", "test"):
        assert data[f"X_{split}"].dtype == dtype and data[f"y_{split}"].dtype == np.int64
    assert data["mean_image"].shape == (1, 28, 28) and data["mean_image"].dtype == dtype
    assert data["class_names"][0] == "T-shirt/top" and len(data["class_names"]) == 10
    # the training set is centred, and the last 8 training images validate
    assert np.abs(data["X_train"].mean(axis=0)).max() < PIXEL_ATOL[dtype]
    expected = {"train": raw["train_images"][:22], "val": raw["train_images"][22:]}
    expected["test"] = raw["test_images"]
    for split, pixels in expected.items():
        restored = (data[f"X_{split}"] + data["mean_image"])[:, 0] * 255
        np.testing.assert_allclose(restored, pixels, atol=PIXEL_ATOL[dtype] * 255)
    np.testing.assert_array_equal(data["y_val"], raw["train_labels"][22:])
    np.testing.assert_array_equal(data["y_test"], raw["test_labels"])


def test_no_mean_subtraction_and_row_limits(isolated):
    raw = write_idx_folder(isolated, num_train=30, num_test=20)
    data = load_mnist(isolated, num_val=5, num_train=10, num_test=4, subtract_mean=False)
    assert len(data["X_train"]) == 10 and len(data["X_val"]) == 5 and len(data["X_test"]) == 4
    assert not data["mean_image"].any()
    np.testing.assert_allclose(data["X_val"][:, 0] * 255, raw["train_images"][25:], atol=1e-3)
    assert list(data["class_names"]) == [str(d) for d in range(10)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_val": 31}, ValueError, "leaves no training examples"),
        ({"num_val": 10, "num_train": 25}, ValueError, r"10 = 35 exceeds the 30 training rows"),
        ({"num_val": 5, "num_test": 21}, ValueError, "num_test=21 exceeds the 20 rows"),
        ({"num_val": -1}, ValueError, "num_val must be >= 0, got -1"),
        ({"num_val": 2.5}, TypeError, "num_val must be an int"),
        ({"num_val": 5, "dtype": np.int32}, TypeError, "dtype must be np.float32 or np.float64"),
    ],
)
def test_bad_arguments(isolated, kwargs, error, match):
    write_idx_folder(isolated, num_train=30, num_test=20)
    with pytest.raises(error, match=match):
        load_fashion_mnist(isolated, **kwargs)


def test_label_out_of_range(isolated):
    write_idx_folder(isolated)
    write_idx(isolated / "t10k-labels-idx1-ubyte.gz", np.full(20, 10, np.uint8))
    with pytest.raises(ValueError, match=r"holds label 10; expected 0\.\.9"):
        load_fashion_mnist(isolated, num_val=5)


# --- where the files are looked for -------------------------------------------------------


def test_search_order_env_then_cache_then_system(isolated, monkeypatch):
    def assert_loads(expected):
        X_test = load_fashion_mnist(num_val=5, subtract_mean=False)["X_test"]
        np.testing.assert_allclose(X_test[:, 0] * 255, expected["test_images"], atol=1e-3)

    # each folder written is higher in the search order than the previous one, so it wins
    assert_loads(write_idx_folder(locate.SYSTEM_DATA_DIR / "fashion-mnist", seed=1))
    assert_loads(write_idx_folder(isolated / "home" / ".cache" / "bnlab" / "fashion-mnist", seed=2))
    env = write_idx_folder(isolated / "env" / "fashion-mnist", seed=3)
    monkeypatch.setenv("BNLAB_DATA", str(isolated / "env"))
    assert_loads(env)


def test_not_found_lists_every_place_and_how_to_get_it(isolated, monkeypatch):
    monkeypatch.setenv("BNLAB_DATA", str(isolated / "env"))
    half = isolated / "env"
    half.mkdir()
    write_idx(half / "train-images-idx3-ubyte.gz", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    message = str(info.value)
    for place in (
        half,
        half / "fashion-mnist",
        isolated / "home" / ".cache" / "bnlab" / "fashion-mnist",
        locate.SYSTEM_DATA_DIR / "fashion-mnist",
    ):
        assert str(place) in message
    assert "missing train-labels-idx1-ubyte[.gz]" in message
    assert "apt-get install -y dataset-fashion-mnist" in message
    assert "bnlab data fetch fashion-mnist" in message


def test_explicit_path_is_the_only_place_searched(isolated):
    write_idx_folder(isolated / "home" / ".cache" / "bnlab" / "mnist")
    write_idx_folder(isolated / "root" / "mnist")
    assert load_mnist(isolated / "root", num_val=5)["X_train"].shape[0] == 25  # path/mnist
    with pytest.raises(FileNotFoundError, match="path argument") as info:
        load_mnist(isolated / "elsewhere")
    assert "download cache" not in str(info.value) and "$BNLAB_DATA" not in str(info.value)


def test_every_idx_name_is_looked_for():
    assert set(IDX_NAMES.values()) == set(locate.IDX_STEMS)


@pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_real_debian_fashion_mnist():
    data = load_fashion_mnist(DEBIAN_FASHION_MNIST, num_test=2000)
    assert data["X_train"].shape == (55000, 1, 28, 28)
    assert data["X_val"].shape == (5000, 1, 28, 28) and data["X_test"].shape == (2000, 1, 28, 28)
    assert np.bincount(data["y_train"], minlength=10).min() > 5000
    pixels = (data["X_train"][:100] + data["mean_image"]) * 255
    assert pixels.min() > -1e-3 and pixels.max() < 255 + 1e-3 and pixels.max() > 250
