"""``rescomp report``: Markdown, HTML, JSON and SVG reports per model, and the library's paper
reproduction (``--library``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides


def report(
    specs: Annotated[list[str] | None, typer.Argument(metavar="[SPEC]...", help="Bundled names or YAML paths.")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write the reports into.")] = Path("reports"),
    library: Annotated[
        bool,
        typer.Option("--library", help="Every bundled spec, the library chart and README.md (paper reproduction)."),
    ] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Write per-model reports (NAME.md, NAME.html, NAME.json, NAME.graph.svg, NAME.stages.svg, NAME.rf.svg)."""
    from rescomp.errors import UsageError
    from rescomp.fsutil import write_files
    from rescomp.passes import analyze
    from rescomp.reports import library_files, model_files
    from rescomp.spec.library import ENTRIES
    from rescomp.spec.load import build_graph

    if not specs and not library:
        raise UsageError("error: give one or more specs, or --library (hint: rescomp report resnet50 -o out/)")
    files: dict[str, bytes] = library_files() if library else {}
    overrides = parse_overrides(set_, input_, batch)
    for spec in specs or []:
        graph = build_graph(spec, overrides)
        files.update(model_files(graph, analyze(graph), f"bundled spec {spec}" if spec in ENTRIES else spec))
    write_files(output, files, create=True)
    sys.stderr.write(f"wrote {len(files)} files to {output}\n")
