"""What the commands share: numeric option types that check their range, and output checks.

Option types are given to argparse (``type=count(1)``), so a bad value is refused while the
command line is parsed, by argparse's one-line usage error naming the option:
``bnlab train: error: argument --num-train: expected an integer >= 1, got '-3'`` (exit 2).
:func:`check_range` applies the same ranges to the fields ``bnlab experiment --set`` changes.
:func:`check_output_folder` finds a bad output location before any work is done.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UsageError(Exception):
    """A bad request found after parsing (an output folder, a conflicting flag): exit status 2."""


def count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


def number(
    minimum: float | None = None, maximum: float | None = None, *, open_minimum: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite float in [minimum, maximum] ((minimum, ...] if open_minimum)."""
    expected = describe_range(minimum, maximum, open_minimum)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not in_range(value, minimum, maximum, open_minimum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def describe_range(minimum: float | None, maximum: float | None, open_minimum: bool) -> str:
    """'a finite number > 0', 'a finite number in (0, 1]', ...: the words of an error message."""
    if minimum is not None and maximum is not None:
        return f"a number in {'(' if open_minimum else '['}{minimum:g}, {maximum:g}]"
    if minimum is not None:
        return f"a finite number {'>' if open_minimum else '>='} {minimum:g}"
    if maximum is not None:
        return f"a finite number <= {maximum:g}"
    return "a finite number"


def in_range(
    value: float, minimum: float | None, maximum: float | None, open_minimum: bool
) -> bool:
    if not math.isfinite(value):
        return False
    if minimum is not None and (value <= minimum if open_minimum else value < minimum):
        return False
    return maximum is None or value <= maximum


# The ranges of experiment Config fields, by name (shell patterns; the first match wins). Every
# float must be finite; an int field not listed counts something and must be >= 1.
FIELD_RANGES: tuple[tuple[str, float | None, bool], ...] = (
    # (pattern, minimum, open_minimum)
    ("seed", 0, False),
    ("burn_in", 0, False),
    ("reg", 0, False),
    ("*learning_rate", 0, True),
    ("lr_decay", 0, True),
    ("*_scale", 0, True),
    ("*_std", 0, True),
)


def check_range(name: str, value: Any) -> None:
    """Refuse a Config field's value out of its range (:data:`FIELD_RANGES`), naming the field.

    Tuples are checked item by item; None, strings and bools pass (their type was checked).
    """
    if isinstance(value, tuple):
        for item in value:
            check_range(name, item)
        return
    if value is None or isinstance(value, bool | str):
        return
    minimum, open_minimum = (1, False) if isinstance(value, int) else (None, False)
    for pattern, low, open_low in FIELD_RANGES:
        if fnmatch.fnmatchcase(name, pattern):
            minimum, open_minimum = low, open_low
            break
    if not in_range(float(value), minimum, None, open_minimum):
        expected = describe_range(minimum, None, open_minimum)
        if isinstance(value, int):
            expected = f"an integer >= {minimum:g}"
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def check_output_folder(flag: str, folder: str | os.PathLike) -> Path:
    """Make ``folder`` (and its parents) and write a probe file there, or raise UsageError.

    Run before any training, so a folder that is a file, lies under a file or cannot be
    written to is reported at once, naming ``flag``, rather than after the results exist.
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".bnlab-probe-"):
            pass
    except FileExistsError:
        raise UsageError(f"{flag} {str(path)!r} is a file, not a folder") from None
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, NotADirectoryError):
            reason = "a part of it is a file, not a folder"
        raise UsageError(f"{flag} {str(path)!r} cannot be written to: {reason}") from None
    return path
