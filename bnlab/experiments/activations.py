"""Study note 004: SimpleNet vs SimpleNetBN, and the distribution of the first layer's outputs.

The note trained two PyTorch nets on MNIST, 784 -> 64 -> 128 -> 10 with relu, the second
with batchnorm after each hidden affine layer, and found that (1) the batchnorm output of the
first layer keeps a steady Gaussian-like distribution over 20 epochs (its scale and shift
being gamma and beta), while the net without batchnorm feeds relu1 a distribution that keeps
changing; (2) the batchnorm net converges much faster.

Here the data is Fashion-MNIST (the bundled subset by default, the full set with
``data='fashion-mnist'``). At the end of every epoch (and before training, epoch 0) both nets
run in test mode on a fixed probe batch of validation images, and the quantiles of the
first-layer outputs are stored, pooled over the probe images and the 64 units: for the
baseline 'affine1' (the input to relu1), for the batchnorm net 'batchnorm1' (the input to its
relu1) and 'affine1' (the input to its batchnorm). At epoch 0 the batchnorm net's running
statistics are still their initial 0 / 1, so its test-mode 'batchnorm1' equals 'affine1'.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnlab.experiments.common import History, init_like_pytorch, load_data, train_model
from bnlab.nets import FullyConnectedNet
from bnlab.plotting import plot_training_curves
from bnlab.plotting.study_note_experiments import plot_quantile_bands
from bnlab.solver import Solver

# label -> (normalization, the layers whose outputs are recorded)
NETS = {
    "baseline": (None, ("affine1",)),
    "batchnorm": ("batchnorm", ("batchnorm1", "affine1")),
}
DATA_NAMES = {"bundled": "the bundled Fashion-MNIST subset", "fashion-mnist": "Fashion-MNIST"}


@dataclass
class Config:
    hidden_dims: tuple[int, ...] = (64, 128)  # the note's SimpleNet: 784 -> 64 -> 128 -> 10
    data: str = "bundled"  # the note's: MNIST; here Fashion-MNIST ('fashion-mnist': the full set)
    num_train: int | None = None  # training images (None: all of the dataset's)
    standardize: bool = True  # divide the pixels by their training std, as the note's Normalize
    num_epochs: int = 20  # the note's figure spans 20 epochs
    batch_size: int = 64
    update_rule: str = "sgd"  # plain SGD: the note names no optimiser
    learning_rate: float = 0.01
    num_probe: int = 1000  # fixed validation images whose activations are recorded
    quantiles: tuple[float, ...] = (5, 15, 50, 85, 95)  # percent
    seed: int = 0  # PyTorch-style weights (shared by both nets), minibatch order, subsets

    @classmethod
    def quick(cls) -> Config:
        return cls(num_train=1000, num_epochs=5, num_probe=200)


@dataclass
class Result:
    quantiles: list[float]  # percent, e.g. [5, 15, 50, 85, 95]
    bands: dict[str, dict[str, list[list[float]]]]  # label -> layer -> (epochs + 1, Q) quantiles
    runs: dict[str, History]  # label -> training curves
    data: str


def standardize_pixels(data: dict) -> dict:
    """X / std(X_train) for every split: unit pixel variance, like the note's Normalize."""
    std = data["X_train"].std()
    return {
        key: value / value.dtype.type(std) if key.startswith("X_") else value
        for key, value in data.items()
    }


def train_and_probe(
    config: Config,
    data: dict,
    probe: np.ndarray,
    normalization: str | None,
    layers: tuple[str, ...],
) -> tuple[dict[str, list[list[float]]], History]:
    """Train one net; returns (layer -> quantiles of its outputs on probe per epoch, curves)."""
    model = FullyConnectedNet(
        list(config.hidden_dims),
        input_dim=int(np.prod(probe.shape[1:])),
        num_classes=len(data["class_names"]),
        normalization=normalization,
        seed=config.seed,
    )
    init_like_pytorch(model, config.seed)
    bands: dict[str, list[list[float]]] = {layer: [] for layer in layers}

    def record(solver: Solver) -> None:
        outputs = solver.model.activations(probe)  # test mode: running statistics
        for layer, per_epoch in bands.items():
            per_epoch.append(np.percentile(outputs[layer], config.quantiles).tolist())

    solver = train_model(
        model,
        data,
        update_rule=config.update_rule,
        learning_rate=config.learning_rate,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        on_epoch_end=record,
    )
    return bands, History.from_solver(solver)


def run(config: Config) -> Result:
    data = load_data(config.data, num_train=config.num_train, seed=config.seed)
    if config.standardize:
        data = standardize_pixels(data)
    probe = data["X_val"][: config.num_probe]
    bands, runs = {}, {}
    for label, (normalization, layers) in NETS.items():
        bands[label], runs[label] = train_and_probe(config, data, probe, normalization, layers)
    return Result(list(config.quantiles), bands, runs, config.data)


def plot(result: Result, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    name = f"784-64-128-10 relu net on {DATA_NAMES.get(result.data, result.data)}"
    bands = plot_quantile_bands(
        result.bands,
        result.quantiles,
        out_dir / "activations_quantiles.png",
        f"First-layer outputs on a fixed probe batch, {name}",
    )
    curves = plot_training_curves(
        result.runs, out_dir / "activations_curves.png", f"{name}: baseline vs batchnorm"
    )
    return [bands, curves]


def median_and_spread(quantiles: list[float], per_epoch: list[float]) -> tuple[float, float]:
    """(median, half the 15-85 % range: about one std for a Gaussian) of one epoch's quantiles."""
    q = dict(zip(quantiles, per_epoch, strict=True))
    return q[50], (q[85] - q[15]) / 2


def last_epoch_loss(history: History) -> float:
    """The mean minibatch loss of the last epoch (nan if there was no epoch)."""
    num_epochs = len(history.val_metric_history) - 1  # the history starts with epoch 0
    if num_epochs < 1 or not history.loss_history:
        return float("nan")
    iterations_per_epoch = len(history.loss_history) // num_epochs
    return float(np.mean(history.loss_history[-iterations_per_epoch:]))


def summarize(result: Result) -> str:
    lines = ["first-layer outputs on the probe batch, (median, half the 15-85 % range ~ std):"]
    for label, layers in result.bands.items():
        for layer, per_epoch in layers.items():
            stats = [median_and_spread(result.quantiles, q) for q in per_epoch]
            last = len(stats) - 1
            shown = sorted({0, 1, last // 2, last})
            parts = [f"epoch {e} ({stats[e][0]:+.2f}, {stats[e][1]:.2f})" for e in shown]
            lines.append(f"{label:>9} {layer:<10} " + ", ".join(parts))
    for label, history in result.runs.items():
        val = history.val_metric_history
        lines.append(
            f"{label:>9}: val acc after epoch 1 {val[1]:.3f}, final {val[-1]:.3f}, best "
            f"{max(val):.3f}; last epoch's mean training loss {last_epoch_loss(history):.3f}"
        )
    return "\n".join(lines)
