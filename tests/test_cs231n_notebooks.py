"""cs231n-style notebook cells, run as code with their imports changed by the README's map.

The cells are written here in the manner of cs231n's assignment 2 notebooks
(FullyConnectedNets, BatchNormalization, Dropout, ConvolutionalNetworks); the expected values
in them are the ones those notebooks publish. Each notebook runs in one namespace, cell after
cell, for the two dropout conventions: course years 2016-2017 (p and dropout= are the DROP
probability) and 2018 on (the KEEP probability).
"""

import warnings

import numpy as np
import pytest
from test_cs231n_imports import readme_map

import bnlab
from bnlab.layers.dropout import DropoutConventionWarning


def imports_cell(*cs231n_lines: str) -> str:
    """The notebook's import cell with every cs231n import replaced as the README's map says."""
    lines = []
    for cs231n_line in cs231n_lines:
        lines += readme_map()[cs231n_line]
    return "\n".join(lines)


COMMON = """
import numpy as np
import bnlab
from bnlab.layers.dropout import DropoutConventionWarning

def rel_error(x, y):
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))
"""

# The year cell: what a 2016-2017 notebook (or a 2018+ one) adds at its top.
YEAR_CELL = {2017: "bnlab.set_cs231n_year(2017)", 2019: "bnlab.set_cs231n_year(2019)"}

FULLY_CONNECTED = [
    # affine_forward against the published correct_out
    """
num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
input_size = num_inputs * np.prod(input_shape)
weight_size = output_dim * np.prod(input_shape)
x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
b = np.linspace(-0.3, 0.1, num=output_dim)
out, _ = affine_forward(x, w, b)
correct_out = np.array([[1.49834967, 1.70660132, 1.91485297],
                        [3.25553199, 3.5141327, 3.77273342]])
assert rel_error(out, correct_out) < 1e-8
""",
    # relu_forward against the published correct_out
    """
x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
out, _ = relu_forward(x)
correct_out = np.array([[0., 0., 0., 0.],
                        [0., 0., 0.04545455, 0.13636364],
                        [0.22727273, 0.31818182, 0.40909091, 0.5]])
assert rel_error(out, correct_out) < 1e-7
""",
    # the losses: near 9 (svm) and 2.3 (softmax) for tiny scores, gradients numerically checked
    """
np.random.seed(231)
num_classes, num_inputs = 10, 50
x = 0.001 * np.random.randn(num_inputs, num_classes)
y = np.random.randint(num_classes, size=num_inputs)
for loss_function, expected_loss in [(svm_loss, 9), (softmax_loss, 2.3)]:
    loss, dx = loss_function(x, y)
    dx_num = eval_numerical_gradient(lambda x: loss_function(x, y)[0], x, verbose=False)
    assert abs(loss - expected_loss) < 0.05, loss
    assert rel_error(dx_num, dx) < 1e-7
""",
    # TwoLayerNet: initial weights, then the published test-time scores and losses
    """
np.random.seed(231)
N, D, H, C = 3, 5, 50, 7
X = np.random.randn(N, D)
y = np.random.randint(C, size=N)
std = 1e-3
model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
W1_std = abs(model.params['W1'].std() - std)
W2_std = abs(model.params['W2'].std() - std)
assert W1_std < std / 10, 'First layer weights do not seem right'
assert np.all(model.params['b1'] == 0), 'First layer biases do not seem right'
assert W2_std < std / 10, 'Second layer weights do not seem right'
model.params['W1'] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
model.params['b1'] = np.linspace(-0.1, 0.9, num=H)
model.params['W2'] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
model.params['b2'] = np.linspace(-0.9, 0.1, num=C)
X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
scores = model.loss(X)
correct_scores = np.asarray(
    [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
     [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
     [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
assert np.abs(scores - correct_scores).sum() < 1e-6, 'Problem with test-time forward pass'
y = np.asarray([0, 5, 1])
loss, grads = model.loss(X, y)
assert abs(loss - 3.4702243556) < 1e-10, 'Problem with training-time loss'
model.reg = 1.0
loss, grads = model.loss(X, y)
assert abs(loss - 26.5948426952) < 1e-10, 'Problem with regularization loss'
""",
    # FullyConnectedNet: the published initial losses for seed 231, and gradient checks
    """
np.random.seed(231)
N, D, H1, H2, C = 2, 15, 20, 30, 10
X = np.random.randn(N, D)
y = np.random.randint(C, size=(N,))
for reg, published in [(0, 2.3004790897684924), (3.14, 7.052114776533016)]:
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                              weight_scale=5e-2, dtype=np.float64)
    loss, grads = model.loss(X, y)
    assert abs(loss - published) < 1e-12, (reg, loss)
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        assert rel_error(grad_num, grads[name]) < 1e-4, name  # W2: 2.2e-5 with seed 231
""",
    # the Solver without a seed: np.random.seed reproduces the run (weights and minibatches)
    """
rng = np.random.default_rng(0)
small_data = {'X_train': rng.standard_normal((50, 3, 8, 8)), 'y_train': rng.integers(10, size=50),
              'X_val': rng.standard_normal((20, 3, 8, 8)), 'y_val': rng.integers(10, size=20)}
histories = []
for _ in range(2):
    np.random.seed(231)
    model = FullyConnectedNet([100, 100], input_dim=3 * 8 * 8, weight_scale=1e-1, dtype=np.float64)
    solver = Solver(model, small_data, print_every=100, num_epochs=20, batch_size=25,
                    update_rule='sgd', optim_config={'learning_rate': 1e-1}, verbose=False)
    solver.train()
    histories.append(solver.loss_history)
assert histories[0] == histories[1]
assert solver.train_acc_history[-1] == 1.0, 'overfits 50 examples'
""",
]

BATCHNORM = [
    # train-time forward: means 0 and stds 1, then beta and gamma
    """
np.random.seed(231)
N, D1, D2, D3 = 200, 50, 60, 3
X = np.random.randn(N, D1)
W1 = np.random.randn(D1, D2)
W2 = np.random.randn(D2, D3)
a = np.maximum(0, X.dot(W1)).dot(W2)
a_norm, _ = batchnorm_forward(a, np.ones(D3), np.zeros(D3), {'mode': 'train'})
assert np.allclose(a_norm.mean(axis=0), 0, atol=1e-7)
assert np.allclose(a_norm.std(axis=0), 1, atol=1e-4)
gamma, beta = np.asarray([1.0, 2.0, 3.0]), np.asarray([11.0, 12.0, 13.0])
a_norm, _ = batchnorm_forward(a, gamma, beta, {'mode': 'train'})
assert np.allclose(a_norm.mean(axis=0), beta, atol=1e-7)
assert np.allclose(a_norm.std(axis=0), gamma, atol=1e-4)
""",
    # test-time forward after 50 train-time passes: means near 0, stds near 1
    """
np.random.seed(231)
N, D1, D2, D3 = 200, 50, 60, 3
W1 = np.random.randn(D1, D2)
W2 = np.random.randn(D2, D3)
bn_param = {'mode': 'train'}
gamma, beta = np.ones(D3), np.zeros(D3)
for t in range(50):
    X = np.random.randn(N, D1)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    batchnorm_forward(a, gamma, beta, bn_param)
bn_param['mode'] = 'test'
X = np.random.randn(N, D1)
a = np.maximum(0, X.dot(W1)).dot(W2)
a_norm, _ = batchnorm_forward(a, gamma, beta, bn_param)
assert np.all(np.abs(a_norm.mean(axis=0)) < 0.2) and np.all(np.abs(a_norm.std(axis=0) - 1) < 0.1)
""",
    # the batchnorm net: the published initial loss for seed 231, and a gradient check
    """
np.random.seed(231)
N, D, H1, H2, C = 2, 15, 20, 30, 10
X = np.random.randn(N, D)
y = np.random.randint(C, size=(N,))
for reg in [0, 3.14]:
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2,
                              dtype=np.float64, **BATCHNORM_KEYWORD)
    loss, grads = model.loss(X, y)
    if reg == 0:
        assert abs(loss - 2.2611955101340957) < 1e-12, loss
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        assert rel_error(grad_num, grads[name]) < 2e-4, name  # W1: 1.1e-4 with seed 231
""",
]

# 2016-2017: p and dropout= are the DROP probability; from 2018 the KEEP probability.
DROPOUT = {
    2017: dict(
        ps=[0.3, 0.6, 0.75],
        zero_fraction="p",
        net_dropouts=[0, 0.25, 0.5],
        keep="1 - dropout",
        keyword="dropout",
        batchnorm={"use_batchnorm": True},
    ),
    2019: dict(
        ps=[0.25, 0.4, 0.7],
        zero_fraction="1 - p",
        net_dropouts=[1, 0.75, 0.5],
        keep="dropout",
        keyword="dropout",
        batchnorm={"normalization": "batchnorm"},
    ),
}


def dropout_cells(year: int) -> list[str]:
    convention = DROPOUT[year]
    return [
        # the kept fraction: near p's drop (or keep) reading, the mean kept at 10
        f"""
np.random.seed(231)
x = np.random.randn(500, 500) + 10
for p in {convention["ps"]}:
    out, _ = dropout_forward(x, {{'mode': 'train', 'p': p}})
    out_test, _ = dropout_forward(x, {{'mode': 'test', 'p': p}})
    assert abs((out == 0).mean() - ({convention["zero_fraction"]})) < 0.01, (p, (out == 0).mean())
    assert abs(out.mean() - x.mean()) < 0.1
    assert np.array_equal(out_test, x)
""",
        # dropout_backward against a numerical gradient, with a fixed mask
        """
np.random.seed(231)
x = np.random.randn(10, 10) + 10
dout = np.random.randn(*x.shape)
dropout_param = {'mode': 'train', 'p': 0.2, 'seed': 123}
out, cache = dropout_forward(x, dropout_param)
dx = dropout_backward(dout, cache)
dx_num = eval_numerical_gradient_array(lambda xx: dropout_forward(xx, dropout_param)[0], x, dout)
assert rel_error(dx, dx_num) < 1e-10
""",
        # the net with dropout: the keep probability the year means, and a gradient check
        f"""
np.random.seed(231)
N, D, H1, H2, C = 2, 15, 20, 30, 10
X = np.random.randn(N, D)
y = np.random.randint(C, size=(N,))
for dropout in {convention["net_dropouts"]}:
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-2,
                              dtype=np.float64, {convention["keyword"]}=dropout, seed=123)
    keep = {convention["keep"]}
    assert model.use_dropout == (keep != 1)
    assert model.dropout_param.get('keep_prob', 1) == keep
    loss, grads = model.loss(X, y)
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
        assert rel_error(grad_num, grads[name]) < 1e-5, name
""",
    ]


CONVOLUTIONAL = [
    # conv_forward_naive against the published correct_out
    """
x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
b = np.linspace(-0.1, 0.2, num=3)
out, _ = conv_forward_naive(x, w, b, {'stride': 2, 'pad': 1})
correct_out = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                         [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                         [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                        [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                         [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                         [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
assert rel_error(out, correct_out) < 1e-7
""",
    # max_pool_forward_naive against the published correct_out, and the fast twin
    """
x_shape = (2, 3, 4, 4)
x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
pool_param = {'pool_width': 2, 'pool_height': 2, 'stride': 2}
out, _ = max_pool_forward_naive(x, pool_param)
correct_out = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                         [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                         [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                        [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                         [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                         [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
assert rel_error(out, correct_out) < 1e-7
assert rel_error(max_pool_forward_fast(x, pool_param)[0], out) < 1e-12
""",
    # the three-layer convnet: the loss near log(10), more with reg; its first-layer filters
    """
np.random.seed(231)
model = ThreeLayerConvNet()
N = 50
X = np.random.randn(N, 3, 32, 32)
y = np.random.randint(10, size=N)
loss, grads = model.loss(X, y)
assert abs(loss - np.log(10)) < 1e-3
model.reg = 0.5
assert model.loss(X, y)[0] > loss + 0.1
grid = visualize_grid(model.params['W1'].transpose(0, 2, 3, 1))
assert grid.shape == (6 * 7 + 5, 6 * 7 + 5, 3)  # 32 filters in 6 x 6 cells, 1 pixel apart
assert grid.min() == 0 and grid.max() == 255
""",
]

FC_IMPORTS = (
    "from cs231n.classifiers.fc_net import *",
    "from cs231n.solver import Solver",
    "from cs231n.gradient_check import ...",
)


def run_cells(*cells: str) -> dict:
    """Run the cells in one namespace, as a notebook does; fails on any dropout warning."""
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DropoutConventionWarning)
        for cell in cells:
            exec(cell, namespace)
    return namespace


def gradient_check_imports() -> str:
    return imports_cell(*FC_IMPORTS).replace(
        "...", "eval_numerical_gradient, eval_numerical_gradient_array"
    )


@pytest.fixture(autouse=True)
def no_course_year():
    """Every test starts and ends without a course year set."""
    bnlab.set_cs231n_year(None)
    yield
    bnlab.set_cs231n_year(None)


@pytest.mark.parametrize("year", [2017, 2019])
def test_fully_connected_nets_notebook(year):
    run_cells(COMMON, gradient_check_imports(), YEAR_CELL[year], *FULLY_CONNECTED)


@pytest.mark.parametrize("year", [2017, 2019])
def test_batch_normalization_notebook(year):
    keyword = f"BATCHNORM_KEYWORD = {DROPOUT[year]['batchnorm']!r}"
    run_cells(COMMON, gradient_check_imports(), YEAR_CELL[year], keyword, *BATCHNORM)


@pytest.mark.parametrize("year", [2017, 2019])
def test_dropout_notebook(year):
    run_cells(COMMON, gradient_check_imports(), YEAR_CELL[year], *dropout_cells(year))


@pytest.mark.slow
def test_convolutional_networks_notebook():
    imports = imports_cell(
        "from cs231n.classifiers.cnn import *",
        "from cs231n.layers import *",
        "from cs231n.fast_layers import *",
        "from cs231n.vis_utils import visualize_grid",
    )
    run_cells(COMMON, imports, *CONVOLUTIONAL)


def test_dropout_notebook_without_a_year_warns_naming_both_readings_and_the_fix():
    namespace = run_cells(COMMON, gradient_check_imports())
    x = np.random.default_rng(0).standard_normal((100, 100)) + 10
    with pytest.warns(UserWarning) as record:
        out, _ = namespace["dropout_forward"](x, {"mode": "train", "p": 0.3, "seed": 0})
    message = str(record[0].message)
    for words in ["0.3", "DROP", "2017", "KEEP", "2018", "bnlab.set_cs231n_year(2017)"]:
        assert words in message, (words, message)
    assert record[0].filename == __file__  # points at the caller's line
    assert abs((out == 0).mean() - 0.7) < 0.05  # read as bnlab documents: the keep probability
    with pytest.warns(UserWarning, match=r"dropout = 0.25 .*DROP.*KEEP.*set_cs231n_year"):
        model = namespace["FullyConnectedNet"]([5], input_dim=3, dropout=0.25, seed=0)
    assert model.dropout_param["keep_prob"] == 0.75  # the 2017 reading bnlab always used


@pytest.mark.parametrize("value", [0, 1])
def test_no_dropout_values_mean_no_dropout_in_every_year_without_a_warning(value):
    namespace = run_cells(COMMON, gradient_check_imports())
    x = np.random.default_rng(0).standard_normal((20, 20))
    out, _ = namespace["dropout_forward"](x, {"mode": "train", "p": value})
    assert np.array_equal(out, x)
    assert not namespace["FullyConnectedNet"]([5], input_dim=3, dropout=value).use_dropout


@pytest.mark.parametrize(
    "year, value, words",
    [(2017, 1, ["dropout", "[0, 1)", "DROP", "2017", "1"]),
     (2019, 0, ["dropout", "(0, 1]", "KEEP", "2019", "0"])],
)  # fmt: skip
def test_a_year_refuses_the_value_it_cannot_mean(year, value, words):
    namespace = run_cells(COMMON, gradient_check_imports(), YEAR_CELL[year])
    with pytest.raises(ValueError) as error:
        namespace["FullyConnectedNet"]([5], input_dim=3, dropout=value)
    for word in words:
        assert word in str(error.value)
    with pytest.raises(ValueError, match=r"dropout_param\['p'\]"):
        namespace["dropout_forward"](np.ones(3), {"mode": "train", "p": value})


def test_bnlab_keep_names_ignore_the_course_year():
    bnlab.set_cs231n_year(2017)
    namespace = run_cells(COMMON, gradient_check_imports())
    x = np.random.default_rng(0).standard_normal((200, 200)) + 10
    out, _ = namespace["dropout_forward"](x, {"mode": "train", "keep_prob": 0.3, "seed": 0})
    assert abs((out == 0).mean() - 0.7) < 0.02
    model = namespace["FullyConnectedNet"]([5], input_dim=3, dropout_keep_ratio=0.3, seed=0)
    assert model.dropout_param["keep_prob"] == 0.3


def test_set_cs231n_year_refuses_what_is_not_a_year():
    for bad in ["2017", 17, True, 2017.0]:
        with pytest.raises(ValueError, match="year"):
            bnlab.set_cs231n_year(bad)


def test_the_seed_keeps_the_nets_and_the_solver_off_the_global_generator():
    from bnlab.nets import FullyConnectedNet
    from bnlab.solver import Solver

    rng = np.random.default_rng(1)
    data = {"X_train": rng.standard_normal((40, 6)), "y_train": rng.integers(3, size=40),
            "X_val": rng.standard_normal((10, 6)), "y_val": rng.integers(3, size=10)}  # fmt: skip
    runs = []
    for global_seed in (0, 1):
        np.random.seed(global_seed)  # noqa: NPY002 (what a notebook does)
        model = FullyConnectedNet([5], input_dim=6, num_classes=3, seed=7)
        solver = Solver(model, data, num_epochs=2, batch_size=8, verbose=False, seed=7)
        solver.train()
        runs.append((model.params["W1"], solver.loss_history))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


def test_without_a_seed_the_solver_draws_cs231n_minibatches_from_the_global_generator():
    from bnlab.solver import Solver

    class Recorder:
        """A model that remembers which training examples each step saw (X holds the index)."""

        def __init__(self):
            self.params = {"w": np.zeros(1)}
            self.seen = []

        def loss(self, X, y=None):
            if y is None:
                return np.zeros((len(X), 2))
            self.seen.append(X[:, 0].astype(int).tolist())
            return 0.0, {"w": np.zeros(1)}

    N, batch_size = 30, 7
    data = {"X_train": np.arange(N, dtype=float)[:, None], "y_train": np.zeros(N, int),
            "X_val": np.zeros((4, 1)), "y_val": np.zeros(4, int)}  # fmt: skip
    model = Recorder()
    np.random.seed(231)  # noqa: NPY002 (what a notebook does)
    Solver(model, data, batch_size=batch_size, num_epochs=2, verbose=False).train()
    np.random.seed(231)  # noqa: NPY002
    steps = 2 * (N // batch_size)
    expected = [np.random.choice(N, batch_size).tolist() for _ in range(steps)]  # noqa: NPY002
    assert model.seen == expected
