"""Checks of cs231n's layer_utils sandwiches (affine_relu, affine_bn_relu, conv_relu_pool...).

Each forward and backward is compared with bnlab's. When one deviates, the primitives it
calls (found in its source) are checked on their own: a wrong primitive is the finding, under
the primitive's kind with ``caused_by``, since fixing it fixes the sandwich. Otherwise the
composition itself is wrong (``sandwich_wrong``), or the gradients come back in the wrong
order (``sandwich_grads_order``).

cs231n's conv sandwiches call ``conv_forward_fast`` & co from the course's fast_layers.py,
given code that needs a compiled Cython extension. Those four names are replaced, in the
worker only, by bnlab's fast functions (same signatures, same results), so a student's
sandwich is checked without the extension; their own files are never changed.
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable

import numpy as np

import bnlab.layers as reference
from bnlab.check.probing import (
    Finding,
    NotImplementedStub,
    StudentCrash,
    call,
    close,
    finding,
    first_difference,
)

# The primitives a sandwich may call, by the names cs231n's layer_utils uses.
PRIMITIVES = (
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "layernorm_forward",
    "layernorm_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "conv_forward_naive",
    "conv_backward_naive",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
)
GRADS = {3: ("dx", "dw", "db"), 5: ("dx", "dw", "db", "dgamma", "dbeta")}
FAST = (
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
)


def _bnlab_fast_layers(*functions: Callable) -> None:
    """Point the course's fast layers, where a function's module uses them, to bnlab's."""
    for fn in functions:
        namespace = getattr(fn, "__globals__", {})
        for name in FAST:
            if name in namespace:
                namespace[name] = getattr(reference, name)


def _inputs(name: str, rng: np.random.Generator) -> tuple[tuple, str]:
    """The sandwich's arguments (fresh dicts for the params) and their description."""
    if name.startswith("affine"):
        x = rng.standard_normal((4, 2, 3)) * 2 + 1
        args = [x, rng.standard_normal((6, 5)), rng.standard_normal(5)]
        text = "x (4, 2, 3), w (6, 5)"
        features = 5
    else:
        x = rng.standard_normal((2, 3, 6, 6))
        args = [x, rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)]
        text = "x (2, 3, 6, 6), w (4, 3, 3, 3), stride 1, pad 1"
        features = 4
    if "_bn_" in name or "_ln_" in name:
        args += [rng.normal(1.0, 0.6, features), rng.normal(0.0, 1.0, features)]
        text += ", random gamma/beta"
    if name.startswith("conv"):
        args.append({"stride": 1, "pad": 1})
    if "pool" in name:
        args.append({"pool_height": 2, "pool_width": 2, "stride": 2})
        text += ", pool 2 x 2 stride 2"
    if "_bn_" in name:
        args.append({"mode": "train"})
        text += ", train mode"
    elif "_ln_" in name:
        args.append({})
    return tuple(args), text


def _fresh(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray | dict) else a for a in args)


def _calls(fn: Callable) -> list[str]:
    """The primitives fn's source calls, in order of appearance."""
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return []
    found = [(m.start(), p) for p in PRIMITIVES for m in [re.search(rf"\b{p}\s*\(", source)] if m]
    return [p for _, p in sorted(found)]


def _primitive_at_fault(fns: dict, sandwich: Callable, name: str, options: dict):
    """The first primitive the sandwich calls whose own check has an error finding."""
    from bnlab.check.registry import check_for

    for primitive in _calls(sandwich):
        if primitive not in fns or fns[primitive] is sandwich:
            continue
        try:
            own = check_for(primitive)(fns, primitive, options)
        except (StudentCrash, NotImplementedStub) as error:
            kind = "not_implemented" if isinstance(error, NotImplementedStub) else "crashed"
            return primitive, finding(kind, f"({primitive}: {error})")
        errors = [f for f in own if f.severity == "error"]
        if errors:
            return primitive, errors[0]
    return None, None


def _fold(name: str, primitive: str, found: Finding) -> list[Finding]:
    found.message = (
        f"Your {name} calls your {primitive}, which has this mistake: fix it there. "
        + found.message
    )
    found.extra["caused_by"] = primitive
    return [found]


def check_sandwich_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    _bnlab_fast_layers(fn)
    args, text = _inputs(name, np.random.default_rng(260))
    out, _ = call(name, fn, *_fresh(args))
    expected, _ = getattr(reference, name)(*_fresh(args))
    if close(out, expected):
        return []
    primitive, found = _primitive_at_fault(fns, fn, name, options)
    if primitive:
        return _fold(name, primitive, found)
    got, wanted = first_difference("out", out, expected)
    return [finding("sandwich_wrong", input=text, got=got, expected=wanted)]


def check_sandwich_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    forward = name.replace("_backward", "_forward")
    if forward not in fns:
        raise NotImplementedStub(f"{name} needs {forward}")
    _bnlab_fast_layers(fns[forward], fns[name])
    rng = np.random.default_rng(261)
    args, text = _inputs(name, rng)
    expected_out, ref_cache = getattr(reference, forward)(*_fresh(args))
    dout = rng.standard_normal(expected_out.shape)
    truth = getattr(reference, name)(dout, ref_cache)
    out, cache = call(forward, fns[forward], *_fresh(args))
    result = call(name, fns[name], dout.copy(), cache)
    labels = GRADS[len(truth)]
    if not (isinstance(result, tuple | list) and len(result) == len(truth)):
        error = TypeError(f"must return ({', '.join(labels)}), got {type(result).__name__}")
        raise StudentCrash(name, error, "")
    grads = [np.asarray(g, dtype=np.float64) for g in result]
    wrong = [k for k, g, t in zip(labels, grads, truth, strict=True) if not close(g, t)]
    if not wrong:
        return []
    description = f"{text}, random dout"
    got, expected = first_difference(
        wrong[0], grads[labels.index(wrong[0])], truth[labels.index(wrong[0])]
    )
    for order in itertools.permutations(range(len(truth))):
        if all(close(grads[i], truth[j]) for i, j in enumerate(order)):
            names = ", ".join(labels[j] for j in order)
            return [
                finding(
                    "sandwich_grads_order",
                    f"(returned: {names}).",
                    input=description,
                    got=f"returned ({names})",
                    expected=f"returned ({', '.join(labels)})",
                )
            ]
    # the forward first: a backward through a wrong forward's cache inherits its mistake
    for fn in (fns[forward], fns[name]):
        primitive, found = _primitive_at_fault(fns, fn, name, options)
        if primitive:
            return _fold(name, primitive, found)
    if not close(out, expected_out):
        got, expected = first_difference("out", out, expected_out)
        detail = f"(in {forward}, which {name} follows)"
        return [finding("sandwich_wrong", detail, input=text, got=got, expected=expected)]
    detail = f"(wrong: {', '.join(wrong)})"
    return [finding("sandwich_wrong", detail, input=description, got=got, expected=expected)]
