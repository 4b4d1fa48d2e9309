"""Study note 003's batchnorm sanity checks: what it does to activation statistics; its backward.

1. a = relu(X W1) W2 with X, W1, W2 standard normal has features of arbitrary mean and std;
   batchnorm in train mode makes them mean 0 / std 1 (gamma = 1, beta = 0), or mean beta /
   std gamma.
2. After ``num_train_batches`` training batches (fresh X each, same W), test mode normalises a
   fresh batch with the running statistics: mean and std near 0 and 1, a little noisier.
3. The naive (graph-walking) and closed-form backward agree to rounding, and the closed form
   is faster. The note timed one call of each at (N, D) = (100, 500) and saw 1.01x; here each
   time is a median of interleaved repeats, float64, at that size and a large one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bnlab.gradcheck import rel_error
from bnlab.layers import batchnorm_backward, batchnorm_backward_alt, batchnorm_forward
from bnlab.plotting.bn_experiments import plot_backward_times, plot_feature_histograms


@dataclass
class Config:
    N: int = 200  # batch size (the note's)
    D1: int = 50  # input features
    D2: int = 60  # hidden units of relu(X W1)
    D3: int = 3  # features of a = relu(X W1) W2, the ones batchnorm normalises
    gamma: tuple[float, ...] = (1.0, 2.0, 3.0)  # the non-trivial scale (one per feature)
    beta: tuple[float, ...] = (11.0, 12.0, 13.0)  # the non-trivial shift
    num_train_batches: int = 50  # train-mode batches before the test-mode check
    timing_sizes: tuple[tuple[int, int], ...] = ((100, 500), (4096, 1024))  # (N, D) to time
    timing_repeats: int = 15  # interleaved repeats per size; times and speedups are medians
    seed: int = 0

    @classmethod
    def quick(cls) -> Config:
        """The statistics at full size (they are cheap); only the note's timing size, 3 repeats."""
        return cls(timing_sizes=((100, 500),), timing_repeats=3)


@dataclass
class Stage:
    name: str  # what the activations went through
    values: np.ndarray  # (N, D3) the activations
    means: list[float] = field(init=False)  # (D3,) per-feature mean over the batch
    stds: list[float] = field(init=False)  # (D3,) per-feature (biased) std over the batch

    def __post_init__(self) -> None:
        self.means = self.values.mean(axis=0).tolist()
        self.stds = self.values.std(axis=0).tolist()


@dataclass
class BackwardComparison:
    N: int
    D: int
    dx_error: float  # rel_error(naive dx, alt dx)
    dgamma_error: float
    dbeta_error: float
    naive_seconds: float  # median seconds per call
    alt_seconds: float
    speedup: float  # median over repeats of naive / alt, both timed back to back


@dataclass
class Result:
    stages: list[Stage]  # before BN, train mode (gamma=1, beta=0), train mode (gamma, beta), test
    backward: list[BackwardComparison]  # one per timing size


def _interleaved_times(
    candidates: dict[str, Callable[[], object]], repeats: int, target_seconds: float = 0.02
) -> dict[str, list[float]]:
    """Seconds per call of each candidate, ``repeats`` times, the candidates timed in turn.

    Interleaving means a busy spell of the machine slows every candidate alike; each turn
    runs enough calls to last about ``target_seconds``.
    """
    numbers = {}
    for name, fn in candidates.items():
        fn()  # warm-up: first-touch page faults and caches
        start = time.perf_counter()
        fn()
        numbers[name] = max(1, int(target_seconds / max(time.perf_counter() - start, 1e-9)))
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(numbers[name]):
                fn()
            times[name].append((time.perf_counter() - start) / numbers[name])
    return times


def compare_backwards(N: int, D: int, repeats: int, rng: np.random.Generator) -> BackwardComparison:
    """Naive vs closed-form batchnorm backward on the note's x = 5 * randn + 12, float64."""
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    naive = batchnorm_backward(dout, cache)
    alt = batchnorm_backward_alt(dout, cache)
    times = _interleaved_times(
        {
            "naive": lambda: batchnorm_backward(dout, cache),
            "alt": lambda: batchnorm_backward_alt(dout, cache),
        },
        repeats,
    )
    return BackwardComparison(
        N,
        D,
        *(rel_error(a, b) for a, b in zip(naive, alt, strict=True)),
        naive_seconds=statistics.median(times["naive"]),
        alt_seconds=statistics.median(times["alt"]),
        speedup=statistics.median(a / b for a, b in zip(times["naive"], times["alt"], strict=True)),
    )


def run(config: Config) -> Result:
    rng = np.random.default_rng(config.seed)
    W1 = rng.standard_normal((config.D1, config.D2))
    W2 = rng.standard_normal((config.D2, config.D3))

    def activations() -> np.ndarray:
        X = rng.standard_normal((config.N, config.D1))  # a fresh batch, the same weights
        return np.maximum(0, X @ W1) @ W2  # (N, D3)

    ones, zeros = np.ones(config.D3), np.zeros(config.D3)
    gamma, beta = np.asarray(config.gamma), np.asarray(config.beta)
    a = activations()
    after, _ = batchnorm_forward(a, ones, zeros, {"mode": "train"})
    scaled, _ = batchnorm_forward(a, gamma, beta, {"mode": "train"})

    bn_param = {"mode": "train"}
    for _ in range(config.num_train_batches):
        batchnorm_forward(activations(), ones, zeros, bn_param)
    bn_param["mode"] = "test"
    test, _ = batchnorm_forward(activations(), ones, zeros, bn_param)

    stages = [
        Stage("before batchnorm", a),
        Stage("train mode, gamma = 1, beta = 0", after),
        Stage(f"train mode, gamma = {list(config.gamma)}, beta = {list(config.beta)}", scaled),
        Stage(f"test mode, a fresh batch after {config.num_train_batches} batches", test),
    ]
    backward = [compare_backwards(N, D, config.timing_repeats, rng) for N, D in config.timing_sizes]
    return Result(stages, backward)


def plot(result: Result, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    histograms = plot_feature_histograms(
        {stage.name: stage.values for stage in result.stages},
        out_dir / "bn_sanity_histograms.png",
        "Activation statistics before and after batchnorm",
    )
    times = plot_backward_times(
        [(c.N, c.D) for c in result.backward],
        [c.naive_seconds for c in result.backward],
        [c.alt_seconds for c in result.backward],
        [c.speedup for c in result.backward],
        out_dir / "bn_sanity_backward.png",
        "Batchnorm backward: naive graph walk vs closed form (float64)",
    )
    return [histograms, times]


def _numbers(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:8.3g}" for v in values) + "]"


def summarize(result: Result) -> str:
    lines = []
    for stage in result.stages:
        lines.append(f"{stage.name}:")
        lines.append(f"  means {_numbers(stage.means)}   stds {_numbers(stage.stds)}")
    for c in result.backward:
        lines.append(
            f"backward (N, D) = ({c.N}, {c.D}): rel_error dx {c.dx_error:.1e}, dgamma "
            f"{c.dgamma_error:.1e}, dbeta {c.dbeta_error:.1e}; naive {c.naive_seconds * 1e3:.3g} "
            f"ms, alt {c.alt_seconds * 1e3:.3g} ms, speedup {c.speedup:.2f}x"
        )
    return "\n".join(lines)
