"""Normalisation, activation and other element-wise ops."""

from __future__ import annotations

from collections.abc import Sequence

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
    kwargs,
    need_rank,
    numel,
    register,
)


@register
class BatchNorm(Op):
    kind = "bn"
    doc = "Batch normalisation over channels (torch.nn.BatchNorm2d), evaluated in inference mode."
    attrs = {
        "eps": Attr("float", 1e-5, "added to the variance", minimum=0),
        "momentum": Attr("float", 0.1, "running-statistics momentum (training only)", minimum=0),
        "affine": Attr("bool", True, "learn a per-channel scale and shift"),
    }
    flops_rule = "2 per element (inference: one multiply and one add with folded statistics)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("bn", x, 4)
        return x

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * ins[0][1] if a["affine"] else 0

    def buffers(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # running_mean and running_var per channel, plus torch's scalar num_batches_tracked
        return 2 * ins[0][1] + 1

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 2 * numel(out)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        extra = kwargs(eps=(a["eps"], 1e-5), momentum=(a["momentum"], 0.1), affine=(a["affine"], True))
        return "nn.BatchNorm2d", [("num_features", ins[0][1], POSITIONAL), *extra]

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        c = (ins[0][1],)
        affine = [("weight", c), ("bias", c)] if a["affine"] else []
        return [*affine, ("running_mean", c), ("running_var", c), ("num_batches_tracked", ())]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        c = ins[0][1]
        consts: OnnxOut = []
        if not a["affine"]:  # ONNX always takes a scale and a shift: ones and zeros
            consts = [
                OnnxConst(f"{name}.weight", [1.0] * c, (c,), "float"),
                OnnxConst(f"{name}.bias", [0.0] * c, (c,), "float"),
            ]
        inputs = [x[0], *(f"{name}.{s}" for s in ("weight", "bias", "running_mean", "running_var"))]
        return [*consts, OnnxNode("BatchNormalization", inputs, [out], {"epsilon": a["eps"]}, name)]


@register
class ReLU(Op):
    kind = "relu"
    doc = "Rectified linear unit, max(x, 0)."
    flops_rule = "1 per element (one comparison)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return numel(out)

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.ReLU", []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return [OnnxNode("Relu", [x[0]], [out], {}, name)]


@register
class Dropout(Op):
    kind = "dropout"
    doc = "Dropout; the identity at inference."
    attrs = {"p": Attr("float", 0.5, "drop probability during training", minimum=0)}
    flops_rule = "0 (identity at inference)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Dropout", kwargs(p=(a["p"], 0.5))

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return [OnnxNode("Identity", [x[0]], [out], {}, name)]


@register
class Identity(Op):
    kind = "identity"
    doc = "Passes its input through unchanged."
    flops_rule = "0"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Identity", []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return [OnnxNode("Identity", [x[0]], [out], {}, name)]


@register
class Flatten(Op):
    kind = "flatten"
    doc = "Flattens (N, C, H, W) into (N, C*H*W)."
    flops_rule = "0 (a reshape)"

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins
        need_rank("flatten", x, 4)
        return (x[0], numel(x[1:]))

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "nn.Flatten", []

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str) -> OnnxOut:
        return [OnnxNode("Flatten", [x[0]], [out], {"axis": 1}, name)]
