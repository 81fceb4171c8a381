"""Layer normalisation: over the channels of a feature map (ConvNeXt's ``LayerNorm2d``), or over the
last dimension (``nn.LayerNorm``: ConvNeXt's channels-last blocks, transformers' tokens)."""

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
    kwargs,
    numel,
    register,
)

_OVER = ("last", "channels")

#: torchvision.models.convnext.LayerNorm2d, verbatim in behaviour: its state_dict is nn.LayerNorm's
_HELPER = '''class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: nn.LayerNorm over the channels of (N, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)'''


def _features(a: Attrs, x: Shape) -> int:
    return x[1] if a["over"] == "channels" else x[-1]


@register
class LayerNorm(Op):
    kind = "layer_norm"
    doc = (
        "Layer normalisation with a learned per-feature scale and shift: over the last dimension "
        "(torch.nn.LayerNorm; channels-last maps, tokens, vectors) or, with `over: channels`, over the "
        "channels of a feature map (N, C, H, W) (torchvision's LayerNorm2d, as ConvNeXt uses it)."
    )
    attrs = {
        "over": Attr("str", "last", "'last' (the last dimension) or 'channels' (dimension 1 of (N, C, H, W))"),
        "eps": Attr("float", 1e-5, "added to the variance", minimum=0),
        "affine": Attr("bool", True, "learn a per-feature scale and shift (elementwise_affine)"),
    }
    category = "norm"
    flops_rule = (
        "5 per element to normalise (mean: 1 add; centre: 1 subtract; variance: 1 multiply and 1 add; "
        "scale by 1/std: 1 multiply), plus 2 per element for the learned scale and shift; the per-row "
        "divisions and square root are not counted"
    )
    census_terms = {
        "layer_norm": "LayerNorm output elements",
        "layer_norm_affine": "output elements of LayerNorms with a learned scale and shift",
        "layer_norm_last": "output elements of LayerNorms over the last dimension (nn.LayerNorm itself)",
        "layer_norm_last_affine": "output elements of nn.LayerNorms with a learned scale and shift",
        "layer_norm_params": "LayerNorm scale and shift parameters",
    }
    torch_helper = ("LayerNorm2d", _HELPER)
    min_opset = 17
    onnx_note = "`LayerNormalization` (opset 17) on the last axis; over channels between two `Transpose`s"
    tensorrt_layer = "INormalizationLayer"
    examples = (
        Example({}, ((2, 4, 4, 6),), "channels last"),
        Example({"over": "channels", "eps": 1e-6}, ((2, 6, 4, 4),), "over the channels of a feature map"),
        Example({"affine": False}, ((2, 5, 8),), "tokens, no affine"),
        Example({}, ((2, 6),), "on a vector"),
    )

    def accepts(self, a: Attrs) -> tuple[str, ...] | None:
        if a["over"] not in _OVER:  # checked before the layout, so the message names the attribute
            raise SpecError(f"layer_norm's over must be 'last' or 'channels', got {a['over']!r}")
        return ("NCHW",) if a["over"] == "channels" else ("NF", "NLC", "NHWC")

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        if a["over"] not in _OVER:
            raise SpecError(f"layer_norm's over must be 'last' or 'channels', got {a['over']!r}")
        if a["over"] == "channels" and len(x) != 4:
            raise SpecError(
                f"layer_norm over channels needs a feature map (N, C, H, W), got shape {x}",
                hint="use over: last for tokens, vectors and channels-last maps",
            )
        if len(x) < 2:
            raise SpecError(f"layer_norm needs a batch and at least one more dimension, got shape {x}")
        return x

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * _features(a, ins[0]) if a["affine"] else 0

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return (7 if a["affine"] else 5) * numel(out)

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        n = numel(out)
        affine = n if a["affine"] else 0
        last = a["over"] == "last"  # nn.LayerNorm; over channels it is LayerNorm2d, a subclass
        return {
            "layer_norm": n,
            "layer_norm_affine": affine,
            "layer_norm_last": n if last else 0,
            "layer_norm_last_affine": affine if last else 0,
            "layer_norm_params": params * out[0],  # whole batch, as every term
        }

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        cls = "LayerNorm2d" if a["over"] == "channels" else "nn.LayerNorm"
        extra = kwargs(eps=(a["eps"], 1e-5), elementwise_affine=(a["affine"], True))
        return cls, [("normalized_shape", _features(a, ins[0]), POSITIONAL), *extra]

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        c = (_features(a, ins[0]),)
        return [("weight", c), ("bias", c)] if a["affine"] else []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        c = _features(a, ins[0])
        items: OnnxOut = []
        if a["affine"]:
            scale, bias = f"{name}.weight", f"{name}.bias"
        else:  # ONNX always takes a scale: ones (and no bias)
            scale, bias = f"{name}.ones", ""
            items.append(OnnxConst(scale, [1.0] * c, (c,), "float"))
        inputs = [scale, bias] if bias else [scale]
        attrs = {"axis": -1, "epsilon": a["eps"]}
        if a["over"] == "last":
            return [*items, OnnxNode("LayerNormalization", [x[0], *inputs], [out], attrs, name)]
        last, normed = f"{name}/nhwc", f"{name}/normed"
        return [
            *items,
            OnnxNode("Transpose", [x[0]], [last], {"perm": [0, 2, 3, 1]}, f"{name}/to_nhwc"),
            OnnxNode("LayerNormalization", [last, *inputs], [normed], attrs, f"{name}/norm"),
            OnnxNode("Transpose", [normed], [out], {"perm": [0, 3, 1, 2]}, name),
        ]
