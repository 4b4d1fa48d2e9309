"""The dropout experiment (study notes 001, 003) at quick size: it runs, its summary holds its
numbers, inverted dropout inflates the variance of the next batchnorm's input at train time, and
Li et al.'s fix (dropout only after the last batchnorm) takes that inflation away."""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.experiments import dropout
from bnlab.experiments.sweep import SweepOptions

# With keep ratio p, inverted dropout scales kept units by 1/p: E[(m h / p)^2] = E[h^2] / p, so
# train-mode variance exceeds test-mode variance (by up to 1/p = 2 at p = 0.5). Without dropout
# both modes would see the same affine2 (up to batchnorm1's batch vs running statistics).
MIN_VARIANCE_RATIO = 1.2


@pytest.fixture(scope="module")
def result():
    return dropout.run(dropout.Config.quick())


def test_every_net_and_seed_is_recorded(result):
    config = dropout.Config.quick()
    assert list(result.nets) == list(config.nets)
    assert set(config.nets) >= {"plain", "batchnorm", "dropout 0.5", "both 0.5", "both-last 0.5"}
    assert not result.failed
    for net, metrics in result.nets.items():
        for key in ("train_acc", "val_acc"):
            assert len(metrics[key]) == len(config.seeds), (net, key)
            assert all(0 <= v <= 1 for v in metrics[key]), (net, key, metrics[key])
        # the variance shift is measured in the nets with both (both-last: at the same place)
        measured = np.isfinite(metrics["variance_ratio"]).all()
        assert measured == net.startswith("both"), (net, metrics["variance_ratio"])


def test_summary_contains_the_results_numbers(result):
    summary = dropout.summarize(result)
    for net, metrics in result.nets.items():
        train, val = np.mean(metrics["train_acc"]), np.mean(metrics["val_acc"])
        assert f"{net:>13}: train acc {train:.3f}, val acc {val:.3f}, gap {train - val:.3f}" in (
            summary
        )
    ratio = np.mean(result.nets["both 0.5"]["variance_ratio"])
    assert f"(both 0.5, batchnorm2's input): var train / var test {ratio:.3f}" in summary
    fixed = np.mean(result.nets["both-last 0.5"]["variance_ratio"])
    assert (
        f"fix at keep 0.5 (dropout only after the last batchnorm): var train / var test "
        f"{fixed:.3f} (both: {ratio:.3f})"
    ) in summary


def test_dropout_inflates_the_variance_of_the_next_batchnorms_input_at_train_time(result):
    ratio = np.mean(result.nets["both 0.5"]["variance_ratio"])
    assert ratio > MIN_VARIANCE_RATIO, f"var train / var test {ratio:.3f}"


def test_dropout_only_after_the_last_batchnorm_reduces_the_shift(result):
    """In both-last no dropout precedes batchnorm2: what is left of the ratio is batchnorm1's
    batch vs running statistics, less than dropout's inflation at every keep ratio."""
    for keep in dropout.Config.quick().keep_ratios:
        every = np.mean(result.nets[f"both {keep:g}"]["variance_ratio"])
        last = np.mean(result.nets[f"both-last {keep:g}"]["variance_ratio"])
        assert last < every, f"keep {keep:g}: both-last {last:.3f} vs both {every:.3f}"


def test_both_last_nets_put_dropout_after_the_last_hidden_layer_only():
    config = dropout.Config.quick()
    for net, (batchnorm, keep, position) in config.nets.items():
        assert net.startswith("both-last") == (position == "last"), net
        assert net.startswith("both") == (batchnorm and keep < 1), net


def test_worker_processes_give_the_same_numbers():
    config = dropout.Config(**{**vars(dropout.Config.quick()), "keep_ratios": (0.5,)})
    serial = dropout.run(config)
    parallel = dropout.run(config, SweepOptions(jobs=2, progress=False))
    assert list(parallel.nets) == list(serial.nets)
    for net, metrics in serial.nets.items():
        for key, values in metrics.items():  # NaN where not measured: equal as arrays
            np.testing.assert_array_equal(parallel.nets[net][key], values, err_msg=f"{net} {key}")
