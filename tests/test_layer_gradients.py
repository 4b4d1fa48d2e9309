"""Every built-in layer's backward against numerical gradients: the catalog behind
``bnlab gradcheck`` (bnlab/gradcheck/catalog.py), in float64, with a random non-uniform dout.

A new layer gets its check by adding one entry to the catalog; the coverage test below fails
until every public forward/backward/loss in bnlab.layers is in some entry.

The tests are parametrised by entry name and build the entries inside their bodies
(``catalog.entries()``), so a mutation of how an entry is made is seen by the test.
"""

import numpy as np
import pytest

import bnlab.layers
from bnlab.gradcheck import catalog

# A correct float64 backward agrees with a central difference (h = 1e-5) to ~1e-9; the
# project's pass mark is relative error <= 1e-7 (check_layer also accepts an absolute error
# below 1e-7 times the layer's largest gradient entry: see bnlab/gradcheck/check_layer.py).
TOL = 1e-7
# Two draws of inputs and dout: a correct layer passes for any seed, not one lucky draw.
SEEDS = (0, 1)


def entry_named(name):
    """The catalog entry called name, built now."""
    return next(entry for entry in catalog.entries() if entry.name == name)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", catalog.names())
def test_layer_gradient(name, seed):
    """relative error <= 1e-7 for every differentiable argument of the layer"""
    entry = entry_named(name)
    report = entry.run(seed=seed, tol=TOL)
    assert report.passed, f"{entry.name} (seed {seed}):\n{report}"
    for check in report.checks:
        assert check.numerical.shape == check.analytic.shape
        assert np.isfinite(check.numerical).all()


def test_every_public_layer_function_is_checked():
    used = set()
    for entry in catalog.entries():
        functions = (entry.loss,) if isinstance(entry, catalog.LossCheck) else (
            entry.forward, entry.backward)  # fmt: skip
        for function in functions:
            used.update(function.__name__.split("+"))  # compose() names "first+second"
    public = {
        name
        for name in bnlab.layers.__all__
        if "_forward" in name or "_backward" in name or name.endswith("_loss")
    }
    missing = sorted(public - used)
    assert not missing, f"no gradient check in bnlab/gradcheck/catalog.py for {missing}"


LAYER_CHECKS = [e.name for e in catalog.entries() if isinstance(e, catalog.LayerCheck)]


@pytest.mark.parametrize("name", LAYER_CHECKS)
def test_float32_layer_returns_float32_gradients_even_for_a_float64_dout(name):
    """A float64 dout (e.g. from a float64 loss) must not turn a float32 backward into float64."""
    entry = entry_named(name)
    inputs, params = entry.make_arguments(np.random.default_rng(0), np.float32)
    out, cache = entry.forward(*inputs.values(), *params.values())
    assert out.dtype == np.float32, f"{entry.name}: out is {out.dtype}"
    grads = entry.backward(np.ones(out.shape, np.float64), cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for name, grad in zip(inputs, grads, strict=True):
        assert grad.dtype == np.float32, f"{entry.name}: d{name} is {grad.dtype}"
