"""The closed registry of op kinds. Importing this package imports every module in it, and so
registers every op: adding an op is adding one module here."""

import importlib
import pkgutil

from rescomp.ops.base import REGISTRY, Attr, Example, Op, Shape, numel, sort_registry

_FRAMEWORK = {"base", "doc"}  # modules of this package that define no op

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module not in _FRAMEWORK:
        importlib.import_module(f"{__name__}.{_module}")
sort_registry()

__all__ = ["REGISTRY", "Attr", "Example", "Op", "Shape", "numel"]
