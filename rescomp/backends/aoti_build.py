"""``rescomp build --target aoti``: ``torch.export`` of the emitted module plus an AOTInductor
package (.pt2), compiled for the CPU here or for CUDA on a GPU host.

The batch dimension is dynamic; torch.export needs an example batch of at least 2 to treat it so
(a batch of 1 is specialised), so the example batch is max(2, opt). For fp16 and bf16 the weights are
converted to that type and the package casts its fp32 input in and its output back to fp32, as the
ONNX does, so every package takes and returns fp32. The package's metadata records the precision, the
input shape and the batch maximum, and :func:`load_aoti` enforces them at run time (AOTInductor itself
accepts a batch above the exported maximum).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from rescomp.backends.torch_module import instantiate
from rescomp.backends.torch_source import Source
from rescomp.errors import SpecError

PRECISIONS = ("fp32", "fp16", "bf16")
#: max |package - fp32 eager| / max |fp32 eager| above which build.json gets a parity note
PARITY_TOLERANCE = {"fp32": 1e-4, "fp16": 1e-2, "bf16": 5e-2}
_META = "rescomp."  # prefix of rescomp's keys in the package metadata


def torch_dtype(precision: str) -> Any:
    import torch

    if precision not in PRECISIONS:
        raise SpecError(f"unknown precision '{precision}'", hint=f"use one of {', '.join(PRECISIONS)}")
    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def typed_module(source: Source, state: dict[str, Any], precision: str, device: str = "cpu") -> Any:
    """The emitted module with ``state`` loaded, in eval mode, its weights in ``precision``, taking and
    returning fp32 (the casts are part of the module, as in the ONNX)."""
    import torch

    dtype = torch_dtype(precision)
    model = instantiate(source, 0)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    model = model.eval().to(device)
    if dtype == torch.float32:
        return model

    class Cast(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.model = inner.to(dtype)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x.to(dtype)).float()

    return Cast(model).eval()


def compile_aoti(
    source: Source,
    state: dict[str, Any],
    chw: tuple[int, ...],
    *,
    max_batch: int,
    opt_batch: int,
    device: str = "cpu",
    precision: str = "fp32",
) -> bytes:
    """Export and compile; return the .pt2 package's bytes."""
    import torch
    from torch.export import Dim, export

    model = typed_module(source, state, precision, device)
    example = torch.zeros(max(2, min(opt_batch, max_batch)), *chw, device=device)
    batch = Dim("batch", min=1, max=max(2, max_batch))
    with torch.no_grad():
        program = export(model, (example,), dynamic_shapes=({0: batch},))
    metadata = {
        f"{_META}precision": precision,
        f"{_META}max_batch": str(max_batch),
        f"{_META}input": "x".join(str(d) for d in chw),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = torch._inductor.aoti_compile_and_package(
            program,
            package_path=str(Path(tmp) / "model.pt2"),
            inductor_configs={"aot_inductor.metadata": metadata},
        )
        return Path(path).read_bytes()


class AotiRunner:
    """A loaded .pt2 package that checks each input against what it was built for: the per-image shape
    and the batch range 1..max (which AOTInductor does not check)."""

    def __init__(self, path: Path, compiled: Any) -> None:
        meta = compiled.get_metadata()
        try:
            self.precision = meta[f"{_META}precision"]
            self.max_batch = int(meta[f"{_META}max_batch"])
            self.chw = tuple(int(d) for d in meta[f"{_META}input"].split("x"))
        except (KeyError, ValueError):
            raise SpecError(
                f"{path} has no rescomp metadata (precision, batch maximum, input shape)",
                hint="rebuild it with rescomp build --target aoti",
            ) from None
        self.path = path
        self.compiled = compiled

    def __call__(self, x: Any) -> Any:
        shape = tuple(int(d) for d in x.shape)
        if shape[1:] != self.chw:
            raise SpecError(f"{self.path.name} takes input {'x'.join(map(str, self.chw))} per image, got {shape}")
        if not 1 <= shape[0] <= self.max_batch:
            raise SpecError(
                f"batch {shape[0]} is outside 1..{self.max_batch}, the range {self.path.name} was built for",
                hint=f"rebuild with --batch MIN:OPT:MAX whose maximum is at least {shape[0]}",
            )
        return self.compiled(x)


def load_aoti(path: Path) -> AotiRunner:
    """A callable runner for a .pt2 package built by rescomp."""
    import torch

    return AotiRunner(Path(path), torch._inductor.aoti_load_package(str(path)))
