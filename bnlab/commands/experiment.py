"""``bnlab experiment NAME [--quick] [--out DIR] [--seed N]``: rerun a seed experiment."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

HELP = "run one of the seed experiments and write its figures (see --list)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="the experiment to run (see --list)")
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    parser.add_argument(
        "--quick", action="store_true", help="shrunk sizes: seconds instead of minutes"
    )
    parser.add_argument(
        "--out", default="bnlab-out", help="folder for the figures (default: bnlab-out)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the config's)"
    )


def run(args: argparse.Namespace) -> int:
    from bnlab import experiments

    if args.list or args.name is None:
        width = max(len(name) for name in experiments.REGISTRY)
        for info in experiments.REGISTRY.values():
            print(f"{info.name:<{width}}  {info.description} [{info.source}]")
        return 0 if args.list else 2
    try:
        module = experiments.load(args.name)
    except ValueError as error:
        print(f"bnlab experiment: {error}")
        return 2
    config = module.Config.quick() if args.quick else module.Config()
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    print(f"== {args.name}{' (quick)' if args.quick else ''}: {config}")
    start = time.perf_counter()
    result = module.run(config)
    elapsed = time.perf_counter() - start
    figures = module.plot(result, Path(args.out))
    print(module.summarize(result))
    print(f"== done in {elapsed:.1f} s; figures: {', '.join(str(f) for f in figures)}")
    return 0
