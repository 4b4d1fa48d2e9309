"""Writing a file so that a reader sees the old one or the new one, never half of one.

Used by the Solver's checkpoints and the sweep runner's results file. The bytes go to a
temporary file in the same folder (so the rename is within one file system), are flushed to
disk (fsync), and only then renamed over the target with ``os.replace``, which is atomic on
POSIX and Windows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_write(path: Path, temporary: Path) -> Iterator[BinaryIO]:
    """Yield ``temporary`` open for binary writing; on a clean exit, put it in ``path``'s place.

    temporary: a file name in ``path``'s folder that no one else writes. On an error (also
    Ctrl-C) the temporary file is removed and ``path`` is left as it was.
    """
    try:
        with open(temporary, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):  # open() itself may be what failed
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
