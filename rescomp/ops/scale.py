"""Layer scale: a learned per-channel scale (ConvNeXt, CaiT), held as a parameter of its block."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    POSITIONAL,
    Attr,
    Attrs,
    Example,
    OnnxNode,
    OnnxOut,
    Op,
    Shape,
    TorchArg,
    TorchCall,
    numel,
    register,
)

_HELPER = '''def layer_scale(channels: int, init: float, spatial: bool = True) -> nn.Parameter:
    """A learned per-channel scale, every entry ``init``: (channels, 1, 1) for feature maps (ConvNeXt's
    layer_scale), (channels,) over the last dimension."""
    return nn.Parameter(torch.ones((channels, 1, 1) if spatial else (channels,)) * init)'''


def _gamma(x: Shape) -> Shape:
    """The parameter's shape: (C, 1, 1) over a feature map's channels, else (F,) over the last dimension."""
    return (x[1], 1, 1) if len(x) == 4 else (x[-1],)


@register
class Scale(Op):
    kind = "scale"
    doc = (
        "Layer scale: multiplies by a learned per-channel factor, an nn.Parameter of the enclosing "
        "module named after the layer (ConvNeXt's `layer_scale`): shape (C, 1, 1) on a feature map "
        "(N, C, H, W), (F,) over the last dimension otherwise."
    )
    attrs = {"init": Attr("float", 1.0, "initial value of every factor (ConvNeXt: 1e-6)")}
    parameter = True
    category = "norm"
    layouts = ("NCHW", "NLC", "NF")
    flops_rule = "1 per element (one multiply)"
    census_terms = {"scale": "layer-scale output elements"}
    torch_helper = ("layer_scale", _HELPER)
    onnx_note = "`Mul` by the parameter, which broadcasts"
    tensorrt_layer = "IElementWiseLayer"
    examples = (
        Example({"init": 1e-6}, ((2, 4, 3, 3),), "on a feature map: (C, 1, 1)"),
        Example({"init": 0.1}, ((2, 5, 6),), "on tokens: (F,)"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        if len(x) < 2:
            raise SpecError(f"scale needs a batch and at least one more dimension, got shape {x}")
        return x

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(_gamma(ins[0]))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(out)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"scale": numel(out)}

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        x = ins[0]
        args: list[TorchArg] = [("channels", _gamma(x)[0], POSITIONAL), ("init", a["init"], POSITIONAL)]
        return "layer_scale", [*args, ("spatial", len(x) == 4, True)]

    def torch_apply(self, param: str, args: Sequence[str]) -> str:
        return f"{param} * {args[0]}"  # torchvision's order: self.layer_scale * self.block(input)

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        return [("", _gamma(ins[0]))]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Mul", [name, x[0]], [out], {}, name)]
