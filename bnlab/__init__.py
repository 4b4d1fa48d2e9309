"""bnlab: batch normalization from scratch, in pure NumPy.

Every layer is a pair of explicit functions, ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> grads``, with cs231n's names and conventions.
"""

__version__ = "0.1.0"
