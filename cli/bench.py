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
    runs: Annotated[
        int | None,
        typer.Option("--runs", min=1, help="Exactly N timed iterations (default: adaptive, >= 10 samples and >= 1 s)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
) -> None:
    """Measure median, IQR and p90 latency and throughput per target (the first target is the baseline)."""
    from rescomp.cli.emit import _progress

    from rescomp.backends.bench import bench as run
    from rescomp.errors import UsageError
    from rescomp.spec.load import build_graph

    targets = [t.strip() for item in (target or ["eager"]) for t in item.split(",") if t.strip()]
    if device not in ("cpu", "cuda"):
        raise UsageError(f"error: unknown device '{device}' (hint: cpu or cuda)")
    graph = build_graph(spec, parse_overrides(set_, input_, None))
    from rescomp.cli.emit import BUILD_EXTRA

    from rescomp.extras import EXTRAS, needs

    extra = max((BUILD_EXTRA.get(t, "torch") for t in targets), key=lambda e: len(EXTRAS[e]), default="torch")
    with needs(extra, "rescomp bench"), _progress() as step:
        report = run(
            graph, targets, device=device, batch=batch, precision=precision, warmup=warmup, runs=runs, step=step
        )
    results = report.results
    for warning in report.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    code = 5 if report.failed else (3 if all(r.median_ms is None for r in results) else 0)
    if as_json:
        doc = {
            "schema": "rescomp.bench/1",
            "spec": graph.name,
            "environment": report.environment,
            "warnings": report.warnings,
            "results": [r.to_json() for r in results],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        if code:
            raise typer.Exit(code)
        return
    base = next((r for r in results if r.median_ms is not None), None)
    rows = []
    for r in results:
        if r.median_ms is None or base is None or base.median_ms is None:
            rows.append([r.target, "-", "-", "-", "-", "-", "-", r.note])
            continue
        rows.append(
            [
                r.target,
                f"{r.median_ms:.2f}",
                f"{r.iqr_ms:.2f}",
                f"{r.p90_ms:.2f}",
                f"{r.runs}" + (f" x{r.block}" if r.block > 1 else ""),
                f"{r.throughput:.1f}",
                f"{base.median_ms / r.median_ms:.2f}x",
                r.note,
            ]
        )
    head = ["target", "median ms", "IQR ms", "p90 ms", "runs", "images/s", f"speed vs {base.target if base else '-'}"]
    head.append("note")
    threads = report.environment["threads"]
    title = (
        f"{graph.name}, batch {batch}, {precision}, {device}, {'adaptive' if runs is None else runs} runs after "
        f"{warmup} warm-up; torch {threads['torch_intra_op']} threads, onnxruntime {threads['onnxruntime_intra_op']}"
    )
    if markdown:
        lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        sys.stdout.write("\n".join(lines) + "\n")
        if code:
            raise typer.Exit(code)
        return
    from rescomp.cli import render
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    for h in head:
        (render.label_column if h in ("target", "note") else render.number_column)(table, h)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # notes are text, never rich markup
    render.print_table(render.console(), lambda: table)
    if code:  # 5: a backend failed (its row says how); 3: no target could run here
        raise typer.Exit(code)
