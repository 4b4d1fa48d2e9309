"""Checks of the naive convolution against bnlab's, on non-square inputs (pooling: pooling.py).

Probes have N, C, F > 1, H != W, stride > 1 and pad > 0. A deviation is matched against
what each catalogued mistake would output (a kernel flipped, padding ignored or on the wrong
axes, windows not strided, a wrong output size); a backward is matched against the gradient
of those mistakes, and one that follows a wrong forward is folded into the forward's kind.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

import bnlab.layers as reference
from bnlab.check.probing import (
    NUM_RTOL,
    Finding,
    NotImplementedStub,
    StudentCrash,
    call,
    close,
    finding,
    first_difference,
    fmt,
    formula,
    matching,
    numerical_gradient,
    rel_error,
)

# (x shape, w shape, stride, pad): the first reveals most, the second is cs231n's simplest case
CONV_PROBES = (((2, 3, 5, 6), (4, 3, 3, 2), 2, 1), ((2, 3, 5, 6), (4, 3, 3, 2), 2, 0))


# -- what each mistake outputs -------------------------------------------------------------


def conv(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    stride: int,
    pad_h: int,
    pad_w: int,
    *,
    step: int | None = None,
    flip: bool = False,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """The cross-correlation with the given padding; windows ``step`` apart (default stride)."""
    HH, WW = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    if flip:
        w = w[:, :, ::-1, ::-1]
    H_out = 1 + (x_pad.shape[2] - HH) // stride
    W_out = 1 + (x_pad.shape[3] - WW) // stride
    if size is not None:
        H_out, W_out = size
    step = step or stride
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::step, ::step]
    windows = windows[:, :, :H_out, :W_out]  # (N, C, H_out, W_out, HH, WW)
    return np.einsum("ncyzij,fcij->nfyz", windows, w) + b.reshape(1, -1, 1, 1)


def conv_hypotheses(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int
) -> dict[str, list[np.ndarray]]:
    truth = conv(x, w, b, stride, pad, pad)
    size = truth.shape[2:]
    return {
        "truth": [truth],
        "conv_flipped_kernel": [conv(x, w, b, stride, pad, pad, flip=True)],
        "window_stride_ignored": [conv(x, w, b, stride, pad, pad, step=1, size=size)],
        "conv_no_padding": [conv(x, w, b, stride, 0, 0)] if pad else [],
        "conv_pad_wrong_axes": [conv(x, w, b, stride, pad, 0), conv(x, w, b, stride, 0, pad)]
        if pad
        else [],
    }


# -- helpers -------------------------------------------------------------------------------


def _unchanged(name: str, arrays: dict, copies: dict) -> list[Finding]:
    return [
        finding("input_mutated", f"({name} changed {key}).", input=f"{key} {value.shape}")
        for key, value in arrays.items()
        if not np.array_equal(copies[key], value)
    ]


def _common(got: np.ndarray, truth: np.ndarray) -> bool:
    """A wrong output size whose overlap with the right output is right."""
    if got.ndim != 4 or got.shape[:2] != truth.shape[:2] or got.shape == truth.shape:
        return False
    h, w = min(got.shape[2], truth.shape[2]), min(got.shape[3], truth.shape[3])
    return close(got[:, :, :h, :w], truth[:, :, :h, :w])


def _name_deviation(name, label, got, hyps, description) -> list[Finding]:
    """The catalogued mistake ``got`` equals, else out_size_formula, else fwd_wrong."""
    truth = hyps["truth"][0]
    got = np.asarray(got, dtype=np.float64)
    if got.shape == truth.shape and close(got, truth):
        return []
    shaped = {k: [v for v in vs if v.shape == got.shape] for k, vs in hyps.items() if k != "truth"}
    kinds = matching(got, shaped)
    got_text, expected_text = first_difference(label, got, truth)
    if not kinds and _common(got, truth):
        kinds = ["out_size_formula"]
    if kinds:
        return [finding(kinds[0], input=description, got=got_text, expected=expected_text)]
    error = fmt(rel_error(got, truth), 3) if got.shape == truth.shape else "shape"
    return [
        finding(
            "fwd_wrong",
            f"({label}: relative error {error} on {description}).",
            fix=formula(name),
            input=description,
            got=got_text,
            expected=expected_text,
        )
    ]


def _dtype(name: str, fn, *args) -> list[Finding]:
    try:
        out = call(name, fn, *args)
    except StudentCrash as crash:
        return [finding("crash_on_input", f"({crash})", input="float32 input")]
    value = out[0] if isinstance(out, tuple) else out
    if np.asarray(value).dtype != np.float32:
        got = str(np.asarray(value).dtype)
        return [finding("dtype_changed", input="float32 input", got=got, expected="float32")]
    return []


def _conv_probe(rng, index: int):
    x_shape, w_shape, stride, pad = CONV_PROBES[index]
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    text = f"x {x_shape}, w {w_shape}, stride {stride}, pad {pad}"
    return x, w, b, {"stride": stride, "pad": pad}, text


# -- convolution ---------------------------------------------------------------------------


def _conv_forward_findings(name, fn, rng) -> list[Finding]:
    findings: list[Finding] = []
    results = []
    for index in range(len(CONV_PROBES)):
        x, w, b, param, text = _conv_probe(rng, index)
        arrays = {"x": x, "w": w, "b": b}
        copies = {k: v.copy() for k, v in arrays.items()}
        try:
            out, _ = call(name, fn, *copies.values(), dict(param))
        except StudentCrash as crash:
            results.append((text, crash))
            continue
        findings += _unchanged(name, arrays, copies)
        hyps = conv_hypotheses(x, w, b, param["stride"], param["pad"])
        results.append((text, _name_deviation(name, "out", out, hyps, text)))
    (padded_text, padded), (_, plain) = results
    if isinstance(padded, StudentCrash):
        x_shape, w_shape, stride, pad = CONV_PROBES[0]
        # np.pad(x, pad) pads C too: a window of C + 2*pad channels meets w[f]'s C
        if isinstance(plain, StudentCrash) or f"({x_shape[1] + 2 * pad}," not in str(padded):
            raise padded
        detail = f"(it raises only when pad > 0: {padded})"
        expected = conv(
            np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0]), stride, pad, pad
        )
        found = finding(
            "conv_pad_wrong_axes",
            detail,
            input=padded_text,
            got=str(padded),
            expected=f"out of shape {expected.shape}",
        )
        return [*findings, found, *plain]
    if isinstance(plain, StudentCrash):
        raise plain
    # the same kind on both probes is one finding; the padded probe's is the fuller
    kinds = {f.kind for f in padded}
    return findings + padded + [f for f in plain if f.kind not in kinds]


def check_conv_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(250)
    findings = _conv_forward_findings(name, fn, rng)
    x, w, b, param, _ = _conv_probe(rng, 1)  # pad 0: a padding crash is already named
    return findings + _dtype(name, fn, *(a.astype(np.float32) for a in (x, w, b)), param)


def _conv_backward_hypotheses(x, w, b, stride, pad, dout) -> dict[str, tuple]:
    """(dx, dw, db) of each shape-preserving forward mistake (linear: central differences)."""
    size = dout.shape[2:]
    forwards = {
        "conv_flipped_kernel": lambda x_, w_: conv(x_, w_, b, stride, pad, pad, flip=True),
        "window_stride_ignored": lambda x_, w_: conv(
            x_, w_, b, stride, pad, pad, step=1, size=size
        ),
    }
    db = dout.sum(axis=(0, 2, 3))
    return {
        kind: (
            numerical_gradient(lambda v, f=f: f(v, w), x.copy(), dout, 1e-4),
            numerical_gradient(lambda v, f=f: f(x, v), w.copy(), dout, 1e-4),
            db,
        )
        for kind, f in forwards.items()
    }


def _grads(name: str, result) -> tuple:
    if not (isinstance(result, tuple | list) and len(result) == 3):
        error = TypeError(f"must return (dx, dw, db), got {type(result).__name__}")
        raise StudentCrash(name, error, "")
    if any(r is None for r in result):
        raise NotImplementedStub(name)
    return tuple(np.asarray(r, dtype=np.float64) for r in result)


def _folded(forward: str, own: list[Finding], name: str, backward: Finding) -> list[Finding]:
    """A backward that deviates after a wrong forward: the forward's mistake, caused_by it."""
    errors = [f for f in own if f.severity == "error"]
    if not errors:
        return [backward]
    f = errors[0]
    f.message = (
        f"Your {forward}, which {name} differentiates through its cache, has this mistake: "
        f"fix it first. " + f.message
    )
    f.extra["caused_by"] = forward
    return [f]


def check_conv_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    forward = "conv_forward_naive"
    if forward not in fns:
        raise NotImplementedStub(f"{name} needs {forward}")
    rng = np.random.default_rng(251)
    x, w, b, param, text = _conv_probe(rng, 0)
    stride, pad = param["stride"], param["pad"]
    truth_out, ref_cache = reference.conv_forward_naive(x, w, b, dict(param))
    dout = rng.standard_normal(truth_out.shape)
    truth = reference.conv_backward_naive(dout, ref_cache)
    description = f"{text}, random dout"
    out, cache = call(forward, fns[forward], x.copy(), w.copy(), b.copy(), dict(param))
    dout_copy = dout.copy()
    grads = _grads(name, call(name, fns[name], dout_copy, cache))
    findings = []
    if not np.array_equal(dout_copy, dout):
        findings.append(finding("input_mutated", f"({name} changed dout).", input="dout"))
    labels = ("dx", "dw", "db")
    wrong = [k for k, g, t in zip(labels, grads, truth, strict=True) if not close(g, t)]
    if not wrong:
        try:
            cache32 = _float32_cache(fns, forward, x, w, b, param)
        except StudentCrash:  # a float32 crash of the forward is the forward's finding
            return findings
        findings += _dtype(name, fns[name], dout.astype(np.float32), cache32)
        return findings + _without_padding(fns, name, rng)
    worst = wrong[0]
    got_text, expected_text = first_difference(
        worst, grads[labels.index(worst)], truth[labels.index(worst)]
    )
    hyps = conv_hypotheses(x, w, b, stride, pad)
    own_forward = _name_deviation(forward, "out", out, hyps, text)
    if own_forward:
        # stated on the backward too: the student may only look at this function
        backward = finding("bwd_wrong", f"Wrong: {', '.join(wrong)}.", formula(name))
        return findings + _folded(forward, own_forward, name, backward)
    padded_shape = (x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad)
    if grads[0].shape == padded_shape and pad:
        inner = grads[0][:, :, pad:-pad, pad:-pad]
        if close(inner, truth[0]):
            got = f"dx.shape = {grads[0].shape}"
            return [
                *findings,
                finding(
                    "conv_bwd_dx_padded",
                    input=description,
                    got=got,
                    expected=f"dx.shape = {x.shape}",
                ),
            ]
    for kind, candidate in _conv_backward_hypotheses(x, w, b, stride, pad, dout).items():
        if all(
            close(g, c, NUM_RTOL) or close(g, t)
            for g, c, t in zip(grads, candidate, truth, strict=True)
        ):
            detail = f"(in {name}: {', '.join(wrong)} follow it)"
            return [
                *findings,
                finding(kind, detail, input=description, got=got_text, expected=expected_text),
            ]
    detail = f"Wrong: {', '.join(wrong)}."
    return [
        *findings,
        finding(
            "bwd_wrong",
            detail,
            formula(name),
            input=description,
            got=got_text,
            expected=expected_text,
        ),
    ]


def _without_padding(fns: dict, name: str, rng) -> list[Finding]:
    """pad = 0, which cs231n's tests never use: dx_pad[:, :, pad:-pad] is then empty."""
    forward = "conv_forward_naive"
    x, w, b, param, text = _conv_probe(rng, 1)
    _, ref_cache = reference.conv_forward_naive(x, w, b, dict(param))
    dout = rng.standard_normal(reference.conv_forward_naive(x, w, b, dict(param))[0].shape)
    truth = reference.conv_backward_naive(dout, ref_cache)
    try:
        _, cache = call(forward, fns[forward], x.copy(), w.copy(), b.copy(), dict(param))
        grads = _grads(name, call(name, fns[name], dout.copy(), cache))
    except StudentCrash as crash:
        return [finding("crash_on_input", f"({crash})", input=f"{text}, random dout")]
    if close(grads[0], truth[0]):
        return []
    got, expected = f"dx.shape = {grads[0].shape}", f"dx.shape = {x.shape}"
    if grads[0].shape != x.shape and grads[0].size == 0:
        return [
            finding(
                "conv_bwd_pad_zero_slice", input=f"{text}, random dout", got=got, expected=expected
            )
        ]
    got, expected = first_difference("dx", grads[0], truth[0])
    return [
        finding(
            "bwd_wrong", "(with pad = 0).", formula(name), input=text, got=got, expected=expected
        )
    ]


def _float32_cache(fns, forward, x, w, b, param):
    return call(forward, fns[forward], *(a.astype(np.float32) for a in (x, w, b)), dict(param))[1]
