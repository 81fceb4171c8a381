"""The library's front door: from a spec to numbers, source code or a module in one call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rescomp.errors import Loc
from rescomp.ir import Graph
from rescomp.lower import Overrides
from rescomp.spec.load import build_graph


def graph(
    spec: str | Path,
    params: dict[str, Any] | None = None,
    *,
    input_shape: tuple[int, ...] | None = None,
    batch: int | None = None,
) -> Graph:
    """Build the linted IR of a bundled spec name or a YAML path, with parameter overrides."""
    where = Loc("<api>")
    overrides = Overrides(
        {k: (v, where) for k, v in (params or {}).items()},
        (tuple(input_shape), where) if input_shape is not None else None,
        (batch, where) if batch is not None else None,
    )
    return build_graph(spec, overrides)


def analyze(spec: str | Path, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Parameters, MACs, FLOPs, memory and depth of a spec (a :class:`rescomp.passes.Analysis`)."""
    from rescomp.passes import analyze as run

    return run(graph(spec, params, **kwargs))


def to_source(spec: str | Path, params: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """The PyTorch source that ``rescomp emit`` writes for this spec."""
    from rescomp.backends.torch_source import emit_source

    return emit_source(graph(spec, params, **kwargs)).text


def to_torch(spec: str | Path, params: dict[str, Any] | None = None, *, seed: int | None = None, **kwargs: Any) -> Any:
    """The spec as a ``torch.nn.Module``, built by executing exactly the source of :func:`to_source`."""
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    return instantiate(emit_source(graph(spec, params, **kwargs)), seed)
