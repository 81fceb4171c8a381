"""The ``build.json`` manifest every build target writes: one builder, one schema.

It records what was built (target, spec, settings, a hash of the network), from what weights, with
which tools, and the SHA-256 of every file written beside it, so a build directory can be checked
against its manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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
    files: Mapping[str, bytes | bytearray],
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


MANIFEST = "build.json"
_MANIFEST_LIMIT = 16 << 20  # bytes: a manifest is a few kilobytes


def verify(folder: Path) -> list[str]:
    """Check a build folder against its ``build.json``: the manifest is present and well formed, and every
    file it lists is a regular file with the recorded SHA-256. Returns the problems found, one line each;
    an empty list means the folder holds one complete build. (A build renames ``build.json`` into place
    last and removes the old one first, so an interrupted build shows here as a missing manifest.)"""
    import os
    import stat

    folder = Path(folder)
    path = folder / MANIFEST
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return [f"{path}: missing (an interrupted build, or not a build folder)"]
    except OSError as exc:
        return [f"{path}: cannot read: {exc.strerror}"]
    if not stat.S_ISREG(st.st_mode):
        return [f"{path}: not a regular file"]
    if st.st_size > _MANIFEST_LIMIT:
        return [f"{path}: {st.st_size} bytes, more than a manifest's {_MANIFEST_LIMIT}"]
    try:
        info = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as exc:
        return [f"{path}: not valid JSON ({type(exc).__name__})"]
    if not isinstance(info, dict) or info.get("schema") != SCHEMA:
        return [f"{path}: not a {SCHEMA} manifest"]
    files = info.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return [f"{path}: 'files' is not a table of file names and SHA-256 digests"]
    problems = []
    for name, digest in sorted(files.items()):
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            problems.append(f"{path}: '{name}' is not a plain file name")
            continue
        target = folder / name
        try:
            fst = os.lstat(target)
        except FileNotFoundError:
            problems.append(f"{target}: missing")
            continue
        except OSError as exc:
            problems.append(f"{target}: cannot read: {exc.strerror}")
            continue
        if not stat.S_ISREG(fst.st_mode):
            problems.append(f"{target}: not a regular file")
            continue
        h = hashlib.sha256()
        try:
            with open(target, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as exc:
            problems.append(f"{target}: cannot read: {exc.strerror}")
            continue
        if h.hexdigest() != digest:
            problems.append(f"{target}: SHA-256 differs from {MANIFEST} (the file changed after the build)")
    return problems
