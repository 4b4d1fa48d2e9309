"""``bnlab gradcheck [NAME ...] [--list] [--tol TOL] [--seed N]``: check every built-in layer.

Runs the entries of :func:`bnlab.gradcheck.catalog.entries` (all, or those named; shell
patterns like ``'batchnorm*'`` work), prints one table row per differentiable argument, and
exits 1 if any gradient fails, 2 for an unknown name.
"""

from __future__ import annotations

import argparse

from bnlab.commands.arguments import count, number

HELP = "check every built-in layer's backward against numerical gradients (float64)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="layers to check, or patterns (default: all)"
    )
    parser.add_argument("--list", action="store_true", help="list what can be checked and exit")
    parser.add_argument(
        "--tol",
        type=number(0, open_minimum=True),
        default=1e-7,
        help="relative error allowed (default: 1e-7)",
    )
    parser.add_argument(
        "--seed", type=count(0), default=0, help="seed for the inputs and dout (default: 0)"
    )


def run(args: argparse.Namespace) -> int:
    import time

    from bnlab.gradcheck import catalog, format_table

    if args.list:
        width = max(len(name) for name in catalog.names())
        for entry in catalog.entries():
            print(f"{entry.name:<{width}}  {entry.describe()}")
        return 0
    entries = catalog.select(args.names)  # an unknown name: bnlab.cli.main reports it, exit 2

    start = time.perf_counter()
    reports, crashed = [], []
    for entry in entries:
        try:
            reports.append(entry.run(seed=args.seed, tol=args.tol))
        except Exception as error:  # a broken layer is a failed check, not the end of the run
            crashed.append((entry.name, f"{type(error).__name__}: {error}"))
    elapsed = time.perf_counter() - start

    if reports:
        print(format_table(reports))
    failed = [report.layer for report in reports if not report.passed]
    for name, message in crashed:
        print(f"ERROR in {name}: {message}")
    failed += [name for name, _ in crashed]
    num_grads = sum(len(report.checks) for report in reports)
    print(
        f"\n{len(entries)} layers, {num_grads} gradients checked in float64 "
        f"(seed {args.seed}, tol {args.tol:g}) in {elapsed:.1f} s: ",
        end="",
    )
    if failed:
        print(f"{len(failed)} FAILED: {', '.join(failed)}")
        return 1
    print("all passed")
    return 0
