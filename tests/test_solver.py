"""Solver: training, sampling, metrics, checkpoints, exact resume, the NaN guard, errors."""

import math
import os
import pickle
import re

import numpy as np
import pytest
from toy_models import DivergingModel, LinearModel, RecordingModel, blobs

import bnlab.solver.checkpoint as checkpoint_module
import bnlab.solver.solver as solver_module
from bnlab.fast import optim as fast_optim
from bnlab.fast.ufunc_buffer import SMALL_BUFFER
from bnlab.layers import softmax_loss
from bnlab.layers.checks import OverflowInNormalization
from bnlab.nets import FullyConnectedNet
from bnlab.solver import Solver, TrainingDiverged, load_checkpoint, optim, write_checkpoint
from bnlab.solver.checkpoint import (
    CHECKPOINT_KEYS,
    CS231N_KEYS,
    REQUIRED_KEYS,
    RESUME_KEYS,
    make_checkpoint,
)
from bnlab.solver.optim import UPDATE_RULES, sgd

QUIET = {"verbose": False}
TOY_MODELS = (LinearModel, DivergingModel, RecordingModel)
RATES = {"sgd": 0.5, "sgd_momentum": 0.1, "rmsprop": 5e-2, "adam": 5e-2}


def make_solver(model=None, data=None, **kwargs):
    settings = {"batch_size": 10, "num_epochs": 2, "seed": 0, **QUIET, **kwargs}
    return Solver(model or LinearModel(), blobs() if data is None else data, **settings)


def resume(path, data, **kwargs):
    """Solver.resume, trusting the toy models (classes of the tests, not bnlab's)."""
    return Solver.resume(path, data, trusted=TOY_MODELS, **kwargs)


def load(path):
    return load_checkpoint(path, trusted=TOY_MODELS)


# -- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", sorted(UPDATE_RULES))
def test_every_update_rule_lowers_the_loss(rule):
    solver = make_solver(update_rule=rule, optim_config={"learning_rate": RATES[rule]})
    solver.train()
    first, last = np.mean(solver.loss_history[:3]), np.mean(solver.loss_history[-3:])
    assert last < 0.5 * first, f"{rule}: loss went from {first:.3f} to {last:.3f}"
    assert solver.val_acc_history[-1] > solver.val_acc_history[0]


def test_overfits_a_tiny_dataset():
    data = blobs(num_train=20, num_val=10)
    solver = make_solver(
        data=data, update_rule="adam", optim_config={"learning_rate": 0.1}, num_epochs=30
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    # the restored model is exactly the best epoch's: its params and its running statistics
    restored = solver.check_accuracy(data["X_train"], data["y_train"])
    assert restored == solver.train_acc_history[solver.best_epoch]


def test_histories_have_one_entry_per_epoch_plus_the_untrained_model():
    solver = make_solver(num_epochs=3)
    solver.train()
    assert solver.epoch == 3
    assert len(solver.loss_history) == 3 * solver.iterations_per_epoch == 3 * 6
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 4


def test_train_restores_the_best_params_and_keeps_them_apart():
    snapshots = []
    solver = make_solver(update_rule="sgd", optim_config={"learning_rate": 0.5}, num_epochs=4)
    solver.train(on_epoch_end=lambda s: snapshots.append(copy_params(s.model)))
    best = int(np.argmax(solver.val_acc_history))  # first maximum: later ties are not better
    assert solver.best_epoch == best
    assert solver.best_val_acc == solver.best_val_metric == max(solver.val_acc_history)
    assert_same_params(solver.model.params, snapshots[best])
    assert all(solver.best_params[k] is not solver.model.params[k] for k in solver.best_params)


class PlainSoftmax:
    """cs231n's own models (a TwoLayerNet without normalisation) have no bn_params attribute;
    this one has a single parameter."""

    def __init__(self):
        self.params = {"W": np.zeros((4, 3))}

    def loss(self, X, y=None):
        scores = X @ self.params["W"]
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        return loss, {"W": X.T @ dscores}


def test_a_model_without_bn_params_trains_and_gets_its_best_params_back(tmp_path):
    solver = make_solver(model=PlainSoftmax(), update_rule="sgd", num_epochs=3,
                         optim_config={"learning_rate": 0.3},
                         checkpoint_name=str(tmp_path / "plain"))  # fmt: skip
    solver.train()
    np.testing.assert_array_equal(solver.model.params["W"], solver.best_params["W"])
    saved = load_checkpoint(tmp_path / "plain_epoch_3.pkl", trusted=[PlainSoftmax])
    assert saved["learning_rate"] == 0.3  # cs231n's key: the (one) parameter's rate


def test_keyword_defaults_are_cs231ns():
    solver = Solver(LinearModel(), blobs())
    assert solver.update_rule is fast_optim.sgd and solver.optim_config == {}
    assert (solver.lr_decay, solver.batch_size, solver.num_epochs) == (1.0, 100, 10)
    assert (solver.num_train_samples, solver.num_val_samples) == (1000, None)
    assert (solver.print_every, solver.verbose, solver.checkpoint_name) == (10, True, None)
    assert solver.progress is True
    assert Solver(LinearModel(), blobs(), num_train_samples=None).num_train_samples is None


def test_smallest_settings_are_accepted():
    solver = make_solver(
        batch_size=1, num_epochs=0, num_train_samples=1, num_val_samples=1, print_every=1,
        update_rule="sgd_momentum", optim_config={"momentum": 0.0, "learning_rate": 1e-300},
    )  # fmt: skip
    solver.train()
    assert solver.epoch == 0 and len(solver.val_metric_history) == 1  # the untrained model only


def test_each_parameter_gets_its_own_config():
    solver = make_solver(update_rule="sgd_momentum", optim_config={"learning_rate": 0.1})
    solver.train()
    configs = solver.optim_configs
    assert configs["W"] is not configs["b"] and configs["W"] is not solver.optim_config
    assert configs["W"]["velocity"].shape == (4, 3) and configs["b"]["velocity"].shape == (3,)
    assert "velocity" not in solver.optim_config  # the user's dict is never filled in


def test_lr_decay_at_the_end_of_each_epoch():
    solver = make_solver(optim_config={"learning_rate": 0.1}, lr_decay=0.5, num_epochs=3)
    solver.train()
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(0.1 * 0.5**3, rel=1e-15)


def test_float32_model_stays_float32():
    solver = make_solver(
        model=LinearModel(dtype=np.float32), data=blobs(dtype=np.float32), update_rule="adam"
    )
    solver.train()
    for name, w in solver.model.params.items():
        assert w.dtype == np.float32, name
        for key in ("m", "v"):
            assert solver.optim_configs[name][key].dtype == np.float32


def test_callable_update_rule():
    calls = []

    def halved_sgd(w, dw, config=None):
        calls.append(w.shape)
        return sgd(w, dw, {**(config or {}), "learning_rate": 0.25})

    solver = make_solver(update_rule=halved_sgd)
    solver.train()
    assert len(calls) == 2 * solver.iterations_per_epoch * 2  # 2 epochs, 2 params
    assert solver.update_rule is halved_sgd
    assert solver.val_acc_history[-1] > solver.val_acc_history[0]


def test_a_rule_name_runs_the_fast_rule_and_a_callable_runs_as_given():
    by_name = make_solver(update_rule="adam", optim_config={"learning_rate": 0.05})
    plain = make_solver(update_rule=optim.adam, optim_config={"learning_rate": 0.05})
    assert by_name.update_rule is fast_optim.adam
    assert plain.update_rule is optim.adam
    assert plain._checkpoint()["update_rule"] is optim.adam  # resume runs the rule it ran
    assert by_name._checkpoint()["update_rule"] == "adam"
    by_name.train()
    plain.train()
    # the same maths in a different order of operations: equal to round-off, not bit for bit
    np.testing.assert_allclose(plain.loss_history, by_name.loss_history, rtol=1e-12)


def test_randomness_is_local():
    # Reading NumPy's legacy global RNG is the point: the Solver must leave it untouched.
    global_state = np.random.get_state()[1].copy()  # noqa: NPY002
    runs = []
    for _ in range(2):
        solver = make_solver(num_train_samples=15, num_val_samples=7)
        solver.train()
        runs.append((solver.loss_history, solver.train_acc_history, solver.val_acc_history))
    assert runs[0] == runs[1]
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)  # noqa: NPY002


# -- sampling -------------------------------------------------------------------------------------


def id_data(num_train, num_val=5):
    """Column 0 of X is the example's id, so a RecordingModel can tell which ones it saw."""
    data = blobs(num_train=num_train, num_val=num_val)
    data["X_train"][:, 0] = np.arange(num_train)
    return data


def test_each_example_once_per_epoch():
    model = RecordingModel()
    solver = make_solver(model=model, data=id_data(40), num_epochs=3)
    solver.train()
    per_epoch = np.split(np.concatenate(model.seen), 3)
    for epoch, seen in enumerate(per_epoch, start=1):
        np.testing.assert_array_equal(np.sort(seen), np.arange(40), err_msg=f"epoch {epoch}")
    assert not np.array_equal(per_epoch[0], per_epoch[1]), "a fresh permutation every epoch"


def test_leftover_examples_are_not_repeated():
    model = RecordingModel()
    solver = make_solver(model=model, data=id_data(45), num_epochs=2)
    solver.train()
    assert solver.iterations_per_epoch == 4  # 45 // 10, as cs231n counts
    for seen in np.split(np.concatenate(model.seen), 2):
        assert len(seen) == 40 and len(np.unique(seen)) == 40


def test_batch_larger_than_the_training_set():
    model = RecordingModel()
    solver = make_solver(model=model, data=id_data(7), batch_size=10)
    solver.train()
    assert solver.iterations_per_epoch == 1
    assert [np.sort(seen).tolist() for seen in model.seen] == [list(range(7))] * 2


# -- metrics --------------------------------------------------------------------------------------


def regression_data(num_train=40, num_val=20):
    """Validation targets have the opposite sign: fitting the training set worsens val MSE."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal(4)
    X_train, X_val = rng.standard_normal((num_train, 4)), rng.standard_normal((num_val, 4))
    return {"X_train": X_train, "y_train": X_train @ w, "X_val": X_val, "y_val": -(X_val @ w)}


def test_regression_tracks_mse_and_keeps_the_lowest():
    model = LinearModel(num_outputs=1, loss_type="mse")
    snapshots = []
    solver = make_solver(
        model=model, data=regression_data(), optim_config={"learning_rate": 0.1}, num_epochs=3
    )
    assert solver.metric_name == "mse"
    solver.train(on_epoch_end=lambda s: snapshots.append(copy_params(s.model)))
    val = solver.val_acc_history
    assert val[-1] > val[0], "the data are built so that training raises val MSE"
    assert solver.train_acc_history[-1] < solver.train_acc_history[0]
    assert solver.best_val_metric == min(val) and solver.best_epoch == int(np.argmin(val))
    assert solver.best_val_acc is None
    assert_same_params(solver.model.params, snapshots[solver.best_epoch])


def test_check_accuracy_mse_value():
    data = regression_data()
    model = LinearModel(num_outputs=1, loss_type="mse")
    solver = make_solver(model=model, data=data)
    predictions = data["X_val"] @ model.params["W"] + model.params["b"]  # (N, 1)
    expected = np.mean((predictions[:, 0] - data["y_val"]) ** 2)
    assert solver.check_accuracy(data["X_val"], data["y_val"], batch_size=7) == pytest.approx(
        expected, rel=1e-12
    )


def test_check_accuracy_value_and_subsample():
    data = blobs()
    solver = make_solver(data=data)
    scores = solver.model.loss(data["X_val"])
    expected = np.mean(np.argmax(scores, axis=1) == data["y_val"])
    assert solver.check_accuracy(data["X_val"], data["y_val"], batch_size=7) == expected
    subset = solver.check_accuracy(data["X_val"], data["y_val"], num_samples=10)
    assert subset * 10 == round(subset * 10)  # a fraction of 10 distinct examples


def test_metric_names_and_cs231ns_aliases():
    solver = make_solver()
    assert solver.best_val_acc == 0.0  # cs231n's value before training
    solver.train()
    assert solver.train_acc_history is solver.train_metric_history
    assert solver.val_acc_history is solver.val_metric_history
    assert len(solver.val_metric_history) == 3 and solver.best_val_acc == solver.best_val_metric
    assert Solver.check_accuracy is Solver.check_metric
    data = blobs()
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == solver.check_metric(
        data["X_val"], data["y_val"]
    )
    solver.train_acc_history, solver.val_acc_history = [0.5], [0.25]  # cs231n code may assign
    assert (solver.train_metric_history, solver.val_metric_history) == ([0.5], [0.25])


class EvaluationRecordingModel(LinearModel):
    """Remembers the example ids (column 0 of X) of every test-mode call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.evaluated: list[np.ndarray] = []

    def loss(self, X, y=None):
        if y is None:
            self.evaluated.append(X[:, 0].astype(int))
        return super().loss(X, y)


def test_metrics_use_num_train_samples_and_num_val_samples_distinct_examples():
    data = id_data(60, num_val=30)
    data["X_val"][:, 0] = 100 + np.arange(30)  # validation ids follow the training ids
    model = EvaluationRecordingModel()
    solver = make_solver(
        model=model, data=data, num_epochs=1, num_train_samples=15, num_val_samples=7
    )
    model.evaluated.clear()  # the label check's one-example forward, in __init__
    solver.train()
    # per epoch: one call on 15 training examples, then one on 7 validation examples
    assert [len(ids) for ids in model.evaluated] == [15, 7, 15, 7]
    for ids in model.evaluated:
        assert len(np.unique(ids)) == len(ids), "drawn without replacement"
    assert all(ids.max() < 60 for ids in model.evaluated[::2])
    assert all(ids.min() >= 100 for ids in model.evaluated[1::2])


# -- progress and messages ------------------------------------------------------------------------


def test_verbose_prints_iterations_and_epoch_summaries(capsys):
    solver = make_solver(verbose=True, progress="builtin", print_every=5)
    solver.train()
    out = capsys.readouterr().out
    assert "(Iteration 1 / 12) loss: " in out and "(Iteration 6 / 12) loss: " in out
    assert "(Iteration 2 / 12)" not in out
    assert "(Epoch 0 / 2) train acc: " in out
    assert "(Epoch 2 / 2) train acc: " in out and "; loss: " in out and " s" in out
    assert f"(Iteration 1 / 12) loss: {solver.loss_history[0]:f}\n" in out
    assert f"(Iteration 6 / 12) loss: {solver.loss_history[5]:f}\n" in out
    epoch_0 = next(line for line in out.splitlines() if line.startswith("(Epoch 0 / 2)"))
    assert epoch_0.endswith(f"val_acc: {solver.val_metric_history[0]:f}")  # no loss yet
    epoch_2_loss = np.mean(solver.loss_history[-solver.iterations_per_epoch :])
    assert f"; loss: {epoch_2_loss:.4f}; " in out


def test_verbose_regression_prints_mse(capsys):
    model = LinearModel(num_outputs=1, loss_type="mse")
    make_solver(model=model, data=regression_data(), verbose=True, progress=False).train()
    out = capsys.readouterr().out
    assert "(Epoch 1 / 2) train mse: " in out and "; val_mse: " in out and "acc" not in out


def test_quiet_prints_nothing(capsys):
    make_solver().train()
    assert capsys.readouterr() == ("", "")


# -- checkpoints ----------------------------------------------------------------------------------


def test_checkpoint_files_and_keys(tmp_path):
    name = tmp_path / "run"
    solver = make_solver(checkpoint_name=name, update_rule="adam")
    solver.train()
    files = sorted(os.listdir(tmp_path))
    assert files == ["run_epoch_0.pkl", "run_epoch_1.pkl", "run_epoch_2.pkl"]  # no temp files
    with open(tmp_path / "run_epoch_1.pkl", "rb") as f:
        saved = pickle.load(f)
    assert set(CS231N_KEYS + RESUME_KEYS) <= set(saved)
    assert saved["epoch"] == 1 and saved["update_rule"] == "adam"
    assert len(saved["loss_history"]) == solver.iterations_per_epoch
    assert saved["optim_configs"]["W"]["t"] == solver.iterations_per_epoch
    assert saved["rng_state"]["bit_generator"] == "PCG64"
    assert saved["learning_rate"] == saved["optim_configs"]["W"]["learning_rate"] == 1e-3
    assert isinstance(saved["model"], LinearModel)


def test_the_schema_keeps_cs231ns_keys_and_the_solver_writes_exactly_it(tmp_path):
    # cs231n's Solver._save_checkpoint writes these: a cs231n reader finds them all
    assert CS231N_KEYS == (
        "model", "update_rule", "lr_decay", "optim_config", "batch_size", "num_train_samples",
        "num_val_samples", "epoch", "loss_history", "train_acc_history", "val_acc_history",
    )  # fmt: skip
    # checkpoints written before the schema was one table hold these; resume must accept them
    assert set(REQUIRED_KEYS) <= {
        *CS231N_KEYS, "num_epochs", "optim_configs", "best_params", "best_statistics",
        "best_val_metric", "best_epoch", "metric_name", "rng_state", "learning_rate",
        "checkpoint_name", "print_every", "verbose", "progress", "data_shapes",
    }  # fmt: skip
    assert set(CS231N_KEYS + RESUME_KEYS) == set(REQUIRED_KEYS)
    solver = make_solver(checkpoint_name=tmp_path / "run", num_epochs=1)
    solver.train()
    saved = load(tmp_path / "run_epoch_1.pkl")
    assert tuple(saved) == CHECKPOINT_KEYS
    assert saved["train_acc_history"] == solver.train_metric_history
    assert saved["val_acc_history"] == solver.val_metric_history
    with pytest.raises(KeyError, match=r"missing \['epoch'\], unknown \[\]"):
        make_checkpoint(**{k: None for k in CHECKPOINT_KEYS if k != "epoch"})
    with pytest.raises(KeyError, match=r"missing \['epoch'\], unknown \['epochs'\]"):
        make_checkpoint(**{**{k: None for k in CHECKPOINT_KEYS if k != "epoch"}, "epochs": 1})


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory):
    """A checkpoint as the Solver writes it, after 1 of 2 epochs, and the run it came from."""
    folder = tmp_path_factory.mktemp("saved")
    make_solver(checkpoint_name=folder / "run", update_rule="adam", num_epochs=1).train()
    straight = make_solver(update_rule="adam", num_epochs=2)
    straight.train()
    with open(folder / "run_epoch_1.pkl", "rb") as f:
        return pickle.load(f), straight


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_resume_refuses_a_checkpoint_without_a_required_key(tmp_path, saved_checkpoint, key):
    checkpoint, _ = saved_checkpoint
    path = tmp_path / f"without_{key}.pkl"
    write_checkpoint(path, {name: value for name, value in checkpoint.items() if name != key})
    with pytest.raises(ValueError, match=f"checkpoint '{path}' cannot be resumed from") as caught:
        resume(path, blobs())
    assert f"it lacks {key} " in str(caught.value)


def test_the_learning_rate_key_is_for_the_reader_only(tmp_path, saved_checkpoint):
    checkpoint, straight = saved_checkpoint
    path = tmp_path / "without_learning_rate.pkl"
    write_checkpoint(path, {k: v for k, v in checkpoint.items() if k != "learning_rate"})
    resumed = resume(path, blobs(), num_epochs=2)
    resumed.train()
    assert resumed.loss_history == straight.loss_history


def test_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run_epoch_1.pkl"
    write_checkpoint(path, {"epoch": 1})

    def half_then_crash(obj, f, protocol=None):
        f.write(b"\x80\x05 half a pickle")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.pickle, "dump", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(path, {"epoch": 2})
    with open(path, "rb") as f:
        assert pickle.load(f) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["run_epoch_1.pkl"]


@pytest.mark.parametrize("rule", ["sgd_momentum", "adam"])
def test_resume_gives_exactly_the_uninterrupted_run(tmp_path, rule):
    settings = {
        "update_rule": rule,
        "optim_config": {"learning_rate": 0.05},
        "lr_decay": 0.9,
        "num_train_samples": 25,  # subsampling draws from the RNG too
        "num_val_samples": 20,
    }
    straight = make_solver(num_epochs=4, **settings)
    straight.train()

    first = make_solver(num_epochs=2, checkpoint_name=tmp_path / "run", **settings)
    first.train()
    resumed = resume(tmp_path / "run_epoch_2.pkl", blobs(), num_epochs=4)
    assert resumed.epoch == 2
    resumed.train()

    assert resumed.loss_history == straight.loss_history
    assert resumed.train_acc_history == straight.train_acc_history
    assert resumed.val_acc_history == straight.val_acc_history
    assert resumed.best_val_metric == straight.best_val_metric
    assert resumed.best_epoch == straight.best_epoch
    assert_same_params(resumed.model.params, straight.model.params)
    np.testing.assert_array_equal(
        resumed.model.bn_params[0]["running_mean"], straight.model.bn_params[0]["running_mean"]
    )
    assert sorted(os.listdir(tmp_path))[-1] == "run_epoch_4.pkl"  # the resumed run checkpoints on


def test_resume_a_batchnorm_net_exactly(tmp_path):
    """The real net: running statistics and dropout state travel inside the pickled model."""
    from bnlab.nets import FullyConnectedNet

    def net():
        return FullyConnectedNet(
            [8, 8], input_dim=4, num_classes=3, normalization="batchnorm", dtype=np.float64, seed=0
        )

    settings = {"update_rule": "adam", "optim_config": {"learning_rate": 1e-2}}
    straight = make_solver(model=net(), num_epochs=3, **settings)
    straight.train()
    make_solver(model=net(), num_epochs=1, checkpoint_name=tmp_path / "bn", **settings).train()
    resumed = resume(tmp_path / "bn_epoch_1.pkl", blobs(), num_epochs=3)
    resumed.train()
    assert resumed.loss_history == straight.loss_history
    assert resumed.val_acc_history == straight.val_acc_history
    assert_same_params(resumed.model.params, straight.model.params)
    for ours, theirs in zip(resumed.model.bn_params, straight.model.bn_params, strict=True):
        np.testing.assert_array_equal(ours["running_var"], theirs["running_var"])


def test_resume_overrides_and_refusals(tmp_path):
    make_solver(checkpoint_name=tmp_path / "run", update_rule="adam").train()
    path = tmp_path / "run_epoch_2.pkl"
    resumed = resume(path, blobs(), num_epochs=3, optim_config={"learning_rate": 1e-4})
    assert all(c["learning_rate"] == 1e-4 for c in resumed.optim_configs.values())
    assert resumed.optim_configs["W"]["t"] == 12  # the state carried over
    assert resumed.optim_config == {"learning_rate": 1e-4}
    assert resumed.best_epoch is not None and resumed.best_statistics is not None
    for same_rule in ("adam", fast_optim.adam, optim.adam):  # the saved state fits all three
        assert resume(path, blobs(), update_rule=same_rule).epoch == 2
    with pytest.raises(TypeError, match="seed cannot be given"):
        resume(path, blobs(), seed=1)
    with pytest.raises(ValueError, match="update_rule cannot change on resume"):
        resume(path, blobs(), update_rule="sgd")
    with pytest.raises(ValueError, match=r"data\['X_train'\] is float64 array of shape \(50, 4\)"):
        resume(path, blobs(num_train=50))
    with pytest.raises(TypeError, match="unknown keyword argument"):
        resume(path, blobs(), epochs=3)
    with open(tmp_path / "cs231n.pkl", "wb") as f:
        pickle.dump({"model": None, "epoch": 1}, f)
    with pytest.raises(ValueError, match="cannot be resumed from: it lacks update_rule, "):
        load(tmp_path / "cs231n.pkl")
    missing = tmp_path / "missing.pkl"
    with pytest.raises(
        FileNotFoundError, match=f"^checkpoint {re.escape(repr(str(missing)))} does"
    ):
        resume(missing, blobs())
    write_checkpoint(tmp_path / "list.pkl", [1, 2])
    with pytest.raises(ValueError, match=r"checkpoint '.*list\.pkl' must hold a dict, got list"):
        load(tmp_path / "list.pkl")
    with open(path, "rb") as f:
        tampered = {**pickle.load(f), "metric_name": "mse"}
    write_checkpoint(tmp_path / "tampered.pkl", tampered)
    with pytest.raises(ValueError, match="the checkpoint tracked mse, the model gives accuracy"):
        resume(tmp_path / "tampered.pkl", blobs())


# -- NumPy's ufunc buffer ---------------------------------------------------------------------------


class BufferRecordingModel(LinearModel):
    """Remembers NumPy's ufunc buffer size at every call of loss."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.buffer_sizes: set[int] = set()

    def loss(self, X, y=None):
        self.buffer_sizes.add(np.getbufsize())
        return super().loss(X, y)


@pytest.fixture
def user_buffer():
    """A ufunc buffer size of the user's own (not NumPy's default), put back afterwards."""
    default = np.getbufsize()
    np.setbufsize(4 * 8192)
    yield 4 * 8192
    np.setbufsize(default)


def test_train_runs_with_a_small_ufunc_buffer_and_gives_the_users_back(user_buffer):
    model = BufferRecordingModel()
    solver = make_solver(model=model)
    model.buffer_sizes.clear()  # the label check's forward in __init__ runs outside train()
    solver.train()
    assert model.buffer_sizes == {SMALL_BUFFER}  # every forward, train and test mode
    assert np.getbufsize() == user_buffer


@pytest.mark.parametrize("error", [TrainingDiverged, KeyboardInterrupt])
def test_the_users_ufunc_buffer_is_back_when_train_raises(user_buffer, error):
    if error is TrainingDiverged:
        solver = make_solver(model=DivergingModel(nan_at=3))
        on_epoch_end = None
    else:
        solver = make_solver()

        def on_epoch_end(solver):
            if solver.epoch == 1:
                raise KeyboardInterrupt  # Ctrl-C in a notebook

    with pytest.raises(error):
        solver.train(on_epoch_end=on_epoch_end)
    assert np.getbufsize() == user_buffer


# -- the NaN guard --------------------------------------------------------------------------------


def test_without_a_seed_the_divergence_still_names_its_iteration():
    """cs231n's unseeded draws keep no position in an epoch; the message must not say 0."""
    np.random.seed(231)  # noqa: NPY002 (cs231n's global draws are what is tested)
    solver = make_solver(model=DivergingModel(nan_at=15), num_epochs=5, seed=None)
    with pytest.raises(TrainingDiverged) as caught:
        solver.train()
    assert "loss is nan at epoch 3, iteration 3 of 6 (iteration 15 overall)" in str(caught.value)
    assert (caught.value.epoch, caught.value.iteration) == (3, 3)


def test_nan_loss_stops_with_epoch_iteration_and_best_params(tmp_path):
    snapshots = []
    model = DivergingModel(nan_at=15)  # 6 iterations per epoch: epoch 3, iteration 3
    solver = make_solver(model=model, num_epochs=5, checkpoint_name=tmp_path / "run")
    with pytest.raises(TrainingDiverged) as caught:
        solver.train(on_epoch_end=lambda s: snapshots.append(copy_params(s.model)))
    error = caught.value
    assert "loss is nan at epoch 3, iteration 3 of 6 (iteration 15 overall)" in str(error)
    assert isinstance(error, FloatingPointError)
    assert (error.epoch, error.iteration) == (3, 3) and np.isnan(error.loss)
    assert len(solver.loss_history) == 15 and np.isnan(solver.loss_history[-1])
    assert len(solver.val_acc_history) == 3  # epochs 0, 1, 2
    assert_same_params(solver.model.params, snapshots[solver.best_epoch])
    assert all(np.isfinite(w).all() for w in solver.model.params.values())
    saved = load(tmp_path / "run_diverged.pkl")
    assert_same_params(saved["model"].params, snapshots[solver.best_epoch])
    assert str(tmp_path / "run_diverged.pkl") in str(error)


def test_a_checkpoint_that_cannot_be_saved_does_not_hide_the_divergence(tmp_path, monkeypatch):
    solver = make_solver(model=DivergingModel(nan_at=8), checkpoint_name=tmp_path / "run")

    def disk_full(path, checkpoint):
        if str(path).endswith("_diverged.pkl"):
            raise OSError("disk full")
        return write_checkpoint(path, checkpoint)

    monkeypatch.setattr(solver_module, "write_checkpoint", disk_full)
    with pytest.raises(TrainingDiverged) as caught:
        solver.train()
    message = str(caught.value)
    assert "the model holds the best params so far (epoch " in message
    assert "(could not save a checkpoint: disk full). The batch's inputs are finite" in message
    assert message.endswith("try a smaller learning rate.")


def test_infinite_loss_is_caught_too():
    class Exploding(LinearModel):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            return out if y is None else (float("inf"), out[1])

    with pytest.raises(TrainingDiverged, match="loss is inf at epoch 1, iteration 1 of 6"):
        make_solver(model=Exploding()).train()


def float32_blobs():
    """blobs() with float32 inputs, for nets whose float32 statistics can overflow."""
    return {
        key: value.astype(np.float32) if key[0] == "X" else value for key, value in blobs().items()
    }


def small_float32_net(normalization):
    return FullyConnectedNet(
        [8, 8], input_dim=4, num_classes=3, normalization=normalization, dtype=np.float32, seed=0
    )


def test_an_overflow_in_batchnorms_statistics_is_a_divergence_with_the_layers_message():
    # A huge step makes the weights ~1e30: batchnorm's float32 variance overflows while its
    # normalised output, and so the loss, stay finite. Without the Solver's catch this would
    # escape as the layer's ValueError.
    data, model = float32_blobs(), small_float32_net("batchnorm")
    solver = make_solver(
        model=model, data=data, update_rule="sgd", optim_config={"learning_rate": 1e30}
    )
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged) as caught:
        solver.train()
    error = caught.value
    assert isinstance(error.__cause__, OverflowInNormalization)
    assert isinstance(error.__cause__, ValueError)  # what it was before it had a name
    assert error.loss == math.inf and solver.loss_history[-1] == math.inf
    assert np.isfinite(solver.loss_history[:-1]).all()
    assert "the loss is inf at epoch 1, iteration 2 of 6" in str(error)
    assert "batchnorm_forward_fast: the mean or variance of feature" in str(error)
    assert "overflows float32" in str(error) and "try a smaller learning rate" in str(error)
    assert all(np.isfinite(w).all() for w in solver.model.params.values())  # the best, restored


def test_an_overflow_while_measuring_an_epoch_is_a_divergence_too():
    # Layernorm computes statistics in test mode as well. With one step per epoch, the step that
    # blows the weights up has a finite loss (computed before its update); the overflow comes
    # when the epoch's accuracy is measured, and must still end training as a divergence.
    data, model = float32_blobs(), small_float32_net("layernorm")
    solver = make_solver(
        model=model, data=data, update_rule="sgd", optim_config={"learning_rate": 1e25},
        batch_size=len(data["X_train"]),
    )  # fmt: skip
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged) as caught:
        solver.train()
    error = caught.value
    assert isinstance(error.__cause__, OverflowInNormalization)
    assert np.isfinite(solver.loss_history[:-1]).all() and solver.loss_history[-1] == math.inf
    assert "layernorm_forward_fast: the mean or variance of example" in str(error)
    assert "The data is finite, so the steps were too large" in str(error)
    assert "scale x down" not in str(error)  # a single layer's advice, not the Solver's
    assert all(np.isfinite(w).all() for w in solver.model.params.values())  # the best, restored


def test_inputs_that_overflow_before_any_update_are_the_layers_error_not_a_divergence():
    data = {
        key: value.astype(np.float32) * 1e22 if key[0] == "X" else value
        for key, value in blobs().items()
    }
    model = FullyConnectedNet(
        [8], input_dim=4, num_classes=3, normalization="batchnorm", dtype=np.float32, seed=0
    )
    solver = make_solver(model=model, data=data, update_rule="sgd")
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(OverflowInNormalization) as caught,
    ):
        solver.train()
    assert "scale x down or compute in float64" in str(caught.value)
    assert solver.loss_history == []


def test_nan_reaching_a_batch_blames_the_data_not_the_learning_rate():
    solver = make_solver()
    solver.X_train[:, 1] = np.nan  # after the check in __init__: the data changed in place
    with pytest.raises(TrainingDiverged) as caught:
        solver.train()
    message = str(caught.value)
    assert "The batch's inputs hold 10 non-finite value(s): the data is bad, not the learning" in (
        message
    )
    assert "look for NaN or inf in data['X_train']." in message
    assert "smaller learning rate" not in message


def test_nan_regression_targets_reaching_a_batch_blame_x_and_y():
    solver = make_solver(model=LinearModel(num_outputs=1, loss_type="mse"), data=regression_data())
    solver.y_train[:] = np.nan  # after the check in __init__; X stays finite
    with pytest.raises(TrainingDiverged) as caught:
        solver.train()
    message = str(caught.value)
    assert message.startswith("training diverged: the loss is nan at epoch 1, iteration 1 of ")
    assert "non-finite value(s): the data is bad" in message
    assert message.endswith("look for NaN or inf in data['X_train'] and data['y_train'].")


# -- bad data -------------------------------------------------------------------------------------


def with_nan(key, index):
    data = blobs()
    data[key][index] = np.nan
    return data


@pytest.mark.parametrize(
    "data, message",
    [
        (with_nan("X_val", ...), r"data\['X_val'\] holds 120 non-finite value\(s\) \(NaN or inf\) "
         r"out of 120, the first at index \(0, 0\)"),
        (with_nan("X_val", 7), r"data\['X_val'\] holds 4 non-finite .* first at index \(7, 0\)"),
        (with_nan("X_train", (12, 2)), r"data\['X_train'\] holds 1 non-finite .* \(12, 2\)"),
        ({**blobs(), "X_train": np.full((60, 4), np.inf)}, r"data\['X_train'\] holds 240 "),
        ({**blobs(), "y_val": np.full(30, 99)}, r"data\['y_val'\] must hold class labels in "
         r"\[0, 3\) \(the model scores 3 classes\), got 99 at index 0 \(30 label\(s\) outside\)"),
        ({**blobs(), "y_train": np.where(np.arange(60) == 5, -1, blobs()["y_train"])},
         r"data\['y_train'\] must hold class labels in \[0, 3\) .* got -1 at index 5 \(1 label"),
        ({**blobs(), "y_val": np.full(30, 3)}, r"data\['y_val'\] .* got 3 at index 0"),
    ],
    ids=["all-NaN X_val", "a NaN row", "NaN in X_train", "inf", "y_val 99", "y -1", "y == C"],
)  # fmt: skip
def test_bad_data_is_refused_before_training(data, message):
    with pytest.raises(ValueError, match=message) as caught:
        make_solver(data=data)
    assert "learning rate" not in str(caught.value)


def test_nan_regression_targets_are_refused():
    data = regression_data()
    data["y_val"][3] = np.nan
    with pytest.raises(ValueError, match=r"data\['y_val'\] holds 1 non-finite .* index \(3,"):
        make_solver(model=LinearModel(num_outputs=1, loss_type="mse"), data=data)


# -- bad input ------------------------------------------------------------------------------------


def test_unknown_keyword_is_refused_with_a_suggestion():
    with pytest.raises(
        TypeError,
        match=r"unknown keyword argument\(s\) 'num_epoch' \(did you mean 'num_epochs'\?\)",
    ):
        make_solver(num_epoch=3)
    with pytest.raises(TypeError) as caught:
        make_solver(colour="red")
    assert "'colour'; valid keywords: update_rule, optim_config, lr_decay," in str(caught.value)
    with pytest.raises(TypeError, match=r"argument\(s\) 'colour', 'num_epoch' \(did you mean"):
        make_solver(colour="red", num_epoch=3)


def test_missing_and_mismatched_data():
    data = blobs()
    with pytest.raises(ValueError, match="data is missing X_val, y_val; the Solver needs"):
        make_solver(data={"X_train": data["X_train"], "y_train": data["y_train"]})
    with pytest.raises(
        ValueError,
        match=r"data\['X_train'\] and data\['y_train'\] must have one row per example, got shapes \(60, 4\) and \(59,\)",
    ):
        make_solver(data={**data, "y_train": data["y_train"][:-1]})
    with pytest.raises(
        ValueError,
        match=r"data\['X_val'\] examples must have the shape of data\['X_train'\]'s, \(4,\), got \(3,\)",
    ):
        make_solver(data={**data, "X_val": data["X_val"][:, :3]})
    with pytest.raises(TypeError, match=r"data\['y_val'\] must be a numpy ndarray, got list"):
        make_solver(data={**data, "y_val": list(data["y_val"])})
    with pytest.raises(TypeError, match="data must be a dict"):
        make_solver(data=[data["X_train"]])
    with pytest.raises(ValueError, match=r"data\['X_val'\] must hold at least one example"):
        make_solver(data={**data, "X_val": data["X_val"][:0], "y_val": data["y_val"][:0]})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"update_rule": "adagrad"}, ValueError, "update_rule must be one of"),
        ({"update_rule": 3}, TypeError, "update_rule must be a rule name or a callable"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"num_epochs": -1}, ValueError, "num_epochs must be >= 0"),
        ({"num_train_samples": 0}, ValueError, "num_train_samples must be >= 1"),
        ({"lr_decay": 0}, ValueError, "lr_decay must be a positive number"),
        ({"optim_config": [1e-3]}, TypeError, "optim_config must be a dict"),
        # hyperparameters that would climb the loss or divide by zero mid-run
        (
            {"optim_config": {"learning_rate": -0.1}},
            ValueError,
            r"optim_config\['learning_rate'\] must be a positive number, got -0.1",
        ),
        ({"optim_config": {"learning_rate": 0}}, ValueError, "must be a positive number, got 0"),
        ({"optim_config": {"learning_rate": "1e-3"}}, ValueError, "positive number, got '1e-3'"),
        ({"optim_config": {"beta2": 1.0}}, ValueError, r"\['beta2'\] must be in \[0, 1\), got 1.0"),
        ({"optim_config": {"momentum": -0.5}}, ValueError, r"\['momentum'\] must be in \[0, 1\)"),
        ({"optim_config": {"epsilon": 0.0}}, ValueError, r"\['epsilon'\] must be a positive"),
        ({"progress": "fancy"}, ValueError, "progress must be one of"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": True}, TypeError, "seed must be an int"),
        ({"checkpoint_name": "/no/such/dir/run"}, ValueError, "not an existing directory"),
        ({"checkpoint_name": 3}, TypeError, "checkpoint_name must be a str or a path, got int"),
        ({"print_every": None}, TypeError, "print_every must be an int, got None"),
    ],
)
def test_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_solver(**kwargs)


def test_bad_evaluation_and_callback_arguments():
    data = blobs()
    solver = make_solver(data=data)
    with pytest.raises(
        ValueError, match=r"X and y must have one row per example, got shapes \(30, 4\) and \(29,\)"
    ):
        solver.check_accuracy(data["X_val"], data["y_val"][:-1])
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        solver.check_accuracy(data["X_val"], data["y_val"], batch_size=0)
    with pytest.raises(TypeError, match="on_epoch_end must be callable, got int"):
        solver.train(on_epoch_end=3)
    regression = regression_data()
    solver = make_solver(model=LinearModel(num_outputs=1, loss_type="mse"), data=regression)
    with pytest.raises(
        ValueError, match=r"y must hold one target per score: scores have shape \(30, 1\)"
    ):
        solver.check_accuracy(regression["X_train"][:30], np.zeros((30, 2)))


def test_bad_model_and_missing_gradient():
    with pytest.raises(TypeError, match="model must have a params dict and a loss"):
        make_solver(model=object())

    class Forgetful(LinearModel):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            return out if y is None else (out[0], {"W": out[1]["W"]})

    with pytest.raises(KeyError, match=r"model\.loss returned no gradient for parameter 'b'"):
        make_solver(model=Forgetful()).train()


# -- helpers --------------------------------------------------------------------------------------


def copy_params(model):
    return {name: w.copy() for name, w in model.params.items()}


def assert_same_params(actual, expected):
    """Bit-for-bit equal: copies of the same arrays, or an exactly reproduced run."""
    assert actual.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_best_epoch_running_statistics_are_restored_with_its_params():
    """The best params come back with the running statistics they were measured with.

    The best epoch is made an early one by construction: the validation labels are what the
    net itself predicts after epoch 1, so epoch 1 scores a perfect 1.0 and no later epoch can
    beat it (a tie is not better). Training never reads y_val, so the second run, on those
    labels, trains exactly as the first.
    """
    from bnlab.data import make_synthetic_images
    from bnlab.nets import FullyConnectedNet

    data = make_synthetic_images(200, 50, 10, image_shape=(1, 4, 4), seed=0)

    def run(data, on_epoch_end):
        model = FullyConnectedNet(
            [8], input_dim=16, num_classes=10, normalization="batchnorm", weight_scale="he", seed=0
        )
        solver = Solver(
            model, data, update_rule="sgd", optim_config={"learning_rate": 0.5}, num_epochs=4,
            batch_size=20, seed=0, verbose=False,
        )  # fmt: skip
        solver.train(on_epoch_end=on_epoch_end)
        return solver

    predicted = {}

    def predict_after_epoch_1(solver):
        if solver.epoch == 1:
            predicted["y_val"] = np.argmax(solver.model.loss(data["X_val"]), axis=1)

    run(data, predict_after_epoch_1)
    data = {**data, "y_val": predicted["y_val"]}
    snapshots = {}

    def record(solver):
        snapshots[solver.epoch] = {
            "params": {k: v.copy() for k, v in solver.model.params.items()},
            "running_mean": solver.model.bn_params[0]["running_mean"].copy(),
            "running_var": solver.model.bn_params[0]["running_var"].copy(),
        }

    solver = run(data, record)
    assert solver.val_metric_history[1] == 1.0 and solver.val_metric_history[0] < 1.0
    assert solver.best_epoch == 1 < solver.epoch == 4
    model, best, last = solver.model, snapshots[1], snapshots[4]
    for name, value in best["params"].items():
        np.testing.assert_array_equal(model.params[name], value, err_msg=name)
    for key in ("running_mean", "running_var"):
        assert not np.array_equal(best[key], last[key]), "the test must tell epoch 1 from 4"
        np.testing.assert_array_equal(model.bn_params[0][key], best[key], err_msg=key)
    # and the restored model reproduces the best validation accuracy exactly
    assert solver.check_metric(data["X_val"], data["y_val"]) == solver.best_val_metric == 1.0


@pytest.mark.parametrize("bad", ["column", "float"])
def test_classifier_labels_must_be_integer_vectors(bad):
    """A (N, 1) y would broadcast against (N,) predictions and report accuracies above 1."""
    data = blobs()
    y_val = data["y_val"][:, None] if bad == "column" else data["y_val"].astype(float)
    with pytest.raises(ValueError, match=r"data\['y_val'\] must hold \(N,\) integer class labels"):
        make_solver(data={**data, "y_val": y_val})
