"""Training: update rules (:mod:`~bnlab.solver.optim`), the :class:`Solver`, its checkpoints."""

from bnlab.solver.checkpoint import (
    CheckpointError,
    CheckpointWriteError,
    checkpoint_path,
    load_checkpoint,
    write_checkpoint,
)
from bnlab.solver.optim import UPDATE_RULES, adam, rmsprop, sgd, sgd_momentum
from bnlab.solver.solver import Solver, TrainingDiverged

__all__ = [
    "UPDATE_RULES",
    "CheckpointError",
    "CheckpointWriteError",
    "Solver",
    "TrainingDiverged",
    "adam",
    "checkpoint_path",
    "load_checkpoint",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "write_checkpoint",
]
