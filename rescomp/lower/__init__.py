"""Lowering: spec objects to the IR graph, split by job.

- :mod:`~rescomp.lower.values`: typed evaluation of spec values (parameters, expressions, input shape);
- :mod:`~rescomp.lower.naming`: scopes, generated names and ``inputs`` resolution;
- :mod:`~rescomp.lower.shortcut`: the residual shortcut plan and its reserved names;
- :mod:`~rescomp.lower.build`: graph and module-tree building.
"""

from rescomp.lower.build import MAX_BLOCK_DEPTH, MAX_NODES, MAX_REPEAT, lower
from rescomp.lower.values import Overrides, eval_untyped, input_shape, resolve_params

__all__ = [
    "MAX_BLOCK_DEPTH",
    "MAX_NODES",
    "MAX_REPEAT",
    "Overrides",
    "eval_untyped",
    "input_shape",
    "lower",
    "resolve_params",
]
