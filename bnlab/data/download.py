"""Download Fashion-MNIST, MNIST or CIFAR-10 from the official locations, checksums verified.

The downloading itself is pooch's (https://www.fatiando.org/pooch): each file is streamed to a
temporary file in the destination folder, its MD5 checked, and only then moved into place, so
an interrupted or corrupt download never leaves a partial file where a good one belongs. A file
already present with the right checksum is not downloaded again; a dropped connection or a bad
checksum is tried again ``RETRIES`` times, then reported (a dropped connection as such, naming
the URL, not as a checksum mismatch).

The source of every file can be overridden, e.g. for a local mirror or a test server:
``fetch(name, base_url=URL)`` fetches ``URL/<file>``; the environment variable
``BNLAB_MIRROR=URL`` fetches ``URL/<name>/<file>`` for every dataset.
Fashion-MNIST already installed by Debian's ``dataset-fashion-mnist`` is used, not downloaded.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import pooch

from bnlab.data import locate
from bnlab.data.locate import DATASET_FILES, default_root, find

RETRIES = 2  # more attempts after a dropped connection or a bad checksum (pooch waits 1 s, 2 s)


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
    import pooch  # imported when needed: pooch imports tqdm.auto, which warns in Jupyter

    return pooch.file_hash(str(path), alg="md5")


@contextlib.contextmanager
def atomic_write(dest: Path) -> Iterator[IO[bytes]]:
    """A temporary file next to ``dest`` that replaces ``dest`` only if the block succeeds.

    For the files extracted from CIFAR-10's archive (pooch does the same for downloads): on any
    exception (a damaged archive, a full disk, Ctrl-C) the temporary file is removed and
    ``dest`` is left as it was, so an interrupted extraction never looks complete.
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
    (nothing written) on a bad checksum, ConnectionError (naming ``url``) if the server cannot
    be reached, answers with an error or drops the connection before the end of the file.
    """
    if dest.is_file():
        if md5sum(dest) == md5:
            print(f"{dest}: already present, checksum ok")
            return False
        print(f"{dest}: present but its checksum is wrong; downloading it again")
    import pooch
    import requests  # pooch's HTTP client

    fetcher = pooch.create(
        path=dest.parent,
        base_url=url.rpartition("/")[0] + "/",
        registry={dest.name: f"md5:{md5}"},
        urls={dest.name: url},
        retry_if_failed=RETRIES,
    )
    try:
        fetcher.fetch(dest.name, downloader=_downloader(dest.name, progress))
    except requests.exceptions.RequestException as error:
        raise ConnectionError(f"could not download {url}: {_describe(error)}") from None
    except ValueError as error:
        if "hash" not in str(error):
            raise
        raise ChecksumError(
            f"checksum mismatch for {url}: expected md5 {md5}; "
            f"the download was discarded and {dest} left as it was"
        ) from None
    return True


@functools.cache
def _byte_bar() -> type:
    """tqdm.auto's bar (a widget in Jupyter), imported when first needed, always truthy: pooch
    draws a bar only if it is truthy, and tqdm's truth is total > 0, unknown at first."""
    from tqdm.auto import tqdm

    return type("ByteBar", (tqdm,), {"__bool__": lambda self: True})


def _downloader(name: str, progress: bool) -> Callable[[str, str, pooch.Pooch], None]:
    """pooch's HTTP downloader; with ``progress``, a bar named ``name`` for each attempt."""
    import pooch

    if not progress:
        return pooch.HTTPDownloader(progressbar=False)

    def download(url: str, output_file: str, fetcher: pooch.Pooch) -> None:
        # made here, after pooch's "Downloading ..." log line, so the bar is drawn below it
        with _byte_bar()(desc=name, unit="B", unit_scale=True, ascii=True) as bar:
            pooch.HTTPDownloader(progressbar=bar)(url, output_file, fetcher)

    return download


def _describe(error: BaseException) -> str:
    """What went wrong, in words: the innermost cause behind requests' and urllib3's wrappers."""
    import requests

    if isinstance(error, requests.exceptions.HTTPError) and error.response is not None:
        return f"HTTP Error {error.response.status_code}: {error.response.reason}"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return f"the connection was dropped before the end of the file ({_innermost(error)})"
    return str(_innermost(error))


def _innermost(error: BaseException) -> BaseException:
    """Follow causes, ``reason`` attributes and wrapped arguments down to the first exception."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        wrapped = [a for a in error.args if isinstance(a, BaseException)]
        inner = error.__cause__ or getattr(error, "reason", None) or next(iter(wrapped), None)
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error


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

    root: default ``$BNLAB_DATA`` if set, else ``~/.cache/bnlab`` (both searched by the loaders);
        with no ``root``, a copy the loaders already find in ``/usr/share/datasets`` (Debian's
        ``dataset-fashion-mnist``) is returned instead of downloading.
    base_url: fetch ``base_url/<file>`` instead of the official location.
    """
    if name not in SOURCES:
        raise ValueError(f"cannot fetch {name!r}; valid names: {', '.join(SOURCES)}")
    source = SOURCES[name]
    if root is None:
        found = find(name)
        if found is not None and found.parent == locate.SYSTEM_DATA_DIR:
            print(f"{found}: installed by the system (Debian's package); nothing to download")
            return found
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
