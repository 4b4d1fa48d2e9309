"""cs231n's question: batchnorm, layernorm and groupnorm at batch sizes from 2 to 256.

Batchnorm normalises with statistics over the batch, so a small batch gives it noisy means and
variances, and at batch 2 each hidden affine feature is normalised over two values, which
makes it +-1 whatever the input. Its running averages, built from those batches, are what it
uses at test time. Layernorm and groupnorm normalise each example on its own, the same way in
train and test mode, so the batch size can only change their optimisation, not what the layer
computes.

Two nets are trained with each of their normalizations at each batch size, for the same number
of epochs at the same Adam learning rate, from ``len(seeds)`` seeds:

- LeNet (relu, 2x2 max pooling, He weights) with batchnorm, layernorm or groupnorm. On the conv
  outputs layernorm normalises each example over (C, H, W) (groupnorm with one group, as Wu &
  He, 2018, define it) and groupnorm over groups of C/num_groups channels; both use layernorm
  after the hidden affine layers;
- bn-vs-baseline's fully connected net (five hidden layers of 100) with batchnorm or
  layernorm, the comparison of cs231n's notebook.

The same epochs mean 2000 steps per epoch at batch 2 and 15 at batch 256 on 4000 images (the
Solver takes N // batch_size steps an epoch): the large batches take far fewer steps, which costs every normalization alike.

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

from bnlab._validation import check_choice
from bnlab.experiments.common import (
    fc_net_for,
    load_data,
    sweep_result,
    train_model_or_diverge,
)
from bnlab.experiments.sweep import Run, SweepOptions, run_sweep
from bnlab.nets import LeNet
from bnlab.plotting.bn_experiments import plot_batch_size_sweep

METRICS = ("final_val_acc", "best_val_acc", "final_train_acc")
NETS = {"lenet": "LeNet", "fc": "fully connected net"}  # train_one's net -> its label


@dataclass
class Config:
    normalizations: tuple[str, ...] = ("batchnorm", "layernorm", "groupnorm")  # LeNet's
    num_groups: int = 2  # groupnorm's groups: LeNet's 6 and 16 channels allow 1 or 2
    batch_sizes: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256)
    num_train: int = 4000  # training images, a random subset
    num_epochs: int = 5  # the same for every batch size
    learning_rate: float = 1e-3  # Adam, the same for every batch size
    weight_scale: float | str = "he"  # LeNet's, for its relu layers
    fc_normalizations: tuple[str, ...] = ("batchnorm", "layernorm")  # (): no fully connected net
    fc_hidden_dims: tuple[int, ...] = (100,) * 5  # bn-vs-baseline's five hidden layers of 100
    fc_weight_scale: float | str = 2e-2  # bn-vs-baseline's std of the initial weights
    num_val_samples: int | None = None  # validation images measured per epoch (None: all 1000)
    data: str = "bundled"  # or 'fashion-mnist' where installed
    seeds: tuple[int, ...] = (0, 1, 2)  # each: the weights and the minibatch order
    seed: int = 0  # the training subset

    @classmethod
    def quick(cls) -> Config:
        return cls(
            batch_sizes=(2, 16), num_train=200, num_epochs=1, num_val_samples=200, seeds=(0, 1)
        )


@dataclass
class Result:
    batch_sizes: list[int]
    # net label -> normalization -> metric -> one list per batch size, one value per seed
    # (NaN: the run failed)
    runs: dict[str, dict[str, dict[str, list[list[float]]]]]
    seeds: list[int]
    seconds: float  # wall time of the whole sweep
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error or divergence


@functools.lru_cache(maxsize=1)
def _load_data(name: str, num_train: int, seed: int) -> dict[str, Any]:
    """The sweep's data, loaded once per process: every run trains on the same images."""
    return load_data(name, num_train=num_train, seed=seed)


def train_one(
    config: dict[str, Any], net: str, normalization: str, batch_size: int, seed: int
) -> dict[str, Any]:
    """One run: ``net`` ('lenet' or 'fc') with ``normalization`` trained on batches of ``batch_size``.

    config: the Config's fields (``dataclasses.asdict``), so that the run is JSON-able data.
    Returns the validation accuracy after the last epoch (``final_val_acc``, batchnorm with
    its running averages), the best over the epochs, the last epoch's train accuracy (on up
    to 1000 training images) and ``diverged``.
    """
    config = Config(**config)
    check_choice("net", net, NETS)
    data = _load_data(config.data, config.num_train, config.seed)
    if net == "lenet":
        model = LeNet(
            input_dim=data["X_train"].shape[1:],
            num_classes=len(data["class_names"]),
            normalization=normalization,
            num_groups=config.num_groups if normalization == "groupnorm" else None,
            activation="relu",
            pooling="max",
            weight_scale=config.weight_scale,
            seed=seed,
        )
    else:
        model = fc_net_for(
            data,
            config.fc_hidden_dims,
            normalization=normalization,
            weight_scale=config.fc_weight_scale,
            seed=seed,
        )
    solver, diverged = train_model_or_diverge(
        model,
        data,
        learning_rate=config.learning_rate,
        num_epochs=config.num_epochs,
        batch_size=batch_size,
        seed=seed,
        num_val_samples=config.num_val_samples,
    )
    return sweep_result(
        solver,
        diverged,
        final_val_acc=float(solver.val_metric_history[-1]),
        best_val_acc=float(max(solver.val_metric_history)),
        final_train_acc=float(solver.train_metric_history[-1]),
    )


def run(config: Config, sweep: SweepOptions | None = None) -> Result:
    """The sweep; ``sweep`` says where its runs go (default: one after another, in-process)."""
    start = time.perf_counter()
    sweep = SweepOptions(jobs=1, progress=False) if sweep is None else sweep
    normalizations = {"lenet": config.normalizations, "fc": config.fc_normalizations}
    settings = [
        (net, norm, int(batch_size), int(seed))
        for net in NETS
        for batch_size in config.batch_sizes
        for norm in normalizations[net]
        for seed in config.seeds
    ]
    runs = [
        Run(
            train_one,
            {
                "config": dataclasses.asdict(config),
                "net": net,
                "normalization": norm,
                "batch_size": batch_size,
                "seed": seed,
            },
            label=f"{NETS[net]} {norm}, batch {batch_size}, seed {seed}",
        )
        for net, norm, batch_size, seed in settings
    ]
    records = run_sweep(runs, name="batch_size", best="final_val_acc", **vars(sweep))
    results = {
        NETS[net]: {
            norm: {key: [[] for _ in config.batch_sizes] for key in METRICS} for norm in norms
        }
        for net, norms in normalizations.items()
        if norms
    }
    failed = {}
    for (net, norm, batch_size, _), record in zip(settings, records, strict=True):
        if record.status != "ok":
            failed[record.label] = record.message
        # a diverged run's accuracies are what it reached; a run that raised has none
        metrics = record.result if record.result else dict.fromkeys(METRICS, math.nan)
        column = list(config.batch_sizes).index(batch_size)
        for key in METRICS:
            results[NETS[net]][norm][key][column].append(float(metrics[key]))
    seconds = time.perf_counter() - start
    return Result(
        [int(b) for b in config.batch_sizes],
        results,
        [int(s) for s in config.seeds],
        seconds,
        failed,
    )


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_batch_size_sweep(
        result.batch_sizes,
        {
            net: {norm: metrics["final_val_acc"] for norm, metrics in norms.items()}
            for net, norms in result.runs.items()
        },
        Path(out_dir) / "batch_size.png",
        "Final validation accuracy against the batch size",
    )
    return [path]


def mean_accuracies(
    norms: dict[str, dict[str, list[list[float]]]], key: str = "final_val_acc"
) -> dict[str, np.ndarray]:
    """normalization -> (len(batch_sizes),) the mean over seeds of ``key`` (NaN: all failed)."""
    return {
        norm: np.array([_mean(seeds) for seeds in metrics[key]]) for norm, metrics in norms.items()
    }


def _mean(values: list[float]) -> float:
    """The mean of the seeds that finished; NaN if none did."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _spread(values: list[float]) -> str:
    """'[0.801, 0.812]': the lowest and highest of the seeds that finished."""
    finite = [v for v in values if math.isfinite(v)]
    return f"[{min(finite):.3f}, {max(finite):.3f}]" if finite else "[failed]"


def summarize(result: Result) -> str:
    num_runs = sum(
        len(seeds)
        for norms in result.runs.values()
        for metrics in norms.values()
        for seeds in metrics["final_val_acc"]
    )
    lines = [f"{num_runs} runs ({len(result.seeds)} seeds each) in {result.seconds:.1f} s"]
    for net, norms in result.runs.items():
        lines += _summarize_net(net, norms, result.batch_sizes)
    lines += [f"   failed: {label}: {message}" for label, message in result.failed.items()]
    return "\n".join(lines)


def _summarize_net(
    net: str, norms: dict[str, dict[str, list[list[float]]]], batch_sizes: list[int]
) -> list[str]:
    """One net's table of final val accuracy by batch size, its best, and batchnorm's lead."""
    means = mean_accuracies(norms)
    lines = [
        f"{net}: final val acc, mean [min, max] over seeds",
        "batch size " + "".join(f"{norm:>22}" for norm in norms),
    ]
    for column, batch_size in enumerate(batch_sizes):
        cells = [
            f"{means[norm][column]:.3f} {_spread(metrics['final_val_acc'][column])}"
            for norm, metrics in norms.items()
        ]
        lines.append(f"{batch_size:>10} " + "".join(f"{cell:>22}" for cell in cells))
    for norm, mean in means.items():
        if np.isfinite(mean).any():
            i = int(np.nanargmax(mean))
            lines.append(
                f"{norm:>10}: best mean {mean[i]:.3f} at batch {batch_sizes[i]}; "
                f"at batch {batch_sizes[0]}: {mean[0]:.3f}"
            )
    if "batchnorm" in means and len(means) > 1:
        others = [m for norm, m in means.items() if norm != "batchnorm"]
        best_other = np.fmax.reduce(others)  # fmax skips NaN (a batch size whose runs failed)
        lead = 100 * (means["batchnorm"] - best_other)
        parts = ", ".join(
            f"{b} {d:+.1f}" for b, d in zip(batch_sizes, lead, strict=True) if np.isfinite(d)
        )
        lines.append(
            f"{net}: batchnorm minus the best of the others (points), by batch size: {parts}"
        )
    return lines
