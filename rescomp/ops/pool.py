"""Sliding-window pooling: max and average pooling share the window attributes and rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rescomp.errors import SpecError
from rescomp.ops.base import (
    KEYWORD,
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

_WINDOW = {
    "kernel": Attr("pair", doc="window size", minimum=1),
    "stride": Attr("pair", None, "stride; null: equal to the kernel", minimum=1),
    "padding": Attr("pair", 0, "implicit padding per side", minimum=0),
    "ceil_mode": Attr("bool", False, "round the output size up instead of down"),
}

_EXAMPLES = (
    Example({"kernel": 2}, ((2, 3, 6, 6),)),
    Example({"kernel": 3, "stride": 2, "padding": 1}, ((1, 2, 7, 7),), "the ResNet stem's window"),
    Example({"kernel": [3, 2], "stride": [2, 1], "ceil_mode": True}, ((1, 2, 6, 5),), "uneven, ceil mode"),
    Example({"kernel": 3, "stride": 2, "ceil_mode": True}, ((1, 2, 8, 8),), "ceil mode adds a window"),
    Example(
        {"kernel": 3, "stride": 1000, "padding": 1, "ceil_mode": True},
        ((2, 3, 7, 7),),
        "ceil mode, last window would start in the padding: torch drops it",
    ),
)


class Pool(Op):
    """A sliding-window pooling op (torch's ``MaxPool2d`` / ``AvgPool2d`` arguments)."""

    attrs = _WINDOW
    category = "pool"
    layouts = ("NCHW",)
    tensorrt_layer = "IPoolingLayer"
    examples: ClassVar[tuple[Example, ...]] = _EXAMPLES
    torch_class: ClassVar[str]
    onnx_op: ClassVar[str]

    @staticmethod
    def stride(a: Attrs) -> tuple[int, int]:
        return a["stride"] or a["kernel"]  # type: ignore[no-any-return]

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank(self.kind, x, 4)
        n, c, h, w = x
        (kh, kw), (ph, pw) = a["kernel"], a["padding"]
        sh, sw = self.stride(a)
        if 2 * ph > kh or 2 * pw > kw:
            raise SpecError("padding must be at most half the kernel size", hint="torch refuses larger padding")
        ho = window_out(h, kh, sh, ph, 1, a["ceil_mode"])
        wo = window_out(w, kw, sw, pw, 1, a["ceil_mode"])
        if ho < 1 or wo < 1:
            raise SpecError(f"a {kh}x{kw} window does not fit the {h}x{w} input", hint="use a larger input")
        return (n, c, ho, wo)

    def receptive(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> tuple[int, int]:
        return a["kernel"][0], self.stride(a)[0]

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        args = kwargs(
            stride=(pair(self.stride(a)), pair(a["kernel"])),
            padding=(pair(a["padding"]), 0),
            ceil_mode=(a["ceil_mode"], False),
        )
        return self.torch_class, [("kernel_size", pair(a["kernel"]), KEYWORD), *args, *self.torch_extra(a)]

    def torch_extra(self, a: Attrs) -> list[TorchArg]:
        """Constructor arguments after the window's (AvgPool2d: count_include_pad)."""
        return []

    def onnx_attrs(self, a: Attrs) -> dict[str, Any]:
        """ONNX attributes after the window's (AveragePool: count_include_pad)."""
        return {}

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        ceil, extra = self.onnx_rounding(a, ins[0])
        ph, pw = a["padding"]
        attrs = {
            "kernel_shape": list(a["kernel"]),
            "strides": list(self.stride(a)),
            "pads": [ph, pw, ph + extra[0], pw + extra[1]],
            "ceil_mode": ceil,
            **self.onnx_attrs(a),
        }
        return [OnnxNode(self.onnx_op, [x[0]], [out], attrs, name)]

    def onnx_rounding(self, a: Attrs, x: Shape) -> tuple[int, tuple[int, int]]:
        """ONNX's ceil_mode and extra end padding per axis that give torch's output size.

        Torch's ceil mode drops a last window that would start in the right padding; ONNX's ceil
        mode keeps it. Where torch's size is the floor size on both axes, floor mode says it; where
        it is ONNX's ceil size on both, ceil mode does. Where the axes disagree, max pooling uses
        floor mode with the end padding enlarged (padding never wins a max); average pooling would
        count that padding, so ONNX cannot express it.
        """
        fits: set[int] = {0, 1}
        extra = [0, 0]
        for axis, size in enumerate(x[2:]):
            k, s, p = a["kernel"][axis], self.stride(a)[axis], a["padding"][axis]
            span = size + 2 * p - k
            want = window_out(size, k, s, p, 1, a["ceil_mode"])
            floor, ceil = span // s + 1, -(-span // s) + 1
            fits &= {m for m, n in ((0, floor), (1, ceil)) if n == want}
            # where torch keeps a window ONNX floor mode drops, end padding of s - (span mod s) adds it;
            # torch keeps it only where p + s - k < span mod s, so the padding stays below the kernel
            # (ONNX Runtime requires that)
            extra[axis] = (want - 1) * s - span if want > floor else 0
        if fits:
            return min(fits), (0, 0)
        if self.kind != "maxpool":
            raise SpecError(
                f"{self.kind} with ceil_mode keeps the last window on one axis and drops it on the other "
                f"for the {x[2]}x{x[3]} input, which ONNX cannot express",
                hint="choose an input size, stride or padding where ceil_mode rounds both axes alike",
            )
        return 0, (extra[0], extra[1])


@register
class MaxPool(Pool):
    kind = "maxpool"
    torch_class = "nn.MaxPool2d"
    onnx_op = "MaxPool"
    doc = "Max pooling (torch.nn.MaxPool2d)."
    flops_rule = "kernel_h*kernel_w - 1 per output element (comparisons)"
    census_terms = {"maxpool_in": "max-pool input elements"}
    onnx_note = "where torch's ceil mode drops a last window on one axis only, floor mode with extra end padding"

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return numel(out) * (kh * kw - 1)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        return {"maxpool_in": numel(ins[0])}


@register
class AvgPool(Pool):
    kind = "avgpool"
    torch_class = "nn.AvgPool2d"
    onnx_op = "AveragePool"
    attrs = {
        **_WINDOW,
        "count_include_pad": Attr("bool", True, "divide by the whole window, padding included (torch's default)"),
    }
    examples = (
        *_EXAMPLES,
        Example(
            {"kernel": 3, "stride": 2, "padding": 1, "count_include_pad": False},
            ((1, 2, 7, 7),),
            "padding left out of the divisor",
        ),
        Example(
            {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
            ((2, 3, 8, 8),),
            "ceil mode, padding left out of the divisor",
        ),
        Example({"kernel": 2, "stride": 1, "padding": 1, "count_include_pad": False}, ((1, 2, 5, 6),), "stride 1"),
    )
    doc = "Average pooling (torch.nn.AvgPool2d)."
    flops_rule = "kernel_h*kernel_w per output element (adds and one divide)"
    census_terms = {
        "pool_window": "avg-pool windows (kernel elements per output, summed)",
        "avgpool_in": "avg-pool input elements",
        "avgpool_out": "avg-pool output elements",
    }
    onnx_note = (
        "`count_include_pad` as the attribute says; where torch's ceil mode drops a last window on one axis "
        "only, a located error"
    )

    def torch_extra(self, a: Attrs) -> list[TorchArg]:
        return kwargs(count_include_pad=(a["count_include_pad"], True))

    def onnx_attrs(self, a: Attrs) -> dict[str, Any]:
        return {"count_include_pad": int(a["count_include_pad"])}

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        kh, kw = a["kernel"]
        return numel(out) * kh * kw

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        kh, kw = a["kernel"]
        return {"pool_window": numel(out) * kh * kw, "avgpool_in": numel(ins[0]), "avgpool_out": numel(out)}
