"""Weights for the backends: what tensors a graph needs, where they come from, and whether a
checkpoint fits. Tensors are NumPy arrays here, so ONNX builds from safetensors need no torch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rescomp.errors import Loc, SpecError, one_line
from rescomp.ir import Graph
from rescomp.ops import REGISTRY, Shape
from rescomp.ops.base import state_key


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
            out[state_key(node.name, suffix)] = shape
    return out


def _refuse(key: str, what: str, where: Loc, need: str = "floating point") -> SpecError:
    hint = (
        "save its parameters as float32, float16, bfloat16 or float64"
        if need == "floating point"
        else "batch-norm counters (num_batches_tracked) are int64 in torch"
    )
    return SpecError(f"weights {key!r} are {what}; the model needs {need}", where, hint=hint)


def _read_safetensors(path: Path, where: Loc) -> dict[str, Any]:
    """A .safetensors file read with the safetensors library, without torch: ml_dtypes gives NumPy the
    bfloat16 and float8 types safetensors needs for them. Every float type becomes float32."""
    import ml_dtypes  # registers bfloat16 and the float8 types with NumPy
    import numpy as np
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        raw = load_file(str(path))
    except SafetensorError as exc:
        raise SpecError(
            f"not a valid safetensors file: {one_line(str(exc))[:200]}",
            where,
            hint="save it with safetensors.torch.save_file",
        ) from None
    floats = {np.dtype(t) for t in (np.float16, np.float32, np.float64, ml_dtypes.bfloat16)}
    out: dict[str, Any] = {}
    for key, array in raw.items():
        if array.dtype in floats or array.dtype.name.startswith("float8"):
            out[key] = array.astype(np.float32)
        elif array.dtype.kind in "iu":
            out[key] = array
        else:  # bool, complex
            raise _refuse(key, array.dtype.name, where)
    return out


def _tensor_array(key: str, tensor: Any, where: Loc) -> Any:
    """One torch tensor as a NumPy array: every float type (bfloat16, float16, float64, float8) as
    float32, integers as they are; bool, complex, sparse and quantized tensors are refused."""
    import torch

    name = str(tensor.dtype).removeprefix("torch.")
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise _refuse(key, name, where)
    if tensor.layout != torch.strided or tensor.is_quantized:
        raise _refuse(key, f"a {'quantized' if tensor.is_quantized else 'sparse'} {name} tensor", where)
    try:
        if tensor.is_floating_point():
            return tensor.detach().to("cpu", torch.float32).numpy()
        return tensor.detach().cpu().numpy()
    except Exception as exc:  # an element type or storage NumPy cannot hold
        raise _refuse(key, f"{name} ({type(exc).__name__})", where) from None


def read_state(path: Path) -> dict[str, Any]:
    """A state_dict as NumPy arrays from a .safetensors file (no torch needed) or a torch checkpoint
    (read with ``weights_only=True``: tensors only, never pickled code).

    Floating-point tensors of any width (bfloat16, float16, float32, float64) come back as float32,
    which the targets then convert to their precision; integer tensors keep their type; bool and
    complex tensors and keys that are not strings are refused with the key named."""
    where = Loc(str(path))
    if not path.is_file():
        raise SpecError("no such weights file", where, hint="give a .safetensors file or a torch state_dict")
    try:
        if path.suffix == ".safetensors":
            return _read_safetensors(path, where)
        import torch

        state: Any = torch.load(str(path), map_location="cpu", weights_only=True)
    except ImportError as exc:
        from rescomp.errors import BackendUnavailable

        raise BackendUnavailable(f"reading {path.name} needs {exc.name}", hint="pip install 'rescomp[torch]'") from None
    except SpecError:
        raise
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
    if not isinstance(state, dict):
        raise SpecError("the weights file does not hold a state_dict of tensors", where)
    for k, v in state.items():
        if not isinstance(k, str):
            raise SpecError(
                f"weights key {k!r} is not a string but {type(k).__name__}",
                where,
                hint="a state_dict maps parameter names (strings) to tensors",
            )
        if not isinstance(v, torch.Tensor):
            raise SpecError(f"weights {k!r} are a {type(v).__name__}, not a tensor", where)
    if state and all(k.startswith("module.") for k in state):  # saved from DataParallel
        state = {k[len("module.") :]: v for k, v in state.items()}
    return {k: _tensor_array(k, v, where) for k, v in state.items()}


def check_state(
    expected: dict[str, Shape], state: dict[str, Any], path: Path, integer: set[str] | None = None
) -> dict[str, Any]:
    """``state`` reordered like ``expected``; any missing, extra or misshapen key is a named error,
    and so is a tensor of the wrong kind: the keys in ``integer`` (by default the batch-norm counters
    ``num_batches_tracked``) need integers, which become int64; every other key needs floating point.
    A missing ``num_batches_tracked`` (older checkpoints) becomes 0, as torch itself allows."""
    import numpy as np

    where = Loc(str(path))
    out: dict[str, Any] = {}
    for key, shape in expected.items():
        wants_int = key.endswith("num_batches_tracked") if integer is None else key in integer
        if key not in state:
            if key.endswith("num_batches_tracked"):
                out[key] = np.zeros(shape, dtype=np.int64)
                continue
            raise SpecError(
                f"weights lack '{key}' (shape {list(shape)})",
                where,
                hint="the checkpoint was saved from another architecture or other settings",
            )
        value = state[key]
        if tuple(value.shape) != tuple(shape):
            raise SpecError(
                f"weights '{key}' have shape {list(value.shape)}, the model needs {list(shape)}",
                where,
                hint="check --set and --input against the checkpoint's architecture",
            )
        kind = value.dtype.kind  # f float, i/u integer, b bool, c complex
        if wants_int and kind in "iu":
            value = value.astype(np.int64)
        elif not wants_int and kind == "f":
            value = value.astype(np.float32, copy=False)
        else:
            raise _refuse(key, str(value.dtype), where, "an integer" if wants_int else "floating point")
        out[key] = value
    extra = sorted(str(k) for k in set(state) - set(expected))
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
