"""Reports: per-model JSON (the source of truth), Markdown, self-contained HTML and SVG figures, and
the library's paper reproduction. ``model_files`` returns a model's files as bytes; writing them is
the caller's (atomic) job."""

from __future__ import annotations

import json
from collections.abc import Callable

from rescomp.ir import Graph
from rescomp.passes import Analysis, to_document


def model_files(graph: Graph, analysis: Analysis, origin: str, title: str | None = None) -> dict[str, bytes]:
    """Every report file of one model, by file name (``NAME.*``, NAME the spec's name). ``title``: the
    heading, when it differs from the name (``resnet50 (width_per_group=128)``)."""
    from rescomp.reports import html, markdown
    from rescomp.reports.charts import receptive_chart, stage_chart
    from rescomp.reports.document import model_document
    from rescomp.reports.graph_svg import render_svg

    name = analysis.name
    figures = {
        "graph": (f"{name}.graph.svg", render_svg(graph, analysis)),
        "stages": (f"{name}.stages.svg", stage_chart(analysis)),
        "rf": (f"{name}.rf.svg", receptive_chart(analysis)),
    }
    doc = model_document(analysis, origin, figures, title)
    files = {f"{name}.json": (json.dumps(to_document([analysis]), indent=2) + "\n").encode()}
    files[f"{name}.md"] = markdown.render(doc).encode()
    files[f"{name}.html"] = html.render(doc).encode()
    files.update({file: svg for file, svg in figures.values()})
    return files


def library_files(step: Callable[[str], None] = lambda name: None) -> dict[str, bytes]:
    """Reports for every bundled spec, the library chart, README.md with the paper reproduction and
    index.html linking them all. ``step(name)`` is called before each spec (a progress bar)."""
    from rescomp import api
    from rescomp.passes import analyze
    from rescomp.reports import html, markdown
    from rescomp.reports.charts import family_chart, library_chart
    from rescomp.reports.paper import index_document, paper_document
    from rescomp.spec.library import ENTRIES

    files: dict[str, bytes] = {}
    analyses = []
    families = []
    for name, entry in ENTRIES.items():
        step(name)
        graph = api.graph(name)
        result = analyze(graph)
        files.update(model_files(graph, result, f"bundled spec {name}"))
        analyses.append(result)
        families.append(entry.path.stem)
    chart = library_chart(analyses, families)
    files["library.svg"] = chart
    charts = []
    for family in dict.fromkeys(families):
        svg = family_chart(family, [a for a, f in zip(analyses, families, strict=True) if f == family])
        files[f"library_{family}.svg"] = svg
        charts.append((f"library_{family}.svg", svg, f"{family}: multiply-adds against parameters"))
    files["README.md"] = markdown.render(paper_document(api.analyze, analyses, chart, charts)).encode()
    files["index.html"] = html.render(index_document(analyses, families, chart, charts)).encode()
    return files
