"""Solver behaviour that mutation testing found unguarded (docs/mutation-testing.md).

Each test names what a user would see go wrong: a divergence blamed on the learning rate when
float32 data holds NaN, a failed first checkpoint that claims an earlier one, a resumed run
that forgot its verbosity, a temporary file two processes share, a message that lost its words.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from toy_models import LinearModel, blobs

import bnlab._atomic as atomic_module
import bnlab.solver.checkpoint as checkpoint_module
from bnlab.solver import CheckpointWriteError, Solver, TrainingDiverged, load_checkpoint

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
