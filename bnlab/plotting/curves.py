"""Training curves: loss per iteration, training and validation metric per epoch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.plotting.style import LABELS, color_for, new_figure, save_figure


def _metric_label(history: Any, split: str) -> str:
    if getattr(history, "metric_name", "accuracy") == "mse":
        return f"{'Training' if split == 'train' else 'Validation'} MSE"
    return LABELS[f"{split}_acc"]


def plot_training_curves(
    runs: Mapping[str, Any], path: str | Path, title: str | None = None
) -> Path:
    """Three panels, one line per run: training loss per iteration, train and val metric per epoch.

    runs: label -> anything with ``loss_history``, ``train_metric_history``, ``val_metric_history``
    (a Solver, or a dict-like record of one), e.g. {'baseline': solver, 'batchnorm': bn_solver}.
    """
    fig, axes = new_figure(3, 1, width=8, row_height=3.0)
    loss_ax, train_ax, val_ax = axes[:, 0]
    first = next(iter(runs.values()))
    for i, (label, history) in enumerate(runs.items()):
        color = color_for(label, i)
        loss = np.asarray(history.loss_history, dtype=float)
        if len(loss) >= 20:  # a moving average makes the trend readable under minibatch noise
            loss_ax.plot(loss, "-", color=color, alpha=0.35, linewidth=0.8)
            width = max(len(loss) // 50, 5)
            smooth = np.convolve(loss, np.ones(width) / width, mode="valid")
            loss_ax.plot(np.arange(width - 1, len(loss)), smooth, color=color, label=label)
        else:  # too few points to average: the raw losses are the curve
            loss_ax.plot(loss, "-o", color=color, label=label, ms=3)
        epochs = np.arange(len(history.train_metric_history))
        train_ax.plot(epochs, history.train_metric_history, "-o", color=color, label=label, ms=3)
        val_ax.plot(epochs, history.val_metric_history, "-o", color=color, label=label, ms=3)
    loss_ax.set(title="Training loss", xlabel=LABELS["iteration"], ylabel="Loss")
    train_ax.set(
        title=_metric_label(first, "train"),
        xlabel=LABELS["epoch"],
        ylabel=_metric_label(first, "train"),
    )
    val_ax.set(
        title=_metric_label(first, "val"),
        xlabel=LABELS["epoch"],
        ylabel=_metric_label(first, "val"),
    )
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    return save_figure(fig, path, title)
