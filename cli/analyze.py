"""``rescomp analyze``: parameters, MACs, FLOPs, memory and depth of one or more specs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides

PAPER_DEFAULT = ("resnet34", "vgg19")


def analyze(
    specs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[SPEC]...", help="Bundled spec names or YAML paths. None: the paper's ResNet-34 vs VGG-19."
        ),
    ] = None,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Print a table of every layer.")] = False,
    by: Annotated[str | None, typer.Option("--by", metavar="stage", help="Group totals by 'stage'.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print only JSON (schema rescomp.analysis/1) on stdout.")
    ] = False,
) -> None:
    """Count parameters, multiply-accumulates, FLOPs, memory and depth, without running the network."""
    from rescomp.cli.options import for_each_spec, titled

    from rescomp.errors import UsageError
    from rescomp.passes import analyze as run
    from rescomp.passes.analyze import write_document
    from rescomp.spec.load import build_graph

    if by not in (None, "stage"):
        raise UsageError(f"error: --by accepts only 'stage', got '{by}'")
    overrides = parse_overrides(set_, input_, batch)
    names = list(specs or PAPER_DEFAULT)
    results, titles = [], []
    for name, mine in for_each_spec(names, overrides):
        results.append(run(build_graph(name, mine)))
        titles.append(titled(results[-1].name, mine))
    if as_json:
        write_document(results, sys.stdout)
        return
    from rescomp.cli import render

    console = render.console()
    for a, title in zip(results, titles, strict=True):
        if per_layer:
            render.print_table(console, lambda a=a, title=title: render.layer_table(a, title))
        if by == "stage":
            render.print_table(console, lambda a=a, title=title: render.stage_table(a, title))
    render.print_table(
        console,
        lambda: render.summary_table(results, titles),
        lambda: render.summary_table(results, titles, compact=True),
    )
    if not specs:
        console.print(render.paper_line(results[0], results[1]))
    console.print(render.conventions_note())
