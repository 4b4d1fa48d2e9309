"""Figures of study note 003's experiments: activation histograms, backward times, weight scales.

The training curves of ``bn-vs-baseline`` are :func:`bnlab.plotting.plot_training_curves`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import MaxNLocator

from bnlab.plotting.style import LABELS, color_for, new_figure, save_figure

# Features are not roles (baseline / batchnorm), so they take colours no role uses.
FEATURE_COLORS = ["tab:red", "tab:green", "tab:purple", "tab:brown", "tab:cyan"]


def plot_feature_histograms(
    panels: Mapping[str, np.ndarray], path: str | Path, title: str | None = None
) -> Path:
    """One panel per stage, a histogram per feature overlaid, its mean and std in the legend.

    panels: stage name -> activations (N, D), e.g. {'before batchnorm': a, ...}; at most a
    handful of features D (each gets a colour).
    """
    ncols = 2 if len(panels) > 1 else 1
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(nrows, ncols, width=11, row_height=3.6)
    for ax, (name, values) in zip(axes.flat, panels.items(), strict=False):
        bins = np.histogram_bin_edges(values, bins=25)  # shared, so the features compare
        for j in range(values.shape[1]):
            feature = values[:, j]
            ax.hist(
                feature,
                bins=bins,
                histtype="step",  # outlines stay readable where the histograms overlap
                linewidth=1.8,
                color=FEATURE_COLORS[j % len(FEATURE_COLORS)],
                label=f"feature {j + 1}: mean {feature.mean():.3g}, std {feature.std():.3g}",
            )
        ax.set(title=name, xlabel="Activation value", ylabel=f"Count (of N = {len(values)})")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    return save_figure(fig, path, title)


def plot_backward_times(
    sizes: Sequence[tuple[int, int]],
    naive_seconds: Sequence[float],
    alt_seconds: Sequence[float],
    speedups: Sequence[float],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """A panel per (N, D): the median time of the naive and the closed-form backward, in ms.

    speedups: the measured naive / alt ratio per size (e.g. a median of per-repeat ratios,
    which need not equal the ratio of the two median times).
    """
    fig, axes = new_figure(1, len(sizes), width=max(7.0, 4.5 * len(sizes)), row_height=4.0)
    for ax, (N, D), naive, alt, speedup in zip(
        axes[0], sizes, naive_seconds, alt_seconds, speedups, strict=True
    ):
        times_ms = [naive * 1e3, alt * 1e3]
        bars = ax.bar(
            ["naive\n(graph walk)", "alt\n(closed form)"],
            times_ms,
            color=[color_for("naive", 0), color_for("alt", 1)],
        )
        ax.bar_label(bars, labels=[f"{t:.3g} ms" for t in times_ms])
        ax.set_ylim(0, 1.2 * max(times_ms))  # room for the labels above the bars
        ax.set(
            title=f"(N, D) = ({N}, {D}): alt {speedup:.2f}x faster",
            ylabel="Median time per call (ms)",
        )
        ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path, title)


SWEEP_PANELS = [
    ("best_val_acc", "Best validation accuracy", "Best validation accuracy"),
    ("best_train_acc", "Best training accuracy", "Best training accuracy"),
    (
        "final_loss",
        "Final training loss (mean of the last {window} iterations)",
        "Training loss (log scale)",
    ),
]


def plot_weight_scale_sweep(
    scales: Sequence[float],
    runs: Mapping[str, Any],
    path: str | Path,
    title: str | None = None,
    final_loss_window: int = 100,
) -> Path:
    """Three panels against the weight scale (log x): best val and train accuracy, final loss.

    final_loss_window: how many last iterations the final loss averages (for its title).

    runs: label -> a record with ``best_val_acc``, ``best_train_acc``, ``final_loss`` and
    ``diverged`` (one entry per scale); a diverged run is drawn with a large x marker, on the
    panel's top edge where its value is NaN (a loss that was never finite).
    """
    fig, axes = new_figure(3, 1, width=8, row_height=3.2)
    for ax, (key, panel_title, ylabel) in zip(axes[:, 0], SWEEP_PANELS, strict=True):
        for i, (label, run) in enumerate(runs.items()):
            color = color_for(label, i)
            values = np.asarray(getattr(run, key), dtype=float)
            ax.semilogx(scales, values, "-o", color=color, label=label, ms=4)
            diverged = np.asarray(run.diverged, dtype=bool)
            if diverged.any():
                # A run that diverged before any finite value has none: its x goes on the top edge.
                y = np.where(np.isfinite(values), values, np.nan)[diverged]
                marker = {"color": color, "ms": 11, "mew": 2.5, "ls": "none", "marker": "x"}
                ax.plot(
                    np.asarray(scales)[diverged],
                    y,
                    label=f"{label}: diverged (loss NaN or inf)",
                    **marker,
                )
                no_value = ~np.isfinite(y)
                if no_value.any():
                    top = ax.get_xaxis_transform()  # x in data units, y in axes fraction
                    ax.plot(
                        np.asarray(scales)[diverged][no_value],
                        [0.97] * no_value.sum(),
                        transform=top,
                        clip_on=False,
                        **marker,
                    )
        if key == "final_loss":
            ax.set_yscale("log")  # exploding baselines reach 1e4 while the rest sit near 1
        ax.set(
            title=panel_title.format(window=final_loss_window),
            xlabel=LABELS["weight_scale"],
            ylabel=ylabel,
        )
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path, title)


def plot_dropout_comparison(
    nets: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path, title: str | None = None
) -> Path:
    """Bars of final train and val accuracy per net (mean over seeds, dots per seed), and the
    variance shift of the nets that measured one.

    nets: net label -> {'train_acc', 'val_acc', 'variance_ratio', 'running_var_ratio'} -> one
    value per seed (NaN where not measured).
    """
    fig, axes = new_figure(1, 2, width=13, row_height=4.2, gridspec_kw={"width_ratios": [3, 1.3]})
    ax = axes[0, 0]
    labels = list(nets)
    x = np.arange(len(labels))
    for offset, key, name in ((-0.2, "train_acc", "train"), (0.2, "val_acc", "val")):
        values = [np.asarray(nets[label][key], dtype=float) for label in labels]
        means = [np.nanmean(v) for v in values]
        bars = ax.bar(
            x + offset, means, 0.4, label=LABELS[key], alpha=0.8 if name == "val" else 0.45
        )
        for xi, v in zip(x, values, strict=True):
            ax.plot([xi + offset] * len(v), v, "k.", ms=4)
        ax.bar_label(bars, fmt="%.3f", fontsize=7)
    low = min(np.nanmin(nets[label]["val_acc"]) for label in labels)
    ax.set(xticks=x, ylabel="Final accuracy", ylim=(max(0, low - 0.1), 1.0))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_title("Final train and validation accuracy (gap = overfitting)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    ax = axes[0, 1]
    measured = [label for label in labels if np.isfinite(nets[label]["variance_ratio"]).any()]
    for i, (key, name) in enumerate(
        (
            ("variance_ratio", "var train / var test"),
            ("running_var_ratio", "running var / var test"),
        )
    ):
        values = [np.nanmean(nets[label][key]) for label in measured]
        bars = ax.bar(np.arange(len(measured)) + 0.4 * i - 0.2, values, 0.4, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(xticks=np.arange(len(measured)), ylabel="Mean per-feature ratio")
    ax.set_xticklabels(measured, rotation=20, ha="right", fontsize=8)
    ax.set_title("Variance shift at batchnorm2's input", fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return save_figure(fig, path, title)


def plot_population_statistics(
    runs: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Test accuracy against batchnorm momentum (log of 1 - momentum on x): moving vs recomputed.

    runs: label (e.g. 'constant lr') -> ``momentum``, ``moving_acc`` and ``recomputed_acc``,
    one entry per run: solid lines for the moving averages, dashed for the recomputed ones.
    """
    fig, axes = new_figure(1, 1, width=8, row_height=4.5)
    ax = axes[0, 0]
    for i, (label, group) in enumerate(runs.items()):
        color = color_for(label, i)
        lag = 1.0 - np.asarray(group["momentum"], dtype=float)  # 1 - momentum: log-spaced
        ax.semilogx(lag, group["moving_acc"], "-o", color=color, label=f"{label}: moving averages")
        ax.semilogx(lag, group["recomputed_acc"], "--s", color=color, label=f"{label}: recomputed")
    momenta = sorted({m for group in runs.values() for m in group["momentum"]})
    ax.set_xticks([1.0 - m for m in momenta], [f"{m:g}" for m in momenta])
    ax.invert_xaxis()  # momentum grows to the right
    ax.set(xlabel="batchnorm momentum (weight of the old running value)", ylabel="test accuracy")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    return save_figure(fig, path, title)


def plot_placement(
    runs: Mapping[str, Mapping[str, Mapping[str, Sequence[Any]]]],
    titles: Mapping[str, str],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Batchnorm before vs after the activation: final val accuracy per net, and the curves.

    runs: net -> placement ('before', 'after') -> {'val_acc': one value per seed,
    'val_history': one per-epoch list per seed}; titles: net -> its name on the figure.
    Left: bars of the mean final validation accuracy over seeds, a dot per seed and a line
    from the lowest to the highest seed. Right: the mean validation accuracy per epoch from
    epoch 1 (epoch 0, the untrained nets at chance, would squash the differences), one colour
    per net, solid before and dashed after the activation.
    """
    fig, axes = new_figure(1, 2, width=13, row_height=4.5, gridspec_kw={"width_ratios": [1, 1.3]})
    ax = axes[0, 0]
    nets = list(runs)
    placements = list(runs[nets[0]])
    width = 0.8 / len(placements)
    x = np.arange(len(nets))
    lowest = 1.0
    for j, placement in enumerate(placements):
        offset = (j - (len(placements) - 1) / 2) * width
        values = [np.asarray(runs[net][placement]["val_acc"], dtype=float) for net in nets]
        means = [np.nanmean(v) for v in values]
        bars = ax.bar(
            x + offset, means, width, label=f"batchnorm {placement} the activation",
            alpha=0.8 if j == 0 else 0.5, hatch=None if j == 0 else "//",
        )  # fmt: skip
        for xi, v in zip(x, values, strict=True):
            ax.plot([xi + offset] * len(v), v, "k.", ms=5)
            ax.plot([xi + offset] * 2, [np.nanmin(v), np.nanmax(v)], "k-", lw=1)
            lowest = min(lowest, float(np.nanmin(v)))
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=6)
    ax.set(xticks=x, ylabel="Final validation accuracy", ylim=(max(0.0, lowest - 0.1), 1.05))
    ax.set_xticklabels([titles.get(net, net) for net in nets], fontsize=8)
    ax.set_title("Final validation accuracy (dots: seeds)", fontsize=10)
    ax.legend(loc="upper center", fontsize=8, ncol=len(placements))
    ax.grid(alpha=0.3, axis="y")
    ax = axes[0, 1]
    for i, net in enumerate(nets):
        color = color_for(titles.get(net, net), i)
        for placement, style in zip(placements, ("-", "--", ":"), strict=False):
            histories = [h for h in runs[net][placement]["val_history"] if len(h)]
            if not histories:
                continue
            length = min(len(h) for h in histories)
            mean = np.mean([h[1:length] for h in histories], axis=0)  # (epochs,)
            ax.plot(
                np.arange(1, length), mean, style, color=color,
                label=f"{titles.get(net, net)}, {placement}",
            )  # fmt: skip
    ax.set(xlabel=LABELS["epoch"], ylabel=LABELS["val_acc"])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Validation accuracy per epoch (mean over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    return save_figure(fig, path, title)


def plot_learning_rate_sweep(
    learning_rates: Mapping[str, Sequence[float]],
    runs: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    title: str | None = None,
    *,
    thresholds: Mapping[str, float] | None = None,
    chance: float | None = None,
    iterations_label: str = "Iterations to the loss target",
    subtitles: Mapping[str, str] | None = None,
) -> Path:
    """One column per family of nets, against the learning rate (log x): the final validation
    accuracy (top) and the iterations to a loss target (bottom).

    learning_rates: family -> its rates. runs: family -> net label -> a record with
    ``final_val_acc``, ``iterations`` and ``diverged``, each [learning rate][seed]. A line is
    the mean over the seeds with a value, the dots the seeds (NaN: diverged, never reached the
    target, or failed); an x on the accuracy panel's bottom edge marks a rate at which some seed
    diverged. thresholds: family -> the accuracy "trains" needs (a dashed line); chance: a
    dotted line.
    """
    families = list(runs)
    fig, axes = new_figure(2, len(families), width=5.2 * len(families), row_height=3.8)
    for column, family in enumerate(families):
        rates = np.asarray(learning_rates[family], dtype=float)
        top, bottom = axes[0, column], axes[1, column]
        for i, (label, net) in enumerate(runs[family].items()):
            color = color_for(label, i)
            for ax, key in ((top, "final_val_acc"), (bottom, "iterations")):
                grid = np.asarray(getattr(net, key), dtype=float)  # (num_lrs, num_seeds)
                counted = np.isfinite(grid).sum(axis=1)
                mean = np.where(
                    counted > 0, np.nansum(grid, axis=1) / np.maximum(counted, 1), np.nan
                )
                ax.semilogx(rates, mean, "-o", color=color, label=label, ms=4)
                seeds_x = np.repeat(rates[:, None], grid.shape[1], axis=1)  # (num_lrs, num_seeds)
                ax.plot(seeds_x.ravel(), grid.ravel(), ".", color=color, alpha=0.45, ms=5)
            diverged = np.asarray(net.diverged, dtype=bool).any(axis=1)
            if diverged.any():
                edge = top.get_xaxis_transform()  # x in data units, y in axes fraction
                top.plot(
                    rates[diverged],
                    [0.04 + 0.06 * i] * int(diverged.sum()),
                    "x",
                    color=color,
                    ms=10,
                    mew=2.5,
                    transform=edge,
                    clip_on=False,
                    label=f"{label}: diverged (some seed)",
                )
        if thresholds is not None and family in thresholds:
            top.axhline(thresholds[family], color="0.3", ls="--", lw=1, label='"trains" from here')
        if chance is not None:
            top.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
        bottom.set_xscale("log")
        bottom.set_xlim(top.get_xlim())  # the same rates under each other, drawn or not
        bottom.set_ylim(bottom=0)
        reached = [np.ravel(net.iterations) for net in runs[family].values()]
        if not np.isfinite(np.concatenate(reached)).any():
            bottom.text(
                0.5, 0.5, "no run reached the loss target", ha="center", transform=bottom.transAxes
            )
        name = subtitles.get(family, family) if subtitles else family
        top.set(
            title=name, xlabel=LABELS["learning_rate"], ylabel="Final " + LABELS["val_acc"].lower()
        )
        top.set_ylim(0, 1)
        bottom.set(xlabel=LABELS["learning_rate"], ylabel=iterations_label)
        for ax in (top, bottom):
            ax.grid(alpha=0.3, which="both")
            ax.legend(loc="best", fontsize=7)
    return save_figure(fig, path, title)


def plot_batch_size_sweep(
    batch_sizes: Sequence[int],
    panels: Mapping[str, Mapping[str, Sequence[Sequence[float]]]],
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Final validation accuracy against the batch size (log x), one panel per net and one
    line per normalization.

    panels: net label (the panel's title) -> normalization -> one list per batch size of one
    accuracy per seed (NaN: a failed run). The line is the mean over seeds, the band spans the
    lowest to the highest seed, and the dots are the seeds.
    """
    fig, axes = new_figure(1, len(panels), width=6 * len(panels), row_height=4.5, sharey=True)
    x = np.asarray(batch_sizes, dtype=float)
    for ax, (net, accuracies) in zip(axes[0], panels.items(), strict=True):
        for i, (label, per_batch) in enumerate(accuracies.items()):
            color = color_for(label, i)
            finite = [v[np.isfinite(v)] for v in (np.asarray(s, dtype=float) for s in per_batch)]
            mean = np.array([v.mean() if v.size else np.nan for v in finite])
            low = np.array([v.min() if v.size else np.nan for v in finite])
            high = np.array([v.max() if v.size else np.nan for v in finite])
            ax.semilogx(x, mean, "-o", color=color, label=f"{label} (mean over seeds)", base=2)
            ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
            for xi, v in zip(x, finite, strict=True):
                ax.plot([xi] * v.size, v, ".", color=color, ms=4, alpha=0.7)
        ax.set_xticks(x, [str(b) for b in batch_sizes])
        ax.set(title=net, xlabel=LABELS["batch_size"], ylabel="Final validation accuracy")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="best", fontsize=8, title="band: lowest to highest seed", title_fontsize=8)
    return save_figure(fig, path, title)
