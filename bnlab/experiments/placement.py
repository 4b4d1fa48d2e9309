"""Study note 001's rule: "batchnorm goes after the affine/conv output and before the activation".

Three nets, each with batchnorm in every hidden layer, are trained in both placements:

- 'before': conv/affine - batchnorm - activation (the note's, the BN paper's and cs231n's);
- 'after': conv/affine - activation - batchnorm (``norm_placement='after'``).

The nets are bn-vs-baseline's six-layer fully connected relu net (five hidden layers of 100,
weight std 2e-2, Adam at 1e-3, batch 50), study note 001's sigmoid LeNet (average pooling,
lenet-bn's SGD + momentum 0.9 at learning rate 0.2, x0.8 per epoch, batch 64) and the same
LeNet with relu. Both placements of a net get the same budget (epochs, minibatches, learning
rate schedule) and, for each seed, the same initial weights (batchnorm's gamma = 1, beta = 0 in
both) and the same minibatch order. The data is ``num_train`` images of the installed
Fashion-MNIST, or of the bundled subset where it is not installed.

A placement is called better than the other only when the seeds' final validation accuracies
do not overlap (every seed of one above every seed of the other); otherwise the difference is
within the spread of the seeds and the verdict is "no clear difference".

The 3 x 2 x len(seeds) trainings are independent runs of one sweep
(:mod:`bnlab.experiments.sweep`), so ``--jobs``, ``--dask`` and ``--resume`` apply.
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

from bnlab._validation import check_choice
from bnlab.experiments.common import (
    fc_net_for,
    load_data,
    sweep_result,
    train_model_or_diverge,
)
from bnlab.experiments.lenet_bn import DATA_NAMES, load_or_fall_back
from bnlab.experiments.sweep import Run, SweepOptions, run_sweep
from bnlab.nets import LeNet
from bnlab.nets.builder import NORM_PLACEMENTS
from bnlab.plotting.bn_experiments import plot_placement

# net name -> how figures and summaries call it
NET_TITLES = {
    "fc": "six-layer FC (relu)",
    "lenet-sigmoid": "LeNet (sigmoid)",
    "lenet-relu": "LeNet (relu)",
}
METRICS = ("train_acc", "val_acc", "best_val_acc")


@dataclass
class Config:
    nets: tuple[str, ...] = ("fc", "lenet-sigmoid", "lenet-relu")  # keys of NET_TITLES
    placements: tuple[str, ...] = NORM_PLACEMENTS  # 'before' and 'after' the activation
    data: str = "fashion-mnist"  # falls back to 'bundled' (with a note) if not installed
    num_train: int = 10000  # training images, a random subset
    num_epochs: int = 10  # the same budget for every net and placement
    hidden_dims: tuple[int, ...] = (100,) * 5  # the FC net's: bn-vs-baseline's
    fc_weight_scale: float = 2e-2  # std of the FC net's initial weights (bn-vs-baseline's)
    fc_learning_rate: float = 1e-3  # Adam, bn-vs-baseline's
    fc_batch_size: int = 50
    lenet_learning_rate: float = 0.2  # SGD + momentum 0.9, lenet-bn's
    lenet_lr_decay: float = 0.8  # the LeNets' learning-rate factor per epoch (lenet-bn's)
    lenet_batch_size: int = 64  # lenet-bn's
    num_val_samples: int | None = None  # validation images measured per epoch (None: all)
    seeds: tuple[int, ...] = (0, 1, 2)  # each: weights (shared by both placements), batches
    seed: int = 0  # the training subset

    @classmethod
    def quick(cls) -> Config:
        return cls(data="bundled", num_train=500, num_epochs=2, num_val_samples=300, seeds=(0,))


@dataclass
class Result:
    # net -> placement -> metric -> one value per seed (NaN: the run failed); 'val_history'
    # holds one list of per-epoch validation accuracies per seed (epoch 0 first)
    runs: dict[str, dict[str, dict[str, list]]]
    seeds: list[int]
    data: str  # the dataset actually used
    num_train: int
    num_epochs: int
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error or divergence


@functools.lru_cache(maxsize=1)
def _load_data(name: str, num_train: int, seed: int) -> dict[str, Any]:
    """The sweep's data, loaded once per process: every run trains on the same."""
    return load_data(name, num_train=num_train, seed=seed)


def build_model(net: str, placement: str, data: dict[str, Any], config: Config, seed: int):
    """Net ``net`` (a key of NET_TITLES) with batchnorm ``placement`` the activation, for ``data``."""
    if net == "fc":
        return fc_net_for(
            data,
            config.hidden_dims,
            normalization="batchnorm",
            norm_placement=placement,
            weight_scale=config.fc_weight_scale,
            seed=seed,
        )
    return LeNet(
        input_dim=data["X_train"].shape[1:],
        num_classes=len(data["class_names"]),
        normalization="batchnorm",
        activation=net.removeprefix("lenet-"),
        norm_placement=placement,
        seed=seed,
    )


def training_settings(net: str, config: Config) -> dict[str, Any]:
    """The Solver settings of ``net``: the same for both placements."""
    if net == "fc":
        return {
            "update_rule": "adam",
            "learning_rate": config.fc_learning_rate,
            "batch_size": config.fc_batch_size,
        }
    return {
        "update_rule": "sgd_momentum",
        "learning_rate": config.lenet_learning_rate,
        "lr_decay": config.lenet_lr_decay,
        "batch_size": config.lenet_batch_size,
    }


def train_one(config: dict[str, Any], net: str, placement: str, seed: int) -> dict[str, Any]:
    """One run: ``net`` with batchnorm ``placement`` the activation, trained from ``seed``.

    config: the Config's fields (``dataclasses.asdict``), ``data`` already resolved to an
    installed dataset. Returns the final train_acc and val_acc, the best_val_acc and
    val_history (per epoch, epoch 0 first); ``diverged`` if the loss became NaN or infinite.
    """
    config = Config(**config)
    data = _load_data(config.data, config.num_train, config.seed)
    model = build_model(net, placement, data, config, seed)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is recorded as such
        solver, diverged = train_model_or_diverge(
            model,
            data,
            num_epochs=config.num_epochs,
            seed=seed,
            num_val_samples=config.num_val_samples,
            **training_settings(net, config),
        )
    return sweep_result(
        solver,
        diverged,
        train_acc=float(solver.train_metric_history[-1]),
        val_acc=float(solver.val_metric_history[-1]),
        best_val_acc=float(max(solver.val_metric_history)),
        val_history=[float(v) for v in solver.val_metric_history],
    )


def run(config: Config, sweep: SweepOptions | None = None) -> Result:
    """Every net in both placements for every seed; ``sweep`` says where the runs go."""
    for net in config.nets:
        check_choice("nets", net, NET_TITLES)
    for placement in config.placements:
        check_choice("placements", placement, NORM_PLACEMENTS)
    start = time.perf_counter()
    data, data_name = load_or_fall_back(config)
    config = dataclasses.replace(config, data=data_name)
    sweep = SweepOptions(jobs=1, progress=False) if sweep is None else sweep
    settings = [
        (net, placement, seed)
        for seed in config.seeds
        for net in config.nets
        for placement in config.placements
    ]
    runs = [
        Run(
            train_one,
            {
                "config": dataclasses.asdict(config),
                "net": net,
                "placement": placement,
                "seed": seed,
            },
            label=f"{net} {placement} seed {seed}",
        )
        for net, placement, seed in settings
    ]
    records = run_sweep(runs, name="placement", best="val_acc", **vars(sweep))
    results = {
        net: {p: {key: [] for key in (*METRICS, "val_history")} for p in config.placements}
        for net in config.nets
    }
    failed = {}
    for (net, placement, _), record in zip(settings, records, strict=True):
        if record.status != "ok":  # a diverged run keeps the metrics it reached
            failed[record.label] = f"{record.status}: {record.message}"
        metrics = record.result or {**dict.fromkeys(METRICS, math.nan), "val_history": []}
        for key in (*METRICS, "val_history"):
            results[net][placement][key].append(metrics[key])
    seconds = time.perf_counter() - start
    num_train = len(data["X_train"])
    return Result(
        results, list(config.seeds), data_name, num_train, config.num_epochs, seconds, failed
    )


def plot(result: Result, out_dir: Path) -> list[Path]:
    name = DATA_NAMES.get(result.data, result.data)
    path = plot_placement(
        result.runs,
        NET_TITLES,
        Path(out_dir) / "placement.png",
        f"Batchnorm before vs after the activation: {name}, {result.num_train} training "
        f"images, {result.num_epochs} epochs, {len(result.seeds)} seed(s)",
    )
    return [path]


def compare(before: list[float], after: list[float]) -> str:
    """'before better', 'after better' or 'no clear difference': better means every seed's
    final validation accuracy above every seed of the other placement ('too few seeds to
    tell' with fewer than 2 finished seeds in either, where that would mean nothing)."""
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if min(np.isfinite(before).sum(), np.isfinite(after).sum()) < 2:
        return "too few seeds to tell"
    if np.nanmin(before) > np.nanmax(after):
        return "before better"
    if np.nanmin(after) > np.nanmax(before):
        return "after better"
    return "no clear difference"


def _spread(values: list[float]) -> str:
    """'0.852 ± 0.004 (0.848-0.856)': mean ± sample std over seeds, and the range."""
    values = np.asarray(values, dtype=float)
    std = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else 0.0
    return f"{np.nanmean(values):.3f} ± {std:.3f} ({np.nanmin(values):.3f}-{np.nanmax(values):.3f})"


def summarize(result: Result) -> str:
    lines = [
        f"data: {DATA_NAMES.get(result.data, result.data)}, {result.num_train} training images, "
        f"{result.num_epochs} epoch(s), {len(result.seeds)} seed(s), {result.seconds:.1f} s; "
        "final val acc, mean ± std over seeds (range)"
    ]
    verdicts = {}
    for net, placements in result.runs.items():
        parts = [f"{p} {_spread(metrics['val_acc'])}" for p, metrics in placements.items()]
        line = f"{NET_TITLES[net]:>19}: " + "; ".join(parts)
        if {"before", "after"} <= set(placements):
            before, after = placements["before"]["val_acc"], placements["after"]["val_acc"]
            verdicts[net] = compare(before, after)
            line += (
                f"; after - before {100 * (np.nanmean(after) - np.nanmean(before)):+.1f} "
                f"points: {verdicts[net]}"
            )
        lines.append(line)
    if verdicts:
        counts = {v: sum(1 for x in verdicts.values() if x == v) for v in set(verdicts.values())}
        tally = ", ".join(f"{verdict} for {n} net(s)" for verdict, n in sorted(counts.items()))
        lines.append(f"verdict (before the activation, study note 001's rule): {tally}")
    lines += [f"   failed: {label}: {message}" for label, message in result.failed.items()]
    return "\n".join(lines)
