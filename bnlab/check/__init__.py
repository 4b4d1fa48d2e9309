"""``bnlab check``: run a student's own cs231n-style layers against bnlab and name each mistake.

    from bnlab.check import check_layers, check_target
    result = check_target("cs231n/")          # a .py file, a package directory, or a module name
    result = check_layers(my_layers_module)   # in a notebook: a module, or a dict/list of functions
    result                                    # a table (HTML in Jupyter, text elsewhere)
    print(result["batchnorm_forward"])        # one function's findings in full

Student code runs in a separate process per function, with a time and a memory limit. Every
finding has a ``kind`` from the catalogue in :mod:`bnlab.check.kinds` (see docs/check.md).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bnlab.check.kinds import KINDS
from bnlab.check.registry import CHECKS, CONVENTIONS
from bnlab.check.result import CheckResult, FunctionResult, read_weights
from bnlab.check.runner import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, run_all

__all__ = [
    "CHECKS",
    "KINDS",
    "CheckResult",
    "FunctionResult",
    "check_layers",
    "check_target",
    "read_weights",
]


def _select(found: list[str], only: Iterable[str] | None) -> list[str]:
    """The names to report: ``only`` (all of them, found or not) or every function found."""
    if not only:
        return found
    only = list(only)
    unknown = [n for n in only if n not in CHECKS]
    if unknown:
        raise ValueError(f"unknown function {unknown[0]!r}: expected one of {', '.join(CHECKS)}")
    return [n for n in CHECKS if n in only]


def _options(convention: str) -> dict:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, got {convention!r}")
    return {"convention": convention}


def _result(target: str, names: list[str], raw: dict, convention: str) -> CheckResult:
    functions = {
        n: FunctionResult(n, raw[n]["status"], raw[n]["findings"], raw[n].get("seconds", 0.0))
        for n in names
    }
    return CheckResult(target, functions, convention)


def check_target(
    target: str | Path,
    *,
    only: Iterable[str] | None = None,
    convention: str = "cs231n",
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
    jobs: int = 2,
) -> CheckResult:
    """Check the known functions in a .py file, a package directory or an importable module.

    only: names to check (default: every known function the files define)
    convention: 'cs231n' (dropout's p keeps), 'cs231n-2016' or 'cs231n-2017' (p drops)
    timeout: seconds per function;  memory_mb: address-space limit of each worker
    """
    from bnlab.check.loader import defined_names, resolve
    from bnlab.check.probing import finding

    options = _options(convention)
    files = resolve(str(target))
    defined = defined_names(files)
    names = _select(list(defined), only)
    # only the files that define a known function are imported (not data_utils.py & co)
    used = [f for f in files if any(f in where for where in defined.values())]
    raw = run_all(
        [n for n in names if n in defined],
        files=[str(f) for f in used],
        options=options,
        timeout=timeout,
        memory_mb=memory_mb,
        jobs=jobs,
    )
    missing = finding("not_implemented", "(not defined in your files)").to_dict()
    for name in names:
        raw.setdefault(name, {"status": "not_implemented", "findings": [missing]})
    return _result(str(target), names, raw, convention)


def check_layers(
    module_or_functions: Any,
    *,
    only: Iterable[str] | None = None,
    convention: str = "cs231n",
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: int = DEFAULT_MEMORY_MB,
    jobs: int = 2,
) -> CheckResult:
    """Check a module, or a dict {name: function} / list of functions (e.g. from a notebook).

    A module with a file is re-imported from that file in a fresh process; functions without
    one run in a forked child (Linux, macOS). See :func:`check_target` for the options.
    """
    if isinstance(module_or_functions, str | Path):
        return check_target(
            module_or_functions,
            only=only,
            convention=convention,
            timeout=timeout,
            memory_mb=memory_mb,
            jobs=jobs,
        )
    if isinstance(module_or_functions, types.ModuleType):
        file = getattr(module_or_functions, "__file__", None)
        if file and file.endswith(".py"):
            return check_target(
                file,
                only=only,
                convention=convention,
                timeout=timeout,
                memory_mb=memory_mb,
                jobs=jobs,
            )
        functions = {
            n: getattr(module_or_functions, n)
            for n in CHECKS
            if callable(getattr(module_or_functions, n, None))
        }
        label = module_or_functions.__name__
    elif isinstance(module_or_functions, dict):
        functions = {n: f for n, f in module_or_functions.items() if n in CHECKS and callable(f)}
        label = "functions"
    else:
        items: list[Callable] = list(module_or_functions)
        functions = {f.__name__: f for f in items if getattr(f, "__name__", None) in CHECKS}
        label = "functions"
    options = _options(convention)
    names = _select([n for n in CHECKS if n in functions], only)
    raw = run_all(
        names, functions=functions, options=options, timeout=timeout, memory_mb=memory_mb, jobs=jobs
    )
    return _result(label, names, raw, convention)
