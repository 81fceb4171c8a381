"""The activations of the mobile and modern families: relu6, hardswish, hardsigmoid, sigmoid, silu and
gelu (MobileNetV2/V3, EfficientNet, RegNetY's squeeze-and-excitation, ConvNeXt). Each is one small
:class:`Activation` subclass; where an ONNX opset lacks the operator, the op writes torch's formula."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.activation import Activation
from rescomp.ops.base import Attr, Attrs, Example, OnnxConst, OnnxNode, OnnxOut, Shape, TorchCall, numel, register


@register
class ReLU6(Activation):
    kind = "relu6"
    doc = "min(max(x, 0), 6) (torch.nn.ReLU6), MobileNetV2's activation."
    flops_rule = "2 per element (two comparisons)"
    flops_per_element = 2
    torch_class = "nn.ReLU6"
    census_terms = {"relu6": "ReLU6 output elements"}
    onnx_note = "`Clip` with the bounds 0 and 6 as inputs"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        # Clip takes its bounds as tensor inputs (opset 11+), of the input's element type
        lo, hi = OnnxConst(f"{name}.min", [0.0], (), "float"), OnnxConst(f"{name}.max", [6.0], (), "float")
        return [lo, hi, OnnxNode("Clip", [x[0], lo.name, hi.name], [out], {}, name)]


#: ONNX HardSigmoid's alpha and beta that give torch's hardsigmoid, relu6(x + 3) / 6
_HARD_SIGMOID = {"alpha": 1.0 / 6.0, "beta": 0.5}


@register
class Hardswish(Activation):
    kind = "hardswish"
    doc = "x * relu6(x + 3) / 6 (torch.nn.Hardswish), MobileNetV3's activation."
    flops_rule = "5 per element (add 3, two comparisons, multiply by x, divide by 6)"
    flops_per_element = 5
    torch_class = "nn.Hardswish"
    census_terms = {"hardswish": "hardswish output elements"}
    tensorrt_layer = "IActivationLayer (hard sigmoid) and IElementWiseLayer (product)"
    onnx_note = "`HardSwish` from opset 14; at opset 13, `Mul` of x and `HardSigmoid` (alpha 1/6, beta 0.5)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        if opset >= 14:
            return [OnnxNode("HardSwish", [x[0]], [out], {}, name)]
        gate = f"{name}.gate"
        return [
            OnnxNode("HardSigmoid", [x[0]], [gate], dict(_HARD_SIGMOID), f"{name}/hardsigmoid"),
            OnnxNode("Mul", [x[0], gate], [out], {}, name),
        ]


@register
class Hardsigmoid(Activation):
    kind = "hardsigmoid"
    doc = "relu6(x + 3) / 6 (torch.nn.Hardsigmoid), MobileNetV3's squeeze-and-excitation gate."
    flops_rule = "4 per element (add 3, two comparisons, divide by 6)"
    flops_per_element = 4
    torch_class = "nn.Hardsigmoid"
    census_terms = {"hardsigmoid": "hardsigmoid output elements"}
    onnx_note = "`HardSigmoid` with alpha 1/6 and beta 0.5 (ONNX's defaults are 0.2 and 0.5)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("HardSigmoid", [x[0]], [out], dict(_HARD_SIGMOID), name)]


@register
class Sigmoid(Activation):
    kind = "sigmoid"
    doc = "1 / (1 + exp(-x)) (torch.nn.Sigmoid), the squeeze-and-excitation gate."
    flops_rule = "4 per element (negate, exp, add 1, divide)"
    flops_per_element = 4
    torch_class = "nn.Sigmoid"
    onnx_op = "Sigmoid"
    census_terms = {"sigmoid": "sigmoid output elements"}


@register
class SiLU(Activation):
    kind = "silu"
    doc = "x * sigmoid(x) (torch.nn.SiLU, also called swish), EfficientNet's activation."
    flops_rule = "5 per element (a sigmoid's 4 and a multiply)"
    flops_per_element = 5
    torch_class = "nn.SiLU"
    census_terms = {"silu": "SiLU output elements"}
    tensorrt_layer = "IActivationLayer (sigmoid) and IElementWiseLayer (product)"
    onnx_note = "`Mul` of x and `Sigmoid(x)`"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        gate = f"{name}.sigmoid"
        return [
            OnnxNode("Sigmoid", [x[0]], [gate], {}, f"{name}/sigmoid"),
            OnnxNode("Mul", [x[0], gate], [out], {}, name),
        ]


#: GELU's forms: FLOPs per element of each (the erf form, and torch's tanh approximation)
_GELU_FLOPS = {"none": 5, "tanh": 9}


@register
class GELU(Activation):
    kind = "gelu"
    doc = (
        "Gaussian error linear unit, x * Phi(x) (torch.nn.GELU), ConvNeXt's activation; "
        "approximate 'tanh' is torch's tanh approximation."
    )
    attrs = {"approximate": Attr("str", "none", "'none' (the exact erf form) or 'tanh'")}
    flops_rule = (
        "5 per element for the erf form (scale, erf, add 1, two multiplies); 9 with approximate 'tanh' "
        "(cube: 2, scale and add, scale, tanh, add 1, two multiplies)"
    )
    census_terms = {"gelu": "GELU output elements"}
    tensorrt_layer = "IUnaryLayer (erf or tanh) and IElementWiseLayer"
    onnx_note = "`Gelu` from opset 20; below, torch's formula with `Erf` (or `Tanh` for approximate 'tanh')"
    examples = (
        Example({}, ((2, 3, 4, 4),)),
        Example({"approximate": "tanh"}, ((2, 3, 4, 4),), "tanh approximation"),
        Example({}, ((2, 6),), "on a vector"),
        Example({"approximate": "tanh"}, ((2, 6),), "tanh approximation on a vector"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        if a["approximate"] not in _GELU_FLOPS:
            raise SpecError(f"gelu's approximate must be 'none' or 'tanh', got {a['approximate']!r}")
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return _GELU_FLOPS[a["approximate"]] * numel(out)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.GELU", [("approximate", a["approximate"], "none")]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        tanh = a["approximate"] == "tanh"
        if opset >= 20:
            return [OnnxNode("Gelu", [x[0]], [out], {"approximate": a["approximate"]}, name)]
        consts = {"half": 0.5, "one": 1.0}
        if tanh:  # 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
            consts |= {"k": math.sqrt(2.0 / math.pi), "c": 0.044715}
        else:  # 0.5 * x * (1 + erf(x / sqrt(2)))
            consts |= {"rsqrt2": 1.0 / math.sqrt(2.0)}
        items: OnnxOut = [OnnxConst(f"{name}.{k}", [v], (), "float") for k, v in consts.items()]

        def node(op: str, inputs: list[str], result: str) -> str:
            items.append(OnnxNode(op, inputs, [result], {}, f"{name}/{result.rsplit('.', 1)[-1]}"))
            return result

        t = f"{name}."
        if tanh:
            cube = node("Mul", [node("Mul", [x[0], x[0]], t + "square"), x[0]], t + "cube")
            inner = node("Add", [x[0], node("Mul", [cube, t + "c"], t + "cubic")], t + "inner")
            phi = node("Tanh", [node("Mul", [inner, t + "k"], t + "scaled")], t + "tanh")
        else:
            phi = node("Erf", [node("Mul", [x[0], t + "rsqrt2"], t + "scaled")], t + "erf")
        half = node("Mul", [x[0], t + "half"], t + "halfx")
        items.append(OnnxNode("Mul", [half, node("Add", [phi, t + "one"], t + "gate")], [out], {}, name))
        return items
