"""The ``autograder/`` folder in Gradescope's layout: setup.sh, run_autograder, weights.json.

Gradescope unzips the folder to /autograder/source, runs ``setup.sh`` once when it builds the
image, and ``run_autograder`` for every submission (the student's files in
/autograder/submission), which must write /autograder/results/results.json. The paths can be
moved with environment variables (AUTOGRADER_ROOT, SUBMISSION_DIR, RESULTS_DIR, SOURCE_DIR) and
the checker's command with BNLAB, to run it locally.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import bnlab

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image.
set -euo pipefail
cd "$(dirname "$0")"
# bnlab from a wheel put next to this file (pip wheel /path/to/bnlab), else from the index
if compgen -G "bnlab-*.whl" > /dev/null; then
    pip3 install bnlab-*.whl
else
    pip3 install "bnlab=={version}"
fi
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; it writes results/results.json.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SUBMISSION="${{SUBMISSION_DIR:-$ROOT/submission}}"
RESULTS="${{RESULTS_DIR:-$ROOT/results}}"
SOURCE="${{SOURCE_DIR:-$ROOT/source}}"
BNLAB="${{BNLAB:-bnlab}}"
mkdir -p "$RESULTS"
# the submission is the cs231n/ folder, or the files in it
TARGET="$SUBMISSION/cs231n"
[ -d "$TARGET" ] || TARGET="$SUBMISSION"
$BNLAB check "$TARGET" --only {only} --format gradescope \\
    --weights "$SOURCE/weights.json" --out "$RESULTS/results.json" 2> "$RESULTS/stderr.txt"
status=$?
# 0: no mistake, 1: mistakes (both graded); anything else: the submission could not be read
if [ "$status" -gt 1 ] || [ ! -s "$RESULTS/results.json" ]; then
    python3 - "$RESULTS" <<'PYTHON'
import json, pathlib, sys
results = pathlib.Path(sys.argv[1])
message = (results / "stderr.txt").read_text(errors="replace").strip()
output = "bnlab check could not read your submission: " + (message or "no output")
(results / "results.json").write_text(json.dumps({{"score": 0.0, "output": output, "tests": []}}))
PYTHON
fi
exit 0
"""


def write_autograder(directory: Path, checked: list[str], weights: dict[str, float]) -> None:
    """setup.sh, run_autograder and weights.json into ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "setup.sh").write_text(SETUP.format(version=bnlab.__version__))
    only = " ".join(shlex.quote(n) for n in checked)
    (directory / "run_autograder").write_text(RUN.format(only=only))
    for script in ("setup.sh", "run_autograder"):
        (directory / script).chmod(0o755)
    (directory / "weights.json").write_text(json.dumps(weights, indent=2) + "\n")
