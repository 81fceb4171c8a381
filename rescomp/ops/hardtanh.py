"""Hardtanh: clamp to [min_val, max_val] (ReLU6 is hardtanh(0, 6)), added by the recipe in
docs/architecture.md as one file."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.activation import Activation
from rescomp.ops.base import Attr, Attrs, Example, OnnxConst, OnnxNode, OnnxOut, Shape, TorchCall, kwargs, register


@register
class Hardtanh(Activation):
    kind = "hardtanh"
    doc = "Clamps every element to [min_val, max_val] (torch.nn.Hardtanh); ReLU6 is min_val 0, max_val 6."
    attrs = {
        "min_val": Attr("float", -1.0, "lower bound"),
        "max_val": Attr("float", 1.0, "upper bound, above min_val"),
    }
    flops_rule = "2 per element (two comparisons)"
    flops_per_element = 2
    census_terms = {"hardtanh": "hardtanh output elements"}
    examples = (
        Example({}, ((2, 3, 4, 4),)),
        Example({"min_val": 0, "max_val": 6}, ((2, 3, 4, 4),), "ReLU6"),
        Example({"min_val": -0.5, "max_val": 0.25}, ((2, 6),), "on a vector"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        if not a["min_val"] < a["max_val"]:
            raise SpecError(f"hardtanh needs min_val < max_val, got {a['min_val']:g} and {a['max_val']:g}")
        return ins[0]

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Hardtanh", kwargs(min_val=(a["min_val"], -1.0), max_val=(a["max_val"], 1.0))

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        # Clip takes its bounds as tensor inputs (opset 11+), of the input's element type
        bounds = [OnnxConst(f"{name}.{k}", [a[k]], (), "float") for k in ("min_val", "max_val")]
        return [*bounds, OnnxNode("Clip", [x[0], bounds[0].name, bounds[1].name], [out], {}, name)]
