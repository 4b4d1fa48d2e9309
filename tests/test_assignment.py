"""bnlab assignment make: the generated starter round-trips through bnlab check.

(a) the answer key (the starter with bnlab's bodies put back) passes every check with zero
findings, and differs from the starter only in the exercises' bodies; (b) the untouched
starter reports every exercise as not implemented and crashes nothing; (c) the rewired
notebooks run in quick mode against the answer key; (d) run_autograder writes a valid
results.json.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnlab.assignment import DEFAULT_FUNCTIONS, make_assignment
from bnlab.check import CHECKS, check_target
from bnlab.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def starter(tmp_path_factory):
    return make_assignment(tmp_path_factory.mktemp("starter") / "hw")


@pytest.fixture(scope="module")
def answer_key(tmp_path_factory):
    return make_assignment(tmp_path_factory.mktemp("key") / "hw", solution=True)


def _functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_default_exercises_are_the_batchnorm_assignment(starter):
    assert starter.exercises == list(DEFAULT_FUNCTIONS)
    layers = _functions(starter.directory / "cs231n" / "layers.py")
    for name in starter.exercises:
        body = layers[name].body
        assert ast.get_docstring(layers[name]), name
        assert isinstance(body[-1], ast.Raise), f"{name} is not a stub"
    text = (starter.directory / "cs231n" / "layers.py").read_text()
    # nothing only an exercise would use is copied: no answer leaks into the starter
    for helper in ("BatchNormCache", "_normalize", "update_running_stats", "_rng_from"):
        assert helper not in text, helper
    imported = [
        node.module or ""
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.ImportFrom | ast.Import)
        for node in ([node] if isinstance(node, ast.ImportFrom) else [])
    ] + [
        a.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import)
        for a in node.names
    ]
    assert not [m for m in imported if m.startswith("bnlab")], imported


def test_starter_and_answer_key_differ_only_in_the_exercises_bodies(starter, answer_key):
    mine = _functions(starter.directory / "cs231n" / "layers.py")
    key = _functions(answer_key.directory / "cs231n" / "layers.py")
    for name in starter.exercises:
        assert [a.arg for a in mine[name].args.args] == [a.arg for a in key[name].args.args]
        assert ast.get_docstring(mine[name]) == ast.get_docstring(key[name])
    for name in set(mine) - set(starter.exercises):
        assert ast.dump(mine[name]) == ast.dump(key[name]), name


def test_answer_key_passes_every_check_with_zero_findings(answer_key):
    result = check_target(answer_key.directory / "cs231n")
    assert set(CHECKS) <= set(result.functions)
    bad = {n: r.kinds for n, r in result.functions.items() if r.status != "ok" or r.findings}
    assert not bad, bad


def test_untouched_starter_reports_every_exercise_not_implemented(starter):
    result = check_target(starter.directory / "cs231n")
    statuses = {n: r.status for n, r in result.functions.items()}
    # the exercises are stubs; the given functions of layers.py are correct, and a function
    # elsewhere may call an exercise (a sandwich layer): then it is not implemented either
    given = set(_functions(starter.directory / "cs231n" / "layers.py")) - set(starter.exercises)
    assert set(starter.checked) <= set(statuses)
    for name, status in statuses.items():
        if name in starter.exercises:
            assert status == "not_implemented", name
        elif name in given:
            assert status == "ok", (name, result[name].kinds)
        else:
            assert status in ("ok", "not_implemented"), (name, result[name].kinds)
    assert result.count("error") == 0


def test_a_backward_alone_brings_its_forward_and_the_layers_that_call_it(tmp_path):
    made = make_assignment(tmp_path / "hw", functions=["batchnorm_backward_alt"])
    # spatial batchnorm's given backward calls batchnorm_backward_alt with bnlab's cache
    assert made.exercises == [
        "batchnorm_forward",
        "batchnorm_backward",
        "batchnorm_backward_alt",
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
    ]
    made = make_assignment(tmp_path / "none", functions=[])
    assert made.exercises == []
    assert "TODO" not in (tmp_path / "none" / "cs231n" / "layers.py").read_text()


def test_an_update_rule_exercise_is_stubbed_in_optim_and_used_by_the_notebook(tmp_path):
    made = make_assignment(tmp_path / "hw", functions=["adam"])
    assert made.exercises == ["adam"]
    optim = _functions(tmp_path / "hw" / "cs231n" / "optim.py")
    assert isinstance(optim["adam"].body[-1], ast.Raise)
    assert not isinstance(optim["rmsprop"].body[-1], ast.Raise)
    notebook = json.loads((tmp_path / "hw" / "FullyConnectedNets.ipynb").read_text())
    imports = "".join(c["source"] for c in notebook["cells"] if c["cell_type"] == "code")
    assert "from cs231n import optim\n" in imports
    assert "from bnlab.solver import Solver\n" in imports


def test_cli_refuses_a_non_empty_directory(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["assignment", "make", str(tmp_path), "--functions", "relu_forward"]) == 2
    error = capsys.readouterr().err.strip()
    assert "not empty" in error and "\n" not in error
    assert main(["assignment", "make", str(tmp_path), "--functions", "nope", "--force"]) == 2
    assert "unknown function 'nope'" in capsys.readouterr().err
    assert (
        main(["assignment", "make", str(tmp_path), "--functions", "relu_forward", "--force"]) == 0
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "autograder" / "run_autograder").is_file()


def _run_autograder(made, results: Path, submission: Path | None = None) -> dict:
    """Run made's autograder/run_autograder on ``submission`` (made's own files by default),
    with Gradescope's paths moved by the script's environment variables."""
    env = {
        **os.environ,
        "SUBMISSION_DIR": str(submission or made.directory),
        "RESULTS_DIR": str(results),
        "SOURCE_DIR": str(made.directory / "autograder"),
        "BNLAB": f"{sys.executable} -m bnlab",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    script = made.directory / "autograder" / "run_autograder"
    subprocess.run(["bash", str(script)], env=env, check=True, timeout=300)
    return json.loads((results / "results.json").read_text())


@pytest.mark.parametrize("which", ["starter", "answer_key"])
def test_run_autograder_writes_gradescope_results(which, request, tmp_path):
    made = request.getfixturevalue(which)
    results = _run_autograder(made, tmp_path)
    assert [t["name"] for t in results["tests"]] == made.checked
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output"}
        assert test["max_score"] == 1.0
    full = which == "answer_key"
    assert results["score"] == (len(made.checked) if full else 0.0)
    assert all(t["score"] == (1.0 if full else 0.0) for t in results["tests"])


def test_run_autograder_scores_an_unreadable_submission_zero(starter, tmp_path):
    empty = tmp_path / "submission"
    empty.mkdir()
    results = _run_autograder(starter, tmp_path / "out", submission=empty)
    assert results["score"] == 0.0 and "could not read" in results["output"]


def test_notebooks_are_rewired_with_a_check_after_each_exercise(starter):
    assert starter.notebooks == [
        "FullyConnectedNets.ipynb",
        "BatchNormalization.ipynb",
        "ConvolutionalNetworks.ipynb",
    ]
    checked = []
    for name in starter.notebooks:
        cells = json.loads((starter.directory / name).read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        imports = [
            node
            for node in ast.parse(code[0].replace("%matplotlib", "#")).body
            if isinstance(node, ast.ImportFrom)
        ]
        from_bnlab = {a.name for n in imports if n.module == "bnlab.layers" for a in n.names}
        from_student = {a.name for n in imports if n.module == "cs231n.layers" for a in n.names}
        assert not from_bnlab & set(starter.exercises), name
        assert from_student & set(starter.exercises), name
        assert "import cs231n.layers" in code[0]
        for source in code:
            if source.startswith("check_layers(cs231n.layers, only="):
                checked += ast.literal_eval(source.split("only=", 1)[1].rstrip(")"))
    assert sorted(checked) == sorted(starter.checked)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["FullyConnectedNets", "BatchNormalization", "ConvolutionalNetworks"]
)
def test_generated_notebooks_run_against_the_answer_key(name, answer_key, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from tests.test_notebooks import CELL_TIMEOUT_SECONDS, _cell_error, kernel_env

    notebook = nbformat.read(answer_key.directory / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name="python3",
        resources={"metadata": {"path": str(answer_key.directory)}},  # cs231n/ is importable
    )
    env = kernel_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(answer_key.directory), str(ROOT), env.get("PYTHONPATH")) if p
    )
    try:
        client.execute(env=env)
    except Exception as error:  # CellExecutionError, CellTimeoutError
        pytest.fail(f"{name} failed:{_cell_error(notebook, error)}", pytrace=False)
    outputs = [
        "".join(o.get("text", "") for o in c.outputs)
        + json.dumps([o.get("data", {}) for o in c.outputs])
        for c in notebook.cells
        if c.cell_type == "code" and c.source.startswith("check_layers(")
    ]
    assert outputs and all("0 error, 0 latent, 0 note" in o for o in outputs), outputs
