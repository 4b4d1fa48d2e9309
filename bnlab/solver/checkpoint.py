"""Checkpoints: cs231n's per-epoch pickle, written so that a crash never loses the last one.

File name: ``'%s_epoch_%d.pkl' % (checkpoint_name, epoch)``, as in cs231n. The file is a
pickled dict holding cs231n's keys (:data:`CS231N_KEYS`: the model object, with its params and
normalisation running statistics, the hyperparameters and the histories) plus what an exact
resume needs (:data:`RESUME_KEYS`: per-parameter optimizer state, best params, the RNG state).

Writes are atomic: the pickle goes to a temporary file in the same directory, is flushed to
disk (fsync), and only then renamed over the target with ``os.replace``. A reader therefore
sees either the previous complete file or the new complete file, never half of one.

Only load checkpoints you trust: unpickling can run arbitrary code.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from pathlib import Path
from typing import Any

CS231N_KEYS = (
    "model",
    "update_rule",
    "lr_decay",
    "optim_config",
    "batch_size",
    "num_train_samples",
    "num_val_samples",
    "epoch",
    "loss_history",
    "train_acc_history",
    "val_acc_history",
)
RESUME_KEYS = (
    "num_epochs",
    "optim_configs",  # parameter name -> that parameter's config, with its state arrays
    "best_params",
    "best_val_metric",
    "metric_name",
    "rng_state",  # rng.bit_generator.state, a dict naming its bit generator
    "learning_rate",  # the current (decayed) rate, for the reader; optim_configs hold the truth
)


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
    """Unpickle a checkpoint written by the Solver and check that it can be resumed from."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    with open(path, "rb") as f:
        checkpoint = pickle.load(f)
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f"checkpoint {str(path)!r} must hold a dict, got {type(checkpoint).__name__}"
        )
    missing = [key for key in CS231N_KEYS + RESUME_KEYS if key not in checkpoint]
    if missing:
        raise ValueError(
            f"checkpoint {str(path)!r} cannot be resumed from: it lacks {', '.join(missing)} "
            f"(a cs231n checkpoint holds no optimizer or RNG state)"
        )
    return checkpoint
