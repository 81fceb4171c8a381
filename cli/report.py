"""``rescomp report``: Markdown, HTML, JSON and SVG reports per model, and the library's paper
reproduction (``--library``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rescomp.cli.options import BatchOpt, InputOpt, SetOpt, parse_overrides


def report(
    specs: Annotated[list[str] | None, typer.Argument(metavar="[SPEC]...", help="Bundled names or YAML paths.")] = None,
    output: Annotated[str, typer.Option("-o", "--output", help="Folder to write the reports into.")] = "reports",
    library: Annotated[
        bool,
        typer.Option("--library", help="Every bundled spec, the library chart and README.md (paper reproduction)."),
    ] = False,
    set_: SetOpt = None,
    input_: InputOpt = None,
    batch: BatchOpt = None,
) -> None:
    """Write per-model reports (NAME.md, NAME.html, NAME.json, NAME.graph.svg, NAME.stages.svg, NAME.rf.svg).

    NAME is the spec's name, never shortened (the reports link to each other by file name): a name too
    long for the file system, or two models whose files would share a name, is refused before anything
    is written.
    """
    from rescomp.cli.options import for_each_spec, titled
    from rescomp.cli.render import progress

    from rescomp.errors import UsageError
    from rescomp.extras import needs
    from rescomp.fsutil import name_max, output_path, preflight, write_files
    from rescomp.passes import analyze
    from rescomp.reports import library_files, model_files
    from rescomp.spec.library import ENTRIES
    from rescomp.spec.load import build_graph

    if not specs and not library:
        raise UsageError("error: give one or more specs, or --library (hint: rescomp report resnet50 -o out/)")
    if library and not specs and (set_ or input_ or batch is not None):
        raise UsageError(
            "error: --set, --input and --batch apply to the specs named on the command line; --library reports "
            "every bundled spec at its own settings (hint: rescomp report --library -o reports/, and "
            "rescomp report resnet_cifar --set n=3 -o out/ for one model)"
        )
    folder = output_path(output)
    preflight(folder, [], create=True)  # a usable folder, before minutes of analysis
    limit = name_max(folder)
    files: dict[str, bytes] = {}
    owners: dict[str, tuple[str, str]] = {}  # casefolded name -> (file name, who writes it)
    overrides = parse_overrides(set_, input_, batch)
    names = list(specs or [])
    with needs("reports", "rescomp report"), progress(len(names) + (len(ENTRIES) if library else 0), "report") as step:
        if library:
            _merge(files, owners, library_files(step), "the library reproduction (--library)", limit, None)
        for spec, spec_overrides in for_each_spec(names, overrides):
            step(spec)
            graph = build_graph(spec, spec_overrides)
            origin = f"bundled spec {spec}" if spec in ENTRIES else spec
            made = model_files(graph, analyze(graph), origin, titled(graph.name, spec_overrides))
            _merge(files, owners, made, spec, limit, graph.name)
    write_files(folder, files, create=True)
    sys.stderr.write(f"wrote {len(files)} files to {folder}\n")


def _merge(
    files: dict[str, bytes],
    owners: dict[str, tuple[str, str]],
    new: dict[str, bytes],
    who: str,
    limit: int,
    model: str | None,
) -> None:
    """Add ``who``'s report files, refusing names the file system cannot hold and any file another model
    of this run writes with other contents (compared without case: macOS and Windows ignore it)."""
    from rescomp.errors import Loc, SpecError

    for name, data in new.items():
        size = len(name.encode())
        if size > limit:
            longest = max(len(n.encode()) for n in new)
            fit = f"; at most {limit - (longest - len(model.encode()))} fit" if model else ""
            raise SpecError(
                f"report file '{name[:24]}...{name[-16:]}' would be {size} bytes, longer than the {limit} "
                "this file system allows",
                Loc(who),
                hint=f"give the spec a shorter name: it has {len(model or '')} characters{fit}",
            )
        key = name.casefold()
        if key in owners and files[owners[key][0]] != data:
            first, other = owners[key]
            raise SpecError(
                f"report file '{name}' would overwrite '{first}' written for {other}",
                Loc(who),
                hint="rename one of the specs (its 'name:' field); nothing was written",
            )
        owners.setdefault(key, (name, who))
        files[name] = data
