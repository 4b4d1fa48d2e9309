"""What every experiment needs: its data, a trained model, and the curves as plain data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab.data import load_dataset, subsample
from bnlab.solver import Solver


@dataclass
class History:
    """A Solver's curves as plain lists: what results store and :mod:`bnlab.plotting` reads."""

    loss_history: list[float] = field(default_factory=list)  # one per iteration
    train_acc_history: list[float] = field(default_factory=list)  # one per epoch, epoch 0 first
    val_acc_history: list[float] = field(default_factory=list)
    metric_name: str = "accuracy"  # or 'mse' for regression (lower is better)

    @classmethod
    def from_solver(cls, solver: Solver) -> History:
        return cls(
            [float(v) for v in solver.loss_history],
            [float(v) for v in solver.train_acc_history],
            [float(v) for v in solver.val_acc_history],
            solver.metric_name,
        )


def load_data(
    name: str = "bundled", num_train: int | None = None, seed: int = 0, dtype: Any = np.float32
) -> dict[str, Any]:
    """Dataset ``name`` as the standard dict, optionally cut to ``num_train`` random examples."""
    data = load_dataset(name, dtype=dtype)
    if num_train is not None and num_train < len(data["X_train"]):
        data = subsample(data, num_train, seed=seed)
    return data


def train_model(
    model: Any,
    data: dict[str, Any],
    *,
    update_rule: str = "adam",
    learning_rate: float = 1e-3,
    num_epochs: int = 10,
    batch_size: int = 50,
    seed: int = 0,
    on_epoch_end: Callable[[Solver], Any] | None = None,
    **solver_kwargs: Any,
) -> Solver:
    """Train quietly with a seeded Solver; returns the trained Solver (best params restored)."""
    solver = Solver(
        model,
        data,
        update_rule=update_rule,
        optim_config={"learning_rate": learning_rate},
        num_epochs=num_epochs,
        batch_size=batch_size,
        seed=seed,
        verbose=False,
        **solver_kwargs,
    )
    solver.train(on_epoch_end=on_epoch_end)
    return solver
