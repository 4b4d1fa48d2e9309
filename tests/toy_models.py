"""Tiny models that follow the Solver's model API, for fast solver tests."""

from __future__ import annotations

import numpy as np

from bnlab.layers import mse_loss, softmax_loss


class LinearModel:
    """scores = (X - running_mean) W + b, with a softmax or MSE loss.

    running_mean (in ``bn_params``, as the nets keep it) is a moving average of the training
    batches' mean, updated in train mode and used in test mode: it makes the model's output
    depend on state outside ``params``, which checkpoints must capture.
    """

    def __init__(self, input_dim=4, num_outputs=3, loss_type="softmax", dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        self.dtype, self.loss_type = dtype, loss_type
        self.params = {
            "W": (0.01 * rng.standard_normal((input_dim, num_outputs))).astype(dtype),
            "b": np.zeros(num_outputs, dtype=dtype),
        }
        self.bn_params = [{"running_mean": np.zeros(input_dim, dtype=dtype)}]
        self.train_calls = 0

    def loss(self, X, y=None):
        X = X.astype(self.dtype, copy=False)
        running_mean = self.bn_params[0]["running_mean"]
        W, b = self.params["W"], self.params["b"]
        if y is None:
            return (X - running_mean) @ W + b
        self.train_calls += 1
        running_mean *= 0.9
        running_mean += 0.1 * X.mean(axis=0)
        centred = X - running_mean
        scores = centred @ W + b
        loss_fn = mse_loss if self.loss_type == "mse" else softmax_loss
        loss, dscores = loss_fn(scores, y)
        return loss, {"W": centred.T @ dscores, "b": dscores.sum(axis=0)}


class RecordingModel(LinearModel):
    """Remembers the example ids (column 0 of X) of every training batch."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen: list[np.ndarray] = []

    def loss(self, X, y=None):
        if y is not None:
            self.seen.append(X[:, 0].astype(int))
        return super().loss(X, y)


class DivergingModel(LinearModel):
    """Its training loss is NaN from the ``nan_at``-th training call on (1-based)."""

    def __init__(self, nan_at, **kwargs):
        super().__init__(**kwargs)
        self.nan_at = nan_at

    def loss(self, X, y=None):
        out = super().loss(X, y)
        if y is not None and self.train_calls >= self.nan_at:
            grads = out[1]
            return float("nan"), {name: np.full_like(g, np.nan) for name, g in grads.items()}
        return out


def blobs(num_train=60, num_val=30, input_dim=4, num_classes=3, seed=0, dtype=np.float64):
    """Separable Gaussian blobs: class c centred at 3 * e_c."""
    rng = np.random.default_rng(seed)
    centres = 3.0 * np.eye(num_classes, input_dim)

    def draw(n):
        y = rng.integers(num_classes, size=n)
        return (centres[y] + rng.standard_normal((n, input_dim))).astype(dtype), y

    X_train, y_train = draw(num_train)
    X_val, y_val = draw(num_val)
    return {"X_train": X_train, "y_train": y_train, "X_val": X_val, "y_val": y_val}
