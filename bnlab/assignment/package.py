"""The student's ``cs231n/`` package, generated from bnlab's lesson source with ``ast``.

Each student file gathers the public functions of some lesson modules (``layers.py`` from
bnlab/layers' layer modules, ``layer_utils.py`` from sandwich.py, ``optim.py`` from
bnlab/solver/optim.py) with every module-level definition they use (caches, private helpers),
found by following names through bnlab's source. The argument checks the given functions call
are copied into ``layer_checks.py``; bnlab's fast layers are re-exported by ``fast_layers.py``,
the file cs231n hands out ready-made. An exercise keeps its signature and docstring and gets a
TODO stub for a body; what only it would use is not copied, so no answer leaks.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass, field

# student file -> the bnlab modules it is made from, in order
FILES: dict[str, tuple[str, ...]] = {
    "layers.py": tuple(
        f"bnlab.layers.{m}"
        for m in (
            "affine",
            "activations",
            "losses",
            "batchnorm",
            "layernorm",
            "groupnorm",
            "dropout",
            "conv",
            "pooling",
        )
    ),
    "layer_utils.py": ("bnlab.layers.sandwich",),
    "optim.py": ("bnlab.solver.optim",),
    "layer_checks.py": ("bnlab._validation", "bnlab.layers.checks"),
}
# bnlab modules the student package imports from bnlab itself, through this file
REEXPORTED = {"bnlab.fast.conv": "fast_layers.py", "bnlab.fast.pooling": "fast_layers.py"}
UPDATE_RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")
# bnlab's sandwiches train with the fast twins of these layers; a student's layer_utils chains
# the student's own layers, so each fast name there becomes its plain twin (the pairs that
# tests/test_fast_*.py prove equal).
PLAIN_TWINS: dict[str, tuple[str, str]] = {
    "relu_backward_fast": ("bnlab.layers.activations", "relu_backward"),
    "batchnorm_forward_fast": ("bnlab.layers.batchnorm", "batchnorm_forward"),
    "batchnorm_backward_fast": ("bnlab.layers.batchnorm", "batchnorm_backward_alt"),
    "spatial_batchnorm_forward_fast": ("bnlab.layers.batchnorm", "spatial_batchnorm_forward"),
    "spatial_batchnorm_backward_fast": ("bnlab.layers.batchnorm", "spatial_batchnorm_backward"),
    "layernorm_forward_fast": ("bnlab.layers.layernorm", "layernorm_forward"),
    "layernorm_backward_fast": ("bnlab.layers.layernorm", "layernorm_backward"),
}

# A forward and its backwards share a cache whose layout is the student's choice: they are
# exercises together. A function not listed is a family of its own.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("affine_forward", "affine_backward"),
    ("relu_forward", "relu_backward"),
    ("leaky_relu_forward", "leaky_relu_backward"),
    ("sigmoid_forward", "sigmoid_backward"),
    ("tanh_forward", "tanh_backward"),
    ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"),
    ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
    ("layernorm_forward", "layernorm_backward"),
    ("spatial_groupnorm_forward", "spatial_groupnorm_backward"),
    ("dropout_forward", "dropout_backward"),
    ("conv_forward_naive", "conv_backward_naive"),
    ("max_pool_forward_naive", "max_pool_backward_naive"),
    ("avg_pool_forward", "avg_pool_backward"),
)

# The batchnorm assignment's exercises: cs231n assignment 2's layers for BatchNormalization,
# Dropout and FullyConnectedNets.
DEFAULT_FUNCTIONS = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "layernorm_forward",
    "layernorm_backward",
    "dropout_forward",
    "dropout_backward",
)

TITLES = {
    "layers.py": "The layers: each a pair *_forward(...) -> (out, cache) and *_backward(dout, cache).",
    "layer_utils.py": "Sandwich layers: chains of the layers in layers.py, with nested caches.",
    "optim.py": "Update rules: next_w, config = rule(w, dw, config=None).",
    "layer_checks.py": "Argument checks the given layers call: each error names the argument.",
}
STUB_NOTE = (
    "\nThe functions whose body is a TODO are yours to write: keep their names and signatures.\n"
    "Check them with ``bnlab check cs231n/`` (or ``check_layers`` in the notebooks).\n"
)
CACHE_TYPE = "tuple"  # a stub's annotation for a cache class it no longer has


@dataclass
class Definition:
    """One module-level statement of a bnlab module: a function, a class or an assignment."""

    name: str
    module: str
    node: ast.stmt
    text: str  # its source, with decorators and the comment lines right above it
    order: tuple[int, int]  # (the module's place in FILES, its line): its place in the file
    uses: set[str] = field(default_factory=set)  # every name it reads

    @property
    def file(self) -> str:
        return file_of(self.module)


@dataclass
class Source:
    module: str
    definitions: dict[str, Definition]
    imports: dict[str, tuple[str, str]]  # local name -> (module, name) of a ``from`` import
    plain_imports: dict[str, str]  # local name -> its line, e.g. ``import numpy as np``
    docstring: str  # the module's: its conventions, which the functions' docstrings cite


def file_of(module: str) -> str:
    for file, modules in FILES.items():
        if module in modules:
            return file
    if module in REEXPORTED:
        return REEXPORTED[module]
    raise ValueError(f"the student package has no file for bnlab module {module}")


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _text(lines: list[str], node: ast.stmt) -> str:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    return "\n".join(lines[start : node.end_lineno])


def read_source(module: str, rank: int) -> Source:
    """A bnlab module's definitions and imports, from its source."""
    text = inspect.getsource(importlib.import_module(module))
    lines = text.splitlines()
    definitions: dict[str, Definition] = {}
    imports: dict[str, tuple[str, str]] = {}
    plain: dict[str, str] = {}
    tree = ast.parse(text)
    for node in tree.body:
        targets: list[str] = []
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            targets = [node.name]
        elif isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module or "", alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                plain[alias.asname or alias.name] = ast.unparse(ast.Import(names=[alias]))
        for name in targets:
            definition = Definition(name, module, node, _text(lines, node), (rank, node.lineno))
            definition.uses = _names(node) - {name}
            definitions[name] = definition
    return Source(module, definitions, imports, plain, ast.get_docstring(tree) or "")


class Generator:
    """Reads bnlab's lesson modules once; writes the student package's .py files."""

    def __init__(self) -> None:
        modules = [m for ms in FILES.values() for m in ms]
        self.sources = {m: read_source(m, rank) for rank, m in enumerate(modules)}
        self._use_plain_twins(self.sources["bnlab.layers.sandwich"])
        import bnlab.layers

        layer_names = set(bnlab.layers.__all__)
        self.layers = [
            name
            for m in FILES["layers.py"]
            for name, d in self.sources[m].definitions.items()
            if name in layer_names and isinstance(d.node, ast.FunctionDef)
        ]
        self.utils = [
            name
            for name, d in self.sources["bnlab.layers.sandwich"].definitions.items()
            if name in layer_names
        ]
        self.rules = list(UPDATE_RULES)
        self.home = {n: m for m, s in self.sources.items() for n in s.definitions}

    @staticmethod
    def _use_plain_twins(source: Source) -> None:
        """Rewrite ``source``'s definitions to call the plain twins of the fast layers."""
        for d in source.definitions.values():
            for fast in d.uses & PLAIN_TWINS.keys():
                module, plain = PLAIN_TWINS[fast]
                d.text = re.sub(rf"\b{fast}\b", plain, d.text)
                d.uses = (d.uses - {fast}) | {plain}
                source.imports[plain] = (module, plain)

    @property
    def exercisable(self) -> list[str]:
        """Every function that can be an exercise: the layers and the update rules."""
        return self.layers + self.rules

    def resolve(self, module: str, name: str) -> tuple[str, str] | None:
        """(module, name) of the bnlab definition ``name`` means in ``module``; None if none."""
        source = self.sources.get(module)
        if source is None:
            return (module, name) if module in REEXPORTED else None
        if name in source.definitions:
            return module, name
        if name in source.imports:
            origin, original = source.imports[name]
            if origin.startswith("bnlab"):
                return self.resolve(origin, original) or (origin, original)
        return None

    def family(self, name: str) -> tuple[str, ...]:
        return next((f for f in FAMILIES if name in f), (name,))

    def exercises(self, chosen: list[str]) -> list[str]:
        """The chosen functions' whole families, and every given layer that calls one of them
        (it would get the student's cache): in the order of the files."""
        unknown = [n for n in chosen if n not in self.exercisable]
        if unknown:
            raise ValueError(
                f"unknown function {unknown[0]!r}: expected one of {', '.join(self.exercisable)}"
            )
        exercises = {m for n in chosen for m in self.family(n)}
        while True:
            grown = set(exercises)
            for name in self.layers:
                needed = self.collect([name], exercises).values()
                if name not in exercises and any(self._calls(d, exercises) for d in needed):
                    grown |= set(self.family(name))
            if grown == exercises:
                return [n for n in self.exercisable if n in exercises]
            exercises = grown

    def _calls(self, d: Definition, names: set[str]) -> bool:
        """Whether ``d`` reads one of ``names`` (bnlab definitions)."""
        return any((self.resolve(d.module, used) or ("", ""))[1] in names for used in d.uses)

    def collect(self, given: list[str], exercises: set[str]) -> dict[tuple[str, str], Definition]:
        """The definitions the given functions need, found by following names."""
        found: dict[tuple[str, str], Definition] = {}
        todo = [(self.home[n], n) for n in given]
        while todo:
            module, name = todo.pop()
            if (module, name) in found or module in REEXPORTED:
                continue
            definition = self.sources[module].definitions[name]
            found[(module, name)] = definition
            for used in definition.uses:
                target = self.resolve(module, used)
                if target and target[1] not in exercises:
                    todo.append(target)
        return found

    def files(self, exercises: list[str], solution: bool = False) -> dict[str, str]:
        """{file name: text} of the generated .py files (``solution``: no stubs)."""
        stubs = set() if solution else set(exercises)
        given = [n for n in self.layers + self.utils + self.rules if n not in stubs]
        needed = self.collect(given, stubs)
        texts = {}
        for file in FILES:
            parts: list[tuple[tuple[int, int], str, Definition, bool]] = []
            for d in needed.values():
                if d.file == file:
                    parts.append((d.order, d.text, d, False))
            defined = {p[2].name for p in parts}
            for name in stubs:
                d = self.sources[self.home[name]].definitions[name]
                if d.file == file:
                    parts.append((d.order, self._stub(d, defined), d, True))
            if not parts:
                continue
            parts.sort(key=lambda p: p[0])
            texts[file] = self._file(file, parts, bool(stubs & {p[2].name for p in parts}))
        texts["fast_layers.py"] = self._reexports()
        return texts

    def _stub(self, d: Definition, defined: set[str]) -> str:
        """The function's signature and docstring over a TODO; an annotation naming a class
        the file does not have (the lesson's cache) says ``tuple``."""
        node = d.node
        assert isinstance(node, ast.FunctionDef)
        lines = d.text.splitlines()
        first_line = node.lineno - (node.end_lineno - len(lines) + 1)  # the def, in ``lines``
        first = node.body[0]
        has_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
        # everything up to the docstring's end (or the body's start) stays as written
        keep = (first.end_lineno if has_docstring else first.lineno - 1) - node.lineno + 1
        signature = "\n".join(lines[first_line : first_line + (first.lineno - node.lineno)])
        gone = {
            n.id
            for n in ast.walk(node.args)
            if isinstance(n, ast.Name) and self._gone(d.module, n.id, defined)
        }
        if node.returns is not None:
            gone |= {
                n.id
                for n in ast.walk(node.returns)
                if isinstance(n, ast.Name) and self._gone(d.module, n.id, defined)
            }
        for name in gone:
            signature = re.sub(rf"\b{name}\b", CACHE_TYPE, signature)
        docstring = "\n".join(lines[first_line + (first.lineno - node.lineno) : first_line + keep])
        todo = (
            f"    # TODO: implement {node.name} as the docstring says (replace the line below).\n"
            f'    raise NotImplementedError("TODO: implement {node.name}")'
        )
        return "\n".join(part for part in (signature, docstring, todo) if part)

    def _gone(self, module: str, name: str, defined: set[str]) -> bool:
        target = self.resolve(module, name)
        return target is not None and target[0] not in REEXPORTED and target[1] not in defined

    def _file(self, file: str, parts: list, has_stubs: bool) -> str:
        """The file's text: its docstring, its imports, then the definitions."""
        names = {p[2].name for p in parts}
        imports: dict[str, set[str]] = {}
        plain: set[str] = set()
        for _, text, d, is_stub in parts:
            used = _names(ast.parse(text)) if is_stub else d.uses
            source = self.sources[d.module]
            for name in sorted(used - names):
                target = self.resolve(d.module, name)
                if target is not None:
                    other = file_of(target[0])
                    if other != file:
                        imports.setdefault("." + other[:-3], set()).add(target[1])
                elif name in source.plain_imports:
                    plain.add(source.plain_imports[name])
                elif name in source.imports:  # the standard library's
                    origin, original = source.imports[name]
                    imports.setdefault(origin, set()).add(original)
        header = HEADER.format(
            title=TITLES[file],
            sources=textwrap.fill(", ".join(m.replace(".", "/") + ".py" for m in FILES[file]), 95),
            note=STUB_NOTE if has_stubs else "",
        )
        standard = [import_line(m, imports[m]) for m in sorted(imports) if not m.startswith(".")]
        local = [import_line(m, imports[m]) for m in sorted(imports) if m.startswith(".")]
        groups = [["from __future__ import annotations"], standard, sorted(plain), local]
        head = "\n\n".join("\n".join(group) for group in groups if group)
        sections, rank = [], -1
        for order, text, d, _ in parts:
            if order[0] != rank and len(FILES[file]) > 1:  # a section per bnlab module
                rank = order[0]
                sections.append(self._section(d.module))
            sections.append(text)
        body = "\n\n\n".join(sections)
        return f"{header}\n{head}\n\n\n{body}\n"

    def _section(self, module: str) -> str:
        """A comment heading a module's part of the file: its name and docstring."""
        path = module.replace(".", "/") + ".py"
        title = f"# --- from {path} "
        lines = [title + "-" * max(3, 95 - len(title))]
        docstring = self.sources[module].docstring
        lines += [f"# {line}".rstrip() for line in docstring.splitlines()]
        return "\n".join(lines)

    def _reexports(self) -> str:
        by_module: dict[str, set[str]] = {}
        import bnlab.layers

        for name in bnlab.layers.__all__:
            target = self.resolve("bnlab.layers.sandwich", name)
            if target and target[0] in REEXPORTED:
                by_module.setdefault(target[0], set()).add(target[1])
        lines = [
            '"""cs231n\'s fast_layers: bnlab\'s im2col convolution and fast max pooling, given.',
            "",
            "Generated by ``bnlab assignment make``: bnlab's own (bnlab/fast/), not an exercise.",
            '"""',
            "",
        ]
        lines += [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(by_module.items())]
        return "\n".join(lines) + "\n"


def import_line(module: str, names: set[str]) -> str:
    """``from module import a, b``, wrapped one name a line when it is long."""
    line = f"from {module} import {', '.join(sorted(names))}"
    if len(line) <= 99:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in sorted(names)) + ")"


HEADER = '''"""{title}

Generated by ``bnlab assignment make`` from bnlab's lesson code:
{sources}.
{note}"""
'''
