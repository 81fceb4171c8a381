"""Small helpers for building and analysing specs in tests."""

from __future__ import annotations

from typing import Any

from rescomp.errors import Loc
from rescomp.lower import Overrides
from rescomp.passes import Analysis, analyze
from rescomp.spec.load import build_graph, load_spec_text


def run(source: str, **params: Any) -> Analysis:
    """Analyse a bundled spec or path with parameter overrides."""
    overrides = Overrides({k: (v, Loc("<test>")) for k, v in params.items()})
    return analyze(build_graph(source, overrides))


def run_text(text: str, *, batch: int | None = None, **params: Any) -> Analysis:
    """Analyse a spec given as YAML text."""
    overrides = Overrides(
        {k: (v, Loc("<test>")) for k, v in params.items()},
        None,
        (batch, Loc("<test>")) if batch is not None else None,
    )
    return analyze(build_graph(load_spec_text(text, "test.yaml"), overrides))
