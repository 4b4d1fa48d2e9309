"""Checks of affine, relu and softmax_loss against bnlab's reference."""

from __future__ import annotations

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
    fmt,
    formula,
    rel_error,
)


def _compare(name: str, label: str, got, expected, description: str, kind: str) -> list[Finding]:
    if close(got, expected):
        return []
    if np.shape(got) != np.shape(expected):
        return [
            finding(
                "shape_wrong",
                input=description,
                got=f"{label}.shape = {np.shape(got)}",
                expected=f"{label}.shape = {np.shape(expected)}",
            )
        ]
    got_text, expected_text = first_difference(label, got, expected)
    error = fmt(rel_error(got, expected), 3)
    return [
        finding(
            kind,
            f"({label}: relative error {error}).",
            fix=formula(name),
            input=description,
            got=got_text,
            expected=expected_text,
        )
    ]


def _call_unchanged(name: str, fn, findings: list[Finding], *args, **arrays):
    """fn(*args, *copies of arrays); an array the call changes is an input_mutated finding."""
    copies = {key: value.copy() for key, value in arrays.items()}
    result = call(name, fn, *args, *copies.values())
    for key, value in arrays.items():
        if not np.array_equal(copies[key], value) and "input_mutated" not in {
            f.kind for f in findings
        }:
            findings.append(
                finding("input_mutated", f"({name} changed {key}).", input=f"{key} {value.shape}")
            )
    return result


def _affine_probe(rng, shape):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((int(np.prod(shape[1:])), 3))
    b = rng.standard_normal(3)
    return x, w, b


def check_affine_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(240)
    findings = []
    x, w, b = _affine_probe(rng, (4, 6))
    out, _ = _call_unchanged(name, fn, findings, x=x, w=w, b=b)
    expected, _ = reference.affine_forward(x, w, b)
    findings += _compare(name, "out", out, expected, "x (4, 6), w (6, 3)", "fwd_wrong")
    x, w, b = _affine_probe(rng, (4, 2, 3))
    description = "x (4, 2, 3), w (6, 3): x must be flattened to (4, 6)"
    try:
        out, _ = call(name, fn, x.copy(), w.copy(), b.copy())
    except StudentCrash as crash:
        return [
            *findings,
            finding(
                "affine_no_flatten",
                input=description,
                got=str(crash),
                expected="out of shape (4, 3)",
            ),
        ]
    expected, _ = reference.affine_forward(x, w, b)
    if np.shape(out) != expected.shape:
        return [
            *findings,
            finding(
                "affine_no_flatten",
                input=description,
                got=f"out.shape = {np.shape(out)}",
                expected="out.shape = (4, 3)",
            ),
        ]
    findings += _compare(name, "out", out, expected, description, "fwd_wrong")
    args = [a.astype(np.float32) for a in (x, w, b)]
    out, _ = call(name, fn, *args)
    if np.asarray(out).dtype != np.float32:
        findings.append(
            finding(
                "dtype_changed",
                input="x, w, b in float32",
                got=str(np.asarray(out).dtype),
                expected="float32",
            )
        )
    return findings


def check_affine_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    if "affine_forward" not in fns:
        raise NotImplementedStub(f"{name} needs affine_forward")
    rng = np.random.default_rng(241)
    findings = []
    for shape in ((4, 6), (4, 2, 3)):
        x, w, b = _affine_probe(rng, shape)
        dout = rng.standard_normal((shape[0], 3))
        description = f"x {shape}, w {w.shape}, random dout"
        try:
            _, cache = call("affine_forward", fns["affine_forward"], x.copy(), w.copy(), b.copy())
        except StudentCrash:
            if len(shape) > 2:  # the forward's own check names affine_no_flatten
                break
            raise
        dout_copy = dout.copy()
        try:
            result = call(name, fns[name], dout_copy, cache)
        except StudentCrash as crash:
            if len(shape) == 2:
                raise
            # fine on (N, D), a crash on (N, d1, d2): x is used without its reshape to (N, D)
            findings.append(
                finding(
                    "affine_no_flatten",
                    f"(fine on a 2-D x; on a 3-D x {crash}, at {crash.where}).",
                    input=description,
                    got=str(crash),
                    expected="dx of x's shape, dw of w's shape",
                )
            )
            break
        if not np.array_equal(dout_copy, dout):
            findings.append(finding("input_mutated", f"({name} changed dout).", input="dout"))
        if not (isinstance(result, tuple | list) and len(result) == 3):
            error = TypeError(f"must return (dx, dw, db), got {type(result).__name__}")
            raise StudentCrash(name, error, "")
        _, ref_cache = reference.affine_forward(x, w, b)
        truth = reference.affine_backward(dout, ref_cache)
        for label, got, expected in zip(("dx", "dw", "db"), result, truth, strict=True):
            if label == "dx" and np.shape(got) != x.shape and np.size(got) == x.size:
                findings.append(
                    finding(
                        "affine_no_flatten",
                        "(dx is not reshaped back to x's shape)",
                        input=description,
                        got=f"dx.shape = {np.shape(got)}",
                        expected=f"dx.shape = {x.shape}",
                    )
                )
                got = np.reshape(got, x.shape)
            if label == "dw" and len(shape) > 2 and np.shape(got) != w.shape:
                findings.append(
                    finding(
                        "affine_no_flatten",
                        "(in dw).",
                        fix="dw = x.reshape(x.shape[0], -1).T @ dout  # (D, M)",
                        input=description,
                        got=f"dw.shape = {np.shape(got)}",
                        expected=f"dw.shape = {w.shape}",
                    )
                )
                continue
            findings += _compare(name, label, got, expected, description, "bwd_wrong")
        if findings:
            break
    return findings


def check_relu_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    rng = np.random.default_rng(242)
    x = rng.standard_normal((5, 4))
    x[x == 0] = 0.5
    argument = x.copy()
    out, _ = call(name, fns[name], argument)
    findings = _compare(name, "out", out, np.maximum(x, 0), "x (5, 4), random signs", "fwd_wrong")
    if not np.array_equal(argument, x):
        findings.append(
            finding(
                "relu_mutates_input",
                "(relu_forward changed x).",
                input="x (5, 4), then relu_forward(x)",
                got="x with its negatives set to 0",
                expected="x unchanged",
            )
        )
    return findings


def check_relu_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    if "relu_forward" not in fns:
        raise NotImplementedStub(f"{name} needs relu_forward")
    rng = np.random.default_rng(243)
    x = rng.standard_normal((5, 4))
    x[x == 0] = 0.5
    dout = rng.standard_normal(x.shape)
    _, cache = call("relu_forward", fns["relu_forward"], x.copy())
    argument = dout.copy()
    dx = call(name, fns[name], argument, cache)
    findings = _compare(
        name, "dx", dx, dout * (x > 0), "x (5, 4), random signs and dout", "bwd_wrong"
    )
    if not np.array_equal(argument, dout):
        findings.append(
            finding(
                "relu_mutates_input",
                "(relu_backward changed dout).",
                input="dout (5, 4), then relu_backward(dout, cache)",
                got="dout changed",
                expected="dout unchanged",
            )
        )
    return findings


def check_softmax_loss(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(244)
    findings: list[Finding] = []
    for offset, text in ((0.0, "scores of order 1"), (1000.0, "scores around 1000")):
        x = rng.standard_normal((6, 4)) * 3 + offset
        y = rng.integers(0, 4, 6)
        description = f"x (6, 4) {text}, y (6,)"
        loss, dx = _call_unchanged(name, fn, findings, x=x, y=y)
        true_loss, true_dx = reference.softmax_loss(x, y)
        got = np.asarray(loss, dtype=np.float64)
        ok = close(got, true_loss) and close(dx, true_dx)
        if ok:
            continue
        if offset and not (np.all(np.isfinite(got)) and np.all(np.isfinite(np.asarray(dx)))):
            findings.append(
                finding(
                    "softmax_unstable",
                    input=description,
                    got=f"loss = {fmt(float(got))}",
                    expected=f"loss = {fmt(true_loss)}",
                )
            )
        elif close(got, true_loss * 6) or close(dx, true_dx * 6):
            findings.append(
                finding(
                    "softmax_not_averaged",
                    input=description,
                    got=f"loss = {fmt(float(got))}",
                    expected=f"loss = {fmt(true_loss)}",
                )
            )
        elif not close(got, true_loss):
            findings.append(
                finding(
                    "fwd_wrong",
                    "(the loss).",
                    fix=formula(name),
                    input=description,
                    got=f"loss = {fmt(float(got))}",
                    expected=f"loss = {fmt(true_loss)}",
                )
            )
        else:
            findings += _compare(name, "dx", dx, true_dx, description, "bwd_wrong")
        break
    return findings


def check_svm_loss(fns: dict, name: str, options: dict) -> list[Finding]:
    """The multiclass hinge loss (margin 1) and its gradient, against bnlab's."""
    rng = np.random.default_rng(245)
    x = rng.standard_normal((6, 4))
    y = rng.integers(0, 4, 6)
    description = "x (6, 4) scores of order 1, y (6,)"
    findings: list[Finding] = []
    loss, dx = _call_unchanged(name, fns[name], findings, x=x, y=y)
    true_loss, true_dx = reference.svm_loss(x, y)
    if not close(np.asarray(loss, dtype=np.float64), true_loss):
        return [
            *findings,
            finding(
                "fwd_wrong",
                "(the loss).",
                fix=formula(name),
                input=description,
                got=f"loss = {fmt(float(np.asarray(loss)))}",
                expected=f"loss = {fmt(true_loss)}",
            ),
        ]
    return findings + _compare(name, "dx", dx, true_dx, description, "bwd_wrong")
