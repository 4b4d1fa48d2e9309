"""Checks of the naive max pooling against bnlab's: 2 x 3 windows, stride 2, on x (2, 3, 6, 7).

The windows overlap along W and share a planted maximum (where ``=`` instead of ``+=`` loses
gradient); a second probe of small integers has tied maxima. Any ONE maximum per window is a
valid subgradient; sending dout to every tied maximum is a note, to the whole window an error.
"""

from __future__ import annotations

import numpy as np

from bnlab.check.conv import _dtype, _folded, _name_deviation, _unchanged
from bnlab.check.probing import (
    Finding,
    NotImplementedStub,
    call,
    close,
    finding,
    first_difference,
    formula,
    matching,
)

POOL_PROBE = ((2, 3, 6, 7), 2, 3, 2)  # x shape, pool_height, pool_width, stride


def pool(
    x: np.ndarray,
    ph: int,
    pw: int,
    stride: int,
    *,
    step: int | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Max pooling with python slicing (a window past the edge is cut, as in a student's loop)."""
    N, C, H, W = x.shape
    H_out, W_out = size or (1 + (H - ph) // stride, 1 + (W - pw) // stride)
    step = step or stride
    out = np.empty((N, C, H_out, W_out))
    for y in range(H_out):
        for z in range(W_out):
            out[:, :, y, z] = x[:, :, y * step : y * step + ph, z * step : z * step + pw].max(
                axis=(2, 3)
            )
    return out


def pool_hypotheses(x: np.ndarray, ph: int, pw: int, stride: int) -> dict[str, list[np.ndarray]]:
    truth = pool(x, ph, pw, stride)
    size = truth.shape[2:]
    return {
        "truth": [truth],
        "pool_hw_swapped": [pool(x, pw, ph, stride, size=size)] if ph != pw else [],
        "window_stride_ignored": [pool(x, ph, pw, stride, step=1, size=size)],
    }


def pool_backward(
    x: np.ndarray,
    dout: np.ndarray,
    ph: int,
    pw: int,
    stride: int,
    rule: str = "first",
    step: int | None = None,
) -> np.ndarray:
    """dx of max pooling: 'first' maximum (the truth), 'ties', 'window' or 'assign' (=, not +=)."""
    dx = np.zeros_like(x, dtype=np.float64)
    N, C, H_out, W_out = dout.shape
    step = step or stride
    for n in range(N):
        for c in range(C):
            for y in range(H_out):
                for z in range(W_out):
                    rows = slice(y * step, y * step + ph)
                    cols = slice(z * step, z * step + pw)
                    window = x[n, c, rows, cols]
                    g = dout[n, c, y, z]
                    if rule == "window":
                        dx[n, c, rows, cols] += g
                    elif rule == "ties":
                        dx[n, c, rows, cols] += g * (window == window.max())
                    else:
                        i, j = np.unravel_index(np.argmax(window), window.shape)
                        if rule == "assign":
                            dx[n, c, y * step + i, z * step + j] = g
                        else:
                            dx[n, c, y * step + i, z * step + j] += g
    return dx


def _pool_probe(rng):
    shape, ph, pw, stride = POOL_PROBE
    x = rng.standard_normal(shape)
    # windows overlap along W (pool_width 3 > stride 2): one maximum shared by two windows
    x[0, 0, 0, 2] = 10.0
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return x, param, f"x {shape}, pool {ph} x {pw}, stride {stride} (windows overlap along W)"


def check_pool_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(252)
    x, param, text = _pool_probe(rng)
    argument = x.copy()
    out, _ = call(name, fn, argument, dict(param))
    findings = _unchanged(name, {"x": x}, {"x": argument})
    hyps = pool_hypotheses(x, param["pool_height"], param["pool_width"], param["stride"])
    findings += _name_deviation(name, "out", out, hyps, text)
    return findings + _dtype(name, fn, x.astype(np.float32), dict(param))


def _ties(fns: dict, name: str, rng) -> list[Finding]:
    """Integer x (many ties), 2 x 2 windows, stride 2: one maximum or all of them."""
    forward = "max_pool_forward_naive"
    x = rng.integers(0, 3, (2, 2, 4, 6)).astype(np.float64)
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dout = rng.uniform(1, 2, (2, 2, 2, 3))
    _, cache = call(forward, fns[forward], x.copy(), dict(param))
    dx = np.asarray(call(name, fns[name], dout.copy(), cache), dtype=np.float64)
    text = "x of small integers (tied maxima), pool 2 x 2, stride 2"
    ties = pool_backward(x, dout, 2, 2, 2, rule="ties")
    if close(dx, ties) and not close(ties, pool_backward(x, dout, 2, 2, 2)):
        got, expected = first_difference("dx", dx, pool_backward(x, dout, 2, 2, 2))
        return [finding("pool_bwd_all_ties", input=text, got=got, expected=expected)]
    # any ONE maximum per window is a valid subgradient (the first, the last...)
    blocks = dx.reshape(2, 2, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 2, 3, 4)
    windows = x.reshape(2, 2, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 2, 2, 3, 4)
    at_max = windows == windows.max(axis=-1, keepdims=True)
    one = np.all(np.count_nonzero(blocks, axis=-1) == 1) and np.all(blocks[~at_max] == 0)
    if one and close(blocks.sum(axis=-1), dout):
        return []
    got, expected = first_difference("dx", dx, pool_backward(x, dout, 2, 2, 2))
    return [
        finding(
            "bwd_wrong", "(on tied maxima).", formula(name), input=text, got=got, expected=expected
        )
    ]


def check_pool_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    forward = "max_pool_forward_naive"
    if forward not in fns:
        raise NotImplementedStub(f"{name} needs {forward}")
    rng = np.random.default_rng(253)
    x, param, text = _pool_probe(rng)
    ph, pw, stride = param["pool_height"], param["pool_width"], param["stride"]
    truth_out = pool(x, ph, pw, stride)
    dout = rng.standard_normal(truth_out.shape)
    out, cache = call(forward, fns[forward], x.copy(), dict(param))
    dout_copy = dout.copy()
    dx = np.asarray(call(name, fns[name], dout_copy, cache), dtype=np.float64)
    findings = []
    if not np.array_equal(dout_copy, dout):
        findings.append(finding("input_mutated", f"({name} changed dout).", input="dout"))
    truth = pool_backward(x, dout, ph, pw, stride)
    description = f"{text}, random dout"
    if close(dx, truth):
        return findings + _ties(fns, name, rng)
    got, expected = first_difference("dx", dx, truth)
    own_forward = _name_deviation(forward, "out", out, pool_hypotheses(x, ph, pw, stride), text)
    if own_forward:
        backward = finding("bwd_wrong", "", formula(name))
        return findings + _folded(forward, own_forward, name, backward)
    candidates = {
        "pool_bwd_whole_window": [pool_backward(x, dout, ph, pw, stride, "window")],
        "pool_bwd_overwrite": [pool_backward(x, dout, ph, pw, stride, "assign")],
        "window_stride_ignored": [pool_backward(x, dout, ph, pw, stride, step=1)],
    }
    kinds = matching(dx, candidates)
    kind = kinds[0] if kinds else "bwd_wrong"
    fix = formula(name) if kind == "bwd_wrong" else ""
    return [*findings, finding(kind, "", fix, input=description, got=got, expected=expected)]
