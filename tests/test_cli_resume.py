"""`bnlab train --resume` with other options, and Ctrl-C during `bnlab train`."""

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bnlab.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    """The user's BNLAB_DEBUG would add tracebacks to the one-line errors tested here."""
    monkeypatch.delenv("BNLAB_DEBUG", raising=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A 3-epoch batchnorm run's checkpoints, with settings that differ from the defaults."""
    folder = tmp_path_factory.mktemp("first")
    argv = [
        "train",
        "--quick",
        "--epochs",
        "3",
        "--hidden",
        "16,8",
        "--norm",
        "batchnorm",
        "--lr",
        "0.002",
    ]
    argv += ["--reg", "0.01", "--out", str(folder), "--checkpoint", str(folder / "run")]
    assert main(argv) == 0
    return folder / "run-batchnorm_epoch_1.pkl"


def resume(checkpoint, out, *flags):
    return main(["train", "--quick", "--resume", str(checkpoint), "--out", str(out), *flags])


def test_resume_refuses_options_that_disagree_with_the_checkpoint(checkpoint, tmp_path, capsys):
    flags = ["--lr", "0.5", "--hidden", "7,7", "--norm", "none"]
    flags += ["--checkpoint", str(tmp_path / "elsewhere")]
    assert resume(checkpoint, tmp_path, *flags) == 2
    out, err = capsys.readouterr()
    assert "-- training" not in out and not (tmp_path / "train.json").exists()
    assert len(err.strip().splitlines()) == 1
    # every option named, with the value given and the checkpoint's
    assert "--lr 0.5 but the checkpoint has 0.002" in err
    assert "--hidden 7,7 but the checkpoint has 16,8" in err
    assert "--norm none but the checkpoint has batchnorm" in err
    assert f"--checkpoint {tmp_path / 'elsewhere'} but the checkpoint has" in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--weight-scale", "he"], "--weight-scale has no effect on resume"),
        (["--update", "sgd"], "--update sgd but the checkpoint has adam"),
        (["--reg", "0.02"], "--reg 0.02 but the checkpoint has 0.01"),
        (["--activation", "tanh"], "--activation tanh but the checkpoint has relu"),
        (["--keep", "0.5"], "--keep 0.5 but the checkpoint has 1.0"),
        (["--batch-size", "50"], "--batch-size 50 but the checkpoint has 100"),
        (["--dtype", "float64"], "--dtype float64 but the checkpoint has float32"),
        (["--lr-decay", "0.9"], "--lr-decay 0.9 but the checkpoint has 1.0"),
    ],
)
def test_resume_refuses_each_conflicting_option(checkpoint, tmp_path, capsys, flags, message):
    assert resume(checkpoint, tmp_path, *flags) == 2
    assert message in capsys.readouterr().err


def test_resume_applies_epochs_and_records_what_was_used(checkpoint, tmp_path, capsys):
    # options that agree with the checkpoint are accepted; --epochs changes the total
    flags = ["--hidden", "16,8", "--lr", "0.002", "--epochs", "4"]
    assert resume(checkpoint, tmp_path, *flags, "--checkpoint", str(checkpoint.parent / "run")) == 0
    summary = json.loads((tmp_path / "train.json").read_text())
    config = summary["config"]
    # the checkpoint's settings, not TrainConfig's defaults
    assert config["hidden"] == [16, 8] and config["norms"] == ["batchnorm"]
    assert config["lr"] == 0.002 and config["reg"] == 0.01 and config["epochs"] == 4
    assert config["checkpoint"] == str(checkpoint.parent / "run")
    assert config["weight_scale"] is None  # the weights came from the checkpoint
    (result,) = summary["results"].values()
    assert result["epochs"] == 4
    assert (checkpoint.parent / "run-batchnorm_epoch_4.pkl").exists()


def test_resume_without_epochs_finishes_the_checkpoints_run(checkpoint, tmp_path, capsys):
    assert resume(checkpoint, tmp_path) == 0
    summary = json.loads((tmp_path / "train.json").read_text())
    assert summary["config"]["epochs"] == 3  # the first run's, not --quick's 2
    (result,) = summary["results"].values()
    assert result["epochs"] == 3


def test_resume_refuses_fewer_epochs_than_done(tmp_path, capsys, checkpoint):
    later = checkpoint.parent / "run-batchnorm_epoch_2.pkl"
    assert resume(later, tmp_path, "--epochs", "1") == 2
    assert "--epochs 1 is below the checkpoint's epoch 2" in capsys.readouterr().err


# -- item 9: Ctrl-C --------------------------------------------------------------------------------


def run_bnlab(argv, cwd, **env):
    environment = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", **env)
    environment.pop("BNLAB_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "bnlab", *argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        # a shell's background job ignores SIGINT, and a child inherits that: restore it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_keeps_the_finished_models_and_says_how_to_resume(tmp_path):
    out = tmp_path / "out"
    argv = ["train", "--quick", "--hidden", "16", "--seed", "3"]
    argv += ["--out", str(out), "--checkpoint", str(tmp_path / "run")]
    # the test-only hook sends SIGINT once batchnorm (the second model) has finished epoch 1
    done = run_bnlab(argv, tmp_path, BNLAB_INTERRUPT_AT="batchnorm:1")
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    last = tmp_path / "run-batchnorm_epoch_1.pkl"
    assert f"interrupted while training batchnorm (epoch 1 done); last checkpoint: {last}" in line
    # the finished baseline's results are written
    summary = json.loads((out / "train.json").read_text())
    assert list(summary["results"]) == ["baseline"] and summary["interrupted"] == "batchnorm"
    assert summary["results"]["baseline"]["epochs"] == 2
    assert (out / "train.png").stat().st_size > 10_000
    # and the printed command resumes it: the run reaches its 2 epochs
    command = shlex.split(line.partition("resume with: ")[2])
    assert command[:4] == ["bnlab", "train", "--resume", str(last)]
    assert main([*command[1:], "--out", str(tmp_path / "resumed")]) == 0
    resumed = json.loads((tmp_path / "resumed" / "train.json").read_text())
    (result,) = resumed["results"].values()
    assert result["epochs"] == 2 and resumed["config"]["num_train"] == 1000


def test_ctrl_c_without_checkpoints_says_so(tmp_path):
    argv = ["train", "--quick", "--hidden", "8", "--norm", "batchnorm", "--out", str(tmp_path)]
    done = run_bnlab(argv, tmp_path, BNLAB_INTERRUPT_AT="batchnorm:1")
    assert done.returncode == 130, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "no checkpoint was written" in line
    assert not (tmp_path / "train.json").exists()  # no model finished: nothing to report


def test_a_prefix_of_another_run_is_refused_unless_overwrite_is_asked(tmp_path, capsys):
    argv = ["train", "--quick", "--epochs", "1", "--hidden", "8", "--norm", "batchnorm"]
    argv += ["--out", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "run")]
    assert main(argv) == 0
    first = (tmp_path / "run-batchnorm_epoch_1.pkl").read_bytes()
    capsys.readouterr()
    assert main(argv) == 1  # a second run would mix its epochs with the first run's
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run-batchnorm" in err and "another run" in err
    assert (tmp_path / "run-batchnorm_epoch_1.pkl").read_bytes() == first
    assert main([*argv, "--checkpoint-overwrite"]) == 0
    assert (tmp_path / "run-batchnorm_epoch_1.pkl").read_bytes() != first  # the new run's


def test_a_dropout_run_resumes_and_records_its_keep_ratio(tmp_path, capsys):
    """The net's dropout Generator is in the checkpoint: the safe loader must admit numpy's own."""
    argv = ["train", "--quick", "--epochs", "2", "--hidden", "8", "--norm", "batchnorm"]
    argv += ["--keep", "0.5", "--out", str(tmp_path / "first"), "--checkpoint", str(tmp_path / "d")]
    assert main(argv) == 0
    checkpoint = tmp_path / "d-batchnorm_epoch_1.pkl"
    assert resume(checkpoint, tmp_path / "second", "--keep", "0.5", "--epochs", "3") == 0
    used = json.loads((tmp_path / "second" / "train.json").read_text())
    assert used["config"]["keep"] == 0.5
