"""Test-session settings shared by every test module."""

import os
import threading

# The tests train tiny nets: a multithreaded BLAS hands matrices of a few hundred numbers between
# threads and runs 5-20x slower on a 2-core machine (and far worse when it is busy). Set before
# numpy is imported by any test module; an explicit setting in the environment wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# What a skip's reason means for a newcomer: the missing module -> how to get it.
INSTALL_HINTS = {
    "torch": "pip install torch==2.13.0 for the PyTorch parity tests",
    "nbformat": 'pip install -e ".[test]" for the notebook tests',
    "nbclient": 'pip install -e ".[test]" for the notebook tests',
    "ipykernel": 'pip install -e ".[test]" for the notebook tests',
}
DEBIAN_PACKAGE = "Debian's dataset-fashion-mnist is not installed"


def pytest_configure(config):
    """Give tqdm's progress bars a lock of this process's own, fresh for each test session.

    tqdm's default lock holds a multiprocessing semaphore, which forked processes share.
    mutmut runs each mutant's tests in a fork and kills the fork on a time-out; a fork killed
    while constructing a bar leaves the semaphore taken, and every later fork then hangs at
    its first progress bar (docs/mutation-testing.md). The tests draw no bars across processes.
    """
    from tqdm.auto import tqdm as auto_tqdm
    from tqdm.std import tqdm as std_tqdm

    for bar_class in (std_tqdm, auto_tqdm):
        bar_class.set_lock(threading.RLock())


def skip_cause(reason: str) -> str:
    """A skip's reason as a short cause with its remedy ('torch not installed (pip install ...)')."""
    reason = reason.removeprefix("Skipped: ")
    if reason.startswith("could not import '"):  # pytest.importorskip's reason
        module = reason.split("'")[1]
        hint = INSTALL_HINTS.get(module.split(".")[0])
        return f"{module} not installed" + (f" ({hint})" if hint else "")
    if reason == DEBIAN_PACKAGE:
        return (
            "Debian's dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)"
        )
    return reason


def pytest_terminal_summary(terminalreporter):
    """One line after the run: how many tests were skipped for each cause, and its remedy.

    e.g. ``37 skipped: torch not installed (pip install torch==2.13.0 for the PyTorch parity
    tests); 2 skipped: Debian's dataset-fashion-mnist not installed (apt-get install ...)``
    """
    counts: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        cause = skip_cause(reason)
        counts[cause] = counts.get(cause, 0) + 1
    if counts:
        ordered = sorted(counts.items(), key=lambda item: -item[1])
        terminalreporter.write_line("; ".join(f"{n} skipped: {cause}" for cause, n in ordered))
