"""The ``bnlab`` command line: one subcommand per module in :mod:`bnlab.commands`.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit status). Modules import their heavy dependencies inside
``run`` so that ``bnlab --help`` stays quick; the one exception is ``train``, whose
``--activation`` and ``--update`` choices are the library's registries (that imports NumPy).

Errors, the same for every command (:func:`main`): an expected error becomes one line on
stderr, ``bnlab COMMAND: message``, and an exit status: 2 for a bad request (argparse's usage
errors, ValueError/TypeError from a bad value, :class:`~bnlab.commands.arguments.UsageError`),
1 for a failure while running (OSError such as a missing dataset or file, a diverged run,
bnlab's own exception classes),
130 for Ctrl-C. ``bnlab --debug COMMAND`` or ``BNLAB_DEBUG=1`` prints the traceback too.
Anything else is a bug in bnlab and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

# bnlab's nets are small: a multithreaded BLAS spends longer handing tiny matrices between
# threads than multiplying them (the README gives a measurement). One thread unless the user
# chose otherwise; this must happen before numpy is imported, which the commands do lazily.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

DEBUG = "show the traceback of an error (also: BNLAB_DEBUG=1)"

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
    parser.add_argument("--debug", action="store_true", help=DEBUG)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"bnlab.commands.{name}")
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        # after the command too (bnlab train --debug); SUPPRESS keeps a --debug given before it
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG)
        sub.set_defaults(_run=module.run)
        _name_errors_after(sub)
    return parser


def _name_errors_after(parser: argparse.ArgumentParser) -> None:
    """Record each (sub)command's name, 'bnlab data fetch', for the error line: set_defaults
    of the innermost subparser that parsed the command line wins."""
    parser.set_defaults(_prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _name_errors_after(sub)


def exit_status(error: BaseException) -> int | None:
    """2 (usage), 1 (runtime) or 130 (Ctrl-C) for an expected error; None for a bug."""
    from bnlab.commands.arguments import UsageError

    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, UsageError):
        return 2
    if type(error).__module__.split(".")[0] == "bnlab":  # bnlab's own: a checksum, a divergence
        return 1
    if isinstance(error, ValueError | TypeError):
        return 2
    if isinstance(error, OSError | FloatingPointError):  # files, datasets
        return 1
    return None


def one_line(error: BaseException) -> str:
    """The error's message on one line (a KeyboardInterrupt has none: 'interrupted')."""
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename and str(error.filename) not in message:
        message = f"{error.filename}: {message}"
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bnlab`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = args.debug or os.environ.get("BNLAB_DEBUG", "") not in ("", "0")
    try:
        return int(args._run(args) or 0)
    except BrokenPipeError:  # `bnlab check ... | head` closed the pipe: stop quietly, as cat does
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, a shell's status for a command whose reader went away
    except (Exception, KeyboardInterrupt) as error:
        status = exit_status(error)
        if status is None:
            raise
        if debug:
            traceback.print_exc()
        print(f"{args._prog}: {one_line(error)}", file=sys.stderr)
        return status
