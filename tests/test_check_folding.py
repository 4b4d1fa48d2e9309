"""bnlab check folds the consequences of one mistake into it (found on an independent corpus).

A spatial batchnorm built on the student's own batchnorm_forward inherits its mistakes; a
wrong spatial grouping makes test mode and the running statistics wrong too; classic dropout's
test-time scaling is the forward's mistake, not the backward's.
"""

from __future__ import annotations

from pathlib import Path

from bnlab.check import check_target
from tests.check_fixtures.mistakes import MISTAKES, source


def _check(tmp_path: Path, kind: str, functions: tuple[str, ...], only: list[str]):
    (mistake,) = [m for m in MISTAKES if m.kind == kind and m.functions == functions]
    path = tmp_path / "layers.py"
    path.write_text(source(mistake))
    return check_target(str(path), only=only)


def test_spatial_batchnorm_names_the_mistake_of_the_batchnorm_forward_it_calls(tmp_path: Path):
    result = _check(
        tmp_path,
        "bn_eps_outside_sqrt",
        ("batchnorm_forward", "batchnorm_backward"),
        ["batchnorm_forward", "spatial_batchnorm_forward"],
    )
    (own,) = [f for f in result["batchnorm_forward"].findings if f["severity"] == "error"]
    assert own["kind"] == "bn_eps_outside_sqrt" and "caused_by" not in own
    (inherited,) = [f for f in result["spatial_batchnorm_forward"].findings]
    assert inherited["kind"] == "bn_eps_outside_sqrt"
    assert inherited["caused_by"] == "batchnorm_forward"
    assert "calls your batchnorm_forward" in inherited["message"]


def test_wrong_spatial_grouping_is_one_finding_not_three(tmp_path: Path):
    result = _check(
        tmp_path,
        "sbn_reshape_without_transpose",
        ("spatial_batchnorm_forward",),
        ["spatial_batchnorm_forward"],
    )
    found = result["spatial_batchnorm_forward"]
    # test mode and the running statistics follow the same grouping: no fwd_wrong, no
    # run_stats_wrong beside it
    assert [f["kind"] for f in found.findings] == ["sbn_reshape_without_transpose"], str(found)
    assert "running statistics" in found.findings[0]["message"]


def test_classic_dropout_backward_with_the_templates_test_line_is_not_an_error(tmp_path: Path):
    result = _check(
        tmp_path,
        "do_vanilla_dropout",
        ("dropout_forward",),
        ["dropout_forward", "dropout_backward"],
    )
    assert result["dropout_forward"].kinds == ["do_vanilla_dropout"]
    assert result["dropout_backward"].findings == [], str(result["dropout_backward"])
    assert result.exit_status == 0  # classic dropout is latent: consistent, only not inverted
