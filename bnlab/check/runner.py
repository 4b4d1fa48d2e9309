"""Run each function's check in its own worker process, with a time and a memory limit.

Files and module names run in ``python -m bnlab.check._worker`` (a fresh interpreter: the
student's code never enters this process). Functions handed over as Python objects (a
notebook's own definitions) run in a forked child, which inherits them.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bnlab

DEFAULT_TIMEOUT = 20.0  # seconds per function: every check takes well under one
DEFAULT_MEMORY_MB = 2048


def _timeout_result(timeout: float) -> dict:
    from bnlab.check.probing import finding

    text = f"(limit {timeout:g} s per function, --timeout to change)"
    return {"status": "timeout", "findings": [finding("timeout", text).to_dict()]}


def _died(returncode: int, stderr: str) -> dict:
    from bnlab.check.probing import finding

    tail = " | ".join(line for line in stderr.strip().splitlines()[-3:])
    text = f"the worker process died (exit status {returncode}): {tail}"
    return {"status": "crashed", "findings": [finding("crashed", text).to_dict()]}


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(bnlab.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(variable, "1")
    return env


def _run_file_job(
    files: list[str], name: str, options: dict, timeout: float, memory_mb: int
) -> dict:
    with tempfile.TemporaryDirectory(prefix="bnlab-check-") as tmp:
        job, result = Path(tmp, "job.json"), Path(tmp, "result.json")
        job.write_text(
            json.dumps({"files": files, "name": name, "options": options, "memory_mb": memory_mb})
        )
        command = [sys.executable, "-m", "bnlab.check._worker", str(job), str(result)]
        try:
            process = subprocess.run(
                command,
                cwd=tmp,
                env=_environment(),
                timeout=timeout,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
                errors="replace",
            )
        except subprocess.TimeoutExpired:
            return _timeout_result(timeout)
        if result.is_file():
            return json.loads(result.read_text())
        return _died(process.returncode, process.stderr)


def _fork_entry(functions: dict, name: str, options: dict, memory_mb: int, path: str) -> None:
    from bnlab.check._worker import check_one, limit_memory

    limit_memory(memory_mb, on_top=True)  # the parent's own memory is already mapped
    sys.stdout = sys.stderr
    result = check_one(functions, name, options)
    Path(path).write_text(json.dumps(result, default=str))


def _run_object_job(
    functions: dict, name: str, options: dict, timeout: float, memory_mb: int
) -> dict:
    context = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="bnlab-check-") as tmp:
        path = str(Path(tmp, "result.json"))
        process = context.Process(
            target=_fork_entry, args=(functions, name, options, memory_mb, path)
        )
        process.start()
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()
            return _timeout_result(timeout)
        if Path(path).is_file():
            return json.loads(Path(path).read_text())
        return _died(process.exitcode or 0, "")


def run_all(
    names: list[str],
    *,
    files: list[str] | None = None,
    functions: dict[str, Any] | None = None,
    options: dict,
    timeout: float,
    memory_mb: int = DEFAULT_MEMORY_MB,
    jobs: int = 2,
) -> dict[str, dict]:
    """{name: {"status", "findings", "seconds"}}, checks running ``jobs`` at a time."""

    def one(name: str) -> dict:
        start = time.perf_counter()
        if files is not None:
            result = _run_file_job(files, name, options, timeout, memory_mb)
        else:
            result = _run_object_job(functions or {}, name, options, timeout, memory_mb)
        result["seconds"] = round(time.perf_counter() - start, 2)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, names))
    return dict(zip(names, results, strict=True))
