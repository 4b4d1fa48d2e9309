"""Study notes 001 and 003: batchnorm and dropout, alone and together, and the variance shift.

Note 001 says "batchnorm is usually not combined with dropout"; note 003 says "batchnorm
slightly reduces the need for dropout, as a regulariser". Versions of bn-vs-baseline's
six-layer net (plain, batchnorm only, and dropout only and both at each keep ratio) train with
the same budget and seeds; the gap between final train and val accuracy shows how much each
one overfits.

Why the combination is awkward (Li et al., 2019, "Understanding the disharmony between dropout
and batch normalization by variance shift"): in the "both" net, dropout{i} feeds affine{i+1}
and then batchnorm{i+1}. Inverted dropout keeps a unit with probability p and scales it by 1/p,
so at train time it inflates the variance of what follows; at test time dropout is off and the
variance is smaller. Batchnorm's running variance was accumulated in train mode, so at test
time it normalises with the wrong (too large) variance. We measure, per feature, the variance
of 'affine2' (batchnorm2's input) in train mode (dropout active) and test mode (dropout off)
on the same examples, and report the mean of their ratio, and the mean ratio of batchnorm2's
running variance to the test-mode variance.

Li et al.'s fix is to put dropout only after the last batchnorm. The "both-last" nets do that
(``dropout_position='last'``): batchnorm in every hidden layer, dropout only after the last
hidden layer's relu, where it feeds the output affine layer and no batchnorm. Their variance
ratio is measured at the same place as the "both" nets' (affine2, batchnorm2's input): there no
dropout precedes it, so the ratio shows what is left without dropout's shift (batchnorm1's
batch vs running statistics), the baseline the "both" nets' ratio is to be read against.

The (2 + 3 x len(keep_ratios)) x len(seeds) trainings are independent runs of one sweep
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

from bnlab.experiments.common import fc_net_for, load_data, train_model
from bnlab.experiments.sweep import Run, SweepOptions, run_sweep
from bnlab.plotting.bn_experiments import plot_dropout_comparison

METRICS = ("train_acc", "val_acc", "variance_ratio", "running_var_ratio")


@dataclass
class Config:
    hidden_dims: tuple[int, ...] = (100,) * 5  # bn-vs-baseline's five hidden layers of 100
    keep_ratios: tuple[float, ...] = (0.5, 0.8)  # dropout's keep probabilities: one net each
    num_train: int = 5000  # training examples, a random subset
    num_epochs: int = 20
    batch_size: int = 50
    learning_rate: float = 1e-3  # Adam
    weight_scale: float = 2e-2  # std of the initial weights
    num_variance_samples: int = 500  # validation examples the variance shift is measured on
    data: str = "bundled"  # 'fashion-mnist', 'cifar10' (where installed), 'synthetic'
    dtype: str = "float32"
    seeds: tuple[int, ...] = (0, 1, 2)  # each: weights, minibatch order, dropout masks
    seed: int = 0  # the training subset

    @classmethod
    def quick(cls) -> Config:
        return cls(num_train=500, num_epochs=3, num_variance_samples=200, seeds=(0,))

    @property
    def nets(self) -> dict[str, tuple[bool, float, str]]:
        """label -> (batchnorm, keep ratio, dropout_position): plain, batchnorm, then per keep
        ratio dropout and both (dropout after every hidden layer) and both-last (only after the
        last one)."""
        nets = {"plain": (False, 1.0, "every"), "batchnorm": (True, 1.0, "every")}
        for keep in self.keep_ratios:
            nets[f"dropout {keep:g}"] = (False, keep, "every")
            nets[f"both {keep:g}"] = (True, keep, "every")
            nets[f"both-last {keep:g}"] = (True, keep, "last")
        return nets


@dataclass
class Result:
    nets: dict[str, dict[str, list[float]]]  # net -> metric -> one value per seed (NaN: failed)
    seeds: list[int]
    seconds: float
    failed: dict[str, str] = field(default_factory=dict)  # run label -> error


@functools.lru_cache(maxsize=1)
def _load_data(name: str, num_train: int, seed: int, dtype: str) -> dict[str, Any]:
    """The sweep's data, loaded once per process: every run trains on the same."""
    return load_data(name, num_train=num_train, seed=seed, dtype=np.dtype(dtype))


def variance_shift(model: Any, X: np.ndarray, layer: str = "affine2") -> tuple[float, float]:
    """(mean over features of var_train / var_test, mean of running_var / var_test) for ``layer``.

    X: (N, ...) examples; ``layer`` is the input of the batchnorm that follows it. Test mode is
    measured first: train mode updates the running statistics.
    """
    var_test = model.activations(X, mode="test")[layer].var(axis=0)  # (D,)
    index = int(layer.removeprefix("affine")) - 1  # batchnorm{i}'s bn_params entry
    running_var = np.asarray(model.bn_params[index]["running_var"], dtype=float)  # (D,)
    var_train = model.activations(X, mode="train")[layer].var(axis=0)  # (D,)
    return float(np.mean(var_train / var_test)), float(np.mean(running_var / var_test))


def train_one(
    config: dict[str, Any],
    batchnorm: bool,
    keep_ratio: float,
    seed: int,
    dropout_position: str = "every",
) -> dict[str, Any]:
    """One run: the net, with batchnorm or not and dropout keeping ``keep_ratio``, from ``seed``.

    config: the Config's fields (``dataclasses.asdict``); dropout_position: 'every' hidden
    layer or the 'last' one only (FullyConnectedNet's option). Returns final train_acc and
    val_acc (the last epoch's), and with both batchnorm and dropout the variance shift at
    batchnorm2's input (see :func:`variance_shift`; NaN otherwise).
    """
    config = Config(**config)
    data = _load_data(config.data, config.num_train, config.seed, config.dtype)
    uses_dropout = keep_ratio < 1
    model = fc_net_for(
        data,
        config.hidden_dims,
        normalization="batchnorm" if batchnorm else None,
        dropout_keep_ratio=keep_ratio,
        dropout_position=dropout_position,
        weight_scale=config.weight_scale,
        dtype=np.dtype(config.dtype),
        seed=seed,
    )
    if uses_dropout:  # a fresh mask every minibatch (a bare seed repeats one mask)
        model.dropout_param["rng"] = np.random.default_rng(seed + 1000)
    solver = train_model(
        model,
        data,
        learning_rate=config.learning_rate,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        seed=seed,
    )
    result = {
        "train_acc": float(solver.train_metric_history[-1]),
        "val_acc": float(solver.val_metric_history[-1]),
        "variance_ratio": math.nan,
        "running_var_ratio": math.nan,
    }
    if batchnorm and uses_dropout:
        X = data["X_val"][: config.num_variance_samples]
        result["variance_ratio"], result["running_var_ratio"] = variance_shift(model, X)
    return result


def run(config: Config, sweep: SweepOptions | None = None) -> Result:
    """Every net for every seed; ``sweep`` says where the runs go (default: in-process)."""
    start = time.perf_counter()
    sweep = SweepOptions(jobs=1, progress=False) if sweep is None else sweep
    pairs = [(net, seed) for seed in config.seeds for net in config.nets]
    runs = [
        Run(
            train_one,
            {
                "config": dataclasses.asdict(config),
                "batchnorm": config.nets[net][0],
                "keep_ratio": config.nets[net][1],
                "seed": seed,
                "dropout_position": config.nets[net][2],
            },
            label=f"{net} seed {seed}",
        )
        for net, seed in pairs
    ]
    records = run_sweep(runs, name="dropout", best="val_acc", **vars(sweep))
    nets = {net: {metric: [] for metric in METRICS} for net in config.nets}
    failed = {}
    for (net, _), record in zip(pairs, records, strict=True):
        if record.status == "error":
            failed[record.label] = record.message
            metrics = dict.fromkeys(METRICS, math.nan)
        else:
            metrics = record.result
        for metric in METRICS:
            nets[net][metric].append(float(metrics[metric]))
    return Result(nets, list(config.seeds), time.perf_counter() - start, failed)


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_dropout_comparison(
        result.nets,
        Path(out_dir) / "dropout.png",
        f"Dropout (keep ratio after the name) and batchnorm, {len(result.seeds)} seed(s); "
        "both-last: dropout only after the last hidden layer",
    )
    return [path]


def summarize(result: Result) -> str:
    lines = [
        f"{len(result.nets)} nets x {len(result.seeds)} seed(s) in {result.seconds:.1f} s "
        "(final epoch, mean over seeds)"
    ]
    for net, metrics in result.nets.items():
        train, val = np.nanmean(metrics["train_acc"]), np.nanmean(metrics["val_acc"])
        lines.append(
            f"{net:>13}: train acc {train:.3f}, val acc {val:.3f}, gap {train - val:.3f}"
            f" (val per seed: {', '.join(f'{v:.3f}' for v in metrics['val_acc'])})"
        )
    for net, metrics in result.nets.items():
        if np.isfinite(metrics["variance_ratio"]).any():
            lines.append(
                f"variance shift ({net}, batchnorm2's input): var train / var test "
                f"{np.nanmean(metrics['variance_ratio']):.3f}; running_var / var test "
                f"{np.nanmean(metrics['running_var_ratio']):.3f}"
            )
    lines += _fix_lines(result.nets)
    lines += [f"   failed: {label}: {message}" for label, message in result.failed.items()]
    return "\n".join(lines)


def _fix_lines(nets: dict[str, dict[str, list[float]]]) -> list[str]:
    """Li et al.'s fix against the 'both' net, per keep ratio: variance ratio and val accuracy."""
    lines = []
    for net, last in nets.items():
        if not net.startswith("both-last "):
            continue
        keep = net.removeprefix("both-last ")
        every = nets.get(f"both {keep}")
        if every is None:
            continue
        lines.append(
            f"fix at keep {keep} (dropout only after the last batchnorm): var train / var test "
            f"{np.nanmean(last['variance_ratio']):.3f} (both: "
            f"{np.nanmean(every['variance_ratio']):.3f}); val acc "
            f"{np.nanmean(last['val_acc']):.3f} (both: {np.nanmean(every['val_acc']):.3f}); gap "
            f"{np.nanmean(last['train_acc']) - np.nanmean(last['val_acc']):.3f} (both: "
            f"{np.nanmean(every['train_acc']) - np.nanmean(every['val_acc']):.3f})"
        )
    return lines
