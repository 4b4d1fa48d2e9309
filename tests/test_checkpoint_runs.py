"""Checkpoint prefixes: one run per prefix, no litter, resume where the files are, failed writes."""

import errno
import os
import shutil
import subprocess
import sys

import pytest
from toy_models import LinearModel, blobs

import bnlab._atomic as atomic_module
import bnlab.solver.checkpoint as checkpoint_module
from bnlab.solver import CheckpointWriteError, Solver, load_checkpoint
from bnlab.solver.checkpoint import read_run_id

TOY_MODELS = (LinearModel,)


def make_solver(**kwargs):
    settings = {"batch_size": 10, "num_epochs": 2, "seed": 0, "verbose": False, **kwargs}
    return Solver(LinearModel(), blobs(), **settings)


def snapshot(folder):
    """name -> bytes of every file in folder."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# -- item 3: run identity -------------------------------------------------------------------------


def test_a_second_run_on_the_same_prefix_is_refused_and_the_first_kept(tmp_path):
    make_solver(num_epochs=4, checkpoint_name=tmp_path / "run").train()
    first = snapshot(tmp_path)
    second = make_solver(num_epochs=2, checkpoint_name=tmp_path / "run")
    with pytest.raises(FileExistsError) as caught:
        second.train()
    message = str(caught.value)
    assert (
        f"checkpoint_name {str(tmp_path / 'run')!r} already holds checkpoints of another run"
        in (message)
    )
    assert str(tmp_path / "run_epoch_0.pkl") in message and "and 0 more" not in message
    assert "new checkpoint_name" in message and "checkpoint_overwrite=True" in message
    assert snapshot(tmp_path) == first  # nothing written, nothing mixed
    assert second.loss_history == []  # refused before training


def test_checkpoint_overwrite_deletes_the_other_runs_files_first(tmp_path):
    make_solver(num_epochs=4, checkpoint_name=tmp_path / "run").train()
    (tmp_path / "run_2_epoch_9.pkl").write_bytes(b"another prefix: not touched")
    second = make_solver(num_epochs=2, checkpoint_name=tmp_path / "run", checkpoint_overwrite=True)
    second.train()
    names = sorted(os.listdir(tmp_path))
    assert names == ["run_2_epoch_9.pkl", "run_epoch_0.pkl", "run_epoch_1.pkl", "run_epoch_2.pkl"]
    for name in names[1:]:
        assert read_run_id(tmp_path / name) == second.run_id


def test_a_resumed_run_keeps_its_identity_and_its_prefix(tmp_path):
    first = make_solver(num_epochs=4, checkpoint_name=tmp_path / "run")
    first.train()
    # resuming from epoch 2 rewrites epochs 3 and 4 of the same run: not another run's files
    resumed = Solver.resume(tmp_path / "run_epoch_2.pkl", blobs(), trusted=TOY_MODELS)
    assert resumed.run_id == first.run_id
    resumed.train()
    ids = {read_run_id(tmp_path / name) for name in os.listdir(tmp_path)}
    assert ids == {first.run_id}
    assert load_checkpoint(tmp_path / "run_epoch_4.pkl", TOY_MODELS)["run_id"] == first.run_id
    assert make_solver().run_id != make_solver().run_id  # same settings, two runs


def test_a_run_checkpointed_before_run_ids_resumes_on_its_own_files(tmp_path):
    import pickle

    make_solver(num_epochs=4, checkpoint_name=tmp_path / "run").train()
    for epoch in range(5):  # as bnlab wrote them before run ids: a plain pickle, no trailer
        path = tmp_path / f"run_epoch_{epoch}.pkl"
        checkpoint = load_checkpoint(path, TOY_MODELS)
        del checkpoint["run_id"]
        path.write_bytes(pickle.dumps(checkpoint))
    resumed = Solver.resume(tmp_path / "run_epoch_2.pkl", blobs(), trusted=TOY_MODELS)
    resumed.train()  # its unmarked files are its own: epochs 3 and 4 are rewritten, not refused
    assert read_run_id(tmp_path / "run_epoch_4.pkl") == resumed.run_id


# -- item 11: litter and location -----------------------------------------------------------------


def dead_pid():
    """The id of a process that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


@pytest.mark.skipif(os.name != "posix", reason="liveness of a pid is checked with os.kill(pid, 0)")
def test_stale_temp_files_of_the_prefix_are_cleaned_on_start(tmp_path):
    stale = [f".run_epoch_3.pkl.{dead_pid()}.tmp", f".run_diverged.pkl.{dead_pid()}.tmp"]
    alive = f".run_epoch_1.pkl.{os.getppid()}.tmp"  # a live process may still be writing it
    other_prefix = f".other_epoch_1.pkl.{dead_pid()}.tmp"
    for name in [*stale, alive, other_prefix]:
        (tmp_path / name).write_bytes(b"half a pickle")
    make_solver(num_epochs=1, checkpoint_name=tmp_path / "run").train()
    names = sorted(os.listdir(tmp_path))
    assert names == sorted([alive, other_prefix, "run_epoch_0.pkl", "run_epoch_1.pkl"])


def test_resuming_a_copied_folder_writes_there_not_in_the_original(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    original.mkdir()
    make_solver(num_epochs=2, checkpoint_name=original / "run").train()
    assert load_checkpoint(original / "run_epoch_2.pkl", TOY_MODELS)["checkpoint_name"] == "run"
    shutil.copytree(original, copy)
    before = snapshot(original)
    resumed = Solver.resume(copy / "run_epoch_2.pkl", blobs(), num_epochs=3, trusted=TOY_MODELS)
    resumed.train()
    assert snapshot(original) == before
    assert (copy / "run_epoch_3.pkl").exists()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    told = Solver.resume(copy / "run_epoch_2.pkl", blobs(), num_epochs=3, trusted=TOY_MODELS,
                         checkpoint_name=elsewhere / "moved")  # fmt: skip
    told.train()
    assert sorted(os.listdir(elsewhere)) == ["moved_epoch_3.pkl"]


# -- item 2: a write failure while checkpointing --------------------------------------------------


@pytest.mark.parametrize("code", [errno.EFBIG, errno.ENOSPC])
def test_a_failed_checkpoint_write_stops_naming_the_file_and_keeps_the_last_good_one(
    tmp_path, monkeypatch, code
):
    dump = checkpoint_module.pickle.dump

    def full_disk_at_epoch_2(checkpoint, f, protocol=None):
        if checkpoint["epoch"] == 2:
            f.write(b"\x80\x05 the first bytes")
            raise OSError(code, os.strerror(code))
        dump(checkpoint, f, protocol=protocol)

    monkeypatch.setattr(checkpoint_module.pickle, "dump", full_disk_at_epoch_2)
    solver = make_solver(num_epochs=3, checkpoint_name=tmp_path / "run")
    with pytest.raises(CheckpointWriteError) as caught:
        solver.train()
    error = caught.value
    assert isinstance(error, OSError) and error.errno == code
    message = str(error)
    assert f"could not write checkpoint {str(tmp_path / 'run_epoch_2.pkl')!r}" in message
    assert os.strerror(code) in message and "training stopped after epoch 2" in message
    assert f"the last good checkpoint, {str(tmp_path / 'run_epoch_1.pkl')!r}, is intact" in message
    assert solver.epoch == 2  # no third epoch
    assert sorted(os.listdir(tmp_path)) == ["run_epoch_0.pkl", "run_epoch_1.pkl"]  # no temp
    monkeypatch.undo()
    resumed = Solver.resume(tmp_path / "run_epoch_1.pkl", blobs(), trusted=TOY_MODELS)
    resumed.train()
    straight = make_solver(num_epochs=3)
    straight.train()
    assert resumed.loss_history == straight.loss_history


def test_a_refused_write_stops_training_naming_the_file(tmp_path, monkeypatch):
    # what a read-only folder does to a user who is not root
    def no_permission(path, mode="r", *args, **kwargs):
        if "epoch_2" in str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(atomic_module, "open", no_permission, raising=False)
    with pytest.raises(CheckpointWriteError, match=r"run_epoch_2\.pkl'.*Permission denied"):
        make_solver(num_epochs=3, checkpoint_name=tmp_path / "run").train()
    assert load_checkpoint(tmp_path / "run_epoch_1.pkl", TOY_MODELS)["epoch"] == 1


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_stops_training_naming_the_file(tmp_path):
    def read_only(solver):
        if solver.epoch == 1:
            tmp_path.chmod(0o555)

    try:
        with pytest.raises(CheckpointWriteError, match=r"run_epoch_2\.pkl"):
            make_solver(num_epochs=3, checkpoint_name=tmp_path / "run").train(read_only)
    finally:
        tmp_path.chmod(0o755)
    assert load_checkpoint(tmp_path / "run_epoch_1.pkl", TOY_MODELS)["epoch"] == 1
