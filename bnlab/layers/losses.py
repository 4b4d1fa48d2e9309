"""Loss functions: each ``loss(x, y) -> (loss, dx)``, loss a float averaged over the batch."""

from __future__ import annotations

import numpy as np

from bnlab._validation import check_float_array, check_labels


def check_scores(x: np.ndarray) -> tuple[int, int]:
    """(N, C) of the scores ``x``, refused when there is nothing to average the loss over."""
    check_float_array("x", x, ndim=2)
    if x.shape[0] == 0:
        raise ValueError(
            f"x is an empty batch, shape {x.shape}: the loss is a mean over the batch and "
            "needs at least one example"
        )
    if x.shape[1] == 0:
        raise ValueError(f"x has no columns (no classes or outputs), shape {x.shape}")
    return x.shape


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = -mean_i log softmax(x_i)[y_i]

    x: (N, C) class scores; y: (N,) integer labels in [0, C).
    Returns loss and dx: (N, C) = (softmax(x) - onehot(y)) / N.
    """
    N, C = check_scores(x)
    check_labels("y", y, N, C)
    # Subtracting the row max leaves softmax unchanged and keeps exp from overflowing.
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(N)
    loss = -log_probs[rows, y].mean()
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    return float(loss), dx


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = mean_i sum_{j != y_i} max(0, x_ij - x_iy_i + 1)   (multiclass hinge, margin 1)

    x: (N, C) class scores; y: (N,) integer labels in [0, C).
    Returns loss and dx: (N, C).
    """
    N, C = check_scores(x)
    check_labels("y", y, N, C)
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / N
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    dx /= N
    return float(loss), dx


def mse_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = mean((x - y)^2) over every element (PyTorch's nn.MSELoss convention)

    x: (N, D) predictions; y: (N, D) targets, or (N,) when D = 1 (the seeds' regression).
    Returns loss and dx: (N, D) = 2 * (x - y) / (N * D).
    """
    check_scores(x)
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.number):
        raise TypeError(f"y must be a numeric numpy ndarray of targets, got {type(y).__name__}")
    if y.shape == (x.shape[0],) and x.shape[1] == 1:
        y = y[:, None]  # (N,) -> (N, 1)
    if y.shape != x.shape:
        raise ValueError(
            f"y must have the shape of x, {x.shape} (or ({x.shape[0]},) when x has one column), "
            f"got {y.shape}"
        )
    diff = x - y.astype(x.dtype, copy=False)
    loss = np.dot(diff.ravel(), diff.ravel()) / diff.size
    diff *= 2 / diff.size
    return float(loss), diff
