"""Weighted layers: convolution and fully connected (the paper's 'weighted layers')."""

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
    TorchArg,
    TorchCall,
    kwargs,
    need_rank,
    numel,
    pair,
    register,
    window_out,
)


@register
class Conv(Op):
    kind = "conv"
    doc = (
        "2-D convolution (torch.nn.Conv2d). Padding defaults to (kernel-1)//2*dilation, "
        "which keeps the size at stride 1."
    )
    attrs = {
        "out": Attr("int", doc="output channels", minimum=1),
        "kernel": Attr("pair", 3, "kernel size", minimum=1),
        "stride": Attr("pair", 1, "stride", minimum=1),
        "padding": Attr("pair", None, "zero padding per side; null: (kernel-1)//2*dilation", minimum=0),
        "dilation": Attr("pair", 1, "dilation", minimum=1),
        "groups": Attr("int", 1, "channel groups (ResNeXt cardinality)", minimum=1),
        "bias": Attr("bool", True, "add a learned bias per output channel"),
    }
    weighted = True
    flops_rule = "2 per MAC, plus 1 per output element for the bias"

    @staticmethod
    def padding(a: Attrs) -> tuple[int, int]:
        if a["padding"] is not None:
            return a["padding"]  # type: ignore[no-any-return]
        k, d = a["kernel"], a["dilation"]
        return ((k[0] - 1) // 2 * d[0], (k[1] - 1) // 2 * d[1])

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("conv", x, 4)
        n, c, h, w = x
        g = a["groups"]
        if c % g or a["out"] % g:
            raise SpecError(
                f"groups={g} must divide both input channels ({c}) and output channels ({a['out']})",
                hint="pick a width that is a multiple of the group count",
            )
        ph, pw = self.padding(a)
        (kh, kw), (sh, sw), (dh, dw) = a["kernel"], a["stride"], a["dilation"]
        ho, wo = window_out(h, kh, sh, ph, dh), window_out(w, kw, sw, pw, dw)
        if ho < 1 or wo < 1:
            raise SpecError(
                f"a {kh}x{kw} kernel does not fit the {h}x{w} input",
                hint="the feature map is too small here: use a larger input or fewer downsampling steps",
            )
        return (n, a["out"], ho, wo)

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        cin = ins[0][1]
        kh, kw = a["kernel"]
        return int(a["out"] * (cin // a["groups"]) * kh * kw + (a["out"] if a["bias"] else 0))

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return numel(out) * (ins[0][1] // a["groups"]) * kh * kw

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (numel(out) if a["bias"] else 0)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        args: list[TorchArg] = [("in_channels", ins[0][1], POSITIONAL), ("out_channels", a["out"], POSITIONAL)]
        args.append(("kernel_size", pair(a["kernel"]), KEYWORD))
        args += kwargs(
            stride=(pair(a["stride"]), 1),
            padding=(pair(self.padding(a)), 0),
            dilation=(pair(a["dilation"]), 1),
            groups=(a["groups"], 1),
            bias=(a["bias"], True),
        )
        return "nn.Conv2d", args

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        kh, kw = a["kernel"]
        weight = ("weight", (a["out"], ins[0][1] // a["groups"], kh, kw))
        return [weight, ("bias", (a["out"],))] if a["bias"] else [weight]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        ph, pw = self.padding(a)
        attrs = {
            "kernel_shape": list(a["kernel"]),
            "strides": list(a["stride"]),
            "pads": [ph, pw, ph, pw],
            "dilations": list(a["dilation"]),
            "group": a["groups"],
        }
        weights = [f"{name}.{suffix}" for suffix, _ in self.state(a, ins)]
        return [OnnxNode("Conv", [x[0], *weights], [out], attrs, name)]


@register
class Linear(Op):
    kind = "linear"
    doc = "Fully connected layer (torch.nn.Linear) on a vector (N, F)."
    attrs = {
        "out": Attr("int", doc="output features", minimum=1),
        "bias": Attr("bool", True, "add a learned bias per output feature"),
    }
    weighted = True
    flops_rule = "2 per MAC, plus 1 per output element for the bias"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("linear", x, 2)
        return (x[0], a["out"])

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return int(ins[0][1] * a["out"] + (a["out"] if a["bias"] else 0))

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(out) * ins[0][1]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (numel(out) if a["bias"] else 0)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        args: list[TorchArg] = [("in_features", ins[0][1], POSITIONAL), ("out_features", a["out"], POSITIONAL)]
        return "nn.Linear", [*args, *kwargs(bias=(a["bias"], True))]

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        weight = ("weight", (a["out"], ins[0][1]))
        return [weight, ("bias", (a["out"],))] if a["bias"] else [weight]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        weights = [f"{name}.{suffix}" for suffix, _ in self.state(a, ins)]
        return [OnnxNode("Gemm", [x[0], *weights], [out], {"transB": 1}, name)]
