"""recompute_bn_statistics: the BN paper's population statistics, written into every batchnorm layer.

Gold values are computed here independently, in float64: the fully connected net's forward by
hand (affine, train-mode batchnorm, relu), the conv net's from its layer outputs.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from bnlab.nets import FullyConnectedNet, LeNet
from bnlab.nets.population import recompute_bn_statistics

# float64 throughout; the statistics are sums of a few thousand terms in a different order.
RTOL = 1e-10
EPS = 1e-5  # batchnorm's default eps


def fc_model_and_data(seed: int = 0, N: int = 60):
    rng = np.random.default_rng(seed)
    model = FullyConnectedNet(
        [12, 9], input_dim=7, num_classes=4, normalization="batchnorm", weight_scale=0.5,
        dtype=np.float64, seed=seed,
    )  # fmt: skip
    for i in (1, 2):  # gamma, beta away from 1, 0: the second layer's input depends on them
        model.params[f"gamma{i}"][...] = rng.uniform(0.5, 2, model.params[f"gamma{i}"].shape)
        model.params[f"beta{i}"][...] = rng.normal(0, 1, model.params[f"beta{i}"].shape)
    X = rng.normal(3, 2, (N, 7))  # mean and scale far from 0 and 1
    return model, X


def fc_batchnorm_inputs(model, X) -> list[np.ndarray]:
    """The input of batchnorm1 and batchnorm2 when all of X is one train-mode batch, by hand."""
    p = model.params
    inputs, h = [], X
    for i in (1, 2):
        a = h @ p[f"W{i}"] + p[f"b{i}"]  # (N, D_i): batchnorm{i}'s input
        inputs.append(a)
        x_hat = (a - a.mean(axis=0)) / np.sqrt(a.var(axis=0) + EPS)
        h = np.maximum(p[f"gamma{i}"] * x_hat + p[f"beta{i}"], 0)
    return inputs


def test_one_batch_of_all_the_data_gives_the_population_mean_and_unbiased_variance():
    model, X = fc_model_and_data()
    statistics = recompute_bn_statistics(model, X, batch_size=len(X), num_batches=1)
    assert list(statistics) == ["batchnorm1", "batchnorm2"]
    for bn_param, a in zip(model.bn_params, fc_batchnorm_inputs(model, X), strict=True):
        np.testing.assert_allclose(bn_param["running_mean"], a.mean(axis=0), rtol=RTOL)
        np.testing.assert_allclose(bn_param["running_var"], a.var(axis=0, ddof=1), rtol=RTOL)


def test_spatial_batchnorm_divides_by_m_minus_1_with_m_the_values_per_channel():
    rng = np.random.default_rng(1)
    model = LeNet(input_dim=(1, 12, 12), num_filters=(3, 4), hidden_dims=(6, 5), dtype=np.float64,
                  seed=1, pooling="avg")  # fmt: skip
    X = rng.normal(0, 1, (8, 1, 12, 12))
    reference = copy.deepcopy(model).activations(X, mode="train")
    recompute_bn_statistics(model, X, batch_size=len(X), num_batches=1)
    names = list(reference)
    batchnorm_names = [name for name in names if name.startswith("batchnorm")]
    assert len(batchnorm_names) == len(model.bn_params) == 4  # 2 spatial, 2 flat
    for name, bn_param in zip(batchnorm_names, model.bn_params, strict=True):
        x = reference[names[names.index(name) - 1]]  # the layer before: conv or affine
        axes = (0, 2, 3) if x.ndim == 4 else (0,)
        m = x.size // x.shape[1]  # N*H*W values per channel, N per feature
        expected_var = x.var(axis=axes) * m / (m - 1)
        np.testing.assert_allclose(bn_param["running_mean"], x.mean(axis=axes), rtol=RTOL)
        np.testing.assert_allclose(bn_param["running_var"], expected_var, rtol=RTOL)


def test_many_batches_average_the_batch_means_and_unbiased_batch_variances():
    model, X = fc_model_and_data(N=60)
    recompute_bn_statistics(model, X, batch_size=15, num_batches=4, seed=3)
    # batchnorm1's input does not depend on the batch, so the batches' values are rows of it.
    a = fc_batchnorm_inputs(model, X)[0]
    batches = np.random.default_rng(3).permutation(60).reshape(4, 15)  # the documented order
    np.testing.assert_allclose(model.bn_params[0]["running_mean"], a.mean(axis=0), rtol=RTOL)
    expected_var = np.mean([a[rows].var(axis=0, ddof=1) for rows in batches], axis=0)
    np.testing.assert_allclose(model.bn_params[0]["running_var"], expected_var, rtol=RTOL)
    assert not np.allclose(expected_var, a.var(axis=0, ddof=1))  # the batches matter here


def test_params_and_momentum_are_untouched():
    model, X = fc_model_and_data()
    before = {name: (value, value.copy()) for name, value in model.params.items()}
    for bn_param, momentum in zip(model.bn_params, (0.7, 0.99), strict=True):
        bn_param["momentum"] = momentum
    recompute_bn_statistics(model, X, batch_size=20, num_batches=7)  # several passes over X
    assert set(model.params) == set(before)
    for name, (array, copy_) in before.items():
        assert model.params[name] is array, name
        np.testing.assert_array_equal(array, copy_, err_msg=name)
    assert [bn_param["momentum"] for bn_param in model.bn_params] == [0.7, 0.99]


def test_test_mode_scores_then_equal_train_mode_scores_on_the_same_batch():
    # With the biased variance and one batch of all the data, the population statistics are
    # that batch's own: test mode must then score X exactly as train mode does.
    model, X = fc_model_and_data()
    train_scores = copy.deepcopy(model).activations(X, mode="train")["affine3"]
    before = model.loss(X)
    recompute_bn_statistics(model, X, batch_size=len(X), num_batches=1, unbiased=False)
    after = model.loss(X)
    assert not np.allclose(before, train_scores)  # running statistics still at 0 and 1
    np.testing.assert_allclose(after, train_scores, rtol=RTOL, atol=1e-12)


def test_a_failure_midway_leaves_the_running_statistics_as_they_were(monkeypatch):
    model, X = fc_model_and_data()
    recompute_bn_statistics(model, X, batch_size=len(X), num_batches=1)
    saved = [(p["running_mean"].copy(), p["running_var"].copy()) for p in model.bn_params]
    real_activations, calls = model.activations, []

    def fail_on_second_batch(X_batch, mode):
        calls.append(mode)
        if len(calls) == 2:
            raise MemoryError("out of memory")
        return real_activations(X_batch, mode=mode)

    monkeypatch.setattr(model, "activations", fail_on_second_batch)
    with pytest.raises(MemoryError):
        recompute_bn_statistics(model, X, batch_size=10, num_batches=3)
    for bn_param, (mean, var) in zip(model.bn_params, saved, strict=True):
        np.testing.assert_array_equal(bn_param["running_mean"], mean)
        np.testing.assert_array_equal(bn_param["running_var"], var)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": 1}, ValueError, "batch_size must be in [2, N = 60] (X has N examples), got 1"),
        ({"batch_size": 61}, ValueError, "batch_size must be in [2, N = 60] (X has N examples), got 61"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int, got 2.5"),
        ({"num_batches": 0}, ValueError, "num_batches must be >= 1, got 0"),
        ({"num_batches": True}, TypeError, "num_batches must be an int or None, got True"),
    ],
)  # fmt: skip
def test_bad_batch_settings_are_refused(kwargs, error, message):
    model, X = fc_model_and_data()
    with pytest.raises(error) as raised:
        recompute_bn_statistics(model, X, **kwargs)
    assert str(raised.value) == message


def test_a_model_without_batchnorm_is_refused_by_name():
    model = FullyConnectedNet([5], input_dim=3, num_classes=2, normalization="layernorm")
    with pytest.raises(ValueError, match="model has no batchnorm layer; its layers: affine1"):
        recompute_bn_statistics(model, np.ones((4, 3)), batch_size=4)


def test_the_running_statistics_keep_their_dtype_and_are_returned_by_layer_name():
    model = FullyConnectedNet([6], input_dim=3, num_classes=2, normalization="batchnorm", seed=0)
    X = np.random.default_rng(0).normal(0, 1, (40, 3)).astype(np.float32)
    model.loss(X, np.zeros(40, dtype=int))  # one training step's forward creates them
    statistics = recompute_bn_statistics(model, X, batch_size=40, num_batches=1)
    (bn_param,) = model.bn_params
    assert bn_param["running_mean"].dtype == bn_param["running_var"].dtype == np.float32
    assert statistics["batchnorm1"][0] is bn_param["running_mean"]
    assert statistics["batchnorm1"][1] is bn_param["running_var"]
