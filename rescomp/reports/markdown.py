"""Markdown rendering of a report :class:`~rescomp.reports.document.Document`."""

from __future__ import annotations

from rescomp.reports.document import Document, Figure, Heading, Para, Table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> list[str]:
    align = t.align or "l" * len(t.header)
    rule = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(map(_cell, t.header)) + " |", "| " + " | ".join(rule) + " |"] + [
        "| " + " | ".join(map(_cell, row)) + " |" for row in t.rows
    ]


def render(doc: Document) -> str:
    lines = [f"# {doc.title}", ""]
    for block in doc.blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Para):
            lines += [block.text, ""]
        elif isinstance(block, Table):
            lines += [*table(block), ""]
        elif isinstance(block, Figure):
            lines += [f"![{block.alt}]({block.file})", ""]
    return "\n".join(lines).rstrip() + "\n"
