"""rescomp: a static-graph compiler and analyzer for residual networks.

The library API (``rescomp.analyze``, ``emit``, ``build``, ``check``, ``diff``, ``report``,
``crosscheck``, ``graph``, ``to_source``, ``to_torch`` and their result types) lives in
:mod:`rescomp.api` (docs/api.md); it is imported on first use so that ``import rescomp`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "AnalysisResult",
    "BuildResult",
    "CheckResult",
    "CrosscheckResult",
    "DiffResult",
    "EmitResult",
    "ReportResult",
    "analyze",
    "build",
    "check",
    "crosscheck",
    "diff",
    "emit",
    "graph",
    "report",
    "to_source",
    "to_torch",
]

if TYPE_CHECKING:  # type checkers see the real signatures; at run time they load on first use
    from rescomp.api import (
        AnalysisResult,
        BuildResult,
        CheckResult,
        CrosscheckResult,
        DiffResult,
        EmitResult,
        ReportResult,
        analyze,
        build,
        check,
        crosscheck,
        diff,
        emit,
        graph,
        report,
        to_source,
        to_torch,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from rescomp import api

        return getattr(api, name)
    raise AttributeError(f"module 'rescomp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
