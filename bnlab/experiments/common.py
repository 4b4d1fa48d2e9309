"""What every experiment needs: its data, a trained model, and the curves as plain data.

Every Solver is built by :func:`make_solver`, so this is also where an experiment's progress
is shown: inside :func:`show_progress` (``bnlab experiment`` enters it) each training run is
followed, on stderr, by tqdm's bars (an overall one for the experiment, one for the current
run) on a terminal or in Jupyter, and by a line per epoch otherwise (a log file, a pipe).
Outside it the experiments print nothing. Following a run reads the Solver's histories and
draws no random numbers, so the results are the same either way.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnlab.data import load_dataset, subsample
from bnlab.nets import FullyConnectedNet
from bnlab.solver import Solver, TrainingDiverged
from bnlab.solver.progress import auto_tqdm, can_draw


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


class RunProgress:
    """The progress of one experiment's training runs (see the module docstring).

    ``follow(solver, on_epoch_end)`` returns the callback that :meth:`Solver.train` gets: it
    reports every epoch, then calls ``on_epoch_end`` (the experiment's own) if given.
    """

    def __init__(self, name: str, stream: Any = None) -> None:
        self.name, self.stream = name, stream
        self.num_runs = 0
        self._tqdm = tqdm = auto_tqdm()
        self.draw = stream is None and can_draw(tqdm)
        self.stream = stream if stream is not None else sys.stderr
        self.overall = tqdm(desc=name, unit="epoch", disable=not self.draw, file=stream)
        self.run_bar: Any = None
        self.start = time.perf_counter()

    def follow(
        self, solver: Solver, on_epoch_end: Callable[[Solver], Any] | None
    ) -> Callable[[Solver], Any]:
        self.num_runs += 1
        run = self.num_runs
        self.close_run()
        self.run_bar = self._tqdm(
            total=solver.num_epochs,
            desc=f"run {run}",
            unit="epoch",
            leave=False,
            position=1,
            disable=not self.draw,
            file=self.stream,
        )
        self.overall.set_postfix_str(f"run {run}")

        def report(solver: Solver) -> None:
            if solver.epoch > 0:  # epoch 0 measures the untrained model
                self.epoch_done(run, solver)
            if on_epoch_end is not None:
                on_epoch_end(solver)

        return report

    def epoch_done(self, run: int, solver: Solver) -> None:
        if self.draw:
            self.run_bar.update(1)
            self.overall.update(1)
            return
        short = "acc" if solver.metric_name == "accuracy" else "mse"
        print(
            f"{self.name}: run {run}, epoch {solver.epoch}/{solver.num_epochs}: "
            f"train {short} {solver.train_metric_history[-1]:.4f}, "
            f"val {short} {solver.val_metric_history[-1]:.4f} "
            f"({time.perf_counter() - self.start:.0f} s)",
            file=self.stream,
            flush=True,
        )

    def close_run(self) -> None:
        if self.run_bar is not None:
            self.run_bar.close()
            self.run_bar = None

    def close(self) -> None:
        self.close_run()
        self.overall.close()


_progress: list[RunProgress] = []  # the RunProgress of show_progress, while it runs


@contextmanager
def show_progress(name: str, stream: Any = None) -> Iterator[RunProgress]:
    """Report the progress of every Solver :func:`make_solver` builds inside this block.

    name: the experiment's, shown on every line. stream: where the lines go; None draws bars
    on stderr when it is a terminal (or in Jupyter) and writes lines to stderr otherwise.
    """
    progress = RunProgress(name, stream)
    _progress.append(progress)
    try:
        yield progress
    finally:
        _progress.remove(progress)
        progress.close()


def _followed(solver: Solver, progress: RunProgress) -> Solver:
    """``solver`` whose train() reports to ``progress`` (the callback it is given still runs)."""
    train = solver.train

    def train_followed(on_epoch_end: Callable[[Solver], Any] | None = None) -> None:
        try:
            train(on_epoch_end=progress.follow(solver, on_epoch_end))
        finally:
            progress.close_run()

    solver.train = train_followed  # type: ignore[method-assign]
    return solver


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
    :class:`~bnlab.solver.Solver` (lr_decay, checkpoint_name, print_every, ...). Inside
    :func:`show_progress` its train() reports its progress.
    """
    solver = Solver(
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
    return _followed(solver, _progress[-1]) if _progress else solver


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


def sweep_result(solver: Solver, diverged: bool, **metrics: Any) -> dict[str, Any]:
    """A sweep run's result: its metrics, ``diverged``, and a diverged run's message (its last,
    non-finite loss and when it came), which the sweep runner records (bnlab.experiments.sweep).
    """
    result = {**metrics, "diverged": diverged}
    if diverged:
        losses = solver.loss_history
        result["message"] = f"loss {losses[-1]} at iteration {len(losses)}"
    return result


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
