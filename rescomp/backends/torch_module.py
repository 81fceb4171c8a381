"""The emitted source as a live ``nn.Module``: exactly that text, compiled and executed, so the file
``rescomp emit`` writes and the module ``rescomp.to_torch`` returns can never diverge. The source is
registered with :mod:`linecache`, so tracebacks and ``inspect.getsource`` show the generated lines."""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from typing import Any

from rescomp.backends.torch_source import Source


def load_module(source: Source) -> types.ModuleType:
    """Execute generated source as a fresh Python module (torch is imported by the source itself)."""
    digest = hashlib.sha256(source.text.encode()).hexdigest()[:16]
    filename = f"<rescomp:{source.class_name}:{digest}>"  # one entry per distinct source
    linecache.cache[filename] = (len(source.text), None, source.text.splitlines(keepends=True), filename)
    module = types.ModuleType(f"rescomp_generated_{digest}")
    module.__file__ = filename
    exec(compile(source.text, filename, "exec"), module.__dict__)  # our own source: validated identifiers only
    sys.modules[module.__name__] = module  # so inspect and pickle find the classes through their module
    return module


def instantiate(source: Source, seed: int | None = None) -> Any:
    """Build the model class of ``source``; with ``seed``, torch's default initialisation is seeded."""
    from rescomp.extras import needs

    with needs("torch", "building the PyTorch module"):
        import torch
    module = load_module(source)
    cls = getattr(module, source.class_name)
    if seed is None:
        return cls()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls()


__all__ = ["instantiate", "load_module"]
