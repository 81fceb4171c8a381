"""The JSON Schema of the spec format, generated from the grammar table and the op registry.

``rescomp schema`` prints it; point an editor's YAML language server at it for validation and
completion. The loader does its own checks (with line and column) from the same table
(:mod:`rescomp.spec.grammar`), so the two accept the same keys.
"""

from __future__ import annotations

from typing import Any

from rescomp.spec.grammar import BLOCK_DEF, DOCUMENT, DTYPES, FORMAT_VERSION, ITEMS, OP, PARAM, Field, FieldType, Form

SCHEMA_ID = "https://rescomp.dev/schema/spec-1.json"

_LAYERS = {"type": "array", "items": {"$ref": "#/$defs/layer"}}
_ARG = {"description": "block argument: a value or an expression"}
_SCALAR = {"type": ["integer", "number", "string", "boolean", "array"]}


def _defaults() -> dict[str, Any]:
    from rescomp.ops import REGISTRY

    return {
        "type": "object",
        "properties": {
            k: {
                "type": "object",
                "properties": {a: v.json_schema() for a, v in op.attrs.items()},
                "additionalProperties": False,
            }
            for k, op in sorted(REGISTRY.items())
            if op.public
        },
        "additionalProperties": False,
    }


def _type(t: FieldType) -> dict[str, Any]:
    """The schema of one field type of the grammar."""
    types: dict[str, Any] = {
        "op": lambda: {"type": "string"},  # each op's alternative makes it a const
        "name": lambda: {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "layer-name": lambda: {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*$"},
        "spec-name": lambda: {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]+$"},
        "string": lambda: {"type": "string"},
        "block-ref": lambda: {"type": "string"},
        "expr-int": lambda: {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "bool-expr": lambda: {"anyOf": [{"type": "boolean"}, {"type": "string"}]},
        "inputs": lambda: {
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]
        },
        "layers": lambda: dict(_LAYERS),
        "args": lambda: {"type": "object", "additionalProperties": _ARG},
        "exprs": lambda: {"type": "object"},
        "block-params": lambda: {"type": "object", "additionalProperties": True},
        "params": lambda: {"type": "object", "additionalProperties": {"anyOf": [_SCALAR, _form(PARAM)]}},
        "param-value": lambda: dict(_SCALAR),
        "choices": lambda: {"type": "array", "minItems": 1},
        "version": lambda: {"const": FORMAT_VERSION},
        "shape": lambda: {
            "anyOf": [
                {"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1},
                {"type": "string", "pattern": r"^\d+(x\d+)*$"},
            ]
        },
        "dtype": lambda: {"enum": sorted(DTYPES)},
        "shortcut": lambda: {"type": "string"},
        "defaults": _defaults,
        "blocks": lambda: {"type": "object", "additionalProperties": {"$ref": "#/$defs/block"}},
    }
    out: dict[str, Any] = types[t]()
    return out


_TYPE_DOC = {"expr-int": "an integer or an expression", "bool-expr": "a boolean or an expression"}


def _field(f: Field) -> dict[str, Any]:
    out = _type(f.type)
    if f.template:  # an identifier, or a string holding ${EXPR} (its value is checked when the layer is built)
        out = {"anyOf": [out, {"type": "string", "pattern": r"\$\{"}]}
    if f.nullable:
        out = {"anyOf": [*out.get("anyOf", [out]), {"type": "null"}]}
    doc = "; ".join(d for d in (f.doc, _TYPE_DOC.get(f.type, "")) if d)
    if doc:
        out["description"] = doc
    if f.default is not None:
        out["default"] = f.default
    return out


def _form(form: Form, properties: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The object schema of a form; ``properties`` replace or add to its fields' (an op's attributes)."""
    props = {f.key: _field(f) for f in form.fields}
    props.update(properties or {})
    out: dict[str, Any] = {"type": "object"}
    if form.key is not None:
        out["title"] = form.kind
    out["description"] = form.doc
    out["properties"] = props
    out["required"] = [*form.required, *required]
    # A form whose other keys are block arguments must still reject the keys that name other layer
    # kinds (unless they are its own fields, as 'block' and 'repeat' are a stage's) and its forbidden keys.
    if form.extra == "args":
        others = [g.key for g in ITEMS if g is not form and g.key not in form.keys]
        excluded = [*others, *(bad.key for bad in form.forbidden)]
        out["not"] = {"anyOf": [{"required": [k]} for k in excluded]}
        out["additionalProperties"] = _ARG
    else:
        out["additionalProperties"] = False
    return out


def _op_items() -> list[dict[str, Any]]:
    """The op layer kind: one alternative per public op, its attributes from the registry."""
    from rescomp.ops import REGISTRY

    out = []
    for kind, op in sorted(REGISTRY.items()):
        if not op.public:
            continue
        attrs = {k: a.json_schema() for k, a in op.attrs.items()}
        item = _form(
            OP,
            {"op": {"const": kind, "description": op.doc}, **attrs},
            tuple(k for k, a in op.attrs.items() if a.required),
        )
        item["title"], item["description"] = kind, op.doc
        out.append(item)
    return out


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rescomp spec."""
    layer: list[dict[str, Any]] = []
    for form in ITEMS:
        layer.extend(_op_items() if form is OP else [_form(form)])
    document = _form(DOCUMENT)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rescomp spec",
        **document,
        "$defs": {"block": _form(BLOCK_DEF), "layer": {"oneOf": layer}},
    }
