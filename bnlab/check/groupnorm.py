"""Checks of spatial groupnorm: statistics per (example, group of C/G channels) over (C/G, H, W).

cs231n passes gamma and beta as (1, C, 1, 1) and expects dgamma, dbeta back in that shape;
bnlab accepts (C,) too. The student's functions get cs231n's shape; one that only works with
(C,) is a ``note``, and is checked with (C,). The backward reuses the normalisation-backward
diagnosis (:mod:`bnlab.check.norm_backward`) with groupnorm's own hypotheses.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from bnlab.check.hypotheses import EPS
from bnlab.check.norm_backward import Spec, check_norm_backward
from bnlab.check.norm_forward import _affine, _dedupe, _dtype_check, check_train_output
from bnlab.check.probing import Finding, StudentCrash, call, finding

SHAPE = (3, 6, 2, 3)  # N != C, H != W; G = C // 2 = 3 groups of 2 channels
BACKWARD_SHAPE = (2, 6, 3, 2)


def _groups(C: int) -> int:
    """The G every probe uses: groups of 2 channels (1 group when C = 2)."""
    return max(C // 2, 1)


def _cs231n(a: np.ndarray) -> np.ndarray:
    return a.reshape(1, -1, 1, 1)


def _as_given(a: np.ndarray) -> np.ndarray:
    return a


def _normalize(x, gamma, beta, grouped, axes, eps=EPS, outside=False):
    """gamma_c * standardised + beta_c, the statistics over ``axes`` of x viewed as ``grouped``."""
    view = x.reshape(grouped)
    mu = view.mean(axis=axes, keepdims=True)
    var = view.var(axis=axes, keepdims=True)
    std = np.sqrt(var) + eps if outside else np.sqrt(var + eps)
    x_hat = ((view - mu) / std).reshape(x.shape)
    return _cs231n(gamma) * x_hat + _cs231n(beta)


def gn_train(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, eps: float = EPS
) -> dict[str, list[np.ndarray]]:
    """Groupnorm's output and the catalogued mistakes, x: (N, C, H, W), gamma, beta: (C,)."""
    N, C, H, W = x.shape
    grouped = (N, G, C // G, H, W)
    return {
        "truth": [_normalize(x, gamma, beta, grouped, (2, 3, 4), eps)],
        "gn_stats_per_channel": [_normalize(x, gamma, beta, x.shape, (2, 3), eps)],
        "gn_stats_per_example": [_normalize(x, gamma, beta, x.shape, (1, 2, 3), eps)],
        "gn_stats_over_batch": [_normalize(x, gamma, beta, grouped, (0, 2, 3, 4), eps)],
        # channel c in group c % G (a reshape to (N, C/G, G, H, W)) instead of c // (C/G)
        "gn_groups_strided": [_normalize(x, gamma, beta, (N, C // G, G, H, W), (1, 3, 4), eps)],
        "gn_eps_outside_sqrt": [_normalize(x, gamma, beta, grouped, (2, 3, 4), eps, True)],
    }


def gn_backward(
    x: np.ndarray, gamma: np.ndarray, dout: np.ndarray, G: int, eps: float = EPS
) -> dict[str, list[tuple]]:
    """(dx, dgamma, dbeta) of groupnorm and the catalogued backward mistakes in dx."""
    N, C, H, W = x.shape
    grouped = (N, G, C // G, H, W)
    view = x.reshape(grouped)
    inv_std = 1 / np.sqrt(view.var(axis=(2, 3, 4), keepdims=True) + eps)
    x_hat = ((view - view.mean(axis=(2, 3, 4), keepdims=True)) * inv_std).reshape(x.shape)
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3))
    dbeta = np.sum(dout, axis=(0, 2, 3))

    def closed(g, count):
        g_view, xh = g.reshape(grouped), x_hat.reshape(grouped)
        sum_g = g_view.sum(axis=(2, 3, 4), keepdims=True)
        sum_gx = (g_view * xh).sum(axis=(2, 3, 4), keepdims=True)
        return (inv_std / count * (count * g_view - sum_g - xh * sum_gx)).reshape(x.shape)

    g = dout * _cs231n(gamma)
    m = C // G * H * W
    grads = {
        "truth": [closed(g, m)],
        "gn_bwd_count": [closed(g, k) for k in (C * H * W, H * W, N * m, C // G) if k != m],
        "gn_bwd_gamma_outside": [_cs231n(gamma) * closed(dout, m)],
    }
    return {k: [(dx, dgamma, dbeta) for dx in v] for k, v in grads.items()}


class _Forward:
    """The student's forward as f(x, gamma, beta, gn_param) with gamma in the shape it takes."""

    def __init__(self, name: str, fn) -> None:
        self.name, self.fn, self.view = name, fn, _cs231n

    def __call__(self, x, gamma, beta, param):
        return self.fn(x, self.view(gamma), self.view(beta), _groups(x.shape[1]), param)

    def convention(self, rng) -> list[Finding]:
        """cs231n's (1, C, 1, 1) gamma; a note and (C,) when only that works."""
        x = rng.standard_normal(SHAPE)
        gamma, beta = _affine(rng, SHAPE[1])

        def fails() -> str:
            try:
                out, _ = call(self.name, self, x, gamma, beta, {})
            except StudentCrash as crash:
                return str(crash)
            shape = np.shape(out)
            return "" if shape == SHAPE else f"out of shape {shape}"

        problem = fails()
        if not problem:
            return []
        self.view = _as_given
        if fails():  # not a convention: the function's own checks tell what is wrong
            self.view = _cs231n
            return []
        return [
            finding(
                "gn_gamma_shape_c",
                input=f"x {SHAPE}, gamma and beta of shape (1, {SHAPE[1]}, 1, 1)",
                got=problem,
                expected=f"out of shape {SHAPE}",
            )
        ]


def _indivisible(name: str, fn, rng) -> list[Finding]:
    """G = 4 does not divide C = 6: the function must raise, not return a number."""
    x = rng.standard_normal((2, 6, 1, 2))  # 6 * 1 * 2 = 12 values: a reshape to (N, 4, -1) fits
    gamma, beta = _affine(rng, 6)
    try:
        out, _ = fn(x, _cs231n(gamma), _cs231n(beta), 4, {})
    except BaseException:  # any error is right: there is no group of 6 / 4 channels
        return []
    return [
        finding(
            "gn_indivisible_groups_accepted",
            input="x (2, 6, 1, 2), G = 4",
            got=f"out of shape {np.shape(out)}",
            expected="an error: G = 4 does not divide C = 6",
        )
    ]


def _grouped(rng: np.random.Generator, shape: tuple[int, ...], small: bool) -> np.ndarray:
    """x with a mean per (example, group) far from 0, channels of a group with different
    means and stds; ``small``: each group's variance about eps / 10."""
    N, C, H, W = shape
    G = _groups(C)
    spread = 40.0 if not small else 2.0
    means = rng.uniform(-spread, spread, (N, G, 1, 1, 1))
    channel_means = rng.uniform(-1, 1, (1, G, C // G, 1, 1))
    channel_stds = rng.uniform(0.5, 2.0, (1, G, C // G, 1, 1))
    within = channel_means + channel_stds * rng.standard_normal((N, G, C // G, H, W))
    if small:  # the group's values scaled to a std of sqrt(eps / 10)
        std = within.std(axis=(2, 3, 4), keepdims=True)
        within = within / std * np.sqrt(EPS / 10)
    return (means + within).reshape(shape)


def check_groupnorm_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(234)
    forward = _Forward(name, fn)
    findings = forward.convention(rng)

    def hypotheses(x, gamma, beta):
        return gn_train(x, gamma, beta, _groups(x.shape[1]))

    train = check_train_output(name, forward, rng, SHAPE, hypotheses, dict, features=_grouped)
    for f in train:
        f.input = f"{f.input}, G = C // 2" if f.input else f.input
    findings += train
    findings += _indivisible(name, fn, rng)
    x = rng.standard_normal(SHAPE) * 3 + 5
    findings += _dtype_check(name, forward, x, *_affine(rng, SHAPE[1]), {})
    return _dedupe(findings, fn, name)


def _gn_probe(rng: np.random.Generator, scale: float) -> np.ndarray:
    """x whose (example, group) statistics have std about ``scale`` and means far from zero."""
    N, C, H, W = BACKWARD_SHAPE
    G = _groups(C)
    means = rng.uniform(-20, 20, (N, G, 1, 1, 1))
    within = rng.uniform(0.5, 2.0, (1, 1, C // G, 1, 1))  # channels of a group differ
    noise = within * rng.standard_normal((N, G, C // G, H, W))
    return (means + scale * noise).reshape(BACKWARD_SHAPE)


SPEC = Spec(
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
    BACKWARD_SHAPE,
    partial(gn_train, G=_groups(BACKWARD_SHAPE[1])),
    dict,
    partial(gn_backward, G=_groups(BACKWARD_SHAPE[1])),
    args=(_groups(BACKWARD_SHAPE[1]),),
    gamma_view=_cs231n,
    probe=_gn_probe,
)


def check_groupnorm_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    spec = SPEC
    if spec.forward in fns:  # a forward written for gamma of shape (C,) gets (C,) here too
        forward = _Forward(spec.forward, fns[spec.forward])
        if forward.convention(np.random.default_rng(235)):
            spec = replace(SPEC, gamma_view=_as_given)
    return check_norm_backward(fns, name, options, spec)
