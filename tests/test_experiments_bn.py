"""Study note 003's experiments at quick size: bn-sanity, bn-vs-baseline, weight-scale.

Each runs once through the CLI (the PNGs are written and non-empty) and once through ``run()``
to check that its data shows what the experiment demonstrates, where that holds at quick size.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from bnlab.experiments import bn_sanity, bn_vs_baseline, weight_scale

# Train-mode batchnorm makes the batch mean exactly 0 up to float64 rounding of values ~40.
MEAN_TOL = 1e-12
# The std is sqrt(var / (var + eps)) with var ~ 1000 and eps = 1e-5: 1 - 5e-9, not 1.
STD_TOL = 1e-6
# Test mode uses running averages over 50 other batches of 200: the note saw errors up to 0.12.
TEST_MODE_TOL = 0.2
# The two backward passes compute the same gradient by different routes: rounding only.
BACKWARD_TOL = 1e-10


# -- bn-sanity --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sanity():
    return bn_sanity.run(bn_sanity.Config.quick())


def test_bn_sanity_train_mode_standardises_then_scales_and_shifts(sanity):
    before, after, scaled, _ = sanity.stages
    config = bn_sanity.Config.quick()
    # relu(X W1) W2 is far from standard: the check below could not pass by accident.
    assert min(before.stds) > 5, before.stds
    np.testing.assert_allclose(after.means, 0, atol=MEAN_TOL)
    np.testing.assert_allclose(after.stds, 1, atol=STD_TOL)
    np.testing.assert_allclose(scaled.means, config.beta, atol=MEAN_TOL * 100)
    np.testing.assert_allclose(scaled.stds, config.gamma, rtol=STD_TOL)


def test_bn_sanity_test_mode_uses_running_statistics_that_fit_a_fresh_batch(sanity):
    test = sanity.stages[3]
    assert test.name.startswith("test mode")
    np.testing.assert_allclose(test.means, 0, atol=TEST_MODE_TOL)
    np.testing.assert_allclose(test.stds, 1, atol=TEST_MODE_TOL)
    # ...but not exactly: the fresh batch is not the one the statistics came from.
    assert max(abs(m) for m in test.means) > MEAN_TOL


def test_bn_sanity_naive_and_alt_backward_agree(sanity):
    assert [(c.N, c.D) for c in sanity.backward] == list(bn_sanity.Config.quick().timing_sizes)
    for c in sanity.backward:
        assert c.dx_error < BACKWARD_TOL, f"({c.N}, {c.D}): dx rel_error {c.dx_error:.1e}"
        assert c.dgamma_error < BACKWARD_TOL and c.dbeta_error < BACKWARD_TOL
        # ...by two routes, not one: a function compared with itself would give exactly 0
        assert c.dx_error > 0, f"({c.N}, {c.D}): dx identical, naive and alt are the same code"
        assert f"rel_error dx {c.dx_error:.1e}" in bn_sanity.summarize(sanity)


def test_bn_sanity_same_seed_same_statistics(sanity):
    again = bn_sanity.run(dataclasses.replace(bn_sanity.Config.quick(), timing_repeats=1))
    for first, second in zip(sanity.stages, again.stages, strict=True):
        np.testing.assert_array_equal(first.values, second.values)


# -- bn-vs-baseline ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def curves():
    return bn_vs_baseline.run(bn_vs_baseline.Config.quick())


def test_bn_vs_baseline_records_both_runs_on_the_same_schedule(curves):
    config = bn_vs_baseline.Config.quick()
    iterations = config.num_epochs * (config.num_train // config.batch_size)
    assert list(curves.runs) == ["baseline", "batchnorm"]
    for label, history in curves.runs.items():
        assert len(history.loss_history) == iterations, label
        assert len(history.val_metric_history) == config.num_epochs + 1, label  # epoch 0 too


def test_bn_vs_baseline_batchnorm_lowers_the_training_loss(curves):
    # Robust at quick size: over seeds 0-11 the last-epoch mean loss was 1.73-1.92 with
    # batchnorm and 2.30 (chance, ln 10) without. Accuracy is NOT compared here: it is measured
    # in test mode, and after 8 iterations the running statistics (momentum 0.9, running_var
    # starting at 1) are still far from the batch statistics, so the batchnorm net's val
    # accuracy is often below the baseline's. At full size (200 iterations) it is well above.
    config = bn_vs_baseline.Config.quick()
    per_epoch = config.num_train // config.batch_size
    last = {label: np.mean(h.loss_history[-per_epoch:]) for label, h in curves.runs.items()}
    assert last["batchnorm"] < last["baseline"], last


def test_first_below_finds_the_first_smoothed_crossing():
    loss = [3.0] * 30 + [0.5] * 30
    # A 20-wide window holding k of the 0.5s has mean (3(20 - k) + 0.5k) / 20 < 1 once k = 17.
    assert bn_vs_baseline.first_below(loss, 1.0, width=20) == 47
    assert bn_vs_baseline.first_below(loss, 0.1, width=20) is None


# -- weight-scale -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep():
    return weight_scale.run(weight_scale.Config.quick())


def test_weight_scale_sweeps_every_scale_for_both_nets(sweep):
    config = weight_scale.Config.quick()
    np.testing.assert_allclose(sweep.weight_scales, np.logspace(-4, 0, config.num_scales))
    for label, run in sweep.runs.items():
        for values in (run.best_val_acc, run.best_train_acc, run.final_loss, run.diverged):
            assert len(values) == config.num_scales, label


def test_weight_scale_only_batchnorm_learns_from_the_smallest_scale(sweep):
    # At scale 1e-4 the baseline's scores are ~0 through eight layers: its loss stays at
    # ln(10), chance for 10 classes. Batchnorm rescales every layer, so its training loss drops
    # (over seeds 0-19 at quick size by 0.012 to 0.037 below ln 10). Best val accuracy is not
    # compared: at quick size (8 iterations) test mode still uses running statistics near their
    # initial values, so both nets predict one class and tie.
    chance_loss = math.log(10)
    assert abs(sweep.runs["baseline"].final_loss[0] - chance_loss) < 2e-3
    assert sweep.runs["batchnorm"].final_loss[0] < chance_loss - 5e-3


def test_weight_scale_a_diverging_run_is_flagged_and_the_sweep_goes_on(tmp_path):
    # Weights of std 1e5 overflow float32 through eight layers: the baseline's loss is NaN at
    # the first step; batchnorm renormalises every layer and trains on.
    config = dataclasses.replace(
        weight_scale.Config.quick(), min_scale=1e5, max_scale=1e5, num_scales=1
    )
    result = weight_scale.run(config)
    baseline, batchnorm = result.runs["baseline"], result.runs["batchnorm"]
    assert baseline.diverged == [True] and batchnorm.diverged == [False]
    assert math.isnan(baseline.final_loss[0])  # it never had a finite loss
    assert 0 <= baseline.best_val_acc[0] <= 1  # epoch 0 was measured before the first step
    assert math.isfinite(batchnorm.final_loss[0])
    assert "diverged: 1.00e+05" in weight_scale.summarize(result)
    (path,) = weight_scale.plot(result, tmp_path)
    assert path.stat().st_size > 0
