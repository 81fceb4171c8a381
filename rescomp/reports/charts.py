"""Charts as SVG with matplotlib: per-stage MACs and parameters, receptive field per stage, and the
library's multiply-adds against parameters. Text stays text (svg.fonttype none) and ids are salted,
so the same numbers give the same bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from rescomp.passes import Analysis


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.hashsalt": "rescomp",
            "svg.fonttype": "none",
            "font.size": 8,
            "font.family": "DejaVu Sans",
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt, plt.figure(figsize=(width, height))


def _svg(plt: Any, fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "rescomp"}, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _weighted_stages(a: Analysis) -> list[Any]:
    return [s for s in a.stages() if s.macs or s.params]


def stage_chart(a: Analysis) -> bytes:
    """Two bar panels: MACs and parameters per stage (stages without either are left out)."""
    plt, fig = _figure(6.5, 2.6)
    stages = _weighted_stages(a)
    names = [s.name for s in stages]
    for i, (label, values, color) in enumerate(
        [
            ("MACs (G)", [s.macs / 1e9 for s in stages], "#4a7ab5"),
            ("parameters (M)", [s.params / 1e6 for s in stages], "#d08a3c"),
        ]
    ):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.bar(names, values, color=color)
        ax.set_title(f"{a.name}: {label} per stage", fontsize=9)
        ax.tick_params(axis="x", rotation=45)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    fig.tight_layout()
    return _svg(plt, fig)


def receptive_points(a: Analysis) -> tuple[str, list[str], list[int]]:
    """What the receptive-field chart plots: per stage where the model has at least four stages with
    multiply-adds (the ResNets' layer1..layer4), else per convolution and linear layer (VGG keeps all
    its convolutions in one 'features' stage, where a per-stage line would be flat)."""
    from rescomp.ops import REGISTRY

    stages = a.stages()
    if sum(1 for s in stages if s.macs) >= 4:
        return "stage", [s.name for s in stages], [s.receptive_field for s in stages]
    layers = [x for x in a.layers if REGISTRY[x.op].weighted]
    return "conv and linear layer", [x.name for x in layers], [x.receptive_field for x in layers]


def receptive_chart(a: Analysis) -> bytes:
    """Receptive field (input rows) at each stage's output (or each weighted layer's, see
    :func:`receptive_points`), against the input size."""
    kind, names, values = receptive_points(a)
    plt, fig = _figure(max(4.5, min(9.0, 0.28 * len(names) + 1.5)), 2.6)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(range(len(names)), values, marker="o", color="#2e8b57", markersize=3 if len(names) > 12 else 5)
    ax.set_xticks(range(len(names)), names)
    ax.axhline(a.input[2], color="#999999", linestyle="--", linewidth=0.8)
    ax.text(0, a.input[2], f" input height {a.input[2]}", va="bottom", fontsize=7, color="#666666")
    ax.set_ylabel("receptive field (rows)")
    ax.set_title(f"{a.name}: receptive field per {kind}", fontsize=9)
    ax.tick_params(axis="x", rotation=45, labelsize=6 if len(names) > 12 else 8)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    fig.tight_layout()
    return _svg(plt, fig)


#: label positions tried around a point, in points (dx, dy, horizontal alignment), nearest first
_OFFSETS = [
    (4, 2, "left"),
    (4, -9, "left"),
    (-4, 2, "right"),
    (-4, -9, "right"),
    (0, 6, "center"),
    (0, -13, "center"),
    (8, 10, "left"),
    (-8, 10, "right"),
    (8, -17, "left"),
    (-8, -17, "right"),
    (14, -3, "left"),
    (-14, -3, "right"),
    (0, 16, "center"),
    (0, -23, "center"),
]


def place_labels(fig: Any, ax: Any, points: Sequence[tuple[float, float]], texts: Sequence[str]) -> list[Any]:
    """Put each text beside its point where it overlaps no label placed before it, no marker and
    stays inside the axes (candidates nearest first); where every candidate collides, the least
    overlapping one. Deterministic: the same points give the same layout. Returns the boxes, in
    display coordinates."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.transforms import Bbox

    renderer = RendererAgg(fig.bbox.width, fig.bbox.height, fig.dpi)  # measures text; the SVG canvas cannot
    frame = ax.get_window_extent(renderer)
    markers = []
    for p in points:
        x, y = ax.transData.transform(p)
        markers.append(Bbox.from_bounds(x - 3, y - 3, 6, 6))
    placed: list[Any] = []
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    boxes: list[Any] = [None] * len(points)
    for i in order:
        best = None
        for dx, dy, ha in _OFFSETS:
            label = ax.annotate(
                texts[i],
                points[i],
                xytext=(dx, dy),
                textcoords="offset points",
                fontsize=7,
                ha=ha,
                annotation_clip=False,
            )
            box = label.get_window_extent(renderer).expanded(1.05, 1.1)
            clash = sum(_overlap(box, other) for other in placed)
            clash += sum(_overlap(box, m) for j, m in enumerate(markers) if j != i)
            clash += max(0.0, box.width * box.height - _overlap(box, frame))  # outside the axes
            if best is None or clash < best[0]:
                if best is not None:
                    best[1].remove()
                best = (clash, label, box)
            else:
                label.remove()
            if clash == 0:
                break
        assert best is not None
        placed.append(best[2])
        boxes[i] = best[2]
    return boxes


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def library_chart(models: Sequence[Analysis], families: Sequence[str]) -> bytes:
    """Multiply-adds against parameters for every bundled spec (log-log), one colour per family, each
    point numbered (numbers placed where they overlap nothing) with a key from number to name beside
    the plot."""
    plt, fig = _figure(10.0, 5.2)
    ax = fig.add_axes((0.07, 0.1, 0.5, 0.8))
    palette = plt.get_cmap("tab20").colors
    order = list(dict.fromkeys(families))
    for i, family in enumerate(order):
        members = [a for a, f in zip(models, families, strict=True) if f == family]
        ax.scatter(
            [a.params / 1e6 for a in members],
            [a.macs / 1e9 for a in members],
            s=18,
            color=palette[i % len(palette)],
            marker="osD^v<>ph*"[i // len(palette) % 10],
            label=family,
            zorder=3,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("multiply-adds (G), batch 1, default input")
    ax.set_title("bundled specs: multiply-adds against parameters", fontsize=9)
    ax.legend(fontsize=6.5, loc="upper left", frameon=False, ncol=2)
    points = [(a.params / 1e6, a.macs / 1e9) for a in models]
    place_labels(fig, ax, points, [str(i + 1) for i in range(len(models))])
    per_column = (len(models) + 1) // 2
    for column in range(2):
        lines = [
            f"{i + 1:>2}  {models[i].name}"
            for i in range(column * per_column, min(len(models), (column + 1) * per_column))
        ]
        fig.text(0.6 + 0.2 * column, 0.9, "\n".join(lines), fontsize=6.5, va="top", family="DejaVu Sans Mono")
    return _svg(plt, fig)


def family_chart(family: str, models: Sequence[Analysis]) -> bytes:
    """Multiply-adds against parameters for one family, each model labelled where the label overlaps
    no other label or marker."""
    plt, fig = _figure(5.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    points = [(a.params / 1e6, a.macs / 1e9) for a in models]
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=18, color="#4a7ab5", zorder=3)
    if len(models) > 1:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.margins(0.18)
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("multiply-adds (G), batch 1")
    ax.set_title(f"{family}: multiply-adds against parameters", fontsize=9)
    fig.tight_layout()
    place_labels(fig, ax, points, [a.name for a in models])
    return _svg(plt, fig)
