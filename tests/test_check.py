"""bnlab check: correct code gets no error finding; student code is isolated; the outputs.

The seeded mistakes themselves are in test_check_kinds.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bnlab.check import check_layers, check_target
from bnlab.check.kinds import KINDS
from bnlab.check.registry import CHECKS, SOURCE_FILE
from tests.check_fixtures.mistakes import CORRECT

ROOT = Path(__file__).resolve().parent.parent
UPDATE_RULES = [n for n in CHECKS if SOURCE_FILE.get(n) == "optim.py"]
STATUSES = {"ok", "findings", "not_implemented", "crashed", "timeout"}


def _write(tmp_path: Path, text: str, name: str = "layers.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _errors(result) -> list[tuple[str, str]]:
    return [
        (name, f["kind"])
        for name, r in result.functions.items()
        for f in r.findings
        if f["severity"] == "error"
    ]


@pytest.fixture(scope="module")
def correct_result():
    return check_target(str(CORRECT))


def test_correct_cs231n_layers_have_no_finding(correct_result):
    # cs231n's conventions: running_var starts at zeros, p keeps, np.random.seed(seed),
    # groupnorm's gamma of shape (1, C, 1, 1), sgd updating w in place (its one note)
    assert list(correct_result.functions) == list(CHECKS)
    found = {n: r.kinds for n, r in correct_result.functions.items() if r.findings}
    assert found == {"sgd": ["optim_updates_w_in_place"]}
    assert correct_result.exit_status == 0


def test_other_correct_styles_have_no_error_finding():
    # staged backward, E[x^2] - E[x]^2, running_var from ones, layernorm through batchnorm on
    # x.T, dropout via np.random.binomial: all correct
    result = check_target(str(CORRECT.with_name("correct_alt_layers.py")))
    assert list(result.functions) == list(CHECKS)[:15]  # the functions it defines
    found = {n: r.kinds for n, r in result.functions.items() if r.findings}
    # its layernorm builds gamma = 1 for batchnorm with np.ones: float64, a true latent finding
    assert found == {n: ["dtype_changed"] for n in ("layernorm_forward", "layernorm_backward")}


def test_bnlab_own_layers_have_no_error_finding():
    # bnlab's conventions differ (running_var starts at ones, a Generator per seed): still fine
    result = check_target("bnlab.layers")
    assert list(result.functions) == [n for n in CHECKS if n not in UPDATE_RULES]
    assert _errors(result) == []
    rules = check_target("bnlab.solver.optim")
    assert list(rules.functions) == list(UPDATE_RULES)
    assert {n: r.findings for n, r in rules.functions.items() if r.findings} == {}


def test_cs231n_2017_dropout_with_its_convention(tmp_path):
    text = CORRECT.read_text()
    text = text.replace("we keep each neuron output", "we drop each neuron output")
    text = text.replace(
        "mask = (np.random.rand(*x.shape) < p) / p",
        "mask = (np.random.rand(*x.shape) >= p) / (1 - p)",
    )
    path = _write(tmp_path, text)
    only = ["dropout_forward", "dropout_backward"]
    for convention in ("cs231n-2016", "cs231n-2017"):
        result = check_target(str(path), only=only, convention=convention)
        assert [f for r in result.functions.values() for f in r.findings] == []
    # today's convention: a note, not an error, since the docstring says p drops
    result = check_target(str(path), only=only)
    assert result["dropout_forward"].kinds == ["do_convention_other"]
    assert result.exit_status == 0
    # and today's code under the 2017 convention is the mismatch
    result = check_target(str(CORRECT), only=only, convention="cs231n-2017")
    assert "do_convention_other" in result["dropout_forward"].kinds


STUBS = {
    "pass": "    pass\n",
    "none_pair": "    out, cache = None, None\n    return out, cache\n",
    "raise": "    raise NotImplementedError('TODO')\n",
}


@pytest.mark.parametrize("body", list(STUBS))
def test_stubs_are_not_implemented(tmp_path, body):
    text = "import numpy as np\n\n\n"
    for name in ("batchnorm_forward", "batchnorm_backward", "relu_forward"):
        text += f"def {name}(*args):\n    # TODO: write this\n{STUBS[body]}\n\n"
    result = check_target(str(_write(tmp_path, text)))
    assert {n: r.status for n, r in result.functions.items()} == dict.fromkeys(
        ("relu_forward", "batchnorm_forward", "batchnorm_backward"), "not_implemented"
    )
    assert result.exit_status == 0


def test_a_hang_is_a_timeout_and_a_crash_is_crashed(tmp_path):
    text = CORRECT.read_text() + (
        "\n\ndef relu_forward(x):\n    while True:\n        pass\n"
        "\n\ndef relu_backward(dout, cache):\n    raise ValueError('shapes do not match')\n"
    )
    result = check_target(
        str(_write(tmp_path, text)), only=["relu_forward", "relu_backward"], timeout=3
    )
    assert result["relu_forward"].status == "timeout"
    assert result["relu_forward"].kinds == ["timeout"]
    # relu_backward's own probe calls relu_forward first: it hangs too
    assert result["relu_backward"].status == "timeout"
    text = CORRECT.read_text() + (
        "\n\ndef relu_backward(dout, cache):\n    raise ValueError('shapes do not match')\n"
    )
    result = check_target(str(_write(tmp_path, text)), only=["relu_backward"])
    assert result["relu_backward"].status == "crashed"
    message = result["relu_backward"].findings[0]["message"]
    assert "ValueError: shapes do not match" in message and "layers.py" in message
    assert result.exit_status == 1


def test_a_huge_allocation_is_contained(tmp_path):
    text = CORRECT.read_text() + (
        "\n\ndef relu_forward(x):\n    big = np.ones(50 * 2**30 // 8)\n    return big, x\n"
    )
    result = check_target(str(_write(tmp_path, text)), only=["relu_forward", "relu_backward"])
    assert result["relu_forward"].status == "crashed"
    assert "MemoryError" in result["relu_forward"].findings[0]["message"]


def test_student_files_are_not_written_and_prints_are_harmless(tmp_path):
    package = tmp_path / "cs231n"
    package.mkdir()
    (package / "__init__.py").write_text("")
    text = CORRECT.read_text().replace(
        "def relu_forward(x):\n", "def relu_forward(x):\n    print('debug', x.shape)\n"
    )
    (package / "layers.py").write_text("from cs231n.layer_utils import helper\n" + text)
    (package / "layer_utils.py").write_text("def helper():\n    return 1\n")
    before = {p: p.read_bytes() for p in package.rglob("*")}
    result = check_target(str(tmp_path), only=["relu_forward"])  # the assignment's root
    assert result["relu_forward"].status == "ok"
    after = {p: p.read_bytes() for p in package.rglob("*")}
    assert after == before  # no __pycache__, nothing changed


def test_a_broken_file_crashes_its_functions_only(tmp_path):
    (tmp_path / "layers.py").write_text(CORRECT.read_text())
    (tmp_path / "optim.py").write_text("def softmax_loss(x, y):\n    return (\n")
    # a file without any known function is never imported
    (tmp_path / "data_utils.py").write_text("raise RuntimeError('imported')\n")
    result = check_target(str(tmp_path), only=["relu_forward", "softmax_loss"])
    assert result["relu_forward"].status == "ok"
    # layers.py's softmax_loss is found first; a syntax error elsewhere does not hide it
    assert result["softmax_loss"].status == "ok"
    (tmp_path / "layers.py").write_text("def relu_forward(x):\n    return (\n")
    result = check_target(str(tmp_path), only=["relu_forward", "dropout_forward"])
    assert result["relu_forward"].status == "crashed"
    assert "SyntaxError" in result["relu_forward"].findings[0]["message"]
    # asked for but not written: reported, not dropped (an autograder must score it 0)
    assert result["dropout_forward"].status == "not_implemented"
    (tmp_path / "layers.py").write_text("import no_such_module\n" + CORRECT.read_text())
    result = check_target(str(tmp_path), only=["relu_forward"])
    assert result["relu_forward"].status == "crashed"
    assert "no_such_module" in result["relu_forward"].findings[0]["message"]


def test_check_layers_takes_functions_from_a_notebook():
    namespace: dict = {}
    exec(compile(CORRECT.read_text(), "<notebook cell>", "exec"), namespace)  # no file behind it
    namespace["relu_forward"] = lambda x: (x, x)  # wrong: forgets the max
    namespace["relu_forward"].__name__ = "relu_forward"
    functions = {n: namespace[n] for n in ("relu_forward", "batchnorm_forward")}
    result = check_layers(functions)
    assert result["relu_forward"].kinds == ["fwd_wrong"]
    assert result["batchnorm_forward"].status == "ok"
    assert "<table>" in result._repr_html_() and "relu_forward" in str(result)
    assert "fwd_wrong" in str(result.details("relu_forward"))


def test_json_schema_and_exit_status(tmp_path):
    text = CORRECT.read_text().replace("std = np.sqrt(var + eps)", "std = np.sqrt(var) + eps", 1)
    path = _write(tmp_path, text)
    command = [
        sys.executable,
        "-m",
        "bnlab",
        "check",
        str(path),
        "--format",
        "json",
        "--only",
        "batchnorm_forward",
        "relu_forward",
    ]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert process.returncode == 1, process.stderr
    report = json.loads(process.stdout)
    assert report["target"] == str(path)
    assert set(report["functions"]) == {"batchnorm_forward", "relu_forward"}
    for entry in report["functions"].values():
        assert entry["status"] in STATUSES
        for f in entry["findings"]:
            assert set(f) >= {"kind", "severity", "message", "input", "got", "expected"}
            assert f["kind"] in KINDS and f["severity"] in ("error", "latent", "note")
    (found,) = report["functions"]["batchnorm_forward"]["findings"]
    assert found["kind"] == "bn_eps_outside_sqrt"
    assert "np.sqrt(var + eps)" in found["message"]  # the correct formula line
    assert found["input"].startswith("train mode, x = [[")  # the smallest input, with values
    assert found["got"] != found["expected"]


def test_gradescope_results_with_weights(tmp_path):
    text = CORRECT.read_text().replace("    dx /= N\n", "")
    path = _write(tmp_path, text)
    weights = tmp_path / "weights.toml"
    weights.write_text("[weights]\nsoftmax_loss = 3\nrelu_forward = 2\nadam = 4\n")
    out = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "bnlab",
        "check",
        str(path),
        "--format",
        "gradescope",
        "--weights",
        str(weights),
        "--out",
        str(out),
        "--only",
        "softmax_loss",
        "relu_forward",
        "relu_backward",
    ]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert process.returncode == 1, process.stderr
    results = json.loads(out.read_text())
    scores = {t["name"]: (t["score"], t["max_score"]) for t in results["tests"]}
    assert scores == {
        "relu_forward": (2, 2),
        "relu_backward": (1, 1),
        "softmax_loss": (0, 3),
        "adam": (0, 4),  # weighted but not in the file: scores 0
    }
    assert results["score"] == 3
    assert all(isinstance(t["output"], str) for t in results["tests"])


@pytest.mark.parametrize(
    "arguments",
    [
        ["no/such/file.py"],
        ["CORRECT", "--only", "no_such_function"],
        ["CORRECT", "--timeout", "0"],
        ["CORRECT", "--weights", "missing.json"],
        ["CORRECT", "--convention", "cs231n-2099"],
        ["--only", "relu_forward"],  # no TARGET
    ],
)
def test_usage_errors_exit_2_with_one_line(arguments):
    arguments = [str(CORRECT) if a == "CORRECT" else a for a in arguments]
    command = [sys.executable, "-m", "bnlab", "check", *arguments]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    process = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert process.returncode == 2
    assert process.stdout == ""
    assert len(process.stderr.strip().splitlines()) == 1, process.stderr


def test_docs_page_explains_every_kind():
    page = (ROOT / "docs" / "check.md").read_text()
    headings = {line[4:].strip() for line in page.splitlines() if line.startswith("### ")}
    assert headings == set(KINDS)


def test_a_hang_in_notebook_functions_is_a_timeout():
    def relu_forward(x):
        while True:
            pass

    result = check_layers([relu_forward], timeout=2)
    assert result["relu_forward"].status == "timeout"


GARBAGE = {
    "relu_forward": "    return 'out', None\n",
    "relu_backward": "    import sys\n    sys.exit(3)\n",
    "affine_forward": "    return (1,)\n",
    "affine_backward": "    import os\n    os._exit(4)\n",
    "batchnorm_forward": "    return np.zeros(3), None\n",
    "batchnorm_backward": "    return [1, 2]\n",
    "layernorm_forward": "    return object(), None\n",
    "layernorm_backward": "    return 1, 2, 3\n",
    "dropout_forward": "    return {'out': 1}, None\n",
    "dropout_backward": "    def f():\n        return f()\n    return f()\n",
    "softmax_loss": "    return float('nan'), np.full((2, 2), np.inf)\n",
    "svm_loss": "    return 'loss', 'dx'\n",
    "spatial_batchnorm_forward": "    raise KeyboardInterrupt\n",
    "spatial_batchnorm_backward": "    return np.zeros(dout.shape[0]), None, None\n",
    "spatial_groupnorm_forward": "    return np.ones(1), None\n",
    "conv_forward_naive": "    return np.zeros((2, 2)), None\n",
    "conv_backward_naive": "    return 1, 2\n",
    "max_pool_backward_naive": "    return 'dx'\n",
    "affine_bn_relu_backward": "    return (dout,) * 5\n",
    "conv_relu_pool_forward": "    return dout[:1], None\n",
    "adam": "    return 'w', 'config'\n",
    "sgd_momentum": "    return dout, None\n",
}


def test_garbage_never_crashes_the_checker(tmp_path):
    text = CORRECT.read_text() + "".join(
        f"\n\ndef {name}(*args, **kwargs):\n    dout = args[0]\n{body}"
        for name, body in GARBAGE.items()
    )
    result = check_target(str(_write(tmp_path, text)), only=list(GARBAGE), timeout=10)
    assert set(result.functions) == set(GARBAGE)
    for name, r in result.functions.items():
        assert r.status in {"crashed", "findings", "not_implemented"}, (name, r.status)
        assert r.findings, name
    assert result.exit_status == 1


def test_a_package_that_re_exports_its_functions(tmp_path):
    # like bnlab.layers: __init__.py imports the functions from modules elsewhere
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "impl.py").write_text(CORRECT.read_text())
    (tmp_path / "pkg" / "__init__.py").write_text(
        "from pkg.sub.impl import relu_forward as relu_forward\n"
    )
    result = check_target(str(tmp_path / "pkg"))
    assert {n: r.status for n, r in result.functions.items()} == {"relu_forward": "ok"}


def test_python2_era_files_run(tmp_path):
    # cs231n 2016: 'from past.builtins import xrange' and xrange in the loops
    text = CORRECT.read_text().replace(
        "import numpy as np\n", "import numpy as np\nfrom past.builtins import xrange\n", 1
    ) + (
        "\n\ndef relu_forward(x):\n    out = x.copy()\n    for i in xrange(x.shape[0]):\n"
        "        out[i] = np.maximum(x[i], 0)\n    return out, x\n"
    )
    result = check_target(str(_write(tmp_path, text)), only=["relu_forward"])
    assert result["relu_forward"].status == "ok", str(result)


# cs231n-convention variants that are right: zero error findings
VARIANTS = """

def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    N, C, H, W = x.shape
    x_group = x.reshape(N * G, C // G * H * W)  # one row per (example, group)
    mu = x_group.mean(axis=1, keepdims=True)
    std = np.sqrt(x_group.var(axis=1, keepdims=True) + gn_param.get("eps", 1e-5))
    x_hat = ((x_group - mu) / std).reshape(N, C, H, W)
    out = gamma.reshape(1, C, 1, 1) * x_hat + beta.reshape(1, C, 1, 1)
    return out, (x_hat, std.reshape(N, G, 1, 1, 1), gamma, G)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x[:, :, i * s : i * s + ph, j * s : j * s + pw]
            flat = window.reshape(window.shape[0], window.shape[1], -1)[:, :, ::-1]
            last = flat.shape[2] - 1 - flat.argmax(axis=2)  # the LAST maximum on ties
            r, q = np.unravel_index(last, (ph, pw))
            n, c = np.indices(last.shape)
            np.add.at(dx, (n, c, i * s + r, j * s + q), dout[:, :, i, j])
    return dx


def sgd_momentum(w, dw, config=None):
    config = config if config is not None else {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v + dw  # PyTorch's velocity, scaled by the learning rate
    config["velocity"] = v
    return w - config["learning_rate"] * v, config


def adam(w, dw, config=None):
    config = config if config is not None else {}
    for key, value in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999)):
        config.setdefault(key, value)
    config.setdefault("epsilon", 1e-8)
    t = config.get("t", 0) + 1
    m = config["beta1"] * config.get("m", 0) + (1 - config["beta1"]) * dw
    v = config["beta2"] * config.get("v", 0) + (1 - config["beta2"]) * dw * dw
    step = config["learning_rate"] * (1 - config["beta2"] ** t) ** 0.5 / (1 - config["beta1"] ** t)
    eps_hat = config["epsilon"] * (1 - config["beta2"] ** t) ** 0.5
    config.update(t=t, m=m, v=v)
    return w - step * m / (np.sqrt(v) + eps_hat), config
"""


def test_convention_variants_have_no_error_finding(tmp_path):
    only = ["spatial_groupnorm_forward", "spatial_groupnorm_backward", "max_pool_backward_naive"]
    only += ["sgd_momentum", "adam"]
    result = check_target(str(_write(tmp_path, CORRECT.read_text() + VARIANTS)), only=only)
    assert {n: r.kinds for n, r in result.functions.items() if r.findings} == {}, str(result)


def test_groupnorm_written_for_gamma_of_shape_c_is_a_note_and_checked_with_it(tmp_path):
    text = CORRECT.read_text().replace(
        "    out = gamma * x_hat + beta\n    cache = (x_hat, group_std, gamma, G)\n",
        "    out = gamma[:, None, None] * x_hat + beta[:, None, None]\n"
        "    cache = (x_hat, group_std, gamma[:, None, None], G)\n",
    )
    # and a backward that reads C from gamma: it needs gamma of shape (C,) as well
    text = text.replace(
        "    N, C, H, W = dout.shape\n    m = C // G * H * W\n",
        "    N, _, H, W = dout.shape\n    C = gamma.shape[0]\n    m = C // G * H * W\n",
    )
    only = ["spatial_groupnorm_forward", "spatial_groupnorm_backward"]
    result = check_target(str(_write(tmp_path, text)), only=only)
    found = {n: r.kinds for n, r in result.functions.items()}
    assert found == {only[0]: ["gn_gamma_shape_c"], only[1]: []}, str(result)
    assert result.exit_status == 0


def test_adam_with_the_older_templates_t_default_is_a_note(tmp_path):
    # cs231n 2016-2018: config.setdefault("t", 1), then t += 1 before use
    text = CORRECT.read_text().replace('config.setdefault("t", 0)', 'config.setdefault("t", 1)')
    result = check_target(str(_write(tmp_path, text)), only=["adam"])
    (entry,) = result["adam"].findings
    assert (entry["kind"], entry["severity"]) == ("optim_default_wrong", "note"), str(result)


def test_a_cs231n_package_with_layer_utils_and_optim(tmp_path):
    # cs231n's layout: the sandwiches import the student's primitives from .layers
    text = CORRECT.read_text()
    layers, rest = text.split("# layer_utils.py")
    utils, optim = rest.split("# optim.py")
    package = tmp_path / "cs231n"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(layers)
    # the conv sandwiches call the course's fast layers, here without their Cython extension
    for layer in ("conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward"):
        utils = utils.replace(f"{layer}_naive(", f"{layer}_fast(")
    (package / "fast_layers.py").write_text(
        "".join(
            f"def {layer}_fast(*args):\n    return im2col_cython(*args)\n\n\n"
            for layer in ("conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward")
        )
    )
    imports = "from .layers import *\nfrom .fast_layers import *\n"
    (package / "layer_utils.py").write_text(imports + utils)
    (package / "optim.py").write_text("import numpy as np\n" + optim)
    names = [n for n in CHECKS if n in SOURCE_FILE]
    result = check_target(str(tmp_path), only=names)
    statuses = {n: r.status for n, r in result.functions.items()}
    assert statuses == dict.fromkeys(names, "ok"), str(result)
