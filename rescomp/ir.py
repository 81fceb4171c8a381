"""The graph IR: named nodes with an op, ordered inputs, attributes and their output shape, plus the
module tree the lowering built (model, stages, seqs, block instances, shortcuts).

The ordered ``inputs`` tuple on each node is the truth about operands, since a DiGraph has neither
edge order nor parallel edges (``add(x, x)``). Nodes are kept in insertion order, which the builder
makes topological (every input exists before its reader): that order is the inference schedule the
passes walk, in linear time. Each node carries its output shape and element type, set once at
lowering (like torch.fx's ``node.meta``); passes and backends read it and never re-infer it.

The module tree is the one truth about structure: every node belongs to exactly one
:class:`Container`, and a container's full name is its parent's plus its local name, so the dotted
node names, the emitted module's state_dict keys and the ONNX node names are one naming. Analysis by
stage, torch emission, drawings and reports walk this tree; none parses dotted names.

``Graph.g`` is the same graph as a ``networkx.DiGraph`` for graph algorithms; it is built on first
use, so that ``rescomp analyze`` does not pay networkx's import.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from rescomp.errors import Loc, SpecError

#: one part of a dotted node name: a layer name (identifier characters, single hyphens between
#: them, as torchvision's RegNet 'block1-0') or an index
_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*|[0-9]+")

Shape = tuple[int, ...]
#: what a container is: the whole model, a stage of repeated blocks, a seq, one block instance, or
#: the projection shortcut of a block
Kind = Literal["model", "stage", "seq", "block", "shortcut"]


@dataclass(frozen=True, slots=True)
class Node:
    """One IR node. ``name`` is hierarchical (``layer2.0.conv1``); ``loc`` points into the spec.
    ``shape`` is the output shape with the batch dimension and ``dtype`` its element type."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    loc: Loc | None = None
    shape: Shape = ()
    dtype: str = "float32"
    layout: str = ""  # the letters of the dimensions ("NCHW", "NHWC", "NLC", "NF"); "" for the rank's default

    @property
    def local(self) -> str:
        """The name inside its container (``conv1`` of ``layer2.0.conv1``)."""
        return self.name.rsplit(".", 1)[-1]


@dataclass(eq=False)
class Container:
    """A node of the module tree.

    ``children`` holds nodes and containers in creation order (which is schedule order).
    ``input``/``output`` are the node names the container reads and produces: every container has
    exactly one of each, so it can become one torch module. For a ``block`` instance, ``block`` is
    its definition's name, ``args`` the evaluated values of the definition's declared parameters (in
    declaration order), ``shortcut`` the local name of its shortcut child (a projection container or
    an option-A node; None for an identity shortcut or no residual) and ``residual`` the local name of
    the node that adds the shortcut to the body.
    """

    name: str
    local: str
    kind: Kind
    block: str | None = None
    args: Mapping[str, Any] = field(default_factory=dict)
    children: list[Node | Container] = field(default_factory=list)
    input: str = ""
    output: str = ""
    shortcut: str | None = None
    residual: str | None = None
    loc: Loc | None = None

    def prefix(self) -> str:
        """What this container's children's names start with."""
        return self.name + "." if self.name else ""

    def containers(self) -> Iterator[Container]:
        """This container and every container below it, parents first (iteratively)."""
        stack: list[Container] = [self]
        while stack:
            box = stack.pop()
            yield box
            stack.extend(reversed([c for c in box.children if isinstance(c, Container)]))

    def nodes(self) -> Iterator[Node]:
        """Every node below this container, in schedule order."""
        stack: list[Iterator[Node | Container]] = [iter(self.children)]
        while stack:
            for child in stack[-1]:
                if isinstance(child, Container):
                    stack.append(iter(child.children))
                    break
                yield child
            else:
                stack.pop()

    def child(self, local: str) -> Node | Container | None:
        return next((c for c in self.children if c.local == local), None)


class Graph:
    """A directed acyclic graph of :class:`Node` with one input and one output, and its module tree.

    The graph's input node belongs to no container (it is forward()'s argument); every other node
    is a child of exactly one container under :attr:`root`.
    """

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
        #: the module tree; ``containers`` indexes it by full name
        self.root = Container("", "", "model")
        self.containers: dict[str, Container] = {"": self.root}

    def add(self, node: Node, parent: Container | None = None) -> Node:
        """Append a node (as a child of ``parent``; None: the graph input, outside the tree). Its
        inputs must already be in the graph, so insertion order is topological."""
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
        if parent is not None:
            parent.children.append(node)
        elif self._nodes.keys() != {node.name}:
            raise AssertionError(f"node '{node.name}' has no container")  # only the input is outside the tree
        self.output = node.name
        self._nx = None
        return node

    def open(self, parent: Container, local: str, kind: Kind, **fields: Any) -> Container:
        """Create a container as the last child of ``parent``."""
        box = Container(parent.prefix() + local, local, kind, **fields)
        if box.name in self.containers or box.name in self._nodes:
            raise SpecError(f"duplicate name '{box.name}'", box.loc, node=box.name)
        parent.children.append(box)
        self.containers[box.name] = box
        return box

    def rewritten(self, alias: Mapping[str, str], attrs: Mapping[str, Mapping[str, Any]]) -> Graph:
        """A copy without the nodes in ``alias`` (each maps a removed node to the node its readers
        read instead) and with the attributes in ``attrs`` replaced; the module tree keeps its shape."""

        def target(name: str) -> str:
            while name in alias:
                name = alias[name]
            return name

        out = Graph(self.name)
        out.params, out.dtype = dict(self.params), self.dtype
        boxes = {id(self.root): out.root}
        for box in self.root.containers():
            new = boxes[id(box)]
            for child in box.children:
                if isinstance(child, Container):
                    boxes[id(child)] = out.open(
                        new,
                        child.local,
                        child.kind,
                        block=child.block,
                        args=child.args,
                        input=target(child.input),
                        output=target(child.output),
                        shortcut=child.shortcut,
                        residual=child.residual,
                        loc=child.loc,
                    )
            new.input, new.output = target(box.input), target(box.output)
        parent = {id(c): boxes[id(b)] for b in self.root.containers() for c in b.children}
        for node in self:
            if node.name in alias:
                continue
            new_attrs = attrs.get(node.name, node.attrs)
            inputs = tuple(target(i) for i in node.inputs)
            out.add(Node(node.name, node.op, inputs, new_attrs, node.loc, node.shape, node.dtype), parent.get(id(node)))
        for box in out.root.containers():  # a container emptied by the rewrite is dropped
            box.children = [c for c in box.children if not isinstance(c, Container) or any(c.nodes())]
        return out

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

    def shape(self, name: str) -> Shape:
        return self._nodes[name].shape

    def layout(self, name: str) -> str:
        """A node's output layout (:data:`rescomp.ops.base.LAYOUTS`)."""
        from rescomp.ops.base import default_layout

        node = self._nodes[name]
        return node.layout or default_layout(len(node.shape))

    def input_shapes(self, node: Node) -> list[Shape]:
        """The shapes of a node's operands, in order."""
        return [self._nodes[i].shape for i in node.inputs]

    def shapes(self) -> dict[str, Shape]:
        """Every node's output shape, by name (read from the nodes, never re-inferred)."""
        return {n.name: n.shape for n in self._nodes.values()}


def lint(graph: Graph) -> None:
    """Check the graph's invariants; raise a located :class:`SpecError` on the first violation.

    - names are unique and each dot-separated part is a layer name or an index, never a keyword;
    - every input is defined earlier in the schedule (so the schedule is topological) and the graph
      is acyclic;
    - exactly one input node, and every node contributes to the output;
    - every op is in the registry and every attribute is one the op declares;
    - every node but the input sits in exactly one container, under its container's name.
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
        inputs += op.arity == (0, 0)
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
    placed = 0
    for box in graph.root.containers():
        for child in box.children:
            if child.name != box.prefix() + child.local:
                raise AssertionError(f"'{child.name}' is not named after its container '{box.name}'")
            placed += isinstance(child, Node)
    if placed != len(graph) - 1:
        raise AssertionError(f"{len(graph) - 1 - placed} nodes are outside the module tree")
