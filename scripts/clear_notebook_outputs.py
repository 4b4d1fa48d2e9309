"""Clear the outputs of notebooks before committing them: python scripts/clear_notebook_outputs.py [PATH ...]

Without arguments, every notebook in notebooks/. Outputs, execution counts and per-cell execution
metadata go; sources and cell ids stay. Files already clear are not rewritten. Needs nbformat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def clear_outputs(path: Path) -> bool:
    """Clear one notebook in place; returns whether anything changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.outputs or cell.execution_count is not None or "execution" in cell.metadata:
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            changed = True
    if changed:
        nbformat.write(notebook, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)"
    )
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    for path in paths:
        print(f"{path}: {'cleared' if clear_outputs(path) else 'already clear'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
