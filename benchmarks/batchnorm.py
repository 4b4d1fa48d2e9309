"""bnlab batchnorm (forward + closed-form backward) vs PyTorch CPU, float32, one thread.

    python benchmarks/batchnorm.py [--repeats 15] [--default-allocator]

Every candidate does one training step of the layer: forward with batch statistics (and the
running-statistics update), then the backward for dx, dgamma and dbeta --

    fast   bnlab.fast.normalization (batchnorm_forward_fast, batchnorm_backward_fast, and the
           spatial ones), inside small_ufunc_buffer() as the Solver's training loop runs them
    plain  the lesson, bnlab.layers (batchnorm_forward, batchnorm_backward_alt, ...), with
           NumPy's default settings, as a student calls it
    torch  torch.nn.BatchNorm1d / BatchNorm2d with autograd

Timed in interleaved repeats in one run; prints the median times and the ratios fast / torch
and plain / torch (medians of the per-repeat ratios). Target: fast <= 2.0x torch at every
size (the plain lesson has no target). Without PyTorch installed, prints bnlab's times only.
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

from bnlab.fast.normalization import (  # noqa: E402
    batchnorm_backward_fast,
    batchnorm_forward_fast,
    spatial_batchnorm_backward_fast,
    spatial_batchnorm_forward_fast,
)
from bnlab.fast.ufunc_buffer import small_ufunc_buffer  # noqa: E402
from bnlab.layers import (  # noqa: E402
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

SHAPES = [(100, 500), (256, 1024), (4096, 1024), (64, 64, 32, 32)]  # (N, D), then (N, C, H, W)
TARGET_RATIO = 2.0


def bnlab_step(x: np.ndarray, dout: np.ndarray, fast: bool) -> Callable[[], object]:
    C = x.shape[1]
    gamma, beta = np.ones(C, dtype=x.dtype), np.zeros(C, dtype=x.dtype)
    bn_param = {"mode": "train"}
    if fast:
        forward, backward = (
            (spatial_batchnorm_forward_fast, spatial_batchnorm_backward_fast)
            if x.ndim == 4
            else (batchnorm_forward_fast, batchnorm_backward_fast)
        )

        def fast_step() -> object:
            # entered on every call here (a few microseconds); the Solver enters it once
            with small_ufunc_buffer():
                _, cache = forward(x, gamma, beta, bn_param)
                return backward(dout, cache)

        return fast_step
    forward, backward = (
        (spatial_batchnorm_forward, spatial_batchnorm_backward)
        if x.ndim == 4
        else (batchnorm_forward, batchnorm_backward_alt)
    )

    def plain_step() -> object:
        _, cache = forward(x, gamma, beta, bn_param)
        return backward(dout, cache)

    return plain_step


def torch_step(torch, x: np.ndarray, dout: np.ndarray) -> Callable[[], object]:
    C = x.shape[1]
    layer = torch.nn.BatchNorm2d(C) if x.ndim == 4 else torch.nn.BatchNorm1d(C)
    return torch_forward_backward(torch, layer, x, dout)


def main() -> int:
    args = benchmark_parser(__doc__).parse_args()
    setup = apply_options(args)
    torch = torch_single_thread()
    rng = np.random.default_rng(0)
    print(
        f"batchnorm forward + backward, float32, {setup}"
        + ("" if torch else " (PyTorch not installed: bnlab only)")
    )
    print(blas_summary())
    ratios = []
    for shape in SHAPES:
        x = rng.normal(3.0, 2.0, size=shape).astype(np.float32)
        dout = rng.normal(size=shape).astype(np.float32)
        candidates = {"fast": bnlab_step(x, dout, fast=True), "plain": bnlab_step(x, dout, False)}
        if torch is not None:
            candidates["torch"] = torch_step(torch, x, dout)
        times = compare(candidates, repeats=args.repeats)
        line = (
            f"{'x' + str(shape):>22}:  fast {format_time(times.median('fast')):>9}"
            f"   plain {format_time(times.median('plain')):>9}"
        )
        if torch is not None:
            ratio = times.ratio("fast", "torch")
            ratios.append(ratio)
            line += (
                f"   torch {format_time(times.median('torch')):>9}   fast/torch {ratio:4.2f}"
                f"   plain/torch {times.ratio('plain', 'torch'):4.2f}"
            )
        print(line)
    if ratios:
        met = all(r <= TARGET_RATIO for r in ratios)
        print(f"target fast <= {TARGET_RATIO}x torch's time: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
