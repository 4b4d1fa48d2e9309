"""The small real Fashion-MNIST subset shipped inside bnlab: data with no download.

``_bundled/fashion_mnist_subset.npz`` holds uint8 arrays made by
``scripts/make_bundled_subset.py`` (fixed seed) from the official IDX files:

    X_train: (7500, 28, 28), y_train: (7500,)  750 per class from the 60000 training images;
                                               the last 1000 rows are 100 per class
    X_test:  (1500, 28, 28), y_test:  (1500,)  150 per class from the 10000 test images

Fashion-MNIST is MIT-licensed, Copyright (c) 2017 Zalando SE: see ``_bundled/LICENSE``.
"""

from __future__ import annotations

import zipfile
import zlib
from importlib import resources
from typing import Any

import numpy as np

from bnlab.data.fashion_mnist import FASHION_MNIST_CLASSES, PIXEL_SCALE
from bnlab.data.preprocess import last_val_dict

BUNDLED_FILE = "fashion_mnist_subset.npz"
SUBSET_KEYS = ("X_train", "y_train", "X_test", "y_test")


def read_bundled() -> dict[str, np.ndarray]:
    """The raw uint8 arrays of the bundled subset (see the module docstring)."""
    resource = resources.files("bnlab.data") / "_bundled" / BUNDLED_FILE
    with resources.as_file(resource) as path:
        repair = "reinstall bnlab or regenerate it with scripts/make_bundled_subset.py"
        if not path.is_file():
            raise FileNotFoundError(
                f"the bundled Fashion-MNIST subset {path} is missing from this bnlab install; "
                + repair
            )
        try:
            # allow_pickle=False: a damaged file must not run code; its error names pickles
            with np.load(path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
            # NumPy's ValueError here suggests allow_pickle=True: not advice to pass on
            reason = "not an .npz archive" if type(error) is ValueError else repr(error)
            raise ValueError(
                f"the bundled Fashion-MNIST subset {path} is damaged ({reason}); {repair}"
            ) from None
    missing = [key for key in SUBSET_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"the bundled Fashion-MNIST subset {path} lacks {', '.join(missing)}; {repair}"
        )
    return arrays


def load_bundled(
    num_val: int = 1000,
    num_train: int | None = None,
    num_test: int | None = None,
    subtract_mean: bool = True,
    dtype: Any = np.float32,
) -> dict[str, Any]:
    """X = pixels / 255 - mean(train); the bundled Fashion-MNIST subset as the standard dict.

    num_val: the last ``num_val`` bundled training images validate (default 1000, which are
        exactly 100 per class), leaving 6500 to train; ``num_train`` / ``num_test`` keep the
        first rows (default: all).
    Returns X_*: (N, 1, 28, 28) ``dtype``; y_*: (N,) int64; ``mean_image``: (1, 28, 28).
    """
    raw = read_bundled()
    train = (raw["X_train"][:, None], raw["y_train"])  # (N, 28, 28) -> (N, 1, 28, 28)
    test = (raw["X_test"][:, None], raw["y_test"])
    sizes = (num_val, num_train, num_test)
    source = "the bundled Fashion-MNIST subset"
    classes = FASHION_MNIST_CLASSES
    return last_val_dict(train, test, classes, source, *sizes, PIXEL_SCALE, subtract_mean, dtype)
