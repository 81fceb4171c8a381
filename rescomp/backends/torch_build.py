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
from rescomp.errors import Loc, SpecError
from rescomp.fsutil import write_files


@dataclass(frozen=True)
class BuildResult:
    directory: Path
    files: dict[str, str]  # file name -> sha256
    params: int


def read_checkpoint(path: Path) -> dict[str, Any]:
    """A state_dict from a .safetensors file or a torch checkpoint (tensors only, never pickled code)."""
    import torch

    where = Loc(str(path))
    if not path.is_file():
        raise SpecError("no such weights file", where, hint="give a .safetensors file or a torch state_dict")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SpecError(
            f"cannot read weights: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            where,
            hint="weights must be safetensors or a torch.save()d state_dict",
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SpecError("the weights file does not hold a state_dict of tensors", where)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def fit_checkpoint(model: Any, state: dict[str, Any], path: Path) -> None:
    """Load ``state`` into ``model`` strictly; a key or shape that does not fit is a named error."""
    import torch

    where = Loc(str(path))
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):  # older checkpoints lack it; torch tolerates that too
                state[key] = torch.zeros_like(tensor)
                continue
            raise SpecError(
                f"weights lack '{key}' (shape {list(tensor.shape)})",
                where,
                hint="the checkpoint was saved from another architecture or other settings",
            )
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise SpecError(
                f"weights '{key}' have shape {list(state[key].shape)}, the model needs {list(tensor.shape)}",
                where,
                hint="check --set and --input against the checkpoint's architecture",
            )
    extra = sorted(set(state) - set(expected))
    if extra:
        raise SpecError(
            f"weights have a key the model lacks: '{extra[0]}'"
            + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""),
            where,
            hint="the checkpoint was saved from another architecture",
        )
    model.load_state_dict(state, strict=True)


def build_torch(
    source: Source, out_dir: Path, *, seed: int = 0, weights: Path | None = None, manifest: dict[str, Any] | None = None
) -> BuildResult:
    """Write model.py, model.safetensors and build.json into ``out_dir``."""
    import torch
    from safetensors.torch import save

    if weights is not None:
        state = read_checkpoint(weights)
        model = instantiate(source, seed)
        fit_checkpoint(model, state, weights)
    else:
        model = instantiate(source, seed)
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
