"""``rescomp check`` (budgets for CI) and ``rescomp diff`` (what changed between two models)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides

JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
MarkdownOpt = Annotated[bool, typer.Option("--markdown", help="A Markdown table, e.g. for a CI job summary.")]


def check(
    specs: Annotated[
        list[str],
        typer.Argument(metavar="SPEC...", help="Bundled spec names, YAML paths or analysis JSON (analyze --json)."),
    ],
    max_params: Annotated[str | None, typer.Option("--max-params", help="e.g. 25M")] = None,
    max_macs: Annotated[str | None, typer.Option("--max-macs", help="e.g. 4.1G")] = None,
    max_flops: Annotated[str | None, typer.Option("--max-flops", help="e.g. 8.2G")] = None,
    max_activation_bytes: Annotated[str | None, typer.Option("--max-activation-bytes", help="e.g. 64Mi")] = None,
    max_weights_bytes: Annotated[str | None, typer.Option("--max-weights-bytes", help="e.g. 100Mi")] = None,
    as_json: JsonOpt = False,
    markdown: MarkdownOpt = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Check budgets: exit 1 when one is broken, 0 when all hold. Numbers accept k M G T, Ki Mi Gi.

    Every result, held or broken, goes to stdout (so `>> $GITHUB_STEP_SUMMARY` records the failures);
    stderr carries only errors that stopped the check. With several specs (a pre-commit hook passes the
    changed files), each is checked; --json then prints a list with one object per spec."""
    from rescomp.cli.options import for_each_spec, titled

    from rescomp.errors import UsageError, one_line
    from rescomp.passes import analyze
    from rescomp.reports.compare import (
        Budget,
        check_markdown,
        evaluate_budgets,
        is_analysis_file,
        load_model,
        parse_size,
    )
    from rescomp.spec.load import build_graph

    if as_json and markdown:
        raise UsageError("error: choose one of --json and --markdown")
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
    _refuse_overrides_for_json(specs, overrides)
    docs, passed = [], True
    for spec, mine in for_each_spec(specs, overrides):
        model = load_model(spec, lambda s, mine=mine: analyze(build_graph(s, mine)))
        name = model["name"] if is_analysis_file(spec) else titled(model["name"], mine)
        results = evaluate_budgets(model, budgets)
        ok = all(r.passed for r in results)
        passed = passed and ok
        if as_json:
            docs.append(
                {"schema": "rescomp.check/1", "name": name, "passed": ok, "budgets": [r.to_dict() for r in results]}
            )
        elif markdown:
            sys.stdout.write(("\n" if len(docs) else "") + check_markdown(name, results))
            docs.append(name)
        else:
            for r in results:
                if not r.passed:
                    sys.stdout.write(r.line(name) + "\n")
            held = ", ".join(f"{r.label} {r.value:,} <= {r.limit:,}" for r in results if r.passed)
            if held:
                sys.stdout.write(f"{one_line(name)}: within budget ({held})\n")
    if as_json:
        sys.stdout.write(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
    if not passed:
        raise typer.Exit(1)


def diff(
    a: Annotated[str, typer.Argument(help="Spec or analysis JSON (rescomp analyze --json).")],
    b: Annotated[str, typer.Argument(help="Spec or analysis JSON.")],
    markdown: MarkdownOpt = False,
    as_json: JsonOpt = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """What changed from A to B: totals and each stage, with relative change.

    --set applies to the specs (not to analysis JSON files) that declare the parameter."""
    from rescomp.cli.options import for_each_spec, titled

    from rescomp.errors import UsageError
    from rescomp.passes import analyze
    from rescomp.reports.compare import diff_json, diff_rows, is_analysis_file, load_model
    from rescomp.spec.load import build_graph

    if as_json and markdown:
        raise UsageError("error: choose one of --json and --markdown")
    overrides = parse_overrides(set_, input_, batch)
    _refuse_overrides_for_json([a, b], overrides)
    models, titles = [], []
    for source, mine in for_each_spec([a, b], overrides):
        model = load_model(source, lambda s, mine=mine: analyze(build_graph(s, mine)))
        models.append(model)
        titles.append(model["name"] if is_analysis_file(source) else titled(model["name"], mine))
    if as_json:
        sys.stdout.write(json.dumps(diff_json(models[0], models[1], (titles[0], titles[1])), indent=2) + "\n")
        return
    header, rows = diff_rows(*models)
    header[1:3] = [f"A: {titles[0]}", f"B: {titles[1]}"]
    if markdown:
        from rescomp.reports.document import Table
        from rescomp.reports.markdown import table

        sys.stdout.write("\n".join(table(Table(header, rows, "lrrrr"))) + "\n")
        return
    from rescomp.cli import render
    from rich.table import Table as RichTable
    from rich.text import Text

    # Text, not str: names read from a JSON file are shown as they are, never parsed as rich markup
    out = RichTable(title=Text(f"{titles[0]} -> {titles[1]}"), title_justify="left")
    for i, h in enumerate(header):
        (render.number_column if i else render.label_column)(out, h)
    for row in rows:
        out.add_row(*(Text(cell) for cell in row))
    render.print_table(render.console(), lambda: out)


def _refuse_overrides_for_json(sources: list[str], overrides) -> None:  # type: ignore[no-untyped-def]
    """--set, --input and --batch change a spec before it is analysed; an analysis JSON file is already
    analysed, so overrides with only JSON files would be silently ignored: refused."""
    from rescomp.errors import UsageError
    from rescomp.reports.compare import is_analysis_file

    given = overrides.params or overrides.input is not None or overrides.batch is not None
    if given and all(is_analysis_file(s) for s in sources):
        raise UsageError(
            "error: --set, --input and --batch apply to specs, and every model given is an analysis JSON file "
            "(hint: pass the spec itself, or analyse it with these options first: rescomp analyze SPEC --json)"
        )
