"""The paper's option-A shortcut: parameter-free subsampling and zero channels."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    POSITIONAL,
    Attr,
    Attrs,
    Example,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Op,
    Shape,
    TorchCall,
    need_rank,
    register,
)

PLACEMENTS = ("end", "split")  # rescomp.spec.grammar.PAD_PLACEMENTS, the block definition's 'pad'

_HELPER = '''class PadShortcut(nn.Module):
    """The paper's option-A shortcut: subsample by `stride`, then zero-pad channels up to `out_channels`:
    all after the input's channels (placement "end"), or half before and half after, the odd one after ("split")."""

    def __init__(self, stride: int, out_channels: int, placement: str = "end") -> None:
        super().__init__()
        self.stride = stride
        self.out_channels = out_channels
        self.placement = placement

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - x.shape[1]
        before = extra // 2 if self.placement == "split" else 0
        return nn.functional.pad(x, (0, 0, 0, 0, before, extra - before))'''


def zeros_before(a: Attrs, in_channels: int) -> int:
    """How many of the zero channels go before the input's: none at the end, half (rounded down) split."""
    return (a["out"] - in_channels) // 2 if a["placement"] == "split" else 0


@register
class PadShortcut(Op):
    kind = "pad_shortcut"
    doc = (
        "The paper's option-A shortcut: spatial subsampling by 'stride', then zero channels up to 'out', "
        "after the input's ('placement: end') or half before and half after, the odd one after ('split'). "
        "Parameter-free."
    )
    attrs = {
        "stride": Attr("int", 1, "spatial subsampling factor", minimum=1),
        "out": Attr("int", doc="output channels (extra channels are zeros)", minimum=1),
        "placement": Attr("str", "end", "where the zero channels go: end, or split (half before, half after)"),
    }
    category = "shape"
    layouts = ("NCHW",)
    fill = "#f4f4f4"
    flops_rule = "0 (subsampling and zero padding are data movement)"
    torch_helper = ("PadShortcut", _HELPER)
    onnx_note = "the strided `Slice` only where the stride is above 1"
    tensorrt_layer = "ISliceLayer (strided slice, and Pad as a fill-mode slice)"
    examples = (
        Example({"stride": 2, "out": 6}, ((2, 3, 5, 5),)),
        Example({"out": 4}, ((1, 4, 3, 3),), "stride 1, no extra channels"),
        # one zero channel: split puts it after (channel 0 stays the input's, which the receptive-field
        # check of the conformance test reads); tests/test_option_a.py checks zeros before the input
        Example({"stride": 2, "out": 4, "placement": "split"}, ((2, 3, 5, 5),), "split, odd: the zero channel after"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("pad_shortcut", x, 4)
        if a["placement"] not in PLACEMENTS:
            raise SpecError(f"unknown placement {a['placement']!r}", hint=f"one of {', '.join(PLACEMENTS)}")
        n, c, h, w = x
        if a["out"] < c:
            raise SpecError(
                f"an option-A shortcut cannot reduce channels ({c} -> {a['out']})",
                hint="use shortcut B or C, which project with a 1x1 convolution",
            )
        s = a["stride"]
        return (n, a["out"], -(-h // s), -(-w // s))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def receptive(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> tuple[int, int]:
        return 1, a["stride"]

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        # PadShortcut is a small parameter-free module (torch_helper) written into the generated file
        return "PadShortcut", [
            ("stride", a["stride"], POSITIONAL),
            ("out_channels", a["out"], POSITIONAL),
            ("placement", a["placement"], "end"),
        ]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        s, extra = a["stride"], a["out"] - ins[0][1]
        before = zeros_before(a, ins[0][1])
        nodes: OnnxOut = []
        src = x[0]
        if s > 1:  # x[:, :, ::s, ::s]
            bounds = {"starts": [0, 0], "ends": [2**63 - 1, 2**63 - 1], "axes": [2, 3], "steps": [s, s]}
            nodes += [OnnxConst(f"{name}.{k}", v, (2,)) for k, v in bounds.items()]
            src = f"{name}.subsampled"
            nodes.append(OnnxNode("Slice", [x[0], *(f"{name}.{k}" for k in bounds)], [src], {}, f"{name}/slice"))
        # pads: the begins of N, C, H, W, then their ends
        nodes.append(OnnxConst(f"{name}.pads", [0, before, 0, 0, 0, extra - before, 0, 0], (8,)))
        nodes.append(OnnxNode("Pad", [src, f"{name}.pads"], [out], {"mode": "constant"}, name))
        return nodes
