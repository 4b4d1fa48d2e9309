"""Damaged data files: each error names the file and says how to get a good one again.

Every test writes its damaged file itself, under tmp_path.
"""

from pathlib import Path

import numpy as np
import pytest
from data_helpers import IDX_NAMES, isolate, write_idx_folder

import bnlab.data.bundled as bundled_module
from bnlab.data import load_bundled, load_fashion_mnist, read_idx
from bnlab.data.bundled import BUNDLED_FILE
from bnlab.data.idx import write_idx


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    return tmp_path


def idx_header(type_code: int, shape: tuple[int, ...]) -> bytes:
    """The IDX header of an array of ``shape`` (see bnlab.data.idx), with no data after it."""
    return bytes([0, 0, type_code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


# --- the bundled subset ------------------------------------------------------------------------


def shipped_bytes() -> bytes:
    return (Path(bundled_module.__file__).parent / "_bundled" / BUNDLED_FILE).read_bytes()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda good: good[: len(good) // 2], id="truncated"),
        pytest.param(lambda good: np.random.default_rng(0).bytes(1000), id="random-bytes"),
        pytest.param(lambda good: b"", id="empty"),
    ],
)
def test_damaged_bundled_subset_names_the_file_and_says_reinstall(tmp_path, monkeypatch, damage):
    damaged = tmp_path / "fashion_mnist_subset.npz"
    damaged.write_bytes(damage(shipped_bytes()))
    # an absolute name: the package folder / an absolute path is that path (pathlib's rule)
    monkeypatch.setattr(bundled_module, "BUNDLED_FILE", str(damaged))
    with pytest.raises(ValueError, match="bundled Fashion-MNIST subset") as info:
        load_bundled()
    message = str(info.value)
    assert str(damaged) in message and "is damaged" in message and "reinstall bnlab" in message
    assert "allow_pickle" not in message  # NumPy's advice to load it unsafely is not ours


def test_bundled_subset_without_its_arrays(tmp_path, monkeypatch):
    damaged = tmp_path / "subset.npz"
    np.savez(damaged, X_train=np.zeros((2, 28, 28), np.uint8))
    monkeypatch.setattr(bundled_module, "BUNDLED_FILE", str(damaged))
    with pytest.raises(ValueError, match="lacks y_train, X_test, y_test; reinstall bnlab"):
        load_bundled()


# --- IDX files ---------------------------------------------------------------------------------


def test_train_and_test_images_of_different_sizes(isolated):
    folder = isolated / "fashion-mnist"
    write_idx_folder(folder, num_train=20, num_test=10)
    train_images = folder / (IDX_NAMES["train_images"] + ".gz")
    write_idx(train_images, np.zeros((20, 32, 32), np.uint8))  # 32x32 beside 28x28 test images
    with pytest.raises(ValueError, match=r"holds 32x32 images but .* holds 28x28") as info:
        load_fashion_mnist(isolated, num_val=5)
    message = str(info.value)
    assert str(train_images) in message and str(folder / IDX_NAMES["test_images"]) in message
    assert f"bnlab data fetch fashion-mnist --dir {isolated}" in message


def test_overflowing_4d_header_reports_the_true_size(tmp_path):
    path = tmp_path / "four-d.idx"
    # 65536**4 elements = 2**64 bytes: wraps to 0 in int64, which matched an empty body
    path.write_bytes(idx_header(0x08, (65536,) * 4))
    with pytest.raises(ValueError, match="is truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value) and f"{2**64} bytes of data" in str(info.value)


def test_oversized_header_in_a_dataset_says_how_to_get_it_again(isolated):
    folder = isolated / "fashion-mnist"
    write_idx_folder(folder, num_train=20, num_test=10)
    (folder / (IDX_NAMES["test_images"] + ".gz")).unlink()
    images = folder / IDX_NAMES["test_images"]  # stored uncompressed
    # uint8 images, 2**31 x 2**31 x 28: 28 * 2**62 bytes, more than int64 holds
    images.write_bytes(idx_header(0x08, (2**31, 2**31, 28)))
    with pytest.raises(ValueError, match="is truncated") as info:
        load_fashion_mnist(isolated, num_val=5)
    message = str(info.value)
    assert f"i.e. {28 * 2**62} bytes of data" in message and str(images) in message
    assert f"To repair {folder}: download Fashion-MNIST again: bnlab data fetch" in message


def test_damaged_debian_copy_says_reinstall_the_package(isolated):
    system = isolated / "system" / "fashion-mnist"  # isolate() points the system folder here
    write_idx_folder(system, num_train=20, num_test=10)
    (system / (IDX_NAMES["train_labels"] + ".gz")).write_bytes(b"\x1f\x8b damaged gzip")
    with pytest.raises(ValueError, match="damaged gzip") as info:
        load_fashion_mnist(num_val=5)
    assert "apt-get install --reinstall dataset-fashion-mnist" in str(info.value)
