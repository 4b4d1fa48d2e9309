"""visualize_grid: many images (filters, activations) tiled into one, cs231n's signature."""

from __future__ import annotations

import math

import numpy as np


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """grid[cell i] = ubound * (Xs[i] - min Xs[i]) / (max Xs[i] - min Xs[i]), cells in a square

    Xs: (N, H, W, C), e.g. conv filters transposed to (F, HH, WW, C) for ``plt.imshow``.
    ubound: every image is rescaled on its own to [0, ubound] (a constant image becomes 0).
    padding: pixels of 0 between neighbouring cells.
    Returns grid: (G*H + (G-1)*padding, G*W + (G-1)*padding, C), G = ceil(sqrt(N)), float64,
    the images filled in row by row; cells past the N-th stay 0.
    """
    Xs = np.asarray(Xs)
    if Xs.ndim != 4 or Xs.shape[0] == 0:
        raise ValueError(f"Xs must be a non-empty (N, H, W, C) array, got shape {Xs.shape}")
    if isinstance(padding, bool) or not isinstance(padding, int | np.integer) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    if not ubound > 0:
        raise ValueError(f"ubound must be > 0, got {ubound!r}")
    N, H, W, C = Xs.shape
    G = math.ceil(math.sqrt(N))  # cells per side
    grid = np.zeros((G * H + (G - 1) * padding, G * W + (G - 1) * padding, C))
    for i, image in enumerate(Xs.astype(np.float64)):
        row, col = divmod(i, G)
        top, left = row * (H + padding), col * (W + padding)
        low, high = image.min(), image.max()
        scaled = ubound * (image - low) / (high - low) if high > low else np.zeros_like(image)
        grid[top : top + H, left : left + W] = scaled
    return grid
