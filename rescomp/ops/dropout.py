"""Dropout: a training-time regulariser, the identity at inference."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import Attr, Attrs, Example, OnnxNode, OnnxOut, Op, Shape, TorchCall, kwargs, register


@register
class Dropout(Op):
    kind = "dropout"
    doc = "Dropout; the identity at inference."
    attrs = {"p": Attr("float", 0.5, "drop probability during training", minimum=0, maximum=1)}
    category = "shape"
    flops_rule = "0 (identity at inference)"
    tensorrt_layer = "IIdentityLayer"
    examples = (Example({}, ((2, 10),)), Example({"p": 0.2}, ((1, 2, 3, 3),), "on a feature map"))

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Dropout", kwargs(p=(a["p"], 0.5))

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Identity", [x[0]], [out], {}, name)]
