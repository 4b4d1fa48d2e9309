"""The command line's edges: bad flags, bad output folders and the one error mechanism.

Every command reports an expected error as one line on stderr and exits 2 (a bad request) or
1 (a failure while running); ``--debug`` or ``BNLAB_DEBUG=1`` adds the traceback. Numeric
options are refused while the command line is parsed, naming the option.
"""

import argparse
import os
import uuid
from pathlib import Path

import pytest

from bnlab import cli
from bnlab.cli import main


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    """The user's BNLAB_DEBUG would add tracebacks to the one-line errors tested here."""
    monkeypatch.delenv("BNLAB_DEBUG", raising=False)


def refused_while_parsing(argv, capsys):
    """argparse's usage error: SystemExit(2) and a stderr naming the option; returns stderr."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2, err
    return err


def one_error_line(capsys):
    """stdout and stderr of a command that failed: stderr must be exactly one line."""
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return out, err.strip()


# -- item 7: every numeric flag's range, checked at parse time ------------------------------------

TRAIN_BAD_FLAGS = [
    (["--num-train", "-3"], "an integer >= 1, got '-3'"),  # once: a Python slice, exit 0
    (["--num-train", "0", "--quick"], "an integer >= 1, got '0'"),  # once: silently 1000
    (["--weight-scale", "abc"], "'he', 'xavier' or a finite number > 0, got 'abc'"),
    (["--weight-scale", "-1"], "'he', 'xavier' or a finite number > 0, got '-1'"),
    (["--seed", "-1"], "an integer >= 0, got '-1'"),
    (["--reg", "nan"], "a finite number >= 0, got 'nan'"),  # once: blamed the learning rate
    (["--reg", "-0.1"], "a finite number >= 0, got '-0.1'"),
    (["--lr", "0"], "a finite number > 0, got '0'"),
    (["--lr", "inf"], "a finite number > 0, got 'inf'"),
    (["--lr-decay", "0"], "a finite number > 0, got '0'"),
    (["--keep", "0"], "a number in (0, 1], got '0'"),
    (["--keep", "1.5"], "a number in (0, 1], got '1.5'"),
    (["--epochs", "0"], "an integer >= 1, got '0'"),
    (["--epochs", "two"], "an integer >= 1, got 'two'"),
    (["--batch-size", "0"], "an integer >= 1, got '0'"),
    (["--hidden", "10,0"], "expected positive sizes"),
]


@pytest.mark.parametrize("flags, message", TRAIN_BAD_FLAGS, ids=lambda v: " ".join(v))
def test_train_refuses_every_out_of_range_number_naming_the_flag(flags, message, capsys):
    err = refused_while_parsing(["train", *flags], capsys)
    assert f"argument {flags[0]}: " in err and message in err


@pytest.mark.parametrize(
    "argv, flag, message",
    [
        (["experiment", "bn-sanity", "--seed", "-1"], "--seed", "an integer >= 0, got '-1'"),
        (["gradcheck", "--seed", "-2"], "--seed", "an integer >= 0, got '-2'"),
        (["gradcheck", "--tol", "nan"], "--tol", "a finite number > 0, got 'nan'"),
        (["gradcheck", "--tol", "0"], "--tol", "a finite number > 0, got '0'"),
    ],
)
def test_experiment_and_gradcheck_refuse_out_of_range_numbers(argv, flag, message, capsys):
    err = refused_while_parsing(argv, capsys)
    assert f"argument {flag}: expected {message}" in err


# The nine bad --set / --seed values that once printed tracebacks, and the ranges of --set.
SET_BAD_VALUES = [
    ("lenet-bn", "batch_size=0", "--set batch_size: batch_size must be an integer >= 1, got 0"),
    ("lenet-bn", "num_epochs=-1", "num_epochs must be an integer >= 1, got -1"),
    ("lenet-bn", "num_train=0", "num_train must be an integer >= 1, got 0"),
    ("lenet-bn", "seed=-1", "seed must be an integer >= 0, got -1"),
    ("lenet-bn", "learning_rate=nan", "learning_rate must be a finite number > 0, got nan"),
    ("lenet-bn", "learning_rate=0", "learning_rate must be a finite number > 0, got 0.0"),
    ("lenet-bn", "baseline_learning_rate=-1", "baseline_learning_rate must be a finite number"),
    ("lenet-bn", "lr_decay=0", "lr_decay must be a finite number > 0, got 0.0"),
    ("lenet-bn", "weight_scale=-0.1", "weight_scale must be a finite number > 0, got -0.1"),
    ("lenet-bn", "update_rule=nope", "update_rule"),
    ("lenet-bn", "data=nope", "unknown dataset 'nope'"),
    ("bn-vs-baseline", "hidden_dims=100,0", "hidden_dims must be an integer >= 1, got 0"),
    ("bn-sanity", "gamma=1,inf", "gamma must be a finite number, got inf"),
    ("weight-scale", "min_scale=0", "min_scale must be a finite number > 0, got 0.0"),
]


@pytest.mark.parametrize("name, setting, message", SET_BAD_VALUES)
def test_experiment_bad_set_values_are_one_line_and_exit_2(
    name, setting, message, tmp_path, capsys
):
    status = main(["experiment", name, "--quick", "--out", str(tmp_path), "--set", setting])
    out, err = one_error_line(capsys)
    assert status == 2, err
    assert err.startswith("bnlab experiment: ") and message in err
    assert "== done" not in out  # refused before the run finished


def test_experiment_set_check_accepts_values_in_range(tmp_path, capsys):
    from bnlab.commands.arguments import check_range

    for name, value in [("seed", 0), ("burn_in", 0), ("reg", 0.0), ("pre_mean", -2.5)]:
        check_range(name, value)
    check_range("quantiles", (5.0, 50.0))
    check_range("num_test", None)


# -- item 8: one mechanism for every command -----------------------------------------------------


def test_a_missing_dataset_is_one_line_and_exit_1(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["train", "--quick", "--data", "mnist", "--data-path", str(empty)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    _, err = one_error_line(capsys)
    assert err.startswith("bnlab train: ") and "not found" in err.lower()


def test_experiment_missing_dataset_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BNLAB_DATA", str(tmp_path / "nothing-here"))
    argv = ["experiment", "bn-vs-baseline", "--quick", "--set", "data=cifar10"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    _, err = one_error_line(capsys)
    assert err.startswith("bnlab experiment: ")


@pytest.mark.parametrize("command", cli.COMMANDS)
@pytest.mark.parametrize(
    "error, status",
    [
        (ValueError("bad value\nfor x"), 2),
        (TypeError("x must be an int"), 2),
        (FileNotFoundError(2, "No such file or directory", "data.npz"), 1),
        (PermissionError(13, "Permission denied", "out/x.png"), 1),
        (FloatingPointError("the loss is nan"), 1),
        (KeyboardInterrupt(), 130),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_every_command_turns_expected_errors_into_one_line(
    command, error, status, monkeypatch, capsys
):
    def fail(_args):
        raise error

    # what the parser gives for any command: the mechanism is the same for all of them
    args = argparse.Namespace(command=command, debug=False, _run=fail, _prog=f"bnlab {command}")
    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", lambda self, argv: args)
    assert main([command]) == status
    _, err = one_error_line(capsys)
    assert err.startswith(f"bnlab {command}") and "\n" not in err
    if isinstance(error, OSError):
        assert error.filename in err  # the file is named


def test_bnlabs_own_exceptions_are_runtime_errors():
    from bnlab.solver import TrainingDiverged

    assert cli.exit_status(TrainingDiverged("diverged", 1, 2, float("nan"))) == 1
    assert cli.exit_status(RuntimeError("a bug")) is None  # a bug keeps its traceback


def test_a_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr("bnlab.commands.gradcheck.run", lambda args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        main(["gradcheck"])


@pytest.mark.parametrize("how", ["flag before", "flag after", "env"])
def test_debug_shows_the_traceback(how, tmp_path, monkeypatch, capsys):
    argv = ["experiment", "lenet-bn", "--quick", "--set", "batch_size=0"]
    if how == "flag before":
        argv = ["--debug", *argv]
    elif how == "flag after":
        argv = [*argv, "--debug"]
    else:
        monkeypatch.setenv("BNLAB_DEBUG", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.strip().splitlines()[-1].startswith("bnlab experiment: --set batch_size")


def test_nested_commands_name_themselves(capsys):
    assert main(["data", "info", "nonsense"]) == 2
    _, err = one_error_line(capsys)
    assert err.startswith("bnlab data info: ")
    assert main(["data"]) == 2
    assert "choose an action" in one_error_line(capsys)[1]


# -- item 2: where the outputs go is checked before any work --------------------------------------


@pytest.fixture
def unwritable(tmp_path):
    """A folder this process cannot write to (root ignores permissions: use /sys then)."""
    if os.geteuid() == 0:
        folder = Path("/sys") / f"bnlab-test-{uuid.uuid4().hex}"
        try:
            folder.mkdir()
        except OSError:
            yield folder
            return
        folder.rmdir()
        pytest.skip("no folder here refuses root")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    yield folder / "out"
    folder.chmod(0o700)


def bad_outputs(tmp_path, unwritable):
    file = tmp_path / "a-file"
    file.write_text("not a folder")
    return {
        "file": (file, "is a file, not a folder"),
        "under a file": (file / "out", "a part of it is a file"),
        "unwritable": (unwritable, "cannot be written to"),
    }


@pytest.mark.parametrize("kind", ["file", "under a file", "unwritable"])
@pytest.mark.parametrize(
    "command",
    [
        ["train", "--quick", "--hidden", "8"],
        ["experiment", "bn-vs-baseline", "--quick"],
    ],
    ids=["train", "experiment"],
)
def test_a_bad_out_is_refused_before_any_work(command, kind, tmp_path, unwritable, capsys):
    out, message = bad_outputs(tmp_path, unwritable)[kind]
    assert main([*command, "--out", str(out)]) == 2
    printed, err = one_error_line(capsys)
    assert printed == ""  # nothing loaded, nothing trained
    assert f"--out '{out}'" in err and message in err


def test_a_bad_checkpoint_prefix_is_refused_before_any_work(tmp_path, capsys):
    file = tmp_path / "a-file"
    file.write_text("")
    argv = ["train", "--quick", "--out", str(tmp_path / "out")]
    assert main([*argv, "--checkpoint", str(file / "run")]) == 2
    printed, err = one_error_line(capsys)
    assert printed == "" and f"--checkpoint '{file}'" in err


def test_a_reader_that_went_away_ends_the_command_quietly(monkeypatch, capsys):
    """`bnlab check ... | head`: the pipe closes; no error line, the shell's status for SIGPIPE."""
    from bnlab.commands import gradcheck

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(gradcheck, "run", closed_pipe)
    assert main(["gradcheck", "--list"]) == 141
    assert capsys.readouterr().err == ""
