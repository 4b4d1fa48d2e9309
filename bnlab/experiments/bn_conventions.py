"""Batchnorm's running statistics under three conventions, and what they do to test accuracy.

The conventions (see the table in :mod:`bnlab.layers.batchnorm`), each written as bnlab
``bn_param`` settings:

- cs231n: momentum 0.9 on the old value, the biased batch variance, running_var starting at 0;
- PyTorch: momentum 0.1 on the new batch (bnlab's 0.9 on the old), the unbiased batch
  variance, running_var starting at 1;
- MyBN of study notes 000 and 002: ``moving = 0.01 * moving + 0.99 * batch`` (bnlab's
  momentum 0.01: the running value is essentially the last batch's), biased, running_var
  starting at 0. MyBN as written also never uses it: at test time it normalises the test
  batch with that batch's own statistics.

Part 1 feeds one stream of small batches (N = 8, so the unbiased factor N / (N - 1) = 8 / 7
matters) of a feature with known population statistics, x = relu(pre_mean + pre_std * g)
with g ~ N(0, 1), through ``batchnorm_forward`` under each convention.

Part 2 trains a small batchnorm net on the bundled data, once per convention from the same
seed, and measures test accuracy in test mode at several iterations. In train mode batchnorm
normalises with the batch's own statistics, so the running statistics never touch the
forward or backward pass: the three runs have bit-identical weights (the tests check this),
and the accuracies differ only through the convention. The "MyBN as written" line evaluates
the same weights with each layer normalising the whole test set by its own statistics.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bnlab.experiments.common import load_data
from bnlab.fast.optim import adam  # the Solver's Adam: same numbers as the docs' runs
from bnlab.fast.ufunc_buffer import small_ufunc_buffer
from bnlab.layers import batchnorm_forward
from bnlab.nets import FullyConnectedNet
from bnlab.plotting.study_note_experiments import plot_bn_conventions

MYBN_AS_WRITTEN = "MyBN as written (test-batch statistics)"


@dataclass(frozen=True)
class Convention:
    name: str
    momentum: float  # bnlab's meaning: the weight of the OLD running value
    unbiased: bool  # store var * m / (m - 1)
    running_var_init: float  # running_mean always starts at 0

    def bn_param(self, num_features: int, dtype: Any = np.float64) -> dict[str, Any]:
        """A fresh train-mode bn_param following this convention."""
        return {
            "mode": "train",
            "momentum": self.momentum,
            "unbiased": self.unbiased,
            "running_mean": np.zeros(num_features, dtype=dtype),
            "running_var": np.full(num_features, self.running_var_init, dtype=dtype),
        }


CONVENTIONS = (
    Convention("cs231n", 0.9, False, 0.0),
    Convention("PyTorch", 0.9, True, 1.0),
    Convention("MyBN (study notes)", 0.01, False, 0.0),
)


@dataclass
class Config:
    pre_mean: float = 0.5  # part 1's feature: x = relu(pre_mean + pre_std * g), g ~ N(0, 1)
    pre_std: float = 1.0
    stream_batch_size: int = 8  # small, so that the unbiased factor N / (N - 1) matters
    num_steps: int = 2000  # batches in part 1's stream
    burn_in: int = 100  # steps left out of the averages (0.9^100 ~ 3e-5 of the start remains)
    plot_steps: int = 100  # steps drawn in the running-statistics panels
    hidden_dims: tuple[int, ...] = (100, 100)  # part 2's net: 784 -> 100 -> 100 -> 10, batchnorm
    train_batch_size: int = 8  # small batches, like part 1's: each batch's statistics are noisy
    num_iterations: int = 400  # Adam steps
    learning_rate: float = 1e-3
    record_at: tuple[int, ...] = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 400)
    num_test: int | None = None  # test images (None: all 1500 of the bundled test set)
    seed: int = 0  # the stream, the weights (shared by all runs) and the minibatch order

    @classmethod
    def quick(cls) -> Config:
        return cls(num_steps=500, num_iterations=100, record_at=(1, 3, 10, 30, 100), num_test=500)


@dataclass
class StreamResult:
    true_mean: float  # population mean of the feature
    true_var: float  # population variance of the feature
    batch_size: int
    batch_mean: list[float]  # (num_steps,) each batch's mean
    batch_var: list[float]  # (num_steps,) each batch's biased variance
    running_mean: dict[str, list[float]]  # convention -> (num_steps + 1,), the start first
    running_var: dict[str, list[float]]
    mean_ratio: dict[str, float]  # convention -> running mean averaged after burn-in / true_mean
    var_ratio: dict[str, float]  # convention -> running var averaged after burn-in / true_var
    burn_in: int
    plot_steps: int


@dataclass
class AccuracyResult:
    iterations: list[int]  # when accuracy was measured
    test_acc: dict[str, list[float]]  # convention (or MYBN_AS_WRITTEN) -> one per iteration
    same_weights: bool  # every convention's run ended with bit-identical params


@dataclass
class Result:
    stream: StreamResult
    accuracy: AccuracyResult


def relu_gaussian_moments(mu: float, sigma: float) -> tuple[float, float]:
    """Mean and variance of relu(z), z ~ N(mu, sigma^2) (the rectified Gaussian)."""
    alpha = mu / sigma
    pdf = math.exp(-0.5 * alpha**2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(alpha / math.sqrt(2)))
    mean = mu * cdf + sigma * pdf
    second_moment = (mu**2 + sigma**2) * cdf + mu * sigma * pdf
    return mean, second_moment - mean**2


def run_stream(config: Config) -> StreamResult:
    rng = np.random.default_rng(config.seed)
    gamma, beta = np.ones(1), np.zeros(1)
    bn_params = {c.name: c.bn_param(1) for c in CONVENTIONS}
    running_mean = {name: [0.0] for name in bn_params}
    running_var = {c.name: [c.running_var_init] for c in CONVENTIONS}
    batch_mean, batch_var = [], []
    for _ in range(config.num_steps):
        z = config.pre_mean + config.pre_std * rng.standard_normal((config.stream_batch_size, 1))
        x = np.maximum(z, 0.0)  # (N, 1): one feature
        for name, bn_param in bn_params.items():
            _, cache = batchnorm_forward(x, gamma, beta, bn_param)
            running_mean[name].append(float(bn_param["running_mean"][0]))
            running_var[name].append(float(bn_param["running_var"][0]))
        batch_mean.append(float(cache.mu[0, 0]))
        batch_var.append(float(cache.var[0, 0]))
    true_mean, true_var = relu_gaussian_moments(config.pre_mean, config.pre_std)
    after = slice(config.burn_in + 1, None)  # index 0 is the start, index k after step k
    return StreamResult(
        true_mean,
        true_var,
        config.stream_batch_size,
        batch_mean,
        batch_var,
        running_mean,
        running_var,
        {name: float(np.mean(v[after])) / true_mean for name, v in running_mean.items()},
        {name: float(np.mean(v[after])) / true_var for name, v in running_var.items()},
        config.burn_in,
        config.plot_steps,
    )


def accuracy(model: FullyConnectedNet, X: np.ndarray, y: np.ndarray) -> float:
    """Test-mode accuracy: every batchnorm layer uses its running statistics."""
    return float(np.mean(np.argmax(model.loss(X), axis=1) == y))


def accuracy_with_batch_statistics(model: FullyConnectedNet, X: np.ndarray, y: np.ndarray) -> float:
    """MyBN's test time: each batchnorm layer normalises X (one batch) by X's own statistics."""
    scratch = copy.deepcopy(model)  # a train-mode forward would update the running statistics
    scores = scratch.activations(X, mode="train")[f"affine{scratch.num_layers}"]
    return float(np.mean(np.argmax(scores, axis=1) == y))


def train_recording(config: Config, data: dict, convention: Convention) -> tuple[dict, list, list]:
    """Train one net with ``convention``'s running statistics, Adam on random minibatches.

    The Solver measures once per epoch; accuracy is wanted after iterations 1, 2, 3, 5, ...,
    so this loop takes the Adam steps itself. Returns (final params, test-mode accuracy per recorded iteration, the same with test-batch
    statistics).
    """
    X_train = data["X_train"].reshape(len(data["X_train"]), -1)  # (N, 784)
    X_test = data["X_test"].reshape(len(data["X_test"]), -1)  # (N_test, 784)
    y_train, y_test = data["y_train"], data["y_test"]
    model = FullyConnectedNet(
        list(config.hidden_dims),
        input_dim=X_train.shape[1],
        num_classes=len(data["class_names"]),
        normalization="batchnorm",
        weight_scale="he",  # for the relu layers (batchnorm makes the hidden scales moot)
        seed=config.seed,
    )
    for bn_param, D in zip(model.bn_params, config.hidden_dims, strict=True):
        bn_param.update(convention.bn_param(D, model.dtype))
    rng = np.random.default_rng(config.seed)
    optim_configs = {name: {"learning_rate": config.learning_rate} for name in model.params}
    record_at = set(config.record_at)
    test_acc, batch_stats_acc = [], []
    with small_ufunc_buffer():  # as the Solver's training loop does
        for iteration in range(1, config.num_iterations + 1):
            batch = rng.choice(len(X_train), config.train_batch_size, replace=False)
            _, grads = model.loss(X_train[batch], y_train[batch])
            for name, w in model.params.items():
                model.params[name], optim_configs[name] = adam(w, grads[name], optim_configs[name])
            if iteration in record_at:
                test_acc.append(accuracy(model, X_test, y_test))
                batch_stats_acc.append(accuracy_with_batch_statistics(model, X_test, y_test))
    return model.params, test_acc, batch_stats_acc


def run_accuracy(config: Config) -> AccuracyResult:
    data = load_data("bundled")
    test = slice(config.num_test)  # slice(None): all of them
    data = {**data, "X_test": data["X_test"][test], "y_test": data["y_test"][test]}
    test_acc, final_params = {}, []
    for convention in CONVENTIONS:
        params, test_acc[convention.name], batch_stats_acc = train_recording(
            config, data, convention
        )
        final_params.append(params)
    test_acc[MYBN_AS_WRITTEN] = batch_stats_acc  # the same in every run: weights are shared
    same = all(
        np.array_equal(params[name], final_params[0][name])
        for params in final_params
        for name in params
    )
    iterations = [i for i in config.record_at if i <= config.num_iterations]
    return AccuracyResult(iterations, test_acc, same)


def run(config: Config) -> Result:
    return Result(run_stream(config), run_accuracy(config))


def plot(result: Result, out_dir: Path) -> list[Path]:
    path = plot_bn_conventions(
        result.stream,
        result.accuracy,
        Path(out_dir) / "bn_conventions.png",
        "Batchnorm running statistics: cs231n, PyTorch and the study notes' MyBN",
    )
    return [path]


def stream_summary(stream: StreamResult) -> list[str]:
    s = stream
    expected_biased = s.true_var * (s.batch_size - 1) / s.batch_size
    lines = [
        f"part 1: feature with population mean {s.true_mean:.4f}, variance {s.true_var:.4f}; "
        f"batches of N = {s.batch_size} (E[biased batch var] = {expected_biased:.4f}); "
        f"averages over steps {s.burn_in + 1}-{len(s.batch_mean)}"
    ]
    batch_var = np.asarray(s.batch_var)
    width = max(len(name) for name in s.running_mean)
    for name in s.running_mean:
        var = np.asarray(s.running_var[name][1:])  # (num_steps,) after each step
        tracking = np.max(np.abs(var - batch_var)) / s.true_var
        lines.append(
            f"  {name:<{width}}  var after step 1 {var[0] / s.true_var:.2f}x true; after burn-in: "
            f"mean {s.mean_ratio[name]:.3f}x, var {s.var_ratio[name]:.3f}x true; "
            f"max |running var - last batch var| {tracking:.3f}x true"
        )
    return lines


def summarize(result: Result) -> str:
    lines = stream_summary(result.stream)
    acc = result.accuracy
    shown = [i for i in acc.iterations if i in (1, 5, 10, 30, 100, 400)] or acc.iterations
    lines.append(
        f"part 2: test accuracy at iterations {', '.join(map(str, shown))} "
        f"(identical weights in every run: {acc.same_weights})"
    )
    for name, values in acc.test_acc.items():
        by_iteration = dict(zip(acc.iterations, values, strict=True))
        lines.append(f"  {name:<40} " + "  ".join(f"{by_iteration[i]:.3f}" for i in shown))
    return "\n".join(lines)
