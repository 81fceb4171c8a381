"""docs/ops.md is generated from the op registry and must not go stale."""

from __future__ import annotations

from pathlib import Path

from rescomp.ops import REGISTRY
from rescomp.ops.doc import ops_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_ops_doc_is_current() -> None:
    committed = (ROOT / "docs" / "ops.md").read_text()
    assert committed == ops_markdown(), (
        "docs/ops.md is stale: regenerate it with `.venv/bin/python scripts/gen_docs.py` and commit the result"
    )


def test_ops_doc_is_deterministic_and_complete() -> None:
    text = ops_markdown()
    assert text == ops_markdown()
    for kind, op in REGISTRY.items():
        assert f"## `{kind}`" in text and op.flops_rule in text


def test_docs_link_the_generated_reference() -> None:
    for doc in ("conventions.md", "spec.md", "backends.md"):
        assert "(ops.md)" in (ROOT / "docs" / doc).read_text(), f"docs/{doc} should link docs/ops.md"
