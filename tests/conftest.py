"""Test-session settings shared by every test module."""

import os

# The tests train tiny nets: a multithreaded BLAS hands matrices of a few hundred numbers between
# threads and runs 5-20x slower on a 2-core machine (and far worse when it is busy). Set before
# numpy is imported by any test module; an explicit setting in the environment wins.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("MPLBACKEND", "Agg")
