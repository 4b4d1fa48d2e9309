"""Checkpoints: cs231n's per-epoch pickle, written so that a crash never loses the last one.

File name: ``'%s_epoch_%d.pkl' % (checkpoint_name, epoch)``, as in cs231n. The file is a
pickled dict whose keys are defined once, in :data:`SCHEMA`: cs231n's (:data:`CS231N_KEYS`: the
model object, with its params and normalisation running statistics, the hyperparameters and
the histories) plus what an exact resume needs (:data:`RESUME_KEYS`: per-parameter optimizer
state, the best epoch's params and running statistics, the RNG state, the data's shapes).
The Solver writes exactly these keys (:func:`make_checkpoint`) and :func:`load_checkpoint`
refuses a file that lacks one :meth:`Solver.resume` needs.

Writes are atomic: the pickle goes to a temporary file in the same directory, is flushed to
disk (fsync), and only then renamed over the target with ``os.replace``. A reader therefore
sees either the previous complete file or the new complete file, never half of one. A write
that fails (a full disk, a read-only folder) raises :class:`CheckpointWriteError` naming the
file and leaves the file it would have replaced as it was.

The file is the pickled dict followed by one line, the trailer::

    \nbnlab-checkpoint run=<32 hex digits> sha256=<64 hex digits>\n

``sha256`` is the digest of the pickle's bytes followed by the run id, and ``run`` the
writing run's identity (also the ``run_id`` key), readable without unpickling. ``pickle.load`` stops at the end of the pickle, so cs231n-style code
reads the dict as before and never sees the trailer; this is why the checksum sits after the
pickle rather than around it (an outer ``{"sha256": ..., "payload": bytes}`` would hide
cs231n's keys). :func:`load_checkpoint` checks the digest before it unpickles anything and
refuses a damaged file naming it.

Loading is restricted (as the CIFAR-10 loader's is): the unpickler resolves only numpy's
array, dtype and scalar types, a few builtins and the classes and functions defined in
``bnlab.nets``, ``bnlab.layers``, ``bnlab.fast`` and ``bnlab.solver.optim``, plus what the
caller lists in ``trusted=`` (e.g. a model class of its own). Anything else (``os.system``,
an unknown module) is refused before it is imported or called, so a hostile file's code does
not run. What this does not protect against: a file made to call the allowed bnlab functions
or to allocate huge arrays, and whatever the classes passed in ``trusted`` do when built.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import os
import pickle
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bnlab._atomic import atomic_write
from bnlab._safe_pickle import NUMPY_GLOBALS, NUMPY_RANDOM_GLOBALS


@dataclass(frozen=True)
class Key:
    """One checkpoint key: what it holds, and who reads it."""

    name: str
    holds: str
    cs231n: bool = False  # one of the keys cs231n's Solver writes
    setting: bool = False  # a Solver keyword: resume passes it back to Solver.__init__
    required: bool = True  # resume refuses a checkpoint without it


CS231N, SETTING = {"cs231n": True}, {"setting": True}
SCHEMA = (
    Key("model", "the model object: its params and running statistics", **CS231N),
    Key("update_rule", "the rule's name, or the callable given", **CS231N, **SETTING),
    Key("lr_decay", "the learning-rate factor per epoch", **CS231N, **SETTING),
    Key("optim_config", "the hyperparameters as given", **CS231N, **SETTING),
    Key("batch_size", "examples per iteration", **CS231N, **SETTING),
    Key("num_train_samples", "examples the train metric uses (None: all)", **CS231N, **SETTING),
    Key("num_val_samples", "examples the val metric uses (None: all)", **CS231N, **SETTING),
    Key("epoch", "epochs completed", **CS231N),
    Key("loss_history", "the training loss of every iteration", **CS231N),
    Key("train_acc_history", "the train metric per epoch from 0 (an MSE too)", **CS231N),
    Key("val_acc_history", "the val metric per epoch from 0 (an MSE too)", **CS231N),
    Key("num_epochs", "the epochs to reach", **SETTING),
    Key("checkpoint_name", "the file-name prefix: a resumed run checkpoints on", **SETTING),
    Key("print_every", "iterations between loss lines", **SETTING),
    Key("verbose", "whether to print", **SETTING),
    Key("progress", "the progress-bar setting", **SETTING),
    Key("optim_configs", "parameter name -> its config, with its state arrays"),
    Key("best_params", "the best epoch's params (None until one is measured)"),
    Key("best_statistics", "its running statistics, one dict per model.bn_params entry"),
    Key("best_val_metric", "its val metric"),
    Key("best_epoch", "its number"),
    Key("metric_name", "'accuracy' or 'mse'"),
    Key("rng_state", "rng.bit_generator.state, a dict naming its bit generator"),
    Key("data_shapes", "the dtype and shape of each data array, checked on resume"),
    # for the reader only: optim_configs hold each parameter's (decayed) rate
    Key("learning_rate", "the current learning rate", required=False),
    # absent from checkpoints written before runs had one: resume then draws a new one
    Key("run_id", "the run's identity (32 hex digits), kept on resume", required=False),
)
CHECKPOINT_KEYS = tuple(key.name for key in SCHEMA)
CS231N_KEYS = tuple(key.name for key in SCHEMA if key.cs231n)
SETTINGS = tuple(key.name for key in SCHEMA if key.setting)
REQUIRED_KEYS = tuple(key.name for key in SCHEMA if key.required)
RESUME_KEYS = tuple(name for name in REQUIRED_KEYS if name not in CS231N_KEYS)


def make_checkpoint(**values: Any) -> dict[str, Any]:
    """The checkpoint dict, in :data:`SCHEMA`'s order; refuses a key missing or outside it."""
    missing = [name for name in CHECKPOINT_KEYS if name not in values]
    unknown = [name for name in values if name not in CHECKPOINT_KEYS]
    if missing or unknown:
        raise KeyError(
            f"a checkpoint holds exactly the keys of checkpoint.SCHEMA: missing {missing}, "
            f"unknown {unknown}"
        )
    return {name: values[name] for name in CHECKPOINT_KEYS}


class CheckpointError(ValueError):
    """A file that is not a readable, intact bnlab checkpoint (the message names it)."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; ``errno`` and ``filename`` are the failed write's."""

    def __str__(self) -> str:
        return str(self.strerror)  # the message names the file already


TRAILER = re.compile(rb"\nbnlab-checkpoint run=([0-9a-f]{32}) sha256=([0-9a-f]{64})\n\Z")
TRAILER_SIZE = len(b"\nbnlab-checkpoint run= sha256=\n") + 32 + 64


def new_run_id() -> str:
    """A fresh run identity: random, so two runs with the same settings still differ."""
    return uuid.uuid4().hex


def checkpoint_path(checkpoint_name: str, epoch: int) -> Path:
    """cs231n's ``'%s_epoch_%d.pkl' % (checkpoint_name, epoch)``: written after ``epoch`` epochs."""
    return Path(f"{checkpoint_name}_epoch_{int(epoch)}.pkl")


def temporary_path(path: Path, pid: int) -> Path:
    """Where process ``pid`` writes ``path`` before renaming it: ``.NAME.<pid>.tmp``."""
    return path.with_name(f".{path.name}.{pid}.tmp")


def write_checkpoint(path: str | os.PathLike, checkpoint: Any) -> Path:
    """Pickle ``checkpoint`` to ``path`` atomically (temp file + fsync + os.replace), trailer after.

    The run identity in the trailer is ``checkpoint['run_id']`` (zeros if there is none).
    Raises :class:`CheckpointWriteError` naming ``path`` if the write fails.
    """
    path = Path(path)
    # Same directory, so os.replace is a rename within one file system, never a copy.
    temporary = temporary_path(path, os.getpid())
    run_id = checkpoint.get("run_id") if isinstance(checkpoint, dict) else None
    if not (isinstance(run_id, str) and re.fullmatch("[0-9a-f]{32}", run_id)):
        run_id = "0" * 32
    try:
        with atomic_write(path, temporary) as f:
            digest = hashlib.sha256()
            pickle.dump(checkpoint, _Hashing(f, digest), protocol=pickle.HIGHEST_PROTOCOL)
            digest.update(run_id.encode())  # the trailer's run id is covered too
            f.write(f"\nbnlab-checkpoint run={run_id} sha256={digest.hexdigest()}\n".encode())
    except CheckpointWriteError:
        raise
    except OSError as error:
        reason = error.strerror or str(error)
        raise CheckpointWriteError(
            error.errno, f"could not write checkpoint {str(path)!r}: {reason}", str(path)
        ) from error
    return path


class _Hashing:
    """A write-only file that also feeds what is written to a hash."""

    def __init__(self, f: Any, digest: Any) -> None:
        self.f, self.digest = f, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.f.write(data)


def read_run_id(path: str | os.PathLike) -> str | None:
    """The run identity in a checkpoint's trailer, or None (no trailer, unreadable file)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - TRAILER_SIZE, 0))
            match = TRAILER.search(f.read())
    except OSError:
        return None
    return match.group(1).decode() if match else None


def claim_prefix(
    checkpoint_name: str, run_id: str, overwrite: bool = False, unmarked_are_ours: bool = False
) -> None:
    """Make ``checkpoint_name`` the run ``run_id``'s before it writes there.

    Deletes the temporary files (``.NAME_epoch_N.pkl.<pid>.tmp``) that killed processes left
    with this prefix, then refuses, with FileExistsError, checkpoints of the prefix written by
    another run (or deletes them if ``overwrite``): two runs' epochs under one prefix would
    make "the newest checkpoint" the other run's. ``unmarked_are_ours``: files without a run
    id count as this run's (a run resumed from a checkpoint written before run ids).
    """
    prefix = Path(checkpoint_name)
    folder, base = prefix.parent, re.escape(prefix.name)
    checkpoint = re.compile(rf"{base}_(epoch_\d+|diverged)\.pkl")
    temporary = re.compile(rf"\.{base}_(?:epoch_\d+|diverged)\.pkl\.(\d+)\.tmp")
    others = []
    for entry in sorted(os.listdir(folder)):
        match = temporary.fullmatch(entry)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / entry)  # a killed run's half-written file
        elif checkpoint.fullmatch(entry):
            owner = read_run_id(folder / entry)
            if owner != run_id and not (owner is None and unmarked_are_ours):
                others.append(folder / entry)
    if others and not overwrite:
        shown = ", ".join(str(path) for path in others[:5])
        more = f" and {len(others) - 5} more" if len(others) > 5 else ""
        raise FileExistsError(
            f"checkpoint_name {checkpoint_name!r} already holds checkpoints of another run "
            f"({shown}{more}); writing this run's next to them would mix the two. Give a new "
            f"checkpoint_name, or checkpoint_overwrite=True to delete them first"
        )
    for path in others:
        os.unlink(path)


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (POSIX); elsewhere every process counts as alive."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


SAFE_BUILTINS = {"set", "frozenset", "complex", "slice", "range", "bytearray"}
# Packages whose own classes and functions a checkpoint may name: the models and the
# update rules. None of them touches files or processes.
BNLAB_PACKAGES = ("bnlab.nets", "bnlab.layers", "bnlab.fast", "bnlab.solver.optim")


class _CheckpointUnpickler(pickle.Unpickler):
    """Resolves only the globals bnlab writes (see the module docstring) and ``trusted``."""

    def __init__(self, file: Any, path: Path, trusted: Iterable[Any]) -> None:
        super().__init__(file)
        self.path = path
        self.trusted = {(obj.__module__, obj.__qualname__): obj for obj in trusted}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.trusted:
            return self.trusted[module, name]
        if (module, name) in NUMPY_GLOBALS | NUMPY_RANDOM_GLOBALS or (
            module == "builtins" and name in SAFE_BUILTINS
        ):
            return super().find_class(module, name)
        if module == "numpy" and name.isidentifier():
            scalar_type = getattr(np, name, None)  # np.float64 kept as a model's dtype
            if isinstance(scalar_type, type) and issubclass(scalar_type, np.generic):
                return scalar_type
        if name.isidentifier() and any(
            module == package or module.startswith(package + ".") for package in BNLAB_PACKAGES
        ):
            obj = getattr(importlib.import_module(module), name, None)
            # defined there, not imported into it (a module's `os` or `np` is not bnlab's)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__ == module:
                return obj
        raise CheckpointError(
            f"checkpoint {str(self.path)!r} refers to {module}.{name}, which bnlab does not "
            f"load from a file (only numpy arrays, builtin containers and bnlab's models and "
            f"update rules; pass trusted=[{name}] if it is your own class or function and you "
            f"trust the file)"
        )


def load_checkpoint(path: str | os.PathLike, trusted: Iterable[Any] = ()) -> dict[str, Any]:
    """Unpickle a checkpoint written by the Solver, safely; refuse it if damaged or incomplete.

    trusted: classes and functions of your own (a model class, an update rule) that the file
    may name besides bnlab's. Raises FileNotFoundError, or :class:`CheckpointError` (a
    ValueError) naming the file: damaged (checksum), not a checkpoint, naming a global outside
    the allowed ones, or lacking a key :meth:`Solver.resume` needs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    with open(path, "rb") as f:
        content = f.read()
    match = TRAILER.search(content[-TRAILER_SIZE:])
    if match:
        content = content[:-TRAILER_SIZE]
        if hashlib.sha256(content + match.group(1)).hexdigest() != match.group(2).decode():
            raise CheckpointError(
                f"checkpoint {str(path)!r} is damaged: its contents do not match the checksum "
                f"written with it; resume from an earlier epoch's file"
            )
    # else: written before checkpoints had a trailer (or not by bnlab): loaded as safely,
    # without a checksum, and refused if anything follows the pickle
    payload = io.BytesIO(content)
    try:
        checkpoint = _CheckpointUnpickler(payload, path, trusted).load()
    except CheckpointError:
        raise
    except Exception as error:  # whatever a damaged pickle makes the unpickler raise
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a readable checkpoint (empty, truncated or not "
            f"a pickle: {type(error).__name__}: {error})"
        ) from None
    if payload.tell() != len(content):
        raise CheckpointError(
            f"checkpoint {str(path)!r} is damaged: {len(content) - payload.tell()} unexpected "
            f"bytes follow the pickle"
        )
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"checkpoint {str(path)!r} must hold a dict, got {type(checkpoint).__name__}"
        )
    missing = [name for name in REQUIRED_KEYS if name not in checkpoint]
    if missing:
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be resumed from: it lacks {', '.join(missing)} "
            f"(a Solver resumes only from its own checkpoints; cs231n's hold no optimizer "
            f"or RNG state)"
        )
    return checkpoint
