"""``rescomp list`` and ``rescomp schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def list_specs(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """List the bundled specs and the parameters each accepts with --set."""
    from rescomp.spec.library import ENTRIES
    from rescomp.spec.load import families, load_spec

    rows = []
    sources = [(name, entry.summary, entry.file) for name, entry in ENTRIES.items()]
    sources += [(name, "", path.name) for name, path in families().items()]
    for name, summary, file in sources:
        spec, fixed = load_spec(name)
        params = {
            p.name: {"default": p.default, "choices": list(p.choices) if p.choices else None, "doc": p.doc}
            for p in spec.params.values()
            if p.name not in fixed
        }
        family = name not in ENTRIES  # a family file by name: every parameter free
        summary = summary or f"{spec.description or name}; the family file {file}, every parameter free"
        rows.append(
            {"name": name, "summary": summary, "file": file, "fixed": fixed, "params": params, "family": family}
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    from rescomp.cli.render import console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text("bundled specs (rescomp analyze NAME --set key=value)"), title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("parameters (default; choices)")
    for row in rows:
        shown = []
        for key, p in row["params"].items():  # type: ignore[attr-defined]
            choice = f"; {'|'.join(map(str, p['choices']))}" if p["choices"] else ""
            shown.append(f"{key}={p['default']}{choice}")
        table.add_row(Text(str(row["name"])), Text(str(row["summary"])), Text("\n".join(shown)))
    console().print(table)


def schema(
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of the spec format (for editor validation and completion)."""
    from rescomp.spec.schema import spec_schema

    text = json.dumps(spec_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    from rescomp.fsutil import write_atomic

    write_atomic(output, text, create=True)
