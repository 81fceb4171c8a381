"""Fully connected layer: the classifier's weighted layer."""

from __future__ import annotations

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
    TorchArg,
    TorchCall,
    kwargs,
    numel,
    register,
)


@register
class Linear(Op):
    kind = "linear"
    doc = (
        "Fully connected layer (torch.nn.Linear) over the last dimension: a vector (N, F), tokens "
        "(N, L, F) or a channels-last map (N, H, W, C)."
    )
    attrs = {
        "out": Attr("int", doc="output features", minimum=1),
        "bias": Attr("bool", True, "add a learned bias per output feature"),
    }
    weighted = True
    category = "weighted"
    layouts = ("NF", "NLC", "NHWC")
    flops_rule = "2 per MAC, plus 1 per output element for the bias"
    census_terms = {
        "linear_bias": "output elements of linear layers with a bias",
        "linear_bias_params": "bias parameters of linear layers",
        "linear_later_positions": "MACs of linear layers at every position but the first of each sample "
        "(tokens, map positions)",
    }
    onnx_note = "`Gemm` with `transB=1` on vectors; `MatMul` by the transposed weight, then `Add`, above rank 2"
    tensorrt_layer = "IMatrixMultiplyLayer + IElementWiseLayer (bias)"
    examples = (
        Example({"out": 5}, ((2, 12),)),
        Example({"out": 3, "bias": False}, ((1, 8),), "no bias"),
        Example({"out": 7}, ((2, 3, 4, 6),), "channels-last map"),
        Example({"out": 4, "bias": False}, ((2, 5, 6),), "tokens, no bias"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        if len(x) < 2:
            raise SpecError(f"linear needs a batch and features, got shape {x}")
        return (*x[:-1], a["out"])

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return int(ins[0][-1] * a["out"] + (a["out"] if a["bias"] else 0))

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(out) * ins[0][-1]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * self.macs(a, ins, out) + (numel(out) if a["bias"] else 0)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        bias = a["bias"]  # like every term, for the whole batch: bias parameters times the batch
        first = out[0] * a["out"] * ins[0][-1]  # one position per sample
        return {
            "linear_bias": numel(out) if bias else 0,
            "linear_bias_params": a["out"] * out[0] if bias else 0,
            "linear_later_positions": self.macs(a, ins, out) - first,
        }

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        args: list[TorchArg] = [("in_features", ins[0][-1], POSITIONAL), ("out_features", a["out"], POSITIONAL)]
        return "nn.Linear", [*args, *kwargs(bias=(a["bias"], True))]

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        weight = ("weight", (a["out"], ins[0][-1]))
        return [weight, ("bias", (a["out"],))] if a["bias"] else [weight]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        weights = [f"{name}.{suffix}" for suffix, _ in self.state(a, ins)]
        if len(ins[0]) == 2:
            return [OnnxNode("Gemm", [x[0], *weights], [out], {"transB": 1}, name)]
        wt, product = f"{name}/weight_t", f"{name}/matmul" if a["bias"] else out
        items: OnnxOut = [
            OnnxNode("Transpose", [weights[0]], [wt], {"perm": [1, 0]}, f"{name}/transpose"),
            OnnxNode("MatMul", [x[0], wt], [product], {}, name if not a["bias"] else f"{name}/matmul"),
        ]
        if a["bias"]:
            items.append(OnnxNode("Add", [product, weights[1]], [out], {}, name))
        return items
