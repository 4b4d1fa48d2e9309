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
sees either the previous complete file or the new complete file, never half of one.

Only load checkpoints you trust: unpickling can run arbitrary code.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


def checkpoint_path(checkpoint_name: str, epoch: int) -> Path:
    """cs231n's ``'%s_epoch_%d.pkl' % (checkpoint_name, epoch)``: written after ``epoch`` epochs."""
    return Path(f"{checkpoint_name}_epoch_{int(epoch)}.pkl")


def write_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> Path:
    """Pickle ``checkpoint`` to ``path`` atomically (temp file + fsync + os.replace)."""
    path = Path(path)
    # Same directory, so os.replace is a rename within one file system, never a copy.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            pickle.dump(checkpoint, f, protocol=pickle.HIGHEST_PROTOCOL)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Unpickle a checkpoint written by the Solver; refuse it if it lacks a required key."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    with open(path, "rb") as f:
        checkpoint = pickle.load(f)
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f"checkpoint {str(path)!r} must hold a dict, got {type(checkpoint).__name__}"
        )
    missing = [name for name in REQUIRED_KEYS if name not in checkpoint]
    if missing:
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be resumed from: it lacks {', '.join(missing)} "
            f"(a Solver resumes only from its own checkpoints; cs231n's hold no optimizer "
            f"or RNG state)"
        )
    return checkpoint
