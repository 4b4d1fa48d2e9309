"""One training step of a 3072-100x5-10 batchnorm net: bnlab's Solver vs PyTorch, float32, 1 thread.

    python benchmarks/train_step.py [--repeats 15]

A step is what ``Solver._step`` does: draw the next minibatch, forward, loss, backward, and an
Adam update of every parameter. PyTorch does the same with ``nn.Sequential`` (Linear,
BatchNorm1d, ReLU) x 5 + Linear, ``CrossEntropyLoss`` and ``torch.optim.Adam``, indexing the
same float32 training array for its batch. Interleaved repeats in one run; prints median times
and the ratio bnlab / torch. Targets: <= 0.8 at batch 50, <= 1.0 at 256, <= 1.15 at 1024.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from _timing import limit_threads

limit_threads(1)


# bnlab imports numpy, so everything below comes after the thread limit.
from _timing import compare, format_time, keep_freed_memory, torch_single_thread  # noqa: E402

from bnlab.data import make_synthetic_images  # noqa: E402
from bnlab.nets import FullyConnectedNet  # noqa: E402
from bnlab.solver import Solver  # noqa: E402

HIDDEN = [100] * 5
TARGETS = {50: 0.8, 256: 1.0, 1024: 1.15}


def bnlab_step(data: dict, batch_size: int) -> Callable[[], object]:
    model = FullyConnectedNet(HIDDEN, normalization="batchnorm", weight_scale="he", seed=0)
    solver = Solver(
        model,
        data,
        update_rule="adam",
        optim_config={"learning_rate": 1e-3},
        batch_size=batch_size,
        verbose=False,
        seed=0,
    )
    return solver._step


def torch_step(torch, data: dict, batch_size: int) -> Callable[[], object]:
    nn = torch.nn
    layers, fan_in = [nn.Flatten()], 3 * 32 * 32
    for width in HIDDEN:
        layers += [nn.Linear(fan_in, width), nn.BatchNorm1d(width), nn.ReLU()]
        fan_in = width
    net = nn.Sequential(*layers, nn.Linear(fan_in, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    X = torch.from_numpy(data["X_train"])
    y = torch.from_numpy(data["y_train"])
    generator = torch.Generator().manual_seed(0)
    state = {"order": torch.randperm(len(X), generator=generator), "start": 0}

    def step() -> object:
        if state["start"] + batch_size > len(X):  # a new epoch: a new permutation
            state["order"], state["start"] = torch.randperm(len(X), generator=generator), 0
        batch = state["order"][state["start"] : state["start"] + batch_size]
        state["start"] += batch_size
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(X[batch]), y[batch])
        loss.backward()
        optimizer.step()
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    keep_freed_memory()
    torch = torch_single_thread()
    data = make_synthetic_images(4096, 100, 10, seed=0)
    print(f"one Solver step, FullyConnectedNet 3072-{'-'.join(map(str, HIDDEN))}-10 + batchnorm")
    print(f"{'batch':>6} {'bnlab':>10} {'torch':>10} {'bnlab/torch':>12} {'target':>7}")
    for batch_size, target in TARGETS.items():
        candidates = {"bnlab": bnlab_step(data, batch_size)}
        if torch is not None:
            candidates["torch"] = torch_step(torch, data, batch_size)
        times = compare(candidates, repeats=args.repeats, target_seconds=0.05)
        if torch is None:
            print(
                f"{batch_size:>6} {format_time(times.median('bnlab')):>10}   (torch not installed)"
            )
            continue
        ratio = times.ratio("bnlab", "torch")
        verdict = "ok" if ratio <= target else "MISSED"
        print(
            f"{batch_size:>6} {format_time(times.median('bnlab')):>10} "
            f"{format_time(times.median('torch')):>10} {ratio:>12.2f} {'<= ' + str(target):>7} {verdict}"
        )


if __name__ == "__main__":
    main()
