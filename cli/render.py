"""Rich tables for the terminal. Figures are exact integers with a short human form beside them."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from rescomp.passes import Analysis


def console() -> Console:
    """stdout console; when piped (CI logs, files) tables get 120 columns instead of rich's 80."""
    import sys

    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def si(n: float, unit: str = "") -> str:
    """3_663_761_408 -> '3.66 G'."""
    for div, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.2f} {prefix}{unit}"
    return f"{n:g} {unit}".rstrip()


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def shape(s: Sequence[int]) -> str:
    return "x".join(map(str, s))


def _settings(a: Analysis) -> str:
    shown = {k: v for k, v in a.settings.items() if isinstance(v, (int, float, str, bool))}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def summary_table(results: Sequence[Analysis]) -> Table:
    first = results[0]
    table = Table(title="rescomp analysis", title_justify="left")
    table.add_column("metric")
    for i, a in enumerate(results):
        table.add_column(a.name, justify="right")
        if i:
            table.add_column(f"/ {first.name}", justify="right", style="dim")

    def row(label: str, values: list[tuple[float, str]]) -> None:
        cells = [label]
        for i, (raw, text) in enumerate(values):
            cells.append(text)
            if i:
                base = values[0][0]
                cells.append(f"{raw / base:.1%}" if base else "-")
        table.add_row(*cells)

    row("input", [(0, shape(a.input)) for a in results])
    row("output", [(0, shape(a.output)) for a in results])
    row("depth (conv+fc on longest path)", [(a.depth, str(a.depth)) for a in results])
    row("params", [(a.params, f"{a.params:,} ({si(a.params)})") for a in results])
    row("buffers", [(a.buffers, f"{a.buffers:,}") for a in results])
    row("MACs", [(a.macs, f"{a.macs:,} ({si(a.macs)})") for a in results])
    row("FLOPs (full)", [(a.flops, f"{a.flops:,} ({si(a.flops)})") for a in results])
    row("weights", [(a.weights_bytes, f"{mib(a.weights_bytes)} {a.dtype}") for a in results])
    row("activations, peak live", [(a.activation_bytes_peak, mib(a.activation_bytes_peak)) for a in results])
    row("activations, all outputs", [(a.activation_bytes_total, mib(a.activation_bytes_total)) for a in results])
    for a in results:
        if _settings(a):
            table.caption = (table.caption + "\n" if table.caption else "") + f"{a.name}: {_settings(a)}"
    return table


def layer_table(a: Analysis) -> Table:
    table = Table(title=f"{a.name}: layers", title_justify="left")
    for col, just in (
        ("name", "left"),
        ("op", "left"),
        ("output", "left"),
        ("params", "right"),
        ("MACs", "right"),
        ("FLOPs", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for x in a.layers:
        table.add_row(x.name, x.op, shape(x.output), f"{x.params:,}", f"{x.macs:,}", f"{x.flops:,}")
    table.add_row("total", "", shape(a.output), f"{a.params:,}", f"{a.macs:,}", f"{a.flops:,}", style="bold")
    return table


def stage_table(a: Analysis) -> Table:
    table = Table(title=f"{a.name}: by stage", title_justify="left")
    for col, just in (
        ("stage", "left"),
        ("layers", "right"),
        ("output", "left"),
        ("params", "right"),
        ("MACs", "right"),
        ("MACs %", "right"),
        ("FLOPs", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for s in a.stages():
        share = f"{s.macs / a.macs:.1%}" if a.macs else "-"
        table.add_row(s.name, str(s.layers), shape(s.output), f"{s.params:,}", f"{s.macs:,}", share, f"{s.flops:,}")
    return table


def paper_line(resnet: Analysis, vgg: Analysis) -> str:
    return (
        f"ResNet-34 needs {resnet.macs / 1e9:.2f} G multiply-adds, VGG-19 {vgg.macs / 1e9:.2f} G: "
        f"{resnet.macs / vgg.macs:.1%} of VGG-19 (paper: 3.6 G vs 19.6 G, 'only 18%')."
    )


def conventions_note() -> str:
    return (
        "[dim]MACs: multiply-accumulates of conv and linear layers, bias excluded (the paper's 'FLOPs', "
        "torchvision's 'GFLOPS'). FLOPs: 2 per MAC plus bias, BN, activations, products, adds and pooling "
        "(docs/conventions.md).[/dim]"
    )
