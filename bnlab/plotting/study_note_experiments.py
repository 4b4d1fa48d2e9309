"""Figures of the study notes' experiments: tanh regression, activation quantiles, bn conventions.

Used by ``bnlab experiment regression``, ``activations`` and ``bn-conventions``; each function
takes the experiment's result records (plain lists) and writes one PNG.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.plotting.style import COLORS, LABELS, color_for, new_figure, save_figure


def plot_regression_fits(cases: Sequence[Any], path: str | Path, title: str | None = None) -> Path:
    """A row per case, as the notes' figures: loss per epoch (left), test data + fits (right).

    cases: records with low, high, noise, x_test, y_test, y_var and curves: label -> record with
    train_loss (one per epoch), test_mse (epoch 0 first) and fitted (one per x_test).
    """
    fig, axes = new_figure(len(cases), 2, width=11, row_height=3.8)
    for (loss_ax, fit_ax), case in zip(axes, cases, strict=True):
        name = f"x in ({case.low:g}, {case.high:g}), noise {case.noise:g}"
        for i, (label, curves) in enumerate(case.curves.items()):
            color = color_for(label, i)
            epochs = np.arange(len(curves.test_mse))
            loss_ax.plot(
                epochs[1:],
                curves.train_loss,
                "-o",
                ms=3,
                color=color,
                label=f"{label}: training loss",
            )
            loss_ax.plot(epochs, curves.test_mse, "--", color=color, label=f"{label}: test MSE")
            fit_ax.plot(case.x_test, curves.fitted, color=color, linewidth=2, label=label)
        loss_ax.axhline(
            case.y_var,
            color=COLORS["truth"],
            linestyle=":",
            linewidth=1,
            label="var(y): predicting the mean",
        )
        loss_ax.set_yscale("log")
        loss_ax.set(
            title=f"Loss per epoch, {name}",
            xlabel=LABELS["epoch"],
            ylabel=f"{LABELS['mse']} (log scale)",
        )
        x = np.asarray(case.x_test)
        fit_ax.scatter(x, case.y_test, s=10, color=COLORS["data"], label="test data", zorder=0)
        fit_ax.plot(x, x**2, ":", color=COLORS["truth"], linewidth=1, label="y = x² (noise-free)")
        fit_ax.set(title=f"Fitted curves on the test data, {name}", xlabel="x", ylabel="y")
        for ax in (loss_ax, fit_ax):
            ax.grid(alpha=0.3)
            ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path, title)


def plot_quantile_bands(
    bands: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    quantiles: Sequence[float],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """A panel per (net, layer): the median per epoch inside the nested quantile bands.

    bands: label -> layer -> per epoch (epoch 0 first) the values at ``quantiles`` (percent,
    symmetric about 50, e.g. 5/15/50/85/95), as the BN paper's Figure 1 draws 15/50/85.
    All panels share the y axis, so spreads compare directly.
    """
    panels = [(label, layer, q) for label, layers in bands.items() for layer, q in layers.items()]
    fig, axes = new_figure(1, len(panels), width=4.2 * len(panels), row_height=4.0, sharey=True)
    quantiles = list(quantiles)
    middle = quantiles.index(50)
    for i, (ax, (label, layer, per_epoch)) in enumerate(zip(axes[0], panels, strict=True)):
        values = np.asarray(per_epoch)  # (epochs + 1, Q)
        epochs = np.arange(len(values))
        color = color_for(label, i)
        for k in range(middle):  # outermost band first, each inner band drawn over it
            ax.fill_between(
                epochs,
                values[:, k],
                values[:, -1 - k],
                color=color,
                alpha=0.15 + 0.2 * k,
                linewidth=0,
                label=f"{quantiles[k]:g}-{quantiles[-1 - k]:g} %",
            )
        ax.plot(epochs, values[:, middle], "-o", ms=3, color=color, label="median")
        ax.set(title=f"{label}: {layer}", xlabel=LABELS["epoch"], ylabel="Activation value")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    return save_figure(fig, path, title)


def _plot_running_trace(ax: Any, stream: Any, what: str) -> None:
    """One running statistic ('mean' or 'variance') per step, batch values and truth behind."""
    key = "mean" if what == "mean" else "var"
    steps = np.arange(stream.plot_steps + 1)
    batch = getattr(stream, f"batch_{key}")[: stream.plot_steps]
    ax.plot(
        steps[1:],
        batch,
        ".",
        ms=5,
        color=COLORS["data"],
        label=f"each batch's {what} (N = {stream.batch_size})",
    )
    running = getattr(stream, f"running_{key}")
    for i, (name, values) in enumerate(running.items()):
        # widest first: cs231n's and PyTorch's running means coincide, both stay visible
        ax.plot(
            steps,
            values[: len(steps)],
            color=color_for(name, i),
            linewidth=3.5 - 1.2 * i,
            label=f"running {what}: {name}",
        )
    ax.axhline(
        getattr(stream, f"true_{key}"),
        color=COLORS["truth"],
        linestyle="--",
        label=f"population {what}",
    )
    ax.set(
        title=f"Running {what} over the first {stream.plot_steps} steps",
        xlabel="Training step (batch)",
        ylabel=f"Running {what}",
    )


def plot_bn_conventions(
    stream: Any, accuracy: Any, path: str | Path, title: str | None = None
) -> Path:
    """Running statistics per step and their long-run averages; test accuracy per iteration.

    stream: record with true_mean, true_var, batch_size, plot_steps, batch_mean, batch_var (one
    per step), running_mean, running_var (convention -> one per step, the start first), and
    mean_ratio, var_ratio (convention -> average after burn-in / population value).
    accuracy: record with iterations and test_acc (name -> one accuracy per iteration).
    """
    fig, axes = new_figure(2, 2, width=15, row_height=5.0)
    (mean_ax, var_ax), (ratio_ax, acc_ax) = axes
    _plot_running_trace(mean_ax, stream, "mean")
    _plot_running_trace(var_ax, stream, "variance")
    N = stream.batch_size
    biased = (N - 1) / N
    var_ax.axhline(
        stream.true_var * biased,
        color=COLORS["truth"],
        linestyle=":",
        label=f"E[biased batch variance] = {N - 1}/{N} x population",
    )

    names = list(stream.var_ratio)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        ratios = [stream.mean_ratio[name], stream.var_ratio[name]]
        bars = ratio_ax.bar(
            np.arange(2) + (i - (len(names) - 1) / 2) * width,
            ratios,
            width,
            color=color_for(name, i),
            label=name,
        )
        ratio_ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ratio_ax.axhline(1.0, color=COLORS["truth"], linestyle="--", label="population value")
    ratio_ax.axhline(biased, color=COLORS["truth"], linestyle=":", label=f"{N - 1}/{N}")
    ratio_ax.set_xticks([0, 1], ["running mean", "running variance"])
    ratio_ax.set_ylim(0, 1.35)  # from 0: bar lengths stay proportional to the values
    ratio_ax.set(
        title=f"Average over steps {stream.burn_in + 1}-{len(stream.batch_var)}, relative to the truth",
        ylabel="Average / population value",
    )

    for i, (name, values) in enumerate(accuracy.test_acc.items()):
        style = "--" if name not in stream.var_ratio else "-o"
        acc_ax.plot(accuracy.iterations, values, style, ms=3, color=color_for(name, i), label=name)
    acc_ax.set_xscale("log")
    acc_ax.set(
        title="Test accuracy of the same weights under each convention",
        xlabel=f"{LABELS['iteration']}, log scale",
        ylabel="Test accuracy",
    )
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    ratio_ax.legend(loc="upper center", fontsize=8, ncol=3)  # in the room above the bars
    return save_figure(fig, path, title)
