"""Study note 003: a six-layer net on 1000 examples, trained with and without batchnorm.

Both nets start from the same weights (same init seed; batchnorm adds gamma = 1, beta = 0)
and see the same minibatches. The note trained on CIFAR-10 and found that the batchnorm
net converges faster. The default data is bnlab's bundled Fashion-MNIST subset, which needs no
download; ``data='cifar10'`` runs the note's setting where the CIFAR-10 files are installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnlab.experiments.common import History, fc_net_for, load_data, train_model
from bnlab.plotting import plot_training_curves

NORM_SETTINGS = {"baseline": None, "batchnorm": "batchnorm"}  # label -> the net's normalization
SMOOTHING = 20  # iterations averaged before comparing the loss with target_loss


@dataclass
class Config:
    hidden_dims: tuple[int, ...] = (100,) * 5  # the note's five hidden layers of 100
    num_train: int = 1000  # training examples, a random subset (the note's small_data)
    num_epochs: int = 10
    batch_size: int = 50
    learning_rate: float = 1e-3  # Adam
    weight_scale: float = 2e-2  # std of the initial weights
    data: str = "bundled"  # the note's: 'cifar10' (where installed); 'fashion-mnist', 'synthetic'
    target_loss: float = 1.0  # report the first iteration whose 20-iteration mean is below this
    seed: int = 0  # data subset, weights (shared by both nets) and minibatch order

    @classmethod
    def quick(cls) -> Config:
        return cls(num_train=200, num_epochs=2)


@dataclass
class Result:
    runs: dict[str, History]  # 'baseline', 'batchnorm' -> curves
    target_loss: float
    data: str  # the dataset's name
    num_train: int


def run(config: Config) -> Result:
    data = load_data(config.data, num_train=config.num_train, seed=config.seed)
    runs = {}
    for label, normalization in NORM_SETTINGS.items():
        model = fc_net_for(
            data,
            config.hidden_dims,
            normalization=normalization,
            weight_scale=config.weight_scale,
            seed=config.seed,
        )
        solver = train_model(
            model,
            data,
            learning_rate=config.learning_rate,
            num_epochs=config.num_epochs,
            batch_size=config.batch_size,
            seed=config.seed,
        )
        runs[label] = History.from_solver(solver)
    return Result(runs, config.target_loss, config.data, config.num_train)


def first_below(loss_history: list[float], target: float, width: int = SMOOTHING) -> int | None:
    """The first iteration (1-based, at the end of its window) whose mean loss over the last
    ``width`` iterations is below ``target``; None if it never gets there."""
    loss = np.asarray(loss_history, dtype=float)
    if len(loss) < width:
        return None
    smooth = np.convolve(loss, np.ones(width) / width, mode="valid")  # (len - width + 1,)
    below = np.flatnonzero(smooth < target)
    return int(below[0]) + width if below.size else None


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_training_curves(
        result.runs,
        Path(out_dir) / "bn_vs_baseline.png",
        f"Six-layer net on {result.num_train} training examples ({result.data!r} data)",
    )
    return [path]


def summarize(result: Result) -> str:
    lines = []
    for label, history in result.runs.items():
        reached = first_below(history.loss_history, result.target_loss)
        when = f"iteration {reached}" if reached is not None else "never"
        lines.append(
            f"{label:>9}: train acc final {history.train_metric_history[-1]:.3f} best "
            f"{max(history.train_metric_history):.3f}; val acc final {history.val_metric_history[-1]:.3f} "
            f"best {max(history.val_metric_history):.3f}; final loss "
            f"{np.mean(history.loss_history[-SMOOTHING:]):.3f} ({SMOOTHING}-iteration mean); "
            f"loss < {result.target_loss:g}: {when}"
        )
    return "\n".join(lines)
