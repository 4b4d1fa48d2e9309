"""``bnlab experiment NAME [--quick] [--out DIR] [--seed N] [--set FIELD=VALUE ...]``.

Reruns an experiment from the study notes with its Config, the quick one, or either with some
fields changed: ``--set batch_size=256 --set update_rule=sgd`` parses each value by the
field's type. Sweep experiments also take ``--jobs N``, ``--dask ADDRESS`` and ``--resume``
(:mod:`bnlab.experiments.sweep`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import types
import typing
from pathlib import Path
from typing import Any

from bnlab.commands.arguments import UsageError, check_output_folder, check_range, count

HELP = "run one of the study notes' experiments and write its figures (see --list)"


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
        "--seed", type=count(0), default=None, help="random seed (default: the config's)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change one field of the experiment's Config (repeatable; the fields are printed "
        "at the start of every run)",
    )
    from bnlab.experiments.sweep import add_sweep_arguments

    add_sweep_arguments(parser)


def parse_field(value: str, annotation: Any) -> Any:
    """``value`` as the first type of ``annotation`` that accepts it.

    Handles the types Configs use: int, float, str, bool, None in unions (``int | None``,
    ``float | str``) and flat tuples written with commas (``tuple[int, ...]``: ``64,32``).
    """
    if annotation is tuple or typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)  # (item type, ...) for tuple[item type, ...]
        flat = len(args) == 2 and args[1] is Ellipsis and typing.get_origin(args[0]) is None
        if not flat:
            raise ValueError(f"a {type_name(annotation)} cannot be set from the command line")
        return tuple(parse_field(item.strip(), args[0]) for item in value.split(","))
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if is_union else ()
    for kind in members or (annotation,):
        if kind is type(None):
            if value.lower() == "none":
                return None
        elif kind is bool:
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
        else:
            try:
                return kind(value)
            except ValueError:
                continue
    raise ValueError(f"cannot read {value!r} as {type_name(annotation)}")


def type_name(annotation: Any) -> str:
    """'int', 'float | str', 'tuple[int, ...]': the annotation as it is written in the Config."""
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def apply_settings(config: Any, settings: list[str]) -> Any:
    """A copy of the dataclass ``config`` with every ``FIELD=VALUE`` of ``settings`` applied."""
    annotations = typing.get_type_hints(type(config))
    changes = {}
    for setting in settings:
        field, equals, value = setting.partition("=")
        if not equals:
            raise ValueError(f"--set takes FIELD=VALUE, got {setting!r}")
        if field not in annotations:
            raise ValueError(
                f"--set: {type(config).__module__.rsplit('.', 1)[-1]}'s Config has no field "
                f"{field!r}; its fields: {', '.join(annotations)}"
            )
        try:
            changes[field] = parse_field(value, annotations[field])
            check_range(field, changes[field])
        except ValueError as error:
            raise ValueError(f"--set {field}: {error}") from None
    return dataclasses.replace(config, **changes)


def run(args: argparse.Namespace) -> int:
    from bnlab import experiments
    from bnlab.experiments.common import show_progress

    if args.list or args.name is None:
        width = max(len(name) for name in experiments.REGISTRY)
        for info in experiments.REGISTRY.values():
            print(f"{info.name:<{width}}  {info.description} [{info.source}]")
        return 0 if args.list else 2
    # a bad name, --set or --out raises: bnlab.cli.main reports it in one line, before any work
    module = experiments.load(args.name)
    config = module.Config.quick() if args.quick else module.Config()
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    config = apply_settings(config, args.set)
    check_output_folder("--out", args.out)
    from bnlab.experiments.sweep import sweep_options, takes_sweep_options

    run_options = {}
    if takes_sweep_options(module.run):
        run_options["sweep"] = sweep_options(args, args.out)
    elif args.jobs is not None or args.dask is not None or args.resume:
        raise UsageError(f"--jobs, --dask and --resume are for sweeps; {args.name} is not one")
    print(f"== {args.name}{' (quick)' if args.quick else ''}: {config}")
    start = time.perf_counter()
    try:
        with show_progress(args.name):  # bars on a terminal, a line per epoch otherwise
            result = module.run(config, **run_options)
    except KeyboardInterrupt:
        if run_options:
            print(f"== interrupted; finished runs are kept in {args.out}: add --resume to continue")
        raise
    elapsed = time.perf_counter() - start
    figures = module.plot(result, Path(args.out))
    print(module.summarize(result))
    print(f"== done in {elapsed:.1f} s; figures: {', '.join(str(f) for f in figures)}")
    return 0
