"""The position embedding: a learned tensor added to the tokens, one vector per position, held as a
parameter of its container (torchvision's ViT: ``encoder.pos_embedding``)."""

from __future__ import annotations

from collections.abc import Sequence

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

_HELPER = '''def pos_embedding(length: int, channels: int, std: float = 0.02) -> nn.Parameter:
    """A learned vector per position added to the tokens: (1, length, channels), drawn from a normal
    distribution with standard deviation ``std`` (torchvision's ViT encoder.pos_embedding)."""
    return nn.Parameter(torch.empty(1, length, channels).normal_(std=std))'''


@register
class PosEmbedding(Op):
    kind = "pos_embedding"
    doc = (
        "Adds a learned position embedding to tokens (N, L, C): an nn.Parameter of shape (1, L, C) of the "
        "enclosing module, named after the layer (torchvision's ViT: `encoder.pos_embedding`). L is the "
        "number of tokens the layer receives, so it follows the input resolution."
    )
    attrs = {"std": Attr("float", 0.02, "standard deviation of the initial values (normal, mean 0)", minimum=0)}
    parameter = True
    category = "norm"
    layouts = ("NLC",)
    flops_rule = "1 per element (one add)"
    census_terms = {"pos_embedding": "position-embedding output elements (one add each)"}
    torch_helper = ("pos_embedding", _HELPER)
    onnx_note = "`Add` of the parameter, which broadcasts over the batch"
    tensorrt_layer = "IElementWiseLayer"
    examples = (Example({}, ((2, 5, 6),), "5 tokens of 6 features"),)

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]  # the layout check admits tokens only

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(ins[0][1:])

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(out)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"pos_embedding": numel(out)}

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        _, length, c = ins[0]
        args: list[TorchArg] = [("length", length, POSITIONAL), ("channels", c, POSITIONAL)]
        return "pos_embedding", [*args, ("std", a["std"], 0.02)]

    def torch_apply(self, param: str, args: Sequence[str]) -> str:
        return f"{args[0]} + {param}"  # torchvision: input + self.pos_embedding

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        return [("", (1, *ins[0][1:]))]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Add", [x[0], name], [out], {}, name)]
