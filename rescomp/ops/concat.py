"""Concatenation along channels: the merge of multi-branch blocks."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import Attrs, Example, Merge, OnnxNode, OnnxOut, Shape, register


@register
class Concat(Merge):
    kind = "concat"
    doc = "Concatenation along channels of two or more inputs with the same other dimensions."
    flops_rule = "0 (data movement)"
    layouts = ("NCHW", "NF")  # it joins dimension 1: the channels of a map, the features of a vector
    tensorrt_layer = "IConcatenationLayer"
    examples = (
        Example({}, ((2, 3, 4, 4), (2, 5, 4, 4))),
        Example({}, ((1, 1, 2, 2), (1, 2, 2, 2), (1, 3, 2, 2)), "three inputs"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        first = ins[0]
        for other in ins[1:]:
            if len(other) != len(first) or other[:1] + other[2:] != first[:1] + first[2:]:
                raise SpecError(
                    f"concat needs inputs that differ only in channels, got {first} and {other}",
                    hint="downsample the branches to one spatial size first",
                )
        return (first[0], sum(s[1] for s in ins), *first[2:])

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(args)}], dim=1)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Concat", list(x), [out], {"axis": 1}, name)]
