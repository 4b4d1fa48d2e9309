"""Sweeps: many independent, seeded training runs, in-process, in worker processes or on Dask.

A sweep is a list of :class:`Run`: a top-level function and its keyword arguments, which
together fix the run's outcome (the seed is one of the arguments). The function returns a
JSON-able dict, its result. :func:`run_sweep` runs them

- in this process (``jobs=1``);
- in ``jobs`` worker processes (the default: one per core), each with one BLAS thread: the nets
  are small, and one thread per worker is both the fastest split of the cores and what makes a
  worker's float32 numbers equal a one-thread serial run's, bit for bit;
- or on a Dask distributed cluster (``dask="tcp://host:8786"``, the ``bnlab[dask]`` extra),
  through ``dask.distributed.Client`` as it is. Dask's nanny starts its workers with one BLAS
  thread by default (``distributed.nanny.pre-spawn-environ``).

Whatever the mode, the results are the same numbers, and come back in the order of ``runs``.
Worker processes are started with ``spawn``, which imports the main script again: a script
that runs a sweep keeps its work under ``if __name__ == "__main__":``, as with any
``multiprocessing`` code.

Failures do not stop a sweep. A run that raises is recorded with status ``'error'`` and the
exception's message; a run whose result has a true ``'diverged'`` entry is recorded with status
``'diverged'`` (its result is kept: how far a diverging run got is data) and the result's
``'message'``, if any.

With ``out_dir``, every finished run is written at once to ``out_dir/NAME_runs.json`` (the
whole file replaced atomically: a crash or Ctrl-C never leaves it half written). With
``resume=True`` the runs that file records as finished (``'ok'`` or ``'diverged'``) are not run
again; runs that raised are retried. A run is recognised by :attr:`Run.key`, a hash of its
function's name and its arguments, so changing any argument makes it a new run.

Ctrl-C (KeyboardInterrupt) cancels the pending runs, stops the worker processes and re-raises;
the finished runs are already on disk.

An experiment becomes a sweep by building its runs and handing them over; its ``run`` takes
``sweep: SweepOptions | None = None``, which is how ``bnlab experiment`` knows to pass
``--jobs``, ``--dask`` and ``--resume`` on (see :mod:`bnlab.experiments.weight_scale`)::

    def train_one(config: dict, learning_rate: float) -> dict: ...   # top level, seeded

    def run(config: Config, sweep: SweepOptions | None = None) -> Result:
        runs = [
            Run(train_one, {"config": dataclasses.asdict(config), "learning_rate": lr},
                label=f"lr {lr:.0e}")
            for lr in config.learning_rates
        ]
        sweep = sweep or SweepOptions(jobs=1, progress=False)
        records = run_sweep(runs, name="learning_rate", best="best_val_acc", **vars(sweep))

This module imports neither numpy nor tqdm at import time: a worker process imports it to
run its initializer, which must set the BLAS thread count before numpy is first imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnlab._atomic import atomic_write

# The variables BLAS and OpenMP libraries read once, when numpy loads them.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
FINISHED = ("ok", "diverged")  # statuses that --resume does not run again


@dataclass(frozen=True)
class Run:
    """One run of a sweep: ``fn(**kwargs)``, a JSON-able dict; ``label`` names it for people."""

    fn: Callable[..., dict[str, Any]]  # a top-level function: workers import it by name
    kwargs: dict[str, Any]  # JSON-able: they name the run in the results file
    label: str = ""  # shown in the progress bar, the results file and failure messages

    def __post_init__(self) -> None:
        qualname = getattr(self.fn, "__qualname__", "")
        if not callable(self.fn) or not qualname or "<" in qualname:  # <lambda>, <locals>
            raise ValueError(
                f"Run fn must be a top-level function (workers import it by name); "
                f"got {self.fn!r} for run {self.label!r}"
            )
        try:
            canonical_json(self.kwargs)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"Run kwargs must be JSON-able (they name the run in the results file); "
                f"run {self.label!r}: {error}"
            ) from None

    @property
    def function_name(self) -> str:
        """'bnlab.experiments.weight_scale:train_one': where workers find ``fn``."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    @property
    def key(self) -> str:
        """A stable id: the same function and arguments give the same key in every session."""
        spec = canonical_json({"fn": self.function_name, "kwargs": self.kwargs})
        return hashlib.sha256(spec.encode()).hexdigest()[:16]


@dataclass
class Record:
    """What became of one run."""

    key: str  # Run.key
    label: str  # Run.label
    status: str  # 'ok', 'diverged' or 'error'
    result: dict[str, Any] | None  # the run's result; None after an error
    message: str = ""  # why it diverged or failed
    seconds: float = 0.0  # wall time of the run
    traceback: str = ""  # the error's traceback, for debugging


@dataclass
class SweepOptions:
    """How an experiment runs its sweep: its ``run(config, sweep=SweepOptions(...))``."""

    jobs: int | None = None  # worker processes; None: one per core; 1: in this process
    dask: str | None = None  # a Dask scheduler's address: run there instead of in jobs
    out_dir: str | Path | None = None  # write NAME_runs.json here as runs finish (None: don't)
    resume: bool = False  # skip the runs out_dir's results file records as finished
    progress: bool = True  # a progress bar over runs, on stderr


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys: equal values give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def default_jobs() -> int:
    """The cores this process may use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def results_path(out_dir: str | Path, name: str) -> Path:
    """Where a sweep called ``name`` writes its results: ``out_dir/NAME_runs.json``."""
    return Path(out_dir) / f"{name}_runs.json"


def call_run(fn: Callable[..., Any], kwargs: dict[str, Any], key: str, label: str) -> Record:
    """Run ``fn(**kwargs)`` and record the outcome; an exception becomes an 'error' Record."""
    start = time.perf_counter()
    try:
        result = fn(**kwargs)
        if not isinstance(result, dict):
            raise TypeError(f"a run must return a dict; {label or key} returned {result!r}")
        # Through JSON here, so every mode hands back the same types (tuples become lists)
        # and a result the results file cannot hold fails as this run's error.
        result = json.loads(json.dumps(result))
    except Exception as error:
        return Record(
            key,
            label,
            "error",
            None,
            f"{type(error).__name__}: {error}",
            time.perf_counter() - start,
            traceback.format_exc(),
        )
    seconds = time.perf_counter() - start
    if result.get("diverged"):
        return Record(key, label, "diverged", result, result.get("message", "diverged"), seconds)
    return Record(key, label, "ok", result, "", seconds)


def init_worker(threads: int = 1) -> None:
    """A worker process's first act: ``threads`` BLAS threads, and Ctrl-C left to the parent."""
    # Which variable counts depends on numpy's BLAS: any one set as asked is taken as intent.
    inherited = any(os.environ.get(variable) == str(threads) for variable in THREAD_VARIABLES)
    for variable in THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    # The parent stops the workers on Ctrl-C; without this each one also prints a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "numpy" in sys.modules and not inherited:  # the parent's __main__ script imported it
        warnings.warn(
            "numpy was imported before the sweep's worker initializer ran, so its BLAS thread "
            f"count is not {threads}: set OPENBLAS_NUM_THREADS before importing numpy in the "
            "main script",
            RuntimeWarning,
            stacklevel=2,
        )


def load_records(path: Path) -> dict[str, Record]:
    """The records a results file holds, by key; {} if there is no file."""
    if not path.exists():
        return {}
    try:
        saved = json.loads(path.read_text())
        return {
            key: Record(
                key,
                entry["label"],
                entry["status"],
                entry["result"],
                entry.get("message", ""),
                entry.get("seconds", 0.0),
                entry.get("traceback", ""),
            )
            for key, entry in saved["runs"].items()
        }
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"cannot resume from {path}: not a sweep results file ({error}); "
            "delete it or run without resume"
        ) from None


def save_records(path: Path, name: str, runs: Sequence[Run], records: dict[str, Record]) -> None:
    """Write the finished runs' records to ``path`` atomically: a temporary file, then a rename."""
    entries = {}
    for run in runs:  # in the sweep's order, whatever order they finished in
        if run.key in records:
            entry = dataclasses.asdict(records[run.key])
            del entry["key"]
            entries[run.key] = {"fn": run.function_name, "kwargs": run.kwargs, **entry}
    text = json.dumps({"sweep": name, "runs": entries}, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # this process's own
    with atomic_write(path, temporary) as file:  # readers see the old file or the new one
        file.write(text.encode())


def best_text(records: Sequence[Record], best: str) -> str | None:
    """'0.788 (batchnorm 5.46e-02)': the largest finite ``result[best]`` so far, or None."""
    scored = [
        (record.result[best], record.label)
        for record in records
        if record.result is not None
        and isinstance(record.result.get(best), int | float)
        and math.isfinite(record.result[best])
    ]
    if not scored:
        return None
    value, label = max(scored, key=lambda pair: pair[0])
    return f"{value:.4g} ({label})" if label else f"{value:.4g}"


def run_sweep(
    runs: Sequence[Run],
    *,
    name: str = "sweep",
    jobs: int | None = None,
    dask: str | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    best: str | None = None,
    on_record: Callable[[Record], Any] | None = None,
) -> list[Record]:
    """Every run's Record, in the order of ``runs``; see the module docstring for the modes.

    runs: the sweep; their keys must differ (the same function and arguments twice is a bug).
    name: names the results file (``out_dir/NAME_runs.json``) and the progress bar.
    jobs: worker processes (None: one per core; 1: run in this process); not with ``dask``.
    dask: a Dask scheduler address (or anything ``dask.distributed.Client`` accepts).
    out_dir: where the results file goes; None keeps the records in memory only.
    resume: skip the runs the results file records as finished; needs ``out_dir``.
    progress: show a progress bar over runs (tqdm).
    best: a result key to maximise; the bar shows the best value so far and its run's label.
    on_record: called in this process with each new Record, after it is saved.
    """
    if jobs is not None and dask is not None:
        raise ValueError(f"give jobs or dask, not both; got jobs={jobs!r}, dask={dask!r}")
    if jobs is None:
        jobs = default_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int (or None: one per core); got {jobs!r}")
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir: the finished runs are read from there")
    keys = [run.key for run in runs]
    if len(set(keys)) != len(keys):
        twice = sorted({run.label or run.key for run in runs if keys.count(run.key) > 1})
        raise ValueError(f"runs must differ; these appear more than once: {', '.join(twice)}")

    path = None if out_dir is None else results_path(out_dir, name)
    records: dict[str, Record] = {}
    if resume:
        saved = load_records(path)
        records = {k: saved[k] for k in keys if k in saved and saved[k].status in FINISHED}
    pending = [run for run in runs if run.key not in records]
    if path is not None:
        save_records(path, name, runs, records)  # a fresh run starts a fresh file

    from bnlab.solver.progress import auto_tqdm, can_draw

    tqdm = auto_tqdm()
    # A bar on a terminal (or in Jupyter); in a log, a line per finished run instead.
    draw = progress and can_draw(tqdm)
    bar = tqdm(total=len(runs), initial=len(records), desc=name, unit="run", disable=not draw)

    def finish(record: Record) -> None:
        records[record.key] = record
        if path is not None:
            save_records(path, name, runs, records)
        bar.update(1)
        postfix = {}
        best_so_far = best and best_text(list(records.values()), best)
        if best_so_far:
            postfix["best"] = best_so_far
        for status, shown in (("error", "failed"), ("diverged", "diverged")):
            count = sum(r.status == status for r in records.values())
            if count:
                postfix[shown] = count
        bar.set_postfix(postfix)
        if progress and not draw:
            state = "; ".join(f"{k} {v}" for k, v in postfix.items())
            print(
                f"{name}: run {len(records)}/{len(runs)} ({record.label}) {record.status}"
                + (f"; {state}" if state else ""),
                file=sys.stderr,
                flush=True,
            )
        if on_record is not None:
            on_record(record)

    try:
        if dask is not None:
            run_on_dask(pending, dask, finish)
        elif jobs == 1:
            for run in pending:
                finish(call_run(run.fn, run.kwargs, run.key, run.label))
        else:
            run_in_processes(pending, min(jobs, max(len(pending), 1)), finish)
    finally:
        bar.close()
    return [records[key] for key in keys]


def error_record(run: Run, error: BaseException) -> Record:
    """The Record of a run whose worker failed before or after the run itself (a lost worker)."""
    return Record(run.key, run.label, "error", None, f"{type(error).__name__}: {error}")


def run_in_processes(runs: Sequence[Run], jobs: int, finish: Callable[[Record], None]) -> None:
    """Each run in one of ``jobs`` spawned worker processes; ``finish`` each Record as it comes."""
    if not runs:
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fresh interpreter, so init_worker sets the thread count before numpy loads
    # (a forked child inherits the parent's BLAS pools already started).
    executor = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(1,),
    )
    futures = {
        executor.submit(call_run, run.fn, run.kwargs, run.key, run.label): run for run in runs
    }
    try:
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as error:  # the worker died (BrokenProcessPool), not the run
                record = error_record(futures[future], error)
            finish(record)
    except BaseException:  # Ctrl-C, or on_record raised: stop now, keep what is saved
        for future in futures:
            future.cancel()
        # ProcessPoolExecutor has no public way to stop running workers before Python 3.14.
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def run_on_dask(runs: Sequence[Run], address: Any, finish: Callable[[Record], None]) -> None:
    """Each run as one task on the Dask cluster at ``address``; ``finish`` each as it comes."""
    if not runs:
        return
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise ImportError("dask=... needs dask.distributed: pip install 'bnlab[dask]'") from None

    try:
        client = Client(address)
    except OSError as error:  # TimeoutError included: nothing answers at that address
        raise OSError(f"dask: cannot reach a Dask scheduler at {address!r} ({error})") from None
    with client:  # closing the client leaves the cluster running
        futures = {
            client.submit(call_run, run.fn, run.kwargs, run.key, run.label, pure=False): run
            for run in runs
        }
        try:
            for future in as_completed(futures):
                try:
                    record = future.result()
                except Exception as error:  # a lost worker (KilledWorker), not the run
                    record = error_record(futures[future], error)
                finish(record)
        except BaseException:
            client.cancel(list(futures))
            raise


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_sweep_arguments(parser: Any) -> None:
    """``--jobs N``, ``--dask ADDRESS`` and ``--resume`` on an argparse parser."""
    group = parser.add_argument_group("sweep experiments (runs in parallel)")
    group.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes, one BLAS thread each (default: one per core; 1: in-process)",
    )
    group.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (pip install 'bnlab[dask]')",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="skip the runs that --out's NAME_runs.json records as finished",
    )


def sweep_options(args: Any, out_dir: str | Path) -> SweepOptions:
    """The SweepOptions of parsed ``--jobs``/``--dask``/``--resume``; results go to ``out_dir``."""
    if args.jobs is not None and args.dask is not None:
        raise ValueError(
            f"give --jobs or --dask, not both; got --jobs {args.jobs} --dask {args.dask}"
        )
    return SweepOptions(jobs=args.jobs, dask=args.dask, out_dir=out_dir, resume=args.resume)


def takes_sweep_options(run: Callable[..., Any]) -> bool:
    """Whether an experiment's ``run`` is a sweep: it accepts ``sweep=SweepOptions(...)``."""
    import inspect

    return "sweep" in inspect.signature(run).parameters
