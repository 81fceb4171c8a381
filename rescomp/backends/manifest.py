"""The ``build.json`` manifest every build target writes: one builder, one schema.

It records what was built (target, spec, settings, a hash of the network), from what weights, with
which tools, and the SHA-256 of every file written beside it, so a build directory can be checked
against its manifest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rescomp import __version__
from rescomp.ir import Graph

SCHEMA = "rescomp.build/1"


def spec_hash(graph: Graph) -> str:
    """A stable hash of the network: every node's name, op, inputs and attributes, and the dtype."""
    h = hashlib.sha256(graph.dtype.encode())
    for node in graph:
        h.update(repr((node.name, node.op, node.inputs, sorted(node.attrs.items()))).encode())
    return h.hexdigest()


def build_manifest(
    graph: Graph,
    target: str,
    files: dict[str, bytes],
    *,
    origin: str = "",
    seed: int | None = None,
    weights: Path | None = None,
    **extra: Any,
) -> bytes:
    """The manifest for ``files`` (name -> bytes) built from ``graph``; ``extra`` holds the target's own
    fields (opset, precision, torch version, parity figures...)."""
    info = {
        "schema": SCHEMA,
        "target": target,
        "rescomp": __version__,
        "spec": graph.name,
        "source": origin,
        "settings": graph.params,
        "spec_hash": spec_hash(graph),
        "seed": None if weights is not None else seed,
        "weights_from": str(weights) if weights is not None else None,
        **extra,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    return (json.dumps(info, indent=2) + "\n").encode()
