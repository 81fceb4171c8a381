"""The architecture graph as SVG: Graphviz lays it out headlessly (``dot``), one box per layer with
its shape, parameters and MACs, skip connections drawn dashed, and each run of identical residual
blocks collapsed into one cluster marked "xN"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rescomp.errors import BackendUnavailable
from rescomp.ir import Container, Graph
from rescomp.ops import REGISTRY
from rescomp.passes import Analysis


@dataclass
class _Run:
    """Consecutive block instances with identical structure and shapes: drawn once, marked xN."""

    first: str
    last: str
    count: int


def _short(n: float) -> str:
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:g}"


def _pair(v: object) -> str:
    if isinstance(v, tuple | list) and len(v) == 2:
        return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"
    return str(v)


def _window(attrs: Mapping[str, object]) -> str:
    """'3x3 s2 g32' for a layer with a kernel (convolutions, pooling): kernel, then stride and groups
    where they are not 1, and dilation where it is."""
    if "kernel" not in attrs:
        return ""
    k = attrs["kernel"]
    parts = [f"{_pair(k)}x{_pair(k)}" if not isinstance(k, tuple | list) or k[0] == k[1] else _pair(k)]
    if attrs.get("stride") not in (None, 1, (1, 1)):
        parts.append(f"s{_pair(attrs['stride'])}")
    if attrs.get("groups") not in (None, 1):
        parts.append(f"g{attrs['groups']}")
    if attrs.get("dilation") not in (None, 1, (1, 1)):
        parts.append(f"d{_pair(attrs['dilation'])}")
    return " ".join(parts)


def block_runs(graph: Graph, analysis: Analysis) -> dict[str, _Run]:
    """Block instance name -> the run it belongs to, for runs of two or more identical consecutive
    blocks of one container (read from the module tree)."""
    layers = {x.name: x for x in analysis.layers}

    def signature(block: Container) -> tuple[object, ...]:
        prefix = len(block.name) + 1
        # what the drawing shows of each layer: its name, op, shape, parameters and MACs (attributes
        # that change neither, such as a per-block stochastic-depth probability, do not split a run)
        return tuple(
            (n.name[prefix:], n.op, layers[n.name].output, layers[n.name].params, layers[n.name].macs)
            for n in block.nodes()
        )

    runs: dict[str, _Run] = {}
    for box in graph.root.containers():
        blocks = [c for c in box.children if isinstance(c, Container) and c.kind == "block"]
        sigs = [signature(b) for b in blocks]
        i = 0
        while i < len(blocks):
            j = i
            while j + 1 < len(blocks) and sigs[j + 1] == sigs[i]:
                j += 1
            if j > i:
                run = _Run(blocks[i].name, blocks[j].name, j - i + 1)
                for b in blocks[i : j + 1]:
                    runs[b.name] = run
            i = j + 1
    return runs


def _collapsed(graph: Graph, runs: dict[str, _Run]) -> dict[str, str]:
    """Node name -> the outermost block instance of a run that holds it."""
    out: dict[str, str] = {}
    stack = [graph.root]
    while stack:
        box = stack.pop()
        for child in box.children:
            if isinstance(child, Container):
                if child.name in runs:
                    out.update((n.name, child.name) for n in child.nodes())
                else:
                    stack.append(child)
    return out


def dot_source(graph: Graph, analysis: Analysis) -> str:
    """The Graphviz DOT text of the collapsed architecture graph."""
    import graphviz

    layers = {x.name: x for x in analysis.layers}
    runs = block_runs(graph, analysis)
    block_of = _collapsed(graph, runs)

    def shown(name: str) -> str:
        """The node drawn for ``name``: its counterpart in the first block of its run."""
        b = block_of.get(name)
        if b is None:
            return name
        return runs[b].first + name[len(b) :]

    dot = graphviz.Digraph(
        graph.name,
        graph_attr={"rankdir": "TB", "fontname": "Helvetica", "fontsize": "10", "nodesep": "0.25", "ranksep": "0.3"},
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fontname": "Helvetica",
            "fontsize": "9",
            "margin": "0.08,0.03",
        },
        edge_attr={"arrowsize": "0.6"},
    )
    clusters: dict[str, graphviz.Digraph] = {}
    drawn: set[str] = set()
    for node in graph:
        name = shown(node.name)
        if name in drawn:
            continue
        drawn.add(name)
        x = layers[node.name]
        shape = "x".join(map(str, x.output))  # with the batch, as in every table and the JSON
        window = _window(node.attrs)
        label = f"{name}\n{node.op}{' ' + window if window else ''} → {shape}"
        if x.params or x.macs:
            label += f"\n{_short(x.params)} params · {_short(x.macs)} MACs"
        owner = block_of.get(node.name)
        target = dot
        if owner is not None:
            run = runs[owner]
            if run.first not in clusters:
                title = f"{run.first} … {run.last}  ×{run.count}"
                clusters[run.first] = graphviz.Digraph(
                    f"cluster_{run.first}",
                    graph_attr={
                        "label": title,
                        "style": "dashed",
                        "color": "#888888",
                        "fontname": "Helvetica",
                        "fontsize": "10",
                    },
                )
            target = clusters[run.first]
        target.node(name, label, fillcolor=REGISTRY[node.op].color)
    for c in clusters.values():
        dot.subgraph(c)
    seen: set[tuple[str, str]] = set()
    for node in graph:
        for src in dict.fromkeys(node.inputs):
            if (
                block_of.get(src)
                and block_of.get(node.name)
                and block_of[src] != block_of[node.name]
                and runs[block_of[src]] is runs[block_of[node.name]]
            ):
                continue  # inside a collapsed run: the edge from one copy to the next is not drawn
            u, v = shown(src), shown(node.name)
            if (u, v) in seen or u == v:
                continue
            seen.add((u, v))
            skip = REGISTRY[node.op].category == "merge" and len(node.inputs) > 1 and src != node.inputs[0]
            dot.edge(u, v, **({"style": "dashed", "color": "#c0392b", "constraint": "true"} if skip else {}))
    return dot.source


def render_svg(graph: Graph, analysis: Analysis) -> bytes:
    """Lay out and render the graph with Graphviz's ``dot`` (a system program: apt install graphviz)."""
    import graphviz

    try:
        return graphviz.Source(dot_source(graph, analysis)).pipe(format="svg")
    except graphviz.ExecutableNotFound:
        raise BackendUnavailable(
            "drawing the architecture graph needs Graphviz's 'dot' program",
            hint="apt-get install graphviz (Debian/Ubuntu) or brew install graphviz",
        ) from None
