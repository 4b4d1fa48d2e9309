"""The sweep runner on a Dask cluster (a LocalCluster of 2 worker processes on 127.0.0.1).

Skipped without ``dask[distributed]`` (the ``test`` extra installs it). The runs are
bnlab's own functions: Dask workers import them by name, as they would on a real cluster.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from bnlab.experiments import weight_scale
from bnlab.experiments.sweep import Record, Run, SweepOptions, load_records, results_path, run_sweep


@pytest.fixture(scope="module")
def scheduler_address():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        processes=True,
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_gives_the_serial_numbers_bit_for_bit(scheduler_address):
    config = weight_scale.Config.quick()
    serial = weight_scale.run(config)
    on_dask = weight_scale.run(config, SweepOptions(dask=scheduler_address, progress=False))
    assert repr(on_dask.runs) == repr(serial.runs)  # repr: every float in full
    assert on_dask.failed == {}
    # The runs were the cluster's tasks (named after the function the workers called).
    distributed = pytest.importorskip("dask.distributed")
    with distributed.Client(scheduler_address) as client:
        prefixes = client.run_on_scheduler(
            lambda dask_scheduler: list(dask_scheduler.task_prefixes)
        )
    assert "call_run" in prefixes


def quick_runs(normalizations: list[str | None]) -> list[Run]:
    config = dataclasses.asdict(weight_scale.Config.quick())
    return [
        Run(
            weight_scale.train_one,
            {"config": config, "normalization": normalization, "weight_scale": 0.05},
            label=str(normalization),
        )
        for normalization in normalizations
    ]


def test_a_failing_run_on_dask_is_recorded_and_the_rest_finish(scheduler_address, tmp_path):
    runs = quick_runs([None, "no-such-norm", "batchnorm"])
    records = run_sweep(runs, dask=scheduler_address, out_dir=tmp_path, progress=False)
    assert [record.status for record in records] == ["ok", "error", "ok"]
    assert records[1].message.startswith("ValueError:") and "no-such-norm" in records[1].message
    assert set(load_records(results_path(tmp_path, "sweep"))) == {run.key for run in runs}


def test_ctrl_c_on_dask_keeps_the_finished_runs(scheduler_address, tmp_path):
    def interrupt(record: Record) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            quick_runs([None, "batchnorm", "layernorm"]),
            dask=scheduler_address,
            out_dir=tmp_path,
            on_record=interrupt,
            progress=False,
        )
    assert len(load_records(results_path(tmp_path, "sweep"))) == 1


def test_an_address_where_no_scheduler_answers_is_named():
    dask = pytest.importorskip("dask")
    pytest.importorskip("dask.distributed")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(
            OSError, match=re.escape("cannot reach a Dask scheduler at 'tcp://127.0.0.1:9'")
        ):
            run_sweep(quick_runs([None]), dask="tcp://127.0.0.1:9", progress=False)
