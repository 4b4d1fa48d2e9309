"""`bnlab experiment population-statistics`, in quick mode: moving averages vs recomputed ones."""

import math

import pytest

from bnlab.experiments import population_statistics


@pytest.fixture(scope="module")
def result():
    return population_statistics.run(population_statistics.Config.quick())


def test_every_momentum_and_the_late_drop_are_measured(result):
    config = population_statistics.Config.quick()
    assert result.momenta == list(config.momenta)
    assert result.runs["constant lr"]["momentum"] == list(config.momenta)
    assert result.runs["lr x0.01 last epoch"]["momentum"] == list(config.lr_drop_momenta)
    assert result.failed == {}
    for group in result.runs.values():
        for key in ("moving_acc", "recomputed_acc"):
            assert all(0 <= acc <= 1 and math.isfinite(acc) for acc in group[key]), (key, group)
        assert all(s > 0 for s in group["recompute_seconds"] + group["epoch_seconds"])


def test_momentum_changes_only_the_moving_averages_not_the_recomputed_statistics(result):
    # Training in train mode never reads the running statistics: every momentum trains the
    # same weights, so the recomputed statistics (from those weights alone) agree exactly.
    constant = result.runs["constant lr"]
    assert len(set(constant["recomputed_acc"])) == 1, constant
    assert len(set(constant["moving_acc"])) > 1, constant


def test_a_high_momentum_lags_further_behind_after_few_iterations(result):
    constant = result.runs["constant lr"]
    distance = dict(zip(constant["momentum"], constant["mean_distance"], strict=True))
    # 8 iterations: at 0.999 the moving mean has moved under 1% of the way from its zero start.
    assert distance[0.999] > 0.9
    assert distance[0.999] > 2 * distance[0.5]


def test_the_summary_prints_the_results_numbers(result):
    summary = population_statistics.summarize(result)
    constant = result.runs["constant lr"]
    for i, momentum in enumerate(constant["momentum"]):
        line = next(s for s in summary.splitlines() if f"momentum {momentum:<6g}" in s)
        assert f"moving {constant['moving_acc'][i]:.3f}" in line
        assert f"recomputed {constant['recomputed_acc'][i]:.3f}" in line
        assert f"distance {constant['mean_distance'][i]:.3f}" in line
    assert "% of one epoch" in summary and summary.splitlines()[-1].startswith("verdict:")


def test_plot_writes_one_png(result, tmp_path):
    (path,) = population_statistics.plot(result, tmp_path)
    assert path.name == "population_statistics.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
