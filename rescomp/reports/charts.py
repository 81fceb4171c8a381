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


def receptive_chart(a: Analysis) -> bytes:
    """Receptive field (input rows) at each stage's output, against the input size."""
    plt, fig = _figure(4.5, 2.6)
    stages = a.stages()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([s.name for s in stages], [s.receptive_field for s in stages], marker="o", color="#2e8b57")
    ax.axhline(a.input[2], color="#999999", linestyle="--", linewidth=0.8)
    ax.text(0, a.input[2], f" input height {a.input[2]}", va="bottom", fontsize=7, color="#666666")
    ax.set_ylabel("receptive field (rows)")
    ax.set_title(f"{a.name}: receptive field per stage", fontsize=9)
    ax.tick_params(axis="x", rotation=45)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    fig.tight_layout()
    return _svg(plt, fig)


def library_chart(models: Sequence[Analysis], families: Sequence[str]) -> bytes:
    """Multiply-adds against parameters for every bundled spec (log-log), one colour per family with
    a legend instead of per-point labels, so it stays readable with many models (the per-family
    charts, :func:`family_chart`, label each point)."""
    plt, fig = _figure(7.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    palette = plt.get_cmap("tab20").colors
    order = list(dict.fromkeys(families))
    for i, family in enumerate(order):
        members = [a for a, f in zip(models, families, strict=True) if f == family]
        ax.scatter(
            [a.params / 1e6 for a in members],
            [a.macs / 1e9 for a in members],
            s=22,
            color=palette[i % len(palette)],
            marker="osD^v<>ph*"[i // len(palette) % 10],
            label=f"{family} ({len(members)})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("multiply-adds (G), batch 1, default input")
    ax.set_title("bundled specs: multiply-adds against parameters", fontsize=9)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    return _svg(plt, fig)


def family_chart(family: str, models: Sequence[Analysis]) -> bytes:
    """Multiply-adds against parameters for one family, each model labelled."""
    plt, fig = _figure(5.0, 3.2)
    ax = fig.add_subplot(1, 1, 1)
    for a in models:
        ax.scatter(a.params / 1e6, a.macs / 1e9, s=18, color="#4a7ab5")
        ax.annotate(a.name, (a.params / 1e6, a.macs / 1e9), fontsize=7, xytext=(4, 2), textcoords="offset points")
    if len(models) > 1:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("multiply-adds (G), batch 1")
    ax.set_title(f"{family}: multiply-adds against parameters", fontsize=9)
    fig.tight_layout()
    return _svg(plt, fig)
