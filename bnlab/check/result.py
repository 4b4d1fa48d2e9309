"""The result of ``bnlab check``: a table in text or HTML, JSON, and Gradescope's results.json."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bnlab.check.kinds import DOCS_URL

SEVERITIES = ("error", "latent", "note")


@dataclass
class FunctionResult:
    name: str
    status: str  # ok | findings | not_implemented | crashed | timeout
    findings: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, severity: str) -> int:
        return sum(f["severity"] == severity for f in self.findings)

    @property
    def kinds(self) -> list[str]:
        return [f["kind"] for f in self.findings]

    def __str__(self) -> str:
        lines = [f"{self.name}: {self.status}"]
        for f in self.findings:
            lines.append(f"  [{f['severity']}] {f['kind']}: {f['message']}")
            if f.get("input"):
                lines.append(f"      input:    {f['input']}")
            if f.get("got") or f.get("expected"):
                lines.append(f"      got:      {f.get('got', '')}")
                lines.append(f"      expected: {f.get('expected', '')}")
            if f.get("doc") and f["kind"] != "not_implemented":
                lines.append(f"      more:     {f['doc']}")
        return "\n".join(lines)


@dataclass
class CheckResult:
    target: str
    functions: dict[str, FunctionResult]
    convention: str = "cs231n"

    def __getitem__(self, name: str) -> FunctionResult:
        return self.functions[name]

    def details(self, name: str) -> FunctionResult:
        """One function's result (its ``str`` lists every finding in full)."""
        return self.functions[name]

    def count(self, severity: str) -> int:
        return sum(r.count(severity) for r in self.functions.values())

    @property
    def exit_status(self) -> int:
        """0 when no finding has severity error, 1 otherwise."""
        return 1 if self.count("error") else 0

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "convention": self.convention,
            "functions": {
                name: {"status": r.status, "findings": r.findings, "seconds": r.seconds}
                for name, r in self.functions.items()
            },
            "summary": {s: self.count(s) for s in SEVERITIES},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def _rows(self) -> list[tuple[str, str, str]]:
        rows = []
        for name, r in self.functions.items():
            kinds = ", ".join(
                f"{f['kind']} ({f['severity']})"
                for f in r.findings
                if f["kind"] not in ("not_implemented",)
            )
            rows.append((name, r.status, kinds))
        return rows

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in SEVERITIES)
        return f"{len(self.functions)} functions checked: {counts}. Every kind: {DOCS_URL}"

    def __str__(self) -> str:
        rows = [("function", "status", "findings"), *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        lines = [f"bnlab check {self.target} (convention {self.convention})", ""]
        for row in rows:
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip())
        detailed = [
            r
            for r in self.functions.values()
            if any(f["kind"] != "not_implemented" for f in r.findings)
        ]
        for r in detailed:
            lines += ["", str(r)]
        lines += ["", self.summary()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = []
        for name, r in self.functions.items():
            items = "".join(
                f"<li><b>{html.escape(f['kind'])}</b> ({f['severity']}): "
                f"{html.escape(f['message'])}"
                + (f"<br><i>input</i>: {html.escape(f['input'])}" if f.get("input") else "")
                + (
                    f"<br><i>got</i>: {html.escape(f['got'])}; <i>expected</i>: "
                    f"{html.escape(f['expected'])}"
                    if f.get("got")
                    else ""
                )
                + "</li>"
                for f in r.findings
            )
            cells.append(
                f"<tr><td><code>{html.escape(name)}</code></td><td>{r.status}</td>"
                f"<td><ul>{items}</ul></td></tr>"
            )
        return (
            "<table><thead><tr><th>function</th><th>status</th><th>findings</th></tr></thead>"
            f"<tbody>{''.join(cells)}</tbody></table><p>{html.escape(self.summary())}</p>"
        )

    def gradescope(self, weights: dict[str, float] | None = None) -> dict:
        """Gradescope's results.json: a function scores its weight when it has no error finding."""
        tests, total = [], 0.0
        for name, r in self.functions.items():
            weight = float((weights or {}).get(name, 1.0))
            passed = r.status in ("ok", "findings") and r.count("error") == 0
            score = weight if passed else 0.0
            total += score
            tests.append(
                {
                    "name": name,
                    "score": score,
                    "max_score": weight,
                    "status": "passed" if passed else "failed",
                    "output": str(r),
                }
            )
        for name, weight in (weights or {}).items():
            if name not in self.functions:  # weighted but not checked: it scores 0
                output = f"{name}: not_implemented (not defined in {self.target})"
                tests.append(
                    {
                        "name": name,
                        "score": 0.0,
                        "max_score": float(weight),
                        "status": "failed",
                        "output": output,
                    }
                )
        return {"score": total, "output": self.summary(), "tests": tests}


def read_weights(path: str) -> dict[str, float]:
    """Weights per function from a JSON or TOML file: {"batchnorm_forward": 2, ...}."""
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix == ".toml":
        try:
            import tomllib
        except ImportError as error:  # Python 3.10
            raise ValueError(f"{path}: TOML weights need Python 3.11, use a .json file") from error
        data: Any = tomllib.loads(text)
    else:
        data = json.loads(text)
    data = data.get("weights", data)
    if not isinstance(data, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in data.values()
    ):
        raise ValueError(f"{path}: expected a table of function name -> number, got {data!r}")
    from bnlab.check.registry import CHECKS

    unknown = [str(k) for k in data if k not in CHECKS]
    if unknown:  # a misspelt name would silently score nothing
        raise ValueError(
            f"{path}: unknown function {unknown[0]!r}: expected one of {', '.join(CHECKS)}"
        )
    return {str(k): float(v) for k, v in data.items()}
