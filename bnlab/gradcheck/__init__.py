"""Numerical gradient checks: cs231n's functions, check_layer for any layer, and the catalog.

cs231n users: ``from cs231n.gradient_check import *`` becomes ``from bnlab.gradcheck import *``.
``bnlab gradcheck`` runs :func:`bnlab.gradcheck.catalog.entries` from the command line.
"""

from bnlab.gradcheck.check_layer import (
    DEFAULT_TOL,
    GradCheckReport,
    InputCheck,
    check_layer,
    check_loss,
    format_table,
)
from bnlab.gradcheck.numerical import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)

__all__ = [
    "DEFAULT_TOL",
    "GradCheckReport",
    "InputCheck",
    "check_layer",
    "check_loss",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "format_table",
    "grad_check_sparse",
    "rel_error",
]
