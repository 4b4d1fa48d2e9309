"""`bnlab experiment` on a sweep: --jobs, --resume, and the options refused where they mean nothing."""

from __future__ import annotations

import json

import pytest

from bnlab.cli import main
from bnlab.experiments.sweep import results_path

QUICK = ["experiment", "weight-scale", "--quick"]


def summary(printed: str) -> list[str]:
    """The per-net lines of weight-scale's summary (not the timing lines)."""
    return [line for line in printed.splitlines() if "best val acc" in line]


def test_jobs_two_prints_the_serial_numbers_and_resume_runs_nothing_again(tmp_path, capsys):
    serial_out, parallel_out = tmp_path / "serial", tmp_path / "parallel"
    assert main([*QUICK, "--jobs", "1", "--out", str(serial_out)]) == 0
    serial = summary(capsys.readouterr().out)
    assert main([*QUICK, "--jobs", "2", "--out", str(parallel_out)]) == 0
    assert summary(capsys.readouterr().out) == serial and len(serial) == 2

    path = results_path(parallel_out, "weight_scale")
    runs = json.loads(path.read_text())["runs"]
    assert len(runs) == 8 and {run["status"] for run in runs.values()} == {"ok"}
    # Resume: every run is finished, so none runs again (the file's seconds stay as they were).
    assert main([*QUICK, "--resume", "--out", str(parallel_out)]) == 0
    assert summary(capsys.readouterr().out) == serial
    assert json.loads(path.read_text())["runs"] == runs


@pytest.mark.parametrize(
    "options, message",
    [
        (["--jobs", "2"], "--jobs, --dask and --resume are for sweeps; bn-sanity is not one"),
        (["--resume"], "--jobs, --dask and --resume are for sweeps; bn-sanity is not one"),
    ],
)
def test_sweep_options_on_an_experiment_that_is_no_sweep_are_refused(options, message, capsys):
    assert main(["experiment", "bn-sanity", "--quick", *options]) == 2
    assert message in capsys.readouterr().err


def test_jobs_and_dask_together_are_refused(capsys):
    assert main([*QUICK, "--jobs", "2", "--dask", "tcp://127.0.0.1:1"]) == 2
    assert "give --jobs or --dask, not both" in capsys.readouterr().err


def test_jobs_must_be_a_positive_integer(capsys):
    with pytest.raises(SystemExit):
        main([*QUICK, "--jobs", "0"])
    assert "argument --jobs: expected a positive integer, got '0'" in capsys.readouterr().err


def test_ctrl_c_exits_130_and_says_how_to_continue(tmp_path, capsys, monkeypatch):
    from bnlab.experiments import weight_scale

    def interrupted(config, sweep=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(weight_scale, "run", interrupted)
    assert main([*QUICK, "--out", str(tmp_path)]) == 130
    assert f"finished runs are kept in {tmp_path}: add --resume" in capsys.readouterr().out
