"""Permute: reorders a tensor's dimensions, as ConvNeXt moves between (N, C, H, W) and channels-last
(N, H, W, C) around its LayerNorm and linear layers."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import POSITIONAL, Attr, Attrs, Example, OnnxNode, OnnxOut, Op, Shape, TorchCall, register

#: torchvision.ops.misc.Permute (no saved state)
_HELPER = '''class Permute(nn.Module):
    """torchvision.ops.misc.Permute: torch.permute(x, dims) as a module."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)'''


@register
class Permute(Op):
    kind = "permute"
    doc = (
        "Reorders the dimensions (torch.permute; torchvision's Permute module): `dims: [0, 2, 3, 1]` "
        "makes (N, C, H, W) channels-last, `[0, 3, 1, 2]` turns it back. The batch stays first."
    )
    attrs = {"dims": Attr("ints", doc="the new order of the input's dimensions, starting with 0", minimum=0)}
    category = "shape"
    flops_rule = "0 (a data movement)"
    torch_helper = ("Permute", _HELPER)
    tensorrt_layer = "IShuffleLayer"
    examples = (
        Example({"dims": [0, 2, 3, 1]}, ((2, 3, 4, 5),), "to channels-last"),
        Example({"dims": [0, 3, 1, 2]}, ((2, 4, 5, 3),), "back to channels-first"),
        Example({"dims": [0, 2, 1]}, ((2, 5, 6),), "tokens and features"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        dims = a["dims"]
        if sorted(dims) != list(range(len(x))):
            raise SpecError(
                f"permute's dims {list(dims)} are not an order of the {len(x)} dimensions of shape {x}",
                hint=f"list each of 0 .. {len(x) - 1} once",
            )
        if dims[0] != 0:
            raise SpecError(f"permute must keep the batch first, got dims {list(dims)}", hint="start dims with 0")
        return tuple(x[d] for d in dims)

    def layout(self, a: Attrs, ins: Sequence[str], out: Shape) -> str:
        return "".join(ins[0][d] for d in a["dims"]) if len(ins[0]) == len(out) else super().layout(a, ins, out)

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "Permute", [("dims", list(a["dims"]), POSITIONAL)]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Transpose", [x[0]], [out], {"perm": list(a["dims"])}, name)]
