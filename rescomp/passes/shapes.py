"""Shape verification: shapes are set once, at lowering, on every node; this pass rechecks them."""

from __future__ import annotations

from rescomp.errors import SpecError
from rescomp.ir import Graph
from rescomp.ops import REGISTRY


def verify_shapes(graph: Graph) -> None:
    """Recompute every node's output shape from its op and inputs and compare it with the shape the
    node carries; a difference is a rescomp bug (AssertionError), a shape error a located SpecError."""
    for node in graph:
        try:
            again = REGISTRY[node.op].shape(node.attrs, graph.input_shapes(node))
        except SpecError as exc:
            raise exc.with_context(loc=node.loc, node=node.name) from None
        if again != node.shape:
            raise AssertionError(f"node '{node.name}' carries shape {node.shape}, its op computes {again}")
