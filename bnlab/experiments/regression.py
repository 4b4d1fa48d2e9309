"""Study notes 000 and 002: y = x^2 + noise with four-layer tanh nets, with and without batchnorm.

The notes trained 1 -> hidden -> hidden -> hidden -> 1 tanh nets in PyTorch for 10 epochs on
x = linspace(low, high, 1000), and plotted the loss per epoch and the fitted curve on the
test points x = linspace(low, high, 100). Its finding:

(a) x in (-1, 1), noise 0.1: the tanh units work in their sensitive range, and batchnorm
    changes little;
(b) x in (-5, 5), noise 1: without batchnorm the net barely learns (it predicts about the
    mean of y), with batchnorm before each tanh it fits the parabola.

The notes blame the unstandardised inputs. What the numbers show is subtler: the targets reach
25, and within the first epoch the LAST hidden tanh layer is driven into saturation (its inputs
beyond +-2, tanh' near 0) and stays there; standardising x alone does not rescue the baseline
(RegressionBN.ipynb shows both). Batchnorm re-standardises every tanh input on every batch.

Both nets start from PyTorch's default initialisation (same seed) and see the same
minibatches. The curves and fitted predictions are the model after the last epoch, as in the
notes: the Solver's best-by-validation restore is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bnlab.data import make_regression_data
from bnlab.experiments.common import init_like_pytorch, train_model
from bnlab.nets import FullyConnectedNet
from bnlab.plotting.study_note_experiments import plot_regression_fits
from bnlab.solver import Solver

LABELS = ("baseline", "batchnorm")
SATURATED = float(np.tanh(2.0))  # |tanh(a)| above this <=> |a| > 2, where tanh'(a) < 0.071


@dataclass
class Config:
    # The notes give no widths or optimiser. Their data code matches the popular PyTorch
    # batchnorm tutorial, whose tanh layers have 10 units and train with Adam, lr 0.03, batch 64.
    hidden_dims: tuple[int, ...] = (10, 10, 10)  # 1 -> 10 -> 10 -> 10 -> 1: "four layers"
    # (low, high, noise) per case: the notes' (a), inside tanh's sensitive range, and (b)
    cases: tuple[tuple[float, float, float], ...] = ((-1.0, 1.0, 0.1), (-5.0, 5.0, 1.0))
    num_train: int = 1000  # x = linspace(low, high, 1000) (the notes')
    num_test: int = 100  # x = linspace(low, high, 100) (the notes')
    num_epochs: int = 10  # the notes'
    batch_size: int = 64
    learning_rate: float = 0.03  # Adam
    num_seeds: int = 5  # random seeds seed, seed + 1, ... for the summary; the figure: the first
    seed: int = 0  # data noise, weights (shared by both nets) and minibatch order

    @classmethod
    def quick(cls) -> Config:
        """Full size is already fast; quick trains with one random seed instead of five."""
        return cls(num_seeds=1)


@dataclass
class Curves:
    """One trained net's record (the first seed's)."""

    train_loss: list[float]  # mean minibatch MSE per epoch (train mode)
    test_mse: list[float]  # test MSE per epoch, epoch 0 (untrained) first
    fitted: list[float]  # (num_test,) predictions at x_test after the last epoch
    # per epoch (epoch 0 first), per hidden layer: the fraction of tanh inputs beyond +-2
    saturated: list[list[float]]


@dataclass
class CaseResult:
    low: float
    high: float
    noise: float
    x_test: list[float]  # (num_test,) the test inputs (first seed)
    y_test: list[float]  # (num_test,) the noisy test targets (first seed)
    y_var: float  # variance of y_test: the test MSE of always predicting its mean
    curves: dict[str, Curves]  # 'baseline', 'batchnorm' -> the first seed's record
    final_test_mse: dict[str, list[float]]  # label -> test MSE after the last epoch, one per seed


@dataclass
class Result:
    cases: list[CaseResult]  # in Config.cases order
    num_seeds: int


def make_model(hidden_dims: tuple[int, ...], normalization: str | None, seed: int):
    """The notes' tanh regression net with PyTorch's default initialisation."""
    model = FullyConnectedNet(
        list(hidden_dims),
        input_dim=1,
        num_classes=1,
        normalization=normalization,
        seed=seed,
        activation="tanh",
        loss="mse",
    )
    init_like_pytorch(model, seed)
    return model


def train_one(config: Config, data: dict, normalization: str | None, seed: int) -> Curves:
    model = make_model(config.hidden_dims, normalization, seed)
    X_test, y_test = data["X_test"], data["y_test"]
    predictions: list[np.ndarray] = []
    saturated: list[list[float]] = []

    def probe_test(solver: Solver) -> None:
        outputs = solver.model.activations(X_test)  # test mode: running statistics
        predictions.append(outputs[f"affine{model.num_layers}"].ravel())
        saturated.append(
            [
                float(np.mean(np.abs(outputs[f"tanh{i}"]) > SATURATED))
                for i in range(1, model.num_layers)
            ]
        )

    solver = train_model(
        model,
        data,
        learning_rate=config.learning_rate,
        num_epochs=config.num_epochs,
        batch_size=config.batch_size,
        seed=seed,
        on_epoch_end=probe_test,
    )
    per_epoch = np.reshape(solver.loss_history, (config.num_epochs, -1))  # (epochs, iterations)
    return Curves(
        per_epoch.mean(axis=1).tolist(),
        [float(np.mean((p - y_test) ** 2)) for p in predictions],
        predictions[-1].tolist(),
        saturated,
    )


def run_case(config: Config, low: float, high: float, noise: float) -> CaseResult:
    final: dict[str, list[float]] = {label: [] for label in LABELS}
    for seed in range(config.seed, config.seed + config.num_seeds):
        data = make_regression_data(
            low, high, noise, num_train=config.num_train, num_test=config.num_test, seed=seed
        )
        runs = {
            label: train_one(config, data, normalization, seed)
            for label, normalization in zip(LABELS, (None, "batchnorm"), strict=True)
        }
        for label, curves in runs.items():
            final[label].append(curves.test_mse[-1])
        if seed == config.seed:
            first_data, first_runs = data, runs
    y_test = first_data["y_test"]
    return CaseResult(
        low,
        high,
        noise,
        first_data["X_test"].ravel().tolist(),
        y_test.tolist(),
        float(np.var(y_test)),
        first_runs,
        final,
    )


def run(config: Config) -> Result:
    return Result([run_case(config, *case) for case in config.cases], config.num_seeds)


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_regression_fits(
        result.cases,
        Path(out_dir) / "regression.png",
        "y = x² + noise, four-layer tanh nets: baseline vs batchnorm before each tanh",
    )
    return [path]


def summarize(result: Result) -> str:
    lines = [f"final test MSE, median [min, max] over {result.num_seeds} seed(s):"]
    for name, case in zip("abcdefgh", result.cases, strict=False):
        medians = {label: float(np.median(v)) for label, v in case.final_test_mse.items()}
        parts = [
            f"{label} {medians[label]:.3g} [{min(v):.3g}, {max(v):.3g}]"
            for label, v in case.final_test_mse.items()
        ]
        saturated = [
            f"{label} "
            + " -> ".join(
                "/".join(f"{100 * f:.0f}" for f in curves.saturated[epoch]) for epoch in (0, -1)
            )
            for label, curves in case.curves.items()
        ]
        lines.append(
            f"({name}) x in ({case.low:g}, {case.high:g}), noise {case.noise:g}: "
            f"var(y_test) {case.y_var:.3g} (the MSE of predicting the mean); {'; '.join(parts)}; "
            f"batchnorm / baseline {medians['batchnorm'] / medians['baseline']:.2f}\n"
            f"    % of tanh inputs beyond +-2 on the test x, hidden layers 1/2/3, first seed, "
            f"before -> after training: " + "; ".join(saturated)
        )
    return "\n".join(lines)
