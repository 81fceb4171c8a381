"""PyTorch source from the IR: one readable, deterministic Python file that imports only torch.

The IR's hierarchical names give the module tree: stages and seqs become ``nn.Sequential`` where
their layers form a chain, and every block definition becomes a class, like hand-written code
(torchvision's ``BasicBlock`` and ``Bottleneck``). Instances of a block that differ only in numbers
share a class; the numbers that vary become constructor parameters, named after the block's own
parameters where they match (``width``, ``stride``), ``in_channels`` where they are the input
width, and after the layer otherwise. The shortcut of a residual block is passed in by the parent
as ``downsample`` (projection) or ``shortcut`` (option A), ``None`` where it is the identity, as in
torchvision; so the state_dict keys are the IR names, and torchvision checkpoints load as they are.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rescomp import __version__
from rescomp.backends.names import check_attribute, class_name, variable
from rescomp.errors import SpecError, one_line
from rescomp.ir import Graph, Node
from rescomp.ops import REGISTRY, Shape
from rescomp.ops.base import KEYWORD, POSITIONAL
from rescomp.passes.shapes import infer_shapes

LINE = 100  # wrap generated lines longer than this
SHORTCUT_MEMBERS = ("downsample", "shortcut")

#: renders one constructor value: (value, label, torch default) -> text, or None to leave it out
Slot = Callable[[Any, str, Any], "str | None"]


# --- the module tree -------------------------------------------------------------------------


@dataclass
class Box:
    """A container: the model, a stage, a seq, a block instance or a projection shortcut."""

    full: str
    local: str
    kind: str
    block: str | None
    args: Mapping[str, Any]
    children: list[Child] = field(default_factory=list)
    input: str = ""
    output: str = ""
    nodes: set[str] = field(default_factory=set)


@dataclass
class Child:
    local: str
    node: Node | None = None
    box: Box | None = None

    @property
    def value(self) -> str:
        return self.node.name if self.node is not None else self.box.output  # type: ignore[union-attr]

    @property
    def loc(self) -> Any:
        return self.node.loc if self.node is not None else None


def build_tree(graph: Graph) -> Box:
    """Group the IR's nodes into containers by their dotted names."""
    root = Box("", "", "model", None, {})
    boxes = {"": root}
    for node in graph:
        if node.op == "input":
            continue
        parts = node.name.split(".")
        parent = root
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            box = boxes.get(prefix)
            if box is None:
                scope = graph.scopes.get(prefix)
                kind = scope.kind if scope else "seq"
                box = Box(prefix, parts[i - 1], kind, scope.block if scope else None, scope.args if scope else {})
                boxes[prefix] = box
                parent.children.append(Child(parts[i - 1], box=box))
            parent = box
        parent.children.append(Child(parts[-1], node=node))
    _wire(root, graph)
    return root


def _wire(box: Box, graph: Graph) -> None:
    for child in box.children:
        if child.box is not None:
            _wire(child.box, graph)
            box.nodes |= child.box.nodes
        else:
            box.nodes.add(child.value)
    outside = {i for n in box.nodes for i in graph[n].inputs if i not in box.nodes}
    escaping = [n for n in box.nodes if n == graph.output or any(c not in box.nodes for c in graph.consumers(n))]
    if box.full == "":
        box.input, box.output = graph.input, graph.output or ""
        return
    where = graph[next(iter(sorted(box.nodes)))]
    if len(outside) != 1 or len(escaping) != 1:
        raise SpecError(
            f"'{box.full}' reads {len(outside)} outer values and exposes {len(escaping)}; "
            "a container must have one input and one output to become a torch module",
            where.loc,
            node=box.full,
            hint="merge branches inside the container, or refer only to its last layer from outside",
        )
    box.input, box.output = outside.pop(), escaping[0]


def is_chain(box: Box, graph: Graph) -> bool:
    """A container whose layers each read the previous one: an ``nn.Sequential``."""
    if box.kind not in ("seq", "stage", "projection"):
        return False
    previous = box.input
    for child in box.children:
        if child.node is not None:
            if REGISTRY[child.node.op].functional:
                return False  # add and concat are expressions, not modules
            reads = child.node.inputs
        else:
            reads = (child.box.input,)  # type: ignore[union-attr]
        if reads != (previous,):
            return False
        previous = child.value
    return previous == box.output


# --- rendering of constructor expressions --------------------------------------------------------


@dataclass
class Call:
    func: str
    args: list[tuple[str | None, Call | str]]

    def one_line(self) -> str:
        parts = [
            (f"{k}={v.one_line() if isinstance(v, Call) else v}" if k else (v.one_line() if isinstance(v, Call) else v))
            for k, v in self.args
        ]
        return f"{self.func}({', '.join(parts)})"

    def format(self, indent: int, lead: int) -> str:
        """Black-like: one line if it fits, else one argument per line with a trailing comma."""
        flat = self.one_line()
        if lead + len(flat) <= LINE:
            return flat
        pad = " " * (indent + 4)
        lines = [f"{self.func}("]
        for k, v in self.args:
            head = f"{k}=" if k else ""
            text = v.format(indent + 4, indent + 4 + len(head)) if isinstance(v, Call) else v
            lines.append(f"{pad}{head}{text},")
        lines.append(" " * indent + ")")
        return "\n".join(lines)


def literal(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def _annotation(values: list[Any]) -> str:
    v = values[0]
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, tuple):
        return "tuple[int, int]" if all(isinstance(x, tuple) for x in values) else "int | tuple[int, int]"
    return "object"


@dataclass
class Group:
    """Block instances that share one generated class."""

    block: str
    instances: list[Box]
    cls: str = ""
    member: str | None = None  # 'downsample' or 'shortcut' where some instance has one
    member_key: tuple[str, str | None] | None = None  # (member, the layer it reads)
    optional: bool = False
    params: list[tuple[str, int]] = field(default_factory=list)  # (name, representative slot)
    slot_names: dict[int, str] = field(default_factory=dict)
    source: str = ""


class _Emitter:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.shapes: dict[str, Shape] = infer_shapes(graph)
        self.class_names: set[str] = set()
        self.groups: dict[str, Group] = {}
        self.group_of: dict[str, Group] = {}
        self.plain: dict[str, str] = {}  # box.full -> class name of a non-chain container
        self.sources: list[str] = []
        self.uses_pad = False

    # expressions ---------------------------------------------------------------------------
    def leaf_call(self, node: Node, slot: Slot) -> Call | None:
        made = REGISTRY[node.op].torch_module(node.attrs, [self.shapes[i] for i in node.inputs])
        if made is None:
            return None
        func, args = made
        if func == "PadShortcut":
            self.uses_pad = True
        local = node.name.rsplit(".", 1)[-1]
        out: list[tuple[str | None, Call | str]] = []
        for key, value, default in args:
            text = slot(value, f"{local}_{key}", default)
            if text is not None:
                out.append((None if default is POSITIONAL else key, text))
        return Call(func, out)

    def box_call(self, box: Box, slot: Slot) -> Call:
        if box.kind == "block":
            group = self.group_of[box.full]
            values = self.instance_values(box)
            args: list[tuple[str | None, Call | str]] = [
                (name, slot(values[i][0], name, KEYWORD) or "") for name, i in group.params
            ]
            member = shortcut_child(box)
            if member is not None:
                args.append((group.member, self.child_call(member, slot)))  # type: ignore[arg-type]
            return Call(group.cls, args)
        if is_chain(box, self.graph):
            return Call("nn.Sequential", [(None, self.child_call(c, slot)) for c in box.children])
        return Call(self.plain[box.full], [])

    def child_call(self, child: Child, slot: Slot) -> Call:
        if child.node is not None:
            call = self.leaf_call(child.node, slot)
            assert call is not None
            return call
        return self.box_call(child.box, slot)  # type: ignore[arg-type]

    def init_lines(self, box: Box, slot: Slot) -> list[str]:
        """``self.name = ...`` for every module child (the shortcut member excluded)."""
        lines = []
        for child in box.children:
            if box.kind == "block" and child.local in SHORTCUT_MEMBERS:
                continue
            check_attribute(child.local, child.node)
            if child.node is not None:
                call = self.leaf_call(child.node, slot)
                if call is None:
                    continue
            else:
                call = self.box_call(child.box, slot)  # type: ignore[arg-type]
            head = f"        self.{child.local} = "
            lines.append(head + call.format(8, len(head)))
        return lines

    def instance_values(self, box: Box) -> list[Any]:
        values: list[Any] = []

        def collect(value: Any, label: str, default: Any) -> str:
            values.append((value, default))
            return "{}"

        self.init_lines(box, collect)
        return values

    # forward() -----------------------------------------------------------------------------
    def forward_lines(self, box: Box, group: Group | None = None) -> list[str]:
        graph = self.graph
        member = shortcut_child(box) if group is not None else None
        consumers: dict[str, int] = {}
        for child in box.children:
            reads = child.node.inputs if child.node is not None else (child.box.input,)  # type: ignore[union-attr]
            for r in reads:
                consumers[r] = consumers.get(r, 0) + 1
        input_reused = consumers.get(box.input, 0) > 1 or (group is not None and group.member is not None)
        running = "out" if input_reused else "x"
        names: dict[str, str] = {box.input: "x"}
        if member is not None:
            names[member.value] = "identity"
        taken = {"x", "out", "identity"}
        lines: list[str] = []
        order = [c for c in box.children if c is not member]
        for i, child in enumerate(order):
            reads = child.node.inputs if child.node is not None else (child.box.input,)  # type: ignore[union-attr]
            args = [names[r] for r in reads]
            if "identity" in args and member is not None:
                src = names[member.box.input if member.box else member.node.inputs[0]]  # type: ignore[union-attr]
                call = f"self.{group.member}({src})"  # type: ignore[union-attr]
                if group.optional:  # type: ignore[union-attr]
                    lines.append(f"        identity = x if self.{group.member} is None else {call}")  # type: ignore[union-attr]
                else:
                    lines.append(f"        identity = {call}")
            nxt = order[i + 1] if i + 1 < len(order) else None
            single = consumers.get(child.value, 0) <= 1 and (
                nxt is None or child.value in (nxt.node.inputs if nxt.node else (nxt.box.input,))  # type: ignore[union-attr]
            )
            target = running if single and child.value != box.input else variable(child.local, taken)
            if child.value == box.output:
                target = running if single else target
            if child.node is not None and REGISTRY[child.node.op].functional:
                expr = REGISTRY[child.node.op].torch_expr(child.node.attrs, args)
            else:
                expr = f"self.{child.local}({', '.join(args)})"
            lines.append(f"        {target} = {expr}")
            names[child.value] = target
        lines.append(f"        return {names[box.output]}")
        del graph
        return lines

    # classes -------------------------------------------------------------------------------
    def prepare(self, box: Box) -> None:
        """Post-order: give every block instance a group and every non-chain container a class."""
        for child in box.children:
            if child.box is not None:
                self.prepare(child.box)
        if box.kind == "block":
            structure, member = self.signature(box)
            key = structure
            group = self.groups.get(key)
            while group is not None and member is not None and group.member_key not in (None, member):
                key += "'"  # same structure, another shortcut wiring: a class of its own
                group = self.groups.get(key)
            if group is None:
                group = Group(box.block or "block", [])
                suffix = "" if group.block.lower().endswith(("block", "bottleneck", "layer", "unit")) else "Block"
                group.cls = class_name(group.block, self.class_names, suffix)
                self.groups[key] = group
            group.instances.append(box)
            self.group_of[box.full] = group
            if member is not None:
                group.member, group.member_key = member[0], member
        elif box.full and not is_chain(box, self.graph):
            self.plain[box.full] = class_name(box.local, self.class_names)

    def signature(self, box: Box) -> tuple[str, tuple[str, str | None] | None]:
        """What must agree for two block instances to share a class: the module structure with every
        number abstracted, and the wiring. The shortcut member may be absent in some instances (the
        class takes it as an optional argument) but where present it must be the same."""
        member = shortcut_child(box)
        shape = "\n".join(self.init_lines(box, lambda v, label, default: "{}"))
        wiring = []
        for c in box.children:
            if c is member:
                continue
            reads = [_local(box, r) for r in (c.node.inputs if c.node else (c.box.input,))]  # type: ignore[union-attr]
            if c.node is not None and c.local == "add" and len(reads) == 2:
                reads[1] = "<shortcut>"  # the residual add: identity or the shortcut member, per instance
            wiring.append((c.local, c.node.op if c.node else c.box.kind, tuple(reads)))  # type: ignore[union-attr]
        src = None
        if member is not None:
            src = _local(box, member.box.input if member.box else member.node.inputs[0])  # type: ignore[union-attr]
        return f"{box.block}|{shape}|{wiring}", (member.local, src) if member else None

    def render_group(self, group: Group) -> None:
        pairs = [self.instance_values(b) for b in group.instances]  # (value, default) per slot
        vectors = [[v for v, _ in p] for p in pairs]
        n = len(vectors[0])
        clusters: dict[tuple[Any, ...], list[int]] = {}
        for i in range(n):
            key = tuple(v[i] for v in vectors)
            if len(set(map(repr, key))) > 1:
                clusters.setdefault(key, []).append(i)
        labels: list[str] = []

        def label_of(value: Any, label: str, default: Any) -> str:
            labels.append(label)
            return "{}"

        self.init_lines(group.instances[0], label_of)
        used: set[str] = {"self", "x"} | ({group.member} if group.member else set())
        for key, slots in clusters.items():
            name = self.param_name(group, key, labels[slots[0]], used)
            group.params.append((name, slots[0]))
            for s in slots:
                group.slot_names[s] = name
        group.optional = any(shortcut_child(b) is None for b in group.instances)
        rep = next((b for b in group.instances if shortcut_child(b) is not None), group.instances[0])
        counter = iter(range(n))

        def named(value: Any, label: str, default: Any) -> str | None:
            i = next(counter)
            if i in group.slot_names:
                return group.slot_names[i]
            if all(p[i][0] == p[i][1] for p in pairs):
                return None  # torch's default in every instance: leave it out
            return literal(value)

        body = self.init_lines(group.instances[0], named)
        sig = ["self"] + [f"{name}: {_annotation([v[i] for v in vectors])}" for name, i in group.params]
        if group.member:
            sig.append(f"{group.member}: nn.Module | None = None")
            body.append(f"        self.{group.member} = {group.member}")
        where = ", ".join(b.full for b in group.instances[:3]) + (", ..." if len(group.instances) > 3 else "")
        head = f"    def __init__({', '.join(sig)}) -> None:"
        if len(head) > LINE:
            head = "    def __init__(\n" + "".join(f"        {s},\n" for s in sig) + "    ) -> None:"
        doc = f"Block '{group.block}' of the spec ({len(group.instances)} in the model: {where})."
        self.sources.append(
            "\n".join(
                [
                    f"class {group.cls}(nn.Module):",
                    f'    """{doc}"""',
                    "",
                    head,
                    "        super().__init__()",
                    *body,
                    "",
                    "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                    *self.forward_lines(rep, group),
                ]
            )
        )

    def param_name(self, group: Group, key: tuple[Any, ...], label: str, used: set[str]) -> str:
        first = group.instances[0]
        candidates = [p for p in first.args if tuple(b.args.get(p) for b in group.instances) == key]
        channels = tuple(self.shapes[b.input][1] for b in group.instances)
        if not candidates and key == channels:
            candidates = ["in_channels"]
        candidates.append(label)
        for name in candidates:
            if name not in used and name.isidentifier():
                used.add(name)
                return name
        k = 2
        while f"{label}_{k}" in used:
            k += 1
        used.add(f"{label}_{k}")
        return f"{label}_{k}"

    def render_plain(self, box: Box, cls: str, doc: str, extra: list[str] | None = None) -> str:
        return "\n".join(
            [
                f"class {cls}(nn.Module):",
                f'    """{doc}"""',
                *(extra or []),
                "",
                "    def __init__(self) -> None:",
                "        super().__init__()",
                *self.init_lines(box, constant),
                "",
                "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                *self.forward_lines(box),
            ]
        )


def constant(value: Any, label: str, default: Any) -> str | None:
    """Slot renderer for classes with one instance: literals, torch defaults left out."""
    return None if value == default else literal(value)


def shortcut_child(box: Box) -> Child | None:
    if box.kind != "block":
        return None
    return next((c for c in box.children if c.local in SHORTCUT_MEMBERS), None)


def _local(box: Box, name: str) -> str:
    if name == box.input:
        return "<input>"
    prefix = box.full + "."
    return name[len(prefix) :] if name.startswith(prefix) else name


PAD_SHORTCUT = '''class PadShortcut(nn.Module):
    """The paper's option-A shortcut: subsample by `stride`, then zero-pad channels up to `out_channels`."""

    def __init__(self, stride: int, out_channels: int) -> None:
        super().__init__()
        self.stride = stride
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return nn.functional.pad(x, (0, 0, 0, 0, 0, self.out_channels - x.shape[1]))'''


@dataclass(frozen=True)
class Source:
    """Generated module source and the name of its model class."""

    text: str
    class_name: str
    filename: str


def emit_source(graph: Graph, *, origin: str = "", command: str = "") -> Source:
    """Generate the PyTorch module for ``graph``. ``origin`` and ``command`` go into the header."""
    emitter = _Emitter(graph)
    root = build_tree(graph)
    emitter.prepare(root)
    model_cls = class_name(graph.name, emitter.class_names)
    for group in emitter.groups.values():
        emitter.render_group(group)
    for full, cls in emitter.plain.items():
        box = _find(root, full)
        emitter.sources.append(emitter.render_plain(box, cls, f"Container '{full}' of the spec."))
    input_shape = emitter.shapes[graph.input]
    model = emitter.render_plain(
        root,
        model_cls,
        f"{graph.name}: generated by rescomp from its spec.",
        ["", f"    input_shape = {literal(input_shape[1:])}  # without the batch dimension"],
    )
    header = [
        f"# Generated by rescomp {__version__} from spec '{graph.name}'"
        + (f" ({comment_safe(origin)})." if origin else "."),
    ]
    settings = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in graph.params.items())
    if settings:
        header.append(f"# Parameters: {comment_safe(settings)}")
    if command:
        header.append(f"# Regenerate with: {comment_safe(command)}")
    header.append("# Imports torch only. Do not edit by hand: change the spec and regenerate.")
    wrap = {"initial_indent": "# ", "subsequent_indent": "#   ", "break_long_words": False, "break_on_hyphens": False}
    head = [
        *(textwrap.fill(h[2:], LINE, **wrap) for h in header),  # type: ignore[arg-type]
        f'"""{model_cls}: a PyTorch module generated by rescomp."""',
        "",
        "import torch",
        "from torch import nn",
    ]
    parts = ["\n".join(head), *([PAD_SHORTCUT] if emitter.uses_pad else []), *emitter.sources, model]
    text = "\n\n\n".join(parts) + "\n"
    return Source(text, model_cls, f"<rescomp:{graph.name}>")


def comment_safe(text: str) -> str:
    """Text for a '#' comment line: newlines and other control characters escaped, so no user-given
    string (a path, a --set value) can end the comment and become code."""
    return one_line(text)


def _find(root: Box, full: str) -> Box:
    stack = [root]
    while stack:
        box = stack.pop()
        if box.full == full:
            return box
        stack.extend(c.box for c in box.children if c.box is not None)
    raise KeyError(full)
