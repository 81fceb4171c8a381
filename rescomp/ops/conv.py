"""2-D convolution: the paper's main weighted layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rescomp.errors import SpecError
from rescomp.ops.base import (
    KEYWORD,
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
    category = "weighted"
    layouts = ("NCHW",)
    flops_rule = "2 per MAC, plus 1 per output element for the bias"
    census_terms = {"conv_bias": "output elements of convolutions with a bias"}
    onnx_note = "a following BN is folded in by the ONNX export"
    tensorrt_layer = "IConvolutionLayer"
    absorbs_channel_affine = True
    examples = (
        Example({"out": 4}, ((1, 3, 6, 6),)),
        Example({"out": 6, "kernel": 3, "stride": 2, "bias": False}, ((2, 4, 7, 7),), "stride 2, no bias"),
        Example({"out": 8, "kernel": [3, 1], "groups": 4, "padding": [1, 0]}, ((1, 8, 5, 5),), "grouped, uneven"),
        Example({"out": 4, "kernel": 3, "dilation": 2}, ((1, 2, 9, 9),), "dilated"),
        Example({"out": 3, "kernel": 1, "stride": 2, "padding": 0, "bias": False}, ((1, 4, 6, 6),), "projection"),
    )

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

    def receptive(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> tuple[int, int]:
        return a["dilation"][0] * (a["kernel"][0] - 1) + 1, a["stride"][0]

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"conv_bias": numel(out) if a["bias"] else 0}

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

    def absorb_affine(
        self, a: Attrs, state: Mapping[str, Any], scale: Any, shift: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # conv(x) * scale + shift == conv'(x) with weight * scale (per output channel) and bias' =
        # bias * scale + shift
        bias = state["bias"] * scale if a["bias"] else 0
        return {**a, "bias": True}, {"weight": state["weight"] * scale[:, None, None, None], "bias": bias + shift}

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
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
