"""The line tests/conftest.py prints after a run: what was skipped, why, and how to include it.

A tiny test folder with this project's conftest runs in a subprocess, torch made unimportable.
"""

import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

TORCH_TESTS = """
import sys

import pytest

sys.modules["torch"] = None  # as if torch were not installed: importing it fails


def test_parity_one():
    pytest.importorskip("torch")


def test_parity_two():
    pytest.importorskip("torch")


@pytest.mark.skipif(True, reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist():
    pass


def test_that_runs():
    pass
"""

MODULE_SKIPPED = """
import sys

import pytest

sys.modules["torch"] = None
torch = pytest.importorskip("torch")  # the whole module is skipped: pytest counts one


def test_needs_torch():
    pass
"""


def run_pytest(folder: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_one_line_says_what_was_skipped_and_how_to_include_it(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_parity.py").write_text(TORCH_TESTS)
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIPPED)
    out = run_pytest(tmp_path)
    expected = (
        "3 skipped: torch not installed (pip install torch==2.13.0 for the PyTorch parity tests); "
        "1 skipped: Debian's dataset-fashion-mnist not installed "
        "(apt-get install dataset-fashion-mnist)"
    )
    assert expected in out.splitlines(), out
    assert "1 passed, 4 skipped" in out


def test_nothing_skipped_prints_no_such_line(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text())
    (tmp_path / "test_plain.py").write_text("def test_runs():\n    pass\n")
    out = run_pytest(tmp_path)
    assert "skipped" not in out and "1 passed" in out
