"""Checks of the normalisation backwards against the TRUE gradient of the correct forward.

The student's backward gets the cache of the student's own forward. When it deviates, the
candidates are, in order: the catalogued backward mistakes (analytic), the exact gradients of
the catalogued forward mistakes (numerical: a backward derived for a wrong forward, folded
into that forward's kind), the numerical gradient of the student's own forward, and the
forward's mistake showing through a correct backward formula. Otherwise: ``bwd_wrong``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import bnlab.layers as reference
from bnlab.check import hypotheses as hyp
from bnlab.check.norm_forward import _affine, _features
from bnlab.check.probing import (
    NUM_RTOL,
    RTOL,
    Finding,
    NotImplementedStub,
    StudentCrash,
    call,
    callees,
    close,
    finding,
    first_difference,
    fmt,
    formula,
    matching,
    numerical_gradient,
    rel_error,
)

NAMES = ("dx", "dgamma", "dbeta")


@dataclass(frozen=True)
class Spec:
    forward: str
    reference_backward: str
    shape: tuple[int, ...]
    train: Callable  # hypotheses of the forward: (x, gamma, beta) -> {kind: [out]}
    param: Callable[[], dict]
    backward_mistakes: Callable | None = None  # (x, gamma, dout) -> {kind: [(dx, dg, db)]}
    per_row: bool = False
    args: tuple = ()  # passed between beta and the param dict (groupnorm's G)
    gamma_view: Callable | None = None  # gamma as the student gets it (cs231n: (1, C, 1, 1))
    probe: Callable | None = None  # (rng, scale) -> x, when per-feature statistics do not fit

    def forward_args(self, x, gamma, beta) -> tuple:
        """The forward's arguments, copied: (x, gamma, beta, *args, param)."""
        view = self.gamma_view or (lambda a: a)
        return (x.copy(), view(gamma.copy()), view(beta.copy()), *self.args, self.param())


def _train_param() -> dict:
    return {"mode": "train"}


SPECS = {
    "batchnorm_backward": Spec(
        "batchnorm_forward", "batchnorm_backward", (6, 4), hyp.bn_train, _train_param
    ),
    "batchnorm_backward_alt": Spec(
        "batchnorm_forward", "batchnorm_backward_alt", (6, 4), hyp.bn_train, _train_param
    ),
    "spatial_batchnorm_backward": Spec(
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
        (3, 4, 2, 3),
        hyp.sbn_train,
        _train_param,
        lambda x, gamma, dout: hyp.sbn_backward(x, gamma, dout),
    ),
    "layernorm_backward": Spec(
        "layernorm_forward",
        "layernorm_backward",
        (5, 7),
        hyp.ln_train,
        dict,
        lambda x, gamma, dout: hyp.ln_backward(x, gamma, dout),
        per_row=True,
    ),
}


def _probe(rng: np.random.Generator, spec: Spec, scale: float) -> np.ndarray:
    """x whose statistics have standard deviations about ``scale`` and means far from zero."""
    if spec.probe is not None:
        return spec.probe(rng, scale)
    shape = spec.shape[::-1] if spec.per_row else spec.shape
    x = _features(rng, shape, small=False)
    mean = x.mean(axis=tuple(i for i in range(x.ndim) if i != 1), keepdims=True)
    x = mean + (x - mean) * scale
    return x.T.copy() if spec.per_row else x


class _Pair:
    """The student's forward then backward on one probe, gradients brought to (D,) shapes."""

    def __init__(self, fns: dict, name: str, spec: Spec) -> None:
        if spec.forward not in fns:
            raise NotImplementedStub(f"{name} needs {spec.forward}")
        self.forward, self.backward, self.name, self.spec = fns[spec.forward], fns[name], name, spec

    def run(self, x, gamma, beta, dout) -> tuple[Any, tuple, list[Finding]]:
        out, cache = call(self.spec.forward, self.forward, *self.spec.forward_args(x, gamma, beta))
        dout_copy = dout.copy()
        result = call(self.name, self.backward, dout_copy, cache)
        findings = []
        if not np.array_equal(dout_copy, dout):
            findings.append(finding("input_mutated", "(dout changed).", input="dout"))
        if not (isinstance(result, tuple | list) and len(result) == 3):
            error = TypeError(f"must return (dx, dgamma, dbeta), got {type(result).__name__}")
            raise StudentCrash(self.name, error, "")
        if any(r is None for r in result):
            raise NotImplementedStub(self.name)
        grads, excluded = [], set()
        num, n = x.shape[1], x.shape[0]
        for key, value, shape in zip(NAMES, result, (x.shape, (num,), (num,)), strict=True):
            array = np.asarray(value)
            if key != "dx" and self.spec.gamma_view and array.shape == (1, num, 1, 1):
                array = array.reshape(shape)  # cs231n's groupnorm shape for dgamma, dbeta
            if array.shape != shape:
                if array.size == int(np.prod(shape)) and key != "dx":
                    findings.append(
                        finding(
                            "bwd_dgamma_shape",
                            input=f"{key} of x {x.shape}",
                            got=f"{key}.shape = {array.shape}",
                            expected=f"{key}.shape = {shape}",
                        )
                    )
                    array = array.reshape(shape)
                elif key != "dx" and array.size in (n, n * int(np.prod(x.shape[2:]))):
                    findings.append(
                        finding(
                            "bwd_dgamma_wrong_axis",
                            input=f"x {x.shape}",
                            got=f"{key}.shape = {array.shape}",
                            expected=f"{key}.shape = {shape}",
                        )
                    )
                    excluded.add(key)
                else:
                    findings.append(
                        finding(
                            "shape_wrong",
                            input=f"x {x.shape}",
                            got=f"{key}.shape = {array.shape}",
                            expected=f"{key}.shape = {shape}",
                        )
                    )
                    excluded.add(key)
            grads.append(array)
        self.excluded = excluded
        return out, tuple(grads), findings

    def agree(self, grads, candidate, rtol) -> bool:
        return all(
            close(g, c, rtol)
            for key, g, c in zip(NAMES, grads, candidate, strict=True)
            if key not in self.excluded
        )


def _truth(spec: Spec, x, gamma, beta, dout) -> tuple[np.ndarray, ...]:
    _, cache = getattr(reference, spec.forward)(*spec.forward_args(x, gamma, beta))
    grads = getattr(reference, spec.reference_backward)(dout, cache)
    return tuple(np.asarray(g).reshape(-1) if i else np.asarray(g) for i, g in enumerate(grads))


def _numerical(f: Callable, x, gamma, beta, dout) -> tuple[np.ndarray, ...]:
    """(dx, dgamma, dbeta) of sum(f(x, gamma, beta) * dout) by central differences."""
    h = 1e-7 * max(float(np.std(x)), 1e-3)
    return (
        numerical_gradient(lambda v: f(v, gamma, beta), x.copy(), dout, h),
        numerical_gradient(lambda v: f(x, v, beta), gamma.copy(), dout, 1e-6),
        numerical_gradient(lambda v: f(x, gamma, v), beta.copy(), dout, 1e-6),
    )


def _difference(pair: _Pair, grads, truth) -> tuple[str, str, str]:
    """Which gradients differ, and the first differing element of the worst one."""
    errors = {
        k: rel_error(g, t)
        for k, g, t in zip(NAMES, grads, truth, strict=True)
        if k not in pair.excluded
    }
    wrong = [k for k, e in errors.items() if e > RTOL]
    worst = max(errors, key=errors.get)
    got, expected = first_difference(worst, grads[NAMES.index(worst)], truth[NAMES.index(worst)])
    text = ", ".join(f"{k} (relative error {fmt(errors[k], 2)})" for k in wrong)
    return text, got, expected


# what a backward-only variant of a forward kind means in the backward
BACKWARD_DETAIL = {
    "sbn_reshape_without_transpose": "Here in the backward: dout must go through "
    "dout.transpose(0, 2, 3, 1).reshape(-1, C), and dx come back through "
    "dx.reshape(N, H, W, C).transpose(0, 3, 1, 2).",
}


def check_norm_backward(
    fns: dict, name: str, options: dict, spec: Spec | None = None
) -> list[Finding]:
    spec = spec or SPECS[name]
    pair = _Pair(fns, name, spec)
    rng = np.random.default_rng(233)
    # std about 1e-2, var about 1e-4: eps (1e-5) matters at 10 %, so eps mistakes show.
    x = _probe(rng, spec, 1e-2 / 2.0)
    gamma, beta = _affine(rng, spec.shape[1])
    dout = rng.standard_normal(spec.shape)
    out, grads, findings = pair.run(x, gamma, beta, dout)
    truth = _truth(spec, x, gamma, beta, dout)
    description = f"train mode, x {x.shape} with std about 0.005 per statistic, random dout"
    if pair.agree(grads, truth, RTOL):
        return findings + _dtype(pair, rng, spec)
    differs, got, expected = _difference(pair, grads, truth)

    def named(kind: str, detail: str = "", **extra) -> list[Finding]:
        fix = formula(name) if kind == "bwd_wrong" else ""
        return [
            *findings,
            finding(kind, detail, fix, input=description, got=got, expected=expected, extra=extra),
        ]

    if spec.backward_mistakes is not None:
        for kind, variants in spec.backward_mistakes(x, gamma, dout).items():
            if kind != "truth" and any(pair.agree(grads, v, RTOL) for v in variants):
                return named(kind, BACKWARD_DETAIL.get(kind, ""))
    forward_hyps = spec.train(x, gamma, beta)
    forward_kind = None
    if not close(out, forward_hyps["truth"][0]):
        forward_kind = (
            [*matching(out, {k: v for k, v in forward_hyps.items() if k != "truth"}), "fwd_wrong"]
        )[0].split("+")[0]
    for kind in forward_hyps:
        if kind == "truth" or "+" in kind:  # single mistakes only: a pair is one more guess
            continue
        candidate = _numerical(
            lambda a, g, b, k=kind: spec.train(a, g, b)[k][0], x, gamma, beta, dout
        )
        if pair.agree(grads, candidate, NUM_RTOL):
            return named(
                kind,
                f"Your {name} is the exact gradient of a forward with this mistake: "
                f"fix {spec.forward} and re-derive the backward.",
                caused_by=spec.forward,
            )
    if forward_kind is not None:

        def own(a, g, b):
            value, _ = call(spec.forward, pair.forward, *spec.forward_args(a, g, b))
            return np.asarray(value, dtype=np.float64)

        if pair.agree(grads, _numerical(own, x, gamma, beta, dout), NUM_RTOL):
            if forward_kind == "fwd_wrong":
                return named("bwd_inconsistent_with_forward", f"Wrong: {differs}.")
            return named(
                forward_kind,
                f"Your {name} is the exact gradient of your "
                f"{spec.forward}, which has this mistake.",
                caused_by=spec.forward,
            )
        # a correct backward formula fed by the forward's wrong cache: right where eps is small
        x_big = _probe(rng, spec, 2.0)
        _, grads_big, _ = pair.run(x_big, gamma, beta, dout)
        if pair.agree(grads_big, _truth(spec, x_big, gamma, beta, dout), 1e-4):
            return named(
                forward_kind if forward_kind != "fwd_wrong" else "bwd_inconsistent_with_forward",
                f"Your {name} follows the mistake in your {spec.forward}.",
                caused_by=spec.forward,
            )
    if forward_kind not in (None, "fwd_wrong"):
        # no backward can be judged on a wrong forward's cache: the forward comes first
        return named(
            forward_kind,
            f"Your {name} works on the cache of your {spec.forward}, which has this "
            f"mistake: fix the forward first, then check {name} again.",
            caused_by=spec.forward,
        )
    first = (
        f" Your {spec.forward} is wrong too (fwd_wrong), and this backward works on its cache:"
        " fix the forward first, then check again."
        if forward_kind == "fwd_wrong"
        else ""
    )
    return named("bwd_wrong", f"Wrong: {differs}." + first + callees(pair.backward, name))


def _dtype(pair: _Pair, rng, spec: Spec) -> list[Finding]:
    x = _probe(rng, spec, 1.0).astype(np.float32)
    gamma, beta = (a.astype(np.float32) for a in _affine(rng, spec.shape[1]))
    dout = rng.standard_normal(spec.shape).astype(np.float32)
    try:
        _, grads, _ = pair.run(x, gamma, beta, dout)
    except Exception:  # a float32-only crash is reported by the forward's own check
        return []
    dtypes = {k: np.asarray(g).dtype for k, g in zip(NAMES, grads, strict=True)}
    wrong = {k: str(d) for k, d in dtypes.items() if d != np.float32}
    if wrong:
        return [
            finding(
                "dtype_changed",
                input="x, gamma, beta, dout in float32",
                got=str(wrong),
                expected="float32",
            )
        ]
    return []
