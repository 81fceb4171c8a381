"""PyTorch source from the IR: one readable, deterministic Python file that imports only torch.

One pass over the module tree the IR carries (:attr:`rescomp.ir.Graph.root`) describes every
container once: its module members as constructor templates whose numbers are slots. A container
whose children form a chain becomes an ``nn.Sequential``; every block instance and every other
container becomes a class, like hand-written code (torchvision's ``BasicBlock`` and ``Bottleneck``).

Block instances share a class when they have the same block definition and the same structure
(constructors with the numbers abstracted, wiring, and how the shortcut is wired). The numbers that
vary between a class's instances become constructor arguments, named after the block's declared
parameter with the same values (``width``, ``stride``), ``in_channels`` where they are the block
input's width, and after the layer otherwise. The shortcut member of a residual block is passed in
by the parent (``downsample=...``), ``None`` where the shortcut is the identity, as in torchvision.
Attribute paths are the tree's names, so the state_dict keys are the IR's node names and
torchvision checkpoints load as they are. Every identifier the emitter makes up comes from a
:class:`~rescomp.backends.names.Namespace`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rescomp import __version__
from rescomp.backends.names import Namespace, check_attribute, class_name
from rescomp.errors import one_line
from rescomp.ir import Container, Graph, Node
from rescomp.ops import REGISTRY
from rescomp.ops.base import POSITIONAL, Op
from rescomp.ops.base import channels as channels_of

LINE = 100  # wrap generated lines longer than this
SHORTCUT = "<shortcut>"  # the shortcut operand of a residual add, in wiring keys
INPUT = "<input>"  # a container's input, in wiring keys


# --- descriptions: constructors with their numbers as slots --------------------------------------


@dataclass(eq=False)
class Slot:
    """One number of a constructor call in one instance: its value and torch's default for it
    (or POSITIONAL / KEYWORD where it is always written)."""

    value: Any
    default: Any
    name: str  # the constructor's parameter (``out_channels``), for argument names


@dataclass(eq=False)
class Ctor:
    """One module constructor of an instance, numbers kept as slots.

    ``path`` names it relative to the class whose ``__init__`` builds it (``body_0``), for argument
    names. A block instance (``box`` set) is called with its class's parameters, known once its class
    is complete; its ``args`` hold only the shortcut member. ``names`` are the keys of an
    ``nn.Sequential`` built from an ``OrderedDict``. ``key`` is the structure: the constructor with
    every number abstracted.
    """

    func: str
    args: list[tuple[str | None, Slot | Ctor]]
    path: str
    key: Hashable = ()
    box: Container | None = None
    names: list[str] | None = None


@dataclass(eq=False)
class Desc:
    """A container that becomes a class instance: its members (attribute, constructor or None for
    an expression in forward(), the tree child) and, for a block, its shortcut member."""

    box: Container
    members: list[tuple[str, Ctor | None, Node | Container]]
    member: Node | Container | None = None


@dataclass(eq=False)
class Group:
    """Block instances that share one generated class."""

    block: str
    index: int
    instances: list[Desc] = field(default_factory=list)
    cls: str = ""
    member: str | None = None  # the shortcut member's attribute, where some instance has one
    member_key: tuple[str, str] | None = None  # (member, the layer it reads)
    params: list[tuple[str, int]] = field(default_factory=list)  # (argument, its first slot)


# --- rendering of constructor expressions --------------------------------------------------------


@dataclass
class Expr:
    """A call (or, with ``func`` empty, a bracketed tuple or list) laid out like black."""

    func: str
    args: list[tuple[str | None, Expr | str]]
    brackets: str = "()"

    def one_line(self) -> str:
        parts = [(f"{k}=" if k else "") + (v.one_line() if isinstance(v, Expr) else v) for k, v in self.args]
        return f"{self.func}{self.brackets[0]}{', '.join(parts)}{self.brackets[1]}"

    def format(self, indent: int, lead: int, tail: int = 0) -> str:
        """One line if it fits in ``LINE`` after ``lead`` columns and before ``tail`` more, else one
        argument per line with a trailing comma."""
        flat = self.one_line()
        if lead + len(flat) + tail <= LINE or not self.args:
            return flat
        pad = " " * (indent + 4)
        lines = [f"{self.func}{self.brackets[0]}"]
        for k, v in self.args:
            head = f"{k}=" if k else ""
            text = v.format(indent + 4, indent + 4 + len(head), 1) if isinstance(v, Expr) else v
            lines.append(f"{pad}{head}{text},")
        lines.append(" " * indent + self.brackets[1])
        return "\n".join(lines)


def literal(value: Any) -> str:
    """A Python literal for an attribute value (ints, finite floats, bools, strings, tuples)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, float) and not math.isfinite(value):
        raise AssertionError(f"non-finite attribute value {value}")  # attributes are validated finite
    return repr(value)


def _annotation(values: Sequence[Any]) -> str:
    v = values[0]
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "float" if any(isinstance(x, float) for x in values) else "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, tuple):
        return "tuple[int, int]" if all(isinstance(x, tuple) for x in values) else "int | tuple[int, int]"
    return "object"


def _join(path: str, local: str) -> str:
    return f"{path}_{local}" if path else local


def _is_default(slot: Slot) -> bool:
    return type(slot.value) is type(slot.default) and slot.value == slot.default


#: renders one slot of the class being written: its text, or None to leave the argument out
Text = Callable[[Slot], "str | None"]


def constant(slot: Slot) -> str | None:
    """Slot text for a class with one instance: literals, torch's defaults left out."""
    return None if _is_default(slot) else literal(slot.value)


# --- the emitter ----------------------------------------------------------------------------------


class _Emitter:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        helpers = [getattr(op, "torch_helper", None) for op in REGISTRY.values()]
        self.classes = Namespace(h[0] for h in helpers if h)  # module-level names: the classes
        self.groups: dict[Hashable, list[Group]] = {}
        self.group_list: list[Group] = []
        self.group_of: dict[str, Group] = {}  # block instance name -> its group
        self.plain: list[tuple[Desc, str]] = []  # other containers that are classes, and their class
        self.helpers: dict[str, str] = {}
        self.flat: dict[str, list[tuple[Slot, str]]] = {}  # block instance -> its slots, with labels
        self.uses_ordered_dict = False

    # one pass over the tree: describe every container, group block instances ------------------
    def describe(self, child: Node | Container, path: str) -> Ctor | None:
        """The constructor of one member, ``path`` naming it inside the class that builds it; None
        for an op that forward() computes as an expression."""
        if isinstance(child, Node):
            return self.leaf(child, path)
        box = child
        if box.kind == "block":
            return self.block(box, path)
        if box.kind != "model" and self.is_chain(box):
            parts = [(c.local, self.describe(c, _join(path, c.local))) for c in box.children]
            positional = [local for local, _ in parts] == [str(i) for i in range(len(parts))]
            for c in box.children:
                if not positional and not c.local.isdigit():
                    check_attribute(c.local, c)
            args: list[tuple[str | None, Slot | Ctor]] = [(None, ctor) for _, ctor in parts if ctor is not None]
            names = None if positional else [local for local, _ in parts]
            key = ("seq", tuple(names or ()), tuple(ctor.key for _, ctor in args if isinstance(ctor, Ctor)))
            return Ctor("nn.Sequential", args, path, key, names=names)
        desc = self.members(box, None)
        cls = class_name(box.local or self.graph.name, self.classes)
        self.plain.append((desc, cls))
        return Ctor(cls, [], path, ("class", cls))

    def leaf(self, node: Node, path: str) -> Ctor | None:
        op = REGISTRY[node.op]
        if op.functional:
            return None
        made = op.torch_module(node.attrs, self.graph.input_shapes(node))
        if made is None:
            raise AssertionError(f"op '{node.op}' has neither a torch module nor an expression")
        func, arguments = made
        helper = getattr(op, "torch_helper", None)
        if helper is not None and func == helper[0]:  # nn.LayerNorm needs no LayerNorm2d
            self.helpers[helper[0]] = helper[1]
        args: list[tuple[str | None, Slot | Ctor]] = [
            (None if default is POSITIONAL else key, Slot(value, default, key)) for key, value, default in arguments
        ]
        return Ctor(func, args, path, (func, tuple(k for k, _ in args)))

    def members(self, box: Container, skip: Node | Container | None) -> Desc:
        desc = Desc(box, [], skip)
        for c in box.children:
            if c is skip:
                continue
            ctor = self.describe(c, c.local)
            if ctor is not None and not c.local.isdigit():
                check_attribute(c.local, c)
            desc.members.append((c.local, ctor, c))
        return desc

    def block(self, box: Container, path: str) -> Ctor:
        member = box.child(box.shortcut) if box.shortcut is not None else None
        desc = self.members(box, member)
        args: list[tuple[str | None, Slot | Ctor]] = []
        member_key = None
        if member is not None:
            check_attribute(member.local, member)
            made = self.describe(member, _join(path, member.local))
            if made is None:
                raise AssertionError(f"the shortcut '{member.name}' is not a module")
            args.append((member.local, made))
            read = member.input if isinstance(member, Container) else member.inputs[0]
            member_key = (member.local, self.local_of(box, read))
        group = self.join(box, desc, member_key)
        return Ctor("", args, path, ("block", group.index, tuple(a.key for _, a in args if isinstance(a, Ctor))), box)

    def join(self, box: Container, desc: Desc, member_key: tuple[str, str] | None) -> Group:
        """The group of a block instance: the first of its structure whose shortcut wiring agrees."""
        key = (box.block, self.structure(desc))
        candidates = self.groups.setdefault(key, [])
        group = next((g for g in candidates if member_key is None or g.member_key in (None, member_key)), None)
        if group is None:
            group = Group(box.block or "block", len(self.group_list))
            block = group.block.lower()
            suffix = "" if block.endswith(("block", "bottleneck", "layer", "unit")) else "Block"
            group.cls = class_name(group.block, self.classes, suffix)
            candidates.append(group)
            self.group_list.append(group)
        group.instances.append(desc)
        if member_key is not None:
            group.member, group.member_key = member_key[0], member_key
        self.group_of[box.name] = group
        return group

    def structure(self, desc: Desc) -> Hashable:
        """Members with their numbers abstracted, and the wiring (the shortcut operand of the
        residual add abstracted: the identity or the shortcut member, per instance)."""
        box = desc.box
        short = (
            (desc.member.output if isinstance(desc.member, Container) else desc.member.name)
            if desc.member is not None
            else box.input
        )
        wiring = []
        for local, ctor, c in desc.members:
            reads = [self.local_of(box, r) for r in self.reads(c)]
            if local == box.residual:
                reads = [SHORTCUT if r == short else self.local_of(box, r) for r in self.reads(c)]
            what = ctor.key if ctor is not None else ("expr", c.op, repr(sorted(c.attrs.items())))  # type: ignore[union-attr]
            wiring.append((local, what, tuple(reads)))
        return (tuple(wiring), box.residual)

    @staticmethod
    def reads(c: Node | Container) -> tuple[str, ...]:
        return c.inputs if isinstance(c, Node) else (c.input,)

    @staticmethod
    def value(c: Node | Container) -> str:
        return c.name if isinstance(c, Node) else c.output

    def local_of(self, box: Container, name: str) -> str:
        if name == box.input:
            return INPUT
        prefix = box.prefix()
        rest = name[len(prefix) :] if name.startswith(prefix) else name
        return rest.split(".", 1)[0]  # the child that produces it

    def is_chain(self, box: Container) -> bool:
        """A container whose members each read the previous one: an ``nn.Sequential``."""
        previous = box.input
        for c in box.children:
            if isinstance(c, Node) and (
                REGISTRY[c.op].functional
                or REGISTRY[c.op].parameter
                or type(REGISTRY[c.op]).torch_call is not Op.torch_call
            ):
                # add and concat are expressions, a layer scale a parameter, attention is called with
                # (x, x, x): none is a module an nn.Sequential can call
                return False
            if self.reads(c) != (previous,):
                return False
            previous = self.value(c)
        return bool(box.children) and previous == box.output

    # slots and constructor arguments ----------------------------------------------------------
    def slots(self, desc: Desc) -> list[tuple[Slot, str]]:
        """An instance's slots in writing order, each with the label an argument would be named by."""
        out: list[tuple[Slot, str]] = []
        for _, ctor, _ in desc.members:
            if ctor is not None:
                self.walk(ctor, out)
        return out

    def walk(self, ctor: Ctor, out: list[tuple[Slot, str]]) -> None:
        if ctor.box is not None:
            inst = self.flat[ctor.box.name]
            for name, i in self.group_of[ctor.box.name].params:
                out.append((inst[i][0], _join(ctor.path, name)))
        for _, arg in ctor.args:
            if isinstance(arg, Slot):
                out.append((arg, _join(ctor.path, arg.name)))
            else:
                self.walk(arg, out)

    def finish(self, group: Group) -> tuple[Text, list[str]]:
        """Decide which slots become constructor arguments and name them (``group.params``); the
        slot renderer of the class and its signature. A group is finished after every group of the
        blocks inside it (they were grouped first), so their arguments are known."""
        for desc in group.instances:
            self.flat[desc.box.name] = self.slots(desc)
        vectors = [self.flat[d.box.name] for d in group.instances]
        rep = vectors[0]
        clusters: dict[tuple[str, ...], list[int]] = {}
        for i in range(len(rep)):
            key = tuple(repr(v[i][0].value) for v in vectors)
            if len(set(key)) > 1:
                clusters.setdefault(key, []).append(i)
        names = self.classes.child()
        if group.member is not None:
            names.claim(group.member)
        boxes = [d.box for d in group.instances]
        declared = list(boxes[0].args)
        channels = tuple(
            repr(channels_of(self.graph.shape(b.input), self.graph.layout(b.input)))
            if len(self.graph.shape(b.input)) > 1
            else ""
            for b in boxes
        )
        chosen: dict[tuple[str, ...], str] = {}
        for key in clusters:  # declared parameters first, so no layer label takes their name
            param = next((p for p in declared if tuple(repr(b.args.get(p)) for b in boxes) == key), None)
            if param is not None:
                chosen[key] = names.create(param)
        for key in clusters:
            if key not in chosen and key == channels:
                chosen[key] = names.create("in_channels")
        for key, where in clusters.items():
            if key not in chosen:
                chosen[key] = names.create(rep[where[0]][1])
        group.params = [(chosen[key], where[0]) for key, where in clusters.items()]
        by_slot = {id(rep[i][0]): chosen[key] for key, where in clusters.items() for i in where}
        omitted = {id(rep[i][0]) for i in range(len(rep)) if all(_is_default(v[i][0]) for v in vectors)}

        def text(slot: Slot) -> str | None:
            if id(slot) in by_slot:
                return by_slot[id(slot)]
            return None if id(slot) in omitted else literal(slot.value)

        sig = [f"{name}: {_annotation([v[i][0].value for v in vectors])}" for name, i in group.params]
        return text, sig

    # rendering --------------------------------------------------------------------------------
    def expr(self, ctor: Ctor, text: Text) -> Expr:
        if ctor.box is not None:
            group = self.group_of[ctor.box.name]
            inst = self.flat[ctor.box.name]
            args: list[tuple[str | None, Expr | str]] = []
            for name, i in group.params:
                slot = inst[i][0]
                args.append((name, text(slot) or literal(slot.value)))  # a block argument is never left out
            args += [(key, self.expr(arg, text)) for key, arg in ctor.args if isinstance(arg, Ctor)]
            return Expr(group.cls, args)
        out: list[tuple[str | None, Expr | str]] = []
        for key, arg in ctor.args:
            if isinstance(arg, Slot):
                t = text(arg)
                if t is not None:
                    out.append((key, t))
            else:
                out.append((key, self.expr(arg, text)))
        if ctor.names is not None:
            items: list[tuple[str | None, Expr | str]] = [
                (None, Expr("", [(None, f'"{name}"'), (None, e)])) for name, (_, e) in zip(ctor.names, out, strict=True)
            ]
            self.uses_ordered_dict = True
            return Expr(ctor.func, [(None, Expr("OrderedDict", [(None, Expr("", items, "[]"))]))])
        return Expr(ctor.func, out)

    def init_lines(self, desc: Desc, text: Text) -> list[str]:
        lines = []
        for local, ctor, c in desc.members:
            if ctor is None:
                continue
            if local.isidentifier():
                head = f"        self.{local} = "
                lines.append(head + self.expr(ctor, text).format(8, len(head)))
            else:  # a numbered or hyphenated member (block1-0): registered under its name
                parameter = isinstance(c, Node) and REGISTRY[c.op].parameter
                head = f'        self.{"register_parameter" if parameter else "add_module"}("{local}", '
                lines.append(head + self.expr(ctor, text).format(8, len(head), 1) + ")")
        return lines

    def forward_lines(self, desc: Desc, group: Group | None = None) -> list[str]:
        """forward(): one statement per member in schedule order; a value read only by the next
        statement stays in the running variable, others get a variable named after the layer."""
        box = desc.box
        member = desc.member
        names = self.classes.child()
        running_name, identity_name = names.create("out"), names.create("identity")
        consumers: dict[str, int] = {}
        for c in box.children:
            for r in self.reads(c):
                consumers[r] = consumers.get(r, 0) + 1
        optional = group is not None and any(d.member is None for d in group.instances)
        input_reused = consumers.get(box.input, 0) > 1 or (group is not None and group.member is not None)
        running = running_name if input_reused else "x"
        var: dict[str, str] = {box.input: "x"}
        if member is not None:
            var[self.value(member)] = identity_name
        order = desc.members
        lines: list[str] = []
        for i, (local, ctor, c) in enumerate(order):
            args = [var[r] for r in self.reads(c)]
            if member is not None and local == box.residual and group is not None:
                src = var[self.reads(member)[0]]
                call = f"{self.attr(member.local)}({src})"
                if optional:
                    lines.append(f"        {identity_name} = x if {self.attr(member.local)} is None else {call}")
                else:
                    lines.append(f"        {identity_name} = {call}")
            nxt = order[i + 1][2] if i + 1 < len(order) else None
            value = self.value(c)
            single = consumers.get(value, 0) <= 1 and (nxt is None or value in self.reads(nxt))
            target = running if single else names.create(local)
            if ctor is None:
                assert isinstance(c, Node)
                expression = REGISTRY[c.op].torch_expr(c.attrs, args)
            elif isinstance(c, Node) and REGISTRY[c.op].parameter:
                expression = REGISTRY[c.op].torch_apply(self.attr(local), args)
            elif isinstance(c, Node):
                expression = REGISTRY[c.op].torch_call(self.attr(local), args)
            else:
                expression = f"{self.attr(local)}({', '.join(args)})"
            lines.append(f"        {target} = {expression}")
            var[value] = target
        lines.append(f"        return {var[box.output]}")
        return lines

    @staticmethod
    def attr(local: str) -> str:
        return f"self.{local}" if local.isidentifier() else f'getattr(self, "{local}")'

    def render_group(self, group: Group) -> str:
        text, sig = self.finish(group)
        first = group.instances[0]
        body = self.init_lines(first, text)
        params = ["self", *sig]
        if group.member:
            params.append(f"{group.member}: nn.Module | None = None")
            body.append(f"        self.{group.member} = {group.member}")
        head = f"    def __init__({', '.join(params)}) -> None:"
        if len(head) > LINE:
            head = "    def __init__(\n" + "".join(f"        {s},\n" for s in params) + "    ) -> None:"
        where = ", ".join(d.box.name for d in group.instances[:3]) + (", ..." if len(group.instances) > 3 else "")
        doc = f"Block '{group.block}' of the spec ({len(group.instances)} in the model: {where})."
        rep_desc = next((d for d in group.instances if d.member is not None), first)
        return "\n".join(
            [
                f"class {group.cls}(nn.Module):",
                _docstring(doc),
                "",
                head,
                "        super().__init__()",
                *body,
                "",
                "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                *self.forward_lines(rep_desc, group),
            ]
        )

    def render_plain(self, desc: Desc, cls: str, doc: str, extra: Sequence[str] = ()) -> str:
        return "\n".join(
            [
                f"class {cls}(nn.Module):",
                _docstring(doc),
                *extra,
                "",
                "    def __init__(self) -> None:",
                "        super().__init__()",
                *self.init_lines(desc, constant),
                "",
                "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
                *self.forward_lines(desc),
            ]
        )


def _docstring(text: str) -> str:
    if len(text) + 10 <= LINE:
        return f'    """{text}"""'
    body = textwrap.fill(text, LINE - 4, initial_indent="    ", subsequent_indent="    ", break_long_words=False)
    return f'    """{body.lstrip()}\n    """'


@dataclass(frozen=True)
class Source:
    """Generated module source and the name of its model class."""

    text: str
    class_name: str
    filename: str


def emit_source(graph: Graph, *, origin: str = "", command: str = "") -> Source:
    """Generate the PyTorch module for ``graph``. ``origin`` and ``command`` go into the header."""
    emitter = _Emitter(graph)
    top = emitter.members(graph.root, None)  # describes the whole tree, inner containers first
    model_cls = class_name(graph.name, emitter.classes)
    sources = [emitter.render_group(group) for group in emitter.group_list]
    sources += [
        emitter.render_plain(desc, cls, f"Container '{desc.box.name}' of the spec.") for desc, cls in emitter.plain
    ]
    input_shape = graph.shape(graph.input)
    model = emitter.render_plain(
        top,
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
    body = "\n\n\n".join([*sources, model])
    head = [
        *(textwrap.fill(h[2:], LINE, **wrap) for h in header),  # type: ignore[arg-type]
        f'"""{model_cls}: a PyTorch module generated by rescomp."""',
        "",
        *(["from collections import OrderedDict", ""] if emitter.uses_ordered_dict else []),
        "import torch",
        "from torch import nn",
    ]
    helpers = [emitter.helpers[name] for name in sorted(emitter.helpers)]
    text = "\n\n\n".join(["\n".join(head), *helpers, body]) + "\n"
    return Source(text, model_cls, f"<rescomp:{graph.name}>")


def comment_safe(text: str) -> str:
    """Text for a '#' comment line: newlines and other control characters escaped, so no user-given
    string (a path, a --set value) can end the comment and become code."""
    return one_line(text)


__all__ = ["Source", "comment_safe", "emit_source", "literal"]
