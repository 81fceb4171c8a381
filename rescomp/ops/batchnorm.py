"""Batch normalisation, evaluated in inference mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
        "momentum": Attr("float", 0.1, "running-statistics momentum (training only)", minimum=0, maximum=1),
        "affine": Attr("bool", True, "learn a per-channel scale and shift"),
    }
    category = "norm"
    layouts = ("NCHW",)
    flops_rule = "2 per element (inference: one multiply and one add with folded statistics)"
    census_terms = {
        "bn": "BN output elements",
        "bn_affine": "output elements of BNs with a learned scale and shift (affine)",
        "bn_params": "BN scale and shift parameters",
    }
    onnx_note = (
        "folded into a preceding conv that no other layer reads; with `affine: false` the scale and shift "
        "are constant ones and zeros"
    )
    tensorrt_layer = "IScaleLayer"
    affine_foldable = True
    examples = (
        Example({}, ((2, 4, 5, 5),)),
        Example({"affine": False, "eps": 1e-3}, ((1, 3, 4, 4),), "no affine"),
    )

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

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        affine = numel(out) if a["affine"] else 0
        return {"bn": numel(out), "bn_affine": affine, "bn_params": params * out[0]}  # whole batch, as every term

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        extra = kwargs(eps=(a["eps"], 1e-5), momentum=(a["momentum"], 0.1), affine=(a["affine"], True))
        return "nn.BatchNorm2d", [("num_features", ins[0][1], POSITIONAL), *extra]

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        c = (ins[0][1],)
        affine = [("weight", c), ("bias", c)] if a["affine"] else []
        return [*affine, ("running_mean", c), ("running_var", c), ("num_batches_tracked", ())]

    def channel_affine(self, a: Attrs, state: Mapping[str, Any]) -> tuple[Any, Any]:
        # inference BN: (x - mean) / sqrt(var + eps) * gamma + beta == x * scale + shift
        std = (state["running_var"] + a["eps"]) ** 0.5
        scale = state["weight"] / std if a["affine"] else 1.0 / std
        shift = (state["bias"] if a["affine"] else 0.0) - state["running_mean"] * scale
        return scale, shift

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        c = ins[0][1]
        consts: OnnxOut = []
        if not a["affine"]:  # ONNX always takes a scale and a shift: ones and zeros
            consts = [
                OnnxConst(f"{name}.weight", [1.0] * c, (c,), "float"),
                OnnxConst(f"{name}.bias", [0.0] * c, (c,), "float"),
            ]
        inputs = [x[0], *(f"{name}.{s}" for s in ("weight", "bias", "running_mean", "running_var"))]
        return [*consts, OnnxNode("BatchNormalization", inputs, [out], {"epsilon": a["eps"]}, name)]
