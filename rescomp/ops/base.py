"""The op framework: the :class:`Op` base class, attribute schemas and the closed registry.

An op class holds everything rescomp knows about one op kind: its attribute schema, the shape rule,
parameter and buffer counts, its multiply-accumulate (MAC) and FLOP formulas, its receptive-field
rule, the census terms the peers' FLOP conventions use, its PyTorch, ONNX and TensorRT mappings, its
display category and examples. Ops see attributes and input shapes only; they never import torch or
onnx. Shapes include the batch dimension: ``(N, C, H, W)`` for feature maps, ``(N, L, C)`` for tokens,
``(N, F)`` for vectors (:data:`LAYOUTS`).

Each op lives in its own module of this package (or in a small family module); the package imports
every module it holds, so adding an op is adding one file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rescomp.errors import SpecError

Shape = tuple[int, ...]
Attrs = Mapping[str, Any]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


POSITIONAL: Any = _Marker("POSITIONAL")  # written positionally, always
KEYWORD: Any = _Marker("KEYWORD")  # written as a keyword, always
#: one constructor argument: parameter name, value, and torch's default (the argument is left out of
#: generated code where it equals the default) or POSITIONAL / KEYWORD
TorchArg = tuple[str, Any, Any]
#: a torch module constructor: the class (``nn.Conv2d``) and its arguments, positional ones first
TorchCall = tuple[str, list[TorchArg]]


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node as plain data; the ONNX backend turns it into a NodeProto."""

    op_type: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    name: str


@dataclass(frozen=True)
class OnnxConst:
    """A constant tensor an op's ONNX nodes need (slice bounds, pads), as plain data."""

    name: str
    values: list[Any]
    shape: tuple[int, ...]
    dtype: str = "int64"


OnnxOut = list[OnnxNode | OnnxConst]


@dataclass(frozen=True)
class Example:
    """One small, valid use of an op: attributes as a spec gives them, and input shapes with the batch.

    Every registered op declares at least one; the conformance tests run them all through the
    analysis, the emitted torch module and ONNX Runtime.
    """

    attrs: dict[str, Any]
    inputs: tuple[Shape, ...]
    note: str = ""


#: display categories, in the order the docs list them, with their fill colour in drawings
CATEGORIES: dict[str, str] = {
    "io": "#ffffff",
    "weighted": "#dbe9f6",
    "norm": "#eef5e8",
    "activation": "#fdf1dc",
    "pool": "#ece6f5",
    "merge": "#fbe0e0",
    "shape": "#ffffff",
}

_REQUIRED: Any = object()


@dataclass(frozen=True)
class Attr:
    """One attribute of an op: its type, default (or required), and a one-line description.

    Types: ``int``, ``pair`` (an int or a two-int list, for kernel sizes), ``ints`` (a list of
    integers, such as a permutation), ``float``, ``bool``, ``str``. ``minimum`` and ``maximum``
    bound numbers (inclusive); floats must also be finite. ``optional`` allows ``null`` (meaning 'derive it').
    """

    type: str
    default: Any = _REQUIRED
    doc: str = ""
    minimum: float | None = None
    optional: bool = False
    maximum: float | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def coerce(self, name: str, value: Any) -> Any:
        """Check a value's type and range; return it normalised (pairs become 2-tuples)."""
        if value is None and (self.optional or self.default is None):
            return None
        t = self.type
        if t == "pair":
            if isinstance(value, int) and not isinstance(value, bool):
                value = (value, value)
            if (
                not isinstance(value, (list, tuple))
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            ):
                raise SpecError(f"'{name}' must be an integer or a list of two integers, got {value!r}")
            self._bound(name, min(value))
            self._bound(name, max(value))
            return (int(value[0]), int(value[1]))
        if t == "ints":
            if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                raise SpecError(f"'{name}' must be a list of integers, got {value!r}")
            for v in value:
                self._bound(name, v)
            return tuple(int(v) for v in value)
        if t == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                raise SpecError(f"'{name}' must be an integer, got {value!r}")
            self._bound(name, value)
            return value
        if t == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise SpecError(f"'{name}' must be a number, got {value!r}")
            if not math.isfinite(value):
                raise SpecError(f"'{name}' must be a finite number, got {value}")
            self._bound(name, value)
            return float(value)
        if t == "bool":
            if not isinstance(value, bool):
                raise SpecError(f"'{name}' must be true or false, got {value!r}")
            return value
        if t == "str":
            if not isinstance(value, str):
                raise SpecError(f"'{name}' must be a string, got {value!r}")
            return value
        raise AssertionError(f"unknown attribute type {t}")  # registry bug, caught by tests

    def _bound(self, name: str, value: float) -> None:
        if self.minimum is not None and value < self.minimum:
            raise SpecError(f"'{name}' must be at least {self.minimum:g}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise SpecError(f"'{name}' must be at most {self.maximum:g}, got {value}")

    def range_text(self) -> str:
        """The allowed range in words ('>= 1', '0 .. 1'), or '' where unbounded."""
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            return f"{lo:g} .. {hi:g}"
        if lo is not None:
            return f">= {lo:g}"
        if hi is not None:
            return f"<= {hi:g}"
        return ""

    def json_schema(self) -> dict[str, Any]:
        """This attribute as a JSON Schema; any value may also be an expression string."""
        expr = {"type": "string", "description": "expression over parameters"}
        types: dict[str, dict[str, Any]] = {
            "int": {"type": "integer"},
            "float": {"type": "number"},
            "bool": {"type": "boolean"},
            "str": {"type": "string"},
            "ints": {"type": "array", "items": {"type": ["integer", "string"]}},
            "pair": {
                "oneOf": [
                    {"type": "integer"},
                    {"type": "array", "items": {"type": ["integer", "string"]}, "minItems": 2, "maxItems": 2},
                ]
            },
        }
        base = types[self.type]
        if self.minimum is not None and self.type in ("int", "float"):
            base = {**base, "minimum": self.minimum}
        if self.maximum is not None and self.type in ("int", "float"):
            base = {**base, "maximum": self.maximum}
        options = [base] if self.type == "str" else [base, expr]
        if self.optional or self.default is None:
            options.append({"type": "null"})
        out: dict[str, Any] = {"anyOf": options} if len(options) > 1 else dict(base)
        out["description"] = self.doc
        if not self.required and self.default is not None:
            out["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        return out


class Op:
    """Base of every op kind. Subclasses set the class variables and override the rules."""

    kind: ClassVar[str]
    doc: ClassVar[str]
    attrs: ClassVar[dict[str, Attr]] = {}
    #: inputs accepted: (minimum, maximum or None for unbounded)
    arity: ClassVar[tuple[int, int | None]] = (1, 1)
    #: counted in the depth (the paper's 'weighted layers')
    weighted: ClassVar[bool] = False
    #: the FLOP convention for this op, one line (docs/conventions.md, docs/ops.md)
    flops_rule: ClassVar[str]
    #: user-facing: may appear as 'op:' in a spec (internal ops are created by the lowering)
    public: ClassVar[bool] = True
    #: emitted as an expression in forward() (add, concat), not as an nn.Module attribute
    functional: ClassVar[bool] = False
    #: held as an ``nn.Parameter`` of its container (layer scale), not as a module: its
    #: :meth:`torch_module` call makes the parameter, :meth:`torch_apply` uses it in forward(), and
    #: its one saved tensor is keyed by the node's own name (state suffix "")
    parameter: ClassVar[bool] = False
    #: display category, a key of :data:`CATEGORIES`
    category: ClassVar[str]
    #: fill colour in drawings where it differs from the category's
    fill: ClassVar[str | None] = None
    #: census terms this op contributes to (``rescomp crosscheck``): term -> what it counts
    census_terms: ClassVar[dict[str, str]] = {}
    #: (class name, full source) of a helper ``nn.Module`` the emitted file must define
    torch_helper: ClassVar[tuple[str, str] | None] = None
    #: the lowest ONNX opset whose operators :meth:`onnx` emits
    min_opset: ClassVar[int] = 13
    #: a note on the ONNX mapping for the generated docs (the operators come from the examples)
    onnx_note: ClassVar[str] = ""
    #: the TensorRT layer(s) its ONNX parses into; None where TensorRT has no mapping
    tensorrt_layer: ClassVar[str | None] = None
    #: is a per-channel affine map at inference (:meth:`channel_affine`), so it may be folded away
    affine_foldable: ClassVar[bool] = False
    #: folds a following per-channel affine map (inference BN) into its own weights
    absorbs_channel_affine: ClassVar[bool] = False
    #: the input layouts the op takes (:data:`LAYOUTS`); None: any
    layouts: ClassVar[tuple[str, ...] | None] = None
    #: every output element sees every position of its input (attention, the mean over tokens), so the
    #: receptive field becomes at least the whole input image, whatever :meth:`receptive` says
    global_receptive: ClassVar[bool] = False
    #: small valid uses of the op; at least one per registered op
    examples: ClassVar[tuple[Example, ...]] = ()

    @property
    def color(self) -> str:
        """Fill colour of this op's boxes in drawings."""
        return self.fill or CATEGORIES[self.category]

    def complete(self, given: Attrs) -> dict[str, Any]:
        """Type-check given attribute values and fill in defaults; the result is what nodes carry."""
        out: dict[str, Any] = {}
        for key, attr in self.attrs.items():
            if key in given:
                out[key] = attr.coerce(key, given[key])
            elif attr.required:
                raise SpecError(f"op '{self.kind}' needs '{key}' ({attr.doc})")
            else:
                out[key] = attr.coerce(key, attr.default)
        unknown = set(given) - set(self.attrs)
        if unknown:
            raise SpecError(f"op '{self.kind}' has no attribute '{sorted(unknown)[0]}'")
        return out

    # Analysis ------------------------------------------------------------------------------------
    def accepts(self, a: Attrs) -> tuple[str, ...] | None:
        """The input layouts this op takes with these attributes (None: any)."""
        return self.layouts

    def layout(self, a: Attrs, ins: Sequence[str], out: Shape) -> str:
        """The output's layout: the first input's where the rank is kept, else the rank's default."""
        if ins and len(ins[0]) == len(out):
            return ins[0]
        return default_layout(len(out))

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        raise NotImplementedError

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Trainable parameters."""
        return 0

    def buffers(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Non-trainable state saved with the model (BN running statistics)."""
        return 0

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Multiply-accumulates of conv, linear and attention layers (every matrix product), bias
        excluded (the paper's 'FLOPs')."""
        return 0

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Floating-point operations under rescomp's full convention (see ``flops_rule``)."""
        raise NotImplementedError

    def receptive(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> tuple[int, int]:
        """(window extent, stride) along the height axis: the dilated kernel size and the stride of a
        window op; (1, 1) for a point-wise op. The receptive-field pass composes these."""
        return (1, 1)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        """This node's count of each of :attr:`census_terms` (batch included)."""
        return {}

    def workspace(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        """Elements of the intermediate tensors the op holds while it runs, beyond its inputs and its
        output (attention's L x L score matrix per head); 0 for most ops. The memory pass counts them
        alive while the node runs, and in the total that training keeps."""
        return 0

    # PyTorch emission: a module op returns its constructor; a functional op returns an expression.
    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall | None:
        """The ``nn`` module that computes this op, or None when :meth:`torch_expr` does."""
        raise NotImplementedError

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        """A Python expression over the input variables ``args`` (functional ops only)."""
        raise NotImplementedError(f"op '{self.kind}' is emitted as a module")

    def torch_apply(self, param: str, args: Sequence[str]) -> str:
        """forward()'s expression applying the parameter ``param`` to ``args`` (parameter ops only)."""
        raise NotImplementedError(f"op '{self.kind}' is not a parameter")

    def torch_call(self, module: str, args: Sequence[str]) -> str:
        """forward()'s expression calling this op's module ``module`` (``self.conv1``) on ``args``:
        ``module(x)``, unless the module is called otherwise (``nn.MultiheadAttention`` takes the
        query, key and value and returns a pair)."""
        return f"{module}({', '.join(args)})"

    # Saved state, weight rewrites and ONNX emission ------------------------------------------------
    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        """Saved tensors as (state_dict suffix, shape), in torch's order: parameters, then buffers.
        The suffix "" (parameter ops) keys the tensor by the node's name itself (:func:`state_key`)."""
        return []

    def channel_affine(self, a: Attrs, state: Mapping[str, Any]) -> tuple[Any, Any] | None:
        """At inference, this op as ``x * scale[c] + shift[c]``: the per-channel (scale, shift) arrays
        computed from its saved tensors (keyed by :meth:`state` suffix), or None where it is not one."""
        return None

    def absorb_affine(
        self, a: Attrs, state: Mapping[str, Any], scale: Any, shift: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Fold a following per-output-channel affine map into this op: its new attributes and saved
        tensors. Only for ops with :attr:`absorbs_channel_affine`."""
        raise NotImplementedError(f"op '{self.kind}' cannot absorb a channel affine map")

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        """ONNX nodes (for ``opset`` >= :attr:`min_opset`) reading tensors ``x`` and writing ``out``;
        weights are initializers named ``f"{name}.{suffix}"`` after :meth:`state`."""
        raise NotImplementedError


class Functional(Op):
    """Base of ops written as an expression in forward() (:meth:`torch_expr`), never as a module."""

    functional = True

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall | None:
        return None


class Movement(Functional):
    """Base of functional ops that only move or select elements (a reshape, a transpose, a slice):
    they compute nothing, so they count 0 FLOPs."""

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0


class Merge(Functional):
    """Base of ops that merge two or more branches (add, concat)."""

    arity: ClassVar[tuple[int, int | None]] = (2, None)
    category = "merge"


def state_key(node: str, suffix: str) -> str:
    """The state_dict key of a node's saved tensor: ``conv1.weight``; a parameter op's is its name."""
    return f"{node}.{suffix}" if suffix else node


def pair(v: tuple[int, int]) -> int | tuple[int, int]:
    """(3, 3) -> 3 for readable emitted code; uneven pairs stay tuples."""
    return v[0] if v[0] == v[1] else v


def kwargs(**items: tuple[Any, Any]) -> list[TorchArg]:
    """Keyword arguments with torch's defaults: name=(value, default)."""
    return [(k, v, default) for k, (v, default) in items.items()]


REGISTRY: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an op kind to the closed registry."""
    if cls.kind in REGISTRY:
        raise AssertionError(f"op '{cls.kind}' registered twice")
    if cls.category not in CATEGORIES:
        raise AssertionError(f"op '{cls.kind}' has unknown category '{cls.category}'")
    REGISTRY[cls.kind] = cls()
    return cls


def sort_registry() -> None:
    """Order the registry by category (as :data:`CATEGORIES` lists them), then kind: the order the
    docs and the crosscheck census terms follow, independent of module import order."""
    order = list(CATEGORIES)
    items = sorted(REGISTRY.items(), key=lambda kv: (order.index(kv[1].category), kv[0]))
    REGISTRY.clear()
    REGISTRY.update(items)


#: tensor layouts, by the letters of their dimensions (N: the batch), in words
LAYOUTS: dict[str, str] = {
    "NCHW": "a feature map (N, C, H, W)",
    "NHWC": "a channels-last map (N, H, W, C)",
    "NLC": "tokens (N, L, C)",
    "NF": "a vector (N, F)",
}


def default_layout(rank: int) -> str:
    """The layout a tensor of this rank has unless a permute says otherwise."""
    return {4: "NCHW", 3: "NLC", 2: "NF"}.get(rank, "N" + "abcdefghijklmnopqrstuvwxyz"[: max(rank - 1, 0)])


def channels(shape: Shape, layout: str) -> int:
    """The channel (feature) count of a tensor: the last dimension of tokens and channels-last maps,
    dimension 1 otherwise (feature maps, vectors), the only one of a rank-1 tensor."""
    if layout in ("NLC", "NHWC"):
        return shape[-1]
    return shape[1] if len(shape) > 1 else shape[0]


def layout_words(layout: str, shape: Shape) -> str:
    """'a feature map (N, C, H, W) of shape (1, 16, 32, 32)'."""
    what = LAYOUTS.get(layout, f"a tensor laid out ({', '.join(layout)})")
    return f"{what} of shape {shape}"


def numel(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def need_rank(kind: str, shape: Shape, rank: int) -> None:
    if len(shape) != rank:
        what = "a feature map (N, C, H, W)" if rank == 4 else "a vector (N, F)"
        hint = "add a 'flatten' layer before it" if rank == 2 else "this op works on feature maps, not vectors"
        raise SpecError(f"{kind} needs {what}, got shape {shape}", hint=hint)


def window_out(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window (conv or pool) along one axis, as torch computes it."""
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        return 0
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + p:  # torch: the last window must start inside the input
            out -= 1
        return out
    return span // s + 1
