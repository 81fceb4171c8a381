"""Adaptive average pooling: a fixed output size, whatever the input size (global pooling at 1)."""

from __future__ import annotations

import math
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
    TorchCall,
    need_rank,
    numel,
    pair,
    register,
)


def _adaptive_spans(size: int, out: int) -> int:
    """Sum of torch's adaptive window lengths along one axis, in closed form.

    Window i covers [floor(i*n/m), ceil((i+1)*n/m)) for n = size and m = out. Reindexing the
    sum of ends against the sum of starts gives n + sum over i = 1..m of (ceil(i*n/m) - floor(i*n/m)),
    and that difference is 1 except where m divides i*n, which happens for gcd(n, m) of the m values
    of i. So the sum is n + m - gcd(n, m), with no loop over the output size."""
    return size + out - math.gcd(size, out)


@register
class AdaptiveAvgPool(Op):
    kind = "adaptive_avgpool"
    doc = (
        "Adaptive average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d); "
        "size 1 is global average pooling."
    )
    attrs = {"size": Attr("pair", 1, "output size", minimum=1)}
    category = "pool"
    layouts = ("NCHW",)
    flops_rule = "one per input element covered by each window (adds and one divide per output)"
    census_terms = {
        "adaptive_in": "adaptive avg-pool input elements",
        "adaptive_out": "adaptive avg-pool output elements",
    }
    onnx_note = (
        "`GlobalAveragePool` at size 1, `AveragePool` where the output size divides the input; "
        "otherwise a located error"
    )
    tensorrt_layer = "IReduceLayer (size 1) or IPoolingLayer"
    examples = (
        Example({}, ((2, 3, 5, 5),), "global average pooling"),
        Example({"size": 2}, ((1, 2, 6, 6),)),
        Example({"size": [2, 3]}, ((1, 2, 4, 6),), "uneven output size"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("adaptive_avgpool", x, 4)
        return (x[0], x[1], *a["size"])

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        n, c, h, w = ins[0]
        oh, ow = a["size"]
        return n * c * _adaptive_spans(h, oh) * _adaptive_spans(w, ow)

    def receptive(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> tuple[int, int]:
        h, oh = ins[0][2], a["size"][0]
        return -(-h // oh), max(1, h // oh)  # the widest of torch's adaptive windows

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"adaptive_in": numel(ins[0]), "adaptive_out": numel(out)}

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.AdaptiveAvgPool2d", [("output_size", pair(a["size"]), POSITIONAL)]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        h, w = ins[0][2:]
        oh, ow = a["size"]
        if (oh, ow) == (1, 1):
            return [OnnxNode("GlobalAveragePool", [x[0]], [out], {}, name)]
        if h % oh or w % ow:
            raise SpecError(
                f"adaptive_avgpool from {h}x{w} to {oh}x{ow} has windows of unequal size, which ONNX cannot express",
                hint="choose an input size that the output size divides",
            )
        k = [h // oh, w // ow]
        return [OnnxNode("AveragePool", [x[0]], [out], {"kernel_shape": k, "strides": k}, name)]
