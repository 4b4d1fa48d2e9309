"""The sweep runner: serial and worker-process runs agree bit for bit; failures, resume, Ctrl-C.

The run functions live at the top of this module: worker processes import them by name (spawn
hands the workers this process's sys.path, which holds the tests folder).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import bnlab.solver.progress as progress_module
from bnlab.experiments import weight_scale
from bnlab.experiments.sweep import (
    THREAD_VARIABLES,
    Record,
    Run,
    SweepOptions,
    best_text,
    init_worker,
    load_records,
    results_path,
    run_sweep,
)

CALLS: list[int] = []  # seeds counted_run saw, in this process (jobs=1)
FAILING: set[int] = set()  # seeds counted_run raises for


def float32_run(seed: int, size: int) -> dict:
    """Float32 matrix products of seeded data: their rounding depends on the BLAS threads."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = np.tanh(a @ a.T) @ a
    return {"seed": seed, "total": float(b.sum(dtype=np.float32)), "row": b[0, :4].tolist()}


def counted_run(seed: int) -> dict:
    CALLS.append(seed)
    if seed in FAILING:
        raise ValueError(f"seed {seed} is bad")
    return {"seed": seed, "score": seed / 10}


def failing_run(seed: int) -> dict:
    if seed == 2:
        raise ValueError("seed 2 is bad")
    return {"seed": seed}


def diverging_run(seed: int) -> dict:
    if seed == 1:
        return {"seed": seed, "loss": math.inf, "diverged": True, "message": "loss inf at 3"}
    return {"seed": seed, "loss": 1.0, "diverged": False}


def thread_settings(seed: int) -> dict:
    return {"seed": seed, **{variable: os.environ.get(variable) for variable in THREAD_VARIABLES}}


def numpy_scalar_run(seed: int) -> dict:
    return {"seed": seed, "value": np.float32(seed)}  # not JSON-able: must be float(...)


def interrupting_run(seed: int) -> dict:
    if seed == 2:
        raise KeyboardInterrupt
    return {"seed": seed}


def sleepy_run(seed: int, seconds: float, marker_dir: str) -> dict:
    """Sleep, then leave a file: a run that was stopped leaves none."""
    time.sleep(seconds)
    Path(marker_dir, f"{seed}.done").touch()
    return {"seed": seed}


def runs_of(fn, seeds, **kwargs) -> list[Run]:
    return [Run(fn, {"seed": seed, **kwargs}, label=f"seed {seed}") for seed in seeds]


@pytest.fixture(autouse=True)
def fresh_counters():
    CALLS.clear()
    FAILING.clear()


# -- the same numbers in every mode ----------------------------------------------------------


def test_worker_processes_give_the_serial_numbers_bit_for_bit_in_the_sweeps_order():
    runs = runs_of(float32_run, range(6), size=96)
    serial = run_sweep(runs, jobs=1, progress=False)
    parallel = run_sweep(runs, jobs=2, progress=False)
    assert [record.status for record in parallel] == ["ok"] * 6
    # json.dumps writes every float exactly (repr), so equal strings are equal bits.
    assert json.dumps([r.result for r in parallel]) == json.dumps([r.result for r in serial])
    assert [r.result["seed"] for r in parallel] == list(range(6))


def test_weight_scale_quick_sweep_is_the_same_with_two_jobs():
    config = weight_scale.Config.quick()
    serial = weight_scale.run(config)
    parallel = weight_scale.run(config, SweepOptions(jobs=2, progress=False))
    assert repr(parallel.runs) == repr(serial.runs)  # repr: every float in full, NaN == NaN
    assert parallel.failed == serial.failed == {}


def test_each_worker_runs_one_blas_thread_whatever_the_parent_uses(monkeypatch):
    for variable in THREAD_VARIABLES:
        monkeypatch.setenv(variable, "3")
    records = run_sweep(runs_of(thread_settings, range(4)), jobs=2, progress=False)
    for record in records:
        assert all(record.result[variable] == "1" for variable in THREAD_VARIABLES), record
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"  # the parent's setting is its own


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_failing_run_is_recorded_with_its_message_and_the_rest_finish(jobs, tmp_path):
    runs = runs_of(failing_run, range(5))
    records = run_sweep(runs, jobs=jobs, out_dir=tmp_path, name="s", progress=False)
    statuses = [record.status for record in records]
    assert statuses == ["ok", "ok", "error", "ok", "ok"]
    failed = records[2]
    assert failed.result is None
    assert failed.message == "ValueError: seed 2 is bad"
    assert "failing_run" in failed.traceback
    saved = json.loads(results_path(tmp_path, "s").read_text())["runs"]
    assert [entry["status"] for entry in saved.values()] == statuses
    assert saved[runs[2].key]["message"] == failed.message


def test_a_diverged_run_keeps_its_result_and_message():
    records = run_sweep(runs_of(diverging_run, range(3)), jobs=1, progress=False)
    assert [record.status for record in records] == ["ok", "diverged", "ok"]
    assert records[1].message == "loss inf at 3"
    assert records[1].result["loss"] == math.inf


def test_a_result_that_json_cannot_hold_is_that_runs_error():
    (record,) = run_sweep(runs_of(numpy_scalar_run, [1]), jobs=1, progress=False)
    assert record.status == "error"
    assert "float32 is not JSON serializable" in record.message


# -- the results file and resume ---------------------------------------------------------------


def test_the_results_file_holds_every_run_and_no_temporary_file_is_left(tmp_path):
    runs = runs_of(counted_run, range(4))
    records = run_sweep(runs, jobs=1, out_dir=tmp_path, name="s", progress=False)
    assert load_records(results_path(tmp_path, "s")) == {r.key: r for r in records}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s_runs.json"]


def test_resume_skips_the_finished_runs(tmp_path):
    run_sweep(runs_of(counted_run, range(3)), jobs=1, out_dir=tmp_path, progress=False)
    CALLS.clear()
    resumed = run_sweep(
        runs_of(counted_run, range(5)), jobs=1, out_dir=tmp_path, resume=True, progress=False
    )
    assert CALLS == [3, 4]
    assert [record.result["seed"] for record in resumed] == list(range(5))
    CALLS.clear()
    run_sweep(runs_of(counted_run, range(5)), jobs=1, out_dir=tmp_path, progress=False)
    assert CALLS == list(range(5))  # without resume, everything runs again


def test_resume_retries_the_runs_that_raised(tmp_path):
    FAILING.add(1)
    first = run_sweep(runs_of(counted_run, range(3)), jobs=1, out_dir=tmp_path, progress=False)
    assert first[1].status == "error"
    FAILING.clear()
    CALLS.clear()
    again = run_sweep(
        runs_of(counted_run, range(3)), jobs=1, out_dir=tmp_path, resume=True, progress=False
    )
    assert CALLS == [1]
    assert [record.status for record in again] == ["ok"] * 3


def test_a_changed_argument_makes_a_new_run_and_keys_are_stable_across_sessions():
    run = Run(counted_run, {"seed": 1, "lr": 0.1})
    assert Run(counted_run, {"lr": 0.1, "seed": 1}).key == run.key  # argument order is not
    assert Run(counted_run, {"seed": 1, "lr": 0.2}).key != run.key
    assert Run(float32_run, {"seed": 1, "lr": 0.1}).key != run.key
    # Another interpreter (another hash seed) computes the same key: resume works next session.
    code = (
        "from bnlab.experiments.sweep import Run; import test_sweep; "
        "print(Run(test_sweep.counted_run, {'seed': 1, 'lr': 0.1}).key)"
    )
    path = os.pathsep.join([str(Path(__file__).parent), *sys.path])
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": "random"},
    )
    assert other.stdout.strip() == run.key


# -- Ctrl-C ------------------------------------------------------------------------------------


def test_ctrl_c_during_an_in_process_run_keeps_the_finished_ones(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run_sweep(runs_of(interrupting_run, range(5)), jobs=1, out_dir=tmp_path, progress=False)
    saved = load_records(results_path(tmp_path, "sweep"))
    assert [record.result["seed"] for record in saved.values()] == [0, 1]


def test_ctrl_c_stops_the_workers_and_keeps_the_finished_runs(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    # Two quick runs, then three that would sleep 10 s: Ctrl-C arrives after the second.
    runs = [
        Run(
            sleepy_run, {"seed": seed, "seconds": 0 if seed < 2 else 10, "marker_dir": str(markers)}
        )
        for seed in range(5)
    ]
    finished = []

    def interrupt_after_two(record: Record) -> None:
        finished.append(record)
        if len(finished) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(runs, jobs=2, out_dir=tmp_path, on_record=interrupt_after_two, progress=False)
    assert multiprocessing.active_children() == []  # the workers are gone
    assert sorted(p.name for p in markers.iterdir()) == ["0.done", "1.done"]  # none ran on
    saved = load_records(results_path(tmp_path, "sweep"))
    assert sorted(record.result["seed"] for record in saved.values()) == [0, 1]


# -- progress and bad input --------------------------------------------------------------------


def test_best_text_is_the_largest_finite_value_with_its_label():
    records = [
        Record("a", "seed 0", "ok", {"score": 0.3}),
        Record("b", "seed 1", "diverged", {"score": math.nan}),
        Record("c", "seed 2", "ok", {"score": 0.7}),
        Record("d", "seed 3", "error", None),
        Record("e", "seed 4", "ok", {"score": 0.5}),
    ]
    assert best_text(records, "score") == "0.7 (seed 2)"
    assert best_text(records[:2], "nope") is None


def test_the_progress_bar_counts_runs_and_shows_the_best(capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "can_draw", lambda tqdm: True)  # as on a terminal
    FAILING.add(3)
    run_sweep(runs_of(counted_run, range(5)), jobs=1, best="score", progress=True)
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "5/5" in last and "best=0.4 (seed 4)" in last and "failed=1" in last, last
    assert "diverged" not in last
    run_sweep(runs_of(diverging_run, range(3)), jobs=1, progress=True)
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "3/3" in last and "diverged=1" in last and "failed" not in last, last


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"jobs": 0}, "jobs must be a positive int (or None: one per core); got 0"),
        ({"jobs": True}, "jobs must be a positive int (or None: one per core); got True"),
        ({"jobs": 2, "dask": "tcp://x:1"}, "give jobs or dask, not both"),
        ({"resume": True}, "resume=True needs out_dir"),
    ],
)
def test_bad_sweep_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_sweep(runs_of(counted_run, [0]), progress=False, **kwargs)
    assert CALLS == []


def test_runs_must_be_named_top_level_functions_with_json_arguments():
    with pytest.raises(ValueError, match="Run fn must be a top-level function"):
        Run(lambda seed: {}, {"seed": 0})
    with pytest.raises(TypeError, match=r"Run kwargs must be JSON-able .* run 'x'"):
        Run(counted_run, {"seed": np.float32(0)}, label="x")
    with pytest.raises(ValueError, match="appear more than once: seed 1"):
        run_sweep(runs_of(counted_run, [0, 1, 1]), jobs=1, progress=False)


def test_resume_from_a_file_that_is_not_a_results_file_names_it(tmp_path):
    results_path(tmp_path, "sweep").write_text("{not json")
    with pytest.raises(ValueError, match=r"cannot resume from .*sweep_runs\.json"):
        run_sweep(runs_of(counted_run, [0]), jobs=1, out_dir=tmp_path, resume=True)


def test_weight_scale_lists_a_run_that_raised_and_summarizes_the_rest(tmp_path):
    # 1e39 does not fit float32 weights: those runs raise; the 1e-2 ones train.
    config = dataclasses.replace(
        weight_scale.Config.quick(), min_scale=1e-2, max_scale=1e39, num_scales=2
    )
    result = weight_scale.run(config)
    assert set(result.failed) == {"baseline 1.00e+39", "batchnorm 1.00e+39"}
    assert "must be between" in result.failed["baseline 1.00e+39"]
    for sweep in result.runs.values():
        assert math.isfinite(sweep.best_val_acc[0]) and math.isnan(sweep.best_val_acc[1])
    summary = weight_scale.summarize(result)
    assert "best val acc nan" not in summary and "at scale 1.00e-02" in summary
    assert "failed: baseline 1.00e+39: ValueError: weight_scale must be" in summary
    (path,) = weight_scale.plot(result, tmp_path)
    assert path.stat().st_size > 0


@pytest.mark.parametrize("inherited, warns", [("4", True), ("1", False)])
def test_a_worker_warns_when_numpy_was_loaded_before_its_thread_count_was_set(
    inherited, warns, monkeypatch
):
    # As in a worker whose parent's main script imported numpy with other thread settings.
    for variable in THREAD_VARIABLES:
        monkeypatch.setenv(variable, "4")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", inherited)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # keep this process's Ctrl-C
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        init_worker(1)
    assert [str(w.message)[:37] for w in caught] == [
        "numpy was imported before the sweep's"
    ] * warns
    assert all(os.environ[variable] == "1" for variable in THREAD_VARIABLES)
