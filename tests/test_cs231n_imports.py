"""The README's cs231n map: every row's bnlab import gives what the cs231n import gave a notebook."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"

# The names each cs231n module provides that the assignment notebooks use. fc_net.py and
# cnn.py star-import cs231n's layers (and layer_utils; cnn.py also fast_layers), so notebooks
# call the layer functions right after importing the nets.
LAYERS = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
    "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
    "max_pool_backward_naive", "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward", "svm_loss", "softmax_loss",
]  # fmt: skip
LAYER_UTILS = [
    "affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
    "conv_relu_pool_forward", "conv_relu_pool_backward", "conv_bn_relu_forward",
    "conv_bn_relu_backward",
]  # fmt: skip
FAST_LAYERS = [
    "conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast", "max_pool_backward_fast",
]  # fmt: skip
RULES = ["sgd", "sgd_momentum", "rmsprop", "adam"]

EXPECTED = {
    "from cs231n.layers import *": LAYERS,
    "from cs231n.layer_utils import *": LAYER_UTILS,
    "from cs231n.fast_layers import *": FAST_LAYERS,
    "from cs231n.classifiers.fc_net import *": [
        "FullyConnectedNet",
        "TwoLayerNet",
        *LAYERS,
        *LAYER_UTILS,
    ],
    "from cs231n.classifiers.cnn import *": [
        "ThreeLayerConvNet",
        *LAYERS,
        *LAYER_UTILS,
        *FAST_LAYERS,
    ],
    "from cs231n.solver import Solver": ["Solver"],
    "from cs231n import optim": [f"optim.{rule}" for rule in RULES],
    "from cs231n.optim import X": RULES,  # X: any update rule
    "from cs231n.gradient_check import ...": [
        "eval_numerical_gradient",
        "eval_numerical_gradient_array",
    ],
    "from cs231n.data_utils import get_CIFAR10_data": ["get_CIFAR10_data"],
    "from cs231n.vis_utils import visualize_grid": ["visualize_grid"],
}


def readme_map() -> dict[str, list[str]]:
    """The README's "Coming from cs231n" table: cs231n import -> its bnlab import lines."""
    section = README.read_text(encoding="utf-8").split("## Coming from cs231n")[1]
    section = section.split("\n## ")[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `from cs231n") and not line.startswith("| `import cs231n"):
            continue
        cs231n_cell, bnlab_cell = line.strip("|").split(" | ")[:2]
        cs231n_line = re.findall(r"`([^`]+)`", cs231n_cell)[0]
        rows[cs231n_line] = [c for c in re.findall(r"`([^`]+)`", bnlab_cell) if "bnlab" in c]
    return rows


def bnlab_namespace(cs231n_line: str, names: list[str]) -> dict:
    """Run the README's bnlab import(s) for cs231n_line in a fresh namespace, as a notebook would."""
    namespace: dict = {}
    for line in readme_map()[cs231n_line]:
        if line.endswith(" ..."):  # import the names notebooks use
            line = line.replace("...", ", ".join(names))
        if line.endswith(" X"):  # one row for every update rule
            for name in names:
                exec(line[:-1] + name, namespace)
            continue
        exec(line, namespace)
    return namespace


def test_every_cs231n_import_in_the_readme_is_covered_here():
    assert sorted(readme_map()) == sorted(EXPECTED)
    assert all(readme_map().values()), "every row names at least one bnlab import"


@pytest.mark.parametrize("cs231n_line", sorted(EXPECTED))
def test_each_readme_row_gives_the_names_cs231n_gave(cs231n_line):
    names = EXPECTED[cs231n_line]
    namespace = bnlab_namespace(cs231n_line, names)
    missing = []
    for name in names:
        head, *rest = name.split(".")
        value = namespace.get(head)
        for attribute in rest:
            value = getattr(value, attribute, None)
        if not callable(value):
            missing.append(name)
    assert not missing, f"{readme_map()[cs231n_line]} does not give {missing}"
