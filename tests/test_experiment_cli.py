"""`bnlab experiment`: every registered experiment runs at --quick size and writes its figures."""

import pytest

from bnlab import experiments
from bnlab.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "bn-sanity": ["bn_sanity_histograms.png", "bn_sanity_backward.png"],
    "bn-vs-baseline": ["bn_vs_baseline.png"],
    "weight-scale": ["weight_scale.png"],
    "regression": ["regression.png"],
    "activations": ["activations_quantiles.png", "activations_curves.png"],
    "bn-conventions": ["bn_conventions.png"],
    "lenet-bn": ["lenet_bn.png"],
}


def test_every_registered_experiment_has_its_figures_listed_here():
    assert set(FIGURES) == set(experiments.REGISTRY)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_quick_run_writes_its_figures(name, tmp_path, capsys):
    assert main(["experiment", name, "--quick", "--out", str(tmp_path)]) == 0
    for file in FIGURES[name]:
        path = tmp_path / file
        assert path.is_file(), f"{name} did not write {file}; wrote {sorted(tmp_path.iterdir())}"
        assert path.read_bytes()[:8] == PNG_MAGIC, f"{file} is not a PNG"
        assert path.stat().st_size > 10_000, f"{file} is suspiciously small"
    assert "== done in" in capsys.readouterr().out


def test_list_names_every_experiment(capsys):
    assert main(["experiment", "--list"]) == 0
    printed = capsys.readouterr().out
    for name in experiments.REGISTRY:
        assert name in printed


def test_unknown_experiment_is_refused_with_the_valid_names(capsys):
    assert main(["experiment", "nope", "--quick"]) == 2
    assert "unknown experiment 'nope'; valid names: bn-sanity" in capsys.readouterr().out
