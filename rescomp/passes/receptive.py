"""Receptive field: how many input rows one output element of each node can see.

Each op states its window extent k along the height axis (the dilated kernel; 1 for point-wise ops)
and its stride s (``Op.receptive``). Then ``r_out = r_in + (k - 1) * j_in`` and ``j_out = j_in * s``
(j: the distance in input rows between neighbouring outputs). The graph input has r = j = 1; merges
take the largest field of their inputs, and the largest jump of the inputs that have the output's
spatial size: a broadcast operand (a squeeze-and-excitation gate of 1x1) sees its whole input but
does not stretch the output's grid. Global pooling sees its whole input, and so does every token after
an op that mixes all positions (``Op.global_receptive``: attention, the mean over tokens), whose field
is then at least the input image's height. The figure is the theoretical field and may exceed the
image (it counts padding).
"""

from __future__ import annotations

from collections.abc import Mapping

from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape


def receptive_fields(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """Receptive field (in input rows) of every node, walking the schedule once."""
    field: dict[str, tuple[int, int]] = {}
    image = shapes[graph.input]
    rows = image[2] if len(image) == 4 else 1  # the input's height, where it is an image
    for node in graph:
        if not node.inputs:  # the graph input
            field[node.name] = (1, 1)
            continue
        ins = [shapes[i] for i in node.inputs]
        grid = [i for i in node.inputs if shapes[i][2:] == shapes[node.name][2:]] or node.inputs
        r, j = max(field[i][0] for i in node.inputs), max(field[i][1] for i in grid)
        op = REGISTRY[node.op]
        k, s = op.receptive(node.attrs, ins, shapes[node.name])
        r = r + (k - 1) * j
        field[node.name] = (max(r, rows) if op.global_receptive else r, j * s)
    return {name: rj[0] for name, rj in field.items()}
