"""Activation memory: the sum of all outputs, and the peak of live bytes along the schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape, numel


@dataclass(frozen=True)
class Memory:
    total_bytes: int  # every node's output, summed (what training keeps for the backward pass)
    peak_bytes: int  # most bytes alive at once during inference, in schedule order
    peak_at: str  # the node whose execution reaches the peak


def estimate_memory(graph: Graph, shapes: Mapping[str, Shape], itemsize: int) -> Memory:
    """Liveness over the schedule: a tensor lives from the node that makes it until its last reader
    has run (the graph's output lives to the end). While a node runs, its inputs and its output are
    alive together, with the op's workspace (:meth:`rescomp.ops.base.Op.workspace`: attention's score
    matrices), which is freed when it ends and counted in the total as an output is (training keeps
    it for the backward pass). Every op is assumed to write a fresh output (no in-place reuse)."""
    last_use: dict[str, int] = {}
    order = list(graph)
    for step, node in enumerate(order):
        for src in node.inputs:
            last_use[src] = step
    size = {name: numel(shape) * itemsize for name, shape in shapes.items()}
    live = 0
    peak, peak_at = 0, graph.input
    total = 0
    for step, node in enumerate(order):
        ins = [shapes[i] for i in node.inputs]
        scratch = REGISTRY[node.op].workspace(node.attrs, ins, shapes[node.name]) * itemsize
        live += size[node.name]
        total += size[node.name] + scratch
        if live + scratch > peak:
            peak, peak_at = live + scratch, node.name
        for src in set(node.inputs):
            if last_use.get(src) == step and src != graph.output:
                live -= size[src]
        if node.name not in last_use and node.name != graph.output:
            live -= size[node.name]
    return Memory(total, peak, peak_at)
