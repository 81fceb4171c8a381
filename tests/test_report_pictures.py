"""Report pictures: labels that never overlap, graph nodes with kernel, stride and groups, shapes with
the batch everywhere, captions true to the network, and index.html for the library."""

from __future__ import annotations

import itertools
import shutil

import pytest

import rescomp
from rescomp.reports import html
from rescomp.reports.document import model_document

pytest.importorskip("matplotlib")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz 'dot' is not installed")


def _no_overlap(boxes: list) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    from rescomp.reports.charts import _overlap

    return [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2) if _overlap(a, b) > 0]


@pytest.mark.parametrize("family", ["resnet", "regnet", "efficientnet", "mnasnet"])
def test_family_labels_do_not_overlap(family: str) -> None:
    from rescomp.reports.charts import _figure, place_labels
    from rescomp.spec.library import ENTRIES

    models = [rescomp.analyze(n) for n, e in ENTRIES.items() if e.path.stem == family]
    if len(models) < 2:
        pytest.skip(f"no {family} family bundled")
    plt, fig = _figure(5.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    points = [(a.params / 1e6, a.macs / 1e9) for a in models]
    ax.scatter(*zip(*points, strict=True))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.margins(0.18)
    fig.tight_layout()
    boxes = place_labels(fig, ax, points, [a.name for a in models])
    plt.close(fig)
    assert _no_overlap(boxes) == []


def test_crowded_points_get_separate_labels() -> None:
    from rescomp.reports.charts import _figure, place_labels

    plt, fig = _figure(5.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    points = [(1.0 + 0.01 * i, 1.0 + 0.01 * (i % 3)) for i in range(6)] + [(5.0, 5.0)]
    ax.scatter(*zip(*points, strict=True))
    ax.set_xlim(0, 6)
    ax.set_ylim(0, 6)
    boxes = place_labels(fig, ax, points, [str(i + 1) for i in range(len(points))])
    plt.close(fig)
    assert _no_overlap(boxes) == []


def test_receptive_field_per_layer_for_nets_without_stages_and_honest_captions() -> None:
    from rescomp.reports.charts import receptive_points

    vgg = rescomp.analyze("vgg19").analysis
    kind, names, values = receptive_points(vgg)
    assert kind == "conv and linear layer" and len(names) == 19 and values == sorted(values) and values[0] == 3
    resnet = rescomp.analyze("resnet50").analysis
    assert receptive_points(resnet)[0] == "stage"
    figures = {k: (f"x.{k}.svg", b"<svg/>") for k in ("graph", "stages", "rf")}
    text = html.render(model_document(vgg, "bundled spec vgg19", figures))
    assert "no skip connections" in text and "dashed red edges" not in text
    assert "receptive field per conv and linear layer" in text
    assert "dashed red edges are skip connections" in html.render(model_document(resnet, "r", figures))


@needs_dot
def test_graph_nodes_show_window_and_batched_shapes() -> None:
    from rescomp.reports.graph_svg import dot_source

    g = rescomp.graph("resnext50_32x4d", batch=2)
    dot = dot_source(g, rescomp.analyze("resnext50_32x4d", batch=2).analysis)
    assert "conv 7x7 s2 → 2x64x112x112" in dot
    assert "conv 3x3 g32 → 2x128x56x56" in dot  # the grouped 3x3 of layer1
    assert "maxpool 3x3 s2 → 2x64x56x56" in dot


def test_index_html_links_every_report() -> None:
    from rescomp.reports.paper import index_document

    models = [rescomp.analyze(n).analysis for n in ("resnet18", "vgg11")]
    page = html.render(index_document(models, ["resnet", "vgg"], b"<svg/>", [("library_vgg.svg", b"<svg/>", "vgg")]))
    assert '<a href="resnet18.html">html</a>' in page and '<a href="vgg11.json">json</a>' in page
    assert "11,689,512" in page and page.count("<svg") == 2
