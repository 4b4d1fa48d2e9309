"""NumPy's ufunc buffer, made small for the duration of a ``with`` block.

Why it pays is explained, with measurements, in ``docs/fast-path.md`` ("The ufunc buffer").
In short: NumPy can copy a broadcast operand through its ufunc buffer row by row, and with the
default 8192-element buffer that copy can cost more than the arithmetic for wide rows; a small
buffer lets it read the operand in place. No layer changes this setting on its own: the Solver's
training loop and the benchmarks enter :func:`small_ufunc_buffer`, which puts the old value back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

SMALL_BUFFER = 256  # elements; NumPy's default is 8192


@contextlib.contextmanager
def small_ufunc_buffer(size: int = SMALL_BUFFER) -> Iterator[None]:
    """Run the block with NumPy's ufunc buffer at ``size`` elements; restore it on exit."""
    old = np.getbufsize()
    try:
        # NumPy 2 keeps the buffer size in errstate's context; NumPy 1 does not restore it on
        # exit, so put the old value back by hand as well.
        with np.errstate():
            np.setbufsize(size)
            yield
    finally:
        np.setbufsize(old)
