"""`bnlab experiment` shows its progress: bars on a terminal, a line per epoch otherwise."""

import io
import re

import pytest

from bnlab import experiments
from bnlab.cli import main
from bnlab.experiments import common

# the experiments that train through bnlab.experiments.common's Solvers, and their runs
TRAINING_EXPERIMENTS = ["bn-vs-baseline", "weight-scale", "regression", "activations", "lenet-bn"]
EPOCH_LINE = re.compile(r"^(?P<name>[\w-]+): run (?P<run>\d+), epoch (?P<epoch>\d+)/(?P<of>\d+): ")


@pytest.mark.parametrize("name", TRAINING_EXPERIMENTS)
def test_a_line_per_epoch_of_every_run_when_not_a_terminal(name, tmp_path, capsys):
    in_process = ["--jobs", "1"] if name == "weight-scale" else []  # a sweep's runs, here
    assert main(["experiment", name, "--quick", "--out", str(tmp_path), *in_process]) == 0
    out, err = capsys.readouterr()  # captured: not a terminal
    sweep_line = re.compile(r"^\w+: run \d+/\d+ ")  # a sweep's line per finished run
    lines = [EPOCH_LINE.match(line) for line in err.splitlines() if not sweep_line.match(line)]
    assert lines and all(lines), err
    assert {line["name"] for line in lines} == {name}
    runs = {}
    for line in lines:
        runs.setdefault(int(line["run"]), []).append((int(line["epoch"]), int(line["of"])))
    assert sorted(runs) == list(range(1, len(runs) + 1))
    for epochs in runs.values():  # every epoch of every run, in order
        assert [e for e, _ in epochs] == list(range(1, epochs[0][1] + 1)), epochs
    assert "run 1, epoch" not in out  # stdout keeps the results alone


def test_a_sweep_in_workers_prints_a_line_per_finished_run_when_not_a_terminal(tmp_path, capsys):
    assert (
        main(["experiment", "weight-scale", "--quick", "--jobs", "2", "--out", str(tmp_path)]) == 0
    )
    err = capsys.readouterr().err
    lines = err.splitlines()
    runs = [re.match(r"^weight_scale: run (\d+)/(\d+) \((.+)\) ok; best ", line) for line in lines]
    assert runs and all(runs), err
    assert [int(m[1]) for m in runs] == list(range(1, int(runs[0][2]) + 1))
    assert "\r" not in err  # no bar drawn into a log


def test_bars_on_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(common, "can_draw", lambda tqdm: True)
    assert main(["experiment", "bn-vs-baseline", "--quick", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "bn-vs-baseline:" in err and "run 2" in err  # the overall bar and a run's bar
    assert re.search(r"\d+/\d+ \[", err)  # tqdm's n/total [elapsed...
    assert not EPOCH_LINE.search(err)


def test_progress_changes_no_number(tmp_path):
    """The same results with and without progress: following a run draws no random numbers."""
    module = experiments.load("lenet-bn")
    config = module.Config.quick()
    quiet = module.summarize(module.run(config))
    stream = io.StringIO()
    with common.show_progress("lenet-bn", stream=stream):
        followed = module.summarize(module.run(config))
    assert "lenet-bn: run 2, epoch" in stream.getvalue()
    assert _numbers(quiet) and _numbers(followed) == _numbers(quiet)


def _numbers(summary: str) -> list[str]:
    """The accuracies in a summary (its timings differ from run to run)."""
    return re.findall(r"\d\.\d{3,}", re.sub(r"[\d.]+ s\b", "", summary))


def test_outside_show_progress_experiments_print_nothing(capsys):
    module = experiments.load("bn-vs-baseline")
    module.run(module.Config.quick())
    assert capsys.readouterr() == ("", "")
