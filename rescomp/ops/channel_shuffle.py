"""Channel shuffle: ShuffleNet's interleaving of channel groups, so that information crosses the
groups (the branches) of the next unit."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    Attr,
    Attrs,
    Example,
    Movement,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Shape,
    need_rank,
    register,
)


@register
class ChannelShuffle(Movement):
    kind = "channel_shuffle"
    doc = (
        "Interleaves `groups` groups of channels (torchvision's `channel_shuffle`: view (N, g, C/g, H, W), "
        "swap the two channel axes, view (N, C, H, W) again); output channel i * g + j is input channel "
        "j * C/g + i. The channels must divide by `groups`."
    )
    attrs = {"groups": Attr("int", 2, "how many channel groups are interleaved", minimum=1)}
    category = "shape"
    layouts = ("NCHW",)
    flops_rule = "0 (a reshape and a transpose: data movement)"
    onnx_note = "`Reshape` to (N, g, C/g, H, W), `Transpose` of the two channel axes, `Reshape` back to (N, C, H, W)"
    tensorrt_layer = "IShuffleLayer"
    examples = (
        Example({"groups": 2}, ((2, 6, 3, 3),)),
        Example({"groups": 3}, ((1, 12, 4, 5),), "three groups"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("channel_shuffle", x, 4)
        if x[1] % a["groups"]:
            raise SpecError(
                f"channel_shuffle cannot cut {x[1]} channels into {a['groups']} equal groups",
                hint="give the input a channel count divisible by 'groups'",
            )
        return x

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        # the same element order as torchvision's view / transpose / contiguous / view, in one expression
        return f"{args[0]}.unflatten(1, ({a['groups']}, -1)).transpose(1, 2).flatten(1, 2)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        _, c, h, w = ins[0]
        g = a["groups"]
        grouped, swapped = f"{name}/grouped", f"{name}/swapped"
        return [
            OnnxConst(f"{name}.grouped_shape", [0, g, c // g, h, w], (5,)),  # 0: keep the (dynamic) batch
            OnnxNode("Reshape", [x[0], f"{name}.grouped_shape"], [grouped], {}, f"{name}/reshape"),
            OnnxNode("Transpose", [grouped], [swapped], {"perm": [0, 2, 1, 3, 4]}, f"{name}/transpose"),
            OnnxConst(f"{name}.shape", [0, c, h, w], (4,)),
            OnnxNode("Reshape", [swapped, f"{name}.shape"], [out], {}, name),
        ]
