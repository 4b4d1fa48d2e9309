"""`bnlab train`, the README's main command, end to end at --quick size."""

import json
import subprocess
import sys

import pytest

from bnlab.cli import main


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
    assert "unknown dataset 'nonsense'" in capsys.readouterr().out


def test_python_dash_m_bnlab_runs():
    done = subprocess.run(
        [sys.executable, "-m", "bnlab", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("train", "gradcheck", "experiment", "data"):
        assert command in done.stdout
