"""``bnlab check TARGET``: diagnose a student's own cs231n-style layers, mistake by mistake.

TARGET is a .py file (e.g. cs231n/layers.py), a package directory (cs231n/) or a module name.
Exit status 0 when no finding has severity error, 1 when one has, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys

HELP = "check a student's own layers (cs231n names) against bnlab and name each mistake"

FORMATS = ("text", "json", "gradescope")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bnlab.check.registry import CONVENTIONS
    from bnlab.check.runner import DEFAULT_TIMEOUT

    parser.add_argument("target", metavar="TARGET", help="a .py file, a directory or a module")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="check only these functions")
    parser.add_argument(
        "--convention",
        choices=CONVENTIONS,
        default="cs231n",
        help="cs231n (dropout's p keeps, default), cs231n-2016 / cs231n-2017 (p drops)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds allowed per function (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--weights", metavar="FILE", help="JSON or TOML: points per function")
    parser.add_argument("--out", metavar="FILE", help="write the report here instead of stdout")

    def one_line_error(message: str) -> None:  # argparse's own: usage lines, then the error
        parser.exit(2, f"bnlab check: {message} (see bnlab check --help)\n")

    parser.error = one_line_error  # type: ignore[method-assign]


def _usage(message: str) -> int:
    print(f"bnlab check: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    import json

    from bnlab.check import check_target, read_weights
    from bnlab.check.loader import TargetError

    if not args.timeout > 0:
        return _usage(f"--timeout must be positive, got {args.timeout:g}")
    weights = None
    if args.weights:
        try:
            weights = read_weights(args.weights)
        except (OSError, ValueError) as error:
            return _usage(f"--weights: {error}")
    try:
        result = check_target(
            args.target, only=args.only, convention=args.convention, timeout=args.timeout
        )
    except (TargetError, ValueError) as error:
        return _usage(str(error))
    if args.format == "json":
        report = result.to_json()
    elif args.format == "gradescope":
        report = json.dumps(result.gradescope(weights), indent=2)
    else:
        report = str(result)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(report + "\n")
    else:
        print(report)
    return result.exit_status
