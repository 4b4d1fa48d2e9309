"""Checks of the update rules of cs231n's optim.py: sgd, sgd_momentum, rmsprop, adam.

Each rule runs three steps, feeding back the config it returns (as the Solver does), once
with gradients of order 1 and once with tiny ones (about 1e-5, where the place of epsilon
shows), against bnlab.solver.optim; then with ``config=None`` for cs231n's defaults. A
deviation is matched against the same three steps run by each catalogued mistake.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bnlab.check.probing import (
    Finding,
    StudentCrash,
    call,
    close,
    finding,
    first_difference,
    fmt,
    formula,
    rel_error,
)
from bnlab.solver import optim as reference

DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0},
}
# non-default hyperparameters: a rule that ignores config shows
CONFIGS = {
    "sgd": {"learning_rate": 0.05},
    "sgd_momentum": {"learning_rate": 0.05, "momentum": 0.8},
    "rmsprop": {"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-8},
    # t given: the default of t (0 today, 1 in cs231n's 2016-2018 templates) is checked apart
    "adam": {"learning_rate": 0.02, "beta1": 0.8, "beta2": 0.95, "epsilon": 1e-8, "t": 0},
}
STEPS = 3


def _rule(name: str, mistake: str = "") -> Callable:
    """The update rule with one catalogued mistake (``""``: the correct rule)."""

    def sgd_momentum(w, dw, config):
        lr, mu = config["learning_rate"], config["momentum"]
        v = config.get("velocity", np.zeros_like(w))
        if mistake == "momentum_dampened":
            v = mu * v - (1 - mu) * lr * dw
        else:
            v_new = mu * v - lr * dw
            if mistake == "momentum_nesterov":
                w = w - mu * v + (1 + mu) * v_new
            v = v_new
        if mistake == "momentum_sign_flipped":
            next_w = w - v  # v built from -dw, subtracted: w climbs
        elif mistake == "momentum_nesterov":
            next_w = w
        else:
            next_w = w + v
        if mistake != "optim_state_not_saved":
            config["velocity"] = v
        return next_w, config

    def rmsprop(w, dw, config):
        lr, rho, eps = config["learning_rate"], config["decay_rate"], config["epsilon"]
        cache = config.get("cache", np.zeros_like(w))
        if mistake == "rmsprop_decay_inverted":
            cache = (1 - rho) * cache + rho * dw**2
        else:
            cache = rho * cache + (1 - rho) * dw**2
        if mistake == "rmsprop_eps_inside_sqrt":
            next_w = w - lr * dw / np.sqrt(cache + eps)
        else:
            next_w = w - lr * dw / (np.sqrt(cache) + eps)
        if mistake != "optim_state_not_saved":
            config["cache"] = cache
        return next_w, config

    def adam(w, dw, config):
        lr, b1, b2, eps = (config[k] for k in ("learning_rate", "beta1", "beta2", "epsilon"))
        m, v = config.get("m", np.zeros_like(w)), config.get("v", np.zeros_like(w))
        t = config.get("t", 0)
        if mistake != "adam_t_not_incremented_first":
            t += 1
        m = b1 * m + (1 - b1) * dw
        v = b2 * v + (1 - b2) * dw**2
        if mistake == "adam_no_bias_correction":
            m_hat, v_hat = m, v
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        if mistake == "adam_eps_inside_sqrt":
            next_w = w - lr * m_hat / np.sqrt(v_hat + eps)
        else:
            with np.errstate(invalid="ignore"):
                next_w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        if mistake == "adam_t_not_incremented_first":
            t += 1
        if mistake == "adam_stores_corrected":
            m, v = m_hat, v_hat
        if mistake == "optim_state_not_saved:t":  # m and v kept, t lost: always 1
            config.update(m=m, v=v)
        elif mistake != "optim_state_not_saved":
            config.update(m=m, v=v, t=t)
        return next_w, config

    def sgd(w, dw, config):
        return w - config["learning_rate"] * dw, config

    return {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}[name]


MISTAKES = {
    "sgd": (),
    "sgd_momentum": (
        "momentum_sign_flipped",
        "momentum_dampened",
        "momentum_nesterov",
        "optim_state_not_saved",
    ),
    "rmsprop": ("rmsprop_eps_inside_sqrt", "rmsprop_decay_inverted", "optim_state_not_saved"),
    "adam": (
        "adam_no_bias_correction",
        "adam_t_not_incremented_first",
        "adam_eps_inside_sqrt",
        "adam_stores_corrected",
        "optim_state_not_saved",
        "optim_state_not_saved:t",
    ),
}


def _steps(rule: Callable, name: str, w, grads, config: dict | None) -> list[np.ndarray]:
    """The w after each step, each call getting the config the previous one returned."""
    ws = []
    for dw in grads:
        w, config = call(name, rule, w.copy(), dw.copy(), config)
        ws.append(np.asarray(w, dtype=np.float64))
    return ws


def _probe(rng, scale: float):
    w = rng.standard_normal((4, 3))
    grads = [scale * rng.standard_normal((4, 3)) for _ in range(STEPS)]
    return w, grads


def _text(name: str, config: dict, scale: float) -> str:
    shown = ", ".join(f"{k}={v:g}" for k, v in config.items())
    return f"{STEPS} steps of {name} on w (4, 3), dw of order {scale:g}, config {{{shown}}}"


def _first_step_off(got: list, truth: list) -> tuple[int, str, str]:
    for step, (g, t) in enumerate(zip(got, truth, strict=True)):
        if not close(g, t):
            got_text, expected_text = first_difference("next_w", g, t)
            return step, got_text, expected_text
    return -1, "", ""


def _contracts(name: str, fn: Callable) -> list[Finding]:
    """w and dw unchanged (w changed in place is a note), float32 kept."""
    rng = np.random.default_rng(271)
    w, dw = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    w_arg, dw_arg = w.copy(), dw.copy()
    next_w, _ = call(name, fn, w_arg, dw_arg, dict(CONFIGS[name]))
    findings = []
    if not np.array_equal(w_arg, w):
        findings.append(finding("optim_updates_w_in_place", input="w (4, 3)"))
    if not np.array_equal(dw_arg, dw):
        findings.append(finding("input_mutated", f"({name} changed dw).", input="dw (4, 3)"))
    try:
        next_w, _ = call(name, fn, w.astype(np.float32), dw.astype(np.float32), dict(CONFIGS[name]))
    except StudentCrash as crash:
        return [*findings, finding("crash_on_input", f"({crash})", input="w, dw in float32")]
    if np.asarray(next_w).dtype != np.float32:
        got = str(np.asarray(next_w).dtype)
        findings.append(
            finding("dtype_changed", input="w, dw in float32", got=got, expected="float32")
        )
    return findings


def _defaults(name: str, fn: Callable, rng) -> list[Finding]:
    """config=None, then the config returned: cs231n's defaults, stored or not."""
    w, grads = _probe(rng, 1.0)
    try:
        next_w, config = call(name, fn, w.copy(), grads[0].copy(), None)
    except StudentCrash as crash:
        return [finding("crash_on_input", f"({crash})", input=f"{name}(w, dw, config=None)")]
    if not isinstance(config, dict):
        return []
    wrong = {
        k: config.get(k)
        for k, v in DEFAULTS[name].items()
        # a default read with config.get and not stored is judged by next_w below
        if k != "t" and k in config
        if not (isinstance(config[k], int | float) and close(config[k], v))
    }
    if wrong:
        got = ", ".join(f"config['{k}'] = {v!r}" for k, v in wrong.items())
        expected = ", ".join(f"config['{k}'] = {DEFAULTS[name][k]:g}" for k in wrong)
        return [
            finding(
                "optim_default_wrong",
                input=f"{name}(w, dw, config=None)",
                got=got,
                expected=expected,
            )
        ]
    first_t = config.get("t", 1)  # adam's t after one step from its default
    # a second step: momentum and beta1, beta2 only show from there on
    next_w = _steps(fn, name, next_w, grads[1:2], config)[0]
    expected_w = _steps(getattr(reference, name), name, w, grads[:2], None)[1]
    start = first_t - 1 if name == "adam" else 0
    if start and isinstance(start, int):
        older = _steps(reference.adam, name, w, grads[:2], {"t": start})[1]
        if close(next_w, older):  # the older templates' default: a convention, not a mistake
            detail = (
                f"(t starts at {start}, as in cs231n's 2016-2018 optim.py; today it starts at 0)"
            )
            got, expected = f"config['t'] = {start} before the first step", "config['t'] = 0"
            text = f"{name}(w, dw, config=None)"
            return [
                finding(
                    "optim_default_wrong",
                    detail,
                    input=text,
                    got=got,
                    expected=expected,
                    severity="note",
                )
            ]
    if not close(next_w, expected_w):
        got, expected = first_difference("next_w", next_w, expected_w)
        # the rule itself was right with every hyperparameter given: a default is not
        detail = "(one of them, read without being stored in config)."
        text = f"two steps of {name} from config=None"
        return [finding("optim_default_wrong", detail, input=text, got=got, expected=expected)]
    return []


def check_update_rule(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(270)
    findings: list[Finding] = []
    for scale in (1.0, 1e-5):
        w, grads = _probe(rng, scale)
        config = CONFIGS[name]
        text = _text(name, config, scale)
        got = _steps(fn, name, w, grads, dict(config))
        truth = _steps(getattr(reference, name), name, w, grads, dict(config))
        step, got_text, expected_text = _first_step_off(got, truth)
        if step < 0:
            continue
        kinds = [
            mistake
            for mistake in MISTAKES[name]
            if all(
                close(g, h)
                for g, h in zip(
                    got, _steps(_rule(name, mistake), name, w, grads, dict(config)), strict=True
                )
            )
        ]
        where = f"(first off at step {step + 1}: relative error {fmt(rel_error(got[step], truth[step]), 3)})"
        kind = kinds[0].split(":")[0] if kinds else "optim_wrong"
        fix = formula(name) if kind == "optim_wrong" else ""
        findings.append(finding(kind, where, fix, input=text, got=got_text, expected=expected_text))
        break
    if not findings:
        findings += _defaults(name, fn, rng)
    return findings + _contracts(name, fn)
