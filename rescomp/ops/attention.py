"""Multi-head self-attention over tokens, as ``torch.nn.MultiheadAttention`` computes it (torchvision's
ViT: ``self_attention``).

For tokens (N, L, C) with H heads of D = C / H features: Q, K and V are one projection of the tokens
by ``in_proj_weight`` (3C, C) (and ``in_proj_bias``), split into heads; each head computes
softmax(Q K^T / sqrt(D)) V; the heads are joined and projected by ``out_proj`` (C, C). Counting
convention (docs/conventions.md): the MACs are every multiply-accumulate of the four projections
(4 N L C^2), of Q K^T and of the scores times V (N H L^2 D each, 2 N L^2 C together).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import (
    KEYWORD,
    POSITIONAL,
    Attr,
    Attrs,
    Example,
    OnnxConst,
    OnnxNode,
    OnnxOut,
    Op,
    Shape,
    TorchArg,
    TorchCall,
    kwargs,
    register,
)


def fast_path(a: Attrs) -> bool:
    """Whether torch's ``nn.MultiheadAttention`` takes its fused inference fast path
    (``torch._native_multi_head_attention``) for this layer, in eval mode without autograd on the CPU
    or a GPU: it needs an even number of heads and the projections' biases (torch 2.13's
    ``MultiheadAttention.forward``; self-attention, batch first and no mask hold for every emitted one).
    Counters that see only the aten operators miss the fused kernel's matrix products."""
    return a["heads"] % 2 == 0 and a["bias"]


def _sizes(a: Attrs, x: Shape) -> tuple[int, int, int, int]:
    n, length, c = x
    return n, length, c, a["heads"]


@register
class Attention(Op):
    kind = "attention"
    doc = (
        "Multi-head self-attention over tokens (N, L, C), as torch.nn.MultiheadAttention(C, heads, "
        "batch_first=True) called with the tokens as query, key and value: one projection to Q, K and V "
        "(`in_proj_weight` (3C, C), `in_proj_bias`), softmax(Q K^T / sqrt(C / heads)) V per head, and the "
        "output projection `out_proj` (C, C). C must divide into the heads."
    )
    attrs = {
        "heads": Attr("int", doc="attention heads; the features C must be a multiple of it", minimum=1),
        "dropout": Attr(
            "float", 0.0, "dropout on the attention weights in training (none at inference)", minimum=0, maximum=1
        ),
        "bias": Attr("bool", True, "learned biases of the Q/K/V and output projections"),
    }
    weighted = True
    category = "weighted"
    layouts = ("NLC",)
    global_receptive = True  # every token sees every token
    flops_rule = (
        "2 per MAC (the Q/K/V and output projections, Q K^T, the scores times V), plus 1 per output element "
        "of each projection's bias (4 N L C), 1 per query element for the scaling by 1/sqrt(C / heads) "
        "(N L C) and 5 per attention score for the softmax (row maximum, subtract, exp, row sum, divide: "
        "N heads L^2)"
    )
    census_terms = {
        "attention_macs": "MACs of attention layers (projections, Q K^T, scores times V)",
        "attention_slow_path_projection_macs": "MACs of the Q/K/V and output projections of attention layers "
        "that miss torch's inference fast path (an odd number of heads, or no bias)",
        "attention_slow_path_bias": "projection bias outputs (4 N L C) of attention layers with a bias that "
        "miss torch's fast path (an odd number of heads)",
        "attention_scores": "attention scores (N heads L^2)",
        "attention_tokens": "output elements of attention layers (N L C)",
        "attention_in_bias": "Q/K/V projection bias outputs (3 N L C) of attention layers with a bias",
    }
    onnx_note = (
        "no custom op: `MatMul` by the transposed projections (+ `Add`), `Reshape`/`Transpose`/`Gather` to "
        "split the heads, `Mul` by 1/sqrt(D), `Softmax`, `MatMul`; the batch stays dynamic"
    )
    tensorrt_layer = "IMatrixMultiplyLayer, ISoftMaxLayer, IShuffleLayer, IGatherLayer, IElementWiseLayer"
    examples = (
        Example({"heads": 2}, ((2, 5, 8),), "2 heads: torch's fused fast path"),
        Example({"heads": 3}, ((2, 4, 6),), "3 heads: the composite path"),
        Example({"heads": 2, "bias": False}, ((2, 4, 8),), "no bias"),
        Example({"heads": 1, "dropout": 0.1}, ((1, 3, 4),), "one head, dropout in training"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        (x,) = ins  # the layout check admits tokens only
        c, heads = x[2], a["heads"]
        if c % heads:
            raise SpecError(
                f"attention over {c} features cannot split into {heads} heads",
                hint=f"choose heads that divide {c}" + (f", such as {k}" if (k := _divisor(c, heads)) else ""),
            )
        return x

    def params(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        c = ins[0][2]
        return 4 * c * c + (4 * c if a["bias"] else 0)

    def macs(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        n, length, c, _ = _sizes(a, ins[0])
        return 4 * n * length * c * c + 2 * n * length * length * c

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        n, length, c, heads = _sizes(a, ins[0])
        bias = 4 * n * length * c if a["bias"] else 0
        return 2 * self.macs(a, ins, out) + bias + n * length * c + 5 * n * heads * length * length

    def workspace(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        # Q, K and V (3 N L C), the score matrix of every head (N H L^2: softmax in place) and the
        # heads' joined output before the output projection (N L C)
        n, length, c, heads = _sizes(a, ins[0])
        return 4 * n * length * c + n * heads * length * length

    def census(self, a: Attrs, ins: Sequence[Shape], out: Shape, params: int) -> dict[str, int]:
        n, length, c, heads = _sizes(a, ins[0])
        projections = 4 * n * length * c * c
        slow = not fast_path(a)
        return {
            "attention_macs": self.macs(a, ins, out),
            "attention_slow_path_projection_macs": projections if slow else 0,
            "attention_slow_path_bias": 4 * n * length * c if slow and a["bias"] else 0,
            "attention_scores": n * heads * length * length,
            "attention_tokens": n * length * c,
            "attention_in_bias": 3 * n * length * c if a["bias"] else 0,
        }

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        c = ins[0][2]
        args: list[TorchArg] = [("embed_dim", c, POSITIONAL), ("num_heads", a["heads"], POSITIONAL)]
        extra = kwargs(dropout=(a["dropout"], 0.0), bias=(a["bias"], True))
        return "nn.MultiheadAttention", [*args, *extra, ("batch_first", True, KEYWORD)]

    def torch_call(self, module: str, args: Sequence[str]) -> str:
        x = args[0]  # torchvision: x, _ = self.self_attention(x, x, x, need_weights=False)
        return f"{module}({x}, {x}, {x}, need_weights=False)[0]"

    def state(self, a: Attrs, ins: Sequence[Shape]) -> list[tuple[str, Shape]]:
        c = ins[0][2]
        if not a["bias"]:
            return [("in_proj_weight", (3 * c, c)), ("out_proj.weight", (c, c))]
        return [
            ("in_proj_weight", (3 * c, c)),
            ("in_proj_bias", (3 * c,)),
            ("out_proj.weight", (c, c)),
            ("out_proj.bias", (c,)),
        ]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        _, _, c, heads = _sizes(a, ins[0])
        d = c // heads
        t = {k: f"{name}/{k}" for k in ("qkv", "heads_shape", "split", "scale", "k_t", "scores", "probs", "mixed")}
        t.update({k: f"{name}/{k}" for k in ("joined", "joined_shape", "context")})
        items: OnnxOut = [
            OnnxConst(t["heads_shape"], [0, 0, 3, heads, d], (5,)),  # 0: keep the batch and the tokens
            OnnxConst(t["joined_shape"], [0, 0, c], (3,)),
            OnnxConst(t["scale"], [1.0 / math.sqrt(d)], (), "float"),
        ]
        items += _projection(a, x[0], f"{name}.in_proj_weight", f"{name}.in_proj_bias", t["qkv"], f"{name}/in_proj")
        items += [
            OnnxNode("Reshape", [t["qkv"], t["heads_shape"]], [f"{name}/qkv_heads"], {}, f"{name}/split_heads"),
            # (N, L, 3, H, D) -> (3, N, H, L, D): Q, K and V, each (N, H, L, D)
            OnnxNode("Transpose", [f"{name}/qkv_heads"], [t["split"]], {"perm": [2, 0, 3, 1, 4]}, f"{name}/to_heads"),
        ]
        for i, part in enumerate("qkv"):
            index = f"{name}/index_{part}"
            items += [
                OnnxConst(index, [i], ()),
                OnnxNode("Gather", [t["split"], index], [f"{name}/{part}"], {"axis": 0}, f"{name}/{part}"),
            ]
        items += [
            OnnxNode("Mul", [f"{name}/q", t["scale"]], [f"{name}/q_scaled"], {}, f"{name}/scale"),
            OnnxNode("Transpose", [f"{name}/k"], [t["k_t"]], {"perm": [0, 1, 3, 2]}, f"{name}/k_t"),
            OnnxNode("MatMul", [f"{name}/q_scaled", t["k_t"]], [t["scores"]], {}, f"{name}/scores"),
            OnnxNode("Softmax", [t["scores"]], [t["probs"]], {"axis": -1}, f"{name}/softmax"),
            OnnxNode("MatMul", [t["probs"], f"{name}/v"], [t["mixed"]], {}, f"{name}/mix"),
            OnnxNode("Transpose", [t["mixed"]], [t["joined"]], {"perm": [0, 2, 1, 3]}, f"{name}/join_heads"),
            OnnxNode("Reshape", [t["joined"], t["joined_shape"]], [t["context"]], {}, f"{name}/join"),
        ]
        items += _projection(a, t["context"], f"{name}.out_proj.weight", f"{name}.out_proj.bias", out, name)
        return items


def _projection(a: Attrs, x: str, weight: str, bias: str, out: str, name: str) -> OnnxOut:
    """x @ weight^T (+ bias) over the last dimension, the last node named ``name``."""
    wt, product = f"{name}/weight_t", f"{name}/matmul" if a["bias"] else out
    items: OnnxOut = [
        OnnxNode("Transpose", [weight], [wt], {"perm": [1, 0]}, f"{name}/transpose"),
        OnnxNode("MatMul", [x, wt], [product], {}, f"{name}/matmul" if a["bias"] else name),
    ]
    if a["bias"]:
        items.append(OnnxNode("Add", [product, bias], [out], {}, name))
    return items


def _divisor(c: int, heads: int) -> int | None:
    """A divisor of ``c`` near ``heads`` (the nearest within 64, the smaller on a tie), for the hint."""
    near = [k for k in range(max(1, heads - 64), heads + 65) if c % k == 0]
    return min(near, key=lambda k: (abs(k - heads), k)) if near else None
