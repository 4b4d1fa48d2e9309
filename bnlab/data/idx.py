"""The IDX file format of MNIST and Fashion-MNIST, gzipped or not.

An IDX file is a big-endian header followed by the raw array::

    bytes 0-1   zero
    byte  2     element type (0x08 = uint8, ...)
    byte  3     number of dimensions, ndim
    ndim x 4    each dimension's size, big-endian uint32
    ...         prod(sizes) elements, row-major

so the "magic number" (bytes 0-3 as one big-endian int) is 2051 (0x00000803) for uint8
images (N, rows, cols) and 2049 (0x00000801) for uint8 labels (N,).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
LABELS_MAGIC = 0x00000801  # uint8, 1 dimension

# element type byte -> numpy dtype (big-endian, as the format stores it)
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped if it is a gzip file (decided by its first bytes, not name)."""
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(
            f"{path} is a damaged gzip file ({error}); delete it and get the data again"
        ) from None


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """array = the IDX file at ``path`` (gzipped or raw), with every size checked.

    expected_magic: if given, the file's magic number must equal it (``IMAGES_MAGIC``,
        ``LABELS_MAGIC``); a mismatch names the file, the expected and the actual value.
    Returns an ndarray of the stored shape, native byte order (uint8 for (Fashion-)MNIST).
    """
    path = Path(path)
    content = _read_bytes(path)
    if len(content) < 4:
        raise ValueError(f"{path} is not an IDX file: {len(content)} bytes, shorter than a header")
    magic = int.from_bytes(content[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"bad magic number in {path}: expected {expected_magic} ({expected_magic:#010x}), "
            f"got {magic} ({magic:#010x}); is it the right file?"
        )
    type_code, ndim = content[2], content[3]
    if content[:2] != b"\x00\x00" or type_code not in IDX_DTYPES or ndim == 0:
        raise ValueError(f"{path} is not an IDX file: bad magic number {magic:#010x}")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"{path} is truncated: its header needs {header_size} bytes, the file has {len(content)}"
        )
    shape = tuple(
        int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )  # (N,) for labels, (N, rows, cols) for images
    dtype = IDX_DTYPES[type_code]
    # math.prod on Python ints: np.prod wraps around in int64 for a damaged header's sizes
    expected_bytes = math.prod(shape) * dtype.itemsize
    actual_bytes = len(content) - header_size
    if actual_bytes != expected_bytes:
        problem = "is truncated" if actual_bytes < expected_bytes else "has trailing bytes"
        raise ValueError(
            f"{path} {problem}: its header declares shape {shape}, i.e. {expected_bytes} bytes "
            f"of data, but the file holds {actual_bytes}"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, rows, cols) uint8, labels (N,) uint8) from an images file and a labels file."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(
            f"count mismatch: {images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    return images, labels


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped if ``path`` ends in ``.gz``): ``read_idx``'s inverse."""
    array = np.asarray(array)
    codes = {dtype: code for code, dtype in IDX_DTYPES.items()}
    stored = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if stored not in codes:
        raise TypeError(f"array has dtype {array.dtype}, which IDX cannot store")
    header = bytes([0, 0, codes[stored], array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    content = header + array.astype(stored).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(content)
