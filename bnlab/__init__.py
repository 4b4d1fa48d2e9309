"""bnlab: batch normalization from scratch, in pure NumPy.

Every layer is a pair of explicit functions, ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, with cs231n's names and conventions.
"""

from __future__ import annotations

__version__ = "0.1.0"

_cs231n_year: int | None = None


def set_cs231n_year(year: int | None) -> None:
    """Read cs231n's year-dependent arguments as course year ``year`` did; None: unset.

    One line at the top of a cs231n notebook, e.g. ``bnlab.set_cs231n_year(2017)``. Today it
    decides what dropout's ``p`` and ``FullyConnectedNet(dropout=)`` mean (the drop
    probability up to 2017, the keep probability from 2018): see :mod:`bnlab.layers.dropout`.
    year: an int from 2015 on, or None (no year: unambiguous values only, others warn).
    """
    global _cs231n_year
    if year is not None and (
        isinstance(year, bool) or not isinstance(year, int) or not 2015 <= year <= 2100
    ):
        raise ValueError(f"year must be a cs231n course year such as 2017 or 2019, got {year!r}")
    _cs231n_year = year


def cs231n_year() -> int | None:
    """The course year set by :func:`set_cs231n_year`, or None."""
    return _cs231n_year
