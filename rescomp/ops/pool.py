"""Pooling ops."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    KEYWORD,
    POSITIONAL,
    Attr,
    Attrs,
    OnnxNode,
    OnnxOut,
    Op,
    Shape,
    TorchCall,
    kwargs,
    need_rank,
    numel,
    pair,
    register,
    window_out,
)

_WINDOW = {
    "kernel": Attr("pair", doc="window size", minimum=1),
    "stride": Attr("pair", None, "stride; null: equal to the kernel", minimum=1),
    "padding": Attr("pair", 0, "implicit padding per side", minimum=0),
    "ceil_mode": Attr("bool", False, "round the output size up instead of down"),
}


class _Pool(Op):
    attrs = _WINDOW
    torch_class: str

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        stride = pair(a["stride"] or a["kernel"])
        args = kwargs(
            stride=(stride, pair(a["kernel"])), padding=(pair(a["padding"]), 0), ceil_mode=(a["ceil_mode"], False)
        )
        return self.torch_class, [("kernel_size", pair(a["kernel"]), KEYWORD), *args]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        ph, pw = a["padding"]
        attrs = {
            "kernel_shape": list(a["kernel"]),
            "strides": list(a["stride"] or a["kernel"]),
            "pads": [ph, pw, ph, pw],
            "ceil_mode": int(a["ceil_mode"]),
        }
        if self.kind == "avgpool":
            attrs["count_include_pad"] = 1  # torch's AvgPool2d default
        return [OnnxNode("MaxPool" if self.kind == "maxpool" else "AveragePool", [x[0]], [out], attrs, name)]

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank(self.kind, x, 4)
        n, c, h, w = x
        (kh, kw), (ph, pw) = a["kernel"], a["padding"]
        sh, sw = a["stride"] or a["kernel"]
        if 2 * ph > kh or 2 * pw > kw:
            raise SpecError("padding must be at most half the kernel size", hint="torch refuses larger padding")
        ho = window_out(h, kh, sh, ph, 1, a["ceil_mode"])
        wo = window_out(w, kw, sw, pw, 1, a["ceil_mode"])
        if ho < 1 or wo < 1:
            raise SpecError(f"a {kh}x{kw} window does not fit the {h}x{w} input", hint="use a larger input")
        return (n, c, ho, wo)


@register
class MaxPool(_Pool):
    kind = "maxpool"
    torch_class = "nn.MaxPool2d"
    doc = "Max pooling (torch.nn.MaxPool2d)."
    flops_rule = "kernel_h*kernel_w - 1 per output element (comparisons)"

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return numel(out) * (kh * kw - 1)


@register
class AvgPool(_Pool):
    kind = "avgpool"
    torch_class = "nn.AvgPool2d"
    doc = "Average pooling (torch.nn.AvgPool2d)."
    flops_rule = "kernel_h*kernel_w per output element (adds and one divide)"

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return numel(out) * kh * kw


def _adaptive_spans(size: int, out: int) -> int:
    """Sum of torch's adaptive window lengths along one axis."""
    return sum(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out))


@register
class AdaptiveAvgPool(Op):
    kind = "adaptive_avgpool"
    doc = (
        "Adaptive average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d); "
        "size 1 is global average pooling."
    )
    attrs = {"size": Attr("pair", 1, "output size", minimum=1)}
    flops_rule = "one per input element covered by each window (adds and one divide per output)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("adaptive_avgpool", x, 4)
        return (x[0], x[1], *a["size"])

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        n, c, h, w = ins[0]
        oh, ow = a["size"]
        return n * c * _adaptive_spans(h, oh) * _adaptive_spans(w, ow)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.AdaptiveAvgPool2d", [("output_size", pair(a["size"]), POSITIONAL)]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
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
