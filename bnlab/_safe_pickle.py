"""What unpickling a numpy array needs, and nothing more: the allow-list behind bnlab's
restricted unpicklers (checkpoints in :mod:`bnlab.solver.checkpoint`, CIFAR-10 batches in
:mod:`bnlab.data.cifar10`). A pickle can name any callable; these only rebuild arrays.
"""

# what a pickled numpy array, dtype or scalar needs, in numpy 1.x and 2.x, from Python 2 and 3
NUMPY_GLOBALS = {
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{core}.multiarray", "_reconstruct"),
        (f"{core}.multiarray", "scalar"),
        (f"{core}.numeric", "_frombuffer"),
    )
} | {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
