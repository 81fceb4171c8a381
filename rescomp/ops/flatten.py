"""Flatten: a feature map to a vector, before the classifier."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import Attrs, Example, OnnxNode, OnnxOut, Op, Shape, TorchCall, need_rank, numel, register


@register
class Flatten(Op):
    kind = "flatten"
    doc = "Flattens (N, C, H, W) into (N, C*H*W)."
    category = "shape"
    layouts = ("NCHW",)
    flops_rule = "0 (a reshape)"
    tensorrt_layer = "IShuffleLayer"
    examples = (Example({}, ((2, 3, 2, 2),)),)

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("flatten", x, 4)
        return (x[0], numel(x[1:]))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Flatten", []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Flatten", [x[0]], [out], {"axis": 1}, name)]
