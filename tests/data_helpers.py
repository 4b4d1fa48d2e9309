"""Helpers for the data tests: small datasets in the exact on-disk formats, a loopback server.

Nothing here touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import pickle
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np

from bnlab.data import locate
from bnlab.data.idx import write_idx

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def isolate(monkeypatch, tmp_path: Path) -> None:
    """No dataset from this machine leaks in: empty HOME and system folder, no BNLAB_* vars."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BNLAB_DATA", raising=False)
    monkeypatch.delenv("BNLAB_MIRROR", raising=False)
    monkeypatch.setattr(locate, "SYSTEM_DATA_DIR", tmp_path / "system")


def idx_arrays(num_train: int, num_test: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images (N, 28, 28) and labels (N,) covering every class 0..9."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for part, n in (("train", num_train), ("test", num_test)):
        arrays[f"{part}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{part}_labels"] = (np.arange(n) % 10).astype(np.uint8)
    return arrays


def write_idx_folder(
    folder: Path, num_train: int = 30, num_test: int = 20, gz: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write the four IDX files (gzipped or raw) of a small MNIST-like dataset; return its arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = idx_arrays(num_train, num_test, seed)
    for key, stem in IDX_NAMES.items():
        write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays


def _pickle_like_python2(obj: dict) -> bytes:
    """A protocol-2 pickle naming numpy.core, as the real (Python 2) CIFAR-10 files do."""
    return pickle.dumps(obj, protocol=2).replace(b"numpy._core.", b"numpy.core.")


def write_cifar_folder(
    root: Path, rows_per_batch: int = 7, str_keys: bool = False, seed: int = 0
) -> Path:
    """A ``cifar-10-batches-py`` folder under ``root`` with few rows per batch; returns it.

    bytes keys (``str_keys=False``) mimic the real files, pickled by Python 2.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    def key(k: str):
        return k if str_keys else k.encode()

    for name in locate.CIFAR10_BATCHES:
        batch = {
            key("batch_label"): key(f"{name} of 6"),
            key("labels"): [int(v) for v in rng.integers(0, 10, rows_per_batch)],
            key("data"): rng.integers(0, 256, (rows_per_batch, 3072), dtype=np.uint8),
        }
        (folder / name).write_bytes(_pickle_like_python2(batch))
    meta = {key("label_names"): [key(f"name{c}") for c in range(10)], key("num_vis"): 3072}
    (folder / "batches.meta").write_bytes(_pickle_like_python2(meta))
    return folder


def cifar_archive(folder: Path, archive: Path, extra: dict[str, bytes] | None = None) -> None:
    """Pack ``folder`` (a cifar-10-batches-py) into a .tar.gz as the official archive is laid out.

    extra: more members, name -> content (e.g. a hostile ``../escape``).
    """
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
        for name, content in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def loopback_server(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` on 127.0.0.1 (ephemeral port, threaded); yield (base URL, request log).

    The server is shut down and its socket closed on exit.
    """
    requests: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(handler, directory=str(directory))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
