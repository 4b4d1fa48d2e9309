"""Gradescope weights: a misspelt function name is bad usage, not a silent zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bnlab.check import read_weights


def test_weights_naming_an_unknown_function_are_refused(tmp_path: Path):
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"batchnorm_forward": 2, "batchnorm_forwrd": 3}))
    with pytest.raises(ValueError, match="unknown function 'batchnorm_forwrd'"):
        read_weights(str(path))


def test_known_weights_are_read(tmp_path: Path):
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"weights": {"batchnorm_forward": 2, "adam": 1}}))
    assert read_weights(str(path)) == {"batchnorm_forward": 2.0, "adam": 1.0}
