"""Loading checkpoints: damaged files are refused naming the file, hostile ones never run code."""

import contextlib
import pickle

import numpy as np
import pytest
from toy_models import blobs

from bnlab.cli import main
from bnlab.nets import FullyConnectedNet
from bnlab.solver import CheckpointError, Solver, load_checkpoint, write_checkpoint
from bnlab.solver.checkpoint import CS231N_KEYS, TRAILER_SIZE


@pytest.fixture(scope="module")
def good_checkpoint(tmp_path_factory):
    """A batchnorm net's checkpoint after 1 epoch: only bnlab's own classes inside."""
    folder = tmp_path_factory.mktemp("good")
    net = FullyConnectedNet([6], input_dim=4, num_classes=3, normalization="batchnorm", seed=0)
    Solver(
        net, blobs(), num_epochs=1, batch_size=10, seed=0, verbose=False,
        checkpoint_name=folder / "run", update_rule="adam",
    ).train()  # fmt: skip
    return folder / "run_epoch_1.pkl"


def refused(path):
    """The one-line CheckpointError (a ValueError) that load_checkpoint and resume raise."""
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    with pytest.raises(ValueError, match="checkpoint '"):
        Solver.resume(path, blobs())
    return message


def test_a_good_checkpoint_loads_and_stays_a_cs231n_readable_pickle(good_checkpoint):
    saved = load_checkpoint(good_checkpoint)  # no trusted=: the net is bnlab's
    assert isinstance(saved["model"], FullyConnectedNet)
    with open(good_checkpoint, "rb") as f:  # cs231n-style code: a plain pickle.load
        plain = pickle.load(f)
    assert set(CS231N_KEYS) <= set(plain)
    assert plain["epoch"] == 1 and isinstance(plain["model"], FullyConnectedNet)
    np.testing.assert_array_equal(plain["model"].params["W1"], saved["model"].params["W1"])
    Solver.resume(good_checkpoint, blobs(), num_epochs=2).train()


def test_a_checkpoint_without_the_trailer_still_loads(tmp_path, good_checkpoint):
    # written before checkpoints had a checksum: loaded as restrictively, just not verified
    legacy = tmp_path / "legacy_epoch_1.pkl"
    with open(good_checkpoint, "rb") as f, open(legacy, "wb") as out:
        pickle.dump(pickle.load(f), out)
    assert load_checkpoint(legacy)["epoch"] == 1


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.5, 0.99])
def test_truncated_and_empty_files_are_refused(tmp_path, good_checkpoint, fraction):
    content = good_checkpoint.read_bytes()
    path = tmp_path / "truncated.pkl"
    path.write_bytes(content[: int(len(content) * fraction)])
    message = refused(path)
    assert "not a readable checkpoint" in message or "damaged" in message


@pytest.mark.parametrize(
    "content",
    [np.random.default_rng(0).bytes(5000), b"epoch: 3\nloss: 0.25\n", b"\x80\x05K\x03."],
    ids=["random bytes", "text", "a pickled int"],
)
def test_random_text_and_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "not_a_checkpoint.pkl"
    path.write_bytes(content)
    refused(path)


def test_every_byte_flip_is_refused(tmp_path, good_checkpoint):
    content = good_checkpoint.read_bytes()
    rng = np.random.default_rng(1)
    # 40 flips anywhere, 10 in the trailer (its run id, checksum and text)
    positions = [*rng.choice(len(content), 40, replace=False)]
    positions += [*(len(content) - 1 - rng.choice(TRAILER_SIZE, 10, replace=False))]
    path = tmp_path / "flipped.pkl"
    for position in positions:
        damaged = bytearray(content)
        damaged[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match=r"flipped\.pkl"):
            load_checkpoint(path)


class Hostile:
    """Unpickling it runs code: it creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


def test_a_hostile_pickles_code_never_runs(tmp_path, good_checkpoint):
    marker = tmp_path / "marker"
    checkpoint = {**load_checkpoint(good_checkpoint), "model": Hostile(marker)}
    path = tmp_path / "hostile_epoch_1.pkl"
    write_checkpoint(path, checkpoint)  # with a valid checksum: checksums are not security
    message = refused(path)
    assert "builtins.exec" in message and "trusted=" in message
    args = ["train", "--quick", "--hidden", "8", "--out", str(tmp_path / "out")]
    with contextlib.suppress(Exception, SystemExit):
        main([*args, "--resume", str(path)])
    assert not marker.exists()
    with open(path, "rb") as f:  # the test can fail: an unrestricted load runs the payload
        pickle.load(f)
    assert marker.exists()


@pytest.mark.parametrize(
    "module, name",
    [
        ("os", "system"),
        ("bnlab.nets.model", "np"),
        ("bnlab.nets.model", "np.save"),
        ("bnlab.nets.model", "partial"),  # functools', imported there
        ("subprocess", "Popen"),  # a class defined in its module, but not bnlab's
        ("numpy", "memmap"),  # a numpy type, but not a scalar type: it writes files
        ("numpy", "no_such_name"),
        ("bnlab.nets", "no_such_name"),
        ("os", "set"),  # a safe builtin's name, from another module
    ],
)
def test_only_bnlabs_own_classes_and_functions_are_resolved(tmp_path, module, name):
    # a module's imports (np, os) are not its own; dotted names would reach through them
    path = tmp_path / "global.pkl"
    path.write_bytes(
        b"\x80\x04\x8c" + bytes([len(module)]) + module.encode()
        + b"\x8c" + bytes([len(name)]) + name.encode() + b"\x93."
    )  # fmt: skip
    assert f"refers to {module}.{name}, which bnlab does not load" in refused(path)


def test_a_checkpoint_may_hold_builtin_sets_complex_numbers_and_numpy_scalar_types(
    tmp_path, good_checkpoint
):
    checkpoint = {
        **load_checkpoint(good_checkpoint),
        "tags": {"a"},
        "z": complex(1, 2),
        "dtype": np.float32,
    }
    path = tmp_path / "sets_epoch_1.pkl"
    write_checkpoint(path, checkpoint)
    loaded = load_checkpoint(path)
    assert loaded["tags"] == {"a"} and loaded["z"] == 1 + 2j and loaded["dtype"] is np.float32


# --- one prefix, one run ------------------------------------------------------------------


def test_a_prefix_holding_another_runs_checkpoints_is_refused(tmp_path):
    from bnlab.solver.checkpoint import claim_prefix

    ours, theirs = "a" * 32, "b" * 32
    name = str(tmp_path / "run")
    for epoch in range(1, 7):  # six: five shown, one more counted
        write_checkpoint(tmp_path / f"run_epoch_{epoch}.pkl", {"run_id": theirs})
    with pytest.raises(FileExistsError) as caught:
        claim_prefix(name, ours)  # overwrite is off by default
    shown = ", ".join(str(tmp_path / f"run_epoch_{epoch}.pkl") for epoch in range(1, 6))
    assert f"({shown} and 1 more); writing this run's" in str(caught.value)
    for epoch in range(2, 7):
        (tmp_path / f"run_epoch_{epoch}.pkl").unlink()
    # a checkpoint written before run ids: ours only when the caller says so (resume)
    (tmp_path / "run_epoch_2.pkl").write_bytes(pickle.dumps({"epoch": 2}))
    with pytest.raises(FileExistsError) as caught:
        claim_prefix(name, ours, unmarked_are_ours=True)  # the marked one is still theirs
    assert "run_epoch_1.pkl" in str(caught.value) and "run_epoch_2.pkl" not in str(caught.value)
    (tmp_path / "run_epoch_1.pkl").unlink()
    claim_prefix(name, ours, unmarked_are_ours=True)
    with pytest.raises(FileExistsError, match=r"\(\S*run_epoch_2\.pkl\); writing"):
        claim_prefix(name, ours)  # unmarked files are not ours by default
    claim_prefix(name, ours, overwrite=True)
    assert not (tmp_path / "run_epoch_2.pkl").exists()


def test_an_unpicklable_checkpoint_raises_pickles_own_error(tmp_path):
    with pytest.raises(TypeError, match="pickle"):
        write_checkpoint(tmp_path / "g.pkl", {"gen": (i for i in range(3))})
    assert list(tmp_path.iterdir()) == []  # no half-written file left behind


def test_a_checkpoint_that_cannot_be_written_names_its_file(tmp_path):
    path = tmp_path / "missing_folder" / "run_epoch_1.pkl"
    with pytest.raises(OSError) as caught:
        write_checkpoint(path, {"epoch": 1})
    assert caught.value.filename == str(path)
    assert (
        str(caught.value) == f"could not write checkpoint {str(path)!r}: No such file or directory"
    )
