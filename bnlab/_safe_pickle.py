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

# what a pickled np.random.Generator needs (a model's dropout_param['rng'] keeps one, so that a
# resumed run draws the masks it would have drawn): numpy's own constructors and bit generators
NUMPY_RANDOM_GLOBALS = {
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random._pcg64", "PCG64"),
    ("numpy.random._pcg64", "PCG64DXSM"),
    ("numpy.random._mt19937", "MT19937"),
    ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"),
}
