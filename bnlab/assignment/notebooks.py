"""bnlab's notebooks rewired to the student's package, with a ``check_layers`` cell after
each exercise."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import bnlab
from bnlab.assignment.package import import_line

NOTEBOOK_DIR = Path(bnlab.__file__).resolve().parent.parent / "notebooks"
# bnlab's notebooks that follow cs231n's assignment 2; the ones using an exercise are copied
NOTEBOOKS = ("FullyConnectedNets.ipynb", "BatchNormalization.ipynb", "ConvolutionalNetworks.ipynb")

INTRO = """**Your assignment.** This notebook imports your package `cs231n/` (`layers.py`,
`layer_utils.py`, ...) instead of bnlab's layers: the exercises are {names}. Write each one in
`cs231n/layers.py`, then run the cells below it; after each exercise a `check_layers` cell runs
bnlab's checker on your code and names any mistake it finds (`bnlab check cs231n/` does the
same from a terminal). The nets, the Solver and the data still come from bnlab. After editing
`cs231n/`, restart the kernel (or use `%autoreload`); `check_layers` always reads the file as
saved."""

REWIRED = ("bnlab.layers", "bnlab.solver")  # the imports whose names may move to cs231n
CHECK_TEXT = "**Check your code.** `check_layers` runs {names} against bnlab's reference:"


def _markdown(text: str, id: str) -> dict:
    return {"cell_type": "markdown", "id": id, "metadata": {}, "source": text}


def _code(text: str, id: str) -> dict:
    return {
        "cell_type": "code",
        "id": id,
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": text,
    }


def _parse(source: str) -> ast.Module | None:
    """A cell's code, with IPython's %magic and !shell lines blanked out."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _rewire(source: str, homes: dict[str, str]) -> str:
    """``from bnlab.layers import a, b`` -> imports of a and b from their cs231n modules (and
    ``optim`` from ``bnlab.solver`` when ``homes`` moves it)."""
    tree = _parse(source)
    if tree is None:
        return source
    lines = source.split("\n")
    for node in reversed(tree.body):
        if not (isinstance(node, ast.ImportFrom) and node.module in REWIRED):
            continue
        by_module: dict[str, list[str]] = {}
        for alias in node.names:
            module = homes.get(alias.name, node.module)
            text = alias.name + (f" as {alias.asname}" if alias.asname else "")
            by_module.setdefault(module, []).append(text)
        new = [import_line(m, names) for m, names in by_module.items()]
        if node.module == "bnlab.layers":
            new += ["import cs231n.layers", "import cs231n.optim"]
            new += ["from bnlab.check import check_layers"]
        lines[node.lineno - 1 : node.end_lineno] = new
    return "\n".join(lines)


def _check_call(names: list[str], homes: dict[str, str]) -> str:
    """``check_layers(cs231n.layers, only=[...])``, one call per student module."""
    by_module: dict[str, list[str]] = {}
    for name in names:  # an update rule lives in cs231n.optim
        module = "cs231n.optim" if homes.get(name) == "cs231n.optim" else "cs231n.layers"
        by_module.setdefault(module, []).append(name)
    calls = [f"check_layers({m}, only={n!r})" for m, n in by_module.items()]
    return calls[0] if len(calls) == 1 else "\n".join(f"display({c})" for c in calls)


def _uses(source: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", source) is not None


def rewire_notebook(
    notebook: dict, homes: dict[str, str], exercises: list[str], checked: list[str]
) -> dict | None:
    """The notebook importing the student's package, a check cell after each exercise's first
    use; None when it uses no exercise."""
    notebook = copy.deepcopy(notebook)
    cells = notebook["cells"]
    sources = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells
    ]
    imports = next(
        (
            i
            for i, (c, s) in enumerate(zip(cells, sources, strict=True))
            if c["cell_type"] == "code" and "from bnlab.layers import" in s
        ),
        None,
    )
    if imports is None:
        return None
    text = "\n".join(sources)
    used = [n for n in exercises if _uses(text, n)]
    if not used:
        return None
    new_cells = []
    pending = [n for n in checked if n in used]
    for i, (cell, source) in enumerate(zip(cells, sources, strict=True)):
        cell = dict(cell, source=source)
        if i == imports:
            cell["source"] = _rewire(source, homes)
            new_cells.append(cell)
            continue
        new_cells.append(cell)
        if cell["cell_type"] != "code" or i < imports:
            continue
        first = [n for n in pending if _uses(source, n)]
        if first:
            pending = [n for n in pending if n not in first]
            names = ", ".join(f"`{n}`" for n in first)
            new_cells.append(_markdown(CHECK_TEXT.format(names=names), f"check-{first[0]}-text"))
            new_cells.append(_code(_check_call(first, homes), f"check-{first[0]}"))
    if pending:  # an exercise the notebook only imports: check it at the end
        names = ", ".join(f"`{n}`" for n in pending)
        new_cells.append(_markdown(CHECK_TEXT.format(names=names), "check-rest-text"))
        new_cells.append(_code(_check_call(pending, homes), "check-rest"))
    names = ", ".join(f"`{n}`" for n in used)
    new_cells.insert(1, _markdown(INTRO.format(names=names), "assignment-intro"))
    notebook["cells"] = new_cells
    return notebook


def write_notebooks(
    directory: Path, homes: dict[str, str], exercises: list[str], checked: list[str]
) -> list[str]:
    """Write the rewired notebooks into ``directory``; their names (none without bnlab's
    notebooks/ folder, which a source checkout has)."""
    written = []
    for name in NOTEBOOKS:
        path = NOTEBOOK_DIR / name
        if not path.is_file():
            continue
        notebook = rewire_notebook(
            json.loads(path.read_text(encoding="utf-8")), homes, exercises, checked
        )
        if notebook is not None:
            (directory / name).write_text(json.dumps(notebook, indent=1) + "\n", encoding="utf-8")
            written.append(name)
    return written
