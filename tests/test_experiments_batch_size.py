"""`bnlab experiment batch-size`, in quick mode: the normalizations of two nets by batch size."""

import dataclasses
import math

import numpy as np
import pytest

from bnlab.experiments import batch_size


@pytest.fixture(scope="module")
def result():
    return batch_size.run(batch_size.Config.quick())


def test_every_net_normalization_batch_size_and_seed_is_measured(result):
    config = batch_size.Config.quick()
    assert result.batch_sizes == list(config.batch_sizes)
    assert result.seeds == list(config.seeds)
    assert list(result.runs) == ["LeNet", "fully connected net"]
    assert list(result.runs["LeNet"]) == list(config.normalizations)
    assert list(result.runs["fully connected net"]) == list(config.fc_normalizations)
    assert result.failed == {}
    for net, norms in result.runs.items():
        for norm, metrics in norms.items():
            assert set(metrics) == set(batch_size.METRICS)
            for key, per_batch in metrics.items():
                assert len(per_batch) == len(config.batch_sizes), (net, norm, key)
                for seeds in per_batch:
                    assert len(seeds) == len(config.seeds), (net, norm, key)
                    assert all(0 <= acc <= 1 for acc in seeds), (net, norm, key, seeds)


def test_each_cell_is_its_own_run(result):
    """Seeds, normalizations, batch sizes and nets each change the numbers (none is shared)."""
    final = {
        (net, norm): np.array(metrics["final_val_acc"])
        for net, norms in result.runs.items()
        for norm, metrics in norms.items()
    }
    for cell, values in final.items():  # (batch sizes, seeds)
        assert (values[:, 0] != values[:, 1]).any(), f"{cell}: both seeds gave the same numbers"
        assert (values[0] != values[1]).any(), f"{cell}: both batch sizes gave the same numbers"
    assert not np.array_equal(final["LeNet", "layernorm"], final["LeNet", "groupnorm"])
    assert not np.array_equal(
        final["LeNet", "layernorm"], final["fully connected net", "layernorm"]
    )


def test_no_fully_connected_net_when_it_has_no_normalizations():
    config = dataclasses.replace(
        batch_size.Config.quick(),
        normalizations=("layernorm",),
        fc_normalizations=(),
        batch_sizes=(16,),
        num_train=48,
        seeds=(0,),
    )
    result = batch_size.run(config)
    assert list(result.runs) == ["LeNet"] and list(result.runs["LeNet"]) == ["layernorm"]


@pytest.mark.parametrize("net, label", [("lenet", "LeNet"), ("fc", "fully connected net")])
def test_a_run_is_reproducible_and_matches_the_sweep(result, net, label):
    config = batch_size.Config.quick()
    column = 1  # batch 16: a quick run
    again = batch_size.train_one(
        dataclasses.asdict(config), net, "layernorm", config.batch_sizes[column], config.seeds[1]
    )
    metrics = result.runs[label]["layernorm"]
    assert again["final_val_acc"] == metrics["final_val_acc"][column][1]
    assert again["final_train_acc"] == metrics["final_train_acc"][column][1]


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path):
    config = dataclasses.replace(
        batch_size.Config.quick(),
        normalizations=("layernorm", "instancenorm"),  # LeNet refuses 'instancenorm'
        fc_normalizations=(),
        batch_sizes=(16,),
        num_train=48,
        seeds=(0,),
    )
    result = batch_size.run(config)
    label = "LeNet instancenorm, batch 16, seed 0"
    assert list(result.failed) == [label]
    assert "normalization" in result.failed[label]
    lenet = result.runs["LeNet"]
    assert math.isnan(lenet["instancenorm"]["final_val_acc"][0][0])
    assert 0 <= lenet["layernorm"]["final_val_acc"][0][0] <= 1
    summary = batch_size.summarize(result)
    assert "[failed]" in summary and f"failed: {label}" in summary
    (path,) = batch_size.plot(result, tmp_path)
    assert path.is_file()


def test_train_one_refuses_an_unknown_net():
    with pytest.raises(ValueError, match="net must be one of 'lenet', 'fc'; got 'resnet'"):
        batch_size.train_one(
            dataclasses.asdict(batch_size.Config.quick()), "resnet", "layernorm", 16, 0
        )


def test_the_summary_prints_the_results_numbers(result):
    lines = batch_size.summarize(result).splitlines()
    for net, norms in result.runs.items():
        table = lines[lines.index(f"{net}: final val acc, mean [min, max] over seeds") :]
        for column, size in enumerate(result.batch_sizes):
            row = next(line for line in table if line.split()[0] == str(size))
            for metrics in norms.values():
                seeds = metrics["final_val_acc"][column]
                assert f"{np.mean(seeds):.3f} [{min(seeds):.3f}, {max(seeds):.3f}]" in row, row
        means = batch_size.mean_accuracies(norms)
        others = np.max([m for norm, m in means.items() if norm != "batchnorm"], axis=0)
        lead = ", ".join(
            f"{size} {100 * (bn - other):+.1f}"
            for size, bn, other in zip(result.batch_sizes, means["batchnorm"], others, strict=True)
        )
        expected = f"{net}: batchnorm minus the best of the others (points), by batch size: {lead}"
        assert expected in lines


def test_plot_writes_one_png(result, tmp_path):
    (path,) = batch_size.plot(result, tmp_path)
    assert path.name == "batch_size.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
