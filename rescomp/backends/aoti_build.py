"""``rescomp build --target aoti``: ``torch.export`` of the emitted module plus an AOTInductor
package (.pt2), compiled for the CPU here or for CUDA on a GPU host.

The batch dimension is dynamic; torch.export needs an example batch of at least 2 to treat it so
(a batch of 1 is specialised), so the example batch is max(2, opt).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import Source


def compile_aoti(
    source: Source, state: dict[str, Any], chw: tuple[int, ...], *, max_batch: int, opt_batch: int, device: str = "cpu"
) -> bytes:
    """Export and compile; return the .pt2 package's bytes."""
    import torch
    from torch.export import Dim, export

    model = instantiate(source, 0)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    model = model.eval().to(device)
    example = torch.zeros(max(2, min(opt_batch, max_batch)), *chw, device=device)
    batch = Dim("batch", min=1, max=max(2, max_batch))
    with torch.no_grad():
        program = export(model, (example,), dynamic_shapes=({0: batch},))
    with tempfile.TemporaryDirectory() as tmp:
        path = torch._inductor.aoti_compile_and_package(program, package_path=str(Path(tmp) / "model.pt2"))
        return Path(path).read_bytes()


def load_aoti(path: Path) -> Any:
    """A callable runner for a .pt2 package."""
    import torch

    return torch._inductor.aoti_load_package(str(path))
