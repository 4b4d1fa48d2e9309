"""The Solver's multi-tensor update (bnlab.fast.multi_tensor) against the per-parameter loop.

Two Solvers train the same net from the same seed: one as it runs by default (the small params
packed and updated by one rule call per group), one with the packing switched off
(``solver._multi_tensor = None``: one rule call per param, as before). Elementwise IEEE
arithmetic does not depend on where a number sits, so params, optimizer state and losses must
be BITWISE equal (assert_array_equal, no tolerance), for every rule, both dtypes, through a
checkpoint resume, lr_decay, and changes made between steps that the packing must notice.
"""

import copy
import pickle

import numpy as np
import pytest

from bnlab.data import make_synthetic_images
from bnlab.fast.multi_tensor import MultiTensorUpdate
from bnlab.fast.optim import SCALAR_KEYS, STATE_KEYS, UPDATE_RULES
from bnlab.layers import softmax_loss
from bnlab.nets import FullyConnectedNet
from bnlab.solver import Solver

RULES = sorted(UPDATE_RULES)
IMAGE = (3, 4, 4)
# W1 is 48 x 30 = 1440 elements; the default limit packs every param, this one leaves W1 alone
SMALL_LIMIT = 1000


def data(dtype=np.float32):
    return make_synthetic_images(60, 20, 0, image_shape=IMAGE, dtype=dtype, seed=1)


def make_solver(rule, dtype=np.float32, packed=True, max_size=None, **kwargs):
    model = FullyConnectedNet(
        [30, 20],
        input_dim=int(np.prod(IMAGE)),
        normalization="batchnorm",
        weight_scale="he",
        dtype=dtype,
        seed=0,
    )
    settings = {"batch_size": 10, "num_epochs": 2, "seed": 0, "verbose": False}
    settings["optim_config"] = {"learning_rate": 1e-2}
    solver = Solver(model, data(dtype), update_rule=rule, **{**settings, **kwargs})
    if not packed:
        solver._multi_tensor = None
    elif max_size is not None:
        solver._multi_tensor.max_size = max_size
    return solver


def steps(solver, count):
    for _ in range(count):
        solver._step()


def assert_same_training(packed, loop, where=""):
    """Bitwise: losses, every param, every config entry (state arrays and scalars)."""
    assert packed.loss_history == loop.loss_history, where
    assert packed.model.params.keys() == loop.model.params.keys()
    for name, w in loop.model.params.items():
        np.testing.assert_array_equal(packed.model.params[name], w, err_msg=f"{where} {name}")
        assert packed.model.params[name].dtype == w.dtype
        assert packed.optim_configs[name].keys() == loop.optim_configs[name].keys(), where
        for key, value in loop.optim_configs[name].items():
            np.testing.assert_array_equal(
                packed.optim_configs[name][key], value, err_msg=f"{where} {name}[{key!r}]"
            )


def packed_names(solver):
    return set(solver._multi_tensor.packed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("max_size", [None, SMALL_LIMIT], ids=["all-packed", "W1-alone"])
@pytest.mark.parametrize("rule", RULES)
def test_packed_update_is_bitwise_the_per_param_update(rule, max_size, dtype):
    packed = make_solver(rule, dtype, max_size=max_size)
    loop = make_solver(rule, dtype, packed=False)
    steps(packed, 1)
    steps(loop, 1)
    # the first step packs (the rule has made its state by then): it really is in use
    expected = set(loop.model.params) - ({"W1"} if max_size == SMALL_LIMIT else set())
    assert packed_names(packed) == expected
    (group,) = packed._multi_tensor.groups  # one dtype, one config: one group
    assert all(packed.model.params[name].base is group.w for name in expected)
    steps(packed, 7)
    steps(loop, 7)
    assert_same_training(packed, loop, f"{rule} {np.dtype(dtype)}")
    assert packed_names(packed) == expected  # still packed after 8 steps


@pytest.mark.parametrize("rule", RULES)
def test_whole_training_with_lr_decay_and_best_params_is_bitwise_equal(rule):
    """train(): lr_decay changes every config's learning rate alike (the packing holds), and
    the best params are copied back into the packed views at the end."""
    packed = make_solver(rule, lr_decay=0.5, num_epochs=3)
    loop = make_solver(rule, lr_decay=0.5, num_epochs=3, packed=False)
    packed.train()
    loop.train()
    assert_same_training(packed, loop, rule)
    assert packed.best_epoch == loop.best_epoch
    assert packed.optim_configs["b1"]["learning_rate"] == 1e-2 * 0.5**3
    assert packed_names(packed)


@pytest.mark.parametrize("rule", RULES)
def test_checkpoint_resume_is_bitwise_the_uninterrupted_per_param_run(rule, tmp_path):
    """The checkpoint holds copies of the packed views; the resumed Solver packs again."""
    first_run = {"num_epochs": 1, "checkpoint_name": tmp_path / "run"}
    make_solver(rule, **first_run).train()
    resumed = Solver.resume(tmp_path / "run_epoch_1.pkl", data(), num_epochs=3)
    resumed.train()
    loop = make_solver(rule, num_epochs=3, packed=False)
    loop.train()
    assert_same_training(resumed, loop, rule)
    assert packed_names(resumed)


def replace_gamma1(solver):
    # a new array object (not b1: batchnorm right after makes its gradient zero)
    solver.model.params["gamma1"] = solver.model.params["gamma1"] + 0.5


def set_one_learning_rate(solver):
    solver.optim_configs["gamma2"]["learning_rate"] = 3e-2


def replace_a_config(solver):
    """A new dict (as a resume makes), then a learning rate set in it alone."""
    config = dict(solver.optim_configs["beta1"])
    config.update({key: np.copy(config[key]) for key in STATE_KEYS[solver.update_rule_name]})
    solver.optim_configs["beta1"] = config
    config["learning_rate"] = 2e-2


def copy_a_config(solver):
    """A shallow copy: the same state arrays, but adam's step count must go to the new dict."""
    solver.optim_configs["gamma1"] = dict(solver.optim_configs["gamma1"])


def replace_a_state_array(solver):
    config = solver.optim_configs["beta2"]
    for key in STATE_KEYS[solver.update_rule_name]:
        config[key] = config[key] * 0.5
    if not STATE_KEYS[solver.update_rule_name]:  # sgd keeps no state: change a scalar instead
        config["learning_rate"] = 2e-2


def write_into_a_param(solver):
    solver.model.params["W2"][0, :] = 1.0  # in place: the packed view takes it, no fallback


CHANGES = [replace_gamma1, set_one_learning_rate, replace_a_config, replace_a_state_array]
# the params these leave with a learning rate of their own: alone, so never packed again
SET_APART = {set_one_learning_rate: {"gamma2"}, replace_a_config: {"beta1"}}


@pytest.mark.parametrize(
    "change", [*CHANGES, copy_a_config, write_into_a_param], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("rule", RULES)
def test_a_change_between_steps_gives_the_per_param_result(rule, change):
    packed = make_solver(rule)
    loop = make_solver(rule, packed=False)
    for solver in (packed, loop):
        steps(solver, 3)
        change(solver)
        steps(solver, 3)
    assert_same_training(packed, loop, f"{rule}, {change.__name__}")


@pytest.mark.parametrize("change", CHANGES, ids=lambda f: f.__name__)
def test_a_change_unpacks_for_one_step_and_packs_again(change):
    solver = make_solver("adam")
    steps(solver, 2)
    before = packed_names(solver)
    change(solver)
    assert solver._multi_tensor.update(solver.model.params, {}, solver.optim_configs) == set()
    assert solver._multi_tensor.groups == []
    steps(solver, 1)  # per param, then packed again
    assert packed_names(solver) == before - SET_APART.get(change, set())


class Float64GradientNet(FullyConnectedNet):
    """Returns its gradients in float64 for float32 params: the per-param rule's business."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        loss, grads = result
        return loss, {name: dw.astype(np.float64) for name, dw in grads.items()}


def test_gradients_of_another_dtype_are_never_packed(monkeypatch):
    model = Float64GradientNet([30, 20], input_dim=48, normalization="batchnorm", seed=0)
    solver = Solver(model, data(), update_rule="adam", batch_size=10, seed=0, verbose=False)
    looked_at = []
    packable = solver._multi_tensor._packable
    monkeypatch.setattr(
        solver._multi_tensor, "_packable", lambda *args: looked_at.append(1) or packable(*args)
    )
    steps(solver, 3)
    assert packed_names(solver) == set()
    assert len(looked_at) == len(model.params)  # looked once, after the first step, not every step


def test_groups_by_dtype_and_config_and_leaves_big_and_lone_params():
    rng = np.random.default_rng(0)
    params = {
        "a": rng.standard_normal(5).astype(np.float32),
        "b": rng.standard_normal((2, 3)).astype(np.float32),
        "c": rng.standard_normal(4),  # float64: another group
        "d": rng.standard_normal(3),
        "big": rng.standard_normal(50).astype(np.float32),
        "lone": rng.standard_normal(2).astype(np.float32),  # alone with its learning rate
    }
    grads = {name: np.ones_like(w) for name, w in params.items()}
    configs = {name: {"learning_rate": 0.1, "momentum": 0.9} for name in params}
    configs["lone"]["learning_rate"] = 0.2
    rule = UPDATE_RULES["sgd_momentum"]
    for name in params:
        params[name], configs[name] = rule(params[name], grads[name], configs[name])
    packer = MultiTensorUpdate("sgd_momentum", rule, max_size=20)
    packer.pack(params, grads, configs)
    groups = sorted((group.names, group.w.dtype) for group in packer.groups)
    assert groups == [(["a", "b"], np.float32), (["c", "d"], np.float64)]
    assert packer.packed == {"a", "b", "c", "d"}
    for name in ("a", "b"):  # params and state are views of the group's buffers
        assert params[name].base is packer.groups[0].w or params[name].base is packer.groups[1].w
        assert configs[name]["velocity"].base is not None


def test_every_fast_rule_lists_its_state_and_scalars():
    """What a rule leaves in a fresh config is exactly STATE_KEYS + SCALAR_KEYS (packing relies
    on it: an unlisted key would never pack, a missing one would pack wrongly)."""
    for name, rule in UPDATE_RULES.items():
        _, config = rule(np.ones(3), np.ones(3), None)
        assert set(config) == {*STATE_KEYS[name], *SCALAR_KEYS[name]}, name
        assert all(isinstance(config[key], np.ndarray) for key in STATE_KEYS[name]), name


class TransposedGradientNet(FullyConnectedNet):
    """From its third training call on, returns W2's gradient transposed (same size)."""

    calls = 0

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        self.calls += 1
        loss, grads = result
        if self.calls >= 3:
            grads["W2"] = np.ascontiguousarray(grads["W2"].T)
        return loss, grads


def test_a_gradient_of_the_wrong_shape_still_gets_the_rules_error():
    """Copying it into the flat buffer would fit (same size) and silently scramble W2."""
    model = TransposedGradientNet([30, 20], input_dim=48, normalization="batchnorm", seed=0)
    solver = Solver(model, data(), update_rule="adam", batch_size=10, seed=0, verbose=False)
    steps(solver, 2)
    assert "W2" in packed_names(solver)
    with pytest.raises(
        ValueError, match=r"dw must have the shape of w, \(30, 20\), got \(20, 30\)"
    ):
        steps(solver, 1)


class ScaledLinearModel:
    """scores = scale * (X @ W) + b, with scale a 0-d param (one scalar)."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.params = {
            "W": (0.1 * rng.standard_normal((48, 10))).astype(np.float32),
            "b": np.zeros(10, dtype=np.float32),
            "scale": np.array(1.0, dtype=np.float32),
        }

    def loss(self, X, y=None):
        X = X.reshape(len(X), -1)
        projected = X @ self.params["W"]
        scores = self.params["scale"] * projected + self.params["b"]
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {
            "W": X.T @ (self.params["scale"] * dscores),
            "b": dscores.sum(axis=0),
            "scale": np.array(np.vdot(projected, dscores), dtype=np.float32),
        }
        return loss, grads


@pytest.mark.parametrize("rule", RULES)
def test_a_0d_param_trains_packed_and_stays_an_array(rule):
    settings = {"update_rule": rule, "batch_size": 10, "seed": 0, "verbose": False}
    packed = Solver(ScaledLinearModel(), data(), **settings)
    loop = Solver(ScaledLinearModel(), data(), **settings)
    loop._multi_tensor = None
    for solver in (packed, loop):
        steps(solver, 5)
    assert packed_names(packed) == {"W", "b", "scale"}
    assert_same_training(packed, loop, rule)
    scale = packed.model.params["scale"]
    assert type(scale) is np.ndarray and scale.shape == () and scale != 1.0


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda s: pickle.loads(pickle.dumps(s))])
def test_a_copied_solver_trains_like_the_original(duplicate):
    """A copy's param views are independent arrays: its packer must start unpacked."""
    original = make_solver("adam")
    steps(original, 3)
    twin = duplicate(original)
    steps(original, 3)
    steps(twin, 3)
    loop = make_solver("adam", packed=False)
    steps(loop, 6)
    assert_same_training(original, loop, "original")
    assert_same_training(twin, loop, "copy")
    assert packed_names(twin) == packed_names(original)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("rule", RULES)
def test_the_packing_holds_step_after_step(rule, dtype):
    """Nothing changes between steps: every step after the first updates the small params
    packed, through the same views (no unpacking and packing again), and leaves W1 alone."""
    solver = make_solver(rule, dtype=dtype, max_size=SMALL_LIMIT)
    steps(solver, 2)
    packer = solver._multi_tensor
    small = {name for name, w in solver.model.params.items() if w.size <= SMALL_LIMIT}
    assert packed_names(solver) == small and "W1" not in small
    views = {name: solver.model.params[name] for name in small}
    for _ in range(3):
        grads = solver.model.loss(*solver._next_batch())[1]
        assert packer.update(solver.model.params, grads, solver.optim_configs) == small
        assert all(solver.model.params[name] is view for name, view in views.items())
