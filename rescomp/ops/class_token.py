"""The class token: a learned token put in front of every sequence (ViT, BERT's [CLS]), held as a
parameter of its container (torchvision's ViT: ``class_token`` on the model)."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import (
    POSITIONAL,
    Attrs,
    Example,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Op,
    Shape,
    TorchCall,
    register,
)

_HELPER = '''def class_token(channels: int) -> nn.Parameter:
    """A learned token of ``channels`` features put in front of every sequence, zeros at first:
    (1, 1, channels), torchvision's ViT class_token."""
    return nn.Parameter(torch.zeros(1, 1, channels))'''


@register
class ClassToken(Op):
    kind = "class_token"
    doc = (
        "Puts a learned token in front of every sequence: tokens (N, L, C) become (N, L + 1, C). The token "
        "is an nn.Parameter of shape (1, 1, C) of the enclosing module, named after the layer (torchvision's "
        "ViT: `class_token`), expanded over the batch and concatenated along the tokens."
    )
    parameter = True
    category = "shape"
    layouts = ("NLC",)
    flops_rule = "0 (a concatenation: data movement)"
    torch_helper = ("class_token", _HELPER)
    onnx_note = (
        "the tokens padded with a zero token in front, plus the class token padded with zeros behind "
        "(static shapes for any batch; exact, since x + 0 = x)"
    )
    tensorrt_layer = "IPaddingLayer + IElementWiseLayer"
    examples = (Example({}, ((2, 4, 6),), "4 tokens of 6 features"),)

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        n, length, c = ins[0]  # the layout check admits tokens only
        return (n, length + 1, c)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return ins[0][-1]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "class_token", [("channels", ins[0][-1], POSITIONAL)]

    def torch_apply(self, param: str, args: Sequence[str]) -> str:
        x = args[0]  # torchvision: torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return f"torch.cat([{param}.expand({x}.shape[0], -1, -1), {x}], dim=1)"

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        return [("", (1, 1, ins[0][-1]))]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        length = ins[0][1]
        front, behind = f"{name}/pads_front", f"{name}/pads_behind"
        shifted, token = f"{name}/shifted", f"{name}/token"
        return [
            OnnxConst(front, [0, 1, 0, 0, 0, 0], (6,)),  # (begin, end) of each axis: one zero token first
            OnnxConst(behind, [0, 0, 0, 0, length, 0], (6,)),  # the token, then `length` zero tokens
            OnnxNode("Pad", [x[0], front], [shifted], {}, f"{name}/shift"),
            OnnxNode("Pad", [name, behind], [token], {}, f"{name}/place"),
            OnnxNode("Add", [token, shifted], [out], {}, name),
        ]
