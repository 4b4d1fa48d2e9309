"""Checks of the normalisation forwards: batchnorm, spatial batchnorm, layernorm.

Each forward is probed in separate aspects (train output, running statistics, test output,
contracts), and each aspect is diagnosed on its own, so two mistakes in one function are
both named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bnlab.check import hypotheses as hyp
from bnlab.check.kinds import BN_TEST
from bnlab.check.probing import (
    Finding,
    NotImplementedStub,
    StudentCrash,
    call,
    callees,
    close,
    describe,
    finding,
    first_difference,
    fmt,
    formula,
    rel_error,
)

Probe = tuple[str, np.ndarray, dict[str, list[np.ndarray]]]  # (description, got, hypotheses)


def diagnose(name: str, probes: list[Probe], fix: str, unknown: str = "fwd_wrong") -> list[Finding]:
    """Name the mistake consistent with every probe, or report the worst deviation as unknown."""
    deviating = [p for p in probes if not close(p[1], p[2]["truth"][0])]
    if not deviating:
        return []
    kinds = [k for k in probes[0][2] if k != "truth"]
    consistent = [
        k for k in kinds if all(any(close(got, v) for v in hyps[k]) for _, got, hyps in probes)
    ]
    description, got, hyps = max(deviating, key=lambda p: rel_error(p[1], p[2]["truth"][0]))
    got_text, expected_text = first_difference(name, got, hyps["truth"][0])
    if consistent:  # a combination "kind+kind" is two findings on the same evidence
        return [
            finding(kind, input=description, got=got_text, expected=expected_text)
            for kind in consistent[0].split("+")
        ]
    error = rel_error(got, hyps["truth"][0])
    return [
        finding(
            unknown,
            f"(relative error {fmt(error, 3)} on {description}).",
            fix=fix,
            input=description,
            got=got_text,
            expected=expected_text,
        )
    ]


def _features(rng: np.random.Generator, shape: tuple[int, ...], small: bool) -> np.ndarray:
    """x with a different mean and std per feature (axis 1), means far from zero."""
    num = shape[1]
    bshape = (1, num) + (1,) * (len(shape) - 2)
    if small:  # var about eps / 10: where sqrt(var) + eps and sqrt(var + eps) part ways
        means = rng.uniform(-2, 2, num)
        stds = np.full(num, np.sqrt(hyp.EPS / 10))
    else:
        means = rng.uniform(-40, 40, num)
        stds = rng.uniform(0.5, 4.0, num)
    return means.reshape(bshape) + stds.reshape(bshape) * rng.standard_normal(shape)


def _affine(rng: np.random.Generator, num: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(1.0, 0.6, num), rng.normal(0.0, 1.0, num)


def _unchanged(args: tuple, originals: dict[str, np.ndarray]) -> list[Finding]:
    """The caller's arrays must come back unchanged: args[i] against the i-th original."""
    return [
        finding("input_mutated", f"({argument} changed).", input=describe(before))
        for (argument, before), after in zip(originals.items(), args, strict=False)
        if not np.array_equal(after, before)
    ]


def _run(name: str, fn: Callable, x, gamma, beta, param: dict) -> tuple[Any, list[Finding]]:
    """One call on copies; returns (out, contract findings)."""
    args = (x.copy(), gamma.copy(), beta.copy(), param)
    out, _ = call(name, fn, *args)
    return out, _unchanged(args, {"x": x, "gamma": gamma, "beta": beta})


def _dtype_check(name: str, fn: Callable, x, gamma, beta, param: dict) -> list[Finding]:
    args = [a.astype(np.float32) for a in (x, gamma, beta)]
    try:
        out, _ = call(name, fn, *args, param)
    except StudentCrash as crash:
        return [finding("crash_on_input", f"({crash}) at {crash.where}", input="float32 input")]
    out = np.asarray(out)
    if out.dtype != np.float32:
        return [
            finding(
                "dtype_changed",
                input="x, gamma, beta in float32",
                got=str(out.dtype),
                expected="float32",
            )
        ]
    return []


def _values(array: np.ndarray, digits: int) -> str:
    text = np.array2string(np.asarray(array, dtype=np.float64), precision=digits, separator=", ")
    return " ".join(text.split())


def check_train_output(
    name, fn, rng, shape, hypotheses, param_factory, per_row=False, features=None
) -> list[Finding]:
    """features: (rng, shape, small) -> x, where per-feature statistics do not fit (groupnorm)."""

    def make(shape: tuple[int, ...], small: bool):
        # layernorm's statistics run over each row: give the rows their own means and stds
        if features is not None:
            x = features(rng, shape, small)
        elif per_row:
            x = _features(rng, shape[::-1], small).T.copy()
        else:
            x = _features(rng, shape, small)
        return (x, *_affine(rng, shape[1]))

    findings, probes = [], []
    what = "row" if per_row else "feature"
    for small, text in (
        (False, f"per-{what} means far from 0 and different stds"),
        (True, "tiny variance (about eps/10)"),
    ):
        x, gamma, beta = make(shape, small)
        out, contract = _run(name, fn, x, gamma, beta, param_factory())
        findings += contract
        probes.append(
            (f"train mode, x {shape}, {text}, random gamma/beta", out, hypotheses(x, gamma, beta))
        )
    named = diagnose("out", probes, formula(name))
    # a named mistake is shown again on the smallest input that reveals it, values printed
    smallest = (2, 2, 1, 2) if len(shape) == 4 else ((2, 3) if per_row else (3, 2))
    for f in named:
        shown = []  # (deviation, x, gamma, beta, out, truth) where the mistake explains out
        for small in (False, True):
            x, gamma, beta = make(smallest, small)
            out, _ = _run(name, fn, x, gamma, beta, param_factory())
            hyps = hypotheses(x, gamma, beta)
            keys = [k for k in hyps if f.kind in k.split("+")]  # alone or in a combination
            if any(close(out, v) for k in keys for v in hyps[k]):
                truth = hyps["truth"][0]
                shown.append((rel_error(out, truth), x, gamma, beta, out, truth))
        if shown and max(s[0] for s in shown) > 1e-3:  # visible in the printed digits
            _, x, gamma, beta, out, truth = max(shown, key=lambda s: s[0])
            f.input = (
                f"train mode, x = {_values(x, 8)}, gamma = {_values(gamma, 4)}, "
                f"beta = {_values(beta, 4)}"
            )
            f.got, f.expected = f"out = {_values(out, 5)}", f"out = {_values(truth, 5)}"
    return findings + named


def check_test_output(name, fn, rng, shape) -> list[Finding]:
    """Test mode with random gamma/beta and running statistics, running_var = 0, and N = 1."""
    num = shape[1]
    probes, findings = [], []
    for rv_kind, n in (("random", shape[0]), ("zero", shape[0]), ("random", 1)):
        x = _features(rng, (n, *shape[1:]), False)
        gamma, beta = _affine(rng, num)
        running_mean = rng.uniform(-40, 40, num)
        running_var = rng.uniform(0.5, 9, num) if rv_kind == "random" else np.zeros(num)
        param = {
            "mode": "test",
            "running_mean": running_mean.copy(),
            "running_var": running_var.copy(),
            "momentum": 0.9,
            "eps": hyp.EPS,
        }
        text = f"test mode, x {x.shape}, running_var {rv_kind}, random gamma/beta"
        try:
            out, contract = _run(name, fn, x, gamma, beta, param)
        except StudentCrash as crash:  # the other probes still tell what test mode does
            where = f" at {crash.where}" if crash.where else ""
            findings.append(finding("crash_on_input", f"({crash}){where}", input=text))
            continue
        findings += contract
        if not (
            np.array_equal(np.ravel(param.get("running_mean")), running_mean)
            and np.array_equal(np.ravel(param.get("running_var")), running_var)
        ):
            findings.append(finding("test_updates_running_stats", input="one test-mode call"))
        probes.append((text, out, hyp.bn_test(x, gamma, beta, running_mean, running_var)))
    named = diagnose("out", probes, BN_TEST) if probes else []
    for f in named:  # shown again on a (2, 2) input, values printed, if that reveals it
        x = _features(rng, (2, 2, *shape[2:]), False)
        gamma, beta = _affine(rng, 2)
        running_mean, running_var = rng.uniform(-40, 40, 2), rng.uniform(0.5, 9, 2)
        param = {
            "mode": "test",
            "running_mean": running_mean.copy(),
            "running_var": running_var.copy(),
        }
        out, _ = _run(name, fn, x, gamma, beta, param)
        hyps = hyp.bn_test(x, gamma, beta, running_mean, running_var)
        truth = hyps["truth"][0]
        keys = [k for k in hyps if f.kind in k.split("+")]  # alone or in a combination
        if any(close(out, v) for k in keys for v in hyps[k]):
            if rel_error(out, truth) > 1e-3:
                f.input = (
                    f"test mode, x = {_values(x, 5)}, gamma = {_values(gamma, 4)}, beta = "
                    f"{_values(beta, 4)}, running_mean = {_values(running_mean, 4)}, "
                    f"running_var = {_values(running_var, 4)}"
                )
                f.got, f.expected = f"out = {_values(out, 5)}", f"out = {_values(truth, 5)}"
    # every probe of a test_* kind is named once, not once per probe
    return _dedupe(findings + named)


def _dedupe(findings: list[Finding], fn: Callable | None = None, name: str = "") -> list[Finding]:
    """One finding per kind; an unexplained deviation names the known functions fn calls."""
    seen, unique = set(), []
    for f in findings:
        if f.kind == "fwd_wrong" and fn is not None and "It calls" not in f.message:
            f.message = f.message.replace(" Correct:", callees(fn, name) + " Correct:", 1)
    for f in findings:
        if f.kind not in seen:
            seen.add(f.kind)
            unique.append(f)
    return unique


def _stored(param: dict, key: str, num: int, findings: list[Finding]) -> np.ndarray | None:
    if key not in param:
        return None
    value = np.asarray(param[key], dtype=np.float64)
    if value.shape != (num,):
        if value.size != num:
            findings.append(
                finding(
                    "shape_wrong",
                    input=f"bn_param['{key}']",
                    got=str(value.shape),
                    expected=f"({num},)",
                )
            )
            return None
        findings.append(
            finding(
                "run_shape_changed",
                input=f"bn_param['{key}'] after train calls",
                got=f"shape {value.shape}",
                expected=f"shape ({num},)",
            )
        )
    return value.ravel()


def check_running_stats(name, fn, rng, shape, axes) -> list[Finding]:
    """Two train steps from given values with momentum 0.7, and two from an empty bn_param."""
    # small batches (N != D): the rule shows on a few numbers, printed in the finding
    shape = (2, 2, 1, 2) if len(shape) == 4 else (3, 2)
    num = shape[1]
    findings: list[Finding] = []
    batches = [_features(rng, shape, False) for _ in range(2)]
    gamma, beta = _affine(rng, num)
    start_mean, start_var = rng.uniform(-5, 5, num), rng.uniform(0.5, 3, num)
    param = {
        "mode": "train",
        "momentum": 0.7,
        "eps": hyp.EPS,
        "running_mean": start_mean.copy(),
        "running_var": start_var.copy(),
    }
    for x in batches:
        _run(name, fn, x, gamma, beta, param)
    text = (
        f"two train steps with momentum 0.7 from running_mean = {_values(start_mean, 4)}, "
        f"running_var = {_values(start_var, 4)}, on x = {_values(batches[0], 4)}, then x = "
        f"{_values(batches[1], 4)}"
    )
    means, variances = hyp.running_stats(start_mean, start_var, batches, axes, 0.7)
    for key, hyps in (("running_mean", means), ("running_var", variances)):
        got = _stored(param, key, num, findings)
        if got is None:
            if key not in param:
                findings.append(
                    finding("run_stats_not_written_back", input=text, got=f"no bn_param['{key}']")
                )
            continue
        if close(got, hyps["truth"][0]):
            continue
        kinds = [k for k in hyps if k != "truth" and any(close(got, v) for v in hyps[k])]
        got_text, expected_text = (
            f"{key} = {_values(got, 5)}",
            f"{key} = " + _values(hyps["truth"][0], 5),
        )
        findings.append(
            finding(
                kinds[0] if kinds else "run_stats_wrong",
                input=text,
                got=got_text,
                expected=expected_text,
            )
        )
    if not findings:
        # From an empty bn_param: running_var may start at 0 (cs231n) or 1 (PyTorch, bnlab).
        param = {"mode": "train"}
        for x in batches:
            _run(name, fn, x, gamma, beta, param)
        text = f"two train steps on x {shape} from bn_param = {{'mode': 'train'}}"
        for key, starts in (("running_mean", (0.0,)), ("running_var", (0.0, 1.0))):
            got = _stored(param, key, num, findings)
            if got is None:
                if key not in param:
                    findings.append(
                        finding(
                            "run_stats_not_written_back", input=text, got=f"no bn_param['{key}']"
                        )
                    )
                continue
            options = [
                (hyp.running_stats(np.full(num, s), np.full(num, s), batches, axes, 0.9))
                for s in starts
            ]
            index = 0 if key == "running_mean" else 1
            truths = [o[index]["truth"][0] for o in options]
            if not any(close(got, t) for t in truths):
                got_text, expected_text = first_difference(key, got, truths[-1])
                findings.append(
                    finding(
                        "run_stats_wrong",
                        "(from an empty bn_param)",
                        input=text,
                        got=got_text,
                        expected=expected_text,
                    )
                )
    return _dedupe(findings)


def check_batchnorm_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(231)
    spatial = name.startswith("spatial")
    shape = (4, 3, 3, 2) if spatial else (8, 5)
    axes = hyp.SBN_AXES if spatial else hyp.BN_AXES
    train = hyp.sbn_train if spatial else hyp.bn_train
    findings = check_train_output(name, fn, rng, shape, train, lambda: {"mode": "train"})
    # a crash in a later aspect is a finding there: the train-mode findings still stand
    for aspect, text in (
        (lambda: check_test_output(name, fn, rng, shape), "test mode"),
        (lambda: check_running_stats(name, fn, rng, shape, axes), "running statistics"),
        (
            lambda: _dtype_check(
                name, fn, _features(rng, shape, False), *_affine(rng, shape[1]), {"mode": "train"}
            ),
            "float32 input",
        ),
    ):
        try:
            findings += aspect()
        except StudentCrash as crash:
            findings.append(finding("crash_on_input", f"({crash}) at {crash.where}", input=text))
    kinds = {f.kind for f in findings}
    if "bn_var_ddof1" in kinds:  # the running variance follows the same unbiased variance
        findings = [f for f in findings if f.kind != "run_var_unbiased"]
    if spatial:
        findings = _fold_grouping(findings)
        findings = _fold_into_callee(fns, name, "batchnorm_forward", findings, options)
    return _dedupe(findings, fn, name)


SBN_GROUPING = ("sbn_stats_per_pixel", "sbn_stats_per_example", "sbn_reshape_without_transpose")


def _fold_grouping(findings: list[Finding]) -> list[Finding]:
    """Wrong spatial grouping makes test mode and the running statistics wrong too: one finding."""
    grouping = next((f for f in findings if f.kind in SBN_GROUPING), None)
    if grouping is None:
        return findings
    folded = [f for f in findings if f.kind in ("fwd_wrong", "run_stats_wrong")]
    if not folded:
        return findings
    grouping.message = grouping.message.replace(
        " Correct:",
        " Test mode and the running statistics use the same wrong grouping, so they are wrong"
        " too: fix the grouping first. Correct:",
        1,
    )
    return [f for f in findings if not any(f is g for g in folded)]


def _fold_into_callee(
    fns: dict, name: str, callee: str, findings: list[Finding], options: dict
) -> list[Finding]:
    """A mistake that comes from the student's own ``callee`` (which name calls) is marked so.

    A spatial batchnorm built on the student's batchnorm_forward inherits its mistakes: the
    finding keeps its kind and says where to fix it, with ``caused_by`` in the JSON.
    """
    import inspect
    import re

    errors = [f for f in findings if f.severity == "error" and f.kind not in SBN_GROUPING]
    if callee not in fns or fns[callee] is fns[name] or not errors:
        return findings
    try:
        if not re.search(rf"\b{callee}\s*\(", inspect.getsource(fns[name])):
            return findings
    except (OSError, TypeError):
        return findings
    from bnlab.check.registry import check_for

    try:
        own = {f.kind for f in check_for(callee)(fns, callee, options) if f.severity == "error"}
    except (StudentCrash, NotImplementedStub):
        return findings
    for f in errors:
        if f.kind in own:
            f.message = (
                f"Your {name} calls your {callee}, which has this mistake: fix it there. "
                + (f.message)
            )
            f.extra["caused_by"] = callee
    return findings


def check_layernorm_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    rng = np.random.default_rng(232)
    shape = (7, 5)
    findings = check_train_output(name, fn, rng, shape, hyp.ln_train, dict, per_row=True)
    x = _features(rng, shape, False)
    findings += _dtype_check(name, fn, x, *_affine(rng, shape[1]), {})
    return _dedupe(findings, fn, name)
