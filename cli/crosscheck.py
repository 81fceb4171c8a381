"""``rescomp crosscheck``: the popular FLOP counters on the emitted module, every difference explained."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides

DEFAULT_TOOLS = "flopcounter,fvcore,ptflops,ptflops-aten,thop,torchinfo"


def crosscheck(
    spec: Annotated[str, typer.Argument(help="Bundled spec name or YAML path.")],
    tools: Annotated[str, typer.Option("--tools", help="Comma-separated peers to run.")] = DEFAULT_TOOLS,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Run each installed counter and decompose its total into rescomp's census terms (residual must be 0)."""
    from rescomp.crosscheck import FORMULAS
    from rescomp.crosscheck import crosscheck as run
    from rescomp.errors import UsageError
    from rescomp.passes import analyze
    from rescomp.spec.load import build_graph

    wanted = [t.strip() for t in tools.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in FORMULAS]
    if unknown:
        raise UsageError(f"error: unknown tool '{unknown[0]}' (hint: {', '.join(FORMULAS)})")
    from rescomp.extras import needs

    graph = build_graph(spec, parse_overrides(set_, input_, batch))
    analysis = analyze(graph)
    with needs("crosscheck", "rescomp crosscheck"):
        results = run(graph, analysis, wanted)
    if as_json:
        doc = {
            "schema": "rescomp.crosscheck/1",
            "name": analysis.name,
            "macs": analysis.macs,
            "tools": [
                {
                    "tool": r.tool,
                    "total": r.total,
                    "explained": r.predicted,
                    "residual": r.residual,
                    "terms": r.terms,
                    "explanation": r.explanation(),
                    "note": r.note,
                }
                for r in results
            ],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from rescomp.cli import render
        from rich.table import Table
        from rich.text import Text

        # Text, never markup: notes carry install lines such as pip install 'rescomp[crosscheck]'
        table = Table(title=Text(f"{analysis.name}: rescomp MACs {analysis.macs:,}"), title_justify="left")
        render.label_column(table, "tool")
        render.number_column(table, "its total")
        render.label_column(table, "difference from rescomp's MACs")
        render.number_column(table, "residual")
        for r in results:
            if r.total is None:
                table.add_row(Text(r.tool), "-", Text(r.note or ""), "-")
            else:
                table.add_row(Text(r.tool), f"{r.total:,}", Text(r.explanation()), f"{r.residual:,}")
        render.print_table(render.console(), lambda: table)
    if any(r.residual for r in results if r.residual is not None):
        sys.stderr.write("unexplained difference: a residual is not zero (please report it)\n")
        raise typer.Exit(1)
