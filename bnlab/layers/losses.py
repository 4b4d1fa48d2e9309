"""Loss functions: each ``loss(x, y) -> (loss, dx)``, loss a float averaged over the batch."""

from __future__ import annotations

import numpy as np

from bnlab.layers.checks import check_class_scores, check_targets


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """loss = -mean_i log softmax(x_i)[y_i]

    x: (N, C) class scores; y: (N,) integer labels in [0, C).
    Returns loss and dx: (N, C) = (softmax(x) - onehot(y)) / N.
    """
    N, _ = check_class_scores(x, y)
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
    N, _ = check_class_scores(x, y)
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

    x: (N, D) predictions; y: (N, D) targets, or (N,) when D = 1 (the study notes' regression).
    Returns loss and dx: (N, D) = 2 * (x - y) / (N * D).
    """
    y = check_targets(x, y)  # (N, D), in x's dtype
    diff = x - y
    loss = np.dot(diff.ravel(), diff.ravel()) / diff.size  # the sum of squares over N * D
    dx = (2 / diff.size) * diff
    return float(loss), dx
