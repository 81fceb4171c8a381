"""Activations: the element-wise family. A new activation is one small subclass of
:class:`Activation` naming its torch module, its ONNX operator and its FLOPs per element."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rescomp.ops.base import Attrs, Example, OnnxNode, OnnxOut, Op, Shape, TorchCall, numel, register


class Activation(Op):
    """An element-wise map with no parameters: the output has the input's shape."""

    category = "activation"
    tensorrt_layer = "IActivationLayer"
    #: FLOPs per output element (the convention is stated in ``flops_rule``)
    flops_per_element: ClassVar[int] = 1
    #: the torch module, constructed without arguments (``nn.ReLU``)
    torch_class: ClassVar[str]
    #: the ONNX operator, without attributes (``Relu``)
    onnx_op: ClassVar[str]
    examples: ClassVar[tuple[Example, ...]] = (Example({}, ((2, 3, 4, 4),)), Example({}, ((2, 6),), "on a vector"))

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return self.flops_per_element * numel(out)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return dict.fromkeys(self.census_terms, numel(out))  # each term counts output elements

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return self.torch_class, []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode(self.onnx_op, [x[0]], [out], {}, name)]


@register
class ReLU(Activation):
    kind = "relu"
    doc = "Rectified linear unit, max(x, 0)."
    flops_rule = "1 per element (one comparison)"
    flops_per_element = 1
    torch_class = "nn.ReLU"
    onnx_op = "Relu"
    census_terms = {"relu": "ReLU output elements"}
