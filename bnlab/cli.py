"""The ``bnlab`` command line: one subcommand per module in :mod:`bnlab.commands`.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status). Modules import their heavy dependencies inside
``run`` so that ``bnlab --help`` stays quick; the one exception is ``train``, whose
``--activation`` and ``--update`` choices are the library's registries (that imports NumPy).
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Sequence

# bnlab's nets are small: a multithreaded BLAS spends longer handing tiny matrices between
# threads than multiplying them (the README gives a measurement). One thread unless the user
# chose otherwise; this must happen before numpy is imported, which the commands do lazily.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# Order here is the order in ``bnlab --help``.
COMMANDS = ("train", "gradcheck", "experiment", "data", "check", "assignment")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    from bnlab import __version__

    parser = argparse.ArgumentParser(
        prog="bnlab",
        description="Batch normalization from scratch: train, check gradients, run experiments.",
    )
    parser.add_argument("--version", action="version", version=f"bnlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"bnlab.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bnlab`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args._run(args) or 0)
