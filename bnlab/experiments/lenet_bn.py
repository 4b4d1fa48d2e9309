"""Study note 001: LeNet with and without batchnorm on Fashion-MNIST, 10 epochs.

The note (on d2l's batchnorm chapter) trains LeNet-5 -- sigmoid activations, average pooling --
with batchnorm after every conv and hidden affine layer, by minibatch SGD at learning rate
1.0, batch 256, for 10 epochs, and compares it with d2l's plain LeNet (learning rate 0.9):
with batchnorm "the test accuracy reaches about 0.9 in the same ten epochs".

d2l's exact setting gives 0.891 in bnlab (``Config.d2l()``). The default trains the same nets for
the same 10 epochs with SGD + momentum 0.9 at learning rate 0.2, decayed by 0.8 per epoch, on
minibatches of 64: the batchnorm LeNet then passes 0.90 (docs/experiments.md has both runs).
Both nets start from the same Xavier weights (d2l's ``init_cnn``) and see the same minibatches.
The data is the full Fashion-MNIST where it is installed (55000 train / 5000 validation /
10000 test), else the bundled subset. The Solver keeps the params with the best validation
accuracy; the test accuracy is measured once, on those, after training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnlab.experiments.activations import last_epoch_loss
from bnlab.experiments.common import History, load_data, make_solver
from bnlab.nets import LeNet
from bnlab.plotting import plot_training_curves

DATA_NAMES = {"bundled": "the bundled Fashion-MNIST subset", "fashion-mnist": "Fashion-MNIST"}
UPDATE_RULE_NAMES = {"sgd": "SGD", "sgd_momentum": "SGD+momentum"}


@dataclass
class Config:
    data: str = "fashion-mnist"  # the note's; falls back to 'bundled' (with a note) if missing
    num_train: int | None = None  # training images, a random subset (None: all 55000)
    num_epochs: int = 10  # the note's
    batch_size: int = 64  # the note's is 256: 4x the steps for the same 10 epochs
    update_rule: str = "sgd_momentum"  # the note's is plain 'sgd'; no weight decay in either
    learning_rate: float = 0.2  # for the batchnorm LeNet (the note's: 1.0 with plain SGD)
    baseline_learning_rate: float = 0.2  # for the plain LeNet (the note's: 0.9)
    lr_decay: float = 0.8  # the learning rate's factor after every epoch (the note's: 1.0)
    weight_scale: float | str = "xavier"  # d2l's init_cnn (xavier_uniform_: the same std)
    num_train_samples: int | None = 5000  # training images the per-epoch train accuracy uses
    seed: int = 0  # weights (shared by both nets), minibatch order, subsets

    @classmethod
    def d2l(cls, **changes: Any) -> Config:
        """The note's exact setting: d2l's plain SGD at 1.0 (0.9 without batchnorm), batch 256.

        On the command line: ``--set update_rule=sgd --set learning_rate=1.0
        --set baseline_learning_rate=0.9 --set lr_decay=1.0 --set batch_size=256``.
        """
        d2l = dict(
            update_rule="sgd",
            learning_rate=1.0,
            baseline_learning_rate=0.9,
            lr_decay=1.0,
            batch_size=256,
        )
        return cls(**{**d2l, **changes})

    @classmethod
    def quick(cls) -> Config:
        # The note's setting for 20 iterations of 25: the batchnorm net is well ahead by then,
        # the baseline still at chance.
        return cls.d2l(
            data="bundled", num_train=500, num_epochs=1, batch_size=25, num_train_samples=500
        )


@dataclass
class Result:
    runs: dict[str, History]  # 'baseline', 'batchnorm' -> curves
    test_acc: dict[str, float]  # label -> test accuracy of the best-validation params
    seconds: dict[str, float]  # label -> wall time of training and evaluation
    learning_rates: dict[str, float]  # label -> the (initial) learning rate it was trained with
    update_rule: str  # the same for both nets, as are the two below
    lr_decay: float
    data: str  # the dataset actually used
    num_train: int


def load_or_fall_back(config: Config) -> tuple[dict, str]:
    """(data, its name): ``config.data``, or the bundled subset if those files are missing."""
    try:
        return load_data(config.data, num_train=config.num_train, seed=config.seed), config.data
    except FileNotFoundError:
        print(f"note: dataset {config.data!r} is not installed; using the bundled subset instead")
        return load_data("bundled", num_train=config.num_train, seed=config.seed), "bundled"


def run(config: Config) -> Result:
    data, data_name = load_or_fall_back(config)
    nets = {
        "baseline": (None, config.baseline_learning_rate),
        "batchnorm": ("batchnorm", config.learning_rate),
    }
    shared = dict(  # the same training for both nets but the learning rate
        update_rule=config.update_rule,
        lr_decay=config.lr_decay,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        num_train_samples=config.num_train_samples,
        seed=config.seed,
    )
    # Both Solvers are built first: a bad setting for the second net stops the run before the
    # first net has spent minutes training.
    solvers = {}
    for label, (normalization, learning_rate) in nets.items():
        model = LeNet(
            input_dim=data["X_train"].shape[1:],
            num_classes=len(data["class_names"]),
            normalization=normalization,
            weight_scale=config.weight_scale,
            seed=config.seed,
        )
        solvers[label] = make_solver(model, data, learning_rate=learning_rate, **shared)
    runs, test_acc, seconds = {}, {}, {}
    for label, solver in solvers.items():
        start = time.perf_counter()
        solver.train()
        runs[label] = History.from_solver(solver)
        test_acc[label] = solver.check_metric(data["X_test"], data["y_test"], batch_size=500)
        seconds[label] = time.perf_counter() - start
    return Result(
        runs,
        test_acc,
        seconds,
        {label: learning_rate for label, (_, learning_rate) in nets.items()},
        config.update_rule,
        config.lr_decay,
        data_name,
        len(data["X_train"]),
    )


def training(result: Result, label: str) -> str:
    """How net ``label`` was trained, e.g. 'SGD+momentum, lr 0.2 ×0.8 per epoch'."""
    rule = UPDATE_RULE_NAMES.get(result.update_rule, result.update_rule)
    decay = f" ×{result.lr_decay} per epoch" if result.lr_decay != 1 else ""
    return f"{rule}, lr {result.learning_rates[label]}{decay}"


def plot(result: Result, out_dir: Path) -> list[Path]:
    runs = {f"{label} ({training(result, label)})": h for label, h in result.runs.items()}
    name = DATA_NAMES.get(result.data, result.data)
    path = plot_training_curves(
        runs,
        Path(out_dir) / "lenet_bn.png",
        f"LeNet (sigmoid, avg pool) on {name}, {result.num_train} training images",
    )
    return [path]


def summarize(result: Result) -> str:
    lines = [
        f"data: {DATA_NAMES.get(result.data, result.data)}, {result.num_train} training images; "
        f"{training(result, 'batchnorm')} (batchnorm), {training(result, 'baseline')} (baseline)"
    ]
    for label, history in result.runs.items():
        lines.append(
            f"{label:>9} (lr {result.learning_rates[label]}): test acc "
            f"{result.test_acc[label]:.4f}; val acc final {history.val_metric_history[-1]:.4f} "
            f"best {max(history.val_metric_history):.4f}; train acc final "
            f"{history.train_metric_history[-1]:.4f}; last epoch's mean loss "
            f"{last_epoch_loss(history):.4f}; {result.seconds[label]:.0f} s"
        )
    return "\n".join(lines)
