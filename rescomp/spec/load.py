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
    if not path.is_file() and not isinstance(source, Path) and text in families():
        family = families()[text]  # a family file by its name: every parameter at its default, all free
        return parse_spec(load_yaml_file(family, f"<bundled>/{family.name}"), f"<bundled>/{family.name}"), {}
    if not path.exists() and not text.endswith((".yaml", ".yml")) and "/" not in text:
        raise SpecError(
            f"'{text}' is neither a file nor a bundled spec",
            Loc(text),
            hint=did_you_mean(text, [*ENTRIES, *families()]) or "see 'rescomp list'",
        )
    return parse_spec(load_yaml_file(path), str(path)), {}


def families() -> dict[str, Path]:
    """The bundled family files by name (``resnet`` is ``resnet.yaml``), other than those that are a
    bundled name themselves (``resnet_cifar``): ``rescomp analyze resnet`` is the family at its defaults,
    with every parameter free for --set."""
    from rescomp.spec.library import LIBRARY_DIR

    return {f.stem: f for f in sorted(LIBRARY_DIR.glob("*.yaml")) if f.stem not in ENTRIES}


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
