"""Calling student code safely, comparing arrays, and turning a deviation into a finding.

Runs inside the worker process. Everything here is pure NumPy; the references come from
``bnlab.layers`` by their public names.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab.check.kinds import FORMULAS, KINDS, doc_link

RTOL = 1e-6  # float64 student code against float64 references: agreement to ~1e-12 is usual
NUM_RTOL = 1e-5  # matches against a numerical gradient (central differences, ~1e-9 error)


class NotImplementedStub(Exception):
    """The student's function is a stub: it returned None or raised NotImplementedError."""


class StudentCrash(Exception):
    """The student's function raised; ``where`` is the last traceback line in their file."""

    def __init__(self, name: str, error: BaseException, where: str) -> None:
        super().__init__(f"{name} raised {type(error).__name__}: {error}")
        self.name, self.error, self.where = name, error, where


@dataclass
class Finding:
    kind: str
    message: str
    input: str = ""
    got: str = ""
    expected: str = ""
    severity: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.severity:
            self.severity = KINDS[self.kind].severity

    def to_dict(self) -> dict:
        out = {
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "input": self.input,
            "got": self.got,
            "expected": self.expected,
            "doc": doc_link(self.kind),
        }
        out.update(self.extra)
        return out


def _sentence(text: str) -> str:
    """Capitalise the first word, unless it is a name from the code (x, p, dgamma, run_...)."""
    word = text.split(" ", 1)[0]
    code_names = ("dx", "dw", "db", "dgamma", "dbeta", "relu")
    if len(word) > 1 and word.isalpha() and word.islower() and word not in code_names:
        return text[0].upper() + text[1:]
    return text


def finding(kind: str, detail: str = "", fix: str = "", **fields: Any) -> Finding:
    """A finding with the catalogue's sentence and fix (``detail`` is appended)."""
    entry = KINDS[kind]
    message = _sentence(entry.what) + (f" {_sentence(detail)}" if detail else "")
    fix = fix or entry.fix
    if fix:
        message += f" Correct: {fix}"
    return Finding(kind, message, **fields)


def _student_line(error: BaseException) -> str:
    """The innermost traceback frame outside bnlab and numpy: the student's line."""
    frames = traceback.extract_tb(error.__traceback__)
    for frame in reversed(frames):
        if "/bnlab/" not in frame.filename and "/numpy/" not in frame.filename:
            return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return ""


def formula(name: str) -> str:
    """The correct line of a function, for a deviation no catalogued kind explains."""
    return FORMULAS.get(name, "")


def callees(fn: Callable, own: str) -> str:
    """' It calls batchnorm_forward: see that function's findings too.' when its source does."""
    import inspect
    import re

    from bnlab.check.registry import CHECKS

    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return ""
    names = [n for n in CHECKS if n != own and re.search(rf"\b{n}\s*\(", source)]
    return f" It calls {', '.join(names)}: see those findings too." if names else ""


def call(name: str, fn: Callable, *args: Any) -> Any:
    """fn(*args), a stub turned into NotImplementedStub, any other exception into StudentCrash."""
    try:
        result = fn(*args)
    except NotImplementedError as error:
        raise NotImplementedStub(name) from error
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # sys.exit() in student code
        raise StudentCrash(name, error, _student_line(error)) from None
    if result is None or (isinstance(result, tuple) and len(result) > 0 and result[0] is None):
        raise NotImplementedStub(name)
    return result


def copies(*values: Any) -> list[Any]:
    return [copy.deepcopy(value) for value in values]


def rel_error(got: Any, expected: np.ndarray) -> float:
    """max |got - expected| / max(|expected|, 1): inf when shapes cannot be compared."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return np.inf
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        if got.size != expected.size:
            return np.inf
        got = got.reshape(expected.shape)
    finite = np.isfinite(expected)
    # a mistake's hypothesis may itself divide by zero: the same inf/nan pattern agrees
    same_nonfinite = np.array_equal(got[~finite], expected[~finite], equal_nan=True)
    if not (np.all(np.isfinite(got[finite])) and same_nonfinite):
        return np.inf
    got, expected = got[finite], expected[finite]
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


def close(got: Any, expected: Any, rtol: float = RTOL) -> bool:
    return rel_error(got, expected) <= rtol


def fmt(value: Any, digits: int = 5) -> str:
    """A short printable form of a number or a small array."""
    if isinstance(value, np.ndarray) or isinstance(value, list | tuple):
        array = np.asarray(value, dtype=np.float64)
        if array.size > 8:
            return f"array of shape {array.shape}"
        return np.array2string(array.ravel(), precision=digits, separator=", ")
    if isinstance(value, float | np.floating):
        return f"{float(value):.{digits}g}"
    return repr(value)


def first_difference(name: str, got: Any, expected: np.ndarray) -> tuple[str, str]:
    """(got, expected) strings at the element where the two differ most, or the shapes."""
    got_array = np.asarray(got)
    expected = np.asarray(expected)
    if got_array.shape != expected.shape:
        return f"{name}.shape = {got_array.shape}", f"{name}.shape = {expected.shape}"
    got_array = got_array.astype(np.float64)
    difference = np.abs(np.nan_to_num(got_array - expected, nan=np.inf))
    index = np.unravel_index(int(np.argmax(difference)), difference.shape)
    where = f"{name}[{', '.join(str(int(i)) for i in index)}]"
    return f"{where} = {fmt(got_array[index])}", f"{where} = {fmt(expected[index])}"


def matching(got: Any, candidates: dict[str, Iterable[Any]], rtol: float = RTOL) -> list[str]:
    """The names of the candidates (each a list of variants) one variant of which ``got`` equals."""
    return [
        name for name, variants in candidates.items() if any(close(got, v, rtol) for v in variants)
    ]


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float
) -> np.ndarray:
    """d sum(f(x) * dout) / dx by central differences (x is restored afterwards)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = np.sum(f(x) * dout)
        flat[i] = old - h
        minus = np.sum(f(x) * dout)
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def describe(array: np.ndarray) -> str:
    return f"shape {array.shape}, {array.dtype}"


def as_array(value: Any) -> np.ndarray | None:
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
