"""Element-wise product with broadcasting: the squeeze-and-excitation gate, (N, C, 1, 1) times
(N, C, H, W)."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import Attrs, Example, Merge, OnnxNode, OnnxOut, Shape, numel, register


@register
class Mul(Merge):
    kind = "mul"
    doc = (
        "Element-wise product of two inputs of one rank; a dimension of 1 broadcasts against the other's, "
        "so a gate (N, C, 1, 1) scales a map (N, C, H, W) in either order (squeeze-and-excitation)."
    )
    arity = (2, 2)
    flops_rule = "1 per output element"
    census_terms = {"mul": "element-wise product outputs"}
    tensorrt_layer = "IElementWiseLayer"
    onnx_note = "`Mul` broadcasts as torch does"
    examples = (
        Example({}, ((2, 3, 4, 4), (2, 3, 4, 4))),
        Example({}, ((2, 3, 4, 4), (2, 1, 4, 4)), "a one-channel map broadcast over the channels"),
        Example({}, ((2, 6), (2, 6)), "on vectors"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        x, y = ins
        if len(x) != len(y) or any(p != q and 1 not in (p, q) for p, q in zip(x, y, strict=True)):
            raise SpecError(
                f"mul needs inputs of one rank whose sizes agree or are 1, got {x} and {y}",
                hint="a gate is (N, C, 1, 1) against the map's (N, C, H, W): pool it with adaptive_avgpool",
            )
        return tuple(max(p, q) for p, q in zip(x, y, strict=True))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(out)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"mul": numel(out)}

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return " * ".join(args)

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Mul", list(x), [out], {}, name)]
