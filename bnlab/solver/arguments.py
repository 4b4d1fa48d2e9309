"""The Solver's argument checks: each names the argument, what was expected and what was given."""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bnlab._validation import check_choice
from bnlab._validation import check_count as check_count  # solver.py imports it from here
from bnlab.fast import optim as fast_optim
from bnlab.solver import optim

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")
# The hyperparameters the update rules read, and the values that make sense for them:
# (lowest, highest, whether the lowest is allowed, how to say it in an error).
HYPERPARAMETER_RANGES = {
    "learning_rate": (0.0, math.inf, False, "a positive number"),
    "momentum": (0.0, 1.0, True, "in [0, 1)"),
    "decay_rate": (0.0, 1.0, True, "in [0, 1)"),
    "beta1": (0.0, 1.0, True, "in [0, 1)"),
    "beta2": (0.0, 1.0, True, "in [0, 1)"),
    "epsilon": (0.0, math.inf, False, "a positive number"),
}


def refuse_unknown(unknown: Mapping[str, Any], valid: Sequence[str]) -> None:
    """Raise TypeError for keywords the Solver does not take, suggesting the closest valid one."""
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise TypeError(
        f"Solver got unknown keyword argument(s) {', '.join(parts)}; "
        f"valid keywords: {', '.join(valid)}"
    )


def check_examples(x_name: str, X: Any, y_name: str, y: Any) -> None:
    """X: (N, ...) and y: (N, ...) arrays with the same, non-zero, number of rows."""
    for name, value in ((x_name, X), (y_name, y)):
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{name} must be a numpy ndarray, got {type(value).__name__}")
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{x_name} and {y_name} must have one row per example, got shapes {X.shape} and "
            f"{y.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"{x_name} must hold at least one example, got shape {X.shape}")


def check_data(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """data['X_train'], ['y_train'], ['X_val'], ['y_val'], checked for presence and shapes."""
    if not isinstance(data, Mapping):
        raise TypeError(
            f"data must be a dict with {', '.join(DATA_KEYS)}, got {type(data).__name__}"
        )
    missing = [key for key in DATA_KEYS if key not in data]
    if missing:
        raise ValueError(
            f"data is missing {', '.join(missing)}; the Solver needs {', '.join(DATA_KEYS)}"
        )
    X_train, y_train, X_val, y_val = (data[key] for key in DATA_KEYS)
    check_examples("data['X_train']", X_train, "data['y_train']", y_train)
    check_examples("data['X_val']", X_val, "data['y_val']", y_val)
    if X_train.shape[1:] != X_val.shape[1:]:
        raise ValueError(
            f"data['X_val'] examples must have the shape of data['X_train']'s, "
            f"{X_train.shape[1:]}, got {X_val.shape[1:]}"
        )
    return X_train, y_train, X_val, y_val


def check_class_labels(y_train: np.ndarray, y_val: np.ndarray) -> None:
    """A classifier's labels: (N,) integers. A (N, 1) column would broadcast against the (N,)
    predictions into an (N, N) comparison and report accuracies above 1."""
    for name, y in (("data['y_train']", y_train), ("data['y_val']", y_val)):
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"{name} must hold (N,) integer class labels for a classifier, got {y.dtype} "
                f"of shape {y.shape} (for regression give the model loss='mse')"
            )


def check_finite(data: Mapping[str, np.ndarray]) -> None:
    """Refuse NaN or inf anywhere in the data, naming the array, the count and the first index.

    A NaN input gives NaN scores, whose argmax is class 0: without this check an all-NaN
    X_val reports the share of class 0 as its accuracy, and a NaN in X_train is taken for
    a diverging learning rate.
    """
    for key in DATA_KEYS:
        array = data[key]
        if not np.issubdtype(array.dtype, np.inexact):
            continue  # integers and booleans cannot hold NaN or inf
        finite = np.isfinite(array)
        bad = array.size - int(np.count_nonzero(finite))
        if bad:
            first = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise ValueError(
                f"data[{key!r}] holds {bad} non-finite value(s) (NaN or inf) out of "
                f"{array.size}, the first at index {first}: clean or drop those examples "
                f"before training"
            )


def check_label_range(y_train: np.ndarray, y_val: np.ndarray, num_classes: int) -> None:
    """A classifier's labels lie in [0, num_classes), the classes its scores cover."""
    for name, y in (("data['y_train']", y_train), ("data['y_val']", y_val)):
        outside = (y < 0) | (y >= num_classes)
        count = int(np.count_nonzero(outside))
        if count:
            first = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{name} must hold class labels in [0, {num_classes}) (the model scores "
                f"{num_classes} classes), got {y[first]} at index {first} ({count} label(s) "
                f"outside)"
            )


def describe_data(data: Mapping[str, np.ndarray]) -> dict[str, str]:
    """A cheap fingerprint of the training data (dtype and shape), stored in checkpoints."""
    return {key: f"{data[key].dtype} array of shape {data[key].shape}" for key in DATA_KEYS}


def check_same_data(expected: Mapping[str, str], data: Mapping[str, np.ndarray]) -> None:
    """Refuse to resume on data that differs in dtype or shape from the checkpoint's."""
    actual = describe_data(data)
    for key, description in expected.items():
        if actual.get(key) != description:
            raise ValueError(
                f"data[{key!r}] is {actual.get(key)} but the checkpoint was trained on "
                f"{description}; resume with the same data"
            )


def resolve_update_rule(update_rule: Any) -> tuple[str, Callable]:
    """(name, rule) for a rule name or a callable with the rules' contract.

    A name gets the fast, in-place rule of :mod:`bnlab.fast.optim`; a callable (cs231n's
    ``optim.adam``, the plain :mod:`bnlab.solver.optim` rules, the user's own) is used as is.
    """
    if isinstance(update_rule, str):
        check_choice("update_rule", update_rule, fast_optim.UPDATE_RULES)
        return update_rule, fast_optim.UPDATE_RULES[update_rule]
    if callable(update_rule):
        return getattr(update_rule, "__qualname__", repr(update_rule)), update_rule
    raise TypeError(
        f"update_rule must be a rule name or a callable, got {type(update_rule).__name__}"
    )


def same_update_rule(name: str, rule: Any) -> bool:
    """Whether ``rule`` is the rule called ``name``: the name itself, or its fast or plain function."""
    return rule == name or rule in (
        fast_optim.UPDATE_RULES.get(name),
        optim.UPDATE_RULES.get(name),
    )


def check_hyperparameters(config: dict[str, Any], name: str = "optim_config") -> None:
    """A ValueError naming the first hyperparameter in ``config`` outside its sensible range.

    A negative learning rate climbs the loss and beta2 = 1 divides by zero in Adam's bias
    correction: both would otherwise train to a silently wrong answer or crash mid-run.
    """
    for key, (low, high, low_allowed, expected) in HYPERPARAMETER_RANGES.items():
        if key not in config:
            continue
        value = config[key]
        in_range = (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and (low <= value if low_allowed else low < value)
            and value < high
        )
        if not in_range:
            raise ValueError(f"{name}[{key!r}] must be {expected}, got {value!r}")


def check_checkpoint_name(checkpoint_name: Any) -> str | None:
    """The prefix as a str; its directory must exist now, not at the first epoch's end."""
    if checkpoint_name is None:
        return None
    if not isinstance(checkpoint_name, str | os.PathLike):
        raise TypeError(
            f"checkpoint_name must be a str or a path, got {type(checkpoint_name).__name__}"
        )
    checkpoint_name = os.fspath(checkpoint_name)
    folder = Path(checkpoint_name).parent
    if not folder.is_dir():
        raise ValueError(
            f"checkpoint_name {checkpoint_name!r} points into {str(folder)!r}, "
            f"which is not an existing directory"
        )
    return checkpoint_name


def make_rng(seed: Any) -> np.random.Generator:
    """The Solver's own generator: from an int or None, or a Generator used as given."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"seed must be an int, a np.random.Generator or None, got {seed!r}")
    return np.random.default_rng(seed)
