"""The Fashion-MNIST subset shipped inside bnlab, and the script that makes it."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import bnlab.data
from bnlab.data import load_bundled, load_dataset
from bnlab.data.bundled import BUNDLED_FILE, read_bundled

BUNDLED_DIR = Path(bnlab.data.__file__).parent / "_bundled"
MAX_BUNDLED_BYTES = 4_000_000  # the budget for the package's data
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "make_bundled_subset.py"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def test_bundled_files_fit_the_budget_and_carry_the_licence():
    files = sorted(p.name for p in BUNDLED_DIR.iterdir() if p.is_file())
    assert files == ["LICENSE", BUNDLED_FILE]
    total = sum(p.stat().st_size for p in BUNDLED_DIR.iterdir() if p.is_file())
    assert total <= MAX_BUNDLED_BYTES, f"bundled data is {total} bytes"
    licence = (BUNDLED_DIR / "LICENSE").read_text()
    assert "Copyright (c) 2017 Zalando SE" in licence and "MIT License" in licence


def test_raw_subset_is_stratified_uint8():
    raw = read_bundled()
    assert raw["X_train"].shape == (7500, 28, 28) and raw["X_test"].shape == (1500, 28, 28)
    assert raw["X_train"].dtype == np.uint8 and raw["X_train"].max() == 255
    np.testing.assert_array_equal(np.bincount(raw["y_train"]), np.full(10, 750))
    np.testing.assert_array_equal(np.bincount(raw["y_train"][-1000:]), np.full(10, 100))
    np.testing.assert_array_equal(np.bincount(raw["y_test"]), np.full(10, 150))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_load_bundled_standard_dict(dtype):
    data = load_bundled(dtype=dtype)
    sizes = {"train": 6500, "val": 1000, "test": 1500}
    for split, n in sizes.items():
        assert data[f"X_{split}"].shape == (n, 1, 28, 28)
        assert data[f"X_{split}"].dtype == dtype and data[f"y_{split}"].dtype == np.int64
        assert set(np.unique(data[f"y_{split}"])) == set(range(10))
    assert data["mean_image"].shape == (1, 28, 28) and data["mean_image"].dtype == dtype
    restored = data["X_test"] + data["mean_image"]  # pixels / 255 again
    assert restored.min() > -1e-6 and restored.max() < 1 + 1e-6
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0, atol=1e-6)
    assert data["class_names"][9] == "Ankle boot"


def test_load_dataset_defaults_to_bundled():
    data = load_dataset(num_val=500, num_train=100)
    assert data["X_train"].shape == (100, 1, 28, 28) and len(data["X_val"]) == 500


def load_script():
    spec = importlib.util.spec_from_file_location("make_bundled_subset", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_script_reproduces_the_shipped_subset():
    script = load_script()
    fresh, shipped = script.make_subset(DEBIAN_FASHION_MNIST, seed=0), read_bundled()
    assert sorted(fresh) == sorted(shipped)
    for key in fresh:
        np.testing.assert_array_equal(fresh[key], shipped[key], err_msg=key)
    assert script.LICENSE_TEXT == (BUNDLED_DIR / "LICENSE").read_text()


def test_script_writes_byte_identical_npz(tmp_path):
    script = load_script()
    arrays = {"X_train": np.arange(300, dtype=np.uint8).reshape(3, 10, 10), "y_train": np.ones(3)}
    script.write_npz(tmp_path / "a.npz", arrays)
    script.write_npz(tmp_path / "b.npz", arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as back:
        np.testing.assert_array_equal(back["X_train"], arrays["X_train"])
