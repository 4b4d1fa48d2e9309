"""Solver behaviour that mutation testing found unguarded (docs/mutation-testing.md).

Each test names what a user would see go wrong: a divergence blamed on the learning rate when
float32 data holds NaN, a failed first checkpoint that claims an earlier one, a resumed run
that forgot its verbosity, a temporary file two processes share, a message that lost its words.
"""

import functools
import io
import os
import pickle
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from toy_models import LinearModel, blobs

import bnlab._atomic as atomic_module
import bnlab.solver.checkpoint as checkpoint_module
from bnlab.solver import CheckpointWriteError, Solver, TrainingDiverged, load_checkpoint, optim
from bnlab.solver.arguments import check_examples, resolve_update_rule

TOY_MODELS = (LinearModel,)


def make_solver(model=None, data=None, **kwargs):
    settings = {"batch_size": 10, "num_epochs": 2, "seed": 0, "verbose": False, **kwargs}
    return Solver(model or LinearModel(), blobs() if data is None else data, **settings)


def test_nan_in_float32_data_is_blamed_on_the_data():
    """The non-finite count covers every float dtype, not float64 alone."""
    data = blobs(dtype=np.float32)
    solver = make_solver(model=LinearModel(dtype=np.float32), data=data)
    solver.X_train[:, 1] = np.nan  # after the check in __init__: the data changed in place
    with pytest.raises(TrainingDiverged) as caught:
        solver.train()
    message = str(caught.value)
    assert "The batch's inputs hold 10 non-finite value(s): the data is bad" in message
    assert "smaller learning rate" not in message


def failing_dump_at(epoch):
    dump = checkpoint_module.pickle.dump

    def dump_or_fail(checkpoint, f, protocol=None):
        if checkpoint["epoch"] == epoch:
            raise OSError(28, "No space left on device")
        dump(checkpoint, f, protocol=protocol)

    return dump_or_fail


def test_a_failed_first_checkpoint_says_that_none_was_written(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module.pickle, "dump", failing_dump_at(0))
    solver = make_solver(checkpoint_name=tmp_path / "run")
    with pytest.raises(CheckpointWriteError) as caught:
        solver.train()
    error = caught.value
    assert "training stopped after epoch 0: no checkpoint of this run was written (free " in str(
        error
    )
    assert error.filename == str(tmp_path / "run_epoch_0.pkl")


def test_a_failed_later_checkpoint_names_its_own_file(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_module.pickle, "dump", failing_dump_at(1))
    with pytest.raises(CheckpointWriteError) as caught:
        make_solver(checkpoint_name=tmp_path / "run").train()
    assert caught.value.filename == str(tmp_path / "run_epoch_1.pkl")
    assert caught.value.errno == 28


@pytest.mark.parametrize("verbose", [True, False])
def test_a_checkpoint_keeps_verbose_and_resume_restores_it(tmp_path, verbose, capsys):
    make_solver(num_epochs=1, checkpoint_name=tmp_path / "run", verbose=verbose).train()
    path = tmp_path / "run_epoch_1.pkl"
    assert load_checkpoint(path, trusted=TOY_MODELS)["verbose"] is verbose
    resumed = Solver.resume(path, blobs(), trusted=TOY_MODELS, num_epochs=2)
    assert resumed.verbose is verbose
    capsys.readouterr()
    resumed.train()
    assert ("(Epoch 2 / 2)" in capsys.readouterr().out) is verbose


def test_resume_refuses_a_seed_with_the_reason(tmp_path):
    make_solver(num_epochs=1, checkpoint_name=tmp_path / "run").train()
    message = "seed cannot be given to Solver.resume: the saved RNG state continues"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        Solver.resume(tmp_path / "run_epoch_1.pkl", blobs(), trusted=TOY_MODELS, seed=1)


def test_a_checkpoint_is_written_through_a_temporary_file_named_by_the_process(
    tmp_path, monkeypatch
):
    """Two processes writing the same checkpoint must not share a temporary file."""
    opened = []

    def recording_open(path, *args, **kwargs):
        opened.append(Path(path).name)
        return open(path, *args, **kwargs)

    monkeypatch.setattr(atomic_module, "open", recording_open, raising=False)
    make_solver(num_epochs=1, checkpoint_name=tmp_path / "run").train()
    assert f".run_epoch_1.pkl.{os.getpid()}.tmp" in opened


# -- the epoch summary line -------------------------------------------------------------------


class FlushRecorder(io.StringIO):
    """A stdout that remembers how much had been written at each flush."""

    def __init__(self):
        super().__init__()
        self.flushed_at = []

    def flush(self):
        self.flushed_at.append(len(self.getvalue()))


def test_every_trained_epoch_prints_its_loss_and_time_and_flushes_the_line(monkeypatch):
    stdout = FlushRecorder()
    monkeypatch.setattr(sys, "stdout", stdout)
    solver = make_solver(verbose=True, progress=False, print_every=100)
    before = time.perf_counter()
    solver.train()
    elapsed = time.perf_counter() - before
    out = stdout.getvalue()
    per_epoch = solver.iterations_per_epoch
    for epoch in (1, 2):
        pattern = rf"\(Epoch {epoch} / 2\) train acc: \S+; val_acc: \S+; loss: (\S+); (\S+) s\n"
        match = re.search(pattern, out)
        assert match, out
        losses = solver.loss_history[(epoch - 1) * per_epoch : epoch * per_epoch]
        assert match[1] == f"{np.mean(losses):.4f}"
        assert 0 <= float(match[2]) <= elapsed + 0.1  # this epoch's seconds, within the run's
        assert match.end() in stdout.flushed_at  # a log file or pipe gets the line at once
    assert re.search(r"\(Epoch 0 / 2\) train acc: \S+; val_acc: \S+\n", out), out  # no loss yet


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_each_epochs_bar_is_erased_when_it_ends(monkeypatch):
    """leave=False: the epoch's summary line replaces its bar, no finished bar stays behind."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    make_solver(verbose=True).train()
    drawn = terminal.getvalue()
    assert "epoch 1/2" in drawn and "epoch 2/2" in drawn
    assert "\n" not in drawn and drawn.endswith("\r")


# -- the best epoch, learning-rate decay, the metric's sample -----------------------------------


class ConstantRegressor:
    """Predicts 0 whatever the input and learns nothing: every epoch's val MSE is the same."""

    loss_type = "mse"

    def __init__(self):
        self.params = {"w": np.zeros(1)}

    def loss(self, X, y=None):
        scores = np.zeros((X.shape[0], 1))
        if y is None:
            return scores
        return float(np.mean(y**2)) / 2, {"w": np.zeros(1)}


def test_an_mse_tie_keeps_the_earlier_best_epoch():
    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((20, 2)), "y_train": rng.standard_normal(20),
            "X_val": rng.standard_normal((10, 2)), "y_val": rng.standard_normal(10)}  # fmt: skip
    solver = make_solver(model=ConstantRegressor(), data=data, num_epochs=3)
    solver.train()
    assert len(set(solver.val_metric_history)) == 1
    assert solver.best_epoch == 0


@pytest.mark.parametrize("lr_decay", [0.5, 2.0])
def test_the_learning_rate_is_multiplied_by_lr_decay_after_every_epoch(lr_decay):
    solver = make_solver(optim_config={"learning_rate": 1e-2}, lr_decay=lr_decay, num_epochs=2)
    solver.train()
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(1e-2 * lr_decay**2)


def test_a_sample_as_large_as_the_set_is_the_whole_set_and_draws_nothing():
    """num_train_samples = N measures all N, as None does, without a draw from the RNG."""
    whole = make_solver(num_train_samples=None)
    exact = make_solver(num_train_samples=60)  # blobs() has 60 training examples
    whole.train()
    exact.train()
    assert exact.loss_history == whole.loss_history
    assert exact.train_metric_history == whole.train_metric_history


def test_check_metric_names_a_bad_x():
    solver = make_solver()
    with pytest.raises(TypeError, match=r"^X must be a numpy ndarray, got list$"):
        solver.check_metric([[1.0, 2.0, 3.0, 4.0]], np.zeros(1, dtype=int))


def test_check_metric_names_the_shape_of_a_target_row_that_does_not_fit():
    model = LinearModel(num_outputs=1, loss_type="mse")
    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((20, 4)), "y_train": rng.standard_normal(20),
            "X_val": rng.standard_normal((10, 4)), "y_val": rng.standard_normal(10)}  # fmt: skip
    solver = make_solver(model=model, data=data)
    message = "y must hold one target per score: scores have shape (5, 1), y rows have shape (2,)"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        solver.check_metric(np.ones((5, 4)), np.ones((5, 2)))


# -- the Solver's arguments ---------------------------------------------------------------------


def test_a_fresh_solver_has_no_best_epoch_yet():
    solver = make_solver()
    assert solver.best_epoch is None and solver.best_val_metric is None
    assert solver.best_params is None and solver.best_statistics is None


class ParamsWithoutLoss:
    def __init__(self):
        self.params = {"w": np.zeros(1)}


@pytest.mark.parametrize("model", [object(), ParamsWithoutLoss()], ids=["object", "no loss"])
def test_a_model_without_params_or_loss_is_refused_by_name(model):
    message = (
        f"model must have a params dict and a loss(X, y=None) method, got {type(model).__name__}"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        Solver(model, blobs())


def test_data_that_is_not_a_dict_or_lacks_a_key_is_refused_exactly():
    keys = "X_train, y_train, X_val, y_val"
    with pytest.raises(TypeError, match=f"^data must be a dict with {keys}, got list$"):
        Solver(LinearModel(), [])
    partial = {key: value for key, value in blobs().items() if key != "y_val"}
    message = f"data is missing y_val; the Solver needs {keys}"
    with pytest.raises(ValueError, match=f"^{message}$"):
        Solver(LinearModel(), partial)


def test_float_training_labels_are_refused_naming_y_train():
    data = blobs()
    data["y_train"] = data["y_train"].astype(float)
    with pytest.raises(ValueError, match=r"^data\['y_train'\] must hold \(N,\) integer class"):
        Solver(LinearModel(), data)


def test_a_checkpoint_folder_that_does_not_exist_is_named(tmp_path):
    name = tmp_path / "missing" / "run"
    message = (
        f"checkpoint_name {str(name)!r} points into {str(tmp_path / 'missing')!r}, which is "
        "not an existing directory"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make_solver(checkpoint_name=name)


def test_nan_in_float32_data_is_refused_when_the_solver_is_built():
    data = blobs(dtype=np.float32)
    data["X_val"][3, 2] = np.nan
    with pytest.raises(ValueError, match=r"^data\['X_val'\] holds 1 non-finite value"):
        Solver(LinearModel(dtype=np.float32), data)


def test_check_examples_takes_one_feature_per_example_and_refuses_a_0d_x():
    check_examples("X", np.ones(3), "y", np.zeros(3))  # X: (N,) is N examples of one number
    with pytest.raises(ValueError, match="must have one row per example, got shapes"):
        check_examples("X", np.array(1.0), "y", np.zeros(3))


def test_a_callable_update_rule_is_named_by_its_qualname_else_its_repr():
    assert resolve_update_rule(optim.sgd) == ("sgd", optim.sgd)
    rule = functools.partial(optim.sgd)  # a partial has no __qualname__
    assert resolve_update_rule(rule) == (repr(rule), rule)
    with pytest.raises(
        TypeError, match=r"^update_rule must be a rule name or a callable, got int$"
    ):
        resolve_update_rule(3)


@pytest.mark.parametrize(
    ("setting", "error", "message"),
    [
        ({"print_every": 0}, ValueError, "print_every must be >= 1, got 0"),
        ({"num_val_samples": 0}, ValueError, "num_val_samples must be >= 1, got 0"),
        ({"checkpoint_overwrite": "yes"}, TypeError,
         "checkpoint_overwrite must be True or False, got 'yes'"),
        ({"optim_config": [0.1]}, TypeError, "optim_config must be a dict, got list"),
    ],
)  # fmt: skip
def test_bad_solver_settings_are_refused_by_name(setting, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        make_solver(**setting)


def test_without_a_seed_np_random_seed_reproduces_the_run():
    """cs231n's way: the unseeded Solver draws from NumPy's global generator."""
    histories = []
    for _ in range(2):
        np.random.seed(0)  # noqa: NPY002
        solver = make_solver(seed=None, num_epochs=1)
        solver.train()
        histories.append(solver.loss_history)
    assert histories[0] == histories[1]


def test_a_fresh_run_does_not_take_unmarked_checkpoints_for_its_own(tmp_path):
    """Checkpoints without a run id (written before run ids) belong to a resumed run only."""
    (tmp_path / "run_epoch_1.pkl").write_bytes(pickle.dumps({"epoch": 1}))
    with pytest.raises(FileExistsError, match="already holds checkpoints of another run"):
        make_solver(checkpoint_name=tmp_path / "run").train()
