"""Layer argument checks that mutation testing found unguarded (docs/mutation-testing.md):
messages whose words a mutant could change without any test noticing."""

import re

import numpy as np
import pytest

from bnlab.layers import max_pool_forward_naive, softmax_loss


def test_a_loss_of_an_empty_batch_says_why_it_is_refused():
    message = (
        "x is an empty batch, shape (0, 3): the loss is a mean over the batch and needs at "
        "least one example"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        softmax_loss(np.ones((0, 3)), np.zeros(0, dtype=int))


def test_a_pooling_stride_that_does_not_tile_the_width_names_the_width():
    message = (
        "pool_param['stride'] = 2 does not divide W - pool_param['pool_width'] = 5 - 2 = 3: "
        "the windows would not tile the width exactly (the last 1 columns would be ignored); "
        "change the stride or input size"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        max_pool_forward_naive(np.ones((1, 1, 4, 5)), {"pool_height": 2, "pool_width": 2,
                                                       "stride": 2})  # fmt: skip
