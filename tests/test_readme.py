"""The README's example runs and prints what it promises; its set-up commands match CI's."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_its_gradients_check():
    (code,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    values = dict(re.findall(r"^(.*?): (\S+)$", printed.getvalue(), flags=re.M))
    assert float(values["dx relative error"]) <= 1e-7  # the README's stated standard
    assert float(values["alt agrees"]) <= 1e-12


def test_readme_opens_with_the_two_setup_commands():
    first_block = README.read_text().split("```")[1]
    assert "bnlab train" in first_block
    assert 'pip install -e ".[test]" && python -m pytest -q' in first_block
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest -q' in ci
