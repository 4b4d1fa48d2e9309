"""Every notebook in notebooks/ runs top to bottom without an error, in quick mode.

Each notebook reads BNLAB_QUICK=1 and shrinks its sizes so the whole run takes seconds. The kernel
is 'python3', which ipykernel resolves to the interpreter running the tests, so the notebooks
import the bnlab under test. They run in a temporary directory: nothing is written into the repo.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need nbformat (the test extra)")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need nbclient (the test extra)")
pytest.importorskip("ipykernel", reason="notebook tests need ipykernel (the test extra)")

from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Quick mode keeps every cell to a few seconds; a generous limit still catches a hang.
CELL_TIMEOUT_SECONDS = 120
KERNEL_ENV = {
    "BNLAB_QUICK": "1",
    # The backend a Jupyter user gets; headless, and it overrides CI's MPLBACKEND=Agg (under
    # which plt.show() would warn that it cannot show anything).
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
# One BLAS thread unless the caller chose otherwise: the notebooks multiply small matrices, for
# which OpenBLAS's spinning worker threads only cost time -- up to 20x on a busy 2-core machine.
KERNEL_ENV_DEFAULTS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # IPython colours its tracebacks


def test_notebooks_exist():
    names = {path.name for path in NOTEBOOKS}
    expected = {
        "BatchNormalization.ipynb",
        "ConvolutionalNetworks.ipynb",
        "FullyConnectedNets.ipynb",
        "RegressionBN.ipynb",
    }
    assert expected <= names, f"missing notebooks: {sorted(expected - names)} in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    with_outputs = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not with_outputs, (
        f"{path.name}: code cells {with_outputs} hold outputs; clear them before committing "
        f"(python scripts/clear_notebook_outputs.py {path.relative_to(NOTEBOOK_DIR.parent)})"
    )


def _cell_error(notebook, error: Exception) -> str:
    """Which cell failed (its index and first lines) and the error it raised, without colours."""
    for i, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                source = "\n".join(cell.source.splitlines()[:8])
                traceback = ANSI_ESCAPE.sub("", "\n".join(output.get("traceback", [])))
                return f" cell {i} raised {output['ename']}: {output['evalue']}\n{source}\n\n{traceback}"
    return f" {ANSI_ESCAPE.sub('', str(error))}"  # a timeout leaves no error output


def kernel_env(tmp_path: Path) -> dict[str, str]:
    """The test process's environment with quick mode, the inline backend, the BLAS default,
    and TMPDIR in ``tmp_path``: the figures a notebook writes to a temporary folder land there."""
    return {**KERNEL_ENV_DEFAULTS, **os.environ, **KERNEL_ENV, "TMPDIR": str(tmp_path)}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path):
    notebook = nbformat.read(path, as_version=4)
    before = set(NOTEBOOK_DIR.iterdir())
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    try:
        client.execute(env=kernel_env(tmp_path))
    except (CellExecutionError, CellTimeoutError) as error:
        pytest.fail(f"{path.name} failed:{_cell_error(notebook, error)}", pytrace=False)
    written = sorted(p.name for p in set(NOTEBOOK_DIR.iterdir()) - before)
    assert not written, f"running {path.name} wrote files into notebooks/: {written}"
