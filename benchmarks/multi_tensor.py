"""The Solver step with and without the multi-tensor update, against PyTorch, in one run.

    python benchmarks/multi_tensor.py [--net fc|lenet] [--repeats 15]

The same step as ``benchmarks/train_step.py`` (draw a minibatch, forward, loss, backward,
update), three candidates timed in interleaved repeats:

    packed     bnlab's Solver as it runs: the small params updated by one rule call per group
               (bnlab.fast.multi_tensor)
    per-param  the same Solver with the packing switched off: one rule call per parameter
    torch      PyTorch's nn.Sequential and optimiser, as in train_step.py

Prints the median times and the ratios packed / torch, per-param / torch and packed /
per-param (medians of per-repeat ratios). On a busy machine compare the ratios, not the
times: every candidate of a repeat is timed within a few milliseconds of the others.
"""

from __future__ import annotations

import argparse

from _timing import blas_summary, compare, format_time, keep_freed_memory, torch_single_thread

# train_step limits the threads to one at import, before anything imports numpy
from train_step import NETS, bnlab_step, torch_step

from bnlab.data import make_synthetic_images
from bnlab.fast.ufunc_buffer import small_ufunc_buffer


def per_param_step(net, data: dict, batch_size: int):
    """bnlab_step with the Solver's multi-tensor update switched off."""
    step = bnlab_step(net, data, batch_size)
    step.__self__._multi_tensor = None  # the bound method's Solver
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=sorted(NETS), default="fc")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    net = NETS[args.net]
    keep_freed_memory()
    torch = torch_single_thread()
    data = make_synthetic_images(4096, 100, 10, image_shape=net.image_shape, seed=0)
    print(f"one Solver step, {net.title}; 1 thread, median of {args.repeats} interleaved repeats")
    print(blas_summary())
    header = f"{'batch':>6} {'packed':>10} {'per-param':>10} {'torch':>10}"
    print(f"{header} {'packed/torch':>13} {'per-param/torch':>16} {'packed/per-param':>17}")
    for batch_size in net.targets:
        candidates = {
            "packed": bnlab_step(net, data, batch_size),
            "per-param": per_param_step(net, data, batch_size),
        }
        if torch is not None:
            candidates["torch"] = torch_step(torch, net, data, batch_size)
        with small_ufunc_buffer():  # as Solver.train() runs its steps
            times = compare(candidates, repeats=args.repeats, target_seconds=0.05)
        line = (
            f"{batch_size:>6} {format_time(times.median('packed')):>10} "
            f"{format_time(times.median('per-param')):>10}"
        )
        if torch is None:
            line += f" {'(no torch)':>10} {'-':>13} {'-':>16}"
        else:
            line += (
                f" {format_time(times.median('torch')):>10}"
                f" {times.ratio('packed', 'torch'):>13.2f}"
                f" {times.ratio('per-param', 'torch'):>16.2f}"
            )
        print(f"{line} {times.ratio('packed', 'per-param'):>17.2f}")


if __name__ == "__main__":
    main()
