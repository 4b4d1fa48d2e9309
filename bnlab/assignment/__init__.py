"""``bnlab assignment make DIR``: a ready-to-hand-out assignment built from bnlab's own source.

    from bnlab.assignment import make_assignment
    made = make_assignment("hw2", functions=["batchnorm_forward", "batchnorm_backward"])

DIR gets the student's package ``cs231n/`` (cs231n's layout: ``layers.py``, ``layer_utils.py``,
``optim.py`` and ``layer_checks.py`` generated from bnlab's lesson code, the chosen functions
as TODO stubs; ``fast_layers.py``, ``gradient_check.py``, ``solver.py`` and ``data_utils.py``
thin re-exports of bnlab), bnlab's notebooks rewired to that package with a ``check_layers``
cell after each exercise, and ``autograder/`` for Gradescope. See docs/check.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bnlab.assignment.autograder import write_autograder
from bnlab.assignment.notebooks import write_notebooks
from bnlab.assignment.package import DEFAULT_FUNCTIONS, Generator, file_of

__all__ = ["DEFAULT_FUNCTIONS", "Assignment", "make_assignment"]

REEXPORTS = {
    "__init__.py": '"""Your assignment\'s package: write the TODO functions in layers.py."""\n',
    "gradient_check.py": (
        '"""cs231n\'s gradient_check: bnlab\'s numerical gradients (given)."""\n\n'
        "from bnlab.gradcheck import (  # noqa: F401\n"
        "    check_layer,\n"
        "    eval_numerical_gradient,\n"
        "    eval_numerical_gradient_array,\n"
        "    grad_check_sparse,\n"
        "    rel_error,\n"
        ")\n"
    ),
    "solver.py": '"""cs231n\'s solver: bnlab\'s Solver (given)."""\n\n'
    "from bnlab.solver import Solver  # noqa: F401\n",
    "data_utils.py": '"""cs231n\'s data_utils: bnlab\'s datasets (given)."""\n\n'
    "from bnlab.data import (  # noqa: F401\n"
    "    get_CIFAR10_data,\n"
    "    load_CIFAR10,\n"
    "    load_dataset,\n"
    "    load_fashion_mnist,\n"
    "    subsample,\n"
    ")\n",
}


@dataclass
class Assignment:
    """What make_assignment wrote."""

    directory: Path
    exercises: list[str]  # the stubbed functions (the chosen ones and their families)
    checked: list[str]  # the exercises bnlab check knows: the notebooks' and grader's
    files: list[str] = field(default_factory=list)  # relative paths
    notebooks: list[str] = field(default_factory=list)
    solution: bool = False


class DirectoryNotEmpty(ValueError):
    """DIR holds files and ``force`` was not given."""


def make_assignment(
    directory: str | Path,
    functions: Iterable[str] | None = None,
    *,
    solution: bool = False,
    force: bool = False,
) -> Assignment:
    """Write the assignment into ``directory``.

    functions: the exercises (default DEFAULT_FUNCTIONS, the batchnorm assignment's); each
        brings its forward/backward family along, and a given layer that would call an
        exercise becomes one too. An empty list gives every function complete.
    solution: write the exercises' bnlab bodies instead of stubs (the teacher's answer key;
        the notebooks and grader are the same).
    force: write into a non-empty directory (files of the same name are replaced).
    """
    from bnlab.check import CHECKS

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise DirectoryNotEmpty(f"DIR {directory} is a file, expected a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise DirectoryNotEmpty(f"DIR {directory} is not empty (use --force to write into it)")
    generator = Generator()
    chosen = list(DEFAULT_FUNCTIONS if functions is None else functions)
    exercises = generator.exercises(chosen)
    checked = [n for n in CHECKS if n in exercises]
    package = directory / "cs231n"
    package.mkdir(parents=True, exist_ok=True)
    texts = {**REEXPORTS, **generator.files(exercises, solution=solution)}
    for name, text in texts.items():
        (package / name).write_text(text, encoding="utf-8")
    homes = {
        n: "cs231n." + file_of(generator.home[n])[:-3] for n in generator.layers + generator.utils
    }
    homes.update({n: "cs231n.optim" for n in generator.rules})
    if set(exercises) & set(generator.rules):
        homes["optim"] = "cs231n"  # the notebooks call optim.sgd_momentum & co: the student's
    notebooks = write_notebooks(directory, homes, exercises, checked)
    if checked:  # an autograder needs an exercise bnlab check knows
        write_autograder(directory / "autograder", checked, {n: 1.0 for n in checked})
    files = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
    return Assignment(directory, exercises, checked, files, notebooks, solution)
