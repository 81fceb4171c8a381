"""Spec objects: the validated, frozen form of a YAML spec.

Values that may depend on parameters stay unevaluated (:class:`Value`: the raw YAML value and its
location); the lowering evaluates them once the parameters are known. Everything that can be
checked without parameters (unknown keys, unknown ops and attributes, names, types of fixed fields)
is checked here, with the file, line, column and field path of the mistake.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rescomp.errors import Loc, SpecError, did_you_mean
from rescomp.spec.grammar import (
    BLOCK_DEF,
    DOCUMENT,
    DTYPES,
    FORMAT_VERSION,
    ITEMS,
    PARAM,
    Form,
    item_kinds,
)
from rescomp.spec.grammar import SHORTCUTS as SHORTCUTS  # re-exported: the lowering reads it from here
from rescomp.spec.yamlsrc import LList, LMap

#: an identifier: parameter, var, index and block names, which expressions read
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: a layer name (one part of a dotted path): an identifier, or identifier characters joined by single
#: hyphens (torchvision's RegNet 'block1-0'); never a '.', which separates the parts of a path
LAYER_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
RESERVED = {"input"}


def is_template(value: Any) -> bool:
    """A name that holds ``${EXPR}``: resolved, then checked by :func:`check_name`, when its layer is built."""
    return isinstance(value, str) and "${" in value


def check_name(value: Any, loc: Loc, path: str, source: str | None = None, *, identifier: bool = False) -> str:
    """``value`` if it is a valid layer name (or, with ``identifier``, a valid identifier: a
    parameter, var, index or block name); ``source`` is the template it came from, if any."""
    prefix = f"{path}: " if path else ""
    pattern, kind = (NAME_RE, "identifier") if identifier else (LAYER_NAME_RE, "layer name")
    if not isinstance(value, str) or not pattern.fullmatch(value) or keyword.iskeyword(value):
        what = f"name {source!r} gives {value!r}, which" if source is not None else f"name {value!r}"
        hint = "use letters, digits and underscores, not starting with a digit, and no Python keyword"
        if not identifier:
            hint += "; single '-' may join such parts (block1-0)"
        elif "-" in str(value):
            hint += "; expressions read this name, and there '-' subtracts"
        raise SpecError(f"{prefix}{what} is not a valid {kind}", loc, hint=hint)
    if value in RESERVED:
        what = f"name {source!r} gives '{value}', which" if source is not None else f"'{value}'"
        raise SpecError(f"{prefix}{what} is reserved", loc, hint="it names the input of a scope")
    return value


@dataclass(frozen=True)
class Value:
    """A spec value before evaluation: a literal, or a string holding an expression."""

    raw: Any
    loc: Loc


@dataclass(frozen=True)
class Param:
    """A user-settable parameter with its default, allowed choices and one-line doc."""

    name: str
    default: Any
    choices: tuple[Any, ...] | None
    doc: str
    loc: Loc


@dataclass(frozen=True)
class OpItem:
    op: str
    name: str | None  # may hold ${EXPR} (is_template)
    inputs: tuple[str, ...] | None
    when: Value | None
    attrs: dict[str, Value]
    loc: Loc
    name_loc: Loc | None = None


@dataclass(frozen=True)
class BlockItem:
    block: Value
    name: str | None  # may hold ${EXPR}
    inputs: tuple[str, ...] | None
    when: Value | None
    args: dict[str, Value]
    loc: Loc
    name_loc: Loc | None = None


@dataclass(frozen=True)
class StageItem:
    name: str  # may hold ${EXPR}
    block: Value
    repeat: Value
    args: dict[str, Value]
    first: dict[str, Value]
    inputs: tuple[str, ...] | None
    when: Value | None
    loc: Loc
    name_loc: Loc | None = None


@dataclass(frozen=True)
class SeqItem:
    name: str | None  # may hold ${EXPR}; None: named like an unnamed layer (by position in a seq or stage)
    layers: tuple[Item, ...]
    inputs: tuple[str, ...] | None
    when: Value | None
    loc: Loc
    name_loc: Loc | None = None


@dataclass(frozen=True)
class RepeatItem:
    repeat: Value
    layers: tuple[Item, ...]
    when: Value | None
    loc: Loc
    index: str | None = None  # bound to 0, 1, ... inside the layers


Item = OpItem | BlockItem | StageItem | SeqItem | RepeatItem


@dataclass(frozen=True)
class BlockDef:
    name: str
    params: dict[str, Value]  # raw None: a required argument
    vars: tuple[tuple[str, Value], ...]
    layers: tuple[Item, ...]
    residual: Value
    projection_from: str | None
    projection_bn: Value
    post: tuple[Item, ...]
    loc: Loc
    pad: Value | None = None  # option A's placement of the zero channels (PAD_PLACEMENTS); None: 'end'


@dataclass(frozen=True)
class Spec:
    name: str
    description: str
    file: str
    params: dict[str, Param]
    vars: tuple[tuple[str, Value], ...]
    input: Value
    batch: Value
    dtype: str
    shortcut: Value
    defaults: dict[str, dict[str, Value]]
    blocks: dict[str, BlockDef]
    layers: tuple[Item, ...]
    loc: Loc


# ---------------------------------------------------------------------------------------------
# parsing


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file

    # helpers -------------------------------------------------------------------------------
    def mapping(self, value: Any, loc: Loc, path: str) -> LMap:
        if not isinstance(value, LMap):
            raise SpecError(f"{path}: expected a mapping, got {_kind(value)}", loc)
        return value

    def keys(self, m: LMap, allowed: set[str], path: str, required: tuple[str, ...] = ()) -> None:
        for key in m:
            if key not in allowed:
                raise SpecError(
                    f"{path}: unknown key '{key}'", m.key_locs.get(key, m.loc), hint=did_you_mean(key, allowed)
                )
        for key in required:
            if key not in m:
                raise SpecError(f"{path}: missing required key '{key}'", m.loc)

    def check(self, m: LMap, form: Form, path: str, extra: Iterable[str] = (), value: Any = None) -> None:
        """Check ``m`` against a form of the grammar: its forbidden, unknown and missing keys.

        Unknown keys are errors unless the form's other keys are block arguments; ``extra`` adds
        allowed keys (an op's attributes). ``value`` (the discriminator's) fills in missing-key messages.
        """
        for bad in form.forbidden:
            if bad.key in m:
                raise SpecError(f"{path}: {bad.message}", m.key_locs[bad.key], hint=bad.hint)
        if form.extra != "args":
            self.keys(m, set(form.keys) | set(extra), path)
        for field in form.fields:
            if field.required and field.key not in m:
                if field.missing is not None:
                    raise SpecError(f"{path}: {field.missing.format(value=value)}", m.loc, hint=field.missing_hint)
                raise SpecError(f"{path}: missing required key '{field.key}'", m.loc)

    def name(self, value: Any, loc: Loc, path: str, template: bool = False) -> str:
        """A valid layer name; where ``template`` (the grammar field says so), a string holding
        ``${EXPR}`` is kept as written and checked once the lowering has substituted it."""
        if template and is_template(value):
            return str(value)
        return check_name(value, loc, path)

    def identifier(self, value: Any, loc: Loc, path: str) -> str:
        """A valid identifier: a name that expressions read (parameters, vars, an index) or a block's."""
        return check_name(value, loc, path, identifier=True)

    def string(self, m: LMap, key: str, path: str, default: str | None = None) -> str:
        if key not in m:
            if default is None:
                raise SpecError(f"{path}: missing required key '{key}'", m.loc)
            return default
        value = m[key]
        if not isinstance(value, str):
            raise SpecError(f"{path}.{key}: expected a string, got {_kind(value)}", m.loc_of(key))
        return value

    def value(self, m: LMap, key: str) -> Value | None:
        return Value(m[key], m.loc_of(key)) if key in m else None

    def field(self, m: LMap, form: Form, key: str) -> Value:
        """The value of a field, or its default from the grammar (located at the mapping)."""
        return Value(m[key], m.loc_of(key)) if key in m else Value(form.default(key), m.loc)

    def inputs(self, m: LMap, path: str) -> tuple[str, ...] | None:
        if "inputs" not in m:
            return None
        raw = m["inputs"]
        loc = m.loc_of("inputs")
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
            raise SpecError(f"{path}.inputs: expected a layer name or a list of layer names", loc)
        for x in items:
            if not all(LAYER_NAME_RE.fullmatch(p) or p.isdigit() for p in x.split(".")):
                raise SpecError(f"{path}.inputs: {x!r} is not a layer name", loc)
        return tuple(items)

    # items ---------------------------------------------------------------------------------
    def items(self, raw: Any, loc: Loc, path: str) -> tuple[Item, ...]:
        if not isinstance(raw, LList):
            raise SpecError(f"{path}: expected a list of layers, got {_kind(raw)}", loc)
        return tuple(self.item(v, raw.loc_of(i), f"{path}[{i}]") for i, v in enumerate(raw))

    def item(self, raw: Any, loc: Loc, path: str) -> Item:
        from rescomp.ops import REGISTRY

        m = self.mapping(raw, loc, path)
        forms = item_kinds(m)
        kinds = [f.kind for f in forms]
        if "repeat" in kinds and "block" in kinds:
            raise SpecError(
                f"{path}: 'repeat' with 'block' needs a 'stage' name",
                m.loc,
                hint="write {stage: layer1, block: basic, repeat: 3}, or put the block under 'layers'",
            )
        if len(forms) != 1:
            keys = [f"'{f.key}'" for f in ITEMS]
            raise SpecError(
                f"{path}: a layer needs exactly one of {', '.join(keys[:-1])} or {keys[-1]}"
                + (f", got {', '.join(kinds)}" if kinds else ""),
                m.loc,
                hint="e.g. {op: conv, out: 64} or {stage: layer1, block: basic, repeat: 2}",
            )
        form = forms[0]
        name_field = form.field("name") if "name" in form.keys else None
        name = None
        if "name" in m:
            name = self.name(
                m["name"], m.loc_of("name"), f"{path}.name", name_field is not None and name_field.template
            )
        name_loc = m.loc_of("name") if "name" in m else None
        when = self.value(m, "when")
        if form.kind == "op":
            op = m["op"]
            spec = REGISTRY.get(op) if isinstance(op, str) else None
            if spec is None or not spec.public:
                public = [k for k, v in REGISTRY.items() if v.public]
                raise SpecError(f"{path}.op: unknown op {op!r}", m.loc_of("op"), hint=did_you_mean(str(op), public))
            self.check(m, form, f"{path} ({op})", extra=spec.attrs)
            attrs = {k: Value(v, m.loc_of(k)) for k, v in m.items() if k in spec.attrs}
            return OpItem(op, name, self.inputs(m, path), when, attrs, m.loc, name_loc)
        if form.kind == "block":
            self.check(m, form, path)
            args = {k: Value(v, m.loc_of(k)) for k, v in m.items() if k not in form.keys}
            return BlockItem(
                Value(m["block"], m.loc_of("block")), name, self.inputs(m, path), when, args, m.loc, name_loc
            )
        if form.kind == "stage":
            for bad in form.forbidden:  # before the stage's own name is checked
                if bad.key in m:
                    raise SpecError(f"{path}: {bad.message}", m.key_locs[bad.key], hint=bad.hint)
            stage = self.name(m["stage"], m.loc_of("stage"), f"{path}.stage", form.field("stage").template)
            self.check(m, form, path, value=stage)
            first = m.get("first", LMap())
            if not isinstance(first, LMap):
                raise SpecError(f"{path}.first: expected a mapping of block arguments", m.loc_of("first"))
            args = {k: Value(v, m.loc_of(k)) for k, v in m.items() if k not in form.keys}
            return StageItem(
                stage,
                Value(m["block"], m.loc_of("block")),
                self.field(m, form, "repeat"),
                args,
                {k: Value(v, first.loc_of(k)) for k, v in first.items()},
                self.inputs(m, path),
                when,
                m.loc,
                m.loc_of("stage"),
            )
        self.check(m, form, path)
        if form.kind == "seq":
            field = form.field("seq")
            seq = None
            if m["seq"] is not None or not field.nullable:
                seq = self.name(m["seq"], m.loc_of("seq"), f"{path}.seq", field.template)
            layers = self.items(m["layers"], m.loc_of("layers"), f"{path}.layers")
            return SeqItem(seq, layers, self.inputs(m, path), when, m.loc, m.loc_of("seq"))
        index = self.identifier(m["index"], m.loc_of("index"), f"{path}.index") if "index" in m else None
        layers = self.items(m["layers"], m.loc_of("layers"), f"{path}.layers")
        return RepeatItem(Value(m["repeat"], m.loc_of("repeat")), layers, when, m.loc, index)

    # blocks and the document ---------------------------------------------------------------
    def block(self, name: str, raw: Any, loc: Loc) -> BlockDef:
        path = f"blocks.{name}"
        m = self.mapping(raw, loc, path)
        self.check(m, BLOCK_DEF, path)
        params_raw = self.mapping(m.get("params", _empty(m.loc)), m.loc_of("params"), f"{path}.params")
        params = {}
        for key, value in params_raw.items():
            params[self.identifier(key, params_raw.key_locs[key], f"{path}.params")] = Value(
                value, params_raw.loc_of(key)
            )
        projection_from = None
        if "projection_from" in m:
            projection_from = self.name(m["projection_from"], m.loc_of("projection_from"), f"{path}.projection_from")
        return BlockDef(
            name,
            params,
            self.vars(m, path),
            self.items(m["layers"], m.loc_of("layers"), f"{path}.layers"),
            self.field(m, BLOCK_DEF, "residual"),
            projection_from,
            self.field(m, BLOCK_DEF, "projection_bn"),
            self.items(m["post"], m.loc_of("post"), f"{path}.post") if "post" in m else (),
            m.loc,
            self.field(m, BLOCK_DEF, "pad"),
        )

    def vars(self, m: LMap, path: str) -> tuple[tuple[str, Value], ...]:
        if "vars" not in m:
            return ()
        v = self.mapping(m["vars"], m.loc_of("vars"), f"{path}.vars")
        return tuple((self.identifier(k, v.key_locs[k], f"{path}.vars"), Value(x, v.loc_of(k))) for k, x in v.items())

    def params(self, m: LMap) -> dict[str, Param]:
        if "params" not in m:
            return {}
        raw = self.mapping(m["params"], m.loc_of("params"), "params")
        out = {}
        for key, value in raw.items():
            name = self.identifier(key, raw.key_locs[key], "params")
            loc = raw.loc_of(key)
            choices, doc = None, ""
            if isinstance(value, LMap):
                self.check(value, PARAM, f"params.{key}")
                if "choices" in value:
                    if not isinstance(value["choices"], list) or not value["choices"]:
                        raise SpecError(f"params.{key}.choices: expected a non-empty list", value.loc_of("choices"))
                    choices = tuple(value["choices"])
                doc = self.string(value, "doc", f"params.{key}", PARAM.default("doc"))
                value = value["default"]
                if choices is not None and value not in choices:
                    raise SpecError(f"params.{key}: default {value!r} is not among its choices", loc)
            if value is None or isinstance(value, LMap):
                raise SpecError(f"params.{key}: a parameter needs a default number, string, boolean or list", loc)
            out[name] = Param(name, value, choices, doc, loc)
        return out

    def document(self, raw: Any) -> Spec:
        top = Loc(self.file, 1, 1)
        m = self.mapping(raw, top, "spec")
        self.check(m, DOCUMENT, "spec")
        version = m.get("rescomp", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise SpecError(
                f"spec format {version!r} is not supported",
                m.loc_of("rescomp"),
                hint=f"this rescomp reads format {FORMAT_VERSION}",
            )
        name = self.string(m, "name", "spec")
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
            raise SpecError(f"spec name {name!r} may use only letters, digits, '_', '-' and '.'", m.loc_of("name"))
        dtype = self.string(m, "dtype", "spec", DOCUMENT.default("dtype"))
        if dtype not in DTYPES:
            raise SpecError(f"unknown dtype '{dtype}'", m.loc_of("dtype"), hint=did_you_mean(dtype, DTYPES))
        defaults = self.defaults(m)
        blocks_raw = self.mapping(m.get("blocks", _empty(m.loc)), m.loc_of("blocks"), "blocks")
        blocks = {}
        for key, value in blocks_raw.items():
            blocks[self.identifier(key, blocks_raw.key_locs[key], "blocks")] = self.block(
                key, value, blocks_raw.loc_of(key)
            )
        params = self.params(m)
        shortcut = self.field(m, DOCUMENT, "shortcut")
        return Spec(
            name=name,
            description=self.string(m, "description", "spec", DOCUMENT.default("description")),
            file=self.file,
            params=params,
            vars=self.vars(m, "spec"),
            input=Value(m["input"], m.loc_of("input")),
            batch=self.field(m, DOCUMENT, "batch"),
            dtype=dtype,
            shortcut=shortcut,
            defaults=defaults,
            blocks=blocks,
            layers=self.items(m["layers"], m.loc_of("layers"), "layers"),
            loc=m.loc,
        )

    def defaults(self, m: LMap) -> dict[str, dict[str, Value]]:
        from rescomp.ops import REGISTRY

        if "defaults" not in m:
            return {}
        raw = self.mapping(m["defaults"], m.loc_of("defaults"), "defaults")
        out: dict[str, dict[str, Value]] = {}
        for op, attrs in raw.items():
            if op not in REGISTRY or not REGISTRY[op].public:
                raise SpecError(f"defaults: unknown op '{op}'", raw.key_locs[op], hint=did_you_mean(op, REGISTRY))
            a = self.mapping(attrs, raw.loc_of(op), f"defaults.{op}")
            self.keys(a, set(REGISTRY[op].attrs), f"defaults.{op}")
            out[op] = {k: Value(v, a.loc_of(k)) for k, v in a.items()}
        return out


def _empty(loc: Loc) -> LMap:
    m = LMap()
    m.loc, m.locs, m.key_locs = loc, {}, {}
    return m


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def parse_spec(data: Any, file: str) -> Spec:
    """Validate loaded YAML into a :class:`Spec`; raise a located :class:`SpecError` on mistakes."""
    return _Parser(file).document(data)
