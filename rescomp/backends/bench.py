"""``rescomp bench``: latency and throughput of one network on several backends, measured the same way.

Each target runs ``warmup`` untimed iterations, then timed ones on the same input. The number of timed
runs adapts, like ``torch.utils.benchmark``'s ``blocked_autorange``: calls shorter than a millisecond
are timed in blocks (the block's mean is one sample), and blocks run until at least ``min_runs`` samples
and ``min_time`` seconds are in (at most ``max_time`` seconds, at least 3 samples). ``runs=N`` asks for
exactly N single-call samples instead. Reported: median, 25th and 75th percentile (IQR), 90th
percentile, the throughput (batch / median), the number of samples and the block size.

On CUDA the timing uses CUDA events; the TensorRT target is timed by its own runner, which records the
events on its own stream around ``execute_async_v3`` alone (its input is copied in once, before).
On the CPU, ``time.perf_counter``.

The report records the host: torch's and onnxruntime's thread counts (onnxruntime's intra-op pool is
set to torch's thread count), the load average before the run, the CPU time other processes used while
each target was timed, and the versions of everything involved. A busy host gets a warning and a note
on the rows it spoiled.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rescomp.errors import BackendFailed, BackendUnavailable, UsageError
from rescomp.ir import Graph

BENCH_TARGETS = ("eager", "onnx", "aoti", "tensorrt")
BLOCK_MS = 1.0  # calls shorter than this are timed in blocks
MIN_TIME_S = 1.0
MAX_TIME_S = 30.0
MIN_RUNS = 10
MAX_RUNS = 10_000


@dataclass(frozen=True)
class Timing:
    """Timed samples in milliseconds per call (a block's mean where ``block`` > 1)."""

    samples_ms: tuple[float, ...]
    block: int = 1
    total_s: float = 0.0

    def quantile(self, q: float) -> float:
        import numpy as np

        return float(np.quantile(self.samples_ms, q))

    @property
    def median_ms(self) -> float:
        return float(statistics.median(self.samples_ms))


def measure(
    call: Callable[[], Any],
    block: Callable[[int], float],
    *,
    warmup: int = 5,
    runs: int | None = None,
    min_time: float = MIN_TIME_S,
    max_time: float = MAX_TIME_S,
    min_runs: int = MIN_RUNS,
    max_runs: int = MAX_RUNS,
    block_ms: float = BLOCK_MS,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Warm up with ``call``, then time with ``block(k)`` (k calls, returning their total milliseconds).
    ``runs``: exactly that many single calls; else adaptive (see the module docstring)."""
    for _ in range(warmup):
        call()
    t0 = clock()
    if runs is not None:
        samples = [block(1) for _ in range(runs)]
        return Timing(tuple(samples), 1, clock() - t0)
    first = block(1)
    k = 1 if first >= block_ms else min(1000, math.ceil(block_ms / max(first, 1e-6)))
    samples = [first] if k == 1 else []
    while True:
        if len(samples) >= max_runs:
            break
        elapsed = clock() - t0
        if (elapsed >= min_time and len(samples) >= min_runs) or (elapsed >= max_time and len(samples) >= 3):
            break
        samples.append(block(k) / k)
    return Timing(tuple(samples), k, clock() - t0)


@dataclass(frozen=True)
class BenchResult:
    target: str
    device: str
    precision: str
    batch: int
    median_ms: float | None
    p90_ms: float | None
    note: str = ""
    p25_ms: float | None = None
    p75_ms: float | None = None
    runs: int = 0
    block: int = 1
    other_cpu: float | None = None  # CPUs' worth of time other processes used while this target was timed
    failed: bool = False  # the backend is there but failed (exit code 5), as opposed to unavailable

    @property
    def throughput(self) -> float | None:
        return None if self.median_ms is None else self.batch / (self.median_ms / 1000)

    @property
    def iqr_ms(self) -> float | None:
        return None if self.p25_ms is None or self.p75_ms is None else self.p75_ms - self.p25_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "device": self.device,
            "precision": self.precision,
            "batch": self.batch,
            "median_ms": self.median_ms,
            "p25_ms": self.p25_ms,
            "p75_ms": self.p75_ms,
            "iqr_ms": self.iqr_ms,
            "p90_ms": self.p90_ms,
            "throughput_per_s": self.throughput,
            "runs": self.runs,
            "block": self.block,
            "other_processes_cpus": self.other_cpu,
            "status": "failed" if self.failed else ("unavailable" if self.median_ms is None else "ok"),
            "note": self.note,
        }


@dataclass
class BenchReport:
    results: list[BenchResult]
    environment: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.results)


# --- the host -------------------------------------------------------------------------------------------


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        if fields[0] != "cpu":
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def other_cpu_use() -> Iterator[list[float | None]]:
    """Measure how many CPUs' worth of time other processes used during the block: yields a one-item
    list filled on exit (None where /proc/stat is not available)."""
    box: list[float | None] = [None]
    busy0, own0, wall0 = _busy_seconds(), os.times(), time.monotonic()
    try:
        yield box
    finally:
        busy1, own1, wall1 = _busy_seconds(), os.times(), time.monotonic()
        if busy0 is not None and busy1 is not None and wall1 > wall0:
            own = (own1.user - own0.user) + (own1.system - own0.system)
            box[0] = max(0.0, (busy1 - busy0 - own) / (wall1 - wall0))


def busy_threshold(cpus: int) -> float:
    """Other processes using more CPUs than this while a target is timed make its figures suspect."""
    return max(0.5, 0.25 * cpus)


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    from rescomp import __version__

    found: dict[str, str | None] = {"rescomp": __version__, "python": platform.python_version()}
    for dist in ("torch", "onnxruntime", "onnxruntime-gpu", "onnx", "numpy", "tensorrt"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str) -> dict[str, Any]:
    """The host as the benchmark saw it before it started."""
    import torch

    cpus = usable_cpus()
    try:
        load: list[float] | None = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    env: dict[str, Any] = {
        "cpus": cpus,
        "cpu": _cpu_model(),
        "load_average_1_5_15_min": load,
        "threads": {
            "torch_intra_op": torch.get_num_threads(),
            "torch_inter_op": torch.get_num_interop_threads(),
            "onnxruntime_intra_op": torch.get_num_threads(),  # set so on every session bench creates
            "onnxruntime_inter_op": 1,
        },
        "versions": _versions(),
        "platform": platform.platform(),
    }
    if device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda"] = torch.version.cuda
    return env


# --- the targets --------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A target ready to time: ``call`` runs one inference, ``block(k)`` runs k and returns their ms."""

    call: Callable[[], Any]
    block: Callable[[int], float]


def _timed_block(fn: Callable[[], Any], device: str) -> Callable[[int], float]:
    if device == "cuda":
        import torch

        def cuda_block(k: int) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(k):
                fn()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))

        return cuda_block

    def cpu_block(k: int) -> float:
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        return (time.perf_counter() - t0) * 1000

    return cpu_block


def _onnx_session(model: Any, device: str, precision: str) -> Any:
    """An onnxruntime session of ``model`` (a ModelProto): from its bytes, or where its weights exceed
    protobuf's 2 GiB from its files with external data (:func:`rescomp.backends.onnx_export.ort_session`)."""
    import onnxruntime as ort
    import torch
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as OrtNotImplemented

    from rescomp.backends.onnx_export import onnx_files, ort_session

    providers = ["CUDAExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        raise BackendUnavailable("onnxruntime has no CUDA provider here (pip install onnxruntime-gpu)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same pool size as torch's, recorded
    options.inter_op_num_threads = 1
    try:
        return ort_session(onnx_files(model), sess_options=options, providers=providers)
    except OrtNotImplemented as exc:  # e.g. bf16 Conv(22) on the CPU provider
        detail = str(exc).split(" : ")[-1].strip()
        raise BackendUnavailable(f"onnxruntime's {providers[0]} cannot run this {precision} model ({detail})") from None


def prepare(
    target: str, graph: Graph, state: dict[str, Any], x: Any, device: str, precision: str, tmp: Path
) -> Prepared:
    """Build or compile ``target`` and return it ready to time; BackendUnavailable or BackendFailed when
    this host cannot."""
    import torch

    from rescomp.backends.torch_source import emit_source

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    if target == "eager":
        from rescomp.backends.torch_module import instantiate

        model = instantiate(emit_source(graph))
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
        model = model.eval().to(device=device, dtype=dtype)
        inp = torch.from_numpy(x).to(device=device, dtype=dtype)
        if device == "cuda":
            model, inp = model.to(memory_format=torch.channels_last), inp.to(memory_format=torch.channels_last)

        def run_eager() -> Any:
            with torch.inference_mode():
                return model(inp)

        return Prepared(run_eager, _timed_block(run_eager, device))
    if target == "onnx":
        from rescomp.backends.onnx_export import export_onnx

        session = _onnx_session(export_onnx(graph, state, precision=precision).model, device, precision)

        def run_onnx() -> Any:
            return session.run(None, {"input": x})

        return Prepared(run_onnx, _timed_block(run_onnx, device))
    if target == "aoti":
        from rescomp.backends.aoti_build import compile_aoti, load_aoti

        path = tmp / "model.pt2"
        b = x.shape[0]
        blob = compile_aoti(
            emit_source(graph), state, tuple(x.shape[1:]), max_batch=b, opt_batch=b, device=device, precision=precision
        )
        path.write_bytes(blob)
        runner = load_aoti(path)
        inp = torch.from_numpy(x).to(device)

        def run_aoti() -> Any:
            with torch.inference_mode():
                return runner(inp)

        return Prepared(run_aoti, _timed_block(run_aoti, device))
    if target == "tensorrt":
        from rescomp.backends import tensorrt_build as trt_b
        from rescomp.backends.onnx_export import export_onnx, onnx_files, staged

        host = trt_b.probe_host()
        if host.missing:
            raise BackendUnavailable("; ".join(host.missing))
        if device != "cuda":
            raise BackendUnavailable("TensorRT runs on the GPU: pass --device cuda")
        trt_b.check_host(host, precision, trt_b.DEFAULT_WORKSPACE)
        files = onnx_files(export_onnx(graph, state, precision=precision).model)
        b = x.shape[0]
        r = trt_b.recipe("model.onnx", "model.engine", precision, trt_b.Profile(b, b, b), list(x.shape[1:]))
        if len(files) == 1:
            engine, _ = trt_b.build_engine(files["model.onnx"], r, graph, None)
        else:  # weights over protobuf's 2 GiB: the parser reads model.onnx.data beside model.onnx
            with staged(files) as path:
                engine, _ = trt_b.build_engine(path, r, graph, None)
        del files
        return tensorrt_prepared(trt_b.EngineRunner(engine), x)
    raise UsageError(f"error: unknown bench target '{target}' (hint: {', '.join(BENCH_TARGETS)})")


def tensorrt_prepared(runner: Any, x: Any) -> Prepared:
    """A TensorRT runner ready to time: the input copied in once, then each sample is the CUDA-event time
    of ``execute_async_v3`` calls alone, on the runner's own stream."""
    runner.set_input(x)

    def execute_k(k: int) -> None:
        for _ in range(k):
            runner.execute()

    return Prepared(
        lambda: runner.cuda.timed(runner.stream, runner.execute),
        lambda k: runner.cuda.timed(runner.stream, lambda: execute_k(k)),
    )


def bench(
    graph: Graph,
    targets: list[str],
    *,
    device: str = "cpu",
    batch: int = 1,
    precision: str = "fp32",
    warmup: int = 5,
    runs: int | None = None,
    min_time: float = MIN_TIME_S,
    seed: int = 0,
    step: Callable[[str], None] = lambda s: None,
) -> BenchReport:
    """Benchmark ``graph`` on each target; a target this host cannot run gets a note instead of numbers,
    and one whose backend fails gets a note and ``failed``."""
    import numpy as np

    from rescomp.backends.weights import seeded_state

    for t in targets:
        if t not in BENCH_TARGETS:
            raise UsageError(f"error: unknown bench target '{t}' (hint: {', '.join(BENCH_TARGETS)})")
    if precision not in ("fp32", "fp16", "bf16"):
        raise UsageError(f"error: unknown precision '{precision}' (hint: fp32, fp16 or bf16)")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable(
                "--device cuda needs a CUDA GPU and a CUDA build of torch; this host has neither",
                hint=f"torch {torch.__version__} reports no CUDA device; run on a GPU machine or use --device cpu",
            )
    from rescomp.backends.weights import require_memory
    from rescomp.passes import analyze

    require_memory(graph, f"benchmarking '{graph.name}'", analyze(graph).activation_bytes_peak * batch * 3)
    env = environment(device)
    warnings = []
    cpus = env["cpus"]
    load = env["load_average_1_5_15_min"]
    if load is not None and load[0] >= cpus:
        warnings.append(
            f"the host is busy: load average {load[0]:.2f} over the last minute on {cpus} CPUs before the benchmark"
        )
    state = seeded_state(graph, seed)
    chw = tuple(int(d) for d in graph[graph.input].attrs["shape"].split("x")[1:])
    x = np.random.default_rng(seed).standard_normal((batch, *chw)).astype(np.float32)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            step(f"{target}: preparing")
            try:
                prepared = prepare(target, graph, state, x, device, precision, Path(tmp))
            except BackendUnavailable as exc:
                results.append(BenchResult(target, device, precision, batch, None, None, f"unavailable: {exc.message}"))
                continue
            except BackendFailed as exc:
                note = f"failed: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else "")
                results.append(BenchResult(target, device, precision, batch, None, None, note, failed=True))
                continue
            step(f"{target}: {warmup} warm-up runs, then " + (f"{runs} timed runs" if runs else "adaptive timed runs"))
            with other_cpu_use() as others:
                timing = measure(prepared.call, prepared.block, warmup=warmup, runs=runs, min_time=min_time)
            note = ""
            if others[0] is not None and others[0] > busy_threshold(cpus):
                note = f"host busy: other processes used {others[0]:.1f} of {cpus} CPUs while this was timed"
                warnings.append(f"{target}: {note}; its figures are not reliable")
            results.append(
                BenchResult(
                    target,
                    device,
                    precision,
                    batch,
                    timing.median_ms,
                    timing.quantile(0.9),
                    note,
                    p25_ms=timing.quantile(0.25),
                    p75_ms=timing.quantile(0.75),
                    runs=len(timing.samples_ms),
                    block=timing.block,
                    other_cpu=None if others[0] is None else round(others[0], 3),
                )
            )
    return BenchReport(results, env, warnings)
