"""Download Fashion-MNIST, MNIST or CIFAR-10 from the official locations, checksums verified.

Every file is streamed to a temporary file in the destination folder, its MD5 checked, and
only then moved into place with ``os.replace`` (atomic), so an interrupted or corrupt
download never leaves a partial file where a good one belongs. A file already present with
the right checksum is not downloaded again. Only the standard library is used.

The source of every file can be overridden, e.g. for a local mirror or a test server:
``fetch(name, base_url=URL)`` fetches ``URL/<file>``; the environment variable
``BNLAB_MIRROR=URL`` fetches ``URL/<name>/<file>`` for every dataset.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bnlab.data.locate import DATASET_FILES, default_root, find

CHUNK_BYTES = 1 << 16
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Source:
    base_url: str  # a file's URL is base_url + its name
    md5: dict[str, str]  # file name -> its published MD5
    archive: bool = False  # True: one .tar.gz, extracted into the dataset's folder


SOURCES = {
    # MD5s published in https://github.com/zalandoresearch/fashion-mnist#get-the-data
    "fashion-mnist": Source(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
    # torchvision's mirror of LeCun's files, with the MD5s torchvision checks
    "mnist": Source(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "cifar10": Source(
        "https://www.cs.toronto.edu/~kriz/",
        {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
        archive=True,
    ),
}


class ChecksumError(ValueError):
    """A downloaded file's MD5 differs from the published one."""


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class TextProgress:
    """A one-line progress bar for when tqdm is not installed: ``name  42%  11.1/26.4 MB``."""

    def __init__(self, total: int | None, desc: str, stream: IO[str]):
        self.total, self.desc, self.stream = total, desc, stream
        self.done, self.shown = 0, -1

    def update(self, n: int) -> None:
        self.done += n
        percent = 100 * self.done // self.total if self.total else None
        if percent is None or percent != self.shown:
            self.shown = percent
            part = f"{percent:3d}%  " if percent is not None else ""
            total = f"/{self.total / 1e6:.1f}" if self.total else ""
            self.stream.write(f"\r{self.desc}  {part}{self.done / 1e6:.1f}{total} MB")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def __enter__(self) -> TextProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def progress_bar(total: int | None, desc: str, stream: IO[str] | None = None):
    """tqdm's bar if tqdm is importable, else :class:`TextProgress`; both have update/close."""
    stream = sys.stderr if stream is None else stream
    try:
        from tqdm import tqdm
    except ImportError:
        return TextProgress(total, desc, stream)
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, file=stream, ascii=True)


@contextlib.contextmanager
def atomic_write(dest: Path) -> Iterator[IO[bytes]]:
    """A temporary file next to ``dest`` that replaces ``dest`` only if the block succeeds.

    On any exception (a bad checksum, a dropped connection, Ctrl-C) the temporary file is
    removed and ``dest`` is left as it was.
    """
    handle, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as tmp:
            yield tmp
        os.replace(tmp_name, dest)  # atomic: readers see the old file or the new, never half
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)


def download_file(url: str, dest: Path, md5: str, progress: bool = True) -> bool:
    """Download ``url`` to ``dest`` unless ``dest`` already has checksum ``md5``.

    Returns True if downloaded, False if the file was already good. Raises ChecksumError
    (nothing written) on a bad checksum, ConnectionError if the server cannot be reached.
    """
    if dest.is_file():
        if md5sum(dest) == md5:
            print(f"{dest}: already present, checksum ok")
            return False
        print(f"{dest}: present but its checksum is wrong; downloading it again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    try:
        with (
            atomic_write(dest) as tmp,
            urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total, dest.name) if progress else contextlib.nullcontext() as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    digest.update(chunk)
                    tmp.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
            if digest.hexdigest() != md5:  # raised inside the block: the download is discarded
                raise ChecksumError(
                    f"checksum mismatch for {url}: expected md5 {md5}, got {digest.hexdigest()}; "
                    f"the download was discarded and {dest} left as it was"
                )
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as e:
        # an HTTPError reads "HTTP Error 404: ..."; other URLErrors carry the socket's reason
        reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
        raise ConnectionError(f"could not download {url}: {reason}") from None
    return True


def _extract_cifar10(archive: Path, folder: Path) -> None:
    """Unpack the archive's ``cifar-10-batches-py/*`` files into ``folder``, each atomically.

    Only regular files directly inside that folder are taken, by base name, so a hostile
    archive cannot write elsewhere.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            parent, _, name = member.name.rpartition("/")
            if not member.isfile() or parent != folder.name or not name:
                continue
            with atomic_write(folder / name) as tmp, tar.extractfile(member) as src:
                shutil.copyfileobj(src, tmp)


def fetch(
    name: str,
    root: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> Path:
    """Download dataset ``name`` into ``root/<its folder>``; returns that folder.

    root: default ``$BNLAB_DATA`` if set, else ``~/.cache/bnlab`` (both searched by the loaders).
    base_url: fetch ``base_url/<file>`` instead of the official location.
    """
    if name not in SOURCES:
        raise ValueError(f"cannot fetch {name!r}; valid names: {', '.join(SOURCES)}")
    source = SOURCES[name]
    root = Path(root).expanduser() if root is not None else default_root()
    folder = root / DATASET_FILES[name].folder
    if base_url is None:
        mirror = os.environ.get("BNLAB_MIRROR")
        base_url = f"{mirror.rstrip('/')}/{name}/" if mirror else source.base_url
    base_url = base_url if base_url.endswith("/") else base_url + "/"

    if not source.archive:
        for file_name, md5 in source.md5.items():
            download_file(base_url + file_name, folder / file_name, md5, progress)
        return folder
    if find(name, folder) == folder:
        print(f"{folder}: already present")
        return folder
    ((file_name, md5),) = source.md5.items()
    archive = root / file_name
    download_file(base_url + file_name, archive, md5, progress)
    print(f"extracting {archive} to {folder}")
    _extract_cifar10(archive, folder)
    if find(name, folder) != folder:
        raise ValueError(f"{archive} did not contain every CIFAR-10 batch; {folder} is incomplete")
    archive.unlink()  # the extracted folder is what the loaders read
    return folder
