"""Study note 004's claim: "the statistics over the whole data set are too expensive, so
training keeps moving averages". Measured: what recomputing them costs, and what it changes.

For every batchnorm momentum (cs231n's meaning: the weight of the OLD running value), the
bundled-data FullyConnectedNet of bn-vs-baseline is trained with that momentum in every
batchnorm layer. After the last epoch, with the final weights, the test accuracy is measured
twice: with the moving averages training kept, and after :func:`recompute_bn_statistics`
(one pass over the training set in batches of the training batch size, the BN paper's §3.1
procedure). The distance between the two running means says how far the moving averages lag.
A second set of runs drops the learning rate by ``lr_drop`` for the last epoch.

The cost: the seconds recompute_bn_statistics takes, against the seconds of the optimisation
steps of one training epoch (timed with the same final weights, after the measurements).

Every training is an independent run of one sweep (:mod:`bnlab.experiments.sweep`), so
``--jobs``, ``--dask`` and ``--resume`` apply.
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

from bnlab.experiments.common import fc_net_for, load_data, make_solver
from bnlab.experiments.sweep import Run, SweepOptions, run_sweep
from bnlab.nets.population import recompute_bn_statistics
from bnlab.plotting.bn_experiments import plot_population_statistics


@dataclass
class Config:
    momenta: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999)  # batchnorm momentum of each run
    lr_drop_momenta: tuple[float, ...] = (0.9, 0.99)  # momenta also run with the late drop
    lr_drop: float = 0.01  # learning-rate factor for the last epoch of those runs
    hidden_dims: tuple[int, ...] = (100,) * 5  # bn-vs-baseline's five hidden layers of 100
    num_train: int = 1000  # training examples, a random subset
    num_epochs: int = 10
    batch_size: int = 50  # also the batch size of the recomputed statistics
    learning_rate: float = 1e-3  # Adam
    weight_scale: float = 2e-2  # std of the initial weights
    data: str = "bundled"
    seed: int = 0  # data subset, weights (shared by every run) and minibatch order

    @classmethod
    def quick(cls) -> Config:
        return cls(momenta=(0.5, 0.999), lr_drop_momenta=(0.9,), num_train=200, num_epochs=2)


@dataclass
class Result:
    momenta: list[float]
    runs: dict[str, dict[str, list[float]]]  # 'constant lr', 'lr x0.01 last epoch' -> metrics
    seconds: float  # wall time of the whole sweep
    num_epochs: int
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error


@functools.lru_cache(maxsize=1)
def _load_data(name: str, num_train: int, seed: int) -> dict[str, Any]:
    return load_data(name, num_train=num_train, seed=seed)


def _test_accuracy(solver: Any, data: dict[str, Any]) -> float:
    return float(solver.check_metric(data["X_test"], data["y_test"], num_samples=None))


def train_one(config: dict[str, Any], momentum: float, lr_drop: float) -> dict[str, Any]:
    """One run: train at ``momentum``, ``lr_drop`` times the learning rate in the last epoch.

    config: the Config's fields (``dataclasses.asdict``). Returns the test accuracy with the
    moving averages (``moving_acc``) and recomputed statistics (``recomputed_acc``), the mean
    over layers of |running_mean moving - recomputed| / |recomputed| (``mean_distance``), the
    seconds of the recomputation and of one epoch's optimisation steps.
    """
    config = Config(**config)
    data = _load_data(config.data, config.num_train, config.seed)
    model = fc_net_for(
        data,
        config.hidden_dims,
        normalization="batchnorm",
        weight_scale=config.weight_scale,
        seed=config.seed,
    )
    for bn_param in model.bn_params:
        bn_param["momentum"] = momentum
    solver = make_solver(
        model,
        data,
        learning_rate=config.learning_rate,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        seed=config.seed,
    )
    measured: dict[str, Any] = {}

    def on_epoch_end(solver: Any) -> None:
        if solver.epoch == config.num_epochs - 1 and lr_drop != 1.0:
            for optim_config in solver.optim_configs.values():
                optim_config["learning_rate"] *= lr_drop
        if solver.epoch != config.num_epochs:
            return
        # The final weights, before the Solver restores its best epoch's.
        moving = [p["running_mean"].copy() for p in model.bn_params]
        measured["moving_acc"] = _test_accuracy(solver, data)
        start = time.perf_counter()
        recompute_bn_statistics(model, data["X_train"], batch_size=config.batch_size)
        measured["recompute_seconds"] = time.perf_counter() - start
        measured["recomputed_acc"] = _test_accuracy(solver, data)
        distances = [
            np.linalg.norm(old - p["running_mean"]) / np.linalg.norm(p["running_mean"])
            for old, p in zip(moving, model.bn_params, strict=True)
        ]
        measured["mean_distance"] = float(np.mean(distances))
        # One more epoch of optimisation steps, timed: the cost recomputing is weighed against.
        start = time.perf_counter()
        for _ in range(solver.iterations_per_epoch):
            solver._step()
        measured["epoch_seconds"] = time.perf_counter() - start

    solver.train(on_epoch_end=on_epoch_end)
    return measured


def _label(lr_drop: float) -> str:
    return "constant lr" if lr_drop == 1.0 else f"lr x{lr_drop:g} last epoch"


def run(config: Config, sweep: SweepOptions | None = None) -> Result:
    """The sweep; ``sweep`` says where its runs go (default: one after another, in-process)."""
    start = time.perf_counter()
    sweep = SweepOptions(jobs=1, progress=False) if sweep is None else sweep
    settings = [(float(m), 1.0) for m in config.momenta]
    settings += [(float(m), float(config.lr_drop)) for m in config.lr_drop_momenta]
    runs = [
        Run(
            train_one,
            {"config": dataclasses.asdict(config), "momentum": m, "lr_drop": drop},
            label=f"momentum {m:g}, {_label(drop)}",
        )
        for m, drop in settings
    ]
    records = run_sweep(runs, name="population_statistics", best="recomputed_acc", **vars(sweep))
    keys = ("moving_acc", "recomputed_acc", "mean_distance", "recompute_seconds", "epoch_seconds")
    results: dict[str, dict[str, list[float]]] = {}
    failed = {}
    for (m, drop), record in zip(settings, records, strict=True):
        metrics = record.result if record.status == "ok" else dict.fromkeys(keys, math.nan)
        if record.status != "ok":
            failed[record.label] = record.message
        group = results.setdefault(_label(drop), {"momentum": []} | {k: [] for k in keys})
        group["momentum"].append(m)
        for key in keys:
            group[key].append(float(metrics[key]))
    seconds = time.perf_counter() - start
    return Result([float(m) for m in config.momenta], results, seconds, config.num_epochs, failed)


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_population_statistics(
        result.runs,
        Path(out_dir) / "population_statistics.png",
        "Test accuracy: moving averages vs recomputed population statistics",
    )
    return [path]


def summarize(result: Result) -> str:
    lines = [
        f"{sum(len(g['momentum']) for g in result.runs.values())} runs in {result.seconds:.1f} s"
    ]
    for label, group in result.runs.items():
        for i, m in enumerate(group["momentum"]):
            moving, recomputed = group["moving_acc"][i], group["recomputed_acc"][i]
            lines.append(
                f"{label:>22}, momentum {m:<6g}: test acc moving {moving:.3f}, recomputed "
                f"{recomputed:.3f} ({100 * (recomputed - moving):+.1f} points); running_mean "
                f"distance {group['mean_distance'][i]:.3f}"
            )
    costs = [
        r / e
        for group in result.runs.values()
        for r, e in zip(group["recompute_seconds"], group["epoch_seconds"], strict=True)
        if math.isfinite(r / e)
    ]
    constant = result.runs.get("constant lr")
    if costs and constant:
        cost = float(np.median(costs))
        recompute = float(
            np.nanmedian([s for g in result.runs.values() for s in g["recompute_seconds"]])
        )
        epoch = float(np.nanmedian([s for g in result.runs.values() for s in g["epoch_seconds"]]))
        lines.append(
            f"cost: recomputing over the training set {recompute:.3f} s, one epoch's steps "
            f"{epoch:.3f} s: {100 * cost:.0f}% of an epoch (median over runs)"
        )
        gaps = {
            m: 100 * (r - v)
            for m, r, v in zip(
                constant["momentum"],
                constant["recomputed_acc"],
                constant["moving_acc"],
                strict=True,
            )
        }
        parts = ", ".join(f"at {m:g} {gap:+.1f}" for m, gap in gaps.items())
        lines.append(
            f"verdict: recomputing costs {100 * cost:.0f}% of one epoch, not 'too expensive'; "
            f"recomputed minus moving-average test accuracy (points): {parts}"
        )
    lines += [f"   failed: {label}: {message}" for label, message in result.failed.items()]
    return "\n".join(lines)
