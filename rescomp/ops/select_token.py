"""Selecting one token: a transformer's class token as its summary (torchvision's ViT: ``x[:, 0]``)."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    Attr,
    Attrs,
    Example,
    Movement,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Shape,
    register,
)


@register
class SelectToken(Movement):
    kind = "select_token"
    doc = (
        "Takes one token of every sequence: tokens (N, L, C) become a vector (N, C) (torchvision's ViT reads "
        "its class token with `x[:, 0]` before the head)."
    )
    attrs = {"index": Attr("int", 0, "the token's position, 0 for the first (the class token)", minimum=0)}
    category = "shape"
    layouts = ("NLC",)
    flops_rule = "0 (an indexing: data movement)"
    onnx_note = "`Gather` on axis 1 with a scalar index"
    tensorrt_layer = "IGatherLayer"
    examples = (
        Example({}, ((2, 5, 6),), "the class token"),
        Example({"index": 3}, ((2, 5, 6),), "another token"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        n, length, c = ins[0]  # the layout check admits tokens only
        if a["index"] >= length:
            raise SpecError(
                f"select_token index {a['index']} is past the last of {length} tokens",
                hint=f"choose an index from 0 to {length - 1}",
            )
        return (n, c)

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return f"{args[0]}[:, {a['index']}]"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        index = f"{name}/index"
        return [
            OnnxConst(index, [a["index"]], ()),  # a scalar index drops the axis, as x[:, i] does
            OnnxNode("Gather", [x[0], index], [out], {"axis": 1}, name),
        ]
