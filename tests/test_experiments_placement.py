"""The placement experiment (study note 001: batchnorm before vs after the activation) at quick
size: every net, placement and seed is recorded, the summary holds the numbers, the two
placements of a net differ in layer order only, and the verdict needs seeds that do not overlap."""

from __future__ import annotations

import numpy as np
import pytest

from bnlab.experiments import placement
from bnlab.experiments.common import load_data


@pytest.fixture(scope="module")
def result():
    return placement.run(placement.Config.quick())


def test_every_net_placement_and_seed_is_recorded(result):
    config = placement.Config.quick()
    assert list(result.runs) == list(config.nets) == ["fc", "lenet-sigmoid", "lenet-relu"]
    assert not result.failed
    for net, placements in result.runs.items():
        assert list(placements) == ["before", "after"]
        for name, metrics in placements.items():
            for key in placement.METRICS:
                assert len(metrics[key]) == len(config.seeds), (net, name, key)
                assert all(0 <= v <= 1 for v in metrics[key]), (net, name, key, metrics[key])
            for history in metrics["val_history"]:  # epoch 0 (untrained) first
                assert len(history) == config.num_epochs + 1
                assert history[-1] == pytest.approx(metrics["val_acc"][0])


def test_summary_contains_the_results_numbers(result):
    summary = placement.summarize(result)
    for net, placements in result.runs.items():
        before, after = placements["before"]["val_acc"], placements["after"]["val_acc"]
        assert f"{placement.NET_TITLES[net]:>19}: before {np.mean(before):.3f} ± " in summary
        assert f"after {np.mean(after):.3f} ± " in summary
        assert f"after - before {100 * (np.mean(after) - np.mean(before)):+.1f} points" in summary
    # one seed at quick size: no placement may be called better
    assert "too few seeds to tell for 3 net(s)" in summary


@pytest.mark.parametrize("net, activation", [("fc", "relu"), ("lenet-sigmoid", "sigmoid")])
def test_the_placements_differ_in_layer_order_only(net, activation):
    config = placement.Config.quick()
    data = load_data("bundled", num_train=50)
    before = placement.build_model(net, "before", data, config, seed=3)
    after = placement.build_model(net, "after", data, config, seed=3)
    first = before.layers[0].name  # affine1 or conv1
    assert [layer.name for layer in before.layers[:3]] == [first, "batchnorm1", f"{activation}1"]
    assert [layer.name for layer in after.layers[:3]] == [first, f"{activation}1", "batchnorm1"]
    assert sorted(layer.name for layer in before.layers) == sorted(
        layer.name for layer in after.layers
    )
    assert before.params.keys() == after.params.keys()
    for name, value in before.params.items():  # the same initial weights for a fair comparison
        np.testing.assert_array_equal(after.params[name], value, err_msg=name)


@pytest.mark.parametrize(
    "before, after, verdict",
    [
        ([0.85, 0.86, 0.87], [0.83, 0.84, 0.849], "before better"),
        ([0.83, 0.84, 0.849], [0.85, 0.86, 0.87], "after better"),
        ([0.85, 0.86, 0.87], [0.84, 0.855, 0.86], "no clear difference"),  # ranges overlap
        ([0.90], [0.80], "too few seeds to tell"),
        ([0.90, np.nan], [0.80, 0.81], "too few seeds to tell"),  # a failed seed is no seed
    ],
)
def test_a_placement_is_better_only_when_the_seeds_do_not_overlap(before, after, verdict):
    assert placement.compare(before, after) == verdict


def test_unknown_nets_and_placements_are_refused():
    with pytest.raises(ValueError, match=r"nets must be one of 'fc', 'lenet-sigmoid'.*; got 'vgg'"):
        placement.run(placement.Config(nets=("vgg",)))
    with pytest.raises(ValueError, match="placements must be one of 'before', 'after'; got 'in'"):
        placement.run(placement.Config(placements=("in",)))
