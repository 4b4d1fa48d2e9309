"""The weight-scale sweep (40 trainings) serial vs in worker processes, timed in one run.

    python benchmarks/sweep.py [--jobs 2] [--epochs 30] [--repeats 3] [--quick]

Each repeat runs ``bnlab experiment weight-scale``'s sweep (its Config: 20 scales x 2 nets, but
30 epochs instead of 10: 600 iterations a run, so that the sweep takes tens of seconds serially)
once in this process and once with ``--jobs`` worker processes, one after the other, and checks
that both give the same numbers bit for bit. The parallel time includes starting the workers
(spawn: a fresh interpreter importing numpy and bnlab each). Prints the median wall times and
the median speed-up; target >= 1.7x with 2 jobs on 2 cores.

Other processes on the machine take cores from the workers (and a virtual machine's cores may
share a physical one), so each sweep also reports the cores it actually got: CPU seconds per
wall second (this process's for the serial sweep, with the workers' for the parallel one;
ideal 1 and ``jobs``), and the CPU seconds themselves (the workers' extra: start-up). A speed-up well under the cores the workers got is the runner's fault; a
speed-up near them, under the target, is the busy machine's. The load average before and after
is printed too.
"""

from __future__ import annotations

from _timing import limit_threads

limit_threads(1)  # this process and (inherited) the workers: one BLAS thread each


# bnlab imports numpy, so everything below comes after the thread limit.
import argparse  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from _timing import blas_summary, format_time  # noqa: E402

from bnlab.experiments import weight_scale  # noqa: E402
from bnlab.experiments.sweep import SweepOptions, default_jobs  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process plus its finished (joined) children: user + system."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_sweep(config: weight_scale.Config, jobs: int) -> tuple[float, float, object]:
    """(wall seconds, cores used = CPU seconds / wall seconds, result) of one sweep."""
    weight_scale._load_data.cache_clear()  # every candidate loads its data, as workers do
    cpu, start = cpu_seconds(), time.perf_counter()
    result = weight_scale.run(config, SweepOptions(jobs=jobs, progress=False))
    wall = time.perf_counter() - start  # the workers are joined by now: their CPU is counted
    return wall, (cpu_seconds() - cpu) / wall, result


def load() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="serial/parallel pairs (median)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default: 30)")
    parser.add_argument("--quick", action="store_true", help="the quick Config (a smoke test)")
    args = parser.parse_args()
    config = weight_scale.Config.quick() if args.quick else weight_scale.Config()
    if not args.quick:
        config = dataclasses.replace(config, num_epochs=args.epochs)
    print(
        f"weight-scale sweep: {2 * config.num_scales} trainings of {config.num_epochs} epochs, "
        f"serial vs --jobs {args.jobs}; {default_jobs()} cores; 1 BLAS thread per process; "
        f"{args.repeats} repeat(s)"
    )
    print(blas_summary())
    print(f"load average (1, 5, 15 min) before: {load()}")
    serial_times, parallel_times, ratios, cores = [], [], [], []
    for repeat in range(args.repeats):
        serial_seconds, serial_cores, serial = timed_sweep(config, 1)
        parallel_seconds, parallel_cores, parallel = timed_sweep(config, args.jobs)
        if repr(parallel.runs) != repr(serial.runs):
            raise SystemExit("the parallel sweep's numbers differ from the serial sweep's")
        serial_times.append(serial_seconds)
        parallel_times.append(parallel_seconds)
        ratios.append(serial_seconds / parallel_seconds)
        cores.append(parallel_cores)
        print(
            f"  repeat {repeat + 1}: serial {format_time(serial_seconds)} on "
            f"{serial_cores:.2f} cores, --jobs {args.jobs} {format_time(parallel_seconds)} on "
            f"{parallel_cores:.2f} cores: speed-up {ratios[-1]:.2f}x (numbers identical); "
            f"CPU seconds {serial_seconds * serial_cores:.1f} serial, "
            f"{parallel_seconds * parallel_cores:.1f} with workers"
        )
    print(f"load average (1, 5, 15 min) after:  {load()}")
    print(
        f"median: serial {format_time(statistics.median(serial_times))}, --jobs {args.jobs} "
        f"{format_time(statistics.median(parallel_times))} on {statistics.median(cores):.2f} "
        f"cores: speed-up {statistics.median(ratios):.2f}x (target >= 1.7x with 2 jobs on 2 "
        "idle cores)"
    )


if __name__ == "__main__":  # spawned workers import this script again: run nothing there
    main()
