"""GPU benchmark: ResNet-50 inference throughput on one CUDA device, in under 8 minutes.

Variants at batch 1, 32 and 256: eager fp32; eager fp16 and bf16 with channels_last; torch.compile
(fp16, channels_last); AOTInductor (fp16); TensorRT fp16 when the tensorrt package is importable.
Every variant's output is compared with eager fp32 on the same input (max and mean abs error,
top-1 agreement), and each throughput is shown as a share of the GPU's dense FP16 ceiling:
peak FLOP/s / (2 x ResNet-50's MACs per image), about 121k images/s on an H200.

The model is rescomp's emitted ResNet-50 (torchvision's layout, seeded weights). Needs only torch:

    .venv/bin/rescomp emit resnet50 -o benchmarks/gpu/resnet50_model.py     # on any machine
    python benchmarks/gpu_resnet50.py --model benchmarks/gpu/resnet50_model.py [--out results.md]

Nothing here has been run by the project yet unless benchmarks/results/ holds a gpu_*.md file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

MACS_PER_IMAGE = 4_089_184_256  # rescomp analyze resnet50 (224x224)
DENSE_FP16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.05, "A10": 125.0}  # datasheets
BUDGET_S = 7 * 60


def ceiling_images_per_s(name: str) -> float | None:
    for key, tflops in DENSE_FP16_TFLOPS.items():
        if key in name:
            return tflops * 1e12 / (2 * MACS_PER_IMAGE)
    return None


def load_model(path: Path) -> torch.nn.Module:
    spec = importlib.util.spec_from_file_location("resnet50_model", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    return module.ResNet50().eval()


def timed(fn: Any, x: torch.Tensor, runs: int) -> float:
    """Median milliseconds per call, with CUDA events, after warm-up."""
    for _ in range(5):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn(x)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def parity(ref: torch.Tensor, out: torch.Tensor) -> str:
    diff = (out.float() - ref.float()).abs()
    top1 = (out.float().argmax(1) == ref.float().argmax(1)).float().mean().item()
    return f"max {diff.max().item():.2e}, mean {diff.mean().item():.2e}, top-1 agree {top1:.1%}"


def tensorrt_variant(batch: int) -> Any:
    """A callable running rescomp's fp16 TensorRT engine, or the reason there is none."""
    try:
        import tensorrt

        if not hasattr(tensorrt, "Builder"):
            return "only the tensorrt type stubs are installed"
        import rescomp
        from rescomp.backends import tensorrt_build as trt_b
        from rescomp.backends.onnx_export import export_onnx
        from rescomp.backends.weights import seeded_state
    except ImportError as exc:
        return f"not importable ({exc.name})"
    graph = rescomp.graph("resnet50")
    onnx_bytes = export_onnx(graph, seeded_state(graph, 0), precision="fp16").model.SerializeToString()
    r = trt_b.recipe("model.onnx", "model.engine", "fp16", trt_b.Profile(batch, batch, batch), [3, 224, 224])
    engine, _ = trt_b.build_engine(onnx_bytes, r, graph, None)
    return lambda x: torch.from_numpy(trt_b.run_engine(engine, x.float().cpu().numpy())).cuda()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="rescomp emit resnet50 -o FILE")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--batches", default="1,32,256")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark needs a GPU")
    t_start = time.time()
    gpu = torch.cuda.get_device_name(0)
    ceiling = ceiling_images_per_s(gpu)
    base = load_model(args.model).cuda()
    lines = [
        f"GPU: {gpu} (compute capability {'.'.join(map(str, torch.cuda.get_device_capability(0)))}); "
        f"torch {torch.__version__}, CUDA {torch.version.cuda}; {dt.date.today().isoformat()}  ",
        f"Command: `python benchmarks/gpu_resnet50.py --model ... --batches {args.batches}`  ",
        f"FP16 ceiling: {ceiling:,.0f} images/s" if ceiling else "FP16 ceiling: unknown for this GPU",
        "",
        "| batch | variant | ms / batch | images/s | % of FP16 ceiling | parity vs eager fp32 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]

    def variants(batch: int) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        half = load_model(args.model).cuda().half().to(memory_format=torch.channels_last)
        bf16 = load_model(args.model).cuda().bfloat16().to(memory_format=torch.channels_last)
        out.append(("eager fp16 channels_last", lambda x: half(x.half().contiguous(memory_format=torch.channels_last))))
        out.append(
            ("eager bf16 channels_last", lambda x: bf16(x.bfloat16().contiguous(memory_format=torch.channels_last)))
        )
        compiled = torch.compile(half)
        out.append(("torch.compile fp16", lambda x: compiled(x.half().contiguous(memory_format=torch.channels_last))))
        try:
            from torch.export import export

            example = torch.zeros(batch, 3, 224, 224, device="cuda", dtype=torch.half)
            program = export(half, (example,))
            tmp = Path(tempfile.mkdtemp()) / "r50.pt2"
            path = torch._inductor.aoti_compile_and_package(program, package_path=str(tmp))
            runner = torch._inductor.aoti_load_package(path)
            out.append(("AOTInductor fp16", lambda x: runner(x.half())))
        except Exception as exc:
            lines.append(f"<!-- AOTInductor skipped at batch {batch}: {type(exc).__name__}: {exc} -->")
        trt_fn = tensorrt_variant(batch)
        if isinstance(trt_fn, str):
            lines.append(f"<!-- TensorRT fp16 skipped at batch {batch}: {trt_fn} -->")
        else:
            out.append(("TensorRT fp16 (rescomp build)", trt_fn))
        return out

    for batch in [int(b) for b in args.batches.split(",")]:
        x = torch.randn(batch, 3, 224, 224, device="cuda")
        candidates = [("eager fp32", base), *variants(batch)]
        with torch.inference_mode():
            ref = base(x)
            for name, fn in candidates:
                if time.time() - t_start > BUDGET_S:
                    lines.append(f"| {batch} | {name} | skipped: time budget | | | |")
                    continue
                ms = timed(fn, x, 50 if batch <= 32 else 20)
                ips = batch / (ms / 1000)
                share = f"{ips / ceiling:.1%}" if ceiling else "-"
                check = "reference" if name == "eager fp32" else parity(ref, fn(x))
                lines.append(f"| {batch} | {name} | {ms:.2f} | {ips:,.0f} | {share} | {check} |")
        torch.cuda.empty_cache()
    lines.append("")
    lines.append(f"Total wall time: {time.time() - t_start:.0f} s")
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
