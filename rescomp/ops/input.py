"""The network's input: the source of the graph, created by the lowering."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import Attr, Attrs, Example, OnnxOut, Op, Shape, TorchCall, register


@register
class Input(Op):
    kind = "input"
    doc = "The network's input tensor (created from the spec's 'input' and 'batch')."
    attrs = {"shape": Attr("str", doc="input shape including the batch dimension")}
    arity = (0, 0)
    public = False
    functional = True
    category = "io"
    flops_rule = "0"
    onnx_note = "the graph input"
    tensorrt_layer = "network input"
    examples = (Example({"shape": "2x3x4x4"}, ()),)

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return tuple(int(d) for d in a["shape"].split("x"))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall | None:
        return None  # the input is forward()'s argument

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return "x"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return []  # the graph input
