"""Tokens: a feature map's positions as a sequence, the last step of a vision transformer's patch
embedding (torchvision's ViT: the conv ``conv_proj``, then ``reshape`` and ``permute(0, 2, 1)``)."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import (
    Attrs,
    Example,
    Movement,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Shape,
    register,
)


@register
class Tokens(Movement):
    kind = "tokens"
    doc = (
        "Turns a feature map (N, C, H, W) into tokens (N, H*W, C): one token per position, in row-major "
        "order, its channels as features (torchvision's ViT after its patch-embedding conv: "
        "`x.reshape(n, c, h * w).permute(0, 2, 1)`)."
    )
    category = "shape"
    layouts = ("NCHW",)
    flops_rule = "0 (a reshape and a transpose: data movement)"
    onnx_note = "`Reshape` to (N, C, H*W), then `Transpose`"
    tensorrt_layer = "IShuffleLayer"
    examples = (
        Example({}, ((2, 4, 3, 3),), "a 3x3 map of patches"),
        Example({}, ((1, 6, 2, 5),), "uneven"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        n, c, h, w = ins[0]  # the layout check admits feature maps only
        return (n, h * w, c)

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return f"{args[0]}.flatten(2).permute(0, 2, 1)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        _, c, h, w = ins[0]
        shape, flat = f"{name}/shape", f"{name}/flat"
        return [
            OnnxConst(shape, [0, c, h * w], (3,)),  # 0: keep the (dynamic) batch
            OnnxNode("Reshape", [x[0], shape], [flat], {}, f"{name}/reshape"),
            OnnxNode("Transpose", [flat], [out], {"perm": [0, 2, 1]}, name),
        ]
