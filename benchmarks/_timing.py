"""Shared timing helpers for the scripts in benchmarks/: thread control and interleaved medians.

Usage, at the very top of a benchmark script (before numpy is imported)::

    from _timing import limit_threads
    limit_threads(1)            # BLAS / OpenMP pools read these variables once, at import
    import numpy as np
    from _timing import apply_options, benchmark_parser, compare
    args = benchmark_parser(__doc__).parse_args()
    print(apply_options(args))  # also keeps freed memory, see below
    times = compare({"naive": f, "alt": g}, repeats=15)
    times.median("alt"), times.ratio("naive", "alt")     # seconds per call; speedup

Each repeat times every candidate once, in turn ("interleaved"), so a slow patch of the
machine (another process, a busy host: on a shared VM this swings 2x for seconds at a time)
hits all candidates alike. A ratio is the median of the per-repeat ratios, each taken
between timings a few milliseconds apart; a time is the median over repeats.

glibc's malloc gives freed blocks of more than 128 KiB back to the kernel, then faults fresh
zeroed pages in for the next temporary. In a short script that first-touch cost can exceed the
arithmetic (hundreds of page faults per batchnorm call); a long-lived process (a notebook, a
training run) has usually raised glibc's thresholds by then. ``keep_freed_memory`` raises
them up front, so every candidate is timed in that steady state.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import statistics
import sys
import time
from collections.abc import Callable

_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_threads(n: int = 1) -> None:
    """Pin numpy's BLAS, OpenMP and (if imported later) PyTorch to ``n`` threads.

    Must run before numpy is imported: the thread pools read the variables once.
    """
    if "numpy" in sys.modules:
        raise RuntimeError("limit_threads() must be called before numpy is imported")
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(n)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse (no-op elsewhere); True if it took effect."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return False
    mmap_ok = mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # 32 MiB: glibc's ceiling for this knob
    trim_ok = mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    return bool(mmap_ok and trim_ok)


# Set on some machines to pin OpenBLAS's kernels (older builds misbehave on some processors);
# they also slow a current numpy, so a benchmark says whether they were in force.
BLAS_PINNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_summary() -> str:
    """One line: which BLAS numpy runs, with which kernels, and whether the kernels were pinned.

    The kernels are read with threadpoolctl (the dev extra) when it is installed. On a machine
    that pins them (OPENBLAS_CORETYPE set), time the kernels numpy would pick by unsetting both
    variables for the benchmark command alone:
    ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/train_step.py``.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        kernels = "kernels unknown (pip install threadpoolctl to see them)"
    else:
        found = [
            " ".join(filter(None, [info["internal_api"], info.get("version")]))
            + f" with its {info.get('architecture') or 'unknown'} kernels"
            for info in threadpool_info()
            # numpy's own (numpy.libs/, or a system library); not one another package brought
            if info.get("user_api") == "blas" and "torch" not in str(info.get("filepath"))
        ]
        kernels = "; ".join(found) or "no BLAS found by threadpoolctl"
    pinned = [f"{name}={os.environ[name]}" for name in BLAS_PINNING_VARIABLES if name in os.environ]
    if not pinned:
        return f"numpy's BLAS: {kernels}, as it picked them"
    return (
        f"numpy's BLAS: {kernels}, pinned by {' '.join(pinned)} (unset both for this command "
        "alone to time the kernels numpy would pick)"
    )


def torch_single_thread() -> object | None:
    """Import PyTorch pinned to one intra-op and one inter-op thread, or None if absent."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work has started: harmless here
        pass
    return torch


def torch_forward_backward(torch, module, x, dout) -> Callable[[], object]:
    """One forward and backward of a PyTorch ``module`` in train mode on numpy ``x``, ``dout``."""
    module.train()
    x_t = torch.from_numpy(x).requires_grad_(True)
    dout_t = torch.from_numpy(dout)

    def step() -> object:
        x_t.grad = None
        module.zero_grad(set_to_none=True)
        module(x_t).backward(dout_t)
        return x_t.grad

    return step


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes (add your own, then parse)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats (median)")
    parser.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave glibc's malloc thresholds alone (temporaries then pay page faults)",
    )
    return parser


def apply_options(args: argparse.Namespace) -> str:
    """Act on benchmark_parser's options; returns a summary line of the timing setup."""
    kept = not args.default_allocator and keep_freed_memory()
    allocator = "freed memory kept" if kept else "default allocator"
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    return f"{threads} thread(s), {allocator}, median of {args.repeats} interleaved repeats"


# What compare() can time with: the wall clock, or this process's CPU time (user + system, all
# threads). With one thread on each side, CPU time leaves out the time other jobs on a shared
# machine hold the core, though not what they cost through shared caches and memory.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def time_once(fn: Callable[[], object], number: int, clock: str = "wall") -> float:
    """Seconds per call of ``fn`` over ``number`` back-to-back calls, on ``clock`` (CLOCKS)."""
    now = CLOCKS[clock]
    start = now()
    for _ in range(number):
        fn()
    return (now() - start) / number


def calls_per_repeat(fn: Callable[[], object], target_seconds: float = 0.02) -> int:
    """How many calls make one repeat last about ``target_seconds`` (at least 1)."""
    fn()  # warm-up: first-touch page faults, caches, lazy imports
    once = time_once(fn, 1)
    return max(1, int(target_seconds / max(once, 1e-9)))


class Timings(dict):
    """{candidate name: [seconds per call, one per repeat]}, repeats interleaved."""

    def median(self, name: str) -> float:
        return statistics.median(self[name])

    def ratio(self, numerator: str, denominator: str) -> float:
        """Median over repeats of the per-repeat ratio: both timed back to back each time."""
        return statistics.median(
            a / b for a, b in zip(self[numerator], self[denominator], strict=True)
        )


def compare(
    candidates: dict[str, Callable[[], object]],
    repeats: int = 15,
    target_seconds: float = 0.02,
    clock: str = "wall",
) -> Timings:
    """Time each candidate ``repeats`` times, in turn, about ``target_seconds`` a turn.

    clock: 'wall' (time.perf_counter) or 'cpu' (time.process_time), see CLOCKS.
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {', '.join(map(repr, CLOCKS))}; got {clock!r}")
    numbers = {name: calls_per_repeat(fn, target_seconds) for name, fn in candidates.items()}
    samples = Timings({name: [] for name in candidates})
    for _ in range(repeats):
        for name, fn in candidates.items():
            samples[name].append(time_once(fn, numbers[name], clock))
    return samples


def format_time(seconds: float) -> str:
    """A duration with a readable unit: '812 us', '14.3 ms'."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
