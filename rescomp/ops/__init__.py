"""The closed registry of op kinds. Importing this package registers every op."""

from rescomp.ops import elementwise, graph, layers, pool  # noqa: F401  (registration side effect)
from rescomp.ops.base import REGISTRY, Attr, Op, Shape, numel

__all__ = ["REGISTRY", "Attr", "Op", "Shape", "numel"]
