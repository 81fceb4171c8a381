"""Stochastic depth (Huang et al. 2016): drops a residual branch during training, the identity at
inference. Emitted as a helper module equal to torchvision.ops.StochasticDepth (same arguments, no
saved state), so torchvision's state_dicts load."""

from __future__ import annotations

from collections.abc import Sequence

from rescomp.errors import SpecError
from rescomp.ops.base import KEYWORD, Attr, Attrs, Example, OnnxNode, OnnxOut, Op, Shape, TorchCall, register

_MODES = ("row", "batch")

_HELPER = '''class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: in training, zero the input with probability p per sample
    ('row') or for the whole batch ('batch') and scale the rest by 1 / (1 - p); the identity in eval."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"'''


@register
class StochasticDepth(Op):
    kind = "stochastic_depth"
    doc = (
        "Stochastic depth (torchvision.ops.StochasticDepth): in training, drops the input per sample "
        "('row') or per batch ('batch') with probability p; the identity at inference."
    )
    attrs = {
        "p": Attr("float", doc="drop probability during training", minimum=0, maximum=1),
        "mode": Attr("str", "row", "'row' (per sample, as torchvision's models use it) or 'batch'"),
    }
    category = "shape"
    flops_rule = "0 (identity at inference)"
    torch_helper = ("StochasticDepth", _HELPER)
    tensorrt_layer = "IIdentityLayer"
    examples = (
        Example({"p": 0.2}, ((2, 3, 4, 4),)),
        Example({"p": 0.5, "mode": "batch"}, ((2, 6),), "on a vector, batch mode"),
    )

    def shape(self, a: Attrs, ins: Sequence[Shape]) -> Shape:
        if a["mode"] not in _MODES:
            raise SpecError(f"stochastic_depth's mode must be 'row' or 'batch', got {a['mode']!r}")
        return ins[0]

    def flops(self, a: Attrs, ins: Sequence[Shape], out: Shape) -> int:
        return 0

    def torch_module(self, a: Attrs, ins: Sequence[Shape]) -> TorchCall:
        return "StochasticDepth", [("p", a["p"], KEYWORD), ("mode", a["mode"], KEYWORD)]

    def onnx(self, a: Attrs, ins: Sequence[Shape], x: Sequence[str], out: str, name: str, opset: int) -> OnnxOut:
        return [OnnxNode("Identity", [x[0]], [out], {}, name)]
