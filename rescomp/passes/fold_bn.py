"""BN folding: an IR plus weights in, an IR plus weights out.

A per-channel affine op (inference-mode BatchNorm) whose only input is an op that can absorb a
per-channel affine (a convolution) and that nothing else reads is folded into it: the producer gets
the scaled weights and a bias, the affine node disappears and its readers read the producer. The
ops decide (``channel_affine``, ``absorbs_channel_affine``, ``absorb_affine``); this pass never
tests an op by name. The backends then render the folded graph as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rescomp.ir import Graph
from rescomp.ops import REGISTRY
from rescomp.ops.base import state_key


@dataclass(frozen=True)
class Folded:
    graph: Graph
    weights: dict[str, Any]  # state_dict key -> NumPy array
    folded: tuple[str, ...]  # names of the nodes folded away, sorted


def foldable(graph: Graph) -> dict[str, str]:
    """Producer name -> the affine node it absorbs."""
    out = {}
    for node in graph:
        if REGISTRY[node.op].affine_foldable and len(node.inputs) == 1:
            (src,) = node.inputs
            if REGISTRY[graph[src].op].absorbs_channel_affine and graph.consumers(src) == [node.name]:
                out[src] = node.name
    return out


def fold_bn(graph: Graph, weights: dict[str, Any]) -> Folded:
    """Fold every foldable per-channel affine into its producer (float64 arithmetic, float32 result)."""
    import numpy as np

    pairs = foldable(graph)
    new_weights = dict(weights)
    attrs: dict[str, dict[str, Any]] = {}
    for src, bn in pairs.items():
        producer, affine = graph[src], graph[bn]
        bn_state = _state(graph, new_weights, bn)
        affine_map = REGISTRY[affine.op].channel_affine(affine.attrs, bn_state)
        assert affine_map is not None, f"op '{affine.op}' is affine_foldable but gave no affine map"
        scale, shift = affine_map
        src_state = _state(graph, new_weights, src)
        new_attrs, state = REGISTRY[producer.op].absorb_affine(producer.attrs, src_state, scale, shift)
        attrs[src] = new_attrs
        for suffix, value in state.items():
            new_weights[f"{src}.{suffix}"] = np.asarray(value, dtype=np.float64).astype(np.float32)
    folded = graph.rewritten({bn: src for src, bn in pairs.items()}, attrs)
    return Folded(folded, new_weights, tuple(sorted(pairs.values())))


def _state(graph: Graph, weights: dict[str, Any], name: str) -> dict[str, Any]:
    """A node's tensors by suffix, as float64, removed from ``weights``."""
    node = graph[name]
    out = {}
    for suffix, _ in REGISTRY[node.op].state(node.attrs, graph.input_shapes(node)):
        value = weights.pop(state_key(name, suffix), None)
        if value is not None:
            out[suffix] = value.astype("float64")
    return out
