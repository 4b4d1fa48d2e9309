"""Make bnlab's bundled Fashion-MNIST subset from the official IDX files, reproducibly.

    python scripts/make_bundled_subset.py [--source DIR] [--out DIR] [--seed 0]

Picks, with a fixed seed, 750 training images per class (650 then 100 per class, so the last
1000 rows make a stratified validation set) and 150 test images per class, and writes
``fashion_mnist_subset.npz`` (uint8 arrays, deflate level 9, fixed zip timestamps so the same
input gives the same bytes) and the MIT ``LICENSE`` notice next to it.
"""

from __future__ import annotations

import argparse
import io
import itertools
import zipfile
from pathlib import Path

import numpy as np

from bnlab.data.bundled import BUNDLED_FILE
from bnlab.data.fashion_mnist import read_idx_dataset

OUT_DIR = Path(__file__).resolve().parent.parent / "bnlab" / "data" / "_bundled"
TRAIN_PER_CLASS, VAL_PER_CLASS, TEST_PER_CLASS = 650, 100, 150
MAX_BYTES = 4_000_000

LICENSE_TEXT = """\
The files in this folder are a subset of Fashion-MNIST
(https://github.com/zalandoresearch/fashion-mnist): 9000 of its images and labels, chosen by
scripts/make_bundled_subset.py. Fashion-MNIST is distributed under the MIT License:

The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def stratified_rows(
    labels: np.ndarray, counts: tuple[int, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Disjoint row sets, ``counts[k]`` rows of every class in set k, each set shuffled."""
    picked = [
        rng.choice(np.flatnonzero(labels == c), sum(counts), replace=False)
        for c in range(int(labels.max()) + 1)
    ]  # (classes, sum(counts)) row numbers
    bounds = np.cumsum((0, *counts))
    return [
        rng.permutation(np.concatenate([rows[start:stop] for rows in picked]))
        for start, stop in itertools.pairwise(bounds)
    ]


def make_subset(source: Path | None, seed: int = 0) -> dict[str, np.ndarray]:
    """The subset's uint8 arrays: X_train (7500, 28, 28), y_train, X_test (1500, 28, 28), y_test."""
    (X, y), (X_test, y_test) = read_idx_dataset("fashion-mnist", source)
    X, X_test = X[:, 0], X_test[:, 0]  # (N, 1, 28, 28) -> (N, 28, 28)
    rng = np.random.default_rng(seed)
    train_rows, val_rows = stratified_rows(y, (TRAIN_PER_CLASS, VAL_PER_CLASS), rng)
    (test_rows,) = stratified_rows(y_test, (TEST_PER_CLASS,), rng)
    rows = np.concatenate([train_rows, val_rows])  # validation rows last
    return {
        "X_train": X[rows],
        "y_train": y[rows],
        "X_test": X_test[test_rows],
        "y_test": y_test[test_rows],
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that ``np.load`` reads, byte-identical for identical arrays (fixed timestamps)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, npy.getvalue(), zipfile.ZIP_DEFLATED, compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=None, help="folder with the IDX files (default: search)"
    )
    parser.add_argument("--out", default=str(OUT_DIR), help=f"output folder (default: {OUT_DIR})")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = make_subset(args.source, args.seed)
    write_npz(out / BUNDLED_FILE, arrays)
    (out / "LICENSE").write_text(LICENSE_TEXT)
    total = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    for name, array in arrays.items():
        print(f"{name}: {array.shape} {array.dtype}")
    print(f"wrote {out / BUNDLED_FILE} and LICENSE: {total} bytes in total")
    if total > MAX_BYTES:
        print(f"error: the bundled data exceeds {MAX_BYTES} bytes")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
