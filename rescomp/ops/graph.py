"""Graph-structure ops: the input, merges (add, concat) and the option-A shortcut."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    POSITIONAL,
    Attr,
    Attrs,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Op,
    Shape,
    TorchCall,
    need_rank,
    numel,
    register,
)


@register
class Input(Op):
    kind = "input"
    doc = "The network's input tensor (created from the spec's 'input' and 'batch')."
    attrs = {"shape": Attr("str", doc="input shape including the batch dimension")}
    arity = (0, 0)
    public = False
    functional = True
    flops_rule = "0"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return tuple(int(d) for d in a["shape"].split("x"))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall | None:
        return None  # the input is forward()'s argument

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return "x"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return []  # the graph input


@register
class Add(Op):
    kind = "add"
    doc = "Element-wise sum of two or more inputs of the same shape (the residual merge)."
    arity = (2, None)
    functional = True
    flops_rule = "(inputs - 1) per output element"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        first = ins[0]
        for other in ins[1:]:
            if other != first:
                raise SpecError(
                    f"add needs inputs of one shape, got {first} and {other}",
                    hint="use a projection or option-A shortcut where the channels or size change",
                )
        return first

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return (len(ins) - 1) * numel(out)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall | None:
        return None

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return " + ".join(args)

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return [OnnxNode("Add" if len(x) == 2 else "Sum", list(x), [out], {}, name)]


@register
class Concat(Op):
    kind = "concat"
    doc = "Concatenation along channels of two or more inputs with the same other dimensions."
    arity = (2, None)
    functional = True
    flops_rule = "0 (data movement)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        first = ins[0]
        for other in ins[1:]:
            if len(other) != len(first) or other[:1] + other[2:] != first[:1] + first[2:]:
                raise SpecError(
                    f"concat needs inputs that differ only in channels, got {first} and {other}",
                    hint="downsample the branches to one spatial size first",
                )
        return (first[0], sum(s[1] for s in ins), *first[2:])

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall | None:
        return None

    def torch_expr(self, a: Attrs, args: Sequence[str]) -> str:
        return f"torch.cat([{', '.join(args)}], dim=1)"

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return [OnnxNode("Concat", list(x), [out], {"axis": 1}, name)]


@register
class PadShortcut(Op):
    kind = "pad_shortcut"
    doc = (
        "The paper's option-A shortcut: spatial subsampling by 'stride', then zero channels up to 'out'. "
        "Parameter-free."
    )
    attrs = {
        "stride": Attr("int", 1, "spatial subsampling factor", minimum=1),
        "out": Attr("int", doc="output channels (extra channels are zeros)", minimum=1),
    }
    flops_rule = "0 (subsampling and zero padding are data movement)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("pad_shortcut", x, 4)
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

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        # PadShortcut is a small parameter-free module the emitter writes into the generated file
        return "PadShortcut", [("stride", a["stride"], POSITIONAL), ("out_channels", a["out"], POSITIONAL)]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        s, extra = a["stride"], a["out"] - ins[0][1]
        nodes: OnnxOut = []
        src = x[0]
        if s > 1:  # x[:, :, ::s, ::s]
            bounds = {"starts": [0, 0], "ends": [2**63 - 1, 2**63 - 1], "axes": [2, 3], "steps": [s, s]}
            nodes += [OnnxConst(f"{name}.{k}", v, (2,)) for k, v in bounds.items()]
            src = f"{name}.subsampled"
            nodes.append(OnnxNode("Slice", [x[0], *(f"{name}.{k}" for k in bounds)], [src], {}, f"{name}/slice"))
        nodes.append(OnnxConst(f"{name}.pads", [0, 0, 0, 0, 0, extra, 0, 0], (8,)))
        nodes.append(OnnxNode("Pad", [src, f"{name}.pads"], [out], {"mode": "constant"}, name))
        return nodes
