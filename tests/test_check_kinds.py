"""bnlab check names every seeded mistake (tests/check_fixtures/mistakes.py) with its kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnlab.check import check_target
from bnlab.check.kinds import KINDS
from tests.check_fixtures.mistakes import MISTAKES, source


@pytest.mark.parametrize("mistake", MISTAKES, ids=[f"{m.kind}-{m.functions[0]}" for m in MISTAKES])
def test_seeded_mistake_is_named(tmp_path: Path, mistake):
    path = tmp_path / "layers.py"
    path.write_text(source(mistake))
    result = check_target(str(path), only=mistake.functions, convention=mistake.convention)
    for name in mistake.functions:
        found = result[name]
        assert mistake.kind in found.kinds, str(found)
        (entry,) = [f for f in found.findings if f["kind"] == mistake.kind]
        if mistake.edits != (("we keep each neuron output", "we drop each neuron output"),):
            assert entry["severity"] == KINDS[mistake.kind].severity
        else:  # the code is right: only its docstring contradicts it
            assert entry["severity"] == "latent"
        assert entry["message"] and entry["input"], entry
    severities = {f["severity"] for r in result.functions.values() for f in r.findings}
    assert result.exit_status == (1 if "error" in severities else 0)


def test_every_seeded_mistake_changes_the_correct_file():
    for mistake in MISTAKES:
        assert mistake.kind in KINDS
        assert source(mistake) != source(mistake._replace(edits=(), append=""))


def test_backward_of_a_wrong_forward_is_folded_into_the_forward_kind(tmp_path: Path):
    (mistake,) = [m for m in MISTAKES if m.kind == "bn_eps_outside_sqrt"]
    path = tmp_path / "layers.py"
    path.write_text(source(mistake))
    result = check_target(str(path), only=["batchnorm_backward", "batchnorm_backward_alt"])
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        (entry,) = result[name].findings
        assert entry["kind"] == "bn_eps_outside_sqrt"
        assert entry["caused_by"] == "batchnorm_forward"


@pytest.mark.parametrize(
    "kinds",
    [
        ("bn_eps_outside_sqrt", "test_eps_outside_sqrt", "run_var_stores_std"),
        ("bn_eps_outside_sqrt", "bn_no_affine"),  # two in the same train-mode line
        ("bn_var_ddof1", "bn_eps_outside_sqrt"),
    ],
)
def test_several_mistakes_in_one_function_are_all_named(tmp_path: Path, kinds):
    edits = tuple(e for m in MISTAKES if m.kind in kinds for e in m.edits)
    combined = MISTAKES[0]._replace(edits=edits)
    path = tmp_path / "layers.py"
    path.write_text(source(combined))
    result = check_target(str(path), only=["batchnorm_forward"])
    assert sorted(result["batchnorm_forward"].kinds) == sorted(kinds)


def test_two_mistakes_in_one_test_branch_are_both_named(tmp_path: Path):
    kinds = ("test_no_affine", "test_running_var_as_std")
    text = source(MISTAKES[0]._replace(edits=()))
    old = "        x_hat = (x - running_mean) / np.sqrt(running_var + eps)\n        out = gamma * x_hat + beta\n"
    assert old in text
    text = text.replace(old, "        out = (x - running_mean) / (running_var + eps)\n")
    (tmp_path / "layers.py").write_text(text)
    result = check_target(str(tmp_path / "layers.py"), only=["batchnorm_forward"])
    assert sorted(result["batchnorm_forward"].kinds) == sorted(kinds)


@pytest.mark.parametrize(
    ("kind", "names", "primitive"),
    [
        (
            "bn_eps_outside_sqrt",
            ("affine_bn_relu_forward", "affine_bn_relu_backward"),
            "batchnorm_forward",
        ),
        ("bn_eps_outside_sqrt", ("conv_bn_relu_backward",), "spatial_batchnorm_forward"),
        ("relu_mutates_input", ("affine_relu_forward",), None),  # latent: the sandwich is right
        (
            "conv_flipped_kernel",
            ("conv_backward_naive", "conv_relu_pool_forward"),
            "conv_forward_naive",
        ),
        ("gn_stats_per_channel", ("spatial_groupnorm_backward",), "spatial_groupnorm_forward"),
        ("ln_bwd_gamma_outside", ("affine_ln_relu_backward",), "layernorm_backward"),
        ("pool_bwd_whole_window", ("conv_relu_pool_backward",), "max_pool_backward_naive"),
    ],
)
def test_a_wrong_primitive_is_named_in_what_uses_it(tmp_path: Path, kind, names, primitive):
    # sandwiches and backwards name the primitive's mistake, with caused_by, not their own
    mistake = next(m for m in MISTAKES if m.kind == kind)
    path = tmp_path / "layers.py"
    path.write_text(source(mistake))
    result = check_target(str(path), only=names)
    for name in names:
        if primitive is None:
            assert result[name].findings == [], str(result[name])
            continue
        (entry,) = result[name].findings
        assert (entry["kind"], entry["caused_by"]) == (kind, primitive), str(result[name])


def test_a_default_read_with_get_and_not_stored_is_still_checked(tmp_path: Path):
    (mistake,) = [m for m in MISTAKES if m.kind == "optim_default_wrong"]
    text = source(mistake._replace(edits=())).replace(
        '    config.setdefault("momentum", 0.9)\n    v = config.get("velocity", np.zeros_like(w))\n'
        '    v = config["momentum"] * v',
        '    v = config.get("velocity", np.zeros_like(w))\n    v = config.get("momentum", 0.8) * v',
    )
    path = tmp_path / "layers.py"
    path.write_text(text)
    result = check_target(str(path), only=["sgd_momentum"])
    assert result["sgd_momentum"].kinds == ["optim_default_wrong"], str(result)
