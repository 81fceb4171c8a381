"""Graph building: a validated :class:`~rescomp.spec.model.Spec` plus overrides becomes an IR graph
with its module tree.

Parameters are resolved (defaults, then ``--set`` overrides), derived ``vars`` evaluated, and the
layer list expanded: stages into numbered block instances, blocks into their bodies plus the
shortcut the policy asks for, ``repeat`` inline, ``when: false`` layers dropped. Every node gets its
output shape as it is created, because the shortcut policy depends on shapes (option B projects only
where the shape changes), and so that a mistake is reported at the layer that causes it. Every
container (stage, seq, block instance, shortcut) is recorded in the graph's module tree as it opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean
from rescomp.ir import Container, Graph, Node
from rescomp.lower import shortcut as sc
from rescomp.lower.naming import Scope, explicit_names
from rescomp.lower.values import (
    Overrides,
    argument,
    boolean,
    eval_untyped,
    input_shape,
    integer,
    resolve_params,
    string,
)
from rescomp.ops import REGISTRY, Shape
from rescomp.ops.base import LAYOUTS, channels, layout_words
from rescomp.spec.expr import interpolate
from rescomp.spec.grammar import PAD_PLACEMENTS
from rescomp.spec.model import (
    SHORTCUTS,
    BlockDef,
    BlockItem,
    Item,
    OpItem,
    RepeatItem,
    SeqItem,
    Spec,
    StageItem,
    Value,
    check_name,
    is_template,
)

MAX_REPEAT = 100_000
# ResNet-1202 has about 4,000 nodes and a 10,000-block chain 70,000: the limit leaves room for any
# real network while keeping the worst case under 10 s and 1 GiB (benchmarks/results/scale.md)
MAX_NODES = 250_000
MAX_BLOCK_DEPTH = 32
#: items evaluated while expanding (a `when: false` item or an empty repeat body costs one each):
#: bounds the work of nested repeats that build few or no nodes
MAX_STEPS = 1_000_000
#: the name under which expressions inside a block read the block input's channel count
IN_CHANNELS = "in_channels"


class _Builder:
    def __init__(self, spec: Spec, overrides: Overrides) -> None:
        self.spec = spec
        env = resolve_params(spec, overrides)
        self.params = dict(env)
        for name, value in spec.vars:
            env[name] = eval_untyped(value.raw, env, value.loc)
        self.env = env
        policy = string(spec.shortcut, env)
        if policy not in SHORTCUTS:
            raise SpecError(
                f"unknown shortcut policy {policy!r}", spec.shortcut.loc, hint=did_you_mean(policy, SHORTCUTS)
            )
        self.policy = policy
        self.graph = Graph(spec.name)
        self.block_stack: list[str] = []
        self.steps = 0  # items evaluated so far (see MAX_STEPS)
        self._reserved: dict[str, frozenset[str]] = {}  # per block definition, computed once

    # nodes -----------------------------------------------------------------------------------
    def node(
        self, op: str, name: str, inputs: tuple[str, ...], attrs: dict[str, Any], loc: Loc, box: Container | None
    ) -> str:
        """Create a node in ``box`` (None: the graph input), with its output shape."""
        kind = REGISTRY[op]
        lo, hi = kind.arity
        if len(inputs) < lo or (hi is not None and len(inputs) > hi):
            want = f"{lo} or more" if hi is None else str(lo)
            raise SpecError(
                f"op '{op}' takes {want} input(s), got {len(inputs)}",
                loc,
                node=name,
                hint="list the branches to merge under 'inputs'" if hi is None else None,
            )
        layouts = [self.graph.layout(i) for i in inputs]
        try:
            check_layouts(op, kind.accepts(attrs), layouts, [self.graph.shape(i) for i in inputs])
            shape = kind.shape(attrs, [self.graph.shape(i) for i in inputs])
        except SpecError as exc:
            raise exc.with_context(loc=loc, node=name) from None
        layout = kind.layout(attrs, layouts, shape) if inputs else ""
        if len(self.graph) >= MAX_NODES:
            raise SpecError(f"the network has more than {MAX_NODES:,} layers", loc, node=name)
        self.graph.add(Node(name, op, inputs, attrs, loc, shape, self.spec.dtype, layout), box)
        return name

    def op_attrs(self, item: OpItem, env: Mapping[str, Any], name: str) -> dict[str, Any]:
        kind = REGISTRY[item.op]
        given = {**self.spec.defaults.get(item.op, {}), **item.attrs}
        values: dict[str, Any] = {}
        for key, value in given.items():
            attr = kind.attrs[key]
            if attr.type == "str" and isinstance(value.raw, str):
                raw = interpolate(value.raw, env, value.loc)
            else:
                raw = eval_untyped(value.raw, env, value.loc)
            try:
                values[key] = attr.coerce(key, raw)
            except SpecError as exc:
                raise exc.with_context(loc=value.loc, node=name) from None
        try:
            return kind.complete(values)
        except SpecError as exc:
            raise exc.with_context(loc=item.loc, node=name) from None

    def single_input(self, refs: tuple[str, ...] | None, scope: Scope, loc: Loc) -> str:
        """The one value a seq, stage or block reads."""
        found = self.inputs_of(refs, scope, loc)
        if len(found) != 1:
            raise SpecError(
                f"a seq, stage or block reads one input, got {len(found)}",
                loc,
                hint="merge the branches first with an add or concat layer, and read that",
            )
        return found[0]

    def inputs_of(self, refs: tuple[str, ...] | None, scope: Scope, loc: Loc) -> tuple[str, ...]:
        if refs is None:
            return (scope.last,)
        return tuple(scope.resolve(r, self.graph.__contains__, loc) for r in refs)

    # items -----------------------------------------------------------------------------------
    def name_of(self, item: OpItem | BlockItem | StageItem | SeqItem, env: Mapping[str, Any]) -> str | None:
        """An item's explicit name, with ``${EXPR}`` substituted (and the result checked)."""
        name = item.name
        if name is None or not is_template(name):
            return name
        loc = item.name_loc or item.loc
        return check_name(interpolate(name, env, loc), loc, "", source=name)

    def repeat(self, item: RepeatItem, scope: Scope) -> None:
        n = integer(item.repeat, scope.env, "'repeat'")
        self.check_repeat(n, item.repeat.loc)
        self.check_expansion(n * min_nodes(item.layers, scope.env), item.repeat.loc)
        work = n * max(1, min_steps(item.layers, scope.env))
        if self.steps + work > MAX_STEPS:
            raise SpecError(
                f"this repeat evaluates at least {work:,} layers; a spec may expand to at most {MAX_STEPS:,}",
                item.repeat.loc,
                hint="check the repeat counts (nested repeats multiply, even of empty or disabled layers)",
            )
        if item.index is None:
            for _ in range(n):
                self.items(item.layers, scope)
            return
        outer = scope.env
        if item.index in outer:
            raise SpecError(
                f"repeat index '{item.index}' hides a parameter, var or index of that name",
                item.loc,
                hint="choose another index name",
            )
        for i in range(n):
            scope.env = {**outer, item.index: i}
            self.items(item.layers, scope)
        scope.env = outer

    def items(self, items: tuple[Item, ...], scope: Scope) -> None:
        for item in items:
            self.steps += 1
            if item.when is not None and not boolean(item.when, scope.env, "'when'"):
                continue
            if isinstance(item, RepeatItem):
                self.repeat(item, scope)
                continue
            if isinstance(item, OpItem):
                local = scope.local(self.name_of(item, scope.env), item.op, item.loc)
                full = scope.prefix + local
                attrs = self.op_attrs(item, scope.env, full)
                if REGISTRY[item.op].arity[1] is None and item.inputs is None:
                    raise SpecError(
                        f"op '{item.op}' needs 'inputs'",
                        item.loc,
                        node=full,
                        hint="name the layers to merge, e.g. inputs: [branch1, branch2]",
                    )
                out = self.node(item.op, full, self.inputs_of(item.inputs, scope, item.loc), attrs, item.loc, scope.box)
            elif isinstance(item, SeqItem):
                local = scope.local(self.name_of(item, scope.env), "seq", item.loc)
                src = self.single_input(item.inputs, scope, item.loc)
                box = self.graph.open(scope.box, local, "seq", loc=item.loc, input=src)
                inner = Scope(box, scope.env, src, src, reserved=explicit_names(item.layers))
                self.items(item.layers, inner)
                if inner.last == src:
                    raise SpecError(f"seq '{local}' is empty", item.loc)
                out = box.output = inner.last
            elif isinstance(item, StageItem):
                local = scope.local(self.name_of(item, scope.env), "stage", item.loc)
                src = self.single_input(item.inputs, scope, item.loc)
                n = integer(item.repeat, scope.env, "'repeat'", minimum=1)
                self.check_repeat(n, item.repeat.loc)
                defn = self.block_def(item.block, scope.env)
                box = self.graph.open(scope.box, local, "stage", loc=item.loc, input=src)
                out = src
                for i in range(n):
                    args = {**item.args, **item.first} if i == 0 else item.args
                    out = self.block(defn, args, scope.env, box, str(i), out, item.loc)
                box.output = out
            else:
                assert isinstance(item, BlockItem)
                defn = self.block_def(item.block, scope.env)
                local = scope.local(self.name_of(item, scope.env), defn.name, item.loc)
                src = self.single_input(item.inputs, scope, item.loc)
                out = self.block(defn, item.args, scope.env, scope.box, local, src, item.loc)
            scope.names[local] = out
            scope.last = out

    def check_repeat(self, n: int, loc: Loc) -> None:
        if n > MAX_REPEAT:
            raise SpecError(
                f"repeat count {n:,} exceeds {MAX_REPEAT:,}", loc, hint="no real network repeats this often"
            )

    def check_expansion(self, more: int, loc: Loc) -> None:
        """Refuse, before building anything, a ``repeat`` that will certainly pass the node limit."""
        if len(self.graph) + more > MAX_NODES:
            raise SpecError(
                f"this repeat expands to at least {more:,} layers; a network may have at most {MAX_NODES:,}",
                loc,
                hint="check the repeat counts (nested repeats multiply)",
            )

    def reserved_in(self, defn: BlockDef) -> frozenset[str]:
        """Names a block's scope keeps for itself (explicit layer names, and the shortcut's)."""
        if defn.name not in self._reserved:
            self._reserved[defn.name] = explicit_names(defn.layers + defn.post) | sc.RESERVED
        return self._reserved[defn.name]

    def block_def(self, value: Value, env: Mapping[str, Any]) -> BlockDef:
        name = string(value, env)
        defn = self.spec.blocks.get(name)
        if defn is None:
            raise SpecError(
                f"unknown block '{name}'",
                value.loc,
                hint=did_you_mean(name, self.spec.blocks) or "define it under 'blocks'",
            )
        return defn

    def block_env(
        self,
        defn: BlockDef,
        args: Mapping[str, Value],
        caller_env: Mapping[str, Any],
        full: str,
        loc: Loc,
        in_channels: int,
    ) -> dict[str, Any]:
        """The environment inside one block instance: ``in_channels`` (the channels of the block input:
        its shape[1], the last dimension of tokens or a channels-last map), then spec values, then its
        evaluated parameters: a name the spec or the block defines explicitly wins over
        ``in_channels``."""
        for key, value in args.items():
            if key not in defn.params:
                raise SpecError(
                    f"block '{defn.name}' has no parameter '{key}'",
                    value.loc,
                    hint=did_you_mean(key, defn.params) or "declare it under the block's 'params'",
                )
        env: dict[str, Any] = {IN_CHANNELS: in_channels, **self.env}  # a spec param or var of that name wins
        for key, default in defn.params.items():
            if key in args:
                env[key] = argument(args[key], default, caller_env)
            elif default.raw is None:
                raise SpecError(f"block '{defn.name}' needs argument '{key}'", loc, node=full)
            else:
                env[key] = (
                    eval_untyped(default.raw, env, default.loc) if not isinstance(default.raw, str) else default.raw
                )
        return env

    def block(
        self,
        defn: BlockDef,
        args: Mapping[str, Value],
        caller_env: Mapping[str, Any],
        parent: Container,
        local: str,
        src: str,
        loc: Loc,
    ) -> str:
        full = parent.prefix() + local
        if defn.name in self.block_stack:
            chain = " -> ".join([*self.block_stack, defn.name])
            raise SpecError(f"block '{defn.name}' uses itself ({chain})", loc, hint="blocks cannot be recursive")
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            raise SpecError(f"blocks nested deeper than {MAX_BLOCK_DEPTH}", loc)
        in_channels = channels(self.graph.shape(src), self.graph.layout(src))
        env = self.block_env(defn, args, caller_env, full, loc, in_channels)
        box = self.graph.open(
            parent, local, "block", block=defn.name, args={k: env[k] for k in defn.params}, loc=loc, input=src
        )
        for name, value in defn.vars:
            env[name] = eval_untyped(value.raw, env, value.loc)

        self.block_stack.append(defn.name)
        scope = Scope(box, env, src, src, reserved=self.reserved_in(defn))
        self.items(defn.layers, scope)
        body = scope.last
        if boolean(defn.residual, env, "'residual'") and self.policy != "none":
            origin = src  # identity shortcuts read the block input; projections may read a body layer
            if defn.projection_from is not None:
                if defn.projection_from not in scope.names:
                    raise SpecError(
                        f"projection_from: no layer '{defn.projection_from}' in block '{defn.name}'",
                        defn.loc,
                        hint=did_you_mean(defn.projection_from, scope.names),
                    )
                origin = scope.names[defn.projection_from]
            short = self.shortcut(box, src, origin, body, defn, env, loc)
            add = self.node("add", box.prefix() + sc.RESIDUAL, (body, short), {}, loc, box)
            box.residual = sc.RESIDUAL
            scope.names[sc.RESIDUAL] = scope.last = add
        self.items(defn.post, scope)
        self.block_stack.pop()
        box.output = scope.last
        return scope.last

    def shortcut(
        self, box: Container, src: str, origin: str, body: str, defn: BlockDef, env: Mapping[str, Any], loc: Loc
    ) -> str:
        """Build the planned shortcut branch inside ``box``; return the value added to the body."""
        placement = "end" if defn.pad is None else string(defn.pad, env)
        if placement not in PAD_PLACEMENTS:  # checked under every policy: a typo is a typo
            raise SpecError(
                f"block '{defn.name}': unknown pad placement {placement!r}",
                defn.pad.loc if defn.pad is not None else defn.loc,
                hint=did_you_mean(placement, PAD_PLACEMENTS),
            )
        try:
            plan = sc.plan_shortcut(
                self.policy,
                defn.name,
                self.graph.shape(src),
                self.graph.shape(body),
                (self.graph.layout(src), self.graph.layout(body)),
            )
        except SpecError as exc:
            raise exc.with_context(loc=loc, node=box.name) from None
        if plan.kind == "identity":
            return src
        if plan.kind == "pad":
            attrs = REGISTRY["pad_shortcut"].complete({"stride": plan.stride, "out": plan.out, "placement": placement})
            box.shortcut = sc.PAD
            return self.node("pad_shortcut", box.prefix() + sc.PAD, (origin,), attrs, loc, box)
        proj = self.graph.open(box, sc.DOWNSAMPLE, "shortcut", loc=loc, input=origin)
        box.shortcut = sc.DOWNSAMPLE
        conv = REGISTRY["conv"].complete({"out": plan.out, "kernel": 1, "stride": plan.stride, "padding": 0})
        out = self.node("conv", proj.prefix() + "0", (origin,), {**conv, "bias": False}, loc, proj)
        if boolean(defn.projection_bn, env, "'projection_bn'"):
            out = self.node("bn", proj.prefix() + "1", (out,), REGISTRY["bn"].complete({}), loc, proj)
        proj.output = out
        return out


def min_nodes(items: tuple[Item, ...], env: Mapping[str, Any]) -> int:
    """A lower bound on the nodes ``items`` expand to: ops, seqs and nested repeats whose counts the
    environment already fixes; items with ``when`` and blocks count nothing (they may be empty)."""
    total = 0
    for item in items:
        if item.when is not None:
            continue
        if isinstance(item, OpItem):
            total += 1
        elif isinstance(item, SeqItem):
            total += min_nodes(item.layers, env)
        elif isinstance(item, RepeatItem):
            try:
                n = integer(item.repeat, env, "'repeat'")
            except SpecError:
                continue  # reported where the repeat is expanded
            total += min(n, MAX_REPEAT + 1) * min_nodes(item.layers, env)
        if total > MAX_NODES:
            break
    return total


def min_steps(items: tuple[Item, ...], env: Mapping[str, Any]) -> int:
    """A lower bound on the items evaluated to expand ``items`` (each item costs one, conditions and
    empty bodies included; nested repeats whose counts the environment fixes multiply)."""
    total = 0
    for item in items:
        total += 1
        if isinstance(item, SeqItem):
            total += min_steps(item.layers, env)
        elif isinstance(item, RepeatItem):
            try:
                n = integer(item.repeat, env, "'repeat'")
            except SpecError:
                continue
            total += min(n, MAX_REPEAT + 1) * max(1, min_steps(item.layers, env))
        if total > MAX_STEPS:
            break
    return total


def lower(spec: Spec, overrides: Overrides | None = None) -> Graph:
    """Expand a spec into an IR graph with shapes and its module tree (shapes are checked on the way)."""
    overrides = overrides or Overrides()
    b = _Builder(spec, overrides)
    shape, loc = input_shape(spec, b.env, overrides)
    b.node("input", "input", (), REGISTRY["input"].complete({"shape": "x".join(map(str, shape))}), loc, None)
    root = b.graph.root
    root.input = "input"
    top = Scope(root, b.env, "input", "input", reserved=explicit_names(spec.layers))
    b.items(spec.layers, top)
    if top.last == "input":
        raise SpecError("the network has no layers", spec.loc)
    root.output = top.last
    b.graph.params = b.params
    b.graph.dtype = spec.dtype
    return b.graph


def check_layouts(op: str, accepted: tuple[str, ...] | None, layouts: list[str], shapes: list[Shape]) -> None:
    """An op's inputs must come in a layout it takes, and the inputs of a merge in one layout."""
    if layouts and accepted is not None and layouts[0] not in accepted:
        got = layout_words(layouts[0], shapes[0])
        if accepted == ("NCHW",):
            hint = {
                "NHWC": "permute it back to channels-first first: {op: permute, dims: [0, 3, 1, 2]}",
                "NF": "this op works on feature maps, not vectors",
                "NLC": "this op works on feature maps, not tokens",
            }.get(layouts[0])
            raise SpecError(f"{op} needs {LAYOUTS['NCHW']}, got {got}", hint=hint)
        names = [LAYOUTS[x] for x in accepted]
        wanted = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
        hint = None
        if layouts[0] == "NCHW" and accepted == ("NLC",):
            hint = "make tokens of the map first: {op: tokens} (after a patch-embedding conv)"
        elif layouts[0] == "NCHW":
            hint = "add a 'flatten' layer before it, or make the map channels-last: {op: permute, dims: [0, 2, 3, 1]}"
        need = f"needs its features last: {wanted}" if "NCHW" not in accepted else f"takes {wanted}"
        raise SpecError(f"{op} {need}; got {got}", hint=hint)
    if len(set(layouts)) > 1:
        raise SpecError(
            f"op '{op}' merges inputs of different layouts: "
            + " and ".join(layout_words(x, s) for x, s in zip(layouts, shapes, strict=True)),
            hint="permute one input so that both have the same layout",
        )
