"""Shared figure set-up: one palette, one label vocabulary, one way to save."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")  # headless machines (CI, servers) have no display to draw on

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

# One colour per role, the same in every figure: "baseline" is always blue, "batchnorm" orange.
COLORS: dict[str, str] = {
    "baseline": "tab:blue",
    "batchnorm": "tab:orange",
    "layernorm": "tab:green",
    "data": "0.6",
    "truth": "black",
    "groupnorm": "tab:purple",
}
_FALLBACK = ["tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]

# Axis labels used across figures, with units where there are any.
LABELS: dict[str, str] = {
    "iteration": "Iteration (minibatch)",
    "epoch": "Epoch",
    "loss": "Training loss",
    "train_acc": "Training accuracy",
    "val_acc": "Validation accuracy",
    "mse": "Mean squared error",
    "weight_scale": "Weight initialisation scale (std)",
    "seconds": "Time (s)",
    "learning_rate": "Learning rate",
    "batch_size": "Batch size (examples per minibatch)",
}


def color_for(label: str, index: int = 0) -> str:
    """The colour of a series: its role's colour if it has one, else a stable fallback."""
    for role, color in COLORS.items():
        if label.lower().startswith(role):
            return color
    return _FALLBACK[index % len(_FALLBACK)]


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 7.0, row_height: float = 3.2, **kw):
    """A figure with a grid of axes (always a 2-D array of axes), sized for the grid."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, row_height * nrows), squeeze=False, **kw)
    return fig, axes


def save_figure(fig: Figure, path: str | Path, title: str | None = None) -> Path:
    """Title, tighten, save as PNG (creating the folder), close; returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"figures are saved as PNG: path must end in .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if title:
        fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
