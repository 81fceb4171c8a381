"""``rescomp crosscheck``: run the popular FLOP counters on the emitted module and explain, term by
term, how each one's total follows from rescomp's exact per-op census.

Every tool's convention is one row of :data:`FORMULAS`: a sum of census terms with coefficients
(documented in docs/conventions.md). The tool's total minus that sum is the residual, which must be
zero; anything else is reported as unexplained, never hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rescomp.ir import Graph
from rescomp.ops import REGISTRY
from rescomp.passes import Analysis

#: what each census term counts (all include the batch): rescomp's MACs, then each op's terms
TERMS = {
    "macs": "multiply-accumulates of conv, linear and attention layers (rescomp's MACs)",
    **{term: doc for op in REGISTRY.values() for term, doc in op.census_terms.items()},
}

#: each tool's total as census terms x coefficient (docs/conventions.md explains every row)
FORMULAS: dict[str, dict[str, int]] = {
    "flopcounter": {"macs": 2, "attention_macs": -2, "attention_slow_path_projection_macs": 2},
    "torchinfo": {
        "macs": 1,
        "conv_bias": 1,
        "bn_params": 1,
        "linear_bias_params": 1,
        "layer_norm_params": 1,
        "linear_later_positions": -1,
        "attention_macs": -1,
    },
    "fvcore": {
        "macs": 1,
        "bn": 1,
        "bn_affine": 1,
        "adaptive_in": 1,
        "layer_norm": 4,
        "layer_norm_affine": 1,
        "attention_macs": -1,
        "attention_slow_path_projection_macs": 1,
    },
    "thop": {
        "macs": 1,
        "bn": 2,
        "bn_affine": 2,
        "adaptive_in": 1,
        "adaptive_out": 1,
        "avgpool_out": 1,
        "layer_norm_last": 2,
        "layer_norm_last_affine": 2,
        "attention_macs": -1,
    },
    "ptflops": {
        "macs": 1,
        "conv_bias": 1,
        "linear_bias": 1,
        "bn": 1,
        "bn_affine": 1,
        "relu": 2,
        "maxpool_in": 2,
        "adaptive_in": 2,
        "avgpool_in": 2,
        "relu6": 1,
        "silu": 1,
        "gelu": 2,
        "layer_norm_last": 1,
        "attention_scores": 1,
        "attention_tokens": 2,
        "attention_in_bias": 1,
    },
    "ptflops-aten": {
        "macs": 1,
        "conv_bias": 1,
        "linear_bias": 1,
        "attention_macs": -1,
        "attention_slow_path_projection_macs": 1,
        "attention_slow_path_bias": 1,
    },
}


def census(graph: Graph, analysis: Analysis) -> dict[str, int]:
    """Exact counts of every term, from the IR and the analysis: the sum of each node's op census."""
    layers = {x.name: x for x in analysis.layers}
    c = dict.fromkeys(TERMS, 0)
    c["macs"] = analysis.macs
    for node in graph:
        ins = [layers[i].output for i in node.inputs]
        layer = layers[node.name]
        for term, count in REGISTRY[node.op].census(node.attrs, ins, layer.output, layer.params).items():
            c[term] += count
    return c


@dataclass(frozen=True)
class ToolResult:
    tool: str
    total: int | None
    predicted: int
    terms: dict[str, int]  # census term -> what it adds beyond rescomp's MACs (coefficient x count)
    residual: int | None
    note: str = ""

    def explanation(self) -> str:
        """'+ 1 x MACs again (...) + 2 x BN output elements (11,113,984)': the difference from rescomp's MACs."""
        parts = []
        for term, coef in FORMULAS[self.tool].items():
            extra = coef - 1 if term == "macs" else coef
            if extra and self.terms[term]:  # terms the network does not have are left out
                count = self.terms[term] // extra
                label = "MACs again (counting 2 FLOPs per multiply-add)" if term == "macs" else TERMS[term]
                parts.append(f"{'+' if extra > 0 else '-'} {abs(extra)} x {label} ({count:,})")
        return " ".join(parts) if parts else "nothing: rescomp's MACs exactly"


def explain(tool: str, total: int | None, c: dict[str, int], note: str = "") -> ToolResult:
    """Decompose a tool's total with its formula; the residual is what the formula does not explain."""
    formula = FORMULAS[tool]
    predicted = sum(coef * c[term] for term, coef in formula.items())
    terms = {term: (coef - 1 if term == "macs" else coef) * c[term] for term, coef in formula.items()}
    return ToolResult(tool, total, predicted, terms, None if total is None else total - predicted, note)


Runner = Callable[[Any, Any], int]


def runners() -> dict[str, tuple[str, Runner]]:
    """Each peer's standard counting call on (module, input), with the package it needs."""

    def flopcounter(m: Any, x: Any) -> int:
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as counter:
            m(x)
        return int(counter.get_total_flops())

    def fvcore(m: Any, x: Any) -> int:
        from fvcore.nn import FlopCountAnalysis

        a = FlopCountAnalysis(m, x)
        a.unsupported_ops_warnings(False)
        a.uncalled_modules_warnings(False)
        return int(a.total())

    def ptflops(m: Any, x: Any, backend: str = "pytorch") -> int:
        from ptflops import get_model_complexity_info

        value, _ = get_model_complexity_info(
            m, tuple(x.shape[1:]), as_strings=False, print_per_layer_stat=False, verbose=False, backend=backend
        )
        return int(value) * x.shape[0]  # ptflops builds and counts a batch of one

    def thop(m: Any, x: Any) -> int:
        from thop import profile

        value, _ = profile(m, inputs=(x,), verbose=False)
        return int(value)

    def torchinfo(m: Any, x: Any) -> int:
        from torchinfo import summary

        return int(summary(m, input_data=x, verbose=0).total_mult_adds)

    return {
        "flopcounter": ("torch", flopcounter),
        "fvcore": ("fvcore", fvcore),
        "ptflops": ("ptflops", ptflops),
        "ptflops-aten": ("ptflops", lambda m, x: ptflops(m, x, "aten")),
        "thop": ("thop", thop),
        "torchinfo": ("torchinfo", torchinfo),
    }


def crosscheck(graph: Graph, analysis: Analysis, tools: list[str]) -> list[ToolResult]:
    """Run each installed tool on the emitted module (seeded weights, batch as analysed)."""
    import contextlib
    import importlib.util
    import io
    import warnings

    import torch

    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source
    from rescomp.backends.weights import require_memory
    from rescomp.extras import install_line, missing_package

    require_memory(graph, f"cross-checking '{graph.name}'", analysis.activation_bytes_peak * 3)
    c = census(graph, analysis)
    available = runners()
    results = []
    for tool in tools:
        package, run = available[tool]
        if importlib.util.find_spec(package) is None:
            results.append(
                explain(tool, None, c, f"skipped: {package} is not installed ({install_line('crosscheck')})")
            )
            continue
        model = instantiate(emit_source(graph), 0).eval()
        x = torch.zeros(analysis.input)
        try:
            with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                total = run(model, x)
        except ImportError as exc:  # the peer is installed, one of its own dependencies is not
            missing = missing_package(exc, "crosscheck", tool)
            if missing is None:
                raise
            results.append(explain(tool, None, c, f"skipped: {missing.message} ({missing.hint})"))
            continue
        results.append(explain(tool, total, c))
    return results
