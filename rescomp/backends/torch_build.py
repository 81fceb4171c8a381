"""``rescomp build --target torch``: model.py, its weights as safetensors, and a build manifest.

Weights come from a seeded initialisation (same seed, same bytes) or from a checkpoint
(safetensors or a torch state_dict) that must fit the model key for key and shape for shape.
Files are written under temporary names and renamed into place only when all of them are complete.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rescomp import __version__
from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import Source
from rescomp.backends.weights import check_state, read_state
from rescomp.fsutil import write_files


@dataclass(frozen=True)
class BuildResult:
    directory: Path
    files: dict[str, str]  # file name -> sha256
    params: int


def build_torch(
    source: Source, out_dir: Path, *, seed: int = 0, weights: Path | None = None, manifest: dict[str, Any] | None = None
) -> BuildResult:
    """Write model.py, model.safetensors and build.json into ``out_dir``."""
    import torch
    from safetensors.torch import save

    model = instantiate(source, seed)
    if weights is not None:
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        state = check_state(expected, read_state(weights), weights)
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # one metadata key: safetensors keeps metadata in a hash map, so several keys would come out in
    # an arbitrary order and the same weights would not give the same bytes
    blob = save(tensors, metadata={"rescomp": f"{__version__} {source.class_name}"})
    files: dict[str, bytes] = {"model.py": source.text.encode(), "model.safetensors": blob}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    params = sum(p.numel() for p in model.parameters())
    info = {
        "schema": "rescomp.build/1",
        "target": "torch",
        "rescomp": __version__,
        "torch": torch.__version__.split("+")[0],
        "class": source.class_name,
        "params": params,
        "seed": None if weights is not None else seed,
        "weights_from": str(weights) if weights is not None else None,
        **(manifest or {}),
        "files": digests,
    }
    files["build.json"] = (json.dumps(info, indent=2) + "\n").encode()
    write_files(out_dir, files, create=True)
    return BuildResult(out_dir, digests, params)
