"""From a spec source (a bundled name or a path) and the user's overrides to an IR graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean
from rescomp.ir import Graph, lint
from rescomp.lower import Overrides, lower
from rescomp.spec.library import ENTRIES
from rescomp.spec.model import Spec, parse_spec
from rescomp.spec.yamlsrc import load_yaml, load_yaml_file


def load_spec(source: str | Path) -> tuple[Spec, dict[str, Any]]:
    """Load and validate a spec. Returns it with the parameters its bundled name fixes (if any)."""
    text = str(source)
    if not isinstance(source, Path) and text in ENTRIES:
        entry = ENTRIES[text]
        spec = parse_spec(load_yaml_file(entry.path, f"<bundled>/{entry.file}"), f"<bundled>/{entry.file}")
        return _renamed(spec, entry.name), dict(entry.fixed)
    path = Path(source)
    if not path.exists() and not text.endswith((".yaml", ".yml")) and "/" not in text:
        raise SpecError(
            f"'{text}' is neither a file nor a bundled spec",
            Loc(text),
            hint=did_you_mean(text, ENTRIES) or "see 'rescomp list'",
        )
    return parse_spec(load_yaml_file(path), str(path)), {}


def load_spec_text(text: str, file: str = "<string>") -> Spec:
    """Validate a spec given as YAML text (for tests and embedding)."""
    return parse_spec(load_yaml(text, file), file)


def _renamed(spec: Spec, name: str) -> Spec:
    from dataclasses import replace

    return replace(spec, name=name)


def build_graph(source: str | Path | Spec, overrides: Overrides | None = None) -> Graph:
    """Load a spec, apply overrides, lower it to IR and lint the result."""
    overrides = overrides or Overrides()
    fixed: dict[str, Any]
    if isinstance(source, Spec):
        spec, fixed = source, {}
    else:
        spec, fixed = load_spec(source)
    for key, (_, loc) in overrides.params.items():
        if key in fixed:
            raise SpecError(
                f"parameter '{key}' is fixed to {fixed[key]!r} by the bundled name '{spec.name}'",
                loc,
                hint="pick another bundled name (rescomp list) or copy the spec file",
            )
    merged = Overrides(
        {**{k: (v, spec.loc) for k, v in fixed.items()}, **overrides.params}, overrides.input, overrides.batch
    )
    graph = lower(spec, merged)
    lint(graph)
    return graph
