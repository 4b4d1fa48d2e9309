"""Run one benchmark on two revisions of bnlab, interleaved, in one run.

    python benchmarks/compare_revisions.py --base REV [--rounds 3] -- train_step.py --net lenet

Checks REV out into a temporary git worktree, then runs the benchmark script round after round,
alternating between REV's tree and the working tree (each tree runs its own copy of the script
on its own code). Alternating in one run means a slow patch of the machine hits both revisions
alike; the per-round outputs are printed side by side, labelled, for the reader to compare.
The ratios a script prints (bnlab / PyTorch, fast / plain) are what to compare: absolute times
drift between rounds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def run_script(tree: Path, script: str, args: list[str]) -> str:
    """The script's output (stdout and stderr) run from ``tree`` on ``tree``'s bnlab."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    done = subprocess.run(
        [sys.executable, str(tree / "benchmarks" / script), *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    return done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare with (e.g. HEAD~5)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each revision (default 3)")
    parser.add_argument("script", help="a script in benchmarks/, e.g. train_step.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {options.rounds}")
    script_args = [a for a in options.args if a != "--"]

    with tempfile.TemporaryDirectory(prefix="bnlab-base-") as scratch:
        base_tree = Path(scratch) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(base_tree), options.base],
            cwd=ROOT,
            check=True,
        )
        try:
            for round_number in range(1, options.rounds + 1):
                for label, tree in ((f"base {options.base}", base_tree), ("working tree", ROOT)):
                    print(f"=== round {round_number}, {label}", flush=True)
                    print(run_script(tree, options.script, script_args), flush=True)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_tree)], cwd=ROOT, check=False
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
