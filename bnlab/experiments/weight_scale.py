"""Study note 003: an eight-layer net trained from 20 initial weight scales, with and without BN.

For every scale in logspace(min_scale, max_scale, num_scales), a baseline net and a batchnorm
net start from the same weights and see the same minibatches. The note (on CIFAR-10) found
that batchnorm makes training far less sensitive to the initialisation scale: without it,
small scales never learn (the signal vanishes through the layers) and large ones explode.

A run whose loss becomes NaN or infinite stops there; its metrics are what it reached, and
``diverged`` flags it (the figure marks it with a large x).

The 2 x num_scales trainings are independent runs of one sweep (:mod:`bnlab.experiments.sweep`):
``run(config, sweep=SweepOptions(jobs=2))`` spreads them over worker processes with the same
numbers. A run that raises is listed in ``Result.failed`` and its metrics are NaN.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.experiments.common import fc_net_for, load_data, train_model_or_diverge
from bnlab.experiments.sweep import Run, SweepOptions, run_sweep
from bnlab.plotting.bn_experiments import plot_weight_scale_sweep

NORM_SETTINGS = {"baseline": None, "batchnorm": "batchnorm"}  # label -> the net's normalization


@dataclass
class Config:
    hidden_dims: tuple[int, ...] = (50,) * 7  # the note's seven hidden layers of 50
    min_scale: float = 1e-4  # smallest weight std
    max_scale: float = 1.0  # largest weight std
    num_scales: int = 20  # scales, evenly spaced on a log axis (the note's logspace(-4, 0, 20))
    num_train: int = 1000  # training examples, a random subset
    num_epochs: int = 10
    batch_size: int = 50
    learning_rate: float = 1e-3  # Adam
    num_val_samples: int | None = 1000  # validation examples measured per epoch (None: all)
    final_loss_window: int = 100  # "final training loss" = mean of this many last iterations
    data: str = "bundled"  # the note's: 'cifar10' (where installed); 'fashion-mnist', 'synthetic'
    dtype: str = "float32"  # float32: ample precision for training, and faster
    seed: int = 0  # data subset, weights (shared by both nets at a scale), minibatch order

    @classmethod
    def quick(cls) -> Config:
        return cls(num_scales=4, num_train=200, num_epochs=2, num_val_samples=200)

    @property
    def weight_scales(self) -> np.ndarray:
        """(num_scales,) the weight stds, evenly spaced on a log axis."""
        return np.logspace(math.log10(self.min_scale), math.log10(self.max_scale), self.num_scales)


@dataclass
class Sweep:
    """One kind of net across the scales: one entry per scale in every list."""

    best_val_acc: list[float] = field(default_factory=list)
    best_train_acc: list[float] = field(default_factory=list)
    final_loss: list[float] = field(default_factory=list)  # mean of the last finite losses
    diverged: list[bool] = field(default_factory=list)  # the loss became NaN or infinite


@dataclass
class Result:
    weight_scales: list[float]
    runs: dict[str, Sweep]  # 'baseline', 'batchnorm'
    seconds: float  # wall time of the whole sweep
    final_loss_window: int  # iterations the final loss averages
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error, for runs that raised


def final_loss(loss_history: list[float], window: int) -> float:
    """Mean of the last ``window`` losses, leaving out the non-finite one a diverged run ends on."""
    loss = np.asarray(loss_history[-window:], dtype=float)
    finite = loss[np.isfinite(loss)]
    return float(finite.mean()) if finite.size else math.nan


@functools.lru_cache(maxsize=1)
def _load_data(name: str, num_train: int, seed: int, dtype: str) -> dict[str, Any]:
    """The sweep's data, loaded once per process: every run of a sweep trains on the same."""
    return load_data(name, num_train=num_train, seed=seed, dtype=np.dtype(dtype))


def train_one(
    config: dict[str, Any], normalization: str | None, weight_scale: float
) -> dict[str, Any]:
    """One run of the sweep: the net with ``normalization`` trained from ``weight_scale``.

    config: the Config's fields (``dataclasses.asdict``), so that the run is JSON-able data.
    Returns best_val_acc, best_train_acc, final_loss and diverged (with a message if so).
    """
    config = Config(**config)
    dtype = np.dtype(config.dtype)
    data = _load_data(config.data, config.num_train, config.seed, config.dtype)
    model = fc_net_for(
        data,
        config.hidden_dims,
        normalization=normalization,
        weight_scale=weight_scale,
        dtype=dtype,
        seed=config.seed,
    )
    # Large scales without batchnorm overflow: expected here, and recorded as data.
    with np.errstate(over="ignore", invalid="ignore"):
        solver, diverged = train_model_or_diverge(
            model,
            data,
            learning_rate=config.learning_rate,
            num_epochs=config.num_epochs,
            batch_size=config.batch_size,
            seed=config.seed,
            num_train_samples=None,  # all num_train examples: the train metric is exact
            num_val_samples=config.num_val_samples,
        )
    result = {
        "best_val_acc": float(max(solver.val_metric_history)),
        "best_train_acc": float(max(solver.train_metric_history)),
        "final_loss": final_loss(solver.loss_history, config.final_loss_window),
        "diverged": diverged,
    }
    if diverged:
        iteration = len(solver.loss_history)
        result["message"] = f"loss {solver.loss_history[-1]} at iteration {iteration}"
    return result


def run(config: Config, sweep: SweepOptions | None = None) -> Result:
    """The sweep; ``sweep`` says where its runs go (default: one after another, in-process)."""
    start = time.perf_counter()
    sweep = SweepOptions(jobs=1, progress=False) if sweep is None else sweep
    nets = [
        (label, normalization, float(weight_scale))
        for weight_scale in config.weight_scales
        for label, normalization in NORM_SETTINGS.items()
    ]
    runs = [
        Run(
            train_one,
            {
                "config": dataclasses.asdict(config),
                "normalization": normalization,
                "weight_scale": scale,
            },
            label=f"{label} {scale:.2e}",
        )
        for label, normalization, scale in nets
    ]
    records = run_sweep(runs, name="weight_scale", best="best_val_acc", **vars(sweep))
    sweeps = {label: Sweep() for label in NORM_SETTINGS}
    failed = {}
    for (label, _, _), record in zip(nets, records, strict=True):
        if record.status == "error":  # its metrics are unknown: NaN, drawn as gaps
            failed[record.label] = record.message
            metrics = {"best_val_acc": math.nan, "best_train_acc": math.nan}
            metrics |= {"final_loss": math.nan, "diverged": False}
        else:
            metrics = record.result
        sweeps[label].best_val_acc.append(metrics["best_val_acc"])
        sweeps[label].best_train_acc.append(metrics["best_train_acc"])
        sweeps[label].final_loss.append(metrics["final_loss"])
        sweeps[label].diverged.append(metrics["diverged"])
    seconds = time.perf_counter() - start
    return Result(config.weight_scales.tolist(), sweeps, seconds, config.final_loss_window, failed)


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_weight_scale_sweep(
        result.weight_scales,
        result.runs,
        Path(out_dir) / "weight_scale.png",
        "Sensitivity to the weight initialisation scale",
        final_loss_window=result.final_loss_window,
    )
    return [path]


def _learning_range(scales: list[float], accuracies: list[float], threshold: float) -> str:
    """'2.07e-02 .. 2.34e-01' (the smallest and largest scale reaching threshold) or 'none'."""
    reached = [s for s, acc in zip(scales, accuracies, strict=True) if acc >= threshold]
    return f"{min(reached):.2e} .. {max(reached):.2e}" if reached else "none"


def summarize(result: Result) -> str:
    scales = result.weight_scales
    # "learns": best val accuracy at least halfway from the untrained nets' chance to the best.
    accuracies = np.array([sweep.best_val_acc for sweep in result.runs.values()])
    chance, best = np.nanmin(accuracies), np.nanmax(accuracies)  # NaN: a run that raised
    threshold = (chance + best) / 2
    lines = [
        f"{len(scales)} scales from {scales[0]:.0e} to {scales[-1]:.0e} in {result.seconds:.1f} s"
    ]
    for label, sweep in result.runs.items():
        finished = ~np.isnan(sweep.best_val_acc)
        i = int(np.nanargmax(sweep.best_val_acc)) if finished.any() else 0
        diverged = [f"{s:.2e}" for s, d in zip(scales, sweep.diverged, strict=True) if d]
        lines.append(
            f"{label:>9}: best val acc {sweep.best_val_acc[i]:.3f} at scale {scales[i]:.2e}; "
            f"at {scales[0]:.0e}: val {sweep.best_val_acc[0]:.3f}, loss {sweep.final_loss[0]:.3f}; "
            f"at {scales[-1]:.0e}: val {sweep.best_val_acc[-1]:.3f}, loss "
            f"{sweep.final_loss[-1]:.4g}; val acc >= {threshold:.2f} for scales "
            f"{_learning_range(scales, sweep.best_val_acc, threshold)}; diverged: "
            f"{', '.join(diverged) if diverged else 'none'}"
        )
    lines += [f"   failed: {label}: {message}" for label, message in result.failed.items()]
    return "\n".join(lines)
