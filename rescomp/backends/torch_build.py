"""``rescomp build --target torch``: model.py and its weights as safetensors (``build`` adds the manifest).

Weights come from a seeded initialisation (same seed, same bytes) or from a checkpoint
(safetensors or a torch state_dict) that must fit the model key for key and shape for shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rescomp import __version__
from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import Source
from rescomp.backends.weights import check_state, read_state


@dataclass(frozen=True)
class TorchFiles:
    files: dict[str, bytes]  # model.py and model.safetensors
    params: int
    torch: str  # torch's version


def build_torch(source: Source, *, seed: int = 0, weights: Path | None = None) -> TorchFiles:
    """model.py and model.safetensors: the weights seeded or read from a checkpoint."""
    import torch
    from safetensors.torch import save

    model = instantiate(source, seed)
    if weights is not None:
        own = model.state_dict()
        expected = {k: tuple(v.shape) for k, v in own.items()}
        integer = {k for k, v in own.items() if not v.is_floating_point()}
        state = check_state(expected, read_state(weights), weights, integer)
        # each tensor converted deliberately to the model's own type (float32 -> the target's float
        # type, int64 for counters), so load_state_dict never casts, and never warns
        loaded = {k: torch.from_numpy(v.copy()).to(own[k].dtype) for k, v in state.items()}
        model.load_state_dict(loaded, strict=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # one metadata key: safetensors keeps metadata in a hash map, so several keys would come out in
    # an arbitrary order and the same weights would not give the same bytes
    blob = save(tensors, metadata={"rescomp": f"{__version__} {source.class_name}"})
    params = sum(p.numel() for p in model.parameters())
    files = {"model.py": source.text.encode(), "model.safetensors": blob}
    return TorchFiles(files, params, torch.__version__.split("+")[0])
