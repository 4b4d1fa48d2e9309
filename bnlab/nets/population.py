"""Population statistics for batchnorm's test mode, recomputed from training data ("precise BN").

Training keeps moving averages of the batch statistics (``running_mean``, ``running_var``):
cheap, but they weigh recent batches most, and batches taken with older weights linger in
them. The BN paper's inference procedure (Ioffe & Szegedy, 2015, §3.1 and Algorithm 2) instead
freezes the weights, runs many training mini-batches B of size m through the net in train
mode, and sets, for every batchnorm layer::

    E[x]   = mean over batches of mu_B
    Var[x] = m / (m - 1) * mean over batches of var_B      (var_B: the biased batch variance)

Known elsewhere as "precise BN" (Wu & Johnson, 2021). :func:`recompute_bn_statistics` does this
for any bnlab net, through the public model API only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def recompute_bn_statistics(
    model: Any,
    X: np.ndarray,
    batch_size: int = 50,
    num_batches: int | None = None,
    *,
    unbiased: bool = True,
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """running_mean = mean_B(mu_B), running_var = m/(m-1) * mean_B(var_B), with the weights frozen.

    model: a bnlab net: ``params``, ``activations(X, mode)`` and ``bn_params``, the dicts of its
        normalisation layers in the order of its layers.
    X: (N, D) or (N, C, H, W) training inputs.
    batch_size: m, the examples in each batch; 2 <= m <= N (the training batch size is the
        natural choice: the statistics are those of batches of that size).
    num_batches: how many batches to average; None: N // batch_size, one pass over X. Batches
        are consecutive slices of a random order of X; a new random order starts when one runs out.
    unbiased: store the unbiased variance, the paper's rule (m here is N*H*W for spatial
        batchnorm); False stores the mean of the biased batch variances.
    seed: seeds the order of the examples.

    Returns {batchnorm layer name: (running_mean, running_var)}, the arrays now in each
    batchnorm layer's settings dict (in the dtype of the ones they replace). Gradient-free:
    no backward pass runs and ``params`` are not touched. Every batch runs in train mode, as
    training ran (dropout too). ``momentum`` is left as it was: training on afterwards continues
    the moving averages from the recomputed values.
    """
    N = len(X)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"batch_size must be an int, got {batch_size!r}")
    if not 2 <= batch_size <= N:
        raise ValueError(f"batch_size must be in [2, N = {N}] (X has N examples), got {batch_size}")
    if num_batches is None:
        num_batches = N // batch_size
    if isinstance(num_batches, bool) or not isinstance(num_batches, int | np.integer):
        raise TypeError(f"num_batches must be an int or None, got {num_batches!r}")
    if num_batches < 1:
        raise ValueError(f"num_batches must be >= 1, got {num_batches}")

    rng = np.random.default_rng(seed)
    order = rng.permutation(N)
    start = 0
    sums: dict[str, list[np.ndarray]] = {}  # name -> [sum of mu_B, sum of var_B], float64
    counts: dict[str, int] = {}  # name -> m, the values per feature in one batch
    # Train-mode batches move the running statistics: put them back if anything fails.
    saved = [
        {key: value.copy() if isinstance(value, np.ndarray) else value for key, value in p.items()}
        for p in model.bn_params
    ]
    try:
        for _ in range(num_batches):
            if start + batch_size > N:  # this pass is used up: a fresh random order
                order, start = rng.permutation(N), 0
            X_batch = X[order[start : start + batch_size]]
            start += batch_size
            outputs = model.activations(X_batch, mode="train")
            for name, x in batchnorm_inputs(X_batch, outputs).items():
                axes = (0,) if x.ndim == 2 else (0, 2, 3)  # per feature; m = N*H*W for images
                mu = np.mean(x, axis=axes, dtype=np.float64)
                var = np.var(x, axis=axes, dtype=np.float64)  # biased, as train mode uses
                total = sums.setdefault(name, [np.zeros_like(mu), np.zeros_like(var)])
                total[0] += mu
                total[1] += var
                counts[name] = x.size // mu.size
        if not sums:
            raise ValueError(f"model has no batchnorm layer; its layers: {', '.join(outputs)}")
        bn_states = [bn_param for bn_param in model.bn_params if "running_mean" in bn_param]
        if len(bn_states) != len(sums):
            raise ValueError(
                f"model.bn_params holds {len(bn_states)} batchnorm settings dicts but the model "
                f"has {len(sums)} batchnorm layers ({', '.join(sums)}): they must match in order"
            )
    except BaseException:
        for bn_param, old in zip(model.bn_params, saved, strict=True):
            bn_param.clear()
            bn_param.update(old)
        raise

    statistics = {}
    for (name, (mu_sum, var_sum)), bn_param in zip(sums.items(), bn_states, strict=True):
        m = counts[name]
        correction = m / (m - 1) if unbiased else 1.0
        dtype = bn_param["running_mean"].dtype
        # New arrays, as batchnorm's own update makes: the float64 sums rounded once.
        bn_param["running_mean"] = (mu_sum / num_batches).astype(dtype)
        bn_param["running_var"] = (correction * var_sum / num_batches).astype(dtype)
        statistics[name] = (bn_param["running_mean"], bn_param["running_var"])
    return statistics


def batchnorm_inputs(X: np.ndarray, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """{batchnorm layer name: its input}: the output of the layer before it (X for the first).

    outputs: ``model.activations``' dict, every layer's output in the order of the layers.
    """
    inputs, previous = {}, X
    for name, output in outputs.items():
        if name.startswith("batchnorm"):
            inputs[name] = previous
        previous = output
    return inputs
