"""Study notes 001 and 003: "batchnorm allows a larger learning rate, so training converges faster".

Three families of nets, each with and without batchnorm, are trained at learning rates evenly
spaced on a log axis, from several seeds each:

- ``six-layer``: bn-vs-baseline's net and setting (five hidden layers of 100, weight std 2e-2,
  1000 training examples, 10 epochs of batch 50, Adam), its learning rate swept;
- ``LeNet sigmoid``: lenet-bn's LeNet-5 (sigmoid, average pooling, Xavier weights), trained by
  plain SGD without decay, the update rule of the note's d2l setting;
- ``LeNet relu``: the same LeNet with ReLU activations.

Each run records its final validation accuracy (the last epoch's), the first iteration at which
the training loss, averaged over bn-vs-baseline's 20-iteration window, falls below
``target_loss`` (:func:`bnlab.experiments.bn_vs_baseline.first_below`), and whether it diverged.
A run diverges when its loss becomes NaN or infinite, or when a batchnorm layer's statistics
overflow (:class:`~bnlab.layers.checks.OverflowInNormalization`, which the Solver reports as an
infinite loss); the sweep runner records it with status 'diverged'.

A net *trains* at a learning rate when no seed diverged, no run failed, and the mean final
validation accuracy over the seeds is at least ``trains_fraction`` of the way from chance
(1 / number of classes) to the best mean final accuracy of its family (either net, any rate):
with the default 0.5, halfway. The summary reports, per net, the learning rates it trains at
(the largest is the note's "larger learning rate"), its best accuracy and the fewest iterations
it needs to reach the loss target, and how many times fewer iterations batchnorm needs at equal
learning rates.

All trainings are independent runs of one sweep (:mod:`bnlab.experiments.sweep`), so
``--jobs``, ``--dask`` and ``--resume`` apply. A run that raises is listed in ``Result.failed``
and its metrics are NaN.
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

from bnlab.experiments import bn_vs_baseline, lenet_bn
from bnlab.experiments.bn_vs_baseline import NORM_SETTINGS, SMOOTHING, first_below
from bnlab.experiments.common import (
    fc_net_for,
    load_data,
    sweep_result,
    train_model_or_diverge,
)
from bnlab.experiments.sweep import Run, SweepOptions, run_sweep
from bnlab.nets import LeNet
from bnlab.plotting.bn_experiments import plot_learning_rate_sweep

SIX_LAYER = bn_vs_baseline.Config()  # the six-layer net's architecture and training
LENET = lenet_bn.Config()  # LeNet's weight initialisation and batch size
FAMILIES = ("six-layer", "LeNet sigmoid", "LeNet relu")
ACTIVATIONS = {"LeNet sigmoid": "sigmoid", "LeNet relu": "relu"}  # LeNet family -> activation
METRICS = ("final_val_acc", "best_val_acc", "iterations")  # per run, in a NetSweep


@dataclass
class Config:
    families: tuple[str, ...] = FAMILIES  # the nets to sweep, each with and without batchnorm
    lrs_per_decade: int = 2  # learning rates per factor of 10, evenly spaced on a log axis
    fc_min_lr: float = 1e-5  # the six-layer net's range of learning rates, ends included
    fc_max_lr: float = 1.0
    fc_update_rule: str = "adam"  # bn-vs-baseline's
    fc_num_train: int = SIX_LAYER.num_train  # 1000 examples, 10 epochs of 50: 200 iterations
    fc_num_epochs: int = SIX_LAYER.num_epochs
    lenet_min_lr: float = 1e-2  # the LeNets' range of learning rates, ends included
    lenet_max_lr: float = 100.0
    lenet_update_rule: str = "sgd"  # the note's d2l rule; a fixed rate (no decay)
    lenet_num_train: int | None = 3200  # 3200 images, 8 epochs of 64: 400 iterations
    lenet_num_epochs: int = 8
    target_loss: float = SIX_LAYER.target_loss  # iterations until the smoothed loss is below
    trains_fraction: float = 0.5  # "trains": this far from chance to the family's best accuracy
    num_val_samples: int | None = None  # validation images measured per epoch (None: all)
    data: str = "bundled"  # 'fashion-mnist' (where installed), 'synthetic'
    dtype: str = "float32"
    seeds: tuple[int, ...] = (0, 1, 2)  # each: weights and minibatch order
    seed: int = 0  # the training subsets

    @classmethod
    def quick(cls) -> Config:
        # One seed; 30 iterations of the six-layer net, enough to reach a loss of 2, and 10 of
        # each LeNet, in which the relu LeNet without batchnorm diverges at 100.
        return cls(
            lrs_per_decade=1,
            fc_min_lr=1e-3,
            fc_num_train=500,
            fc_num_epochs=3,
            lenet_min_lr=1.0,
            lenet_num_train=320,
            lenet_num_epochs=2,
            target_loss=2.0,
            num_val_samples=200,
            seeds=(0,),
        )

    def learning_rates(self, family: str) -> list[float]:
        """The family's learning rates: ``lrs_per_decade`` per decade from its min to its max."""
        if family not in FAMILIES:
            raise ValueError(f"families: unknown net family {family!r}; expected one of {FAMILIES}")
        low, high = (
            (self.fc_min_lr, self.fc_max_lr)
            if family == "six-layer"
            else (self.lenet_min_lr, self.lenet_max_lr)
        )
        if not 0 < low < high:
            raise ValueError(
                f"the learning rates of {family!r} must satisfy 0 < min < max, got min {low!r} "
                f"and max {high!r}"
            )
        decades = math.log10(high / low)
        num = max(2, round(decades * self.lrs_per_decade) + 1)
        return [float(lr) for lr in np.logspace(math.log10(low), math.log10(high), num)]


@dataclass
class NetSweep:
    """One net across the learning rates: every list is [learning rate][seed]."""

    final_val_acc: list[list[float]] = field(default_factory=list)  # NaN: diverged or failed
    best_val_acc: list[list[float]] = field(default_factory=list)  # NaN: failed
    iterations: list[list[float]] = field(default_factory=list)  # to target_loss; NaN: never
    diverged: list[list[bool]] = field(default_factory=list)
    failed: list[list[bool]] = field(default_factory=list)  # the run raised


@dataclass
class Result:
    learning_rates: dict[str, list[float]]  # family -> its learning rates
    runs: dict[str, dict[str, NetSweep]]  # family -> 'baseline' / 'batchnorm' -> the sweep
    training: dict[str, str]  # family -> how it was trained, e.g. 'Adam, 200 iterations'
    chance: float  # 1 / number of classes
    trains_fraction: float
    target_loss: float
    seeds: list[int]
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error


@functools.lru_cache(maxsize=2)  # the six-layer net's subset and the LeNets'
def _load_data(name: str, num_train: int | None, seed: int, dtype: str) -> dict[str, Any]:
    """A family's data, loaded once per process: every run of a family trains on the same."""
    return load_data(name, num_train=num_train, seed=seed, dtype=np.dtype(dtype))


def family_data(config: Config, family: str) -> dict[str, Any]:
    num_train = config.fc_num_train if family == "six-layer" else config.lenet_num_train
    return _load_data(config.data, num_train, config.seed, config.dtype)


def train_one(
    config: dict[str, Any],
    family: str,
    normalization: str | None,
    learning_rate: float,
    seed: int,
) -> dict[str, Any]:
    """One run: a ``family`` net with ``normalization``, trained at ``learning_rate`` from ``seed``.

    config: the Config's fields (``dataclasses.asdict``). Returns final_val_acc, best_val_acc,
    iterations (to the loss target; None if never), num_iterations (run), diverged, and the
    message of a diverged run.
    """
    config = Config(**config)
    data = family_data(config, family)
    dtype = np.dtype(config.dtype)
    if family == "six-layer":
        model = fc_net_for(
            data,
            SIX_LAYER.hidden_dims,
            normalization=normalization,
            weight_scale=SIX_LAYER.weight_scale,
            dtype=dtype,
            seed=seed,
        )
        training = dict(
            update_rule=config.fc_update_rule,
            num_epochs=config.fc_num_epochs,
            batch_size=SIX_LAYER.batch_size,
        )
    else:
        model = LeNet(
            input_dim=data["X_train"].shape[1:],
            num_classes=len(data["class_names"]),
            normalization=normalization,
            activation=ACTIVATIONS[family],
            weight_scale=LENET.weight_scale,
            dtype=dtype,
            seed=seed,
        )
        training = dict(
            update_rule=config.lenet_update_rule,
            num_epochs=config.lenet_num_epochs,
            batch_size=LENET.batch_size,
        )
    # Too large a learning rate overflows: expected here, and recorded as a divergence.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        solver, diverged = train_model_or_diverge(
            model,
            data,
            learning_rate=learning_rate,
            seed=seed,
            num_val_samples=config.num_val_samples,
            **training,
        )
    loss_history = solver.loss_history
    return sweep_result(
        solver,
        diverged,
        final_val_acc=float(solver.val_metric_history[-1]),
        best_val_acc=float(max(solver.val_metric_history)),
        iterations=first_below(loss_history, config.target_loss),
        num_iterations=len(loss_history),
    )


def describe_training(config: Config, family: str) -> str:
    """'Adam, 200 iterations of 50': the family's update rule and budget, for people."""
    names = {"adam": "Adam", "sgd": "SGD", "sgd_momentum": "SGD+momentum", "rmsprop": "RMSprop"}
    data = family_data(config, family)
    if family == "six-layer":
        rule, epochs, batch = config.fc_update_rule, config.fc_num_epochs, SIX_LAYER.batch_size
    else:
        rule, epochs, batch = config.lenet_update_rule, config.lenet_num_epochs, LENET.batch_size
    iterations = epochs * max(len(data["X_train"]) // batch, 1)  # the Solver's count
    return f"{names.get(rule, rule)}, {iterations} iterations of {batch}"


def run(config: Config, sweep: SweepOptions | None = None) -> Result:
    """Every family x net x learning rate x seed; ``sweep`` says where the runs go."""
    start = time.perf_counter()
    sweep = SweepOptions(jobs=1, progress=False) if sweep is None else sweep
    learning_rates = {family: config.learning_rates(family) for family in config.families}
    cells = [
        (family, label, i, seed)
        for family, rates in learning_rates.items()
        for i in range(len(rates))
        for label in NORM_SETTINGS
        for seed in config.seeds
    ]
    runs = [
        Run(
            train_one,
            {
                "config": dataclasses.asdict(config),
                "family": family,
                "normalization": NORM_SETTINGS[label],
                "learning_rate": learning_rates[family][i],
                "seed": seed,
            },
            label=f"{family} {label} lr {learning_rates[family][i]:.3g} seed {seed}",
        )
        for family, label, i, seed in cells
    ]
    records = run_sweep(runs, name="learning_rate", best="final_val_acc", **vars(sweep))
    sweeps = {
        family: {label: empty_sweep(len(rates), len(config.seeds)) for label in NORM_SETTINGS}
        for family, rates in learning_rates.items()
    }
    failed = {}
    for (family, label, i, seed), record in zip(cells, records, strict=True):
        s = config.seeds.index(seed)
        net = sweeps[family][label]
        if record.status == "error":  # unknown metrics: NaN, and the net does not "train"
            failed[record.label] = record.message
            net.failed[i][s] = True
            continue
        metrics = record.result
        diverged = record.status == "diverged"
        net.diverged[i][s] = diverged
        net.best_val_acc[i][s] = metrics["best_val_acc"]
        if not diverged:  # a diverged run has no final accuracy, and its curve is cut short
            net.final_val_acc[i][s] = metrics["final_val_acc"]
            reached = metrics["iterations"]
            net.iterations[i][s] = math.nan if reached is None else float(reached)
    first = next(iter(learning_rates), None)
    num_classes = len(family_data(config, first)["class_names"]) if first else 10
    return Result(
        learning_rates,
        sweeps,
        {family: describe_training(config, family) for family in learning_rates},
        1.0 / num_classes,
        config.trains_fraction,
        config.target_loss,
        list(config.seeds),
        time.perf_counter() - start,
        failed,
    )


def empty_sweep(num_lrs: int, num_seeds: int) -> NetSweep:
    """A NetSweep of NaN metrics, nothing diverged or failed, to fill in run by run."""

    def grid(value: Any) -> list[list[Any]]:
        return [[value] * num_seeds for _ in range(num_lrs)]

    return NetSweep(grid(math.nan), grid(math.nan), grid(math.nan), grid(False), grid(False))


# --- what the sweep says: the analysis the summary and the figure share ------------------------


def mean_over_seeds(values: list[list[float]]) -> np.ndarray:
    """(num_lrs,) the mean over seeds of the finite values; NaN where there is none."""
    grid = np.asarray(values, dtype=float)  # (num_lrs, num_seeds)
    finite = np.isfinite(grid)
    total = np.where(finite, grid, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    return np.divide(total, count, out=np.full(len(grid), math.nan), where=count > 0)


def trains_threshold(result: Result, family: str) -> float:
    """The mean final val accuracy a net of ``family`` needs to "train" (module docstring);
    chance itself if no net of the family beats chance."""
    means = np.concatenate([mean_over_seeds(n.final_val_acc) for n in result.runs[family].values()])
    means = means[np.isfinite(means)]
    best = max(float(means.max()), result.chance) if means.size else result.chance
    return result.chance + result.trains_fraction * (best - result.chance)


def trains(net: NetSweep, threshold: float, chance: float) -> np.ndarray:
    """(num_lrs,) bool: no seed diverged or failed, and the mean final val accuracy is at least
    ``threshold`` and above ``chance``."""
    mean = np.nan_to_num(mean_over_seeds(net.final_val_acc), nan=-1.0)
    clean = ~np.asarray(net.diverged).any(axis=1) & ~np.asarray(net.failed).any(axis=1)
    return clean & (mean >= threshold) & (mean > chance)


def fewest_iterations(net: NetSweep) -> np.ndarray:
    """(num_lrs,) the mean iterations to the loss target where every seed reached it, else NaN."""
    grid = np.asarray(net.iterations, dtype=float)  # (num_lrs, num_seeds)
    return grid.mean(axis=1)  # a NaN seed (never reached) makes its rate's mean NaN


def iteration_ratio(baseline: NetSweep, batchnorm: NetSweep) -> tuple[float, int]:
    """(median over the learning rates both nets reach the target at, in every seed, of the
    baseline's mean iterations / batchnorm's; how many such rates). NaN and 0 if none."""
    ratio = fewest_iterations(baseline) / fewest_iterations(batchnorm)
    ratio = ratio[np.isfinite(ratio)]
    return (float(np.median(ratio)), ratio.size) if ratio.size else (math.nan, 0)


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_learning_rate_sweep(
        result.learning_rates,
        result.runs,
        Path(out_dir) / "learning_rate.png",
        f"Learning rate sweeps with and without batchnorm ({len(result.seeds)} seed(s))",
        thresholds={family: trains_threshold(result, family) for family in result.runs},
        chance=result.chance,
        iterations_label=f"Iterations to loss < {result.target_loss:g} "
        f"({SMOOTHING}-iteration mean)",
        subtitles={family: f"{family} ({result.training[family]})" for family in result.runs},
    )
    return [path]


def _rates(rates: np.ndarray) -> str:
    """'1e-04 .. 0.0316 (4 rates)', 'none', or the one rate."""
    if rates.size == 0:
        return "none"
    if rates.size == 1:
        return f"{rates[0]:.3g} only"
    return f"{rates.min():.3g} .. {rates.max():.3g} ({rates.size} rates)"


def summarize(result: Result) -> str:
    lines = [
        f"{sum(len(r) for r in result.learning_rates.values())} learning rates x "
        f"{len(NORM_SETTINGS)} nets x {len(result.seeds)} seed(s) in {result.seconds:.1f} s; "
        f'"trains": no seed diverged and mean final val acc >= chance {result.chance:.2f} + '
        f"{result.trains_fraction:g} x (the family's best - chance)"
    ]
    verdicts = []
    for family, nets in result.runs.items():
        rates = np.asarray(result.learning_rates[family])
        threshold = trains_threshold(result, family)
        lines.append(
            f"{family} ({result.training[family]}): trains needs val acc >= {threshold:.3f}"
        )
        largest = {}
        for label, net in nets.items():
            ok = trains(net, threshold, result.chance)
            largest[label] = rates[ok].max() if ok.any() else None
            mean = mean_over_seeds(net.final_val_acc)
            best = int(np.nanargmax(mean)) if np.isfinite(mean).any() else None
            best_text = f"{mean[best]:.3f} at lr {rates[best]:.3g}" if best is not None else "none"
            iterations = fewest_iterations(net)
            fast = int(np.nanargmin(iterations)) if np.isfinite(iterations).any() else None
            fast_text = (
                f"{iterations[fast]:.0f} at lr {rates[fast]:.3g}" if fast is not None else "never"
            )
            diverged = rates[np.asarray(net.diverged).any(axis=1)]
            lines.append(
                f"  {label:>9}: trains at lr {_rates(rates[ok])}; best mean final val acc "
                f"{best_text}; fewest iterations to loss < {result.target_loss:g}: {fast_text}; "
                f"diverged at lr {_rates(diverged)}"
            )
        ratio, count = iteration_ratio(nets["baseline"], nets["batchnorm"])
        if count:
            lines.append(
                f"  at equal learning rates batchnorm needs {ratio:.2g}x fewer iterations "
                f"(median over the {count} rate(s) where both reach loss < {result.target_loss:g})"
            )
        plain, bn = largest["baseline"], largest["batchnorm"]
        if bn is None:
            verdicts.append(f"{family}: batchnorm trains at no rate")
        elif plain is None:
            verdicts.append(f"{family}: only batchnorm trains (up to {bn:.3g})")
        else:
            verdicts.append(
                f"{family}: largest rate {bn / plain:.3g}x larger with batchnorm "
                f"({bn:.3g} vs {plain:.3g})"
            )
    lines += [f"   failed: {label}: {message}" for label, message in result.failed.items()]
    lines.append("verdict: " + "; ".join(verdicts))
    return "\n".join(lines)
