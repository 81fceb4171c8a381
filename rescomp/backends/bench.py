"""``rescomp bench``: latency and throughput of one network on several backends, measured the same way.

Each target runs ``warmup`` untimed iterations, then ``runs`` timed ones on the same input; the
median and 90th percentile latency and the throughput (batch / median) are reported. On CUDA the
timing uses CUDA events around each iteration; on the CPU, ``time.perf_counter``.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rescomp.errors import BackendUnavailable, UsageError
from rescomp.ir import Graph

BENCH_TARGETS = ("eager", "onnx", "aoti", "tensorrt")


@dataclass(frozen=True)
class BenchResult:
    target: str
    device: str
    precision: str
    batch: int
    median_ms: float | None
    p90_ms: float | None
    note: str = ""

    @property
    def throughput(self) -> float | None:
        return None if self.median_ms is None else self.batch / (self.median_ms / 1000)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "device": self.device,
            "precision": self.precision,
            "batch": self.batch,
            "median_ms": self.median_ms,
            "p90_ms": self.p90_ms,
            "throughput_per_s": self.throughput,
            "note": self.note,
        }


def _time(fn: Callable[[], Any], device: str, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    if device == "cuda":
        import torch

        for _ in range(runs):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return times
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _runner(
    target: str, graph: Graph, state: dict[str, Any], x: Any, device: str, precision: str, tmp: Path
) -> Callable[[], Any]:
    import torch

    from rescomp.backends.torch_module import instantiate
    from rescomp.backends.torch_source import emit_source

    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    if target == "eager":
        model = instantiate(emit_source(graph))
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
        model = model.eval().to(device=device, dtype=dtype)
        inp = torch.from_numpy(x).to(device=device, dtype=dtype)
        if device == "cuda":
            model, inp = model.to(memory_format=torch.channels_last), inp.to(memory_format=torch.channels_last)

        def run_eager() -> Any:
            with torch.inference_mode():
                return model(inp)

        return run_eager
    if target == "onnx":
        import onnxruntime as ort

        from rescomp.backends.onnx_export import export_onnx

        providers = ["CUDAExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise BackendUnavailable("onnxruntime has no CUDA provider here (pip install onnxruntime-gpu)")
        session = ort.InferenceSession(
            export_onnx(graph, state, precision=precision).model.SerializeToString(), providers=providers
        )
        return lambda: session.run(None, {"input": x})
    if target == "aoti":
        from rescomp.backends.aoti_build import compile_aoti, load_aoti

        if precision != "fp32":
            raise BackendUnavailable("the aoti benchmark runs fp32 only")
        chw = tuple(x.shape[1:])
        path = tmp / "model.pt2"
        path.write_bytes(
            compile_aoti(
                emit_source(graph), state, chw, max_batch=max(2, x.shape[0]), opt_batch=x.shape[0], device=device
            )
        )
        runner = load_aoti(path)
        inp = torch.from_numpy(x).to(device)

        def run_aoti() -> Any:
            with torch.inference_mode():
                return runner(inp)

        return run_aoti
    if target == "tensorrt":
        from rescomp.backends import tensorrt_build as trt_b
        from rescomp.backends.onnx_export import export_onnx

        host = trt_b.probe_host()
        if host.missing:
            raise BackendUnavailable("; ".join(host.missing))
        onnx_bytes = export_onnx(graph, state, precision=precision).model.SerializeToString()
        b = x.shape[0]
        r = trt_b.recipe("model.onnx", "model.engine", precision, trt_b.Profile(b, b, b), list(x.shape[1:]))
        engine, _ = trt_b.build_engine(onnx_bytes, r, graph, None)
        return lambda: trt_b.run_engine(engine, x)
    raise UsageError(f"error: unknown bench target '{target}' (hint: {', '.join(BENCH_TARGETS)})")


def bench(
    graph: Graph,
    targets: list[str],
    *,
    device: str = "cpu",
    batch: int = 1,
    precision: str = "fp32",
    warmup: int = 5,
    runs: int = 20,
    seed: int = 0,
    step: Callable[[str], None] = lambda s: None,
) -> list[BenchResult]:
    """Benchmark ``graph`` on each target; a target this host cannot run gets a note instead of numbers."""
    import numpy as np

    from rescomp.backends.weights import seeded_state

    for t in targets:
        if t not in BENCH_TARGETS:
            raise UsageError(f"error: unknown bench target '{t}' (hint: {', '.join(BENCH_TARGETS)})")
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
    state = seeded_state(graph, seed)
    chw = tuple(int(d) for d in graph[graph.input].attrs["shape"].split("x")[1:])
    x = np.random.default_rng(seed).standard_normal((batch, *chw)).astype(np.float32)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            step(f"{target}: preparing")
            try:
                fn = _runner(target, graph, state, x, device, precision, Path(tmp))
            except BackendUnavailable as exc:
                results.append(BenchResult(target, device, precision, batch, None, None, f"unavailable: {exc.message}"))
                continue
            step(f"{target}: {warmup} warm-up and {runs} timed runs")
            times = _time(fn, device, warmup, runs)
            p90 = float(np.quantile(times, 0.9))
            results.append(BenchResult(target, device, precision, batch, statistics.median(times), p90))
    return results
