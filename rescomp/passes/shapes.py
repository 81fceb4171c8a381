"""Shape inference over the IR."""

from __future__ import annotations

from rescomp.errors import SpecError
from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape


def infer_shapes(graph: Graph) -> dict[str, Shape]:
    """Output shape of every node (batch dimension included), walking the schedule once."""
    shapes: dict[str, Shape] = {}
    for node in graph:
        try:
            shapes[node.name] = REGISTRY[node.op].shape(node.attrs, [shapes[i] for i in node.inputs])
        except SpecError as exc:
            raise exc.with_context(loc=node.loc, node=node.name) from None
    return shapes
