"""Argument checks for the layers: one call at the top of each public layer function.

Each ``check_*`` raises ``TypeError`` or ``ValueError`` naming the argument, the expected and
the actual value (built on the shared primitives in :mod:`bnlab._validation`), so the layer's
maths below the call reads alone.
"""

from __future__ import annotations

# --- normalisation layers: batchnorm, spatial batchnorm, layernorm, groupnorm --------------


# (end of the normalisation section)


# --- the other layers: affine, activations, dropout, losses, conv, pooling ----------------


# (end of the other layers' section)
