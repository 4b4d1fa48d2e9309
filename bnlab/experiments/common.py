"""What every experiment needs: its data, a trained model, and the curves as plain data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab.data import load_dataset, subsample
from bnlab.nets import FullyConnectedNet
from bnlab.solver import Solver, TrainingDiverged


@dataclass
class History:
    """A Solver's curves as plain lists: what results store and :mod:`bnlab.plotting` reads."""

    loss_history: list[float] = field(default_factory=list)  # one per iteration
    train_metric_history: list[float] = field(default_factory=list)  # one per epoch, epoch 0 first
    val_metric_history: list[float] = field(default_factory=list)
    metric_name: str = "accuracy"  # or 'mse' for regression (lower is better)

    @classmethod
    def from_solver(cls, solver: Solver) -> History:
        return cls(
            [float(v) for v in solver.loss_history],
            [float(v) for v in solver.train_metric_history],
            [float(v) for v in solver.val_metric_history],
            solver.metric_name,
        )


def load_data(
    name: str = "bundled",
    num_train: int | None = None,
    seed: int | None = 0,
    dtype: Any = np.float32,
    path: str | None = None,
    stratify: bool = False,
) -> dict[str, Any]:
    """Dataset ``name`` as the standard dict, optionally cut to ``num_train`` random examples.

    seed: the subset's random draw (``None``: the first ``num_train`` examples).
    path: the folder with the dataset's files (default: search, see :mod:`bnlab.data.locate`).
    stratify: draw the subset with :func:`stratified_subsample` (``bnlab train`` does) rather
        than :func:`bnlab.data.subsample` (the experiments do: their documented numbers rest
        on that draw).
    """
    data = load_dataset(name, path=path, dtype=dtype)
    if num_train is not None and num_train < len(data["X_train"]):
        if stratify:
            data = stratified_subsample(data, num_train, seed=seed)
        else:
            data = subsample(data, num_train, seed=seed)
    return data


def stratified_subsample(
    data: dict[str, Any], num_train: int, seed: int | None = 0
) -> dict[str, Any]:
    """A copy of ``data`` with ``num_train`` training examples, every class in its full-set share.

    Class c keeps floor(num_train * N_c / N) of its N_c examples; the few left over go to the
    classes with the largest remainders. Within a class the rows are a random draw from
    ``seed``, kept in their original order. Validation, test and ``mean_image`` are shared.
    """
    y_train = data["y_train"]
    if isinstance(num_train, bool) or not isinstance(num_train, int | np.integer):
        raise TypeError(f"num_train must be an int, got {num_train!r}")
    if not 1 <= num_train <= len(y_train):
        raise ValueError(f"num_train must be in [1, {len(y_train)}], got {num_train}")
    classes, counts = np.unique(y_train, return_counts=True)
    share = num_train * counts / len(y_train)
    take = np.floor(share).astype(int)
    largest_remainders = np.argsort(take - share, kind="stable")
    take[largest_remainders[: num_train - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(y_train == c), k, replace=False)
        for c, k in zip(classes, take, strict=True)
    ]
    rows = np.sort(np.concatenate(picked))
    return dict(data, X_train=data["X_train"][rows], y_train=y_train[rows])


def make_solver(
    model: Any,
    data: dict[str, Any],
    *,
    update_rule: str = "adam",
    learning_rate: float = 1e-3,
    num_epochs: int = 10,
    batch_size: int = 50,
    seed: int = 0,
    verbose: bool = False,
    **solver_kwargs: Any,
) -> Solver:
    """A seeded Solver, not yet trained, quiet unless ``verbose``; building it checks every setting.

    The experiments and ``bnlab train`` build their Solvers here; solver_kwargs go to
    :class:`~bnlab.solver.Solver` (lr_decay, checkpoint_name, print_every, ...).
    """
    return Solver(
        model,
        data,
        update_rule=update_rule,
        optim_config={"learning_rate": learning_rate},
        num_epochs=num_epochs,
        batch_size=batch_size,
        seed=seed,
        verbose=verbose,
        **solver_kwargs,
    )


def train_model(
    model: Any,
    data: dict[str, Any],
    *,
    on_epoch_end: Callable[[Solver], Any] | None = None,
    **solver_kwargs: Any,
) -> Solver:
    """Train with :func:`make_solver`'s Solver; returns it trained (best params restored)."""
    solver = make_solver(model, data, **solver_kwargs)
    solver.train(on_epoch_end=on_epoch_end)
    return solver


def train_model_or_diverge(
    model: Any, data: dict[str, Any], **train_kwargs: Any
) -> tuple[Solver, bool]:
    """:func:`train_model`, but a NaN/inf loss ends the run instead of raising.

    Returns (solver, diverged). A diverged solver keeps its curves up to the bad loss (the last
    loss_history entry is that non-finite value) and the model holds its best params so far.
    """
    seen: list[Solver] = []
    on_epoch_end = train_kwargs.pop("on_epoch_end", None)

    def remember(solver: Solver) -> None:  # epoch 0 is measured before any step, so this runs
        if not seen:
            seen.append(solver)
        if on_epoch_end is not None:
            on_epoch_end(solver)

    try:
        return train_model(model, data, on_epoch_end=remember, **train_kwargs), False
    except TrainingDiverged:
        return seen[0], True


def init_like_pytorch(model: Any, seed: int) -> None:
    """W{i}, b{i} ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), in place: PyTorch's default Linear/Conv init.

    The study notes built their nets in PyTorch, whose default (kaiming_uniform with a = sqrt(5))
    gives std 1/sqrt(3 * fan_in): a different scale per layer, which no single bnlab
    ``weight_scale`` reproduces. fan_in is W.shape[0] for an affine W (D, M) and C*HH*WW for a
    conv W (F, C, HH, WW). gamma/beta keep their 1/0.
    """
    rng = np.random.default_rng(seed)
    for name, w in model.params.items():
        if not name.startswith("W"):
            continue
        fan_in = w.shape[0] if w.ndim == 2 else int(np.prod(w.shape[1:]))
        bound = 1.0 / np.sqrt(fan_in)
        w[...] = rng.uniform(-bound, bound, w.shape)
        bias = model.params[f"b{name[1:]}"]
        bias[...] = rng.uniform(-bound, bound, bias.shape)


def fc_net_for(
    data: dict[str, Any], hidden_dims: Sequence[int], **net_kwargs: Any
) -> FullyConnectedNet:
    """A FullyConnectedNet sized for ``data``: one input per pixel, one output per class.

    net_kwargs go to FullyConnectedNet (normalization, weight_scale, dtype, seed, ...).
    """
    return FullyConnectedNet(
        list(hidden_dims),
        input_dim=int(np.prod(data["X_train"].shape[1:])),  # (N, C, H, W) -> C*H*W
        num_classes=len(data["class_names"]),
        **net_kwargs,
    )
