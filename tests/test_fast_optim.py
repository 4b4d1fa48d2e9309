"""The fast update rules (bnlab.fast.optim) against their plain twins (bnlab.solver.optim).

Both run the same steps from the same start; next_w and every entry of config (state arrays,
the step count, the defaults filled in) must agree. The fast rules work in place and fold
adam's bias correction into scalars, so only the order of floating-point operations differs.
"""

import numpy as np
import pytest

from bnlab.fast import optim as fast_optim
from bnlab.solver import optim

# Same maths, different order of operations: a few units of round-off per step.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
STEPS = 5
SHAPES = [(), (7,), (3, 5), (2, 3, 4, 2)]  # (): a 0-d param, one scalar


def start_config(name, rng, shape, dtype, given):
    """None (every default, zero state) or non-default hyperparameters and non-zero state."""
    if not given:
        return None
    config = {
        "sgd": {"learning_rate": 3e-2},
        "sgd_momentum": {"learning_rate": 3e-2, "momentum": 0.7},
        "rmsprop": {"learning_rate": 3e-2, "decay_rate": 0.9, "epsilon": 1e-6},
        "adam": {"learning_rate": 3e-2, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "t": 3},
    }[name]
    state = {"sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v")}
    for key in state.get(name, ()):
        config[key] = rng.uniform(0.1, 1.0, size=shape).astype(dtype)
    return config


def copy_config(config):
    return None if config is None else {k: np.copy(v) for k, v in config.items()}


@pytest.mark.parametrize("given", [False, True], ids=["defaults", "given"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_fast_rule_equals_its_plain_twin(name, dtype, shape, given):
    rng = np.random.default_rng(len(shape))
    plain_rule, fast_rule = optim.UPDATE_RULES[name], fast_optim.UPDATE_RULES[name]
    plain_w = rng.standard_normal(shape).astype(dtype)
    fast_w = plain_w.copy()  # the fast rule overwrites its w
    plain_config = start_config(name, rng, shape, dtype, given)
    fast_config = copy_config(plain_config)
    for step in range(1, STEPS + 1):
        dw = rng.standard_normal(shape).astype(dtype)
        plain_w, plain_config = plain_rule(plain_w, dw, plain_config)
        fast_w, fast_config = fast_rule(fast_w, dw, fast_config)
        where = f"{name} {np.dtype(dtype)} {shape}, step {step}"
        assert fast_w.dtype == plain_w.dtype == dtype, where
        assert type(fast_w) is type(plain_w) is np.ndarray, where  # 0-d too: not a scalar
        np.testing.assert_allclose(fast_w, plain_w, rtol=RTOL[dtype], err_msg=f"{where}: w")
        assert fast_config.keys() == plain_config.keys(), where
        for key, value in plain_config.items():
            if isinstance(value, np.ndarray):
                assert fast_config[key].dtype == value.dtype == dtype, f"{where}: {key}"
                np.testing.assert_allclose(
                    fast_config[key], value, rtol=RTOL[dtype], err_msg=f"{where}: config[{key!r}]"
                )
            else:  # hyperparameters and adam's step count: equal, not close
                assert fast_config[key] == value, f"{where}: config[{key!r}]"


@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_fast_rules_update_w_and_state_in_place(name):
    """The point of the fast path: no new parameter or state arrays; dw is left alone."""
    rng = np.random.default_rng(1)
    w, dw = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    config = start_config(name, rng, w.shape, np.float64, given=True)
    state = {key: value for key, value in config.items() if isinstance(value, np.ndarray)}
    before, dw_before = w.copy(), dw.copy()
    next_w, config = fast_optim.UPDATE_RULES[name](w, dw, config)
    assert next_w is w
    assert not np.array_equal(w, before)
    np.testing.assert_array_equal(dw, dw_before)
    for key, array in state.items():
        assert config[key] is array, f"{name}: config[{key!r}] was replaced, not updated"


@pytest.mark.parametrize("name", sorted(optim.UPDATE_RULES))
def test_fast_rules_create_their_state_once(name):
    """Missing state is made on the first step and updated in place from then on."""
    w = np.ones((2, 3))
    _, config = fast_optim.UPDATE_RULES[name](w, np.ones_like(w))
    state = {key: value for key, value in config.items() if isinstance(value, np.ndarray)}
    _, config = fast_optim.UPDATE_RULES[name](w, np.ones_like(w), config)
    for key, array in state.items():
        assert config[key] is array, f"{name}: config[{key!r}] was made again"
