"""Per-node counts: parameters, buffers, MACs and FLOPs, each a table keyed by node name."""

from __future__ import annotations

from collections.abc import Mapping

from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape


def _table(graph: Graph, shapes: Mapping[str, Shape], rule: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for node in graph:
        op = REGISTRY[node.op]
        out[node.name] = getattr(op, rule)(node.attrs, [shapes[i] for i in node.inputs], shapes[node.name])
    return out


def count_params(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """Trainable parameters per node."""
    return _table(graph, shapes, "params")


def count_buffers(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """Saved non-trainable elements per node (BN running mean, variance and batch counter)."""
    return _table(graph, shapes, "buffers")


def count_macs(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """Multiply-accumulates of conv, linear and attention layers per node, bias excluded."""
    return _table(graph, shapes, "macs")


def count_flops(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """FLOPs per node under rescomp's full convention (docs/conventions.md)."""
    return _table(graph, shapes, "flops")
