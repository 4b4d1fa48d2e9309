"""``bnlab train``: a baseline and a batchnorm FullyConnectedNet side by side, with plots.

The README's main command. With no options it trains on the Fashion-MNIST subset bundled with
bnlab (no download), prints progress and final accuracies, and writes ``bnlab-out/train.png``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations: each step imports what it uses when it runs
    from bnlab.nets import FullyConnectedNet
    from bnlab.solver import Solver

HELP = "train baseline vs batchnorm fully connected nets and plot their curves"

NORM_LABELS = {"none": "baseline", "batchnorm": "batchnorm", "layernorm": "layernorm"}


@dataclass
class TrainConfig:
    data: str = "bundled"  # bundled | fashion-mnist | mnist | cifar10 | synthetic
    data_path: str | None = None  # a folder holding the dataset's files (default: search)
    hidden: list[int] = field(default_factory=lambda: [100] * 5)  # study note 003's deep net
    norms: list[str] = field(default_factory=lambda: ["none", "batchnorm"])  # one model each
    activation: str = "relu"
    update: str = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0  # learning rate multiplied by this after every epoch
    keep: float = 1.0  # dropout_keep_ratio, 1 = no dropout (conventions: bnlab.layers.dropout)
    epochs: int = 10
    batch_size: int = 100
    reg: float = 0.0
    weight_scale: str = "2e-2"  # a number, 'he' or 'xavier'
    dtype: str = "float32"
    seed: int = 0
    num_train: int | None = None  # a stratified random subset of N training examples (seeded)
    out: str = "bnlab-out"
    checkpoint: str | None = None  # prefix for per-epoch checkpoints
    resume: str | None = None  # a checkpoint file to continue from


def _positive_int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 100,100,100; got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 100,100; got {text!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the library's registries, so a new activation or update rule is a choice here at once
    from bnlab.nets.registry import ACTIVATIONS
    from bnlab.solver.optim import UPDATE_RULES

    d = TrainConfig()
    add = parser.add_argument
    add("--data", default=d.data, help=f"dataset name (default: {d.data}, shipped with bnlab)")
    add("--data-path", default=None, help="folder with the dataset files (default: search)")
    add("--hidden", type=_positive_int_list, default=d.hidden, help="hidden sizes, e.g. 100,100")
    add(
        "--norm",
        dest="norms",
        nargs="+",
        choices=sorted(NORM_LABELS),
        default=d.norms,
        help="normalisations to compare, one model each (default: none batchnorm)",
    )
    add("--activation", default=d.activation, choices=sorted(ACTIVATIONS))
    add(
        "--update",
        default=d.update,
        choices=list(UPDATE_RULES),
        help="an update rule of bnlab.solver.optim",
    )
    add("--lr", type=float, default=d.lr, help=f"learning rate (default: {d.lr})")
    add("--lr-decay", type=float, default=d.lr_decay, help="lr multiplier per epoch")
    add(
        "--keep",
        type=float,
        default=d.keep,
        help="FullyConnectedNet's dropout_keep_ratio (1 = no dropout; the conventions: "
        "bnlab.layers.dropout's docstring)",
    )
    add("--epochs", type=int, default=None, help=f"(default: {d.epochs}; 2 with --quick)")
    add("--batch-size", type=int, default=d.batch_size)
    add("--reg", type=float, default=d.reg, help="L2 regularisation strength")
    add("--weight-scale", default=d.weight_scale, help="init std, or 'he' / 'xavier'")
    add("--dtype", default=d.dtype, choices=["float32", "float64"])
    add("--seed", type=int, default=d.seed)
    add(
        "--num-train",
        type=int,
        default=None,
        help="train on N examples, a random subset (drawn with --seed) with every class in its "
        "share of the full training set",
    )
    add("--out", default=d.out, help="folder for the figure and summary (default: bnlab-out)")
    add("--checkpoint", default=None, help="write PREFIX-<model>_epoch_<n>.pkl every epoch")
    add(
        "--resume",
        default=None,
        help="continue training from a checkpoint file; it is checked (a checksum) and loaded "
        "safely: only numpy arrays, builtin containers and bnlab's own models and update rules "
        "are unpickled, so a hostile file's code does not run (a plain pickle.load would run it)",
    )
    add(
        "--quick",
        action="store_true",
        help="a few seconds: 2 epochs on 1000 examples (too short for batchnorm's running "
        "statistics to settle, so its test-mode accuracy can trail the baseline's)",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The options are named after TrainConfig's fields, so they map one to one."""
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    if args.epochs is None:
        values["epochs"] = 2 if args.quick else TrainConfig.epochs
    if args.quick:
        values["num_train"] = values["num_train"] or 1000
    return TrainConfig(**values)


def _weight_scale(text: str) -> float | str:
    return text if text in ("he", "xavier") else float(text)


def _dtype(config: TrainConfig) -> type:
    import numpy as np

    return np.float32 if config.dtype == "float32" else np.float64


def train(config: TrainConfig) -> dict:
    """Train one model per entry of ``config.norms`` (or resume one); returns the summary dict.

    The steps, one function each: load the data, build the Solvers, train them, evaluate
    them, report (print the table, write ``train.png`` and ``train.json``).
    """
    data = load(config)
    solvers = build(config, data)
    fit(solvers)
    results = evaluate(solvers, data)
    return report(config, solvers, results)


def load(config: TrainConfig) -> dict[str, Any]:
    """The dataset; with ``num_train``, a stratified random subset of its training examples."""
    from bnlab.experiments.common import load_data

    data = load_data(
        config.data,
        config.num_train,
        seed=config.seed,
        dtype=_dtype(config),
        path=config.data_path,
        stratify=True,
    )
    print(
        f"data: {config.data}, {len(data['X_train'])} train / {len(data['X_val'])} val / "
        f"{len(data['X_test'])} test examples of shape {data['X_train'].shape[1:]}"
    )
    return data


def build(config: TrainConfig, data: dict[str, Any]) -> dict[str, Solver]:
    """label -> an untrained Solver: one per normalisation, or the one resumed from a file."""
    from bnlab.experiments.common import make_solver
    from bnlab.solver import Solver

    if config.resume:
        solver = Solver.resume(config.resume, data, num_epochs=config.epochs)
        return {f"resumed ({Path(config.resume).name})": solver}
    solvers = {}
    for norm in config.norms:
        label = NORM_LABELS[norm]
        solvers[label] = make_solver(
            build_model(config, data, norm),
            data,
            update_rule=config.update,
            learning_rate=config.lr,
            lr_decay=config.lr_decay,
            num_epochs=config.epochs,
            batch_size=config.batch_size,
            checkpoint_name=f"{config.checkpoint}-{label}" if config.checkpoint else None,
            print_every=10**9,  # the per-epoch progress bar and summary say enough
            seed=config.seed,
            verbose=True,
        )
    return solvers


def build_model(config: TrainConfig, data: dict[str, Any], norm: str) -> FullyConnectedNet:
    """The FullyConnectedNet of ``config`` with normalisation ``norm`` ('none': the baseline)."""
    import numpy as np

    from bnlab.experiments.common import fc_net_for

    model = fc_net_for(
        data,
        config.hidden,
        normalization=None if norm == "none" else norm,
        reg=config.reg,
        dropout_keep_ratio=config.keep,
        weight_scale=_weight_scale(config.weight_scale),
        dtype=_dtype(config),
        seed=config.seed,
        activation=config.activation,
    )
    if model.use_dropout:  # a fresh mask every step (seed alone would fix it, as in cs231n)
        model.dropout_param["rng"] = np.random.default_rng(config.seed)
    return model


def fit(solvers: dict[str, Solver]) -> None:
    """Train every Solver in turn; each keeps its best-by-validation params at the end."""
    for label, solver in solvers.items():
        print(f"-- training {label}")
        solver.train()


def evaluate(solvers: dict[str, Solver], data: dict[str, Any]) -> dict[str, dict]:
    """label -> accuracy on each split and the number of epochs trained."""
    return {
        label: {
            "train_acc": solver.check_metric(data["X_train"], data["y_train"]),
            "val_acc": solver.check_metric(data["X_val"], data["y_val"]),
            "test_acc": solver.check_metric(data["X_test"], data["y_test"]),
            "epochs": len(solver.val_metric_history) - 1,
        }
        for label, solver in solvers.items()
    }


def report(config: TrainConfig, solvers: dict[str, Solver], results: dict[str, dict]) -> dict:
    """Write the figure and ``train.json`` to ``config.out``, print the table; the summary."""
    from bnlab.plotting import plot_training_curves

    out = Path(config.out)
    title = f"{config.data}: hidden {config.hidden}, {config.update} lr {config.lr}"
    summary: dict = {"config": asdict(config), "results": results}
    summary["figure"] = str(plot_training_curves(solvers, out / "train.png", title))
    (out / "train.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'model':<12} {'train':>7} {'val':>7} {'test':>7}")
    for label, r in results.items():
        print(f"{label:<12} {r['train_acc']:7.4f} {r['val_acc']:7.4f} {r['test_acc']:7.4f}")
    print(f"figure: {summary['figure']}")
    return summary


def run(args: argparse.Namespace) -> int:
    from bnlab.solver import TrainingDiverged

    try:
        train(config_from_args(args))
    except TrainingDiverged as error:
        print(f"bnlab train: {error}")
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f"bnlab train: {error}")
        return 2
    return 0
