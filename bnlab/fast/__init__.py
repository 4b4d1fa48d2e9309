"""The fast path: what exists only for speed, kept apart from the lesson.

A student learns a layer from its plain NumPy version in :mod:`bnlab.layers` (and the update
rules from :mod:`bnlab.solver.optim`). The functions here compute the same thing faster:
einsum reductions, in-place passes, a cached centred input, im2col, scratch buffers. Each has
a plain twin and a test that the two agree (``tests/test_fast_*.py``); the nets and the
Solver use these by default. ``docs/fast-path.md`` says what each trick buys;
``docs/organisation.md`` maps both paths.
"""

# The fast modules use bnlab.layers' argument checks and caches, and bnlab.layers re-exports the
# fast convolution and max pooling (cs231n's fast_layers): loading bnlab.layers first, whichever
# of the two a user imports, resolves that circle.
import bnlab.layers  # noqa: F401
