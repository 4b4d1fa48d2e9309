"""The Solver's progress: tqdm's bar on a terminal or in Jupyter, a line per epoch elsewhere."""

import io
import subprocess
import sys

import pytest
import tqdm.auto
import tqdm.notebook
from toy_models import LinearModel, blobs

import bnlab.solver.progress as progress_module
from bnlab.solver import Solver


def make_solver(**kwargs):
    settings = {"batch_size": 10, "num_epochs": 2, "seed": 0, "print_every": 5, **kwargs}
    return Solver(LinearModel(), blobs(), **settings)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as it does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def fake_terminal(monkeypatch) -> Terminal:
    """sys.stderr becomes a Terminal. Called in the test body: pytest sets its capture streams
    after the fixtures' setup, over any stream a fixture would set."""
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    return stream


def test_on_a_terminal_a_bar_per_epoch_and_the_messages(capsys, monkeypatch):
    terminal = fake_terminal(monkeypatch)
    make_solver().train()
    out, err = capsys.readouterr().out, terminal.getvalue()
    assert "(Iteration 1 / 12) loss: " in out and "(Iteration 6 / 12) loss: " in out
    assert "(Iteration 2 / 12)" not in out
    assert "(Epoch 0 / 2) train acc: " in out
    assert "(Epoch 2 / 2) train acc: " in out and "; loss: " in out and " s" in out
    assert "epoch 1/2" in err and "epoch 2/2" in err and "ex/s" in err and "loss" in err
    assert "/60.0 " in err  # the bar counts the epoch's examples out of its total, 60


class NoTty:
    """A stderr without isatty (some notebook and IDE streams)."""

    def __init__(self):
        self.text = io.StringIO()

    def write(self, text):
        return self.text.write(text)

    def flush(self):
        pass


def test_a_stderr_without_isatty_is_not_a_terminal(capsys, monkeypatch):
    stream = NoTty()
    monkeypatch.setattr(sys, "stderr", stream)
    make_solver().train()
    assert "(Epoch 2 / 2) train acc: " in capsys.readouterr().out
    assert stream.text.getvalue() == ""  # no bar


@pytest.mark.parametrize("progress", [True, "tqdm", "builtin"])  # the two older spellings of True
def test_not_a_terminal_gets_a_line_per_epoch_and_no_bar(capsys, progress):
    make_solver(progress=progress).train()
    out, err = capsys.readouterr()
    assert err == ""  # no bar redrawn with carriage returns into a log file
    epoch_lines = [line for line in out.splitlines() if line.startswith("(Epoch ")]
    assert [line.split(")")[0] for line in epoch_lines] == [
        "(Epoch 0 / 2",
        "(Epoch 1 / 2",
        "(Epoch 2 / 2",
    ]


def test_progress_false_on_a_terminal_keeps_the_lines_and_draws_no_bar(capsys, monkeypatch):
    terminal = fake_terminal(monkeypatch)
    make_solver(progress=False).train()
    out, err = capsys.readouterr().out, terminal.getvalue()
    assert err == "" and "(Epoch 2 / 2) train acc: " in out and "(Iteration 1 / 12)" in out


def test_quiet_prints_nothing_even_on_a_terminal(capsys, monkeypatch):
    terminal = fake_terminal(monkeypatch)
    make_solver(verbose=False).train()
    assert capsys.readouterr().out == "" and terminal.getvalue() == ""


def test_jupyter_gets_tqdm_widget_bar(capsys):
    assert not progress_module.can_draw(tqdm.auto.tqdm)  # captured stderr: not a terminal
    assert progress_module.can_draw(tqdm.notebook.tqdm)  # what tqdm.auto picks inside Jupyter


def test_importing_bnlab_does_not_import_tqdm_auto():
    # inside Jupyter without ipywidgets, importing tqdm.auto warns; bnlab imports it on first use
    code = "import sys, bnlab.solver, bnlab.data; print('tqdm.auto' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
