"""Depth: the number of weighted layers (conv and linear) on the longest input-to-output path."""

from __future__ import annotations

from rescomp.ir import Graph
from rescomp.ops import REGISTRY


def count_depth(graph: Graph) -> int:
    """Dynamic programming over the schedule: linear time, no recursion."""
    depth: dict[str, int] = {}
    for node in graph:
        before = max((depth[i] for i in node.inputs), default=0)
        depth[node.name] = before + (1 if REGISTRY[node.op].weighted else 0)
    assert graph.output is not None
    return depth[graph.output]
