"""One training step with batchnorm, bnlab's Solver vs PyTorch, float32, 1 thread.

    python benchmarks/train_step.py [--net fc|lenet] [--repeats 15] [--cpu-time]

A step is what ``Solver._step`` does: draw the next minibatch, forward, loss, backward, and
an update of every parameter, timed inside ``small_ufunc_buffer()`` as ``Solver.train`` runs it. PyTorch does the same with an ``nn.Sequential`` of the same
layers, ``CrossEntropyLoss`` and the same optimiser, indexing the same float32 training array
for its batch. Interleaved repeats in one run; prints median times and the ratio bnlab / torch.
``--cpu-time`` times with the process's CPU time instead of the wall clock (both sides run one
thread): steadier on a shared machine, where other jobs take the core away now and then.

- ``--net fc`` (default): FullyConnectedNet 3072-100x5-10, (affine, batchnorm, relu) x 5 +
  affine, Adam. Targets: <= 0.75 at batch 50 (issue 11), <= 1.0 at 256, <= 1.15 at 1024.
- ``--net lenet``: the lenet-bn experiment's LeNet on 28x28 images (conv, spatial batchnorm,
  sigmoid, 2x2 average pooling; affine, batchnorm, sigmoid), SGD + momentum. No target: it
  shows what the experiment's run time costs against PyTorch's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from _timing import limit_threads

limit_threads(1)


# bnlab imports numpy, so everything below comes after the thread limit.
from _timing import blas_summary, compare, format_time, keep_freed_memory, torch_single_thread  # noqa: E402

from bnlab.data import make_synthetic_images  # noqa: E402
from bnlab.fast.ufunc_buffer import small_ufunc_buffer  # noqa: E402
from bnlab.nets import FullyConnectedNet, LeNet  # noqa: E402
from bnlab.solver import Solver  # noqa: E402

HIDDEN = [100] * 5


@dataclass(frozen=True)
class Net:
    """One benchmarked net: how bnlab and PyTorch build it, its data and its optimiser."""

    title: str
    image_shape: tuple[int, int, int]
    make_bnlab: Callable[[], object]
    make_torch: Callable[[Any], Any]  # the torch module -> an nn.Module
    update_rule: str  # bnlab's name; torch_optimizer maps it
    learning_rate: float
    targets: dict[int, float | None]  # batch size -> target ratio bnlab / torch (None: none)


def fc_torch(torch: Any) -> Any:
    nn = torch.nn
    layers, fan_in = [nn.Flatten()], 3 * 32 * 32
    for width in HIDDEN:
        layers += [nn.Linear(fan_in, width), nn.BatchNorm1d(width), nn.ReLU()]
        fan_in = width
    return nn.Sequential(*layers, nn.Linear(fan_in, 10))


def lenet_torch(torch: Any) -> Any:
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )  # fmt: skip


NETS = {
    "fc": Net(
        f"FullyConnectedNet 3072-{'-'.join(map(str, HIDDEN))}-10 + batchnorm, Adam",
        (3, 32, 32),
        lambda: FullyConnectedNet(HIDDEN, normalization="batchnorm", weight_scale="he", seed=0),
        fc_torch,
        "adam",
        1e-3,
        {50: 0.75, 256: 1.0, 1024: 1.15},
    ),
    "lenet": Net(
        "LeNet (sigmoid, avg pool) + batchnorm on 28x28 images, SGD + momentum",
        (1, 28, 28),
        lambda: LeNet(normalization="batchnorm", seed=0),
        lenet_torch,
        "sgd_momentum",
        0.2,
        {64: None, 256: None},
    ),
}


def bnlab_step(net: Net, data: dict, batch_size: int) -> Callable[[], object]:
    solver = Solver(
        net.make_bnlab(),
        data,
        update_rule=net.update_rule,
        optim_config={"learning_rate": net.learning_rate},
        batch_size=batch_size,
        verbose=False,
        seed=0,
    )
    return solver._step


def torch_optimizer(torch: Any, net: Net, parameters: Any) -> Any:
    if net.update_rule == "adam":
        return torch.optim.Adam(parameters, lr=net.learning_rate)
    return torch.optim.SGD(parameters, lr=net.learning_rate, momentum=0.9)  # cs231n's momentum


def torch_step(torch: Any, net: Net, data: dict, batch_size: int) -> Callable[[], object]:
    module = net.make_torch(torch)
    optimizer = torch_optimizer(torch, net, module.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
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
        loss = loss_fn(module(X[batch]), y[batch])
        loss.backward()
        optimizer.step()
        return loss

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--net", choices=sorted(NETS), default="fc")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--cpu-time", action="store_true", help="time in CPU time, not wall time (one thread)"
    )
    args = parser.parse_args()
    clock = "cpu" if args.cpu_time else "wall"
    net = NETS[args.net]
    keep_freed_memory()
    torch = torch_single_thread()
    data = make_synthetic_images(4096, 100, 10, image_shape=net.image_shape, seed=0)
    print(f"one Solver step, {net.title} ({clock} time)")
    print(blas_summary())
    print(f"{'batch':>6} {'bnlab':>10} {'torch':>10} {'bnlab/torch':>12} {'target':>7}")
    for batch_size, target in net.targets.items():
        candidates = {"bnlab": bnlab_step(net, data, batch_size)}
        if torch is not None:
            candidates["torch"] = torch_step(torch, net, data, batch_size)
        with small_ufunc_buffer():  # as Solver.train() runs its steps
            times = compare(candidates, repeats=args.repeats, target_seconds=0.05, clock=clock)
        if torch is None:
            print(
                f"{batch_size:>6} {format_time(times.median('bnlab')):>10}   (torch not installed)"
            )
            continue
        ratio = times.ratio("bnlab", "torch")
        if target is None:
            verdict = f"{'-':>7}"
        else:
            verdict = f"{'<= ' + str(target):>7} {'ok' if ratio <= target else 'MISSED'}"
        print(
            f"{batch_size:>6} {format_time(times.median('bnlab')):>10} "
            f"{format_time(times.median('torch')):>10} {ratio:>12.2f} {verdict}"
        )


if __name__ == "__main__":
    main()
