"""bnlab's affine_bn_relu (forward + backward) vs PyTorch CPU, float32, one thread.

    python benchmarks/sandwich.py [--repeats 15] [--default-allocator]

Every candidate does one training step of the sandwich x -> relu(batchnorm(x @ w + b)): the
forward with batch statistics (and the running-statistics update), then the backward for dx,
dw, db, dgamma and dbeta --

    bnlab   bnlab.layers.affine_bn_relu_forward / _backward, as a notebook calls them (they
            chain affine, the fast batchnorm twin and relu), NumPy's default settings
    lesson  the same chain through the lesson's batchnorm_forward / batchnorm_backward_alt
            (sandwich_forward / sandwich_backward with the plain functions)
    torch   nn.Linear, nn.BatchNorm1d, nn.ReLU with autograd

Timed in interleaved repeats in one run; prints the median times and the ratios to torch
(medians of the per-repeat ratios). Target: bnlab <= 1.0x torch at (1024, 100, 100).
"""

from __future__ import annotations

from collections.abc import Callable

from _timing import limit_threads

limit_threads(1)

import numpy as np  # noqa: E402  (after the thread limit, which numpy reads at import)
from _timing import (  # noqa: E402
    apply_options,
    benchmark_parser,
    blas_summary,
    compare,
    format_time,
    torch_forward_backward,
    torch_single_thread,
)

from bnlab.layers import (  # noqa: E402
    affine_backward,
    affine_bn_relu_backward,
    affine_bn_relu_forward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    relu_backward,
    relu_forward,
)
from bnlab.layers.sandwich import sandwich_backward, sandwich_forward  # noqa: E402

SHAPES = [(1024, 100, 100), (50, 3072, 100), (256, 1024, 1024)]  # (N, D, M): x (N, D), w (D, M)
TARGET = ((1024, 100, 100), 1.0)


def bnlab_step(x, w, b, gamma, beta, dout, lesson: bool) -> Callable[[], object]:
    bn_param = {"mode": "train"}
    if not lesson:

        def step() -> object:
            _, cache = affine_bn_relu_forward(x, w, b, gamma, beta, bn_param)
            return affine_bn_relu_backward(dout, cache)

        return step

    def lesson_step() -> object:
        _, cache = sandwich_forward(
            x, (affine_forward, w, b), (batchnorm_forward, gamma, beta, bn_param), (relu_forward,)
        )
        return sandwich_backward(
            dout, cache, affine_backward, batchnorm_backward_alt, relu_backward
        )

    return lesson_step


def torch_step(torch, x, w, b, dout) -> Callable[[], object]:
    D, M = w.shape
    linear, bn = torch.nn.Linear(D, M), torch.nn.BatchNorm1d(M)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.T.copy()))
        linear.bias.copy_(torch.from_numpy(b))
    layer = torch.nn.Sequential(linear, bn, torch.nn.ReLU())
    return torch_forward_backward(torch, layer, x, dout)


def main() -> int:
    args = benchmark_parser(__doc__).parse_args()
    setup = apply_options(args)
    torch = torch_single_thread()
    rng = np.random.default_rng(0)
    print(
        f"affine_bn_relu forward + backward, float32, {setup}"
        + ("" if torch else " (PyTorch not installed: bnlab only)")
    )
    print(blas_summary())
    met = None
    for N, D, M in SHAPES:
        x = rng.normal(size=(N, D)).astype(np.float32)
        w = (rng.normal(size=(D, M)) / np.sqrt(D)).astype(np.float32)
        b, gamma, beta = np.zeros(M, np.float32), np.ones(M, np.float32), np.zeros(M, np.float32)
        dout = rng.normal(size=(N, M)).astype(np.float32)
        candidates = {
            "bnlab": bnlab_step(x, w, b, gamma, beta, dout, lesson=False),
            "lesson": bnlab_step(x, w, b, gamma, beta, dout, lesson=True),
        }
        if torch is not None:
            candidates["torch"] = torch_step(torch, x, w, b, dout)
        times = compare(candidates, repeats=args.repeats)
        line = (
            f"{'(N, D, M) = ' + str((N, D, M)):>28}:  bnlab {format_time(times.median('bnlab')):>9}"
            f"   lesson {format_time(times.median('lesson')):>9}"
        )
        if torch is not None:
            ratio = times.ratio("bnlab", "torch")
            line += (
                f"   torch {format_time(times.median('torch')):>9}   bnlab/torch {ratio:4.2f}"
                f"   lesson/torch {times.ratio('lesson', 'torch'):4.2f}"
            )
            if (N, D, M) == TARGET[0]:
                met = ratio <= TARGET[1]
        print(line)
    if met is not None:
        print(
            f"target bnlab <= {TARGET[1]}x torch's time at {TARGET[0]}: "
            f"{'met' if met else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
