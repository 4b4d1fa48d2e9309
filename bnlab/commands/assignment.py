"""``bnlab assignment make DIR``: write a ready-to-hand-out assignment from bnlab's own source.

DIR gets the student's package cs231n/ (the chosen functions as TODO stubs), bnlab's notebooks
rewired to it with a check cell after each exercise, and a Gradescope autograder/ folder.
"""

from __future__ import annotations

import argparse
import sys

HELP = "write a student assignment (cs231n/ with TODO stubs, notebooks, autograder) from bnlab"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = actions.add_parser("make", help="write the assignment into DIR", description=HELP)
    make.add_argument("directory", metavar="DIR", help="where to write (empty, or --force)")
    make.add_argument(
        "--functions",
        nargs="*",
        metavar="NAME",
        help="the exercises (default: the batchnorm assignment's); none: all given complete",
    )
    make.add_argument(
        "--solution", action="store_true", help="write bnlab's bodies, not stubs (answer key)"
    )
    make.add_argument("--force", action="store_true", help="write into a non-empty DIR")

    def one_line_error(message: str) -> None:
        parser.exit(2, f"bnlab assignment: {message} (see bnlab assignment make --help)\n")

    parser.error = one_line_error  # type: ignore[method-assign]
    make.error = one_line_error  # type: ignore[method-assign]


def run(args: argparse.Namespace) -> int:
    from bnlab.assignment import make_assignment
    from bnlab.assignment.notebooks import NOTEBOOK_DIR

    try:
        made = make_assignment(
            args.directory, args.functions, solution=args.solution, force=args.force
        )
    except ValueError as error:
        print(f"bnlab assignment: {error}", file=sys.stderr)
        return 2
    kind = "answer key" if made.solution else "assignment"
    print(f"wrote the {kind} into {made.directory}/")
    print(f"  exercises ({len(made.exercises)}): {', '.join(made.exercises) or 'none'}")
    if made.notebooks:
        print(f"  notebooks: {', '.join(made.notebooks)}")
    elif not NOTEBOOK_DIR.is_dir():
        print(f"  notebooks: none ({NOTEBOOK_DIR} is missing: bnlab is not a source checkout)")
    else:
        print("  notebooks: none (no notebook uses an exercise)")
    unchecked = [n for n in made.exercises if n not in made.checked]
    if unchecked:
        print(f"  not checked by bnlab check (no check cell, not graded): {', '.join(unchecked)}")
    if made.checked:
        print("  autograder/: zip its contents for Gradescope (setup.sh, run_autograder)")
    print(f"  check a student's work: bnlab check {made.directory}/cs231n")
    return 0
