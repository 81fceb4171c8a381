"""The emitted source as a live ``nn.Module``: exactly that text, compiled and executed, so the file
``rescomp emit`` writes and the module ``rescomp.to_torch`` returns can never diverge. The source is
registered with :mod:`linecache`, so tracebacks and ``inspect.getsource`` show the generated lines."""

from __future__ import annotations

import linecache
import types
from typing import Any

from rescomp.backends.torch_source import Source


def load_module(source: Source) -> types.ModuleType:
    """Execute generated source as a fresh Python module (torch is imported by the source itself)."""
    lines = source.text.splitlines(keepends=True)
    linecache.cache[source.filename] = (len(source.text), None, lines, source.filename)
    module = types.ModuleType(f"rescomp_generated.{source.class_name}")
    module.__file__ = source.filename
    code = compile(source.text, source.filename, "exec")
    exec(code, module.__dict__)
    return module


def instantiate(source: Source, seed: int | None = None) -> Any:
    """Build the model class of ``source``; with ``seed``, torch's default initialisation is seeded."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the installation
        from rescomp.errors import BackendUnavailable

        raise BackendUnavailable(
            "the torch backend needs PyTorch, which is not installed",
            hint="pip install 'rescomp[torch]' (torch==2.13.0 on CPU)",
        ) from exc
    module = load_module(source)
    cls = getattr(module, source.class_name)
    if seed is None:
        return cls()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls()


__all__ = ["instantiate", "load_module"]
