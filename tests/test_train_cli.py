"""`bnlab train`, the README's main command, end to end at --quick size."""

import argparse
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from bnlab.cli import main
from bnlab.commands import train
from bnlab.experiments.common import stratified_subsample
from bnlab.nets.registry import ACTIVATIONS
from bnlab.solver import optim
from bnlab.solver.optim import UPDATE_RULES


def test_quick_train_writes_the_figure_and_summary(tmp_path, capsys):
    status = main(["train", "--quick", "--hidden", "32,32", "--out", str(tmp_path)])
    assert status == 0
    figure = tmp_path / "train.png"
    assert figure.exists() and figure.stat().st_size > 10_000
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((tmp_path / "train.json").read_text())
    assert set(summary["results"]) == {"baseline", "batchnorm"}
    for result in summary["results"].values():
        assert result["epochs"] == 2
        # ten classes: chance is 0.1; two epochs on 1000 examples already learn something
        assert result["test_acc"] > 0.3
    printed = capsys.readouterr().out
    assert "baseline" in printed and "batchnorm" in printed and "test" in printed


def test_checkpoint_then_resume(tmp_path):
    prefix = tmp_path / "run"
    args = ["train", "--quick", "--hidden", "16", "--norm", "batchnorm", "--out", str(tmp_path)]
    assert main([*args, "--checkpoint", str(prefix)]) == 0
    checkpoint = tmp_path / "run-batchnorm_epoch_2.pkl"
    assert checkpoint.exists()
    assert main([*args, "--resume", str(checkpoint), "--epochs", "3"]) == 0
    summary = json.loads((tmp_path / "train.json").read_text())
    (result,) = summary["results"].values()
    assert result["epochs"] == 3


def test_bad_arguments_exit_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--hidden", "10,-3"])
    assert "positive sizes" in capsys.readouterr().err
    assert main(["train", "--quick", "--data", "nonsense", "--out", str(tmp_path)]) == 2
    assert "unknown dataset 'nonsense'" in capsys.readouterr().err


def test_python_dash_m_bnlab_runs():
    done = subprocess.run(
        [sys.executable, "-m", "bnlab", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("train", "gradcheck", "experiment", "data"):
        assert command in done.stdout


def parse_train(argv):
    parser = argparse.ArgumentParser()
    train.add_arguments(parser)
    return parser, train.config_from_args(parser.parse_args(argv))


@pytest.mark.parametrize("num_train", [1000, 55])
def test_num_train_draws_a_stratified_seeded_subset(num_train, capsys):
    full = np.bincount(train.load(parse_train([])[1])["y_train"])
    _, config = parse_train(["--num-train", str(num_train), "--seed", "3"])
    drawn = train.load(config)
    y = drawn["y_train"]
    assert len(y) == num_train
    # every class keeps its share of the full training set, to within one example
    share = num_train * full / full.sum()
    assert np.all(np.abs(np.bincount(y, minlength=len(full)) - share) < 1), np.bincount(y)
    assert f"{num_train} train" in capsys.readouterr().out
    X_other = train.load(dataclasses.replace(config, seed=4))["X_train"]
    assert np.array_equal(train.load(config)["X_train"], drawn["X_train"])  # seeded
    assert not np.array_equal(drawn["X_train"], X_other)  # another seed, another draw


def test_stratified_subsample_rejects_bad_sizes():
    data = {"X_train": np.zeros((6, 2)), "y_train": np.array([0, 0, 0, 1, 1, 2])}
    assert np.bincount(stratified_subsample(data, 4)["y_train"]).tolist() == [2, 1, 1]
    for bad in (0, 7):
        with pytest.raises(ValueError, match=r"num_train must be in \[1, 6\], got"):
            stratified_subsample(data, bad)


def test_choices_come_from_the_library_registries():
    parser, _ = parse_train([])
    choices = {action.dest: action.choices for action in parser._actions}
    assert sorted(choices["activation"]) == sorted(ACTIVATIONS)
    assert sorted(choices["update"]) == sorted(UPDATE_RULES)
    assert set(UPDATE_RULES.values()) <= {getattr(optim, name) for name in choices["update"]}
