"""Split: one chunk of a tensor cut into equal parts along its channels (ShuffleNetV2's
``x1, x2 = x.chunk(2, dim=1)``)."""

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
    need_rank,
    register,
)


@register
class Split(Movement):
    kind = "split"
    doc = (
        "One of `chunks` equal parts of a feature map along its channels: part `index` of "
        "`x.chunk(chunks, dim=1)` (ShuffleNetV2's stride-1 unit splits its input in two). "
        "The channels must divide evenly."
    )
    attrs = {
        "chunks": Attr("int", 2, "how many equal parts the channels are cut into", minimum=1),
        "index": Attr("int", 0, "which part, from 0", minimum=0),
    }
    category = "shape"
    layouts = ("NCHW",)
    flops_rule = "0 (a slice: data movement)"
    onnx_note = "one `Slice` over the channels, from index * C / chunks"
    tensorrt_layer = "ISliceLayer"
    examples = (
        Example({"chunks": 2, "index": 0}, ((2, 4, 3, 3),), "the first half"),
        Example({"chunks": 2, "index": 1}, ((2, 6, 4, 5),), "the second half"),
        Example({"chunks": 3, "index": 2}, ((1, 6, 3, 3),), "the last of three"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("split", x, 4)
        chunks, index = a["chunks"], a["index"]
        if index >= chunks:
            raise SpecError(
                f"split index {index} is out of range for {chunks} chunks", hint=f"use an index from 0 to {chunks - 1}"
            )
        n, c, h, w = x
        if c % chunks:
            raise SpecError(
                f"split cannot cut {c} channels into {chunks} equal parts",
                hint="give the input a channel count divisible by 'chunks'",
            )
        return (n, c // chunks, h, w)

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return f"{args[0]}.chunk({a['chunks']}, dim=1)[{a['index']}]"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        part = ins[0][1] // a["chunks"]
        bounds = {"starts": [a["index"] * part], "ends": [(a["index"] + 1) * part], "axes": [1]}
        return [
            *(OnnxConst(f"{name}.{k}", v, (1,)) for k, v in bounds.items()),
            OnnxNode("Slice", [x[0], *(f"{name}.{k}" for k in bounds)], [out], {}, name),
        ]
