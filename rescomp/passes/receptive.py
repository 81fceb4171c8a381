"""Receptive field: how many input rows one output element of each node can see.

Along the height axis, for a window op with kernel k (dilated: d*(k-1)+1) and stride s:
``r_out = r_in + (k_eff - 1) * j_in`` and ``j_out = j_in * s`` (j: the distance in input rows between
neighbouring outputs). Merges take the largest field of their inputs. Global pooling sees its whole
input. The figure is the theoretical field and may exceed the image (it counts padding).
"""

from __future__ import annotations

from collections.abc import Mapping

from rescomp.ir import Graph
from rescomp.ops import Shape


def receptive_fields(graph: Graph, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """Receptive field (in input rows) of every node, walking the schedule once."""
    field: dict[str, tuple[int, int]] = {}
    for node in graph:
        a = node.attrs
        if node.op == "input":
            field[node.name] = (1, 1)
            continue
        r, j = max(field[i][0] for i in node.inputs), max(field[i][1] for i in node.inputs)
        if node.op == "conv":
            k_eff = a["dilation"][0] * (a["kernel"][0] - 1) + 1
            r, j = r + (k_eff - 1) * j, j * a["stride"][0]
        elif node.op in ("maxpool", "avgpool"):
            k, s = a["kernel"][0], (a["stride"] or a["kernel"])[0]
            r, j = r + (k - 1) * j, j * s
        elif node.op == "adaptive_avgpool":
            h, oh = shapes[node.inputs[0]][2], a["size"][0]
            k = -(-h // oh)  # the widest of torch's adaptive windows
            r, j = r + (k - 1) * j, j * max(1, h // oh)
        elif node.op == "pad_shortcut":
            j = j * a["stride"]
        field[node.name] = (r, j)
    return {name: rj[0] for name, rj in field.items()}
