"""A progress bar per epoch, drawn by tqdm: examples done, current loss and examples per second.

``tqdm.auto`` draws it: a widget in Jupyter, one redrawn line of stderr on a terminal. When
stderr is neither (a log file, a pipe, a CI job) no bar is drawn, and the Solver's summary line
after every epoch is the progress. The training loop makes the same three calls either way:
``update(num_examples, loss)``, ``write(message)`` (a line printed above the bar, to stdout) and
``close()`` (the bar disappears; the epoch's summary line replaces it).
"""

from __future__ import annotations

import sys
from typing import Any

from bnlab._validation import check_choice

# 'tqdm' and 'builtin' are older spellings of True (bnlab once had a bar of its own), accepted so
# that scripts and checkpoints naming them keep working
PROGRESS_CHOICES = (True, False, "tqdm", "builtin")


def auto_tqdm() -> type:
    """tqdm.auto's bar class, imported when first needed: inside Jupyter without ipywidgets,
    tqdm warns on import (the widget needs ipywidgets), and importing bnlab should not."""
    from tqdm.auto import tqdm

    return tqdm


def can_draw(tqdm: type) -> bool:
    """True in Jupyter (tqdm.auto chose the widget) and when stderr is a terminal."""
    if any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__):
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class EpochBar:
    """``epoch 3/10:  45%|####5     | 450/1.00k [00:00<00:00, 12.3kex/s, loss 0.4321]``."""

    def __init__(self, total: int, desc: str, show: bool) -> None:
        self._tqdm = tqdm = auto_tqdm()
        self._bar = tqdm(
            total=total,
            desc=desc,
            unit="ex",
            unit_scale=True,
            leave=False,
            disable=not (show and can_draw(tqdm)),
        )

    def update(self, num_examples: int, loss: float) -> None:
        if not self._bar.disable:  # formatting the loss costs more than a hidden bar's update
            self._bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        self._bar.update(num_examples)

    def write(self, message: str) -> None:
        self._tqdm.write(message, file=sys.stdout)  # clears the bar, prints, redraws it

    def close(self) -> None:
        self._bar.close()


def check_progress(progress: Any) -> None:
    """Refuse a bad ``progress`` setting when the Solver is built, not at the first epoch."""
    check_choice("progress", progress, PROGRESS_CHOICES)


def progress_bar(progress: Any, total: int, desc: str) -> EpochBar:
    """The bar for one epoch of ``total`` examples; hidden for ``progress=False`` or no terminal."""
    return EpochBar(total, desc, show=progress is not False)
