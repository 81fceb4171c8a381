"""``rescomp build --target tensorrt``: a serialized TensorRT engine from rescomp's own ONNX.

Precision lives in the ONNX (typed weights, fp32 casts at the input and output), and the network is
built strongly typed where TensorRT offers the flag (10.12 through 11.x, where the FP16/INT8 builder
flags are gone). The build goes Builder -> OnnxParser -> builder config (workspace limit, one
optimization profile, a timing cache reused across builds) -> ``build_serialized_network``.

Everything that does not need TensorRT itself is plain Python and unit-tested: the pre-flight, the
recipe and its ``trtexec`` line, the manifest check that explains a GPU or version mismatch, the
mapping of parser errors back to IR nodes, and the error statistics of the parity check. The
TensorRT calls are type-checked with mypy against ``tensorrt-stubs``.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rescomp.errors import BackendUnavailable, SpecError
from rescomp.ir import Graph
from rescomp.ops import REGISTRY

if TYPE_CHECKING:
    pass

DEFAULT_WORKSPACE = 4 << 30  # bytes


@dataclass(frozen=True)
class Profile:
    """The optimization profile's batch sizes: ``--batch min:opt:max`` (or one N for 1:N:N)."""

    min: int
    opt: int
    max: int

    @classmethod
    def parse(cls, text: str) -> Profile:
        parts = text.split(":")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            values = []
        if len(values) == 1:
            values = [1, values[0], values[0]]
        if len(values) != 3 or not 1 <= values[0] <= values[1] <= values[2]:
            raise SpecError(f"cannot read batch profile '{text}'", hint="write min:opt:max, e.g. 1:8:32, or one N")
        return cls(*values)

    def shapes(self, chw: Sequence[int]) -> dict[str, list[int]]:
        return {k: [getattr(self, k), *chw] for k in ("min", "opt", "max")}


@dataclass
class Host:
    """What this machine offers a TensorRT build."""

    tensorrt: str | None = None  # version
    cuda: str | None = None
    gpu: str | None = None
    capability: str | None = None
    missing: list[str] = field(default_factory=list)


def probe_host() -> Host:
    """Find TensorRT and a CUDA device without failing: what is missing is listed in words."""
    host = Host()
    try:
        import tensorrt as trt_mod

        if hasattr(trt_mod, "Builder"):  # the stubs package alone makes an empty namespace package
            host.tensorrt = str(trt_mod.__version__)
        else:
            host.missing.append("the TensorRT Python package is not installed (only its type stubs are)")
    except ImportError:
        host.missing.append("the TensorRT Python package (tensorrt) is not installed")
    try:
        import torch

        if torch.cuda.is_available():
            host.cuda = torch.version.cuda
            host.gpu = torch.cuda.get_device_name(0)
            major, minor = torch.cuda.get_device_capability(0)
            host.capability = f"{major}.{minor}"
        else:
            host.missing.append("no CUDA device is visible (torch.cuda.is_available() is False)")
    except ImportError:
        host.missing.append("PyTorch is not installed, so no CUDA device could be queried")
    return host


def preflight(graph: Graph) -> list[str]:
    """IR nodes whose op has no TensorRT layer to parse into, as 'name (op)'. Empty when the build can
    proceed."""
    return [f"{n.name} ({n.op})" for n in graph if REGISTRY[n.op].tensorrt_layer is None]


def recipe(
    onnx_file: str,
    engine_file: str,
    precision: str,
    profile: Profile,
    chw: Sequence[int],
    workspace: int = DEFAULT_WORKSPACE,
    timing_cache: str = "timing.cache",
) -> dict[str, Any]:
    """Everything a TensorRT build needs, as JSON-able data (written beside the ONNX)."""
    return {
        "schema": "rescomp.tensorrt-recipe/1",
        "onnx": onnx_file,
        "engine": engine_file,
        "precision": precision,
        "strongly_typed": True,
        "input": "input",
        "profile": profile.shapes(chw),
        "workspace_bytes": workspace,
        "timing_cache": timing_cache,
    }


def trtexec_command(r: dict[str, Any]) -> str:
    """The equivalent ``trtexec`` command line for a recipe."""
    dims = {k: "x".join(map(str, v)) for k, v in r["profile"].items()}
    args = [
        "trtexec",
        f"--onnx={r['onnx']}",
        f"--saveEngine={r['engine']}",
        f"--minShapes={r['input']}:{dims['min']}",
        f"--optShapes={r['input']}:{dims['opt']}",
        f"--maxShapes={r['input']}:{dims['max']}",
        f"--memPoolSize=workspace:{r['workspace_bytes'] >> 20}M",
        f"--timingCacheFile={r['timing_cache']}",
        "--stronglyTyped",
    ]
    return shlex.join(args)


def unavailable_message(host: Host, out_dir: Path, command: str) -> str:
    """The one paragraph printed when this host cannot build an engine."""
    missing = "; ".join(host.missing)
    return (
        f"TensorRT engine not built: {missing}. rescomp wrote the checked, typed ONNX and a build recipe to "
        f"{out_dir}/ (model.onnx, tensorrt_recipe.json); build the engine on a machine with TensorRT 10.12+ "
        f"and an NVIDIA GPU, with `rescomp build` there or with this command:\n  {command}"
    )


def engine_problems(manifest: dict[str, Any], host: Host) -> list[str]:
    """Why an engine built elsewhere will not load here, in plain words (empty when it fits)."""
    problems = []
    built_trt, here_trt = manifest.get("tensorrt"), host.tensorrt
    if here_trt is None:
        problems.append("TensorRT is not installed here")
    elif built_trt and built_trt != here_trt:
        problems.append(
            f"the engine was built with TensorRT {built_trt} and this host has {here_trt}; engines are tied to "
            "the exact TensorRT version, so rebuild it here from model.onnx"
        )
    built_gpu, built_cc = manifest.get("gpu"), manifest.get("compute_capability")
    if host.gpu is None:
        problems.append("no CUDA device is visible here")
    elif built_cc and host.capability and built_cc != host.capability:
        problems.append(
            f"the engine was built for {built_gpu} (compute capability {built_cc}) and this GPU is {host.gpu} "
            f"(compute capability {host.capability}); engines run only on the architecture they were built for"
        )
    elif built_gpu and built_gpu != host.gpu:
        problems.append(
            f"the engine was built on {built_gpu} and this GPU is {host.gpu}: same architecture, so it loads, "
            "but its tactics were timed on the other GPU"
        )
    return problems


def parser_errors_to_nodes(errors: Sequence[tuple[str, str, str]], graph: Graph) -> SpecError:
    """TensorRT parser errors (node name, op type, description) as one error naming the IR node."""
    name, op_type, desc = errors[0]
    ir_name = name.split("/")[0]  # helper nodes are named 'node/part'
    node = next((n for n in graph if n.name == ir_name), None)
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return SpecError(
        f"TensorRT's ONNX parser rejected {op_type} node '{name}': {desc}{more}",
        node.loc if node is not None else None,
        node=ir_name if node is not None else None,
        hint="see docs/backends.md for the ops TensorRT supports",
    )


def error_stats(reference: Any, candidate: Any) -> dict[str, float]:
    """Element-wise error between two outputs: max, mean and quantiles of |a - b|, relative to max |a|."""
    import numpy as np

    ref = np.asarray(reference, dtype=np.float64)
    diff = np.abs(np.asarray(candidate, dtype=np.float64) - ref)
    scale = float(np.abs(ref).max()) or 1.0
    return {
        "max_abs": float(diff.max()),
        "mean_abs": float(diff.mean()),
        "p50_abs": float(np.quantile(diff, 0.5)),
        "p99_abs": float(np.quantile(diff, 0.99)),
        "p999_abs": float(np.quantile(diff, 0.999)),
        "max_rel": float(diff.max()) / scale,
        "top1_agreement": float((ref.argmax(-1) == np.asarray(candidate).argmax(-1)).mean()) if ref.ndim == 2 else 1.0,
    }


# --- the TensorRT calls -----------------------------------------------------------------------------


def _progress_monitor(trt_mod: Any) -> Any:
    """A rich progress display of TensorRT's build phases, where TensorRT has IProgressMonitor."""
    base = getattr(trt_mod, "IProgressMonitor", None)
    if base is None:
        return None
    import sys

    class Monitor(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__()

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if sys.stderr.isatty():
                sys.stderr.write(f"  tensorrt: {phase_name} ({num_steps} steps)\n")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True

        def phase_finish(self, phase_name: str) -> None:
            return None

    return Monitor()


def build_engine(onnx_bytes: bytes, r: dict[str, Any], graph: Graph, timing_cache: bytes | None) -> tuple[bytes, bytes]:
    """Build a serialized engine and return it with the updated timing cache."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    strongly = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if strongly is not None:
        flags |= 1 << int(strongly)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = []
        for i in range(parser.num_errors):
            err = parser.get_error(i)
            errors.append((err.node_name(), err.node_operator(), err.desc()))
        raise parser_errors_to_nodes(errors or [("?", "?", "unknown parser failure")], graph)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(r["workspace_bytes"]))
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    profile = builder.create_optimization_profile()
    shapes = r["profile"]
    profile.set_shape(r["input"], trt.Dims(shapes["min"]), trt.Dims(shapes["opt"]), trt.Dims(shapes["max"]))
    config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache or b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailable("TensorRT failed to build the engine", hint="rerun with a larger workspace")
    return bytes(serialized), bytes(config.get_timing_cache().serialize())


def run_engine(engine_bytes: bytes, x: Any) -> Any:
    """Run a serialized engine once on a NumPy input (float32, NCHW) and return the output."""
    import tensorrt as trt
    import torch

    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(engine_bytes)
    context = engine.create_execution_context()
    inp = torch.from_numpy(x).cuda().contiguous()
    context.set_input_shape("input", tuple(inp.shape))
    dims = context.get_tensor_shape("output")
    out_shape = [dims[i] for i in range(len(dims))]
    out = torch.empty(out_shape, dtype=torch.float32, device="cuda")
    context.set_tensor_address("input", inp.data_ptr())
    context.set_tensor_address("output", out.data_ptr())
    stream = torch.cuda.current_stream()
    if not context.execute_async_v3(stream.cuda_stream):
        raise BackendUnavailable("TensorRT failed to execute the engine")
    stream.synchronize()
    return out.cpu().numpy()


def manifest(host: Host, r: dict[str, Any], onnx_bytes: bytes, spec_hash: str) -> dict[str, Any]:
    return {
        "schema": "rescomp.tensorrt-engine/1",
        "tensorrt": host.tensorrt,
        "cuda": host.cuda,
        "gpu": host.gpu,
        "compute_capability": host.capability,
        "precision": r["precision"],
        "profile": r["profile"],
        "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "spec_hash": spec_hash,
    }


def load_engine(engine_path: Path) -> bytes:
    """Read an engine after checking its manifest against this host; mismatches are explained."""
    info_path = engine_path.with_suffix(".json")
    if info_path.is_file():
        problems = engine_problems(json.loads(info_path.read_text()), probe_host())
        if problems:
            raise BackendUnavailable(f"cannot use {engine_path.name} here: " + "; ".join(problems))
    return engine_path.read_bytes()


__all__ = [
    "Profile",
    "build_engine",
    "engine_problems",
    "error_stats",
    "load_engine",
    "preflight",
    "probe_host",
    "recipe",
    "run_engine",
    "trtexec_command",
]
