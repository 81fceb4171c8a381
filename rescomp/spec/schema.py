"""The JSON Schema of the spec format, generated from the op registry so the two never diverge.

``rescomp schema`` prints it; point an editor's YAML language server at it for validation and
completion. The loader does its own checks (with line and column); tests keep both in agreement.
"""

from __future__ import annotations

from typing import Any

from rescomp.spec.model import DTYPES, FORMAT_VERSION, SHORTCUTS

SCHEMA_ID = "https://rescomp.dev/schema/spec-1.json"

_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
_EXPR_INT = {"anyOf": [{"type": "integer"}, {"type": "string"}], "description": "integer or expression"}
_WHEN = {"anyOf": [{"type": "boolean"}, {"type": "string"}], "description": "include this layer only if true"}
_INPUTS = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
    "description": "earlier layers (of this scope) to read; 'input' is the scope's input; default: the previous layer",
}
_ARG = {"description": "block argument: a value or an expression"}


def _op_items() -> list[dict[str, Any]]:
    from rescomp.ops import REGISTRY

    out = []
    for kind, op in sorted(REGISTRY.items()):
        if not op.public:
            continue
        props: dict[str, Any] = {
            "op": {"const": kind, "description": op.doc},
            "name": _NAME,
            "inputs": _INPUTS,
            "when": _WHEN,
        }
        props.update({k: a.json_schema() for k, a in op.attrs.items()})
        required = ["op", *[k for k, a in op.attrs.items() if a.required]]
        out.append(
            {
                "type": "object",
                "title": kind,
                "description": op.doc,
                "properties": props,
                "required": required,
                "additionalProperties": False,
            }
        )
    return out


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rescomp spec."""
    layer_ref = {"$ref": "#/$defs/layer"}
    layers = {"type": "array", "items": layer_ref}
    block_item = {
        "type": "object",
        "title": "block",
        "description": "one instance of a block from 'blocks'; other keys are block arguments",
        "properties": {"block": {"type": "string"}, "name": _NAME, "inputs": _INPUTS, "when": _WHEN},
        "required": ["block"],
        "not": {
            "anyOf": [{"required": ["op"]}, {"required": ["stage"]}, {"required": ["seq"]}, {"required": ["repeat"]}]
        },
        "additionalProperties": _ARG,
    }
    stage_item = {
        "type": "object",
        "title": "stage",
        "description": "a named container of 'repeat' blocks, named stage.0, stage.1, ...; "
        "other keys are arguments to every block, 'first' overrides them for block 0",
        "properties": {
            "stage": _NAME,
            "block": {"type": "string"},
            "repeat": _EXPR_INT,
            "first": {"type": "object", "additionalProperties": _ARG},
            "inputs": _INPUTS,
            "when": _WHEN,
        },
        "required": ["stage", "block"],
        "not": {"anyOf": [{"required": ["op"]}, {"required": ["seq"]}, {"required": ["name"]}]},
        "additionalProperties": _ARG,
    }
    seq_item = {
        "type": "object",
        "title": "seq",
        "description": "a named sequence whose layers are named by index (features.0, features.1, ...)",
        "properties": {"seq": _NAME, "layers": layers, "inputs": _INPUTS, "when": _WHEN},
        "required": ["seq", "layers"],
        "additionalProperties": False,
    }
    repeat_item = {
        "type": "object",
        "title": "repeat",
        "description": "the layers, repeated inline",
        "properties": {"repeat": _EXPR_INT, "layers": layers, "when": _WHEN},
        "required": ["repeat", "layers"],
        "additionalProperties": False,
    }
    param = {
        "anyOf": [
            {"type": ["integer", "number", "string", "boolean", "array"]},
            {
                "type": "object",
                "properties": {
                    "default": {"type": ["integer", "number", "string", "boolean", "array"]},
                    "choices": {"type": "array", "minItems": 1},
                    "doc": {"type": "string"},
                },
                "required": ["default"],
                "additionalProperties": False,
            },
        ]
    }
    block_def = {
        "type": "object",
        "properties": {
            "doc": {"type": "string"},
            "params": {
                "type": "object",
                "description": "parameters with defaults; null means required",
                "additionalProperties": True,
            },
            "vars": {"type": "object", "description": "derived values (expressions), in order"},
            "layers": layers,
            "residual": {"anyOf": [{"type": "boolean"}, {"type": "string"}], "default": True},
            "projection_from": {**_NAME, "description": "body layer a projection shortcut reads"},
            "projection_bn": {"anyOf": [{"type": "boolean"}, {"type": "string"}], "default": True},
            "post": {**layers, "description": "layers after the residual add"},
        },
        "required": ["layers"],
        "additionalProperties": False,
    }
    from rescomp.ops import REGISTRY

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rescomp spec",
        "description": "A residual network architecture for rescomp (docs/spec.md).",
        "type": "object",
        "properties": {
            "rescomp": {"const": FORMAT_VERSION, "description": "spec format version"},
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]+$"},
            "description": {"type": "string"},
            "params": {
                "type": "object",
                "additionalProperties": param,
                "description": "user-settable parameters (--set key=value)",
            },
            "vars": {"type": "object", "description": "derived values (expressions), in order"},
            "input": {
                "anyOf": [
                    {"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 1},
                    {"type": "string", "pattern": r"^\d+(x\d+)*$"},
                ],
                "description": "input shape without the batch dimension, e.g. [3, 224, 224] or 3x224x224",
            },
            "batch": {**_EXPR_INT, "default": 1},
            "dtype": {"enum": sorted(DTYPES), "default": "float32"},
            "shortcut": {
                "type": "string",
                "description": f"residual shortcut policy: {', '.join(SHORTCUTS)}",
                "default": "B",
            },
            "defaults": {
                "type": "object",
                "description": "default attributes per op",
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
            },
            "blocks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/block"}},
            "layers": layers,
        },
        "required": ["name", "input", "layers"],
        "additionalProperties": False,
        "$defs": {
            "block": block_def,
            "layer": {"oneOf": [*_op_items(), block_item, stage_item, seq_item, repeat_item]},
        },
    }
