"""`bnlab experiment`: every registered experiment runs at --quick size and writes its figures."""

from typing import Optional

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
    "dropout": ["dropout.png"],
    "population-statistics": ["population_statistics.png"],
    "placement": ["placement.png"],
    "learning-rate": ["learning_rate.png"],
    "batch-size": ["batch_size.png"],
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
    assert "unknown experiment 'nope'; valid names: bn-sanity" in capsys.readouterr().err


def test_set_changes_config_fields_parsed_by_their_types(tmp_path, capsys):
    argv = ["experiment", "bn-sanity", "--quick", "--out", str(tmp_path)]
    settings = ["--set", "N=64", "--set", "gamma=0.5,2,3", "--set", "num_train_batches=7"]
    assert main(argv + settings) == 0
    printed = capsys.readouterr().out.splitlines()[0]  # the Config the run used
    assert "N=64" in printed and "num_train_batches=7" in printed
    assert "gamma=(0.5, 2.0, 3.0)" in printed


@pytest.mark.parametrize(
    "setting, message",
    [
        ("batch_size", "--set takes FIELD=VALUE, got 'batch_size'"),
        ("nope=1", "lenet_bn's Config has no field 'nope'; its fields: data, num_train"),
        ("batch_size=big", "--set batch_size: cannot read 'big' as int"),
        ("num_train=all", "--set num_train: cannot read 'all' as int | None"),
    ],
)
def test_bad_set_is_refused_with_a_message_naming_it(setting, message, capsys):
    assert main(["experiment", "lenet-bn", "--quick", "--set", setting]) == 2
    assert message in capsys.readouterr().err


def test_set_parses_none_unions_and_tuples():
    from bnlab.commands.experiment import parse_field

    assert parse_field("None", int | None) is None
    assert parse_field("12", int | None) == 12
    assert parse_field("he", float | str) == "he" and parse_field("0.01", float | str) == 0.01
    assert parse_field("1e-3, 1", tuple[float, ...]) == (0.001, 1.0)
    assert parse_field("False", bool) is False
    optional_int = Optional[int]  # noqa: UP045 -- the old spelling a Config may still use
    assert parse_field("7", optional_int) == 7 and parse_field("None", optional_int) is None
    for unsupported in (tuple[tuple[int, int], ...], tuple):  # nested; items of unknown type
        with pytest.raises(ValueError, match="cannot be set from the command line"):
            parse_field("1,2", unsupported)
