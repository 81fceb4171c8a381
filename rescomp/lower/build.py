"""Lowering: a validated :class:`~rescomp.spec.model.Spec` plus overrides becomes an IR graph.

Parameters are resolved (defaults, then ``--set`` overrides), derived ``vars`` evaluated, and the
layer list expanded: stages into numbered blocks, blocks into their bodies plus the shortcut the
policy asks for, ``repeat`` inline, ``when: false`` layers dropped. Shapes are inferred as nodes are
created, because the shortcut policy depends on them (option B projects only where the shape
changes), and so that a mistake is reported at the layer that causes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean
from rescomp.ir import Graph, Node, Scope
from rescomp.ops import REGISTRY, Shape
from rescomp.spec.expr import evaluate, interpolate
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
)

MAX_REPEAT = 100_000
MAX_NODES = 2_000_000
MAX_BLOCK_DEPTH = 32


@dataclass
class Overrides:
    """What the user changed on the command line: ``--set``, ``--input`` and ``--batch``."""

    params: dict[str, tuple[Any, Loc]] = field(default_factory=dict)
    input: tuple[tuple[int, ...], Loc] | None = None
    batch: tuple[int, Loc] | None = None


@dataclass
class _Scope:
    prefix: str
    env: Mapping[str, Any]
    input: str
    last: str
    indexed: bool = False  # a seq or stage: children are named 0, 1, 2, ...
    reserved: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)
    counter: int = 0

    def local(self, explicit: str | None, base: str, loc: Loc) -> str:
        if explicit is not None:
            if explicit in self.names:
                raise SpecError(
                    f"duplicate name '{explicit}' in this scope",
                    loc,
                    hint="names must be unique per scope; inside 'repeat' leave layers unnamed",
                )
            return explicit
        if self.indexed:
            while str(self.counter) in self.names:
                self.counter += 1
            return str(self.counter)
        k = 1
        while f"{base}{k}" in self.names or f"{base}{k}" in self.reserved:
            k += 1
        return f"{base}{k}"


def _explicit_names(items: tuple[Item, ...]) -> frozenset[str]:
    names: set[str] = set()
    for it in items:
        if isinstance(it, (StageItem, SeqItem)) or (isinstance(it, (OpItem, BlockItem)) and it.name):
            names.add(it.name)  # type: ignore[arg-type]
        elif isinstance(it, RepeatItem):
            names |= _explicit_names(it.layers)
    return frozenset(names)


def eval_untyped(raw: Any, env: Mapping[str, Any], loc: Loc) -> Any:
    """A value whose type the context does not fix: strings are expressions, containers recurse."""
    if isinstance(raw, str):
        return evaluate(raw, env, loc)
    if isinstance(raw, list):
        return [eval_untyped(x, env, loc) for x in raw]
    if isinstance(raw, dict):
        return {k: eval_untyped(v, env, loc) for k, v in raw.items()}
    return raw


def resolve_params(spec: Spec, overrides: Overrides) -> dict[str, Any]:
    """Parameter values after ``--set``, type-checked against their defaults and choices."""
    values = {name: p.default for name, p in spec.params.items()}
    for key, (value, loc) in overrides.params.items():
        param = spec.params.get(key)
        if param is None:
            hint = did_you_mean(key, spec.params) if spec.params else f"spec '{spec.name}' has no parameters"
            raise SpecError(f"unknown parameter '{key}' for spec '{spec.name}'", loc, hint=hint)
        default = param.default
        ok = isinstance(value, bool) == isinstance(default, bool) and (
            isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
        )
        if not ok:
            raise SpecError(
                f"parameter '{key}' expects {type(default).__name__} like its default {default!r}, got {value!r}",
                loc,
            )
        if param.choices is not None and value not in param.choices:
            raise SpecError(
                f"parameter '{key}' must be one of {', '.join(map(str, param.choices))}; got {value!r}",
                loc,
                hint=did_you_mean(str(value), [str(c) for c in param.choices]),
            )
        values[key] = value
    return values


class _Lowerer:
    def __init__(self, spec: Spec, overrides: Overrides) -> None:
        self.spec = spec
        env = resolve_params(spec, overrides)
        self.params = dict(env)
        for name, value in spec.vars:
            env[name] = eval_untyped(value.raw, env, value.loc)
        self.env = env
        policy = self.string(spec.shortcut, env)
        if policy not in SHORTCUTS:
            raise SpecError(
                f"unknown shortcut policy {policy!r}", spec.shortcut.loc, hint=did_you_mean(policy, SHORTCUTS)
            )
        self.policy = policy
        self.graph = Graph(spec.name)
        self.shapes: dict[str, Shape] = {}
        self.block_stack: list[str] = []
        self._reserved: dict[str, frozenset[str]] = {}  # per block definition, computed once

    # evaluation ----------------------------------------------------------------------------
    def string(self, value: Value, env: Mapping[str, Any]) -> str:
        out = interpolate(value.raw, env, value.loc) if isinstance(value.raw, str) else value.raw
        if not isinstance(out, str):
            raise SpecError(f"expected a string, got {out!r}", value.loc)
        return out

    def integer(self, value: Value, env: Mapping[str, Any], what: str, minimum: int = 0) -> int:
        out = eval_untyped(value.raw, env, value.loc)
        if not isinstance(out, int) or isinstance(out, bool):
            raise SpecError(f"{what} must be an integer, got {out!r}", value.loc)
        if out < minimum:
            raise SpecError(f"{what} must be at least {minimum}, got {out}", value.loc)
        return out

    def boolean(self, value: Value | None, env: Mapping[str, Any], what: str) -> bool:
        if value is None:
            return True
        out = eval_untyped(value.raw, env, value.loc)
        if not isinstance(out, bool):
            raise SpecError(f"{what} must be true or false, got {out!r}", value.loc)
        return out

    # graph construction ----------------------------------------------------------------------
    def node(self, op: str, name: str, inputs: tuple[str, ...], attrs: dict[str, Any], loc: Loc) -> str:
        spec = REGISTRY[op]
        lo, hi = spec.arity
        if len(inputs) < lo or (hi is not None and len(inputs) > hi):
            want = f"{lo} or more" if hi is None else str(lo)
            raise SpecError(
                f"op '{op}' takes {want} input(s), got {len(inputs)}",
                loc,
                node=name,
                hint="list the branches to merge under 'inputs'" if hi is None else None,
            )
        try:
            out = spec.shape(attrs, [self.shapes[i] for i in inputs])
        except SpecError as exc:
            raise exc.with_context(loc=loc, node=name) from None
        if len(self.graph) >= MAX_NODES:
            raise SpecError(f"the network has more than {MAX_NODES:,} layers", loc, node=name)
        self.graph.add(Node(name, op, inputs, attrs, loc))
        self.shapes[name] = out
        return name

    def op_attrs(self, item: OpItem, env: Mapping[str, Any], name: str) -> dict[str, Any]:
        spec = REGISTRY[item.op]
        given = {**self.spec.defaults.get(item.op, {}), **item.attrs}
        values: dict[str, Any] = {}
        for key, value in given.items():
            attr = spec.attrs[key]
            if attr.type == "str" and isinstance(value.raw, str):
                raw = interpolate(value.raw, env, value.loc)
            else:
                raw = eval_untyped(value.raw, env, value.loc)
            try:
                values[key] = attr.coerce(key, raw)
            except SpecError as exc:
                raise exc.with_context(loc=value.loc, node=name) from None
        try:
            return spec.complete(values)
        except SpecError as exc:
            raise exc.with_context(loc=item.loc, node=name) from None

    def resolve(self, ref: str, scope: _Scope, loc: Loc) -> str:
        if ref == "input":
            return scope.input
        if ref in scope.names:
            return scope.names[ref]
        if scope.prefix + ref in self.graph:
            return scope.prefix + ref
        if ref in scope.reserved:
            raise SpecError(
                f"layer '{ref}' is defined after the layer that reads it",
                loc,
                hint="inputs must name earlier layers; a network is acyclic",
            )
        raise SpecError(
            f"unknown layer '{ref}' in 'inputs'",
            loc,
            hint=did_you_mean(ref, [*scope.names, "input"]) or "only earlier layers of the same scope can be inputs",
        )

    def inputs_of(self, refs: tuple[str, ...] | None, scope: _Scope, loc: Loc) -> tuple[str, ...]:
        if refs is None:
            return (scope.last,)
        return tuple(self.resolve(r, scope, loc) for r in refs)

    # items -----------------------------------------------------------------------------------
    def items(self, items: tuple[Item, ...], scope: _Scope) -> None:
        for item in items:
            if item.when is not None and not self.boolean(item.when, scope.env, "'when'"):
                continue
            if isinstance(item, OpItem):
                local = scope.local(item.name, item.op, item.loc)
                full = scope.prefix + local
                attrs = self.op_attrs(item, scope.env, full)
                if REGISTRY[item.op].arity[1] is None and item.inputs is None:
                    raise SpecError(
                        f"op '{item.op}' needs 'inputs'",
                        item.loc,
                        node=full,
                        hint="name the layers to merge, e.g. inputs: [branch1, branch2]",
                    )
                self.node(item.op, full, self.inputs_of(item.inputs, scope, item.loc), attrs, item.loc)
                out = full
            elif isinstance(item, RepeatItem):
                n = self.integer(item.repeat, scope.env, "'repeat'")
                self.check_repeat(n, item.repeat.loc)
                for _ in range(n):
                    self.items(item.layers, scope)
                continue
            elif isinstance(item, SeqItem):
                local = scope.local(item.name, "seq", item.loc)
                (src,) = self.inputs_of(item.inputs, scope, item.loc)[:1]
                self.graph.scopes[scope.prefix + local] = Scope("seq")
                inner = _Scope(
                    scope.prefix + local + ".", scope.env, src, src, indexed=True, reserved=_explicit_names(item.layers)
                )
                self.items(item.layers, inner)
                if inner.last == src:
                    raise SpecError(f"seq '{local}' is empty", item.loc)
                out = inner.last
            elif isinstance(item, StageItem):
                local = scope.local(item.name, "stage", item.loc)
                (src,) = self.inputs_of(item.inputs, scope, item.loc)[:1]
                n = self.integer(item.repeat, scope.env, "'repeat'", minimum=1)
                self.check_repeat(n, item.repeat.loc)
                defn = self.block_def(item.block, scope.env)
                self.graph.scopes[scope.prefix + local] = Scope("stage")
                out = src
                for i in range(n):
                    args = {**item.args, **item.first} if i == 0 else item.args
                    out = self.block(defn, args, scope.env, f"{scope.prefix}{local}.{i}", out, item.loc)
            else:  # BlockItem
                defn = self.block_def(item.block, scope.env)
                local = scope.local(item.name, defn.name, item.loc)
                (src,) = self.inputs_of(item.inputs, scope, item.loc)[:1]
                out = self.block(defn, item.args, scope.env, scope.prefix + local, src, item.loc)
            scope.names[local] = out
            scope.last = out

    def check_repeat(self, n: int, loc: Loc) -> None:
        if n > MAX_REPEAT:
            raise SpecError(
                f"repeat count {n:,} exceeds {MAX_REPEAT:,}", loc, hint="no real network repeats this often"
            )

    def reserved_in(self, defn: BlockDef) -> frozenset[str]:
        """Names a block's scope keeps for itself (explicit layer names, and the shortcut's)."""
        if defn.name not in self._reserved:
            self._reserved[defn.name] = _explicit_names(defn.layers + defn.post) | {"downsample", "shortcut", "add"}
        return self._reserved[defn.name]

    def block_def(self, value: Value, env: Mapping[str, Any]) -> BlockDef:
        name = self.string(value, env)
        defn = self.spec.blocks.get(name)
        if defn is None:
            raise SpecError(
                f"unknown block '{name}'",
                value.loc,
                hint=did_you_mean(name, self.spec.blocks) or "define it under 'blocks'",
            )
        return defn

    def block(
        self, defn: BlockDef, args: Mapping[str, Value], caller_env: Mapping[str, Any], full: str, src: str, loc: Loc
    ) -> str:
        if defn.name in self.block_stack:
            chain = " -> ".join([*self.block_stack, defn.name])
            raise SpecError(f"block '{defn.name}' uses itself ({chain})", loc, hint="blocks cannot be recursive")
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            raise SpecError(f"blocks nested deeper than {MAX_BLOCK_DEPTH}", loc)
        for key, value in args.items():
            if key not in defn.params:
                raise SpecError(
                    f"block '{defn.name}' has no parameter '{key}'",
                    value.loc,
                    hint=did_you_mean(key, defn.params) or "declare it under the block's 'params'",
                )
        env: dict[str, Any] = dict(self.env)
        for key, default in defn.params.items():
            if key in args:
                value = args[key]
                typed_str = isinstance(default.raw, str) and not isinstance(value.raw, (int, float))
                env[key] = (
                    interpolate(value.raw, caller_env, value.loc)
                    if typed_str and isinstance(value.raw, str)
                    else eval_untyped(value.raw, caller_env, value.loc)
                )
            elif default.raw is None:
                raise SpecError(f"block '{defn.name}' needs argument '{key}'", loc, node=full)
            else:
                env[key] = (
                    eval_untyped(default.raw, env, default.loc) if not isinstance(default.raw, str) else default.raw
                )
        self.graph.scopes[full] = Scope("block", defn.name, {k: env[k] for k in defn.params})
        for name, value in defn.vars:
            env[name] = eval_untyped(value.raw, env, value.loc)

        self.block_stack.append(defn.name)
        scope = _Scope(
            full + ".",
            env,
            src,
            src,
            reserved=self.reserved_in(defn),
        )
        self.items(defn.layers, scope)
        body = scope.last
        if self.boolean(defn.residual, env, "'residual'") and self.policy != "none":
            origin = src  # identity shortcuts read the block input; projections may read a body layer
            if defn.projection_from is not None:
                if defn.projection_from not in scope.names:
                    raise SpecError(
                        f"projection_from: no layer '{defn.projection_from}' in block '{defn.name}'",
                        defn.loc,
                        hint=did_you_mean(defn.projection_from, scope.names),
                    )
                origin = scope.names[defn.projection_from]
            short = self.shortcut(src, origin, body, full, defn, env, loc)
            scope.names["add"] = self.node("add", f"{full}.add", (body, short), {}, loc)
            scope.last = scope.names["add"]
        self.items(defn.post, scope)
        self.block_stack.pop()
        return scope.last

    def shortcut(
        self, src: str, origin: str, body: str, full: str, defn: BlockDef, env: Mapping[str, Any], loc: Loc
    ) -> str:
        """The shortcut branch from ``src`` (identity) or ``origin`` (projection or option A) to ``body``'s shape."""
        if self.shapes[src] == self.shapes[body] and self.policy != "C":
            return src
        src = origin
        a, b = self.shapes[src], self.shapes[body]
        if len(a) != 4 or len(b) != 4:
            raise SpecError(f"residual shortcut cannot map {a} to {b}", loc, node=full)
        stride = _stride_between(a[2:], b[2:])
        if stride is None:
            raise SpecError(
                f"block '{defn.name}' changes the feature map from {a[2]}x{a[3]} to {b[2]}x{b[3]}, "
                "which no strided shortcut reproduces",
                loc,
                node=full,
                hint="residual blocks may keep the size or divide it by an integer stride",
            )
        if self.policy == "A":
            attrs = REGISTRY["pad_shortcut"].complete({"stride": stride, "out": b[1]})
            return self.node("pad_shortcut", f"{full}.shortcut", (src,), attrs, loc)
        self.graph.scopes[f"{full}.downsample"] = Scope("projection")
        conv = REGISTRY["conv"].complete({"out": b[1], "kernel": 1, "stride": stride, "padding": 0, "bias": False})
        out = self.node("conv", f"{full}.downsample.0", (src,), conv, loc)
        if self.boolean(defn.projection_bn, env, "'projection_bn'"):
            out = self.node("bn", f"{full}.downsample.1", (out,), REGISTRY["bn"].complete({}), loc)
        return out


def _stride_between(a: tuple[int, ...], b: tuple[int, ...]) -> int | None:
    if b[0] < 1 or b[1] < 1 or b[0] > a[0]:
        return None
    s = max(1, round(a[0] / b[0]))
    for cand in (s, s + 1, s - 1):
        if cand >= 1 and all(-(-x // cand) == y for x, y in zip(a, b, strict=True)):
            return cand
    return None


def input_shape(spec: Spec, env: Mapping[str, Any], overrides: Overrides) -> tuple[Shape, Loc]:
    """The input shape with the batch dimension, after ``--input`` and ``--batch``."""
    if overrides.input is not None:
        dims, loc = overrides.input
    else:
        raw, loc = spec.input.raw, spec.input.loc
        if isinstance(raw, str) and "x" in raw and "${" not in raw:
            raw = raw.split("x")
        if not isinstance(raw, list) or not raw:
            raise SpecError("'input' must be a list like [3, 224, 224] or a string like 3x224x224", loc)
        dims = tuple(eval_untyped(d.strip() if isinstance(d, str) else d, env, loc) for d in raw)
    for d in dims:
        if not isinstance(d, int) or isinstance(d, bool) or d < 1:
            raise SpecError(f"input dimensions must be positive integers, got {list(dims)}", loc)
    if overrides.batch is not None:
        batch, bloc = overrides.batch
    else:
        batch, bloc = eval_untyped(spec.batch.raw, env, spec.batch.loc), spec.batch.loc
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise SpecError(f"batch must be a positive integer, got {batch!r}", bloc)
    return (batch, *dims), loc


def lower(spec: Spec, overrides: Overrides | None = None) -> Graph:
    """Expand a spec into an IR graph (shapes are checked on the way)."""
    overrides = overrides or Overrides()
    lw = _Lowerer(spec, overrides)
    shape, loc = input_shape(spec, lw.env, overrides)
    lw.node("input", "input", (), REGISTRY["input"].complete({"shape": "x".join(map(str, shape))}), loc)
    top = _Scope("", lw.env, "input", "input", reserved=_explicit_names(spec.layers))
    lw.items(spec.layers, top)
    if top.last == "input":
        raise SpecError("the network has no layers", spec.loc)
    lw.graph.params = lw.params
    lw.graph.dtype = spec.dtype
    return lw.graph
