"""bnlab.plotting: what the training-curve figure draws, and the PNG-only rule."""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.experiments.common import History
from bnlab.plotting import curves, plot_training_curves


def drawn_figure(monkeypatch, runs, tmp_path):
    """The figure plot_training_curves builds, kept open instead of saved and closed."""
    figures = []

    def keep(fig, path, title=None):
        figures.append(fig)
        return path

    monkeypatch.setattr(curves, "save_figure", keep)
    plot_training_curves(runs, tmp_path / "curves.png")
    return figures[0]


def test_long_runs_get_a_moving_average_and_short_runs_their_raw_loss(monkeypatch, tmp_path):
    runs = {
        "short": History([2.3, 2.0, 1.5], [0.1, 0.5], [0.1, 0.4]),  # 3 iterations: a quick run
        "long": History(list(np.linspace(2.3, 0.5, 100)), [0.1, 0.9], [0.1, 0.8]),
    }
    loss_ax = drawn_figure(monkeypatch, runs, tmp_path).axes[0]
    labelled = {line.get_label(): line for line in loss_ax.lines}
    assert {"short", "long"} <= set(labelled)
    short, long = labelled["short"], labelled["long"]
    # the short run's only curve is its raw loss, fully opaque (not the faint backdrop)
    assert short.get_alpha() in (None, 1.0)
    np.testing.assert_array_equal(short.get_ydata(), [2.3, 2.0, 1.5])
    # the long run's labelled curve is the moving average, drawn over the faint raw loss
    assert len(long.get_xdata()) < 100
    assert any(line.get_alpha() == 0.35 and len(line.get_xdata()) == 100 for line in loss_ax.lines)


def test_figures_are_png_only(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.png, got .*curves\.jpg"):
        plot_training_curves({"a": History([1.0], [0.1], [0.1])}, tmp_path / "curves.jpg")
