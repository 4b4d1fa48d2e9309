"""The worker process: ``python -m bnlab.check._worker JOB.json RESULT.json``.

Bounds its own memory, imports the student's files, checks ONE function and writes
``{"status": ..., "findings": [...]}`` to RESULT.json. Whatever the student's code prints
goes to stderr, so it cannot corrupt the result.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any

STATUSES = ("ok", "findings", "not_implemented", "crashed", "timeout")


try:
    import resource
except ImportError:  # Windows: no address-space limit, the time limit still holds
    resource = None  # type: ignore[assignment]


def _address_space() -> int:
    """This process's current address-space size in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except OSError:
        return 0


def limit_memory(megabytes: int, on_top: bool = False) -> None:
    """Cap the address space: a huge allocation raises MemoryError here, not in the machine.

    on_top: allow ``megabytes`` beyond what the process already maps (a forked notebook).
    """
    if megabytes > 0 and resource is not None:
        limit = megabytes * 1024 * 1024 + (_address_space() if on_top else 0)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def status_of(findings: list[dict]) -> str:
    return "findings" if any(f["severity"] in ("error", "latent") for f in findings) else "ok"


def check_one(
    functions: dict[str, Any], name: str, options: dict, import_errors: list[BaseException] = ()
) -> dict:
    """Run the check of ``name``; every outcome (stub, crash, checker trouble) becomes a result."""
    from bnlab.check.probing import NotImplementedStub, StudentCrash, finding
    from bnlab.check.registry import check_for

    if name not in functions:
        if import_errors:
            error = import_errors[0]
            text = f"importing your file failed: {type(error).__name__}: {error}"
            return {"status": "crashed", "findings": [finding("crashed", text).to_dict()]}
        found = finding("not_implemented", "(not defined in your files)")
        return {"status": "not_implemented", "findings": [found.to_dict()]}
    try:
        findings = [f.to_dict() for f in check_for(name)(functions, name, options)]
    except NotImplementedStub as stub:
        detail = str(stub) if str(stub) != name else ""
        found = finding("not_implemented", detail)
        return {"status": "not_implemented", "findings": [found.to_dict()]}
    except StudentCrash as crash:
        detail = f"{crash}" + (f" at {crash.where}" if crash.where else "")
        return {"status": "crashed", "findings": [finding("crashed", detail).to_dict()]}
    except Exception as error:  # the student's return values broke a probe: still a result
        where = traceback.format_exception_only(type(error), error)[-1].strip()
        text = f"the check could not read {name}'s results ({where})"
        return {"status": "crashed", "findings": [finding("crashed", text).to_dict()]}
    return {"status": status_of(findings), "findings": findings}


def main(argv: list[str]) -> int:
    job_file, result_file = argv
    with open(job_file, encoding="utf-8") as f:
        job = json.load(f)
    limit_memory(job.get("memory_mb", 0))
    real_stdout, sys.stdout = sys.stdout, sys.stderr  # student prints must not reach the result
    import numpy as np

    np.seterr(all="ignore")  # overflow in student code is judged by its result, not a warning
    from bnlab.check.loader import load_functions

    functions, errors = load_functions(job["files"])
    result = check_one(functions, job["name"], job.get("options", {}), errors)
    with open(result_file, "w", encoding="utf-8") as f:
        json.dump(result, f, default=str)
    sys.stdout = real_stdout
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
