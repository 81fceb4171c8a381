"""rescomp: a static-graph compiler and analyzer for residual networks.

``rescomp.analyze(spec)``, ``rescomp.to_source(spec)`` and ``rescomp.to_torch(spec)`` are the library
entry points; they are imported on first use so that ``import rescomp`` stays light.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["analyze", "graph", "to_source", "to_torch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rescomp import api

        return getattr(api, name)
    raise AttributeError(f"module 'rescomp' has no attribute {name!r}")
