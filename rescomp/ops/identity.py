"""Identity: passes its input through (a placeholder, or an explicit shortcut)."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import Attrs, Example, OnnxNode, OnnxOut, Op, Shape, TorchCall, register


@register
class Identity(Op):
    kind = "identity"
    doc = "Passes its input through unchanged."
    category = "shape"
    flops_rule = "0"
    tensorrt_layer = "IIdentityLayer"
    examples = (Example({}, ((1, 3, 4, 4),)),)

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Identity", []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Identity", [x[0]], [out], {}, name)]
