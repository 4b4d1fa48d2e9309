"""Where each dataset's files are looked for, in order, and the error when they are not found.

For a dataset kept in folder ``F`` (``fashion-mnist``, ``mnist``, ``cifar-10-batches-py``):

1. an explicit ``path`` argument: ``path`` itself, then ``path/F`` (nothing else is searched);
2. ``$BNLAB_DATA``, then ``$BNLAB_DATA/F``;
3. ``~/.cache/bnlab/F`` (where ``bnlab data fetch`` puts it by default);
4. ``/usr/share/datasets/F`` (Debian's ``dataset-fashion-mnist`` package installs there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SYSTEM_DATA_DIR = Path("/usr/share/datasets")

# the files of an IDX dataset; each may also be stored without the .gz (uncompressed)
IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR10_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")


@dataclass(frozen=True)
class DatasetFiles:
    title: str  # for messages
    folder: str  # the folder name under a data root
    files: tuple[str, ...]  # the files that must all be present
    gz_optional: bool  # True: each file may be stored as NAME.gz or NAME
    how_to_get: tuple[str, ...]  # commands that install or download it


DATASET_FILES = {
    "fashion-mnist": DatasetFiles(
        "Fashion-MNIST",
        "fashion-mnist",
        IDX_STEMS,
        True,
        ("apt-get install -y dataset-fashion-mnist", "bnlab data fetch fashion-mnist"),
    ),
    "mnist": DatasetFiles("MNIST", "mnist", IDX_STEMS, True, ("bnlab data fetch mnist",)),
    "cifar10": DatasetFiles(
        "CIFAR-10",
        "cifar-10-batches-py",
        CIFAR10_BATCHES,
        False,
        ("bnlab data fetch cifar10",),
    ),
}


def cache_dir() -> Path:
    """``~/.cache/bnlab``: the default download root."""
    return Path.home() / ".cache" / "bnlab"


def default_root() -> Path:
    """Where ``bnlab data fetch`` saves by default: ``$BNLAB_DATA`` if set, else the cache."""
    env = os.environ.get("BNLAB_DATA")
    return Path(env).expanduser() if env else cache_dir()


def candidate_dirs(name: str, path: str | os.PathLike | None = None) -> list[tuple[Path, str]]:
    """Every folder searched for dataset ``name``, in order, as ``(folder, why)`` pairs."""
    folder = DATASET_FILES[name].folder
    if path is not None:
        root = Path(path).expanduser()
        return [(root, "path argument"), (root / folder, "path argument")]
    candidates = []
    env = os.environ.get("BNLAB_DATA")
    if env:
        root = Path(env).expanduser()
        candidates += [(root, "$BNLAB_DATA"), (root / folder, "$BNLAB_DATA")]
    candidates.append((cache_dir() / folder, "download cache"))
    candidates.append((SYSTEM_DATA_DIR / folder, "system datasets"))
    return candidates


def find_file(folder: Path, name: str, gz_optional: bool) -> Path | None:
    """``folder/name.gz`` or ``folder/name`` (the first that exists), else None."""
    names = (f"{name}.gz", name) if gz_optional else (name,)
    for candidate in names:
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _missing(folder: Path, spec: DatasetFiles) -> list[str]:
    suffix = "[.gz]" if spec.gz_optional else ""
    return [f + suffix for f in spec.files if find_file(folder, f, spec.gz_optional) is None]


def locate(name: str, path: str | os.PathLike | None = None) -> Path:
    """The first folder holding every file of dataset ``name``; FileNotFoundError otherwise.

    The error lists each folder searched, what was missing there and how to get the data.
    """
    spec = DATASET_FILES[name]
    report = []
    for folder, why in candidate_dirs(name, path):
        if not folder.is_dir():
            report.append(f"  {folder} ({why}): no such folder")
            continue
        missing = _missing(folder, spec)
        if not missing:
            return folder
        report.append(f"  {folder} ({why}): missing {', '.join(missing)}")
    if path is None and not os.environ.get("BNLAB_DATA"):
        report.insert(0, "  $BNLAB_DATA: not set")
    how = "\n".join(f"  {command}" for command in spec.how_to_get)
    raise FileNotFoundError(
        f"{spec.title} not found. Searched:\n"
        + "\n".join(report)
        + f"\nGet it with one of:\n{how}\n"
        "or pass the folder (path=... in Python, --data-path for bnlab train) "
        "or set BNLAB_DATA to it."
    )


def how_to_replace(name: str, folder: Path) -> str:
    """The advice after a damaged file of dataset ``name`` found in ``folder``: how to get it again."""
    spec = DATASET_FILES[name]
    if folder == SYSTEM_DATA_DIR / spec.folder and name == "fashion-mnist":
        return "reinstall Debian's copy: apt-get install --reinstall dataset-fashion-mnist"
    # fetch checks every file's checksum and downloads again the ones that differ
    where = f" --dir {folder.parent}" if folder.name == spec.folder else ""
    return f"download {spec.title} again: bnlab data fetch {name}{where}"


def find(name: str, path: str | os.PathLike | None = None) -> Path | None:
    """Like :func:`locate`, but None instead of an error (for ``bnlab data list``)."""
    try:
        return locate(name, path)
    except FileNotFoundError:
        return None
