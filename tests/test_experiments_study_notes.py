"""The study notes' own experiments at quick size: regression, activations, bn-conventions.

Each runs once through the CLI (the PNGs are written and non-empty) and through ``run()`` to
check that its data shows what the experiment demonstrates. Properties that depend on random
data are checked for a few random seeds, so that none holds by the luck of one seed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bnlab.experiments import activations, bn_conventions, regression
from bnlab.experiments.common import init_like_pytorch
from bnlab.nets import FullyConnectedNet

SEEDS = (0, 1, 2)
# Case (b): "barely learns" = the baseline's test MSE is still most of var(y), the MSE of
# predicting the mean (seen: 0.98-1.03 var(y)); the batchnorm net is far below (seen: < 0.15).
BARELY_LEARNS = 0.8
MUCH_BETTER = 0.5
# The BN output's spread (half the 15-85 % range; ~std for a Gaussian) stays near gamma = 1.
BN_SPREAD_RANGE = (0.8, 1.3)
BN_MEDIAN_TOL = 0.2  # beta stays near 0
# Monte Carlo check of the rectified-Gaussian formulas: 1e6 samples, std error ~ 1e-3.
MOMENT_TOL = 5e-3


def test_init_like_pytorch_draws_uniform_weights_with_bound_one_over_sqrt_fan_in():
    model = FullyConnectedNet([300, 100], input_dim=200, num_classes=100, seed=0)
    init_like_pytorch(model, seed=0)
    for i, fan_in in enumerate((200, 300, 100), start=1):
        bound = 1 / math.sqrt(fan_in)
        W, b = model.params[f"W{i}"], model.params[f"b{i}"]
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
        assert W.dtype == np.float32
        # U(-a, a) has std a / sqrt(3); a sample std of n >= 10^4 such draws has a relative
        # standard error sqrt(0.8 / (4 n)) <= 0.0045, so 3% is over 6 standard errors
        assert W.std() == pytest.approx(bound / math.sqrt(3), rel=0.03), f"W{i}"


# -- regression ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression_results():
    return [
        regression.run(dataclasses.replace(regression.Config.quick(), seed=seed)) for seed in SEEDS
    ]


def test_regression_saturated_tanh_barely_learns_and_batchnorm_fits(regression_results):
    for seed, result in zip(SEEDS, regression_results, strict=True):
        _, wide = result.cases  # (b): x in (-5, 5), noise 1
        baseline = wide.final_test_mse["baseline"][0]
        batchnorm = wide.final_test_mse["batchnorm"][0]
        assert baseline > BARELY_LEARNS * wide.y_var, (seed, baseline, wide.y_var)
        assert batchnorm < MUCH_BETTER * baseline, (seed, batchnorm, baseline)


def test_regression_baseline_is_stuck_with_its_last_tanh_layer_saturated(regression_results):
    for seed, result in zip(SEEDS, regression_results, strict=True):
        _, wide = result.cases
        # the fraction of last-hidden-layer tanh inputs beyond +-2 after training (seen: all of
        # them for the baseline, at most 22 % with batchnorm, seeds 0-5)
        assert wide.curves["baseline"].saturated[-1][-1] > 0.95, seed
        assert wide.curves["batchnorm"].saturated[-1][-1] < 0.5, seed


def test_regression_in_the_sensitive_range_the_baseline_fits(regression_results):
    for seed, result in zip(SEEDS, regression_results, strict=True):
        narrow, _ = result.cases  # (a): x in (-1, 1), noise 0.1: var(y) ~ 0.1, noise var 0.01
        assert narrow.final_test_mse["baseline"][0] < 0.5 * narrow.y_var, seed


def test_regression_same_seed_same_numbers(regression_results):
    again = regression.run(regression.Config.quick())
    assert again == regression_results[0]


# -- activations --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def activation_results():
    config = activations.Config.quick()
    return [activations.run(dataclasses.replace(config, seed=seed)) for seed in SEEDS[:2]]


def spreads_and_medians(result, label, layer):
    stats = [activations.median_and_spread(result.quantiles, q) for q in result.bands[label][layer]]
    medians, spreads = zip(*stats, strict=True)
    return np.array(medians), np.array(spreads)


def test_activations_batchnorm_output_stays_near_beta_and_gamma(activation_results):
    for result in activation_results:
        # epoch 0 uses the initial running statistics (0, 1): batchnorm1 there is affine1
        medians, spreads = spreads_and_medians(result, "batchnorm", "batchnorm1")
        assert np.all(np.abs(medians[1:]) < BN_MEDIAN_TOL), medians
        low, high = BN_SPREAD_RANGE
        assert np.all((spreads[1:] > low) & (spreads[1:] < high)), spreads
        # once the running statistics have caught up (epoch 2 on) the spread barely moves
        assert spreads[2:].max() / spreads[2:].min() < 1.15, spreads


def test_activations_baseline_distribution_drifts(activation_results):
    for result in activation_results:
        _, spreads = spreads_and_medians(result, "baseline", "affine1")
        assert np.all(np.diff(spreads) > 0), spreads  # widens every epoch
        assert spreads[-1] / spreads[2] > 1.3, spreads  # while batchnorm1's stays within 1.15


def test_activations_batchnorm_converges_faster(activation_results):
    for result in activation_results:
        baseline = result.runs["baseline"].val_metric_history[-1]
        batchnorm = result.runs["batchnorm"].val_metric_history[-1]
        assert batchnorm > baseline + 0.1, (baseline, batchnorm)


# -- bn-conventions -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def convention_results():
    config = bn_conventions.Config.quick()
    return [bn_conventions.run(dataclasses.replace(config, seed=seed)) for seed in SEEDS]


def test_relu_gaussian_moments_match_monte_carlo():
    z = np.random.default_rng(0).normal(0.5, 1.5, 1_000_000)
    mean, var = bn_conventions.relu_gaussian_moments(0.5, 1.5)
    relu = np.maximum(z, 0)
    assert mean == pytest.approx(relu.mean(), abs=MOMENT_TOL)
    assert var == pytest.approx(relu.var(), abs=MOMENT_TOL)


def test_cs231n_running_var_starts_far_below_the_truth_and_converges(convention_results):
    for result in convention_results:
        s = result.stream
        N = s.batch_size
        assert s.running_var["cs231n"][1] < 0.2 * s.true_var  # 0.9 * 0 + 0.1 * one batch
        # it converges to the mean biased batch variance, (N - 1) / N of the truth
        assert s.var_ratio["cs231n"] == pytest.approx((N - 1) / N, abs=0.05)


def test_pytorch_unbiased_running_var_is_closer_to_the_population_variance(convention_results):
    for result in convention_results:
        s = result.stream
        assert abs(s.var_ratio["PyTorch"] - 1) < abs(s.var_ratio["cs231n"] - 1), s.var_ratio
        assert s.var_ratio["PyTorch"] == pytest.approx(1, abs=0.05)
        # same momentum and batches: once the starts are forgotten (0.9^100 ~ 3e-5) the
        # PyTorch running variance is exactly N / (N - 1) times cs231n's
        after = slice(s.burn_in + 1, None)
        np.testing.assert_allclose(
            s.running_var["PyTorch"][after],
            np.multiply(s.running_var["cs231n"][after], s.batch_size / (s.batch_size - 1)),
            rtol=1e-3,
        )


def test_mybn_running_stats_track_the_last_batch(convention_results):
    for result in convention_results:
        s = result.stream
        for stat, truth in (("mean", s.true_mean), ("var", s.true_var)):
            batch = np.asarray(getattr(s, f"batch_{stat}"))
            running = getattr(s, f"running_{stat}")
            mybn = np.asarray(running["MyBN (study notes)"][1:])  # after each step
            cs231n = np.asarray(running["cs231n"][1:])
            assert np.abs(mybn - batch).max() < 0.05 * truth, stat
            assert np.abs(cs231n - batch).max() > 0.5 * truth, stat  # a real average does not


def test_conventions_train_identical_weights_and_differ_only_in_test_mode(convention_results):
    for result in convention_results:
        acc = result.accuracy
        assert acc.same_weights
        assert set(acc.test_acc) == {c.name for c in bn_conventions.CONVENTIONS} | {
            bn_conventions.MYBN_AS_WRITTEN
        }
        for values in acc.test_acc.values():
            assert len(values) == len(acc.iterations)
            assert all(0 <= v <= 1 for v in values)
        # one batch of N = 8 is a poor estimate of the statistics: MyBN's running values cost
        # accuracy at the end of the quick run (seen for seeds 0-5: by 0.03-0.14)
        assert acc.test_acc["MyBN (study notes)"][-1] < acc.test_acc["PyTorch"][-1]
