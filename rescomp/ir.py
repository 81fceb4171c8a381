"""The graph IR: named nodes with an op, ordered inputs and attributes, with a networkx DiGraph view.

The ordered ``inputs`` tuple on each node is the truth about operands, since a DiGraph has neither
edge order nor parallel edges (``add(x, x)``). Nodes are kept in insertion order, which the builder
makes topological (every input exists before its reader): that order is the inference schedule the
passes walk, in linear time. ``Graph.g`` is the same graph as a ``networkx.DiGraph`` for graph
algorithms; it is built on first use, so that ``rescomp analyze`` does not pay networkx's import.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rescomp.errors import Loc, SpecError

_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")


@dataclass(frozen=True, slots=True)
class Node:
    """One IR node. ``name`` is hierarchical (``layer2.0.conv1``); ``loc`` points into the spec."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    loc: Loc | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """A named container the lowering made: a ``stage``, a ``seq``, a ``block`` instance (with its
    evaluated arguments) or a ``projection`` shortcut. Backends use it to emit hierarchical code."""

    kind: str
    block: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)


class Graph:
    """A directed acyclic graph of :class:`Node` with one input and one output."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._nodes: dict[str, Node] = {}
        self._consumers: dict[str, list[str]] = {}
        self._nx: Any = None
        self.output: str | None = None
        #: the resolved spec parameters this graph was built with (after --set)
        self.params: dict[str, Any] = {}
        #: element type of weights and activations, for byte counts
        self.dtype = "float32"
        #: containers by full name (``layer1``, ``layer1.0``, ``layer1.0.downsample``), in creation order
        self.scopes: dict[str, Scope] = {}

    def add(self, node: Node) -> Node:
        """Append a node; its inputs must already be in the graph (so insertion order is topological)."""
        if node.name in self._nodes:
            raise SpecError(
                f"duplicate node name '{node.name}'",
                node.loc,
                node=node.name,
                hint="give each layer a unique name in its scope",
            )
        for src in node.inputs:
            if src not in self._nodes:
                raise SpecError(f"input '{src}' is not defined before this node", node.loc, node=node.name)
        self._nodes[node.name] = node
        self._consumers[node.name] = []
        for src in dict.fromkeys(node.inputs):
            self._consumers[src].append(node.name)
        self.output = node.name
        self._nx = None
        return node

    @property
    def g(self) -> Any:
        """The graph as a ``networkx.DiGraph`` (node names; an edge per distinct operand), built on demand."""
        if self._nx is None:
            import networkx as nx

            g = nx.DiGraph()
            g.add_nodes_from(self._nodes)
            g.add_edges_from((src, n.name) for n in self._nodes.values() for src in n.inputs)
            self._nx = g
        return self._nx

    def __getitem__(self, name: str) -> Node:
        return self._nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self._nodes

    def __iter__(self) -> Iterator[Node]:
        """Nodes in schedule (insertion, topological) order."""
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    @property
    def input(self) -> str:
        return next(iter(self._nodes))

    def consumers(self, name: str) -> list[str]:
        """The nodes that read ``name``, in schedule order."""
        return list(self._consumers[name])


def lint(graph: Graph) -> None:
    """Check the graph's invariants; raise a located :class:`SpecError` on the first violation.

    - names are unique and each dot-separated part is an identifier or an index, never a keyword;
    - every input is defined earlier in the schedule (so the schedule is topological) and the graph
      is acyclic;
    - exactly one input node, and every node contributes to the output;
    - every op is in the registry and every attribute is one the op declares.
    """
    from rescomp.ops import REGISTRY

    seen: set[str] = set()
    inputs = 0
    for node in graph:
        for part in node.name.split("."):
            if not _PART.fullmatch(part) or keyword.iskeyword(part):
                raise SpecError(f"node name '{node.name}' is not a safe identifier path", node.loc, node=node.name)
        op = REGISTRY.get(node.op)
        if op is None:
            raise SpecError(f"unknown op '{node.op}'", node.loc, node=node.name)
        unknown = set(node.attrs) - set(op.attrs)
        if unknown:
            raise SpecError(f"op '{node.op}' has no attribute '{sorted(unknown)[0]}'", node.loc, node=node.name)
        lo, hi = op.arity
        if len(node.inputs) < lo or (hi is not None and len(node.inputs) > hi):
            raise SpecError(
                f"op '{node.op}' takes {lo}{'+' if hi is None else ''} inputs, got {len(node.inputs)}",
                node.loc,
                node=node.name,
            )
        for src in node.inputs:
            if src not in seen:
                raise SpecError(
                    f"input '{src}' is used before it is defined (a cycle or a forward reference)",
                    node.loc,
                    node=node.name,
                )
        inputs += node.op == "input"
        seen.add(node.name)
    if inputs != 1:
        raise SpecError(f"the graph needs exactly one input node, found {inputs}")
    # every input precedes its reader in the schedule (checked above), so the graph is acyclic
    if graph.output is None:
        raise SpecError("the graph is empty")
    live = {graph.output}
    stack = [graph.output]
    while stack:  # reverse reachability from the output, iteratively
        for src in graph[stack.pop()].inputs:
            if src not in live:
                live.add(src)
                stack.append(src)
    for node in graph:
        if node.name not in live:
            raise SpecError(
                f"layer '{node.name}' does not contribute to the output",
                node.loc,
                node=node.name,
                hint="merge its branch with 'add' or 'concat', or remove it",
            )
