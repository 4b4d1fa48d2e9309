"""`bnlab experiment learning-rate`, in quick mode, and the analysis its summary rests on."""

import dataclasses
import json
import math

import numpy as np
import pytest

from bnlab.experiments import learning_rate
from bnlab.experiments.learning_rate import Config, NetSweep
from bnlab.experiments.sweep import SweepOptions


@pytest.fixture(scope="module")
def result():
    return learning_rate.run(Config.quick())


def test_every_family_net_rate_and_seed_is_recorded(result):
    config = Config.quick()
    assert list(result.runs) == list(config.families)
    for family, nets in result.runs.items():
        rates = result.learning_rates[family]
        assert rates == config.learning_rates(family)
        assert rates[0] < rates[-1] and len(rates) >= 3
        assert list(nets) == ["baseline", "batchnorm"]
        for net in nets.values():
            for key in ("final_val_acc", "best_val_acc", "iterations", "diverged", "failed"):
                grid = getattr(net, key)
                assert [len(row) for row in grid] == [len(config.seeds)] * len(rates), key
    assert result.failed == {}
    assert result.chance == pytest.approx(0.1)


def test_a_diverged_run_has_no_final_accuracy_and_every_other_run_has_one(result):
    for nets in result.runs.values():
        for net in nets.values():
            final = np.asarray(net.final_val_acc, dtype=float)
            diverged = np.asarray(net.diverged)
            assert np.isnan(final[diverged]).all()
            assert ((final[~diverged] >= 0) & (final[~diverged] <= 1)).all()
            assert np.isfinite(np.asarray(net.best_val_acc, dtype=float)).all()


def test_learning_rates_are_log_spaced_with_both_ends():
    config = Config(lrs_per_decade=2, fc_min_lr=1e-5, fc_max_lr=1.0)
    rates = config.learning_rates("six-layer")
    assert len(rates) == 11  # 5 decades, 2 per decade, both ends
    assert rates[0] == pytest.approx(1e-5) and rates[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(rates)), 0.5)
    assert Config(lenet_min_lr=0.01, lenet_max_lr=100).learning_rates("LeNet relu")[-1] == 100


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"families": ("six-layer", "resnet")}, "families: unknown net family 'resnet'"),
        ({"fc_min_lr": 1.0, "fc_max_lr": 1.0}, "'six-layer' must satisfy 0 < min < max, got min"),
        ({"lenet_min_lr": 0.0}, "'LeNet sigmoid' must satisfy 0 < min < max, got min 0.0"),
    ],
)
def test_bad_learning_rate_settings_are_refused_naming_them(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        learning_rate.run(dataclasses.replace(Config.quick(), **changes))


def sweep_of(final, diverged=None, failed=None, iterations=None):
    """A NetSweep from [lr][seed] grids; the omitted ones all False / NaN."""
    shape = np.shape(final)
    return NetSweep(
        final_val_acc=final,
        best_val_acc=final,
        iterations=iterations if iterations is not None else np.full(shape, math.nan).tolist(),
        diverged=diverged if diverged is not None else np.zeros(shape, bool).tolist(),
        failed=failed if failed is not None else np.zeros(shape, bool).tolist(),
    )


def test_trains_needs_the_threshold_above_chance_and_no_diverged_or_failed_seed():
    nan = math.nan
    net = sweep_of(
        final=[[0.8, 0.7], [0.8, nan], [0.8, 0.8], [0.5, 0.5], [0.05, 0.05], [0.6, 0.4]],
        diverged=[
            [False, False],
            [False, True],
            [False, False],
            [False] * 2,
            [False] * 2,
            [False] * 2,
        ],
        failed=[
            [False, False],
            [False, False],
            [True, False],
            [False] * 2,
            [False] * 2,
            [False] * 2,
        ],
    )
    # 0.75: fine; a diverged seed; a failed seed; mean 0.5 = the threshold; at or below chance;
    # mean 0.5 of a spread pair: the mean counts, not the worst seed
    assert learning_rate.trains(net, 0.5, 0.1).tolist() == [True, False, False, True, False, True]
    assert learning_rate.trains(net, 0.0, 0.1)[4] == np.False_  # never at chance, whatever the bar


def test_the_threshold_is_the_fraction_of_the_way_from_chance_to_the_familys_best(result):
    family = "LeNet relu"
    best = max(
        np.nanmax(learning_rate.mean_over_seeds(n.final_val_acc))
        for n in result.runs[family].values()
    )
    expected = result.chance + result.trains_fraction * (max(best, result.chance) - result.chance)
    assert learning_rate.trains_threshold(result, family) == pytest.approx(expected)
    nothing = dataclasses.replace(result, runs={family: {"baseline": sweep_of([[0.05]])}})
    assert learning_rate.trains_threshold(nothing, family) == pytest.approx(result.chance)


def test_mean_over_seeds_skips_nan_and_iterations_need_every_seed():
    nan = math.nan
    assert np.allclose(
        learning_rate.mean_over_seeds([[1.0, 3.0], [2.0, nan], [nan, nan]]),
        [2.0, 2.0, nan],
        equal_nan=True,
    )
    net = sweep_of([[0.5, 0.5]] * 3, iterations=[[40.0, 60.0], [30.0, nan], [nan, nan]])
    assert np.allclose(learning_rate.fewest_iterations(net), [50.0, nan, nan], equal_nan=True)
    plain = sweep_of([[0.5, 0.5]] * 3, iterations=[[90.0, 110.0], [100.0, 100.0], [nan, nan]])
    bn = sweep_of([[0.5, 0.5]] * 3, iterations=[[50.0, 50.0], [25.0, 25.0], [10.0, 10.0]])
    assert learning_rate.iteration_ratio(plain, bn) == (pytest.approx(3.0), 2)  # median of 2, 4
    assert learning_rate.iteration_ratio(plain, sweep_of([[0.5, 0.5]] * 3))[1] == 0


def test_a_run_whose_batchnorm_statistics_overflow_is_recorded_as_diverged(tmp_path):
    # Plain SGD at 1e20 to 1e30 blows any net up within two steps: the plain net's loss
    # becomes NaN; the batchnorm net's loss stays finite (it normalises) until its float32
    # variance overflows, which must be a divergence too, not an error.
    config = dataclasses.replace(
        Config.quick(),
        families=("six-layer",),
        fc_update_rule="sgd",
        fc_min_lr=1e20,
        fc_max_lr=1e30,
        lrs_per_decade=1,
        fc_num_train=100,
        fc_num_epochs=1,
    )
    result = learning_rate.run(config, SweepOptions(jobs=1, progress=False, out_dir=tmp_path))
    assert result.failed == {}
    for net in result.runs["six-layer"].values():
        assert np.asarray(net.diverged).all()
    saved = json.loads((tmp_path / "learning_rate_runs.json").read_text())["runs"].values()
    batchnorm = [run for run in saved if run["kwargs"]["normalization"] == "batchnorm"]
    assert {run["status"] for run in saved} == {"diverged"}
    assert all(run["message"].startswith("loss inf at iteration") for run in batchnorm)
    summary = learning_rate.summarize(result)
    assert summary.count("trains at lr none") == 2
    assert summary.count("diverged at lr 1e+20 .. 1e+30 (11 rates)") == 2
    assert "six-layer: batchnorm trains at no rate" in summary


def test_the_summary_prints_what_the_analysis_finds(result):
    summary = learning_rate.summarize(result)
    for family, nets in result.runs.items():
        rates = np.asarray(result.learning_rates[family])
        threshold = learning_rate.trains_threshold(result, family)
        header = f"{family} ({result.training[family]}): trains needs val acc >= {threshold:.3f}"
        assert header in summary
        block = summary.split(header)[1].splitlines()[1:3]  # the family's two nets
        for (label, net), line in zip(nets.items(), block, strict=True):
            ok = rates[learning_rate.trains(net, threshold, result.chance)]
            assert line.strip().startswith(f"{label}: trains at lr {learning_rate._rates(ok)};")
            mean = learning_rate.mean_over_seeds(net.final_val_acc)
            assert f"best mean final val acc {np.nanmax(mean):.3f}" in line
    assert summary.splitlines()[-1].startswith("verdict: six-layer: ")


def test_plot_writes_one_png(result, tmp_path):
    (path,) = learning_rate.plot(result, tmp_path)
    assert path.name == "learning_rate.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
