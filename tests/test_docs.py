"""Documentation that must stay true: the conventions tables and the README's commands."""

from __future__ import annotations

from pathlib import Path

from rescomp.ops import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def test_conventions_point_to_the_generated_op_table() -> None:
    # the per-op FLOP table lives in docs/ops.md, generated from the registry (tests/test_docs_ops.py)
    text = (ROOT / "docs" / "conventions.md").read_text()
    assert "[docs/ops.md](ops.md)" in text
    ops = (ROOT / "docs" / "ops.md").read_text()
    for kind, op in REGISTRY.items():
        row = f"| {'yes' if op.weighted else 'no'} | {op.flops_rule} |"
        assert f"| [`{kind}`](#{kind}) |" in ops and row in ops, f"docs/ops.md is stale for {kind}"


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    marker = (
        "(command -v dot >/dev/null || (apt-get update -q && apt-get install -y -q graphviz)) && "
        "python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e '.[dev]' && "
        ".venv/bin/python -m pytest -m 'slow or not slow'"
    )
    assert marker in readme and marker in ci


def test_conventions_table_matches_crosscheck_formulas() -> None:
    from rescomp.crosscheck import FORMULAS, TERMS

    text = (ROOT / "docs" / "conventions.md").read_text()
    terms = [t for t in TERMS if any(t in f for f in FORMULAS.values())]
    assert "| tool | " + " | ".join(terms) + " |" in text
    for tool, formula in FORMULAS.items():
        assert f"| `{tool}` | " + " | ".join(str(formula.get(t, "")) for t in terms) + " |" in text
