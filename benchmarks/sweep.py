"""The weight-scale sweep (40 trainings) serial vs in worker processes, timed in one run.

    python benchmarks/sweep.py [--jobs 2] [--epochs 30] [--repeats 3] [--quick]

Each repeat runs ``bnlab experiment weight-scale``'s sweep (its Config: 20 scales x 2 nets, but
30 epochs instead of 10: 600 iterations a run, so that the sweep takes tens of seconds serially)
once in this process and once with ``--jobs`` worker processes, one after the other, and checks
that both give the same numbers bit for bit. The parallel time includes
starting the workers (spawn: a fresh interpreter importing numpy and bnlab each). Prints the
median wall times and the median speed-up; target >= 1.7x with 2 jobs on 2 cores.

Other processes on the machine take cores from the workers (and a virtual machine's cores may
share a physical one), so each repeat also measures what the machine offers at that moment:
"capacity", the throughput of ``jobs`` processes running a pure-Python loop at once relative
to one process running it alone (``jobs``x on idle cores). The load average before and after
is printed too. A speed-up well under the capacity is the sweep's fault; under the target but
near the capacity, the machine's.
"""

from __future__ import annotations

from _timing import limit_threads

limit_threads(1)  # this process and (inherited) the workers: one BLAS thread each


# bnlab imports numpy, so everything below comes after the thread limit.
import argparse  # noqa: E402
import dataclasses  # noqa: E402
import multiprocessing  # noqa: E402
import multiprocessing.pool  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from _timing import format_time  # noqa: E402

from bnlab.experiments import weight_scale  # noqa: E402
from bnlab.experiments.sweep import SweepOptions, default_jobs  # noqa: E402


def timed_sweep(config: weight_scale.Config, jobs: int) -> tuple[float, weight_scale.Result]:
    """Wall seconds of one sweep with ``jobs`` (1: in this process), and its result."""
    weight_scale._load_data.cache_clear()  # every candidate loads its data, as workers do
    start = time.perf_counter()
    result = weight_scale.run(config, SweepOptions(jobs=jobs, progress=False))
    return time.perf_counter() - start, result


def spin(iterations: int) -> float:
    """Seconds of a pure-Python loop: CPU only, no memory traffic, no BLAS."""
    start = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i
    return time.perf_counter() - start


def capacity(pool: multiprocessing.pool.Pool, jobs: int, iterations: int = 5_000_000) -> float:
    """How many cores' worth of work ``jobs`` processes get done at once right now (ideal: jobs)."""
    alone = spin(iterations)
    start = time.perf_counter()
    pool.map(spin, [iterations] * jobs, chunksize=1)
    return jobs * alone / (time.perf_counter() - start)


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
    runs = 2 * config.num_scales
    print(
        f"weight-scale sweep: {runs} trainings of {config.num_epochs} epochs, serial vs "
        f"--jobs {args.jobs}; "
        f"{default_jobs()} cores; 1 BLAS thread per process; {args.repeats} repeat(s)"
    )
    print(f"load average (1, 5, 15 min) before: {load()}")
    serial_times, parallel_times, ratios, capacities = [], [], [], []
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        pool.map(spin, [1] * args.jobs)  # started before any timing
        for repeat in range(args.repeats):
            before = capacity(pool, args.jobs)
            serial_seconds, serial = timed_sweep(config, 1)
            parallel_seconds, parallel = timed_sweep(config, args.jobs)
            capacities.append((before + capacity(pool, args.jobs)) / 2)
            if repr(parallel.runs) != repr(serial.runs):
                raise SystemExit("the parallel sweep's numbers differ from the serial sweep's")
            serial_times.append(serial_seconds)
            parallel_times.append(parallel_seconds)
            ratios.append(serial_seconds / parallel_seconds)
            print(
                f"  repeat {repeat + 1}: serial {format_time(serial_seconds)}, --jobs "
                f"{args.jobs} {format_time(parallel_seconds)}, speed-up {ratios[-1]:.2f}x "
                f"(numbers identical); capacity {capacities[-1]:.2f}x"
            )
    print(f"load average (1, 5, 15 min) after:  {load()}")
    print(
        f"median: serial {format_time(statistics.median(serial_times))}, --jobs {args.jobs} "
        f"{format_time(statistics.median(parallel_times))}, speed-up "
        f"{statistics.median(ratios):.2f}x (target >= 1.7x with 2 jobs on 2 idle cores); "
        f"capacity {statistics.median(capacities):.2f}x"
    )


if __name__ == "__main__":  # spawned workers import this script again: run nothing there
    main()
