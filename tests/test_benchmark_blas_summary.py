"""benchmarks/_timing.py's blas_summary: the line every benchmark prints about numpy's BLAS."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TIMING = Path(__file__).resolve().parent.parent / "benchmarks" / "_timing.py"


@pytest.fixture
def timing():
    spec = importlib.util.spec_from_file_location("bench_timing", TIMING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_pinned_kernel_is_named_with_how_to_lift_the_pin(timing, monkeypatch) -> None:
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    line = timing.blas_summary()
    assert "pinned by OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512" in line
    assert "unset both" in line


def test_without_the_variables_the_kernels_are_numpy_s_choice(timing, monkeypatch) -> None:
    for name in timing.BLAS_PINNING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    line = timing.blas_summary()
    assert line.startswith("numpy's BLAS: ")
    assert line.endswith("as it picked them")
    assert "pinned" not in line


def test_the_kernels_come_from_threadpoolctl(timing) -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import numpy  # noqa: F401  (threadpoolctl sees only libraries already loaded)

    blas = [info for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    if not blas:
        pytest.skip("threadpoolctl finds no BLAS behind this numpy")
    architecture = blas[0].get("architecture")
    assert f"with its {architecture} kernels" in timing.blas_summary()


def test_without_threadpoolctl_the_line_says_how_to_see_the_kernels(timing, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now raises ImportError
    assert "kernels unknown (pip install threadpoolctl to see them)" in timing.blas_summary()
