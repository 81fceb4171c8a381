"""``rescomp build --target tensorrt``: a serialized TensorRT engine from rescomp's own ONNX, and the one
runner that ``rescomp build`` (parity), ``rescomp bench`` and ``benchmarks/gpu_resnet50.py`` run it with.

Precision lives in the ONNX (typed weights, fp32 casts at the input and output), and the network is
built strongly typed where TensorRT offers the flag (10.12 through 11.x, where the FP16/INT8 builder
flags are gone). The build goes Builder -> OnnxParser -> builder config (workspace limit, one
optimization profile, a timing cache reused across builds) -> ``build_serialized_network``.

Every TensorRT call whose result says whether it worked is checked: a None builder, engine or
context, a False from ``set_input_shape``, ``set_timing_cache`` or ``execute_async_v3``, a negative
profile index. TensorRT's own messages go to a capturing logger and into the error, which is a
:class:`~rescomp.errors.BackendFailed` (exit code 5), apart from "TensorRT is not installed here"
(:class:`~rescomp.errors.BackendUnavailable`, exit code 3). Before building, :func:`check_host` checks
the TensorRT version, the compute capability the precision needs and the free GPU memory.

:class:`EngineRunner` deserialises an engine once, preallocates its input and output at the profile's
maximum batch, runs on its own CUDA stream and times nothing but ``execute_async_v3``. Its CUDA calls
go through a small :class:`TorchCuda` object, so the tests run it on the CPU against a recording fake
of the TensorRT API and a fake of these CUDA calls (``tests/test_tensorrt.py``).

Everything that does not need TensorRT itself is plain Python and unit-tested; the TensorRT calls are
type-checked with mypy against ``tensorrt-stubs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rescomp.errors import BackendFailed, BackendUnavailable, SpecError
from rescomp.ir import Graph
from rescomp.ops import REGISTRY

DEFAULT_WORKSPACE = 4 << 30  # bytes
MIN_TENSORRT = (10, 12)  # strongly typed bf16 and fp16 ONNX as rescomp writes it
#: the oldest compute capability each precision needs in TensorRT (bf16 kernels exist from Ampere, SM 8.0)
MIN_CAPABILITY = {"bf16": (8, 0)}
#: max |engine - fp32 reference| / max |fp32 reference| above which build.json gets a parity note;
#: TensorRT may run fp32 convolutions in TF32 (10-bit mantissa), hence 5e-3 and not ~1e-6
PARITY_TOLERANCE = {"fp32": 5e-3, "fp16": 1e-2, "bf16": 5e-2}


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
    free_memory: int | None = None  # bytes free on the GPU when probed
    total_memory: int | None = None
    missing: list[str] = field(default_factory=list)


def parse_version(text: str) -> tuple[int, ...] | None:
    """'10.13.0.35' -> (10, 13, 0, 35); None when it does not start with major.minor."""
    m = re.match(r"(\d+)\.(\d+)((?:\.\d+)*)", text.strip())
    if m is None:
        return None
    return tuple(int(p) for p in m.group(0).split("."))


def probe_host() -> Host:
    """Find TensorRT (10.12 or newer) and a CUDA device without failing: what is missing is listed in words."""
    host = Host()
    try:
        import tensorrt as trt_mod

        if hasattr(trt_mod, "Builder"):  # the stubs package alone makes an empty namespace package
            host.tensorrt = str(trt_mod.__version__)
            version = parse_version(host.tensorrt)
            if version is None:
                host.missing.append(f"cannot read the installed TensorRT's version '{host.tensorrt}'")
            elif version[:2] < MIN_TENSORRT:
                host.missing.append(
                    f"TensorRT {host.tensorrt} is installed and rescomp needs {MIN_TENSORRT[0]}.{MIN_TENSORRT[1]} "
                    "or newer (strongly typed fp16 and bf16 networks): pip install 'tensorrt>=10.12'"
                )
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
            host.free_memory, host.total_memory = (int(v) for v in torch.cuda.mem_get_info(0))
        else:
            host.missing.append("no CUDA device is visible (torch.cuda.is_available() is False)")
    except ImportError:
        host.missing.append("PyTorch is not installed, so no CUDA device could be queried")
    return host


def check_host(host: Host, precision: str, workspace: int) -> None:
    """The pre-flight of a build on a host that has TensorRT and a GPU: the precision's compute
    capability and the free memory against the workspace limit. Raises :class:`BackendFailed`."""
    need = MIN_CAPABILITY.get(precision)
    cc = parse_version(host.capability or "")
    if cc is None:
        raise BackendFailed(
            f"cannot read the compute capability of {host.gpu} ('{host.capability}')",
            hint="check the GPU with nvidia-smi",
        )
    if need is not None and cc[:2] < need:
        raise BackendFailed(
            f"{precision} needs a GPU of compute capability {need[0]}.{need[1]} or newer (Ampere and later); "
            f"{host.gpu} has {host.capability}",
            hint="build with --precision fp16 on this GPU, or build bf16 on an Ampere or newer GPU",
        )
    if host.free_memory is not None and host.free_memory < workspace:
        free_mib = host.free_memory >> 20
        fit = 1 << max(6, (free_mib // 2).bit_length() - 1)  # a power of two below half the free memory
        raise BackendFailed(
            f"the workspace limit is {workspace >> 20} MiB but only {free_mib} MiB of {host.gpu}'s "
            f"{(host.total_memory or 0) >> 20} MiB are free",
            hint=f"pass --workspace {fit} (MiB), or free GPU memory (nvidia-smi lists what holds it)",
        )


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
    *,
    onnx_data: str | None = None,
) -> dict[str, Any]:
    """Everything a TensorRT build needs, as JSON-able data (written beside the ONNX). ``onnx_data``: the
    ONNX's external-data file, which must stay beside it (TensorRT's parser, and so trtexec, read it
    from the model's folder)."""
    data = {"onnx_external_data": onnx_data} if onnx_data is not None else {}
    return {
        "schema": "rescomp.tensorrt-recipe/1",
        "onnx": onnx_file,
        **data,
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


def unavailable_message(
    host: Host, out_dir: Path, command: str, written: Sequence[str] = ("model.onnx", "tensorrt_recipe.json")
) -> str:
    """The one paragraph printed when this host cannot build an engine (``written``: the files left)."""
    missing = "; ".join(host.missing)
    return (
        f"TensorRT engine not built: {missing}. rescomp wrote the checked, typed ONNX and a build recipe to "
        f"{out_dir}/ ({', '.join(written)}); build the engine on a machine with TensorRT 10.12+ "
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


def parser_errors_to_nodes(errors: Sequence[tuple[str, str, str]], graph: Graph) -> BackendFailed:
    """TensorRT parser errors (node name, op type, description) as one error naming the IR node."""
    name, op_type, desc = errors[0]
    ir_name = name.split("/")[0]  # helper nodes are named 'node/part'
    node = next((n for n in graph if n.name == ir_name), None)
    more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
    return BackendFailed(
        f"TensorRT's ONNX parser rejected {op_type} node '{name}': {desc}{more}",
        node.loc if node is not None else None,
        node=ir_name if node is not None else None,
        hint="docs/ops.md lists the TensorRT layer each op parses into; the ONNX and recipe are in the output folder",
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


def parity_note(stats: dict[str, float], tolerance: float, against: str) -> str | None:
    """A one-line note when ``stats`` miss ``tolerance`` (relative max error), with the figures; None
    when within. A NaN anywhere is a miss."""
    rel = stats["max_rel"]
    if rel <= tolerance:  # False for NaN
        return None
    return (
        f"parity miss against {against}: max abs error {stats['max_abs']:.3g} is {rel:.3g} of the largest "
        f"reference magnitude (tolerance {tolerance:g}), mean abs {stats['mean_abs']:.3g}, p99 abs "
        f"{stats['p99_abs']:.3g}, top-1 agreement {stats['top1_agreement']:.1%}"
    )


# --- the TensorRT calls -----------------------------------------------------------------------------


def _dims(d: Any) -> list[int]:
    """A ``trt.Dims`` as a list of ints."""
    return [int(d[i]) for i in range(len(d))]


def capturing_logger(trt: Any) -> Any:
    """A ``trt.ILogger`` that keeps TensorRT's warnings and errors, so that they can go into the error
    rescomp raises (one line), instead of only to stderr. ``RESCOMP_DEBUG=1`` echoes every message of
    severity INFO and above to stderr as well."""
    debug = bool(os.environ.get("RESCOMP_DEBUG"))
    severity = trt.ILogger.Severity
    keep = int(severity.WARNING)
    errors = int(severity.ERROR)
    echo = int(severity.INFO) if debug else -1

    class CapturingLogger(trt.ILogger):  # type: ignore[misc]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)  # pybind11 bases must be initialised explicitly
            self.messages: list[tuple[int, str]] = []

        def log(self, sev: Any, msg: str) -> None:
            level = int(sev)
            if level <= echo:
                sys.stderr.write(f"tensorrt [{getattr(sev, 'name', level)}]: {msg}\n")
            if level <= keep:
                self.messages.append((level, str(msg)))

        def mark(self) -> int:
            return len(self.messages)

        def since(self, mark: int = 0, limit: int = 3) -> str:
            """The errors (else warnings) logged after ``mark``, as ': first; second' for a message."""
            new = self.messages[mark:]
            chosen = [m for level, m in new if level <= errors] or [m for _, m in new]
            if not chosen:
                return ""
            shown = [m if len(m) <= 300 else m[:297] + "..." for m in chosen[-limit:]]
            more = f" (and {len(chosen) - limit} earlier messages)" if len(chosen) > limit else ""
            return ": TensorRT says " + "; ".join(shown) + more

    return CapturingLogger()


def _progress_monitor(trt_mod: Any) -> Any:
    """A progress display of TensorRT's build phases on a terminal, where TensorRT has IProgressMonitor."""
    base = getattr(trt_mod, "IProgressMonitor", None)
    if base is None:
        return None

    class Monitor(base):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            base.__init__(self)  # type: ignore[misc]  # pybind11 bases are initialised explicitly

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if sys.stderr.isatty():
                sys.stderr.write(f"  tensorrt: {phase_name} ({num_steps} steps)\n")

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True

        def phase_finish(self, phase_name: str) -> None:
            return None

    return Monitor()


def _build_hint(text: str, precision: str) -> str:
    low = text.lower()
    if any(word in low for word in ("memory", "workspace", "allocat")):
        return "rerun with a larger --workspace (MiB), or free GPU memory"
    if precision == "bf16" and ("bf16" in low or "bfloat" in low):
        return "this GPU or TensorRT has no bf16 kernel for a layer: build with --precision fp16"
    return "TensorRT's last messages are quoted here; RESCOMP_DEBUG=1 prints its whole log"


def build_engine(
    onnx: bytes | bytearray | Path,
    r: dict[str, Any],
    graph: Graph,
    timing_cache: bytes | None,
    *,
    cache_name: str = "timing.cache",
) -> tuple[bytes, bytes]:
    """Build a serialized engine and return it with the updated timing cache. ``onnx``: the serialized
    model, or the path of a model file, which a model with external data needs (the parser reads the
    data file from the model's folder). Every failure is a :class:`BackendFailed` carrying TensorRT's own
    messages."""
    import tensorrt as trt

    logger = capturing_logger(trt)
    try:
        builder = trt.Builder(logger)
    except TypeError:  # pybind11: "factory function returned nullptr", e.g. when CUDA cannot start
        builder = None
    if builder is None:
        raise BackendFailed(
            f"TensorRT could not create a builder{logger.since()}",
            hint="TensorRT could not start CUDA: check the driver with nvidia-smi",
        )
    flags = 0
    strongly = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    if strongly is not None:
        flags |= 1 << int(strongly)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    parsed = parser.parse_from_file(os.fspath(onnx)) if isinstance(onnx, Path) else parser.parse(onnx)
    if not parsed:
        errors = []
        for i in range(parser.num_errors):
            err = parser.get_error(i)
            errors.append((err.node_name(), err.node_operator(), err.desc()))
        if not errors:
            raise BackendFailed(
                f"TensorRT's ONNX parser failed without naming a node{logger.since()}",
                hint="the ONNX and recipe are in the output folder; try trtexec with --verbose on it",
            )
        raise parser_errors_to_nodes(errors, graph)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(r["workspace_bytes"]))
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    profile = builder.create_optimization_profile()
    shapes = r["profile"]
    profile.set_shape(r["input"], trt.Dims(shapes["min"]), trt.Dims(shapes["opt"]), trt.Dims(shapes["max"]))
    mark = logger.mark()
    if config.add_optimization_profile(profile) < 0:
        raise BackendFailed(
            f"TensorRT rejected the optimization profile {shapes}{logger.since(mark)}",
            hint="check --batch MIN:OPT:MAX",
        )
    mark = logger.mark()
    cache = config.create_timing_cache(timing_cache or b"")
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        what = "an empty timing cache" if not timing_cache else f"{cache_name}"
        raise BackendFailed(
            f"TensorRT cannot use {what}: it was written by another TensorRT version or another GPU, or is "
            f"damaged{logger.since(mark)}",
            hint=f"delete {cache_name} (rescomp writes a new one), or build into another folder",
        )
    mark = logger.mark()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        said = logger.since(mark)
        raise BackendFailed(
            f"TensorRT failed to build the engine{said}", hint=_build_hint(said, str(r.get("precision", "")))
        )
    return bytes(serialized), bytes(config.get_timing_cache().serialize())


class TorchCuda:
    """The CUDA calls the runner makes, through torch: buffers, a stream of its own, copies and event
    timing. Tests replace it (``cuda_ops``) to run the runner on the CPU."""

    def __init__(self) -> None:
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("no CUDA device is visible (torch.cuda.is_available() is False)")
        self.torch = torch

    def empty(self, shape: Sequence[int]) -> Any:
        return self.torch.empty(tuple(shape), dtype=self.torch.float32, device="cuda")

    def address(self, buf: Any) -> int:
        return int(buf.data_ptr())

    def stream(self) -> Any:
        return self.torch.cuda.Stream()

    def handle(self, stream: Any) -> int:
        return int(stream.cuda_stream)

    def copy_in(self, buf: Any, x: Any, stream: Any) -> None:
        """Copy ``x`` (NumPy or a torch tensor on any device) into the first rows of ``buf``, on ``stream``."""
        torch = self.torch
        src = torch.as_tensor(x).to(dtype=torch.float32)
        if src.is_cuda:
            stream.wait_stream(torch.cuda.current_stream())  # x may still be being written on its stream
            src.record_stream(stream)  # and its memory is not reused before this copy is done
        with torch.cuda.stream(stream):
            buf[: src.shape[0]].copy_(src)

    def copy_out(self, buf: Any, n: int, stream: Any) -> Any:
        """The first ``n`` rows of ``buf`` as a new CUDA tensor, ready on the current stream."""
        torch = self.torch
        with torch.cuda.stream(stream):
            out = buf[:n].clone()
        current = torch.cuda.current_stream()
        current.wait_stream(stream)
        out.record_stream(current)  # allocated on the runner's stream, used on the current one
        return out

    def to_numpy(self, tensor: Any) -> Any:
        return tensor.cpu().numpy()

    def timed(self, stream: Any, fn: Callable[[], None]) -> float:
        """Milliseconds between two CUDA events recorded on ``stream`` around ``fn`` (which only enqueues)."""
        start = self.torch.cuda.Event(enable_timing=True)
        end = self.torch.cuda.Event(enable_timing=True)
        start.record(stream)
        fn()
        end.record(stream)
        end.synchronize()
        return float(start.elapsed_time(end))

    def synchronize(self, stream: Any) -> None:
        stream.synchronize()


def cuda_ops() -> Any:
    """The CUDA calls of :class:`EngineRunner` (tests monkeypatch this)."""
    return TorchCuda()


class EngineRunner:
    """One engine, deserialised once, with an execution context, input and output buffers preallocated at
    the profile's maximum batch, and a CUDA stream of its own.

    ``set_input(x)`` copies a batch in (and sets the input shape when the batch size changes);
    ``execute()`` enqueues ``execute_async_v3`` only; ``time_execute()`` is the milliseconds of that
    call alone, between CUDA events on the runner's stream; ``output()`` / ``output_tensor()`` read the
    result. ``runner(x)`` does all three."""

    def __init__(self, engine_bytes: bytes, *, cuda: Any = None) -> None:
        import tensorrt as trt

        self.cuda = cuda if cuda is not None else cuda_ops()
        self.logger = capturing_logger(trt)  # must outlive the runtime, engine and context
        self.runtime = trt.Runtime(self.logger)
        engine = self.runtime.deserialize_cuda_engine(engine_bytes)
        if engine is None:
            raise BackendFailed(
                f"TensorRT could not deserialise the engine{self.logger.since()}",
                hint="an engine runs only with the TensorRT version and GPU architecture that built it (model.json "
                "says which) and needs GPU memory for its weights: rebuild it here from model.onnx",
            )
        self.engine = engine
        names = sorted(engine.get_tensor_name(i) for i in range(engine.num_io_tensors))
        if names != ["input", "output"]:
            raise BackendFailed(
                f"the engine's input and output tensors are {names}, not ['input', 'output']",
                hint="run engines built by rescomp build --target tensorrt",
            )
        for name in names:
            dtype = engine.get_tensor_dtype(name)
            if dtype != trt.DataType.FLOAT:
                raise BackendFailed(
                    f"the engine's '{name}' tensor is {getattr(dtype, 'name', dtype)}, not FLOAT",
                    hint="rescomp's ONNX casts its input and output to fp32 at every precision: rebuild the engine",
                )
        lo, _, hi = (_dims(d) for d in engine.get_tensor_profile_shape("input", 0))
        self.min_batch, self.max_batch = int(lo[0]), int(hi[0])
        self.chw = tuple(int(d) for d in hi[1:])
        mark = self.logger.mark()
        context = engine.create_execution_context()
        if context is None:
            need = getattr(engine, "device_memory_size_v2", None)
            size = f" (its activations need {int(need) >> 20} MiB)" if isinstance(need, int) else ""
            raise BackendFailed(
                f"TensorRT could not create an execution context for the engine{size}{self.logger.since(mark)}",
                hint="free GPU memory, or rebuild with a smaller --batch maximum",
            )
        self.context = context
        self.batch = 0
        self._shape(self.max_batch)  # the output shape at the largest batch sizes the output buffer
        self.input = self.cuda.empty((self.max_batch, *self.chw))
        self.out = self.cuda.empty((self.max_batch, *self.out_shape[1:]))
        # a slice of the first rows starts at the same address, so the addresses are set once
        for name, buf in (("input", self.input), ("output", self.out)):
            if not context.set_tensor_address(name, self.cuda.address(buf)):
                raise BackendFailed(f"TensorRT refused the address of the '{name}' buffer{self.logger.since()}")
        self.stream = self.cuda.stream()

    def _shape(self, n: int) -> None:
        mark = self.logger.mark()
        if not self.context.set_input_shape("input", (n, *self.chw)):
            raise BackendFailed(
                f"TensorRT refused the input shape {[n, *self.chw]}{self.logger.since(mark)}",
                hint=f"the engine's profile allows batches {self.min_batch} to {self.max_batch}",
            )
        dims = _dims(self.context.get_tensor_shape("output"))
        if not dims or dims[0] != n or any(d < 1 for d in dims):
            raise BackendFailed(f"TensorRT gives the output an unusable shape {dims} for a batch of {n}")
        self.out_shape = tuple(dims)
        self.batch = n

    def set_input(self, x: Any) -> None:
        shape = tuple(int(d) for d in x.shape)
        if shape[1:] != self.chw:
            raise SpecError(f"the engine takes input {'x'.join(map(str, self.chw))} per image, got {shape}")
        if not self.min_batch <= shape[0] <= self.max_batch:
            raise SpecError(
                f"batch {shape[0]} is outside the engine's profile ({self.min_batch} to {self.max_batch})",
                hint="rebuild the engine with a --batch MIN:OPT:MAX that covers it",
            )
        if shape[0] != self.batch:
            self._shape(shape[0])
        self.cuda.copy_in(self.input, x, self.stream)

    def execute(self) -> None:
        mark = self.logger.mark()
        if not self.context.execute_async_v3(self.cuda.handle(self.stream)):
            raise BackendFailed(f"TensorRT failed to run the engine{self.logger.since(mark)}")

    def time_execute(self) -> float:
        """Milliseconds of one ``execute_async_v3`` on the runner's stream (the input already set)."""
        return float(self.cuda.timed(self.stream, self.execute))

    def output_tensor(self) -> Any:
        return self.cuda.copy_out(self.out, self.batch, self.stream)

    def output(self) -> Any:
        """The last result as a NumPy array (float32)."""
        return self.cuda.to_numpy(self.output_tensor())

    def __call__(self, x: Any) -> Any:
        self.set_input(x)
        self.execute()
        return self.output()


def run_engine(engine_bytes: bytes, x: Any) -> Any:
    """Run a serialized engine once on a NumPy input (float32, NCHW) and return the output."""
    return EngineRunner(engine_bytes)(x)


def manifest(
    host: Host,
    r: dict[str, Any],
    onnx_bytes: bytes | bytearray,
    spec_hash: str,
    onnx_data: bytes | bytearray | None = None,
) -> dict[str, Any]:
    data = {"onnx_data_sha256": hashlib.sha256(onnx_data).hexdigest()} if onnx_data is not None else {}
    return {
        "schema": "rescomp.tensorrt-engine/1",
        "tensorrt": host.tensorrt,
        "cuda": host.cuda,
        "gpu": host.gpu,
        "compute_capability": host.capability,
        "precision": r["precision"],
        "profile": r["profile"],
        "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        **data,
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
    "EngineRunner",
    "Profile",
    "build_engine",
    "capturing_logger",
    "check_host",
    "engine_problems",
    "error_stats",
    "load_engine",
    "parity_note",
    "preflight",
    "probe_host",
    "recipe",
    "run_engine",
    "trtexec_command",
]
