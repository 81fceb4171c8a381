"""Element-wise sum: the residual merge."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import Attrs, Example, Merge, OnnxNode, OnnxOut, Shape, numel, register


@register
class Add(Merge):
    kind = "add"
    doc = "Element-wise sum of two or more inputs of the same shape (the residual merge)."
    flops_rule = "(inputs - 1) per output element"
    census_terms = {"add": "residual-add outputs (inputs - 1 per element)"}
    tensorrt_layer = "IElementWiseLayer"
    examples = (
        Example({}, ((2, 3, 4, 4), (2, 3, 4, 4))),
        Example({}, ((1, 2, 3, 3), (1, 2, 3, 3), (1, 2, 3, 3)), "three inputs (ONNX Sum)"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        first = ins[0]
        for other in ins[1:]:
            if other != first:
                raise SpecError(
                    f"add needs inputs of one shape, got {first} and {other}",
                    hint="use a projection or option-A shortcut where the channels or size change",
                )
        return first

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return (len(ins) - 1) * numel(out)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"add": (len(ins) - 1) * numel(out)}

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return " + ".join(args)

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Add" if len(x) == 2 else "Sum", list(x), [out], {}, name)]
