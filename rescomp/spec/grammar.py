"""The spec grammar as one table: the keys each layer kind, a block definition, a parameter and the document take.

Both readers of the grammar are generated from this table:

- the loader (:mod:`rescomp.spec.model`) takes from it the allowed keys, the required keys (with
  their error messages), the keys that tell the layer kinds apart, and which extra keys are op
  attributes or block arguments;
- the JSON Schema (:mod:`rescomp.spec.schema`) maps every field's type to a schema fragment.

Each :class:`Form` lists its fixed fields; :attr:`Form.extra` says what other keys are: op attributes
(checked against the op registry), block arguments (any key), or nothing (unknown keys are errors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FORMAT_VERSION = 1
SHORTCUTS = ("A", "B", "C", "none")
DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}

FieldType = Literal[
    "op",  # an op kind from the registry (the op item's discriminator)
    "name",  # an identifier (a parameter, var, index or block name: expressions read it)
    "layer-name",  # a layer name: an identifier, or identifier characters joined by single '-' (block1-0)
    "spec-name",  # letters, digits, '_', '-', '.'
    "string",
    "block-ref",  # a block from 'blocks' (a string, may hold ${EXPR})
    "expr-int",  # an integer or an expression
    "bool-expr",  # a boolean or an expression
    "inputs",  # a layer name or a non-empty list of layer names
    "layers",  # a list of layer items
    "args",  # a mapping of block arguments
    "exprs",  # a mapping of names to expressions, in order
    "block-params",  # a mapping of block parameters to defaults (null: required)
    "params",  # a mapping of names to parameters (the 'param' form)
    "param-value",  # a number, string, boolean or list
    "choices",  # a non-empty list
    "version",  # the format version
    "shape",  # an input shape
    "dtype",  # a key of DTYPES
    "shortcut",  # a shortcut policy (a string, may hold ${EXPR})
    "defaults",  # per-op default attributes
    "blocks",  # block definitions (the 'block definition' form)
]
Extra = Literal["attrs", "args"]

#: where option A's zero channels go (the block definition's 'pad', the pad_shortcut op's 'placement')
PAD_PLACEMENTS = ("end", "split")


@dataclass(frozen=True)
class Field:
    """A fixed key of a form."""

    key: str
    type: FieldType
    doc: str
    required: bool = False
    default: Any = None  # None: no default
    missing: str | None = None  # error when a required key is missing; {value} is the discriminator's value
    missing_hint: str | None = None
    template: bool = False  # a "name" that may hold ${EXPR}, resolved (and checked) when the layer is built
    nullable: bool = False  # null is allowed (a seq without a name is named like an unnamed layer)


@dataclass(frozen=True)
class Forbidden:
    """A key a form rejects with a message of its own (it is common to the other layer kinds)."""

    key: str
    message: str
    hint: str


@dataclass(frozen=True)
class Form:
    """One mapping of the grammar: a layer kind, a block definition, a parameter or the document."""

    kind: str
    doc: str
    fields: tuple[Field, ...]
    key: str | None = None  # the discriminating key of a layer kind
    extra: Extra | None = None  # other keys: op attributes, block arguments, or none
    forbidden: tuple[Forbidden, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(f.key for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields if f.required)

    def field(self, key: str) -> Field:
        return next(f for f in self.fields if f.key == key)

    def default(self, key: str) -> Any:
        return self.field(key).default


_NAME = Field(
    "name",
    "layer-name",
    "the layer's name in its scope, may hold ${EXPR} (e.g. denselayer${i + 1}); "
    "default: the op and a counter (relu1, relu2, ...), or the position inside a seq or stage",
    template=True,
)
_INPUTS = Field(
    "inputs",
    "inputs",
    "earlier layers (of this scope) to read; 'input' is the scope's input; default: the previous layer",
)
_WHEN = Field("when", "bool-expr", "include this layer only if true")

OP = Form(
    "op",
    "one operation from the op registry; other keys are its attributes",
    (Field("op", "op", "the op", required=True), _NAME, _INPUTS, _WHEN),
    key="op",
    extra="attrs",
)
BLOCK = Form(
    "block",
    "one instance of a block from 'blocks'; other keys are block arguments",
    (Field("block", "block-ref", "the block from 'blocks'", required=True), _NAME, _INPUTS, _WHEN),
    key="block",
    extra="args",
)
STAGE = Form(
    "stage",
    "a named container of 'repeat' blocks, named stage.0, stage.1, ...; "
    "other keys are arguments to every block, 'first' overrides them for block 0",
    (
        Field("stage", "layer-name", "the stage's name, may hold ${EXPR}", required=True, template=True),
        Field(
            "block",
            "block-ref",
            "the block from 'blocks'",
            required=True,
            missing="stage '{value}' needs 'block'",
            missing_hint="name a block from 'blocks'",
        ),
        Field("repeat", "expr-int", "how many blocks", default=1),
        Field("first", "args", "block arguments for block 0 only"),
        _INPUTS,
        _WHEN,
    ),
    key="stage",
    extra="args",
    forbidden=(Forbidden("name", "a stage is named by 'stage'", "write {stage: layer1, ...} without 'name'"),),
)
SEQ = Form(
    "seq",
    "a sequence whose unnamed layers are named by index (features.0, features.1, ...)",
    (
        Field(
            "seq",
            "layer-name",
            "the sequence's name, may hold ${EXPR}; null: named like an unnamed layer "
            "(its position inside a seq or stage, else seq1, seq2, ...)",
            required=True,
            template=True,
            nullable=True,
        ),
        Field("layers", "layers", "the layers; unnamed ones are named by index", required=True),
        _INPUTS,
        _WHEN,
    ),
    key="seq",
)
REPEAT = Form(
    "repeat",
    "the layers, repeated inline",
    (
        Field("repeat", "expr-int", "how many times", required=True),
        Field("index", "name", "a name bound to the iteration (0, 1, ...) inside the repeated layers"),
        Field("layers", "layers", "the layers to repeat", required=True),
        _WHEN,
    ),
    key="repeat",
)

#: The layer kinds, in the order errors list them.
ITEMS: tuple[Form, ...] = (OP, BLOCK, STAGE, SEQ, REPEAT)

BLOCK_DEF = Form(
    "block definition",
    "a reusable block: a body, an optional residual shortcut around it, and layers after the add",
    (
        Field("doc", "string", "what the block is"),
        Field("params", "block-params", "parameters with defaults; null means required"),
        Field("vars", "exprs", "derived values (expressions), in order"),
        Field("layers", "layers", "the body", required=True),
        Field("residual", "bool-expr", "add a shortcut around the body", default=True),
        Field("projection_from", "layer-name", "body layer a projection shortcut reads"),
        Field("projection_bn", "bool-expr", "give a projection shortcut a BN", default=True),
        Field(
            "pad",
            "string",
            "where option A puts the zero channels: 'end' (after the input's), or 'split' (half before and "
            "half after, the odd one after); may hold ${EXPR}",
            default="end",
        ),
        Field("post", "layers", "layers after the residual add"),
    ),
)

PARAM = Form(
    "parameter",
    "a user-settable parameter: a default, or {default, choices, doc}",
    (
        Field("default", "param-value", "the default value", required=True),
        Field("choices", "choices", "the allowed values"),
        Field("doc", "string", "one line of documentation", default=""),
    ),
)

DOCUMENT = Form(
    "spec",
    "A residual network architecture for rescomp (docs/spec.md).",
    (
        Field("rescomp", "version", "spec format version"),
        Field("name", "spec-name", "the model's name: letters, digits, '_', '-', '.'", required=True),
        Field("description", "string", "one line for 'rescomp list' and reports", default=""),
        Field("params", "params", "user-settable parameters (--set key=value)"),
        Field("vars", "exprs", "derived values (expressions), in order"),
        Field(
            "input",
            "shape",
            "input shape without the batch dimension, e.g. [3, 224, 224] or 3x224x224",
            required=True,
        ),
        Field("batch", "expr-int", "batch size", default=1),
        Field("dtype", "dtype", "byte size of weights and activations", default="float32"),
        Field("shortcut", "shortcut", f"residual shortcut policy: {', '.join(SHORTCUTS)}", default="B"),
        Field("defaults", "defaults", "default attributes per op"),
        Field("blocks", "blocks", "reusable block definitions"),
        Field("layers", "layers", "the network, a list of layers", required=True),
    ),
)

FORMS: tuple[Form, ...] = (*ITEMS, BLOCK_DEF, PARAM, DOCUMENT)


def item_kinds(keys: Any) -> list[Form]:
    """The layer kinds a mapping's keys name: each kind whose key is present and not a field of another.

    A stage carries 'block' and 'repeat' as fields of its own, so {stage, block, repeat} is one stage.
    """
    present = [f for f in ITEMS if f.key in keys]
    return [f for f in present if not any(f.key in g.keys for g in present if g is not f)]
