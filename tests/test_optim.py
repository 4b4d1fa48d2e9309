"""Update rules: cs231n's published values, an independent reference, defaults, dtypes, errors.

The lesson's rules (bnlab.solver.optim) are checked against the references; the contract tests
(defaults, dtypes, errors) run on their fast twins (bnlab.fast.optim) too, which
tests/test_fast_optim.py checks against the lesson's.
"""

import numpy as np
import pytest

from bnlab.fast import optim as fast_optim
from bnlab.solver import optim
from bnlab.solver.optim import UPDATE_RULES, sgd

BOTH = {"plain": UPDATE_RULES, "fast": fast_optim.UPDATE_RULES}
# (implementation, rule name) for every rule of both
EVERY_RULE = [(kind, name) for kind in sorted(BOTH) for name in sorted(UPDATE_RULES)]

# The FullyConnectedNets notebook prints its expected arrays to 8 decimals: half a unit in the
# last place, plus float64 round-off.
PUBLISHED_ATOL = 5e-9 + 1e-15
# Against the reference below, only the order of floating-point operations differs.
REFERENCE_RTOL_FLOAT64 = 1e-12
# float32 keeps ~7 significant digits; adam's division by sqrt(v_hat) loses a little more.
REFERENCE_RTOL_FLOAT32 = 1e-5

N, D = 4, 5


# -- straightforward references: cs231n's formulas, out of place ---------------------------------


def reference_sgd(w, dw, c):
    return w - c["learning_rate"] * dw, {}


def reference_sgd_momentum(w, dw, c):
    v = c["momentum"] * c["velocity"] - c["learning_rate"] * dw
    return w + v, {"velocity": v}


def reference_rmsprop(w, dw, c):
    cache = c["decay_rate"] * c["cache"] + (1 - c["decay_rate"]) * dw**2
    return w - c["learning_rate"] * dw / (np.sqrt(cache) + c["epsilon"]), {"cache": cache}


def reference_adam(w, dw, c):
    t = c["t"] + 1
    m = c["beta1"] * c["m"] + (1 - c["beta1"]) * dw
    v = c["beta2"] * c["v"] + (1 - c["beta2"]) * dw**2
    m_hat, v_hat = m / (1 - c["beta1"] ** t), v / (1 - c["beta2"] ** t)
    next_w = w - c["learning_rate"] * m_hat / (np.sqrt(v_hat) + c["epsilon"])
    return next_w, {"m": m, "v": v, "t": t}


REFERENCES = {
    "sgd": reference_sgd,
    "sgd_momentum": reference_sgd_momentum,
    "rmsprop": reference_rmsprop,
    "adam": reference_adam,
}
# cs231n's defaults, exactly.
DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
}
STATE_KEYS = {"sgd": (), "sgd_momentum": ("velocity",), "rmsprop": ("cache",), "adam": ("m", "v")}


def random_config(name, rng, shape, dtype):
    """Non-default hyperparameters and non-zero state, so every term of the rule matters."""
    config = {
        "sgd": {"learning_rate": 3e-2},
        "sgd_momentum": {"learning_rate": 3e-2, "momentum": 0.8},
        "rmsprop": {"learning_rate": 3e-2, "decay_rate": 0.9, "epsilon": 1e-6},
        "adam": {"learning_rate": 3e-2, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6, "t": 3},
    }[name]
    for key in STATE_KEYS[name]:
        config[key] = rng.uniform(0.1, 1.0, size=shape).astype(dtype)
    return config


def assert_rule_matches_reference(name, dtype, rtol, steps=3):
    """Run the rule for a few steps from the same start as the reference; compare w and state."""
    rng = np.random.default_rng(0)
    shape = (3, 7)
    w = rng.standard_normal(shape).astype(dtype)
    config = random_config(name, rng, shape, dtype)
    ref_w = w.astype(np.float64)
    # copies: our rule updates its state arrays in place
    ref_config = {
        k: np.array(v, np.float64) if k in STATE_KEYS[name] else v for k, v in config.items()
    }
    for _ in range(steps):
        dw = rng.standard_normal(shape).astype(dtype)
        dw_before = dw.copy()
        w, config = UPDATE_RULES[name](w, dw, config)
        ref_w, ref_state = REFERENCES[name](ref_w, dw.astype(np.float64), ref_config)
        ref_config.update(ref_state)
        np.testing.assert_array_equal(dw, dw_before, err_msg=f"{name} modified dw")
    assert w.dtype == dtype, f"{name}: next_w is {w.dtype}, w was {dtype}"
    np.testing.assert_allclose(w, ref_w, rtol=rtol, err_msg=f"{name}: ours vs reference")
    for key in STATE_KEYS[name]:
        assert config[key].dtype == dtype, f"{name}: config[{key!r}] is {config[key].dtype}"
        np.testing.assert_allclose(config[key], ref_config[key], rtol=rtol, err_msg=key)
    if name == "adam":
        assert config["t"] == ref_config["t"] == 3 + steps


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_rule_matches_reference_float64(name):
    assert_rule_matches_reference(name, np.float64, REFERENCE_RTOL_FLOAT64)


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_rule_keeps_float32(name):
    assert_rule_matches_reference(name, np.float32, REFERENCE_RTOL_FLOAT32)


@pytest.mark.parametrize(("kind", "name"), EVERY_RULE)
def test_numpy_float64_hyperparameters_do_not_upcast_float32(kind, name):
    w = np.ones((2, 3), np.float32)
    hyperparameters = ("learning_rate", "momentum", "decay_rate", "beta1", "beta2", "epsilon")
    config = {key: np.float64(0.5) for key in hyperparameters}
    next_w, config = BOTH[kind][name](w, np.full_like(w, 0.5), config)
    assert next_w.dtype == np.float32
    assert all(config[key].dtype == np.float32 for key in STATE_KEYS[name])


# -- cs231n's published values (FullyConnectedNets notebook) ------------------------------------


def _grid(low, high):
    return np.linspace(low, high, num=N * D).reshape(N, D)


# rule -> (config as the notebook builds it, expected arrays as the notebook prints them)
PUBLISHED = {
    "sgd_momentum": (
        lambda: {"learning_rate": 1e-3, "velocity": _grid(0.6, 0.9)},
        {
            "next_w": [
                [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
                [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
                [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
                [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
            ],
            "velocity": [
                [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
                [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
                [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
                [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
            ],
        },
    ),
    "rmsprop": (
        lambda: {"learning_rate": 1e-2, "cache": _grid(0.6, 0.9)},
        {
            "next_w": [
                [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
                [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
                [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
                [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
            ],
            "cache": [
                [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
                [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
                [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
                [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
            ],
        },
    ),
    "adam": (
        lambda: {"learning_rate": 1e-2, "m": _grid(0.6, 0.9), "v": _grid(0.7, 0.5), "t": 5},
        {
            "next_w": [
                [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
                [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
                [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
                [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
            ],
            "v": [
                [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
                [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
                [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
                [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
            ],
            "m": [
                [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
                [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
                [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
                [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
            ],
        },
    ),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_values(name):
    """w = linspace(-0.4, 0.6), dw = linspace(-0.6, 0.4), state = the notebook's linspaces."""
    make_config, expected = PUBLISHED[name]
    w, dw = _grid(-0.4, 0.6), _grid(-0.6, 0.4)
    next_w, config = UPDATE_RULES[name](w, dw, make_config())
    got = {"next_w": next_w, **config}
    for key, value in expected.items():
        np.testing.assert_allclose(
            got[key], value, rtol=0, atol=PUBLISHED_ATOL, err_msg=f"{name} {key}: ours vs cs231n"
        )
    if name == "adam":
        assert config["t"] == 6  # incremented before the bias correction


def test_sgd_known_value():
    w, dw = _grid(-0.4, 0.6), _grid(-0.6, 0.4)
    next_w, config = sgd(w.copy(), dw, {"learning_rate": 0.5})
    np.testing.assert_allclose(next_w, w - 0.5 * dw, rtol=0, atol=1e-15)
    assert config == {"learning_rate": 0.5}


# -- contract -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "name"), EVERY_RULE)
def test_defaults_are_cs231ns_and_state_starts_at_zero(kind, name):
    w = np.ones((2, 3), np.float32)  # state made from nothing keeps w's dtype
    next_w, config = BOTH[kind][name](w, np.zeros_like(w))
    assert next_w.dtype == np.float32
    assert set(config) == set(DEFAULTS[name]) | set(STATE_KEYS[name])
    for key, value in DEFAULTS[name].items():
        expected = value + 1 if key == "t" else value  # t counts the step just taken
        assert config[key] == expected, f"{name}: default {key} = {config[key]}, cs231n {expected}"
    for key in STATE_KEYS[name]:
        np.testing.assert_array_equal(config[key], 0.0)
        assert config[key].shape == w.shape and config[key].dtype == np.float32, key
    np.testing.assert_array_equal(next_w, 1.0)  # zero gradient, zero state: no move


@pytest.mark.parametrize(("kind", "name"), EVERY_RULE)
def test_given_hyperparameters_are_kept(kind, name):
    """setdefault, not assignment: the caller's values survive the step."""
    rng = np.random.default_rng(2)
    config = random_config(name, rng, (2, 3), np.float64)
    given = {key: value for key, value in config.items() if key not in STATE_KEYS[name]}
    _, config = BOTH[kind][name](np.ones((2, 3)), np.ones((2, 3)), config)
    for key, value in given.items():
        expected = value + 1 if key == "t" else value
        assert config[key] == expected, f"{name}: {key} became {config[key]}, was given {value}"


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_lesson_rules_modify_none_of_their_inputs(name):
    """The lesson returns new arrays, as cs231n's rules do (the fast twins work in place)."""
    rng = np.random.default_rng(1)
    w, dw = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    config = random_config(name, rng, w.shape, np.float64)
    before = {"w": w.copy(), "dw": dw.copy()}
    before.update({key: config[key].copy() for key in STATE_KEYS[name]})
    state = {key: config[key] for key in STATE_KEYS[name]}
    next_w, config = UPDATE_RULES[name](w, dw, config)
    assert not np.array_equal(next_w, w)
    np.testing.assert_array_equal(w, before["w"])
    np.testing.assert_array_equal(dw, before["dw"])
    for key, array in state.items():
        np.testing.assert_array_equal(array, before[key], err_msg=f"{name} changed {key} in place")


def test_lesson_module_is_cs231ns():
    """``from bnlab.solver import optim`` stands in for ``from cs231n import optim``."""
    for name in ("sgd", "sgd_momentum", "rmsprop", "adam"):
        assert getattr(optim, name) is UPDATE_RULES[name]
        assert getattr(fast_optim, name) is fast_optim.UPDATE_RULES[name]
        assert getattr(fast_optim, name) is not getattr(optim, name)


@pytest.mark.parametrize(("kind", "name"), EVERY_RULE)
def test_bad_arguments_are_named(kind, name):
    rule = BOTH[kind][name]
    w = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"dw must have the shape of w, \(2, 3\), got \(3, 2\)"):
        rule(w, np.ones((3, 2)))
    with pytest.raises(TypeError, match="w must have dtype float32 or float64, got int64"):
        rule(np.ones((2, 3), dtype=np.int64), w)
    with pytest.raises(TypeError, match="dw must be a numpy ndarray, got list"):
        rule(w, [[1.0] * 3] * 2)
    with pytest.raises(TypeError, match="config must be a dict, got float"):
        rule(w, w, 0.1)
    for key in STATE_KEYS[name]:
        with pytest.raises(ValueError, match=rf"config\['{key}'\] must have the shape of w"):
            rule(w, w, {key: np.zeros(3)})
        with pytest.raises(
            TypeError, match=rf"config\['{key}'\] must be a numpy ndarray, got list"
        ):
            rule(w, w, {key: [[0.0] * 3] * 2})
