"""Study note 001's experiment, lenet-bn, at quick size: the CLI writes its figure, batchnorm wins.

At quick size (20 SGD steps of 25 bundled images at d2l's learning rates) the sigmoid LeNet
without batchnorm still predicts one class for everything, while the batchnorm LeNet is well
above chance (0.28 to 0.46 validation accuracy over seeds 0-4).
"""

from __future__ import annotations

import dataclasses

import pytest

from bnlab.cli import main
from bnlab.experiments import lenet_bn
from bnlab.solver import Solver

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHANCE = 0.1  # ten balanced classes
AHEAD_BY = 0.1  # the batchnorm net's lead over the baseline's accuracy after 20 steps
TINY = dict(num_train=100, batch_size=50, num_train_samples=100)  # 2 steps: for plumbing tests


def test_cli_quick_run_writes_its_figure(tmp_path, capsys):
    assert main(["experiment", "lenet-bn", "--quick", "--out", str(tmp_path)]) == 0
    path = tmp_path / "lenet_bn.png"
    assert path.is_file(), (
        f"lenet-bn did not write lenet_bn.png; wrote {sorted(tmp_path.iterdir())}"
    )
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 10_000, "lenet_bn.png is suspiciously small"
    out = capsys.readouterr().out
    assert "== done in" in out
    assert " baseline (lr 0.9): test acc" in out and "batchnorm (lr 1.0): test acc" in out


@pytest.fixture(scope="module")
def quick():
    return lenet_bn.run(lenet_bn.Config.quick())


def test_quick_run_records_curves_and_test_accuracy_for_both_nets(quick):
    config = lenet_bn.Config.quick()
    assert list(quick.runs) == ["baseline", "batchnorm"]
    assert quick.learning_rates == {"baseline": 0.9, "batchnorm": 1.0}
    steps = config.num_epochs * (config.num_train // config.batch_size)
    for label, history in quick.runs.items():
        assert len(history.loss_history) == steps, label
        assert len(history.val_metric_history) == config.num_epochs + 1, label  # epoch 0 too
        assert 0 <= quick.test_acc[label] <= 1
    assert quick.data == "bundled" and quick.num_train == config.num_train


def test_quick_run_batchnorm_learns_while_the_plain_sigmoid_lenet_is_at_chance(quick):
    baseline, batchnorm = quick.runs["baseline"], quick.runs["batchnorm"]
    assert baseline.val_metric_history[-1] == pytest.approx(CHANCE, abs=0.05)
    assert batchnorm.val_metric_history[-1] > baseline.val_metric_history[-1] + AHEAD_BY
    assert quick.test_acc["batchnorm"] > quick.test_acc["baseline"] + AHEAD_BY
    assert batchnorm.loss_history[-1] < baseline.loss_history[-1]


def test_same_seed_same_numbers_other_seed_other_numbers():
    config = dataclasses.replace(lenet_bn.Config.quick(), **TINY)
    first, again = lenet_bn.run(config), lenet_bn.run(config)
    other = lenet_bn.run(dataclasses.replace(config, seed=1))
    for label in first.runs:
        assert first.runs[label] == again.runs[label]
        assert first.test_acc[label] == again.test_acc[label]
        assert first.runs[label].loss_history != other.runs[label].loss_history


def test_missing_dataset_falls_back_to_the_bundled_subset(monkeypatch, capsys):
    real_load_data = lenet_bn.load_data

    def not_installed(name, **kwargs):
        if name != "bundled":
            raise FileNotFoundError(f"{name} not found")
        return real_load_data(name, **kwargs)

    monkeypatch.setattr(lenet_bn, "load_data", not_installed)
    result = lenet_bn.run(dataclasses.replace(lenet_bn.Config(), num_epochs=1, **TINY))
    assert result.data == "bundled"
    assert "'fashion-mnist' is not installed; using the bundled subset" in capsys.readouterr().out
    assert "bundled Fashion-MNIST subset" in lenet_bn.summarize(result)


def test_d2l_preset_is_study_note_001s_setting_and_the_default_only_changes_the_optimiser():
    d2l, default = lenet_bn.Config.d2l(), lenet_bn.Config()
    assert (d2l.update_rule, d2l.learning_rate, d2l.baseline_learning_rate) == ("sgd", 1.0, 0.9)
    assert (d2l.batch_size, d2l.lr_decay, d2l.num_epochs) == (256, 1.0, 10)
    changed = {
        f.name
        for f in dataclasses.fields(default)
        if getattr(default, f.name) != getattr(d2l, f.name)
    }
    # same data, epochs, init and seed: only how the 10 epochs are stepped through differs
    assert changed == {
        "update_rule",
        "learning_rate",
        "baseline_learning_rate",
        "lr_decay",
        "batch_size",
    }
    assert lenet_bn.Config.d2l(seed=3).seed == 3


def test_both_nets_are_trained_with_the_configs_optimiser_and_decay(monkeypatch):
    calls = []
    real_make_solver = lenet_bn.make_solver

    def recording(model, data, **kwargs):
        calls.append(kwargs)
        return real_make_solver(model, data, **kwargs)

    monkeypatch.setattr(lenet_bn, "make_solver", recording)
    config = dataclasses.replace(lenet_bn.Config.quick(), **TINY)
    config = dataclasses.replace(config, update_rule="sgd_momentum", lr_decay=0.5)
    result = lenet_bn.run(config)
    assert [call["update_rule"] for call in calls] == ["sgd_momentum"] * 2
    assert [call["lr_decay"] for call in calls] == [0.5] * 2
    assert [call["learning_rate"] for call in calls] == [0.9, 1.0]  # baseline, batchnorm
    assert "SGD+momentum, lr 1.0 ×0.5 per epoch (batchnorm)" in lenet_bn.summarize(result)


def test_a_bad_setting_for_the_second_net_stops_the_run_before_any_training(monkeypatch):
    trained = []
    monkeypatch.setattr(Solver, "train", lambda self, **_: trained.append(self))
    config = dataclasses.replace(lenet_bn.Config.quick(), learning_rate=-1.0, **TINY)
    with pytest.raises(ValueError, match=r"optim_config\['learning_rate'\] must be a positive"):
        lenet_bn.run(config)
    assert trained == []


def test_the_documented_command_line_for_d2ls_setting_gives_config_d2l():
    from bnlab.commands.experiment import apply_settings

    doc = lenet_bn.Config.d2l.__doc__.replace("\n", " ")
    settings = [word.strip("`.") for word in doc.split() if "=" in word]
    assert len(settings) == 5, settings
    assert apply_settings(lenet_bn.Config(), settings) == lenet_bn.Config.d2l()
