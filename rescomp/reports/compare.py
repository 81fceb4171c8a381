"""Budgets (``rescomp check``) and differences (``rescomp diff``) over analysis JSON models.

Both work on the ``rescomp.analysis/1`` model dictionaries, so a spec and a JSON file saved by
``rescomp analyze --json`` (for example from the main branch) compare alike."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from rescomp.errors import Loc, SpecError, UsageError, one_line

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
    value = float(m.group(1).replace(",", "").replace("_", "")) * _SUFFIX[m.group(2) or ""]
    if not value <= MAX_COUNT:  # also catches inf from a number of hundreds of digits
        raise UsageError(f"error: {option} '{one_line(text[:40])}' is above the largest budget, {MAX_COUNT:,}")
    return round(value)


@dataclass(frozen=True)
class Budget:
    key: str  # field of the analysis JSON
    label: str
    limit: int


@dataclass(frozen=True)
class BudgetResult:
    """One budget checked against one model."""

    key: str
    label: str
    value: int
    limit: int

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    @property
    def over(self) -> float | None:
        """How far above the limit, as a fraction (None when within it; inf for a limit of 0)."""
        if self.passed:
            return None
        return (self.value - self.limit) / self.limit if self.limit else float("inf")

    def line(self, name: str) -> str:
        if self.passed:
            return f"{one_line(name)}: {self.label} {self.value:,} within the budget of {self.limit:,}"
        return f"{one_line(name)}: {self.label} {self.value:,} exceed the budget of {self.limit:,} by {self.over:.1%}"

    def to_dict(self) -> dict[str, Any]:
        over = self.over
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "limit": self.limit,
            "passed": self.passed,
            "over": None if over is None or over == float("inf") else round(over, 6),
        }


def evaluate_budgets(model: dict[str, Any], budgets: list[Budget]) -> list[BudgetResult]:
    """Every budget with the model's value, in the order given."""
    return [BudgetResult(b.key, b.label, int(model[b.key]), b.limit) for b in budgets]


def check_budgets(model: dict[str, Any], budgets: list[Budget]) -> list[str]:
    """One line per broken budget (empty when all hold)."""
    return [r.line(model["name"]) for r in evaluate_budgets(model, budgets) if not r.passed]


def check_markdown(name: str, results: list[BudgetResult]) -> str:
    """A Markdown table of the budgets, for a CI job summary."""
    from rescomp.reports.document import Table
    from rescomp.reports.markdown import table

    rows = [[r.label, f"{r.value:,}", f"{r.limit:,}", "pass" if r.passed else f"FAIL (+{r.over:.1%})"] for r in results]
    verdict = "within budget" if all(r.passed for r in results) else "over budget"
    head = f"**{one_line(name)}**: {verdict}"
    return "\n".join([head, "", *table(Table(["budget", "value", "limit", "result"], rows, "lrrl"))]) + "\n"


MAX_JSON_BYTES = 256 * 2**20  # an analysis document of a 100,000-layer model is about 40 MiB
MAX_COUNT = 10**18  # the largest budget a --max-* option takes
#: counts in an analysis are exact products of spec values (each at most 10^18), so they may exceed
#: 10^18; this bound only keeps numbers finite as floats for relative changes
MAX_JSON_COUNT = 10**300

_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_JSON_COUNT}
_SHAPE: dict[str, Any] = {"type": "array", "items": _COUNT}
_STAGE: dict[str, Any] = {
    "type": "object",
    "required": ["name", "params", "macs"],
    "properties": {
        "name": {"type": "string"},
        "output": _SHAPE,
        "layers": _COUNT,
        "params": _COUNT,
        "macs": _COUNT,
        "flops": _COUNT,
        "receptive_field": {"type": ["integer", "null"]},
    },
}
_MODEL: dict[str, Any] = {
    "type": "object",
    "required": ["name", "depth", "params", "macs", "flops", "weights_bytes", "activation_bytes_peak", "stages"],
    "properties": {
        "name": {"type": "string"},
        "settings": {"type": "object"},
        "dtype": {"type": "string"},
        "input": _SHAPE,
        "output": _SHAPE,
        "depth": _COUNT,
        "params": _COUNT,
        "buffers": _COUNT,
        "macs": _COUNT,
        "flops": _COUNT,
        "weights_bytes": _COUNT,
        "weights_bytes_by_dtype": {"type": "object", "additionalProperties": _COUNT},
        "activation_bytes_total": _COUNT,
        "activation_bytes_peak": _COUNT,
        "activation_peak_at": {"type": ["string", "null"]},
        "receptive_field": {"type": ["integer", "null"]},
        "roofline": {"type": "object"},
        "stages": {"type": "array", "items": _STAGE},
        "layers": {"type": "array", "items": {"type": "object"}},
    },
}
ANALYSIS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "rescomp.analysis/1",
    "title": "rescomp analysis document (rescomp analyze --json)",
    "description": "Fields may be added in later versions, never renamed; the required ones are those "
    "that rescomp diff and rescomp check read.",
    "type": "object",
    "required": ["schema", "models"],
    "properties": {
        "schema": {"const": "rescomp.analysis/1"},
        "conventions": {"type": "object"},
        "models": {"type": "array", "minItems": 1, "items": _MODEL},
    },
}
"""The JSON Schema of ``rescomp analyze --json``; :func:`validate` checks a document against it."""

_JSON_TYPES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _path(base: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{base}[{key}]"
    name = key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else json.dumps(key)
    return f"{base}.{name}" if base else name


def validate(value: Any, schema: dict[str, Any], path: str = "") -> str | None:
    """The first place where ``value`` breaks ``schema`` (``models[0].macs: required field missing``),
    or None. Handles the keywords :data:`ANALYSIS_SCHEMA` uses: type, const, required, properties,
    additionalProperties, items, minItems, minimum, maximum. Integers are ints, never 1.0 or true."""
    where = path or "the document"
    kind = _json_type(value)
    if "const" in schema and (value != schema["const"] or kind != _json_type(schema["const"])):
        return f"{where}: expected {json.dumps(schema['const'])}, got {_show(value)}"
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if kind not in allowed and not (kind == "integer" and "number" in allowed):
            want = " or ".join(_JSON_TYPES[t] for t in allowed)
            return f"{where}: expected {want}, got {_show(value)}"
    if kind == "integer" or kind == "number":
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where}: {value} is below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where}: {_show(value)} is above the maximum {schema['maximum']:,}"
    if kind == "object":
        for field in schema.get("required", []):
            if field not in value:
                return f"{_path(path, field)}: required field missing"
        props = schema.get("properties", {})
        for field, item in value.items():
            sub = props.get(field, schema.get("additionalProperties"))
            if isinstance(sub, dict):
                problem = validate(item, sub, _path(path, field))
                if problem:
                    return problem
    if kind == "array":
        if len(value) < schema.get("minItems", 0):
            return f"{where}: expected at least {schema['minItems']} item(s), got {len(value)}"
        if "items" in schema:
            for i, item in enumerate(value):
                problem = validate(item, schema["items"], _path(path, i))
                if problem:
                    return problem
    return None


def _show(value: Any) -> str:
    kind = _json_type(value)
    if kind in ("object", "array"):
        return _JSON_TYPES[kind]
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_json(source: str, limit: int = MAX_JSON_BYTES) -> Any:
    """A JSON file's value: the file must be a regular file (never a FIFO or a device) of at most
    ``limit`` bytes, in UTF-8, nested at most as deep as the parser allows."""
    import os
    import stat

    where = Loc(source)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat refuses it below
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise SpecError("no such file", where) from None
    except OSError as exc:
        raise SpecError(f"cannot open: {exc.strerror or type(exc).__name__}", where) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise SpecError("not a regular file", where, hint="give an analysis JSON file")
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > limit:
            raise SpecError(f"the file is {info.st_size:,} bytes; the limit is {limit:,}", where)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise SpecError(f"the file is over the limit of {limit:,} bytes", where)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark); JSON files must be UTF-8",
            where,
            hint="in PowerShell, save with: rescomp analyze SPEC --json | Out-File -Encoding utf8NoBOM file.json",
        )
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark says nothing more than UTF-8
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", Loc(source, line, col), hint="save it as UTF-8"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"not JSON: {exc.msg}", Loc(source, exc.lineno, exc.colno)) from None
    except RecursionError:
        raise SpecError("not an analysis document: nested too deeply", where) from None
    except ValueError:  # Python refuses to read an integer of more than 4,300 digits
        raise SpecError("not an analysis document: it holds a number of more than 4,300 digits", where) from None


def is_analysis_file(source: str) -> bool:
    """Whether ``source`` names an analysis JSON file: by its .json suffix, or by its first bytes
    (a JSON object whose first key is "schema", as ``rescomp analyze --json`` writes it)."""
    if source.endswith(".json"):
        return True
    import os

    try:
        if not os.path.isfile(source):
            return False
        with open(source, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return re.match(rb'\s*\{\s*"schema"\s*:', head.removeprefix(b"\xef\xbb\xbf")) is not None


def load_model(source: str, analyze_spec: Any) -> dict[str, Any]:
    """A model dictionary from an analysis JSON file (its only model, checked against
    :data:`ANALYSIS_SCHEMA`) or from a spec (analysed now)."""
    if is_analysis_file(source):
        doc = read_json(source)
        hint = "save one with: rescomp analyze SPEC --json > file.json"
        if not isinstance(doc, dict) or "schema" not in doc:
            raise SpecError("not a rescomp analysis document (schema rescomp.analysis/1)", Loc(source), hint=hint)
        problem = validate(doc, ANALYSIS_SCHEMA)
        if problem:
            raise SpecError(one_line(problem), Loc(source), hint=hint)
        if len(doc["models"]) != 1:
            raise SpecError(f"the file holds {len(doc['models'])} models; compare one at a time", Loc(source))
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


def _relative(a: float, b: float) -> float | None:
    return None if a == 0 else round((b - a) / a, 6)


def diff_json(a: dict[str, Any], b: dict[str, Any], titles: tuple[str, str] | None = None) -> dict[str, Any]:
    """The difference as data (``rescomp diff --json``): totals, then each stage's MACs and params.
    ``relative`` is (B - A) / A, or null where A is 0; a stage one model lacks has null there."""
    totals = {k: {"a": a[k], "b": b[k], "change": b[k] - a[k], "relative": _relative(a[k], b[k])} for k, _ in METRICS}
    stages_a = {s["name"]: s for s in a.get("stages", [])}
    stages_b = {s["name"]: s for s in b.get("stages", [])}
    stages = []
    for name in dict.fromkeys([*stages_a, *stages_b]):
        sa, sb = stages_a.get(name), stages_b.get(name)
        entry: dict[str, Any] = {"name": name}
        for key in ("macs", "params"):
            va, vb = (sa or {}).get(key, 0), (sb or {}).get(key, 0)
            entry[key] = {
                "a": va if sa else None,
                "b": vb if sb else None,
                "change": vb - va,
                "relative": _relative(va, vb) if sa and sb else None,
            }
        stages.append(entry)
    return {
        "schema": "rescomp.diff/1",
        "a": titles[0] if titles else a["name"],
        "b": titles[1] if titles else b["name"],
        "totals": totals,
        "stages": stages,
    }


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
