"""``rescomp check`` (budgets for CI) and ``rescomp diff`` (what changed between two models)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides


def check(
    spec: Annotated[str, typer.Argument(help="Bundled spec name, YAML path or analysis JSON (analyze --json).")],
    max_params: Annotated[str | None, typer.Option("--max-params", help="e.g. 25M")] = None,
    max_macs: Annotated[str | None, typer.Option("--max-macs", help="e.g. 4.1G")] = None,
    max_flops: Annotated[str | None, typer.Option("--max-flops", help="e.g. 8.2G")] = None,
    max_activation_bytes: Annotated[str | None, typer.Option("--max-activation-bytes", help="e.g. 64Mi")] = None,
    max_weights_bytes: Annotated[str | None, typer.Option("--max-weights-bytes", help="e.g. 100Mi")] = None,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Exit 1 with one line per broken budget, 0 when every budget holds. Numbers accept k M G T, Ki Mi Gi."""
    from rescomp.errors import UsageError, one_line
    from rescomp.passes import analyze
    from rescomp.reports.compare import Budget, check_budgets, load_model, parse_size
    from rescomp.spec.load import build_graph

    wanted = [
        ("--max-params", max_params, "params", "parameters"),
        ("--max-macs", max_macs, "macs", "MACs"),
        ("--max-flops", max_flops, "flops", "FLOPs"),
        ("--max-activation-bytes", max_activation_bytes, "activation_bytes_peak", "peak activation bytes"),
        ("--max-weights-bytes", max_weights_bytes, "weights_bytes", "weight bytes"),
    ]
    budgets = [Budget(key, label, parse_size(text, opt)) for opt, text, key, label in wanted if text is not None]
    if not budgets:
        raise UsageError("error: give at least one budget (hint: --max-params 25M --max-macs 4.1G)")
    overrides = parse_overrides(set_, input_, batch)
    model = load_model(spec, lambda s: analyze(build_graph(s, overrides)))
    broken = check_budgets(model, budgets)
    for line in broken:
        sys.stderr.write(line + "\n")
    if broken:
        raise typer.Exit(1)
    held = ", ".join(f"{b.label} {model[b.key]:,} <= {b.limit:,}" for b in budgets)
    sys.stdout.write(f"{one_line(model['name'])}: within budget ({held})\n")


def diff(
    a: Annotated[str, typer.Argument(help="Spec or analysis JSON (rescomp analyze --json).")],
    b: Annotated[str, typer.Argument(help="Spec or analysis JSON.")],
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown table, e.g. for a PR comment.")] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """What changed from A to B: totals and each stage, with relative change. --set applies to specs."""
    from rescomp.passes import analyze
    from rescomp.reports.compare import diff_rows, load_model
    from rescomp.spec.load import build_graph

    overrides = parse_overrides(set_, input_, batch)
    models = [load_model(x, lambda s: analyze(build_graph(s, overrides))) for x in (a, b)]
    header, rows = diff_rows(*models)
    if markdown:
        from rescomp.reports.document import Table
        from rescomp.reports.markdown import table

        sys.stdout.write("\n".join(table(Table(header, rows, "lrrrr"))) + "\n")
        return
    from rescomp.cli.render import console
    from rich.table import Table as RichTable
    from rich.text import Text

    # Text, not str: names read from a JSON file are shown as they are, never parsed as rich markup
    out = RichTable(title=Text(f"{models[0]['name']} -> {models[1]['name']}"), title_justify="left")
    for i, h in enumerate(header):
        out.add_column(Text(h), justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(Text(cell) for cell in row))
    console().print(out)
