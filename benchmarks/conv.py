"""Convolution and pooling: bnlab.fast vs the plain loops vs PyTorch CPU, float32, one thread.

    python benchmarks/conv.py [--repeats 15] [--naive-repeats 3]

One training step of a layer = forward + backward (dx, dw, db for a convolution).

1. conv_forward_fast + conv_backward_fast (bnlab.fast.conv) vs the naive pair (bnlab.layers.conv)
   on x (50, 3, 32, 32), 32 filters 3x3, stride 1, pad 1 (cs231n's CIFAR-10 first layer).
   Target: fast >= 50x faster. The naive step takes tens of seconds, so it runs only
   ``--naive-repeats`` times.
2. The same fast step vs ``torch.nn.functional.conv2d`` + autograd. Target: within 3x of
   PyTorch's time. Skipped when PyTorch is not installed.
3. max and average pooling, bnlab.fast vs the loops in bnlab.layers.pooling (and PyTorch's
   max_pool2d / avg_pool2d) on that layer's output, (50, 32, 32, 32): 2x2 stride 2 (windows
   that tile x) and 4x4 stride 2 (overlapping windows).
4. Why the fast pooling has no reshape path for tiling windows: the forward reduction of
   im2col's copy vs ``x.reshape(N, C, H', 2, W', 2).max(axis=(3, 5))`` (and ``.mean``), 2x2
   stride 2 on the same input.

Threads: numpy's BLAS (OpenBLAS) and OpenMP are pinned to one thread by environment
variables set before numpy is imported (``_timing.limit_threads``), PyTorch by
``torch.set_num_threads(1)``. Candidates are timed in interleaved repeats within one run;
each ratio is the median of the per-repeat ratios.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial

from _timing import limit_threads

limit_threads(1)

import numpy as np  # noqa: E402  (after the thread limit, which numpy reads at import)
from _timing import (  # noqa: E402
    Timings,
    blas_summary,
    calls_per_repeat,
    compare,
    format_time,
    keep_freed_memory,
    time_once,
    torch_single_thread,
)

from bnlab.fast.conv import conv_backward_fast, conv_forward_fast  # noqa: E402
from bnlab.fast.im2col import im2col  # noqa: E402
from bnlab.fast.pooling import (  # noqa: E402
    avg_pool_backward_fast,
    avg_pool_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from bnlab.layers.conv import conv_backward_naive, conv_forward_naive  # noqa: E402
from bnlab.layers.pooling import (  # noqa: E402
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

X_SHAPE, W_SHAPE, CONV_PARAM = (50, 3, 32, 32), (32, 3, 3, 3), {"stride": 1, "pad": 1}
POOLS = [
    {"pool_height": 2, "pool_width": 2, "stride": 2},
    {"pool_height": 4, "pool_width": 4, "stride": 2},
]
# kind: (fast forward, fast backward, plain forward, plain backward, PyTorch function name)
POOL_KINDS = {
    "max": (max_pool_forward_fast, max_pool_backward_fast, max_pool_forward_naive,
            max_pool_backward_naive, "max_pool2d"),
    "avg": (avg_pool_forward_fast, avg_pool_backward_fast, avg_pool_forward, avg_pool_backward,
            "avg_pool2d"),
}  # fmt: skip
TARGET_NAIVE_SPEEDUP, TARGET_TORCH_RATIO = 50.0, 3.0


def step(forward: Callable, backward: Callable, args: tuple, dout: np.ndarray) -> Callable:
    """One forward + backward of a bnlab layer, as a no-argument function."""

    def run() -> object:
        _, cache = forward(*args)
        return backward(dout, cache)

    return run


def torch_step(torch, layer: Callable, inputs: list[np.ndarray], dout: np.ndarray) -> Callable:
    """One forward + autograd backward of ``layer(*inputs)`` in PyTorch."""
    tensors = [torch.from_numpy(a).requires_grad_(True) for a in inputs]
    dout_t = torch.from_numpy(dout)

    def run() -> object:
        for t in tensors:
            t.grad = None
        layer(*tensors).backward(dout_t)
        return tensors[0].grad

    return run


def naive_vs_fast(naive: Callable, fast: Callable, repeats: int) -> Timings:
    """Interleaved timings of a very slow and a fast candidate.

    ``_timing.compare`` would first run each candidate twice to size its repeats (a minute
    of naive convolution); a half-minute call needs no warm-up and is its own repeat.
    """
    number = calls_per_repeat(fast)
    times = Timings({"naive": [], "fast": []})
    for _ in range(repeats):
        times["naive"].append(time_once(naive, 1))
        times["fast"].append(time_once(fast, number))
    return times


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved repeats (median)")
    parser.add_argument(
        "--naive-repeats", type=int, default=3, help="repeats against the naive versions"
    )
    args = parser.parse_args()
    allocator = "freed memory kept" if keep_freed_memory() else "default allocator"
    torch = torch_single_thread()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(X_SHAPE, dtype=np.float32)
    w = rng.standard_normal(W_SHAPE, dtype=np.float32) * np.float32(0.1)
    b = rng.standard_normal(W_SHAPE[0], dtype=np.float32)
    out, _ = conv_forward_fast(x, w, b, CONV_PARAM)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    print(
        f"float32, 1 thread, {allocator}; conv x {X_SHAPE}, w {W_SHAPE}, {CONV_PARAM}; "
        f"forward + backward" + ("" if torch else " (PyTorch not installed: no PyTorch column)")
    )
    print(blas_summary())

    fast = step(conv_forward_fast, conv_backward_fast, (x, w, b, CONV_PARAM), dout)
    naive = step(conv_forward_naive, conv_backward_naive, (x, w, b, CONV_PARAM), dout)
    times = naive_vs_fast(naive, fast, args.naive_repeats)
    speedup = times.ratio("naive", "fast")
    print(
        f"conv naive {format_time(times.median('naive')):>9}   fast "
        f"{format_time(times.median('fast')):>9}   naive/fast {speedup:7.0f}x   "
        f"(target >= {TARGET_NAIVE_SPEEDUP:.0f}x: {verdict(speedup >= TARGET_NAIVE_SPEEDUP)}; "
        f"median of {args.naive_repeats} repeats)"
    )
    if torch is not None:
        stride, pad = CONV_PARAM["stride"], CONV_PARAM["pad"]
        conv = partial(torch.nn.functional.conv2d, stride=stride, padding=pad)
        times = compare(
            {"fast": fast, "torch": torch_step(torch, conv, [x, w, b], dout)}, repeats=args.repeats
        )
        ratio = times.ratio("fast", "torch")
        print(
            f"conv fast  {format_time(times.median('fast')):>9}   torch "
            f"{format_time(times.median('torch')):>9}   fast/torch {ratio:5.2f}   "
            f"(target <= {TARGET_TORCH_RATIO:.0f}x: {verdict(ratio <= TARGET_TORCH_RATIO)}; "
            f"median of {args.repeats} repeats)"
        )

    for kind, (fast_f, fast_b, plain_f, plain_b, torch_name) in POOL_KINDS.items():
        for pool_param in POOLS:
            ph, pw, stride = pool_param.values()
            pooled, _ = fast_f(out, pool_param)
            dpooled = rng.standard_normal(pooled.shape, dtype=np.float32)
            fast = step(fast_f, fast_b, (out, pool_param), dpooled)
            plain = step(plain_f, plain_b, (out, pool_param), dpooled)
            times = naive_vs_fast(plain, fast, args.naive_repeats)
            line = (
                f"{kind} pool {ph}x{pw} stride {stride} on {out.shape}: plain "
                f"{format_time(times.median('naive')):>9}   fast "
                f"{format_time(times.median('fast')):>9}   plain/fast "
                f"{times.ratio('naive', 'fast'):5.0f}x"
            )
            if torch is not None:
                pool = partial(
                    getattr(torch.nn.functional, torch_name), kernel_size=(ph, pw), stride=stride
                )
                times = compare(
                    {"fast": fast, "torch": torch_step(torch, pool, [out], dpooled)},
                    repeats=args.repeats,
                )
                line += (
                    f"   torch {format_time(times.median('torch')):>9}   "
                    f"fast/torch {times.ratio('fast', 'torch'):5.2f}"
                )
            print(line)

    # The reshape alternative for windows that tile x (2x2 stride 2): forward reduction only.
    N, C, H, W = out.shape
    tiles = out.reshape(N, C, H // 2, 2, W // 2, 2)  # (N, C, H', 2, W', 2), a view
    for reduction in ("max", "mean"):
        candidates = {
            "im2col": lambda r=reduction: getattr(im2col(out, 2, 2, 2), r)(axis=(2, 3)),
            "reshape": lambda r=reduction: getattr(tiles, r)(axis=(3, 5)),
        }
        times = compare(candidates, repeats=args.repeats)
        print(
            f"2x2 stride 2 {reduction} over windows: im2col + {reduction} "
            f"{format_time(times.median('im2col')):>9}   reshape + {reduction} "
            f"{format_time(times.median('reshape')):>9}   reshape/im2col "
            f"{times.ratio('reshape', 'im2col'):5.1f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
