"""Checks of dropout: statistics of the mask recovered from out / x, never element-wise masks.

The student's random numbers are theirs (cs231n seeds NumPy's global state), so the checks
are statistical: x is positive, so out / x is the mask; its kept fraction, its kept value,
whether rows share it, whether a seed repeats it, and test mode against E[train].
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import numpy as np

from bnlab.check.probing import (
    Finding,
    NotImplementedStub,
    StudentCrash,
    call,
    finding,
    first_difference,
    fmt,
)

P = 0.3  # neither 0.5 (where keep and drop agree) nor close to 1
SHAPE = (500, 40)  # 20000 units: the kept fraction to about 0.3 % (one std)


def _keep_probability(convention: str) -> float:
    """The keep probability of p = P under the given convention."""
    return 1 - P if convention in ("cs231n-2016", "cs231n-2017") else P


def _docstring_says_drop(fn: Any) -> bool | None:
    """True if the docstring calls p the drop probability, False if keep, None if unclear."""
    text = (inspect.getdoc(fn) or "").lower()
    for sentence in re.split(r"[.\n]\s*\n|\.\s", text):
        if re.search(r"\bp\b", sentence) and "probab" in sentence:
            drop = re.search(r"\bdrop(s|ped|ping)?\b", sentence) is not None  # not "dropout"
            keep = re.search(r"\b(keep\w*|kept|retain\w*)\b", sentence) is not None
            if drop != keep:
                return drop
    return None


def _mask(x: np.ndarray, out: Any) -> np.ndarray:
    return np.asarray(out, dtype=np.float64) / x


def check_dropout_forward(fns: dict, name: str, options: dict) -> list[Finding]:
    fn = fns[name]
    convention = options.get("convention", "cs231n")
    keep = _keep_probability(convention)
    rng = np.random.default_rng(234)
    x = rng.uniform(1.0, 2.0, SHAPE)
    findings: list[Finding] = []
    text = f"x {SHAPE} in [1, 2], p = {P}, seed 0"

    def run(mode: str, value: np.ndarray = x, seed: int | None = 0) -> np.ndarray:
        param: dict = {"p": P, "mode": mode}
        if seed is not None:
            param["seed"] = seed
        argument = value.copy()
        out, _ = call(name, fn, argument, param)
        if not np.array_equal(argument, value):
            findings.append(finding("input_mutated", "(x changed).", input=text))
        return np.asarray(out, dtype=np.float64)

    train, test = run("train"), run("test")
    mask, test_ratio = _mask(x, train), _mask(x, test)
    kept = mask != 0
    fraction = float(kept.mean())
    values = mask[kept]
    value = float(np.median(values)) if values.size else 0.0
    uniform = values.size > 0 and np.allclose(values, value, rtol=1e-6)
    shared = kept.shape[0] > 1 and bool(np.all(kept == kept[:1]))
    # a mask shared by the rows has only one row's worth of independent draws
    sigma = np.sqrt(keep * (1 - keep) / (kept[0].size if shared else kept.size))
    near = {
        name_: abs(fraction - f) < 6 * sigma for name_, f in (("keep", keep), ("drop", 1 - keep))
    }
    test_value = float(np.median(test_ratio))
    test_identity = np.allclose(test_ratio, 1.0)
    fields = {"input": text}

    if not uniform or not (near["keep"] or near["drop"]):
        findings.append(
            finding(
                "do_mask_not_uniform",
                input=text,
                got=f"kept fraction {fraction:.3f}, {np.unique(values).size} distinct kept values",
                expected=f"kept fraction {keep} and one kept value {1 / keep:.4g}",
            )
        )
    elif near["drop"] and not near["keep"]:
        says_drop = _docstring_says_drop(fn)
        other_convention = says_drop is (keep == P)  # docstring and code agree, against ours
        kind = "do_convention_other" if other_convention else "do_convention_mismatch"
        findings.append(
            finding(
                kind,
                input=text,
                got=f"kept fraction {fraction:.3f}",
                expected=f"kept fraction {keep}",
            )
        )
        keep_used = 1 - keep
        _scales(findings, value, test_value, test_identity, keep_used, fields)
    else:
        _scales(findings, value, test_value, test_identity, keep, fields)
        if _docstring_says_drop(fn) is (keep == P):  # the code follows --convention, its
            meaning = "drop" if keep == P else "keep"  # docstring the other one
            detail = (
                f"(Here the code follows --convention {convention}, but your docstring calls p "
                f"the {meaning} probability: fix the docstring, or pick the --convention that "
                "matches it.)"
            )
            findings.append(
                finding(
                    "do_convention_mismatch",
                    detail,
                    severity="latent",
                    input=text,
                    got=f"docstring: p is the {meaning} probability",
                    expected=f"docstring: p is the {'keep' if keep == P else 'drop'} probability",
                )
            )

    # one mask per example, not one shared by the whole batch
    if shared:
        findings.append(
            finding(
                "do_mask_shared_across_batch",
                input=text,
                got="every row of the mask equal",
                expected="independent rows",
            )
        )
    # the same seed must repeat the mask (a gradient check depends on it)
    again = run("train")
    if not np.array_equal(again != 0, kept):
        findings.append(
            finding(
                "do_seed_ignored",
                input=f"{text}, called twice",
                got="two different masks",
                expected="the same mask",
            )
        )
    # 4-D input (a conv feature map)
    x4 = rng.uniform(1.0, 2.0, (4, 3, 5, 5))
    try:
        out4 = run("train", x4)
        if np.shape(out4) != x4.shape:
            raise ValueError(f"out has shape {np.shape(out4)}")
    except (StudentCrash, ValueError) as error:
        findings.append(
            finding(
                "do_only_2d",
                f"({error})",
                input="x (4, 3, 5, 5), train mode",
                got=str(error),
                expected="out of shape (4, 3, 5, 5)",
            )
        )
    return _dedupe(findings)


def _scales(findings, value, test_value, test_identity, keep, fields) -> None:
    """Classify the kept value at train time and the test-time factor (keep = keep probability)."""
    inverted = np.isclose(value, 1 / keep, rtol=1e-6)
    if inverted and test_identity:
        return
    if inverted:
        findings.append(
            finding(
                "do_test_not_identity",
                got=f"test out = {fmt(test_value)} * x",
                expected="test out = x",
                **fields,
            )
        )
    elif np.isclose(value, 1.0) and np.isclose(test_value, keep):
        findings.append(
            finding(
                "do_vanilla_dropout",
                got=f"kept units unscaled, test out = {fmt(test_value)} * x",
                expected=f"kept units x / {keep}, test out = x",
                **fields,
            )
        )
    elif np.isclose(value, 1.0) and test_identity:
        findings.append(
            finding(
                "do_not_inverted",
                got="kept units unscaled, test out = x",
                expected=f"kept units x / {keep}",
                **fields,
            )
        )
    else:
        findings.append(
            finding(
                "do_wrong_scale",
                got=f"kept units x * {fmt(value)}",
                expected=f"kept units x * {fmt(1 / keep)}",
                **fields,
            )
        )


def check_dropout_backward(fns: dict, name: str, options: dict) -> list[Finding]:
    """dx = dout * (the forward's own mask) in train mode, dout in test mode."""
    if "dropout_forward" not in fns:
        raise NotImplementedStub(f"{name} needs dropout_forward")
    forward, backward = fns["dropout_forward"], fns[name]
    rng = np.random.default_rng(235)
    x = rng.uniform(1.0, 2.0, (50, 20))
    dout = rng.standard_normal(x.shape)
    findings: list[Finding] = []
    for mode in ("train", "test"):
        out, cache = call("dropout_forward", forward, x.copy(), {"p": P, "mode": mode, "seed": 0})
        dout_copy = dout.copy()
        dx = call(name, backward, dout_copy, cache)
        if not np.array_equal(dout_copy, dout):
            findings.append(finding("input_mutated", "(dout changed).", input="dout"))
        expected = dout * _mask(x, out)
        got = np.asarray(dx, dtype=np.float64)
        # test mode: dx = dout is right even after a forward that scales by p at test time
        # (classic dropout, named on the forward): it is the template's own line
        allowed = [expected] + ([dout] if mode == "test" else [])
        if not any(
            got.shape == e.shape and np.allclose(got, e, rtol=1e-6, atol=1e-12) for e in allowed
        ):
            got_text, expected_text = first_difference("dx", got, expected)
            findings.append(
                finding(
                    "do_bwd_wrong",
                    input=f"{mode} mode, x (50, 20), p = {P}",
                    got=got_text,
                    expected=expected_text,
                )
            )
    return _dedupe(findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen, unique = set(), []
    for f in findings:
        if f.kind not in seen:
            seen.add(f.kind)
            unique.append(f)
    return unique
