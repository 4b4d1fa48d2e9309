"""``bnlab train``: a baseline and a batchnorm FullyConnectedNet side by side, with plots.

The README's main command. With no options it trains on the Fashion-MNIST subset bundled with
bnlab (no download), prints progress and final accuracies, and writes ``bnlab-out/train.png``.

Ctrl-C stops the run cleanly: the models that finished are reported as usual, one line says
where the stopped model's last checkpoint is and how to resume it, and the exit status is 130.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bnlab.commands.arguments import UsageError, check_output_folder, count, number

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
    weight_scale: str | None = "2e-2"  # a number, 'he' or 'xavier' (None: resumed, not drawn)
    dtype: str = "float32"
    seed: int = 0
    num_train: int | None = None  # a stratified random subset of N training examples (seeded)
    out: str = "bnlab-out"
    checkpoint: str | None = None  # prefix for per-epoch checkpoints
    checkpoint_overwrite: bool = False  # delete another run's checkpoints under that prefix first
    resume: str | None = None  # a checkpoint file to continue from


def _positive_int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 100,100,100; got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 100,100; got {text!r}")
    return values


def _weight_scale_text(text: str) -> str:
    """An argparse type: 'he', 'xavier' or a finite number > 0 (kept as written)."""
    if text not in ("he", "xavier"):
        try:
            number(0, open_minimum=True)(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected 'he', 'xavier' or a finite number > 0, got {text!r}"
            ) from None
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the library's registries, so a new activation or update rule is a choice here at once
    from bnlab.nets.registry import ACTIVATIONS
    from bnlab.solver.optim import UPDATE_RULES

    # Every option defaults to None and config_from_args fills in TrainConfig's default, so
    # that with --resume the options the user gave can be told from the defaults.
    d = TrainConfig()
    add = parser.add_argument
    add("--data", help=f"dataset name (default: {d.data}, shipped with bnlab)")
    add("--data-path", help="folder with the dataset files (default: search)")
    add("--hidden", type=_positive_int_list, help="hidden sizes, e.g. 100,100 (default: 5 x 100)")
    add(
        "--norm",
        dest="norms",
        nargs="+",
        choices=sorted(NORM_LABELS),
        help="normalisations to compare, one model each (default: none batchnorm)",
    )
    add("--activation", choices=sorted(ACTIVATIONS), help=f"(default: {d.activation})")
    add(
        "--update",
        choices=list(UPDATE_RULES),
        help=f"an update rule of bnlab.solver.optim (default: {d.update})",
    )
    add("--lr", type=number(0, open_minimum=True), help=f"learning rate (default: {d.lr})")
    add("--lr-decay", type=number(0, open_minimum=True), help="lr multiplier per epoch")
    add(
        "--keep",
        type=number(0, 1, open_minimum=True),
        help="FullyConnectedNet's dropout_keep_ratio in (0, 1] (1 = no dropout, the default; "
        "the conventions: bnlab.layers.dropout's docstring)",
    )
    add("--epochs", type=count(1), help=f"(default: {d.epochs}; 2 with --quick)")
    add("--batch-size", type=count(1), help=f"(default: {d.batch_size})")
    add("--reg", type=number(0), help="L2 regularisation strength (default: 0)")
    add(
        "--weight-scale",
        type=_weight_scale_text,
        help=f"init std, or 'he' / 'xavier' (default: {d.weight_scale})",
    )
    add("--dtype", choices=["float32", "float64"], help=f"(default: {d.dtype})")
    add("--seed", type=count(0), help=f"(default: {d.seed})")
    add(
        "--num-train",
        type=count(1),
        help="train on N examples, a random subset (drawn with --seed) with every class in its "
        "share of the full training set",
    )
    add("--out", help="folder for the figure and summary (default: bnlab-out)")
    add("--checkpoint", help="write PREFIX-<model>_epoch_<n>.pkl every epoch")
    add(
        "--checkpoint-overwrite",
        action="store_true",
        default=None,  # None: not given (so --resume can tell)
        help="delete another run's checkpoints under the --checkpoint prefix first (without it, "
        "a prefix that holds another run's files is refused)",
    )
    add(
        "--resume",
        help="continue training from a checkpoint file; give the data options (--data, "
        "--num-train, --seed, --quick) of the first run again, --epochs to change the total. "
        "The model, the update rule and its settings come from the checkpoint: options that "
        "disagree with it are refused. The file is checked (a checksum) and loaded safely: only "
        "numpy arrays, builtin containers and bnlab's own models and update rules are unpickled, "
        "so a hostile file's code does not run (a plain pickle.load would run it)",
    )
    add(
        "--quick",
        action="store_true",
        help="a few seconds: 2 epochs on 1000 examples (too short for batchnorm's running "
        "statistics to settle, so its test-mode accuracy can trail the baseline's)",
    )


# What may be given with --resume: the data must be drawn again as the first run drew it,
# and the outputs and the number of epochs may change. Every other option is the checkpoint's.
RESUME_MAY_SET = ("data", "data_path", "num_train", "seed", "out", "epochs", "resume")


def given_options(args: argparse.Namespace) -> set[str]:
    """The TrainConfig fields set on the command line (the others are None)."""
    return {f.name for f in fields(TrainConfig) if getattr(args, f.name, None) is not None}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The options are named after TrainConfig's fields, so they map one to one.

    With ``--resume`` the model and update settings are read from the checkpoint
    (:func:`resumed_config`), so that ``train.json`` records what the run used.
    """
    given = given_options(args)
    values = {name: getattr(args, name) for name in given}
    if args.quick:
        values.setdefault("num_train", 1000)
        if not args.resume:
            values.setdefault("epochs", 2)
    config = TrainConfig(**values)
    if config.resume:
        config = resumed_config(config, given)
    return config


def _option(name: str) -> str:
    return "--norm" if name == "norms" else "--" + name.replace("_", "-")


def checkpoint_settings(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """The TrainConfig fields a checkpoint of ``bnlab train`` fixes (its model and update)."""
    import numpy as np

    from bnlab.nets.registry import ACTIVATIONS

    model = checkpoint["model"]
    num_hidden = getattr(model, "num_layers", 1) - 1
    layer_kinds = [layer.name.rstrip("0123456789") for layer in getattr(model, "layers", [])]
    return {
        "hidden": [int(model.params[f"W{i}"].shape[1]) for i in range(1, num_hidden + 1)],
        "norms": [getattr(model, "normalization", None) or "none"],
        "activation": next((kind for kind in layer_kinds if kind in ACTIVATIONS), None),
        "update": checkpoint["update_rule"],
        "lr": checkpoint["optim_config"].get("learning_rate"),
        "lr_decay": checkpoint["lr_decay"],
        "keep": getattr(model, "dropout_param", {}).get("keep_prob", 1.0),
        "batch_size": checkpoint["batch_size"],
        "reg": getattr(model, "reg", None),
        "dtype": np.dtype(getattr(model, "dtype", np.float32)).name,
        "checkpoint": checkpoint["checkpoint_name"],
        "epochs": checkpoint["num_epochs"],
    }


def _show(value: Any) -> str:
    """A value as it is written on the command line: 100,100 for --hidden, none batchnorm..."""
    if isinstance(value, list):
        return ("," if value and isinstance(value[0], int) else " ").join(map(str, value))
    return str(value)


def _same(name: str, given: Any, saved: Any) -> bool:
    if name == "checkpoint":  # PREFIX names PREFIX-<model>'s files
        if saved is None:
            return False
        prefixes = [given, *(f"{given}-{label}" for label in NORM_LABELS.values())]
        return os.path.abspath(saved) in {os.path.abspath(p) for p in prefixes}
    return given == saved


def resumed_config(config: TrainConfig, given: set[str]) -> TrainConfig:
    """``config`` with the checkpoint's model and update settings; refuses options that differ.

    Raises UsageError naming every option given that disagrees with the checkpoint (with both
    values), an option a resumed run cannot use (--weight-scale), or --epochs below the
    checkpoint's epoch. Without --epochs the run goes on to the checkpoint's num_epochs.
    """
    from bnlab.solver.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(config.resume)
    saved = checkpoint_settings(checkpoint)
    if saved["checkpoint"]:  # a resumed run writes next to the file it resumed from
        saved["checkpoint"] = str(Path(config.resume).parent / Path(saved["checkpoint"]).name)
    problems = []
    for name in sorted(given - set(RESUME_MAY_SET)):
        value = getattr(config, name)
        if name not in saved:
            problems.append(f"{_option(name)} has no effect on resume (the weights are saved)")
        elif not _same(name, value, saved[name]):
            problems.append(
                f"{_option(name)} {_show(value)} but the checkpoint has {_show(saved[name])}"
            )
    if problems:
        raise UsageError(
            f"--resume {config.resume}: {'; '.join(problems)} (leave these options out)"
        )
    saved_checkpoint = saved.pop("checkpoint")
    if "epochs" in given:
        if config.epochs < checkpoint["epoch"]:
            raise UsageError(
                f"--epochs {config.epochs} is below the checkpoint's epoch {checkpoint['epoch']}"
            )
        saved.pop("epochs")
    for label in NORM_LABELS.values():  # the prefix the user gave: PREFIX-<model>
        if saved_checkpoint and saved_checkpoint.endswith(f"-{label}"):
            saved_checkpoint = saved_checkpoint[: -len(label) - 1]
    return replace(config, **saved, checkpoint=saved_checkpoint, weight_scale=None)


def _weight_scale(text: str) -> float | str:
    return text if text in ("he", "xavier") else float(text)


def _dtype(config: TrainConfig) -> type:
    import numpy as np

    return np.float32 if config.dtype == "float32" else np.float64


def train(config: TrainConfig) -> dict:
    """Train one model per entry of ``config.norms`` (or resume one); returns the summary dict.

    The steps, one function each: check the output folders, load the data, build the
    Solvers, train them, evaluate them, report (print the table, write ``train.png`` and
    ``train.json``). On Ctrl-C the models that finished are evaluated and reported, the
    summary's "interrupted" names the one that was stopped, and :func:`say_how_to_resume`
    prints where its last checkpoint is.
    """
    check_outputs(config)
    data = load(config)
    solvers = build(config, data)
    interrupted = fit(solvers)
    finished = solvers
    if interrupted is not None:  # the models before it; those after it never started
        finished = dict(list(solvers.items())[: list(solvers).index(interrupted)])
    summary: dict = {"config": asdict(config), "results": {}, "interrupted": interrupted}
    if finished:
        summary = report(config, finished, evaluate(finished, data), interrupted)
    if interrupted is not None:
        say_how_to_resume(config, interrupted, solvers[interrupted])
    return summary


def check_outputs(config: TrainConfig) -> None:
    """Refuse an --out or --checkpoint that cannot be written, before any work."""
    check_output_folder("--out", config.out)
    if config.checkpoint:
        check_output_folder("--checkpoint", Path(config.checkpoint).parent)


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
            checkpoint_overwrite=config.checkpoint_overwrite,
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


# Test-only hook: BNLAB_INTERRUPT_AT=LABEL:EPOCH sends this process SIGINT (a Ctrl-C) when
# model LABEL has finished epoch EPOCH, so the tests can interrupt a run at a known point.
INTERRUPT_AT = "BNLAB_INTERRUPT_AT"


def fit(solvers: dict[str, Solver]) -> str | None:
    """Train every Solver in turn; each keeps its best-by-validation params at the end.

    Returns None, or the label of the model that Ctrl-C stopped (the later ones did not start).
    """
    label_at, _, epoch_at = os.environ.get(INTERRUPT_AT, "").partition(":")

    def interrupt_for_tests(solver: Solver) -> None:
        if solver.epoch == int(epoch_at):
            os.kill(os.getpid(), signal.SIGINT)

    for label, solver in solvers.items():
        print(f"-- training {label}")
        try:
            solver.train(on_epoch_end=interrupt_for_tests if label == label_at else None)
        except KeyboardInterrupt:
            return label
    return None


def say_how_to_resume(config: TrainConfig, label: str, solver: Solver) -> None:
    """One line on stderr: the model stopped, its last checkpoint and the command to resume."""
    from bnlab.solver.checkpoint import checkpoint_path

    line = f"bnlab train: interrupted while training {label} (epoch {solver.epoch} done)"
    last = None
    if solver.checkpoint_name is not None:
        last = checkpoint_path(solver.checkpoint_name, solver.epoch)
    if last is not None and last.is_file():
        data_options = [f"--data {config.data}"] if config.data != TrainConfig.data else []
        if config.data_path:
            data_options.append(f"--data-path {config.data_path}")
        if config.num_train is not None:
            data_options.append(f"--num-train {config.num_train}")
        if config.seed != TrainConfig.seed:
            data_options.append(f"--seed {config.seed}")
        command = " ".join(["bnlab train --resume", str(last), *data_options])
        line += f"; last checkpoint: {last}; resume with: {command}"
    else:
        line += "; no checkpoint was written (--checkpoint PREFIX writes one every epoch)"
    print(line, file=sys.stderr, flush=True)


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


def report(
    config: TrainConfig,
    solvers: dict[str, Solver],
    results: dict[str, dict],
    interrupted: str | None = None,
) -> dict:
    """Write the figure and ``train.json`` to ``config.out``, print the table; the summary.

    interrupted: the label of a model Ctrl-C stopped (not among ``solvers``), or None.
    """
    from bnlab.plotting import plot_training_curves

    out = Path(config.out)
    title = f"{config.data}: hidden {config.hidden}, {config.update} lr {config.lr}"
    summary: dict = {"config": asdict(config), "results": results, "interrupted": interrupted}
    summary["figure"] = str(plot_training_curves(solvers, out / "train.png", title))
    (out / "train.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{'model':<12} {'train':>7} {'val':>7} {'test':>7}")
    for label, r in results.items():
        print(f"{label:<12} {r['train_acc']:7.4f} {r['val_acc']:7.4f} {r['test_acc']:7.4f}")
    print(f"figure: {summary['figure']}")
    return summary


def run(args: argparse.Namespace) -> int:
    """Errors are reported by :func:`bnlab.cli.main`; 130 after a Ctrl-C (results written)."""
    summary = train(config_from_args(args))
    return 0 if summary["interrupted"] is None else 130
