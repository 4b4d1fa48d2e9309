"""Finding the student's files (parent side, without running them) and importing them (worker).

TARGET is a .py file, a package directory (e.g. cs231n/ with layers.py, layer_utils.py and
optim.py) or an importable module name. The parent lists the functions by parsing the files
with ``ast``: student code runs only in the worker process.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import types
from pathlib import Path

from bnlab.check.registry import CHECKS

# cs231n's own files, searched in this order: the first definition of a name wins
PREFERRED = ("layers.py", "layer_utils.py", "optim.py", "fast_layers.py")


class TargetError(ValueError):
    """TARGET is not a file, a directory or a module name that can be found."""


def resolve(target: str) -> list[Path]:
    """The student's .py files for TARGET, most relevant first."""
    path = Path(target)
    if path.is_file():
        if path.suffix != ".py":
            raise TargetError(f"TARGET must be a .py file, a directory or a module, got {target}")
        return [path.resolve()]
    if path.is_dir() and not (path / "layers.py").is_file() and (path / "cs231n").is_dir():
        return resolve(str(path / "cs231n"))  # the assignment's root: its package is cs231n/
    if path.is_dir():
        # a package's __init__.py last: it may re-export functions defined elsewhere
        rank = {name: i for i, name in enumerate(PREFERRED)}
        rank["__init__.py"] = len(rank) + 1
        files = sorted(path.glob("*.py"), key=lambda p: (rank.get(p.name, len(PREFERRED)), p.name))
        if not files:
            raise TargetError(f"TARGET directory {target} contains no .py file")
        return [f.resolve() for f in files]
    if target.replace(".", "").replace("_", "").isalnum():
        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            return resolve(next(iter(spec.submodule_search_locations)))
        if spec is not None and spec.origin and spec.origin.endswith(".py"):
            return [Path(spec.origin).resolve()]
    raise TargetError(f"TARGET {target!r} is neither a .py file, a directory nor a module name")


def defined_names(files: list[Path]) -> dict[str, list[Path]]:
    """{known function name: the files defining it}, in report order; no code is run.

    A file that does not parse is searched for ``def NAME(`` as text: the worker then reports
    its syntax error under each of those functions.
    """
    found: dict[str, list[Path]] = {}
    for file in files:
        text = file.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(text, str(file))
            names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
            # 'from .batchnorm import batchnorm_forward' defines it here too (a re-export)
            names |= {
                alias.asname or alias.name
                for node in tree.body
                if isinstance(node, ast.ImportFrom)
                for alias in node.names
            }
        except SyntaxError:
            names = set(re.findall(r"^def\s+(\w+)\s*\(", text, flags=re.MULTILINE))
        for name in names & set(CHECKS):
            found.setdefault(name, []).append(file)
    return {name: found[name] for name in CHECKS if name in found}


def _python2_shims() -> None:
    """Old cs231n files use ``xrange`` or import ``past.builtins.xrange``: give them one.

    Only in the worker process, which runs nothing but the student's code and the check.
    """
    import builtins

    if not hasattr(builtins, "xrange"):
        builtins.xrange = range  # type: ignore[attr-defined]
    try:
        importlib.import_module("past.builtins")
    except ImportError:
        past, builtins_ = types.ModuleType("past"), types.ModuleType("past.builtins")
        builtins_.xrange = range  # type: ignore[attr-defined]
        past.builtins = builtins_  # type: ignore[attr-defined]
        sys.modules.setdefault("past", past)
        sys.modules.setdefault("past.builtins", builtins_)


def _module_name(file: Path) -> tuple[Path, str]:
    """(the directory to put on sys.path, the dotted module name) for a file in or out of a package."""
    parts = [] if file.stem == "__init__" else [file.stem]  # __init__.py is the package
    directory = file.parent
    while (directory / "__init__.py").is_file():
        parts.insert(0, directory.name)
        directory = directory.parent
    return directory, ".".join(parts)


def load_functions(files: list[str]) -> tuple[dict[str, object], list[BaseException]]:
    """Import the files (no bytecode written): (the known functions, the import errors)."""
    sys.dont_write_bytecode = True
    _python2_shims()
    functions: dict[str, object] = {}
    errors: list[BaseException] = []
    for file in map(Path, files):
        root, name = _module_name(file)
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        if str(file.parent) not in sys.path:  # 'import layer_utils' next to layers.py
            sys.path.insert(1, str(file.parent))
        try:
            module = importlib.import_module(name)
        except BaseException as error:  # a broken file must not hide the others' functions
            errors.append(error)
            continue
        for function in CHECKS:
            value = getattr(module, function, None)
            if callable(value) and function not in functions:
                functions[function] = value
    return functions, errors
