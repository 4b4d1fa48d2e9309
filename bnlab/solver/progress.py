"""A progress bar per epoch: examples done, current loss and examples per second.

tqdm draws it when installed (``progress=True``); otherwise :class:`TextBar`, a few lines that
redraw one line of stderr, does. Both answer the same three calls, so the training loop has no
branches: ``update(num_examples, loss)``, ``write(message)`` (a line printed above the bar, to
stdout) and ``close()`` (the bar disappears; the epoch's summary line replaces it).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

from bnlab._validation import check_choice

PROGRESS_CHOICES = (True, False, "tqdm", "builtin")


class NoBar:
    """No bar at all (``progress=False``); messages still go to stdout."""

    def update(self, num_examples: int, loss: float) -> None:
        pass

    def write(self, message: str) -> None:
        print(message)

    def close(self) -> None:
        pass


class TextBar:
    """``epoch 3/10  45% |#####      | 450/1000 ex  loss 0.4321  12345 ex/s`` on one line."""

    def __init__(
        self,
        total: int,
        desc: str,
        file: IO[str] | None = None,
        width: int = 24,
        min_interval: float = 0.1,
    ) -> None:
        self.total, self.desc, self.width = total, desc, width
        self.file = sys.stderr if file is None else file
        self.min_interval = min_interval  # seconds between redraws: drawing is not free
        self.done, self.loss = 0, float("nan")
        self.start = self.last_draw = time.perf_counter()
        self.line_length = 0
        self._draw()

    def update(self, num_examples: int, loss: float) -> None:
        self.done += num_examples
        self.loss = loss
        now = time.perf_counter()
        if now - self.last_draw >= self.min_interval or self.done >= self.total:
            self.last_draw = now
            self._draw()

    def _draw(self) -> None:
        fraction = self.done / self.total if self.total else 1.0
        filled = round(fraction * self.width)
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        line = (
            f"{self.desc} {fraction:4.0%} |{'#' * filled}{' ' * (self.width - filled)}| "
            f"{self.done}/{self.total} ex  loss {self.loss:.4g}  {rate:.0f} ex/s"
        )
        # Pad with spaces so a shorter line fully covers the previous one.
        self.file.write("\r" + line.ljust(self.line_length))
        self.file.flush()
        self.line_length = len(line)

    def _clear(self) -> None:
        self.file.write("\r" + " " * self.line_length + "\r")
        self.file.flush()

    def write(self, message: str) -> None:
        self._clear()
        print(message, flush=True)
        self._draw()

    def close(self) -> None:
        self._clear()


class TqdmBar:
    """The same three calls on top of ``tqdm.auto`` (a widget in Jupyter, text elsewhere)."""

    def __init__(self, total: int, desc: str) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._bar = tqdm(total=total, desc=desc, unit="ex", unit_scale=True, leave=False)

    def update(self, num_examples: int, loss: float) -> None:
        self._bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        self._bar.update(num_examples)

    def write(self, message: str) -> None:
        self._tqdm.write(message, file=sys.stdout)

    def close(self) -> None:
        self._bar.close()


def have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def check_progress(progress: Any) -> None:
    """Refuse a bad ``progress`` setting when the Solver is built, not at the first epoch."""
    check_choice("progress", progress, PROGRESS_CHOICES)
    if progress == "tqdm" and not have_tqdm():
        raise ValueError("progress='tqdm' needs tqdm (pip install tqdm); use progress=True")


def progress_bar(progress: Any, total: int, desc: str) -> NoBar | TextBar | TqdmBar:
    """The bar for one epoch of ``total`` examples; ``progress`` as :func:`check_progress`."""
    if progress is False:
        return NoBar()
    if progress == "builtin" or not have_tqdm():
        return TextBar(total, desc)
    return TqdmBar(total, desc)
