"""bnlab.plotting.visualize_grid: cs231n's vis_utils.visualize_grid(Xs, ubound, padding)."""

import numpy as np
import pytest

from bnlab.plotting import visualize_grid


def test_images_are_tiled_row_by_row_each_rescaled_with_zero_padding():
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((3, 2, 4, 1)) * [[[[5.0]]], [[[0.1]]], [[[30.0]]]]  # (N, H, W, C)
    grid = visualize_grid(Xs, ubound=10.0, padding=2)
    # G = ceil(sqrt(3)) = 2 cells per side: 2*2 + 2 high, 2*4 + 2 wide
    assert grid.shape == (6, 10, 1)
    cells = [grid[0:2, 0:4], grid[0:2, 6:10], grid[4:6, 0:4]]
    for image, cell in zip(Xs, cells, strict=True):
        expected = 10.0 * (image - image.min()) / (image.max() - image.min())
        np.testing.assert_allclose(cell, expected, rtol=1e-12)
    assert not grid[2:4].any() and not grid[:, 4:6].any()  # the padding
    assert not grid[4:6, 6:10].any()  # the fourth cell has no image


def test_a_constant_image_becomes_zero_and_defaults_match_cs231n():
    Xs = np.ones((1, 3, 3, 3))
    assert np.array_equal(visualize_grid(Xs), np.zeros((3, 3, 3)))
    Xs = np.arange(2 * 2 * 2 * 3, dtype=float).reshape(2, 2, 2, 3)
    grid = visualize_grid(Xs)  # ubound 255, padding 1, 2 cells per side
    assert grid.shape == (5, 5, 3) and grid.max() == 255.0 and grid.min() == 0.0


@pytest.mark.parametrize(
    "kwargs, words",
    [(dict(Xs=np.ones((2, 2, 2))), ["Xs", "(N, H, W, C)", "(2, 2, 2)"]),
     (dict(Xs=np.ones((1, 2, 2, 1)), padding=-1), ["padding", "-1"]),
     (dict(Xs=np.ones((1, 2, 2, 1)), ubound=0), ["ubound", "0"])],
)  # fmt: skip
def test_bad_arguments_are_named(kwargs, words):
    with pytest.raises(ValueError) as error:
        visualize_grid(**kwargs)
    for word in words:
        assert word in str(error.value)
