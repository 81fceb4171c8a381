"""The mean over tokens: a transformer's summary without a class token (DeiT-style global pooling)."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.ops.base import (
    Attrs,
    Example,
    Functional,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Shape,
    numel,
    register,
)

REDUCE_AXES_AS_INPUT = 18  # ReduceMean takes its axes as an input, no longer an attribute, from opset 18


@register
class MeanTokens(Functional):
    kind = "mean_tokens"
    doc = "Averages the tokens of every sequence: tokens (N, L, C) become a vector (N, C) (`x.mean(dim=1)`)."
    category = "pool"
    layouts = ("NLC",)
    global_receptive = True  # the mean sees every token
    flops_rule = "1 per input element (L - 1 adds and one divide per output element)"
    census_terms = {"mean_tokens_in": "input elements of means over tokens"}
    onnx_note = "`ReduceMean` over axis 1 (its axes an attribute before opset 18, an input from 18)"
    tensorrt_layer = "IReduceLayer"
    examples = (Example({}, ((2, 5, 6),), "5 tokens"),)

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        n, _, c = ins[0]  # the layout check admits tokens only
        return (n, c)

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(ins[0])

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"mean_tokens_in": numel(ins[0])}

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return f"{args[0]}.mean(dim=1)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        if opset < REDUCE_AXES_AS_INPUT:
            return [OnnxNode("ReduceMean", [x[0]], [out], {"axes": [1], "keepdims": 0}, name)]
        axes = f"{name}/axes"
        return [OnnxConst(axes, [1], (1,)), OnnxNode("ReduceMean", [x[0], axes], [out], {"keepdims": 0}, name)]
