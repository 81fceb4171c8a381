"""Budgets (``rescomp check``) and differences (``rescomp diff``) over analysis JSON models.

Both work on the ``rescomp.analysis/1`` model dictionaries, so a spec and a JSON file saved by
``rescomp analyze --json`` (for example from the main branch) compare alike."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rescomp.errors import Loc, SpecError, UsageError

_SUFFIX = {
    "": 1,
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def parse_size(text: str, option: str) -> int:
    """'4.1G' -> 4_100_000_000, '25M', '512Ki', '1,000' -> 1000. Decimal suffixes k M G T, binary Ki Mi Gi Ti."""
    m = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([kKMGT]i?)?\s*(?:B|bytes)?\s*", text)
    if not m or (m.group(2) or "") not in _SUFFIX:
        raise UsageError(f"error: {option} '{text}' is not a number (hint: write e.g. 25M, 4.1G, 512Mi or 1000000)")
    return round(float(m.group(1).replace(",", "").replace("_", "")) * _SUFFIX[m.group(2) or ""])


@dataclass(frozen=True)
class Budget:
    key: str  # field of the analysis JSON
    label: str
    limit: int


def check_budgets(model: dict[str, Any], budgets: list[Budget]) -> list[str]:
    """One line per broken budget (empty when all hold)."""
    broken = []
    for b in budgets:
        value = int(model[b.key])
        if value > b.limit:
            over = (value - b.limit) / b.limit if b.limit else float("inf")
            broken.append(f"{model['name']}: {b.label} {value:,} exceed the budget of {b.limit:,} by {over:.1%}")
    return broken


def load_model(source: str, analyze_spec: Any) -> dict[str, Any]:
    """A model dictionary from an analysis JSON file (its only model) or from a spec (analysed now)."""
    path = Path(source)
    if source.endswith(".json"):
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise SpecError("no such file", Loc(source)) from None
        except json.JSONDecodeError as exc:
            raise SpecError(f"not JSON: {exc.msg}", Loc(source, exc.lineno, exc.colno)) from None
        if not isinstance(doc, dict) or doc.get("schema") != "rescomp.analysis/1" or not doc.get("models"):
            raise SpecError(
                "not a rescomp analysis document (schema rescomp.analysis/1)",
                Loc(source),
                hint="save one with: rescomp analyze SPEC --json > file.json",
            )
        if len(doc["models"]) != 1:
            raise SpecError(f"the file holds {len(doc['models'])} models; diff compares one with one", Loc(source))
        return dict(doc["models"][0])
    return dict(analyze_spec(source).to_json())


METRICS = [
    ("params", "parameters"),
    ("macs", "MACs"),
    ("flops", "FLOPs"),
    ("weights_bytes", "weights (bytes)"),
    ("activation_bytes_peak", "activation peak (bytes)"),
    ("depth", "depth"),
]


def _change(a: float, b: float) -> str:
    if a == b:
        return "="
    if a == 0:
        return "new"
    return f"{(b - a) / a:+.1%}"


def diff_rows(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """A table: totals first, then each stage (by name, in order of appearance) with MACs and params."""
    header = ["", f"A: {a['name']}", f"B: {b['name']}", "change", "relative"]
    rows = [[label, f"{a[k]:,}", f"{b[k]:,}", f"{b[k] - a[k]:+,}", _change(a[k], b[k])] for k, label in METRICS]
    stages_a = {s["name"]: s for s in a.get("stages", [])}
    stages_b = {s["name"]: s for s in b.get("stages", [])}
    for name in dict.fromkeys([*stages_a, *stages_b]):
        sa, sb = stages_a.get(name), stages_b.get(name)
        for key, label in (("macs", "MACs"), ("params", "params")):
            va, vb = (sa or {}).get(key, 0), (sb or {}).get(key, 0)
            if va == vb == 0:
                continue
            rows.append(
                [
                    f"{name} {label}",
                    f"{va:,}" if sa else "-",
                    f"{vb:,}" if sb else "-",
                    f"{vb - va:+,}",
                    _change(va, vb) if sa else "new",
                ]
            )
    return header, rows
