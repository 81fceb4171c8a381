"""Weights for the backends: what tensors a graph needs, where they come from, and whether a
checkpoint fits. Tensors are NumPy arrays here, so ONNX builds from safetensors need no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rescomp.errors import Loc, SpecError
from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape


def available_memory() -> int:
    """Bytes of memory this machine can still give (Linux: MemAvailable), or a large number if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def require_memory(graph: Graph, what: str, extra_bytes: int = 0) -> None:
    """Refuse, with a clear error, to materialise weights that cannot fit: never an out-of-memory crash."""
    from rescomp.ops import numel

    need = sum(numel(s) for s in expected_state(graph).values()) * 4 + extra_bytes
    have = available_memory()
    if need > have // 2:
        raise SpecError(
            f"{what} needs about {need / 2**30:,.1f} GiB for weights and buffers; this machine has "
            f"{have / 2**30:,.1f} GiB available",
            hint="analysis and emission work at any size; building or running needs the memory",
        )


def expected_state(graph: Graph) -> dict[str, Shape]:
    """Every saved tensor of the graph (state_dict key -> shape), in torch's order."""
    out: dict[str, Shape] = {}
    for node in graph:
        for suffix, shape in REGISTRY[node.op].state(node.attrs, graph.input_shapes(node)):
            out[f"{node.name}.{suffix}"] = shape
    return out


def read_state(path: Path) -> dict[str, Any]:
    """A state_dict as NumPy arrays from a .safetensors file (no torch needed) or a torch checkpoint
    (read with ``weights_only=True``: tensors only, never pickled code)."""
    where = Loc(str(path))
    if not path.is_file():
        raise SpecError("no such weights file", where, hint="give a .safetensors file or a torch state_dict")
    try:
        if path.suffix == ".safetensors":
            from safetensors.numpy import load_file

            return dict(load_file(str(path)))
        import torch

        state: Any = torch.load(str(path), map_location="cpu", weights_only=True)
    except ImportError as exc:
        from rescomp.errors import BackendUnavailable

        raise BackendUnavailable(f"reading {path.name} needs {exc.name}", hint="pip install 'rescomp[torch]'") from None
    except Exception as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise SpecError(
            f"cannot read weights: {type(exc).__name__}: {first}",
            where,
            hint="weights must be safetensors or a torch.save()d state_dict",
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(hasattr(v, "numpy") for v in state.values()):
        raise SpecError("the weights file does not hold a state_dict of tensors", where)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def check_state(expected: dict[str, Shape], state: dict[str, Any], path: Path) -> dict[str, Any]:
    """``state`` reordered like ``expected``; any missing, extra or misshapen key is a named error.
    A missing ``num_batches_tracked`` (older checkpoints) becomes 0, as torch itself allows."""
    import numpy as np

    where = Loc(str(path))
    out: dict[str, Any] = {}
    for key, shape in expected.items():
        if key not in state:
            if key.endswith("num_batches_tracked"):
                out[key] = np.zeros(shape, dtype=np.int64)
                continue
            raise SpecError(
                f"weights lack '{key}' (shape {list(shape)})",
                where,
                hint="the checkpoint was saved from another architecture or other settings",
            )
        if tuple(state[key].shape) != tuple(shape):
            raise SpecError(
                f"weights '{key}' have shape {list(state[key].shape)}, the model needs {list(shape)}",
                where,
                hint="check --set and --input against the checkpoint's architecture",
            )
        out[key] = state[key]
    extra = sorted(set(state) - set(expected))
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise SpecError(
            f"weights have a key the model lacks: '{extra[0]}'{more}",
            where,
            hint="the checkpoint was saved from another architecture",
        )
    return out


def seeded_state(graph: Graph, seed: int) -> dict[str, Any]:
    """The torch target's seeded initialisation (torch's defaults), as NumPy arrays."""
    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    require_memory(graph, f"initialising '{graph.name}'")
    model = instantiate(emit_source(graph), seed)
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def load_weights(graph: Graph, weights: Path | None, seed: int) -> dict[str, Any]:
    """The graph's weights from a checkpoint (checked key by key) or from the seeded initialisation."""
    if weights is None:
        return seeded_state(graph, seed)
    return check_state(expected_state(graph), read_state(weights), weights)
