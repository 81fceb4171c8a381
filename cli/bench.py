"""``rescomp bench``: one network on several backends, side by side."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rescomp.cli.options import InputOpt, SetOpt, parse_overrides


def bench(
    spec: Annotated[str, typer.Argument(help="Bundled spec name or YAML path.")],
    target: Annotated[
        list[str] | None,
        typer.Option("--target", help="eager, onnx, aoti or tensorrt; repeat or separate with commas."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size.")] = 1,
    precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 or bf16.")] = "fp32",
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed iterations first.")] = 5,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed iterations.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
) -> None:
    """Measure median and p90 latency and throughput per target (the first target is the baseline)."""
    from rescomp.cli.emit import _progress

    from rescomp.backends.bench import bench as run
    from rescomp.errors import UsageError
    from rescomp.spec.load import build_graph

    targets = [t.strip() for item in (target or ["eager"]) for t in item.split(",") if t.strip()]
    if device not in ("cpu", "cuda"):
        raise UsageError(f"error: unknown device '{device}' (hint: cpu or cuda)")
    graph = build_graph(spec, parse_overrides(set_, input_, None))
    with _progress() as step:
        results = run(
            graph, targets, device=device, batch=batch, precision=precision, warmup=warmup, runs=runs, step=step
        )
    if as_json:
        doc = {"schema": "rescomp.bench/1", "spec": graph.name, "results": [r.to_json() for r in results]}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return
    base = next((r for r in results if r.median_ms is not None), None)
    rows = []
    for r in results:
        if r.median_ms is None or base is None or base.median_ms is None:
            rows.append([r.target, "-", "-", "-", "-", r.note])
            continue
        rows.append(
            [
                r.target,
                f"{r.median_ms:.2f}",
                f"{r.p90_ms:.2f}",
                f"{r.throughput:.1f}",
                f"{base.median_ms / r.median_ms:.2f}x",
                r.note,
            ]
        )
    head = ["target", "median ms", "p90 ms", "images/s", f"speed vs {base.target if base else '-'}", "note"]
    title = f"{graph.name}, batch {batch}, {precision}, {device}, {runs} runs after {warmup} warm-up"
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    from rescomp.cli.render import console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for h in head:
        table.add_column(h, justify="left" if h in ("target", "note") else "right")
    for row in rows:
        table.add_row(*row)
    console().print(table)
    if all(r.median_ms is None for r in results):
        raise typer.Exit(3)
