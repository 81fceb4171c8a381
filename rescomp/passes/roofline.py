"""Roofline estimate per layer on named GPUs: arithmetic intensity and a predicted time.

An **estimate**, not a measurement: each layer takes max(FLOPs / peak, bytes / bandwidth), with
fp16 tensors (2 bytes per element: inputs, output and weights, each read or written once), the dense
tensor-core peak for conv and linear and the non-tensor fp16 peak for everything else; layers are
summed with no fusion, overlap or launch overhead. Peaks and bandwidths are datasheet figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape, numel

BYTES_PER_ELEMENT = 2  # fp16


@dataclass(frozen=True)
class GpuProfile:
    name: str
    tensor_tflops: float  # dense fp16 tensor-core peak
    vector_tflops: float  # fp16 peak without tensor cores
    bandwidth_gbs: float  # HBM bandwidth
    source: str


GPUS = (
    GpuProfile("A100", 312.0, 78.0, 2039.0, "NVIDIA A100 80GB SXM datasheet"),
    GpuProfile("H100", 989.4, 133.8, 3350.0, "NVIDIA H100 SXM datasheet"),
    GpuProfile("H200", 989.4, 133.8, 4800.0, "NVIDIA H200 SXM datasheet"),
)


@dataclass(frozen=True, slots=True)
class LayerRoofline:
    intensity: float  # FLOPs per byte moved
    seconds: dict[str, float]  # per GPU
    memory_bound: dict[str, bool]


def roofline(
    graph: Graph, shapes: Mapping[str, Shape], flops: Mapping[str, int], params: Mapping[str, int]
) -> dict[str, LayerRoofline]:
    """Per-node estimate; nodes that move no data and compute nothing (the input) get zeros."""
    out = {}
    for node in graph:
        if not node.inputs:  # the graph input
            out[node.name] = LayerRoofline(0.0, {g.name: 0.0 for g in GPUS}, {g.name: False for g in GPUS})
            continue
        elements = sum(numel(shapes[i]) for i in node.inputs) + numel(shapes[node.name]) + params[node.name]
        moved = elements * BYTES_PER_ELEMENT
        f = flops[node.name]
        seconds, bound = {}, {}
        for g in GPUS:
            peak = (g.tensor_tflops if REGISTRY[node.op].weighted else g.vector_tflops) * 1e12
            compute, memory = f / peak, moved / (g.bandwidth_gbs * 1e9)
            seconds[g.name] = max(compute, memory)
            bound[g.name] = memory >= compute
        out[node.name] = LayerRoofline(f / moved if moved else 0.0, seconds, bound)
    return out
