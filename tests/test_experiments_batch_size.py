"""`bnlab experiment batch-size`, in quick mode: batchnorm, layernorm and groupnorm by batch size."""

import dataclasses
import math

import numpy as np
import pytest

from bnlab.experiments import batch_size


@pytest.fixture(scope="module")
def result():
    return batch_size.run(batch_size.Config.quick())


def test_every_normalization_batch_size_and_seed_is_measured(result):
    config = batch_size.Config.quick()
    assert result.batch_sizes == list(config.batch_sizes)
    assert result.seeds == list(config.seeds)
    assert list(result.runs) == list(config.normalizations)
    assert result.failed == {}
    for norm, metrics in result.runs.items():
        assert set(metrics) == set(batch_size.METRICS)
        for key, per_batch in metrics.items():
            assert len(per_batch) == len(config.batch_sizes), (norm, key)
            for seeds in per_batch:
                assert len(seeds) == len(config.seeds), (norm, key)
                assert all(0 <= acc <= 1 for acc in seeds), (norm, key, seeds)
        for final, best in zip(metrics["final_val_acc"], metrics["best_val_acc"], strict=True):
            assert all(f <= b for f, b in zip(final, best, strict=True))


def test_each_cell_is_its_own_run(result):
    """Seeds, normalizations and batch sizes each change the numbers (none is dropped or shared)."""
    final = {norm: np.array(m["final_val_acc"]) for norm, m in result.runs.items()}
    for norm, values in final.items():  # (batch sizes, seeds)
        assert (values[:, 0] != values[:, 1]).any(), f"{norm}: both seeds gave the same numbers"
        assert (values[0] != values[1]).any(), f"{norm}: both batch sizes gave the same numbers"
    assert not np.array_equal(final["layernorm"], final["groupnorm"])


def test_a_run_is_reproducible_and_matches_the_sweep(result):
    config = batch_size.Config.quick()
    column = 1  # batch 16: a quick run
    again = batch_size.train_one(
        dataclasses.asdict(config), "groupnorm", config.batch_sizes[column], config.seeds[1]
    )
    assert again["final_val_acc"] == result.runs["groupnorm"]["final_val_acc"][column][1]
    assert again["final_train_acc"] == result.runs["groupnorm"]["final_train_acc"][column][1]


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path):
    config = dataclasses.replace(
        batch_size.Config.quick(),
        normalizations=("layernorm", "instancenorm"),  # LeNet refuses 'instancenorm'
        batch_sizes=(16,),
        num_train=48,
        seeds=(0,),
    )
    result = batch_size.run(config)
    assert list(result.failed) == ["instancenorm, batch 16, seed 0"]
    assert "normalization" in result.failed["instancenorm, batch 16, seed 0"]
    assert math.isnan(result.runs["instancenorm"]["final_val_acc"][0][0])
    assert 0 <= result.runs["layernorm"]["final_val_acc"][0][0] <= 1
    summary = batch_size.summarize(result)
    assert "[failed]" in summary and "failed: instancenorm, batch 16, seed 0" in summary
    (path,) = batch_size.plot(result, tmp_path)
    assert path.is_file()


def test_the_summary_prints_the_results_numbers(result):
    summary = batch_size.summarize(result)
    lines = summary.splitlines()
    for column, size in enumerate(result.batch_sizes):
        row = next(line for line in lines if line.split()[0] == str(size))
        for metrics in result.runs.values():
            seeds = metrics["final_val_acc"][column]
            assert f"{np.mean(seeds):.3f} [{min(seeds):.3f}, {max(seeds):.3f}]" in row, row
    means = batch_size.mean_accuracies(result)
    others = np.maximum(means["layernorm"], means["groupnorm"])
    lead = ", ".join(
        f"{size} {100 * (bn - other):+.1f}"
        for size, bn, other in zip(result.batch_sizes, means["batchnorm"], others, strict=True)
    )
    assert lines[-1] == f"batchnorm minus the best of the others (points), by batch size: {lead}"


def test_plot_writes_one_png(result, tmp_path):
    (path,) = batch_size.plot(result, tmp_path)
    assert path.name == "batch_size.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
