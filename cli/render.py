"""Rich tables for the terminal. Figures are exact integers with a short human form beside them.

Numbers are never cut: numeric columns do not wrap, and a table too wide for the terminal first
moves each number's short form under it, then wraps the labels; only a table whose numbers alone do
not fit is printed wider than the terminal (which then folds the lines, every digit kept)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rescomp.passes import Analysis

PIPED_WIDTH = 120  # when stdout is not a terminal and COLUMNS is not set (rich's default would be 80)
LABEL_MIN = 10  # the narrowest a wrapped label column gets


def _columns_env() -> int | None:
    text = os.environ.get("COLUMNS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr). Its width is the terminal's, or COLUMNS when set, or 120 when
    piped. Styles and colours appear only on a terminal, and never with NO_COLOR set."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    width = None if tty or _columns_env() else PIPED_WIDTH
    return Console(
        file=sys.stderr if stderr else None,  # stdout is looked up at print time (pytest swaps it)
        highlight=False,
        soft_wrap=False,
        width=width,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        force_terminal=tty,  # piped output carries no escape codes, whatever FORCE_COLOR says
        emoji=False,
        markup=False,  # names, notes and install lines ('rescomp[onnx]') are text, never rich markup
    )


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def needed_width(table: Table) -> int:
    """The narrowest the table can be drawn with every no-wrap cell whole (other columns at
    :data:`LABEL_MIN` or their longest word)."""
    total = 0
    for column in table.columns:
        lines = [line for cell in [column.header, *column.cells] for line in _plain(cell).splitlines()]
        if column.no_wrap:
            width = max((cell_len(x) for x in lines), default=1)
        else:
            words = [w for line in lines for w in line.split()]
            width = min(LABEL_MIN, max((cell_len(w) for w in words), default=1))
        total += max(width, column.min_width or 0) + 2  # padding
    return total + len(table.columns) + 1  # borders


def print_table(out: Console, *candidates: Callable[[], Table]) -> None:
    """Print the first table that fits the console's width; if none does, the last one at the width
    its numbers need (the terminal folds the lines; no digit is cut)."""
    for make in candidates:
        table = make()
        need = needed_width(table)
        if need <= out.width or make is candidates[-1]:
            width = out.width
            out.width = max(width, need)  # print() itself never goes past the console's width
            try:
                out.print(table)
            finally:
                out.width = width
            return


def number_column(table: Table, header: str, style: str | None = None) -> None:
    table.add_column(Text(header), justify="right", no_wrap=True, style=style)


def label_column(table: Table, header: str) -> None:
    table.add_column(Text(header), overflow="fold", min_width=min(LABEL_MIN, len(header)))


@contextlib.contextmanager
def progress(total: int, what: str) -> Iterator[Callable[[str], None]]:
    """A progress bar with counts on stderr (``report 3/30 resnet50``), on a terminal only: silent in
    CI, pipes and files. ``step(text)`` marks one item done and names the next."""
    if not sys.stderr.isatty() or total <= 0:
        yield lambda text: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}", markup=False),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("", total=total)
        started = [False]

        def step(text: str) -> None:
            if started[0]:
                bar.advance(task)
            started[0] = True
            bar.update(task, description=text)

        yield step


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


#: the summary's labels on a narrow terminal
SHORT_LABELS = {
    "depth (conv+fc on longest path)": "depth",
    "FLOPs (full)": "FLOPs",
    "activations, peak live": "act. peak",
    "activations, all outputs": "act. all",
}


def summary_table(results: Sequence[Analysis], titles: Sequence[str] | None = None, compact: bool = False) -> Table:
    """The side-by-side summary. ``titles``: the column headers (default: the model names).
    ``compact``: each number's short form on its own line, for narrow terminals."""
    titles = list(titles or [a.name for a in results])
    table = Table(title=Text("rescomp analysis"), title_justify="left", caption_justify="left")
    label_column(table, "metric")
    for i, title in enumerate(titles):
        number_column(table, title)
        if i:
            number_column(table, f"/ {results[0].name}", style="dim")
    sep = "\n" if compact else " "

    def row(label: str, values: list[tuple[float, str]]) -> None:
        cells = [Text(SHORT_LABELS.get(label, label) if compact else label)]
        for i, (raw, text) in enumerate(values):
            cells.append(Text(text))
            if i:
                base = values[0][0]
                cells.append(Text(f"{raw / base:.1%}" if base else "-"))
        table.add_row(*cells)

    row("input", [(0, shape(a.input)) for a in results])
    row("output", [(0, shape(a.output)) for a in results])
    row("depth (conv+fc on longest path)", [(a.depth, str(a.depth)) for a in results])
    row("params", [(a.params, f"{a.params:,}{sep}({si(a.params)})") for a in results])
    row("buffers", [(a.buffers, f"{a.buffers:,}") for a in results])
    row("MACs", [(a.macs, f"{a.macs:,}{sep}({si(a.macs)})") for a in results])
    row("FLOPs (full)", [(a.flops, f"{a.flops:,}{sep}({si(a.flops)})") for a in results])
    row("weights", [(a.weights_bytes, f"{mib(a.weights_bytes)}{sep}{a.dtype}") for a in results])
    row("activations, peak live", [(a.activation_bytes_peak, mib(a.activation_bytes_peak)) for a in results])
    row("activations, all outputs", [(a.activation_bytes_total, mib(a.activation_bytes_total)) for a in results])
    caption = [f"{title}: {_settings(a)}" for a, title in zip(results, titles, strict=True) if _settings(a)]
    if caption:
        table.caption = Text("\n".join(caption))
    return table


def layer_table(a: Analysis, title: str | None = None) -> Table:
    table = Table(title=Text(f"{title or a.name}: layers"), title_justify="left")
    label_column(table, "name")
    label_column(table, "op")
    number_column(table, "output")
    for col in ("params", "MACs", "FLOPs"):
        number_column(table, col)
    for x in a.layers:
        table.add_row(Text(x.name), Text(x.op), shape(x.output), f"{x.params:,}", f"{x.macs:,}", f"{x.flops:,}")
    table.add_row("total", "", shape(a.output), f"{a.params:,}", f"{a.macs:,}", f"{a.flops:,}", style="bold")
    return table


def stage_table(a: Analysis, title: str | None = None) -> Table:
    table = Table(title=Text(f"{title or a.name}: by stage"), title_justify="left")
    label_column(table, "stage")
    for col in ("layers", "output", "params", "MACs", "MACs %", "FLOPs"):
        number_column(table, col)
    for s in a.stages():
        share = f"{s.macs / a.macs:.1%}" if a.macs else "-"
        table.add_row(
            Text(s.name), str(s.layers), shape(s.output), f"{s.params:,}", f"{s.macs:,}", share, f"{s.flops:,}"
        )
    return table


def paper_line(resnet: Analysis, vgg: Analysis) -> str:
    return (
        f"ResNet-34 needs {resnet.macs / 1e9:.2f} G multiply-adds, VGG-19 {vgg.macs / 1e9:.2f} G: "
        f"{resnet.macs / vgg.macs:.1%} of VGG-19 (paper: 3.6 G vs 19.6 G, 'only 18%')."
    )


def conventions_note() -> Text:
    return Text(
        "MACs: multiply-accumulates of conv, linear and attention layers, no bias (the paper's 'FLOPs', "
        "torchvision's 'GFLOPS').\nFLOPs: 2 per MAC plus bias, BN, activations, products, adds and pooling "
        "(docs/conventions.md).",
        style="dim",
    )
